//! A batch between two groupware endpoints (IMAP from Dovecot, CalDAV and
//! CardDAV from Radicale), run through the binary, with its state,
//! reports and undo.

use std::path::PathBuf;

use tempfile::TempDir;

use super::Dovecot;
use super::radicale::Radicale;
use crate::cmd::{Output, mailshift};

/// One side of an account.
pub struct Side<'a> {
    pub imap: &'a Dovecot,
    /// Its Radicale, named as `dav_url`; `None` leaves `dav_url` out (the
    /// home is then discovered).
    pub dav: Option<&'a Radicale>,
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
        self.command()
            .arg("run")
            .arg(self.dir.path().join("batch.yaml"))
            .arg("--state")
            .arg(self.state())
            .arg("--reports")
            .arg(self.dir.path().join("reports"))
            .run()
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
