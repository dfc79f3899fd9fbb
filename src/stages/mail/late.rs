//! APPENDs of an interrupted attempt that land after the next pass looked.
//!
//! A client that dies mid-pipeline leaves the server with what it had
//! sent: the server stores it at its own pace. Courier stores the APPEND
//! whose literal it had received, and on a loaded machine it may do so
//! seconds later, after the next pass scanned the folder and, finding
//! nothing, sent the message again. No wait can be long enough for
//! certain, so the pass makes the outcome exact afterwards:
//!
//! 1. [`settle`]: as a pass over a folder with intents begins, it waits a
//!    bounded while for the folder to go quiet (most late APPENDs are then
//!    seen by the scan and recognised as copies), and marks those intents
//!    as an interrupted attempt's;
//! 2. [`remove`]: after the pass's last STATUS of the folder, an
//!    unrecorded destination message with the fingerprint of such a copy
//!    is the interrupted attempt's late APPEND, a twin mailshift made: it
//!    is removed. One that lands later still has a UID above that
//!    STATUS's UIDNEXT, where the next pass looks (and removes it).

use std::collections::HashMap;

use super::fingerprint;
use crate::protocols::imap::Session;
use crate::stages::context::AccountContext;
use crate::stages::pipeline::{PassError, SETTLE_INTERVAL, SETTLE_POLLS, dest};

/// Begins a pass over `dest_raw` (the folder `folder_id`) whose
/// checkpoints hold intents of an interrupted attempt.
pub(crate) async fn settle(
    ctx: &AccountContext,
    session: &mut Session,
    folder_id: i64,
    dest_raw: &str,
) -> Result<(), PassError> {
    session
        .wait_until_quiet(dest_raw, SETTLE_INTERVAL, SETTLE_POLLS)
        .await
        .map_err(dest)?;
    ctx.store.mark_interrupted(folder_id).await?;
    Ok(())
}

/// Removes from `dest_raw` the late APPENDs of an interrupted attempt:
/// messages from UID `floor` on that no row records, with the fingerprint
/// of a copy that attempt had announced (no more of each than there are
/// such copies). Returns how many were removed. Without UIDPLUS the
/// copies' UIDs are not recorded and none could be removed alone: the
/// check is not made.
pub(crate) async fn remove(
    ctx: &AccountContext,
    session: &mut Session,
    folder_id: i64,
    dest_raw: &str,
    floor: u32,
) -> Result<u32, PassError> {
    if !session.capabilities().uidplus {
        return Ok(0);
    }
    let Some(late) = ctx.store.late_copies(folder_id).await? else {
        return Ok(0);
    };
    // SELECT again: Courier shows other sessions' APPENDs to a new look.
    session.select(dest_raw).await.map_err(dest)?;
    let unrecorded: Vec<u32> = session
        .uid_search_from(floor)
        .await
        .map_err(dest)?
        .into_iter()
        .filter(|uid| !late.recorded.contains(uid))
        .collect();
    if unrecorded.is_empty() {
        return Ok(0);
    }
    let mut left: HashMap<_, usize> = late.fingerprints;
    let mut twins = Vec::new();
    for stored in session.fetch_headers(&unrecorded).await.map_err(dest)? {
        let fingerprint = fingerprint::of_header(stored.size, &stored.header);
        if let Some(n) = left.get_mut(&fingerprint)
            && *n > 0
        {
            *n -= 1;
            twins.push(stored.uid);
        }
    }
    if twins.is_empty() {
        return Ok(0);
    }
    let account = &ctx.plan.source.email;
    if let Err(error) = session.uid_expunge(&twins).await {
        if error.is_connection_lost() {
            return Err(dest(error));
        }
        tracing::warn!(
            account = %account,
            folder = %dest_raw,
            "{} copies an interrupted attempt stored late are there twice, \
             the server would not remove them: {error}",
            twins.len()
        );
        return Ok(0);
    }
    tracing::warn!(
        account = %account,
        folder = %dest_raw,
        "removed {} copies an interrupted attempt stored after the pass had sent them again",
        twins.len()
    );
    Ok(twins.len() as u32)
}
