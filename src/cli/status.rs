//! `mailshift status`, `list` and `cancel`: reading and steering batches
//! through the state database, from any process.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::{Exit, OutputFormat};
use crate::store::batches::BatchRecord;
use crate::store::status::{AccountStatus, BatchStatus, CancelOutcome};
use crate::store::{StateLocation, Store};

/// The state database option every command that reads it shares.
#[derive(Debug, Args)]
pub struct StateArg {
    /// The state database: an SQLite file, or a PostgreSQL URL
    /// (`postgres://user:password@host/db`).
    #[arg(long, env = "MAILSHIFT_STATE", default_value = "mailshift.db")]
    pub state: StateLocation,
}

/// Which migration (ID and source address) or which batch.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["id", "batch"]))]
pub struct Target {
    /// The migration ID (give `--source` too).
    #[arg(value_name = "ID", requires = "source")]
    pub id: Option<String>,
    /// The account's source email address.
    #[arg(long, value_name = "EMAIL")]
    pub source: Option<String>,
    /// A whole batch, by its batch ID, instead.
    #[arg(long, value_name = "BATCH_ID", conflicts_with = "id")]
    pub batch: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: Target,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub state: StateArg,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub state: StateArg,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub state: StateArg,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The migration ID.
    #[arg(value_name = "ID")]
    pub id: String,
    /// The account's source email address.
    #[arg(long, value_name = "EMAIL")]
    pub source: String,
    #[command(flatten)]
    pub state: StateArg,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The batch ID, or the batch's name.
    #[arg(value_name = "BATCH")]
    pub batch: String,
    /// Where report folders go.
    #[arg(long, env = "MAILSHIFT_REPORTS", default_value = "reports")]
    pub reports: PathBuf,
    #[command(flatten)]
    pub state: StateArg,
}

impl StateArg {
    /// The state database, if there is one: reading commands never create
    /// an empty one, they say where they looked.
    pub fn open_existing(&self) -> anyhow::Result<Option<Store>> {
        if let Some(file) = self.state.file()
            && !file.exists()
        {
            eprintln!(
                "mailshift: there is no state database at {} (give --state, or set \
                 MAILSHIFT_STATE, to read another)",
                file.display()
            );
            return Ok(None);
        }
        Ok(Some(Store::open(&self.state)?))
    }
}

/// Runs a future on a small runtime: these commands do little I/O.
pub fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("Starting the async runtime")?;
    Ok(runtime.block_on(future))
}

/// The answer when an ID and an address do not match: the same whether
/// the ID exists or not, so that IDs cannot be probed.
fn not_found(id: &str, source: &str) -> Exit {
    eprintln!("mailshift: no migration {id} with source address {source}");
    Exit::NotFound
}

pub fn status(args: &StatusArgs) -> anyhow::Result<Exit> {
    let Some(store) = args.state.open_existing()? else {
        return Ok(Exit::NotFound);
    };
    let mut out = std::io::stdout().lock();
    if let Some(batch) = &args.target.batch {
        let batches = block_on(store.batches(Some(batch.clone())))??;
        let Some(batch_status) = batches.first() else {
            eprintln!("mailshift: no batch {batch}");
            return Ok(Exit::NotFound);
        };
        match args.format {
            OutputFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(batch_status)?)?,
            OutputFormat::Text => write_batch(&mut out, batch_status)?,
        }
        return Ok(Exit::Success);
    }
    let (Some(id), Some(source)) = (&args.target.id, &args.target.source) else {
        return Ok(Exit::Invalid);
    };
    let Some(account) = block_on(store.account_status(id, source))?? else {
        return Ok(not_found(id, source));
    };
    match args.format {
        OutputFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&account)?)?,
        OutputFormat::Text => write_account(&mut out, &account)?,
    }
    Ok(Exit::Success)
}

pub fn list(args: &ListArgs) -> anyhow::Result<Exit> {
    let Some(store) = args.state.open_existing()? else {
        return Ok(Exit::NotFound);
    };
    let batches = block_on(store.batches(None))??;
    let mut out = std::io::stdout().lock();
    match args.format {
        OutputFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&batches)?)?,
        OutputFormat::Text => {
            for (i, batch) in batches.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                write_batch(&mut out, batch)?;
            }
        }
    }
    Ok(Exit::Success)
}

pub fn report(args: &ReportArgs) -> anyhow::Result<Exit> {
    let Some(store) = args.state.open_existing()? else {
        return Ok(Exit::NotFound);
    };
    // The batch ID, else the batch's name.
    let mut batches = block_on(store.batches(Some(args.batch.clone())))??;
    if batches.is_empty()
        && let Some(named) = block_on(store.batch_named(&args.batch))??
    {
        batches = block_on(store.batches(Some(named.public_id)))??;
    }
    let Some(batch) = batches.first() else {
        eprintln!("mailshift: no batch {}", args.batch);
        return Ok(Exit::NotFound);
    };
    let Some(key) = block_on(store.batch_key(batch.batch_id.clone()))?? else {
        return Ok(Exit::NotFound);
    };
    let record = BatchRecord {
        id: key,
        public_id: batch.batch_id.clone(),
    };
    let dir = crate::report::dir(&args.reports, &batch.name);
    block_on(crate::report::publish(&store, &record, &dir))??;
    println!("{}", dir.join("report.html").display());
    Ok(Exit::Success)
}

pub fn cancel(args: &CancelArgs) -> anyhow::Result<Exit> {
    let Some(store) = args.state.open_existing()? else {
        return Ok(Exit::NotFound);
    };
    if let Some(batch) = &args.target.batch {
        return Ok(match block_on(store.request_cancel_batch(batch))?? {
            None => {
                eprintln!("mailshift: no batch {batch}");
                Exit::NotFound
            }
            Some(n) => {
                println!(
                    "cancel requested for {n} unfinished accounts of batch {batch}: \
                     each stops at its next checkpoint and skips the remaining stages"
                );
                Exit::Success
            }
        });
    }
    let (Some(id), Some(source)) = (&args.target.id, &args.target.source) else {
        return Ok(Exit::Invalid);
    };
    Ok(match block_on(store.request_cancel(id, source))?? {
        CancelOutcome::NotFound => not_found(id, source),
        CancelOutcome::Requested => {
            println!(
                "cancel requested for {id}: copying stops at the next checkpoint, the remaining stages are skipped"
            );
            Exit::Success
        }
        CancelOutcome::AlreadyFinished => {
            println!("{id} has already finished; nothing to cancel");
            Exit::Success
        }
    })
}

pub fn resume(args: &ResumeArgs) -> anyhow::Result<Exit> {
    let Some(store) = args.state.open_existing()? else {
        return Ok(Exit::NotFound);
    };
    let (id, source) = (&args.id, &args.source);
    Ok(match block_on(store.lift_cancel(id, source))?? {
        None => not_found(id, source),
        Some(true) => {
            println!(
                "cancel lifted for {id}: the next run of its batch (or the daemon) carries on \
                 from where it stopped"
            );
            Exit::Success
        }
        Some(false) => {
            println!("{id} was not cancelled; nothing to lift");
            Exit::Success
        }
    })
}

fn write_batch(out: &mut impl Write, batch: &BatchStatus) -> std::io::Result<()> {
    writeln!(
        out,
        "batch {} ({})  {}  created {}  last change {}",
        batch.name,
        batch.batch_id,
        batch.state,
        batch.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        batch.updated_at.format("%Y-%m-%d %H:%M:%S UTC")
    )?;
    for account in &batch.accounts {
        let stage = account
            .stage
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        writeln!(
            out,
            "  {}  {} -> {}  {}{stage}",
            account.migration_id, account.source, account.destination, account.state
        )?;
    }
    Ok(())
}

fn write_account(out: &mut impl Write, a: &AccountStatus) -> std::io::Result<()> {
    let when = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let at = |server: &Option<String>| {
        server
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default()
    };
    writeln!(out, "Migration ID   {}", a.migration_id)?;
    writeln!(out, "Batch          {} ({})", a.batch, a.batch_id)?;
    writeln!(out, "Source         {}{}", a.source, at(&a.source_server))?;
    writeln!(
        out,
        "Destination    {}{}",
        a.destination,
        at(&a.destination_server)
    )?;
    writeln!(out, "Created        {}", when(&a.created_at))?;
    writeln!(out, "Last change    {}", when(&a.updated_at))?;
    let stage = a
        .stage
        .as_deref()
        .map(|s| format!(", stage {s}"))
        .unwrap_or_default();
    let cancel = if a.cancel_requested {
        ", cancel requested"
    } else {
        ""
    };
    writeln!(out, "State          {}{stage}{cancel}", a.state)?;
    if let Some(until) = &a.undo_until {
        writeln!(out, "Undo allowed   until {}", when(until))?;
    }
    if let Some(error) = &a.error {
        writeln!(out, "Error          {error}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<15} {:<12} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9} {:>10}",
        "stage", "state", "found", "copied", "present", "skipped", "failed", "MiB", "MiB/s"
    )?;
    for s in &a.stages {
        let mib = s.bytes as f64 / (1024.0 * 1024.0);
        let rate = match (s.started_at, s.finished_at) {
            (Some(start), Some(end)) if end > start => {
                format!("{:.2}", mib / (end - start).num_seconds() as f64)
            }
            _ => "-".to_owned(),
        };
        writeln!(
            out,
            "{:<15} {:<12} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9.1} {:>10}",
            s.kind, s.state, s.found, s.copied, s.present, s.skipped, s.failed, mib, rate
        )?;
    }
    for s in a.stages.iter().filter(|s| s.altered > 0) {
        writeln!(out)?;
        writeln!(
            out,
            "{}: stored altered by the server: {}",
            s.kind, s.altered
        )?;
    }
    for s in a.stages.iter() {
        if let Some(mode) = &s.label_mode {
            writeln!(out)?;
            writeln!(
                out,
                "{}: label-aware source, labels {mode}; labelled copies avoided: {}",
                s.kind, s.label_copies_avoided
            )?;
        }
    }
    if !a.item_errors.is_empty() {
        writeln!(out)?;
        writeln!(out, "Errors ({}):", a.item_errors.len())?;
        for e in &a.item_errors {
            writeln!(out, "  {}  {}: {}", e.stage, e.item, e.reason)?;
        }
    }
    Ok(())
}
