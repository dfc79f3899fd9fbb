//! Undoing the mail stage: removing exactly the messages and folders a
//! migration created at the destination.

use serde::Serialize;

use super::UndoFolder;
use crate::protocols::imap::{ImapError, Session};

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
/// parents, so an emptied parent can go too.
pub async fn undo(session: &mut Session, folders: &[UndoFolder]) -> Result<UndoOutcome, ImapError> {
    let mut outcome = UndoOutcome::default();
    let mut listed = session.list().await?;
    let mut ordered: Vec<&UndoFolder> = folders.iter().collect();
    ordered.sort_by(|a, b| b.folder.cmp(&a.folder));
    for folder in ordered {
        let Some(mailbox) = listed.iter().find(|m| m.name == folder.folder) else {
            continue;
        };
        let raw = mailbox.raw.clone();
        let delimiter = mailbox.delimiter;
        if !folder.messages.is_empty() {
            let state = session.select(&raw).await?;
            if Some(state.uidvalidity) != folder.uidvalidity {
                outcome.left.push(format!(
                    "{}: its UIDVALIDITY changed since the migration; its {} messages were left alone",
                    folder.folder,
                    folder.messages.len()
                ));
                continue;
            }
            session.uid_expunge(&folder.messages).await?;
            let after = session.select(&raw).await?;
            outcome.messages_removed += u64::from(state.exists.saturating_sub(after.exists));
        }
        if !folder.created || folder.folder.eq_ignore_ascii_case("INBOX") {
            continue;
        }
        let prefix = delimiter.map(|d| format!("{}{d}", folder.folder));
        let has_children = prefix
            .as_deref()
            .is_some_and(|p| listed.iter().any(|m| m.name.starts_with(p)));
        let holds = session.status(&raw).await?.messages;
        if holds > 0 || has_children {
            outcome.left.push(format!(
                "{}: kept, it holds mail or folders the migration did not put there",
                folder.folder
            ));
            continue;
        }
        // A server may drop a session whose selected folder disappears.
        session.examine("INBOX").await?;
        session.delete(&raw).await?;
        listed.retain(|m| m.name != folder.folder);
        outcome.folders_removed.push(folder.folder.clone());
    }
    Ok(outcome)
}
