//! The `contacts` and `contact_groups` stages: address books and vCards
//! over CardDAV (RFC 6352).
//!
//! Every address book of the source's home collection (from the
//! endpoint's `dav_url`, or discovered) is re-created at the destination
//! with the same display name; a destination address book with that name
//! already is reused. Each vCard is copied as the source serves it, under
//! the same resource name, with `If-None-Match: *` so nothing at the
//! destination is ever overwritten: photos, several addresses, phones and
//! emails travel untouched.
//!
//! `contacts` copies individual vCards; `contact_groups` copies group
//! vCards: vCard 4 `KIND:group` with `MEMBER:urn:uuid:...`, and Apple's
//! `X-ADDRESSBOOKSERVER-KIND:group` with `X-ADDRESSBOOKSERVER-MEMBER`.
//! A vCard whose version the destination address book does not accept
//! (its `supported-address-data`) is converted between 3.0 and 4.0
//! ([`vcard`]); a server that does not say gets every card as it is.
//!
//! UIDs are kept unchanged, so member references name the copied contacts
//! at the destination as they named the originals and need no rewriting.
//!
//! Checkpoints, re-runs and undo data are those of every WebDAV stage
//! ([`super::dav`]).

pub mod vcard;

use std::borrow::Cow;

use super::StageFailure;
use super::dav::{self, Rules};
use crate::plan::StageKind;
use crate::protocols::dav::Collection;
use crate::protocols::dav::discovery::Service;
use crate::stages::context::AccountContext;
use crate::store::batches::StageCounts;

/// Runs the `contacts` or `contact_groups` stage for one account.
pub async fn run(ctx: &AccountContext, kind: StageKind) -> Result<StageCounts, StageFailure> {
    dav::run(ctx, kind, &RULES).await
}

/// Whether a vCard is a group (vCard 4 `KIND:group` or Apple's
/// `X-ADDRESSBOOKSERVER-KIND:group`).
pub fn is_group(card: &[u8]) -> bool {
    let text = String::from_utf8_lossy(card);
    let unfolded = text
        .replace("\r\n ", "")
        .replace("\r\n\t", "")
        .replace("\n ", "")
        .replace("\n\t", "");
    unfolded.lines().any(|line| {
        let Some((name, value)) = line.split_once(':') else {
            return false;
        };
        let name = name.split(';').next().unwrap_or("");
        // A property may carry a group prefix (`item1.KIND`).
        let name = name.rsplit('.').next().unwrap_or("");
        (name.eq_ignore_ascii_case("KIND") || name.eq_ignore_ascii_case("X-ADDRESSBOOKSERVER-KIND"))
            && value.trim().eq_ignore_ascii_case("group")
    })
}

/// vCards go to `contact_groups` if they are groups, else to `contacts`,
/// exactly as served.
const RULES: Rules = Rules {
    service: Service::CardDav,
    visits: |_, _| true,
    belongs: |card, kind| is_group(card) == (kind == StageKind::ContactGroups),
    prepare: in_accepted_version,
};

/// The card in a version the destination address book accepts.
fn in_accepted_version<'a>(card: &'a [u8], book: &Collection) -> Cow<'a, [u8]> {
    vcard::for_destination(card, &book.address_versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_recognised_in_both_forms() {
        assert!(is_group(
            b"BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\nMEMBER:urn:uuid:1\r\nEND:VCARD\r\n"
        ));
        assert!(is_group(
            b"BEGIN:VCARD\r\nVERSION:3.0\r\nX-ADDRESSBOOKSERVER-KIND:group\r\nEND:VCARD\r\n"
        ));
        assert!(is_group(b"BEGIN:VCARD\nKI\n ND:Group\nEND:VCARD\n"));
        assert!(!is_group(
            b"BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:individual\r\nNOTE:KIND:group\r\nEND:VCARD\r\n"
        ));
    }
}
