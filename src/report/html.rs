//! `report.html`: the batch report for people.
//!
//! One self-contained page (inline CSS and one inline script, no fonts or
//! images) that a manager can read on a phone: the batch at a glance first,
//! then one row per account, the ones that need attention on top, with a
//! box that filters them (for batches of a thousand). At phone width each
//! account's stage numbers wrap with their labels; addresses break after
//! `@` and dots, not mid-word. The page is rendered
//! by handlebars from `templates/report.html.hbs`, embedded in the binary;
//! every value goes through handlebars' HTML escaping, so an address or a
//! folder name cannot inject markup. The view model below does all the
//! formatting, so the template stays plain.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use handlebars::Handlebars;
use serde::Serialize;

use super::{BatchReport, Counts, state_label};
use crate::store::status::AccountStatus;
use crate::vocabulary::{AccountState, BatchState};

/// The page template.
const TEMPLATE: &str = include_str!("../../templates/report.html.hbs");

/// Item errors shown per account; the JSON report has them all.
const MAX_ERRORS_SHOWN: usize = 100;

/// Renders the report as a complete HTML document.
pub fn render(report: &BatchReport) -> Result<String, handlebars::RenderError> {
    registry().render("report", &View::of(report))
}

fn registry() -> &'static Handlebars<'static> {
    static REGISTRY: OnceLock<Handlebars<'static>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = Handlebars::new();
        // A misspelt field fails the tests instead of rendering blank.
        registry.set_strict_mode(true);
        // The template is part of the binary and a test renders it, so a
        // syntax error here is a build defect, not a runtime condition.
        registry
            .register_template_string("report", TEMPLATE)
            .expect("templates/report.html.hbs is a valid handlebars template");
        registry
    })
}

/// Everything the template shows, formatted.
#[derive(Serialize)]
struct View {
    name: String,
    batch_id: String,
    state: Badge,
    generated_at: String,
    accounts: String,
    /// `2 accounts need attention`, or empty.
    attention: String,
    by_state: Vec<StateCount>,
    messages_copied: String,
    items_copied: String,
    items_failed: String,
    bytes: String,
    duration: String,
    rate: String,
    rows: Vec<Row>,
}

/// A state with the CSS class that colours it.
#[derive(Serialize)]
struct Badge {
    label: String,
    class: &'static str,
}

#[derive(Serialize)]
struct StateCount {
    state: Badge,
    count: u64,
}

/// One account.
#[derive(Serialize)]
struct Row {
    migration_id: String,
    source: String,
    destination: String,
    /// The addresses in pieces, each ending where a line may break.
    source_parts: Vec<String>,
    destination_parts: Vec<String>,
    source_server: Option<String>,
    destination_server: Option<String>,
    state: Badge,
    /// The stage running now, if any.
    stage: Option<String>,
    stages: Vec<StageRow>,
    /// Verification: messages per folder on both sides.
    folders: Vec<FolderRow>,
    folders_summary: String,
    /// Why the whole account failed.
    error: Option<String>,
    errors: Vec<ErrorRow>,
    errors_summary: String,
    errors_more: Option<String>,
    finished_at: Option<String>,
    undo_until: Option<String>,
    /// Each undo: when, what had been copied, what it removed and left.
    history: Vec<HistoryRow>,
}

#[derive(Serialize)]
struct HistoryRow {
    undone_at: String,
    copied: String,
    removed: Vec<String>,
    left: Vec<String>,
}

#[derive(Serialize)]
struct StageRow {
    kind: String,
    state: String,
    found: String,
    copied: String,
    present: String,
    skipped: String,
    failed: String,
    /// `n bad` when items failed, to stand out.
    failed_class: &'static str,
    bytes: String,
    duration: String,
    /// A label-aware source's mode and the copies it spared, or empty.
    labels: String,
}

#[derive(Serialize)]
struct FolderRow {
    source: String,
    destination: String,
    source_messages: String,
    destination_messages: String,
    /// `n bad` when the destination holds fewer than the source.
    class: &'static str,
}

#[derive(Serialize)]
struct ErrorRow {
    stage: String,
    item: String,
    reason: String,
}

impl View {
    fn of(report: &BatchReport) -> View {
        let totals = &report.totals;
        let mut rows: Vec<&AccountStatus> = report.accounts.iter().collect();
        // Failures first; otherwise manifest order.
        rows.sort_by_key(|a| rank(a.state));
        let attention = match report
            .accounts
            .iter()
            .filter(|a| a.state.needs_attention())
            .count()
        {
            0 => String::new(),
            1 => "1 account needs attention: it is listed first below.".into(),
            n => format!("{n} accounts need attention: they are listed first below."),
        };
        let mut by_state: Vec<StateCount> = totals
            .by_state
            .iter()
            .map(|(state, count)| StateCount {
                state: badge_named(state),
                count: *count,
            })
            .collect();
        by_state.sort_by_key(|s| rank_label(&s.state.label));
        let mail = totals.stages.get("mail").copied().unwrap_or_default();
        View {
            name: report.name.clone(),
            batch_id: report.batch_id.clone(),
            state: batch_badge(report.state),
            generated_at: when(report.generated_at),
            accounts: number(totals.accounts),
            attention,
            by_state,
            messages_copied: number(mail.copied),
            items_copied: number(totals.all_stages.copied),
            items_failed: number(totals.all_stages.failed),
            bytes: bytes(totals.all_stages.bytes),
            duration: totals.duration_secs.map_or_else(|| "–".into(), duration),
            rate: totals
                .bytes_per_sec
                .map_or_else(|| "–".into(), |r| format!("{}/s", bytes(r))),
            rows: rows.into_iter().map(Row::of).collect(),
        }
    }
}

/// `ann.lee@new.example` → `ann.`, `lee@`, `new.`, `example`: the places
/// a long address may wrap.
fn break_points(address: &str) -> Vec<String> {
    address
        .split_inclusive(['@', '.'])
        .map(str::to_owned)
        .collect()
}

impl Row {
    fn of(account: &AccountStatus) -> Row {
        let shown = account.item_errors.len().min(MAX_ERRORS_SHOWN);
        let hidden = account.item_errors.len() - shown;
        Row {
            migration_id: account.migration_id.clone(),
            source: account.source.clone(),
            destination: account.destination.clone(),
            source_parts: break_points(&account.source),
            destination_parts: break_points(&account.destination),
            source_server: account.source_server.clone(),
            destination_server: account.destination_server.clone(),
            state: badge(account.state),
            stage: account.stage.clone(),
            stages: account
                .stages
                .iter()
                .map(|s| {
                    let counts = Counts {
                        found: s.found,
                        copied: s.copied,
                        present: s.present,
                        skipped: s.skipped,
                        failed: s.failed,
                        bytes: s.bytes,
                        altered: s.altered,
                        label_copies_avoided: s.label_copies_avoided,
                    };
                    StageRow {
                        kind: s.kind.replace('_', " "),
                        state: s.state.to_string(),
                        found: number(counts.found),
                        copied: number(counts.copied),
                        present: number(counts.present),
                        skipped: number(counts.skipped),
                        failed: number(counts.failed),
                        failed_class: if counts.failed > 0 { "n bad" } else { "n" },
                        bytes: bytes(counts.bytes),
                        duration: match (s.started_at, s.finished_at) {
                            (Some(a), Some(b)) => {
                                duration(u64::try_from((b - a).num_seconds()).unwrap_or(0))
                            }
                            _ => "–".into(),
                        },
                        labels: s.label_mode.as_ref().map_or_else(String::new, |mode| {
                            format!(
                                "labels {mode} · {} labelled copies avoided",
                                number(counts.label_copies_avoided)
                            )
                        }),
                    }
                })
                .collect(),
            folders: account
                .folders
                .iter()
                .map(|f| {
                    let count = |n: Option<u32>| n.map_or("–".into(), |n| number(u64::from(n)));
                    let short = matches!(
                        (f.source_messages, f.destination_messages),
                        (Some(s), Some(d)) if d < s
                    );
                    FolderRow {
                        source: f.source.clone(),
                        destination: f.destination.clone(),
                        source_messages: count(f.source_messages),
                        destination_messages: count(f.destination_messages),
                        class: if short { "n bad" } else { "n" },
                    }
                })
                .collect(),
            folders_summary: match account.folders.len() {
                1 => "1 folder: messages at the source and the destination".into(),
                n => format!("{n} folders: messages at the source and the destination"),
            },
            error: account.error.clone(),
            errors: account.item_errors[..shown]
                .iter()
                .map(|e| ErrorRow {
                    stage: e.stage.replace('_', " "),
                    item: e.item.clone(),
                    reason: e.reason.clone(),
                })
                .collect(),
            errors_summary: match account.item_errors.len() {
                1 => "1 failed item".into(),
                n => format!("{} failed items", number(n as u64)),
            },
            errors_more: (hidden > 0)
                .then(|| format!("and {} more in report.json", number(hidden as u64))),
            finished_at: account.finished_at.map(when),
            undo_until: account.undo_until.map(when),
            history: account
                .history
                .iter()
                .map(|undo| HistoryRow {
                    undone_at: when(undo.undone_at),
                    copied: undo
                        .copied
                        .iter()
                        .map(|(stage, n)| format!("{stage} {}", number(*n)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    removed: undo.removed.clone(),
                    left: undo.left.clone(),
                })
                .collect(),
        }
    }
}

/// Sort order of states: what needs attention, then what is under way,
/// then what went well.
fn rank(state: AccountState) -> u8 {
    if state.needs_attention() {
        0
    } else if state.is_active() {
        1
    } else {
        2
    }
}

/// The rank of a state shown by its label (`completed with errors`).
fn rank_label(label: &str) -> u8 {
    AccountState::parse(&label.replace(' ', "_")).map_or(2, rank)
}

fn badge(state: AccountState) -> Badge {
    Badge {
        label: state_label(state.as_str()),
        class: match state {
            AccountState::Completed | AccountState::Undone => "ok",
            AccountState::CompletedWithErrors
            | AccountState::Cancelled
            | AccountState::Interrupted => "warn",
            AccountState::Failed => "bad",
            AccountState::Scheduled
            | AccountState::Queued
            | AccountState::Running
            | AccountState::Undoing => "busy",
        },
    }
}

/// The badge of a state given by name: a key of `by_state`.
fn badge_named(name: &str) -> Badge {
    AccountState::parse(name).map_or_else(
        || Badge {
            label: state_label(name),
            class: "busy",
        },
        badge,
    )
}

fn batch_badge(state: BatchState) -> Badge {
    Badge {
        label: state_label(state.as_str()),
        class: match state {
            BatchState::Completed => "ok",
            BatchState::CompletedWithErrors | BatchState::Interrupted => "warn",
            BatchState::Scheduled | BatchState::Running => "busy",
        },
    }
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `1234567` → `1,234,567`.
pub(crate) fn number(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Decimal units, as disk and mailbox sizes are usually quoted.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `3725` → `1 h 02 min`.
pub(crate) fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m:02} min")
    } else if m > 0 {
        format!("{m} min {s:02} s")
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;
    use std::path::Path;

    #[test]
    fn report_html_matches_the_golden_file() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/report.html");
        let html = render(&sample()).unwrap();
        if std::env::var_os("MAILSHIFT_BLESS").is_some() {
            std::fs::write(&path, &html).unwrap();
            return;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with MAILSHIFT_BLESS=1 to create it)",
                path.display()
            )
        });
        assert!(
            html == expected,
            "tests/golden/report.html differs; run `MAILSHIFT_BLESS=1 cargo test --lib report` \
             and review the diff"
        );
    }

    #[test]
    fn report_html_escapes_every_value() {
        let mut report = sample();
        report.name = "<img src=x onerror=alert(1)>".into();
        report.accounts[0].source = "\"><script>alert(2)</script>".into();
        report.accounts[0].error = Some("</details><script>alert(3)</script>".into());
        let html = render(&report).unwrap();
        assert_eq!(
            html.matches("<script").count(),
            1,
            "the filter's only: {html}"
        );
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(2)"));
        assert!(html.contains("&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;"));
    }

    #[test]
    fn report_html_is_self_contained() {
        let html = render(&sample()).unwrap();
        for external in [
            "<link",
            "<script src",
            "src=",
            "@import",
            "url(",
            "http://",
            "https://",
        ] {
            assert!(!html.contains(external), "found {external}");
        }
        assert!(html.contains("<meta name=\"viewport\""));
    }

    #[test]
    fn report_html_puts_failures_first() {
        let html = render(&sample()).unwrap();
        let carol = html.find("Q9RS-T2UV-WXYZ").unwrap();
        let bob = html.find("M4QW-8ZTX-3HJN").unwrap();
        let alice = html.find("7K3F-9QXP-A2RT").unwrap();
        assert!(carol < alice && bob < alice);
    }

    #[test]
    fn formats() {
        assert_eq!(number(0), "0");
        assert_eq!(number(999), "999");
        assert_eq!(number(1000), "1,000");
        assert_eq!(number(1_234_567), "1,234,567");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 kB");
        assert_eq!(bytes(73_400_320), "73.4 MB");
        assert_eq!(bytes(999_999), "1.0 MB");
        assert_eq!(duration(42), "42 s");
        assert_eq!(duration(200), "3 min 20 s");
        assert_eq!(duration(3725), "1 h 02 min");
        assert_eq!(duration(90_000), "1 d 1 h");
    }
}
