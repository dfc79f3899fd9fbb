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
    let (removed, left) = outcome.summary(&manifest.destination.email);
    let mut lines = removed.iter();
    if let Some(first) = lines.next() {
        println!("{} undone: {first}", manifest.migration_id);
    }
    for line in lines {
        println!("  {line}");
    }
    for line in &left {
        println!("  not undone: {line}");
    }
}
