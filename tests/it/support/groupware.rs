//! A batch between two groupware endpoints (IMAP from Dovecot, CalDAV and
//! CardDAV from Radicale or Xandikos), run through the binary, with its
//! state, reports and undo; and [`DavServer`], what the tests need of
//! either CalDAV/CardDAV server.

use std::path::PathBuf;
use std::time::Duration;

use mailshift::protocols::dav::DavClient;
use mailshift::protocols::imap::Auth;
use tempfile::TempDir;

use super::Dovecot;
use super::radicale::Radicale;
use super::xandikos::Xandikos;
use crate::cmd::{Output, mailshift};

/// A CalDAV/CardDAV server a test started, whichever it is.
pub trait DavServer: Send + Sync {
    /// `Radicale`, `Xandikos`: for messages.
    fn name(&self) -> &'static str;
    fn port(&self) -> u16;
    /// The URL a manifest names as `dav_url` for `user` (the principal).
    fn home(&self, user: &str) -> String;
    /// The path of `user`'s calendar home, ending with `/`.
    fn calendar_home(&self, user: &str) -> String;
    /// The path of `user`'s address book home, ending with `/`.
    fn book_home(&self, user: &str) -> String;
    fn password(&self, user: &str) -> String;
    fn log(&self) -> String;

    /// A client for `user`'s calendar home.
    fn calendars(&self, user: &str) -> DavClient {
        self.client_at(user, &self.calendar_home(user))
    }

    /// A client for `user`'s address book home.
    fn books(&self, user: &str) -> DavClient {
        self.client_at(user, &self.book_home(user))
    }

    /// A client for the collection at `path`.
    fn client_at(&self, user: &str, path: &str) -> DavClient {
        DavClient::new(
            &format!("http://127.0.0.1:{}{path}", self.port()),
            user,
            Auth::Password(self.password(user)),
            false,
            Duration::from_secs(30),
        )
        .unwrap()
    }
}

impl DavServer for Radicale {
    fn name(&self) -> &'static str {
        "Radicale"
    }
    fn port(&self) -> u16 {
        Radicale::port(self)
    }
    fn home(&self, user: &str) -> String {
        Radicale::home(self, user)
    }
    fn calendar_home(&self, user: &str) -> String {
        format!("/{user}/")
    }
    fn book_home(&self, user: &str) -> String {
        format!("/{user}/")
    }
    fn password(&self, user: &str) -> String {
        Radicale::password(self, user).to_owned()
    }
    fn log(&self) -> String {
        Radicale::log(self)
    }
}

impl DavServer for Xandikos {
    fn name(&self) -> &'static str {
        "Xandikos"
    }
    fn port(&self) -> u16 {
        Xandikos::port(self)
    }
    fn home(&self, user: &str) -> String {
        format!("http://127.0.0.1:{}/{user}/", self.port())
    }
    fn calendar_home(&self, user: &str) -> String {
        format!("/{user}/calendars/")
    }
    fn book_home(&self, user: &str) -> String {
        format!("/{user}/contacts/")
    }
    fn password(&self, _user: &str) -> String {
        Xandikos::password(self).to_owned()
    }
    fn log(&self) -> String {
        Xandikos::log(self)
    }
}

/// A server seen through a proxy on another port (a fault-injecting
/// one): the same homes, at the proxy's port.
pub struct Proxied<'a> {
    pub server: &'a dyn DavServer,
    pub port: u16,
}

impl DavServer for Proxied<'_> {
    fn name(&self) -> &'static str {
        self.server.name()
    }
    fn port(&self) -> u16 {
        self.port
    }
    fn home(&self, user: &str) -> String {
        let real = self.server.home(user);
        let path = real.splitn(4, '/').nth(3).unwrap_or_default();
        format!("http://127.0.0.1:{}/{path}", self.port)
    }
    fn calendar_home(&self, user: &str) -> String {
        self.server.calendar_home(user)
    }
    fn book_home(&self, user: &str) -> String {
        self.server.book_home(user)
    }
    fn password(&self, user: &str) -> String {
        self.server.password(user)
    }
    fn log(&self) -> String {
        self.server.log()
    }
}

/// Which server to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DavKind {
    Radicale,
    Xandikos,
}

impl DavKind {
    /// Starts a server of this kind with one user, `alice`.
    pub fn start(self, password: &str) -> Box<dyn DavServer> {
        match self {
            DavKind::Radicale => Box::new(Radicale::start(&[("alice", password)])),
            DavKind::Xandikos => Box::new(Xandikos::start("alice", password)),
        }
    }
}

/// One side of an account.
pub struct Side<'a> {
    pub imap: &'a Dovecot,
    /// Its CalDAV/CardDAV server, named as `dav_url`; `None` leaves
    /// `dav_url` out (the home is then discovered).
    pub dav: Option<&'a dyn DavServer>,
    pub email: &'a str,
    pub password: &'a str,
}

/// A manifest with one account `alice` between two groupware endpoints,
/// and its state and reports.
pub struct GroupwareRun {
    pub dir: TempDir,
    source: String,
    env: Vec<(String, String)>,
}

impl GroupwareRun {
    pub fn new(source: Side<'_>, destination: Side<'_>, options: &str) -> GroupwareRun {
        let dir = TempDir::new().unwrap();
        let endpoint = |side: &Side<'_>| {
            let dav = side
                .dav
                .map(|d| format!(", dav_url: \"{}\"", d.home("alice")))
                .unwrap_or_default();
            format!(
                "{{kind: groupware, host: 127.0.0.1, port: {}, tls: none, \
                 email: {}, user: alice, password: {}{dav}}}",
                side.imap.imap_port(),
                side.email,
                side.password
            )
        };
        let yaml = format!(
            "batch: test\naccounts:\n  - source: {}\n    destination: {}\n    options: [{options}]\n",
            endpoint(&source),
            endpoint(&destination)
        );
        std::fs::write(dir.path().join("batch.yaml"), yaml).unwrap();
        GroupwareRun {
            dir,
            source: source.email.to_owned(),
            env: Vec::new(),
        }
    }

    /// Sets an environment variable for every command.
    pub fn env(mut self, key: &str, value: &str) -> GroupwareRun {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    fn command(&self) -> crate::cmd::Cmd {
        self.env
            .iter()
            .fold(mailshift(), |cmd, (key, value)| cmd.env(key, value))
    }

    pub fn run(&self) -> Output {
        self.run_command().run()
    }

    /// Runs the manifest again for an account that was undone, which a
    /// plain `run` leaves undone.
    pub fn redo(&self) -> Output {
        let id = super::first_migration_id(&self.state());
        self.run_command().args(["--redo", &id]).run()
    }

    fn run_command(&self) -> crate::cmd::Cmd {
        self.command()
            .arg("run")
            .arg(self.dir.path().join("batch.yaml"))
            .arg("--state")
            .arg(self.state())
            .arg("--reports")
            .arg(self.dir.path().join("reports"))
    }

    pub fn report(&self) -> serde_json::Value {
        serde_json::from_slice(
            &std::fs::read(self.dir.path().join("reports/test/report.json")).unwrap(),
        )
        .unwrap()
    }

    /// The account's undo manifest.
    pub fn undo_manifest(&self) -> serde_json::Value {
        let undo_dir = self.dir.path().join("reports/test/undo");
        let file = std::fs::read_dir(&undo_dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        serde_json::from_slice(&std::fs::read(file.path()).unwrap()).unwrap()
    }

    pub fn undo(&self) -> Output {
        let id = super::first_migration_id(&self.state());
        self.command()
            .args(["undo", &id, "--source", &self.source, "--state"])
            .arg(self.state())
            .arg("--reports")
            .arg(self.dir.path().join("reports"))
            .run()
    }
}
