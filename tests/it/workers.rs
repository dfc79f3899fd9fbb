//! Workers (`mailshift worker`) sharing a PostgreSQL state: three worker
//! processes run a 30-account batch queued with `run --queue`; one is
//! killed with SIGKILL while it holds an account, and the others finish
//! it from its checkpoints; the batch's cap on connections per host holds
//! across all of them, counted at Dovecot; PostgreSQL restarted mid-run
//! costs nothing but a retry. Every mailbox ends exact.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::mail::{Batch, account, assert_same, raw, snapshot};
use crate::support::postgres::Postgres;
use crate::support::{Dovecot, DovecotOptions};

/// Connections to 127.0.0.1 (both Dovecots) at once, across all workers.
const PER_HOST: usize = 4;

/// Seconds a dead worker's accounts wait before others take them.
const LEASE: &str = "3";

/// A source and a destination Dovecot with `n` users each (`u0`...), the
/// source's holding `messages` messages in INBOX and a few in Archive.
async fn servers(n: usize, messages: usize) -> (Dovecot, Dovecot, Vec<&'static str>) {
    let users: Vec<&'static str> = (0..n)
        .map(|i| &*Box::leak(format!("u{i}").into_boxed_str()))
        .collect();
    let with = |password: &'static str| -> &'static [(&'static str, &'static str)] {
        Box::leak(users.iter().map(|u| (*u, password)).collect())
    };
    let source = Dovecot::start(DovecotOptions {
        users: with("source-pw"),
        ..DovecotOptions::default()
    });
    let dest = Dovecot::start(DovecotOptions {
        users: with("dest-pw"),
        ..DovecotOptions::default()
    });
    for (i, user) in users.iter().enumerate() {
        let bodies: Vec<Vec<u8>> = (0..messages)
            .map(|m| {
                raw(
                    &format!("Subject: {user} {m}\r\nMessage-ID: <{i}.{m}@w>"),
                    &"w".repeat(2_000 + 97 * m),
                )
            })
            .collect();
        source.seed_bodies(user, "INBOX", &bodies).await;
        source.seed_bodies(user, "Archive", &bodies[..3]).await;
    }
    (source, dest, users)
}

/// The batch of every user, its state in the PostgreSQL database `url`,
/// queued for workers.
fn queued_batch(source: &Dovecot, dest: &Dovecot, users: &[&'static str], url: String) -> Batch {
    let accounts: Vec<_> = users.iter().map(|u| account(u, source, dest)).collect();
    let limits = format!("  connections_per_host: {PER_HOST}\n  concurrent_accounts: 4");
    let batch = Batch::new(&accounts, &limits).on_postgres(url);
    let queued = batch.command().arg("--queue").run().success();
    assert!(
        queued
            .stdout
            .contains(&format!("{} accounts queued for workers", users.len())),
        "{queued:?}"
    );
    batch
}

/// A worker process, its output in files of the batch's folder.
struct Worker {
    name: String,
    child: Child,
}

impl Worker {
    fn start(batch: &Batch, name: &str) -> Worker {
        let out = |ext: &str| {
            std::fs::File::create(batch.dir.path().join(format!("{name}.{ext}")))
                .expect("a log file")
        };
        let child = Command::new(env!("CARGO_BIN_EXE_mailshift"))
            .args(["worker", "--name", name, "--lease-seconds", LEASE])
            .args(["--accounts", "4", "--exit-when-idle", "--state"])
            .arg(batch.state_arg())
            .arg("--reports")
            .arg(batch.reports())
            .env("MAILSHIFT_LOG", "info")
            .stdout(out("out"))
            .stderr(out("log"))
            .spawn()
            .expect("mailshift worker starts");
        Worker {
            name: name.to_owned(),
            child,
        }
    }

    /// What it printed (stdout, then its log).
    fn output(&self, batch: &Batch) -> String {
        let read = |ext: &str| {
            std::fs::read_to_string(batch.dir.path().join(format!("{}.{ext}", self.name)))
                .unwrap_or_default()
        };
        format!("{}\n--- log of {}\n{}", read("out"), self.name, read("log"))
    }
}

/// Waits for every worker to exit by itself (they stop when nothing is
/// left to run), each successfully.
fn wait_all(workers: &mut [Worker], batch: &Batch, limit: Duration) {
    let deadline = Instant::now() + limit;
    for worker in workers.iter_mut() {
        loop {
            if let Some(status) = worker.child.try_wait().expect("wait") {
                assert!(
                    status.success(),
                    "{} exited with {status}\n{}",
                    worker.name,
                    worker.output(batch)
                );
                break;
            }
            if Instant::now() > deadline {
                let _ = worker.child.kill();
                panic!(
                    "{} did not finish in {limit:?}\n{}",
                    worker.name,
                    worker.output(batch)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Runs one query on the state database, from a thread of its own (the
/// synchronous client may not run inside the async test).
fn query_i64(url: &str, sql: &'static str) -> i64 {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).ok()?;
        client.query_one(sql, &[]).ok()?.try_get::<_, i64>(0).ok()
    })
    .join()
    .expect("the query thread")
    .unwrap_or(-1)
}

/// Counts, at both Dovecots, the IMAP sessions open at once (they share
/// the host 127.0.0.1), every few milliseconds until dropped.
struct SessionCounter {
    most: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SessionCounter {
    fn start(servers: [&Dovecot; 2]) -> SessionCounter {
        let configs: Vec<_> = servers.iter().map(|s| s.config_path()).collect();
        let doveadm = crate::support::server::find_binary("doveadm").expect("doveadm");
        let (most, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (seen, stopped) = (most.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let now: usize = configs.iter().map(|c| sessions(&doveadm, c)).sum();
                seen.fetch_max(now, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        SessionCounter {
            most,
            stop,
            thread: Some(thread),
        }
    }

    /// The most sessions seen at once.
    fn most(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.most.load(Ordering::Relaxed)
    }
}

/// The IMAP sessions `doveadm who` lists on the server of `config`.
fn sessions(doveadm: &Path, config: &Path) -> usize {
    let out = Command::new(doveadm)
        .arg("-c")
        .arg(config)
        .args(["who", "-1"])
        .stderr(Stdio::null())
        .output()
        .expect("doveadm who");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| line.split_whitespace().nth(1) == Some("imap"))
        .count()
}

/// Every account completed, the batch too, and every mailbox exact.
async fn assert_exact(batch: &Batch, source: &Dovecot, dest: &Dovecot, users: &[&str]) {
    let listed = batch.list();
    assert_eq!(listed[0]["state"], "completed", "{listed}");
    let accounts = listed[0]["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), users.len());
    for account in accounts {
        assert_eq!(account["state"], "completed", "{account}");
    }
    for user in users {
        assert_same(&snapshot(dest, user).await, &snapshot(source, user).await);
    }
    let report = batch.reports().join("test").join("report.json");
    assert!(report.exists(), "the last worker wrote the report");
}

#[tokio::test(flavor = "multi_thread")]
async fn three_workers_share_a_batch_one_killed_its_accounts_finish_elsewhere_exact() {
    let server = Postgres::start();
    let url = server.database("mailshift");
    let (source, dest, users) = servers(30, 40).await;
    let batch = queued_batch(&source, &dest, &users, url.clone());

    let counter = SessionCounter::start([&source, &dest]);
    let mut workers: Vec<Worker> = (0..3)
        .map(|i| Worker::start(&batch, &format!("w{i}")))
        .collect();
    // Kill w0 while it holds an account, once some accounts are done.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let held = query_i64(
            &url,
            "SELECT count(*) FROM accounts WHERE worker = 'w0' AND state = 'running'",
        );
        let done = query_i64(
            &url,
            "SELECT count(*) FROM accounts WHERE state = 'completed'",
        );
        if held > 0 && done >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline && done < 30,
            "w0 never held an account mid-run\n{}",
            workers[0].output(&batch)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut killed = workers.remove(0);
    killed.child.kill().expect("SIGKILL");
    let _ = killed.child.wait();
    let orphans = query_i64(&url, "SELECT count(*) FROM accounts WHERE worker = 'w0'");
    assert!(orphans > 0, "w0 died holding accounts");

    wait_all(&mut workers, &batch, Duration::from_secs(300));
    let most = counter.most();
    assert!(
        (2..=PER_HOST).contains(&most),
        "{most} IMAP sessions at once at the two Dovecots of 127.0.0.1 (cap {PER_HOST})"
    );
    assert_exact(&batch, &source, &dest, &users).await;
    assert_eq!(
        query_i64(
            &url,
            "SELECT count(*) FROM accounts WHERE worker IS NOT NULL"
        ),
        0
    );
    // The survivors ran the dead worker's accounts, and said so.
    let mut ran = 0;
    for worker in &workers {
        let out = worker.output(&batch);
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("worker {}:", worker.name)))
            .unwrap_or_else(|| panic!("no summary line\n{out}"));
        ran += line
            .split_whitespace()
            .nth(2)
            .and_then(|n| n.parse::<i64>().ok())
            .expect("accounts run");
        assert!(
            !out.contains("source-pw") && !out.contains("dest-pw"),
            "{out}"
        );
    }
    assert!(ran >= orphans, "{ran} accounts run by the survivors");
}

#[tokio::test(flavor = "multi_thread")]
async fn workers_carry_on_across_a_postgres_restart_and_the_batch_ends_exact() {
    let mut server = Postgres::start();
    let url = server.database("mailshift");
    let (source, dest, users) = servers(12, 60).await;
    let batch = queued_batch(&source, &dest, &users, url.clone());
    let mut workers: Vec<Worker> = (0..2)
        .map(|i| Worker::start(&batch, &format!("p{i}")))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while query_i64(
        &url,
        "SELECT count(*) FROM accounts WHERE state = 'completed'",
    ) < 2
    {
        assert!(Instant::now() < deadline, "{}", workers[0].output(&batch));
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = query_i64(
        &url,
        "SELECT count(*) FROM accounts WHERE state <> 'completed'",
    );
    assert!(left > 0, "restarted while accounts were left");
    server.restart(Duration::from_secs(1));

    wait_all(&mut workers, &batch, Duration::from_secs(300));
    assert_exact(&batch, &source, &dest, &users).await;
    let logs: String = workers.iter().map(|w| w.output(&batch)).collect();
    assert!(
        logs.contains("reconnected to the state database"),
        "the workers met the restart\n{logs}"
    );
}
