//! One undo from start to end, as `mailshift undo` runs it: the account's
//! state (undoing, then undone, or back to where it was if the undo
//! failed), the removal itself, then the batch's report and the account's
//! notification.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::UndoManifest;
use super::dav::DavUndoOutcome;
use super::mail::UndoOutcome;
use super::sieve::SieveUndoOutcome;
use crate::manifest::Diagnostics;
use crate::plan::{self, Credential, Plan};
use crate::protocols::imap::Session;
use crate::report;
use crate::store::Store;
use crate::store::batches::{AccountState, BatchRecord};
use crate::store::dav::DavArea;
use crate::store::status::UndoRecord;

/// How long the destination may stay silent during undo.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// What undo did: mail, Sieve scripts when a Sieve stage ran, contacts
/// and calendars when their stages ran.
pub struct Outcome {
    /// What was removed from the mailbox.
    pub mail: UndoOutcome,
    /// What was put back of the Sieve scripts.
    pub sieve: Option<SieveUndoOutcome>,
    /// What was removed of the address books.
    pub contacts: Option<DavUndoOutcome>,
    /// What was removed of the calendars.
    pub calendars: Option<DavUndoOutcome>,
}

impl Outcome {
    /// What undo removed and what it left, a line each, as `undo` prints
    /// them and the account's history keeps them.
    pub fn summary(&self, destination: &str) -> (Vec<String>, Vec<String>) {
        let mut removed = vec![format!(
            "{} messages removed from {destination}, {} folders removed",
            self.mail.messages_removed,
            self.mail.folders_removed.len()
        )];
        let mut left = self.mail.left.clone();
        if let Some(sieve) = &self.sieve {
            removed.push(format!(
                "Sieve scripts: {} deleted, {} restored{}",
                sieve.deleted.len(),
                sieve.restored.len(),
                match &sieve.activated {
                    Some(Some(name)) => format!(", {name} active again"),
                    Some(None) => ", none active (as before)".to_owned(),
                    None => String::new(),
                }
            ));
            left.extend(sieve.left.iter().cloned());
        }
        for (dav, [area, items, collections]) in [
            (&self.contacts, ["Contacts", "vCards", "address books"]),
            (
                &self.calendars,
                ["Calendars", "calendar objects", "calendars"],
            ),
        ] {
            let Some(dav) = dav else { continue };
            removed.push(format!(
                "{area}: {} {items} deleted, {} {collections} deleted",
                dav.items_deleted,
                dav.collections_deleted.len()
            ));
            left.extend(dav.left.iter().cloned());
        }
        (removed, left)
    }
}

/// How the undo of an account recorded in the state database ended.
pub enum AccountUndo {
    /// No such migration ID with that source address.
    NotFound,
    /// It was undone before; nothing was done.
    AlreadyUndone,
    /// It has not finished (its state is given): cancel it first.
    NotFinished(String),
    /// The state database does not say which manifest the batch ran from.
    NoManifest,
    /// The manifest the batch ran from is not valid (it is needed for the
    /// destination's credential).
    InvalidManifest(PathBuf, Diagnostics),
    /// The manifest left a server to autodetect, and that failed.
    Unresolved(String),
    /// The undo window has passed (why).
    TooLate(String),
    /// Undone: the account is `undone`, the report rewritten, the owner
    /// told.
    Undone(Box<UndoManifest>, Box<Outcome>),
    /// The undo failed; the account is back in the state it had, and undo
    /// may be tried again.
    Failed(anyhow::Error),
}

/// Undoes the account `id` (with source address `source`) of the state
/// database, reading the destination's credential from `manifest` (default:
/// the manifest the batch ran from), and rewrites its batch's report under
/// `reports`.
pub async fn account(
    store: &Store,
    id: &str,
    source: &str,
    manifest: Option<&Path>,
    reports: &Path,
) -> anyhow::Result<AccountUndo> {
    let Some(account) = store.account_status(id, source).await? else {
        return Ok(AccountUndo::NotFound);
    };
    let before = Some(account.state);
    match before {
        Some(AccountState::Undone) => return Ok(AccountUndo::AlreadyUndone),
        Some(AccountState::Queued | AccountState::Running | AccountState::Undoing) => {
            return Ok(AccountUndo::NotFinished(account.state.to_string()));
        }
        _ => {}
    }
    let Some(manifest_path) = manifest
        .map(Path::to_path_buf)
        .or_else(|| account.manifest.as_ref().map(PathBuf::from))
    else {
        return Ok(AccountUndo::NoManifest);
    };
    let plan = match batch_plan(&manifest_path) {
        Ok(plan) => plan,
        Err(diagnostics) => return Ok(AccountUndo::InvalidManifest(manifest_path, diagnostics)),
    };
    let plan = match plan::autodetect::resolve_from_env(plan).await {
        Ok(plan) => plan,
        Err(failed) => return Ok(AccountUndo::Unresolved(failed.to_string())),
    };
    let Some(planned) = plan.account(&account.source, &account.destination) else {
        anyhow::bail!(
            "{} no longer has the account {} -> {}: give --manifest",
            manifest_path.display(),
            account.source,
            account.destination
        );
    };
    let destination = super::destination_of(planned)
        .with_context(|| format!("The destination of {id} has no server"))?;
    let credential = planned.destination.credential.clone();
    let created = store.created_mail(account.key).await?;
    let sieve = super::sieve_of(store, planned, account.key).await?;
    let contacts = super::contacts_of(store, planned, account.key).await?;
    let calendars = super::calendars_of(store, planned, account.key).await?;
    let undo = UndoManifest::new(&account, destination, created)
        .with_sieve(sieve)
        .with_contacts(contacts)
        .with_calendars(calendars);
    if let Err(refused) = undo.check_window(chrono::Utc::now()) {
        return Ok(AccountUndo::TooLate(refused));
    }
    store
        .set_account_state(account.key, AccountState::Undoing, None, None)
        .await?;
    let outcome = match execute(&undo, &credential).await {
        Ok(outcome) => outcome,
        Err(error) => {
            // Back to where it was: the undo can be tried again.
            let state = match before {
                Some(
                    state @ (AccountState::Failed
                    | AccountState::Cancelled
                    | AccountState::CompletedWithErrors
                    | AccountState::Interrupted),
                ) => state,
                _ => AccountState::Completed,
            };
            store
                .set_account_state(account.key, state, None, account.error.clone())
                .await?;
            return Ok(AccountUndo::Failed(error));
        }
    };
    // The account keeps its history: what was copied, what undo removed.
    let (removed, left) = outcome.summary(&undo.destination.email);
    let record = UndoRecord {
        undone_at: chrono::Utc::now(),
        copied: account
            .stages
            .iter()
            .filter(|s| s.copied > 0)
            .map(|s| (s.kind.clone(), s.copied))
            .collect(),
        removed,
        left,
    };
    store.record_undo(account.key, &record).await?;
    store.forget_mail(account.key).await?;
    store.forget_sieve(account.key).await?;
    store.forget_dav(account.key, DavArea::Contacts).await?;
    store.forget_dav(account.key, DavArea::Calendars).await?;
    store
        .set_account_state(account.key, AccountState::Undone, None, None)
        .await?;
    let record = BatchRecord {
        id: account.batch_key,
        public_id: account.batch_id.clone(),
    };
    report::publish(store, &record, &report::dir(reports, &account.batch)).await?;
    if let Some(undone) = store.account_status(id, source).await? {
        report::notification::send::undone(&plan, store, &undone).await;
    }
    Ok(AccountUndo::Undone(Box::new(undo), Box::new(outcome)))
}

/// The plan of the manifest a batch ran from. A YAML of defaults alone is
/// read through the same-stem CSV (or imapsync, OMM file) it gives its
/// defaults to, as the run read it: that is where the accounts are.
fn batch_plan(path: &Path) -> Result<Plan, Diagnostics> {
    let first = plan::from_file(path);
    if first.as_ref().is_ok_and(|p| !p.accounts.is_empty()) {
        return first;
    }
    ["csv", "txt", "tsv"]
        .iter()
        .map(|ext| path.with_extension(ext))
        .filter(|table| table != path && table.is_file())
        .find_map(|table| plan::from_file(&table).ok())
        .map_or(first, Ok)
}

/// Logs in to the destination and removes what the migration created.
/// A refusal of the server is in the outcome's `left`; an error here means
/// a destination could not be reached or the connection was lost.
pub async fn execute(manifest: &UndoManifest, credential: &Credential) -> anyhow::Result<Outcome> {
    let destination = &manifest.destination;
    let login = || async {
        credential
            .login(&destination.user)
            .await
            .with_context(|| format!("The credential of {}", destination.user))
    };
    // Nothing to remove from the mailbox (no mail stage, or one that
    // created nothing): the IMAP server is not needed.
    let mail = if manifest.mail.is_empty() {
        UndoOutcome::default()
    } else {
        let (user, auth) = login().await?;
        let config = destination.server.session(&user, auth, TIMEOUT);
        let mut session = Session::connect(&config).await?;
        let outcome = super::mail::undo(&mut session, &manifest.mail).await?;
        session.logout().await.ok();
        outcome
    };
    let sieve = match &manifest.sieve {
        Some(sieve) => {
            let (user, auth) = login().await?;
            let mut session = super::sieve::connect(sieve, &user, auth).await?;
            let outcome = super::sieve::undo(&mut session, sieve).await?;
            session.logout().await.ok();
            Some(outcome)
        }
        None => None,
    };
    let mut dav = Vec::new();
    for created in [
        manifest.contacts.as_ref().map(|c| c.created()),
        manifest.calendars.as_ref().map(|c| c.created()),
    ] {
        dav.push(match created {
            Some(created) => {
                let (user, auth) = login().await?;
                Some(super::dav::undo(&created, &user, auth).await?)
            }
            None => None,
        });
    }
    let calendars = dav.pop().flatten();
    let contacts = dav.pop().flatten();
    Ok(Outcome {
        mail,
        sieve,
        contacts,
        calendars,
    })
}
