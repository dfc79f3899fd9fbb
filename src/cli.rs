//! The command line: arguments, output, exit codes. No migration logic
//! lives here; each command calls the library and prints what it returns.
//!
//! A new command is a variant of [`Command`], an `Args` struct, and one
//! function returning [`Exit`], dispatched in [`run`].

#[macro_use]
mod exit;

mod check;
mod detect;
mod purge;
mod run;
mod serve;
mod status;
mod undo;
mod watch;
mod worker;

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::manifest::{self, Diagnostics};
use crate::plan::{self, AccountPlan, Checked, Endpoint, Plan};
use crate::vocabulary::TlsMode;
pub use exit::Exit;

/// Every exit code, for the help of `mailshift` itself.
const EXIT_CODES: &str = exit_codes!(0, 1, 2, 3, 4, 5);

/// mailshift moves whole mailboxes from one provider to another, for many
/// accounts at once, from a manifest file.
#[derive(Debug, Parser)]
#[command(name = "mailshift", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// How log lines (on standard error) look: `json` for log collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line.
    Json,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests and report every problem, each with its place.
    ///
    /// A manifest is a YAML file, a CSV with one account per row, an
    /// imapsync batch file or an OVH Mail Migrator project CSV. Every error
    /// is reported at once, as `file:line:column` (YAML) or `file: row N,
    /// column NAME` (CSV). Nothing is contacted.
    #[command(after_help = exit_codes!(0, 2, 3))]
    Validate(ValidateArgs),
    /// Show what a manifest will do: each account with its endpoints after
    /// defaults, the stages it will run, and the accounts rejected and why.
    ///
    /// Secrets are never shown: only where each one comes from.
    #[command(after_help = exit_codes!(0, 1_check, 2, 3))]
    Plan(PlanArgs),
    /// Show the server settings autodetect finds for email addresses, and
    /// where they come from (provider table, autoconfig, DNS SRV, MX).
    #[command(after_help = detect::DETECT_HELP)]
    Detect(detect::DetectArgs),
    /// Run a batch: migrate every account of a manifest, concurrently.
    ///
    /// Every step is checkpointed in the state database: after a crash, a
    /// reboot or a kill, the same command resumes where it stopped and
    /// copies nothing twice. Run again after completion, it does an
    /// incremental pass (new messages, changed flags). Prints one line per
    /// account with its migration ID.
    #[command(after_help = exit_codes!(0, 1, 2, 3, 5))]
    Run(run::RunArgs),
    /// Show where a migration stands: its ID, creation date, last change,
    /// state and stage, per-stage counts and rate, and every error.
    ///
    /// Give the migration ID and the account's source address (both must
    /// match), or `--batch ID` for a whole batch.
    #[command(after_help = exit_codes!(0, 2_args, 3, 4))]
    Status(status::StatusArgs),
    /// List the batches in the state database with their accounts.
    #[command(after_help = exit_codes!(0, 2_args, 3, 4_state))]
    List(status::ListArgs),
    /// Cancel a migration: copying stops at the next checkpoint, the
    /// remaining stages are skipped, and what was done is kept. Works on a batch
    /// running in another process; a queued account never starts.
    #[command(after_help = exit_codes!(0, 2_args, 3, 4))]
    Cancel(status::CancelArgs),
    /// Lift the cancel of a migration: the next run of its batch (or the
    /// daemon, for a batch it runs) carries on from its checkpoints.
    #[command(after_help = exit_codes!(0, 2_args, 3, 4))]
    Resume(status::ResumeArgs),
    /// Write a batch's report again (`report.json` and `report.html`) from
    /// the state database.
    #[command(after_help = exit_codes!(0, 2_args, 3, 4))]
    Report(status::ReportArgs),
    /// Forget finished migrations: their state, accepted manifests, undo
    /// data and reports. Only an anonymous line that it happened is kept;
    /// undo is no longer possible afterwards.
    #[command(after_help = exit_codes!(0, 2, 3, 4))]
    Purge(purge::PurgeArgs),
    /// Put the destination back as it was before a migration: remove
    /// exactly the messages and folders it created, nothing else.
    ///
    /// Allowed for a while after the account finished (48 hours unless the
    /// manifest says otherwise). `--from` works from the account's undo
    /// manifest alone, even if the state database is lost.
    #[command(after_help = exit_codes!(0, 1_undo, 2_undo, 3, 4))]
    Undo(undo::UndoArgs),
    /// Watch a folder: every manifest dropped there is checked, accepted
    /// (or rejected with its errors) and run; kill it and start it again,
    /// and it resumes where it was.
    #[command(after_help = exit_codes!(0, 2, 3))]
    Watch(watch::WatchArgs),
    /// Run the accounts of batches queued in a shared state database
    /// (`run --queue`, `watch --no-run`), beside any number of other
    /// workers on any number of machines.
    ///
    /// Each account is claimed under a lease renewed every second: a
    /// worker that dies loses its accounts to the others, which resume
    /// them from their checkpoints. SIGTERM or SIGINT: accounts in flight
    /// stop at their next checkpoint and are given back. Prints, when it
    /// stops, the accounts it ran and its round trips to the database.
    #[command(after_help = exit_codes!(0, 3))]
    Worker(worker::WorkerArgs),
    /// Serve the status pages over the state database: the end user's page
    /// (migration ID and source address: live status, Cancel, Undo), the
    /// admin dashboard and the JSON API under `/api/v1`.
    ///
    /// Prints the URL it listens on, then serves until stopped.
    #[command(after_help = exit_codes!(0, 2_args, 3, 4_state))]
    Serve(serve::ServeArgs),
    /// Print the hash of an admin password, for `admin_password_hash` in
    /// the `web:` section of the daemon configuration.
    ///
    /// Reads the password from the terminal (twice, not echoed) or from
    /// the first line of standard input.
    #[command(after_help = exit_codes!(0, 2_args, 3))]
    HashPassword(serve::HashPasswordArgs),
}

/// How to print results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Lines for people.
    Text,
    /// One JSON document for programs.
    Json,
}

/// `mailshift validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Manifest files (YAML, CSV, imapsync batch file, OMM project CSV).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Every warning is an error (columns mailshift does not know, ...).
    #[arg(long)]
    pub strict: bool,
}

/// `mailshift plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The manifest file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Preflight: log in to every source and destination (changing
    /// nothing) and report, per account, whether it is ready, what there
    /// is to migrate and how long it should take. Exit code 0 only if
    /// every account is ready, else 1.
    #[arg(long)]
    pub check: bool,
    /// Every warning is an error (columns mailshift does not know, ...).
    #[arg(long)]
    pub strict: bool,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Exit {
    let result = match &cli.command {
        Command::Validate(args) => validate(args),
        Command::Plan(args) => plan(args),
        Command::Detect(args) => detect::detect(args),
        Command::Run(args) => run::run(args),
        Command::Status(args) => status::status(args),
        Command::List(args) => status::list(args),
        Command::Cancel(args) => status::cancel(args),
        Command::Resume(args) => status::resume(args),
        Command::Report(args) => status::report(args),
        Command::Purge(args) => purge::purge(args),
        Command::Undo(args) => undo::undo(args),
        Command::Watch(args) => watch::watch(args),
        Command::Worker(args) => worker::worker(args),
        Command::Serve(args) => serve::serve(args),
        Command::HashPassword(args) => serve::hash_password(args),
    };
    match result {
        Ok(exit) => exit,
        Err(e) if is_broken_pipe(&e) => Exit::Success,
        Err(e) => {
            eprintln!("mailshift: internal error: {e:#}");
            Exit::Internal
        }
    }
}

/// Sends logs to standard error, filtered by `MAILSHIFT_LOG`, else
/// `RUST_LOG`, else warnings only (information for the daemon).
pub fn init_logging(cli: &Cli) {
    // The daemon says what it accepts and runs; commands only warn.
    let default = match cli.command {
        Command::Watch(_) | Command::Worker(_) => "info",
        _ => "warn",
    };
    let filter = std::env::var("MAILSHIFT_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default.to_owned());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // The progress line, when drawn, is cleared before each log line.
        .with_writer(crate::stages::context::progress::LogWriter)
        // A closed stderr (the daemon's log pipe gone) must not turn a log
        // line into a panic: the signal handler logs before it stops.
        .log_internal_errors(false)
        .with_target(false);
    let _ = match cli.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.with_ansi(io::stderr().is_terminal()).try_init(),
    };
}

/// Whether output failed because the reader went away (`| head`): not
/// an error worth reporting.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(io::ErrorKind::BrokenPipe))
    })
}

/// Loads and checks one manifest. `Err` holds the diagnostics of a file
/// that could not be read at all.
/// With `strict`, every warning is an error.
fn check_file(path: &Path, strict: bool) -> Result<Checked, Diagnostics> {
    let manifest = manifest::load(path)?;
    let mut checked = plan::check(&manifest);
    if strict {
        checked.diagnostics.strict();
    }
    Ok(checked)
}

/// What `validate --format json` prints.
#[derive(Serialize)]
struct ValidateReport<'a> {
    valid: bool,
    files: Vec<FileReport<'a>>,
}

/// What `plan --format json` prints.
#[derive(Serialize)]
struct PlanReport<'a> {
    valid: bool,
    /// The plan of the valid accounts; `null` when the file could not be
    /// read at all.
    plan: Option<&'a Plan>,
    rejected: &'a [plan::Rejected],
    diagnostics: &'a Diagnostics,
}

/// The result of validating one file, as `--format json` prints it.
#[derive(Serialize)]
struct FileReport<'a> {
    file: &'a Path,
    valid: bool,
    accounts: usize,
    rejected: usize,
    errors: usize,
    warnings: usize,
    diagnostics: &'a Diagnostics,
}

fn validate(args: &ValidateArgs) -> anyhow::Result<Exit> {
    let mut out = io::stdout().lock();
    let mut reports = Vec::new();
    let mut all_valid = true;
    for path in &args.files {
        tracing::debug!("validating {}", path.display());
        let (checked, diagnostics) = match check_file(path, args.strict) {
            Ok(c) => {
                let d = c.diagnostics.clone();
                (Some(c), d)
            }
            Err(d) => (None, d),
        };
        let valid = !diagnostics.has_errors();
        all_valid &= valid;
        let (accounts, rejected) = checked
            .as_ref()
            .map_or((0, 0), |c| (c.plan.accounts.len(), c.rejected.len()));
        reports.push((path, valid, accounts, rejected, diagnostics));
    }
    match args.format {
        OutputFormat::Json => {
            let files: Vec<FileReport<'_>> = reports
                .iter()
                .map(
                    |(file, valid, accounts, rejected, diagnostics)| FileReport {
                        file,
                        valid: *valid,
                        accounts: *accounts + *rejected,
                        rejected: *rejected,
                        errors: diagnostics.error_count(),
                        warnings: diagnostics.warning_count(),
                        diagnostics,
                    },
                )
                .collect();
            let doc = ValidateReport {
                valid: all_valid,
                files,
            };
            serde_json::to_writer_pretty(&mut out, &doc).context("Writing the report")?;
            writeln!(out)?;
        }
        OutputFormat::Text => {
            for (file, valid, accounts, rejected, diagnostics) in &reports {
                if !diagnostics.is_empty() {
                    writeln!(out, "{diagnostics}")?;
                }
                let total = accounts + rejected;
                let counts = counts(diagnostics);
                if *valid {
                    writeln!(
                        out,
                        "{}: valid, {}{counts}",
                        file.display(),
                        plural(total, "account")
                    )?;
                } else {
                    writeln!(
                        out,
                        "{}: invalid{counts}{}",
                        file.display(),
                        if total > 0 {
                            format!(", {rejected} of {} rejected", plural(total, "account"))
                        } else {
                            String::new()
                        }
                    )?;
                }
            }
        }
    }
    Ok(if all_valid {
        Exit::Success
    } else {
        Exit::Invalid
    })
}

fn counts(diagnostics: &Diagnostics) -> String {
    let mut parts = Vec::new();
    if diagnostics.error_count() > 0 {
        parts.push(plural(diagnostics.error_count(), "error"));
    }
    if diagnostics.warning_count() > 0 {
        parts.push(plural(diagnostics.warning_count(), "warning"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn plan(args: &PlanArgs) -> anyhow::Result<Exit> {
    if args.check {
        return check::check(args);
    }
    let mut out = io::stdout().lock();
    let checked = check_file(&args.file, args.strict);
    let valid = checked.as_ref().is_ok_and(Checked::is_valid);
    match (args.format, &checked) {
        (OutputFormat::Json, _) => {
            let doc = match &checked {
                Ok(checked) => PlanReport {
                    valid,
                    plan: Some(&checked.plan),
                    rejected: &checked.rejected,
                    diagnostics: &checked.diagnostics,
                },
                Err(diagnostics) => PlanReport {
                    valid,
                    plan: None,
                    rejected: &[],
                    diagnostics,
                },
            };
            serde_json::to_writer_pretty(&mut out, &doc).context("Writing the plan")?;
            writeln!(out)?;
        }
        (OutputFormat::Text, Ok(checked)) => write_plan(&mut out, checked)?,
        (OutputFormat::Text, Err(diagnostics)) => {
            writeln!(out, "{diagnostics}")?;
            writeln!(out, "{}: invalid, nothing to plan", args.file.display())?;
        }
    }
    Ok(if valid { Exit::Success } else { Exit::Invalid })
}

fn write_plan(out: &mut impl Write, checked: &Checked) -> io::Result<()> {
    let plan = &checked.plan;
    let sources: Vec<String> = plan
        .sources
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    writeln!(out, "batch {} (from {})", plan.batch, sources.join(", "))?;
    writeln!(out, "  limits       {}", describe_limits(plan))?;
    writeln!(
        out,
        "  undo         allowed for {} hours after an account finishes",
        plan.undo_window.as_secs() / 3600
    )?;
    if !plan.notify.is_empty() {
        writeln!(out, "  notify       {}", plan.notify.join(", "))?;
    }
    for account in &plan.accounts {
        writeln!(out)?;
        write_account(out, account)?;
    }
    for rejected in &checked.rejected {
        writeln!(out)?;
        writeln!(out, "rejected {rejected}")?;
    }
    let warnings: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == manifest::Severity::Warning || d.account.is_none())
        .collect();
    if !warnings.is_empty() {
        writeln!(out)?;
        for d in warnings {
            writeln!(out, "{d}")?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "{} planned, {} rejected{}",
        plural(plan.accounts.len(), "account"),
        checked.rejected.len(),
        counts(&checked.diagnostics)
    )
}

fn describe_limits(plan: &Plan) -> String {
    let l = &plan.limits;
    let mut text = format!(
        "{} at a time, {} per host, {} per account",
        plural(l.concurrent_accounts, "account"),
        plural(l.connections_per_host, "connection"),
        plural(l.connections_per_account, "connection"),
    );
    if let Some(n) = l.messages_per_second {
        text.push_str(&format!(", at most {n} messages/s"));
    }
    if let Some(n) = l.bytes_per_second {
        text.push_str(&format!(", at most {}/s", human_size(n)));
    }
    text
}

fn write_account(out: &mut impl Write, a: &AccountPlan) -> io::Result<()> {
    writeln!(
        out,
        "account {}: {} → {}",
        a.origin, a.source.email, a.destination.email
    )?;
    writeln!(out, "  source       {}", describe_endpoint(&a.source))?;
    writeln!(out, "  destination  {}", describe_endpoint(&a.destination))?;
    let stages: Vec<&str> = a.stages.iter().map(|s| s.name()).collect();
    writeln!(out, "  stages       {}", stages.join(", "))?;
    let rules = describe_mail(&a.mail);
    if !rules.is_empty() {
        writeln!(out, "  mail         {rules}")?;
    }
    if let Some(labels) = a.label_summary() {
        writeln!(out, "  labels       {labels}")?;
    }
    if !a.notify.is_empty() {
        writeln!(out, "  notify       {}", a.notify.join(", "))?;
    }
    writeln!(out, "  error budget {}", a.error_budget)
}

fn describe_endpoint(e: &Endpoint) -> String {
    let mut text = e.kind.name().to_owned();
    if let Some(server) = &e.server {
        let tls = match server.tls {
            TlsMode::Implicit => "TLS",
            TlsMode::StartTls => "STARTTLS",
            TlsMode::None => "no TLS",
        };
        text.push_str(&format!(" {server} ({tls}"));
        if server.accept_invalid_certs {
            text.push_str(", any certificate");
        }
        text.push(')');
    }
    if let Some(path) = &e.path {
        text.push_str(&format!(" {}", path.display()));
    }
    if !e.user.is_empty() {
        text.push_str(&format!(", user {}", e.user));
    }
    if !matches!(e.credential, plan::Credential::None) {
        text.push_str(&format!(", {}", e.credential));
    }
    if let Some(url) = &e.dav_url {
        text.push_str(&format!(", DAV {url}"));
    }
    if let Some(sieve) = &e.sieve {
        text.push_str(&format!(", sieve {sieve}"));
    }
    text
}

/// `25000000` → `25 MB`; sizes that are not round stay in bytes.
fn human_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 8] = [
        (1 << 40, "TiB"),
        (1_000_000_000_000, "TB"),
        (1 << 30, "GiB"),
        (1_000_000_000, "GB"),
        (1 << 20, "MiB"),
        (1_000_000, "MB"),
        (1 << 10, "KiB"),
        (1_000, "KB"),
    ];
    UNITS
        .iter()
        .find(|(unit, _)| bytes >= *unit && bytes.is_multiple_of(*unit))
        .map_or_else(
            || format!("{bytes} bytes"),
            |(unit, name)| format!("{} {name}", bytes / unit),
        )
}

fn describe_mail(m: &plan::MailRules) -> String {
    let mut parts = Vec::new();
    if !m.include.is_empty() {
        parts.push(format!("only {}", m.include.join(", ")));
    }
    if !m.exclude.is_empty() {
        parts.push(format!("skip {}", m.exclude.join(", ")));
    }
    for (from, to) in &m.map {
        parts.push(format!("{from} → {to}"));
    }
    if let Some(since) = m.since {
        parts.push(format!("since {since}"));
    }
    if let Some(before) = m.before {
        parts.push(format!("before {before}"));
    }
    if let Some(size) = m.max_message_size {
        parts.push(format!("messages up to {}", human_size(size)));
    }
    if m.include_deleted {
        parts.push("with \\Deleted messages".to_owned());
    }
    parts.join("; ")
}
