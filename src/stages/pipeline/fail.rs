//! Named fail points: the crash edges of the copy pipeline, for crash
//! tests that are deterministic where `kill -9` is not.
//!
//! `MAILSHIFT_FAIL_AT=POINT[:N]` makes the process exit at once, with
//! [`EXIT_CODE`], the `N`th time (1 unless given) it reaches `POINT`:
//!
//! - `after-intent`: an intent (the pending rows of a group of messages
//!   about to be fetched) is recorded in the state database;
//! - `after-append-sent`: an APPEND has been sent to the destination, its
//!   confirmation not read nor recorded;
//! - `after-watermark`: a folder's watermark is saved.
//!
//! The variable is read once; unset, each point costs one load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that arms a fail point.
pub const VARIABLE: &str = "MAILSHIFT_FAIL_AT";
/// The exit code of a process stopped at a fail point.
pub const EXIT_CODE: i32 = 86;

/// A crash edge of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// Intents of a group are recorded; nothing was sent yet.
    AfterIntent,
    /// An APPEND is sent; its confirmation is not read yet.
    AfterAppendSent,
    /// A folder's pass is complete and its watermark saved.
    AfterWatermark,
}

impl Point {
    const ALL: [Point; 3] = [
        Point::AfterIntent,
        Point::AfterAppendSent,
        Point::AfterWatermark,
    ];

    /// The point's name in [`VARIABLE`].
    pub fn name(self) -> &'static str {
        match self {
            Point::AfterIntent => "after-intent",
            Point::AfterAppendSent => "after-append-sent",
            Point::AfterWatermark => "after-watermark",
        }
    }
}

/// The armed point, and how many times it has been reached.
#[derive(Debug)]
struct Armed {
    point: Point,
    nth: u64,
    reached: AtomicU64,
}

/// Reads `POINT[:N]`; `None` for anything else.
fn parse(value: &str) -> Option<Armed> {
    let (name, nth) = match value.split_once(':') {
        Some((name, n)) => (name, n.parse().ok().filter(|n| *n > 0)?),
        None => (value, 1),
    };
    let point = Point::ALL.into_iter().find(|p| p.name() == name)?;
    Some(Armed {
        point,
        nth,
        reached: AtomicU64::new(0),
    })
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let value = std::env::var(VARIABLE).ok()?;
            let armed = parse(&value);
            if armed.is_none() {
                tracing::warn!(
                    "{VARIABLE}={value:?} is not one of after-intent, after-append-sent, \
                     after-watermark (optionally :N); no fail point is armed"
                );
            }
            armed
        })
        .as_ref()
}

/// Whether this is the time the armed point is to fail (counting it).
pub fn reached(point: Point) -> bool {
    armed().is_some_and(|armed| {
        armed.point == point && armed.reached.fetch_add(1, Ordering::SeqCst) + 1 == armed.nth
    })
}

/// Exits the process at `point`, saying so on stderr.
pub fn crash(point: Point) -> ! {
    eprintln!(
        "mailshift: fail point {} reached ({VARIABLE}); exiting with {EXIT_CODE}",
        point.name()
    );
    std::process::exit(EXIT_CODE)
}

/// Exits the process if `point` is the armed one and this is its time.
pub fn at(point: Point) {
    if reached(point) {
        crash(point);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_name_a_point_and_an_optional_count() {
        let armed = parse("after-append-sent:3").expect("valid");
        assert_eq!((armed.point, armed.nth), (Point::AfterAppendSent, 3));
        let armed = parse("after-intent").expect("valid");
        assert_eq!((armed.point, armed.nth), (Point::AfterIntent, 1));
        assert!(parse("after-watermark:0").is_none());
        assert!(parse("after-watermark:x").is_none());
        assert!(parse("before-intent").is_none());
    }
}
