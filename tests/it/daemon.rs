//! `mailshift watch` through the binary: manifests dropped into a folder
//! become migrations against real Dovecot servers; the daemon survives
//! kill -9 and stops cleanly on SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::cmd::mailshift;
use crate::mail::{assert_same, raw, servers, slashed, slashed_source, snapshot};
use crate::support::Dovecot;

/// A daemon's folders: the watched one, its area, reports and state.
struct Setup {
    root: TempDir,
}

impl Setup {
    fn new() -> Setup {
        let setup = Setup {
            root: TempDir::new().unwrap(),
        };
        std::fs::create_dir_all(setup.inbox()).unwrap();
        setup
    }

    fn inbox(&self) -> PathBuf {
        self.root.path().join("inbox")
    }

    fn state(&self) -> PathBuf {
        self.root.path().join("state.db")
    }

    fn area(&self) -> PathBuf {
        self.root.path().join("area")
    }

    fn start(&self) -> Child {
        Command::new(env!("CARGO_BIN_EXE_mailshift"))
            .arg("watch")
            .arg(self.inbox())
            .arg("--state")
            .arg(self.state())
            .arg("--area")
            .arg(self.area())
            .arg("--reports")
            .arg(self.root.path().join("reports"))
            .args(["--settle-seconds", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the daemon")
    }

    /// Waits until `n` jobs are filed in `done/` (and `failed/`).
    fn wait_filed(&self, n: usize, limit: Duration) -> (usize, usize) {
        let started = Instant::now();
        loop {
            let count = |sub: &str| {
                std::fs::read_dir(self.area().join(sub))
                    .map(|d| d.count())
                    .unwrap_or(0)
            };
            let (done, failed) = (count("done"), count("failed"));
            if done + failed >= n || started.elapsed() > limit {
                return (done, failed);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn account_yaml(user: &str, source: &Dovecot, dest: &Dovecot) -> String {
    format!(
        "  - source: {{kind: imap, host: 127.0.0.1, port: {}, tls: none, email: {user}@example.test, \
         user: {user}, password: source-pw}}\n    destination: {{kind: imap, host: 127.0.0.1, port: {}, \
         tls: none, email: {user}@example.test, user: {user}, password: dest-pw}}\n",
        source.imap_port(),
        dest.imap_port()
    )
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_manifests_become_migrations_and_broken_ones_are_rejected() {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies("alice", "INBOX", &[&raw("Subject: a", "a")])
        .await;
    source
        .seed_bodies("bob", "Archive", &[&raw("Subject: b", "b")])
        .await;
    let setup = Setup::new();
    let mut daemon = setup.start();

    // A YAML manifest, a CSV with its defaults, and a broken file, at once.
    let inbox = setup.inbox();
    write(
        &inbox.join("alice.yaml"),
        &format!(
            "batch: alice-batch\naccounts:\n{}",
            account_yaml("alice", &source, &dest)
        ),
    );
    write(
        &inbox.join("staff.yaml"),
        &format!(
            "batch: staff\naccounts_csv: staff.csv\ndefaults:\n  source: {{kind: imap, host: 127.0.0.1, \
             port: {}, tls: none}}\n  destination: {{kind: imap, host: 127.0.0.1, port: {}, tls: none}}\n",
            source.imap_port(),
            dest.imap_port()
        ),
    );
    write(
        &inbox.join("staff.csv"),
        "source_email;source_user;source_password;destination_email;destination_user;destination_password\r\n\
         bob@example.test;bob;source-pw;bob@example.test;bob;dest-pw\r\n",
    );
    write(
        &inbox.join("broken.yaml"),
        "batch: broken\naccounts:\n  - source: {port: nine}\n",
    );

    assert_eq!(setup.wait_filed(2, Duration::from_secs(60)), (2, 0));
    assert_same(
        &snapshot(&dest, "alice").await,
        &snapshot(&source, "alice").await,
    );
    assert_same(
        &snapshot(&dest, "bob").await,
        &snapshot(&source, "bob").await,
    );

    let rejected = inbox.join("rejected");
    assert!(rejected.join("broken.yaml").exists());
    let errors = std::fs::read_to_string(rejected.join("broken.yaml.errors.txt")).unwrap();
    assert!(errors.contains("broken.yaml:3:"), "{errors}");
    assert!(rejected.join("broken.yaml.errors.json").exists());
    let left: Vec<_> = std::fs::read_dir(&inbox)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["rejected"], "every file was taken");

    // Accepted manifests are private to the daemon's user.
    let done = setup.area().join("done");
    for job in std::fs::read_dir(&done).unwrap() {
        let job = job.unwrap().path();
        use std::os::unix::fs::PermissionsExt;
        for file in std::fs::read_dir(&job).unwrap() {
            let mode = file.unwrap().metadata().unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{} is readable by others", job.display());
        }
    }

    // The same name dropped again is a new job, never an overwrite.
    write(
        &inbox.join("broken.yaml"),
        "batch: broken\naccounts: nope\n",
    );
    let started = Instant::now();
    while !rejected.join("broken.yaml.2").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the second drop was not handled"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    sigterm(&daemon);
    assert_eq!(daemon.wait().unwrap().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_daemon_resumes_without_duplicates() {
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..3000)
        .map(|i| raw(&format!("Subject: m{i}"), &"w".repeat(2500)))
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    let setup = Setup::new();
    let mut daemon = setup.start();
    write(
        &setup.inbox().join("big.yaml"),
        &format!(
            "batch: big\naccounts:\n{}",
            account_yaml("alice", &source, &dest)
        ),
    );

    // Kill it mid-run, as soon as some mail has arrived.
    let started = Instant::now();
    loop {
        let mut session = mailshift::protocols::imap::Session::connect(&dest.imap_config("alice"))
            .await
            .unwrap();
        if session.status("INBOX").await.unwrap().messages >= 300 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the batch never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    daemon.kill().unwrap();
    daemon.wait().unwrap();

    let mut daemon = setup.start();
    assert_eq!(setup.wait_filed(1, Duration::from_secs(90)), (1, 0));
    assert_same(
        &snapshot(&dest, "alice").await,
        &snapshot(&source, "alice").await,
    );

    // A second daemon on the same state database is refused.
    let second = mailshift()
        .arg("watch")
        .arg(setup.inbox())
        .arg("--state")
        .arg(setup.state())
        .arg("--area")
        .arg(setup.area())
        .run();
    assert_ne!(second.code, Some(0));
    assert!(
        second.stderr.contains("another mailshift daemon"),
        "{}",
        second.stderr
    );

    sigterm(&daemon);
    assert_eq!(daemon.wait().unwrap().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manifest_written_slowly_is_read_only_when_complete() {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies("alice", "INBOX", &[&raw("Subject: a", "a")])
        .await;
    let setup = Setup::new();
    let mut daemon = setup.start();
    let text = format!(
        "batch: slow\naccounts:\n{}",
        account_yaml("alice", &source, &dest)
    );
    let path = setup.inbox().join("slow.yaml");
    let mut file = std::fs::File::create(&path).unwrap();
    for chunk in text.as_bytes().chunks(text.len() / 4 + 1) {
        use std::io::Write;
        file.write_all(chunk).unwrap();
        file.flush().unwrap();
        std::thread::sleep(Duration::from_millis(400));
    }
    drop(file);
    assert_eq!(setup.wait_filed(1, Duration::from_secs(30)), (1, 0));
    assert!(
        !setup.inbox().join("rejected/slow.yaml").exists(),
        "read before it was complete"
    );
    sigterm(&daemon);
    assert_eq!(daemon.wait().unwrap().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_manifest_waits_for_its_time() {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies("alice", "INBOX", &[&raw("Subject: a", "a")])
        .await;
    let setup = Setup::new();
    let mut daemon = setup.start();
    let at = (chrono::Utc::now() + chrono::Duration::seconds(6)).to_rfc3339();
    write(
        &setup.inbox().join("later.yaml"),
        &format!(
            "batch: later\nstart_after: {at}\naccounts:\n{}",
            account_yaml("alice", &source, &dest)
        ),
    );
    let started = Instant::now();
    let scheduled = loop {
        let listed = mailshift()
            .args(["list", "--format", "json", "--state"])
            .arg(setup.state())
            .run();
        if listed.code == Some(0) {
            let json = listed.json();
            if let Some(state) = json[0]["accounts"][0]["state"].as_str() {
                break state.to_owned();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never accepted"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(scheduled, "scheduled");
    assert_eq!(setup.wait_filed(1, Duration::from_secs(40)), (1, 0));
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "started before its time"
    );
    sigterm(&daemon);
    assert_eq!(daemon.wait().unwrap().code(), Some(0));
}
