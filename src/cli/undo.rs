//! `mailshift undo`: put a destination back as it was before a migration.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::Exit;
use super::status::StateArg;
use crate::batch;
use crate::plan::{self, Credential};
use crate::protocols::imap::Session;
use crate::store::Store;
use crate::store::batches::{AccountState, BatchRecord};
use crate::store::dav::DavArea;
use crate::undo::dav::DavUndoOutcome;
use crate::undo::mail::UndoOutcome;
use crate::undo::sieve::SieveUndoOutcome;
use crate::undo::{self, UndoManifest};

/// How long the destination may stay silent during undo.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["id", "from"]))]
pub struct UndoArgs {
    /// The migration ID (give `--source` too).
    #[arg(value_name = "ID", requires = "source")]
    pub id: Option<String>,
    /// The account's source email address.
    #[arg(long, value_name = "EMAIL")]
    pub source: Option<String>,
    /// Undo from an undo manifest (`reports/<batch>/undo/<ID>.json`) alone,
    /// without the state database.
    #[arg(long, value_name = "FILE", conflicts_with = "id")]
    pub from: Option<PathBuf>,
    /// The manifest the batch ran from, for the destination's credential
    /// (default: the one the state database remembers).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// An environment variable holding the destination's password, when
    /// the undo manifest cannot say (the password was inline).
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Where report folders are: the batch's report is rewritten after undo.
    #[arg(long, env = "MAILSHIFT_REPORTS", default_value = "reports")]
    pub reports: PathBuf,
    #[command(flatten)]
    pub state: StateArg,
}

pub fn undo(args: &UndoArgs) -> anyhow::Result<Exit> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("Starting the async runtime")?;
    runtime.block_on(async {
        match (&args.from, &args.id, &args.source) {
            (Some(file), _, _) => from_file(args, file).await,
            (None, Some(id), Some(source)) => from_store(args, id, source).await,
            _ => Ok(Exit::Invalid),
        }
    })
}

/// Undo of an account found in the state database.
async fn from_store(args: &UndoArgs, id: &str, source: &str) -> anyhow::Result<Exit> {
    let store = Store::open(&args.state.state)?;
    let Some(account) = store.account_status(id, source).await? else {
        eprintln!("mailshift: no migration {id} with source address {source}");
        return Ok(Exit::NotFound);
    };
    match account.state.as_str() {
        "undone" => {
            println!("{id} was already undone; nothing to do");
            return Ok(Exit::Success);
        }
        "queued" | "running" | "undoing" => {
            eprintln!(
                "mailshift: {id} is {}; undo is possible once it has finished (cancel it first)",
                account.state
            );
            return Ok(Exit::Invalid);
        }
        _ => {}
    }
    let manifest_path = args
        .manifest
        .clone()
        .or_else(|| account.manifest.as_ref().map(PathBuf::from))
        .context(
            "The state database does not say which manifest the batch ran from: give --manifest",
        )?;
    let mut plan = match batch_plan(&manifest_path) {
        Ok(plan) => plan,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            eprintln!(
                "mailshift: {} is needed for the destination's credential and is not valid; \
                 give --manifest, or undo --from the undo manifest with --password-env",
                manifest_path.display()
            );
            return Ok(Exit::Invalid);
        }
    };
    if let Err(failed) = plan::autodetect::resolve_from_env(&mut plan).await {
        eprintln!("mailshift: {failed}");
        return Ok(Exit::Invalid);
    }
    let Some(planned) = plan.account(&account.source, &account.destination) else {
        anyhow::bail!(
            "{} no longer has the account {} -> {}: give --manifest",
            manifest_path.display(),
            account.source,
            account.destination
        );
    };
    let destination = undo::destination_of(planned)
        .with_context(|| format!("The destination of {id} has no server"))?;
    let credential = planned.destination.credential.clone();
    let created = store.created_mail(account.key).await?;
    let sieve = undo::sieve_of(&store, planned, account.key).await?;
    let contacts = undo::contacts_of(&store, planned, account.key).await?;
    let calendars = undo::calendars_of(&store, planned, account.key).await?;
    let manifest = UndoManifest::new(&account, destination, created)
        .with_sieve(sieve)
        .with_contacts(contacts)
        .with_calendars(calendars);
    if let Err(refused) = manifest.check_window(chrono::Utc::now()) {
        eprintln!("mailshift: {refused}");
        return Ok(Exit::Invalid);
    }
    store
        .set_account_state(account.key, AccountState::Undoing, None, None)
        .await?;
    match execute(&manifest, &credential).await {
        Ok(outcome) => {
            store.forget_mail(account.key).await?;
            store.forget_sieve(account.key).await?;
            store.forget_dav(account.key, DavArea::Contacts).await?;
            store.forget_dav(account.key, DavArea::Calendars).await?;
            store
                .set_account_state(account.key, AccountState::Undone, None, None)
                .await?;
            print_outcome(&manifest, &outcome);
            let record = BatchRecord {
                id: account.batch_key,
                public_id: account.batch_id.clone(),
            };
            let dir = batch::report_dir(&args.reports, &account.batch);
            batch::publish_report(&store, &record, &dir).await?;
            if let Some(undone) = store.account_status(id, source).await? {
                batch::notify::undone(&plan, &store, &undone).await;
            }
            Ok(Exit::Success)
        }
        Err(error) => {
            // Back to where it was: the undo can be tried again.
            let state = match account.state.as_str() {
                "failed" => AccountState::Failed,
                "cancelled" => AccountState::Cancelled,
                "completed_with_errors" => AccountState::CompletedWithErrors,
                "interrupted" => AccountState::Interrupted,
                _ => AccountState::Completed,
            };
            store
                .set_account_state(account.key, state, None, account.error.clone())
                .await?;
            eprintln!("mailshift: undo of {id} failed: {error:#}");
            Ok(Exit::AccountsFailed)
        }
    }
}

/// The plan of the manifest a batch ran from. A YAML of defaults alone is
/// read through the same-stem CSV (or imapsync, OMM file) it gives its
/// defaults to, as the run read it: that is where the accounts are.
fn batch_plan(path: &std::path::Path) -> Result<crate::plan::Plan, crate::manifest::Diagnostics> {
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

/// Undo from an undo manifest alone.
async fn from_file(args: &UndoArgs, file: &std::path::Path) -> anyhow::Result<Exit> {
    let manifest = UndoManifest::read(file)?;
    if let Err(refused) = manifest.check_window(chrono::Utc::now()) {
        eprintln!("mailshift: {refused}");
        return Ok(Exit::Invalid);
    }
    let credential = match (
        &args.password_env,
        manifest.destination.credential.credential(),
    ) {
        (Some(var), _) => Credential::PasswordEnv(var.clone()),
        (None, Some(credential)) => credential,
        (None, None) => {
            eprintln!(
                "mailshift: the destination's password was given inline and is not in {}; \
                 give it with --password-env VAR",
                file.display()
            );
            return Ok(Exit::Invalid);
        }
    };
    match execute(&manifest, &credential).await {
        Ok(outcome) => {
            print_outcome(&manifest, &outcome);
            Ok(Exit::Success)
        }
        Err(error) => {
            eprintln!(
                "mailshift: undo of {} failed: {error:#}",
                manifest.migration_id
            );
            Ok(Exit::AccountsFailed)
        }
    }
}

/// What undo did: mail, Sieve scripts when a Sieve stage ran, contacts
/// and calendars when their stages ran.
struct Outcome {
    mail: UndoOutcome,
    sieve: Option<SieveUndoOutcome>,
    contacts: Option<DavUndoOutcome>,
    calendars: Option<DavUndoOutcome>,
}

/// Logs in to the destination and removes what the migration created.
async fn execute(manifest: &UndoManifest, credential: &Credential) -> anyhow::Result<Outcome> {
    let destination = &manifest.destination;
    let login = || async {
        credential
            .login(&destination.user)
            .await
            .with_context(|| format!("The credential of {}", destination.user))
    };
    // Nothing to remove from the mailbox (no mail stage, or one that
    // created nothing): the IMAP server is not needed.
    let outcome = if manifest.mail.is_empty() {
        UndoOutcome::default()
    } else {
        let (user, auth) = login().await?;
        let config = destination.server.imap(&user, auth, TIMEOUT);
        let mut session = Session::connect(&config).await?;
        let outcome = undo::mail::undo(&mut session, &manifest.mail).await?;
        session.logout().await.ok();
        outcome
    };
    let sieve = match &manifest.sieve {
        Some(sieve) => {
            let (user, auth) = login().await?;
            let mut session = undo::sieve::connect(sieve, &user, auth).await?;
            let outcome = undo::sieve::undo(&mut session, sieve).await?;
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
                Some(undo::dav::undo(&created, &user, auth).await?)
            }
            None => None,
        });
    }
    let calendars = dav.pop().flatten();
    let contacts = dav.pop().flatten();
    Ok(Outcome {
        mail: outcome,
        sieve,
        contacts,
        calendars,
    })
}

fn print_outcome(manifest: &UndoManifest, outcome: &Outcome) {
    let Outcome {
        mail: outcome,
        sieve,
        contacts,
        calendars,
    } = outcome;
    println!(
        "{} undone: {} messages removed from {}, {} folders removed",
        manifest.migration_id,
        outcome.messages_removed,
        manifest.destination.email,
        outcome.folders_removed.len()
    );
    for left in &outcome.left {
        println!("  not undone: {left}");
    }
    if let Some(sieve) = sieve {
        println!(
            "  Sieve scripts: {} deleted, {} restored{}",
            sieve.deleted.len(),
            sieve.restored.len(),
            match &sieve.activated {
                Some(Some(name)) => format!(", {name} active again"),
                Some(None) => ", none active (as before)".to_owned(),
                None => String::new(),
            }
        );
        for left in &sieve.left {
            println!("  not undone: {left}");
        }
    }
    for (dav, words) in [
        (contacts, ["Contacts", "vCards", "address books"]),
        (calendars, ["Calendars", "calendar objects", "calendars"]),
    ] {
        let Some(dav) = dav else { continue };
        let [area, items, collections] = words;
        println!(
            "  {area}: {} {items} deleted, {} {collections} deleted",
            dav.items_deleted,
            dav.collections_deleted.len()
        );
        for left in &dav.left {
            println!("  not undone: {left}");
        }
    }
}
