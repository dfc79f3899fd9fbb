//! Workers (`mailshift worker`) sharing a PostgreSQL state: three worker
//! processes, each in a network namespace of its own when the test can
//! make them (so that the servers see three machines), run a 30-account
//! batch queued with `run --queue`; one is killed with SIGKILL while it
//! holds an account, and the others finish it from its checkpoints; the
//! batch's cap on connections per host holds across all of them, counted
//! at Dovecot; PostgreSQL restarted mid-run costs nothing but a retry.
//! Every mailbox ends exact.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::mail::{Batch, account, assert_same, raw, snapshot};
use crate::support::machines::Machines;
use crate::support::postgres::Postgres;
use crate::support::web::{ADMIN_TOKEN, Serve};
use crate::support::{Dovecot, DovecotOptions};

/// Connections to 127.0.0.1 (both Dovecots) at once, across all workers.
const PER_HOST: usize = 4;

/// Seconds a dead worker's accounts wait before others take them.
const LEASE: &str = "3";

/// A source and a destination Dovecot with `n` users each (`u0`...), the
/// source's holding `messages` messages in INBOX and a few in Archive;
/// listening on `also` too, when given.
async fn servers(
    n: usize,
    messages: usize,
    also: Option<&str>,
) -> (Dovecot, Dovecot, Vec<&'static str>) {
    let users: Vec<&'static str> = (0..n)
        .map(|i| &*Box::leak(format!("u{i}").into_boxed_str()))
        .collect();
    let with = |password: &'static str| -> &'static [(&'static str, &'static str)] {
        Box::leak(users.iter().map(|u| (*u, password)).collect())
    };
    let source = Dovecot::start(DovecotOptions {
        users: with("source-pw"),
        listen_also: also,
        ..DovecotOptions::default()
    });
    let dest = Dovecot::start(DovecotOptions {
        users: with("dest-pw"),
        listen_also: also,
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
/// queued for workers; its servers at `host` (127.0.0.1 when `None`);
/// `more` limits (YAML lines) when given.
fn queued_batch(
    source: &Dovecot,
    dest: &Dovecot,
    users: &[&'static str],
    url: String,
    host: Option<&str>,
    more: &str,
) -> Batch {
    let accounts: Vec<_> = users.iter().map(|u| account(u, source, dest)).collect();
    let limits = format!("  connections_per_host: {PER_HOST}\n  concurrent_accounts: 4\n{more}");
    let batch = Batch::new(&accounts, &limits).on_postgres(url);
    if let Some(host) = host {
        let manifest = batch.dir.path().join("batch.yaml");
        let yaml = std::fs::read_to_string(&manifest).expect("the manifest");
        std::fs::write(&manifest, yaml.replace("127.0.0.1", host)).expect("the manifest");
    }
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
    /// Starts worker `name` on `state`, in namespace `i` of `machines`
    /// when given.
    fn start(batch: &Batch, name: &str, state: OsString, on: Option<(&Machines, usize)>) -> Worker {
        let out = |ext: &str| {
            std::fs::File::create(batch.dir.path().join(format!("{name}.{ext}")))
                .expect("a log file")
        };
        let program = env!("CARGO_BIN_EXE_mailshift");
        let mut command = match on {
            Some((machines, i)) => machines.command(i, program),
            None => Command::new(program),
        };
        let child = command
            .args(["worker", "--name", name, "--lease-seconds", LEASE])
            .args(["--accounts", "4", "--exit-when-idle", "--state"])
            .arg(state)
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

impl Drop for Worker {
    /// A worker left running by a failed test is killed with it.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
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

/// The first column of the rows of one query on the state database, as
/// text, from a thread of its own (the synchronous client may not run
/// inside the async test); nothing while the database is away.
fn query_text(url: &str, sql: &'static str) -> Vec<String> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let Ok(mut client) = postgres::Client::connect(&url, postgres::NoTls) else {
            return Vec::new();
        };
        client
            .query(sql, &[])
            .map(|rows| rows.iter().filter_map(|r| r.try_get(0).ok()).collect())
            .unwrap_or_default()
    })
    .join()
    .expect("the query thread")
}

/// A count from the state database (-1 while it is away).
fn query_i64(url: &str, sql: &'static str) -> i64 {
    query_text(url, sql)
        .first()
        .and_then(|n| n.parse().ok())
        .unwrap_or(-1)
}

/// Counts, at both Dovecots, the IMAP sessions open at once (they share
/// one host), every few milliseconds until stopped, and notes the
/// addresses they come from.
struct SessionCounter {
    most: Arc<AtomicUsize>,
    from: Arc<Mutex<BTreeSet<String>>>,
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
        let from = Arc::new(Mutex::new(BTreeSet::new()));
        let (seen, stopped, addresses) = (most.clone(), stop.clone(), from.clone());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let now: Vec<String> = configs.iter().flat_map(|c| sessions(&doveadm, c)).collect();
                seen.fetch_max(now.len(), Ordering::Relaxed);
                addresses.lock().unwrap().extend(now);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        SessionCounter {
            most,
            from,
            stop,
            thread: Some(thread),
        }
    }

    /// The most sessions seen at once, and every address they came from.
    fn stop(mut self) -> (usize, BTreeSet<String>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let from = std::mem::take(&mut *self.from.lock().unwrap());
        (self.most.load(Ordering::Relaxed), from)
    }
}

/// The client address of each IMAP session `doveadm who` lists on the
/// server of `config`.
fn sessions(doveadm: &Path, config: &Path) -> Vec<String> {
    let out = Command::new(doveadm)
        .arg("-c")
        .arg(config)
        .args(["who", "-1"])
        .stderr(Stdio::null())
        .output()
        .expect("doveadm who");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(1) == Some(&"imap")).then(|| fields.get(3).unwrap_or(&"").to_string())
        })
        .collect()
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
    // Three machines when the test may make them, else three processes.
    let machines = Machines::create(3);
    let bridge = machines.as_ref().map(|m| (m.host_address(), m.subnet()));
    let also = bridge
        .as_ref()
        .map(|(address, subnet)| (address.as_str(), subnet.as_str()));
    if machines.is_none() {
        eprintln!("no network namespaces here: the workers share the host's network");
    }
    let server = Postgres::start_listening_also(also);
    let url = server.database("mailshift");
    let (source, dest, users) = servers(30, 40, also.map(|(address, _)| address)).await;
    let host = also.map(|(address, _)| address);
    let batch = queued_batch(&source, &dest, &users, url.clone(), host, "");
    let state = match host {
        Some(host) => url.replace("127.0.0.1", host),
        None => url.clone(),
    };

    let counter = SessionCounter::start([&source, &dest]);
    let mut workers: Vec<Worker> = (0..3)
        .map(|i| {
            let on = machines.as_ref().map(|m| (m, i));
            Worker::start(&batch, &format!("w{i}"), state.clone().into(), on)
        })
        .collect();
    // Kill w0 while it holds an account, once some accounts are done.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let held = query_i64(
            &url,
            "SELECT count(*)::text FROM accounts WHERE worker = 'w0' AND state = 'running'",
        );
        let done = query_i64(
            &url,
            "SELECT count(*)::text FROM accounts WHERE state = 'completed'",
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
    killed.child.wait().expect("the killed worker");
    let orphans = query_i64(
        &url,
        "SELECT count(*)::text FROM accounts WHERE worker = 'w0'",
    );
    assert!(orphans > 0, "w0 died holding accounts");

    wait_all(&mut workers, &batch, Duration::from_secs(300));
    let (most, from) = counter.stop();
    assert!(
        (2..=PER_HOST).contains(&most),
        "{most} IMAP sessions at once at the two Dovecots of one host (cap {PER_HOST})"
    );
    if let Some(machines) = &machines {
        // The servers saw the workers' machines (the one killed early may
        // not have connected yet), and nothing else.
        assert!(from.iter().all(|a| machines.owns(a)), "{from:?}");
        assert!(from.len() >= 2, "{from:?}");
    }
    assert_exact(&batch, &source, &dest, &users).await;
    assert_eq!(
        query_i64(
            &url,
            "SELECT count(*)::text FROM accounts WHERE worker IS NOT NULL"
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
    let (source, dest, users) = servers(12, 60, None).await;
    let batch = queued_batch(&source, &dest, &users, url.clone(), None, "");
    let mut workers: Vec<Worker> = (0..2)
        .map(|i| Worker::start(&batch, &format!("p{i}"), url.clone().into(), None))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while query_i64(
        &url,
        "SELECT count(*)::text FROM accounts WHERE state = 'completed'",
    ) < 2
    {
        assert!(Instant::now() < deadline, "{}", workers[0].output(&batch));
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = query_i64(
        &url,
        "SELECT count(*)::text FROM accounts WHERE state <> 'completed'",
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

#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_stops_the_account_a_worker_runs_and_the_others_go_on() {
    let server = Postgres::start();
    let url = server.database("mailshift");
    // 100 messages a second for the three accounts: several seconds each.
    let (source, dest, users) = servers(3, 400, None).await;
    let rate = "  messages_per_second: 100";
    let batch = queued_batch(&source, &dest, &users, url.clone(), None, rate);
    let mut workers = vec![Worker::start(&batch, "c0", url.clone().into(), None)];
    let deadline = Instant::now() + Duration::from_secs(60);
    let running = loop {
        let running = query_text(
            &url,
            "SELECT migration_id || ' ' || source_email FROM accounts WHERE state = 'running'",
        );
        if let Some(first) = running.into_iter().next() {
            break first;
        }
        assert!(Instant::now() < deadline, "{}", workers[0].output(&batch));
        std::thread::sleep(Duration::from_millis(20));
    };
    let (id, email) = running.split_once(' ').expect("ID and address");
    crate::cmd::mailshift()
        .args(["cancel", id, "--source", email, "--state", &url])
        .run()
        .success();

    wait_all(&mut workers, &batch, Duration::from_secs(120));
    let listed = batch.list();
    assert_eq!(listed[0]["state"], "completed_with_errors", "{listed}");
    for account in listed[0]["accounts"].as_array().expect("accounts") {
        let expected = if account["migration_id"] == id {
            "cancelled"
        } else {
            "completed"
        };
        assert_eq!(account["state"], expected, "{account}");
    }
    let cancelled = users
        .iter()
        .find(|u| email.starts_with(&format!("{u}@")))
        .expect("the cancelled user");
    let copied: usize = snapshot(&dest, cancelled)
        .await
        .values()
        .map(|f| f.len())
        .sum();
    assert!(
        copied < 403,
        "the cancel stopped the copy ({copied} copied)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_waiting_for_slots_another_holds_stops_at_once_and_gives_its_account_back() {
    let server = Postgres::start();
    let url = server.database("mailshift");
    let (source, dest, users) = servers(1, 20, None).await;
    let batch = queued_batch(&source, &dest, &users, url.clone(), None, "");
    // Another worker, far away, holds every slot of 127.0.0.1.
    let held = query_text(
        &url,
        "INSERT INTO host_slots (host, slot, worker, lease_until)
         SELECT '127.0.0.1', n, 'far', 4000000000 FROM generate_series(0, 3) AS n
         RETURNING host",
    );
    assert_eq!(held.len(), PER_HOST);

    let mut waiting = Worker::start(&batch, "waiting", url.clone().into(), None);
    let deadline = Instant::now() + Duration::from_secs(60);
    while query_i64(
        &url,
        "SELECT count(*)::text FROM accounts WHERE state = 'running'",
    ) < 1
    {
        assert!(Instant::now() < deadline, "{}", waiting.output(&batch));
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(1));
    let copied: usize = snapshot(&dest, users[0])
        .await
        .values()
        .map(|f| f.len())
        .sum();
    assert_eq!(copied, 0, "nothing copied without a slot");
    let term = Command::new("kill")
        .args(["-TERM", &waiting.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let stopped = Instant::now();
    while waiting.child.try_wait().expect("wait").is_none() {
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "still waiting after SIGTERM\n{}",
            waiting.output(&batch)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(waiting.child.wait().expect("wait").code(), Some(0));
    assert_eq!(
        query_text(
            &url,
            "SELECT state || ' ' || coalesce(worker, '-') FROM accounts"
        ),
        ["interrupted -"]
    );

    // The slots come back: the account ends elsewhere, exact.
    query_text(
        &url,
        "DELETE FROM host_slots WHERE worker = 'far' RETURNING host",
    );
    let mut workers = vec![Worker::start(&batch, "next", url.clone().into(), None)];
    wait_all(&mut workers, &batch, Duration::from_secs(120));
    assert_exact(&batch, &source, &dest, &users).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_account_retried_from_the_pages_is_run_again_by_a_worker() {
    let server = Postgres::start();
    let url = server.database("mailshift");
    let (source, dest, users) = servers(1, 5, None).await;
    let accounts = [account(users[0], &source, &dest)];
    let batch = Batch::new(&accounts, "").on_postgres(url.clone());
    // The source's password is read from a file: wrong at first.
    let password = batch.dir.path().join("source-password");
    std::fs::write(&password, "not-the-password").unwrap();
    let manifest = batch.dir.path().join("batch.yaml");
    let yaml = std::fs::read_to_string(&manifest).unwrap().replacen(
        "password: source-pw",
        &format!("password_file: \"{}\"", password.display()),
        1,
    );
    std::fs::write(&manifest, yaml).unwrap();
    batch.command().arg("--queue").run().success();
    let mut first = vec![Worker::start(&batch, "first", url.clone().into(), None)];
    wait_all(&mut first, &batch, Duration::from_secs(60));
    let listed = batch.list();
    let account = &listed[0]["accounts"][0];
    assert_eq!(account["state"], "failed", "{listed}");
    let id = account["migration_id"].as_str().unwrap().to_owned();

    // The password put right, the admin retries from a plain `serve`.
    std::fs::write(&password, "source-pw").unwrap();
    let pages = Serve::start(Path::new(&url), &batch.reports(), 30);
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let retried = pages
        .post(
            &format!("/api/v1/migrations/{id}/retry"),
            &[("Authorization", bearer.as_str())],
            "application/json",
            &format!(r#"{{"source": "{}@example.test"}}"#, users[0]),
        )
        .await;
    assert_eq!(retried.status, 202, "{}", retried.body);
    assert!(
        retried.body.contains("a worker runs it"),
        "{}",
        retried.body
    );
    assert_eq!(batch.list()[0]["accounts"][0]["state"], "queued");

    let mut second = vec![Worker::start(&batch, "second", url.clone().into(), None)];
    wait_all(&mut second, &batch, Duration::from_secs(60));
    assert_exact(&batch, &source, &dest, &users).await;
}
