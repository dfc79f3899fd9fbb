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
use crate::support::postgres::Postgres;

/// A daemon's folders: the watched one, its area, reports and state.
struct Setup {
    root: TempDir,
    /// A PostgreSQL URL to keep the state in, instead of `state.db`.
    postgres: Option<String>,
}

impl Setup {
    fn new() -> Setup {
        let setup = Setup {
            root: TempDir::new().unwrap(),
            postgres: None,
        };
        std::fs::create_dir_all(setup.inbox()).unwrap();
        setup
    }

    /// What `--state` is given: the PostgreSQL URL, or `state.db`.
    fn state_arg(&self) -> std::ffi::OsString {
        match &self.postgres {
            Some(url) => url.into(),
            None => self.state().into(),
        }
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
        self.command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the daemon")
    }

    /// The daemon's command line, output not yet directed.
    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mailshift"));
        command
            .arg("watch")
            .arg(self.inbox())
            .arg("--state")
            .arg(self.state_arg())
            .arg("--area")
            .arg(self.area())
            .arg("--reports")
            .arg(self.root.path().join("reports"))
            .args(["--settle-seconds", "1"]);
        command
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
    signal(child, "-TERM");
}

fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for a child to exit, at most `limit`; kills it if it does not.
fn exits_within(child: &mut Child, limit: Duration) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the daemon did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// User plus system CPU time a process has used, in clock ticks, from
/// `/proc/PID/stat`.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name (which may hold spaces): state is
    // field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn clock_ticks_per_second() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Regression: every inotify event, the folder being opened by the
/// daemon's own scan included, woke the loop to scan again: an idle daemon
/// burned a core.
#[test]
fn an_idle_daemon_sleeps() {
    let setup = Setup::new();
    // Files that are not manifests, and a rejected/ folder, as a folder in
    // use has them.
    write(&setup.inbox().join("notes.pdf"), "x");
    let mut daemon = setup.start();
    std::thread::sleep(Duration::from_secs(3));
    let before = cpu_ticks(daemon.id());
    let window = Duration::from_secs(30);
    std::thread::sleep(window);
    let used = (cpu_ticks(daemon.id()) - before) as f64 / clock_ticks_per_second();
    let share = used / window.as_secs_f64();
    eprintln!(
        "idle daemon: {used:.2} s of CPU over {window:?} ({:.3}% of a core)",
        share * 100.0
    );
    assert!(
        share < 0.01,
        "an idle daemon used {:.1}% of a core",
        share * 100.0
    );
    sigterm(&daemon);
    assert_eq!(daemon.wait().unwrap().code(), Some(0));
}

/// Regression: once the daemon's log pipe had closed, the log line of the
/// signal handler panicked it away, and SIGTERM and SIGINT were ignored.
#[test]
fn a_daemon_whose_log_pipe_closed_still_stops() {
    for signal_name in ["-TERM", "-INT"] {
        let setup = Setup::new();
        let mut daemon = setup
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the daemon");
        let mut stderr = std::io::BufReader::new(daemon.stderr.take().unwrap());
        let mut line = String::new();
        while !line.contains("watching") {
            line.clear();
            use std::io::BufRead;
            assert_ne!(
                stderr.read_line(&mut line).unwrap(),
                0,
                "no 'watching' line"
            );
        }
        drop(stderr);
        drop(daemon.stdout.take());
        // Something to log about, into the closed pipe.
        write(&setup.inbox().join("broken.yaml"), "batch: [\n");
        std::thread::sleep(Duration::from_millis(1500));
        signal(&daemon, signal_name);
        assert_eq!(
            exits_within(&mut daemon, Duration::from_secs(15)),
            Some(0),
            "{signal_name}"
        );
    }
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
    // A quote never closed swallows the rows below: their passwords must
    // not reach the errors beside the rejected file.
    write(
        &inbox.join("unclosed.csv"),
        "source_email,source_host,source_password,destination_email,destination_password\n\
         a@x.example,\"imap.x.example,pw-a,a@y.example,pw-b\n\
         b@x.example,imap.x.example,pw-swallowed-1,b@y.example,pw-swallowed-2\n",
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
    for ending in ["errors.txt", "errors.json"] {
        let errors =
            std::fs::read_to_string(rejected.join(format!("unclosed.csv.{ending}"))).unwrap();
        assert!(
            errors.contains("a quote opened at row 2 is never closed"),
            "{errors}"
        );
        assert!(
            !errors.contains("pw-"),
            "a password reached the errors: {errors}"
        );
    }
    let mut left: Vec<String> = std::fs::read_dir(&inbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".result.json"))
        .collect();
    left.sort();
    assert_eq!(left, ["rejected"], "every file was taken");
    // Whoever dropped a file can read what became of it.
    let result = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(inbox.join(format!("{name}.result.json"))).unwrap())
            .unwrap()
    };
    assert_eq!(result("broken.yaml")["outcome"], "rejected");
    assert_eq!(
        result("broken.yaml")["errors"],
        "rejected/broken.yaml.errors.txt"
    );
    assert_eq!(result("staff.csv")["batch"], "staff");

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
    killed_daemon_resumes(Setup::new()).await;
}

/// The same with the state in PostgreSQL: the daemon's jobs and its lock
/// are there.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_daemon_with_postgres_state_resumes_without_duplicates() {
    let server = Postgres::start();
    let setup = Setup {
        postgres: Some(server.database("mailshift")),
        ..Setup::new()
    };
    killed_daemon_resumes(setup).await;
}

async fn killed_daemon_resumes(setup: Setup) {
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..3000)
        .map(|i| raw(&format!("Subject: m{i}"), &"w".repeat(2500)))
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
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
        .arg(setup.state_arg())
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
    // The state is where it was told to be, and only there.
    assert_eq!(setup.state().exists(), setup.postgres.is_none());
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
    // The batch too is scheduled, not running, until its time (it is
    // marked so just after its accounts).
    let batch_state = || {
        mailshift()
            .args(["list", "--format", "json", "--state"])
            .arg(setup.state())
            .run()
            .success()
            .json()[0]["state"]
            .clone()
    };
    let mut state = batch_state();
    for _ in 0..10 {
        if state == "scheduled" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        state = batch_state();
    }
    assert_eq!(state, "scheduled");
    assert_eq!(setup.wait_filed(1, Duration::from_secs(40)), (1, 0));
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "started before its time"
    );
    sigterm(&daemon);
    assert_eq!(daemon.wait().unwrap().code(), Some(0));
}

/// Regression: `messages_per_second: 10` took 29 s under `run` and about
/// 1 s under `watch`: the daemon ran every batch with its own limits only.
#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_keeps_a_manifests_limits() {
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..100)
        .map(|i| raw(&format!("Subject: m{i}"), "x"))
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    let setup = Setup::new();
    let mut daemon = setup.start();
    let dropped = Instant::now();
    write(
        &setup.inbox().join("paced.yaml"),
        &format!(
            "batch: paced\nlimits: {{messages_per_second: 10}}\naccounts:\n{}",
            account_yaml("alice", &source, &dest)
        ),
    );
    assert_eq!(setup.wait_filed(1, Duration::from_secs(60)), (1, 0));
    let took = dropped.elapsed();
    // One second to settle, ten messages at once, then ninety at 10/s.
    assert!(
        took >= Duration::from_secs(9),
        "100 messages at 10/s took {took:?}"
    );
    assert_same(
        &snapshot(&dest, "alice").await,
        &snapshot(&source, "alice").await,
    );
    sigterm(&daemon);
    assert_eq!(daemon.wait().unwrap().code(), Some(0));
}

/// Polls until `path` exists, at most `limit`.
fn appears(path: &Path, limit: Duration) -> bool {
    let started = Instant::now();
    while !path.exists() {
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// Regression: a folder or a symbolic link dropped in stayed there with no
/// word; a CSV and its same-stem defaults YAML dropped together ran the
/// CSV alone and rejected the YAML for having no accounts.
#[tokio::test(flavor = "multi_thread")]
async fn oddities_are_rejected_and_a_csv_runs_with_its_defaults_whichever_settles_first() {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies("alice", "INBOX", &[&raw("Subject: a", "a")])
        .await;
    source
        .seed_bodies("bob", "INBOX", &[&raw("Subject: b", "b")])
        .await;
    let setup = Setup::new();
    let inbox = setup.inbox();
    let outside = setup.root.path().join("outside.yaml");
    write(&outside, "batch: outside\n");
    std::fs::create_dir(inbox.join("a-folder.yaml")).unwrap();
    std::os::unix::fs::symlink(inbox.join("nowhere.yaml"), inbox.join("gone.yaml")).unwrap();
    std::os::unix::fs::symlink(inbox.join("loop.yaml"), inbox.join("loop.yaml")).unwrap();
    std::os::unix::fs::symlink(&outside, inbox.join("elsewhere.yaml")).unwrap();
    let mut daemon = setup.start();

    let defaults = format!(
        "defaults:\n  source: {{kind: imap, host: 127.0.0.1, port: {}, tls: none}}\n  \
         destination: {{kind: imap, host: 127.0.0.1, port: {}, tls: none}}\n",
        source.imap_port(),
        dest.imap_port()
    );
    let csv = |user: &str| {
        format!(
            "source_email,source_user,source_password,destination_email,destination_user,destination_password\n\
             {user}@example.test,{user},source-pw,{user}@example.test,{user},dest-pw\n"
        )
    };
    // The YAML first, settled well before its CSV arrives.
    write(
        &inbox.join("staff.yaml"),
        &format!("batch: staff\n{defaults}"),
    );
    std::thread::sleep(Duration::from_millis(2500));
    write(&inbox.join("staff.csv"), &csv("alice"));
    // The CSV settles first while its YAML is still being written.
    write(&inbox.join("team.yaml"), "batch: team\n");
    write(&inbox.join("team.csv"), &csv("bob"));
    std::thread::sleep(Duration::from_millis(700));
    write(&inbox.join("team.yaml"), "batch: team\n# still writing\n");
    std::thread::sleep(Duration::from_millis(700));
    write(
        &inbox.join("team.yaml"),
        &format!("batch: team\n{defaults}"),
    );

    assert_eq!(setup.wait_filed(2, Duration::from_secs(60)), (2, 0));
    for user in ["alice", "bob"] {
        assert_same(&snapshot(&dest, user).await, &snapshot(&source, user).await);
    }
    for name in ["staff.csv", "team.csv"] {
        let path = inbox.join(format!("{name}.result.json"));
        let started = Instant::now();
        let outcome = loop {
            let json: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            if json["outcome"] != "accepted" || started.elapsed() > Duration::from_secs(10) {
                break json["outcome"].clone();
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(outcome, "done", "{name}");
    }

    let rejected = inbox.join("rejected");
    for (name, reason) in [
        ("a-folder.yaml", "this is a folder"),
        ("gone.yaml", "a symbolic link to nothing"),
        ("loop.yaml", "a symbolic link that loops"),
        (
            "elsewhere.yaml",
            "a symbolic link to a file outside the watched folder",
        ),
    ] {
        let errors = rejected.join(format!("{name}.errors.txt"));
        assert!(
            appears(&errors, Duration::from_secs(10)),
            "{name} not rejected"
        );
        let text = std::fs::read_to_string(&errors).unwrap();
        assert!(text.contains(reason), "{name}: {text}");
        assert!(
            rejected.join(name).symlink_metadata().is_ok(),
            "{name} moved"
        );
        let result: serde_json::Value = serde_json::from_slice(
            &std::fs::read(inbox.join(format!("{name}.result.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(result["outcome"], "rejected", "{name}");
    }
    assert!(outside.exists(), "the file outside is left alone");
    assert!(!rejected.join("staff.yaml").exists() && !rejected.join("team.yaml").exists());
    sigterm(&daemon);
    assert_eq!(daemon.wait().unwrap().code(), Some(0));
}

/// A rejected file is emailed to the daemon's administrator, with its
/// problems and never a password.
#[test]
fn a_rejection_is_emailed_to_the_daemons_admin() {
    use crate::support::smtp::{SmtpOptions, SmtpReceiver};
    let receiver = SmtpReceiver::start(SmtpOptions::default());
    let setup = Setup::new();
    let config = setup.root.path().join("daemon.yaml");
    write(
        &config,
        &format!(
            "admin: it-team@example.test\nsmtp: {{host: 127.0.0.1, port: {}, tls: none, \
             from: mailshift@example.test}}\n",
            receiver.port()
        ),
    );
    let mut daemon = setup
        .command()
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    write(
        &setup.inbox().join("broken.csv"),
        "source_email,source_password\na@x.example,\"pw-first\nb@x.example,pw-hidden\n",
    );
    std::fs::create_dir(setup.inbox().join("folder.yaml")).unwrap();
    let started = Instant::now();
    while receiver.messages().len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{}",
            receiver.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut subjects: Vec<String> = Vec::new();
    for message in receiver.messages() {
        assert_eq!(message.rcpt_to, ["it-team@example.test"]);
        let parsed = SmtpReceiver::parse(&message.data);
        let body = parsed["body"].as_str().unwrap().to_owned();
        assert!(!body.contains("pw-"), "{body}");
        subjects.push(parsed["subject"].as_str().unwrap().to_owned());
        if body.contains("broken.csv") {
            assert!(
                body.contains("a quote opened at row 2 is never closed"),
                "{body}"
            );
        } else {
            assert!(body.contains("this is a folder"), "{body}");
        }
    }
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "[mailshift] broken.csv was rejected",
            "[mailshift] folder.yaml was rejected"
        ]
    );
    sigterm(&daemon);
    assert_eq!(daemon.wait().unwrap().code(), Some(0));
}

/// Regression: one bad row made the daemon reject the whole file. With
/// `skip_invalid: true` in its configuration, the valid rows run and the
/// result file lists the others with their row, column and reason.
#[tokio::test(flavor = "multi_thread")]
async fn skip_invalid_in_the_configuration_runs_the_valid_rows() {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies("alice", "INBOX", &[&raw("Subject: a", "a")])
        .await;
    let setup = Setup::new();
    let config = setup.root.path().join("daemon.yaml");
    write(&config, "skip_invalid: true\n");
    let mut daemon = setup
        .command()
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let row = |user: &str, port: &str| {
        format!(
            "{user}@example.test,{user},127.0.0.1,{port},none,source-pw,\
             {user}@example.test,{user},127.0.0.1,{},none,dest-pw\n",
            dest.imap_port()
        )
    };
    write(
        &setup.inbox().join("staff.csv"),
        &format!(
            "source_email,source_user,source_host,source_port,source_tls,source_password,\
             destination_email,destination_user,destination_host,destination_port,destination_tls,destination_password\n{}{}",
            row("alice", &source.imap_port().to_string()),
            row("bob", "14x3"),
        ),
    );
    assert_eq!(setup.wait_filed(1, Duration::from_secs(60)), (1, 0));
    assert_same(
        &snapshot(&dest, "alice").await,
        &snapshot(&source, "alice").await,
    );
    let path = setup.inbox().join("staff.csv.result.json");
    let started = Instant::now();
    let result = loop {
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        if json["outcome"] != "accepted" || started.elapsed() > Duration::from_secs(10) {
            break json;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(result["outcome"], "done", "{result}");
    let skipped = result["skipped"].as_array().expect("the skipped rows");
    assert_eq!(skipped.len(), 1, "{result}");
    let text = skipped[0].as_str().unwrap();
    assert!(
        text.contains("staff.csv: row 3 (bob@example.test)"),
        "{text}"
    );
    assert!(
        text.contains("column source_port: error: `14x3` is not a port number"),
        "{text}"
    );
    assert!(!text.contains("source-pw"), "{text}");
    sigterm(&daemon);
    assert_eq!(daemon.wait().unwrap().code(), Some(0));
}

/// `mailshift worker` on the daemon's state (an SQLite file: workers on
/// one machine), its log in `<root>/<name>.log`.
fn worker(setup: &Setup, name: &str, until_idle: bool) -> Child {
    let log = std::fs::File::create(setup.root.path().join(format!("{name}.log"))).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailshift"));
    command
        .args(["worker", "--name", name, "--lease-seconds", "3", "--state"])
        .arg(setup.state_arg())
        .arg("--reports")
        .arg(setup.root.path().join("reports"))
        .stdout(Stdio::null())
        .stderr(log);
    if until_idle {
        command.arg("--exit-when-idle");
    }
    command.spawn().expect("start a worker")
}

/// The states of the batch's accounts, as `mailshift list` shows them
/// (none before the daemon made its state database).
fn account_states(setup: &Setup) -> Vec<String> {
    let listed = mailshift()
        .args(["list", "--format", "json", "--state"])
        .arg(setup.state_arg())
        .run();
    if listed.code == Some(4) {
        return Vec::new();
    }
    let listed = listed.success().json();
    listed[0]["accounts"]
        .as_array()
        .map(|accounts| {
            accounts
                .iter()
                .map(|a| a["state"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_no_run_queues_batches_that_workers_run_and_files_them_when_they_end() {
    let setup = Setup::new();
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..1500)
        .map(|i| raw(&format!("Subject: m{i}"), &"q".repeat(3000)))
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    source.seed_bodies("bob", "INBOX", &bodies[..700]).await;
    let mut daemon = setup.command();
    let mut daemon = daemon
        .arg("--no-run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    write(
        &setup.inbox().join("queued.yaml"),
        &format!(
            "batch: queued\naccounts:\n{}{}",
            account_yaml("alice", &source, &dest),
            account_yaml("bob", &source, &dest)
        ),
    );
    let started = Instant::now();
    while account_states(&setup) != ["queued", "queued"] {
        assert!(started.elapsed() < Duration::from_secs(30), "never queued");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The daemon runs nothing itself.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(account_states(&setup), ["queued", "queued"]);
    assert_eq!(setup.wait_filed(1, Duration::ZERO), (0, 0));

    // A worker stopped by SIGTERM mid-run gives its accounts back.
    let mut first = worker(&setup, "first", false);
    while !account_states(&setup).iter().any(|s| s == "running") {
        assert!(started.elapsed() < Duration::from_secs(60), "never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    sigterm(&first);
    assert_eq!(exits_within(&mut first, Duration::from_secs(30)), Some(0));
    let states = account_states(&setup);
    assert!(
        states
            .iter()
            .all(|s| s == "interrupted" || s == "completed")
            && states.iter().any(|s| s == "interrupted"),
        "{states:?}"
    );

    // Another one takes them up, from their checkpoints.
    let mut second = worker(&setup, "second", true);
    assert_eq!(exits_within(&mut second, Duration::from_secs(120)), Some(0));
    assert_eq!(account_states(&setup), ["completed", "completed"]);
    for user in ["alice", "bob"] {
        assert_same(&snapshot(&dest, user).await, &snapshot(&source, user).await);
    }
    assert_eq!(setup.wait_filed(1, Duration::from_secs(30)), (1, 0));
    assert!(
        setup
            .root
            .path()
            .join("reports/queued/report.json")
            .exists()
    );
    let log = std::fs::read_to_string(setup.root.path().join("first.log")).unwrap();
    assert!(log.contains("given back"), "{log}");
    sigterm(&daemon);
    assert_eq!(exits_within(&mut daemon, Duration::from_secs(30)), Some(0));
}
