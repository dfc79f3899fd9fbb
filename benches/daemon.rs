//! The watched-folder daemon under load: many manifests dropped at once,
//! many small accounts, and the daemon must stay responsive.
//!
//! 1. Starts a source and a destination Dovecot (mail on tmpfs) with one
//!    user per account (`u0000`, `u0001`, ...), and seeds every source
//!    INBOX with a few small messages (not timed).
//! 2. Starts the release `mailshift watch DIR` as a child process, with a
//!    configuration file giving `connections_per_host`.
//! 3. Drops every manifest (YAML, `batch: load-NN`, inline passwords,
//!    `tls: none`) into DIR at once: each is written under a staging
//!    folder beside DIR, then renamed into it.
//! 4. Every half second, times `mailshift list --format json` against the
//!    daemon's state database and reads the daemon's peak RSS (`VmHWM`).
//! 5. Waits until `area/done` and `area/failed` hold one job folder per
//!    manifest; the time from the drop to then is the wall time.
//! 6. Checks that every account is `completed`, and that every
//!    destination INBOX holds as many messages as its source (STATUS).
//! 7. Stops the daemon with SIGTERM; it must exit 0.
//!
//! Run with `cargo bench --bench daemon`. Knobs, as environment variables:
//!
//! - `BENCH_MANIFESTS` (50), `BENCH_ACCOUNTS_PER_MANIFEST` (20),
//!   `BENCH_MESSAGES` per account (3);
//! - `BENCH_CONNECTIONS_PER_HOST` (16; both servers are 127.0.0.1, so
//!   this caps source and destination connections together);
//! - `BENCH_TIMEOUT_SECONDS` (600): how long the batches may take;
//! - `BENCH_MAIL_ROOT` (`/dev/shm`): where the Dovecot mail stores live;
//! - `MAILSHIFT_BIN`: the binary to measure (default: the one Cargo built
//!   with this benchmark, `target/release/mailshift`).
//!
//! Any account not completed, any message count that differs, a daemon
//! that dies or does not exit 0 on SIGTERM, fails the benchmark.

#[allow(dead_code)]
#[path = "../tests/it/support/dovecot.rs"]
mod dovecot;
#[allow(dead_code)]
#[path = "../tests/it/support/gmail_view.rs"]
mod gmail_view;
#[allow(dead_code)]
#[path = "support/measure.rs"]
mod measure;
#[allow(dead_code)]
#[path = "../tests/it/support/server.rs"]
mod server;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use mailshift::protocols::imap::Session;

use dovecot::{Dovecot, DovecotOptions};
use measure::{env_or, vm_hwm};

const PASSWORD: &str = "load-pw";

/// How often the daemon is sampled while it works.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);

/// How long SIGTERM may take (the daemon's default shutdown timeout is
/// 60 s).
const STOP_TIMEOUT: Duration = Duration::from_secs(90);

/// Seeding and checking sessions open at once, per server.
const CLIENT_CONCURRENCY: usize = 16;

struct Settings {
    manifests: usize,
    accounts_per_manifest: usize,
    messages: usize,
    connections_per_host: usize,
    timeout: Duration,
    mail_root: Option<PathBuf>,
    binary: PathBuf,
}

impl Settings {
    fn from_env() -> Settings {
        Settings {
            manifests: env_or("BENCH_MANIFESTS", 50usize).max(1),
            accounts_per_manifest: env_or("BENCH_ACCOUNTS_PER_MANIFEST", 20usize).max(1),
            messages: env_or("BENCH_MESSAGES", 3),
            connections_per_host: env_or("BENCH_CONNECTIONS_PER_HOST", 16usize).max(1),
            timeout: Duration::from_secs(env_or("BENCH_TIMEOUT_SECONDS", 600)),
            mail_root: std::env::var_os("BENCH_MAIL_ROOT")
                .map(PathBuf::from)
                .or_else(|| Some(PathBuf::from("/dev/shm")))
                .filter(|p| p.is_dir()),
            binary: measure::mailshift_binary(),
        }
    }

    fn accounts(&self) -> usize {
        self.manifests * self.accounts_per_manifest
    }
}

fn main() {
    let Some(runtime) = measure::start("daemon") else {
        return;
    };
    let settings = Settings::from_env();
    measure::exit(runtime.block_on(bench(&settings)));
}

/// The daemon as a child process, killed if the benchmark gives up.
struct DaemonProcess {
    child: Child,
    log: PathBuf,
}

impl DaemonProcess {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of its log, for failure messages.
    fn log_tail(&self, lines: usize) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Sends SIGTERM and waits for the exit.
    fn terminate(&mut self) -> Result<ExitStatus, String> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .map_err(|e| format!("run kill: {e}"))?;
        if !sent.success() {
            return Err(format!("kill -TERM {} failed", self.pid()));
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the daemon did not exit within {} s of SIGTERM",
                    STOP_TIMEOUT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The daemon's files.
struct Layout {
    watched: PathBuf,
    staging: PathBuf,
    state: PathBuf,
    area: PathBuf,
    reports: PathBuf,
    config: PathBuf,
}

/// What sampling the running daemon found.
#[derive(Default)]
struct Samples {
    latencies: Vec<Duration>,
    peak_rss_kib: Option<u64>,
    /// `list` calls that failed (non-zero exit or unreadable JSON).
    list_errors: Vec<String>,
}

async fn bench(settings: &Settings) -> Result<(), String> {
    if !settings.binary.is_file() {
        return Err(format!(
            "{} does not exist: run `cargo bench --bench daemon`, which builds it",
            settings.binary.display()
        ));
    }
    let total = settings.accounts();
    let users: Vec<String> = (0..total).map(|i| format!("u{i:04}")).collect();
    let dovecot_users: Vec<(&str, &str)> = users.iter().map(|u| (u.as_str(), PASSWORD)).collect();
    println!(
        "daemon bench: {} manifests × {} accounts × {} messages, {} connections per host, \
         mail under {}, binary {}",
        settings.manifests,
        settings.accounts_per_manifest,
        settings.messages,
        settings.connections_per_host,
        settings
            .mail_root
            .as_deref()
            .map_or("the temp directory".into(), |p| p.display().to_string()),
        settings.binary.display()
    );

    // 1. Servers and mail (not timed).
    let started = Instant::now();
    let options = DovecotOptions {
        users: &dovecot_users,
        root: settings.mail_root.clone(),
        ..DovecotOptions::default()
    };
    let source = Dovecot::start(options.clone());
    let dest = Dovecot::start(options);
    let seeded = seed(&source, &users, settings.messages).await?;
    println!(
        "seeded {seeded} messages into {total} source accounts in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // 2. The daemon.
    let work = tempfile::Builder::new()
        .prefix("mailshift-daemon-bench-")
        .tempdir()
        .map_err(|e| format!("a temporary directory: {e}"))?;
    let layout = Layout {
        watched: work.path().join("inbox"),
        staging: work.path().join("staging"),
        state: work.path().join("state.db"),
        area: work.path().join("area"),
        reports: work.path().join("reports"),
        config: work.path().join("daemon.yaml"),
    };
    for dir in [&layout.watched, &layout.staging] {
        fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    fs::write(
        &layout.config,
        format!(
            "connections_per_host: {}\nrescan_seconds: 30\nshutdown_timeout_seconds: 60\n",
            settings.connections_per_host
        ),
    )
    .map_err(|e| e.to_string())?;
    let mut daemon = start_daemon(settings, &layout, work.path())?;
    wait_watching(&mut daemon)?;

    // 3. The manifests, written aside, then renamed in at once.
    let mut staged = Vec::with_capacity(settings.manifests);
    for (n, chunk) in users.chunks(settings.accounts_per_manifest).enumerate() {
        let name = format!("load-{n:02}.yaml");
        let path = layout.staging.join(&name);
        fs::write(&path, manifest_yaml(n, chunk, &source, &dest)).map_err(|e| e.to_string())?;
        staged.push((path, layout.watched.join(name)));
    }
    let dropped = Instant::now();
    for (from, to) in &staged {
        fs::rename(from, to).map_err(|e| format!("rename {}: {e}", from.display()))?;
    }

    // 4–5. Sample while it works, until every job is filed.
    let samples = watch_until_filed(settings, &layout, &mut daemon, dropped)?;
    let wall = dropped.elapsed();

    // 6. Every account completed, every INBOX copied.
    let listing = list(settings, &layout.state)?;
    let states = account_states(&listing)?;
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    for state in states.values() {
        *by_state.entry(state.as_str()).or_default() += 1;
    }
    let not_completed: Vec<String> = states
        .iter()
        .filter(|(_, state)| *state != "completed")
        .map(|(account, state)| format!("{account}: {state}"))
        .collect();
    let failed_jobs = job_folders(&layout.area.join("failed"));
    let rejected = job_folders(&layout.watched.join("rejected"));
    let started = Instant::now();
    let mismatches = compare_inboxes(&source, &dest, &users).await;
    let compare_time = started.elapsed();

    // 7. SIGTERM.
    let peak_before_stop = vm_hwm(daemon.pid()).or(samples.peak_rss_kib);
    let stop = Instant::now();
    let status = daemon.terminate()?;
    let stop_time = stop.elapsed();

    // What the daemon and the servers complained about.
    let daemon_log = fs::read_to_string(&daemon.log).unwrap_or_default();
    let warnings = complaints(&daemon_log, &[" WARN ", " ERROR "]);
    let server_log = format!("{}{}", source.log(), dest.log());
    let server_errors = complaints(&server_log, &["Error:", "Fatal:", "Panic:", "Warning:"]);

    // The figures.
    let mut latencies = samples.latencies.clone();
    latencies.sort();
    let median = latencies.get(latencies.len() / 2).copied();
    let max = latencies.last().copied();
    let messages = total * settings.messages;
    let secs = wall.as_secs_f64();
    let failures = not_completed.len() + mismatches.len() + failed_jobs + rejected;
    println!();
    println!("manifests            {}", settings.manifests);
    println!("accounts             {total}");
    println!("messages             {messages}");
    println!("wall time            {secs:.2} s (drop → every job filed)");
    println!("accounts/s           {:.1}", total as f64 / secs);
    println!("messages/s           {:.1}", messages as f64 / secs);
    println!(
        "daemon peak RSS      {}",
        peak_before_stop.map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
    );
    println!(
        "status latency       median {}, max {} ({} `list --format json` calls, {} failed)",
        median.map_or("?".into(), ms),
        max.map_or("?".into(), ms),
        latencies.len(),
        samples.list_errors.len()
    );
    println!(
        "accounts by state    {}",
        by_state
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "INBOX counts         {} of {total} equal (checked in {:.1} s)",
        total - mismatches.len(),
        compare_time.as_secs_f64()
    );
    println!(
        "SIGTERM              {status} after {:.2} s",
        stop_time.as_secs_f64()
    );
    println!(
        "daemon log           {} warnings or errors{}",
        warnings.len(),
        first_lines(&warnings)
    );
    println!(
        "Dovecot logs         {} errors or warnings{}",
        server_errors.len(),
        first_lines(&server_errors)
    );
    println!("failures             {failures}");

    let mut problems = String::new();
    if states.len() != total {
        let _ = writeln!(
            problems,
            "{} accounts in the state database, {total} expected",
            states.len()
        );
    }
    for line in not_completed.iter().take(20) {
        let _ = writeln!(problems, "not completed: {line}");
    }
    for line in mismatches.iter().take(20) {
        let _ = writeln!(problems, "INBOX differs: {line}");
    }
    if failed_jobs + rejected > 0 {
        let _ = writeln!(
            problems,
            "{failed_jobs} jobs in area/failed, {rejected} files rejected"
        );
    }
    if !samples.list_errors.is_empty() {
        let _ = writeln!(
            problems,
            "{} `list` calls failed, the first: {}",
            samples.list_errors.len(),
            samples.list_errors[0]
        );
    }
    if !status.success() {
        let _ = writeln!(problems, "the daemon exited with {status} after SIGTERM");
    }
    if !problems.is_empty() {
        return Err(format!(
            "{problems}--- daemon log (last lines) ---\n{}",
            daemon.log_tail(40)
        ));
    }
    Ok(())
}

/// Appends `count` small messages to every user's INBOX.
async fn seed(source: &Dovecot, users: &[String], count: usize) -> Result<usize, String> {
    let seeded = futures::stream::iter(users.iter().enumerate())
        .map(|(index, user)| async move {
            let bodies: Vec<Vec<u8>> = (0..count).map(|n| message(index, user, n)).collect();
            if bodies.is_empty() {
                0
            } else {
                source.seed_bodies(user, "INBOX", &bodies).await.len()
            }
        })
        .buffer_unordered(CLIENT_CONCURRENCY)
        .collect::<Vec<usize>>()
        .await;
    let total: usize = seeded.iter().sum();
    if total != users.len() * count {
        return Err(format!(
            "seeded {total} messages, {} expected",
            users.len() * count
        ));
    }
    Ok(total)
}

/// A small message (about 1 KB), distinct per account and index.
fn message(index: usize, user: &str, n: usize) -> Vec<u8> {
    let mut body = format!(
        "From: sender{n}@example.test\r\nTo: {user}@example.test\r\n\
         Subject: load test {index}/{n}\r\n\
         Message-ID: <load-{index}-{n}@example.test>\r\n\
         Date: Mon, 3 Jun 2024 10:{:02}:00 +0000\r\n\r\n",
        n % 60
    );
    for line in 0..12 {
        let _ = write!(
            body,
            "Line {line} of message {n} for {user}: the quick brown fox jumps over the lazy dog.\r\n"
        );
    }
    body.into_bytes()
}

fn manifest_yaml(n: usize, users: &[String], source: &Dovecot, dest: &Dovecot) -> String {
    let mut yaml = format!(
        "batch: load-{n:02}\n\
         defaults:\n  \
           source: {{host: 127.0.0.1, port: {}, tls: none}}\n  \
           destination: {{host: 127.0.0.1, port: {}, tls: none}}\n  \
           options: [mail]\n\
         accounts:\n",
        source.imap_port(),
        dest.imap_port(),
    );
    for user in users {
        let _ = write!(
            yaml,
            "  - source: {{email: {user}@example.test, user: {user}, password: {PASSWORD}}}\n    \
               destination: {{email: {user}@example.test, user: {user}, password: {PASSWORD}}}\n"
        );
    }
    yaml
}

fn start_daemon(
    settings: &Settings,
    layout: &Layout,
    work: &Path,
) -> Result<DaemonProcess, String> {
    let log = work.join("daemon.log");
    let out = fs::File::create(&log).map_err(|e| e.to_string())?;
    let child = Command::new(&settings.binary)
        .arg("watch")
        .arg(&layout.watched)
        .arg("--config")
        .arg(&layout.config)
        .arg("--state")
        .arg(&layout.state)
        .arg("--area")
        .arg(&layout.area)
        .arg("--reports")
        .arg(&layout.reports)
        .args(["--settle-seconds", "1"])
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(|e| e.to_string())?)
        .stderr(out)
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", settings.binary.display()))?;
    Ok(DaemonProcess { child, log })
}

/// Waits for the daemon's "watching" line.
fn wait_watching(daemon: &mut DaemonProcess) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(status)) = daemon.child.try_wait() {
            return Err(format!(
                "the daemon exited at start with {status}:\n{}",
                daemon.log_tail(20)
            ));
        }
        if fs::read_to_string(&daemon.log).is_ok_and(|l| l.contains("watching")) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the daemon is not watching after 15 s:\n{}",
                daemon.log_tail(20)
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Samples the daemon every half second until one job folder per manifest
/// is in `done/` or `failed/`.
fn watch_until_filed(
    settings: &Settings,
    layout: &Layout,
    daemon: &mut DaemonProcess,
    dropped: Instant,
) -> Result<Samples, String> {
    let mut samples = Samples::default();
    let mut last_report = Instant::now();
    loop {
        let tick = Instant::now();
        if let Ok(Some(status)) = daemon.child.try_wait() {
            return Err(format!(
                "the daemon died with {status}:\n{}",
                daemon.log_tail(40)
            ));
        }
        let called = Instant::now();
        match list(settings, &layout.state) {
            Ok(listing) => {
                samples.latencies.push(called.elapsed());
                if let Err(e) = account_states(&listing) {
                    samples.list_errors.push(e);
                }
            }
            Err(e) => samples.list_errors.push(e),
        }
        if let Some(kib) = vm_hwm(daemon.pid()) {
            samples.peak_rss_kib = Some(kib);
        }
        let done = job_folders(&layout.area.join("done"));
        let failed = job_folders(&layout.area.join("failed"));
        let rejected = job_folders(&layout.watched.join("rejected"));
        if done + failed + rejected >= settings.manifests {
            return Ok(samples);
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            println!(
                "  {:>5.1} s: {done} done, {failed} failed, {rejected} rejected; \
                 RSS peak {}; last list {}",
                dropped.elapsed().as_secs_f64(),
                samples
                    .peak_rss_kib
                    .map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
                samples.latencies.last().copied().map_or("?".into(), ms)
            );
        }
        if dropped.elapsed() > settings.timeout {
            return Err(format!(
                "after {} s only {done} jobs done and {failed} failed of {}:\n{}",
                settings.timeout.as_secs(),
                settings.manifests,
                daemon.log_tail(40)
            ));
        }
        if let Some(rest) = SAMPLE_EVERY.checked_sub(tick.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}

/// `mailshift list --format json`: its output, or why it failed.
fn list(settings: &Settings, state: &Path) -> Result<String, String> {
    let out = Command::new(&settings.binary)
        .args(["list", "--format", "json", "--state"])
        .arg(state)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run list: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "list exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

/// Every account's state, by "batch source", from `list --format json`.
fn account_states(listing: &str) -> Result<BTreeMap<String, String>, String> {
    let batches: serde_json::Value =
        serde_json::from_str(listing).map_err(|e| format!("list output is not JSON: {e}"))?;
    let mut states = BTreeMap::new();
    for batch in batches.as_array().ok_or("list output is not an array")? {
        let name = batch["name"].as_str().unwrap_or("?");
        for account in batch["accounts"].as_array().into_iter().flatten() {
            states.insert(
                format!("{name} {}", account["source"].as_str().unwrap_or("?")),
                account["state"].as_str().unwrap_or("?").to_owned(),
            );
        }
    }
    Ok(states)
}

/// Entries of a folder (0 when it does not exist yet).
fn job_folders(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().ends_with(".json"))
            .filter(|e| !e.file_name().to_string_lossy().ends_with(".txt"))
            .count()
    })
}

/// Users whose destination INBOX does not hold as many messages as the
/// source's.
async fn compare_inboxes(source: &Dovecot, dest: &Dovecot, users: &[String]) -> Vec<String> {
    let results = futures::stream::iter(users)
        .map(|user| async move {
            let (a, b) = tokio::join!(inbox_count(source, user), inbox_count(dest, user));
            match (a, b) {
                (Ok(a), Ok(b)) if a == b => None,
                (Ok(a), Ok(b)) => Some(format!("{user}: source {a}, destination {b}")),
                (Err(e), _) | (_, Err(e)) => Some(format!("{user}: {e}")),
            }
        })
        .buffer_unordered(CLIENT_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let mut mismatches: Vec<String> = results.into_iter().flatten().collect();
    mismatches.sort();
    mismatches
}

async fn inbox_count(server: &Dovecot, user: &str) -> Result<u32, String> {
    let mut session = Session::connect(&server.imap_config(user))
        .await
        .map_err(|e| format!("login: {e}"))?;
    let messages = session
        .status("INBOX")
        .await
        .map_err(|e| format!("STATUS: {e}"))?
        .messages;
    session.logout().await.ok();
    Ok(messages)
}

/// The lines of a log holding one of `markers`.
fn complaints(log: &str, markers: &[&str]) -> Vec<String> {
    log.lines()
        .filter(|l| markers.iter().any(|m| l.contains(m)))
        .map(str::to_owned)
        .collect()
}

/// The first few of `lines`, one per line after a colon; "" when none.
fn first_lines(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut text = String::from(", the first:");
    for line in lines.iter().take(5) {
        let _ = write!(text, "\n    {line}");
    }
    text
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}
