//! What the independent readers make of a PST: `pffexport` (libpff) for
//! each folder's messages (subject, delivery time, sender, attachments,
//! attached messages with theirs) and items of other kinds, `readpst`
//! for each folder's item count and attachments.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDateTime, Utc};
use tempfile::TempDir;

use crate::support::mime::Attached;

/// One message as pffexport wrote it out.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mail {
    pub subject: String,
    pub delivered: Option<DateTime<Utc>>,
    pub sender: Option<String>,
    /// File attachments (name, bytes), sorted.
    pub attachments: Attached,
    /// Attached messages, sorted.
    pub embedded: Vec<Mail>,
}

/// A folder (path below the top of the file, `/`-separated, empty for
/// the top itself) as pffexport wrote it.
#[derive(Debug, Default)]
pub struct Folder {
    pub messages: Vec<Mail>,
    /// Items of other kinds (appointments, contacts...).
    pub other: usize,
}

/// Runs pffexport on `pst` and reads back every folder.
pub fn pffexport(pst: &Path) -> BTreeMap<String, Folder> {
    let out = TempDir::new().expect("temp dir");
    let target = out.path().join("x");
    let run = std::process::Command::new("pffexport")
        .args(["-q", "-t"])
        .arg(&target)
        .arg(pst)
        .output()
        .unwrap_or_else(|e| {
            panic!("pffexport cannot run ({e}): install pff-tools (scripts/install-deps.sh)")
        });
    assert!(run.status.success(), "pffexport failed: {run:?}");
    // The root's folders: the top of the personal folders, and Outlook's
    // own (search roots, views, reminders), which hold far less.
    let top = sorted(&out.path().join("x.export"))
        .into_iter()
        .filter(|p| p.is_dir())
        .max_by_key(|p| size(p))
        .expect("a top folder");
    let mut folders = BTreeMap::new();
    walk(&top, String::new(), &mut folders);
    folders
}

/// How many files and folders `dir` holds, at any depth.
fn size(dir: &Path) -> usize {
    sorted(dir)
        .iter()
        .map(|p| 1 + if p.is_dir() { size(p) } else { 0 })
        .sum()
}

fn walk(dir: &Path, relative: String, out: &mut BTreeMap<String, Folder>) {
    let mut folder = Folder::default();
    for path in sorted(dir) {
        let name = file_name(&path);
        let item = name.trim_end_matches(|c: char| c.is_ascii_digit());
        match item {
            "Message" if name != item => folder.messages.push(mail(&path)),
            "Appointment" | "Contact" | "Task" | "Meeting" | "Note" | "Activity"
            | "DistributionList"
                if name != item =>
            {
                folder.other += 1;
            }
            _ if path.is_dir() => {
                let child = if relative.is_empty() {
                    name
                } else {
                    format!("{relative}/{name}")
                };
                walk(&path, child, out);
            }
            _ => {}
        }
    }
    folder.messages.sort();
    out.insert(relative, folder);
}

/// A message folder of the export.
fn mail(dir: &Path) -> Mail {
    let headers = std::fs::read_to_string(dir.join("OutlookHeaders.txt")).unwrap_or_default();
    let field = |name: &str| {
        headers.lines().find_map(|l| {
            let value = l.strip_prefix(name)?.strip_prefix(':')?.trim();
            (!value.is_empty()).then(|| value.to_owned())
        })
    };
    let mut mail = Mail {
        subject: field("Subject").unwrap_or_default(),
        delivered: field("Delivery time").and_then(|t| {
            NaiveDateTime::parse_from_str(&t, "%b %d, %Y %H:%M:%S%.f UTC")
                .ok()
                .map(|t| t.and_utc())
        }),
        sender: field("Sender name"),
        attachments: Vec::new(),
        embedded: Vec::new(),
    };
    let attachments = dir.join("Attachments");
    if attachments.is_dir() {
        for path in sorted(&attachments) {
            if path.is_dir() {
                for inner in sorted(&path).into_iter().filter(|p| p.is_dir()) {
                    mail.embedded.push(self::mail(&inner));
                }
            } else {
                let name = file_name(&path);
                let name = name.split_once('_').map_or(name.as_str(), |(_, n)| n);
                let bytes = std::fs::read(&path).expect("read an attachment");
                mail.attachments.push((name.to_owned(), bytes));
            }
        }
    }
    mail.attachments.sort();
    mail.embedded.sort();
    mail
}

fn sorted(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("read a folder")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    paths
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Runs `readpst -S` on `pst`: folder (below the top) to item count and
/// file attachments, without the RTF bodies readpst saves as files.
pub fn readpst(pst: &Path) -> BTreeMap<String, (usize, Attached)> {
    readpst_files(pst, |name| name != RTF_BODY)
}

/// The RTF bodies `readpst -S` saves as files, by folder.
pub fn readpst_rtf(pst: &Path) -> BTreeMap<String, (usize, Attached)> {
    readpst_files(pst, |name| name == RTF_BODY)
}

/// The name readpst gives an RTF body it saves.
const RTF_BODY: &str = "rtf-body.rtf";

fn readpst_files(pst: &Path, keep: fn(&str) -> bool) -> BTreeMap<String, (usize, Attached)> {
    let out = TempDir::new().expect("temp dir");
    crate::pst::readpst(pst, out.path());
    crate::pst::readpst_tree(out.path())
        .into_iter()
        .map(|(folder, (count, attached))| {
            let files = attached
                .into_iter()
                .filter(|(name, _)| keep(name))
                .collect();
            (folder, (count, files))
        })
        .collect()
}
