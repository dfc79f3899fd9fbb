//! Manifest → plan: merge defaults, fill in what the manifest left to its
//! defaults (ports, TLS, user), check every rule that needs the whole
//! account or the whole batch, and choose each account's stages.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::{
    AccountPlan, AdminLogin, AdminStyle, Credential, DEFAULT_ARCHIVE_FOLDER, Endpoint,
    EndpointKind, LabelMode, LabelRules, Limits, MailRules, Plan, Secret, Server, StageKind,
    TokenSource,
};
use crate::manifest::diagnostic::{Diagnostic, Diagnostics, Place, quote};
use crate::manifest::model::{
    AccountSpec, AdminSpec, AdminStyleSpec, EndpointSpec, Kind, Language, NotifyOn, OptionName,
    SmtpSpec,
};
use crate::manifest::validate::{
    batch_name_from, batch_name_problem, destination_stores, env_problem, file_problem,
    host_problem, is_email, source_provides, uses_dav,
};
use crate::manifest::{self, AccountEntry, Manifest, Origin};
use crate::protocols::smtp::SmtpConfig;
use crate::vocabulary::TlsMode;

mod destinations;
mod detect_later;
mod endpoint;
mod oauth2;
mod options;
mod smtp;

use destinations::{DestinationKey, check_duplicates, same_mailbox};
use detect_later::{DetectLater, autodetect_warnings};
use smtp::smtp_config;

/// What checking a manifest found: the plan of every valid account, the
/// accounts left out and why, and every problem.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    /// The plan, holding only the accounts that passed every check.
    pub plan: Plan,
    /// The accounts left out, in manifest order.
    pub rejected: Vec<Rejected>,
    /// Every error and warning, from loading and from checking.
    pub diagnostics: Diagnostics,
}

impl Checked {
    /// Whether the manifest can run as written (warnings allowed).
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.has_errors()
    }

    /// Whether the plan can run: as written, or, with `skip_invalid`,
    /// without its rejected accounts when the batch's own settings have
    /// no error and at least one account is valid.
    pub fn can_run(&self, skip_invalid: bool) -> bool {
        self.is_valid()
            || (skip_invalid
                && !self.plan.accounts.is_empty()
                && !self
                    .diagnostics
                    .iter()
                    .any(|d| d.severity == manifest::Severity::Error && d.account.is_none()))
    }
}

/// An account that will not run, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    /// Where it is written: `file:line` or `file: row N`.
    pub origin: String,
    /// Its source address, when known.
    pub source: Option<String>,
    /// Its errors, one line each.
    pub reasons: Vec<String>,
}

impl std::fmt::Display for Rejected {
    /// `staff.csv: row 3 (bob@old.example)` and its reasons, one per line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        for reason in &self.reasons {
            write!(f, "\n  {reason}")?;
        }
        Ok(())
    }
}

/// The default error budget of an account.
const DEFAULT_ERROR_BUDGET: u32 = 100;
/// The default undo window.
const DEFAULT_UNDO_HOURS: u32 = 48;
/// The usual ManageSieve port.
const SIEVE_PORT: u16 = 4190;

/// Loads `path` and builds its plan; any error fails the whole file.
pub fn from_file(path: &Path) -> Result<Plan, Diagnostics> {
    runnable_from_file(path, false).map(|(plan, _)| plan)
}

/// Loads `path` and builds the plan to run; with `skip_invalid`, the
/// invalid accounts are left out (see [`Checked::can_run`]) and returned.
pub fn runnable_from_file(
    path: &Path,
    skip_invalid: bool,
) -> Result<(Plan, Vec<Rejected>), Diagnostics> {
    let checked = check(&manifest::load(path)?);
    if !checked.can_run(skip_invalid) {
        return Err(checked.diagnostics);
    }
    for warning in checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == manifest::Severity::Warning)
    {
        tracing::warn!("{warning}");
    }
    Ok((checked.plan, checked.rejected))
}

/// Builds the plan of a manifest; any error fails it, with every problem
/// found. Use [`check`] to keep the valid accounts instead.
pub fn build(manifest: &Manifest) -> Result<Plan, Diagnostics> {
    let checked = check(manifest);
    for warning in checked.diagnostics.iter() {
        tracing::warn!("{warning}");
    }
    if checked.is_valid() {
        Ok(checked.plan)
    } else {
        Err(checked.diagnostics)
    }
}

/// Checks a manifest: every valid account gets its place in the plan;
/// the others are listed as rejected with their errors.
pub fn check(manifest: &Manifest) -> Checked {
    let mut diagnostics = manifest.diagnostics.clone();
    let batch = batch_settings(manifest, &mut diagnostics);

    let mut planned: Vec<(usize, AccountPlan)> = Vec::new();
    let mut destinations: Vec<(usize, DestinationKey)> = Vec::new();
    let mut detected_later = Vec::new();
    if manifest.accounts.is_empty() && !diagnostics.has_errors() {
        let place = match &manifest.root {
            Some(root) => root.whole(),
            None => Place::file(&std::sync::Arc::new(manifest.path.clone())),
        };
        diagnostics.push(Diagnostic::error(
            place,
            "there are no accounts: add `accounts` or `accounts_csv`",
        ));
    }
    if manifest.defaults_ok {
        for (index, entry) in manifest.accounts.iter().enumerate() {
            let Some(spec) = &entry.spec else { continue };
            let mut account = AccountCheck::new(manifest, entry, spec, index);
            let plan = account.resolve(&batch);
            diagnostics.extend(account.found);
            detected_later.extend(account.detect_later);
            if let Some(key) = account.destination_key {
                destinations.push((index, key));
            }
            if let Some(plan) = plan {
                planned.push((index, plan));
            }
        }
        check_duplicates(manifest, &destinations, &mut diagnostics);
        diagnostics.extend(autodetect_warnings(detected_later));
    }

    // Each account's errors, gathered once.
    let mut errors: Vec<Vec<String>> = vec![Vec::new(); manifest.accounts.len()];
    for d in diagnostics.iter() {
        if let Some(list) = d.account.and_then(|i| errors.get_mut(i))
            && d.severity == manifest::Severity::Error
        {
            list.push(d.to_string());
        }
    }
    let mut accounts = Vec::new();
    let mut rejected = Vec::new();
    let mut planned = planned.into_iter().peekable();
    for (index, entry) in manifest.accounts.iter().enumerate() {
        let plan = planned.next_if(|(i, _)| *i == index).map(|(_, p)| p);
        let reasons = std::mem::take(&mut errors[index]);
        match plan {
            Some(plan) if reasons.is_empty() && manifest.defaults_ok => accounts.push(plan),
            _ => rejected.push(rejection(manifest, entry, reasons)),
        }
    }
    diagnostics.sort();
    Checked {
        plan: Plan {
            batch: batch.name,
            sources: manifest.files.clone(),
            limits: batch.limits,
            notify: batch.notify,
            notify_on: batch.notify_on,
            language: batch.language,
            notification_templates: batch.notification_templates,
            undo_window: Duration::from_secs(u64::from(batch.undo_hours) * 3600),
            start_after: batch.start_after,
            smtp: batch.smtp,
            accounts,
        },
        rejected,
        diagnostics,
    }
}

fn rejection(manifest: &Manifest, entry: &AccountEntry, mut reasons: Vec<String>) -> Rejected {
    if !manifest.defaults_ok {
        reasons.push("the defaults have errors".to_owned());
    }
    if reasons.is_empty() {
        reasons.push("this account could not be read".to_owned());
    }
    let source = entry
        .spec
        .as_ref()
        .map(|s| s.merged_over(&manifest.defaults))
        .and_then(|s| s.source)
        .and_then(|s| s.email.or(s.user));
    Rejected {
        origin: entry.origin.short(),
        source,
        reasons,
    }
}

/// The batch-wide settings, checked.
struct Batch {
    name: String,
    notify: Vec<String>,
    notify_on: Vec<NotifyOn>,
    language: Language,
    notification_templates: Option<PathBuf>,
    limits: Limits,
    error_budget: u32,
    undo_hours: u32,
    start_after: Option<chrono::DateTime<chrono::Utc>>,
    smtp: Option<SmtpConfig>,
}

fn batch_settings(manifest: &Manifest, diagnostics: &mut Diagnostics) -> Batch {
    let s = &manifest.settings;
    let place = |field: &[&str]| match &manifest.root {
        Some(root) => root.place(field),
        None => Place::file(&std::sync::Arc::new(manifest.path.clone())),
    };
    let name = match &s.batch {
        Some(name) => {
            if let Some(problem) = batch_name_problem(name) {
                diagnostics.push(Diagnostic::error(place(&["batch"]), problem));
            }
            name.clone()
        }
        None => batch_name_from(
            &manifest
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    };
    let start_after = s.start_after.as_ref().and_then(|text| {
        match chrono::DateTime::parse_from_rfc3339(text.trim()) {
            Ok(at) => Some(at.with_timezone(&chrono::Utc)),
            Err(_) => {
                diagnostics.push(Diagnostic::error(
                    place(&["start_after"]),
                    format!(
                        "{} is not a date and time such as 2024-06-01T22:00:00+02:00",
                        quote(text)
                    ),
                ));
                None
            }
        }
    });
    let notify = s.notify.clone().unwrap_or_default();
    for (i, address) in notify.iter().enumerate() {
        if !is_email(address) {
            diagnostics.push(Diagnostic::error(
                place(&["notify", &i.to_string()]),
                format!("{} is not an email address", quote(address)),
            ));
        }
    }
    let l = s.limits.clone().unwrap_or_default();
    let defaults = Limits::default();
    let size = |n: Option<u32>, default: usize| n.map_or(default, |n| n as usize);
    Batch {
        name,
        notify,
        notify_on: s
            .notify_on
            .clone()
            .unwrap_or_else(|| NotifyOn::DEFAULT.to_vec()),
        language: s.language.unwrap_or_default(),
        notification_templates: s
            .notification_templates
            .as_ref()
            .map(|dir| manifest.path.parent().unwrap_or(Path::new(".")).join(dir)),
        limits: Limits {
            concurrent_accounts: size(l.concurrent_accounts, defaults.concurrent_accounts),
            connections_per_host: size(l.connections_per_host, defaults.connections_per_host),
            connections_per_account: size(
                l.connections_per_account,
                defaults.connections_per_account,
            ),
            messages_per_second: l.messages_per_second,
            bytes_per_second: l.bytes_per_second.map(|b| b.0).filter(|b| *b > 0),
        },
        error_budget: l.error_budget.unwrap_or(DEFAULT_ERROR_BUDGET),
        undo_hours: s.undo_window_hours.unwrap_or(DEFAULT_UNDO_HOURS),
        start_after,
        smtp: s
            .smtp
            .as_ref()
            .map(|spec| smtp_config(spec, &manifest.path, &place, diagnostics)),
    }
}

/// The checks of one account, with what they found.
struct AccountCheck<'a> {
    manifest: &'a Manifest,
    entry: &'a AccountEntry,
    own: &'a AccountSpec,
    index: usize,
    found: Vec<Diagnostic>,
    /// The endpoints whose server autodetect will find, warned about
    /// once per domain.
    detect_later: Vec<DetectLater>,
    /// The source's server cannot be autodetected (already an error).
    source_undetectable: bool,
    /// The destination mailbox (host, address; lower case), once known,
    /// and the file a file source reads: several files may be imported
    /// into one mailbox, but one mailbox is the destination of one server.
    destination_key: Option<DestinationKey>,
}

/// Which end of an account.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Source,
    Destination,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Destination => "destination",
        }
    }
}

/// An endpoint resolved, with the manifest kind it came from.
struct Resolved {
    endpoint: Endpoint,
    kind: Kind,
}

impl<'a> AccountCheck<'a> {
    fn new(
        manifest: &'a Manifest,
        entry: &'a AccountEntry,
        own: &'a AccountSpec,
        index: usize,
    ) -> Self {
        AccountCheck {
            manifest,
            entry,
            own,
            index,
            found: Vec::new(),
            detect_later: Vec::new(),
            source_undetectable: false,
            destination_key: None,
        }
    }

    /// Whether the defaults apply to `field` at all (not across kinds).
    fn inherits(&self, field: &[&str]) -> bool {
        let side = |own: &Option<EndpointSpec>, base: &Option<EndpointSpec>| match (own, base) {
            (Some(own), Some(base)) => own.inherits_from(base),
            _ => true,
        };
        let d = &self.manifest.defaults;
        match field.first() {
            Some(&"source") => side(&self.own.source, &d.source),
            Some(&"destination") => side(&self.own.destination, &d.destination),
            _ => true,
        }
    }

    /// The origin that wrote `field`: the account, else the defaults.
    fn writer(&self, field: &[&str]) -> Option<&'a Origin> {
        if self.entry.origin.find(field).is_some() {
            return Some(&self.entry.origin);
        }
        self.manifest
            .defaults_origin
            .as_ref()
            .filter(|d| self.inherits(field) && d.find(field).is_some())
    }

    /// Where `field` is written, or where it belongs in the account.
    fn place(&self, field: &[&str]) -> Place {
        match self.writer(field) {
            Some(origin) => origin.place(field),
            None => self.entry.origin.place(field),
        }
    }

    /// A relative path in `field`, resolved against the file that wrote it.
    fn path(&self, field: &[&str], value: &str) -> PathBuf {
        let origin = self.writer(field).unwrap_or(&self.entry.origin);
        Manifest::base_dir(origin).join(value)
    }

    /// Whether `field`'s value was rejected while loading (and reported).
    fn already_reported(&self, field: &[&str]) -> bool {
        let field = field.join(".");
        self.entry.broken.iter().any(|b| {
            field == *b
                || (field.starts_with(b.as_str()) && field.as_bytes().get(b.len()) == Some(&b'.'))
        })
    }

    fn error(&mut self, field: &[&str], message: impl Into<String>) {
        if self.already_reported(field) {
            return;
        }
        let d = Diagnostic::error(self.place(field), message).for_account(Some(self.index));
        self.found.push(d);
    }

    fn warn(&mut self, field: &[&str], message: impl Into<String>) {
        if self.already_reported(field) {
            return;
        }
        let d = Diagnostic::warning(self.place(field), message).for_account(Some(self.index));
        self.found.push(d);
    }

    fn resolve(&mut self, batch: &Batch) -> Option<AccountPlan> {
        let merged = self.own.merged_over(&self.manifest.defaults);
        self.nothing_to_detect_from(&merged);
        let source = self.endpoint(Side::Source, merged.source.as_ref());
        let destination = self.endpoint(Side::Destination, merged.destination.as_ref());
        let stages = self.stages(&merged, source.as_ref(), destination.as_ref());
        let mail = self.mail_rules(&merged);
        let notify = self.notify(&merged);
        if let Some(d) = &destination {
            let host = d.endpoint.server.as_ref().map(|s| s.host.to_lowercase());
            let file = source
                .as_ref()
                .and_then(|s| s.endpoint.path.as_ref())
                .map(|p| p.display().to_string());
            self.destination_key = Some((
                host.unwrap_or_default(),
                d.endpoint.email.to_lowercase(),
                file.unwrap_or_default(),
            ));
        }
        let (mut source, destination) = (source?, destination?);
        if source.kind.is_file() && source.endpoint.email.is_empty() {
            source.endpoint.email = destination.endpoint.email.clone();
        }
        // Options over WebDAV alone touch the mail server of neither side:
        // two different WebDAV homes are two accounts even on one mail server.
        let dav_only = stages.as_ref().is_some_and(|s| {
            s.iter().all(|k| {
                matches!(
                    k,
                    StageKind::Calendars
                        | StageKind::Tasks
                        | StageKind::Contacts
                        | StageKind::ContactGroups
                )
            })
        });
        let other_homes = source.endpoint.dav_url.is_some()
            && source.endpoint.dav_url != destination.endpoint.dav_url;
        if same_mailbox(&source.endpoint, &destination.endpoint) && !(dav_only && other_homes) {
            self.error(
                &["destination"],
                "the destination is the same mailbox as the source (same server and user)",
            );
        }
        Some(AccountPlan {
            origin: self.entry.origin.short(),
            source: source.endpoint,
            destination: destination.endpoint,
            stages: stages?,
            mail,
            notify,
            language: merged.language.unwrap_or(batch.language),
            error_budget: merged.error_budget.unwrap_or(batch.error_budget),
        })
    }
}

fn stage_of(option: OptionName) -> StageKind {
    match option {
        OptionName::Mail => StageKind::Mail,
        OptionName::Calendars => StageKind::Calendars,
        OptionName::Tasks => StageKind::Tasks,
        OptionName::Contacts => StageKind::Contacts,
        OptionName::ContactGroups => StageKind::ContactGroups,
        OptionName::Rules => StageKind::Rules,
        OptionName::AutoReplies => StageKind::AutoReplies,
    }
}

/// The usual port of a kind of server with a TLS mode.
pub fn default_port(kind: Kind, tls: TlsMode) -> u16 {
    match (kind, tls) {
        (Kind::Pop3, TlsMode::Implicit) => 995,
        (Kind::Pop3, _) => 110,
        (_, TlsMode::Implicit) => 993,
        (_, _) => 143,
    }
}

/// How a file kind is named in messages ("a PST file").
fn file_noun(kind: Kind) -> &'static str {
    match kind {
        Kind::Ics => "an iCalendar (.ics) file",
        Kind::Vcf => "a vCard (.vcf) file",
        _ => "a PST file",
    }
}
