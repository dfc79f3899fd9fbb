//! A private Cyrus IMAP 3.6 for one test, configured as a hosting provider
//! runs it: folders under `INBOX.` with `.` as separator (altnamespace and
//! unixhierarchysep off), Drafts, Sent, Trash, Junk and Archive created at
//! first login with their special use, users in a SASL database, and
//! Debian's defaults otherwise (8-bit header bytes are stored as `X`:
//! `munge8bit`). Configuration, spool, databases and sockets live in a
//! temporary directory; the server listens on a free loopback port and is
//! killed (with its children) when dropped.
//!
//! The binaries come from the Debian packages unpacked into a private
//! prefix by `scripts/install-deps.sh`.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::server::{
    Kind, MailServer, find_binary, free_port, greets, kill_group, mail_owner, private_prefix,
};

/// Folders every new mailbox gets, with their special use.
pub const AUTO_FOLDERS: &[(&str, &str)] = &[
    ("Drafts", "\\Drafts"),
    ("Sent", "\\Sent"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
];

/// A running Cyrus.
pub struct Cyrus {
    child: Child,
    dir: TempDir,
    imap_port: u16,
    users: Vec<(String, String)>,
}

/// The administrator every test Cyrus has (`admins:` in imapd.conf): it
/// may log in for any user by SASL authorization identity.
pub const ADMIN: (&str, &str) = ("cyrusadmin", "cyrus-admin-pw");

impl Cyrus {
    /// Starts a server with these users and passwords and waits until it
    /// greets. Panics if Cyrus is not unpacked or does not come up.
    pub fn start(users: &[(&str, &str)]) -> Cyrus {
        Cyrus::start_with(users, true)
    }

    /// Starts a server whose mailboxes get no folder besides INBOX, as
    /// new accounts on a server that does not make the provider's folders.
    pub fn start_bare(users: &[(&str, &str)]) -> Cyrus {
        Cyrus::start_with(users, false)
    }

    fn start_with(users: &[(&str, &str)], provider_folders: bool) -> Cyrus {
        let mut last_error = String::new();
        for _ in 0..4 {
            match Cyrus::try_start(users, provider_folders) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("cyrus did not start: {last_error}");
    }

    fn bin() -> PathBuf {
        private_prefix().join("cyrus/usr/lib/cyrus/bin")
    }

    fn try_start(users: &[(&str, &str)], provider_folders: bool) -> Result<Cyrus, String> {
        let master = Cyrus::bin().join("master");
        if !master.is_file() {
            return Err(format!(
                "{} not found: run scripts/install-deps.sh",
                master.display()
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("mailshift-cyrus-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let base = dir.path();
        fs::set_permissions(base, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
        let (uid, gid) = mail_owner();
        for sub in ["conf", "spool", "run/proc", "run/lock", "run/socket"] {
            fs::create_dir_all(base.join(sub)).map_err(|e| e.to_string())?;
        }
        for sub in ["conf", "spool", "run", "run/proc", "run/lock", "run/socket"] {
            std::os::unix::fs::chown(base.join(sub), Some(uid), Some(gid))
                .map_err(|e| e.to_string())?;
        }
        make_sasldb(base, users)?;
        make_sasldb(base, &[ADMIN])?;
        let port = free_port();
        let conf = base.join("imapd.conf");
        fs::write(&conf, imapd_conf(base, provider_folders)).map_err(|e| e.to_string())?;
        fs::write(base.join("cyrus.conf"), cyrus_conf(&conf, port)).map_err(|e| e.to_string())?;

        let log = fs::File::create(base.join("stderr.log")).map_err(|e| e.to_string())?;
        let child = Command::new(&master)
            .arg("-C")
            .arg(&conf)
            .arg("-M")
            .arg(base.join("cyrus.conf"))
            .arg("-p")
            .arg(base.join("master.pid"))
            .env("LD_LIBRARY_PATH", libraries())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", master.display()))?;
        let mut server = Cyrus {
            child,
            dir,
            imap_port: port,
            users: users
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect(),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("exited with {status}: {}", server.log()));
            }
            if greets(port) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!("not ready after 15s: {}", server.log()));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The directory holding configuration, spool and databases.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl MailServer for Cyrus {
    fn kind(&self) -> Kind {
        Kind::Cyrus
    }

    fn imap_port(&self) -> u16 {
        self.imap_port
    }

    fn password(&self, user: &str) -> &str {
        self.users
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, p)| p.as_str())
            .unwrap_or_else(|| panic!("unknown test user {user}"))
    }

    fn prefix(&self) -> &str {
        "INBOX."
    }

    fn separator(&self) -> char {
        '.'
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Cyrus {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// The unpacked package's own libraries.
fn libraries() -> PathBuf {
    private_prefix().join("cyrus/usr/lib/x86_64-linux-gnu")
}

/// Gives each user a password in a private SASL database.
fn make_sasldb(base: &Path, users: &[(&str, &str)]) -> Result<(), String> {
    let saslpasswd = find_binary("saslpasswd2")
        .ok_or_else(|| "saslpasswd2 not found: run scripts/install-deps.sh".to_string())?;
    let db = base.join("sasldb2");
    for (user, password) in users {
        let mut child = Command::new(&saslpasswd)
            .arg("-f")
            .arg(&db)
            .args(["-p", "-c", "-u", "localhost", user])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("run saslpasswd2: {e}"))?;
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(password.as_bytes())
            .map_err(|e| e.to_string())?;
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "saslpasswd2 {user}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let (uid, gid) = mail_owner();
    std::os::unix::fs::chown(&db, Some(uid), Some(gid)).map_err(|e| e.to_string())
}

/// The configuration; the provider's folders are made at first login when
/// `provider_folders` says so (their special use is announced either way).
fn imapd_conf(base: &Path, provider_folders: bool) -> String {
    let base = base.display();
    let folders: Vec<&str> = AUTO_FOLDERS.iter().map(|(name, _)| *name).collect();
    let folders = folders.join("|");
    let autocreate = if provider_folders {
        format!("autocreate_inbox_folders: {folders}\nautocreate_subscribe_folder: {folders}\n")
    } else {
        String::new()
    };
    let xlist: String = AUTO_FOLDERS
        .iter()
        .map(|(name, special)| {
            format!(
                "xlist-{}: {name}\n",
                special.trim_start_matches('\\').to_ascii_lowercase()
            )
        })
        .collect();
    let (uid, gid) = mail_owner();
    let user = user_name(uid);
    let group = group_name(gid);
    let admin = ADMIN.0;
    format!(
        "# Generated for one test run; Debian's defaults otherwise.
configdirectory: {base}/conf
proc_path: {base}/run/proc
mboxname_lockpath: {base}/run/lock
defaultpartition: default
partition-default: {base}/spool
lmtpsocket: {base}/run/socket/lmtp
idlesocket: {base}/run/socket/idle
notifysocket: {base}/run/socket/notify
altnamespace: no
unixhierarchysep: no
autocreate_quota: 0
{autocreate}{xlist}allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {base}/sasldb2
sasl_mech_list: PLAIN LOGIN
servername: localhost
admins: {admin}
cyrus_user: {user}
cyrus_group: {group}
umask: 077
hashimapspool: true
syslog_prefix: mailshift-test
"
    )
}

fn cyrus_conf(conf: &Path, port: u16) -> String {
    let bin = Cyrus::bin();
    let (bin, conf) = (bin.display(), conf.display());
    format!(
        "START {{
  recover cmd=\"{bin}/ctl_cyrusdb -C {conf} -r\"
}}
SERVICES {{
  imap cmd=\"{bin}/imapd -C {conf}\" listen=\"127.0.0.1:{port}\" prefork=0 maxchild=200
}}
"
    )
}

/// The name of a user id, from /etc/passwd.
fn user_name(uid: u32) -> String {
    name_in("/etc/passwd", uid)
}

/// The name of a group id, from /etc/group.
fn group_name(gid: u32) -> String {
    name_in("/etc/group", gid)
}

fn name_in(file: &str, id: u32) -> String {
    let text = fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > 2 && fields[2] == id.to_string()).then(|| fields[0].to_owned())
        })
        .unwrap_or_else(|| panic!("no name for id {id} in {file}"))
}
