//! The plan: the immutable, fully resolved description of a batch's work.
//!
//! A [`Plan`] is built from a validated manifest (defaults merged, secrets
//! located, stages chosen). It is the only input the engine accepts.
//!
//! [`build`] makes one from a [`crate::manifest::Manifest`]; [`from_file`]
//! loads and builds in one call; [`check`] keeps the accounts that are
//! valid and says why the others were rejected.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};

use crate::protocols::imap::{Auth, ImapConfig};
use crate::protocols::tls::TlsMode;

pub mod autodetect;
mod build;

pub use crate::manifest::model::{Language, NotifyOn};

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
    pub source: Endpoint,
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
    Imap,
    Pop3,
    Pst,
    Ics,
    Vcf,
    Groupware,
}

/// A resolved endpoint: a server (or file) and the identity to use there.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
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

/// A network server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// Accept a self-signed or otherwise invalid certificate.
    pub accept_invalid_certs: bool,
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Where a secret comes from. The value itself is read only when needed
/// and never printed: `Debug` shows the source, not the secret.
#[derive(Clone, Default)]
pub enum Credential {
    /// No secret (file sources).
    #[default]
    None,
    /// A password given inline in the manifest.
    Password(String),
    /// A password read from an environment variable.
    PasswordEnv(String),
    /// A password read from a file (first line, trailing newline removed).
    PasswordFile(PathBuf),
    /// An OAuth2 bearer token (XOAUTH2), from one of several places.
    OAuth2(TokenSource),
    /// An administrator who logs in for the mailbox (a proxy login): no
    /// password of the mailbox's own is needed.
    Admin(Box<AdminLogin>),
}

/// An administrator's login, acting for each mailbox of an endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct AdminLogin {
    /// The administrator's login name.
    pub user: String,
    /// Where the administrator's password comes from (a password form).
    #[serde(flatten)]
    pub password: Credential,
    /// How the server is told which mailbox the administrator acts for.
    pub style: AdminStyle,
}

/// How an administrator names the mailbox it acts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdminStyle {
    /// SASL PLAIN with the mailbox as authorization identity (RFC 4616):
    /// Dovecot master users, Cyrus admins, Zimbra.
    Authzid,
    /// `mailbox<separator>admin` as the login name with the
    /// administrator's password (Dovecot's `auth_master_user_separator`).
    Separator(String),
}

/// Where an OAuth2 bearer token comes from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    Env(String),
    File(PathBuf),
    /// A shell command whose standard output is the token.
    Command(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::None => f.write_str("None"),
            Credential::Password(_) => f.write_str("Password(<redacted>)"),
            Credential::PasswordEnv(var) => write!(f, "PasswordEnv({var})"),
            Credential::PasswordFile(path) => write!(f, "PasswordFile({})", path.display()),
            Credential::OAuth2(source) => write!(f, "OAuth2({source:?})"),
            Credential::Admin(admin) => write!(f, "Admin({}, {:?})", admin.user, admin.password),
        }
    }
}

impl Serialize for Credential {
    /// The source of the secret only: `{"password_env": "VAR"}`, or
    /// `{"password": "<redacted>"}` for an inline one.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        match self {
            Credential::None => {}
            Credential::Password(_) => map.serialize_entry("password", REDACTED)?,
            Credential::PasswordEnv(var) => map.serialize_entry("password_env", var)?,
            Credential::PasswordFile(path) => map.serialize_entry("password_file", path)?,
            Credential::OAuth2(TokenSource::Env(var)) => {
                map.serialize_entry("oauth2_token_env", var)?;
            }
            Credential::OAuth2(TokenSource::File(path)) => {
                map.serialize_entry("oauth2_token_file", path)?;
            }
            Credential::OAuth2(TokenSource::Command(command)) => {
                map.serialize_entry("oauth2_token_command", command)?;
            }
            Credential::Admin(admin) => map.serialize_entry("admin", admin)?,
        }
        map.end()
    }
}

impl fmt::Display for Credential {
    /// Where the secret comes from, in words: `password from $VAR`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::None => f.write_str("no credentials"),
            Credential::Password(_) => f.write_str("password written in the manifest"),
            Credential::PasswordEnv(var) => write!(f, "password from ${var}"),
            Credential::PasswordFile(path) => write!(f, "password from {}", path.display()),
            Credential::OAuth2(TokenSource::Env(var)) => write!(f, "OAuth2 token from ${var}"),
            Credential::OAuth2(TokenSource::File(path)) => {
                write!(f, "OAuth2 token from {}", path.display())
            }
            Credential::OAuth2(TokenSource::Command(cmd)) => {
                write!(f, "OAuth2 token from `{cmd}`")
            }
            Credential::Admin(admin) => {
                write!(f, "administrator {}'s {}", admin.user, admin.password)
            }
        }
    }
}

const REDACTED: &str = "<redacted>";

/// A secret value: a password or a bearer token. `Debug` and `Display`
/// print `<redacted>`; only [`Secret::expose`] gives the value, at the
/// moment it is sent to a server.
#[derive(Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself. Never log or print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Why a secret could not be read. Messages name the source, never the
/// value.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("no password or token is given")]
    Missing,
    /// The named variable is not set.
    #[error("environment variable {0} is not set")]
    EnvNotSet(String),
    /// The named variable holds bytes that are not text.
    #[error("environment variable {0} is not valid UTF-8")]
    EnvNotUnicode(String),
    /// The named variable is set but empty.
    #[error("environment variable {0} is empty")]
    EnvEmpty(String),
    /// The secret file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The secret file's first line is empty.
    #[error("{} is empty", .0.display())]
    FileEmpty(PathBuf),
    /// The token command failed, timed out or printed nothing.
    #[error("token command `{command}` {reason}")]
    Command { command: String, reason: String },
}

impl CredentialError {
    /// Whether trying again later may help (a token command can fail for a
    /// moment; a missing variable stays missing).
    pub fn is_retryable(&self) -> bool {
        matches!(self, CredentialError::Command { .. })
    }
}

/// Secret files larger than this are not secret files.
const MAX_SECRET_FILE: u64 = 64 * 1024;
/// How long a token command may run.
const TOKEN_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

impl Credential {
    /// The login name and credential that open `user`'s mailbox: the
    /// user's own password or OAuth2 token, or an administrator's login
    /// acting for the user. Reads the secret off the async runtime's
    /// threads.
    pub async fn login(&self, user: &str) -> Result<(String, Auth), CredentialError> {
        let credential = self.clone();
        let secret = tokio::task::spawn_blocking(move || credential.resolve())
            .await
            .map_err(|_| CredentialError::Missing)??
            .ok_or(CredentialError::Missing)?;
        let value = secret.expose().to_owned();
        Ok(match self {
            Credential::OAuth2(_) => (user.to_owned(), Auth::XOAuth2 { token: value }),
            Credential::Admin(admin) => match &admin.style {
                AdminStyle::Authzid => (
                    user.to_owned(),
                    Auth::Proxy {
                        admin: admin.user.clone(),
                        password: value,
                    },
                ),
                AdminStyle::Separator(separator) => (
                    format!("{user}{separator}{}", admin.user),
                    Auth::Password(value),
                ),
            },
            _ => (user.to_owned(), Auth::Password(value)),
        })
    }

    /// Reads the secret from where the manifest said it is: `Ok(None)` for
    /// [`Credential::None`]. This blocks (file reads, a token command of up
    /// to 30 seconds): call it from a blocking context.
    pub fn resolve(&self) -> Result<Option<Secret>, CredentialError> {
        match self {
            Credential::None => Ok(None),
            Credential::Password(password) => Ok(Some(Secret::new(password.clone()))),
            Credential::PasswordEnv(var) | Credential::OAuth2(TokenSource::Env(var)) => {
                read_env(var).map(Some)
            }
            Credential::PasswordFile(path) | Credential::OAuth2(TokenSource::File(path)) => {
                read_first_line(path).map(Some)
            }
            Credential::OAuth2(TokenSource::Command(command)) => {
                run_token_command(command).map(Some)
            }
            Credential::Admin(admin) => admin.password.resolve(),
        }
    }
}

fn read_env(var: &str) -> Result<Secret, CredentialError> {
    match std::env::var(var) {
        Ok(value) if value.is_empty() => Err(CredentialError::EnvEmpty(var.to_owned())),
        Ok(value) => Ok(Secret(value)),
        Err(std::env::VarError::NotPresent) => Err(CredentialError::EnvNotSet(var.to_owned())),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(CredentialError::EnvNotUnicode(var.to_owned()))
        }
    }
}

fn read_first_line(path: &Path) -> Result<Secret, CredentialError> {
    let file_error = |source| CredentialError::File {
        path: path.to_owned(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(file_error)?
        .take(MAX_SECRET_FILE)
        .read_to_string(&mut text)
        .map_err(file_error)?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return Err(CredentialError::FileEmpty(path.to_owned()));
    }
    Ok(Secret(line.to_owned()))
}

fn run_token_command(command: &str) -> Result<Secret, CredentialError> {
    let failed = |reason: String| CredentialError::Command {
        command: command.to_owned(),
        reason,
    };
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| failed(format!("could not start: {e}")))?;
    let mut stdout = child.stdout.take();
    // Read on a thread so a command printing a lot cannot block on a full
    // pipe while we wait for it to exit.
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        if let Some(pipe) = stdout.as_mut() {
            let _ = pipe.take(MAX_SECRET_FILE).read_to_string(&mut out);
        }
        out
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > TOKEN_COMMAND_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(format!(
                    "did not finish within {} seconds",
                    TOKEN_COMMAND_TIMEOUT.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(failed(format!("could not be waited for: {e}"))),
        }
    };
    let out = reader
        .join()
        .map_err(|_| failed("output could not be read".to_owned()))?;
    if !status.success() {
        return Err(failed(format!("failed ({status})")));
    }
    let token = out.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        return Err(failed("printed nothing".to_owned()));
    }
    Ok(Secret(token.to_owned()))
}

/// One option of the seed's list, for one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    Mail,
    Contacts,
    ContactGroups,
    Calendars,
    Tasks,
    Rules,
    AutoReplies,
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
}

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

impl StageKind {
    /// The option's name in manifests.
    pub fn name(self) -> &'static str {
        match self {
            StageKind::Mail => "mail",
            StageKind::Contacts => "contacts",
            StageKind::ContactGroups => "contact_groups",
            StageKind::Calendars => "calendars",
            StageKind::Tasks => "tasks",
            StageKind::Rules => "rules",
            StageKind::AutoReplies => "auto_replies",
        }
    }
}

impl fmt::Display for StageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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

impl Server {
    /// How to log in to this server over IMAP.
    pub fn imap(&self, user: &str, auth: Auth, timeout: Duration) -> ImapConfig {
        ImapConfig {
            host: self.host.clone(),
            port: self.port,
            tls: self.tls,
            accept_invalid_certs: self.accept_invalid_certs,
            user: user.to_owned(),
            auth,
            timeout,
        }
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
