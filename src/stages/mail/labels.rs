//! Label-aware sources (Gmail, Google Workspace): one message, many
//! folders.
//!
//! Gmail's IMAP view shows each message once in `[Gmail]/All Mail` (the
//! `\All` folder) and again in `INBOX` and in a folder per label; Starred
//! and Important are views too. A plain copy would store a labelled
//! message several times and All Mail whole. A source is label-aware when
//! it offers `X-GM-EXT-1`, has a `\All` folder, or is Gmail's server
//! (autodetect's answer for a Gmail or Workspace address). Then:
//!
//! - every message is identified once: by `X-GM-MSGID` where offered,
//!   otherwise by its content fingerprint across folders;
//! - Starred, Important and All Mail are never copied as folders; a
//!   starred message is copied with `\Flagged`;
//! - a message goes to the folder of each of its labels (`labels: all`)
//!   or only to the first by `label_priority` (`labels: first`);
//! - a message under no label (archived) goes to the archive folder;
//! - a destination with Gmail labels (`X-GM-EXT-1`) gets one copy, and
//!   the message's other labels are added to it (`STORE +X-GM-LABELS`).
//!
//! The spread is worked out once per run, before the folder passes, and
//! each folder's share ([`LabelShare`]) rides on its [`FolderMapping`]:
//! the passes, checkpoints and crash edges are those of any folder.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::Pair;
use super::fingerprint;
use super::folders::{self, FolderMapping, LabelShare, Naming};
use crate::plan::{LabelMode, LabelRules, MailRules};
use crate::protocols::imap::{Mailbox, Session, SpecialUse};
use crate::stages::context::AccountContext;
use crate::stages::pipeline::{PassError, dest, source as source_error};
use crate::store::mail::FolderRecord;

/// A message's identity across folders: its `X-GM-MSGID`, or its
/// content fingerprint.
type Identity = u128;

/// A label-aware source's folders that are views, not labels.
#[derive(Debug, Default)]
pub(super) struct LabelSource {
    rules: LabelRules,
    /// The `\All` folder (All Mail), as listed.
    all_mail: Option<Mailbox>,
    /// The `\Flagged` folder (Starred).
    starred: Option<Mailbox>,
    /// Views the folder rules let through and the spread dropped: their
    /// messages count as copies avoided.
    dropped: Vec<Mailbox>,
}

/// What a source is, as far as labels go.
pub(super) fn detect(
    ctx: &AccountContext,
    source: &Session,
    boxes: &[Mailbox],
) -> Option<LabelSource> {
    let with = |use_: SpecialUse| boxes.iter().find(|m| m.special_use == Some(use_)).cloned();
    let all_mail = with(SpecialUse::All);
    let aware = source.capabilities().gmail || all_mail.is_some() || ctx.plan.source.is_gmail();
    aware.then(|| LabelSource {
        rules: ctx.plan.mail.labels.clone(),
        all_mail,
        starred: with(SpecialUse::Flagged),
        dropped: Vec::new(),
    })
}

impl LabelSource {
    /// The label mode, for logs and counts.
    pub(super) fn mode(&self) -> LabelMode {
        self.rules.mode
    }

    /// Drops the views (Starred, Important, All Mail's own folder name)
    /// from the mapped folders and sends All Mail to the archive folder,
    /// unless the manifest renames it. Hierarchy folders left with no
    /// child (`[Gmail]`) are dropped too.
    pub(super) fn reshape(
        &mut self,
        mappings: Vec<FolderMapping>,
        source_boxes: &[Mailbox],
        source_naming: &Naming,
        dest_naming: &Naming,
        rules: &MailRules,
    ) -> Vec<FolderMapping> {
        let use_of = |name: &str| {
            source_boxes
                .iter()
                .find(|m| m.name == name)
                .and_then(|m| m.special_use)
        };
        let mut kept = Vec::with_capacity(mappings.len());
        for mut mapping in mappings {
            match use_of(&mapping.source) {
                Some(SpecialUse::Flagged | SpecialUse::Important) => {
                    self.dropped.extend(
                        source_boxes
                            .iter()
                            .find(|m| m.name == mapping.source)
                            .cloned(),
                    );
                }
                Some(SpecialUse::All) => {
                    let path = folders::rule_path(&mapping.source, source_naming);
                    if !rules.map.iter().any(|(from, _)| *from == path) {
                        (mapping.dest, mapping.dest_raw) =
                            folders::dest_folder(&self.rules.archive_folder, dest_naming);
                    }
                    kept.push(mapping);
                }
                _ => kept.push(mapping),
            }
        }
        let parents: Vec<String> = kept
            .iter()
            .filter(|m| !m.noselect)
            .map(|m| m.dest.clone())
            .collect();
        let separator = dest_naming.delimiter;
        kept.retain(|m| {
            !m.noselect
                || parents.iter().any(|p| {
                    p.strip_prefix(m.dest.as_str())
                        .is_some_and(|r| r.starts_with(separator))
                })
        });
        // Parents before children, as `map_folders` leaves them.
        kept.sort_by(|a, b| a.dest.cmp(&b.dest));
        kept
    }

    /// Reads where every message shows (one listing of each folder) and
    /// gives each folder its share. Returns the folders and how many
    /// copies a plain, folder-by-folder copy would have made beyond these.
    pub(super) async fn spread(
        &self,
        pair: &mut Pair,
        folders: Vec<(FolderMapping, FolderRecord)>,
    ) -> Result<(Vec<(FolderMapping, FolderRecord)>, u64), PassError> {
        let one_copy_with_labels = pair.dest.capabilities().gmail;
        let is_all_mail =
            |m: &FolderMapping| self.all_mail.as_ref().is_some_and(|a| a.name == m.source);
        let mut seen: Vec<Vec<(u32, Identity)>> = Vec::with_capacity(folders.len());
        let mut starred: HashSet<Identity> = HashSet::new();
        for (mapping, _) in &folders {
            if mapping.noselect {
                seen.push(Vec::new());
                continue;
            }
            let listed = identities(&mut pair.source, &mapping.source_raw).await?;
            starred.extend(listed.iter().filter(|l| l.starred).map(|l| l.id));
            seen.push(listed.iter().map(|l| (l.uid, l.id)).collect());
        }
        let mut avoided = 0;
        if let Some(box_) = &self.starred {
            let listed = identities(&mut pair.source, &box_.raw).await?;
            starred.extend(listed.iter().map(|l| l.id));
        }
        for view in &self.dropped {
            avoided += u64::from(
                pair.source
                    .status(&view.raw)
                    .await
                    .map_err(source_error)?
                    .messages,
            );
        }

        let ranks: Vec<Rank> = folders.iter().map(|(m, _)| self.rank(m)).collect();
        let labels: Vec<String> = folders.iter().map(|(m, _)| label_of(m)).collect();
        let spread = Spread {
            seen: &seen,
            starred: &starred,
            ranks: &ranks,
            all_mail: folders.iter().position(|(m, _)| is_all_mail(m)),
            one_copy: self.rules.mode == LabelMode::First || one_copy_with_labels,
            more_labels: (one_copy_with_labels && self.rules.mode == LabelMode::All)
                .then_some(labels.as_slice()),
        };
        let (shares, spared) = spread.shares();
        let out = folders
            .into_iter()
            .zip(shares)
            .map(|((mut mapping, record), share)| {
                mapping.share = Some(Arc::new(share));
                (mapping, record)
            })
            .collect();
        Ok((out, avoided + spared))
    }

    /// A label folder's place in `labels: first`: the manifest's
    /// `label_priority` first, then INBOX, the other folders, Sent,
    /// Drafts, Spam and Trash; ties by name.
    fn rank(&self, mapping: &FolderMapping) -> Rank {
        let path = &mapping.source;
        let chosen = self
            .rules
            .priority
            .iter()
            .position(|p| folders::matches(p, path) || folders::matches(p, &mapping.dest));
        let tier = match chosen {
            Some(i) => i,
            None => self.rules.priority.len() + default_tier(mapping),
        };
        (tier, mapping.dest.clone())
    }
}

/// What a run found in the folders of a label-aware source, and how its
/// messages are to be spread over them.
struct Spread<'a> {
    /// Each folder's messages: UID and identity.
    seen: &'a [Vec<(u32, Identity)>],
    /// The identities of starred messages.
    starred: &'a HashSet<Identity>,
    /// Each folder's priority.
    ranks: &'a [Rank],
    /// Which folder is All Mail, if it is copied.
    all_mail: Option<usize>,
    /// One copy per message, in its best folder.
    one_copy: bool,
    /// Each folder's label, when the one copy gets the others as labels.
    more_labels: Option<&'a [String]>,
}

impl Spread<'_> {
    /// Each folder's share, and the copies it spares.
    fn shares(&self) -> (Vec<LabelShare>, u64) {
        // Where each message is, among the label folders, best first.
        let mut homes: HashMap<Identity, Vec<usize>> = HashMap::new();
        for (i, messages) in self.seen.iter().enumerate() {
            if Some(i) == self.all_mail {
                continue;
            }
            for &(_, id) in messages {
                let list = homes.entry(id).or_default();
                if !list.contains(&i) {
                    list.push(i);
                }
            }
        }
        for list in homes.values_mut() {
            list.sort_by(|&a, &b| self.ranks[a].cmp(&self.ranks[b]));
        }
        let mut spared = 0;
        let mut shares = Vec::with_capacity(self.seen.len());
        for (i, messages) in self.seen.iter().enumerate() {
            let mut share = LabelShare::default();
            for &(uid, id) in messages {
                if self.starred.contains(&id) {
                    share.starred.insert(uid);
                }
                let Some(home) = homes.get(&id) else {
                    continue; // Archived: All Mail's own.
                };
                if Some(i) == self.all_mail {
                    spared += 1;
                } else if self.one_copy && home[0] != i {
                    share.left_out.insert(uid);
                    spared += 1;
                } else if let Some(labels) = self.more_labels
                    && home.len() > 1
                {
                    let more = home[1..].iter().map(|&j| labels[j].clone()).collect();
                    share.more_labels.insert(uid, more);
                }
            }
            if Some(i) == self.all_mail {
                let only = messages.iter().filter(|(_, id)| !homes.contains_key(id));
                share.only = Some(only.map(|&(uid, _)| uid).collect());
            }
            shares.push(share);
        }
        (shares, spared)
    }
}

/// Where a label folder stands in the default priority.
fn default_tier(mapping: &FolderMapping) -> usize {
    let name = mapping.source.to_ascii_lowercase();
    let last = name.rsplit(['/', '.']).next().unwrap_or(&name);
    if name == "inbox" {
        0
    } else if last.starts_with("sent") {
        2
    } else if last.starts_with("draft") {
        3
    } else if last == "spam" || last == "junk" {
        4
    } else if last == "trash" || last == "bin" {
        5
    } else {
        1
    }
}

/// A folder's priority: tier, then destination name.
type Rank = (usize, String);

/// The label a destination with Gmail labels knows a folder by.
fn label_of(mapping: &FolderMapping) -> String {
    if mapping.dest.eq_ignore_ascii_case("INBOX") {
        "\\Inbox".to_owned()
    } else {
        mapping.dest_raw.clone()
    }
}

/// One message of a listed folder.
struct Listed {
    uid: u32,
    id: Identity,
    /// Gmail says it carries the `\Starred` label.
    starred: bool,
}

impl Listed {
    fn new(uid: u32, id: Identity, starred: bool) -> Listed {
        Listed { uid, id, starred }
    }
}

/// Every message of a source folder with its identity.
async fn identities(source: &mut Session, raw: &str) -> Result<Vec<Listed>, PassError> {
    source.examine(raw).await.map_err(source_error)?;
    let uids = source.uid_search_all().await.map_err(source_error)?;
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let listed = if source.capabilities().gmail {
        let found = source.fetch_gmail(&uids).await.map_err(source_error)?;
        found
            .into_iter()
            .map(|g| Listed::new(g.uid, g.msgid.into(), g.has_label("\\Starred")))
            .collect()
    } else {
        let found = source.fetch_headers(&uids).await.map_err(source_error)?;
        let id =
            |size, header: &[u8]| Identity::from_le_bytes(fingerprint::of_header(size, header));
        found
            .into_iter()
            .map(|h| Listed::new(h.uid, id(h.size, &h.header), false))
            .collect()
    };
    Ok(listed)
}

/// Adds the other labels to the copies recorded since the folder's last
/// complete pass (destination UIDs from `floor` on), at a destination with
/// Gmail labels. Adding a label twice changes nothing, so a pass cut off
/// before its watermark adds them again on the next.
pub(super) async fn add_labels(
    ctx: &AccountContext,
    pair: &mut Pair,
    mapping: &FolderMapping,
    folder_id: i64,
    floor: u32,
) -> Result<(), PassError> {
    let Some(share) = mapping.share.as_ref().filter(|s| !s.more_labels.is_empty()) else {
        return Ok(());
    };
    let items: Vec<(u32, Vec<String>)> = ctx
        .store
        .checkpoints(folder_id)
        .await?
        .into_iter()
        .filter(|c| !c.pending && c.dest_uid.is_some_and(|uid| uid >= floor))
        .filter_map(|c| Some((c.dest_uid?, share.more_labels.get(&c.source?)?.clone())))
        .collect();
    if items.is_empty() {
        return Ok(());
    }
    pair.dest.uid_add_labels(&items).await.map_err(dest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::imap::utf7;

    fn mailbox(name: &str, special_use: Option<SpecialUse>, noselect: bool) -> Mailbox {
        Mailbox {
            raw: utf7::encode(name),
            name: name.to_owned(),
            delimiter: Some('/'),
            special_use,
            noselect,
            subscribed: true,
        }
    }

    fn gmail_boxes() -> Vec<Mailbox> {
        vec![
            mailbox("INBOX", None, false),
            mailbox("[Gmail]", None, true),
            mailbox("[Gmail]/All Mail", Some(SpecialUse::All), false),
            mailbox("[Gmail]/Important", Some(SpecialUse::Important), false),
            mailbox("[Gmail]/Sent Mail", Some(SpecialUse::Sent), false),
            mailbox("[Gmail]/Starred", Some(SpecialUse::Flagged), false),
            mailbox("Work", None, false),
        ]
    }

    fn naming() -> Naming {
        Naming {
            prefix: String::new(),
            delimiter: '/',
        }
    }

    fn reshaped(dest: &[Mailbox], rules: &MailRules) -> (Vec<(String, String)>, usize) {
        let source = gmail_boxes();
        let mut labels = LabelSource {
            rules: rules.labels.clone(),
            all_mail: Some(source[2].clone()),
            starred: Some(source[5].clone()),
            dropped: Vec::new(),
        };
        let mapped = folders::map_folders(&source, &naming(), dest, &naming(), rules);
        let kept = labels.reshape(mapped, &source, &naming(), &naming(), rules);
        let pairs = kept.into_iter().map(|m| (m.source, m.dest)).collect();
        (pairs, labels.dropped.len())
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn views_are_dropped_and_all_mail_goes_to_the_archive_folder() {
        let (kept, dropped) = reshaped(&[], &MailRules::default());
        assert_eq!(
            kept,
            pairs(&[
                ("[Gmail]/All Mail", "Archive"),
                ("INBOX", "INBOX"),
                ("Work", "Work"),
                ("[Gmail]", "[Gmail]"),
                ("[Gmail]/Sent Mail", "[Gmail]/Sent Mail"),
            ])
        );
        assert_eq!(dropped, 2, "Starred and Important");

        // Sent meets the destination's Sent: [Gmail] is left empty, and
        // goes; the manifest's archive folder and renames are followed.
        let dest = [mailbox("Sent", Some(SpecialUse::Sent), false)];
        let mut rules = MailRules::default();
        rules.labels.archive_folder = "Old/Gmail".to_owned();
        let (kept, _) = reshaped(&dest, &rules);
        assert_eq!(
            kept,
            pairs(&[
                ("INBOX", "INBOX"),
                ("[Gmail]/All Mail", "Old/Gmail"),
                ("[Gmail]/Sent Mail", "Sent"),
                ("Work", "Work"),
            ])
        );
        rules.map = vec![("[Gmail]/All Mail".to_owned(), "Everything".to_owned())];
        let (kept, _) = reshaped(&dest, &rules);
        assert!(kept.contains(&("[Gmail]/All Mail".to_owned(), "Everything".to_owned())));

        // Views the rules leave out are not counted as avoided copies.
        rules.exclude = vec!["[Gmail]/St*".to_owned()];
        assert_eq!(reshaped(&dest, &rules).1, 1);
    }

    #[test]
    fn messages_spread_over_their_labels_or_once() {
        // INBOX: a (UID 1), c (2); Work: a (5); All Mail: a (7), b (8), c (9).
        let seen = vec![
            vec![(1, 0xa), (2, 0xc)],
            vec![(5, 0xa)],
            vec![(7, 0xa), (8, 0xb), (9, 0xc)],
        ];
        let starred: HashSet<Identity> = [0xa].into();
        let ranks = vec![
            (0, "INBOX".to_owned()),
            (1, "Work".to_owned()),
            (9, String::new()),
        ];
        let labels = ["\\Inbox".to_owned(), "Work".to_owned(), String::new()];
        let spread = |one_copy, more_labels| Spread {
            seen: &seen,
            starred: &starred,
            ranks: &ranks,
            all_mail: Some(2),
            one_copy,
            more_labels,
        };

        let (all, spared) = spread(false, None).shares();
        assert!(all[0].left_out.is_empty() && all[1].left_out.is_empty());
        assert_eq!(all[2].only, Some([8].into()), "b alone is archived");
        assert_eq!(spared, 2, "All Mail's a and c");
        assert_eq!(all[0].starred, [1].into());
        assert_eq!(all[1].starred, [5].into());

        let (first, spared) = spread(true, None).shares();
        assert!(first[0].left_out.is_empty());
        assert_eq!(first[1].left_out, [5].into(), "a's copy is INBOX's");
        assert_eq!(spared, 3);

        let (gmail, _) = spread(true, Some(&labels)).shares();
        assert_eq!(gmail[0].more_labels, [(1, vec!["Work".to_owned()])].into());
        assert!(gmail[1].more_labels.is_empty());
    }

    #[test]
    fn priority_follows_the_manifest_then_inbox_labels_sent_drafts_spam_trash() {
        let source = LabelSource {
            rules: LabelRules {
                priority: vec!["Projects/*".to_owned()],
                ..LabelRules::default()
            },
            ..LabelSource::default()
        };
        let mapping = |name: &str| {
            let mut m = folders::map_folders(
                &[mailbox(name, None, false)],
                &naming(),
                &[],
                &naming(),
                &MailRules::default(),
            );
            m.remove(0)
        };
        let mut names = vec![
            "[Gmail]/Trash",
            "[Gmail]/Spam",
            "[Gmail]/Drafts",
            "[Gmail]/Sent Mail",
            "Work",
            "INBOX",
            "Projects/Alpha",
        ];
        names.sort_by_key(|n| source.rank(&mapping(n)));
        assert_eq!(
            names,
            [
                "Projects/Alpha",
                "INBOX",
                "Work",
                "[Gmail]/Sent Mail",
                "[Gmail]/Drafts",
                "[Gmail]/Spam",
                "[Gmail]/Trash"
            ]
        );
    }
}
