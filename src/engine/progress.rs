//! Live progress on a terminal: accounts done, messages, bytes and rate,
//! redrawn on one line of stderr. Nothing is drawn when stderr is not a
//! terminal (cron, the daemon, pipes).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// Counters every account adds to as it goes.
#[derive(Debug, Default)]
pub struct Progress {
    accounts_total: AtomicU64,
    accounts_done: AtomicU64,
    messages: AtomicU64,
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

    /// One message of `bytes` bytes was copied.
    pub fn message(&self, bytes: u64) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// One account finished, however it ended.
    pub fn account_done(&self) {
        self.accounts_done.fetch_add(1, Ordering::Relaxed);
    }

    fn line(&self, elapsed: Duration) -> String {
        let messages = self.messages.load(Ordering::Relaxed);
        let mib = self.bytes.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0);
        let secs = elapsed.as_secs_f64().max(0.001);
        format!(
            "accounts {}/{}  messages {}  {:.1} MiB  {:.0} msg/s  {:.1} MiB/s",
            self.accounts_done.load(Ordering::Relaxed),
            self.accounts_total.load(Ordering::Relaxed),
            messages,
            mib,
            messages as f64 / secs,
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
                    let _ = write!(err, "\r\x1b[2K{}", self.line(start.elapsed()));
                    let _ = err.flush();
                }
            }
        }
        let _ = writeln!(std::io::stderr(), "\r\x1b[2K{}", self.line(start.elapsed()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_counts_and_rates() {
        let progress = Progress::new(3);
        progress.message(1024 * 1024);
        progress.message(1024 * 1024);
        progress.account_done();
        let line = progress.line(Duration::from_secs(2));
        assert_eq!(
            line,
            "accounts 1/3  messages 2  2.0 MiB  1 msg/s  1.0 MiB/s"
        );
    }
}
