//! Where an account (or the defaults) was written, so that a problem found
//! later, after defaults are merged, can still point at the right line,
//! column or cell.

use std::path::PathBuf;
use std::sync::Arc;

use super::diagnostic::{Place, Position};
use super::yaml::{PathIndex, escape_pointer, pointer_segments};

/// The columns of a CSV-like file and the account fields each one fills.
#[derive(Debug, Default)]
pub struct Columns {
    /// In header order.
    pub columns: Vec<Column>,
}

/// One column: its name as written in the header, and the fields it fills
/// (`source.port`; an OMM URL column fills host, port and TLS).
#[derive(Debug, Clone)]
pub struct Column {
    /// As written in the header.
    pub name: String,
    /// The account fields it fills, dotted (`source.port`).
    pub fields: Vec<String>,
}

impl Columns {
    /// The first column (by header order) filling `field` or a part of it,
    /// among `among` (column indexes).
    fn find(&self, field: &str, among: impl Iterator<Item = usize>) -> Option<usize> {
        let below = |long: &str, short: &str| {
            long.len() > short.len()
                && long.starts_with(short)
                && long.as_bytes()[short.len()] == b'.'
        };
        // A column filling part of a group (`source.oauth2.token_env` for
        // `source.oauth2`) stands for the group, but no column stands for a
        // whole endpoint.
        let group = field.contains('.');
        let covers = |f: &String| f == field || below(field, f) || (group && below(f, field));
        among.into_iter().find(|&i| {
            self.columns
                .get(i)
                .is_some_and(|c| c.fields.iter().any(covers))
        })
    }
}

/// Where something was written.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A mapping in a YAML file, by its JSON pointer (`/accounts/3`).
    Yaml {
        /// The file.
        file: Arc<PathBuf>,
        /// Line and column of every JSON pointer of the file.
        index: Arc<PathIndex>,
        /// The mapping's JSON pointer.
        pointer: String,
    },
    /// A row of a CSV-like file, and which of its cells are not empty.
    Row {
        /// The file.
        file: Arc<PathBuf>,
        /// The row, numbered as a spreadsheet shows it.
        row: u64,
        /// The file's header: column names by index.
        columns: Arc<Columns>,
        /// The indexes of the row's non-empty cells.
        filled: Vec<usize>,
    },
}

impl Origin {
    /// The file it is written in.
    pub fn file(&self) -> &Arc<PathBuf> {
        match self {
            Origin::Yaml { file, .. } | Origin::Row { file, .. } => file,
        }
    }

    /// The start of the thing itself: the account's mapping or row.
    pub fn whole(&self) -> Place {
        match self {
            Origin::Yaml {
                file,
                index,
                pointer,
            } => Place {
                file: Arc::clone(file),
                position: text(index.nearest(pointer)),
                field: display_path(pointer),
            },
            Origin::Row { file, row, .. } => Place {
                file: Arc::clone(file),
                position: Position::Cell {
                    row: *row,
                    column: None,
                },
                field: None,
            },
        }
    }

    /// Where this layer writes `field` (a path below this origin, such as
    /// `["source", "port"]`), if it writes it at all.
    pub fn find(&self, field: &[&str]) -> Option<Place> {
        match self {
            Origin::Yaml {
                file,
                index,
                pointer,
            } => {
                let p = join(pointer, field);
                index.value(&p).map(|pos| Place {
                    file: Arc::clone(file),
                    position: text(pos),
                    field: display_path(&p),
                })
            }
            Origin::Row {
                file,
                row,
                columns,
                filled,
            } => columns
                .find(&field.join("."), filled.iter().copied())
                .map(|i| cell(file, *row, &columns.columns[i].name)),
        }
    }

    /// Where `field` is written, or, when it is not, where it belongs: the
    /// nearest enclosing mapping in YAML, the row (and the column, if the
    /// file has one for it) in CSV.
    pub fn place(&self, field: &[&str]) -> Place {
        if let Some(place) = self.find(field) {
            return place;
        }
        match self {
            Origin::Yaml {
                file,
                index,
                pointer,
            } => {
                let p = join(pointer, field);
                Place {
                    file: Arc::clone(file),
                    position: text(index.nearest(&p)),
                    field: display_path(&p),
                }
            }
            Origin::Row {
                file, row, columns, ..
            } => match columns.find(&field.join("."), 0..columns.columns.len()) {
                Some(i) => cell(file, *row, &columns.columns[i].name),
                None => self.whole(),
            },
        }
    }

    /// `file:line` or `file: row N`: how plans and reports name an account.
    pub fn short(&self) -> String {
        self.whole().short()
    }
}

fn text(pos: super::yaml::Pos) -> Position {
    Position::Text {
        line: pos.line,
        column: pos.column,
    }
}

fn cell(file: &Arc<PathBuf>, row: u64, column: &str) -> Place {
    Place {
        file: Arc::clone(file),
        position: Position::Cell {
            row,
            column: Some(column.to_owned()),
        },
        field: None,
    }
}

fn join(pointer: &str, field: &[&str]) -> String {
    let mut p = pointer.to_owned();
    for segment in field {
        p.push('/');
        p.push_str(&escape_pointer(segment));
    }
    p
}

/// `/accounts/2/source/port` → `accounts[2].source.port`.
pub fn display_path(pointer: &str) -> Option<String> {
    let mut out = String::new();
    for segment in pointer_segments(pointer) {
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) && !out.is_empty() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_paths_like_jq() {
        assert_eq!(
            display_path("/accounts/2/source/port").as_deref(),
            Some("accounts[2].source.port")
        );
        assert_eq!(display_path(""), None);
    }

    #[test]
    fn rows_point_at_the_column_of_a_field() {
        let columns = Arc::new(Columns {
            columns: vec![
                Column {
                    name: "Source URL".into(),
                    fields: vec!["source.host".into(), "source.port".into()],
                },
                Column {
                    name: "source_oauth2_token_env".into(),
                    fields: vec!["source.oauth2.token_env".into()],
                },
            ],
        });
        let origin = Origin::Row {
            file: Arc::new("a.csv".into()),
            row: 3,
            columns,
            filled: vec![1],
        };
        assert_eq!(origin.find(&["source", "port"]), None);
        assert_eq!(
            origin.place(&["source", "port"]).to_string(),
            "a.csv: row 3, column Source URL"
        );
        assert_eq!(
            origin.find(&["source", "oauth2"]).unwrap().to_string(),
            "a.csv: row 3, column source_oauth2_token_env"
        );
    }
}
