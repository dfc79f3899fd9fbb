//! The manifest as written: types that mirror the YAML file field for field.
//!
//! Every field is optional here, because the same types describe both
//! `defaults` and each account, and an account is only complete once the
//! defaults are merged under it ([`AccountSpec::merged_over`]). What is
//! required is checked when the plan is built. These types are also the
//! single source of `schemas/manifest.schema.json` (see
//! [`super::schema`]).

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::vocabulary::TlsMode;
use crate::vocabulary::{AccountState, Secret};

mod endpoint;

pub use endpoint::{
    ADMIN_STYLES, AdminSpec, AdminStyleSpec, EndpointSpec, OAUTH2_SERVICES, OAuth2Service,
    OAuth2Spec, SieveSpec,
};

/// A mailshift manifest: one batch of account migrations.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mailshift manifest")]
pub struct ManifestFile {
    /// The JSON Schema this file follows, for editors; ignored by mailshift.
    #[serde(rename = "$schema")]
    pub schema: Option<String>,
    /// The batch name, used for report folders (letters, digits, `.`, `_`,
    /// `-`). Default: the manifest's file name without its extension.
    pub batch: Option<String>,
    /// Addresses told when the whole batch finishes: one summary per
    /// batch, never one email per account.
    pub notify: Option<Vec<String>>,
    /// Which outcomes are emailed, to each account's `notify` and (as the
    /// batch summary) to the batch's. Default: every final outcome
    /// (`completed`, `completed_with_errors`, `failed`, `undone`), each
    /// once; add `incremental_passes` to hear of every later pass too.
    pub notify_on: Option<Vec<NotifyOn>>,
    /// The language of the notification emails: `en` (default) or `es`;
    /// an account's own `language` wins.
    pub language: Option<Language>,
    /// A folder, relative to this file, whose notification templates
    /// (`account.en.hbs`, `account.es.hbs`) replace the shipped ones.
    pub notification_templates: Option<String>,
    /// Concurrency and rate limits for the batch.
    pub limits: Option<LimitsSpec>,
    /// How many hours after an account finishes `undo` is allowed.
    /// Default: 48.
    pub undo_window_hours: Option<u32>,
    /// Start the batch no earlier than this time (RFC 3339, e.g.
    /// `2024-06-01T22:00:00+02:00`): the hosted service's "start later".
    /// The manifest is checked at once; the watched folder's daemon starts
    /// the batch by itself at that time, also across restarts.
    pub start_after: Option<String>,
    /// The mail server notifications are sent through.
    pub smtp: Option<SmtpSpec>,
    /// Values every account starts from; an account overrides any of them.
    pub defaults: Option<AccountSpec>,
    /// The accounts: one source→destination pair each.
    pub accounts: Option<Vec<AccountSpec>>,
    /// A CSV file with one account per row, relative to this file. Its rows
    /// are merged over `defaults` like the accounts above, and come after
    /// them.
    pub accounts_csv: Option<String>,
}

/// One account, or the defaults shared by every account.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    /// Where the mail comes from.
    pub source: Option<EndpointSpec>,
    /// Where the mail goes.
    pub destination: Option<EndpointSpec>,
    /// What to migrate. Default: `[mail]`.
    pub options: Option<Vec<OptionName>>,
    /// Mail filters and folder renames.
    pub mail: Option<MailSpec>,
    /// Addresses told when this account finishes. Without them, the
    /// account sends no email of its own: the batch summary covers it.
    pub notify: Option<Vec<String>>,
    /// The language of this account's notification emails: `en` or `es`.
    /// Default: the batch's `language`.
    pub language: Option<Language>,
    /// How many items may fail before the account fails. Default:
    /// `limits.error_budget`, else 100.
    pub error_budget: Option<u32>,
}

/// An outcome a notification is sent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifyOn {
    /// Every stage done, no item failed.
    Completed,
    /// Done, with some items failed.
    CompletedWithErrors,
    /// The account failed.
    Failed,
    /// The migration was undone.
    Undone,
    /// Also every later (incremental) pass, not only the first time an
    /// account reaches an outcome.
    IncrementalPasses,
}

impl NotifyOn {
    /// What is notified when the manifest does not say.
    pub const DEFAULT: [NotifyOn; 4] = [
        NotifyOn::Completed,
        NotifyOn::CompletedWithErrors,
        NotifyOn::Failed,
        NotifyOn::Undone,
    ];

    /// The outcome an account state is, if it is one notifications are
    /// sent for.
    pub fn of_state(state: AccountState) -> Option<NotifyOn> {
        match state {
            AccountState::Completed => Some(NotifyOn::Completed),
            AccountState::CompletedWithErrors => Some(NotifyOn::CompletedWithErrors),
            AccountState::Failed => Some(NotifyOn::Failed),
            AccountState::Undone => Some(NotifyOn::Undone),
            _ => None,
        }
    }
}

/// The language of notification emails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English.
    #[default]
    En,
    /// Spanish.
    Es,
}

impl Language {
    /// Every language, with its code in manifests.
    pub const ALL: [(&'static str, Language); 2] = [("en", Language::En), ("es", Language::Es)];

    /// The language's code (`en`, `es`).
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Es => "es",
        }
    }
}

/// What kind of store an endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An IMAP server: mail only.
    Imap,
    /// A POP3 server: mail only, into INBOX; a source only.
    Pop3,
    /// An Outlook PST file: a source only.
    Pst,
    /// An iCalendar (`.ics`) file: events and to-dos; a source only.
    Ics,
    /// A vCard (`.vcf`) file: contacts and contact groups; a source only.
    Vcf,
    /// IMAP for mail plus CalDAV/CardDAV (`dav_url`) and ManageSieve
    /// (`sieve`) for the rest.
    Groupware,
    /// Server settings found from the email address alone (provider
    /// table, autoconfig, DNS SRV, MX): IMAP, and CalDAV/CardDAV and
    /// ManageSieve where found.
    Autodetect,
}

impl Kind {
    /// Every kind, with its name in the manifest.
    pub const ALL: [(&'static str, Kind); 7] = [
        ("imap", Kind::Imap),
        ("pop3", Kind::Pop3),
        ("pst", Kind::Pst),
        ("ics", Kind::Ics),
        ("vcf", Kind::Vcf),
        ("groupware", Kind::Groupware),
        ("autodetect", Kind::Autodetect),
    ];

    /// The kind's name in manifests.
    pub fn name(self) -> &'static str {
        Kind::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("imap", |(n, _)| n)
    }

    /// Whether this kind is a file read once (PST, ICS, vCard) rather than
    /// a server: it has a `path`, no server and no credentials, and can
    /// only be a source.
    pub fn is_file(self) -> bool {
        matches!(self, Kind::Pst | Kind::Ics | Kind::Vcf)
    }

    /// The kind of a file source whose `kind` is not given, from its
    /// extension: `.ics` and `.vcf` (or `.vcard`) are themselves, anything
    /// else is a PST file.
    pub fn of_path(path: &str) -> Kind {
        let extension = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        match extension.as_deref() {
            Some("ics" | "ical" | "ifb") => Kind::Ics,
            Some("vcf" | "vcard") => Kind::Vcf,
            _ => Kind::Pst,
        }
    }
}

/// One of the things a migration can copy (the seed's options).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OptionName {
    /// Messages, with folders, flags and dates.
    Mail,
    /// Calendars and their events (CalDAV), without sending invitations.
    Calendars,
    /// To-dos (CalDAV VTODO).
    Tasks,
    /// Address books and contacts (CardDAV).
    Contacts,
    /// Contact groups (CardDAV vCard groups).
    ContactGroups,
    /// Server-side filters (ManageSieve).
    Rules,
    /// Out-of-office replies (Sieve vacation).
    AutoReplies,
}

impl OptionName {
    /// Every option, with its name in the manifest.
    pub const ALL: [(&'static str, OptionName); 7] = [
        ("mail", OptionName::Mail),
        ("calendars", OptionName::Calendars),
        ("tasks", OptionName::Tasks),
        ("contacts", OptionName::Contacts),
        ("contact_groups", OptionName::ContactGroups),
        ("rules", OptionName::Rules),
        ("auto_replies", OptionName::AutoReplies),
    ];

    /// The option's name in manifests.
    pub fn name(self) -> &'static str {
        OptionName::ALL
            .iter()
            .find(|(_, o)| *o == self)
            .map_or("mail", |(n, _)| n)
    }
}

impl fmt::Display for OptionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The names of the TLS modes, as written in a manifest.
pub const TLS_MODES: [(&str, TlsMode); 3] = [
    ("implicit", TlsMode::Implicit),
    ("starttls", TlsMode::StartTls),
    ("none", TlsMode::None),
];

/// Which mail to copy and where folders go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailSpec {
    /// Folders to copy, as patterns (`*` any text, `?` one character;
    /// `/` separates levels). Default: every folder.
    pub include: Option<Vec<String>>,
    /// Folders to skip, as patterns.
    pub exclude: Option<Vec<String>>,
    /// Folder renames: source folder → destination folder.
    pub map: Option<BTreeMap<String, String>>,
    /// Copy only messages received on or after this day (`2024-01-31`).
    pub since: Option<chrono::NaiveDate>,
    /// Copy only messages received before this day.
    pub before: Option<chrono::NaiveDate>,
    /// Skip larger messages: bytes, or a size such as `25MB` or `1.5GiB`.
    pub max_message_size: Option<ByteSize>,
    /// Also copy messages flagged `\Deleted`. Default: false.
    pub include_deleted: Option<bool>,
    /// A label-aware source (Gmail, Google Workspace): `all` (default)
    /// copies a message into the folder of each of its labels; `first`
    /// copies it once, into the first of its labels by `label_priority`.
    pub labels: Option<LabelMode>,
    /// Where a label-aware source's archived messages (in All Mail and
    /// under no label) go. Default: `Archive`.
    pub archive_folder: Option<String>,
    /// With `labels: first`: source folders (patterns, `/` between levels)
    /// in the order a message's one copy prefers them. Default: INBOX,
    /// then the other folders, then Sent, Drafts, Spam and Trash.
    pub label_priority: Option<Vec<String>>,
}

/// How a label-aware source's messages are spread over folders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LabelMode {
    /// One copy in the folder of each label.
    #[default]
    All,
    /// One copy, in the folder of the first label by priority.
    First,
}

impl LabelMode {
    /// Every mode, with its name in manifests.
    pub const ALL: [(&'static str, LabelMode); 2] =
        [("all", LabelMode::All), ("first", LabelMode::First)];

    /// The mode's name in manifests (`all`, `first`).
    pub fn name(self) -> &'static str {
        match self {
            LabelMode::All => "all",
            LabelMode::First => "first",
        }
    }
}

/// The mail server that notifications go through.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmtpSpec {
    /// The SMTP server.
    pub host: String,
    /// Default: 587 with `starttls`, 465 with `implicit`, 25 with `none`.
    pub port: Option<u16>,
    /// Default: `starttls`.
    pub tls: Option<TlsMode>,
    /// Accept a self-signed or otherwise invalid certificate.
    pub accept_invalid_certs: Option<bool>,
    /// The sender address of notifications.
    pub from: String,
    /// The login name; no authentication without it.
    pub user: Option<String>,
    /// The password, inline (prefer `password_env` or `password_file`).
    pub password: Option<Secret>,
    /// An environment variable holding the password.
    pub password_env: Option<String>,
    /// A file whose first line is the password.
    pub password_file: Option<String>,
}

/// Concurrency and rate limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Accounts migrated at the same time. Default: 8.
    #[schemars(range(min = 1))]
    pub concurrent_accounts: Option<u32>,
    /// Connections open to one host, across the batch. Default: 16.
    #[schemars(range(min = 1))]
    pub connections_per_host: Option<u32>,
    /// Connections one account uses on each side. Default: 2.
    #[schemars(range(min = 1))]
    pub connections_per_account: Option<u32>,
    /// Cap on messages copied per second, for the batch. Default: none.
    #[schemars(range(min = 1))]
    pub messages_per_second: Option<u32>,
    /// Cap on bytes copied per second, for the batch: bytes or a size such
    /// as `10MB`. Default: none.
    pub bytes_per_second: Option<ByteSize>,
    /// How many items an account may fail before it fails, unless the
    /// account says otherwise. Default: 100.
    pub error_budget: Option<u32>,
}

/// A number of bytes, written as an integer or as a number with a unit:
/// `B`, `KB`/`MB`/`GB`/`TB` (powers of 1000) or `KiB`/`MiB`/`GiB`/`TiB`
/// (powers of 1024), case-insensitive, optional space: `25MB`, `1.5 GiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// The pattern a size written as text must match.
    pub const PATTERN: &'static str = r"^\s*[0-9]+(\.[0-9]+)?\s*([kKmMgGtT][iI]?)?[bB]?\s*$";

    /// Parses `25MB`, `1.5 GiB`, `1024`.
    pub fn parse(text: &str) -> Option<ByteSize> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let unit = unit.trim().to_ascii_lowercase();
        let unit = unit.strip_suffix('b').unwrap_or(&unit);
        let factor: u64 = match unit {
            "" => 1,
            "k" => 1000,
            "m" => 1000_u64.pow(2),
            "g" => 1000_u64.pow(3),
            "t" => 1000_u64.pow(4),
            "ki" => 1 << 10,
            "mi" => 1 << 20,
            "gi" => 1 << 30,
            "ti" => 1 << 40,
            _ => return None,
        };
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return None;
        }
        if let Ok(whole) = number.parse::<u64>() {
            return whole.checked_mul(factor).map(ByteSize);
        }
        let value: f64 = number.parse().ok()?;
        let bytes = (value * factor as f64).round();
        // Sizes beyond u64 are not sizes anyone means; refuse them.
        (bytes.is_finite() && bytes < u64::MAX as f64).then_some(ByteSize(bytes as u64))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of bytes or a size such as 25MB")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).ok_or_else(|| E::custom("not a size such as 25MB"))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ByteSize".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Bytes, or a number with a unit: 25MB, 1.5GiB (KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024).",
            "type": ["integer", "string"],
            "minimum": 0,
            "pattern": ByteSize::PATTERN,
        })
    }
}

impl AccountSpec {
    /// This account with `defaults` filled in under it. Each field the
    /// account sets wins; lists are replaced, not joined; endpoint, `sieve`
    /// and `mail` fields merge one by one. See [`EndpointSpec::merged_over`]
    /// for the two exceptions (kind and credentials).
    pub fn merged_over(&self, defaults: &AccountSpec) -> AccountSpec {
        AccountSpec {
            source: merge_endpoint(&self.source, &defaults.source),
            destination: merge_endpoint(&self.destination, &defaults.destination),
            options: self.options.clone().or_else(|| defaults.options.clone()),
            mail: match (&self.mail, &defaults.mail) {
                (Some(own), Some(base)) => Some(own.merged_over(base)),
                (own, base) => own.clone().or_else(|| base.clone()),
            },
            notify: self.notify.clone().or_else(|| defaults.notify.clone()),
            language: self.language.or(defaults.language),
            error_budget: self.error_budget.or(defaults.error_budget),
        }
    }
}

fn merge_endpoint(own: &Option<EndpointSpec>, base: &Option<EndpointSpec>) -> Option<EndpointSpec> {
    match (own, base) {
        (Some(own), Some(base)) => Some(own.merged_over(base)),
        (own, base) => own.clone().or_else(|| base.clone()),
    }
}

impl MailSpec {
    /// Field by field, own values first.
    pub fn merged_over(&self, base: &MailSpec) -> MailSpec {
        MailSpec {
            include: self.include.clone().or_else(|| base.include.clone()),
            exclude: self.exclude.clone().or_else(|| base.exclude.clone()),
            map: self.map.clone().or_else(|| base.map.clone()),
            since: self.since.or(base.since),
            before: self.before.or(base.before),
            max_message_size: self.max_message_size.or(base.max_message_size),
            include_deleted: self.include_deleted.or(base.include_deleted),
            labels: self.labels.or(base.labels),
            archive_folder: self
                .archive_folder
                .clone()
                .or_else(|| base.archive_folder.clone()),
            label_priority: self
                .label_priority
                .clone()
                .or_else(|| base.label_priority.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        let p = |s| ByteSize::parse(s).map(|b| b.0);
        assert_eq!(p("1024"), Some(1024));
        assert_eq!(p("25MB"), Some(25_000_000));
        assert_eq!(p("25 mb"), Some(25_000_000));
        assert_eq!(p("1.5GiB"), Some(1_610_612_736));
        assert_eq!(p("2k"), Some(2000));
        assert_eq!(p("10 KiB"), Some(10_240));
        assert_eq!(p("25XB"), None);
        assert_eq!(p("MB"), None);
        assert_eq!(p("1.MB"), None);
        assert_eq!(p("99999999999999999999TB"), None);
    }

    #[test]
    fn credentials_merge_as_a_group() {
        let base = EndpointSpec {
            host: Some("imap.example.test".into()),
            password_env: Some("SHARED".into()),
            ..EndpointSpec::default()
        };
        let own = EndpointSpec {
            password_file: Some("alice.txt".into()),
            ..EndpointSpec::default()
        };
        let merged = own.merged_over(&base);
        assert_eq!(merged.host.as_deref(), Some("imap.example.test"));
        assert_eq!(merged.password_env, None);
        assert_eq!(merged.password_file.as_deref(), Some("alice.txt"));
    }

    #[test]
    fn different_kinds_do_not_inherit() {
        let base = EndpointSpec {
            kind: Some(Kind::Imap),
            host: Some("imap.example.test".into()),
            ..EndpointSpec::default()
        };
        let own = EndpointSpec {
            kind: Some(Kind::Pst),
            path: Some("alice.pst".into()),
            ..EndpointSpec::default()
        };
        assert_eq!(own.merged_over(&base).host, None);
    }
}
