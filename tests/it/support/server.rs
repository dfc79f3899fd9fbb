//! What the three IMAP servers of the test suite (Dovecot, Cyrus, Courier)
//! have in common: finding binaries, free ports, the mail user, waiting for
//! a greeting, stopping a process group, and one [`MailServer`] trait with
//! the helpers a mail test needs (seed, snapshot, list), so that a test is
//! written once and runs against any of them.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mailshift::protocols::SessionConfig;
use mailshift::protocols::imap::{AppendRequest, Auth, Session, TlsMode};
use mailshift::vocabulary::Server;

/// What a folder holds: each message's content hash, flags and date,
/// sorted, so that two folders compare as multisets.
pub type Folder = Vec<(String, String, String)>;

/// Where the unpacked Cyrus and Courier packages live
/// (`scripts/install-deps.sh`).
pub fn private_prefix() -> PathBuf {
    std::env::var_os("MAILSHIFT_TEST_PREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/mailshift-test"))
}

/// Where the server binaries are searched for besides `PATH`.
const SBIN: &[&str] = &["/usr/sbin", "/usr/local/sbin", "/sbin"];

/// A binary on `PATH` or in the usual system directories.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SBIN.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A loopback port free right now.
///
/// A port is handed out once per test process: two servers started at the
/// same moment never race for the same one (the other would answer the
/// readiness probe in its place).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = listener.local_addr().expect("local address").port();
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// `(uid, gid)` that mail processes run as: ours, or `mail` when we are
/// root (Dovecot refuses to access mail as root; Cyrus and Courier drop to
/// it).
pub fn mail_owner() -> (u32, u32) {
    let me = fs::metadata("/proc/self").expect("stat /proc/self");
    if me.uid() != 0 {
        return (me.uid(), me.gid());
    }
    let passwd = fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() < 4 || fields[0] != "mail" {
                return None;
            }
            Some((fields[2].parse().ok()?, fields[3].parse().ok()?))
        })
        .expect("a 'mail' system user to run mail processes as")
}

/// Whether the IMAP port sends a complete greeting (with capabilities,
/// so the server is ready to log in) within a second.
pub fn greets(port: u16) -> bool {
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    for _ in 0..3 {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return false;
        }
        if line.starts_with("* OK [CAPABILITY") {
            let _ = reader.get_mut().write_all(b"x LOGOUT\r\n");
            return true;
        }
    }
    false
}

/// Kills a server started in its own process group (the group's id is the
/// child's pid), with every process it forked, and reaps it.
pub fn kill_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// Which implementation a [`MailServer`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Dovecot,
    Cyrus,
    Courier,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Dovecot => "dovecot",
            Kind::Cyrus => "cyrus",
            Kind::Courier => "courier",
        })
    }
}

/// A running IMAP server of the suite, with the helpers mail tests share.
pub trait MailServer: Send + Sync {
    /// Which server this is.
    fn kind(&self) -> Kind;
    /// Plain IMAP port on 127.0.0.1.
    fn imap_port(&self) -> u16;
    /// The password the server was given for `user`.
    fn password(&self, user: &str) -> &str;
    /// Personal namespace prefix (`"INBOX."`), or `""`.
    fn prefix(&self) -> &str;
    /// Hierarchy separator.
    fn separator(&self) -> char;
    /// The server's log so far (for assertion messages).
    fn log(&self) -> String;

    /// Client settings for plain IMAP (no TLS) as `user`.
    fn imap_config(&self, user: &str) -> SessionConfig {
        let server = Server {
            host: "127.0.0.1".into(),
            port: self.imap_port(),
            tls: TlsMode::None,
            accept_invalid_certs: false,
        };
        server.session(
            user,
            Auth::Password(self.password(user).into()),
            Duration::from_secs(20),
        )
    }

    /// A folder's raw (wire) name from its path below the personal
    /// namespace, parts separated by `/` (`"Reçus/Été"` is
    /// `INBOX.Re&AOc-us.&AMk-t&AOk-` on Cyrus). `"INBOX"` stays itself.
    fn raw_name(&self, path: &str) -> String {
        if path.eq_ignore_ascii_case("INBOX") {
            return "INBOX".into();
        }
        let name = format!(
            "{}{}",
            self.prefix(),
            path.replace('/', &self.separator().to_string())
        );
        mailshift::protocols::imap::utf7::encode(&name)
    }
}

impl dyn MailServer + '_ {
    /// Appends messages to the raw-named `mailbox` (created if needed)
    /// and returns their UIDs in order. Panics on error.
    pub async fn seed(&self, user: &str, mailbox: &str, messages: Vec<AppendRequest>) -> Vec<u32> {
        seed(self.imap_config(user), mailbox.to_owned(), messages).await
    }

    /// Appends plain bodies (no flags, current date).
    pub async fn seed_bodies<B: AsRef<[u8]>>(
        &self,
        user: &str,
        mailbox: &str,
        bodies: &[B],
    ) -> Vec<u32> {
        self.seed(user, mailbox, plain(bodies)).await
    }

    /// Every folder of `user`'s mailbox by decoded name (see [`snapshot`]).
    pub async fn snapshot(&self, user: &str) -> BTreeMap<String, Folder> {
        snapshot(self.imap_config(user)).await
    }
}

/// Plain bodies as APPEND requests (no flags, current date).
pub fn plain<B: AsRef<[u8]>>(bodies: &[B]) -> Vec<AppendRequest> {
    bodies
        .iter()
        .map(|b| AppendRequest {
            body: b.as_ref().to_vec(),
            ..AppendRequest::default()
        })
        .collect()
}

/// Appends messages to `mailbox` (created if needed) through the project's
/// client and returns their UIDs in order. Panics on error.
pub async fn seed(
    config: SessionConfig,
    mailbox: String,
    messages: Vec<AppendRequest>,
) -> Vec<u32> {
    let mut session = Session::connect(&config).await.expect("seed: login");
    if !mailbox.eq_ignore_ascii_case("INBOX") {
        let exists = session
            .list()
            .await
            .expect("seed: list")
            .iter()
            .any(|m| m.raw == mailbox && !m.noselect);
        if !exists {
            session.create(&mailbox).await.expect("seed: create");
        }
    }
    let mut completions = Vec::new();
    {
        let mut appender = session.appender(&mailbox, 32);
        for m in messages {
            completions.extend(appender.push(m).await.expect("seed: append"));
        }
        completions.extend(appender.finish().await);
    }
    session.logout().await.ok();
    completions
        .into_iter()
        .map(|c| {
            c.result
                .expect("seed: append refused")
                .expect("seed: APPENDUID")
                .uid
        })
        .collect()
}

/// Every folder of a mailbox, by decoded name: each message's content
/// hash, sorted flags and INTERNALDATE, sorted, so that two mailboxes
/// compare as multisets. A `\Noselect` parent is an empty folder.
pub async fn snapshot(config: SessionConfig) -> BTreeMap<String, Folder> {
    snapshot_as(config, |body| body.to_vec()).await
}

/// Like [`snapshot`], with each message hashed as `stored` turns it: what
/// a server that alters messages would hold after a copy.
pub async fn snapshot_as(
    config: SessionConfig,
    stored: impl Fn(&[u8]) -> Vec<u8>,
) -> BTreeMap<String, Folder> {
    let mut session = Session::connect(&config).await.expect("snapshot: login");
    let mut folders = BTreeMap::new();
    for mailbox in session.list().await.expect("snapshot: list") {
        if mailbox.noselect {
            folders.insert(mailbox.name, Folder::new());
            continue;
        }
        session
            .examine(&mailbox.raw)
            .await
            .expect("snapshot: examine");
        let metas = session.fetch_meta("1:*").await.expect("snapshot: fetch");
        let uids: Vec<u32> = metas.iter().map(|m| m.uid).collect();
        let mut bodies = BTreeMap::new();
        session
            .fetch_bodies(&uids, |uid, body| {
                bodies.insert(uid, blake3::hash(&stored(&body)).to_hex().to_string());
            })
            .await
            .expect("snapshot: fetch bodies");
        let mut folder: Folder = metas
            .iter()
            .map(|m| {
                let mut flags = m.flags.clone();
                flags.sort();
                let hash = bodies
                    .get(&m.uid)
                    .cloned()
                    .unwrap_or_else(|| "MISSING".into());
                (hash, flags.join(" "), m.internal_date.clone())
            })
            .collect();
        folder.sort();
        folders.insert(mailbox.name, folder);
    }
    session.logout().await.ok();
    folders
}
