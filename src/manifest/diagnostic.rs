//! Located problems: what is wrong, where it is written, and what was
//! probably meant.
//!
//! Every check of the manifest, and of the plan built from it, reports
//! through a [`Diagnostics`] list instead of stopping at the first problem,
//! so an admin sees every error of a manifest at once.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde::ser::SerializeMap;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The manifest cannot be run as written.
    Error,
    /// The manifest runs, but probably not as the admin meant.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// Where in a file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// The file as a whole: it could not be read, or the problem has no
    /// better place.
    File,
    /// A place in a YAML file; line and column start at 1.
    Text {
        /// Line, from 1.
        line: u64,
        /// Column, from 1.
        column: u64,
    },
    /// A row of a CSV-like file, numbered as a spreadsheet shows it (the
    /// header is row 1), and the column's name as written in the header.
    Cell {
        /// Row, as a spreadsheet numbers it.
        row: u64,
        /// The column's name in the header, when the problem has one.
        column: Option<String>,
    },
}

impl Position {
    /// The key diagnostics are sorted by within one file.
    fn sort_key(&self) -> (u64, u64) {
        match self {
            Position::File => (0, 0),
            Position::Text { line, column } => (*line, *column),
            Position::Cell { row, .. } => (*row, 0),
        }
    }
}

/// A place a problem can point at: a file, a position in it, and for YAML
/// the field path (`accounts[2].source.port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The file, as given or as named by the manifest.
    pub file: Arc<PathBuf>,
    /// Where in the file.
    pub position: Position,
    /// The YAML field path, when there is one.
    pub field: Option<String>,
}

impl Place {
    /// The whole of `file`.
    pub fn file(file: &Arc<PathBuf>) -> Place {
        Place {
            file: Arc::clone(file),
            position: Position::File,
            field: None,
        }
    }

    /// A short form for plans and reports: `file:line` or `file: row N`.
    pub fn short(&self) -> String {
        let file = self.file.display();
        match &self.position {
            Position::File => file.to_string(),
            Position::Text { line, .. } => format!("{file}:{line}"),
            Position::Cell { row, .. } => format!("{file}: row {row}"),
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match &self.position {
            Position::File => write!(f, "{file}")?,
            Position::Text { line, column } => write!(f, "{file}:{line}:{column}")?,
            Position::Cell { row, column: None } => write!(f, "{file}: row {row}")?,
            Position::Cell {
                row,
                column: Some(name),
            } => write!(f, "{file}: row {row}, column {name}")?,
        }
        Ok(())
    }
}

/// One problem found in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where the problem is written.
    pub place: Place,
    /// What is wrong, in words an admin understands. Never contains a
    /// secret value.
    pub message: String,
    /// A suggestion, such as "did you mean `password_env`?".
    pub hint: Option<String>,
    /// The account the problem belongs to (0-based, manifest order), if any.
    pub account: Option<usize>,
}

impl Diagnostic {
    /// A warning on a table's header row: the columns named are ignored.
    pub fn ignored_columns(file: &Arc<PathBuf>, ignored: &[String]) -> Diagnostic {
        let place = Place {
            file: Arc::clone(file),
            position: Position::Cell {
                row: 1,
                column: None,
            },
            field: None,
        };
        Diagnostic::warning(
            place,
            format!(
                "columns mailshift does not know are ignored: {}",
                ignored.join(", ")
            ),
        )
    }

    /// An error at `place`.
    pub fn error(place: Place, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            place,
            message: message.into(),
            hint: None,
            account: None,
        }
    }

    /// A warning at `place`.
    pub fn warning(place: Place, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(place, message)
        }
    }

    /// Adds a suggestion.
    #[must_use]
    pub fn with_hint(mut self, hint: Option<String>) -> Diagnostic {
        self.hint = hint;
        self
    }

    /// Says which account (0-based) the problem belongs to.
    #[must_use]
    pub fn for_account(mut self, account: Option<usize>) -> Diagnostic {
        self.account = account;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: ", self.place, self.severity)?;
        if let Some(field) = &self.place.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl Serialize for Diagnostic {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("severity", &self.severity)?;
        map.serialize_entry("file", &*self.place.file)?;
        match &self.place.position {
            Position::File => {}
            Position::Text { line, column } => {
                map.serialize_entry("line", line)?;
                map.serialize_entry("column", column)?;
            }
            Position::Cell { row, column } => {
                map.serialize_entry("row", row)?;
                if let Some(column) = column {
                    map.serialize_entry("column", column)?;
                }
            }
        }
        if let Some(field) = &self.place.field {
            map.serialize_entry("field", field)?;
        }
        map.serialize_entry("message", &self.message)?;
        if let Some(hint) = &self.hint {
            map.serialize_entry("hint", hint)?;
        }
        if let Some(account) = self.account {
            map.serialize_entry("account", &account)?;
        }
        map.end()
    }
}

/// Every problem found, errors and warnings. `Display` prints one line per
/// problem, sorted by file and position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    /// No problems.
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    /// Adds one problem.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    /// Adds several problems.
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.0.extend(other);
    }

    /// A single error about the whole of `file`.
    pub fn whole_file(file: &Path, message: impl Into<String>) -> Diagnostics {
        let file = Arc::new(file.to_path_buf());
        Diagnostics(vec![Diagnostic::error(Place::file(&file), message)])
    }

    /// Makes every warning an error (`--strict`).
    pub fn strict(&mut self) {
        for d in &mut self.0 {
            d.severity = Severity::Error;
        }
    }

    /// Whether any problem is an error (not only warnings).
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    /// How many errors.
    pub fn error_count(&self) -> usize {
        self.0
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// How many warnings.
    pub fn warning_count(&self) -> usize {
        self.0.len() - self.error_count()
    }

    /// Whether there is no problem at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many problems, errors and warnings.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The problems, in the order found.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// Sorts by file, then position; problems at the same place keep the
    /// order they were found in.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            (&a.place.file, a.place.position.sort_key())
                .cmp(&(&b.place.file, b.place.position.sort_key()))
        });
        self.0.dedup();
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<I: IntoIterator<Item = Diagnostic>>(iter: I) -> Self {
        Diagnostics(iter.into_iter().collect())
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sorted = self.clone();
        sorted.sort();
        for (i, d) in sorted.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The closest candidate to `word`, phrased as a hint, when one is close
/// enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let lower = word.to_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(&lower, &candidate.to_lowercase());
        let distance = strsim::damerau_levenshtein(&lower, &candidate.to_lowercase());
        let close = distance <= (candidate.len() / 3).max(1) || score >= 0.88;
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}

/// A value shown in a message: short, on one line.
pub fn quote(value: &str) -> String {
    const MAX: usize = 60;
    let one_line: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() > MAX {
        let cut: String = one_line.chars().take(MAX).collect();
        format!("`{cut}…`")
    } else {
        format!("`{one_line}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let fields = ["password", "password_env", "password_file", "host"];
        assert_eq!(
            did_you_mean("pasword", fields).as_deref(),
            Some("did you mean `password`?")
        );
        assert_eq!(
            did_you_mean("password_evn", fields).as_deref(),
            Some("did you mean `password_env`?")
        );
        assert_eq!(did_you_mean("colour", fields), None);
    }

    #[test]
    fn sorts_by_file_then_position() {
        let a = Arc::new(PathBuf::from("a.yaml"));
        let at = |line| Place {
            file: Arc::clone(&a),
            position: Position::Text { line, column: 1 },
            field: None,
        };
        let ds: Diagnostics = [
            Diagnostic::error(at(9), "nine"),
            Diagnostic::error(at(2), "two"),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            ds.to_string(),
            "a.yaml:2:1: error: two\na.yaml:9:1: error: nine"
        );
    }
}
