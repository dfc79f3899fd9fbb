//! Starting a batch from the dashboard: an uploaded manifest is checked as
//! `mailshift validate` checks it, and a valid one is dropped into the
//! watched folder, so it goes the same way as a file dropped there.

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use serde::Serialize;

use crate::daemon::inbox::is_manifest_name;
use crate::{manifest, plan};

/// The largest manifest accepted (a CSV of many thousand accounts fits).
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

/// What became of an upload.
#[derive(Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Upload {
    /// Dropped into the watched folder as `file`.
    Accepted {
        file: String,
        accounts: usize,
        warnings: Vec<String>,
    },
    /// Not valid: every problem, each with its place, as `validate` says it.
    Invalid {
        errors: usize,
        diagnostics: Vec<String>,
    },
    /// Not looked at (why).
    Refused {
        #[serde(skip)]
        status: StatusCode,
        reason: String,
    },
}

impl Upload {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Upload::Accepted { .. } => StatusCode::CREATED,
            Upload::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Upload::Refused { status, .. } => *status,
        }
    }

    /// Refused with `status`, for `reason`.
    pub fn refused(status: StatusCode, reason: impl Into<String>) -> Upload {
        Upload::Refused {
            status,
            reason: reason.into(),
        }
    }
}

/// Checks the manifest `bytes` named `name` and, when valid, drops it into
/// `inbox`. Without a watched folder, a manifest is still checked (and
/// its problems listed), but a valid one is refused. Blocking: files are
/// written and read.
pub fn receive(inbox: Option<&Path>, name: &str, bytes: &[u8]) -> Upload {
    // One plain file name of a manifest: nothing that climbs out of the
    // folder, nothing hidden or temporary.
    let plain = !name.is_empty()
        && name.len() <= 200
        && !name.contains(['/', '\\', '\0'])
        && is_manifest_name(Path::new(name));
    if !plain {
        return Upload::refused(
            StatusCode::BAD_REQUEST,
            format!(
                "{name:?} is not a manifest's file name: give a plain name ending in .yaml, \
                 .yml, .csv, .tsv or .txt"
            ),
        );
    }
    if inbox.is_some_and(|inbox| inbox.join(name).exists()) {
        return Upload::refused(
            StatusCode::CONFLICT,
            format!("{name} is already waiting in the watched folder: give another name"),
        );
    }
    let checked = match check(name, bytes) {
        Ok(checked) => checked,
        Err(error) => {
            tracing::error!("cannot check an uploaded manifest: {error}");
            return Upload::refused(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    let (Upload::Accepted { .. }, Some(inbox)) = (&checked, inbox) else {
        return match checked {
            Upload::Accepted { .. } => Upload::refused(
                StatusCode::CONFLICT,
                "valid, but this server has no watched folder to start batches in (give \
                 serve --inbox DIR, or run watch --serve)",
            ),
            other => other,
        };
    };
    match drop_into(inbox, name, bytes) {
        Ok(()) => checked,
        Err(error) => {
            tracing::error!(
                "cannot drop an uploaded manifest into {}: {error}",
                inbox.display()
            );
            Upload::refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the watched folder cannot be written",
            )
        }
    }
}

/// `Accepted` (not dropped yet) or `Invalid`, as `validate` would say.
/// Checked in a private folder of its own, under its own name, so the
/// places read as the admin's file.
fn check(name: &str, bytes: &[u8]) -> std::io::Result<Upload> {
    let dir = private_dir()?;
    let path = dir.join(name);
    std::fs::write(&path, bytes)?;
    let prefix = format!("{}/", dir.display());
    let shown = |d: &manifest::Diagnostics| -> Vec<String> {
        d.iter()
            .map(|d| d.to_string().replace(&prefix, ""))
            .collect()
    };
    let invalid = |d: &manifest::Diagnostics| Upload::Invalid {
        errors: d.error_count(),
        diagnostics: shown(d),
    };
    let upload = match manifest::load(&path) {
        Err(diagnostics) => invalid(&diagnostics),
        Ok(manifest) => {
            let checked = plan::check(&manifest);
            if checked.diagnostics.has_errors() {
                invalid(&checked.diagnostics)
            } else {
                Upload::Accepted {
                    file: name.to_owned(),
                    accounts: checked.plan.accounts.len(),
                    warnings: shown(&checked.diagnostics),
                }
            }
        }
    };
    std::fs::remove_dir_all(&dir)?;
    Ok(upload)
}

/// A new folder only this process's user can read.
fn private_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let dir =
        std::env::temp_dir().join(format!("mailshift-upload-{}", super::guard::random_token()));
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    Ok(dir)
}

/// Writes the manifest hidden, then renames it into place: the daemon
/// never sees half a file.
fn drop_into(inbox: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let hidden = inbox.join(format!(".{name}.upload"));
    std::fs::write(&hidden, bytes)?;
    std::fs::rename(&hidden, inbox.join(name))
}
