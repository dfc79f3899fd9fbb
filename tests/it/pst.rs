//! PST import end to end: the `mailshift` binary reading the libyal
//! project's Outlook file into a real Dovecot over IMAP, checked against
//! what the file holds and against Debian's `readpst`; a file of the
//! test writer whose attachments must arrive whole ([`attachments`]); bad
//! files: see `pst_files`.

mod attachments;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mailshift::protocols::imap::Session;
use tempfile::TempDir;

use crate::cmd::{Output, mailshift};
use crate::mail::{assert_success, slashed};
use crate::support::mime::{Attached, Entity, attachments};
use crate::support::{Dovecot, DovecotOptions};

/// The variable naming the folder of the shared test data, when it is not
/// `../shared/testdata` beside the project.
pub const TESTDATA_VARIABLE: &str = "MAILSHIFT_TESTDATA";

/// A file of the shared test data (`relative` to its folder). Its absence
/// is a failure, never a silent pass.
pub fn testdata(relative: &str) -> PathBuf {
    let root = std::env::var_os(TESTDATA_VARIABLE).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata"),
        PathBuf::from,
    );
    let path = root.join(relative);
    assert!(
        path.is_file(),
        "MISSING TEST DATA: {} is absent; the tests read the shared test data from \
         ${TESTDATA_VARIABLE} when it is set, else from ../shared/testdata beside the project",
        path.display()
    );
    path
}

/// The shared Outlook file (CC BY 4.0, libyal test data).
pub fn libyal() -> PathBuf {
    testdata("pst/libyal-outlook.pst")
}

/// A destination whose Drafts, Sent, Trash and Junk exist, as at a provider.
pub fn destination() -> Dovecot {
    Dovecot::start(DovecotOptions {
        auto_folders: true,
        ..slashed()
    })
}

/// A manifest importing `pst` into alice's mailbox at `dest`.
pub struct PstBatch {
    dir: TempDir,
    pub manifest: PathBuf,
}

impl PstBatch {
    pub fn new(pst: &Path, dest: &Dovecot) -> PstBatch {
        let dir = TempDir::new().expect("temp dir");
        let yaml = format!(
            "batch: pst-test\naccounts:\n  - source: {{kind: pst, path: \"{}\"}}\n    \
             destination: {{kind: imap, host: 127.0.0.1, port: {}, tls: none, \
             email: alice@example.test, user: alice, password: dest-pw}}\n",
            pst.display(),
            dest.imap_port()
        );
        let manifest = dir.path().join("batch.yaml");
        std::fs::write(&manifest, yaml).expect("write manifest");
        PstBatch { dir, manifest }
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    pub fn run(&self) -> Output {
        crate::files::run(self.dir.path(), &self.manifest)
    }

    /// The `mailshift run` command of the batch, to add to before running.
    pub fn command(&self) -> crate::cmd::Cmd {
        mailshift().args(crate::files::run_args(self.dir.path(), &self.manifest))
    }

    /// The batch's JSON report.
    pub fn report(&self) -> PathBuf {
        self.dir.path().join("reports/pst-test/report.json")
    }

    pub fn migration_id(&self) -> String {
        crate::support::first_migration_id(&self.state())
    }
}

/// Every message of every folder of alice's mailbox: folder name to
/// (flags, INTERNALDATE, body).
pub async fn messages(dest: &Dovecot) -> BTreeMap<String, Vec<(Vec<String>, String, Vec<u8>)>> {
    let mut session = Session::connect(&dest.imap_config("alice"))
        .await
        .expect("login");
    let mut out = BTreeMap::new();
    for mailbox in session.list().await.expect("list") {
        session.examine(&mailbox.raw).await.expect("examine");
        let metas = session.fetch_meta("1:*").await.expect("fetch");
        let uids: Vec<u32> = metas.iter().map(|m| m.uid).collect();
        let mut bodies = BTreeMap::new();
        session
            .fetch_bodies(&uids, |uid, body| {
                bodies.insert(uid, body);
            })
            .await
            .expect("bodies");
        let folder = metas
            .iter()
            .map(|m| {
                let mut flags = m.flags.clone();
                flags.sort();
                (
                    flags,
                    m.internal_date.clone(),
                    bodies.remove(&m.uid).unwrap_or_default(),
                )
            })
            .collect();
        out.insert(mailbox.name, folder);
    }
    session.logout().await.ok();
    out
}

/// The eleven JPEG attachments of the welcome message, as the PST
/// records their names and sizes (`PidTagAttachLongFilename`, the data's
/// length).
const WELCOME_ATTACHMENTS: [(&str, usize); 11] = [
    ("1.jpg", 1969),
    ("2.jpg", 1889),
    ("3.jpg", 2088),
    ("4.jpg", 1934),
    ("5.jpg", 2285),
    ("6.jpg", 2136),
    ("7.jpg", 1964),
    ("8.jpg", 1906),
    ("9.jpg", 1764),
    ("10.jpg", 1951),
    ("12.jpg", 1985),
];

#[tokio::test(flavor = "multi_thread")]
async fn pst_folders_messages_headers_attachments_and_flags_reach_imap() {
    let dest = destination();
    let batch = PstBatch::new(&libyal(), &dest);
    let first = batch.run();
    assert_success(&first);
    assert!(
        first.stdout.contains("found 2, copied 2,"),
        "{}",
        first.stdout
    );

    let got = messages(&dest).await;
    let folders: Vec<&str> = got.keys().map(String::as_str).collect();
    // Special folders meet the destination's own; 收件箱 keeps its name;
    // calendars, contacts, tasks, notes and the journal are not mail.
    assert_eq!(
        folders,
        [
            "Content.Filter",
            "Drafts",
            "INBOX",
            "Junk",
            "Outbox",
            "Recovered_Group2",
            "Recovered_Group2/Inbox",
            "Sent",
            "Trash",
            "收件箱",
        ]
    );
    let counts: Vec<usize> = got.values().map(Vec::len).collect();
    assert_eq!(counts, [0, 0, 1, 0, 0, 1, 0, 0, 0, 0]);

    let (flags, date, body) = &got["INBOX"][0];
    assert_eq!(flags, &["\\Seen"]);
    assert_eq!(date, "29-Apr-2007 22:27:33 +0000");
    let message = Entity::parse(body);
    assert_eq!(
        message.header("from"),
        Some("\"Outlook 2003 Team\" <olteam@microsoft.com>")
    );
    assert_eq!(
        message.header("subject"),
        Some("Welcome to Microsoft Office Outlook 2003")
    );
    assert_eq!(
        message.header("date"),
        Some("Sun, 29 Apr 2007 22:27:33 +0000")
    );
    assert_eq!(message.header("to"), Some("\"New Outlook User\":;"));
    assert_eq!(message.header("mime-version"), Some("1.0"));
    let leaves = message.leaves();
    let types: Vec<&str> = leaves
        .iter()
        .map(|e| e.header("content-type").unwrap_or(""))
        .collect();
    assert_eq!(types[0], "text/plain; charset=\"UTF-8\"");
    assert_eq!(types[1], "text/html; charset=\"windows-1252\"");
    assert!(
        types[2..].iter().all(|t| t.starts_with("image/jpeg")),
        "{types:?}"
    );
    let plain = String::from_utf8_lossy(&leaves[0].body);
    assert!(
        plain.contains("Thank you for using Microsoft=C2=AE Office"),
        "{plain}"
    );

    let attached = attachments(body);
    let shape: Vec<(&str, usize)> = attached
        .iter()
        .map(|(n, b)| (n.as_str(), b.len()))
        .collect();
    assert_eq!(shape, WELCOME_ATTACHMENTS);
    for (name, bytes) in &attached {
        assert_eq!(&bytes[..3], [0xFF, 0xD8, 0xFF], "{name} is a JPEG");
        assert_eq!(
            &bytes[bytes.len() - 2..],
            [0xFF, 0xD9],
            "{name} ends as a JPEG"
        );
    }
    // The copy in Recovered_Group2 is the same message.
    assert_eq!(&got["Recovered_Group2"][0].2, body);

    // The report shows the import like any account's migration.
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(batch.dir.path().join("reports/pst-test/report.json")).expect("report"),
    )
    .expect("report JSON");
    let account = &report["accounts"][0];
    assert_eq!(account["state"], "completed", "{account}");
    // Nothing failed; the folders no asked option imports are named.
    let notes = account["item_errors"].as_array().expect("item errors");
    assert_eq!(notes.len(), 6, "{notes:?}");
    for note in notes {
        let reason = note["reason"].as_str().unwrap_or_default();
        assert!(reason.starts_with("skipped: not mail"), "{note}");
    }
    assert!(
        notes
            .iter()
            .any(|n| n["item"] == "folder Calendar (IPF.Appointment)"),
        "{notes:?}"
    );
    let folder = |name: &str| {
        account["folders"]
            .as_array()
            .expect("folders")
            .iter()
            .find(|f| f["source"] == name)
            .unwrap_or_else(|| panic!("no folder {name} in {account}"))
            .clone()
    };
    assert_eq!(folder("Recovered_Group2")["source_messages"], 1);
    assert_eq!(folder("Recovered_Group2")["destination_messages"], 1);
    assert_eq!(folder("收件箱")["destination"], "收件箱");
    assert_eq!(folder("Sent Items")["destination"], "Sent");

    // A re-run copies nothing.
    let second = batch.run();
    assert_success(&second);
    assert!(
        second.stdout.contains("found 2, copied 0,"),
        "{}",
        second.stdout
    );
    assert_eq!(messages(&dest).await, got);
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_undo_removes_exactly_what_was_imported() {
    let dest = destination();
    dest.seed_bodies(
        "alice",
        "INBOX",
        &[b"Subject: mine\r\n\r\nkeep me\r\n".as_slice()],
    )
    .await;
    let before = messages(&dest).await;
    let batch = PstBatch::new(&libyal(), &dest);
    assert_success(&batch.run());
    assert_eq!(messages(&dest).await["INBOX"].len(), 2);

    let id = batch.migration_id();
    mailshift()
        .args(["status", &id, "--source", "alice@example.test", "--state"])
        .arg(batch.state())
        .run()
        .success()
        .stdout_has("completed");
    mailshift()
        .args(["undo", &id, "--source", "alice@example.test", "--state"])
        .arg(batch.state())
        .run()
        .success()
        .stdout_has("2 messages removed");
    // The folders mailshift created are gone; INBOX and the provider's
    // special folders were there before and stay, with their own mail.
    assert_eq!(messages(&dest).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_copies_whose_checkpoint_was_lost_are_recognised_and_still_undone() {
    let dest = destination();
    let batch = PstBatch::new(&libyal(), &dest);
    assert_success(&batch.run());
    let imported = messages(&dest).await;

    // As after a crash between APPEND and checkpoint: only intents remain.
    // The rebuilt messages are the same bytes every time, so the copies
    // are recognised by their fingerprints, not appended again.
    let conn = rusqlite::Connection::open(batch.state()).expect("state database");
    let rows = conn
        .execute(
            "UPDATE messages SET pending = 1, dest_uid = NULL, fingerprint = x'', size = 0",
            [],
        )
        .expect("forget the checkpoints");
    assert_eq!(rows, 2);
    conn.execute("UPDATE folders SET dest_uidnext = NULL", [])
        .expect("forget the watermarks");
    drop(conn);

    let again = batch.run();
    assert_success(&again);
    assert!(
        again.stdout.contains("copied 0, present 2,"),
        "{}",
        again.stdout
    );
    assert_eq!(messages(&dest).await, imported);

    mailshift()
        .args([
            "undo",
            &batch.migration_id(),
            "--source",
            "alice@example.test",
            "--state",
        ])
        .arg(batch.state())
        .run()
        .success()
        .stdout_has("2 messages removed");
    let left: usize = messages(&dest).await.values().map(Vec::len).sum();
    assert_eq!(left, 0);
}

/// Runs Debian's `readpst -S` (one file per message and attachment) on
/// `pst` into `out` and returns its standard output. `-j 0`: by default
/// readpst forks a child per folder and may exit before the children
/// have written their files.
pub fn readpst(pst: &Path, out: &Path) -> String {
    let run = std::process::Command::new("readpst")
        .args(["-j", "0", "-S"])
        .arg("-o")
        .arg(out)
        .arg(pst)
        .output()
        .unwrap_or_else(|e| {
            panic!("readpst cannot run ({e}): install pst-utils (scripts/install-deps.sh)")
        });
    assert!(run.status.success(), "readpst failed: {run:?}");
    String::from_utf8_lossy(&run.stdout).into_owned()
}

/// What `readpst -S` wrote: folder (relative to the store's folder) to
/// message count and attachments (name and bytes), sorted.
pub fn readpst_tree(root: &Path) -> BTreeMap<String, (usize, Attached)> {
    let store = std::fs::read_dir(root)
        .expect("readpst output")
        .next()
        .expect("one store folder")
        .expect("entry")
        .path();
    let mut tree = BTreeMap::new();
    let mut stack = vec![store.clone()];
    while let Some(dir) = stack.pop() {
        let mut messages = 0;
        let mut attached = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("read folder") {
            let path = entry.expect("entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                stack.push(path);
            } else if name.bytes().all(|b| b.is_ascii_digit()) {
                messages += 1;
            } else if let Some((_, attachment)) = name.split_once('-') {
                attached.push((attachment.to_owned(), std::fs::read(&path).expect("read")));
            }
        }
        attached.sort();
        if messages > 0 {
            let relative = dir
                .strip_prefix(&store)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            tree.insert(relative, (messages, attached));
        }
    }
    tree
}

/// Real JPEG pictures, as `readpst -S` extracts them from the libyal
/// file's welcome message (name and bytes), for the files tests build.
pub fn libyal_jpegs() -> Attached {
    let out = TempDir::new().expect("temp dir");
    readpst(&libyal(), out.path());
    let (_, jpegs) = readpst_tree(out.path())
        .remove("Inbox")
        .expect("the welcome message in Inbox");
    assert!(
        jpegs.len() >= 2
            && jpegs
                .iter()
                .all(|(_, b)| b.starts_with(&[0xFF, 0xD8, 0xFF])),
        "readpst gave no JPEGs: {:?}",
        jpegs.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    jpegs
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_import_agrees_with_readpst() {
    let pst = libyal();
    let out = TempDir::new().expect("temp dir");
    let listing = readpst(&pst, out.path());
    let expected = readpst_tree(out.path());
    assert!(!expected.is_empty(), "readpst found no message: {listing}");

    let dest = destination();
    assert_success(&PstBatch::new(&pst, &dest).run());
    let got = messages(&dest).await;

    // Where each PST folder went: special folders meet the destination's.
    let source_name = |dest_name: &str| match dest_name {
        "INBOX" => "Inbox".to_owned(),
        "Sent" => "Sent Items".to_owned(),
        "Trash" => "Deleted Items".to_owned(),
        "Junk" => "Junk E-mail".to_owned(),
        other => other.to_owned(),
    };
    let processed: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.strip_prefix("Processing Folder \""))
        .filter_map(|l| l.strip_suffix('"'))
        .collect();
    for name in got.keys() {
        let leaf = source_name(name).rsplit('/').next().unwrap().to_owned();
        assert!(
            processed.contains(&leaf.as_str()),
            "{name} ({leaf}) not in {processed:?}"
        );
    }
    let mut total = 0;
    for (folder, (count, attached)) in &expected {
        let dest_name = if folder == "Inbox" {
            "INBOX"
        } else {
            folder.as_str()
        };
        let messages = &got[dest_name];
        assert_eq!(messages.len(), *count, "{folder}");
        total += count;
        let mut ours: Attached = messages
            .iter()
            .flat_map(|(_, _, body)| attachments(body))
            .collect();
        ours.sort();
        assert_eq!(ours.len(), attached.len(), "{folder}");
        assert!(
            ours == *attached,
            "{folder}: attachment names or bytes differ from readpst's"
        );
    }
    let imported: usize = got.values().map(Vec::len).sum();
    assert_eq!(imported, total);
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_rules_are_refused_by_the_plan_before_anything_runs() {
    let dest = destination();
    let dir = TempDir::new().expect("temp dir");
    let manifest = dir.path().join("batch.yaml");
    std::fs::write(
        &manifest,
        format!(
            "batch: pst-rules\ndefaults:\n  options: [mail, rules]\naccounts:\n  \
             - source: {{kind: pst, path: \"{}\"}}\n    \
             destination: {{kind: groupware, host: 127.0.0.1, port: {}, tls: none, \
             dav_url: \"http://127.0.0.1:1/dav/\", email: alice@example.test, \
             user: alice, password: dest-pw}}\n",
            libyal().display(),
            dest.imap_port()
        ),
    )
    .expect("write manifest");
    crate::files::run(dir.path(), &manifest)
        .code(2)
        .stderr_has("options[1]: the source is a PST file, which holds mail, contacts, calendars and tasks; it cannot provide rules");
    let imported: usize = messages(&dest).await.values().map(Vec::len).sum();
    assert_eq!(imported, 0);
}
