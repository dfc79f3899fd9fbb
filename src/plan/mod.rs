//! The plan: the immutable, fully resolved description of a batch's work.
//!
//! A [`Plan`] is built from a validated manifest (defaults merged, secrets
//! located, stages chosen). It is the only input the engine accepts.
//!
//! [`build`] makes one from a [`crate::manifest::Manifest`]; [`from_file`]
//! loads and builds in one call; [`check`] keeps the accounts that are
//! valid and says why the others were rejected. A plan whose autodetect
//! endpoints are filled in is a [`ResolvedPlan`]: only that reaches the
//! engine.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::protocols::imap::{Auth, ImapError, Session};
use crate::protocols::{SessionConfig, SessionError};

pub mod autodetect;
mod build;

pub use crate::manifest::model::{LabelMode, Language, NotifyOn};
pub use crate::vocabulary::{
    AdminLogin, AdminStyle, Credential, CredentialError, Secret, Server, StageKind, TlsMode,
    TokenSource,
};

pub use build::{Checked, Rejected, build, check, from_file, runnable_from_file};

/// The work of one batch: one manifest run.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The batch name: the manifest's `batch` field, else the file stem.
    pub batch: String,
    /// The manifest files this plan was built from, as given.
    pub sources: Vec<PathBuf>,
    /// Limits shared by every account of the batch.
    pub limits: Limits,
    /// Batch-wide notification addresses: they get the batch summary.
    pub notify: Vec<String>,
    /// The outcomes notifications are sent for.
    pub notify_on: Vec<NotifyOn>,
    /// The language of the batch summary, and of the accounts that name none.
    pub language: Language,
    /// A folder whose notification templates replace the shipped ones.
    pub notification_templates: Option<PathBuf>,
    /// How long after an account finishes its undo is allowed.
    #[serde(with = "duration_hours")]
    pub undo_window: Duration,
    /// Not before this time (the daemon waits for it).
    pub start_after: Option<chrono::DateTime<chrono::Utc>>,
    /// The server notifications go through, if any.
    #[serde(skip)]
    pub smtp: Option<crate::protocols::smtp::SmtpConfig>,
    /// The accounts, in manifest order.
    pub accounts: Vec<AccountPlan>,
}

/// One source→destination pair with everything needed to migrate it.
#[derive(Debug, Clone, Serialize)]
pub struct AccountPlan {
    /// Where the account was written: `file:line` or `file: row N`.
    pub origin: String,
    /// Where the mail comes from.
    pub source: Endpoint,
    /// Where it goes.
    pub destination: Endpoint,
    /// The stages to run, in the order they run.
    pub stages: Vec<StageKind>,
    /// Mail filters and folder rules.
    pub mail: MailRules,
    /// Notification addresses for this account (its own or the
    /// defaults'; never the batch's, which get the summary).
    pub notify: Vec<String>,
    /// The language of the account's notifications.
    pub language: Language,
    /// How many item failures the account tolerates before it fails.
    pub error_budget: u32,
}

/// What kind of store an endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    /// An IMAP server.
    Imap,
    /// A POP3 server (a mail-only source).
    Pop3,
    /// An Outlook PST file (a source).
    Pst,
    /// An iCalendar file (a source).
    Ics,
    /// A vCard file (a source).
    Vcf,
    /// A groupware server: IMAP with CalDAV, CardDAV and ManageSieve.
    Groupware,
}

/// A resolved endpoint: a server (or file) and the identity to use there.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    /// What kind of store the endpoint is.
    pub kind: EndpointKind,
    /// The mailbox's email address: what users quote with a migration ID.
    pub email: String,
    /// The login name (often the email address).
    pub user: String,
    /// The mail server; `None` for file sources.
    pub server: Option<Server>,
    /// A file to read (PST, ICS, vCard sources).
    pub path: Option<PathBuf>,
    /// Where the secret comes from; serialized as its source, never its
    /// value.
    pub credential: Credential,
    /// The CalDAV/CardDAV base URL (groupware endpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dav_url: Option<String>,
    /// The ManageSieve server (groupware endpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sieve: Option<Server>,
}

/// Mail filters and folder rules, resolved.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MailRules {
    /// Glob patterns (`*`, `?`) of source folders to copy; empty means all.
    pub include: Vec<String>,
    /// Glob patterns of source folders to skip.
    pub exclude: Vec<String>,
    /// Folder renames: source folder name → destination folder name
    /// (both with `/` as the separator, decoded UTF-8).
    pub map: Vec<(String, String)>,
    /// Copy only messages received on or after this date.
    pub since: Option<chrono::NaiveDate>,
    /// Copy only messages received before this date.
    pub before: Option<chrono::NaiveDate>,
    /// Skip messages larger than this many bytes.
    pub max_message_size: Option<u64>,
    /// Copy messages flagged `\Deleted` too.
    pub include_deleted: bool,
    /// How a label-aware source's messages go to folders.
    pub labels: LabelRules,
}

/// How the messages of a label-aware source (Gmail, Google Workspace)
/// are spread over the destination's folders.
#[derive(Debug, Clone, Serialize)]
pub struct LabelRules {
    /// A copy per label, or one copy.
    pub mode: LabelMode,
    /// Where archived messages (in All Mail only) go, `/` between levels.
    pub archive_folder: String,
    /// With [`LabelMode::First`]: source folder patterns in order of
    /// preference.
    pub priority: Vec<String>,
}

impl Default for LabelRules {
    fn default() -> Self {
        LabelRules {
            mode: LabelMode::All,
            archive_folder: DEFAULT_ARCHIVE_FOLDER.to_owned(),
            priority: Vec::new(),
        }
    }
}

/// Where a label-aware source's archived messages go unless the manifest
/// says otherwise.
pub const DEFAULT_ARCHIVE_FOLDER: &str = "Archive";

impl Endpoint {
    /// Whether the endpoint is Gmail's IMAP server: as autodetect answers
    /// for a Gmail or Google Workspace address, or, before autodetect ran,
    /// as its provider table says of the address's domain. Such a source
    /// is label-aware before any connection says so.
    pub fn is_gmail(&self) -> bool {
        match &self.server {
            Some(s) => GMAIL_HOSTS.iter().any(|h| s.host.eq_ignore_ascii_case(h)),
            None if self.path.is_none() => self
                .email
                .rsplit_once('@')
                .and_then(|(_, domain)| crate::autodetect::providers::by_domain(domain))
                .and_then(|p| p.imap.as_ref())
                .is_some_and(|imap| GMAIL_HOSTS.contains(&imap.host)),
            None => false,
        }
    }
}

impl AccountPlan {
    /// How the account's mail is read if its source is label-aware, in
    /// words: for a Gmail source, or label settings the manifest gave;
    /// `None` otherwise (nothing worth saying).
    pub fn label_summary(&self) -> Option<String> {
        let l = &self.mail.labels;
        let set = l.mode != LabelMode::All
            || l.archive_folder != DEFAULT_ARCHIVE_FOLDER
            || !l.priority.is_empty();
        if !self.stages.contains(&StageKind::Mail) || !(set || self.source.is_gmail()) {
            return None;
        }
        let mode = match l.mode {
            LabelMode::All => "all (a copy in the folder of each label)".to_owned(),
            LabelMode::First if l.priority.is_empty() => "first (one copy)".to_owned(),
            LabelMode::First => format!("first (one copy; prefer {})", l.priority.join(", ")),
        };
        let when = if self.source.is_gmail() {
            "Gmail source"
        } else {
            "if the source is label-aware (X-GM-EXT-1 or an \\All folder)"
        };
        Some(format!(
            "{mode}, archived mail to {}; {when}",
            l.archive_folder
        ))
    }
}

/// Gmail's IMAP servers.
const GMAIL_HOSTS: [&str; 2] = ["imap.gmail.com", "imap.googlemail.com"];

/// Limits for a batch.
#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    /// Accounts migrated at the same time.
    pub concurrent_accounts: usize,
    /// Connections open to one host, across the whole batch.
    pub connections_per_host: usize,
    /// Connections one account may use on each side.
    pub connections_per_account: usize,
    /// Optional cap on messages per second, for the whole batch.
    pub messages_per_second: Option<u32>,
    /// Optional cap on bytes per second, for the whole batch.
    pub bytes_per_second: Option<u64>,
}

/// A plan whose every endpoint has its server: the only kind of plan the
/// engine runs. [`autodetect::resolve_from_env`] makes one; it reads as a
/// [`Plan`].
#[derive(Debug, Clone)]
pub struct ResolvedPlan(Plan);

impl std::ops::Deref for ResolvedPlan {
    type Target = Plan;

    fn deref(&self) -> &Plan {
        &self.0
    }
}

impl ResolvedPlan {
    /// The same plan with only the accounts `keep` accepts.
    pub fn retain(&self, keep: impl FnMut(&AccountPlan) -> bool) -> ResolvedPlan {
        let mut plan = self.0.clone();
        plan.accounts.retain(keep);
        ResolvedPlan(plan)
    }
}

impl Plan {
    /// The account migrating `source` to `destination` (addresses compared
    /// without regard to case).
    pub fn account(&self, source: &str, destination: &str) -> Option<&AccountPlan> {
        self.accounts.iter().find(|a| {
            a.source.email.eq_ignore_ascii_case(source)
                && a.destination.email.eq_ignore_ascii_case(destination)
        })
    }
}

impl Endpoint {
    /// The login name and credential that open this endpoint's mailbox.
    pub async fn login(&self) -> anyhow::Result<(String, Auth)> {
        use anyhow::Context as _;
        self.credential
            .login(&self.user)
            .await
            .with_context(|| format!("The credential of {}", self.user))
    }

    /// Opens a logged-in session (IMAP, POP3, ManageSieve: `connect`) to
    /// this endpoint's mailbox on `server`. A service account's token that
    /// the server refuses (`refused` says which errors are a refused login:
    /// the token revoked, or expired before its announced end) is asked for
    /// anew once, so it costs one login, not the account. The outer error
    /// is the credential's; the inner one the server's.
    pub async fn session<S, E>(
        &self,
        server: &Server,
        timeout: Duration,
        connect: impl AsyncFn(&SessionConfig) -> Result<S, E>,
        refused: impl Fn(&E) -> bool,
    ) -> anyhow::Result<Result<S, E>> {
        let (user, auth) = self.login().await?;
        match connect(&server.session(user, auth.clone(), timeout)).await {
            Err(e) if refused(&e) && self.credential.refused(&self.user, &auth).await => {
                let (user, auth) = self.login().await?;
                Ok(connect(&server.session(user, auth, timeout)).await)
            }
            opened => Ok(opened),
        }
    }

    /// [`Endpoint::session`] for IMAP.
    pub async fn imap_session(
        &self,
        server: &Server,
        timeout: Duration,
    ) -> anyhow::Result<Session> {
        let refused = |e: &ImapError| matches!(e, ImapError::Session(SessionError::Auth { .. }));
        Ok(self
            .session(
                server,
                timeout,
                async |c| Session::connect(c).await,
                refused,
            )
            .await??)
    }

    /// Where the endpoint is: `host:port`, or the file's path.
    pub fn location(&self) -> Option<String> {
        self.server
            .as_ref()
            .map(Server::to_string)
            .or_else(|| self.path.as_ref().map(|p| p.display().to_string()))
    }
}

impl EndpointKind {
    /// The kind's name in manifests.
    pub fn name(self) -> &'static str {
        match self {
            EndpointKind::Imap => "imap",
            EndpointKind::Pop3 => "pop3",
            EndpointKind::Pst => "pst",
            EndpointKind::Ics => "ics",
            EndpointKind::Vcf => "vcf",
            EndpointKind::Groupware => "groupware",
        }
    }
}

impl fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            concurrent_accounts: 8,
            connections_per_host: 16,
            connections_per_account: 1,
            messages_per_second: None,
            bytes_per_second: None,
        }
    }
}

mod duration_hours {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs() / 3600)
    }
}
