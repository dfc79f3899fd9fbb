//! What `mailshift run` says it did, added up over its account lines
//! (`... found N, copied N, present N, skipped N, failed N, ...`).

/// Sums of the per-account lines `mailshift run` prints.
#[derive(Debug, Default)]
pub struct Totals {
    pub accounts: usize,
    pub completed: usize,
    pub found: u64,
    pub copied: u64,
    pub present: u64,
    pub skipped: u64,
    pub failed: u64,
}

impl Totals {
    /// Adds up the account lines of `stdout`.
    pub fn parse(stdout: &str) -> Totals {
        let mut totals = Totals::default();
        for line in stdout.lines() {
            let Some(at) = line.find("found ") else {
                continue;
            };
            totals.accounts += 1;
            if line.contains("  completed  ") {
                totals.completed += 1;
            }
            for part in line[at..].split(", ") {
                let mut words = part.split_whitespace();
                let (Some(name), Some(value)) = (words.next(), words.next()) else {
                    continue;
                };
                let Ok(value) = value.parse::<u64>() else {
                    continue;
                };
                match name {
                    "found" => totals.found += value,
                    "copied" => totals.copied += value,
                    "present" => totals.present += value,
                    "skipped" => totals.skipped += value,
                    "failed" => totals.failed += value,
                    _ => {}
                }
            }
        }
        totals
    }
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} accounts ({} completed): found {}, copied {}, present {}, skipped {}, failed {}",
            self.accounts,
            self.completed,
            self.found,
            self.copied,
            self.present,
            self.skipped,
            self.failed
        )
    }
}
