//! The mail stage for a POP3 source: every message of the source mailbox
//! into the destination's INBOX, byte for byte, checkpointed by UIDL.
//!
//! It keeps the IMAP stage's guarantees by the same means (see
//! [`super::mail::sync`]): an intent is recorded before a group of messages
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

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use super::StageFailure;
use super::keyed::{DestError, Journal, Recorded, finish_pass, within_dates};
use super::mail::fingerprint;
use crate::plan::{Endpoint, Server, StageKind};
use crate::protocols::imap::{self, AppendRequest, ImapError};
use crate::protocols::pop3::{self, Listing, Pop3Config, Pop3Error, Retrieved};
use crate::stages::context::AccountContext;
use crate::stages::context::limits::Loan;
use crate::stages::context::retry::retrying;
use crate::store::StoreError;
use crate::store::batches::StageCounts;

/// The source folder's name in the store, reports and status.
pub const SOURCE_FOLDER: &str = "POP3 INBOX";
/// Where the messages go.
use super::mail::sync::{APPEND_WINDOW, FETCH_GROUP, FETCH_GROUP_BYTES, QUEUE_DEPTH};

const DEST_FOLDER: &str = "INBOX";
/// How long a server may stay silent before the command fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("Source: {0}")]
    Source(Pop3Error),
    #[error("Destination: {0}")]
    Destination(ImapError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PassError {
    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            PassError::Source(e) => e.is_retryable(),
            PassError::Destination(e) => e.is_retryable(),
            PassError::Store(_) => false,
        }
    }
}

impl From<DestError> for PassError {
    fn from(error: DestError) -> Self {
        match error {
            DestError::Imap(e) => PassError::Destination(e),
            DestError::Store(e) => PassError::Store(e),
        }
    }
}

fn source(error: Pop3Error) -> PassError {
    PassError::Source(error)
}

fn dest(error: ImapError) -> PassError {
    PassError::Destination(error)
}

/// Migrates one account's mail from a POP3 source.
pub async fn run(ctx: &AccountContext) -> Result<StageCounts, StageFailure> {
    let mut counts = StageCounts::default();
    let account = ctx.plan.source.email.as_str();
    let result = retrying(ctx, account, retryable, &mut counts, |ctx, counts| {
        Box::pin(attempt(ctx, counts))
    })
    .await;
    if let Err(error) = result {
        return Err(StageFailure {
            error: error.context(format!("Folder {SOURCE_FOLDER}")),
            counts,
        });
    }
    super::within_budget(ctx, counts, "messages")
}

/// One connection to each end and one pass over the source.
async fn attempt(ctx: &AccountContext, counts: &mut StageCounts) -> anyhow::Result<()> {
    let mut ends = Ends::connect(ctx).await?;
    pass(ctx, &mut ends, counts).await?;
    ends.source.quit().await.ok();
    Ok(())
}

/// Whether an error is worth another attempt.
fn retryable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<PassError>()
            .is_some_and(PassError::is_retryable)
    })
}

/// The POP3 source and the IMAP destination, holding their hosts' slots.
struct Ends {
    source: pop3::Session,
    dest: imap::Session,
    _slots: Vec<OwnedSemaphorePermit>,
}

impl Ends {
    /// Connects and logs in to both ends, under the per-host limits.
    async fn connect(ctx: &AccountContext) -> anyhow::Result<Ends> {
        let source_server = server_of(&ctx.plan.source, "POP3")?;
        let dest_server = server_of(&ctx.plan.destination, "IMAP")?;
        let slots = ctx
            .limits
            .connections(&[&source_server.host, &dest_server.host])
            .await;
        let (source_user, source_auth) = ctx.plan.source.login().await?;
        let config = Pop3Config {
            host: source_server.host.clone(),
            port: source_server.port,
            tls: source_server.tls,
            accept_invalid_certs: source_server.accept_invalid_certs,
            user: source_user,
            auth: source_auth,
            timeout: COMMAND_TIMEOUT,
        };
        let source = pop3::Session::connect(&config).await.map_err(source)?;
        let (dest_user, dest_auth) = ctx.plan.destination.login().await?;
        let config = dest_server.imap(&dest_user, dest_auth, COMMAND_TIMEOUT);
        let dest = imap::Session::connect(&config).await.map_err(dest)?;
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

/// One pass: lists the source, recognises what the destination holds,
/// copies the rest. Copies, matches and failures are added to `counts` as
/// they happen; what the source holds (found, skipped) only when the pass
/// completes.
async fn pass(
    ctx: &AccountContext,
    ends: &mut Ends,
    counts: &mut StageCounts,
) -> Result<(), PassError> {
    let store = &ctx.store;
    let record = store
        .open_folder(ctx.account.id, SOURCE_FOLDER, DEST_FOLDER)
        .await?;
    let listings = ends.source.list_all().await.map_err(source)?;
    let recorded = Recorded::load(ctx, &mut ends.dest, &record, DEST_FOLDER).await?;

    // The source's messages: the ones without a record are to copy.
    let appendlimit = ends.dest.capabilities().appendlimit;
    let mut seen = HashSet::new();
    let (found, mut skipped) = (listings.len() as u64, 0);
    let mut to_copy = Vec::new();
    for listing in listings {
        if recorded.done.contains(&listing.uidl) || !seen.insert(listing.uidl.clone()) {
            continue;
        }
        if ctx
            .plan
            .mail
            .max_message_size
            .is_some_and(|max| listing.size > max)
        {
            skipped += 1;
            continue;
        }
        if let Some(limit) = appendlimit.filter(|limit| listing.size > *limit) {
            counts.failed += 1;
            store
                .record_item_error(
                    ctx.account.id,
                    StageKind::Mail,
                    item(&listing.uidl),
                    format!(
                        "{} bytes, larger than the destination accepts ({limit} bytes)",
                        listing.size
                    ),
                )
                .await?;
            continue;
        }
        to_copy.push(listing);
    }

    let failed_before = counts.failed;
    skipped += copy(ctx, ends, record.id, to_copy, recorded, counts).await?;
    counts.found += found;
    counts.skipped += skipped;

    let clean = counts.failed == failed_before;
    finish_pass(ctx, &mut ends.dest, record.id, DEST_FOLDER, found, clean).await?;
    Ok(())
}

/// How a message is named in item errors.
fn item(uidl: &str) -> String {
    format!("{SOURCE_FOLDER} UIDL {uidl}")
}

/// Streams messages from the source and appends those not already at the
/// destination, recording each confirmed copy. Returns how many messages
/// the date filters left out once their headers were seen.
async fn copy(
    ctx: &AccountContext,
    ends: &mut Ends,
    folder_id: i64,
    to_copy: Vec<Listing>,
    recorded: Recorded,
    counts: &mut StageCounts,
) -> Result<u64, PassError> {
    if to_copy.is_empty() {
        return Ok(0);
    }
    let groups = fetch_groups(&to_copy);
    let wanted: HashMap<u32, Listing> = to_copy.into_iter().map(|l| (l.number, l)).collect();
    let (tx, rx) = mpsc::channel::<Retrieved>(QUEUE_DEPTH);
    let Ends {
        source: src,
        dest: dst,
        ..
    } = ends;
    let store = &ctx.store;
    let loan = Loan::new(&ctx.limits);

    // For each group: intents, memory for its messages, then RETR.
    let reader = async {
        for (numbers, keys, kib) in groups {
            if tx.is_closed() || ctx.shutdown.is_cancelled() {
                break;
            }
            store.record_pop3_intents(folder_id, keys).await?;
            loan.take(kib).await;
            src.retr_to(&numbers, &tx).await.map_err(source)?;
        }
        drop(tx);
        Ok::<(), PassError>(())
    };

    let writer = async {
        let mut appender = dst.appender(DEST_FOLDER, APPEND_WINDOW);
        let mut journal = Journal::new(folder_id, format!("{SOURCE_FOLDER} UIDL"));
        let Recorded {
            mut present,
            intents,
            ..
        } = recorded;
        let streamed = async {
            // Owned here, so that a writer that stops also stops the reader.
            let mut rx = rx;
            while let Some((number, result)) = rx.recv().await {
                let Some(listing) = wanted.get(&number) else {
                    continue;
                };
                loan.give_back(listing.size);
                let body = match result {
                    Ok(body) => body,
                    Err(error) => {
                        counts.failed += 1;
                        store
                            .record_item_error(
                                ctx.account.id,
                                StageKind::Mail,
                                journal.item(&listing.uidl),
                                error.to_string(),
                            )
                            .await?;
                        continue;
                    }
                };
                let date = header_date(&body);
                if !within_dates(date.map(|d| d.date_naive()), &ctx.plan.mail) {
                    journal.left_out.push(listing.uidl.clone());
                    continue;
                }
                let row = Journal::row(&intents, listing.uidl.clone(), &body);
                let request = AppendRequest {
                    flags: Vec::new(),
                    internal_date: date.map(|d| d.format("%d-%b-%Y %H:%M:%S %z").to_string()),
                    body,
                };
                journal
                    .deliver(ctx, &mut appender, &mut present, row, request, counts)
                    .await?;
            }
            Ok::<(), PassError>(())
        }
        .await;
        // Whatever happened, record every copy the server confirmed.
        let closed = journal.close(ctx, appender, counts).await;
        streamed?;
        Ok::<u64, PassError>(closed?)
    };

    let (read, write) = tokio::join!(reader, writer);
    let filtered = write?;
    read.map(|()| filtered)
}

/// Splits the messages to copy into intent groups: message numbers, their
/// UIDLs, and the memory (KiB) they count for.
fn fetch_groups(to_copy: &[Listing]) -> Vec<(Vec<u32>, Vec<String>, u32)> {
    let mut groups: Vec<(Vec<u32>, Vec<String>, u32)> = Vec::new();
    let mut bytes = 0;
    for listing in to_copy {
        let fits = groups.last().is_some_and(|(numbers, _, _)| {
            numbers.len() < FETCH_GROUP && bytes + listing.size <= FETCH_GROUP_BYTES
        });
        if !fits {
            groups.push((Vec::new(), Vec::new(), 0));
            bytes = 0;
        }
        let (numbers, keys, kib) = groups.last_mut().expect("a group was just pushed");
        numbers.push(listing.number);
        keys.push(listing.uidl.clone());
        *kib += Loan::cost(listing.size);
        bytes += listing.size;
    }
    groups
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

    #[test]
    fn groups_respect_count_and_bytes() {
        let listing = |number, size| Listing {
            number,
            uidl: format!("u{number}"),
            size,
        };
        let many: Vec<Listing> = (1..=450).map(|n| listing(n, 100)).collect();
        let groups = fetch_groups(&many);
        assert_eq!(
            groups.iter().map(|g| g.0.len()).collect::<Vec<_>>(),
            [200, 200, 50]
        );
        let big = vec![listing(1, 3 << 20), listing(2, 3 << 20)];
        assert_eq!(fetch_groups(&big).len(), 2);
    }
}
