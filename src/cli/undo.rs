//! `mailshift undo`: put a destination back as it was before a migration.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::Exit;
use super::status::StateArg;
use crate::plan::Credential;
use crate::store::Store;
use crate::undo::UndoManifest;
use crate::undo::run::{self, AccountUndo, Outcome};

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
    let undone = run::account(&store, id, source, args.manifest.as_deref(), &args.reports).await?;
    Ok(match undone {
        AccountUndo::NotFound => {
            eprintln!("mailshift: no migration {id} with source address {source}");
            Exit::NotFound
        }
        AccountUndo::AlreadyUndone => {
            println!("{id} was already undone; nothing to do");
            Exit::Success
        }
        AccountUndo::NotFinished(state) => {
            eprintln!(
                "mailshift: {id} is {state}; undo is possible once it has finished (cancel it first)"
            );
            Exit::Invalid
        }
        AccountUndo::NoManifest => anyhow::bail!(
            "The state database does not say which manifest the batch ran from: give --manifest"
        ),
        AccountUndo::InvalidManifest(path, diagnostics) => {
            eprintln!("{diagnostics}");
            eprintln!(
                "mailshift: {} is needed for the destination's credential and is not valid; \
                 give --manifest, or undo --from the undo manifest with --password-env",
                path.display()
            );
            Exit::Invalid
        }
        AccountUndo::Unresolved(failed) | AccountUndo::TooLate(failed) => {
            eprintln!("mailshift: {failed}");
            Exit::Invalid
        }
        AccountUndo::Undone(manifest, outcome) => {
            print_outcome(&manifest, &outcome);
            Exit::Success
        }
        AccountUndo::Failed(error) => {
            eprintln!("mailshift: undo of {id} failed: {error:#}");
            Exit::AccountsFailed
        }
    })
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
    match run::execute(&manifest, &credential).await {
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
