//! Bad and altered PST files through the binary: damaged copies of the
//! libyal file (cut short, bytes flipped), an empty file, a text file, an
//! OST, a copy protected by a password, a missing path. Each must give a
//! clear error naming the file, or a report of the items skipped, never a
//! panic; `plan --check` says so before the run. Copies are altered the
//! way Outlook writes the file (block encoding and CRC kept right) where a
//! property must change: a password, an item's class, its flags.

use tempfile::TempDir;

use crate::cmd::mailshift;
use crate::pst::{PstBatch, destination, libyal};

#[tokio::test(flavor = "multi_thread")]
async fn plan_check_opens_the_pst_and_counts_what_will_be_imported() {
    let dest = destination();
    let good = PstBatch::new(&libyal(), &dest);
    let out = mailshift()
        .args(["plan", "--check"])
        .arg(&good.manifest)
        .run()
        .success();
    assert!(out.stdout.contains("1 ready"), "{}", out.stdout);
    let row = out
        .stdout
        .lines()
        .find(|l| l.contains("alice@example.test"))
        .expect("the account's row");
    let columns: Vec<&str> = row.split_whitespace().collect();
    // ACCOUNT SOURCE DESTINATION WEBDAV FOLDERS MESSAGES: no WebDAV
    // option, ten mail folders, two messages.
    assert_eq!(
        columns[..7],
        ["✓", "alice@example.test", "ok", "ok", "-", "10", "2"],
        "{row}"
    );

    let dir = TempDir::new().expect("temp dir");
    let ost = dir.path().join("offline.ost");
    let mut bytes = std::fs::read(libyal()).expect("read the test file");
    bytes[8..10].copy_from_slice(b"SO");
    std::fs::write(&ost, bytes).expect("write");
    let bad = PstBatch::new(&ost, &dest);
    let out = mailshift()
        .args(["plan", "--check"])
        .arg(&bad.manifest)
        .run()
        .code(1);
    assert!(out.stdout.contains("file unusable"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains(&format!("{}: an OST file", ost.display())),
        "{}",
        out.stdout
    );
}

/// What a damaged copy must give.
enum Expect {
    /// The account fails with this reason, naming the file.
    Refused(&'static str),
    /// The unreadable messages are reported by node ID, naming the file,
    /// and the rest is imported.
    ItemsReported,
    /// Either of the above, or a clean import when the damage hit bytes
    /// the import does not read.
    NoPanic,
}

#[tokio::test(flavor = "multi_thread")]
async fn damaged_pst_files_give_clear_errors_never_a_panic() {
    let dest = destination();
    let dir = TempDir::new().expect("temp dir");
    let original = std::fs::read(libyal()).expect("read the test file");
    let mut cases: Vec<(String, Vec<u8>, Expect)> = vec![
        (
            "empty.pst".into(),
            Vec::new(),
            Expect::Refused("the file is empty"),
        ),
        (
            "notes.pst".into(),
            b"Meeting notes\nnot a PST at all\n".to_vec(),
            Expect::Refused("not an Outlook PST file"),
        ),
    ];
    for len in [100, 600, 20_000, 150_000, original.len() - 1] {
        cases.push((
            format!("cut-{len}.pst"),
            original[..len].to_vec(),
            Expect::Refused("truncated"),
        ));
    }
    let mut ost = original.clone();
    ost[8..10].copy_from_slice(b"SO");
    cases.push(("offline.ost".into(), ost, Expect::Refused("an OST file")));
    let flipped = |at: usize| {
        let mut copy = original.clone();
        for b in &mut copy[at..at + 64] {
            *b ^= 0x5A;
        }
        copy
    };
    // These two land in the blocks of the two messages.
    for at in [0x10000, 0x20000] {
        cases.push((
            format!("flip-{at:x}.pst"),
            flipped(at),
            Expect::ItemsReported,
        ));
    }
    for at in (0x200..original.len() - 64).step_by(0x4000) {
        cases.push((format!("sweep-{at:x}.pst"), flipped(at), Expect::NoPanic));
    }

    for (name, bytes, expect) in cases {
        let path = dir.path().join(&name);
        std::fs::write(&path, bytes).expect("write a damaged copy");
        let batch = PstBatch::new(&path, &dest);
        let out = batch.run();
        let context = format!("{name}:\n{}\n{}", out.stdout, out.stderr);
        assert!(matches!(out.code, Some(0 | 1)), "{context}");
        assert!(!out.stderr.contains("panicked"), "{context}");
        let status = mailshift()
            .args([
                "status",
                &batch.migration_id(),
                "--source",
                "alice@example.test",
            ])
            .arg("--state")
            .arg(batch.state())
            .run();
        let named = path.display().to_string();
        let refused = out.stdout.contains(" failed ");
        let reported = status.stdout.contains(&named) && status.stdout.contains("cannot be read");
        match expect {
            Expect::Refused(reason) => {
                assert!(refused, "{context}");
                assert!(out.stdout.contains(&format!("{named}: ")), "{context}");
                assert!(out.stdout.contains(reason), "{context}");
            }
            Expect::ItemsReported => {
                assert!(out.stdout.contains("completed_with_errors"), "{context}");
                assert!(reported, "{context}\n{}", status.stdout);
                assert!(status.stdout.contains("message 0x"), "{}", status.stdout);
            }
            Expect::NoPanic => assert!(
                refused && out.stdout.contains(&named)
                    || reported
                    || out.stdout.contains(" completed "),
                "{context}\n{}",
                status.stdout
            ),
        }
    }
}

#[test]
fn a_missing_pst_file_is_named_before_anything_runs() {
    let dir = TempDir::new().expect("temp dir");
    let missing = dir.path().join("gone.pst");
    let manifest = dir.path().join("batch.yaml");
    std::fs::write(
        &manifest,
        format!(
            "batch: pst-missing\naccounts:\n  - source: {{kind: pst, path: \"{}\"}}\n    \
             destination: {{kind: imap, host: 127.0.0.1, port: 1, tls: none, \
             email: alice@example.test, user: alice, password: x}}\n",
            missing.display()
        ),
    )
    .expect("write manifest");
    let out = mailshift().arg("validate").arg(&manifest).run().code(2);
    assert!(
        out.stdout
            .contains(&format!("{} does not exist", missing.display())),
        "{}",
        out.stdout
    );
    mailshift()
        .arg("run")
        .arg(&manifest)
        .arg("--state")
        .arg(dir.path().join("state.db"))
        .run()
        .code(2)
        .stderr_has("gone.pst does not exist");
}

/// A copy of `original` with `from` replaced by `to` in the decoded data
/// block of node `nid`, as Outlook would have written it: the block is
/// rewritten in its on-disk encoding and its CRC recomputed.
fn patched(original: &[u8], nid: u32, from: &[u8], to: &[u8]) -> Vec<u8> {
    use outlook_pst::ndb::node_id::NodeId;
    use outlook_pst::ndb::page::NodeBTreeEntry as _;
    use outlook_pst::{PstFile as _, UnicodePstFile};

    let pst = UnicodePstFile::read_from(Box::new(std::io::Cursor::new(original.to_vec())))
        .expect("open the test file");
    let node = pst.read_node(NodeId::from(nid)).expect("the node");
    let decoded = pst.read_block(node.data()).expect("its data block");
    let bid = u64::from(node.data()).to_le_bytes();
    let cb = decoded.len();
    // The block's trailer (cb, wSig, dwCRC, bid) ends a 64-byte aligned block.
    let trailer = (48..original.len() - 16)
        .step_by(64)
        .find(|&t| {
            original[t..t + 2] == (cb as u16).to_le_bytes() && original[t + 8..t + 16] == bid
        })
        .expect("the block's trailer");
    let start = trailer + 16 - (cb + 16).div_ceil(64) * 64;
    let raw = &original[start..start + cb];
    assert_eq!(
        crc(raw).to_le_bytes(),
        original[trailer + 4..trailer + 8],
        "the block CRC is computed as the file computes it"
    );
    // The encoding maps bytes one to one: learn it from the block itself.
    let mut encode = [None; 256];
    for (d, r) in decoded.iter().zip(raw) {
        encode[usize::from(*d)] = Some(*r);
    }
    let at = decoded
        .windows(from.len())
        .position(|w| w == from)
        .expect("the bytes to replace");
    let mut copy = original.to_vec();
    for (i, byte) in to.iter().enumerate() {
        copy[start + at + i] = encode[usize::from(*byte)].expect("a byte the block uses");
    }
    let crc = crc(&copy[start..start + cb]);
    copy[trailer + 4..trailer + 8].copy_from_slice(&crc.to_le_bytes());
    copy
}

/// A copy whose message store says it is protected by a password: the
/// `PidTagPstPassword` record (0x67FF, an inline PtypInteger32) of
/// NID_MESSAGE_STORE holds a CRC instead of 0.
fn with_password(original: &[u8]) -> Vec<u8> {
    let record = [0xFF, 0x67, 0x03, 0x00];
    patched(
        original,
        0x21,
        &[record, [0; 4]].concat(),
        &[record, [0x03, 0, 0, 0]].concat(),
    )
}

/// The block CRC of [MS-PST] 5.3: CRC-32, initial value 0, no final XOR.
fn crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    crc
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_protected_pst_is_refused_saying_so() {
    let dest = destination();
    let dir = TempDir::new().expect("temp dir");
    let locked = dir.path().join("locked.pst");
    std::fs::write(
        &locked,
        with_password(&std::fs::read(libyal()).expect("read")),
    )
    .expect("write");
    let batch = PstBatch::new(&locked, &dest);
    let out = batch.run().code(1);
    assert!(
        out.stdout
            .contains(&format!("{}: protected by a password", locked.display())),
        "{}",
        out.stdout
    );
    mailshift()
        .args(["plan", "--check"])
        .arg(&batch.manifest)
        .run()
        .code(1)
        .stdout_has("protected by a password");
}

/// UTF-16LE bytes of `text`.
fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn items_that_are_not_mail_are_skipped_and_counted() {
    let dest = destination();
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("task.pst");
    // The Inbox's message (node 0x200024) made a task.
    let original = std::fs::read(libyal()).expect("read");
    let task = patched(&original, 0x20_0024, &utf16("IPM.Note"), &utf16("IPM.Task"));
    std::fs::write(&path, task).expect("write");
    let out = PstBatch::new(&path, &dest).run().success();
    assert!(
        out.stdout
            .contains("found 2, copied 1, present 0, skipped 1, failed 0"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn read_and_draft_state_follow_the_message_flags() {
    let dest = destination();
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("draft.pst");
    // PidTagMessageFlags (0x0E07) of the Inbox's message: read (0x11)
    // made unread and unsent (0x08).
    let record = [0x07, 0x0E, 0x03, 0x00];
    let original = std::fs::read(libyal()).expect("read");
    let draft = patched(
        &original,
        0x20_0024,
        &[record, [0x11, 0, 0, 0]].concat(),
        &[record, [0x08, 0, 0, 0]].concat(),
    );
    std::fs::write(&path, draft).expect("write");
    PstBatch::new(&path, &dest).run().success();
    let folders = dest.snapshot("alice").await;
    let flags = |folder: &str| folders[folder][0].1.clone();
    assert_eq!(flags("INBOX"), "\\Draft");
    assert_eq!(flags("Recovered_Group2"), "\\Seen");
}
