//! What the person who dropped a file learns, where they can read it:
//! `NAME.result.json` beside the dropped file in the watched folder
//! (`accepted`, `rejected`, then `done` or `failed`), the errors in
//! `rejected/`, and a log line. The daemon's own area stays private.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use super::inbox::RESULT_ENDING;
use crate::formats::mime::{encode_words, header, quoted_printable};
use crate::protocols::smtp::{self, SmtpConfig};

/// One state of a dropped file, as `NAME.result.json` says it.
#[derive(Debug, Serialize)]
pub struct DropResult<'a> {
    /// The file as it was dropped.
    pub file: &'a str,
    /// `accepted`, `rejected`, `done` or `failed`.
    pub outcome: &'a str,
    /// Why it was rejected, or how many problems it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where the errors are, relative to the watched folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<String>,
    /// The accounts left out as invalid (`skip_invalid`), each with its
    /// row, field and reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// The batch it runs as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<&'a str>,
    /// When this was written (RFC 3339).
    pub at: String,
}

impl<'a> DropResult<'a> {
    /// A result for `file` with `outcome`, dated now.
    pub fn new(file: &'a str, outcome: &'a str) -> DropResult<'a> {
        DropResult {
            file,
            outcome,
            reason: None,
            errors: None,
            skipped: Vec::new(),
            batch: None,
            at: chrono::Utc::now().to_rfc3339(),
        }
    }

    /// Writes `dir/FILE.result.json`, replacing the previous state at once
    /// (written beside, then renamed).
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let target = dir.join(format!("{}{RESULT_ENDING}", self.file));
        // Hidden while written: the inbox ignores it.
        let temporary = dir.join(format!(".{}{RESULT_ENDING}.tmp", self.file));
        std::fs::write(&temporary, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("Cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, &target)
            .with_context(|| format!("Cannot write {}", target.display()))
    }
}

/// The same-stem files of `path` with one of `endings`, that exist.
pub fn companions(path: &Path, endings: &[&str]) -> Vec<PathBuf> {
    endings
        .iter()
        .map(|e| path.with_extension(e))
        .filter(|p| p != path && p.symlink_metadata().is_ok())
        .collect()
}

/// Endings of the files a same-stem YAML gives defaults to.
pub const TABLE_ENDINGS: [&str; 3] = ["csv", "txt", "tsv"];
/// Endings of a defaults YAML.
pub const YAML_ENDINGS: [&str; 2] = ["yaml", "yml"];

/// Emails `admin` that `name` was rejected and why. A failure to send is
/// logged.
pub async fn email_rejection(smtp: &SmtpConfig, admin: &str, name: &str, why: &str) {
    let to = [admin.to_owned()];
    let message = rejection_message(&smtp.from, admin, name, why);
    if let Err(error) = smtp::send(smtp, &to, &message).await {
        tracing::warn!(file = %name, "rejection not emailed: {error}");
    }
}

/// The message telling the daemon's administrator of a rejected file:
/// its name and the problems (which never quote a secret).
fn rejection_message(from: &str, to: &str, name: &str, why: &str) -> Vec<u8> {
    let clean = |t: &str| -> String {
        t.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    let mut head = String::new();
    header(&mut head, "Date", &chrono::Utc::now().to_rfc2822());
    header(&mut head, "From", &clean(from));
    header(&mut head, "To", &clean(to));
    header(
        &mut head,
        "Subject",
        &encode_words(&clean(&format!("[mailshift] {name} was rejected"))),
    );
    header(&mut head, "MIME-Version", "1.0");
    header(&mut head, "Content-Type", "text/plain; charset=utf-8");
    header(&mut head, "Content-Transfer-Encoding", "quoted-printable");
    header(&mut head, "Auto-Submitted", "auto-generated");
    head.push_str("\r\n");
    let body = format!(
        "The file {name} dropped into the watched folder was rejected; it is \
         now in rejected/, beside its errors.\n\n{why}\n"
    );
    let mut message = head.into_bytes();
    message.extend(quoted_printable(&body).into_bytes());
    message
}
