//! Importing an Outlook PST file from the dashboard: the file is stored in
//! a private folder of the watched folder (`.pst/<token>/`), the
//! destination's password in a file beside it readable only by the
//! server's user, and a PST manifest naming both (`password_file`, never
//! the password itself) is dropped into the watched folder, so the import
//! goes the same way as a dropped manifest. The answer waits a little for
//! the daemon to register the batch, to give the migration ID.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::extract::multipart::{Field, Multipart};
use axum::http::StatusCode;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::upload::{self, Upload};
use super::{App, guard};

/// The folder of the watched folder uploaded PST files are kept in.
pub const FOLDER: &str = ".pst";

/// The upload folders (`.pst/<token>/`: the PST file and its password
/// file) whose files the manifest at `manifest` imports; they go when
/// its batch is purged.
pub fn upload_folders(manifest: &Path) -> Vec<PathBuf> {
    let Ok(loaded) = crate::manifest::load(manifest) else {
        return Vec::new();
    };
    let base = manifest.parent().unwrap_or(Path::new(""));
    let mut folders: Vec<PathBuf> = loaded
        .accounts
        .iter()
        .filter_map(|entry| {
            let file = base.join(entry.spec.as_ref()?.source.as_ref()?.path.as_ref()?);
            let folder = file.parent()?;
            (folder.parent()?.file_name()? == FOLDER).then(|| folder.to_path_buf())
        })
        .collect();
    folders.dedup();
    folders
}

/// How long an answer waits for the daemon to register the batch.
const REGISTER_WAIT: Duration = Duration::from_secs(30);

/// What became of a PST upload.
#[derive(Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PstImport {
    /// The batch was registered: its account's migration ID.
    Started {
        batch: String,
        migration_id: String,
        email: String,
    },
    /// The manifest was dropped, but the daemon has not registered the
    /// batch yet: follow it by name on the dashboard.
    Queued { batch: String, file: String },
    /// Not started: the destination given does not make a valid manifest,
    /// or the upload was refused (nothing was kept).
    #[serde(untagged)]
    NotStarted(Upload),
}

impl PstImport {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            PstImport::Started { .. } => StatusCode::CREATED,
            PstImport::Queued { .. } => StatusCode::ACCEPTED,
            PstImport::NotStarted(upload) => upload.status(),
        }
    }

    fn refused(status: StatusCode, reason: impl Into<String>) -> PstImport {
        PstImport::NotStarted(Upload::refused(status, reason))
    }
}

/// The destination's fields of the form.
#[derive(Debug, Default)]
struct Destination {
    host: String,
    port: String,
    tls: String,
    email: String,
    user: String,
    password: String,
}

impl Destination {
    fn set(&mut self, name: &str, value: String) {
        let slot = match name {
            "host" => &mut self.host,
            "port" => &mut self.port,
            "tls" => &mut self.tls,
            "email" => &mut self.email,
            "user" => &mut self.user,
            "password" => &mut self.password,
            _ => return,
        };
        *slot = value;
    }

    /// The manifest importing `pst` into this destination, its password
    /// read from `password_file`. Values are written as JSON strings,
    /// which YAML reads as they are.
    fn manifest(&self, batch: &str, pst: &Path, password_file: &Path) -> String {
        let quote = |s: &str| serde_json::Value::from(s.trim()).to_string();
        let user = if self.user.trim().is_empty() {
            &self.email
        } else {
            &self.user
        };
        let tls = if self.tls.trim().is_empty() {
            "implicit"
        } else {
            &self.tls
        };
        let port = self
            .port
            .trim()
            .parse::<u16>()
            .map_or(String::new(), |port| format!("port: {port}, "));
        format!(
            "batch: {}\naccounts:\n  - source: {{kind: pst, path: {}}}\n    destination: \
             {{kind: imap, host: {}, {port}tls: {}, email: {}, user: {}, password_file: {}}}\n",
            quote(batch),
            quote(&pst.display().to_string()),
            quote(&self.host),
            quote(tls),
            quote(&self.email),
            quote(user),
            quote(&password_file.display().to_string()),
        )
    }
}

/// Whether `name` is a plain PST file name: nothing that climbs out of
/// its folder, nothing hidden.
fn plain_pst_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && !name.chars().any(char::is_control)
        && name.to_ascii_lowercase().ends_with(".pst")
}

/// Receives the multipart form (`file`, then or before `host`, `port`,
/// `tls`, `email`, `user`, `password`), keeps the file of at most
/// `max_bytes`, and drops its manifest into the watched folder. On any
/// refusal, the upload's folder is removed and nothing else is touched.
pub async fn receive(app: &App, mut form: Multipart) -> PstImport {
    let Some(inbox) = app.inbox.clone() else {
        return PstImport::refused(
            StatusCode::CONFLICT,
            "this server has no watched folder to start imports in (give serve --inbox DIR, \
             or run watch --serve)",
        );
    };
    let folder = match private_folder(&inbox) {
        Ok(folder) => folder,
        Err(error) => {
            tracing::error!("cannot make a folder for an uploaded PST file: {error}");
            return PstImport::refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the watched folder cannot be written",
            );
        }
    };
    let outcome = read_form(&mut form, &folder, app.pst_max_bytes).await;
    let result = match outcome {
        Ok((pst, destination)) => start(app, &inbox, &folder, &pst, &destination).await,
        Err(refused) => refused,
    };
    if !matches!(result, PstImport::Started { .. } | PstImport::Queued { .. })
        && let Err(error) = std::fs::remove_dir_all(&folder)
    {
        tracing::error!("cannot remove {}: {error}", folder.display());
    }
    result
}

/// The stored PST file and the destination's fields.
async fn read_form(
    form: &mut Multipart,
    folder: &Path,
    max_bytes: u64,
) -> Result<(PathBuf, Destination), PstImport> {
    let mut destination = Destination::default();
    let mut pst = None;
    let broken = |e: axum::extract::multipart::MultipartError| {
        PstImport::refused(
            e.status(),
            format!("the form cannot be read: {}", e.body_text()),
        )
    };
    while let Some(field) = form.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or("").to_owned();
        if name == "file" {
            let file_name = field.file_name().unwrap_or("").to_owned();
            if !plain_pst_name(&file_name) {
                return Err(PstImport::refused(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "{file_name:?} is not a PST file's name: give a plain name ending in .pst"
                    ),
                ));
            }
            let path = folder.join(&file_name);
            store(field, &path, max_bytes).await?;
            pst = Some(path);
        } else {
            let value = field.text().await.map_err(broken)?;
            destination.set(&name, value);
        }
    }
    let Some(pst) = pst else {
        return Err(PstImport::refused(
            StatusCode::BAD_REQUEST,
            "no PST file was sent (the form's field is named file)",
        ));
    };
    if destination.password.is_empty()
        || destination.host.trim().is_empty()
        || destination.email.trim().is_empty()
    {
        return Err(PstImport::refused(
            StatusCode::BAD_REQUEST,
            "give the destination's host, email and password",
        ));
    }
    let port = destination.port.trim();
    if !port.is_empty() && port.parse::<u16>().is_err() {
        return Err(PstImport::refused(
            StatusCode::BAD_REQUEST,
            format!("{port:?} is not a port number"),
        ));
    }
    Ok((pst, destination))
}

/// Writes the field's bytes to `path`, refusing past `max_bytes`.
async fn store(mut field: Field<'_>, path: &Path, max_bytes: u64) -> Result<(), PstImport> {
    let failed = |e: std::io::Error| {
        tracing::error!("cannot store an uploaded PST file: {e}");
        PstImport::refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the file cannot be stored",
        )
    };
    let mut file = tokio::fs::File::create(path).await.map_err(failed)?;
    let mut written = 0u64;
    loop {
        let chunk = field.chunk().await.map_err(|e| {
            PstImport::refused(
                e.status(),
                format!("the file cannot be read: {}", e.body_text()),
            )
        })?;
        let Some(chunk) = chunk else { break };
        written += chunk.len() as u64;
        if written > max_bytes {
            return Err(PstImport::refused(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the file is larger than this server takes ({} MiB)",
                    max_bytes / (1024 * 1024)
                ),
            ));
        }
        file.write_all(&chunk).await.map_err(failed)?;
    }
    file.flush().await.map_err(failed)
}

/// Writes the password file and drops the manifest; then waits for the
/// daemon to register the batch.
async fn start(
    app: &App,
    inbox: &Path,
    folder: &Path,
    pst: &Path,
    destination: &Destination,
) -> PstImport {
    let token = folder
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let batch = format!("pst-{}", &token[..token.len().min(12)]);
    let password_file = folder.join("password");
    if let Err(error) = write_private(&password_file, &destination.password) {
        tracing::error!("cannot write an uploaded PST's password file: {error}");
        return PstImport::refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the watched folder cannot be written",
        );
    }
    let manifest = destination.manifest(&batch, pst, &password_file);
    let name = format!("{batch}.yaml");
    let dropped = {
        let inbox = inbox.to_owned();
        let name = name.clone();
        tokio::task::spawn_blocking(move || {
            upload::receive(Some(&inbox), &name, manifest.as_bytes())
        })
        .await
    };
    match dropped {
        Ok(Upload::Accepted { .. }) => {}
        Ok(not_started) => return PstImport::NotStarted(not_started),
        Err(error) => {
            tracing::error!("cannot drop a PST manifest: {error}");
            return PstImport::refused(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    }
    registered(app, &batch).await.map_or(
        PstImport::Queued {
            batch: batch.clone(),
            file: name,
        },
        |(migration_id, email)| PstImport::Started {
            batch,
            migration_id,
            email,
        },
    )
}

/// The migration ID and address of the batch's account, once the daemon
/// has registered it (`None` after [`REGISTER_WAIT`]).
async fn registered(app: &App, batch: &str) -> Option<(String, String)> {
    let started = Instant::now();
    while started.elapsed() < REGISTER_WAIT {
        if let Ok(Some(record)) = app.store.batch_named(batch).await
            && let Ok(accounts) = app.store.batch_accounts(record.id).await
            && let Some(account) = accounts.into_iter().next()
        {
            return Some((account.migration_id, account.source));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    None
}

/// A new folder under the watched folder's `.pst/`, only this process's
/// user may read.
fn private_folder(inbox: &Path) -> std::io::Result<PathBuf> {
    let root = inbox.join(FOLDER);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(&root)?;
    let folder = root.join(guard::random_token());
    std::fs::DirBuilder::new().mode(0o700).create(&folder)?;
    Ok(folder)
}

/// Writes `secret` to a new file only this process's user may read.
fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(secret.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_pst_names_are_taken() {
        assert!(plain_pst_name("alice.pst"));
        assert!(plain_pst_name("Archivo de Ana.PST"));
        for hostile in [
            "../../x.pst",
            "a/b.pst",
            ".x.pst",
            "x.yaml",
            "",
            "a\\b.pst",
            "a\nb.pst",
        ] {
            assert!(!plain_pst_name(hostile), "{hostile:?}");
        }
    }

    #[test]
    fn the_manifest_names_the_password_file_never_the_password() {
        let destination = Destination {
            host: "imap.example".into(),
            port: "993".into(),
            email: "ana@example.com".into(),
            password: "s3cret: \"quoted\"".into(),
            ..Destination::default()
        };
        let yaml = destination.manifest(
            "pst-abc",
            Path::new("/in/.pst/t/ana.pst"),
            Path::new("/in/.pst/t/password"),
        );
        assert!(!yaml.contains("s3cret"), "{yaml}");
        assert!(
            yaml.contains("password_file: \"/in/.pst/t/password\""),
            "{yaml}"
        );
        assert!(yaml.contains("user: \"ana@example.com\""), "{yaml}");
        assert!(yaml.contains("tls: \"implicit\""), "{yaml}");
    }
}
