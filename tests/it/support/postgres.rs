//! A private PostgreSQL server for tests: Debian's `postgresql` binaries,
//! a cluster made by `initdb` in a temporary directory, listening on a
//! free loopback port with its Unix socket in that directory, stopped by
//! its pid when dropped.
//!
//! The server runs as the `postgres` user when the tests run as root
//! (PostgreSQL refuses to run as root). The library's own store tests
//! include this file too, so there is one way to start a server.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running private PostgreSQL server.
pub struct Postgres {
    child: Child,
    port: u16,
    bin: PathBuf,
    /// The `-c` settings it runs with.
    settings: Vec<String>,
    // Removed after the server has stopped (in `drop`).
    dir: tempfile::TempDir,
}

/// The directory of the newest installed PostgreSQL's programs.
pub fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Whether these tests run as root.
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// `program` as the user the server runs as.
fn as_server_user(program: &Path) -> Command {
    if running_as_root() {
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl Postgres {
    /// Starts a new server. PostgreSQL not installed fails the test, as
    /// any other server of the suite would: `scripts/install-deps.sh`
    /// installs it.
    pub fn start() -> Postgres {
        Postgres::start_with(Options::default())
    }

    /// Starts a new server that also listens on `also` (an address and its
    /// subnet, trusted as loopback is: see [`super::machines`]).
    pub fn start_listening_also(also: Option<(&str, &str)>) -> Postgres {
        Postgres::start_with(Options {
            also,
            ..Options::default()
        })
    }

    /// Starts a new server that offers TLS with a certificate for
    /// `localhost` and 127.0.0.1, signed by a test authority; returns it
    /// and the authority's certificate (PEM), to trust. The role
    /// [`CERTIFIED`] logs in only with a client certificate that authority
    /// signed ([`Postgres::client_identity`]).
    pub fn start_tls() -> (Postgres, PathBuf) {
        let server = Postgres::start_with(Options {
            tls: true,
            ..Options::default()
        });
        server.as_superuser(format!("CREATE ROLE {CERTIFIED} LOGIN SUPERUSER"));
        let authority = server.dir.path().join("ca.crt");
        (server, authority)
    }

    /// The client certificate and key (PEM, the key `0600`) the role
    /// [`CERTIFIED`] logs in with, on a server of [`Postgres::start_tls`].
    pub fn client_identity(&self) -> (PathBuf, PathBuf) {
        let dir = self.dir.path();
        (dir.join("client.crt"), dir.join("client.key"))
    }

    fn start_with(options: Options<'_>) -> Postgres {
        let bin = binaries().expect(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): \
             run scripts/install-deps.sh",
        );
        let dir = tempfile::TempDir::new().expect("a temporary directory");
        if running_as_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown of the PostgreSQL directory failed");
        }
        let data = dir.path().join("data");
        let out = as_server_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut listen = "127.0.0.1".to_owned();
        let mut settings = Vec::new();
        if let Some((address, subnet)) = options.also {
            listen = format!("{listen},{address}");
            let hba = data.join("pg_hba.conf");
            let mut rules = std::fs::read_to_string(&hba).expect("pg_hba.conf");
            rules.push_str(&format!("host all all {subnet} trust\n"));
            std::fs::write(&hba, rules).expect("pg_hba.conf written");
        }
        settings.push(format!("listen_addresses={listen}"));
        if options.tls {
            make_certificate(dir.path());
            let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
            settings.push("ssl=on".to_owned());
            settings.push(format!("ssl_cert_file={}", cert.display()));
            settings.push(format!("ssl_key_file={}", key.display()));
            settings.push(format!(
                "ssl_ca_file={}",
                dir.path().join("ca.crt").display()
            ));
            // The first matching line wins: the certified role over TLS
            // with its certificate, never without.
            let hba = data.join("pg_hba.conf");
            let rules = std::fs::read_to_string(&hba).expect("pg_hba.conf");
            let first = format!(
                "hostssl all {CERTIFIED} 127.0.0.1/32 cert\n\
                 host all {CERTIFIED} 127.0.0.1/32 reject\n"
            );
            std::fs::write(&hba, first + &rules).expect("pg_hba.conf written");
        }
        let port = free_port();
        let child = spawn(&bin, dir.path(), port, &settings);
        let mut server = Postgres {
            child,
            port,
            bin,
            settings,
            dir,
        };
        server.wait_ready();
        server
    }

    /// Stops the server (a fast shutdown: every client is disconnected)
    /// and starts it again on the same port and data; returns once it
    /// takes connections again.
    pub fn restart(&mut self, down_for: Duration) {
        self.stop();
        std::thread::sleep(down_for);
        self.child = spawn(&self.bin, self.dir.path(), self.port, &self.settings);
        self.wait_ready();
    }

    fn stop(&mut self) {
        // SIGINT: PostgreSQL's fast shutdown (clients are disconnected).
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let url = self.url("postgres");
            if on_own_thread(move || postgres::Client::connect(&url, postgres::NoTls).is_ok()) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("PostgreSQL exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start in 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The URL of database `db` on this server, as `--state` takes it.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates database `name` and returns its URL.
    pub fn database(&self, name: &str) -> String {
        self.as_superuser(format!("CREATE DATABASE {name}"));
        self.url(name)
    }

    /// Runs `sql` as the server's superuser.
    fn as_superuser(&self, sql: String) {
        let url = self.url("postgres");
        on_own_thread(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls)
                .expect("a connection to the test server");
            client
                .batch_execute(&sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        });
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The role of a [`Postgres::start_tls`] server that logs in with a
/// client certificate only.
pub const CERTIFIED: &str = "certified";

/// How a server is set up.
#[derive(Default)]
struct Options<'a> {
    /// Another address to listen on, and its subnet to trust.
    also: Option<(&'a str, &'a str)>,
    /// Offer TLS.
    tls: bool,
}

/// Starts the server of the cluster in `dir` (its data in `dir/data`, its
/// socket in `dir`) on `port`, with more `-c` settings.
fn spawn(bin: &Path, dir: &Path, port: u16, settings: &[String]) -> Child {
    let mut command = as_server_user(&bin.join("postgres"));
    command
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-p", &port.to_string(), "-k"])
        .arg(dir)
        .args(["-c", "fsync=off", "-c", "max_connections=200"]);
    for setting in settings {
        command.args(["-c", setting]);
    }
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("postgres starts")
}

/// A certificate authority in `dir/ca.crt`, and a certificate it signed
/// for localhost and 127.0.0.1 in `dir/server.crt`, its key in
/// `dir/server.key` (the server's alone); a client certificate of the
/// role [`CERTIFIED`] in `dir/client.crt`, its key in `dir/client.key`.
fn make_certificate(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs (scripts/install-deps.sh installs it)");
        assert!(
            out.status.success(),
            "openssl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let new_key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &new_key,
            &["-days", "3650", "-subj", "/CN=mailshift test CA"],
            &["-keyout", "ca.key", "-out", "ca.crt"],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req", "-x509", "-CA", "ca.crt", "-CAkey", "ca.key"][..],
            &new_key,
            &["-days", "3650", "-subj", "/CN=localhost"],
            &["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            &["-addext", "basicConstraints=critical,CA:FALSE"],
            &["-keyout", "server.key", "-out", "server.crt"],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req", "-x509", "-CA", "ca.crt", "-CAkey", "ca.key"][..],
            &new_key,
            &["-days", "3650", "-subj", &format!("/CN={CERTIFIED}")],
            &["-addext", "basicConstraints=critical,CA:FALSE"],
            &["-keyout", "client.key", "-out", "client.crt"],
        ]
        .concat(),
    );
    use std::os::unix::fs::PermissionsExt;
    for key in ["server.key", "client.key"] {
        std::fs::set_permissions(dir.join(key), std::fs::Permissions::from_mode(0o600))
            .expect("key mode");
    }
    let key = dir.join("server.key");
    if running_as_root() {
        let status = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&key)
            .arg(dir.join("server.crt"))
            .status()
            .expect("chown runs");
        assert!(status.success(), "chown of the server's key failed");
    }
}

/// Runs `f` on a thread of its own: the synchronous PostgreSQL client
/// runs a runtime of its own, which cannot start inside an async test.
fn on_own_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f)
        .join()
        .expect("the PostgreSQL client thread")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}
