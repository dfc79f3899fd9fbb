//! How long a batch should take, from its volume and the engine's
//! measured throughput.
//!
//! # The figures
//!
//! `cargo bench --bench mail` (20 accounts, 10,000 messages, 417.5 MiB:
//! median 7.5 KB, 5 % over 100 KB, largest 2 MB) between two Dovecot
//! servers on loopback, on the project's 2-core machine, 8 accounts at a
//! time and 1 connection pair per account (the default), copied everything
//! in 1.68 s: **5,947 messages/s and 248.3 MiB/s for 8 connection pairs**,
//! with the machine fully busy (mostly Dovecot). See docs/benchmarks.md.
//!
//! That is the engine's ceiling against a local server. Against remote
//! providers the network and the provider's throttling usually dominate,
//! so the estimate is a lower bound: "at least". The batch's own limits
//! (`messages_per_second`, `bytes_per_second`) are honoured, which is how an
//! admin who knows a provider's pace gets a realistic figure.

use serde::Serialize;

use crate::plan::Limits;

/// Messages per second the whole batch reached in the benchmark.
pub const MEASURED_MESSAGES_PER_SECOND: f64 = 5947.0;
/// Bytes per second the whole batch reached in the benchmark.
pub const MEASURED_BYTES_PER_SECOND: f64 = 248.3 * 1024.0 * 1024.0;
/// Connection pairs busy in the benchmark (8 accounts × 1).
pub const MEASURED_CONNECTION_PAIRS: f64 = 8.0;
/// The size assumed for a message when a server cannot tell (no
/// `STATUS=SIZE`): 75 KiB, a usual average for business mailboxes with
/// their attachments. Only an assumption; the report says when it is used.
pub const ASSUMED_MESSAGE_BYTES: u64 = 75 * 1024;

/// The estimate and what it rests on.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    /// Seconds for the whole batch, at least.
    pub seconds: f64,
    /// The figures used, in words.
    pub basis: String,
}

/// The volume of one account, as the estimate needs it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Work {
    /// Messages to copy.
    pub messages: u64,
    /// Bytes to copy.
    pub bytes: u64,
    /// Folders with messages: an account uses at most this many
    /// connection pairs.
    pub folders: usize,
}

/// Seconds one account needs on its own, with its connection pairs.
pub fn account_seconds(work: Work, limits: &Limits) -> f64 {
    let pairs = limits.connections_per_account.min(work.folders).max(1) as f64;
    let per_pair_messages = MEASURED_MESSAGES_PER_SECOND / MEASURED_CONNECTION_PAIRS;
    let per_pair_bytes = MEASURED_BYTES_PER_SECOND / MEASURED_CONNECTION_PAIRS;
    let seconds = (work.messages as f64 / (per_pair_messages * pairs))
        .max(work.bytes as f64 / (per_pair_bytes * pairs));
    seconds.max(capped(work, limits))
}

/// Seconds the batch's rate limits alone impose on `work`.
fn capped(work: Work, limits: &Limits) -> f64 {
    let by_messages = limits
        .messages_per_second
        .map_or(0.0, |n| work.messages as f64 / f64::from(n.max(1)));
    let by_bytes = limits
        .bytes_per_second
        .map_or(0.0, |n| work.bytes as f64 / n.max(1) as f64);
    by_messages.max(by_bytes)
}

/// Seconds for the whole batch: accounts run `concurrent_accounts` at a
/// time (the longest first, as a fair scheduler would place them), never
/// faster than the measured ceiling for the whole batch or the batch's
/// rate limits.
pub fn batch(accounts: &[Work], limits: &Limits) -> Estimate {
    let mut durations: Vec<f64> = accounts
        .iter()
        .map(|w| account_seconds(*w, limits))
        .collect();
    durations.sort_by(|a, b| b.total_cmp(a));
    let slots = limits.concurrent_accounts.max(1);
    let mut lanes = vec![0.0_f64; slots.min(durations.len()).max(1)];
    for d in durations {
        if let Some(lane) = lanes.iter_mut().min_by(|a, b| a.total_cmp(b)) {
            *lane += d;
        }
    }
    let scheduled = lanes.into_iter().fold(0.0, f64::max);
    let total = accounts.iter().fold(Work::default(), |t, w| Work {
        messages: t.messages + w.messages,
        bytes: t.bytes + w.bytes,
        folders: t.folders + w.folders,
    });
    let ceiling = (total.messages as f64 / MEASURED_MESSAGES_PER_SECOND)
        .max(total.bytes as f64 / MEASURED_BYTES_PER_SECOND);
    let seconds = scheduled.max(ceiling).max(capped(total, limits));
    Estimate {
        seconds,
        basis: format!(
            "at least: the engine's measured pace against a local Dovecot \
             ({MEASURED_MESSAGES_PER_SECOND:.0} messages/s, {:.1} MiB/s over \
             {MEASURED_CONNECTION_PAIRS:.0} connection pairs), {} at a time, {} per account{}; \
             remote servers are usually slower",
            MEASURED_BYTES_PER_SECOND / (1024.0 * 1024.0),
            plural(limits.concurrent_accounts, "account"),
            plural(limits.connections_per_account, "connection pair"),
            rate_limits(limits),
        ),
    }
}

fn rate_limits(limits: &Limits) -> String {
    let mut parts = Vec::new();
    if let Some(n) = limits.messages_per_second {
        parts.push(format!("at most {n} messages/s"));
    }
    if let Some(n) = limits.bytes_per_second {
        parts.push(format!("at most {} bytes/s", n));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(", {}", parts.join(", "))
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A duration for people: `< 1 s`, `42 s`, `3 min`, `2 h 05 min`, `3 d 4 h`.
pub fn human_duration(seconds: f64) -> String {
    if seconds < 1.0 {
        return "< 1 s".to_owned();
    }
    let s = seconds.ceil() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s.div_ceil(60)),
        3600..86400 => format!("{} h {:02} min", s / 3600, (s % 3600).div_ceil(60).min(59)),
        _ => format!("{} d {} h", s / 86400, (s % 86400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(messages: u64, mib: u64, folders: usize) -> Work {
        Work {
            messages,
            bytes: mib * 1024 * 1024,
            folders,
        }
    }

    #[test]
    fn one_account_uses_its_pairs() {
        let limits = Limits {
            connections_per_account: 2,
            ..Limits::default()
        };
        // 2 pairs of 743.4 msg/s: 14,868 messages take 10 s.
        let s = account_seconds(work(14_868, 1, 5), &limits);
        assert!((s - 10.0).abs() < 0.1, "{s}");
        // One folder: one pair.
        let s = account_seconds(work(14_868, 1, 1), &limits);
        assert!((s - 20.0).abs() < 0.1, "{s}");
    }

    #[test]
    fn batch_is_scheduled_and_capped() {
        let limits = Limits {
            concurrent_accounts: 2,
            connections_per_account: 2,
            ..Limits::default()
        };
        let accounts = [work(14_868, 1, 5), work(14_868, 1, 5), work(14_868, 1, 5)];
        // Two lanes: 10 s + 10 s on one of them.
        let e = batch(&accounts, &limits);
        assert!((e.seconds - 20.0).abs() < 0.2, "{}", e.seconds);
        let slow = Limits {
            messages_per_second: Some(10),
            ..limits
        };
        assert!((batch(&accounts, &slow).seconds - 4460.4).abs() < 1.0);
        assert_eq!(batch(&[], &Limits::default()).seconds, 0.0);
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(human_duration(0.2), "< 1 s");
        assert_eq!(human_duration(42.0), "42 s");
        assert_eq!(human_duration(150.0), "3 min");
        assert_eq!(human_duration(7500.0), "2 h 05 min");
        assert_eq!(human_duration(3.0 * 86400.0 + 4.0 * 3600.0), "3 d 4 h");
    }
}
