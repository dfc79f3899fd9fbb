//! Undo: putting a destination back as it was before a migration.
//!
//! Every account has an *undo manifest* (`reports/<batch>/undo/<migration
//! ID>.json`, schema in `schemas/undo.schema.json`): the destination
//! server, where its credential comes from (never the secret itself), and
//! every folder and message the migration created, by UIDVALIDITY and UID.
//! Undo removes exactly those: mail that arrived after the migration and
//! everything that was there before stay. A folder mailshift created is
//! removed only when it is empty again. A folder whose UIDVALIDITY changed
//! since is reported as not undoable rather than guessed at.
//!
//! Undo is allowed for a while after the account finished (48 hours by
//! default, `undo_window_hours` in the manifest), and works from the undo
//! manifest alone if the state database is lost.
//!
//! Sieve scripts (the `rules` and `auto_replies` options) have their own
//! section ([`UndoSieve`], executed by [`sieve`]): scripts created are
//! deleted, scripts overwritten get their old content back, and the script
//! active before the migration is active again.
//!
//! Contacts (the `contacts` and `contact_groups` options) have theirs too
//! ([`UndoContacts`]), and so do calendars (the `calendars` and `tasks`
//! options, [`UndoCalendars`]), both executed by [`dav`]: resources created
//! are deleted, then collections created, if they are empty again.
//!
//! [`run`] takes an account through it: its state, the removal, then the
//! batch's report and the owner's notification. What a server refuses is
//! listed as left, and the rest goes on.

pub mod dav;
pub mod mail;
pub mod run;
pub mod sieve;

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::plan::{AccountPlan, AdminLogin, AdminStyle, Credential, Plan, Server, TokenSource};
use crate::store::Store;
use crate::store::dav::{DavArea, DavUndoData};
use crate::store::mail::CreatedInFolder;
use crate::store::sieve::SieveUndoData;
use crate::store::status::AccountStatus;
use crate::vocabulary::ServiceAccount;

/// The format name written in every undo manifest.
pub const FORMAT: &str = "mailshift-undo/1";

/// What undo needs to reverse one account's migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UndoManifest {
    /// Always `mailshift-undo/1`.
    pub format: String,
    /// The account's migration ID.
    pub migration_id: String,
    /// The batch's ID.
    pub batch_id: String,
    /// The batch's name.
    pub batch: String,
    /// The source address (with the migration ID, what identifies it).
    pub source: String,
    /// The mailbox the migration wrote to.
    pub destination: UndoDestination,
    /// When the migration finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Undo is refused after this.
    pub undo_until: Option<DateTime<Utc>>,
    /// The mail the migration created, folder by folder.
    pub mail: Vec<UndoFolder>,
    /// The Sieve scripts the migration created or replaced (the `rules`
    /// and `auto_replies` options); absent when neither ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sieve: Option<UndoSieve>,
    /// The address books and vCards the migration created (the `contacts`
    /// and `contact_groups` options); absent when neither ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<UndoContacts>,
    /// The calendars and calendar objects the migration created (the
    /// `calendars` and `tasks` options); absent when neither ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendars: Option<UndoCalendars>,
}

/// What the migration created among the destination's contacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UndoContacts {
    /// The destination's CardDAV home collection.
    pub dav_url: String,
    /// Accept a self-signed or otherwise invalid certificate.
    #[serde(default)]
    pub accept_invalid_certs: bool,
    /// vCards the migration created (paths): undo deletes them.
    pub cards: Vec<String>,
    /// Address books the migration created (paths): undo deletes them once
    /// they are empty.
    pub address_books: Vec<String>,
}

impl UndoContacts {
    /// The contacts section of an undo manifest, from the store's records.
    pub fn new(dav_url: String, accept_invalid_certs: bool, data: DavUndoData) -> Self {
        UndoContacts {
            dav_url,
            accept_invalid_certs,
            cards: data.items,
            address_books: data.collections,
        }
    }

    /// What undo removes.
    pub fn created(&self) -> dav::Created<'_> {
        dav::Created {
            dav_url: &self.dav_url,
            accept_invalid_certs: self.accept_invalid_certs,
            items: &self.cards,
            collections: &self.address_books,
            item_noun: "vCard",
            collection_noun: "address book",
        }
    }
}

/// What the migration created among the destination's calendars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UndoCalendars {
    /// The destination's CalDAV home collection.
    pub dav_url: String,
    /// Accept a self-signed or otherwise invalid certificate.
    #[serde(default)]
    pub accept_invalid_certs: bool,
    /// Calendar objects (events, to-dos) the migration created (paths):
    /// undo deletes them.
    pub objects: Vec<String>,
    /// Calendars the migration created (paths): undo deletes them once
    /// they are empty.
    pub calendars: Vec<String>,
}

impl UndoCalendars {
    /// The calendars section of an undo manifest, from the store's records.
    pub fn new(dav_url: String, accept_invalid_certs: bool, data: DavUndoData) -> Self {
        UndoCalendars {
            dav_url,
            accept_invalid_certs,
            objects: data.items,
            calendars: data.collections,
        }
    }

    /// What undo removes.
    pub fn created(&self) -> dav::Created<'_> {
        dav::Created {
            dav_url: &self.dav_url,
            accept_invalid_certs: self.accept_invalid_certs,
            items: &self.objects,
            collections: &self.calendars,
            item_noun: "calendar object",
            collection_noun: "calendar",
        }
    }
}

/// What the migration changed among the destination's Sieve scripts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UndoSieve {
    /// The destination's ManageSieve server.
    pub server: Server,
    /// Scripts the migration created: undo deletes them.
    pub created: Vec<String>,
    /// Scripts the migration overwrote, with their content before: undo
    /// writes it back.
    pub replaced: Vec<ReplacedScript>,
    /// The script that was active before the migration (none: no script
    /// was active); undo makes it active again.
    pub active_before: Option<String>,
}

/// A destination script the migration overwrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReplacedScript {
    /// The script's name.
    pub name: String,
    /// Its content before the migration.
    pub content: String,
}

impl UndoSieve {
    /// The Sieve section of an undo manifest, from the store's records.
    pub fn new(server: Server, data: SieveUndoData) -> UndoSieve {
        UndoSieve {
            server,
            created: data.created,
            replaced: data
                .replaced
                .into_iter()
                .map(|(name, content)| ReplacedScript {
                    name,
                    content: String::from_utf8_lossy(&content).into_owned(),
                })
                .collect(),
            active_before: data.active_before,
        }
    }
}

/// The destination mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UndoDestination {
    /// Its address.
    pub email: String,
    /// The login name.
    pub user: String,
    /// Its IMAP server.
    pub server: Server,
    /// Where its secret comes from.
    pub credential: CredentialRef,
}

/// Where the destination's secret comes from. An inline password is not
/// written: undo then needs `--password-env` (or the original manifest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialRef {
    /// A password in this environment variable.
    PasswordEnv(String),
    /// A password in this file.
    PasswordFile(PathBuf),
    /// An OAuth2 access token in this environment variable.
    TokenEnv(String),
    /// An OAuth2 access token in this file.
    TokenFile(PathBuf),
    /// An OAuth2 access token printed by this command.
    TokenCommand(String),
    /// An OAuth2 service account (where its key or secret is).
    ServiceAccount(ServiceAccount),
    /// An administrator's login acting for the mailbox.
    Admin {
        /// The administrator's login.
        user: String,
        /// How the server lets an administrator act for a user.
        style: AdminStyle,
        /// Where the administrator's secret comes from.
        password: Box<CredentialRef>,
    },
    /// Given inline in the manifest; not repeated here.
    Inline,
}

impl CredentialRef {
    /// Where a credential comes from, without its value.
    pub fn of(credential: &Credential) -> CredentialRef {
        match credential {
            Credential::PasswordEnv(var) => CredentialRef::PasswordEnv(var.clone()),
            Credential::PasswordFile(path) => CredentialRef::PasswordFile(path.clone()),
            Credential::OAuth2(TokenSource::Env(var)) => CredentialRef::TokenEnv(var.clone()),
            Credential::OAuth2(TokenSource::File(path)) => CredentialRef::TokenFile(path.clone()),
            Credential::OAuth2(TokenSource::Command(cmd)) => {
                CredentialRef::TokenCommand(cmd.clone())
            }
            Credential::OAuth2(TokenSource::Service(account)) => {
                CredentialRef::ServiceAccount((**account).clone())
            }
            Credential::Admin(admin) => CredentialRef::Admin {
                user: admin.user.clone(),
                style: admin.style.clone(),
                password: Box::new(CredentialRef::of(&admin.password)),
            },
            Credential::Password(_) | Credential::None => CredentialRef::Inline,
        }
    }

    /// The credential to use, if this says where it is.
    pub fn credential(&self) -> Option<Credential> {
        Some(match self {
            CredentialRef::PasswordEnv(var) => Credential::PasswordEnv(var.clone()),
            CredentialRef::PasswordFile(path) => Credential::PasswordFile(path.clone()),
            CredentialRef::TokenEnv(var) => Credential::OAuth2(TokenSource::Env(var.clone())),
            CredentialRef::TokenFile(path) => Credential::OAuth2(TokenSource::File(path.clone())),
            CredentialRef::TokenCommand(cmd) => {
                Credential::OAuth2(TokenSource::Command(cmd.clone()))
            }
            CredentialRef::ServiceAccount(account) => {
                Credential::OAuth2(TokenSource::Service(Box::new(account.clone())))
            }
            CredentialRef::Admin {
                user,
                style,
                password,
            } => Credential::Admin(Box::new(AdminLogin {
                user: user.clone(),
                password: password.credential()?,
                style: style.clone(),
            })),
            CredentialRef::Inline => return None,
        })
    }
}

/// One destination folder and what the migration put in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UndoFolder {
    /// The destination folder's name, decoded.
    pub folder: String,
    /// The destination UIDVALIDITY the UIDs belong to.
    pub uidvalidity: Option<u32>,
    /// Whether the migration created the folder.
    pub created: bool,
    /// Whether the migration subscribed the folder (it was not subscribed
    /// before): undo unsubscribes it, deleted or kept.
    #[serde(default)]
    pub subscribed: bool,
    /// UIDs of the messages the migration copied into it.
    pub messages: Vec<u32>,
}

impl UndoManifest {
    /// The undo manifest of an account, from the store's records.
    pub fn new(
        account: &AccountStatus,
        destination: UndoDestination,
        created: Vec<CreatedInFolder>,
    ) -> UndoManifest {
        UndoManifest {
            format: FORMAT.to_owned(),
            migration_id: account.migration_id.clone(),
            batch_id: account.batch_id.clone(),
            batch: account.batch.clone(),
            source: account.source.clone(),
            destination,
            finished_at: account.finished_at,
            undo_until: account.undo_until,
            mail: created
                .into_iter()
                .map(|f| UndoFolder {
                    folder: f.dest_name,
                    uidvalidity: f.dest_uidvalidity,
                    created: f.created,
                    subscribed: f.subscribed,
                    messages: f.messages,
                })
                .collect(),
            sieve: None,
            contacts: None,
            calendars: None,
        }
    }

    /// Adds the Sieve section.
    pub fn with_sieve(mut self, sieve: Option<UndoSieve>) -> UndoManifest {
        self.sieve = sieve;
        self
    }

    /// Adds the contacts section.
    pub fn with_contacts(mut self, contacts: Option<UndoContacts>) -> UndoManifest {
        self.contacts = contacts;
        self
    }

    /// Adds the calendars section.
    pub fn with_calendars(mut self, calendars: Option<UndoCalendars>) -> UndoManifest {
        self.calendars = calendars;
        self
    }

    /// Reads an undo manifest.
    pub fn read(path: &Path) -> anyhow::Result<UndoManifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("Cannot read the undo manifest {}", path.display()))?;
        let manifest: UndoManifest = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an undo manifest", path.display()))?;
        anyhow::ensure!(
            manifest.format == FORMAT,
            "{} has format {:?}; this mailshift reads {FORMAT:?}",
            path.display(),
            manifest.format
        );
        Ok(manifest)
    }

    /// Writes the manifest as `dir/<migration ID>.json` (atomically).
    pub fn write(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("Cannot create {}", dir.display()))?;
        let path = dir.join(format!("{}.json", self.migration_id));
        let temp = dir.join(format!(".{}.json.tmp", self.migration_id));
        std::fs::write(&temp, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("Cannot write {}", temp.display()))?;
        std::fs::rename(&temp, &path)
            .with_context(|| format!("Cannot write {}", path.display()))?;
        Ok(path)
    }

    /// Whether undo is still allowed at `now`; `Err` says until when it was.
    pub fn check_window(&self, now: DateTime<Utc>) -> Result<(), String> {
        match self.undo_until {
            Some(until) if now > until => Err(format!(
                "undo of {} was allowed until {} and is no longer possible",
                self.migration_id,
                until.format("%Y-%m-%d %H:%M:%S UTC")
            )),
            _ => Ok(()),
        }
    }
}

/// The destination of an account plan, as an undo manifest names it.
pub fn destination_of(plan: &AccountPlan) -> Option<UndoDestination> {
    let endpoint = &plan.destination;
    Some(UndoDestination {
        email: endpoint.email.clone(),
        user: endpoint.user.clone(),
        server: endpoint.server.clone()?,
        credential: CredentialRef::of(&endpoint.credential),
    })
}

/// The Sieve section of an account's undo manifest, if a Sieve stage ran.
pub async fn sieve_of(
    store: &Store,
    plan: &AccountPlan,
    account_key: i64,
) -> anyhow::Result<Option<UndoSieve>> {
    let Some(data) = store.sieve_undo(account_key).await? else {
        return Ok(None);
    };
    let server = crate::stages::rules::sieve_server(&plan.destination)?;
    Ok(Some(UndoSieve::new(server, data)))
}

/// The contacts section of an account's undo manifest, if a contacts
/// stage ran.
pub async fn contacts_of(
    store: &Store,
    plan: &AccountPlan,
    account_key: i64,
) -> anyhow::Result<Option<UndoContacts>> {
    Ok(dav_section(store, plan, account_key, DavArea::Contacts)
        .await?
        .map(|(url, accept, data)| UndoContacts::new(url, accept, data)))
}

/// The calendars section of an account's undo manifest, if a calendars
/// or tasks stage ran.
pub async fn calendars_of(
    store: &Store,
    plan: &AccountPlan,
    account_key: i64,
) -> anyhow::Result<Option<UndoCalendars>> {
    Ok(dav_section(store, plan, account_key, DavArea::Calendars)
        .await?
        .map(|(url, accept, data)| UndoCalendars::new(url, accept, data)))
}

/// The destination home (the one the stage found, else `dav_url`), the
/// certificate policy and the records of one WebDAV area.
async fn dav_section(
    store: &Store,
    plan: &AccountPlan,
    account_key: i64,
    area: DavArea,
) -> anyhow::Result<Option<(String, bool, DavUndoData)>> {
    let Some(data) = store.dav_undo(account_key, area).await? else {
        return Ok(None);
    };
    let endpoint = &plan.destination;
    let dav_url = data
        .home
        .clone()
        .or_else(|| endpoint.dav_url.clone())
        .with_context(|| {
            format!(
                "The destination {} has no recorded {} home",
                endpoint.email,
                area.name()
            )
        })?;
    let accept = endpoint
        .server
        .as_ref()
        .is_some_and(|s| s.accept_invalid_certs);
    Ok(Some((dav_url, accept, data)))
}

/// Writes the undo manifest of every account of a batch into `dir`.
pub async fn write_manifests(
    store: &Store,
    plan: &Plan,
    batch_key: i64,
    dir: &Path,
) -> anyhow::Result<()> {
    for account in store.batch_accounts(batch_key).await? {
        let Some(destination) = plan
            .account(&account.source, &account.destination)
            .and_then(destination_of)
        else {
            continue;
        };
        let created = store.created_mail(account.key).await?;
        let (sieve, contacts, calendars) = match plan.account(&account.source, &account.destination)
        {
            Some(planned) => (
                sieve_of(store, planned, account.key).await?,
                contacts_of(store, planned, account.key).await?,
                calendars_of(store, planned, account.key).await?,
            ),
            None => (None, None, None),
        };
        UndoManifest::new(&account, destination, created)
            .with_sieve(sieve)
            .with_contacts(contacts)
            .with_calendars(calendars)
            .write(dir)?;
    }
    Ok(())
}

/// The JSON Schema of undo manifests, as `schemas/undo.schema.json` holds it.
pub fn schema_text() -> String {
    let schema = schemars::schema_for!(UndoManifest);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_schema_matches_the_types() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/undo.schema.json");
        if std::env::var_os("MAILSHIFT_BLESS").is_some() {
            std::fs::write(&path, schema_text()).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            on_disk,
            schema_text(),
            "schemas/undo.schema.json is stale: run with MAILSHIFT_BLESS=1"
        );
    }

    #[test]
    fn credentials_are_referenced_never_copied() {
        let inline = CredentialRef::of(&Credential::Password("hunter2".into()));
        assert_eq!(inline, CredentialRef::Inline);
        assert!(inline.credential().is_none());
        let env = CredentialRef::of(&Credential::PasswordEnv("PW".into()));
        assert_eq!(
            serde_json::to_string(&env).unwrap(),
            r#"{"password_env":"PW"}"#
        );
        assert!(matches!(env.credential(), Some(Credential::PasswordEnv(v)) if v == "PW"));
    }
}
