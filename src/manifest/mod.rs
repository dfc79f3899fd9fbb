//! Manifests: the files an admin writes (YAML, CSV, or a foreign dialect),
//! loaded into one typed model with every account's place remembered.
//!
//! [`load`] reads a file, tells its format, checks YAML against the
//! embedded JSON Schema and returns a [`Manifest`]: the typed accounts and
//! defaults plus every problem found so far. Rules that need the defaults
//! merged (missing host, duplicate destination, options the source cannot
//! provide...) are checked when the plan builder turns the manifest
//! into a plan. Everything reports through [`Diagnostics`], so an admin
//! sees every error at once, each with `file:line:column` (YAML) or
//! `file: row N, column NAME` (CSV).
//!
//! Formats, told apart by extension and then content:
//! - `.yaml`, `.yml`, `.json`: the full model ([`model::ManifestFile`]).
//! - a header whose first cell is `Source Type`: OVH Mail Migrator's CSV.
//! - a header whose first cell is `EmailAddress`: Exchange Online's IMAP
//!   migration CSV (`EmailAddress,UserName,Password`).
//! - a header naming native columns (`source_email`...): native CSV.
//! - lines of six or more `;`-separated fields: an imapsync batch file.
//!
//! A CSV-like file given directly takes its defaults from the YAML file of
//! the same name next to it (`users.csv` → `users.yaml` or `users.yml`),
//! exactly as if that YAML file said `accounts_csv: users.csv`.

mod cells;
pub mod csv;
pub mod diagnostic;
pub mod dialects;
mod loader;
pub mod model;
pub mod origin;
pub mod schema;
pub mod table;
pub mod validate;
pub mod yaml;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use diagnostic::{Diagnostic, Diagnostics, Place, Position, Severity};
use loader::load_yaml;
pub use model::{AccountSpec, LimitsSpec, ManifestFile};
pub use origin::Origin;

/// Larger files are refused unread: 100,000 accounts fit in far less.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// The kinds of file a manifest can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// The full model, in YAML (or JSON).
    Yaml,
    /// mailshift's own CSV columns.
    Csv,
    /// imapsync's `host1;user1;password1;host2;user2;password2;` lines.
    Imapsync,
    /// OVH Mail Migrator's project CSV.
    Omm,
    /// Exchange Online's IMAP migration CSV.
    Exchange,
}

impl Format {
    /// The format's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "YAML manifest",
            Format::Csv => "CSV",
            Format::Imapsync => "imapsync batch file",
            Format::Omm => "OVH Mail Migrator CSV",
            Format::Exchange => "Exchange Online IMAP migration CSV",
        }
    }
}

/// One account as loaded: its fields as written (before defaults), and
/// where it was written.
#[derive(Debug, Clone)]
pub struct AccountEntry {
    /// `None` when the account could not be read (its errors are already
    /// in [`Manifest::diagnostics`]).
    pub spec: Option<AccountSpec>,
    /// Where the account is written.
    pub origin: Origin,
    /// Fields (`source.port`) whose values were rejected while loading and
    /// left out of `spec`; their problem is already reported, so later
    /// checks stay quiet about them.
    pub broken: Vec<String>,
}

/// A loaded manifest: one batch, not yet merged or checked as a whole.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The file given.
    pub path: PathBuf,
    /// Every file read, in order: the manifest and its accounts CSV, or a
    /// CSV and its defaults file.
    pub files: Vec<PathBuf>,
    /// What kind of file `path` is.
    pub format: Format,
    /// The batch-level fields as written (`accounts` and `defaults` moved
    /// out to the fields below).
    pub settings: ManifestFile,
    /// Where the YAML document is, for placing batch-level problems; `None`
    /// when there is no YAML.
    pub root: Option<Origin>,
    /// The defaults every account is merged over.
    pub defaults: AccountSpec,
    /// Where the defaults are written, if anywhere.
    pub defaults_origin: Option<Origin>,
    /// Whether the defaults were read without error; when not, per-account
    /// checks are skipped (they would only repeat the defaults' problem).
    pub defaults_ok: bool,
    /// The accounts: the YAML list first, then the CSV rows.
    pub accounts: Vec<AccountEntry>,
    /// Problems found while loading.
    pub diagnostics: Diagnostics,
}

impl Manifest {
    /// The directory relative paths in `origin` are resolved against.
    pub fn base_dir(origin: &Origin) -> PathBuf {
        origin
            .file()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
}

/// Reads a manifest file of any supported format.
///
/// `Err` means nothing usable could be read (missing, binary, not YAML at
/// all...). `Ok` may still carry errors in [`Manifest::diagnostics`]; the
/// plan builder adds the rest.
pub fn load(path: &Path) -> Result<Manifest, Diagnostics> {
    let text = read_text(path)?;
    match detect(path, &text) {
        Format::Yaml => load_yaml(path, &text, None),
        format => {
            if let Some(defaults) = sibling_defaults(path) {
                let yaml = read_text(&defaults)?;
                return load_yaml(&defaults, &yaml, Some((path.to_path_buf(), text, format)));
            }
            let file = Arc::new(path.to_path_buf());
            let (accounts, diagnostics) = load_table(format, &text, &file);
            Ok(Manifest {
                path: path.to_path_buf(),
                files: vec![path.to_path_buf()],
                format,
                settings: ManifestFile::default(),
                root: None,
                defaults: AccountSpec::default(),
                defaults_origin: None,
                defaults_ok: true,
                accounts,
                diagnostics,
            })
        }
    }
}

fn load_table(format: Format, text: &str, file: &Arc<PathBuf>) -> (Vec<AccountEntry>, Diagnostics) {
    match format {
        Format::Omm => dialects::load_omm(text, file),
        Format::Imapsync => dialects::load_imapsync(text, file),
        Format::Exchange => dialects::load_exchange(text, file),
        Format::Csv | Format::Yaml => csv::load(text, file),
    }
}

/// `users.yaml` or `users.yml` next to `users.csv`, if there is one.
fn sibling_defaults(path: &Path) -> Option<PathBuf> {
    ["yaml", "yml"]
        .iter()
        .map(|ext| path.with_extension(ext))
        .find(|p| p != path && p.is_file())
}

/// Tells a file's format from its extension, then its first line.
pub fn detect(path: &Path, text: &str) -> Format {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if matches!(ext.as_str(), "yaml" | "yml" | "json") {
        return Format::Yaml;
    }
    let line = table::first_line(text);
    if dialects::is_omm_header(line) {
        return Format::Omm;
    }
    if dialects::is_exchange_header(line) {
        return Format::Exchange;
    }
    let delimiter = char::from(table::detect_delimiter(line));
    if line
        .split(delimiter)
        .any(|c| csv::column_named(c.trim_matches('"')).is_some())
    {
        return Format::Csv;
    }
    if dialects::is_imapsync_line(line) {
        return Format::Imapsync;
    }
    if matches!(ext.as_str(), "csv" | "tsv" | "txt") {
        return Format::Csv;
    }
    Format::Yaml
}

/// Reads a file as text, refusing what cannot be a manifest: too large,
/// empty, binary, not UTF-8 (UTF-16 with a BOM, as some spreadsheets save,
/// is converted).
pub fn read_text(path: &Path) -> Result<String, Diagnostics> {
    let fail = |message: String| Err(Diagnostics::whole_file(path, message));
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return fail(format!("cannot read this file: {}", io_reason(&e))),
    };
    if meta.is_dir() {
        return fail("this is a directory, not a manifest file".to_owned());
    }
    if meta.len() > MAX_FILE_BYTES {
        return fail(format!(
            "this file is too large ({:.1} MB); a manifest may be at most {} MB",
            meta.len() as f64 / 1e6,
            MAX_FILE_BYTES / (1024 * 1024)
        ));
    }
    let mut bytes = Vec::new();
    let read =
        std::fs::File::open(path).and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        return fail(format!("cannot read this file: {}", io_reason(&e)));
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return fail(format!(
            "this file is too large; a manifest may be at most {} MB",
            MAX_FILE_BYTES / (1024 * 1024)
        ));
    }
    decode(&bytes).map_err(|m| Diagnostics::whole_file(path, m))
}

/// Bytes → text, with the reasons a manifest cannot be decoded.
pub fn decode(bytes: &[u8]) -> Result<String, String> {
    if let Some(text) = decode_utf16(bytes) {
        return text;
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("this file is empty".to_owned());
    }
    if bytes.contains(&0) {
        return Err("this is a binary file, not a manifest (YAML or CSV text)".to_owned());
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|b| **b == b'\n').count() + 1;
            Err(format!(
                "this file is not UTF-8 text (line {line} has a byte that is not); save it as UTF-8 (in a spreadsheet: \"CSV UTF-8\")"
            ))
        }
    }
}

/// UTF-16 with a byte order mark, as "Unicode text" exports are.
fn decode_utf16(bytes: &[u8]) -> Option<Result<String, String>> {
    let little = match bytes {
        [0xFF, 0xFE, ..] => true,
        [0xFE, 0xFF, ..] => false,
        _ => return None,
    };
    let units: Vec<u16> = bytes[2..]
        .chunks(2)
        .map(|c| {
            let pair = [c[0], *c.get(1).unwrap_or(&0)];
            if little {
                u16::from_le_bytes(pair)
            } else {
                u16::from_be_bytes(pair)
            }
        })
        .collect();
    Some(
        String::from_utf16(&units)
            .map_err(|_| "this file is not valid UTF-16 text".to_owned())
            .and_then(|t| {
                if t.trim().is_empty() {
                    Err("this file is empty".to_owned())
                } else if t.contains('\0') {
                    Err("this is a binary file, not a manifest (YAML or CSV text)".to_owned())
                } else {
                    Ok(t)
                }
            }),
    )
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}
