//! A private Radicale (CardDAV/CalDAV) for one test: its own configuration,
//! plain-text htpasswd users and storage in a temporary directory,
//! listening on a free loopback port, killed when dropped.
//!
//! ```no_run
//! let server = Radicale::start(&[("alice", "secret")]);
//! let home = server.home("alice"); // http://127.0.0.1:PORT/alice/
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailshift::protocols::dav::DavClient;
use tempfile::TempDir;

pub struct Radicale {
    child: Child,
    dir: TempDir,
    port: u16,
    users: Vec<(String, String)>,
}

fn find_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("radicale"))
        .find(|p| p.is_file())
}

pub use super::server::free_port;

impl Radicale {
    /// Starts a server with these users and waits until it answers HTTP.
    /// Panics if Radicale is not installed or does not come up.
    pub fn start(users: &[(&str, &str)]) -> Radicale {
        Radicale::start_in(users, &std::env::temp_dir())
    }

    /// Like `start`, with its storage in a temporary directory under
    /// `root` (`/dev/shm` for a benchmark: Radicale syncs every write).
    pub fn start_in(users: &[(&str, &str)], root: &Path) -> Radicale {
        let binary = find_binary()
            .unwrap_or_else(|| panic!("radicale not found: run scripts/install-deps.sh"));
        let mut last_error = String::new();
        for _ in 0..4 {
            match Radicale::try_start(&binary, users, root) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("radicale did not start: {last_error}");
    }

    fn try_start(
        binary: &PathBuf,
        users: &[(&str, &str)],
        root: &Path,
    ) -> Result<Radicale, String> {
        let dir = tempfile::Builder::new()
            .prefix("mailshift-radicale-")
            .tempdir_in(root)
            .map_err(|e| e.to_string())?;
        let base = dir.path();
        let htpasswd: String = users.iter().map(|(u, p)| format!("{u}:{p}\n")).collect();
        fs::write(base.join("users"), htpasswd).map_err(|e| e.to_string())?;
        fs::create_dir_all(base.join("collections")).map_err(|e| e.to_string())?;
        let port = free_port();
        let config = format!(
            "[server]\nhosts = 127.0.0.1:{port}\n\n\
             [auth]\ntype = htpasswd\nhtpasswd_filename = {users}\n\
             htpasswd_encryption = plain\ndelay = 0\n\n\
             [rights]\ntype = owner_only\n\n\
             [storage]\nfilesystem_folder = {storage}\n\n\
             [web]\ntype = none\n\n\
             [logging]\nlevel = warning\nmask_passwords = True\n",
            users = base.join("users").display(),
            storage = base.join("collections").display(),
        );
        let conf_path = base.join("config");
        fs::write(&conf_path, config).map_err(|e| e.to_string())?;
        let log = fs::File::create(base.join("stderr.log")).map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .arg("--config")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", binary.display()))?;
        let mut server = Radicale {
            child,
            dir,
            port,
            users: users
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect(),
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}: {}", self.log()));
            }
            if answers(self.port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not ready after 20s: {}", self.log()));
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

    /// A user's home collection: `http://127.0.0.1:PORT/USER/`.
    pub fn home(&self, user: &str) -> String {
        format!("http://127.0.0.1:{}/{user}/", self.port)
    }

    /// A WebDAV client for a user's home collection.
    pub fn client(&self, user: &str) -> mailshift::protocols::dav::DavClient {
        mailshift::protocols::dav::DavClient::new(
            &self.home(user),
            user,
            mailshift::protocols::imap::Auth::Password(self.password(user).into()),
            false,
            Duration::from_secs(20),
        )
        .unwrap()
    }

    pub fn password(&self, user: &str) -> &str {
        self.users
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, p)| p.as_str())
            .unwrap_or_else(|| panic!("no user {user}"))
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the port answers an HTTP request with a status line.
pub fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream
        .write_all(b"OPTIONS / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

/// Every collection of a home: display name → (components, resource
/// name → content with folds joined and `\n` line ends).
pub type Home = BTreeMap<String, (Vec<String>, BTreeMap<String, String>)>;

pub async fn home(dav: &DavClient, calendars: bool) -> Home {
    let collections = if calendars {
        dav.calendars().await.unwrap()
    } else {
        dav.address_books().await.unwrap()
    };
    let mut all = Home::new();
    for collection in collections {
        let mut items = BTreeMap::new();
        for item in dav.items(&collection.href).await.unwrap() {
            // Servers list `@` in a name as `%40`.
            let name = item.href.rsplit('/').next().unwrap().replace("%40", "@");
            let body = String::from_utf8(dav.get(&item.href).await.unwrap()).unwrap();
            items.insert(name, body.replace("\r\n", "\n").replace("\n ", ""));
        }
        let mut components = collection.components.clone();
        components.sort();
        all.insert(
            collection.display_name.unwrap_or(collection.href),
            (components, items),
        );
    }
    all
}
