//! How fast a running stage moves: its done count sampled each time a page
//! or an API call reads it, the rate taken over the last minute of
//! samples. Nothing is stored: a server that just started knows no rate
//! until its second look (or, for a first pass, from the pass's start).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How far back the rate looks.
const WINDOW: Duration = Duration::from_secs(60);
/// Samples closer than this to the last one are not kept.
const STEP: Duration = Duration::from_secs(1);
/// The shortest span a rate is taken over.
const MIN_SPAN: Duration = Duration::from_secs(2);
/// Stages remembered at most; past that, the idle ones are forgotten.
const MAX_TRACKED: usize = 10_000;

/// A stage's samples: (when, done).
type Samples = VecDeque<(Instant, u64)>;

/// The samples of every stage looked at lately, by (account key, stage).
#[derive(Default)]
pub struct Rates {
    stages: Mutex<HashMap<(i64, String), Samples>>,
}

impl Rates {
    /// Records that `stage` of account `account` has `done` items now; its
    /// items per second over the window, once it spans two seconds.
    pub fn observe(&self, account: i64, stage: &str, done: u64) -> Option<f64> {
        self.observe_at(account, stage, done, Instant::now())
    }

    fn observe_at(&self, account: i64, stage: &str, done: u64, now: Instant) -> Option<f64> {
        let mut stages = self.stages.lock().unwrap_or_else(|e| e.into_inner());
        if stages.len() >= MAX_TRACKED {
            stages.retain(|_, s| s.back().is_some_and(|(at, _)| now - *at < WINDOW));
        }
        let samples = stages.entry((account, stage.to_owned())).or_default();
        // A count that went down is a new pass: start over.
        if samples.back().is_some_and(|(_, last)| *last > done) {
            samples.clear();
        }
        if samples.back().is_none_or(|(at, _)| now - *at >= STEP) {
            samples.push_back((now, done));
        }
        while samples.front().is_some_and(|(at, _)| now - *at > WINDOW) {
            samples.pop_front();
        }
        let (first_at, first) = *samples.front()?;
        let span = now - first_at;
        (span >= MIN_SPAN).then(|| (done - first) as f64 / span.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_taken_over_the_last_minute() {
        let rates = Rates::default();
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        assert_eq!(rates.observe_at(1, "mail", 0, at(0)), None);
        assert_eq!(rates.observe_at(1, "mail", 10, at(1)), None, "too short");
        assert_eq!(rates.observe_at(1, "mail", 40, at(4)), Some(10.0));
        assert_eq!(
            rates.observe_at(2, "mail", 5, at(4)),
            None,
            "its own samples"
        );
        // Two minutes on, the first samples are out of the window.
        rates.observe_at(1, "mail", 100, at(90));
        assert_eq!(rates.observe_at(1, "mail", 160, at(120)), Some(2.0));
        // A new pass counts from zero again.
        assert_eq!(rates.observe_at(1, "mail", 3, at(121)), None);
    }
}
