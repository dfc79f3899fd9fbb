//! A Dovecot dressed as Gmail's IMAP view: a `[Gmail]` hierarchy of
//! virtual folders (Dovecot's virtual plugin, shipped in dovecot-core) —
//! `All Mail` (`\All`) over every folder but Spam and Trash, `Starred`
//! (`\Flagged`) over flagged messages, `Important` (`\Important`) over
//! messages with the keyword `$Important` — and archived mail in a hidden
//! namespace, so that it shows only through All Mail.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

/// In a [`super::DovecotOptions::gmail_view`] server, the folder of archived
/// mail: in a hidden namespace, so that it is listed by no one and shows
/// only through `[Gmail]/All Mail`, as an archived Gmail message does.
pub const GMAIL_ARCHIVED: &str = ".archived/mail";

/// The definitions of the `[Gmail]` virtual folders: the mailboxes each
/// one shows, and which of their messages.
pub fn write_views(base: &Path) -> Result<(), String> {
    let everything = format!("*\n{GMAIL_ARCHIVED}\n-Trash\n-Spam\n");
    for (name, search) in [
        ("All Mail", "all"),
        ("Starred", "flagged"),
        ("Important", "keyword $Important"),
    ] {
        let dir = base.join("virtual").join(name);
        fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        fs::write(
            dir.join("dovecot-virtual"),
            format!("{everything}  {search}\n"),
        )
        .map_err(|e| e.to_string())?;
    }
    fs::set_permissions(base.join("virtual"), fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())
}

/// The namespaces of a Gmail-like view (none when `on` is false): the
/// `[Gmail]` virtual folders (indexes per user) and the hidden one of
/// archived mail.
pub fn namespaces(
    on: bool,
    base: &std::path::Display<'_>,
    mail: &std::path::Display<'_>,
) -> String {
    if !on {
        return String::new();
    }
    format!(
        "mail_plugins = $mail_plugins virtual\n\
         namespace gmail {{\n  prefix = [Gmail]/\n  separator = /\n  \
         location = virtual:{base}/virtual:INDEX={mail}/%u/virtual\n  \
         subscriptions = no\n  list = yes\n  \
         mailbox \"All Mail\" {{\n    special_use = \\All\n  }}\n  \
         mailbox Starred {{\n    special_use = \\Flagged\n  }}\n  \
         mailbox Important {{\n    special_use = \\Important\n  }}\n}}\n\
         namespace archived {{\n  prefix = .archived/\n  separator = /\n  \
         location = sdbox:{mail}/%u/archived\n  hidden = yes\n  list = no\n  \
         subscriptions = no\n}}\n"
    )
}
