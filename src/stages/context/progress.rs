//! Live progress on a terminal, redrawn on one line of stderr: accounts
//! done of the batch's, messages copied of those the source folders' STATUS
//! announced, failures, volume, rate and the time left. Nothing is drawn
//! when stderr is not a terminal (cron, the daemon, pipes).
//!
//! Log lines share stderr: [`LogWriter`] clears the progress line before
//! each one, so a log line never starts glued onto it; the line is drawn
//! again at the next tick.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// Whether a progress line is on the terminal now, to be cleared before
/// anything else is written there.
static DRAWN: AtomicBool = AtomicBool::new(false);

/// The escape sequence that takes the cursor to the start of the line and
/// clears it.
const CLEAR: &str = "\r\x1b[2K";

/// Counters every account adds to as it goes.
#[derive(Debug, Default)]
pub struct Progress {
    accounts_total: AtomicU64,
    accounts_done: AtomicU64,
    messages: AtomicU64,
    /// Messages to copy per folder (account ID, folder), as its STATUS
    /// announced them; a folder checked again keeps its largest count.
    expected: Mutex<HashMap<(i64, String), u64>>,
    failures: AtomicU64,
    bytes: AtomicU64,
}

impl Progress {
    /// Counters for a batch of `accounts` accounts.
    pub fn new(accounts: usize) -> Arc<Progress> {
        let progress = Progress::default();
        progress
            .accounts_total
            .store(accounts as u64, Ordering::Relaxed);
        Arc::new(progress)
    }

    /// `n` messages to copy in `folder` of account `account`, as its
    /// STATUS announces them.
    pub fn expect_messages(&self, account: i64, folder: &str, n: u64) {
        let mut expected = self.expected.lock().unwrap_or_else(|e| e.into_inner());
        let count = expected.entry((account, folder.to_owned())).or_default();
        *count = (*count).max(n);
    }

    /// One message of `bytes` bytes was copied.
    pub fn message(&self, bytes: u64) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// One item could not be copied.
    pub fn failure(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// One account finished, however it ended.
    pub fn account_done(&self) {
        self.accounts_done.fetch_add(1, Ordering::Relaxed);
    }

    fn line(&self, elapsed: Duration) -> String {
        let messages = self.messages.load(Ordering::Relaxed);
        // A message arriving since the STATUS still counts.
        let expected = self
            .expected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum::<u64>()
            .max(messages);
        let mib = self.bytes.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0);
        let secs = elapsed.as_secs_f64().max(0.001);
        let rate = messages as f64 / secs;
        let eta = if expected == messages {
            "-".to_owned()
        } else if rate > 0.0 {
            duration((expected - messages) as f64 / rate)
        } else {
            "?".to_owned()
        };
        format!(
            "accounts {}/{}  messages {messages}/{expected}  failures {}  {mib:.1} MiB  {rate:.0} msg/s  {:.1} MiB/s  ETA {eta}",
            self.accounts_done.load(Ordering::Relaxed),
            self.accounts_total.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
            mib / secs
        )
    }

    /// Draws the progress line on stderr every half second until `stop`
    /// fires, when stderr is a terminal; does nothing otherwise.
    pub async fn draw(self: Arc<Self>, stop: CancellationToken) {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "{CLEAR}{}", self.line(start.elapsed()));
                    let _ = err.flush();
                    DRAWN.store(true, Ordering::Relaxed);
                }
            }
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{CLEAR}{}", self.line(start.elapsed()));
        DRAWN.store(false, Ordering::Relaxed);
    }
}

/// `95` → `1m35s`; `4000` → `1h06m`.
fn duration(secs: f64) -> String {
    let secs = secs.round() as u64;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// Standard error for log lines: the progress line, when one is drawn, is
/// cleared first. Holds stderr's lock while a line is written, so the
/// progress drawer never writes into the middle of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = std::io::StderrLock<'static>;

    fn make_writer(&'a self) -> Self::Writer {
        let mut err = std::io::stderr().lock();
        if DRAWN.swap(false, Ordering::Relaxed) {
            let _ = write!(err, "{CLEAR}");
        }
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_counts_totals_failures_rates_and_time_left() {
        let progress = Progress::new(3);
        progress.expect_messages(1, "INBOX", 4);
        progress.expect_messages(1, "INBOX", 2);
        progress.expect_messages(2, "INBOX", 2);
        progress.message(1024 * 1024);
        progress.message(1024 * 1024);
        progress.failure();
        progress.account_done();
        let line = progress.line(Duration::from_secs(2));
        assert_eq!(
            line,
            "accounts 1/3  messages 2/6  failures 1  2.0 MiB  1 msg/s  1.0 MiB/s  ETA 4s"
        );
        for _ in 0..4 {
            progress.message(0);
        }
        assert!(progress.line(Duration::from_secs(3)).ends_with("ETA -"));
    }

    #[test]
    fn durations_read_as_minutes_and_hours() {
        assert_eq!(duration(5.2), "5s");
        assert_eq!(duration(95.0), "1m35s");
        assert_eq!(duration(4000.0), "1h06m");
    }
}
