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

use std::sync::{Arc, OnceLock};

use super::AccountEntry;
use super::cells::{
    one_of, parse_bool, parse_date, parse_kind, parse_number, parse_options, parse_port,
    parse_size, parse_tls, split_bars, split_words,
};
use super::diagnostic::{Diagnostic, Diagnostics, Place, Position, did_you_mean, quote};
use super::model::{
    ADMIN_STYLES, AccountSpec, AdminSpec, EndpointSpec, Language, MailSpec, OAuth2Spec, SieveSpec,
};
use super::origin::{Column, Columns, Origin};
use super::table::{normalize_header, read_table};
use crate::vocabulary::Secret;

/// One native column.
#[derive(Debug, Clone)]
pub struct ColumnDef {
    /// The canonical name (`source_port`).
    pub name: String,
    /// The account field it fills (`source.port`).
    pub field: String,
    /// What goes in it, for the documentation.
    pub doc: &'static str,
    set: Setter,
}

#[derive(Debug, Clone, Copy)]
enum Side {
    Source,
    Destination,
}

#[derive(Debug, Clone, Copy)]
enum EndpointField {
    Kind,
    Host,
    Port,
    Tls,
    AcceptInvalidCerts,
    Email,
    User,
    Password,
    PasswordEnv,
    PasswordFile,
    TokenEnv,
    TokenFile,
    TokenCommand,
    AdminUser,
    AdminPassword,
    AdminPasswordEnv,
    AdminPasswordFile,
    AdminStyle,
    AdminSeparator,
    Path,
    DavUrl,
    SieveHost,
    SievePort,
    SieveTls,
}

#[derive(Debug, Clone, Copy)]
enum Setter {
    Endpoint(Side, EndpointField),
    Options,
    Notify,
    Language,
    ErrorBudget,
    Include,
    Exclude,
    Map,
    Since,
    Before,
    MaxMessageSize,
    IncludeDeleted,
}

const ENDPOINT_COLUMNS: [(&str, &str, EndpointField, &str); 24] = [
    (
        "kind",
        "kind",
        EndpointField::Kind,
        "imap, pop3, pst, ics, vcf, groupware or autodetect",
    ),
    (
        "host",
        "host",
        EndpointField::Host,
        "server host name or IP address",
    ),
    ("port", "port", EndpointField::Port, "server port (1–65535)"),
    (
        "tls",
        "tls",
        EndpointField::Tls,
        "implicit, starttls or none",
    ),
    (
        "accept_invalid_certs",
        "accept_invalid_certs",
        EndpointField::AcceptInvalidCerts,
        "true/false (also yes/no, 1/0)",
    ),
    (
        "email",
        "email",
        EndpointField::Email,
        "the mailbox's address",
    ),
    (
        "user",
        "user",
        EndpointField::User,
        "login name (default: the email)",
    ),
    (
        "password",
        "password",
        EndpointField::Password,
        "the password itself",
    ),
    (
        "password_env",
        "password_env",
        EndpointField::PasswordEnv,
        "environment variable holding the password",
    ),
    (
        "password_file",
        "password_file",
        EndpointField::PasswordFile,
        "file holding the password, relative to the CSV",
    ),
    (
        "oauth2_token_env",
        "oauth2.token_env",
        EndpointField::TokenEnv,
        "environment variable holding an OAuth2 token",
    ),
    (
        "oauth2_token_file",
        "oauth2.token_file",
        EndpointField::TokenFile,
        "file holding an OAuth2 token",
    ),
    (
        "oauth2_token_command",
        "oauth2.token_command",
        EndpointField::TokenCommand,
        "command printing an OAuth2 token",
    ),
    (
        "admin_user",
        "admin.user",
        EndpointField::AdminUser,
        "administrator who logs in for the mailbox",
    ),
    (
        "admin_password",
        "admin.password",
        EndpointField::AdminPassword,
        "the administrator's password itself",
    ),
    (
        "admin_password_env",
        "admin.password_env",
        EndpointField::AdminPasswordEnv,
        "environment variable holding the administrator's password",
    ),
    (
        "admin_password_file",
        "admin.password_file",
        EndpointField::AdminPasswordFile,
        "file holding the administrator's password",
    ),
    (
        "admin_style",
        "admin.style",
        EndpointField::AdminStyle,
        "authzid or separator",
    ),
    (
        "admin_separator",
        "admin.separator",
        EndpointField::AdminSeparator,
        "between mailbox and administrator in the login (style separator)",
    ),
    (
        "path",
        "path",
        EndpointField::Path,
        "PST, ICS or vCard file, relative to the CSV",
    ),
    (
        "dav_url",
        "dav_url",
        EndpointField::DavUrl,
        "CalDAV/CardDAV base URL (groupware)",
    ),
    (
        "sieve_host",
        "sieve.host",
        EndpointField::SieveHost,
        "ManageSieve host (groupware)",
    ),
    (
        "sieve_port",
        "sieve.port",
        EndpointField::SievePort,
        "ManageSieve port (groupware)",
    ),
    (
        "sieve_tls",
        "sieve.tls",
        EndpointField::SieveTls,
        "ManageSieve TLS mode (groupware)",
    ),
];

/// Every native column, in documentation order.
pub fn columns() -> &'static [ColumnDef] {
    static COLUMNS: OnceLock<Vec<ColumnDef>> = OnceLock::new();
    COLUMNS.get_or_init(|| {
        let mut out = Vec::new();
        for (prefix, side) in [("source", Side::Source), ("destination", Side::Destination)] {
            for (suffix, field, which, doc) in ENDPOINT_COLUMNS {
                out.push(ColumnDef {
                    name: format!("{prefix}_{suffix}"),
                    field: format!("{prefix}.{field}"),
                    doc,
                    set: Setter::Endpoint(side, which),
                });
            }
        }
        let account = [
            ("options", "options", Setter::Options, "what to migrate: mail, calendars, tasks, contacts, contact_groups, rules, auto_replies"),
            ("notify", "notify", Setter::Notify, "addresses told when the account finishes"),
            ("language", "language", Setter::Language, "language of the account's emails: en or es"),
            ("error_budget", "error_budget", Setter::ErrorBudget, "item failures tolerated"),
            ("mail_include", "mail.include", Setter::Include, "folder patterns to copy, separated by |"),
            ("mail_exclude", "mail.exclude", Setter::Exclude, "folder patterns to skip, separated by |"),
            ("mail_map", "mail.map", Setter::Map, "folder renames: Old=New, separated by |"),
            ("mail_since", "mail.since", Setter::Since, "copy messages received on or after (YYYY-MM-DD)"),
            ("mail_before", "mail.before", Setter::Before, "copy messages received before (YYYY-MM-DD)"),
            ("mail_max_message_size", "mail.max_message_size", Setter::MaxMessageSize, "skip larger messages (bytes or 25MB)"),
            ("mail_include_deleted", "mail.include_deleted", Setter::IncludeDeleted, "also copy messages flagged \\Deleted (true/false)"),
        ];
        for (name, field, set, doc) in account {
            out.push(ColumnDef {
                name: name.to_owned(),
                field: field.to_owned(),
                doc,
                set,
            });
        }
        out
    })
}

/// Other names of a side, as spreadsheets write them.
const SIDE_NAMES: [(&str, &str); 9] = [
    ("source", "source"),
    ("src", "source"),
    ("old", "source"),
    ("from", "source"),
    ("destination", "destination"),
    ("dest", "destination"),
    ("dst", "destination"),
    ("target", "destination"),
    ("new", "destination"),
];

/// Other names of an endpoint field, squashed, as spreadsheets write them.
const FIELD_NAMES: [(&str, &str); 14] = [
    ("mail", "email"),
    ("address", "email"),
    ("emailaddress", "email"),
    ("mailbox", "email"),
    ("login", "user"),
    ("username", "user"),
    ("userid", "user"),
    ("account", "user"),
    ("pass", "password"),
    ("pwd", "password"),
    ("passwd", "password"),
    ("server", "host"),
    ("hostname", "host"),
    ("imapserver", "host"),
];

/// The native column a header cell names, under its own name or a common
/// other one (`Source Login` → `source_user`).
pub fn column_named(header: &str) -> Option<&'static ColumnDef> {
    let key = super::dialects::squash(header);
    if key.is_empty() {
        return None;
    }
    let named = |name: &str| {
        columns()
            .iter()
            .find(|d| super::dialects::squash(&d.name) == name)
    };
    named(&key).or_else(|| {
        SIDE_NAMES.iter().find_map(|(prefix, side)| {
            let rest = key.strip_prefix(prefix)?;
            let field = FIELD_NAMES
                .iter()
                .find(|(other, _)| *other == rest)
                .map_or(rest, |(_, field)| *field);
            named(&format!("{side}{field}"))
        })
    })
}

/// Reads a native CSV: every row becomes an account.
pub fn load(text: &str, file: &Arc<std::path::PathBuf>) -> (Vec<AccountEntry>, Diagnostics) {
    let mut diagnostics = Diagnostics::new();
    let table = match read_table(text, file) {
        Ok(t) => t,
        Err(d) => return (Vec::new(), d),
    };
    let defs = columns();
    let header_place = |name: &str| Place {
        file: Arc::clone(file),
        position: Position::Cell {
            row: 1,
            column: Some(name.to_owned()),
        },
        field: None,
    };
    // Which definition each column is, if any.
    let mut which: Vec<Option<&ColumnDef>> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut ignored: Vec<String> = Vec::new();
    for name in &table.header {
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
        match def {
            Some(def) => which.push(Some(def)),
            None => {
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
                which.push(None);
            }
        }
    }
    if !ignored.is_empty() {
        diagnostics.push(Diagnostic::ignored_columns(file, &ignored).with_hint(Some(
            "docs/manifest.md lists the columns; --strict makes this an error".to_owned(),
        )));
    }
    let columns = Arc::new(Columns {
        columns: table
            .header
            .iter()
            .zip(&which)
            .map(|(name, def)| Column {
                name: name.clone(),
                fields: def.map(|d| vec![d.field.clone()]).unwrap_or_default(),
            })
            .collect(),
    });

    let mut accounts = Vec::with_capacity(table.rows.len());
    for (row, cells) in table.rows {
        let cell_place = |i: usize| Place {
            file: Arc::clone(file),
            position: Position::Cell {
                row,
                column: table.header.get(i).cloned(),
            },
            field: None,
        };
        let index = accounts.len();
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
                        diagnostics.push(
                            Diagnostic::error(cell_place(i), message)
                                .with_hint(hint)
                                .for_account(Some(index)),
                        );
                    }
                }
                Some(None) if !table.header[i].trim().is_empty() => {} // unknown column, reported once
                _ => {
                    diagnostics.push(
                        Diagnostic::error(
                            cell_place(i),
                            format!(
                                "this row has a value in column {} but the header has no name for it",
                                i + 1
                            ),
                        )
                        .for_account(Some(index)),
                    );
                }
            }
        }
        let origin = Origin::Row {
            file: Arc::clone(file),
            row,
            columns: Arc::clone(&columns),
            filled,
        };
        accounts.push(AccountEntry {
            spec: Some(spec),
            origin,
            broken,
        });
    }
    (accounts, diagnostics)
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
