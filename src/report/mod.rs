//! Batch reports and notification emails.
//!
//! A batch's report is written to `reports/<batch>/` twice over: as
//! `report.json`, a published format (`mailshift-report/1`, JSON Schema in
//! `schemas/report.schema.json`, generated from the types below and kept
//! equal by a test), and as `report.html`, a self-contained page for people
//! (see [`html`]). Both are replaced atomically, so a reader never sees half
//! a file ([`publish`], into [`dir`]). [`notification`] composes the emails
//! sent when an account ends and when a batch ends, and sends them.

pub mod html;
pub mod notification;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::store::batches::BatchRecord;
pub use crate::store::batches::StageCounts as Counts;
use crate::store::status::{AccountStatus, BatchStatus};
use crate::store::{Store, StoreError};
use crate::vocabulary::BatchState;

/// The value of a report's `format` field; bumped on incompatible change.
pub const FORMAT: &str = "mailshift-report/1";

/// The checked-in report schema.
pub const SCHEMA: &str = include_str!("../../schemas/report.schema.json");

/// A batch report: the batch, every account in full, and totals.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(title = "mailshift batch report")]
pub struct BatchReport {
    /// Always `mailshift-report/1`; readers check it before anything else.
    #[schemars(extend("const" = FORMAT))]
    pub format: &'static str,
    /// The batch's public ID (`B-7K3F-9QXP`).
    pub batch_id: String,
    /// The batch's name (from the manifest).
    pub name: String,
    /// Where the batch stands: `running`, `completed`, ...
    pub state: BatchState,
    /// When this report was produced.
    pub generated_at: DateTime<Utc>,
    /// Every account of the batch, in manifest order.
    pub accounts: Vec<AccountStatus>,
    /// The batch at a glance.
    pub totals: Totals,
}

/// What a batch adds up to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Totals {
    /// Number of accounts.
    pub accounts: u64,
    /// Accounts per state (`completed`, `failed`, ...); states with no
    /// account are left out.
    pub by_state: BTreeMap<String, u64>,
    /// Counts per stage kind (`mail`, `contacts`, ...), all accounts
    /// together.
    pub stages: BTreeMap<String, Counts>,
    /// Every stage of every account together.
    pub all_stages: Counts,
    /// Failed items listed in the report (the store keeps at most 1000 per
    /// account).
    pub item_errors: u64,
    /// When the first stage of any account started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the last account finished, once none is queued or running.
    pub finished_at: Option<DateTime<Utc>>,
    /// From `started_at` to `finished_at` (or to `generated_at` while the
    /// batch runs), in seconds.
    pub duration_secs: Option<u64>,
    /// `all_stages.bytes` over `duration_secs`.
    pub bytes_per_sec: Option<u64>,
}

impl Totals {
    /// Adds up `accounts`; `now` ends the duration of a batch still running.
    pub fn of(accounts: &[AccountStatus], now: DateTime<Utc>) -> Totals {
        let mut totals = Totals {
            accounts: accounts.len() as u64,
            ..Totals::default()
        };
        let mut last_finish: Option<DateTime<Utc>> = None;
        let mut active = false;
        for account in accounts {
            *totals
                .by_state
                .entry(account.state.as_str().to_owned())
                .or_default() += 1;
            totals.item_errors += account.item_errors.len() as u64;
            active |= account.state.is_active();
            last_finish = last_finish.max(account.finished_at);
            for stage in &account.stages {
                let counts = Counts {
                    found: stage.found,
                    copied: stage.copied,
                    present: stage.present,
                    skipped: stage.skipped,
                    failed: stage.failed,
                    bytes: stage.bytes,
                    altered: stage.altered,
                    label_copies_avoided: stage.label_copies_avoided,
                };
                totals
                    .stages
                    .entry(stage.kind.clone())
                    .or_default()
                    .add(&counts);
                totals.all_stages.add(&counts);
                if let Some(started) = stage.started_at {
                    totals.started_at = Some(totals.started_at.map_or(started, |s| s.min(started)));
                }
                last_finish = last_finish.max(stage.finished_at);
            }
        }
        if !active {
            totals.finished_at = last_finish;
        }
        if let Some(start) = totals.started_at {
            let end = totals.finished_at.unwrap_or(now);
            let secs = u64::try_from((end - start).num_seconds()).unwrap_or(0);
            totals.duration_secs = Some(secs);
            totals.bytes_per_sec = (secs > 0).then(|| totals.all_stages.bytes / secs);
        }
        totals
    }
}

impl BatchReport {
    /// A report of `batch` with its `accounts` in full, as of `now`.
    pub fn new(batch: &BatchStatus, accounts: Vec<AccountStatus>, now: DateTime<Utc>) -> Self {
        BatchReport {
            format: FORMAT,
            batch_id: batch.batch_id.clone(),
            name: batch.name.clone(),
            state: batch.state,
            generated_at: now,
            totals: Totals::of(&accounts, now),
            accounts,
        }
    }

    /// Reads a batch and its accounts from the store and reports them as of
    /// now. `None` if the batch is not there (any more).
    pub async fn collect(
        store: &Store,
        batch: &BatchRecord,
    ) -> Result<Option<BatchReport>, StoreError> {
        let Some(status) = store
            .batches(Some(batch.public_id.clone()))
            .await?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let accounts = store.batch_accounts(batch.id).await?;
        Ok(Some(BatchReport::new(&status, accounts, Utc::now())))
    }

    /// The report as published: pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serializing cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Writes `dir/report.json` and `dir/report.html` (creating `dir`), each
/// replaced atomically.
pub fn write(dir: &Path, report: &BatchReport) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("Cannot create {}", dir.display()))?;
    let page = html::render(report).context("Cannot render the HTML report")?;
    write_atomic(&dir.join("report.json"), report.to_json().as_bytes())?;
    write_atomic(&dir.join("report.html"), page.as_bytes())?;
    Ok(())
}

/// Writes `bytes` to a temporary file next to `path`, flushes it to disk
/// and renames it over `path`: readers see the old file or the new one,
/// never a mix, even if the process dies half-way.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    // Two writers in one process (a progress report and the final one)
    // must not share a temporary file.
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .with_context(|| format!("Not a file path: {}", path.display()))?
        .to_string_lossy();
    let temp = path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> std::io::Result<()> {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(e).with_context(|| format!("Cannot write {}", path.display()));
    }
    Ok(())
}

/// The report schema generated from [`BatchReport`].
pub fn schema() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<BatchReport>();
    schema.insert(
        "description".into(),
        Value::String(
            "A mailshift batch report (reports/<batch>/report.json): the batch, every \
             account with its stages, counts and errors, and totals."
                .into(),
        ),
    );
    schema.to_value()
}

/// [`schema`] as checked in: pretty JSON and a final newline.
pub fn schema_text() -> String {
    // Serializing a `Value` cannot fail.
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// Human names of account states, for the HTML report and emails.
pub fn state_label(state: &str) -> String {
    state.replace('_', " ")
}

/// Writes (or rewrites) a batch's `report.json` and `report.html`.
pub async fn publish(store: &Store, batch: &BatchRecord, dir: &Path) -> anyhow::Result<()> {
    if let Some(report) = BatchReport::collect(store, batch).await? {
        write(dir, &report).context("Writing the report")?;
    }
    Ok(())
}

/// The folder of a batch's reports: its name, made safe as a file name.
pub fn dir(reports: &Path, batch: &str) -> PathBuf {
    reports.join(safe_name(batch))
}

/// A name usable as one file name component.
pub fn safe_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    safe.trim_start_matches('.').to_owned()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::status::{ItemError, StageStatus};
    use crate::vocabulary::{AccountState, StageState};
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 14, h, m, s).unwrap()
    }

    fn stage(kind: &str, state: &str, n: [u64; 6], start: DateTime<Utc>) -> StageStatus {
        StageStatus {
            kind: kind.into(),
            state: StageState::parse(state).unwrap(),
            found: n[0],
            copied: n[1],
            present: n[2],
            skipped: n[3],
            failed: n[4],
            bytes: n[5],
            started_at: Some(start),
            finished_at: Some(start + chrono::Duration::seconds(754)),
            altered: 0,
            label_copies_avoided: 0,
            label_mode: None,
            pass_total: None,
        }
    }

    fn account(id: &str, source: &str, destination: &str, state: &str) -> AccountStatus {
        AccountStatus {
            key: 0,
            migration_id: id.into(),
            batch_id: "B-7K3F-9QXP".into(),
            batch: "spring-move".into(),
            manifest: None,
            batch_key: 0,
            folders: vec![crate::store::status::FolderCount {
                source: "INBOX".into(),
                destination: "INBOX".into(),
                source_messages: Some(310),
                destination_messages: Some(305),
            }],
            source: source.into(),
            destination: destination.into(),
            source_server: Some("imap.old.example:993".into()),
            destination_server: Some("imap.new.example:993".into()),
            state: AccountState::parse(state).unwrap(),
            stage: None,
            created_at: at(9, 0, 0),
            updated_at: at(9, 30, 0),
            finished_at: Some(at(9, 30, 0)),
            undo_until: Some(at(9, 30, 0) + chrono::Duration::hours(48)),
            error: None,
            cancel_requested: false,
            stages: Vec::new(),
            item_errors: Vec::new(),
            history: Vec::new(),
        }
    }

    /// A fixed report with every kind of row: for the golden file and the
    /// schema test.
    pub(crate) fn sample() -> BatchReport {
        let mut alice = account(
            "7K3F-9QXP-A2RT",
            "alice@old.example",
            "alice@new.example",
            "completed",
        );
        alice.stages = vec![stage(
            "mail",
            "done",
            [1204, 1180, 24, 0, 0, 73_400_320],
            at(9, 1, 0),
        )];
        let mut bob = account(
            "M4QW-8ZTX-3HJN",
            "bob@old.example",
            "<script>alert(1)</script>@new.example",
            "completed_with_errors",
        );
        bob.stages = vec![
            stage("mail", "done", [310, 305, 0, 3, 2, 9_830_400], at(9, 2, 0)),
            stage("contacts", "done", [42, 42, 0, 0, 0, 21_504], at(9, 15, 0)),
        ];
        bob.item_errors = vec![
            ItemError {
                stage: "mail".into(),
                item: "Archiv/<Größe> & \"Co\" UID 77".into(),
                reason: "message larger than the destination's limit (52 MB)".into(),
                at: at(9, 10, 4),
            },
            ItemError {
                stage: "mail".into(),
                item: "INBOX UID 12".into(),
                reason: "destination said: NO [OVERQUOTA] Quota exceeded".into(),
                at: at(9, 9, 58),
            },
        ];
        let mut carol = account(
            "Q9RS-T2UV-WXYZ",
            "carol@old.example",
            "carol@new.example",
            "failed",
        );
        carol.error = Some("cannot log in to imap.old.example:993: AUTHENTICATIONFAILED".into());
        carol.undo_until = None;
        carol.finished_at = Some(at(9, 0, 5));
        let batch = BatchStatus {
            batch_id: "B-7K3F-9QXP".into(),
            name: "spring-move".into(),
            state: BatchState::CompletedWithErrors,
            created_at: at(9, 0, 0),
            updated_at: at(9, 30, 0),
            accounts: Vec::new(),
        };
        BatchReport::new(&batch, vec![alice, bob, carol], at(9, 31, 0))
    }

    fn validator() -> jsonschema::Validator {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap()
    }

    fn assert_valid(report: &BatchReport) {
        let instance: Value = serde_json::from_str(&report.to_json()).unwrap();
        let errors: Vec<String> = validator()
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }

    #[test]
    fn report_schema_file_is_up_to_date() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/report.schema.json");
        let generated = schema_text();
        if std::env::var_os("MAILSHIFT_BLESS").is_some() {
            fs::write(&path, &generated).unwrap();
            return;
        }
        assert!(
            SCHEMA == generated,
            "schemas/report.schema.json is out of date; run \
             `MAILSHIFT_BLESS=1 cargo test --lib report` and commit it"
        );
    }

    #[test]
    fn report_from_a_real_store_validates_against_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let report = runtime.block_on(async {
            use crate::plan::StageKind;
            use crate::store::batches::{AccountKey, AccountState, StageCounts, StageState};
            let store = Store::open(dir.path().join("state.db")).unwrap();
            let batch = store.open_batch("schema-test", None).await.unwrap();
            for (i, state) in [AccountState::Completed, AccountState::Queued]
                .into_iter()
                .enumerate()
            {
                let record = store
                    .open_account(
                        batch.id,
                        AccountKey {
                            source_email: format!("user{i}@old.example"),
                            destination_email: format!("user{i}@new.example"),
                            source_server: Some("imap.old.example:993".into()),
                            destination_server: None,
                            undo_window_secs: 48 * 3600,
                        },
                    )
                    .await
                    .unwrap();
                if state == AccountState::Queued {
                    continue;
                }
                store.begin_stage(record.id, StageKind::Mail).await.unwrap();
                let counts = StageCounts {
                    found: 3,
                    copied: 2,
                    failed: 1,
                    bytes: 2048,
                    ..StageCounts::default()
                };
                store
                    .finish_stage(record.id, StageKind::Mail, StageState::Done, counts)
                    .await
                    .unwrap();
                store
                    .record_item_error(
                        record.id,
                        StageKind::Mail,
                        "INBOX UID 3".into(),
                        "refused".into(),
                    )
                    .await
                    .unwrap();
                store
                    .set_account_state(record.id, state, None, None)
                    .await
                    .unwrap();
            }
            BatchReport::collect(&store, &batch).await.unwrap().unwrap()
        });
        assert_eq!(report.accounts.len(), 2);
        assert_eq!(report.totals.all_stages.copied, 2);
        assert_eq!(report.totals.by_state["queued"], 1);
        // One account is still queued: the batch is not finished.
        assert_eq!(report.totals.finished_at, None);
        assert_valid(&report);
        assert_valid(&sample());
    }

    #[test]
    fn schema_rejects_a_wrong_format() {
        let mut instance: Value = serde_json::from_str(&sample().to_json()).unwrap();
        instance["format"] = "mailshift-report/2".into();
        assert!(!validator().is_valid(&instance));
    }

    #[test]
    fn totals_add_up() {
        let totals = sample().totals;
        assert_eq!(totals.accounts, 3);
        assert_eq!(
            totals.by_state.keys().collect::<Vec<_>>(),
            ["completed", "completed_with_errors", "failed"]
        );
        assert_eq!(totals.stages["mail"].copied, 1180 + 305);
        assert_eq!(totals.stages["contacts"].copied, 42);
        assert_eq!(totals.all_stages.failed, 2);
        assert_eq!(totals.item_errors, 2);
        assert_eq!(totals.started_at, Some(at(9, 1, 0)));
        // The contacts stage began at 9:15 and took 754 s.
        assert_eq!(totals.finished_at, Some(at(9, 30, 0)));
        assert_eq!(totals.duration_secs, Some(29 * 60));
        assert_eq!(
            totals.bytes_per_sec,
            Some((73_400_320 + 9_830_400 + 21_504) / (29 * 60))
        );
    }

    #[test]
    fn write_replaces_both_files_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("reports").join("B-7K3F-9QXP");
        let report = sample();
        write(&out, &report).unwrap();
        write(&out, &report).unwrap();
        let mut names: Vec<String> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["report.html", "report.json"]);
        let json: Value =
            serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
        assert_eq!(json["format"], FORMAT);
        assert_eq!(json["accounts"][1]["migration_id"], "M4QW-8ZTX-3HJN");
        let html = fs::read_to_string(out.join("report.html")).unwrap();
        assert!(html.contains("M4QW-8ZTX-3HJN"));
    }

    #[test]
    fn write_fails_with_the_path_when_the_directory_cannot_be_made() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, "").unwrap();
        let err = write(&blocker.join("sub"), &sample()).unwrap_err();
        assert!(format!("{err:#}").contains("Cannot create"), "{err:#}");
    }
}
