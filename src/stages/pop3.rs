//! The mail stage for a POP3 source: every message of the source mailbox
//! into the destination's INBOX, byte for byte, checkpointed by UIDL.
//!
//! It goes through the same [`pipeline`] as the IMAP stage, with the
//! same guarantees (see [`super::keyed`]): an intent is recorded before a group of messages
//! is fetched; destination messages without a record are fingerprinted, so
//! a copy whose confirmation was lost (a crash between APPEND and
//! checkpoint) or a message already there is recognised instead of copied
//! again; a re-run fetches only UIDLs it has no record of. The source is
//! only read: no DELE is ever sent.
//!
//! The records are the mail stage's own (one `folders` row, `messages`
//! rows keyed by UIDL), so status, reports, verification and undo work
//! unchanged. POP3 has no flags; INTERNALDATE comes from the message's
//! `Date:` header when it parses, otherwise the destination chooses.

use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;

use super::StageFailure;
use super::keyed::{self, Listed, Offer, Offered, Tally};
use super::mail::fingerprint;
use super::pipeline::{self, MessageSource, PassError, dest, source};
use crate::plan::{Endpoint, Server};
use crate::protocols::pop3::{self, Retrieved};
use crate::protocols::{SessionConfig, SessionError, imap};
use crate::stages::context::AccountContext;
use crate::stages::context::limits::Permits;
use crate::store::batches::StageCounts;

/// The source folder's name in the store, reports and status.
pub const SOURCE_FOLDER: &str = "POP3 INBOX";
/// Where the messages go.
const DEST_FOLDER: &str = "INBOX";
/// How long a server may stay silent before the command fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Migrates one account's mail from a POP3 source.
pub async fn run(ctx: &AccountContext) -> Result<StageCounts, StageFailure> {
    let mut tally = Tally::default();
    let account = ctx.plan.source.email.as_str();
    let result = pipeline::retry(ctx, account, &mut tally, |ctx, tally| {
        Box::pin(attempt(ctx, tally))
    })
    .await;
    if let Err(error) = result {
        return Err(StageFailure {
            error: error.context(format!("Folder {SOURCE_FOLDER}")),
            counts: tally.counts,
        });
    }
    super::within_budget(ctx, tally.counts, "messages")
}

/// One connection to each end and one pass over the source.
async fn attempt(ctx: &AccountContext, tally: &mut Tally) -> anyhow::Result<()> {
    let mut ends = Ends::connect(ctx).await?;
    pass(ctx, &mut ends, tally).await?;
    ends.source.quit().await.ok();
    Ok(())
}

/// The POP3 source and the IMAP destination, holding their hosts' slots.
struct Ends {
    source: pop3::Session,
    dest: imap::Session,
    _slots: Permits,
}

impl Ends {
    /// Connects and logs in to both ends, under the per-host limits.
    async fn connect(ctx: &AccountContext) -> anyhow::Result<Ends> {
        let source_server = server_of(&ctx.plan.source, "POP3")?;
        let dest_server = server_of(&ctx.plan.destination, "IMAP")?;
        let slots = ctx
            .connections(&[&source_server.host, &dest_server.host])
            .await?;
        let refused =
            |e: &pop3::Pop3Error| matches!(e, pop3::Pop3Error::Session(SessionError::Auth { .. }));
        let connect = async |c: &SessionConfig| pop3::Session::connect(c).await;
        let source = (ctx.plan.source)
            .session(source_server, COMMAND_TIMEOUT, connect, refused)
            .await?
            .map_err(source)?;
        let refused =
            |e: &imap::ImapError| matches!(e, imap::ImapError::Session(SessionError::Auth { .. }));
        let connect = async |c: &SessionConfig| imap::Session::connect(c).await;
        let dest = (ctx.plan.destination)
            .session(dest_server, COMMAND_TIMEOUT, connect, refused)
            .await?
            .map_err(dest)?;
        Ok(Ends {
            source,
            dest: dest.without_modseq(),
            _slots: slots,
        })
    }
}

fn server_of<'e>(endpoint: &'e Endpoint, protocol: &str) -> anyhow::Result<&'e Server> {
    endpoint
        .server
        .as_ref()
        .with_context(|| format!("Account {} has no {protocol} server", endpoint.email))
}

/// One pass over the mailbox into the destination's INBOX.
async fn pass(ctx: &AccountContext, ends: &mut Ends, tally: &mut Tally) -> Result<(), PassError> {
    let record = ctx
        .store
        .open_folder(ctx.account.id, SOURCE_FOLDER, DEST_FOLDER)
        .await?;
    let label = format!("{SOURCE_FOLDER} UIDL");
    let Ends {
        source: pop3,
        dest: session,
        ..
    } = ends;
    keyed::pass(ctx, session, pop3, &record, DEST_FOLDER, label, tally).await
}

/// A POP3 mailbox is a message source: messages by number, with RETR.
impl MessageSource for pop3::Session {
    type Id = u32;
    type Listing = Listed;
    type Item = Retrieved;

    async fn list(&mut self) -> Result<Vec<Listed>, PassError> {
        let listings = self.list_all().await.map_err(source)?;
        let listed = listings.into_iter().map(|l| Listed {
            id: l.number,
            key: l.uidl,
            size: Some(l.size),
        });
        Ok(listed.collect())
    }

    fn id(item: &Retrieved) -> u32 {
        item.0
    }

    async fn fetch(
        &mut self,
        group: &[u32],
        tx: &mpsc::Sender<Retrieved>,
    ) -> Result<(), PassError> {
        self.retr_to(group, tx).await.map_err(source)
    }
}

impl Offer for Retrieved {
    fn offer(self) -> (u32, Result<Offered, String>) {
        let (number, result) = self;
        let offered = result.map_err(|e| e.to_string()).map(|body| {
            let date = header_date(&body);
            Offered {
                flags: Vec::new(),
                date: date.map(|d| d.date_naive()),
                internal_date: date.map(|d| d.format("%d-%b-%Y %H:%M:%S %z").to_string()),
                mail: true,
                warnings: Vec::new(),
                body,
            }
        });
        (number, offered)
    }
}

/// The message's `Date:` header, when it parses (RFC 5322, comments and
/// folding allowed).
fn header_date(message: &[u8]) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let header = String::from_utf8_lossy(fingerprint::header_block(message));
    let mut value: Option<String> = None;
    for line in header.split('\n') {
        let line = line.trim_end_matches('\r');
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((name, rest)) = line.split_once(':')
            && name.trim_end().eq_ignore_ascii_case("Date")
        {
            value = Some(rest.trim().to_owned());
        }
    }
    let value = value?;
    // Comments such as `(PDT)` are allowed anywhere; drop them.
    let mut plain = String::with_capacity(value.len());
    let mut depth = 0u32;
    for c in value.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    let date = chrono::DateTime::parse_from_rfc2822(&plain).ok()?;
    // IMAP dates have four-digit years.
    (1000..=9999)
        .contains(&chrono::Datelike::year(&date))
        .then_some(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(message: &str) -> Option<String> {
        header_date(message.as_bytes()).map(|d| d.format("%d-%b-%Y %H:%M:%S %z").to_string())
    }

    #[test]
    fn internal_date_comes_from_the_date_header() {
        assert_eq!(
            date("Subject: a\r\nDate: Wed, 17 Jul 1996 02:44:25 -0700\r\n\r\nbody"),
            Some("17-Jul-1996 02:44:25 -0700".into())
        );
        assert_eq!(
            date("date:\r\n  Mon, 3 Feb 2020 09:05:00 +0100 (CET)\r\nX: y\r\n\r\n"),
            Some("03-Feb-2020 09:05:00 +0100".into())
        );
        assert_eq!(
            date("Subject: no date\r\n\r\nDate: Mon, 3 Feb 2020 09:05:00 +0100\r\n"),
            None
        );
        assert_eq!(date("Date: yesterday\r\n\r\n"), None);
    }
}
