//! Foreign account lists, read unchanged so admins can bring what they
//! already have:
//!
//! - imapsync's batch file, one pair per line:
//!   `host1;user1;password1;host2;user2;password2;[extra];` with `#`
//!   comment lines. `extra` holds imapsync options; the ones with a
//!   mailshift equivalent are honoured, the others ignored with a warning.
//! - OVH Mail Migrator's project CSV, with the header
//!   `Source Type;Source url;Source Login;Source Password;Dest Type;Dest Url;Dest Mail;Dest Password`.
//!
//! Both carry inline passwords, since that is what those files hold.

use std::sync::Arc;

use super::AccountEntry;
use super::diagnostic::{Diagnostic, Diagnostics, Place, Position, did_you_mean, quote};
use super::model::{AccountSpec, ByteSize, EndpointSpec, Kind, MailSpec};
use super::origin::{Column, Columns, Origin};
use super::table::{normalize_header, read_table};
use crate::plan::Secret;
use crate::protocols::tls::TlsMode;

/// The OMM header, as its documentation writes it.
pub const OMM_HEADER: [&str; 8] = [
    "Source Type",
    "Source url",
    "Source Login",
    "Source Password",
    "Dest Type",
    "Dest Url",
    "Dest Mail",
    "Dest Password",
];

/// Whether a header line is OMM's (its first cell is `Source Type`).
pub fn is_omm_header(line: &str) -> bool {
    line.split([';', ',', '\t'])
        .next()
        .is_some_and(|c| squash(c.trim_matches('"')) == "sourcetype")
}

/// Whether a line looks like an imapsync pair: at least six `;` fields.
pub fn is_imapsync_line(line: &str) -> bool {
    line.split(';').count() >= 6
}

/// Lower case, letters and digits only: `Dest Url` → `desturl`.
fn squash(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
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

/// Reads an imapsync batch file.
pub fn load_imapsync(
    text: &str,
    file: &Arc<std::path::PathBuf>,
) -> (Vec<AccountEntry>, Diagnostics) {
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
        let place = |column: Option<&str>| Place {
            file: Arc::clone(file),
            position: Position::Cell {
                row,
                column: column.map(str::to_owned),
            },
            field: None,
        };
        let fields: Vec<&str> = line.split(';').collect();
        if fields.len() < 6 {
            diagnostics.push(
                Diagnostic::error(
                    place(None),
                    format!(
                        "an imapsync line needs host1;user1;password1;host2;user2;password2; but this one has {} field{}",
                        fields.len(),
                        if fields.len() == 1 { "" } else { "s" }
                    ),
                )
                .for_account(Some(index)),
            );
            accounts.push(AccountEntry {
                spec: None,
                origin: Origin::Row {
                    file: Arc::clone(file),
                    row,
                    columns: Arc::clone(&columns),
                    filled: Vec::new(),
                },
                broken: Vec::new(),
            });
            continue;
        }
        let mut broken = Vec::new();
        let mut endpoint =
            |host: &str, user: &str, password: &str, host_column: &str, side: &str| {
                let mut e = EndpointSpec::default();
                match parse_server(host) {
                    Ok(server) => server.apply(&mut e),
                    Err(message) => {
                        broken.push(format!("{side}.host"));
                        diagnostics.push(
                            Diagnostic::error(place(Some(host_column)), message)
                                .for_account(Some(index)),
                        );
                    }
                }
                let user = user.trim();
                if !user.is_empty() {
                    e.user = Some(user.to_owned());
                    if user.contains('@') {
                        e.email = Some(user.to_owned());
                    }
                }
                if !password.is_empty() {
                    e.password = Some(Secret::new(password));
                }
                e
            };
        let mut source = endpoint(fields[0], fields[1], fields[2], "host1", "source");
        let mut destination = endpoint(fields[3], fields[4], fields[5], "host2", "destination");
        let mut spec = AccountSpec::default();
        let extra = fields.get(6).copied().unwrap_or("").trim();
        if !extra.is_empty() {
            for warning in apply_imapsync_options(extra, &mut source, &mut destination, &mut spec) {
                diagnostics.push(
                    Diagnostic::warning(place(Some("extra")), warning).for_account(Some(index)),
                );
            }
        }
        spec.source = Some(source);
        spec.destination = Some(destination);
        let filled = fields
            .iter()
            .take(7)
            .enumerate()
            .filter(|(_, f)| !f.trim().is_empty())
            .map(|(i, _)| i)
            .collect();
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
    if accounts.is_empty() && !diagnostics.has_errors() {
        diagnostics.push(Diagnostic::error(
            Place::file(file),
            "this imapsync file has no account lines",
        ));
    }
    (accounts, diagnostics)
}

/// Applies the imapsync options mailshift understands; returns a warning
/// for each one it ignores.
fn apply_imapsync_options(
    extra: &str,
    source: &mut EndpointSpec,
    destination: &mut EndpointSpec,
    spec: &mut AccountSpec,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut words = extra.split_whitespace().peekable();
    while let Some(word) = words.next() {
        let (name, inline) = match word.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (word, None),
        };
        let value = |words: &mut std::iter::Peekable<std::str::SplitWhitespace<'_>>| {
            inline
                .clone()
                .or_else(|| words.next().map(|v| v.trim_matches(['"', '\'']).to_owned()))
        };
        let side = |n: &str| if n.ends_with('1') { 1 } else { 2 };
        match name {
            "--port1" | "--port2" => {
                let port = value(&mut words)
                    .and_then(|v| v.parse::<u16>().ok())
                    .filter(|p| *p > 0);
                match port {
                    Some(p) if side(name) == 1 => source.port = Some(p),
                    Some(p) => destination.port = Some(p),
                    None => warnings.push(format!("{name} needs a port number; ignored")),
                }
            }
            "--ssl1" | "--ssl2" | "--tls1" | "--tls2" | "--nossl1" | "--nossl2" | "--notls1"
            | "--notls2" => {
                let e = if side(name) == 1 {
                    &mut *source
                } else {
                    &mut *destination
                };
                match name.trim_end_matches(['1', '2']) {
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
            }
            "--folder" => match value(&mut words) {
                Some(folder) => mail(spec).include.get_or_insert_with(Vec::new).push(folder),
                None => warnings.push("--folder needs a folder name; ignored".to_owned()),
            },
            "--maxsize" => match value(&mut words).and_then(|v| ByteSize::parse(&v)) {
                Some(size) => mail(spec).max_message_size = Some(size),
                None => warnings.push("--maxsize needs a number of bytes; ignored".to_owned()),
            },
            _ if name.starts_with("--") => {
                // Skip the option's value too, if it has one.
                if inline.is_none() && words.peek().is_some_and(|w| !w.starts_with("--")) {
                    words.next();
                }
                warnings.push(format!(
                    "imapsync option {} has no mailshift equivalent and is ignored",
                    quote(name)
                ));
            }
            // Not quoted: a stray word may be the rest of a password
            // written with a space in it.
            _ => warnings.push(
                "a word that is not an imapsync option (and follows no option) is ignored"
                    .to_owned(),
            ),
        }
    }
    warnings
}

fn mail(spec: &mut AccountSpec) -> &mut MailSpec {
    spec.mail.get_or_insert_with(MailSpec::default)
}

/// What a host cell or URL said about a server.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ServerParts {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: Option<TlsMode>,
}

impl ServerParts {
    fn apply(self, e: &mut EndpointSpec) {
        e.host = self.host.or(e.host.take());
        e.port = self.port.or(e.port);
        e.tls = self.tls.or(e.tls);
    }
}

/// Parses `host`, `host:port`, `[::1]:993` or a URL such as
/// `imaps://host:993` or `https://host/EWS/Exchange.asmx` (scheme `imaps`
/// or `pop3s` means implicit TLS, `imap` or `pop3` STARTTLS; others only
/// give the host).
pub fn parse_server(text: &str) -> Result<ServerParts, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(ServerParts::default());
    }
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (Some(scheme.to_ascii_lowercase()), rest),
        None => (None, text),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        match inner.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':')),
            None => return Err(format!("{} is not a server address", quote(text))),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (authority, None),
        }
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("{} is not a server address", quote(text)));
    }
    let port = match port {
        None | Some("") => None,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => Some(p),
            _ => {
                return Err(format!(
                    "{} does not end in a port number (1–65535)",
                    quote(text)
                ));
            }
        },
    };
    let tls = match scheme.as_deref() {
        Some("imaps" | "pop3s" | "pops") => Some(TlsMode::Implicit),
        Some("imap" | "pop3" | "pop") => Some(TlsMode::StartTls),
        _ => None,
    };
    Ok(ServerParts {
        host: Some(host.to_owned()),
        port,
        tls,
    })
}

/// OMM's server types and what mailshift makes of them. OVH's hosted
/// offers (Exchange, Email Pro, MX Plan) all serve mail over IMAP.
const OMM_TYPES: [(&str, Kind); 12] = [
    ("imap", Kind::Imap),
    ("pop", Kind::Pop3),
    ("pop3", Kind::Pop3),
    ("exchange", Kind::Imap),
    ("hostedexchange", Kind::Imap),
    ("privateexchange", Kind::Imap),
    ("emailpro", Kind::Imap),
    ("mxplan", Kind::Imap),
    ("hostedbyovh", Kind::Autodetect),
    ("hostedbyovhautodetect", Kind::Autodetect),
    ("autodetect", Kind::Autodetect),
    ("ovh", Kind::Autodetect),
];

#[derive(Clone, Copy)]
enum OmmColumn {
    SourceType,
    SourceUrl,
    SourceLogin,
    SourcePassword,
    DestType,
    DestUrl,
    DestMail,
    DestPassword,
}

fn omm_column(squashed: &str) -> Option<(OmmColumn, &'static [&'static str])> {
    Some(match squashed {
        "sourcetype" => (OmmColumn::SourceType, &["source.kind"]),
        "sourceurl" => (
            OmmColumn::SourceUrl,
            &["source.host", "source.port", "source.tls"],
        ),
        "sourcelogin" => (OmmColumn::SourceLogin, &["source.user", "source.email"]),
        "sourcepassword" => (OmmColumn::SourcePassword, &["source.password"]),
        "desttype" => (OmmColumn::DestType, &["destination.kind"]),
        "desturl" => (
            OmmColumn::DestUrl,
            &["destination.host", "destination.port", "destination.tls"],
        ),
        "destmail" => (
            OmmColumn::DestMail,
            &["destination.email", "destination.user"],
        ),
        "destpassword" => (OmmColumn::DestPassword, &["destination.password"]),
        _ => return None,
    })
}

/// Reads an OVH Mail Migrator project CSV.
pub fn load_omm(text: &str, file: &Arc<std::path::PathBuf>) -> (Vec<AccountEntry>, Diagnostics) {
    let mut diagnostics = Diagnostics::new();
    let table = match read_table(text, file) {
        Ok(t) => t,
        Err(d) => return (Vec::new(), d),
    };
    let known: Vec<String> = OMM_HEADER.iter().map(|h| normalize_header(h)).collect();
    let mut which = Vec::new();
    let mut columns = Vec::new();
    for name in &table.header {
        let found = omm_column(&squash(name));
        if found.is_none() && !name.trim().is_empty() {
            let hint =
                did_you_mean(&normalize_header(name), known.iter().map(String::as_str)).map(|h| {
                    let i = known
                        .iter()
                        .position(|k| h.contains(&format!("`{k}`")))
                        .unwrap_or(0);
                    format!("did you mean `{}`?", OMM_HEADER[i])
                });
            diagnostics.push(
                Diagnostic::error(
                    Place {
                        file: Arc::clone(file),
                        position: Position::Cell {
                            row: 1,
                            column: Some(name.clone()),
                        },
                        field: None,
                    },
                    format!("unknown OVH Mail Migrator column {}", quote(name)),
                )
                .with_hint(hint),
            );
        }
        columns.push(Column {
            name: name.clone(),
            fields: found
                .map(|(_, fields)| fields.iter().map(|f| (*f).to_owned()).collect())
                .unwrap_or_default(),
        });
        which.push(found.map(|(c, _)| c));
    }
    let columns = Arc::new(Columns { columns });
    let mut accounts = Vec::new();
    for (row, cells) in table.rows {
        let index = accounts.len();
        let mut spec = AccountSpec {
            source: Some(EndpointSpec::default()),
            destination: Some(EndpointSpec::default()),
            ..AccountSpec::default()
        };
        let mut broken = Vec::new();
        let mut filled = Vec::new();
        for (i, cell) in cells.iter().enumerate() {
            let Some(Some(column)) = which.get(i) else {
                continue;
            };
            if cell.is_empty() {
                continue;
            }
            filled.push(i);
            let place = Place {
                file: Arc::clone(file),
                position: Position::Cell {
                    row,
                    column: Some(table.header[i].clone()),
                },
                field: None,
            };
            let (source, destination) = (
                spec.source.get_or_insert_with(EndpointSpec::default),
                spec.destination.get_or_insert_with(EndpointSpec::default),
            );
            let result = match column {
                OmmColumn::SourceType => omm_kind(cell).map(|k| source.kind = Some(k)),
                OmmColumn::DestType => omm_kind(cell).map(|k| destination.kind = Some(k)),
                OmmColumn::SourceUrl => parse_server(cell)
                    .map(|s| s.apply(source))
                    .map_err(|m| (m, None)),
                OmmColumn::DestUrl => parse_server(cell)
                    .map(|s| s.apply(destination))
                    .map_err(|m| (m, None)),
                OmmColumn::SourceLogin => {
                    source.user = Some(cell.clone());
                    if cell.contains('@') {
                        source.email = Some(cell.clone());
                    }
                    Ok(())
                }
                OmmColumn::DestMail => {
                    destination.email = Some(cell.clone());
                    Ok(())
                }
                OmmColumn::SourcePassword => {
                    source.password = Some(Secret::new(cell.as_str()));
                    Ok(())
                }
                OmmColumn::DestPassword => {
                    destination.password = Some(Secret::new(cell.as_str()));
                    Ok(())
                }
            };
            if let Err((message, hint)) = result {
                broken.extend(columns.columns[i].fields.iter().cloned());
                diagnostics.push(
                    Diagnostic::error(place, message)
                        .with_hint(hint)
                        .for_account(Some(index)),
                );
            }
        }
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

fn omm_kind(cell: &str) -> Result<Kind, (String, Option<String>)> {
    let wanted = squash(cell);
    OMM_TYPES
        .iter()
        .find(|(n, _)| *n == wanted)
        .map(|(_, k)| *k)
        .ok_or_else(|| {
            (
                format!(
                    "{} is not a server type mailshift reads (IMAP, POP, Exchange, Email Pro, MX Plan, Hosted by OVH)",
                    quote(cell)
                ),
                did_you_mean(&wanted, OMM_TYPES.iter().map(|(n, _)| *n)),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_servers_and_urls() {
        let p = |s| parse_server(s).unwrap();
        assert_eq!(
            p("mail.example.test").host.as_deref(),
            Some("mail.example.test")
        );
        assert_eq!(p("mail.example.test:143").port, Some(143));
        assert_eq!(
            p("imaps://mail.example.test"),
            ServerParts {
                host: Some("mail.example.test".into()),
                port: None,
                tls: Some(TlsMode::Implicit)
            }
        );
        assert_eq!(
            p("https://ex.mail.ovh.net/EWS/Exchange.asmx")
                .host
                .as_deref(),
            Some("ex.mail.ovh.net")
        );
        assert_eq!(p("[::1]:10143").host.as_deref(), Some("::1"));
        assert_eq!(p("[::1]:10143").port, Some(10143));
        assert!(parse_server("mail.example.test:99999").is_err());
        assert!(parse_server("bad host").is_err());
    }

    #[test]
    fn recognizes_dialects() {
        assert!(is_omm_header(&OMM_HEADER.join(";")));
        assert!(is_omm_header("\"Source Type\",\"Source url\""));
        assert!(is_imapsync_line("a;b;c;d;e;f;"));
        assert!(!is_imapsync_line("source_email;destination_email"));
    }

    #[test]
    fn reads_imapsync_options() {
        let (mut s, mut d, mut spec) = Default::default();
        let warnings = apply_imapsync_options(
            "--port1 10143 --notls1 --ssl2 --folder INBOX --automap --regextrans2 s/a/b/",
            &mut s,
            &mut d,
            &mut spec,
        );
        let s: EndpointSpec = s;
        let d: EndpointSpec = d;
        let spec: AccountSpec = spec;
        assert_eq!(s.port, Some(10143));
        assert_eq!(s.tls, Some(TlsMode::None));
        assert_eq!(d.tls, Some(TlsMode::Implicit));
        assert_eq!(spec.mail.unwrap().include, Some(vec!["INBOX".to_owned()]));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }
}
