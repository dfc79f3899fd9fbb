//! Undoing the `rules` and `auto_replies` stages: the destination's Sieve
//! scripts as they were before the migration.
//!
//! Scripts the migration overwrote get their old content back, the script
//! that was active before is active again (or none, if none was), and
//! scripts the migration created are deleted. Scripts the destination had,
//! and ones added after the migration, are left alone.

use serde::Serialize;

use super::UndoSieve;
use crate::protocols::imap::Auth;
use crate::protocols::managesieve::{SieveError, SieveSession};

/// How long the server may stay silent during undo.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// What a Sieve undo did and what it left.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SieveUndoOutcome {
    /// Scripts deleted (created by the migration).
    pub deleted: Vec<String>,
    /// Scripts given their old content back.
    pub restored: Vec<String>,
    /// The active script afterwards, when undo changed it.
    pub activated: Option<Option<String>>,
    /// What could not be undone, and why.
    pub left: Vec<String>,
}

/// Logs in to the destination's ManageSieve server.
pub async fn connect(
    sieve: &UndoSieve,
    user: &str,
    auth: Auth,
) -> Result<SieveSession, SieveError> {
    SieveSession::connect(&sieve.server.session(user, auth, TIMEOUT)).await
}

/// Puts the destination's scripts back as they were.
pub async fn undo(
    session: &mut SieveSession,
    sieve: &UndoSieve,
) -> Result<SieveUndoOutcome, SieveError> {
    let mut outcome = SieveUndoOutcome::default();
    let listed = session.list_scripts().await?;
    for script in &sieve.replaced {
        session
            .put_script(&script.name, script.content.as_bytes())
            .await?;
        outcome.restored.push(script.name.clone());
    }
    let current = listed.iter().find(|s| s.active).map(|s| s.name.clone());
    let exists = |name: &str| {
        listed.iter().any(|s| s.name == name) || sieve.replaced.iter().any(|r| r.name == name)
    };
    let ours = |name: &Option<String>| name.as_ref().is_some_and(|n| sieve.created.contains(n));
    match &sieve.active_before {
        Some(before) if current.as_deref() == Some(before.as_str()) => {}
        Some(before) if exists(before) => {
            session.set_active(Some(before)).await?;
            outcome.activated = Some(Some(before.clone()));
        }
        Some(before) => {
            outcome.left.push(format!(
                "{before} was active before the migration and no longer exists; not activated"
            ));
            if ours(&current) {
                session.set_active(None).await?;
                outcome.activated = Some(None);
            }
        }
        None if ours(&current) => {
            session.set_active(None).await?;
            outcome.activated = Some(None);
        }
        None => {}
    }
    for name in &sieve.created {
        if !listed.iter().any(|s| &s.name == name) {
            continue;
        }
        match session.delete_script(name).await {
            Ok(()) => outcome.deleted.push(name.clone()),
            Err(SieveError::No { reason, .. }) => outcome
                .left
                .push(format!("Sieve script {name}: not deleted: {reason}")),
            Err(other) => return Err(other),
        }
    }
    Ok(outcome)
}
