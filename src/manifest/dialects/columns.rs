//! The common reader of the dialects that are CSV with a header of their
//! own (OMM, Exchange Online): each header cell is matched to a column of
//! the dialect, each row's cells applied to an account.
//!
//! A header cell close to one of the dialect's is an error with a
//! suggestion (ignoring it would drop a value); any other is a column the
//! spreadsheet keeps for itself, ignored with one warning naming them all.

use std::path::PathBuf;
use std::sync::Arc;

use super::super::AccountEntry;
use super::super::diagnostic::{Diagnostic, Diagnostics, Place, Position, did_you_mean, quote};
use super::super::model::{AccountSpec, EndpointSpec};
use super::super::origin::{Column, Columns, Origin};
use super::super::table::read_table;
use super::{name_by_destination, squash};

/// A cell's problem: the message and maybe a hint.
pub(super) type CellResult = Result<(), (String, Option<String>)>;

/// A column of a dialect and the account fields it fills (`source.host`).
pub(super) type Found<C> = Option<(C, &'static [&'static str])>;

/// A dialect with a header: how its columns are named and read.
pub(super) struct Dialect<C: 'static> {
    /// Its name in messages: `OVH Mail Migrator`.
    pub name: &'static str,
    /// Its header as its documentation writes it, for suggestions.
    pub header: &'static [&'static str],
    /// A squashed header cell → the column, with the fields it fills.
    pub column: fn(&str) -> Found<C>,
    /// Puts a non-empty cell of a column into the source and destination.
    pub apply: fn(C, &str, &mut EndpointSpec, &mut EndpointSpec) -> CellResult,
}

/// Reads a CSV of dialect `d`: every row becomes an account.
pub(super) fn load<C: Copy>(
    d: &Dialect<C>,
    text: &str,
    file: &Arc<PathBuf>,
) -> (Vec<AccountEntry>, Diagnostics) {
    let table = match read_table(text, file) {
        Ok(t) => t,
        Err(diagnostics) => return (Vec::new(), diagnostics),
    };
    let mut diagnostics = Diagnostics::new();
    let which: Vec<Found<C>> = table
        .header
        .iter()
        .map(|name| (d.column)(&squash(name)))
        .collect();
    check_header(d, &table.header, &which, file, &mut diagnostics);
    let columns = Arc::new(Columns {
        columns: table
            .header
            .iter()
            .zip(&which)
            .map(|(name, found)| Column {
                name: name.clone(),
                fields: found
                    .map(|(_, fields)| fields.iter().map(|f| (*f).to_owned()).collect())
                    .unwrap_or_default(),
            })
            .collect(),
    });
    let mut accounts = Vec::new();
    for (row, cells) in table.rows {
        let index = accounts.len();
        let mut source = EndpointSpec::default();
        let mut destination = EndpointSpec::default();
        let mut broken = Vec::new();
        let mut filled = Vec::new();
        for (i, cell) in cells.iter().enumerate() {
            let Some(Some((column, fields))) = which.get(i) else {
                continue;
            };
            if cell.is_empty() {
                continue;
            }
            filled.push(i);
            if let Err((message, hint)) = (d.apply)(*column, cell, &mut source, &mut destination) {
                broken.extend(fields.iter().map(|f| (*f).to_owned()));
                let place = header_cell(file, row, &table.header[i]);
                diagnostics.push(
                    Diagnostic::error(place, message)
                        .with_hint(hint)
                        .for_account(Some(index)),
                );
            }
        }
        let mut spec = AccountSpec {
            source: Some(source),
            destination: Some(destination),
            ..AccountSpec::default()
        };
        name_by_destination(&mut spec);
        accounts.push(AccountEntry {
            spec: Some(spec),
            origin: Origin::Row {
                file: Arc::clone(file),
                row,
                columns: Arc::clone(&columns),
                filled,
            },
            broken,
        });
    }
    (accounts, diagnostics)
}

/// Header cells that are no column of the dialect: near misses are
/// errors, the others one warning.
fn check_header<C>(
    d: &Dialect<C>,
    header: &[String],
    which: &[Found<C>],
    file: &Arc<PathBuf>,
    diagnostics: &mut Diagnostics,
) {
    let known: Vec<String> = d.header.iter().map(|h| squash(h)).collect();
    let mut ignored = Vec::new();
    for (name, found) in header.iter().zip(which) {
        if found.is_some() || name.trim().is_empty() {
            continue;
        }
        let near = did_you_mean(&squash(name), known.iter().map(String::as_str)).and_then(|h| {
            known
                .iter()
                .position(|k| h.contains(&format!("`{k}`")))
                .map(|i| format!("did you mean `{}`?", d.header[i]))
        });
        match near {
            Some(hint) => diagnostics.push(
                Diagnostic::error(
                    header_cell(file, 1, name),
                    format!("unknown {} column {}", d.name, quote(name)),
                )
                .with_hint(Some(hint)),
            ),
            None => ignored.push(quote(name)),
        }
    }
    if !ignored.is_empty() {
        diagnostics.push(
            Diagnostic::ignored_columns(file, &ignored).with_hint(Some(format!(
                "a {} file has the columns {}; --strict makes this an error",
                d.name,
                d.header.join(", ")
            ))),
        );
    }
}

fn header_cell(file: &Arc<PathBuf>, row: u64, column: &str) -> Place {
    Place {
        file: Arc::clone(file),
        position: Position::Cell {
            row,
            column: Some(column.to_owned()),
        },
        field: None,
    }
}
