//! The native columns: each one's name, the field it sets, and the
//! spellings spreadsheets give it.

use std::sync::OnceLock;

/// One native column.
#[derive(Debug, Clone)]
pub struct ColumnDef {
    /// The canonical name (`source_port`).
    pub name: String,
    /// The account field it fills (`source.port`).
    pub field: String,
    /// What goes in it, for the documentation.
    pub doc: &'static str,
    pub(super) set: Setter,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Side {
    Source,
    Destination,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum EndpointField {
    Kind,
    Host,
    Port,
    Tls,
    AcceptInvalidCerts,
    Email,
    User,
    Password,
    PasswordEnv,
    PasswordFile,
    TokenEnv,
    TokenFile,
    TokenCommand,
    Service,
    KeyFile,
    Subject,
    Tenant,
    ClientId,
    ClientSecretEnv,
    ClientSecretFile,
    CertificateFile,
    TokenUrl,
    AdminUser,
    AdminPassword,
    AdminPasswordEnv,
    AdminPasswordFile,
    AdminStyle,
    AdminSeparator,
    Path,
    DavUrl,
    SieveHost,
    SievePort,
    SieveTls,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Setter {
    Endpoint(Side, EndpointField),
    Options,
    Notify,
    Language,
    ErrorBudget,
    Include,
    Exclude,
    Map,
    Since,
    Before,
    MaxMessageSize,
    IncludeDeleted,
    Labels,
    ArchiveFolder,
    LabelPriority,
}

const ENDPOINT_COLUMNS: [(&str, &str, EndpointField, &str); 33] = [
    (
        "kind",
        "kind",
        EndpointField::Kind,
        "imap, pop3, pst, ics, vcf, groupware or autodetect",
    ),
    (
        "host",
        "host",
        EndpointField::Host,
        "server host name or IP address",
    ),
    ("port", "port", EndpointField::Port, "server port (1–65535)"),
    (
        "tls",
        "tls",
        EndpointField::Tls,
        "implicit, starttls or none",
    ),
    (
        "accept_invalid_certs",
        "accept_invalid_certs",
        EndpointField::AcceptInvalidCerts,
        "true/false (also yes/no, 1/0)",
    ),
    (
        "email",
        "email",
        EndpointField::Email,
        "the mailbox's address",
    ),
    (
        "user",
        "user",
        EndpointField::User,
        "login name (default: the email)",
    ),
    (
        "password",
        "password",
        EndpointField::Password,
        "the password itself",
    ),
    (
        "password_env",
        "password_env",
        EndpointField::PasswordEnv,
        "environment variable holding the password",
    ),
    (
        "password_file",
        "password_file",
        EndpointField::PasswordFile,
        "file holding the password, relative to the CSV",
    ),
    (
        "oauth2_token_env",
        "oauth2.token_env",
        EndpointField::TokenEnv,
        "environment variable holding an OAuth2 token",
    ),
    (
        "oauth2_token_file",
        "oauth2.token_file",
        EndpointField::TokenFile,
        "file holding an OAuth2 token",
    ),
    (
        "oauth2_token_command",
        "oauth2.token_command",
        EndpointField::TokenCommand,
        "command printing an OAuth2 token",
    ),
    (
        "oauth2_service",
        "oauth2.service",
        EndpointField::Service,
        "google or microsoft: a service account asks for the tokens",
    ),
    (
        "oauth2_key_file",
        "oauth2.key_file",
        EndpointField::KeyFile,
        "Google service account's JSON key file",
    ),
    (
        "oauth2_subject",
        "oauth2.subject",
        EndpointField::Subject,
        "Google: mailbox the token acts for (default: the user)",
    ),
    (
        "oauth2_tenant",
        "oauth2.tenant",
        EndpointField::Tenant,
        "Microsoft: directory (tenant) ID or domain",
    ),
    (
        "oauth2_client_id",
        "oauth2.client_id",
        EndpointField::ClientId,
        "Microsoft: application (client) ID",
    ),
    (
        "oauth2_client_secret_env",
        "oauth2.client_secret_env",
        EndpointField::ClientSecretEnv,
        "Microsoft: environment variable holding the client secret",
    ),
    (
        "oauth2_client_secret_file",
        "oauth2.client_secret_file",
        EndpointField::ClientSecretFile,
        "Microsoft: file holding the client secret",
    ),
    (
        "oauth2_certificate_file",
        "oauth2.certificate_file",
        EndpointField::CertificateFile,
        "Microsoft: PEM file with the application's certificate and key",
    ),
    (
        "oauth2_token_url",
        "oauth2.token_url",
        EndpointField::TokenUrl,
        "token endpoint instead of the service's own",
    ),
    (
        "admin_user",
        "admin.user",
        EndpointField::AdminUser,
        "administrator who logs in for the mailbox",
    ),
    (
        "admin_password",
        "admin.password",
        EndpointField::AdminPassword,
        "the administrator's password itself",
    ),
    (
        "admin_password_env",
        "admin.password_env",
        EndpointField::AdminPasswordEnv,
        "environment variable holding the administrator's password",
    ),
    (
        "admin_password_file",
        "admin.password_file",
        EndpointField::AdminPasswordFile,
        "file holding the administrator's password",
    ),
    (
        "admin_style",
        "admin.style",
        EndpointField::AdminStyle,
        "authzid or separator",
    ),
    (
        "admin_separator",
        "admin.separator",
        EndpointField::AdminSeparator,
        "between mailbox and administrator in the login (style separator)",
    ),
    (
        "path",
        "path",
        EndpointField::Path,
        "PST, ICS or vCard file, relative to the CSV",
    ),
    (
        "dav_url",
        "dav_url",
        EndpointField::DavUrl,
        "CalDAV/CardDAV base URL (groupware)",
    ),
    (
        "sieve_host",
        "sieve.host",
        EndpointField::SieveHost,
        "ManageSieve host (groupware)",
    ),
    (
        "sieve_port",
        "sieve.port",
        EndpointField::SievePort,
        "ManageSieve port (groupware)",
    ),
    (
        "sieve_tls",
        "sieve.tls",
        EndpointField::SieveTls,
        "ManageSieve TLS mode (groupware)",
    ),
];

/// Every native column, in documentation order.
pub fn columns() -> &'static [ColumnDef] {
    static COLUMNS: OnceLock<Vec<ColumnDef>> = OnceLock::new();
    COLUMNS.get_or_init(|| {
        let mut out = Vec::new();
        for (prefix, side) in [("source", Side::Source), ("destination", Side::Destination)] {
            for (suffix, field, which, doc) in ENDPOINT_COLUMNS {
                out.push(ColumnDef {
                    name: format!("{prefix}_{suffix}"),
                    field: format!("{prefix}.{field}"),
                    doc,
                    set: Setter::Endpoint(side, which),
                });
            }
        }
        let account = [
            ("options", "options", Setter::Options, "what to migrate: mail, calendars, tasks, contacts, contact_groups, rules, auto_replies"),
            ("notify", "notify", Setter::Notify, "addresses told when the account finishes"),
            ("language", "language", Setter::Language, "language of the account's emails: en or es"),
            ("error_budget", "error_budget", Setter::ErrorBudget, "item failures tolerated"),
            ("mail_include", "mail.include", Setter::Include, "folder patterns to copy, separated by |"),
            ("mail_exclude", "mail.exclude", Setter::Exclude, "folder patterns to skip, separated by |"),
            ("mail_map", "mail.map", Setter::Map, "folder renames: Old=New, separated by |"),
            ("mail_since", "mail.since", Setter::Since, "copy messages received on or after (YYYY-MM-DD)"),
            ("mail_before", "mail.before", Setter::Before, "copy messages received before (YYYY-MM-DD)"),
            ("mail_max_message_size", "mail.max_message_size", Setter::MaxMessageSize, "skip larger messages (bytes or 25MB)"),
            ("mail_include_deleted", "mail.include_deleted", Setter::IncludeDeleted, "also copy messages flagged \\Deleted (true/false)"),
            ("mail_labels", "mail.labels", Setter::Labels, "label-aware sources (Gmail): all (a copy per label) or first (one copy)"),
            ("mail_archive_folder", "mail.archive_folder", Setter::ArchiveFolder, "where archived mail (All Mail only) goes; default Archive"),
            ("mail_label_priority", "mail.label_priority", Setter::LabelPriority, "with labels first: folder patterns in order of preference, separated by |"),
        ];
        for (name, field, set, doc) in account {
            out.push(ColumnDef {
                name: name.to_owned(),
                field: field.to_owned(),
                doc,
                set,
            });
        }
        out
    })
}

/// Other names of a side, as spreadsheets write them.
const SIDE_NAMES: [(&str, &str); 9] = [
    ("source", "source"),
    ("src", "source"),
    ("old", "source"),
    ("from", "source"),
    ("destination", "destination"),
    ("dest", "destination"),
    ("dst", "destination"),
    ("target", "destination"),
    ("new", "destination"),
];

/// Other names of an endpoint field, squashed, as spreadsheets write them.
const FIELD_NAMES: [(&str, &str); 14] = [
    ("mail", "email"),
    ("address", "email"),
    ("emailaddress", "email"),
    ("mailbox", "email"),
    ("login", "user"),
    ("username", "user"),
    ("userid", "user"),
    ("account", "user"),
    ("pass", "password"),
    ("pwd", "password"),
    ("passwd", "password"),
    ("server", "host"),
    ("hostname", "host"),
    ("imapserver", "host"),
];

/// The native column a header cell names, under its own name or a common
/// other one (`Source Login` → `source_user`).
pub fn column_named(header: &str) -> Option<&'static ColumnDef> {
    let key = crate::manifest::dialects::squash(header);
    if key.is_empty() {
        return None;
    }
    let named = |name: &str| {
        columns()
            .iter()
            .find(|d| crate::manifest::dialects::squash(&d.name) == name)
    };
    named(&key).or_else(|| {
        SIDE_NAMES.iter().find_map(|(prefix, side)| {
            let rest = key.strip_prefix(prefix)?;
            let field = FIELD_NAMES
                .iter()
                .find(|(other, _)| *other == rest)
                .map_or(rest, |(_, field)| *field);
            named(&format!("{side}{field}"))
        })
    })
}
