//! Where a secret comes from (inline, an environment variable, a file, a
//! token command), and reading it when a server asks for it.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};

use super::secret::{REDACTED, Secret};
use super::service_account::ServiceAccount;

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
    /// An environment variable.
    Env(String),
    /// A file (its first line).
    File(PathBuf),
    /// A shell command whose standard output is the token.
    Command(String),
    /// A service account that asks its token endpoint for the token.
    Service(Box<ServiceAccount>),
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
            Credential::OAuth2(TokenSource::Service(account)) => {
                map.serialize_entry("oauth2", account)?;
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
            Credential::OAuth2(TokenSource::Service(account)) => {
                write!(f, "OAuth2 token from the {account}")
            }
            Credential::Admin(admin) => {
                write!(f, "administrator {}'s {}", admin.user, admin.password)
            }
        }
    }
}

/// Why a secret could not be read. Messages name the source, never the
/// value.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The account gives no password or token.
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
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        #[source]
        source: std::io::Error,
    },
    /// The secret file's first line is empty.
    #[error("{} is empty", .0.display())]
    FileEmpty(PathBuf),
    /// A service account's token comes from its token endpoint, not from
    /// a place that can be read here.
    #[error("the token of a service account comes from its token endpoint")]
    ServiceAccount,
    /// A service account's key file cannot be used.
    #[error("the service account key {}: {reason}", path.display())]
    ServiceKey {
        /// The key (or certificate) file.
        path: PathBuf,
        /// What is wrong with it, never its content.
        reason: String,
    },
    /// The token endpoint could not be reached or refused the request.
    #[error("the token endpoint {url} {reason}")]
    TokenEndpoint {
        /// The endpoint's URL.
        url: String,
        /// What happened: the endpoint's error code and description, or
        /// why it could not be asked.
        reason: String,
        /// Whether asking again later may help (unreachable, 5xx, 429).
        retryable: bool,
    },
    /// The token command failed, timed out or printed nothing.
    #[error("token command `{command}` {reason}")]
    Command {
        /// The command as written.
        command: String,
        /// What went wrong.
        reason: String,
    },
}

impl CredentialError {
    /// Whether trying again later may help (a token command can fail for a
    /// moment; a missing variable stays missing).
    pub fn is_retryable(&self) -> bool {
        match self {
            CredentialError::Command { .. } => true,
            CredentialError::TokenEndpoint { retryable, .. } => *retryable,
            _ => false,
        }
    }
}

/// Secret files larger than this are not secret files.
const MAX_SECRET_FILE: u64 = 64 * 1024;
/// How long a token command may run.
const TOKEN_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

impl Credential {
    /// Reads the secret from where the manifest said it is: `Ok(None)` for
    /// [`Credential::None`]; a service account's token is asked for by the
    /// protocols' OAuth2 client instead. This blocks (file reads, a token command of up
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
            Credential::OAuth2(TokenSource::Service(_)) => Err(CredentialError::ServiceAccount),
            Credential::Admin(admin) => admin.password.resolve(),
        }
    }
}

fn read_env(var: &str) -> Result<Secret, CredentialError> {
    match std::env::var(var) {
        Ok(value) if value.is_empty() => Err(CredentialError::EnvEmpty(var.to_owned())),
        Ok(value) => Ok(Secret::new(value)),
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
    Ok(Secret::new(line))
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
    Ok(Secret::new(token))
}
