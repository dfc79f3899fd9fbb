//! How fast `mailshift run` migrates a realistic batch IMAP→IMAP, and
//! how it compares with mbsync on the same corpus, on the same machine.
//!
//! 1. Generates a deterministic corpus (20 accounts × 500 messages by
//!    default; see `support/corpus.rs`) and loads it into a source Dovecot
//!    whose mail lives on tmpfs (not timed).
//! 2. Runs the release `mailshift` binary on a manifest of every account
//!    into an empty destination Dovecot: wall time, CPU and peak RSS.
//! 3. Compares every folder of every account, source against destination,
//!    as multisets of (content hash, flags, INTERNALDATE). Any difference
//!    fails the benchmark.
//! 4. Runs mbsync (one IMAP→IMAP channel per account, 4 processes at a
//!    time) into another empty destination: wall time and CPU.
//! 5. Repeats 2–4 (3 rounds by default, each tool into a fresh
//!    destination), then, after the last mailshift round, times the same
//!    command three more times with nothing changed.
//! 6. Prints medians against the targets. Targets are reported, not
//!    enforced; only an inexact copy (or a failed run) fails.
//!
//! Run with `cargo bench --bench mail` (or `scripts/bench.sh`). Optional
//! knobs, as environment variables:
//!
//! - `BENCH_ACCOUNTS` (20), `BENCH_MESSAGES` per account (500),
//!   `BENCH_SEED`, `BENCH_ROUNDS` (3);
//! - `BENCH_CONCURRENT_ACCOUNTS` (8), `BENCH_CONNECTIONS_PER_ACCOUNT` (2),
//!   `BENCH_CONNECTIONS_PER_HOST` (64; both servers are 127.0.0.1, so this
//!   caps source and destination connections together);
//! - `BENCH_MBSYNC_JOBS` (4), `BENCH_SKIP_MBSYNC=1`;
//! - `BENCH_MAIL_ROOT` (`/dev/shm`): where the Dovecot mail stores live;
//! - `MAILSHIFT_BIN`: the binary to measure (default: the one Cargo built
//!   with this benchmark, `target/release/mailshift`);
//! - `BENCH_PERF_DIR`: record system-wide `perf` profiles of the first
//!   round of each tool there (the figures are then only indicative);
//! - `BENCH_HOLD=1`: keep the last round's servers up after the re-runs
//!   until Enter is pressed, to investigate by hand.

#[allow(dead_code)]
#[path = "../tests/it/support/dovecot.rs"]
mod dovecot;
#[allow(dead_code)]
#[path = "../tests/it/support/gmail_view.rs"]
mod gmail_view;
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
#[path = "support/rng.rs"]
mod rng;
#[path = "support/totals.rs"]
mod totals;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use mailshift::protocols::imap::Session;

use corpus::Shape;
use dovecot::{Dovecot, DovecotOptions};
use measure::{Measured, env_or, machine_cpu, measure, mib};
use totals::Totals;

/// Targets from the issue.
const TARGET_RATIO: f64 = 1.2;
const TARGET_RSS_MIB: f64 = 64.0;
const TARGET_RERUN_SECS: f64 = 0.5;

/// How many no-change re-runs are timed (the median is reported).
const RERUNS: usize = 3;

struct Settings {
    shape: Shape,
    limits: batch::Limits,
    mbsync_jobs: usize,
    rounds: usize,
    mail_root: Option<PathBuf>,
    skip_mbsync: bool,
    binary: PathBuf,
    /// Where to record system-wide `perf` profiles of the timed runs.
    perf_dir: Option<PathBuf>,
}

impl Settings {
    fn from_env() -> Settings {
        let mail_root = std::env::var_os("BENCH_MAIL_ROOT")
            .map(PathBuf::from)
            .or_else(|| Some(PathBuf::from("/dev/shm")))
            .filter(|p| p.is_dir());
        Settings {
            shape: Shape {
                accounts: env_or("BENCH_ACCOUNTS", 20),
                messages_per_account: env_or("BENCH_MESSAGES", 500),
                seed: env_or("BENCH_SEED", 20_240_601),
            },
            limits: batch::Limits::from_env(),
            mbsync_jobs: env_or("BENCH_MBSYNC_JOBS", 4),
            rounds: env_or("BENCH_ROUNDS", 3usize).max(1),
            mail_root,
            skip_mbsync: std::env::var_os("BENCH_SKIP_MBSYNC").is_some_and(|v| v != "0"),
            binary: measure::mailshift_binary(),
            perf_dir: std::env::var_os("BENCH_PERF_DIR").map(PathBuf::from),
        }
    }
}

fn main() {
    let Some(runtime) = measure::start("mail") else {
        return;
    };
    let settings = Settings::from_env();
    let code = runtime.block_on(bench(&settings));
    std::process::exit(code);
}

/// Everything the summary needs.
#[derive(Default)]
struct Figures {
    messages: usize,
    bytes: u64,
    mailshift: Vec<Measured>,
    reruns: Vec<Duration>,
    mbsync: Vec<Measured>,
    mbsync_messages: Option<u64>,
}

/// The servers and accounts of a run.
struct Setup<'a> {
    settings: &'a Settings,
    users: Vec<String>,
    dest_users: Vec<(&'a str, &'a str)>,
    source: Dovecot,
    work: tempfile::TempDir,
}

impl Setup<'_> {
    fn fresh_destination(&self) -> Dovecot {
        Dovecot::start(DovecotOptions {
            users: &self.dest_users,
            root: self.settings.mail_root.clone(),
            ..DovecotOptions::default()
        })
    }
}

async fn bench(settings: &Settings) -> i32 {
    match try_bench(settings).await {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("{message}");
            1
        }
    }
}

async fn try_bench(settings: &Settings) -> Result<(), String> {
    let shape = settings.shape;
    let users: Vec<String> = (0..shape.accounts).map(|i| format!("user{i:02}")).collect();
    let source_users: Vec<(&str, &str)> = users
        .iter()
        .map(|u| (u.as_str(), batch::SOURCE_PASSWORD))
        .collect();
    println!(
        "mail bench: {} accounts × {} messages, seed {}, mail under {}, {} rounds, binary {}",
        shape.accounts,
        shape.messages_per_account,
        shape.seed,
        settings
            .mail_root
            .as_deref()
            .map_or("the temp directory".into(), |p| p.display().to_string()),
        settings.rounds,
        settings.binary.display()
    );
    if !settings.binary.is_file() {
        return Err(format!(
            "{} does not exist: run `cargo bench --bench mail`, which builds it",
            settings.binary.display()
        ));
    }

    // 1. The corpus, loaded into the source (not timed).
    let source = Dovecot::start(DovecotOptions {
        users: &source_users,
        root: settings.mail_root.clone(),
        ..DovecotOptions::default()
    });
    let started = Instant::now();
    let mut sizes = load_corpus(&source, &shape, &users).await;
    let (messages, bytes) = (sizes.len(), sizes.iter().sum::<u64>());
    sizes.sort_unstable();
    let median = sizes.get(sizes.len() / 2).copied().unwrap_or(0);
    let p95 = sizes.get(sizes.len() * 95 / 100).copied().unwrap_or(0);
    let large = sizes.iter().filter(|s| **s >= 100_000).count();
    println!(
        "corpus: {messages} messages, {:.1} MiB (median {:.1} KB, 95th percentile {:.0} KB, \
         {large} of 100 KB or more, largest {:.2} MB), loaded in {:.1} s",
        mib(bytes),
        median as f64 / 1000.0,
        p95 as f64 / 1000.0,
        sizes.last().copied().unwrap_or(0) as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let setup = Setup {
        settings,
        dest_users: users
            .iter()
            .map(|u| (u.as_str(), batch::DEST_PASSWORD))
            .collect(),
        users: users.clone(),
        source,
        work: tempfile::Builder::new()
            .prefix("mailshift-bench-")
            .tempdir()
            .map_err(|e| format!("a temporary directory: {e}"))?,
    };
    let mut figures = Figures {
        messages,
        bytes,
        ..Figures::default()
    };
    let mbsync = if settings.skip_mbsync {
        println!("mbsync: skipped (BENCH_SKIP_MBSYNC)");
        None
    } else {
        let found = find("mbsync");
        if found.is_none() {
            println!("mbsync: not installed (scripts/install-deps.sh installs isync); skipped");
        }
        found
    };

    // 2–5, in rounds that alternate the two tools, each into a fresh
    // destination.
    for round in 1..=settings.rounds {
        let last = round == settings.rounds;
        mailshift_round(&setup, round, last, &mut figures).await?;
        if let Some(mbsync) = &mbsync {
            mbsync_round(&setup, mbsync, round, &mut figures).await?;
        }
    }

    summary(settings, &figures);
    Ok(())
}

/// One mailshift migration into an empty destination, checked for
/// exactness; in the last round, followed by the no-change re-runs.
async fn mailshift_round(
    setup: &Setup<'_>,
    round: usize,
    last: bool,
    figures: &mut Figures,
) -> Result<(), String> {
    let settings = setup.settings;
    let dest = setup.fresh_destination();
    let dir = setup.work.path().join(format!("mailshift-{round}"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
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
    let args: Vec<OsString> = vec![
        "run".into(),
        manifest.into(),
        "--state".into(),
        dir.join("state.db").into(),
    ];
    let profile = (round == 1)
        .then(|| Profile::start(settings, "mailshift"))
        .flatten();
    let servers = ServerCpu::start(&setup.source, &dest);
    let mut run = measure(&settings.binary, &args, &dir, "run");
    run.server_cpu = servers.finish();
    drop(profile);
    println!(
        "round {round}: mailshift {:.2} s, {} peak RSS, CPU {} + Dovecot {}, machine busy {:.0}%",
        run.wall.as_secs_f64(),
        run.rss_mib().map_or("?".into(), |m| format!("{m:.1} MiB")),
        seconds(run.cpu),
        server_seconds(run.server_cpu),
        run.machine_busy * 100.0
    );
    let totals = Totals::parse(&run.stdout);
    if !run.status.success() || totals.accounts != setup.users.len() || totals.failed != 0 {
        return Err(format!(
            "mailshift run failed ({}): {totals}\n{}\n{}",
            run.status, run.stdout, run.stderr
        ));
    }
    figures.mailshift.push(run);

    let started = Instant::now();
    let differences = compare(&setup.source, &dest, &setup.users).await;
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
    println!(
        "         exact ({totals}; every folder equal in bytes, flags and INTERNALDATE; checked in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    if !last {
        return Ok(());
    }

    for i in 1..=RERUNS {
        let servers = ServerCpu::start(&setup.source, &dest);
        let mut rerun = measure(&settings.binary, &args, &dir, &format!("rerun{i}"));
        rerun.server_cpu = servers.finish();
        let totals = Totals::parse(&rerun.stdout);
        if !rerun.status.success() || totals.copied != 0 || totals.failed != 0 {
            return Err(format!(
                "the no-change re-run did something ({}): {totals}\n{}\n{}",
                rerun.status, rerun.stdout, rerun.stderr
            ));
        }
        println!(
            "         no-change re-run {i}: {:.3} s, CPU {} + Dovecot {} ({totals})",
            rerun.wall.as_secs_f64(),
            seconds(rerun.cpu),
            server_seconds(rerun.server_cpu),
        );
        figures.reruns.push(rerun.wall);
    }
    if std::env::var_os("BENCH_HOLD").is_some_and(|v| v != "0") {
        hold(&settings.binary, &args, &setup.source, &dest);
    }
    Ok(())
}

/// Keeps the servers of the last round up until Enter is pressed, for
/// investigating by hand.
fn hold(binary: &Path, args: &[OsString], source: &Dovecot, dest: &Dovecot) {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    println!(
        "BENCH_HOLD: source on port {} ({}), destination on port {} ({}); re-run with\n  {} {}\n\
         press Enter to go on",
        source.imap_port(),
        source.config_path().display(),
        dest.imap_port(),
        dest.config_path().display(),
        binary.display(),
        args.join(" ")
    );
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

/// One mbsync pool into an empty destination.
async fn mbsync_round(
    setup: &Setup<'_>,
    mbsync: &Path,
    round: usize,
    figures: &mut Figures,
) -> Result<(), String> {
    let settings = setup.settings;
    let dest = setup.fresh_destination();
    let dir = setup.work.path().join(format!("mbsync-{round}"));
    let profile = (round == 1)
        .then(|| Profile::start(settings, "mbsync"))
        .flatten();
    let servers = ServerCpu::start(&setup.source, &dest);
    let mut run = run_mbsync(
        mbsync,
        settings.mbsync_jobs,
        &setup.users,
        &setup.source,
        &dest,
        &dir,
    );
    run.server_cpu = servers.finish();
    drop(profile);
    println!(
        "round {round}: mbsync ×{} {:.2} s, CPU {} (all processes) + Dovecot {}, machine busy {:.0}%",
        settings.mbsync_jobs,
        run.wall.as_secs_f64(),
        seconds(run.cpu),
        server_seconds(run.server_cpu),
        run.machine_busy * 100.0
    );
    if !run.status.success() {
        return Err(format!("mbsync failed: {}\n{}", run.status, run.stderr));
    }
    figures.mbsync_messages = Some(count_messages(&dest, &setup.users).await);
    figures.mbsync.push(run);
    Ok(())
}

/// Generates and appends every account's mailbox; returns the size of
/// every message.
async fn load_corpus(source: &Dovecot, shape: &Shape, users: &[String]) -> Vec<u64> {
    let loads = users.iter().enumerate().map(|(index, user)| async move {
        let mailbox = corpus::mailbox(shape, index);
        let sizes: Vec<u64> = mailbox
            .folders
            .iter()
            .flat_map(|(_, m)| m)
            .map(|m| m.body.len() as u64)
            .collect();
        for (folder, folder_messages) in mailbox.folders {
            let count = folder_messages.len();
            let uids = source.seed(user, &folder, folder_messages).await;
            assert_eq!(uids.len(), count, "{user} {folder}: every message appended");
        }
        sizes
    });
    futures::stream::iter(loads)
        .buffer_unordered(4)
        .concat()
        .await
}

fn seconds(value: Option<f64>) -> String {
    value.map_or("?".into(), |v| format!("{v:.2} s"))
}

/// CPU time of a Dovecot instance so far: its master, the children it has
/// reaped (every per-connection `imap` and `imap-login` process) and the
/// children still running.
fn dovecot_cpu(server: &Dovecot) -> Option<f64> {
    let run_dir = server.config_path().parent()?.join("run");
    let master: u32 = std::fs::read_to_string(run_dir.join("master.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let (_, own, reaped) = proc_times(master)?;
    let mut ticks = own + reaped;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some((parent, own, reaped)) = proc_times(pid)
            && parent == master
        {
            ticks += own + reaped;
        }
    }
    Some(ticks as f64 / clock_ticks())
}

/// `(parent pid, own utime + stime, reaped children's)` in clock ticks.
fn proc_times(pid: u32) -> Option<(u32, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let field = |n: usize| rest.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some((
        u32::try_from(field(4)?).ok()?,
        field(14)? + field(15)?,
        field(16)? + field(17)?,
    ))
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Dovecot CPU over one run, source and destination.
struct ServerCpu<'a> {
    servers: [&'a Dovecot; 2],
    before: [Option<f64>; 2],
}

impl<'a> ServerCpu<'a> {
    fn start(source: &'a Dovecot, dest: &'a Dovecot) -> ServerCpu<'a> {
        ServerCpu {
            servers: [source, dest],
            before: [dovecot_cpu(source), dovecot_cpu(dest)],
        }
    }

    /// Waits for the connection processes to exit, then reads the totals.
    fn finish(self) -> Option<[f64; 2]> {
        std::thread::sleep(Duration::from_millis(300));
        let source = dovecot_cpu(self.servers[0])? - self.before[0]?;
        let dest = dovecot_cpu(self.servers[1])? - self.before[1]?;
        Some([source, dest])
    }
}

/// "1.20 s (0.40 source + 0.80 destination)".
fn server_seconds(cpu: Option<[f64; 2]>) -> String {
    match cpu {
        Some([source, dest]) => format!(
            "{:.2} s ({source:.2} source + {dest:.2} destination)",
            source + dest
        ),
        None => "?".into(),
    }
}

/// Differences between the two servers, one line each; empty when exact.
async fn compare(source: &Dovecot, dest: &Dovecot, users: &[String]) -> Vec<String> {
    let checks = users.iter().map(|user| async move {
        let (want, got) = tokio::join!(source.snapshot(user), dest.snapshot(user));
        mailboxes::differences(user, &want, &got)
    });
    futures::stream::iter(checks)
        .buffer_unordered(4)
        .concat()
        .await
}

/// Messages in every selectable folder of every account.
async fn count_messages(server: &Dovecot, users: &[String]) -> u64 {
    let mut total = 0;
    for user in users {
        let mut session = Session::connect(&server.imap_config(user))
            .await
            .expect("login");
        for mailbox in session.list().await.expect("list") {
            if !mailbox.noselect {
                total += u64::from(session.status(&mailbox.raw).await.expect("status").messages);
            }
        }
        session.logout().await.ok();
    }
    total
}

fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// mbsync configuration: one IMAP→IMAP channel per account.
fn mbsync_config(users: &[String], source: &Dovecot, dest: &Dovecot, state: &Path) -> String {
    let mut config = String::from("FSync no\n\n");
    for user in users {
        for (side, server, password) in [
            ("far", source, batch::SOURCE_PASSWORD),
            ("near", dest, batch::DEST_PASSWORD),
        ] {
            let _ = write!(
                config,
                "IMAPAccount {side}-{user}\nHost 127.0.0.1\nPort {}\nUser {user}\nPass {password}\n\
                 SSLType None\nAuthMechs LOGIN\n\n\
                 IMAPStore {side}-{user}\nAccount {side}-{user}\n\n",
                server.imap_port()
            );
        }
        let _ = write!(
            config,
            "Channel {user}\nFar :far-{user}:\nNear :near-{user}:\nPatterns *\n\
             Create Near\nSync Pull\nExpunge None\nCopyArrivalDate yes\n\
             SyncState {}/\n\n",
            state.join(user).display()
        );
    }
    config
}

/// Runs one mbsync per account, `jobs` at a time; CPU and peak RSS are
/// summed and maxed over the processes.
fn run_mbsync(
    mbsync: &Path,
    jobs: usize,
    users: &[String],
    source: &Dovecot,
    dest: &Dovecot,
    work: &Path,
) -> Measured {
    let dir = work.join("mbsync");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).expect("create mbsync dir");
    for user in users {
        std::fs::create_dir_all(state.join(user)).expect("create mbsync state dir");
    }
    let config = dir.join("mbsyncrc");
    std::fs::write(&config, mbsync_config(users, source, dest, &state)).expect("write mbsyncrc");

    let next = AtomicUsize::new(0);
    let cpu_before = machine_cpu();
    let started = Instant::now();
    let results: Vec<Measured> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut results = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(user) = users.get(i) else { break };
                        let args: Vec<OsString> =
                            vec!["-q".into(), "-c".into(), config.clone().into(), user.into()];
                        results.push(measure(mbsync, &args, &dir, user));
                    }
                    results
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("an mbsync worker"))
            .collect()
    });
    let wall = started.elapsed();
    let machine_busy = machine_cpu().busy_since(&cpu_before);
    let failed = results.iter().find(|r| !r.status.success());
    Measured {
        wall,
        server_cpu: None,
        max_rss_kib: results.iter().filter_map(|r| r.max_rss_kib).max(),
        cpu: results.iter().map(|r| r.cpu).sum(),
        machine_busy,
        status: failed.map_or_else(|| results[0].status, |r| r.status),
        stdout: String::new(),
        stderr: results
            .iter()
            .map(|r| r.stderr.as_str())
            .collect::<Vec<_>>()
            .join(""),
    }
}

/// A system-wide `perf record` running while it lives.
struct Profile {
    child: std::process::Child,
    path: PathBuf,
}

impl Profile {
    fn start(settings: &Settings, name: &str) -> Option<Profile> {
        let dir = settings.perf_dir.as_ref()?;
        std::fs::create_dir_all(dir).expect("create BENCH_PERF_DIR");
        let path = dir.join(format!("{name}.data"));
        let child = Command::new("perf")
            .args(["record", "-a", "-g", "-F", "499", "-o"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| eprintln!("perf not started: {e}"))
            .ok()?;
        // Let it set up its buffers before the measured run starts.
        std::thread::sleep(Duration::from_millis(500));
        Some(Profile { child, path })
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        println!(
            "  profile: perf report -i {} --sort comm,dso",
            self.path.display()
        );
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT MET" }
}

/// Median of the known values.
fn median(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let mut known: Vec<f64> = values.into_iter().flatten().collect();
    known.sort_by(f64::total_cmp);
    known.get(known.len() / 2).copied()
}

/// Median, best and worst of some durations, in seconds.
fn spread(times: impl IntoIterator<Item = Duration>) -> (f64, f64, f64) {
    let mut secs: Vec<f64> = times.into_iter().map(|d| d.as_secs_f64()).collect();
    if secs.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    secs.sort_by(f64::total_cmp);
    (secs[secs.len() / 2], secs[0], secs[secs.len() - 1])
}

/// Medians of one tool's rounds: wall seconds (median, best, worst), its
/// own CPU and the servers' CPU.
struct Tool {
    secs: (f64, f64, f64),
    cpu: Option<f64>,
    server_cpu: Option<[f64; 2]>,
}

impl Tool {
    fn of(runs: &[Measured]) -> Tool {
        Tool {
            secs: spread(runs.iter().map(|m| m.wall)),
            cpu: median(runs.iter().map(|m| m.cpu)),
            server_cpu: median(runs.iter().map(|m| m.server_cpu.map(|[s, _]| s)))
                .zip(median(runs.iter().map(|m| m.server_cpu.map(|[_, d]| d))))
                .map(|(s, d)| [s, d]),
        }
    }

    /// The tool's and both servers' CPU seconds.
    fn total_cpu(&self) -> Option<f64> {
        Some(self.cpu? + self.server_cpu?.iter().sum::<f64>())
    }

    fn print(&self, name: &str, f: &Figures, note: &str) {
        let (secs, best, worst) = self.secs;
        println!(
            "{name:<18}{secs:.2} s ({best:.2}–{worst:.2}): {:.0} msg/s, {:.1} MiB/s {note}",
            f.messages as f64 / secs,
            mib(f.bytes) / secs,
        );
        println!(
            "  CPU             {} itself + Dovecot {} = {}",
            seconds(self.cpu),
            server_seconds(self.server_cpu),
            seconds(self.total_cpu())
        );
    }
}

fn summary(settings: &Settings, f: &Figures) {
    let mailshift = Tool::of(&f.mailshift);
    let rss = f
        .mailshift
        .iter()
        .filter_map(Measured::rss_mib)
        .reduce(f64::max);
    let (rerun, _, rerun_worst) = spread(f.reruns.iter().copied());

    println!();
    println!(
        "== mail benchmark summary (medians of {} rounds) ==",
        f.mailshift.len()
    );
    println!(
        "corpus            {} accounts, {} messages, {:.1} MiB",
        settings.shape.accounts,
        f.messages,
        mib(f.bytes)
    );
    mailshift.print(
        "mailshift",
        f,
        &format!(
            "(concurrent_accounts {}, connections_per_account {})",
            settings.limits.concurrent_accounts, settings.limits.connections_per_account
        ),
    );
    println!(
        "peak RSS          {}  (target ≤ {TARGET_RSS_MIB:.0} MiB: {})",
        rss.map_or("unknown".into(), |m| format!("{m:.1} MiB")),
        rss.map_or("unknown", |m| verdict(m <= TARGET_RSS_MIB))
    );
    println!(
        "no-change re-run  {rerun:.3} s (worst {rerun_worst:.3} of {})  (target ≤ {TARGET_RERUN_SECS} s: {})",
        f.reruns.len(),
        verdict(rerun <= TARGET_RERUN_SECS)
    );
    if f.mbsync.is_empty() {
        println!("mbsync            not run");
        return;
    }
    let mbsync = Tool::of(&f.mbsync);
    mbsync.print(
        &format!("mbsync ×{}", settings.mbsync_jobs),
        f,
        &format!(
            "({} messages at its destination)",
            f.mbsync_messages.map_or("?".into(), |n| n.to_string())
        ),
    );
    let ratio = mbsync.secs.0 / mailshift.secs.0;
    println!(
        "ratio             mailshift/mbsync = {ratio:.2}×  (target ≥ {TARGET_RATIO}×: {})",
        verdict(ratio >= TARGET_RATIO)
    );
    if let (Some(a), Some(b)) = (mailshift.total_cpu(), mbsync.total_cpu()) {
        println!(
            "  by CPU          {:.2}× (all CPU a migration costs on this machine, servers included: \
             mbsync {b:.2} s / mailshift {a:.2} s; independent of other load)",
            b / a
        );
    }
}
