//! The copy itself: intents, memory, fetch on one side; offer, APPEND,
//! confirmation and checkpoints on the other.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use tokio::sync::mpsc;

use super::fail::{self, Point};
use super::{APPEND_WINDOW, CHECKPOINT_GROUP, FETCH_GROUP, FETCH_GROUP_BYTES, QUEUE_DEPTH};
use super::{PassError, dest};
use crate::plan::StageKind;
use crate::protocols::imap::{AppendRequest, Completion, ImapError, Session};
use crate::stages::context::AccountContext;
use crate::stages::context::limits::Loan;
use crate::store::StoreError;
use crate::store::batches::StageCounts;
use crate::store::mail::{NewCheckpoint, SourceId};

/// Where messages come from: an IMAP folder, a POP3 mailbox, a folder of
/// a PST file.
pub(crate) trait MessageSource {
    /// What names a message in a fetch request (UID, message number,
    /// node ID).
    type Id: Copy + Eq + Hash;
    /// What the listing says of one message.
    type Listing;
    /// What the source hands over for one message.
    type Item;
    /// Lists the messages there are.
    async fn list(&mut self) -> Result<Vec<Self::Listing>, PassError>;
    /// Which message an item is.
    fn id(item: &Self::Item) -> Self::Id;
    /// Fetches a group of messages, sending each to `tx` in order (waiting
    /// when the channel is full). A message the source cannot give is sent
    /// as an item saying why; a lost source ends the call.
    async fn fetch(
        &mut self,
        group: &[Self::Id],
        tx: &mpsc::Sender<Self::Item>,
    ) -> Result<(), PassError>;
}

/// What becomes of a message offered to a [`Ledger`].
pub(crate) enum Delivery<R> {
    /// Nothing to send: recorded otherwise, left out, or failed.
    Nothing,
    /// The destination holds it already: this row records it.
    Present(R),
    /// To append; the row is recorded once the server confirms.
    Append(R, AppendRequest),
}

/// A copy's row, waiting for the destination to confirm the APPEND.
pub(crate) trait Confirmable {
    /// The message's size in bytes.
    fn size(&self) -> u64;
    /// The destination confirmed the copy (with its UID when it said).
    fn confirm(&mut self, dest_uid: Option<u32>);
}

impl<K> Confirmable for NewCheckpoint<K> {
    fn size(&self) -> u64 {
        self.size
    }

    fn confirm(&mut self, dest_uid: Option<u32>) {
        self.dest_uid = dest_uid;
    }
}

/// What a pass knows of one folder's checkpoints: decides what each
/// fetched message becomes and writes the rows.
pub(crate) trait Ledger<Item> {
    /// A checkpoint row.
    type Row: Confirmable;
    /// Decides what becomes of a fetched message; counts and reports
    /// what it leaves out or fails.
    async fn offer(
        &mut self,
        ctx: &AccountContext,
        item: Item,
        counts: &mut StageCounts,
    ) -> Result<Delivery<Self::Row>, PassError>;
    /// How the message of a row is named in item errors.
    fn name(&self, row: &Self::Row) -> String;
    /// Writes rows of messages copied or found.
    async fn record(
        &mut self,
        ctx: &AccountContext,
        rows: Vec<Self::Row>,
    ) -> Result<(), StoreError>;
    /// Writes what the pass learned besides rows; called after the last
    /// rows whatever happened.
    async fn close(&mut self, ctx: &AccountContext) -> Result<(), StoreError>;
}

/// Messages fetched with one request, announced with one intent.
pub(crate) struct Group<Id, K> {
    pub ids: Vec<Id>,
    /// Their names in the intent.
    pub keys: Vec<K>,
    /// What each is expected to weigh, in bytes.
    pub sizes: Vec<u64>,
    /// The memory (KiB) they count for.
    pub kib: u32,
}

/// Splits the messages to copy (each as its id, intent key and size;
/// 0 when unknown) into fetch groups of at most [`FETCH_GROUP`] messages
/// and [`FETCH_GROUP_BYTES`] bytes.
pub(crate) fn fetch_groups<Id, K>(
    messages: impl IntoIterator<Item = (Id, K, u64)>,
) -> Vec<Group<Id, K>> {
    let mut groups: Vec<Group<Id, K>> = Vec::new();
    let mut bytes = 0;
    for (id, key, size) in messages {
        let fits = groups
            .last()
            .is_some_and(|g| g.ids.len() < FETCH_GROUP && bytes + size <= FETCH_GROUP_BYTES);
        if !fits {
            groups.push(Group {
                ids: Vec::new(),
                keys: Vec::new(),
                sizes: Vec::new(),
                kib: 0,
            });
            bytes = 0;
        }
        let group = groups.last_mut().expect("a group was just pushed");
        group.ids.push(id);
        group.keys.push(key);
        group.sizes.push(size);
        group.kib += Loan::cost(size);
        bytes += size;
    }
    groups
}

/// Streams the messages of `groups` from `source` into `dest_raw` (the
/// folder `folder_id`), each offered to `ledger` first and appended only
/// if it says so; every confirmed copy is recorded, whatever happened.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn copy<S, L>(
    ctx: &AccountContext,
    source: &mut S,
    session: &mut Session,
    dest_raw: &str,
    folder_id: i64,
    groups: Vec<Group<S::Id, impl SourceId>>,
    ledger: &mut L,
    counts: &mut StageCounts,
) -> Result<(), PassError>
where
    S: MessageSource,
    L: Ledger<S::Item>,
{
    if groups.is_empty() {
        return Ok(());
    }
    let sizes: HashMap<S::Id, u64> = groups
        .iter()
        .flat_map(|g| g.ids.iter().copied().zip(g.sizes.iter().copied()))
        .collect();
    let (tx, rx) = mpsc::channel::<S::Item>(QUEUE_DEPTH);
    let loan = Loan::new(&ctx.limits);

    // For each group: an intent, memory for its messages, then the fetch.
    let reader = async {
        for group in groups {
            if ctx.shutdown.is_cancelled() {
                return Err(PassError::Interrupted);
            }
            if tx.is_closed() {
                break;
            }
            ctx.store.record_intents(folder_id, group.keys).await?;
            fail::at(Point::AfterIntent);
            loan.take(group.kib).await;
            source.fetch(&group.ids, &tx).await?;
        }
        drop(tx);
        Ok::<(), PassError>(())
    };

    let writer = async {
        let mut appender = session.appender(dest_raw, APPEND_WINDOW);
        let mut journal = Journal {
            inflight: VecDeque::new(),
            rows: Vec::new(),
        };
        let streamed = async {
            // Owned here, so that a writer that stops also stops the reader.
            let mut rx = rx;
            while let Some(item) = rx.recv().await {
                // A stop sends nothing more; what is in flight is settled below.
                if ctx.shutdown.is_cancelled() {
                    return Err(PassError::Interrupted);
                }
                let Some(&size) = sizes.get(&S::id(&item)) else {
                    continue;
                };
                loan.give_back(size);
                let (row, request) = match ledger.offer(ctx, item, counts).await? {
                    Delivery::Nothing => continue,
                    Delivery::Present(row) => {
                        counts.present += 1;
                        journal.rows.push(row);
                        continue;
                    }
                    Delivery::Append(row, request) => (row, request),
                };
                ctx.limits.pace(row.size()).await;
                journal.inflight.push_back(row);
                let done = appender.push(request).await.map_err(dest)?;
                if fail::reached(Point::AfterAppendSent) {
                    // What the appender holds back goes out before the crash.
                    appender.flush().await.ok();
                    fail::crash(Point::AfterAppendSent);
                }
                journal.settle(ctx, &*ledger, done, counts).await?;
                if journal.rows.len() >= CHECKPOINT_GROUP {
                    ledger
                        .record(ctx, std::mem::take(&mut journal.rows))
                        .await?;
                }
            }
            Ok::<(), PassError>(())
        }
        .await;
        // Whatever happened, record every copy the server confirmed.
        let done = appender.finish().await;
        let settled = journal.settle(ctx, &*ledger, done, counts).await;
        ledger.record(ctx, journal.rows).await?;
        ledger.close(ctx).await?;
        streamed.and(settled)
    };

    let (read, write) = tokio::join!(reader, writer);
    write.and(read)
}

/// Copies in flight and rows not yet written.
struct Journal<R> {
    /// Rows of the APPENDs in flight, in the order they were sent.
    inflight: VecDeque<R>,
    /// Confirmed rows to write.
    rows: Vec<R>,
}

impl<R: Confirmable> Journal<R> {
    /// Turns APPEND completions (in submission order, one per row in
    /// flight) into confirmed rows, or item errors named by `ledger`; a
    /// lost connection is returned after the rest are settled.
    async fn settle<I>(
        &mut self,
        ctx: &AccountContext,
        ledger: &impl Ledger<I, Row = R>,
        done: Vec<Completion>,
        counts: &mut StageCounts,
    ) -> Result<(), PassError> {
        let mut lost: Option<ImapError> = None;
        for completion in done {
            let Some(mut row) = self.inflight.pop_front() else {
                break;
            };
            match completion.result {
                Ok(appended) => {
                    row.confirm(appended.map(|a| a.uid));
                    ctx.progress.message(row.size());
                    counts.copied += 1;
                    counts.bytes += row.size();
                    self.rows.push(row);
                }
                Err(error) if error.is_retryable() => {
                    lost.get_or_insert(error);
                }
                Err(error) => {
                    counts.failed += 1;
                    ctx.progress.failure();
                    ctx.store
                        .record_item_error(
                            ctx.account.id,
                            StageKind::Mail,
                            ledger.name(&row),
                            error.to_string(),
                        )
                        .await?;
                }
            }
        }
        lost.map_or(Ok(()), |e| Err(dest(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_respect_count_and_bytes() {
        let many = (1..=450u32).map(|n| (n, n, 100));
        let groups = fetch_groups(many);
        assert_eq!(
            groups.iter().map(|g| g.ids.len()).collect::<Vec<_>>(),
            [200, 200, 50]
        );
        assert_eq!(groups[2].kib, 50);
        let big = [(1u32, 1u32, 3 << 20), (2, 2, 3 << 20)];
        assert_eq!(fetch_groups(big).len(), 2);
        let unknown = (1..=201u32).map(|n| (n, n.to_string(), 0));
        assert_eq!(fetch_groups(unknown).len(), 2);
    }
}
