//! A private Dovecot (IMAP, POP3, ManageSieve) for one test: its own
//! configuration, sockets, users and mail store in a temporary directory,
//! listening on free loopback ports, killed (with all its children) when
//! dropped.
//!
//! ```no_run
//! # async fn f() {
//! let server = Dovecot::start(DovecotOptions {
//!     users: &[("alice", "secret")],
//!     ..DovecotOptions::default()
//! });
//! let mut session = Session::connect(&server.imap_config("alice")).await.unwrap();
//! # }
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailshift::protocols::SessionConfig;
use mailshift::protocols::imap::{AppendRequest, Auth, TlsMode};
use mailshift::vocabulary::Server;
use tempfile::TempDir;

use super::server::{
    self, Kind, MailServer, find_binary, free_port, greets, kill_group, mail_owner,
};

pub use super::server::Folder;

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct DovecotOptions<'a> {
    /// Hierarchy separator of the personal namespace: `/` or `.`.
    pub separator: char,
    /// Put personal folders under `INBOX<sep>` (Courier/Cyrus style).
    pub inbox_prefix: bool,
    /// Offer STARTTLS and IMAPS with a self-signed certificate.
    pub tls: bool,
    /// Users and their passwords.
    pub users: &'a [(&'a str, &'a str)],
    /// Master users (a `master = yes` passdb) and their passwords: each
    /// may log in as any user, by SASL PLAIN authorization identity or as
    /// `user*master`.
    pub masters: &'a [(&'a str, &'a str)],
    /// Directory to hold the mail store (e.g. `/dev/shm` for benchmarks);
    /// a fresh subdirectory is made inside. Default: the temp directory.
    pub root: Option<PathBuf>,
    /// Create and subscribe Drafts, Sent, Trash and Junk at login (as
    /// providers do). Their special use is announced either way.
    pub auto_folders: bool,
    /// Largest message accepted (quota plugin). Dovecot 2.3 refuses larger
    /// APPENDs with `NO [LIMIT]` but does not advertise APPENDLIMIT.
    pub max_message_size: Option<u64>,
    /// SASL mechanisms offered (`auth_mechanisms`); without `plain`,
    /// clients fall back to the LOGIN command.
    pub auth_mechanisms: &'a str,
    /// Replaces the capabilities announced after login (`imap_capability`),
    /// to play an older or smaller server: e.g. `IMAP4rev1 UIDPLUS` has no
    /// LITERAL+, ESEARCH, LIST-EXTENDED, NAMESPACE or CONDSTORE.
    pub imap_capability: Option<&'a str>,
    /// Also take OAuth2 bearer tokens (XOAUTH2, OAUTHBEARER): an `oauth2`
    /// passdb that validates RS256 JWTs locally against a public key.
    pub oauth2: Option<OAuth2Passdb<'a>>,
    /// Look like Gmail's IMAP view (see [`super::gmail_view`]).
    pub gmail_view: bool,
    /// Another address to listen on besides 127.0.0.1 (a bridge's, see
    /// [`super::machines`]).
    pub listen_also: Option<&'a str>,
}

/// How Dovecot's `oauth2` passdb validates tokens (`introspection_mode =
/// local`): the signature with `public_key`, `exp`/`iat`/`nbf`, and the
/// claim `username_attribute` against the login name, both through
/// `username_format` (`%u` the whole name, `%d` its domain).
#[derive(Debug, Clone, Copy)]
pub struct OAuth2Passdb<'a> {
    /// The issuer's public key, PEM (`-----BEGIN PUBLIC KEY-----`).
    pub public_key: &'a str,
    /// The claim holding the user.
    pub username_attribute: &'a str,
    /// What of the user and the claim must be equal.
    pub username_format: &'a str,
}

impl Default for DovecotOptions<'_> {
    fn default() -> Self {
        DovecotOptions {
            separator: '/',
            inbox_prefix: false,
            tls: false,
            users: &[("user", "password")],
            masters: &[],
            root: None,
            auto_folders: false,
            max_message_size: None,
            auth_mechanisms: "plain login",
            imap_capability: None,
            oauth2: None,
            gmail_view: false,
            listen_also: None,
        }
    }
}

/// A running Dovecot.
pub struct Dovecot {
    child: Child,
    dir: TempDir,
    /// Holds the mail store when it lives outside `dir`.
    _mail_dir: Option<TempDir>,
    mail_root: PathBuf,
    imap_port: u16,
    imaps_port: Option<u16>,
    pop3_port: u16,
    sieve_port: u16,
    users: Vec<(String, String)>,
    inbox_prefix: Option<String>,
    separator: char,
}

impl Dovecot {
    /// Starts a server and waits until it greets on its IMAP port.
    /// Panics if Dovecot is not installed or does not come up.
    pub fn start(options: DovecotOptions<'_>) -> Dovecot {
        let binary = find_binary("dovecot")
            .unwrap_or_else(|| panic!("dovecot not found: run scripts/install-deps.sh"));
        let mut last_error = String::new();
        // Ports are picked free but could be taken before Dovecot binds
        // them; try a few sets.
        for _ in 0..4 {
            match Dovecot::try_start(&binary, &options) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("dovecot did not start: {last_error}");
    }

    fn try_start(binary: &Path, options: &DovecotOptions<'_>) -> Result<Dovecot, String> {
        let dir = tempfile::Builder::new()
            .prefix("mailshift-dovecot-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let base = dir.path().to_path_buf();
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
        let (mail_dir, mail_root) = match &options.root {
            Some(root) => {
                fs::create_dir_all(root).map_err(|e| e.to_string())?;
                let d = tempfile::Builder::new()
                    .prefix("mailshift-mail-")
                    .tempdir_in(root)
                    .map_err(|e| e.to_string())?;
                let p = d.path().to_path_buf();
                (Some(d), p)
            }
            None => (None, base.join("mail")),
        };
        let (uid, gid) = mail_owner();
        fs::create_dir_all(&mail_root).map_err(|e| e.to_string())?;
        fs::set_permissions(&mail_root, fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        std::os::unix::fs::chown(&mail_root, Some(uid), Some(gid)).map_err(|e| e.to_string())?;

        for (file, users) in [("passwd", options.users), ("masters", options.masters)] {
            let lines: String = users
                .iter()
                .map(|(user, password)| format!("{user}:{{PLAIN}}{password}::::::\n"))
                .collect();
            fs::write(base.join(file), lines).map_err(|e| e.to_string())?;
        }
        if options.tls {
            make_certificate(&base)?;
        }
        if let Some(oauth2) = &options.oauth2 {
            write_oauth2(&base, oauth2)?;
        }
        if options.gmail_view {
            super::gmail_view::write_views(&base)?;
        }
        let ports = (free_port(), free_port(), free_port(), free_port());
        let imaps_port = options.tls.then_some(ports.1);
        let config = render_config(options, &base, &mail_root, (uid, gid), ports);
        let conf_path = base.join("dovecot.conf");
        fs::write(&conf_path, config).map_err(|e| e.to_string())?;

        let log = fs::File::create(base.join("stderr.log")).map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .arg("-F")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            // Its own process group, so Drop can kill the master and every
            // child it forked in one go.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", binary.display()))?;
        let mut server = Dovecot {
            child,
            dir,
            _mail_dir: mail_dir,
            mail_root,
            imap_port: ports.0,
            imaps_port,
            pop3_port: ports.2,
            sieve_port: ports.3,
            users: options
                .users
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect(),
            inbox_prefix: options
                .inbox_prefix
                .then(|| format!("INBOX{}", options.separator)),
            separator: options.separator,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// Waits for a full IMAP greeting (auth process up) and for the other
    /// ports to accept connections.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut ports = vec![self.pop3_port, self.sieve_port];
        ports.extend(self.imaps_port);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}: {}", self.log()));
            }
            if greets(self.imap_port)
                && ports
                    .iter()
                    .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not ready after 15s: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Plain IMAP port (STARTTLS offered when started with `tls`).
    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    /// Implicit-TLS IMAP port. Panics unless started with `tls`.
    pub fn imaps_port(&self) -> u16 {
        self.imaps_port
            .expect("IMAPS needs DovecotOptions { tls: true }")
    }

    /// POP3 port.
    pub fn pop3_port(&self) -> u16 {
        self.pop3_port
    }

    /// ManageSieve port.
    pub fn sieve_port(&self) -> u16 {
        self.sieve_port
    }

    /// Directory holding one subdirectory (sdbox store) per user.
    pub fn mail_root(&self) -> &Path {
        &self.mail_root
    }

    /// The configuration file, for `doveadm -c`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("dovecot.conf")
    }

    /// Personal namespace prefix (`"INBOX."`), or `""`.
    pub fn prefix(&self) -> &str {
        self.inbox_prefix.as_deref().unwrap_or("")
    }

    /// The server's log so far (for assertion messages).
    pub fn log(&self) -> String {
        let mut log = fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default();
        log.push_str(&fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default());
        log
    }

    /// The password the server was given for `user`.
    pub fn password(&self, user: &str) -> &str {
        self.users
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, p)| p.as_str())
            .unwrap_or_else(|| panic!("unknown test user {user}"))
    }

    /// Client settings for plain IMAP (no TLS) as `user`.
    pub fn imap_config(&self, user: &str) -> SessionConfig {
        self.config_on(user, self.imap_port, TlsMode::None)
    }

    /// Client settings for STARTTLS on the plain port (self-signed cert).
    pub fn starttls_config(&self, user: &str) -> SessionConfig {
        self.config_on(user, self.imap_port, TlsMode::StartTls)
    }

    /// Client settings for implicit TLS (self-signed cert).
    pub fn imaps_config(&self, user: &str) -> SessionConfig {
        self.config_on(user, self.imaps_port(), TlsMode::Implicit)
    }

    /// Client settings for `port` with `tls` (accepting the self-signed
    /// certificate when there is TLS).
    fn config_on(&self, user: &str, port: u16, tls: TlsMode) -> SessionConfig {
        let server = Server {
            host: "127.0.0.1".into(),
            port,
            tls,
            accept_invalid_certs: tls != TlsMode::None,
        };
        server.session(
            user,
            Auth::Password(self.password(user).into()),
            Duration::from_secs(20),
        )
    }

    /// Appends messages to `mailbox` (created if needed) through the
    /// project's client and returns their UIDs in order. Panics on error.
    pub async fn seed(&self, user: &str, mailbox: &str, messages: Vec<AppendRequest>) -> Vec<u32> {
        server::seed(self.imap_config(user), mailbox.to_owned(), messages).await
    }

    /// Appends plain bodies (no flags, current date).
    pub async fn seed_bodies<B: AsRef<[u8]>>(
        &self,
        user: &str,
        mailbox: &str,
        bodies: &[B],
    ) -> Vec<u32> {
        self.seed(user, mailbox, server::plain(bodies)).await
    }

    /// Every folder of `user`'s mailbox (see [`server::snapshot`]).
    pub async fn snapshot(&self, user: &str) -> BTreeMap<String, Folder> {
        server::snapshot(self.imap_config(user)).await
    }

    /// Runs `doveadm -c <conf> args...` and returns its stdout; panics on
    /// failure.
    pub fn doveadm(&self, args: &[&str]) -> String {
        let binary = find_binary("doveadm")
            .unwrap_or_else(|| panic!("doveadm not found: run scripts/install-deps.sh"));
        let out = Command::new(binary)
            .arg("-c")
            .arg(self.config_path())
            .args(args)
            .output()
            .expect("run doveadm");
        assert!(
            out.status.success(),
            "doveadm {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

impl MailServer for Dovecot {
    fn kind(&self) -> Kind {
        Kind::Dovecot
    }

    fn imap_port(&self) -> u16 {
        self.imap_port
    }

    fn password(&self, user: &str) -> &str {
        Dovecot::password(self, user)
    }

    fn prefix(&self) -> &str {
        Dovecot::prefix(self)
    }

    fn separator(&self) -> char {
        self.separator
    }

    fn log(&self) -> String {
        Dovecot::log(self)
    }
}

fn make_certificate(dir: &Path) -> Result<(), String> {
    let openssl = find_binary("openssl")
        .ok_or_else(|| "openssl not found: run scripts/install-deps.sh".to_string())?;
    let out = Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "3650", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .map_err(|e| format!("run openssl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "openssl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    fs::set_permissions(dir.join("key.pem"), fs::Permissions::from_mode(0o644))
        .map_err(|e| e.to_string())
}

/// The oauth2 passdb's settings and the key it validates with, where
/// `local_validation_key_dict` looks for a token without `azp` or `kid`:
/// `default/RS256/default`.
fn write_oauth2(base: &Path, oauth2: &OAuth2Passdb<'_>) -> Result<(), String> {
    let keys = base.join("keys");
    let dir = keys.join("default").join("RS256");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    fs::write(dir.join("default"), oauth2.public_key).map_err(|e| e.to_string())?;
    let settings = format!(
        "introspection_mode = local\n\
         local_validation_key_dict = fs:posix:prefix={}/\n\
         username_attribute = {}\n\
         username_format = {}\n",
        keys.display(),
        oauth2.username_attribute,
        oauth2.username_format
    );
    fs::write(base.join("oauth2.conf.ext"), settings).map_err(|e| e.to_string())
}

fn render_config(
    options: &DovecotOptions<'_>,
    base: &Path,
    mail_root: &Path,
    (uid, gid): (u32, u32),
    (imap, imaps, pop3, sieve): (u16, u16, u16, u16),
) -> String {
    let base = base.display();
    let mail = mail_root.display();
    let sep = options.separator;
    let prefix = if options.inbox_prefix {
        format!("INBOX{sep}")
    } else {
        String::new()
    };
    let auto = if options.auto_folders {
        "subscribe"
    } else {
        "no"
    };
    let ssl = if options.tls {
        format!(
            "ssl = yes\nssl_cert = <{base}/cert.pem\nssl_key = <{base}/key.pem\n\
             ssl_min_protocol = TLSv1.2\n"
        )
    } else {
        "ssl = no\n".to_owned()
    };
    let imaps = if options.tls { imaps } else { 0 };
    let mechanisms = options.auth_mechanisms;
    let listen = match options.listen_also {
        Some(address) => format!("127.0.0.1, {address}"),
        None => "127.0.0.1".to_owned(),
    };
    let capability = match options.imap_capability {
        Some(list) => format!("protocol imap {{\n  imap_capability = {list}\n}}\n"),
        None => String::new(),
    };
    // `pass = yes`: the user is then looked up in the users' passdb, so a
    // master can only act for a user who exists.
    let masters = if options.masters.is_empty() {
        String::new()
    } else {
        format!(
            "auth_master_user_separator = *\n\
             passdb {{\n  driver = passwd-file\n  master = yes\n  pass = yes\n  \
             args = scheme=PLAIN username_format=%u {base}/masters\n}}\n"
        )
    };
    // First, and only for the token mechanisms: a token is then never
    // tried as a password, nor a password as a token. Without the auth
    // penalty (as token servers have none): a refused token's retry is not
    // held back for seconds, past the new token's short test lifetime.
    let oauth2 = if options.oauth2.is_some() {
        format!(
            "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  \
             args = {base}/oauth2.conf.ext\n}}\n\
             service anvil {{\n  unix_listener anvil-auth-penalty {{\n    mode = 0\n  }}\n}}\n"
        )
    } else {
        String::new()
    };
    let gmail = super::gmail_view::namespaces(options.gmail_view, &base, &mail);
    let junk = if options.gmail_view { "Spam" } else { "Junk" };
    let quota = match options.max_message_size {
        Some(max) => format!(
            "mail_plugins = $mail_plugins quota\n\
             plugin {{\n  quota = count:User quota\n  quota_vsizes = yes\n  \
             quota_max_mail_size = {max}\n}}\n\
             protocol imap {{\n  mail_plugins = $mail_plugins imap_quota\n}}\n"
        ),
        None => String::new(),
    };
    format!(
        r#"# Generated for one test run.
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
instance_name = mailshift-test-{imap}
protocols = imap pop3 sieve
listen = {listen}
{ssl}disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
first_valid_uid = 1
mail_location = sdbox:{mail}/%u
mail_fsync = never
mail_max_userip_connections = 1000
{masters}{oauth2}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
namespace inbox {{
  inbox = yes
  separator = {sep}
  prefix = {prefix}
  mailbox Drafts {{
    special_use = \Drafts
    auto = {auto}
  }}
  mailbox Sent {{
    special_use = \Sent
    auto = {auto}
  }}
  mailbox Trash {{
    special_use = \Trash
    auto = {auto}
  }}
  mailbox {junk} {{
    special_use = \Junk
    auto = {auto}
  }}
  mailbox Archive {{
    special_use = \Archive
  }}
}}
{gmail}{quota}{capability}service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service managesieve-login {{
  inet_listener sieve {{
    port = {sieve}
  }}
}}
plugin {{
  sieve = file:~/sieve;active=~/.dovecot.sieve
}}
"#
    )
}
