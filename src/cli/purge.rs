//! `mailshift purge`: forget finished migrations (state, accepted
//! manifests, PST files uploaded on the admin pages with their password
//! files, undo data, reports), keeping only an anonymous line that it
//! happened.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::Exit;
use super::status::{StateArg, Target, block_on};
use crate::store::Store;
use crate::store::batches::BatchRecord;
use crate::store::purge::Purged;
use crate::vocabulary::AccountState;
use crate::{report, web};

#[derive(Debug, Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub target: Target,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Where report folders are.
    #[arg(long, env = "MAILSHIFT_REPORTS", default_value = "reports")]
    pub reports: PathBuf,
    #[command(flatten)]
    pub state: StateArg,
}

/// States in which a migration may still change: not purgeable.
const UNFINISHED: [AccountState; 4] = [
    AccountState::Scheduled,
    AccountState::Queued,
    AccountState::Running,
    AccountState::Undoing,
];

pub fn purge(args: &PurgeArgs) -> anyhow::Result<Exit> {
    let store = Store::open(&args.state.state)?;
    // What would go, checked before anything is asked or done.
    let (batch, accounts) = if let Some(batch_id) = &args.target.batch {
        let Some(batch) = block_on(store.batches(Some(batch_id.clone())))??
            .into_iter()
            .next()
        else {
            eprintln!("mailshift: no batch {batch_id}");
            return Ok(Exit::NotFound);
        };
        let states: Vec<AccountState> = batch.accounts.iter().map(|a| a.state).collect();
        (batch.name, states)
    } else {
        let (Some(id), Some(source)) = (&args.target.id, &args.target.source) else {
            return Ok(Exit::Invalid);
        };
        let Some(account) = block_on(store.account_status(id, source))?? else {
            eprintln!("mailshift: no migration {id} with source address {source}");
            return Ok(Exit::NotFound);
        };
        (account.batch, vec![account.state])
    };
    if accounts.iter().any(|s| UNFINISHED.contains(s)) {
        eprintln!("mailshift: a migration to purge has not finished; cancel it or wait");
        return Ok(Exit::Invalid);
    }
    println!(
        "This deletes everything stored about {} migration(s) of batch {batch}: state, \
         accepted manifests, uploaded PST files, undo data and reports. After a purge, undo \
         is no longer possible.",
        accounts.len()
    );
    if !args.yes && !confirmed()? {
        eprintln!("mailshift: nothing purged (give --yes to confirm without a prompt)");
        return Ok(Exit::Invalid);
    }
    let purged = match (&args.target.batch, &args.target.id, &args.target.source) {
        (Some(batch_id), _, _) => block_on(store.purge_batch(batch_id))??,
        (None, Some(id), Some(source)) => block_on(store.purge_account(id, source))??,
        _ => None,
    };
    let Some(purged) = purged else {
        return Ok(Exit::NotFound);
    };
    remove_files(&store, args, &batch, &purged)?;
    println!(
        "purged {} migration(s); undo is no longer possible",
        purged.migration_ids.len()
    );
    Ok(Exit::Success)
}

/// Asks on the terminal; without one, the answer is no.
fn confirmed() -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    print!("Type yes to go on: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// Removes the files of what was purged, and rewrites what remains.
fn remove_files(
    store: &Store,
    args: &PurgeArgs,
    batch: &str,
    purged: &Purged,
) -> anyhow::Result<()> {
    let dir = report::dir(&args.reports, batch);
    if purged.batch_removed.is_some() {
        remove_dir(&dir)?;
        for (job, manifest) in &purged.jobs {
            // A PST uploaded on the admin pages, with its password file.
            for upload in web::upload_folders(Path::new(manifest)) {
                remove_dir(&upload)?;
            }
            remove_dir(Path::new(job))?;
        }
        return Ok(());
    }
    for id in &purged.migration_ids {
        let file = dir.join("undo").join(format!("{id}.json"));
        if file.exists() {
            std::fs::remove_file(&file)?;
        }
    }
    // The batch's report no longer lists the purged accounts.
    let batches = block_on(store.batches(None))??;
    if let Some(status) = batches.into_iter().find(|b| b.name == batch)
        && let Some(key) = block_on(store.batch_key(status.batch_id.clone()))??
    {
        let record = BatchRecord {
            id: key,
            public_id: status.batch_id,
        };
        block_on(report::publish(store, &record, &dir))??;
    }
    Ok(())
}

fn remove_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}
