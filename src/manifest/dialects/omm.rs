//! OVH Mail Migrator's project CSV: one account per row, each side given
//! as a server type, a URL, a login and a password.

use std::path::PathBuf;
use std::sync::Arc;

use super::super::AccountEntry;
use super::super::diagnostic::{Diagnostics, did_you_mean, quote};
use super::super::model::{EndpointSpec, Kind};
use super::columns::{self, CellResult, Dialect};
use super::{first_cell, parse_server, set_login, squash};
use crate::vocabulary::Secret;

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
    first_cell(line) == "sourcetype"
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

fn apply(
    column: OmmColumn,
    cell: &str,
    source: &mut EndpointSpec,
    destination: &mut EndpointSpec,
) -> CellResult {
    match column {
        OmmColumn::SourceType => source.kind = Some(omm_kind(cell)?),
        OmmColumn::DestType => destination.kind = Some(omm_kind(cell)?),
        OmmColumn::SourceUrl => parse_server(cell)
            .map(|s| s.apply(source))
            .map_err(|m| (m, None))?,
        OmmColumn::DestUrl => parse_server(cell)
            .map(|s| s.apply(destination))
            .map_err(|m| (m, None))?,
        OmmColumn::SourceLogin => set_login(source, cell),
        OmmColumn::DestMail => destination.email = Some(cell.to_owned()),
        OmmColumn::SourcePassword => source.password = Some(Secret::new(cell)),
        OmmColumn::DestPassword => destination.password = Some(Secret::new(cell)),
    }
    Ok(())
}

const OMM: Dialect<OmmColumn> = Dialect {
    name: "OVH Mail Migrator",
    header: &OMM_HEADER,
    column: omm_column,
    apply,
};

/// Reads an OVH Mail Migrator project CSV.
pub fn load_omm(text: &str, file: &Arc<PathBuf>) -> (Vec<AccountEntry>, Diagnostics) {
    columns::load(&OMM, text, file)
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
