//! Folder mapping: which source folders are copied, and to which
//! destination folder each one goes.
//!
//! A folder name is turned into a *path* of components (the personal
//! namespace prefix removed, split on the source's separator), the
//! manifest's rules apply to the path written with `/`, special-use folders
//! are matched (the source's `\Sent` goes to the destination's `\Sent`,
//! whatever each is called), and the path is written back with the
//! destination's prefix and separator. A component that contains the
//! destination's separator has it replaced by `_`, so a name never splits
//! into two levels by accident.
//!
//! A label-aware source's folders carry their [`LabelShare`]: which of
//! their messages this folder's copy takes ([`super::labels`] works it out).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::plan::MailRules;
use crate::protocols::imap::{Mailbox, utf7};

/// How a server names folders.
#[derive(Debug, Clone)]
pub struct Naming {
    /// The personal namespace prefix, decoded (`""` or `"INBOX."`).
    pub prefix: String,
    /// The hierarchy separator.
    pub delimiter: char,
}

/// A source folder and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderMapping {
    /// The source folder's name, decoded, as the source shows it.
    pub source: String,
    /// The source folder's name on the wire (modified UTF-7).
    pub source_raw: String,
    /// The destination folder's name, decoded.
    pub dest: String,
    /// The destination folder's name on the wire (modified UTF-7).
    pub dest_raw: String,
    /// The source folder holds no messages (`\Noselect`): create it only.
    pub noselect: bool,
    /// The source folder is subscribed.
    pub subscribed: bool,
    /// For a label-aware source: which of the folder's messages are
    /// copied here; `None` copies every one.
    pub share: Option<Arc<LabelShare>>,
}

impl FolderMapping {
    /// Of the source folder's `messages`, how many are its copy's: all,
    /// or its share of a label-aware source's.
    pub fn found(&self, messages: u32) -> u64 {
        let messages = u64::from(messages);
        match self.share.as_deref() {
            None => messages,
            Some(LabelShare {
                only: Some(only), ..
            }) => only.len() as u64,
            Some(share) => messages.saturating_sub(share.left_out.len() as u64),
        }
    }
}

/// Which messages of a label-aware source's folder go to its destination
/// folder, by source UID. A UID the share does not know (a message that
/// arrived after the labels were read) is copied by a label folder and
/// left for the next run by All Mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelShare {
    /// Messages whose copy is elsewhere (another label's folder).
    pub left_out: HashSet<u32>,
    /// All Mail: only these messages (under no label) are copied.
    pub only: Option<HashSet<u32>>,
    /// Messages starred at the source: copied with `\Flagged`.
    pub starred: HashSet<u32>,
    /// A destination with Gmail labels: the labels (folder names as on
    /// the wire) to add to the one copy, by source UID.
    pub more_labels: HashMap<u32, Vec<String>>,
}

impl LabelShare {
    /// Whether this folder's copy takes the message.
    pub fn copies(&self, uid: u32) -> bool {
        match &self.only {
            Some(only) => only.contains(&uid),
            None => !self.left_out.contains(&uid),
        }
    }

    /// The message's source flags, with `\Flagged` when it is starred.
    pub fn flags(&self, uid: u32, flags: &[String]) -> Vec<String> {
        let mut flags = flags.to_vec();
        if self.starred.contains(&uid) && !flags.iter().any(|f| f.eq_ignore_ascii_case("\\Flagged"))
        {
            flags.push("\\Flagged".to_owned());
        }
        flags
    }
}

/// Maps every source folder the rules let through to its destination.
pub fn map_folders(
    source: &[Mailbox],
    source_naming: &Naming,
    dest: &[Mailbox],
    dest_naming: &Naming,
    rules: &MailRules,
) -> Vec<FolderMapping> {
    let special: Vec<(Vec<String>, Vec<String>)> = source
        .iter()
        .filter_map(|s| {
            let kind = s.special_use?;
            let d = dest.iter().find(|d| d.special_use == Some(kind))?;
            Some((
                path_of(&s.name, source_naming),
                path_of(&d.name, dest_naming),
            ))
        })
        .collect();

    let mut mappings: Vec<FolderMapping> = source
        .iter()
        .filter_map(|mailbox| {
            let path = path_of(&mailbox.name, source_naming);
            let joined = path.join("/");
            if !selected(&joined, rules) {
                return None;
            }
            let target = renamed(&path, rules).unwrap_or_else(|| special_target(&path, &special));
            let dest = name_of(&target, dest_naming);
            Some(FolderMapping {
                source: mailbox.name.clone(),
                source_raw: mailbox.raw.clone(),
                dest_raw: utf7::encode(&dest),
                dest,
                noselect: mailbox.noselect,
                subscribed: mailbox.subscribed,
                share: None,
            })
        })
        .collect();
    // Parents before children, so that a parent is created first.
    mappings.sort_by(|a, b| a.dest.cmp(&b.dest));
    mappings
}

/// A folder path written with `/` (`Archive/2024`) as a destination
/// folder: its name decoded and on the wire.
pub fn dest_folder(path: &str, naming: &Naming) -> (String, String) {
    let path: Vec<String> = path.split('/').map(str::to_owned).collect();
    let name = name_of(&path, naming);
    (name.clone(), utf7::encode(&name))
}

/// A source folder's name as a path written with `/`, as the manifest's
/// rules see it.
pub fn rule_path(name: &str, naming: &Naming) -> String {
    path_of(name, naming).join("/")
}

/// Whether a folder, as a path joined with `/`, matches a pattern of the
/// manifest (`*` any text, `?` one character).
pub fn matches(pattern: &str, path: &str) -> bool {
    glob(pattern, path)
}

/// A folder name as a path of components, without the namespace prefix.
fn path_of(name: &str, naming: &Naming) -> Vec<String> {
    if name.eq_ignore_ascii_case("INBOX") {
        return vec!["INBOX".to_owned()];
    }
    let rest = name.strip_prefix(naming.prefix.as_str()).unwrap_or(name);
    rest.split(naming.delimiter).map(str::to_owned).collect()
}

/// A path as a folder name for a server.
fn name_of(path: &[String], naming: &Naming) -> String {
    if path.len() == 1 && path[0].eq_ignore_ascii_case("INBOX") {
        return "INBOX".to_owned();
    }
    let separator = naming.delimiter.to_string();
    let components: Vec<String> = path
        .iter()
        .map(|c| c.replace(naming.delimiter, "_"))
        .collect();
    format!("{}{}", naming.prefix, components.join(&separator))
}

/// Whether the include/exclude rules let a folder (path joined with `/`) through.
fn selected(path: &str, rules: &MailRules) -> bool {
    let included = rules.include.is_empty() || rules.include.iter().any(|p| glob(p, path));
    included && !rules.exclude.iter().any(|p| glob(p, path))
}

/// The manifest's rename for a path: an exact match, or a renamed parent.
fn renamed(path: &[String], rules: &MailRules) -> Option<Vec<String>> {
    let joined = path.join("/");
    rules
        .map
        .iter()
        .filter_map(|(from, to)| {
            let rest = if joined == *from {
                ""
            } else {
                joined.strip_prefix(from.as_str())?.strip_prefix('/')?
            };
            Some((from.len(), to, rest))
        })
        .max_by_key(|(len, _, _)| *len)
        .map(|(_, to, rest)| {
            let mut target: Vec<String> = to.split('/').map(str::to_owned).collect();
            if !rest.is_empty() {
                target.extend(rest.split('/').map(str::to_owned));
            }
            target
        })
}

/// The path with a special-use folder (or its parent) replaced by the
/// destination's folder of the same use.
fn special_target(path: &[String], special: &[(Vec<String>, Vec<String>)]) -> Vec<String> {
    special
        .iter()
        .filter(|(from, _)| path.starts_with(from))
        .max_by_key(|(from, _)| from.len())
        .map(|(from, to)| {
            let mut target = to.clone();
            target.extend_from_slice(&path[from.len()..]);
            target
        })
        .unwrap_or_else(|| path.to_vec())
}

/// Shell-style matching: `*` any run of characters, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::imap::SpecialUse;

    fn mailbox(name: &str, special_use: Option<SpecialUse>) -> Mailbox {
        Mailbox {
            raw: utf7::encode(name),
            name: name.to_owned(),
            delimiter: None,
            special_use,
            noselect: false,
            subscribed: true,
        }
    }

    fn naming(prefix: &str, delimiter: char) -> Naming {
        Naming {
            prefix: prefix.to_owned(),
            delimiter,
        }
    }

    fn dests(mappings: &[FolderMapping]) -> Vec<(&str, &str)> {
        mappings
            .iter()
            .map(|m| (m.source.as_str(), m.dest.as_str()))
            .collect()
    }

    #[test]
    fn separators_and_prefixes_are_translated() {
        let source = [
            mailbox("INBOX", None),
            mailbox("INBOX.Reçus", None),
            mailbox("INBOX.Reçus.Été", None),
            mailbox("INBOX.a/b", None),
        ];
        let mapped = map_folders(
            &source,
            &naming("INBOX.", '.'),
            &[],
            &naming("", '/'),
            &MailRules::default(),
        );
        assert_eq!(
            dests(&mapped),
            [
                ("INBOX", "INBOX"),
                ("INBOX.Reçus", "Reçus"),
                ("INBOX.Reçus.Été", "Reçus/Été"),
                ("INBOX.a/b", "a_b"),
            ]
        );
        assert_eq!(mapped[2].dest_raw, "Re&AOc-us/&AMk-t&AOk-");
    }

    #[test]
    fn special_use_folders_meet_whatever_their_names() {
        let source = [
            mailbox("Sent Items", Some(SpecialUse::Sent)),
            mailbox("Sent Items/2019", None),
            mailbox("Trash", None),
        ];
        let dest = [mailbox("INBOX.Sent", Some(SpecialUse::Sent))];
        let mapped = map_folders(
            &source,
            &naming("", '/'),
            &dest,
            &naming("INBOX.", '.'),
            &MailRules::default(),
        );
        assert_eq!(
            dests(&mapped),
            [
                ("Sent Items", "INBOX.Sent"),
                ("Sent Items/2019", "INBOX.Sent.2019"),
                ("Trash", "INBOX.Trash"),
            ]
        );
    }

    #[test]
    fn rules_include_exclude_and_rename() {
        let source = [
            mailbox("INBOX", None),
            mailbox("Archive", None),
            mailbox("Archive/2020", None),
            mailbox("Junk", None),
            mailbox("Projects", None),
        ];
        let rules = MailRules {
            exclude: vec!["Junk".into(), "Proj*".into()],
            map: vec![("Archive".into(), "Old/Archive".into())],
            ..MailRules::default()
        };
        let mapped = map_folders(&source, &naming("", '/'), &[], &naming("", '.'), &rules);
        assert_eq!(
            dests(&mapped),
            [
                ("INBOX", "INBOX"),
                ("Archive", "Old.Archive"),
                ("Archive/2020", "Old.Archive.2020"),
            ]
        );
    }

    #[test]
    fn a_label_share_copies_its_messages_and_stars_them() {
        let share = LabelShare {
            left_out: [2].into(),
            starred: [1].into(),
            ..LabelShare::default()
        };
        assert!(share.copies(1) && !share.copies(2) && share.copies(9));
        let flags = share.flags(1, &["\\Seen".to_owned()]);
        assert_eq!(flags, ["\\Seen", "\\Flagged"]);
        assert_eq!(share.flags(1, &flags), flags, "starred once");
        let all_mail = LabelShare {
            only: Some([3].into()),
            ..LabelShare::default()
        };
        assert!(
            all_mail.copies(3) && !all_mail.copies(9),
            "unknown: next run"
        );
    }

    #[test]
    fn glob_matches_like_a_shell() {
        assert!(glob("*", "a/b"));
        assert!(glob("Arch?ve/*", "Archive/2020"));
        assert!(!glob("Arch?ve/*", "Archive"));
        assert!(glob("*Spam*", "Lists/Spam/old"));
    }
}
