//! PST import end to end: the `mailshift` binary reading the libyal
//! project's Outlook file into a real Dovecot over IMAP, checked against
//! what the file holds and against Debian's `readpst`; damaged copies of
//! the file must give clear errors, never a panic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use mailshift::protocols::imap::Session;
use tempfile::TempDir;

use crate::cmd::{Output, mailshift};
use crate::mail::{assert_success, slashed};
use crate::support::{Dovecot, DovecotOptions};

/// The shared Outlook file (CC BY 4.0, libyal test data). Its absence is
/// a failure, never a silent pass.
fn libyal() -> PathBuf {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/pst/libyal-outlook.pst");
    assert!(
        path.is_file(),
        "MISSING TEST DATA: {} is absent; the PST import tests cannot run without it",
        path.display()
    );
    path
}

/// A destination whose Drafts, Sent, Trash and Junk exist, as at a provider.
fn destination() -> Dovecot {
    Dovecot::start(DovecotOptions {
        auto_folders: true,
        ..slashed()
    })
}

/// A manifest importing `pst` into alice's mailbox at `dest`.
struct PstBatch {
    dir: TempDir,
    manifest: PathBuf,
}

impl PstBatch {
    fn new(pst: &Path, dest: &Dovecot) -> PstBatch {
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

    fn state(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    fn run(&self) -> Output {
        mailshift()
            .arg("run")
            .arg(&self.manifest)
            .arg("--state")
            .arg(self.state())
            .arg("--reports")
            .arg(self.dir.path().join("reports"))
            .run()
    }

    fn migration_id(&self) -> String {
        let listed = mailshift()
            .args(["list", "--format", "json", "--state"])
            .arg(self.state())
            .run()
            .success()
            .json();
        listed[0]["accounts"][0]["migration_id"]
            .as_str()
            .expect("a migration ID")
            .to_owned()
    }
}

/// One MIME entity: header fields (names in lower case, values unfolded)
/// and the raw body.
struct Entity {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Entity {
    fn parse(raw: &[u8]) -> Entity {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or((raw, &raw[raw.len()..]), |at| (&raw[..at], &raw[at + 4..]));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in String::from_utf8_lossy(split.0).split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        Entity {
            headers,
            body: split.1.to_vec(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter of a header field (`boundary`, `filename`).
    fn param(&self, header: &str, name: &str) -> Option<String> {
        self.header(header)?.split(';').skip(1).find_map(|p| {
            let (n, v) = p.split_once('=')?;
            (n.trim().eq_ignore_ascii_case(name)).then(|| v.trim().trim_matches('"').to_owned())
        })
    }

    /// The leaf entities, depth first.
    fn leaves(self) -> Vec<Entity> {
        let Some(boundary) = self
            .header("content-type")
            .filter(|t| t.to_ascii_lowercase().starts_with("multipart/"))
            .and_then(|_| self.param("content-type", "boundary"))
        else {
            return vec![self];
        };
        let delimiter = format!("\r\n--{boundary}");
        let body = [b"\r\n".as_slice(), &self.body].concat();
        let text = body.as_slice();
        let mut starts = Vec::new();
        let mut at = 0;
        while let Some(found) = find(&text[at..], delimiter.as_bytes()) {
            starts.push(at + found);
            at += found + delimiter.len();
        }
        let mut out = Vec::new();
        for pair in starts.windows(2) {
            let part = &text[pair[0] + delimiter.len()..pair[1]];
            let part = part.strip_prefix(b"\r\n").unwrap_or(part);
            out.extend(Entity::parse(part).leaves());
        }
        out
    }

    fn decoded(&self) -> Vec<u8> {
        let encoding = self.header("content-transfer-encoding").unwrap_or("7bit");
        assert!(encoding.eq_ignore_ascii_case("base64"), "{encoding}");
        let clean: Vec<u8> = self
            .body
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(clean)
            .expect("valid base64")
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Every message of every folder of alice's mailbox: folder name to
/// (flags, INTERNALDATE, body).
async fn messages(dest: &Dovecot) -> BTreeMap<String, Vec<(Vec<String>, String, Vec<u8>)>> {
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

/// The attachments of a message: file name and decoded bytes.
fn attachments(message: &[u8]) -> Vec<(String, Vec<u8>)> {
    Entity::parse(message)
        .leaves()
        .into_iter()
        .filter(|e| {
            e.header("content-disposition")
                .is_some_and(|d| d.starts_with("attachment"))
        })
        .map(|e| {
            let name = e
                .param("content-disposition", "filename")
                .expect("a file name");
            (name, e.decoded())
        })
        .collect()
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
