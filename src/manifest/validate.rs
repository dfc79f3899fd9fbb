//! The rules a manifest's values must follow beyond the schema: address
//! and host syntax, what each kind of endpoint can give or take, and
//! whether the secrets it names can be found. The plan builder applies
//! them once defaults are merged.

use std::path::Path;

use super::model::{Kind, OptionName};

/// Whether `s` is a plausible email address: one `@`, a local part of at
/// most 64 characters without spaces, and a domain of letters, digits,
/// `-` and dots (international names allowed).
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && s.len() <= 254
        && !local.contains(['@', ' ', '\t', '<', '>', '(', ')', ',', ';', ':', '\\', '"'])
        && !local.starts_with('.')
        && !local.ends_with('.')
        && is_domain(domain)
}

fn is_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// Why `host` is not a host name or IP address, if it is not.
pub fn host_problem(host: &str) -> Option<String> {
    if host.is_empty() {
        return Some("the host is empty".to_owned());
    }
    if host.contains("://") {
        return Some("write only the host name, without a scheme such as imaps://".to_owned());
    }
    if host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    if host.contains(':') {
        return Some("write the port in the port field, not after the host".to_owned());
    }
    if !is_domain(host.trim_end_matches('.')) {
        return Some("this is not a host name or IP address".to_owned());
    }
    None
}

/// Why `name` cannot be a batch name (it names a reports folder).
pub fn batch_name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > 100 {
        return Some("a batch name has 1 to 100 characters".to_owned());
    }
    if name.starts_with('.') {
        return Some("a batch name cannot start with a dot".to_owned());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Some("a batch name may only have letters, digits, `.`, `_` and `-`".to_owned());
    }
    None
}

/// A batch name made from a file name: unusual characters become `-`.
pub fn batch_name_from(stem: &str) -> String {
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_start_matches('.');
    if name.is_empty() {
        "batch".to_owned()
    } else {
        name.chars().take(100).collect()
    }
}

/// Whether a source of this kind can provide `option`. IMAP and POP3 give
/// mail only (as the seed says of POP/IMAP sources); an ICS file holds
/// events and to-dos, a vCard file contacts and groups, a PST file all of
/// these (Outlook's rules and out-of-office text are not in it).
pub fn source_provides(kind: Kind, option: OptionName) -> bool {
    match kind {
        Kind::Imap | Kind::Pop3 | Kind::Autodetect => option == OptionName::Mail,
        Kind::Pst => !matches!(option, OptionName::Rules | OptionName::AutoReplies),
        Kind::Ics => matches!(option, OptionName::Calendars | OptionName::Tasks),
        Kind::Vcf => matches!(option, OptionName::Contacts | OptionName::ContactGroups),
        Kind::Groupware => true,
    }
}

/// Whether a destination of this kind can store `option`.
pub fn destination_stores(kind: Kind, option: OptionName) -> bool {
    match kind {
        Kind::Imap | Kind::Autodetect => option == OptionName::Mail,
        Kind::Groupware => true,
        Kind::Pop3 | Kind::Pst | Kind::Ics | Kind::Vcf => false,
    }
}

/// Whether `option` goes through CalDAV/CardDAV.
pub fn uses_dav(option: OptionName) -> bool {
    matches!(
        option,
        OptionName::Calendars
            | OptionName::Tasks
            | OptionName::Contacts
            | OptionName::ContactGroups
    )
}

/// Why the environment variable `var` cannot give a secret, if it cannot.
pub fn env_problem(var: &str) -> Option<String> {
    if var.is_empty() || var.contains(['=', '\0']) {
        return Some(format!("{var:?} is not an environment variable name"));
    }
    match std::env::var_os(var) {
        None => Some(format!("environment variable {var} is not set")),
        Some(v) if v.is_empty() => Some(format!("environment variable {var} is empty")),
        Some(v) if v.to_str().is_none() => {
            Some(format!("environment variable {var} is not valid UTF-8"))
        }
        Some(_) => None,
    }
}

/// Why `path` cannot be read as a file, if it cannot.
pub fn file_problem(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Some(format!("{} is a directory, not a file", path.display())),
        Ok(_) => match std::fs::File::open(path) {
            Ok(_) => None,
            Err(e) => Some(format!("{} cannot be read: {e}", path.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Some(format!("{} does not exist", path.display()))
        }
        Err(e) => Some(format!("{} cannot be read: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_addresses() {
        for ok in [
            "alice@example.test",
            "a.b+c@mail.example.test",
            "josé@exämple.test",
            "root@localhost",
        ] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "alice",
            "alice@",
            "@example.test",
            "a b@example.test",
            "alice@@example.test",
            "alice@exa mple.test",
            "alice@-x.test",
            ".a@x.test",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn checks_hosts() {
        assert_eq!(host_problem("127.0.0.1"), None);
        assert_eq!(host_problem("::1"), None);
        assert_eq!(host_problem("imap.example.test"), None);
        assert!(host_problem("imaps://imap.example.test").is_some());
        assert!(host_problem("imap.example.test:993").is_some());
        assert!(host_problem("imap example").is_some());
    }

    #[test]
    fn names_batches_safely() {
        assert_eq!(batch_name_from("users 2024 (final)"), "users-2024--final-");
        assert_eq!(batch_name_problem("spring-2024"), None);
        assert!(batch_name_problem("../etc").is_some());
    }

    #[test]
    fn imap_sources_give_mail_only() {
        assert!(source_provides(Kind::Imap, OptionName::Mail));
        assert!(!source_provides(Kind::Pop3, OptionName::Contacts));
        assert!(source_provides(Kind::Pst, OptionName::Mail));
        assert!(source_provides(Kind::Pst, OptionName::Calendars));
        assert!(source_provides(Kind::Pst, OptionName::ContactGroups));
        assert!(!source_provides(Kind::Pst, OptionName::Rules));
        assert!(source_provides(Kind::Ics, OptionName::Tasks));
        assert!(!source_provides(Kind::Ics, OptionName::Mail));
        assert!(source_provides(Kind::Vcf, OptionName::ContactGroups));
        assert!(!source_provides(Kind::Vcf, OptionName::Calendars));
        assert!(!destination_stores(Kind::Pop3, OptionName::Mail));
    }
}
