//! A private Xandikos (CardDAV/CalDAV) for one test: its store in a
//! temporary directory, one user (its principal `/USER/`, calendars under
//! `/USER/calendars/`, address books under `/USER/contacts/`), listening
//! on a free loopback port, killed when dropped.
//!
//! Xandikos does no authentication of its own (it expects a proxy in
//! front for that): it serves its one user whatever login is sent.
//!
//! ```no_run
//! let server = Xandikos::start("alice", "secret");
//! let calendars = server.calendars("alice"); // /alice/calendars/
//! ```

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::radicale::{answers, free_port};

pub struct Xandikos {
    child: Child,
    dir: TempDir,
    port: u16,
    user: String,
    password: String,
}

fn find_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("xandikos"))
        .find(|p| p.is_file())
}

impl Xandikos {
    /// Starts a server for `user` and waits until it answers HTTP. Panics
    /// if Xandikos is not installed or does not come up.
    pub fn start(user: &str, password: &str) -> Xandikos {
        let binary = find_binary()
            .unwrap_or_else(|| panic!("xandikos not found: run scripts/install-deps.sh"));
        let mut last_error = String::new();
        for _ in 0..4 {
            match Xandikos::try_start(&binary, user, password) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("xandikos did not start: {last_error}");
    }

    fn try_start(binary: &PathBuf, user: &str, password: &str) -> Result<Xandikos, String> {
        let dir = tempfile::Builder::new()
            .prefix("mailshift-xandikos-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let port = free_port();
        let log = fs::File::create(dir.path().join("stderr.log")).map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .arg("--directory")
            .arg(dir.path().join("store"))
            .arg("--current-user-principal")
            .arg(format!("/{user}/"))
            .arg("--autocreate")
            .args(["--listen-address", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", binary.display()))?;
        let mut server = Xandikos {
            child,
            dir,
            port,
            user: user.to_owned(),
            password: password.to_owned(),
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}: {}", self.log()));
            }
            if answers(self.port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not ready after 30s: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process, for measuring what it costs.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The one user's password (Xandikos does not check it).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The user it serves.
    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Xandikos {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
