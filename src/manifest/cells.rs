//! The values of spreadsheet cells: kinds, TLS modes, ports, numbers,
//! booleans, dates, sizes and lists, each with the error an admin reads
//! when a cell holds something else.

use super::diagnostic::{did_you_mean, quote};
use super::model::{ByteSize, Kind, OptionName, TLS_MODES};
use crate::vocabulary::TlsMode;

pub(super) fn one_of<T: Copy>(
    cell: &str,
    what: &str,
    names: &[(&str, T)],
) -> Result<T, (String, Option<String>)> {
    let wanted = cell.trim().to_lowercase();
    names
        .iter()
        .find(|(n, _)| *n == wanted)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let list: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
            (
                format!(
                    "{} is not {what}: expected one of {}",
                    quote(cell),
                    list.join(", ")
                ),
                did_you_mean(&wanted, list.iter().copied()),
            )
        })
}

pub(super) fn parse_kind(cell: &str) -> Result<Kind, (String, Option<String>)> {
    one_of(cell, "an endpoint kind", &Kind::ALL).map_err(|e| with_synonym(e, "kind", cell))
}

pub(super) fn parse_tls(cell: &str) -> Result<TlsMode, (String, Option<String>)> {
    one_of(cell, "a TLS mode", &TLS_MODES).map_err(|e| with_synonym(e, "tls", cell))
}

pub(super) fn with_synonym(
    (message, hint): (String, Option<String>),
    field: &str,
    cell: &str,
) -> (String, Option<String>) {
    let synonym = super::schema::synonym_hint(field, &serde_json::Value::String(cell.to_owned()));
    (message, hint.or(synonym))
}

pub(super) fn parse_port(cell: &str) -> Result<u16, (String, Option<String>)> {
    match cell.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err((
            format!("{} is not a port number (1–65535)", quote(cell)),
            None,
        )),
    }
}

pub(super) fn parse_number(cell: &str) -> Result<u32, (String, Option<String>)> {
    cell.trim()
        .parse()
        .map_err(|_| (format!("{} is not a whole number", quote(cell)), None))
}

pub(super) fn parse_bool(cell: &str) -> Result<bool, (String, Option<String>)> {
    match cell.trim().to_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Ok(true),
        "false" | "no" | "n" | "0" => Ok(false),
        _ => Err((format!("{} is not true or false", quote(cell)), None)),
    }
}

pub(super) fn parse_date(cell: &str) -> Result<chrono::NaiveDate, (String, Option<String>)> {
    chrono::NaiveDate::parse_from_str(cell.trim(), "%Y-%m-%d").map_err(|_| {
        (
            format!(
                "{} is not a date: write it as YYYY-MM-DD, such as 2024-01-31",
                quote(cell)
            ),
            None,
        )
    })
}

pub(super) fn parse_size(cell: &str) -> Result<ByteSize, (String, Option<String>)> {
    ByteSize::parse(cell).ok_or_else(|| {
        (
            format!(
                "{} is not a size: write a number of bytes, or a number and a unit such as 25MB or 1.5GiB",
                quote(cell)
            ),
            None,
        )
    })
}

pub(super) fn parse_options(cell: &str) -> Result<Vec<OptionName>, (String, Option<String>)> {
    split_words(cell)
        .iter()
        .map(|word| one_of(word, "an option", &OptionName::ALL))
        .collect()
}

/// Splits a cell on `|` (lists whose items may contain spaces or commas).
pub(super) fn split_bars(cell: &str) -> Vec<String> {
    cell.split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Splits a cell on `|`, `,`, `;` and spaces (options, addresses).
pub(super) fn split_words(cell: &str) -> Vec<String> {
    cell.split(|c: char| c == '|' || c == ',' || c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
