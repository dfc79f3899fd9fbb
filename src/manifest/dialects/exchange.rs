//! The IMAP migration CSV of Exchange Online, which OVH Mail Migrator's
//! IMAP import reads too: `EmailAddress,UserName,Password`, one mailbox
//! per row.
//!
//! `EmailAddress` is the new mailbox (the destination), `UserName` and
//! `Password` the login at the old IMAP server (the source). The servers
//! and the destination's credentials come from the defaults (the YAML
//! file of the same name), as that CSV leaves them to the migration
//! endpoint; without them the servers are found from the addresses.

use std::path::PathBuf;
use std::sync::Arc;

use super::super::AccountEntry;
use super::super::diagnostic::Diagnostics;
use super::super::model::EndpointSpec;
use super::columns::{self, CellResult, Dialect};
use super::{first_cell, set_login};
use crate::vocabulary::Secret;

/// The header, as Microsoft's documentation writes it.
pub const EXCHANGE_HEADER: [&str; 3] = ["EmailAddress", "UserName", "Password"];

/// Whether a header line is this dialect's (its first cell is
/// `EmailAddress`).
pub fn is_exchange_header(line: &str) -> bool {
    first_cell(line) == "emailaddress"
}

#[derive(Clone, Copy)]
enum ExchangeColumn {
    EmailAddress,
    UserName,
    Password,
}

fn exchange_column(squashed: &str) -> Option<(ExchangeColumn, &'static [&'static str])> {
    Some(match squashed {
        "emailaddress" => (
            ExchangeColumn::EmailAddress,
            &["destination.email", "destination.user"],
        ),
        "username" => (ExchangeColumn::UserName, &["source.user", "source.email"]),
        "password" => (ExchangeColumn::Password, &["source.password"]),
        _ => return None,
    })
}

fn apply(
    column: ExchangeColumn,
    cell: &str,
    source: &mut EndpointSpec,
    destination: &mut EndpointSpec,
) -> CellResult {
    match column {
        ExchangeColumn::EmailAddress => destination.email = Some(cell.to_owned()),
        ExchangeColumn::UserName => set_login(source, cell),
        ExchangeColumn::Password => source.password = Some(Secret::new(cell)),
    }
    Ok(())
}

const EXCHANGE: Dialect<ExchangeColumn> = Dialect {
    name: "Exchange Online IMAP migration",
    header: &EXCHANGE_HEADER,
    column: exchange_column,
    apply,
};

/// Reads an Exchange Online IMAP migration CSV.
pub fn load_exchange(text: &str, file: &Arc<PathBuf>) -> (Vec<AccountEntry>, Diagnostics) {
    columns::load(&EXCHANGE, text, file)
}
