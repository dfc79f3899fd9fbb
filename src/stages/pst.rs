//! The mail stage for a PST source: every mail folder of an Outlook PST
//! file into the destination's IMAP folders, each message rebuilt as an
//! RFC 5322 message ([`crate::protocols::pst::mime`]), with its read,
//! flagged, answered and draft state as flags and its delivery time as
//! INTERNALDATE.
//!
//! Folders are mapped by the mail stage's own code
//! ([`super::mail::prepare_destination`]): the PST's Inbox becomes INBOX,
//! Sent Items, Deleted Items, Drafts and Junk E-mail meet the
//! destination's special-use folders, the manifest's folder rules apply.
//! Messages are checkpointed by node ID in the mail tables
//! ([`super::keyed`]), so a re-run or a resume copies nothing twice and
//! undo removes exactly what was appended.
//!
//! The reader runs on a blocking thread (the PST crate's objects stay on
//! one thread) and hands over built messages through a bounded channel.
//! A message that cannot be read is counted failed, reported by node ID,
//! and the import goes on.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use tokio::sync::{mpsc, oneshot};

use super::StageFailure;
use super::item_note;
use super::keyed::{self, Listed, Offer, Offered, Tally};
use super::mail::folders::Naming;
use super::mail::{open, prepare_destination, server_of};
use super::pipeline::{self, MessageSource, PassError, QUEUE_DEPTH, source};
use crate::plan::StageKind;
use crate::protocols::imap::{Mailbox, SpecialUse};
use crate::protocols::pst::reader::{Tree, is_mail};
use crate::protocols::pst::{GroupwareKind, PstError, PstReader, Role, mime};
use crate::stages::context::AccountContext;
use crate::store::batches::StageCounts;

/// Imports one account's PST file.
pub async fn run(ctx: &AccountContext) -> Result<StageCounts, StageFailure> {
    let mut tally = Tally::default();
    let account = ctx.plan.destination.email.as_str();
    let result = pipeline::retry(ctx, account, &mut tally, |ctx, tally| {
        Box::pin(import(ctx, tally))
    })
    .await;
    if let Err(error) = result {
        return Err(StageFailure {
            error,
            counts: tally.counts,
        });
    }
    let counts = tally.counts;
    super::within_budget(ctx, counts, "items of the PST file")
}

/// One attempt: opens the file and the destination, maps the folders and
/// passes over each.
async fn import(ctx: &AccountContext, tally: &mut Tally) -> anyhow::Result<()> {
    let path = ctx
        .plan
        .source
        .path
        .clone()
        .context("The PST source has no path")?;
    let (mut reader, tree) = Source::open(path).await.map_err(source)?;
    for folder in &tree.damaged {
        let item = format!("folder {}", folder.name);
        tally.fail(ctx, item, folder.reason.clone()).await?;
    }
    for (item, reason) in left_out(&tree, &ctx.plan.stages) {
        item_note(ctx, StageKind::Mail, &item, format!("skipped: {reason}")).await;
    }
    let server = server_of(&ctx.plan.destination)?;
    let _slot = ctx.connections(&[&server.host]).await?;
    let mut dest = open(&ctx.plan.destination, server).await?.without_modseq();

    let (boxes, nodes) = mailboxes(&tree);
    let naming = Naming {
        prefix: String::new(),
        delimiter: '/',
    };
    let prepared = prepare_destination(ctx, &mut dest, &boxes, &naming, |m, _| m).await?;
    for (mapping, record) in prepared {
        if ctx.shutdown.is_cancelled() {
            break;
        }
        let mut folder = PstFolder {
            reader: &mut reader,
            nodes: nodes.get(&mapping.source).map_or(&[][..], Vec::as_slice),
        };
        let label = format!("{} message", mapping.source);
        let dest_raw = &mapping.dest_raw;
        keyed::pass(ctx, &mut dest, &mut folder, &record, dest_raw, label, tally)
            .await
            .with_context(|| format!("Folder {}", mapping.source))?;
    }
    dest.logout().await.ok();
    Ok(())
}

/// The PST's mail folders as mailboxes for the folder mapping, and the
/// message node IDs of each by name. The Inbox's tree goes under
/// `INBOX`, and so do messages kept at the top of the file (IMAP has no
/// messages outside a folder; Outlook shows them at the top, where INBOX
/// is); a `/` inside a folder's name becomes `_` so that it does not
/// split the name into two levels.
pub(crate) fn mailboxes(tree: &Tree) -> (Vec<Mailbox>, BTreeMap<String, Vec<u32>>) {
    let inbox = tree
        .folders
        .iter()
        .find(|f| f.role == Some(Role::Inbox))
        .map(|f| f.path.clone());
    let mut boxes: Vec<Mailbox> = Vec::new();
    let mut nodes: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for folder in &tree.folders {
        let mut components: Vec<String> = folder.path.iter().map(|c| c.replace('/', "_")).collect();
        if folder.path.is_empty() {
            components.push("INBOX".to_owned());
        } else if let Some(inbox) = &inbox
            && folder.path.starts_with(inbox)
        {
            components.splice(..inbox.len(), ["INBOX".to_owned()]);
        }
        let name = components.join("/");
        let special_use = match folder.role {
            Some(Role::Sent) => Some(SpecialUse::Sent),
            Some(Role::Deleted) => Some(SpecialUse::Trash),
            Some(Role::Drafts) => Some(SpecialUse::Drafts),
            Some(Role::Junk) => Some(SpecialUse::Junk),
            Some(Role::Inbox) | None => None,
        };
        // Two folders of the same name and parent become one.
        nodes
            .entry(name.clone())
            .or_default()
            .extend(&folder.messages);
        if boxes.iter().any(|b| b.name == name) {
            continue;
        }
        boxes.push(Mailbox {
            raw: name.clone(),
            name,
            delimiter: Some('/'),
            special_use,
            noselect: false,
            subscribed: true,
        });
    }
    (boxes, nodes)
}

/// A message read and built on the reader's thread.
struct Built {
    body: Vec<u8>,
    flags: Vec<String>,
    delivered: Option<chrono::DateTime<chrono::Utc>>,
    /// Of a mail class (`IPM.Note`, reports, meeting requests...).
    mail: bool,
    warnings: Vec<String>,
}

/// The PST reader on its blocking thread: node IDs in, built messages
/// out, in order.
struct Source {
    requests: mpsc::Sender<Vec<u32>>,
    replies: mpsc::Receiver<(u32, Result<Built, PstError>)>,
    path: String,
}

impl Source {
    /// Opens the file on a new blocking thread and reads its folder tree.
    async fn open(path: PathBuf) -> Result<(Source, Tree), PstError> {
        let name = path.display().to_string();
        let (tree_tx, tree_rx) = oneshot::channel();
        let (requests, mut request_rx) = mpsc::channel::<Vec<u32>>(2);
        let (reply_tx, replies) = mpsc::channel(QUEUE_DEPTH);
        tokio::task::spawn_blocking(move || {
            let opened = PstReader::open(&path).and_then(|r| r.folders().map(|t| (r, t)));
            let reader = match opened {
                Ok((reader, tree)) => {
                    if tree_tx.send(Ok(tree)).is_err() {
                        return;
                    }
                    reader
                }
                Err(error) => {
                    tree_tx.send(Err(error)).ok();
                    return;
                }
            };
            while let Some(group) = request_rx.blocking_recv() {
                for node in group {
                    let built = reader.message(node).map(|m| Built {
                        body: mime::build(&m),
                        flags: m.flags.imap(),
                        delivered: m.delivered.or(m.sent),
                        mail: is_mail(&m.class),
                        warnings: m.warnings,
                    });
                    if reply_tx.blocking_send((node, built)).is_err() {
                        return;
                    }
                }
            }
        });
        let stopped = || PstError::Corrupt {
            path: name.clone(),
            reason: "the reader stopped unexpectedly".into(),
        };
        let tree = tree_rx.await.map_err(|_| stopped())??;
        Ok((
            Source {
                requests,
                replies,
                path: name.clone(),
            },
            tree,
        ))
    }

    fn stopped(&self) -> PassError {
        source(PstError::Corrupt {
            path: self.path.clone(),
            reason: "the reader stopped unexpectedly".into(),
        })
    }
}

/// A message the reader built, or why it could not, by node ID.
type Reply = (u32, Result<Built, PstError>);

/// The messages of one destination folder in the PST file.
struct PstFolder<'a> {
    reader: &'a mut Source,
    /// Their node IDs.
    nodes: &'a [u32],
}

/// A folder of a PST file is a message source: messages by node ID, built
/// on the reader's thread.
impl MessageSource for PstFolder<'_> {
    type Id = u32;
    type Listing = Listed;
    type Item = Reply;

    async fn list(&mut self) -> Result<Vec<Listed>, PassError> {
        let listed = self.nodes.iter().map(|&node| Listed {
            id: node,
            key: key(node),
            size: None,
        });
        Ok(listed.collect())
    }

    fn id(item: &Reply) -> u32 {
        item.0
    }

    async fn fetch(&mut self, group: &[u32], tx: &mpsc::Sender<Reply>) -> Result<(), PassError> {
        let reader = &mut *self.reader;
        reader
            .requests
            .send(group.to_vec())
            .await
            .map_err(|_| reader.stopped())?;
        for _ in group {
            let reply = reader
                .replies
                .recv()
                .await
                .ok_or_else(|| reader.stopped())?;
            // Every reply is read, so that the next group starts in step.
            tx.send(reply).await.ok();
        }
        Ok(())
    }
}

impl Offer for Reply {
    fn offer(self) -> (u32, Result<Offered, String>) {
        let (node, result) = self;
        let offered = result.map_err(|e| e.to_string()).map(|built| Offered {
            flags: built.flags,
            date: built.delivered.map(|d| d.date_naive()),
            internal_date: built
                .delivered
                .map(|d| d.format("%d-%b-%Y %H:%M:%S +0000").to_string()),
            mail: built.mail,
            warnings: built.warnings,
            body: built.body,
        });
        (node, offered)
    }
}

/// What of the file no stage of this account imports, and why: items of
/// other kinds kept in mail folders, folders of other kinds whose option
/// was not asked for, notes and journal folders.
fn left_out(tree: &Tree, stages: &[StageKind]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for folder in &tree.folders {
        let name = if folder.path.is_empty() {
            "the top of the file".to_owned()
        } else {
            folder.path.join("/")
        };
        for (node, class) in &folder.other {
            out.push((
                format!("{name} item {node:#x}"),
                format!(
                    "a {class} item kept in a mail folder is not mail; the contacts, \
                     calendars and tasks options read only their own folders"
                ),
            ));
        }
    }
    for other in &tree.other {
        let groupware = tree
            .groupware
            .iter()
            .find(|g| *other == format!("{} ({})", g.path.join("/"), g.class));
        let reason = match groupware {
            Some(g) if g.hidden => continue,
            Some(g) => {
                let (stage, option) = match g.kind {
                    GroupwareKind::Contacts => (StageKind::Contacts, "contacts"),
                    GroupwareKind::Calendar => (StageKind::Calendars, "calendars"),
                    GroupwareKind::Tasks => (StageKind::Tasks, "tasks"),
                };
                if stages.contains(&stage) {
                    continue;
                }
                format!("not mail; imported with the {option} option, not asked for")
            }
            None => "not mail, and not imported (notes, journal and other kinds)".to_owned(),
        };
        out.push((format!("folder {other}"), reason));
    }
    out
}

/// A message's key in the checkpoints: its node ID.
fn key(node: u32) -> String {
    format!("{node:#x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::pst::PstFolder;

    fn folder(path: &[&str], role: Option<Role>, messages: Vec<u32>) -> PstFolder {
        PstFolder {
            node: 0,
            path: path.iter().map(|p| p.to_string()).collect(),
            role,
            messages,
            other: Vec::new(),
        }
    }

    #[test]
    fn folders_become_mailboxes_with_their_roles() {
        let tree = Tree {
            folders: vec![
                folder(&["收件箱"], Some(Role::Inbox), vec![1]),
                folder(&["收件箱", "Projets"], None, vec![2]),
                folder(&["Sent Items"], Some(Role::Sent), vec![]),
                folder(&["a/b"], None, vec![3]),
                folder(&["a/b"], None, vec![4]),
            ],
            ..Tree::default()
        };
        let (boxes, nodes) = mailboxes(&tree);
        let names: Vec<(&str, Option<SpecialUse>)> = boxes
            .iter()
            .map(|b| (b.name.as_str(), b.special_use))
            .collect();
        assert_eq!(
            names,
            [
                ("INBOX", None),
                ("INBOX/Projets", None),
                ("Sent Items", Some(SpecialUse::Sent)),
                ("a_b", None),
            ]
        );
        assert_eq!(nodes["a_b"], [3, 4]);
        assert_eq!(nodes["INBOX"], [1]);
    }

    #[test]
    fn only_mail_classes_are_mail() {
        assert!(is_mail("IPM.Note"));
        assert!(is_mail("IPM.Schedule.Meeting.Request"));
        assert!(is_mail("REPORT.IPM.Note.NDR"));
        assert!(!is_mail("IPM.Contact"));
        assert!(!is_mail("ipm.appointment"));
    }

    #[test]
    fn messages_at_the_top_of_the_file_go_to_inbox_with_the_inboxs() {
        let tree = Tree {
            folders: vec![
                folder(&[], None, vec![7]),
                folder(&["Inbox"], Some(Role::Inbox), vec![1]),
                folder(&["Inbox", "Sub"], None, vec![2]),
            ],
            ..Tree::default()
        };
        let (boxes, nodes) = mailboxes(&tree);
        let names: Vec<&str> = boxes.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["INBOX", "INBOX/Sub"]);
        assert_eq!(nodes["INBOX"], [7, 1]);
    }
}
