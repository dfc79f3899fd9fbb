//! One batch of many small accounts, migrated by one `mailshift run` and
//! by `mailshift worker`s sharing a PostgreSQL state: what the workers
//! cost (time, state round trips, memory), and that they copy exactly.
//!
//! 1. Starts a private PostgreSQL (`tests/it/support/postgres.rs`) and a
//!    source Dovecot (mail on tmpfs) with one user per account (`u0000`,
//!    `u0001`, ...), loads every account with a few messages of the mail
//!    corpus (`support/corpus.rs`: realistic folders, sizes, flags and
//!    dates), and reads the source back (not timed).
//! 2. Runs each configuration into a fresh, empty destination Dovecot,
//!    with a fresh state (a new SQLite file, a new PostgreSQL database):
//!    - (a) SQLite, `mailshift run` (one process);
//!    - (b) PostgreSQL, `mailshift run` (one process);
//!    - (c) PostgreSQL, `mailshift run --queue`, then one
//!      `mailshift worker --exit-when-idle`;
//!    - (d) PostgreSQL, `mailshift run --queue`, then three
//!      `mailshift worker --exit-when-idle` started at once.
//! 3. Measures the wall time from the first start to the last exit (the
//!    `run --queue` time included, and shown apart), the state round trips
//!    the processes print (`state round trips: R` from `run`, `worker NAME:
//!    A accounts run, R state round trips` from each worker; `run --queue`
//!    prints none, so its own are not in the sum), the peak RSS and CPU of
//!    every process (GNU time when installed, else `/proc` polled), and,
//!    on PostgreSQL, the transactions the server counted for the database
//!    (`pg_stat_database`), `run --queue`'s included, and with
//!    `BENCH_PG_WIRE=1` the round trips on the wire.
//! 4. Checks that the copy is exact: every process exited 0, `mailshift
//!    list --format json` shows the batch and every account `completed`,
//!    the batch's `report.json` is written (by the worker that ended the
//!    batch) and counts no failure, and every folder of every destination
//!    account holds the same messages as the source's (content hash,
//!    flags, INTERNALDATE). Anything else fails the benchmark.
//! 5. Prints a table: configuration, processes, accounts/s, messages/s,
//!    state round trips per message, peak RSS per process, wall time.
//!
//! Run with `cargo bench --bench workers` (or `scripts/bench-workers.sh`).
//! Knobs, as environment variables:
//!
//! - `BENCH_ACCOUNTS` (1000), `BENCH_MESSAGES` per account (10),
//!   `BENCH_SEED`;
//! - `BENCH_CONCURRENT_ACCOUNTS` (8), `BENCH_CONNECTIONS_PER_ACCOUNT` (1),
//!   `BENCH_CONNECTIONS_PER_HOST` (64; both servers are 127.0.0.1, so this
//!   caps source and destination connections together, across workers);
//! - `BENCH_WORKER_ACCOUNTS` (8): each worker's `--accounts`;
//! - `BENCH_WORKERS` (3): the workers of the last configuration;
//! - `BENCH_CONFIGS` (`abcd`): the configurations to run, by letter;
//! - `BENCH_TIMEOUT_SECONDS` (1800): how long one configuration may take
//!   before its processes are stopped and the benchmark fails;
//! - `BENCH_LOG`: `MAILSHIFT_LOG` for every process (default: each
//!   command's own, `warn` for `run`, `info` for `worker`);
//! - `BENCH_PG_WIRE=1`: the processes reach PostgreSQL through a proxy
//!   that counts the round trips on the wire (`support/pg_wire.rs`: every
//!   statement, prepare, `BEGIN` and `COMMIT` is one, as the processes
//!   count them too), `run --queue`'s included; the proxy slows
//!   the PostgreSQL configurations a little, so keep the timings of a run
//!   without it;
//! - `BENCH_KEEP=1`: keep the work folder (manifests, states, reports,
//!   every process's output) and print where it is;
//! - `BENCH_MAIL_ROOT` (`/dev/shm`): where the Dovecot mail stores live;
//! - `MAILSHIFT_BIN`: the binary to measure (default: the one Cargo built
//!   with this benchmark, `target/release/mailshift`).

#[allow(dead_code)]
#[path = "../tests/it/support/dovecot.rs"]
mod dovecot;
#[allow(dead_code)]
#[path = "../tests/it/support/gmail_view.rs"]
mod gmail_view;
#[allow(dead_code)]
#[path = "../tests/it/support/postgres.rs"]
mod pg;
#[allow(dead_code)]
#[path = "../tests/it/support/server.rs"]
mod server;

#[path = "support/batch.rs"]
mod batch;
#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/mailboxes.rs"]
mod mailboxes;
#[allow(dead_code)]
#[path = "support/measure.rs"]
mod measure;
#[path = "support/pg_wire.rs"]
mod pg_wire;
#[path = "support/processes.rs"]
mod processes;
#[path = "support/rng.rs"]
mod rng;

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use mailshift::protocols::imap::Session;

use corpus::Shape;
use dovecot::{Dovecot, DovecotOptions, Folder};
use measure::{env_or, machine_cpu, mib};
use pg_wire::PgWire;
use processes::{Done, Spec, run_together};

/// Loading and checking sessions open at once, per server.
const CLIENT_CONCURRENCY: usize = 8;

struct Settings {
    shape: Shape,
    limits: batch::Limits,
    worker_accounts: usize,
    configs: Vec<Config>,
    timeout: Duration,
    log: Option<String>,
    keep: bool,
    wire: bool,
    mail_root: Option<PathBuf>,
    binary: PathBuf,
}

impl Settings {
    fn from_env() -> Settings {
        let workers = env_or("BENCH_WORKERS", 3usize).max(1);
        let letters = std::env::var("BENCH_CONFIGS").unwrap_or_else(|_| "abcd".into());
        let configs = letters
            .chars()
            .filter(|c| c.is_ascii_alphabetic())
            .map(|c| match c.to_ascii_lowercase() {
                'a' => Config::SqliteRun,
                'b' => Config::PostgresRun,
                'c' => Config::Workers(1),
                'd' => Config::Workers(workers),
                other => panic!("BENCH_CONFIGS: no configuration {other:?} (a, b, c or d)"),
            })
            .collect();
        Settings {
            shape: Shape {
                accounts: env_or("BENCH_ACCOUNTS", 1000usize).max(1),
                messages_per_account: env_or("BENCH_MESSAGES", 10),
                seed: env_or("BENCH_SEED", 20_240_601),
            },
            limits: batch::Limits::from_env(),
            worker_accounts: env_or("BENCH_WORKER_ACCOUNTS", 8usize).max(1),
            configs,
            timeout: Duration::from_secs(env_or("BENCH_TIMEOUT_SECONDS", 1800)),
            log: std::env::var("BENCH_LOG").ok().filter(|v| !v.is_empty()),
            keep: std::env::var_os("BENCH_KEEP").is_some_and(|v| v != "0"),
            wire: std::env::var_os("BENCH_PG_WIRE").is_some_and(|v| v != "0"),
            mail_root: std::env::var_os("BENCH_MAIL_ROOT")
                .map(PathBuf::from)
                .or_else(|| Some(PathBuf::from("/dev/shm")))
                .filter(|p| p.is_dir()),
            binary: measure::mailshift_binary(),
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        self.log
            .iter()
            .map(|level| ("MAILSHIFT_LOG".to_owned(), level.clone()))
            .collect()
    }
}

/// One way of running the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Config {
    /// `mailshift run`, the state in an SQLite file.
    SqliteRun,
    /// `mailshift run`, the state in PostgreSQL.
    PostgresRun,
    /// `mailshift run --queue`, then this many workers at once.
    Workers(usize),
}

impl Config {
    fn key(self) -> String {
        match self {
            Config::SqliteRun => "sqlite_run".into(),
            Config::PostgresRun => "postgres_run".into(),
            Config::Workers(n) => format!("postgres_workers_{n}"),
        }
    }

    fn label(self) -> String {
        match self {
            Config::SqliteRun => "SQLite, run".into(),
            Config::PostgresRun => "PostgreSQL, run".into(),
            Config::Workers(1) => "PostgreSQL, 1 worker".into(),
            Config::Workers(n) => format!("PostgreSQL, {n} workers"),
        }
    }

    fn processes(self) -> String {
        match self {
            Config::SqliteRun | Config::PostgresRun => "1".into(),
            Config::Workers(n) => format!("1 + {n}"),
        }
    }
}

fn main() {
    let Some(runtime) = measure::start("workers") else {
        return;
    };
    let settings = Settings::from_env();
    measure::exit(runtime.block_on(bench(&settings)));
}

/// What every configuration shares.
struct Setup<'a> {
    settings: &'a Settings,
    users: Vec<String>,
    dest_users: Vec<(&'a str, &'a str)>,
    source: Dovecot,
    /// Every source account as read back after loading.
    expected: HashMap<String, BTreeMap<String, Folder>>,
    postgres: pg::Postgres,
    /// The proxy the processes reach PostgreSQL through, counting round
    /// trips (`BENCH_PG_WIRE`).
    wire: Option<PgWire>,
    work: PathBuf,
    messages: usize,
}

/// Each worker's name, accounts run and round trips, as it printed them.
type PerWorker = Vec<(String, usize, u64)>;

/// What one configuration measured.
struct Figures {
    config: Config,
    wall: Duration,
    /// `run --queue`'s own time, included in `wall`.
    queue: Option<Duration>,
    /// The round trips the processes printed (`run --queue` prints none).
    round_trips: u64,
    /// Transactions PostgreSQL counted for the database: after `run
    /// --queue`, and in all.
    server_transactions: Option<(Option<i64>, Option<i64>)>,
    /// Round trips the proxy saw (`BENCH_PG_WIRE`): after `run --queue`,
    /// and in all; and the connections opened.
    wire: Option<(Option<u64>, u64, u64)>,
    /// The measured processes (`run`, or the workers).
    processes: Vec<Done>,
    queue_process: Option<Done>,
    per_worker: PerWorker,
    machine_busy: f64,
    found: u64,
    copied: u64,
    check_time: Duration,
}

impl Figures {
    fn peak_rss_mib(&self) -> Option<f64> {
        self.processes
            .iter()
            .filter_map(Done::rss_mib)
            .reduce(f64::max)
    }

    fn cpu(&self) -> Option<f64> {
        self.processes.iter().map(|p| p.cpu).sum()
    }
}

async fn bench(settings: &Settings) -> Result<(), String> {
    if !settings.binary.is_file() {
        return Err(format!(
            "{} does not exist: run `cargo bench --bench workers`, which builds it",
            settings.binary.display()
        ));
    }
    let shape = settings.shape;
    println!(
        "workers bench: {} accounts × {} messages, seed {}, mail under {}, binary {}",
        shape.accounts,
        shape.messages_per_account,
        shape.seed,
        settings
            .mail_root
            .as_deref()
            .map_or("the temp directory".into(), |p| p.display().to_string()),
        settings.binary.display()
    );
    println!(
        "manifest limits: concurrent_accounts {}, connections_per_account {}, \
         connections_per_host {}; workers: --accounts {}, default lease; configurations: {}",
        settings.limits.concurrent_accounts,
        settings.limits.connections_per_account,
        settings.limits.connections_per_host,
        settings.worker_accounts,
        settings
            .configs
            .iter()
            .map(|c| c.label())
            .collect::<Vec<_>>()
            .join("; ")
    );

    // 1. The servers, the source's mail, and what it holds (not timed).
    let started = Instant::now();
    let postgres = pg::Postgres::start();
    let wire = settings
        .wire
        .then(|| PgWire::start(port_of(&postgres.url("postgres"))));
    let users: Vec<String> = (0..shape.accounts).map(|i| format!("u{i:04}")).collect();
    let source_users: Vec<(&str, &str)> = users
        .iter()
        .map(|u| (u.as_str(), batch::SOURCE_PASSWORD))
        .collect();
    let source = Dovecot::start(DovecotOptions {
        users: &source_users,
        root: settings.mail_root.clone(),
        ..DovecotOptions::default()
    });
    let (messages, bytes, folders) = load(&source, &shape, &users).await?;
    println!(
        "source: {messages} messages, {:.1} MiB, {folders} folders, loaded in {:.1} s",
        mib(bytes),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let expected = snapshots(&source, &users).await;
    let read: usize = expected
        .values()
        .flat_map(|f| f.values())
        .map(Vec::len)
        .sum();
    if read != messages {
        return Err(format!(
            "the source holds {read} messages after loading, {messages} expected"
        ));
    }
    println!(
        "source read back in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let work = tempfile::Builder::new()
        .prefix("mailshift-workers-bench-")
        .tempdir()
        .map_err(|e| format!("a temporary directory: {e}"))?;
    let setup = Setup {
        settings,
        dest_users: users
            .iter()
            .map(|u| (u.as_str(), batch::DEST_PASSWORD))
            .collect(),
        users: users.clone(),
        source,
        expected,
        postgres,
        wire,
        work: work.path().to_path_buf(),
        messages,
    };

    // 2–4, one configuration after the other.
    let mut all = Vec::new();
    let mut failure = None;
    for &config in &settings.configs {
        match configuration(&setup, config).await {
            Ok(figures) => all.push(figures),
            Err(message) => {
                failure = Some(format!("{}: {message}", config.label()));
                break;
            }
        }
    }

    // 5. The table.
    if !all.is_empty() {
        summary(&setup, &all);
    }
    if settings.keep {
        let kept = work.keep();
        println!("work folder kept: {}", kept.display());
    }
    failure.map_or(Ok(()), Err)
}

/// Where one configuration's files and state are.
struct Job {
    dir: PathBuf,
    manifest: PathBuf,
    reports: PathBuf,
    /// `--state`: an SQLite file or a PostgreSQL URL.
    state: OsString,
    /// The PostgreSQL database, if the state is in one.
    database: Option<String>,
}

impl Job {
    fn run_args(&self, queue: bool) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "run".into(),
            self.manifest.clone().into(),
            "--state".into(),
            self.state.clone(),
            "--reports".into(),
            self.reports.clone().into(),
        ];
        if queue {
            args.push("--queue".into());
        }
        args
    }

    fn worker_args(&self, settings: &Settings, name: &str) -> Vec<OsString> {
        vec![
            "worker".into(),
            "--state".into(),
            self.state.clone(),
            "--reports".into(),
            self.reports.clone().into(),
            "--name".into(),
            name.into(),
            "--accounts".into(),
            settings.worker_accounts.to_string().into(),
            "--exit-when-idle".into(),
        ]
    }
}

/// What the processes of one configuration did.
struct Ran {
    /// `run`, or the workers.
    processes: Vec<Done>,
    /// `run --queue`.
    queue: Option<Done>,
    server_transactions: Option<(Option<i64>, Option<i64>)>,
    wire: Option<(Option<u64>, u64, u64)>,
    machine_busy: f64,
}

/// Runs one configuration into a fresh destination, checks it, and
/// returns its figures.
async fn configuration(setup: &Setup<'_>, config: Config) -> Result<Figures, String> {
    let settings = setup.settings;
    println!();
    println!("== {} ==", config.label());
    let dest = Dovecot::start(DovecotOptions {
        users: &setup.dest_users,
        root: settings.mail_root.clone(),
        ..DovecotOptions::default()
    });
    let dir = setup.work.join(config.key());
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let manifest = dir.join("batch.yaml");
    std::fs::write(
        &manifest,
        batch::manifest(
            &settings.limits,
            &setup.users,
            setup.source.imap_port(),
            dest.imap_port(),
        ),
    )
    .map_err(|e| e.to_string())?;
    let (state, database) = match config {
        Config::SqliteRun => (dir.join("state.db").into(), None),
        _ => {
            let name = config.key();
            let url = setup.postgres.database(&name);
            let url = match &setup.wire {
                Some(wire) => through(&url, wire.port),
                None => url,
            };
            (url.into(), Some(name))
        }
    };
    let job = Job {
        reports: dir.join("reports"),
        dir,
        manifest,
        state,
        database,
    };

    let ran = run_processes(setup, config, &job)?;
    let queue_wall = ran.queue.as_ref().map(|q| q.wall);
    let wall = queue_wall.unwrap_or_default()
        + ran
            .processes
            .iter()
            .map(|p| p.wall)
            .max()
            .unwrap_or_default();
    for process in &ran.processes {
        println!(
            "  {:<8} exit {} after {:.2} s, peak RSS {}, CPU {}{}",
            process.name,
            process
                .status
                .code()
                .map_or("by signal".into(), |c| c.to_string()),
            process.wall.as_secs_f64(),
            process
                .rss_mib()
                .map_or("?".into(), |m| format!("{m:.1} MiB")),
            process.cpu.map_or("?".into(), |c| format!("{c:.2} s")),
            complaints_summary(&process.stderr)
        );
    }
    for process in &ran.processes {
        ended_well(process)?;
    }
    let (round_trips, per_worker) = printed_round_trips(config, &ran.processes)?;
    if !per_worker.is_empty() {
        let accounts = setup.users.len();
        let run: usize = per_worker.iter().map(|(_, a, _)| a).sum();
        println!(
            "  accounts run per worker: {} (sum {run}{})",
            per_worker
                .iter()
                .map(|(name, accounts, trips)| format!("{name} {accounts} ({trips} round trips)"))
                .collect::<Vec<_>>()
                .join(", "),
            if run == accounts {
                String::new()
            } else {
                format!("; {accounts} accounts: some account was run more than once")
            }
        );
        if run < accounts {
            return Err(format!(
                "the workers ran {run} accounts, {accounts} were queued"
            ));
        }
    }

    // The state, the report and the mail.
    check_listing(settings, &job.state, setup.users.len())?;
    let (found, copied) = check_report(&job.reports, setup.users.len())?;
    let started = Instant::now();
    let differences = compare(&setup.expected, &dest, &setup.users).await;
    let check_time = started.elapsed();
    if !differences.is_empty() {
        let mut message = String::from("NOT EXACT: the destination differs from the source:\n");
        for line in differences.iter().take(40) {
            let _ = writeln!(message, "  {line}");
        }
        if differences.len() > 40 {
            let _ = writeln!(message, "  ... and {} more", differences.len() - 40);
        }
        return Err(message);
    }
    let dovecot_errors = dest
        .log()
        .lines()
        .filter(|l| ["Error:", "Fatal:", "Panic:"].iter().any(|m| l.contains(m)))
        .count();
    println!(
        "  exact: every account completed, report written (found {found}, copied {copied}), \
         every folder of {} accounts equal in bytes, flags and INTERNALDATE (checked in {:.1} s); \
         {dovecot_errors} errors in the destination's log",
        setup.users.len(),
        check_time.as_secs_f64()
    );
    Ok(Figures {
        config,
        wall,
        queue: queue_wall,
        round_trips,
        server_transactions: ran.server_transactions,
        wire: ran.wire,
        processes: ran.processes,
        queue_process: ran.queue,
        per_worker,
        machine_busy: ran.machine_busy,
        found,
        copied,
        check_time,
    })
}

/// Runs `run`, or `run --queue` and then the workers at once, and reads
/// what the database server and the proxy counted meanwhile.
fn run_processes(setup: &Setup<'_>, config: Config, job: &Job) -> Result<Ran, String> {
    let settings = setup.settings;
    let spec = |name: &str, args: Vec<OsString>| Spec {
        name: name.to_owned(),
        program: settings.binary.clone(),
        args,
        env: settings.env(),
    };
    let server_count = || {
        job.database
            .as_deref()
            .and_then(|name| transactions(&setup.postgres, name))
    };
    let wire_before = setup
        .wire
        .as_ref()
        .map(|w| (w.round_trips(), w.connections()));
    let wire_now = || {
        setup
            .wire
            .as_ref()
            .zip(wire_before)
            .map(|(w, (trips, _))| w.round_trips() - trips)
    };
    let cpu_before = machine_cpu();
    let (processes, queue, transactions, wire_queue) = match config {
        Config::SqliteRun | Config::PostgresRun => {
            let done = run_together(
                &[spec("run", job.run_args(false))],
                &job.dir,
                settings.timeout,
            );
            let total = job.database.is_some().then(|| (None, server_count()));
            (done, None, total, None)
        }
        Config::Workers(n) => {
            let queue = run_together(
                &[spec("queue", job.run_args(true))],
                &job.dir,
                settings.timeout,
            )
            .remove(0);
            ended_well(&queue)?;
            let queued = format!(": {} accounts queued for workers", setup.users.len());
            if !queue
                .stdout
                .lines()
                .next()
                .is_some_and(|l| l.contains(&queued))
            {
                return Err(format!(
                    "run --queue did not queue every account:\n{}",
                    tail(&queue.stdout, 3)
                ));
            }
            let after_queue = server_count();
            let wire_queue = wire_now();
            println!(
                "  queue    exit 0 after {:.2} s, peak RSS {}; PostgreSQL counted {} transactions",
                queue.wall.as_secs_f64(),
                queue
                    .rss_mib()
                    .map_or("?".into(), |m| format!("{m:.1} MiB")),
                after_queue.map_or("?".into(), |t| t.to_string())
            );
            let specs: Vec<Spec> = (1..=n)
                .map(|i| {
                    let args = job.worker_args(settings, &format!("bench-worker-{i}"));
                    spec(&format!("worker{i}"), args)
                })
                .collect();
            let left = settings.timeout.saturating_sub(queue.wall);
            let done = run_together(&specs, &job.dir, left);
            let total = server_count();
            (done, Some(queue), Some((after_queue, total)), wire_queue)
        }
    };
    let machine_busy = machine_cpu().busy_since(&cpu_before);
    let wire = wire_now()
        .filter(|_| job.database.is_some())
        .zip(setup.wire.as_ref().zip(wire_before))
        .map(|(total, (w, (_, connections)))| (wire_queue, total, w.connections() - connections));
    Ok(Ran {
        processes,
        queue,
        server_transactions: transactions,
        wire,
        machine_busy,
    })
}

/// The round trips `run` or the workers printed, in all, and each
/// worker's name, accounts run and round trips.
fn printed_round_trips(config: Config, processes: &[Done]) -> Result<(u64, PerWorker), String> {
    let mut round_trips = 0;
    let mut per_worker = Vec::new();
    for process in processes {
        if let Config::Workers(_) = config {
            let (name, accounts, trips) = worker_line(&process.stdout).ok_or_else(|| {
                format!(
                    "{} printed no `worker NAME: A accounts run, R state round trips` line:\n{}",
                    process.name,
                    tail(&process.stdout, 3)
                )
            })?;
            round_trips += trips;
            per_worker.push((name, accounts, trips));
        } else {
            round_trips += run_round_trips(&process.stdout).ok_or_else(|| {
                format!(
                    "run printed no `state round trips: R` line last:\n{}",
                    tail(&process.stdout, 3)
                )
            })?;
        }
    }
    Ok((round_trips, per_worker))
}

/// The process exited 0 by itself; else its exit and the end of its
/// output.
fn ended_well(process: &Done) -> Result<(), String> {
    if process.timed_out {
        return Err(format!(
            "{} was still running at the timeout and was stopped ({}); its stderr ({}) ends with:\n{}\n\
             its stdout ends with:\n{}",
            process.name,
            process.status,
            process.stderr_path.display(),
            tail(&process.stderr, 30),
            tail(&process.stdout, 5)
        ));
    }
    if !process.status.success() {
        return Err(format!(
            "{} exited with {}; its stderr ({}) ends with:\n{}\nits stdout ends with:\n{}",
            process.name,
            process.status,
            process.stderr_path.display(),
            tail(&process.stderr, 30),
            tail(&process.stdout, 5)
        ));
    }
    Ok(())
}

/// `state round trips: R`, the last line `run` prints.
fn run_round_trips(stdout: &str) -> Option<u64> {
    stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())?
        .strip_prefix("state round trips: ")?
        .trim()
        .parse()
        .ok()
}

/// `worker NAME: A accounts run, R state round trips`.
fn worker_line(stdout: &str) -> Option<(String, usize, u64)> {
    stdout.lines().rev().find_map(|line| {
        let rest = line.strip_prefix("worker ")?;
        let (name, rest) = rest.split_once(": ")?;
        let (accounts, rest) = rest.split_once(" accounts run, ")?;
        let trips = rest.strip_suffix(" state round trips")?;
        Some((name.to_owned(), accounts.parse().ok()?, trips.parse().ok()?))
    })
}

/// The batch and every account completed, by `mailshift list --format
/// json`.
fn check_listing(settings: &Settings, state: &OsString, accounts: usize) -> Result<(), String> {
    let out = std::process::Command::new(&settings.binary)
        .args(["list", "--format", "json", "--state"])
        .arg(state)
        .output()
        .map_err(|e| format!("run mailshift list: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "mailshift list exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("mailshift list printed no JSON: {e}"))?;
    let batches = listed.as_array().ok_or("mailshift list printed no array")?;
    let [batch] = batches.as_slice() else {
        return Err(format!(
            "mailshift list shows {} batches, 1 expected",
            batches.len()
        ));
    };
    let mut problems = Vec::new();
    if batch["state"] != "completed" {
        problems.push(format!("the batch is {}", batch["state"]));
    }
    let lines = batch["accounts"].as_array().map_or(&[][..], Vec::as_slice);
    if lines.len() != accounts {
        problems.push(format!(
            "{} accounts listed, {accounts} expected",
            lines.len()
        ));
    }
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    for line in lines {
        *by_state
            .entry(line["state"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    if by_state.keys().any(|s| s != "completed") {
        problems.push(format!("accounts by state: {by_state:?}"));
        for line in lines.iter().filter(|l| l["state"] != "completed").take(10) {
            problems.push(format!(
                "  {} {} is {}",
                line["migration_id"], line["source"], line["state"]
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("mailshift list: {}", problems.join("\n")))
    }
}

/// The batch's report: written, completed, every account, no failure.
/// Returns the messages it says were found and copied.
fn check_report(reports: &Path, accounts: usize) -> Result<(u64, u64), String> {
    let path = reports.join(batch::NAME).join("report.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("no report at {}: {e}", path.display()))?;
    let report: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let totals = &report["totals"];
    let all = &totals["all_stages"];
    let number = |v: &serde_json::Value| v.as_u64().unwrap_or(u64::MAX);
    if report["state"] != "completed"
        || number(&totals["accounts"]) != accounts as u64
        || number(&totals["by_state"]["completed"]) != accounts as u64
        || number(&all["failed"]) != 0
    {
        return Err(format!(
            "{}: state {}, totals {}",
            path.display(),
            report["state"],
            totals
        ));
    }
    Ok((number(&all["found"]), number(&all["copied"])))
}

/// Transactions PostgreSQL counted for database `name` so far, once the
/// sessions of the processes that ended have reported theirs.
fn transactions(postgres: &pg::Postgres, name: &str) -> Option<i64> {
    // A session reports its counts when it ends, just after its client
    // exits.
    std::thread::sleep(Duration::from_millis(700));
    let url = postgres.url("postgres");
    let name = name.to_owned();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).ok()?;
        let row = client
            .query_one(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
                &[&name],
            )
            .ok()?;
        row.get::<_, Option<i64>>(0)
    })
    .join()
    .ok()
    .flatten()
}

/// The port of a `postgres://user@host:port/db` URL.
fn port_of(url: &str) -> u16 {
    url.rsplit_once('/')
        .and_then(|(head, _)| head.rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"))
}

/// The same URL through a proxy on `port`.
fn through(url: &str, port: u16) -> String {
    let (head, db) = url.rsplit_once('/').expect("a database in the URL");
    let (host, _) = head.rsplit_once(':').expect("a port in the URL");
    format!("{host}:{port}/{db}")
}

/// Loads every account, one session each; returns the messages, their
/// bytes, and the folders made.
async fn load(
    source: &Dovecot,
    shape: &Shape,
    users: &[String],
) -> Result<(usize, u64, usize), String> {
    let loaded: Vec<Result<(usize, u64, usize), String>> =
        futures::stream::iter(users.iter().enumerate())
            .map(|(index, user)| load_account(source, shape, index, user))
            .buffer_unordered(CLIENT_CONCURRENCY)
            .collect()
            .await;
    let mut totals = (0, 0, 0);
    for result in loaded {
        let (messages, bytes, folders) = result?;
        totals.0 += messages;
        totals.1 += bytes;
        totals.2 += folders;
    }
    if totals.0 != shape.accounts * shape.messages_per_account {
        return Err(format!(
            "loaded {} messages, {} expected",
            totals.0,
            shape.accounts * shape.messages_per_account
        ));
    }
    Ok(totals)
}

async fn load_account(
    source: &Dovecot,
    shape: &Shape,
    index: usize,
    user: &str,
) -> Result<(usize, u64, usize), String> {
    let mailbox = corpus::mailbox(shape, index);
    let failed = |what: &str, e: &dyn std::fmt::Display| format!("loading {user}: {what}: {e}");
    let mut session = Session::connect(&source.imap_config(user))
        .await
        .map_err(|e| failed("login", &e))?;
    let existing: Vec<String> = session
        .list()
        .await
        .map_err(|e| failed("LIST", &e))?
        .into_iter()
        .filter(|m| !m.noselect)
        .map(|m| m.raw)
        .collect();
    let (mut messages, mut bytes) = (0, 0);
    let folders = mailbox.folders.len();
    for (folder, requests) in mailbox.folders {
        if !folder.eq_ignore_ascii_case("INBOX") && !existing.contains(&folder) {
            session
                .create(&folder)
                .await
                .map_err(|e| failed(&format!("CREATE {folder}"), &e))?;
        }
        messages += requests.len();
        bytes += requests.iter().map(|r| r.body.len() as u64).sum::<u64>();
        let count = requests.len();
        let mut completions = Vec::with_capacity(count);
        {
            let mut appender = session.appender(&folder, 32);
            for request in requests {
                completions.extend(
                    appender
                        .push(request)
                        .await
                        .map_err(|e| failed(&format!("APPEND to {folder}"), &e))?,
                );
            }
            completions.extend(appender.finish().await);
        }
        let refused = completions.iter().filter(|c| c.result.is_err()).count();
        if completions.len() != count || refused > 0 {
            return Err(format!(
                "loading {user}: {folder}: {} of {count} messages appended, {refused} refused",
                completions.len()
            ));
        }
    }
    session.logout().await.ok();
    Ok((messages, bytes, folders))
}

/// Every account's folders, as [`server::snapshot`] reads them.
async fn snapshots(
    server: &Dovecot,
    users: &[String],
) -> HashMap<String, BTreeMap<String, Folder>> {
    futures::stream::iter(users)
        .map(|user| async move { (user.clone(), server.snapshot(user).await) })
        .buffer_unordered(CLIENT_CONCURRENCY)
        .collect()
        .await
}

/// Differences between the source (as read after loading) and the
/// destination, one line each; empty when exact.
async fn compare(
    expected: &HashMap<String, BTreeMap<String, Folder>>,
    dest: &Dovecot,
    users: &[String],
) -> Vec<String> {
    let checks = users.iter().map(|user| async move {
        let want = &expected[user];
        let got = dest.snapshot(user).await;
        mailboxes::differences(user, want, &got)
    });
    let mut lines: Vec<String> = futures::stream::iter(checks)
        .buffer_unordered(CLIENT_CONCURRENCY)
        .concat()
        .await;
    lines.sort();
    lines
}

/// ", N warnings or errors logged (the first: ...)", or "".
fn complaints_summary(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    match lines.first() {
        None => String::new(),
        Some(first) => format!(
            ", {} warnings or errors logged (the first: {})",
            lines.len(),
            first.trim()
        ),
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn summary(setup: &Setup<'_>, all: &[Figures]) {
    let settings = setup.settings;
    let accounts = setup.users.len();
    let messages = setup.messages;
    println!();
    println!(
        "== workers benchmark: {accounts} accounts, {messages} messages; concurrent_accounts {}, \
         connections_per_host {}, worker --accounts {} ==",
        settings.limits.concurrent_accounts,
        settings.limits.connections_per_host,
        settings.worker_accounts
    );
    println!(
        "{:<26} {:>9} {:>11} {:>11} {:>20} {:>15} {:>8}",
        "configuration",
        "processes",
        "accounts/s",
        "messages/s",
        "round trips/message",
        "peak RSS (max)",
        "wall s"
    );
    for f in all {
        let secs = f.wall.as_secs_f64();
        println!(
            "{:<26} {:>9} {:>11.1} {:>11.1} {:>20.2} {:>15} {:>8.2}",
            f.config.label(),
            f.config.processes(),
            accounts as f64 / secs,
            messages as f64 / secs,
            f.round_trips as f64 / messages.max(1) as f64,
            f.peak_rss_mib()
                .map_or("?".into(), |m| format!("{m:.1} MiB")),
            secs
        );
    }
    println!(
        "(processes: `run`, or `run --queue` + the workers; wall s from the first start to the last \
         exit; round trips: those the processes print, `run --queue`'s not included; peak RSS: \
         the largest of `run`'s or the workers')"
    );
    println!();
    for f in all {
        let mut notes = format!(
            "{}: {} state round trips, mailshift CPU {}, machine {:.0}% busy",
            f.config.label(),
            f.round_trips,
            f.cpu().map_or("?".into(), |c| format!("{c:.1} s")),
            f.machine_busy * 100.0
        );
        if let (Some(queue), Some(process)) = (f.queue, &f.queue_process) {
            let _ = write!(
                notes,
                "; run --queue {:.2} s ({} peak RSS; its round trips are not printed, not counted)",
                queue.as_secs_f64(),
                process
                    .rss_mib()
                    .map_or("?".into(), |m| format!("{m:.1} MiB"))
            );
        }
        if let Some((queue, total)) = f.server_transactions {
            let _ = write!(
                notes,
                "; PostgreSQL counted {} transactions{}",
                total.map_or("?".into(), |t| t.to_string()),
                queue.map_or(String::new(), |q| format!(" ({q} of them by run --queue)"))
            );
        }
        if let Some((queue, total, connections)) = f.wire {
            let _ = write!(
                notes,
                "; on the wire {total} round trips, {:.2} per message, over {connections} connections{}",
                total as f64 / messages.max(1) as f64,
                queue.map_or(String::new(), |q| format!(" ({q} of them by run --queue)"))
            );
        }
        if !f.per_worker.is_empty() {
            let _ = write!(
                notes,
                "; accounts per worker {}",
                f.per_worker
                    .iter()
                    .map(|(_, a, _)| a.to_string())
                    .collect::<Vec<_>>()
                    .join("/")
            );
        }
        let _ = write!(
            notes,
            "; report: found {}, copied {}; checked in {:.1} s",
            f.found,
            f.copied,
            f.check_time.as_secs_f64()
        );
        println!("{notes}");
    }
}
