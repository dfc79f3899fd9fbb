//! Preflight: before the night of the migration, log in to every source
//! and destination of a plan and say which accounts are ready, how much
//! there is to move, and how long it should take. Nothing is changed:
//! only LOGIN, LIST, NAMESPACE, STATUS, and (when the destination has an
//! APPENDLIMIT) EXAMINE and a FETCH of message sizes; for calendars,
//! tasks and contacts, PROPFIND on each end's WebDAV home ([`dav`]).
//!
//! Accounts are checked [`PARALLEL_ACCOUNTS`] at a time; connections to
//! one host never exceed the batch's `connections_per_host`. Each account
//! checks its destination first, then its source (mail, then WebDAV),
//! holding one connection at a time, so accounts waiting for a host's
//! slot cannot block each other.

pub mod admins;
pub mod dav;
pub mod estimate;
pub mod probe;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use serde::Serialize;

use crate::engine::limits::Shared;
use crate::plan::autodetect::{Side, Unresolved};
use crate::plan::{AccountPlan, Endpoint, EndpointKind, Plan, StageKind};
use crate::protocols::tls::TlsMode;
use dav::DavReport;
use estimate::{Estimate, Work};
pub use probe::Volume;

/// Accounts checked at the same time.
pub const PARALLEL_ACCOUNTS: usize = 32;

/// How preflight runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Longest wait for a connection, a handshake or an answer.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(15),
        }
    }
}

/// How one endpoint answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// The server refused the login.
    AuthFailed,
    /// No connection, or no answer.
    Unreachable,
    /// The TLS handshake failed, or STARTTLS is not offered.
    TlsError,
    /// The server lacks something a requested option needs.
    CapabilityMissing,
    /// The server answered something unexpected, or a source file is
    /// not what its kind says (truncated, not iCalendar or vCard).
    ProtocolError,
    /// The password or token could not be read.
    CredentialError,
    /// Autodetect found no server for the address.
    AutodetectFailed,
    /// Not a server (a PST file): nothing to log in to.
    NotChecked,
    /// A source file (PST) that cannot be imported: missing, damaged, an
    /// OST, protected by a password.
    FileError,
}

impl Status {
    /// The status in a few words, for the table.
    pub fn describe(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::AuthFailed => "authentication failed",
            Status::Unreachable => "host unreachable",
            Status::TlsError => "TLS problem",
            Status::CapabilityMissing => "capability missing",
            Status::ProtocolError => "protocol error",
            Status::CredentialError => "credential unreadable",
            Status::AutodetectFailed => "autodetect failed",
            Status::NotChecked => "not checked",
            Status::FileError => "file unusable",
        }
    }
}

/// What one endpoint said.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointReport {
    pub status: Status,
    pub email: String,
    pub user: String,
    /// `host:port`, once known.
    pub server: Option<String>,
    pub tls: Option<TlsMode>,
    /// Where autodetect found the server, when it did.
    pub autodetected: Option<String>,
    /// The destination's APPENDLIMIT, when it advertises one.
    pub appendlimit: Option<u64>,
    /// What went wrong and what to check.
    pub message: Option<String>,
    /// The CalDAV and CardDAV side, when the account's options use it.
    pub dav: Vec<DavReport>,
}

impl EndpointReport {
    fn of(endpoint: &Endpoint) -> EndpointReport {
        EndpointReport {
            status: Status::Ok,
            email: endpoint.email.clone(),
            user: endpoint.user.clone(),
            server: endpoint.server.as_ref().map(ToString::to_string),
            tls: endpoint.server.as_ref().map(|s| s.tls),
            autodetected: None,
            appendlimit: None,
            message: None,
            dav: Vec::new(),
        }
    }
}

/// What preflight found for one account.
#[derive(Debug, Clone, Serialize)]
pub struct AccountReport {
    /// Where the account is written.
    pub origin: String,
    /// Whether `run` should go through for it.
    pub ready: bool,
    pub source: EndpointReport,
    pub destination: EndpointReport,
    /// What there is to migrate, when the source could be read.
    pub volume: Option<Volume>,
    /// Seconds for this account alone (at least).
    pub estimated_seconds: Option<f64>,
    /// Why it is not ready, one line each naming the account and server.
    pub problems: Vec<String>,
    /// What may cost messages or time without stopping the account.
    pub warnings: Vec<String>,
}

/// The whole batch.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub batch: String,
    /// Every account is ready.
    pub ready: bool,
    /// An administrator a server refused (checked once per server before
    /// the accounts), in words; `run` would stop on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub administrator: Option<String>,
    pub accounts: Vec<AccountReport>,
    pub totals: Totals,
    pub estimate: Estimate,
}

/// Sums over the accounts whose source could be read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub accounts: usize,
    pub ready: usize,
    pub folders: usize,
    pub messages: u64,
    pub bytes: u64,
    /// Some account's size is assumed, not reported by its server.
    pub bytes_estimated: bool,
    /// Calendars and address books at the sources (not in the estimate:
    /// there is no measured pace for WebDAV).
    pub dav_collections: usize,
    /// Calendar objects and vCards in them.
    pub dav_items: u64,
}

/// Checks every account of `plan`. `autodetect` is what resolving the
/// plan's autodetect endpoints found and failed to find (so the report
/// says where each server came from).
pub async fn check(
    plan: &Plan,
    autodetect: &crate::plan::autodetect::Outcome,
    options: &Options,
) -> Report {
    let administrator = admins::check(plan, options.timeout)
        .await
        .err()
        .map(|refused| refused.to_string());
    let limits = Arc::new(Shared::new(&plan.limits));
    let mut accounts: Vec<AccountReport> = futures::stream::iter(&plan.accounts)
        .map(|account| {
            let limits = limits.clone();
            async move { check_account(account, &limits, options).await }
        })
        .buffered(PARALLEL_ACCOUNTS)
        .collect()
        .await;

    for r in &autodetect.resolved {
        if let Some(a) = accounts.get_mut(r.account) {
            side_of(a, r.side).autodetected = Some(r.detection.origin());
        }
    }
    for u in &autodetect.unresolved {
        if let Some(a) = accounts.get_mut(u.account) {
            mark_unresolved(a, u);
        }
    }

    let work: Vec<Work> = accounts
        .iter()
        .filter_map(|a| a.volume.as_ref())
        .map(|v| Work {
            messages: v.messages,
            bytes: v.bytes,
            folders: v.non_empty_folders,
        })
        .collect();
    for a in &mut accounts {
        a.estimated_seconds = a.volume.as_ref().map(|v| {
            estimate::account_seconds(
                Work {
                    messages: v.messages,
                    bytes: v.bytes,
                    folders: v.non_empty_folders,
                },
                &plan.limits,
            )
        });
    }
    let mut totals = Totals {
        accounts: accounts.len(),
        ready: accounts.iter().filter(|a| a.ready).count(),
        ..Totals::default()
    };
    for v in accounts.iter().filter_map(|a| a.volume.as_ref()) {
        totals.folders += v.folders;
        totals.messages += v.messages;
        totals.bytes += v.bytes;
        totals.bytes_estimated |= v.bytes_estimated;
    }
    for d in accounts.iter().flat_map(|a| &a.source.dav) {
        totals.dav_collections += d.collections;
        totals.dav_items += d.items;
    }
    Report {
        batch: plan.batch.clone(),
        ready: totals.ready == totals.accounts && administrator.is_none(),
        administrator,
        estimate: estimate::batch(&work, &plan.limits),
        totals,
        accounts,
    }
}

fn side_of(a: &mut AccountReport, side: Side) -> &mut EndpointReport {
    match side {
        Side::Source => &mut a.source,
        Side::Destination => &mut a.destination,
    }
}

fn mark_unresolved(a: &mut AccountReport, u: &Unresolved) {
    let line = format!(
        "{} ({}): the {} server of {} could not be detected: {}. Give the host (and port and tls) in the manifest",
        who(a),
        a.origin,
        u.side.name(),
        u.email,
        u.error
    );
    let end = side_of(a, u.side);
    end.status = Status::AutodetectFailed;
    end.message = Some(u.error.clone());
    a.problems.push(line);
    a.ready = false;
}

fn who(a: &AccountReport) -> String {
    if a.source.email.is_empty() {
        a.destination.email.clone()
    } else {
        a.source.email.clone()
    }
}

/// Logs in to both ends of one account and reads what there is to move.
async fn check_account(account: &AccountPlan, limits: &Shared, options: &Options) -> AccountReport {
    let mut report = AccountReport {
        origin: account.origin.clone(),
        ready: false,
        source: EndpointReport::of(&account.source),
        destination: EndpointReport::of(&account.destination),
        volume: None,
        estimated_seconds: None,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let name = format!("{} ({})", account.source.email, account.origin);

    if account.stages.contains(&StageKind::Mail) {
        check_mail(account, &name, &mut report, limits, options).await;
    } else {
        // Nothing goes through IMAP: neither end's mail server is used.
        report.source.status = Status::NotChecked;
        report.destination.status = Status::NotChecked;
    }
    options_need(account, &mut report, options.timeout).await;
    dav::check_account(account, &mut report, limits).await;

    for end in [&report.source, &report.destination] {
        let messages = end.dav.iter().map(|d| &d.message);
        for message in [&end.message].into_iter().chain(messages).flatten() {
            report.problems.push(format!("{name}: {message}"));
        }
    }
    let limit = report.destination.appendlimit;
    if let (Some(v), Some(limit)) = (&report.volume, limit)
        && let Some(over) = v.over_destination_limit.filter(|n| *n > 0)
    {
        let line = format!(
            "{name}: {over} message(s) are larger than the destination's limit of {limit} bytes \
             (the largest is {} bytes); they will fail",
            v.largest_message.unwrap_or(0)
        );
        if over > u64::from(account.error_budget) {
            report.problems.push(format!(
                "{line}, more than the error budget of {}",
                account.error_budget
            ));
        } else {
            report.warnings.push(line);
        }
    }
    if account.source.kind != EndpointKind::Pst
        && report.volume.as_ref().is_some_and(|v| v.bytes_estimated)
    {
        report.warnings.push(format!(
            "{name}: the source does not report folder sizes (no STATUS=SIZE); \
             its size assumes {} KiB a message",
            estimate::ASSUMED_MESSAGE_BYTES / 1024
        ));
    }
    let usable = |s: Status| matches!(s, Status::Ok | Status::NotChecked);
    let dav_usable = |e: &EndpointReport| e.dav.iter().all(|d| usable(d.status));
    report.ready = usable(report.source.status)
        && usable(report.destination.status)
        && dav_usable(&report.source)
        && dav_usable(&report.destination)
        && report.problems.is_empty();
    report
}

/// The mail side: the destination's IMAP login (its APPENDLIMIT decides
/// what to read at the source), then the source's folders and messages
/// counted: over IMAP, or in the PST file.
async fn check_mail(
    account: &AccountPlan,
    name: &str,
    report: &mut AccountReport,
    limits: &Shared,
    options: &Options,
) {
    let mut limit = None;
    match probe::login(
        &account.destination,
        Side::Destination,
        limits,
        options.timeout,
    )
    .await
    {
        Ok((session, _slot)) => {
            limit = session.capabilities().appendlimit;
            report.destination.appendlimit = limit;
            if !session.capabilities().uidplus {
                report.warnings.push(format!(
                    "{name}: the destination does not offer UIDPLUS: copied messages are \
                     recognised by content, which is slower and makes undo rely on it"
                ));
            }
            let _ = session.logout().await;
        }
        Err(r) => report.destination = r,
    }

    if let (EndpointKind::Pst, Some(path)) = (account.source.kind, &account.source.path) {
        match probe::pst_volume(path.clone(), &account.mail).await {
            Ok(volume) => report.volume = Some(volume),
            Err(e) => {
                report.source.status = Status::FileError;
                report.source.message = Some(e.to_string());
            }
        }
    } else if account.source.server.is_none() && account.source.path.is_some() {
        report.source.status = Status::NotChecked;
    } else {
        match probe::login(&account.source, Side::Source, limits, options.timeout).await {
            Ok((mut session, _slot)) => {
                match probe::volume(&mut session, &account.mail, limit).await {
                    Ok(volume) => report.volume = Some(volume),
                    Err(e) => {
                        report.source.status = Status::ProtocolError;
                        report.source.message =
                            Some(format!("the source's folders could not be counted: {e}"));
                    }
                }
                let _ = session.logout().await;
            }
            Err(r) => report.source = r,
        }
    }
}

/// Checks that each end offers what the account's options need beyond
/// mail: ManageSieve (with `vacation` for auto-replies) for rules and
/// auto-replies.
async fn options_need(account: &AccountPlan, report: &mut AccountReport, timeout: Duration) {
    let wants_sieve = account
        .stages
        .iter()
        .any(|s| matches!(s, StageKind::Rules | StageKind::AutoReplies));
    if !wants_sieve {
        return;
    }
    for (side, endpoint) in [
        (Side::Source, &account.source),
        (Side::Destination, &account.destination),
    ] {
        let end = side_of(report, side);
        if end.status != Status::Ok {
            continue;
        }
        let Some(sieve) = &endpoint.sieve else {
            continue;
        };
        match probe::sieve_extensions(sieve, timeout).await {
            Ok(extensions) => {
                if account.stages.contains(&StageKind::AutoReplies)
                    && !extensions.iter().any(|e| e == "vacation")
                {
                    end.status = Status::CapabilityMissing;
                    end.message = Some(format!(
                        "the {} ManageSieve server {sieve} does not offer the vacation \
                         extension that auto_replies needs",
                        side.name()
                    ));
                }
            }
            Err(why) => {
                end.status = Status::CapabilityMissing;
                end.message = Some(format!(
                    "the {} ManageSieve server {sieve} (for rules and auto-replies) cannot be \
                     used: {why}. Check sieve.host, sieve.port and sieve.tls",
                    side.name()
                ));
            }
        }
    }
}
