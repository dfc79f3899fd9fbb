//! Several commands run at once, each measured on its own: its exit, its
//! wall time from the common start, its peak RSS and CPU (from GNU time
//! when installed, else by polling `/proc`), its output in files. A
//! process still running after a timeout is stopped (SIGTERM, then
//! SIGKILL) and says so.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::measure::{parse_time, vm_hwm};

/// A command to start.
pub struct Spec {
    /// Names its output files (`NAME.stdout`, `NAME.stderr`) and it.
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

/// A command that ended.
pub struct Done {
    pub name: String,
    /// From the common start to its exit.
    pub wall: Duration,
    pub status: ExitStatus,
    /// Peak resident set size in KiB.
    pub max_rss_kib: Option<u64>,
    /// User + system CPU seconds.
    pub cpu: Option<f64>,
    pub stdout: String,
    pub stderr: String,
    pub stderr_path: PathBuf,
    /// Stopped by the timeout rather than ended by itself.
    pub timed_out: bool,
}

impl Done {
    pub fn rss_mib(&self) -> Option<f64> {
        self.max_rss_kib.map(|k| k as f64 / 1024.0)
    }
}

/// How long a process stopped by the timeout gets after SIGTERM.
const GRACE: Duration = Duration::from_secs(30);

const GNU_TIME: &str = "/usr/bin/time";

struct Running {
    name: String,
    child: Child,
    out: PathBuf,
    err: PathBuf,
    time_out: PathBuf,
    polled_rss: Option<u64>,
    polled_cpu: Option<f64>,
    done: Option<(Duration, ExitStatus)>,
    timed_out: bool,
}

impl Running {
    /// The measured process: GNU time's child when it runs under it.
    fn target(&self) -> Option<u32> {
        let pid = self.child.id();
        if !Path::new(GNU_TIME).is_file() {
            return Some(pid);
        }
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
        children.split_whitespace().next()?.parse().ok()
    }

    fn signal(&self, signal: &str) {
        if let Some(pid) = self.target() {
            let _ = Command::new("kill")
                .args([signal, &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Starts every command at once in `dir`, waits for all of them (at most
/// `timeout`), and returns them in the order given.
pub fn run_together(specs: &[Spec], dir: &Path, timeout: Duration) -> Vec<Done> {
    let started = Instant::now();
    let mut running: Vec<Running> = specs.iter().map(|spec| spawn(spec, dir)).collect();
    let mut stopping: Option<Instant> = None;
    loop {
        let mut left = 0;
        for process in running.iter_mut().filter(|p| p.done.is_none()) {
            match process.child.try_wait().expect("wait for a child") {
                Some(status) => process.done = Some((started.elapsed(), status)),
                None => {
                    left += 1;
                    if let Some(pid) = process.target() {
                        process.polled_rss = vm_hwm(pid).or(process.polled_rss);
                        process.polled_cpu = cpu_seconds(pid).or(process.polled_cpu);
                    }
                }
            }
        }
        if left == 0 {
            break;
        }
        match stopping {
            None if started.elapsed() > timeout => {
                for process in running.iter_mut().filter(|p| p.done.is_none()) {
                    process.timed_out = true;
                    process.signal("-TERM");
                }
                stopping = Some(Instant::now());
            }
            Some(at) if at.elapsed() > GRACE => {
                for process in running.iter().filter(|p| p.done.is_none()) {
                    process.signal("-KILL");
                }
                stopping = Some(Instant::now());
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    running
        .into_iter()
        .map(|process| {
            let (wall, status) = process.done.expect("every process ended");
            let (rss, cpu) = match std::fs::read_to_string(&process.time_out) {
                Ok(text) => parse_time(&text),
                Err(_) => (None, None),
            };
            Done {
                name: process.name,
                wall,
                status,
                max_rss_kib: rss.or(process.polled_rss),
                cpu: cpu.or(process.polled_cpu),
                stdout: std::fs::read_to_string(&process.out).unwrap_or_default(),
                stderr: std::fs::read_to_string(&process.err).unwrap_or_default(),
                stderr_path: process.err,
                timed_out: process.timed_out,
            }
        })
        .collect()
}

fn spawn(spec: &Spec, dir: &Path) -> Running {
    let out = dir.join(format!("{}.stdout", spec.name));
    let err = dir.join(format!("{}.stderr", spec.name));
    let time_out = dir.join(format!("{}.time", spec.name));
    let mut command = if Path::new(GNU_TIME).is_file() {
        let mut c = Command::new(GNU_TIME);
        c.arg("-f")
            .arg("%M %U %S")
            .arg("-o")
            .arg(&time_out)
            .arg(&spec.program);
        c
    } else {
        Command::new(&spec.program)
    };
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("create stdout file"))
        .stderr(std::fs::File::create(&err).expect("create stderr file"));
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", spec.program.display()));
    Running {
        name: spec.name.clone(),
        child,
        out,
        err,
        time_out,
        polled_rss: None,
        polled_cpu: None,
        done: None,
        timed_out: false,
    }
}

/// User + system CPU seconds of a running process, from `/proc`.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    // Fields 14 and 15 (utime, stime); `rest` starts at field 3.
    let ticks: u64 = rest.get(11)?.parse::<u64>().ok()? + rest.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}
