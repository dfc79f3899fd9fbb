//! `mailshift run`: one batch in the foreground, from start (or from where
//! it stopped) to end.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::Exit;
use crate::batch::{self, BatchError, Services};
use crate::engine::{self, AccountOutcome, BatchOutcome, EngineOptions};
use crate::manifest::Severity;
use crate::plan;
use crate::stages::context::limits::Shared;
use crate::store::{StateLocation, Store};
use crate::vocabulary::AccountState;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The manifest file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The state database: checkpoints, migration IDs, status. Running the
    /// same manifest against the same database resumes or does an
    /// incremental pass; it never starts a duplicate batch. An SQLite file,
    /// or a PostgreSQL URL (`postgres://user:password@host/db`).
    #[arg(long, env = "MAILSHIFT_STATE", default_value = "mailshift.db")]
    pub state: StateLocation,
    /// Where reports go: `DIR/<batch>/report.json`, `report.html`, and
    /// `undo/<migration ID>.json` for every account.
    #[arg(long, env = "MAILSHIFT_REPORTS", default_value = "reports")]
    pub reports: PathBuf,
    /// Every warning is an error (columns mailshift does not know, ...):
    /// nothing runs while there is one.
    #[arg(long)]
    pub strict: bool,
    /// Run the valid accounts and list the invalid ones (each with its row,
    /// field and reason) instead of running nothing. Errors of the batch's
    /// own settings still stop it.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Copy again these accounts (migration IDs) that were undone; an
    /// undone account is otherwise left as it is, and `run` says so.
    #[arg(long, value_name = "ID", num_args = 1..)]
    pub redo: Vec<String>,
    /// Queue the batch for `mailshift worker`s instead of running it
    /// here: its accounts are recorded (each with its migration ID) and
    /// the workers sharing the state database run them, reading the
    /// manifest from this same path.
    #[arg(long)]
    pub queue: bool,
}

/// Runs the batch a manifest describes.
pub fn run(args: &RunArgs) -> anyhow::Result<Exit> {
    let checked = match super::check_file(&args.file, args.strict) {
        Ok(checked) if checked.can_run(args.skip_invalid) => checked,
        Ok(checked) => {
            let exit = invalid(&args.file, &checked.diagnostics);
            if !checked.plan.accounts.is_empty() && !args.skip_invalid {
                eprintln!(
                    "--skip-invalid runs the {} valid accounts",
                    checked.plan.accounts.len()
                );
            }
            return Ok(exit);
        }
        Err(diagnostics) => return Ok(invalid(&args.file, &diagnostics)),
    };
    for warning in checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
    {
        tracing::warn!("{warning}");
    }
    if !checked.rejected.is_empty() {
        eprintln!(
            "{}: {} of {} accounts are invalid and skipped:",
            args.file.display(),
            checked.rejected.len(),
            checked.rejected.len() + checked.plan.accounts.len()
        );
        for rejected in &checked.rejected {
            eprintln!("skipped {rejected}");
        }
    }
    let services = Services {
        store: Store::open(&args.state)?,
        reports: args.reports.clone(),
        options: EngineOptions::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Starting the async runtime")?;
    if args.queue {
        return runtime.block_on(queue(checked.plan, &services, &args.redo));
    }
    let result = runtime.block_on(async {
        let plan = plan::autodetect::resolve_from_env(checked.plan).await?;
        let shutdown = CancellationToken::new();
        engine::stop_on_signals(shutdown.clone());
        let shared = Arc::new(Shared::new(&plan.limits));
        batch::run(&plan, &services, shared, shutdown, &args.redo).await
    });
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(BatchError::Unresolved(failed)) => {
            eprintln!(
                "{failed}\n{}: autodetect failed, nothing was run",
                args.file.display()
            );
            return Ok(Exit::Invalid);
        }
        Err(busy @ BatchError::Busy { .. }) => {
            eprintln!("mailshift: {busy}");
            return Ok(Exit::Busy);
        }
        Err(refused @ BatchError::AdminRefused(_)) => {
            eprintln!("mailshift: {refused}; no account was started");
            return Ok(Exit::AccountsFailed);
        }
        Err(BatchError::Other(error)) => return Err(error),
    };
    print_outcome(&outcome)?;
    println!("state round trips: {}", services.store.round_trips());
    Ok(if outcome.all_succeeded() {
        Exit::Success
    } else {
        Exit::AccountsFailed
    })
}

/// Queues the batch for workers and says what it queued.
async fn queue(plan: plan::Plan, services: &Services, redo: &[String]) -> anyhow::Result<Exit> {
    let plan = match plan::autodetect::resolve_from_env(plan).await {
        Ok(plan) => plan,
        Err(failed) => {
            eprintln!("{failed}\nautodetect failed, nothing was queued");
            return Ok(Exit::Invalid);
        }
    };
    let (batch, plan, accounts) = batch::enqueue(&plan, services, redo).await?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "batch {}: {} accounts queued for workers",
        batch.public_id,
        accounts.len()
    )?;
    for (account, account_plan) in accounts.iter().zip(&plan.accounts) {
        writeln!(
            out,
            "{}  {} -> {}  queued",
            account.migration_id, account_plan.source.email, account_plan.destination.email
        )?;
    }
    Ok(Exit::Success)
}

/// Says why nothing runs.
fn invalid(file: &std::path::Path, diagnostics: &crate::manifest::Diagnostics) -> Exit {
    eprintln!("{diagnostics}");
    eprintln!("{}: invalid, nothing was run", file.display());
    Exit::Invalid
}

fn print_outcome(outcome: &BatchOutcome) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let failed = outcome
        .accounts
        .iter()
        .filter(|a| a.state != AccountState::Completed)
        .count();
    writeln!(
        out,
        "batch {}: {} accounts, {} completed, {} not completed",
        outcome.batch_id,
        outcome.accounts.len(),
        outcome.accounts.len() - failed,
        failed
    )?;
    for account in &outcome.accounts {
        writeln!(out, "{}", account_line(account))?;
    }
    Ok(())
}

fn account_line(account: &AccountOutcome) -> String {
    let c = &account.counts;
    let mut line = format!(
        "{}  {} -> {}  {}  found {}, copied {}, present {}, skipped {}, failed {}, {:.1} MiB",
        account.migration_id,
        account.source,
        account.destination,
        account.state.as_str(),
        c.found,
        c.copied,
        c.present,
        c.skipped,
        c.failed,
        c.bytes as f64 / (1024.0 * 1024.0)
    );
    if c.altered > 0 {
        line.push_str(&format!(", stored altered by the server: {}", c.altered));
    }
    if c.label_copies_avoided > 0 {
        line.push_str(&format!(
            ", labelled copies avoided: {}",
            c.label_copies_avoided
        ));
    }
    if let Some(error) = &account.error {
        line.push_str("\n    ");
        line.push_str(error);
    }
    line
}
