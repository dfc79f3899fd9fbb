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
use crate::engine::limits::Shared;
use crate::engine::{self, AccountOutcome, BatchOutcome, EngineOptions};
use crate::plan;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The manifest file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The state database: checkpoints, migration IDs, status. Running the
    /// same manifest against the same database resumes or does an
    /// incremental pass; it never starts a duplicate batch.
    #[arg(long, env = "MAILSHIFT_STATE", default_value = "mailshift.db")]
    pub state: PathBuf,
    /// Where reports go: `DIR/<batch>/report.json`, `report.html`, and
    /// `undo/<migration ID>.json` for every account.
    #[arg(long, env = "MAILSHIFT_REPORTS", default_value = "reports")]
    pub reports: PathBuf,
    /// Every warning is an error (columns mailshift does not know, ...):
    /// nothing runs while there is one.
    #[arg(long)]
    pub strict: bool,
    /// Copy again these accounts (migration IDs) that were undone; an
    /// undone account is otherwise left as it is, and `run` says so.
    #[arg(long, value_name = "ID", num_args = 1..)]
    pub redo: Vec<String>,
}

/// Runs the batch a manifest describes.
pub fn run(args: &RunArgs) -> anyhow::Result<Exit> {
    if args.strict {
        let problems = match super::check_file(&args.file, true) {
            Ok(checked) => checked.diagnostics,
            Err(diagnostics) => diagnostics,
        };
        if problems.has_errors() {
            eprintln!("{problems}");
            eprintln!("{}: invalid, nothing was run", args.file.display());
            return Ok(Exit::Invalid);
        }
    }
    let mut plan = match plan::from_file(&args.file) {
        Ok(plan) => plan,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            eprintln!("{}: invalid, nothing was run", args.file.display());
            return Ok(Exit::Invalid);
        }
    };
    if let Err(failed) = plan::autodetect::resolve_blocking(&mut plan) {
        eprintln!(
            "{failed}\n{}: autodetect failed, nothing was run",
            args.file.display()
        );
        return Ok(Exit::Invalid);
    }
    let services = Services {
        store: Store::open(&args.state)?,
        state: args.state.clone(),
        reports: args.reports.clone(),
        options: EngineOptions::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Starting the async runtime")?;
    let result = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        engine::stop_on_signals(shutdown.clone());
        let shared = Arc::new(Shared::new(&plan.limits));
        batch::run(&plan, &services, shared, shutdown, &args.redo).await
    });
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(busy @ BatchError::Busy { .. }) => {
            eprintln!("mailshift: {busy}");
            return Ok(Exit::Busy);
        }
        Err(BatchError::Other(error)) => return Err(error),
    };
    print_outcome(&outcome)?;
    Ok(if outcome.all_succeeded() {
        Exit::Success
    } else {
        Exit::AccountsFailed
    })
}

fn print_outcome(outcome: &BatchOutcome) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let failed = outcome
        .accounts
        .iter()
        .filter(|a| !matches!(a.state.as_str(), "completed"))
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
    if let Some(error) = &account.error {
        line.push_str("\n    ");
        line.push_str(error);
    }
    line
}
