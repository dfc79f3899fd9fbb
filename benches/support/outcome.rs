//! What a measured `mailshift` command did, as the benchmarks report it:
//! its exit and totals, its row in the summary table, the migration IDs
//! it recorded.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use super::measure::{Measured, mib};
use super::totals::Totals;

/// The header of the summary table; [`row`] prints its lines.
pub fn header() {
    println!(
        "{:<22}{:>7} {:>8} {:>9} {:>9} {:>8} {:>10}",
        "", "items", "MiB", "seconds", "items/s", "MiB/s", "peak RSS"
    );
}

/// One line of the summary table; MiB columns are left out when `bytes`
/// is 0.
pub fn row(name: &str, items: usize, bytes: u64, wall: Duration, run: Option<&Measured>) {
    let secs = wall.as_secs_f64();
    let (size, rate) = if bytes == 0 {
        ("-".to_owned(), "-".to_owned())
    } else {
        (
            format!("{:.1}", mib(bytes)),
            format!("{:.2}", mib(bytes) / secs),
        )
    };
    println!(
        "{name:<22}{items:>7} {size:>8} {secs:>9.2} {:>9.0} {rate:>8} {:>10}",
        items as f64 / secs,
        run.and_then(Measured::rss_mib)
            .map_or("-".to_owned(), |m| format!("{m:.1} MiB"))
    );
}

/// The run's totals when it exited 0; its output otherwise.
pub fn succeeded(run: &Measured, what: &str) -> Result<Totals, String> {
    if !run.status.success() {
        return Err(format!(
            "{what} failed ({}):\n{}\n{}",
            run.status, run.stdout, run.stderr
        ));
    }
    Ok(Totals::parse(&run.stdout))
}

/// The migration ID of the account whose source is `email`
/// (`mailshift list --format json`).
pub fn migration_id(binary: &Path, state: &Path, email: &str) -> Result<String, String> {
    let out = std::process::Command::new(binary)
        .args(["list", "--format", "json", "--state"])
        .arg(state)
        .output()
        .map_err(|e| format!("run mailshift list: {e}"))?;
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "mailshift list printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    listed
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|batch| batch["accounts"].as_array().into_iter().flatten())
        .find(|account| account["source"].as_str() == Some(email))
        .and_then(|account| account["migration_id"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("mailshift list shows no migration of {email}"))
}

/// `mailshift run MANIFEST --state STATE --reports REPORTS`'s arguments.
pub fn run_args(manifest: &Path, state: &Path, reports: &Path) -> Vec<OsString> {
    vec![
        "run".into(),
        manifest.into(),
        "--state".into(),
        state.into(),
        "--reports".into(),
        reports.into(),
    ]
}

/// `mailshift undo ID --source EMAIL --state STATE --reports REPORTS`'s
/// arguments.
pub fn undo_args(id: String, email: &str, state: &Path, reports: &Path) -> Vec<OsString> {
    vec![
        "undo".into(),
        id.into(),
        "--source".into(),
        email.into(),
        "--state".into(),
        state.into(),
        "--reports".into(),
        reports.into(),
    ]
}
