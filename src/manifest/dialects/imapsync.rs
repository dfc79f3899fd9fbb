//! imapsync's batch file, one pair per line:
//! `host1;user1;password1;host2;user2;password2;[extra];` with `#` comment
//! lines. `extra` holds imapsync options:
//!
//! - those mailshift honours (`--port1`, `--ssl2`, `--maxsize`,
//!   `--folder`, `--exclude`...) are translated, and a bad value of one is
//!   an error, since running without it would copy what was not meant;
//! - those naming what mailshift always does (`--automap`,
//!   `--syncinternaldates`) are accepted silently;
//! - the others are ignored with a warning.
//!
//! A login that is not an address names its mailbox by the other side's
//! address, or, when neither is one, by `login@host`.

use std::path::PathBuf;
use std::sync::Arc;

use super::super::AccountEntry;
use super::super::diagnostic::{Diagnostic, Diagnostics, Place, Position, quote};
use super::super::model::{AccountSpec, ByteSize, EndpointSpec};
use super::super::origin::{Column, Columns, Origin};
use super::{mail, name_by_destination, parse_server, set_login};
use crate::vocabulary::Secret;
use crate::vocabulary::TlsMode;

/// Whether a line looks like an imapsync pair: at least six `;` fields.
pub fn is_imapsync_line(line: &str) -> bool {
    line.split(';').count() >= 6
}

const IMAPSYNC_COLUMNS: [(&str, &str); 7] = [
    ("host1", "source.host"),
    ("user1", "source.user"),
    ("password1", "source.password"),
    ("host2", "destination.host"),
    ("user2", "destination.user"),
    ("password2", "destination.password"),
    ("extra", "mail"),
];

/// imapsync options naming what mailshift always does: folder names
/// mapped between servers' conventions, INTERNALDATE kept, sizes not
/// listed.
const ALWAYS_DONE: [&str; 4] = [
    "--automap",
    "--syncinternaldates",
    "--nofoldersizes",
    "--nofoldersizesatend",
];

/// Reads an imapsync batch file.
pub fn load_imapsync(text: &str, file: &Arc<PathBuf>) -> (Vec<AccountEntry>, Diagnostics) {
    let columns = Arc::new(Columns {
        columns: IMAPSYNC_COLUMNS
            .iter()
            .map(|(name, field)| Column {
                name: (*name).to_owned(),
                fields: vec![(*field).to_owned()],
            })
            .collect(),
    });
    let mut diagnostics = Diagnostics::new();
    let mut accounts = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let row = n as u64 + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let index = accounts.len();
        let mut found = Vec::new();
        let (spec, broken, filled) = read_line(line, &mut found);
        for (column, d) in found {
            diagnostics.push(d(cell(file, row, column)).for_account(Some(index)));
        }
        accounts.push(AccountEntry {
            spec,
            origin: Origin::Row {
                file: Arc::clone(file),
                row,
                columns: Arc::clone(&columns),
                filled,
            },
            broken,
        });
    }
    if accounts.is_empty() && !diagnostics.has_errors() {
        diagnostics.push(Diagnostic::error(
            Place::file(file),
            "this imapsync file has no account lines",
        ));
    }
    (accounts, diagnostics)
}

/// A problem of a line: its column (none: the whole line) and how to make
/// the diagnostic once its place is known.
type Found = (Option<&'static str>, Box<dyn FnOnce(Place) -> Diagnostic>);

fn error(column: Option<&'static str>, message: String) -> Found {
    (column, Box::new(move |p| Diagnostic::error(p, message)))
}

/// One line: the account, the fields rejected, the cells filled.
fn read_line(line: &str, found: &mut Vec<Found>) -> (Option<AccountSpec>, Vec<String>, Vec<usize>) {
    let fields: Vec<&str> = line.split(';').collect();
    if fields.len() < 6 {
        found.push(error(
            None,
            format!(
                "an imapsync line needs host1;user1;password1;host2;user2;password2; but this one has {} field{}",
                fields.len(),
                if fields.len() == 1 { "" } else { "s" }
            ),
        ));
        return (None, Vec::new(), Vec::new());
    }
    let mut broken = Vec::new();
    let mut endpoint = |host: &str, user: &str, password: &str, column, side: &str| {
        let mut e = EndpointSpec::default();
        match parse_server(host) {
            Ok(server) => server.apply(&mut e),
            Err(message) => {
                broken.push(format!("{side}.host"));
                found.push(error(Some(column), message));
            }
        }
        set_login(&mut e, user);
        if !password.is_empty() {
            e.password = Some(Secret::new(password));
        }
        e
    };
    let source = endpoint(fields[0], fields[1], fields[2], "host1", "source");
    let destination = endpoint(fields[3], fields[4], fields[5], "host2", "destination");
    let mut spec = AccountSpec {
        source: Some(source),
        destination: Some(destination),
        ..AccountSpec::default()
    };
    let extra = fields.get(6).copied().unwrap_or("").trim();
    for note in apply_options(extra, &mut spec) {
        match note {
            Note::Ignored(message) => found.push((
                Some("extra"),
                Box::new(move |p| Diagnostic::warning(p, message)),
            )),
            Note::Bad { field, message } => {
                broken.push(field.to_owned());
                found.push(error(Some("extra"), message));
            }
        }
    }
    name_by_destination(&mut spec);
    // Bare logins on both sides, as imapsync files often have: each
    // mailbox is named `login@host`, as imapsync's own log names it.
    for e in [spec.source.as_mut(), spec.destination.as_mut()]
        .into_iter()
        .flatten()
    {
        if e.email.is_none()
            && let (Some(user), Some(host)) = (&e.user, &e.host)
        {
            e.email = Some(format!("{user}@{host}"));
        }
    }
    let filled = fields
        .iter()
        .take(7)
        .enumerate()
        .filter(|(_, f)| !f.trim().is_empty())
        .map(|(i, _)| i)
        .collect();
    (Some(spec), broken, filled)
}

fn cell(file: &Arc<PathBuf>, row: u64, column: Option<&str>) -> Place {
    Place {
        file: Arc::clone(file),
        position: Position::Cell {
            row,
            column: column.map(str::to_owned),
        },
        field: None,
    }
}

/// What reading an option found, besides what it set.
#[derive(Debug, PartialEq, Eq)]
enum Note {
    /// An option mailshift does not honour: a warning.
    Ignored(String),
    /// A bad value of an option mailshift honours: an error, and the
    /// field it would have set.
    Bad {
        field: &'static str,
        message: String,
    },
}

/// Applies the imapsync options of `extra` to `spec`.
fn apply_options(extra: &str, spec: &mut AccountSpec) -> Vec<Note> {
    let mut notes = Vec::new();
    let mut words = extra.split_whitespace().peekable();
    while let Some(word) = words.next() {
        let (name, inline) = match word.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (word, None),
        };
        if !name.starts_with("--") {
            // Not quoted: a stray word may be the rest of a password
            // written with a space in it.
            notes.push(Note::Ignored(
                "a word that is not an imapsync option (and follows no option) is ignored"
                    .to_owned(),
            ));
            continue;
        }
        if ALWAYS_DONE.contains(&name) {
            continue;
        }
        let takes_value = matches!(
            name,
            "--port1" | "--port2" | "--folder" | "--maxsize" | "--exclude" | "--include"
        );
        if !takes_value && !tls_option(name, spec) {
            // Skip the option's value too, if it has one.
            if inline.is_none() && words.peek().is_some_and(|w| !w.starts_with("--")) {
                words.next();
            }
            notes.push(Note::Ignored(format!(
                "imapsync option {} has no mailshift equivalent and is ignored",
                quote(name)
            )));
            continue;
        }
        if !takes_value {
            continue;
        }
        let value = inline
            .or_else(|| {
                words
                    .next_if(|w| !w.starts_with("--"))
                    .map(|v| v.trim_matches(['"', '\'']).to_owned())
            })
            .unwrap_or_default();
        if let Err((field, message)) = valued_option(name, &value, spec) {
            notes.push(Note::Bad { field, message });
        }
    }
    notes
}

/// `--ssl1`, `--tls2`, `--nossl1`, `--notls2`: sets the TLS mode of a
/// side; false for any other option.
fn tls_option(name: &str, spec: &mut AccountSpec) -> bool {
    let (mode, side) = match name.split_at(name.len().saturating_sub(1)) {
        (mode @ ("--ssl" | "--tls" | "--nossl" | "--notls"), side @ ("1" | "2")) => (mode, side),
        _ => return false,
    };
    let e = endpoint_of(spec, side);
    match mode {
        "--ssl" => e.tls = Some(TlsMode::Implicit),
        "--tls" => e.tls = Some(TlsMode::StartTls),
        // --nossl alone leaves STARTTLS possible; with --notls too, plain.
        "--nossl" => {
            if e.tls != Some(TlsMode::None) {
                e.tls = Some(TlsMode::StartTls);
            }
        }
        _ => e.tls = Some(TlsMode::None),
    }
    true
}

fn endpoint_of<'a>(spec: &'a mut AccountSpec, side: &str) -> &'a mut EndpointSpec {
    let e = if side == "1" {
        &mut spec.source
    } else {
        &mut spec.destination
    };
    e.get_or_insert_with(EndpointSpec::default)
}

/// An option with a value mailshift honours; `Err` names the field it
/// would set and what is wrong.
fn valued_option(
    name: &str,
    value: &str,
    spec: &mut AccountSpec,
) -> Result<(), (&'static str, String)> {
    match name {
        "--port1" | "--port2" => {
            let field = if name == "--port1" {
                "source.port"
            } else {
                "destination.port"
            };
            match value.parse::<u16>() {
                Ok(port) if port > 0 => {
                    endpoint_of(spec, &name[name.len() - 1..]).port = Some(port);
                    Ok(())
                }
                _ => Err((field, needs(name, "a port number (1–65535)", value))),
            }
        }
        "--maxsize" => match ByteSize::parse(value).filter(|s| s.0 > 0) {
            Some(size) if !value.starts_with('-') => {
                mail(spec).max_message_size = Some(size);
                Ok(())
            }
            _ => Err((
                "mail.max_message_size",
                needs(name, "a number of bytes above 0", value),
            )),
        },
        "--folder" if !value.is_empty() => {
            let include = mail(spec).include.get_or_insert_with(Vec::new);
            include.push(value.to_owned());
            Ok(())
        }
        "--folder" => Err(("mail.include", needs(name, "a folder name", value))),
        _ => {
            let (field, list) = if name == "--exclude" {
                ("mail.exclude", &mut mail(spec).exclude)
            } else {
                ("mail.include", &mut mail(spec).include)
            };
            match regex_to_patterns(value) {
                Some(patterns) => {
                    list.get_or_insert_with(Vec::new).extend(patterns);
                    Ok(())
                }
                None => Err((
                    field,
                    format!(
                        "{name} {} cannot be written as folder patterns: use folder names separated by |, \
                         with ^ and $ to anchor them and .* for any text",
                        quote(value)
                    ),
                )),
            }
        }
    }
}

fn needs(name: &str, what: &str, value: &str) -> String {
    if value.is_empty() {
        format!("{name} needs {what}")
    } else {
        format!("{name} needs {what}, not {}", quote(value))
    }
}

/// An imapsync folder regex (`^Junk$|Trash`, found anywhere in a name
/// unless anchored) as mailshift folder patterns (`Junk`, `*Trash*`).
/// `None` for a regex beyond names, anchors, `.*` and `\.`.
fn regex_to_patterns(regex: &str) -> Option<Vec<String>> {
    if regex.is_empty() {
        return None;
    }
    regex
        .split('|')
        .map(|alternative| {
            let (start, body) = match alternative.strip_prefix('^') {
                Some(rest) => (true, rest),
                None => (false, alternative),
            };
            let (body, end) = match body.strip_suffix('$') {
                Some(rest) if !rest.ends_with('\\') => (rest, true),
                _ => (body, false),
            };
            let mut pattern = String::new();
            if !start {
                pattern.push('*');
            }
            let mut chars = body.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '.' if chars.next_if_eq(&'*').is_some() => pattern.push('*'),
                    '.' => pattern.push('?'),
                    '\\' => pattern.push(chars.next().filter(|c| !c.is_alphanumeric())?),
                    '[' | ']' | '(' | ')' | '{' | '}' | '+' | '?' | '*' | '^' | '$' => {
                        return None;
                    }
                    _ => pattern.push(c),
                }
            }
            if !end {
                pattern.push('*');
            }
            (!body.is_empty()).then_some(pattern)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_imapsync_options() {
        let mut spec = AccountSpec::default();
        let notes = apply_options(
            "--port1 10143 --notls1 --ssl2 --folder INBOX --automap --syncinternaldates --regextrans2 s/a/b/",
            &mut spec,
        );
        let s = spec.source.clone().unwrap();
        let d = spec.destination.clone().unwrap();
        assert_eq!(s.port, Some(10143));
        assert_eq!(s.tls, Some(TlsMode::None));
        assert_eq!(d.tls, Some(TlsMode::Implicit));
        assert_eq!(spec.mail.unwrap().include, Some(vec!["INBOX".to_owned()]));
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    #[test]
    fn bad_values_of_honoured_options_are_errors() {
        for (extra, field) in [
            ("--port1 abc", "source.port"),
            ("--port2=0", "destination.port"),
            ("--maxsize -5", "mail.max_message_size"),
            ("--maxsize", "mail.max_message_size"),
            ("--folder", "mail.include"),
            ("--exclude (a)", "mail.exclude"),
        ] {
            let notes = apply_options(extra, &mut AccountSpec::default());
            assert!(
                matches!(notes.as_slice(), [Note::Bad { field: f, .. }] if *f == field),
                "{extra}: {notes:?}"
            );
        }
    }

    #[test]
    fn folder_regexes_become_patterns() {
        let p = |r| regex_to_patterns(r);
        assert_eq!(p("Junk"), Some(vec!["*Junk*".to_owned()]));
        assert_eq!(
            p("^Junk$|^Trash"),
            Some(vec!["Junk".to_owned(), "Trash*".to_owned()])
        );
        assert_eq!(p("^INBOX\\.Old.*$"), Some(vec!["INBOX.Old*".to_owned()]));
        assert_eq!(p("^(a|b)$"), None);
        assert_eq!(p("a||b"), None);
    }
}
