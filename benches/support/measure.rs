//! Running a command under measurement: wall time, peak RSS and CPU (from
//! GNU time when installed), how busy the machine was, and the knobs the
//! benchmarks share.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A benchmark's start: with `--help`, says where its knobs are and gives
/// nothing (`cargo bench` passes `--bench`, which is ignored); else the
/// two-thread runtime it runs on.
pub fn start(name: &str) -> Option<tokio::runtime::Runtime> {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("cargo bench --bench {name}  (knobs: see the top of benches/{name}.rs)");
        return None;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    Some(runtime)
}

/// Ends the benchmark: exit 0, or 1 after printing why it failed.
pub fn exit(outcome: Result<(), String>) -> ! {
    if let Err(message) = outcome {
        eprintln!("FAILED: {message}");
        std::process::exit(1);
    }
    std::process::exit(0);
}

/// The value of environment variable `name`, or `default` when unset.
/// Panics on a value that does not parse, naming it.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a valid value")),
        Err(_) => default,
    }
}

/// The binary to measure: `MAILSHIFT_BIN`, or the one Cargo built with
/// the benchmark (`target/release/mailshift` under `cargo bench`).
pub fn mailshift_binary() -> PathBuf {
    std::env::var_os("MAILSHIFT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_mailshift")))
}

/// One timed run of a command.
pub struct Measured {
    pub wall: Duration,
    /// Peak resident set size in KiB (largest over processes, for a pool).
    pub max_rss_kib: Option<u64>,
    /// User + system CPU seconds.
    pub cpu: Option<f64>,
    /// Share of the machine's CPU time that was busy during the run.
    pub machine_busy: f64,
    /// CPU seconds the source and the destination servers spent during
    /// the run, when the caller measures them (`measure` leaves `None`).
    pub server_cpu: Option<[f64; 2]>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Measured {
    /// Peak RSS in MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        self.max_rss_kib.map(|k| k as f64 / 1024.0)
    }
}

/// GNU time's output format: peak RSS (KiB), user and system seconds.
const TIME_FORMAT: &str = "%M %U %S";

/// Runs `program args` (under GNU time when installed), with its output
/// in files under `dir`.
pub fn measure(program: &Path, args: &[OsString], dir: &Path, name: &str) -> Measured {
    let out = dir.join(format!("{name}.stdout"));
    let err = dir.join(format!("{name}.stderr"));
    let time_out = dir.join(format!("{name}.time"));
    let gnu_time = Path::new("/usr/bin/time");
    let mut command = if gnu_time.is_file() {
        let mut c = Command::new(gnu_time);
        c.arg("-f")
            .arg(TIME_FORMAT)
            .arg("-o")
            .arg(&time_out)
            .arg(program);
        c
    } else {
        Command::new(program)
    };
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("create stdout file"))
        .stderr(std::fs::File::create(&err).expect("create stderr file"));
    let cpu_before = machine_cpu();
    let started = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
    // Without GNU time, sample the high-water mark while it runs.
    let mut polled_rss = None;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if !gnu_time.is_file() {
            polled_rss = vm_hwm(child.id()).or(polled_rss);
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = started.elapsed();
    let machine_busy = machine_cpu().busy_since(&cpu_before);
    let (max_rss_kib, cpu) = match std::fs::read_to_string(&time_out) {
        Ok(text) => parse_time(&text),
        Err(_) => (polled_rss, None),
    };
    Measured {
        wall,
        max_rss_kib,
        cpu,
        machine_busy,
        server_cpu: None,
        status,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    }
}

/// The last line of GNU time's output (earlier lines may say the command
/// exited non-zero).
pub fn parse_time(text: &str) -> (Option<u64>, Option<f64>) {
    let Some(line) = text.lines().rev().find(|l| !l.trim().is_empty()) else {
        return (None, None);
    };
    let fields: Vec<&str> = line.split_whitespace().collect();
    let rss = fields.first().and_then(|f| f.parse().ok());
    let cpu = match (fields.get(1), fields.get(2)) {
        (Some(u), Some(s)) => u
            .parse::<f64>()
            .ok()
            .zip(s.parse::<f64>().ok())
            .map(|(u, s)| u + s),
        _ => None,
    };
    (rss, cpu)
}

/// The peak resident set size of a running process, in KiB.
pub fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Busy and total jiffies of all CPUs, from `/proc/stat`.
pub struct CpuTimes {
    busy: u64,
    total: u64,
}

/// The machine's CPU times so far.
pub fn machine_cpu() -> CpuTimes {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    // idle and iowait
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    CpuTimes {
        busy: total - idle,
        total,
    }
}

impl CpuTimes {
    /// The busy share of the CPU time since `before`.
    pub fn busy_since(&self, before: &CpuTimes) -> f64 {
        let total = self.total.saturating_sub(before.total);
        if total == 0 {
            return 0.0;
        }
        self.busy.saturating_sub(before.busy) as f64 / total as f64
    }
}

/// Bytes in MiB.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
