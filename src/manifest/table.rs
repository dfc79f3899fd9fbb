//! CSV text as a table: the delimiter, the header and the rows, each with
//! the line it starts on, for the native CSV and the dialects alike.
//!
//! A quote that opens a cell and is never closed makes the CSV reader
//! swallow every row below it into one cell: the passwords of those rows
//! with it. Such a file is refused before any cell is read, and so is a
//! cell spanning rows outside a password column, with the rows of the
//! quote and never the cell's text.

use std::sync::Arc;

use super::diagnostic::{Diagnostic, Diagnostics, Place, Position};

/// A header cell in canonical form: lower case, spaces and dashes as `_`.
pub fn normalize_header(name: &str) -> String {
    name.trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect()
}

/// The delimiter of a CSV header line: `;`, tab or `,` (the most frequent
/// outside quotes; `,` on a tie).
pub fn detect_delimiter(header_line: &str) -> u8 {
    let (mut commas, mut semicolons, mut tabs, mut quoted) = (0, 0, 0, false);
    for c in header_line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            '\t' if !quoted => tabs += 1,
            _ => {}
        }
    }
    if semicolons > commas && semicolons >= tabs {
        b';'
    } else if tabs > commas && tabs > semicolons {
        b'\t'
    } else {
        b','
    }
}

/// The first line that is not blank or a `#` comment.
pub fn first_line(text: &str) -> &str {
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .unwrap_or("")
}

/// A CSV file as rows of cells, with each row's number (header = 1).
pub struct Table {
    /// The header cells, trimmed, as written.
    pub header: Vec<String>,
    /// Each row's number and trimmed cells.
    pub rows: Vec<(u64, Vec<String>)>,
}

/// Splits CSV text into a header and rows; skips blank and comment lines.
pub fn read_table(text: &str, file: &Arc<std::path::PathBuf>) -> Result<Table, Diagnostics> {
    let delimiter = detect_delimiter(first_line(text));
    let spans = rows_spanned(text, delimiter);
    if spans.iter().any(|s| s.closed.is_none()) {
        return Err(spans
            .into_iter()
            .filter(|s| s.closed.is_none())
            .map(|span| span.diagnostic(file))
            .collect());
    }
    let mut problems = Diagnostics::new();
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    // Rows are numbered by the line they start on, as a spreadsheet or an
    // editor shows them.
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |byte: u64| {
        let start = record_start(text, byte as usize);
        line_starts.partition_point(|&s| s <= start) as u64
    };
    let mut header: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let row = e.position().map_or(0, |p| line_of(p.byte()));
                let place = Place {
                    file: Arc::clone(file),
                    position: Position::Cell { row, column: None },
                    field: None,
                };
                return Err([Diagnostic::error(
                    place,
                    format!("this is not valid CSV: {}", csv_reason(&e)),
                )]
                .into_iter()
                .collect());
            }
        };
        let row = record.position().map_or(0, |p| line_of(p.byte()));
        let cells: Vec<String> = record.iter().map(|c| c.trim().to_owned()).collect();
        if cells.iter().all(String::is_empty) {
            continue;
        }
        // Only a secret may span rows (a password with a line break);
        // any other such cell is a misplaced quote that swallowed rows.
        let spanning = cells.iter().enumerate().any(|(i, cell)| {
            cell.contains('\n')
                && !header
                    .as_ref()
                    .and_then(|h| h.get(i))
                    .is_some_and(|name| is_secret_column(name))
        });
        if spanning && let Some(span) = spans.iter().find(|s| s.opened >= row) {
            problems.push(span.diagnostic(file));
        }
        if header.is_none() {
            header = Some(cells);
        } else {
            rows.push((row, cells));
        }
    }
    if problems.has_errors() {
        return Err(problems);
    }
    match header {
        Some(header) => Ok(Table { header, rows }),
        None => Err(Diagnostics::whole_file(file, "the file has no header row")),
    }
}

/// Whether a column holds secrets (a password, a token), whose cells are
/// never shown.
fn is_secret_column(name: &str) -> bool {
    let name = normalize_header(name);
    ["password", "token", "secret"]
        .iter()
        .any(|word| name.contains(word))
}

/// Where a record really starts: the CSV reader reports the end of the
/// previous record, before any line break, blank line or comment line.
fn record_start(text: &str, mut at: usize) -> usize {
    let bytes = text.as_bytes();
    loop {
        while at < bytes.len() && (bytes[at] == b'\r' || bytes[at] == b'\n') {
            at += 1;
        }
        let line_end = bytes[at.min(bytes.len())..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| at + i);
        let line = &text[at.min(text.len())..line_end];
        if line_end < bytes.len() && (line.trim().is_empty() || line.starts_with('#')) {
            at = line_end;
        } else {
            return at;
        }
    }
}

/// The reason of a CSV error, without the crate's position wording.
fn csv_reason(e: &::csv::Error) -> String {
    match e.kind() {
        ::csv::ErrorKind::Utf8 { .. } => "a cell is not UTF-8 text".to_owned(),
        _ => "a quoted cell is never closed, or cells are malformed".to_owned(),
    }
}

/// A quoted cell that spans rows: the lines its quote opens and closes on.
#[derive(Debug, PartialEq, Eq)]
struct Spanning {
    opened: u64,
    /// `None`: the quote is never closed.
    closed: Option<u64>,
}

impl Spanning {
    /// The problem in words, without the cell's text: it may hold the
    /// rows below, passwords included.
    fn diagnostic(&self, file: &Arc<std::path::PathBuf>) -> Diagnostic {
        let place = Place {
            file: Arc::clone(file),
            position: Position::Cell {
                row: self.opened,
                column: None,
            },
            field: None,
        };
        match self.closed {
            None => Diagnostic::error(
                place,
                format!(
                    "a quote opened at row {} is never closed: the rest of the file would be \
                     read as one cell",
                    self.opened
                ),
            )
            .with_hint(Some(
                "close the quote, or remove it; a cell with a \" in it is written \"like \"\"this\"\"\""
                    .to_owned(),
            )),
            Some(closed) => Diagnostic::error(
                place,
                format!(
                    "a quote opened at row {} closes at row {closed}: only a password may \
                     span rows",
                    self.opened
                ),
            )
            .with_hint(Some("a quote is probably misplaced or missing".to_owned())),
        }
    }
}

/// The quoted cells of `text` that span rows, as the CSV reader would
/// quote them: a `"` opens a quoted cell only at the start of a cell, `""`
/// inside one is a quote, and `#` lines outside quotes are comments.
fn rows_spanned(text: &str, delimiter: u8) -> Vec<Spanning> {
    let mut spans = Vec::new();
    let (mut line, mut opened) = (1u64, None::<u64>);
    let (mut cell_start, mut line_start) = (true, true);
    let mut bytes = text.as_bytes().iter().peekable();
    while let Some(&b) = bytes.next() {
        if let Some(from) = opened {
            match b {
                b'"' if bytes.peek() == Some(&&b'"') => {
                    bytes.next();
                }
                b'"' => {
                    opened = None;
                    if line != from {
                        spans.push(Spanning {
                            opened: from,
                            closed: Some(line),
                        });
                    }
                }
                b'\n' => line += 1,
                _ => {}
            }
            continue;
        }
        match b {
            b'#' if line_start => {
                // A comment: skip to its end.
                for &c in bytes.by_ref() {
                    if c == b'\n' {
                        line += 1;
                        break;
                    }
                }
                continue;
            }
            b'"' if cell_start => {
                opened = Some(line);
                cell_start = false;
            }
            b'\n' => {
                line += 1;
                cell_start = true;
                line_start = true;
                continue;
            }
            _ if b == delimiter => cell_start = true,
            _ => cell_start = false,
        }
        line_start = false;
    }
    if let Some(from) = opened {
        spans.push(Spanning {
            opened: from,
            closed: None,
        });
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_delimiters() {
        assert_eq!(detect_delimiter("a,b,c"), b',');
        assert_eq!(detect_delimiter("a;b;c"), b';');
        assert_eq!(detect_delimiter("\"a;x\",b,c"), b',');
        assert_eq!(detect_delimiter("a\tb\tc"), b'\t');
    }

    #[test]
    fn normalizes_headers() {
        assert_eq!(normalize_header(" Source Email "), "source_email");
        assert_eq!(normalize_header("\u{feff}source-host"), "source_host");
    }

    #[test]
    fn quotes_that_span_rows_are_found() {
        let spans = |text: &str| rows_spanned(text, b',');
        assert_eq!(spans("a,b\n\"x\",\"y \"\"z\"\"\"\n# \"comment\nc,d\n"), []);
        assert_eq!(
            spans("a,b\nx\"y,z\n"),
            [],
            "a quote inside a cell is a character"
        );
        assert_eq!(
            spans("a,b\n\"x,y\nc,pw1\nd,pw2\n"),
            [Spanning {
                opened: 2,
                closed: None
            }]
        );
        assert_eq!(
            spans("a,b\nx,\"y\nz\"\n"),
            [Spanning {
                opened: 2,
                closed: Some(3)
            }]
        );
    }
}
