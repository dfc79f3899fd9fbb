//! Undoing the mail stage: removing exactly the messages and folders a
//! migration created at the destination.
//!
//! A server may refuse part of it: Courier will not delete its Trash
//! folder, Cyrus protects its special-use folders. A refusal (`NO`, `BAD`,
//! a missing extension) is listed in [`UndoOutcome::left`] with the
//! server's words and undo goes on with the next folder; only a lost
//! connection stops it, and undo can then be run again.

use serde::Serialize;

use super::UndoFolder;
use crate::protocols::imap::{ImapError, Mailbox, Session};

/// What an undo did and what it left.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UndoOutcome {
    /// Messages removed.
    pub messages_removed: u64,
    /// Folders removed (created by the migration and empty again).
    pub folders_removed: Vec<String>,
    /// What could not be undone, and why.
    pub left: Vec<String>,
}

/// Removes what the migration created, folder by folder; children before
/// parents, so an emptied parent can go too. A folder it deletes is
/// unsubscribed as well.
pub async fn undo(session: &mut Session, folders: &[UndoFolder]) -> Result<UndoOutcome, ImapError> {
    let mut outcome = UndoOutcome::default();
    let mut listed = session.list().await?;
    let mut ordered: Vec<&UndoFolder> = folders.iter().collect();
    ordered.sort_by(|a, b| b.folder.cmp(&a.folder));
    for folder in ordered {
        let Some(mailbox) = listed.iter().find(|m| m.name == folder.folder).cloned() else {
            continue;
        };
        match undo_folder(session, folder, &mailbox, &listed, &mut outcome).await? {
            Done::Deleted => listed.retain(|m| m.name != folder.folder),
            Done::Kept => {}
            Done::Left(why) => outcome.left.push(format!("{}: {why}", folder.folder)),
        }
    }
    Ok(outcome)
}

/// How the undo of one folder ended.
enum Done {
    /// Its messages and the folder itself are gone.
    Deleted,
    /// Its messages are gone; the folder was there before the migration.
    Kept,
    /// Something stays, for this reason.
    Left(String),
}

/// Undoes one folder; `Err` only when the connection is lost.
async fn undo_folder(
    session: &mut Session,
    folder: &UndoFolder,
    mailbox: &Mailbox,
    listed: &[Mailbox],
    outcome: &mut UndoOutcome,
) -> Result<Done, ImapError> {
    let raw = mailbox.raw.as_str();
    if !folder.messages.is_empty() {
        let state = match refusal(session.select(raw).await)? {
            Ok(state) => state,
            Err(refused) => return Ok(Done::Left(format!("its messages were left: {refused}"))),
        };
        if Some(state.uidvalidity) != folder.uidvalidity {
            return Ok(Done::Left(format!(
                "its UIDVALIDITY changed since the migration; its {} messages were left alone",
                folder.messages.len()
            )));
        }
        let expunged = refusal(session.uid_expunge(&folder.messages).await)?;
        let after = session.select(raw).await?;
        outcome.messages_removed += u64::from(state.exists.saturating_sub(after.exists));
        if let Err(refused) = expunged {
            return Ok(Done::Left(format!("messages were left: {refused}")));
        }
    }
    if !folder.created || folder.folder.eq_ignore_ascii_case("INBOX") {
        // A folder that was there stays, without the subscription the
        // migration added to it.
        if folder.subscribed && mailbox.subscribed {
            unsubscribe(session, folder, raw, "kept", outcome).await?;
        }
        return Ok(Done::Kept);
    }
    let prefix = mailbox.delimiter.map(|d| format!("{}{d}", folder.folder));
    let has_children = prefix
        .as_deref()
        .is_some_and(|p| listed.iter().any(|m| m.name.starts_with(p)));
    let holds = match refusal(session.status(raw).await)? {
        Ok(status) => status.messages,
        Err(refused) => return Ok(Done::Left(format!("not deleted: {refused}"))),
    };
    if holds > 0 || has_children {
        return Ok(Done::Left(
            "kept, it holds mail or folders the migration did not put there".to_owned(),
        ));
    }
    // A server may drop a session whose selected folder disappears.
    session.examine("INBOX").await?;
    if let Err(refused) = refusal(session.delete(raw).await)? {
        return Ok(Done::Left(format!("not deleted: {refused}")));
    }
    outcome.folders_removed.push(folder.folder.clone());
    // Dovecot and Courier keep the subscription of a deleted folder.
    if mailbox.subscribed {
        unsubscribe(session, folder, raw, "deleted", outcome).await?;
    }
    Ok(Done::Deleted)
}

/// Unsubscribes a folder undo `did` something to (deleted or kept); a
/// refusal is listed in `outcome.left`.
async fn unsubscribe(
    session: &mut Session,
    folder: &UndoFolder,
    raw: &str,
    did: &str,
    outcome: &mut UndoOutcome,
) -> Result<(), ImapError> {
    if let Err(refused) = refusal(session.unsubscribe(raw).await)? {
        outcome.left.push(format!(
            "{}: {did}, but still subscribed: {refused}",
            folder.folder
        ));
    }
    Ok(())
}

/// Sorts an error into a refusal (the server said no, or lacks what the
/// command needs: `Ok(Err)`, undo goes on) and a lost connection (`Err`,
/// undo stops).
fn refusal<T>(result: Result<T, ImapError>) -> Result<Result<T, ImapError>, ImapError> {
    match result {
        Err(error) if error.is_connection_lost() => Err(error),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::protocols::SessionError;

    #[test]
    fn a_refusal_lets_undo_go_on_and_a_lost_connection_stops_it() {
        let no = ImapError::No {
            server: "imap.example.com:993".into(),
            command: "DELETE",
            code: None,
            text: "Cannot delete this folder.".into(),
        };
        assert!(matches!(
            refusal::<()>(Err(no)),
            Ok(Err(ImapError::No { .. }))
        ));
        let lost = ImapError::Session(SessionError::Io {
            server: "imap.example.com:993".into(),
            source: Arc::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
        });
        assert!(matches!(
            refusal::<()>(Err(lost)),
            Err(ImapError::Session(SessionError::Io { .. }))
        ));
        assert!(matches!(refusal(Ok(1)), Ok(Ok(1))));
    }
}
