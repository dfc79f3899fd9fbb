//! The native CSV form: one account per row, as a spreadsheet exports it.
//!
//! The header names the columns ([`columns`] lists them; spelling is
//! forgiving: `Source Email`, `source-email`, `SourceEmail` and
//! `source_email` are the same column, and so are the names spreadsheets
//! commonly give them: `Source Login` or `Old Username` for `source_user`,
//! `Dest Mail` for `destination_email`, `Source Server` for `source_host`,
//! ... ([`column_named`])). `,`, `;` or tab is detected from the header. A UTF-8 BOM, CRLF
//! line ends, quoted cells, blank lines and `#` comment lines are fine. An
//! empty cell means "not set here": the defaults apply.

use std::sync::Arc;

use super::AccountEntry;
use super::cells::{
    one_of, parse_bool, parse_date, parse_kind, parse_number, parse_options, parse_port,
    parse_size, parse_tls, split_bars, split_words,
};
use super::diagnostic::{Diagnostic, Diagnostics, Place, Position, did_you_mean, quote};
use super::model::{
    ADMIN_STYLES, AccountSpec, AdminSpec, EndpointSpec, LabelMode, Language, MailSpec,
    OAUTH2_SERVICES, OAuth2Spec, SieveSpec,
};
use super::origin::{Column, Columns, Origin};
use super::table::{normalize_header, read_table};
use crate::vocabulary::Secret;

mod columns;

pub use columns::{ColumnDef, column_named, columns};
use columns::{EndpointField, Setter, Side};

/// Reads a native CSV: every row becomes an account.
pub fn load(text: &str, file: &Arc<std::path::PathBuf>) -> (Vec<AccountEntry>, Diagnostics) {
    let table = match read_table(text, file) {
        Ok(t) => t,
        Err(d) => return (Vec::new(), d),
    };
    let mut diagnostics = Diagnostics::new();
    let (which, columns) = header(&table.header, file, &mut diagnostics);
    let mut accounts = Vec::with_capacity(table.rows.len());
    for (row, cells) in &table.rows {
        let place = |i: usize| Place {
            file: Arc::clone(file),
            position: Position::Cell {
                row: *row,
                column: table.header.get(i).cloned(),
            },
            field: None,
        };
        let index = accounts.len();
        let (spec, filled, broken) = account(cells, &which, &table.header, |i, message, hint| {
            diagnostics.push(
                Diagnostic::error(place(i), message)
                    .with_hint(hint)
                    .for_account(Some(index)),
            )
        });
        accounts.push(AccountEntry {
            spec: Some(spec),
            origin: Origin::Row {
                file: Arc::clone(file),
                row: *row,
                columns: Arc::clone(&columns),
                filled,
            },
            broken,
        });
    }
    (accounts, diagnostics)
}

/// Which definition each header column is, if any, and the columns as a
/// row's origin names them; reports repeated, mistyped and ignored
/// columns.
fn header(
    names: &[String],
    file: &Arc<std::path::PathBuf>,
    diagnostics: &mut Diagnostics,
) -> (Vec<Option<&'static ColumnDef>>, Arc<Columns>) {
    let defs = columns();
    let header_place = |name: &str| Place {
        file: Arc::clone(file),
        position: Position::Cell {
            row: 1,
            column: Some(name.to_owned()),
        },
        field: None,
    };
    let mut which: Vec<Option<&ColumnDef>> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut ignored: Vec<String> = Vec::new();
    for name in names {
        let canonical = normalize_header(name);
        if canonical.is_empty() {
            which.push(None);
            continue;
        }
        let def = column_named(name);
        let key = def.map_or(canonical.clone(), |d| d.name.clone());
        if seen.contains(&key) {
            diagnostics.push(Diagnostic::error(
                header_place(name),
                format!("column {} appears twice in the header", quote(name)),
            ));
            which.push(None);
            continue;
        }
        seen.push(key);
        if def.is_none() {
            // Close to a column of ours: a typo that would silently drop
            // a value. Otherwise a column of the spreadsheet's own.
            match did_you_mean(&canonical, defs.iter().map(|d| d.name.as_str())) {
                Some(hint) => diagnostics.push(
                    Diagnostic::error(
                        header_place(name),
                        format!("unknown column {}", quote(name)),
                    )
                    .with_hint(Some(hint)),
                ),
                None => ignored.push(quote(name)),
            }
        }
        which.push(def);
    }
    if !ignored.is_empty() {
        diagnostics.push(Diagnostic::ignored_columns(file, &ignored).with_hint(Some(
            "docs/manifest.md lists the columns; --strict makes this an error".to_owned(),
        )));
    }
    let columns = Arc::new(Columns {
        columns: names
            .iter()
            .zip(&which)
            .map(|(name, def)| Column {
                name: name.clone(),
                fields: def.map(|d| vec![d.field.clone()]).unwrap_or_default(),
            })
            .collect(),
    });
    (which, columns)
}

/// One row's account: its spec, the cells it filled and the fields whose
/// cells were wrong, each reported through `error(cell, message, hint)`.
fn account(
    cells: &[String],
    which: &[Option<&ColumnDef>],
    header: &[String],
    mut error: impl FnMut(usize, String, Option<String>),
) -> (AccountSpec, Vec<usize>, Vec<String>) {
    let mut spec = AccountSpec::default();
    let mut filled = Vec::new();
    let mut broken = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_empty() {
            continue;
        }
        filled.push(i);
        match which.get(i) {
            Some(Some(def)) => {
                if let Err((message, hint)) = apply(&mut spec, def.set, cell) {
                    broken.push(def.field.clone());
                    error(i, message, hint);
                }
            }
            Some(None) if !header[i].trim().is_empty() => {} // unknown column, reported once
            _ => error(
                i,
                format!(
                    "this row has a value in column {} but the header has no name for it",
                    i + 1
                ),
                None,
            ),
        }
    }
    (spec, filled, broken)
}

type CellResult = Result<(), (String, Option<String>)>;

fn apply(spec: &mut AccountSpec, set: Setter, cell: &str) -> CellResult {
    match set {
        Setter::Endpoint(side, field) => {
            let endpoint = match side {
                Side::Source => spec.source.get_or_insert_with(EndpointSpec::default),
                Side::Destination => spec.destination.get_or_insert_with(EndpointSpec::default),
            };
            apply_endpoint(endpoint, field, cell)
        }
        Setter::Options => {
            spec.options = Some(parse_options(cell)?);
            Ok(())
        }
        Setter::Notify => {
            spec.notify = Some(split_words(cell));
            Ok(())
        }
        Setter::Language => {
            spec.language = Some(one_of(cell, "a language", &Language::ALL)?);
            Ok(())
        }
        Setter::ErrorBudget => {
            spec.error_budget = Some(parse_number(cell)?);
            Ok(())
        }
        Setter::Include => {
            mail(spec).include = Some(split_bars(cell));
            Ok(())
        }
        Setter::Exclude => {
            mail(spec).exclude = Some(split_bars(cell));
            Ok(())
        }
        Setter::Map => {
            let mut map = std::collections::BTreeMap::new();
            for pair in split_bars(cell) {
                let Some((from, to)) = pair.split_once('=') else {
                    return Err((
                        format!(
                            "{} is not a rename: write Old=New, several separated by |",
                            quote(&pair)
                        ),
                        None,
                    ));
                };
                map.insert(from.trim().to_owned(), to.trim().to_owned());
            }
            mail(spec).map = Some(map);
            Ok(())
        }
        Setter::Since => {
            mail(spec).since = Some(parse_date(cell)?);
            Ok(())
        }
        Setter::Before => {
            mail(spec).before = Some(parse_date(cell)?);
            Ok(())
        }
        Setter::MaxMessageSize => {
            mail(spec).max_message_size = Some(parse_size(cell)?);
            Ok(())
        }
        Setter::IncludeDeleted => {
            mail(spec).include_deleted = Some(parse_bool(cell)?);
            Ok(())
        }
        Setter::Labels => {
            mail(spec).labels = Some(one_of(cell, "a label mode", &LabelMode::ALL)?);
            Ok(())
        }
        Setter::ArchiveFolder => {
            mail(spec).archive_folder = Some(cell.trim().to_owned());
            Ok(())
        }
        Setter::LabelPriority => {
            mail(spec).label_priority = Some(split_bars(cell));
            Ok(())
        }
    }
}

fn mail(spec: &mut AccountSpec) -> &mut MailSpec {
    spec.mail.get_or_insert_with(MailSpec::default)
}

fn apply_endpoint(e: &mut EndpointSpec, field: EndpointField, cell: &str) -> CellResult {
    let text = || Some(cell.to_owned());
    match field {
        EndpointField::Kind => e.kind = Some(parse_kind(cell)?),
        EndpointField::Host => e.host = text(),
        EndpointField::Port => e.port = Some(parse_port(cell)?),
        EndpointField::Tls => e.tls = Some(parse_tls(cell)?),
        EndpointField::AcceptInvalidCerts => e.accept_invalid_certs = Some(parse_bool(cell)?),
        EndpointField::Email => e.email = text(),
        EndpointField::User => e.user = text(),
        EndpointField::Password => e.password = Some(Secret::new(cell)),
        EndpointField::PasswordEnv => e.password_env = text(),
        EndpointField::PasswordFile => e.password_file = text(),
        EndpointField::TokenEnv => oauth2(e).token_env = text(),
        EndpointField::TokenFile => oauth2(e).token_file = text(),
        EndpointField::TokenCommand => oauth2(e).token_command = text(),
        EndpointField::Service => {
            oauth2(e).service = Some(one_of(cell, "an OAuth2 service", &OAUTH2_SERVICES)?);
        }
        EndpointField::KeyFile => oauth2(e).key_file = text(),
        EndpointField::Subject => oauth2(e).subject = text(),
        EndpointField::Tenant => oauth2(e).tenant = text(),
        EndpointField::ClientId => oauth2(e).client_id = text(),
        EndpointField::ClientSecretEnv => oauth2(e).client_secret_env = text(),
        EndpointField::ClientSecretFile => oauth2(e).client_secret_file = text(),
        EndpointField::CertificateFile => oauth2(e).certificate_file = text(),
        EndpointField::TokenUrl => oauth2(e).token_url = text(),
        EndpointField::AdminUser => admin(e).user = text(),
        EndpointField::AdminPassword => admin(e).password = Some(Secret::new(cell)),
        EndpointField::AdminPasswordEnv => admin(e).password_env = text(),
        EndpointField::AdminPasswordFile => admin(e).password_file = text(),
        EndpointField::AdminStyle => {
            admin(e).style = Some(one_of(cell, "an administrator style", &ADMIN_STYLES)?);
        }
        EndpointField::AdminSeparator => admin(e).separator = text(),
        EndpointField::Path => e.path = text(),
        EndpointField::DavUrl => e.dav_url = text(),
        EndpointField::SieveHost => sieve(e).host = text(),
        EndpointField::SievePort => sieve(e).port = Some(parse_port(cell)?),
        EndpointField::SieveTls => sieve(e).tls = Some(parse_tls(cell)?),
    }
    Ok(())
}

fn oauth2(e: &mut EndpointSpec) -> &mut OAuth2Spec {
    e.oauth2.get_or_insert_with(OAuth2Spec::default)
}

fn admin(e: &mut EndpointSpec) -> &mut AdminSpec {
    e.admin.get_or_insert_with(AdminSpec::default)
}

fn sieve(e: &mut EndpointSpec) -> &mut SieveSpec {
    e.sieve.get_or_insert_with(SieveSpec::default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_name_is_unique() {
        let names: std::collections::BTreeSet<_> = columns().iter().map(|c| &c.name).collect();
        assert_eq!(names.len(), columns().len());
    }
}
