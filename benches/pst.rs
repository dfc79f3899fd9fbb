//! How fast `mailshift run` imports an Outlook PST file into IMAP.
//!
//! 1. Writes a deterministic PST (not timed): the messages of one account
//!    of the mail corpus (`support/corpus.rs`, 5,000 by default) as
//!    `IPM.Note` items in a folder tree like the corpus's, as Outlook
//!    stores Internet mail, attachments by value included (see
//!    `support/pst_corpus.rs`).
//! 2. Runs the release `mailshift` binary on a manifest `source: {kind:
//!    pst, path}` into an empty destination Dovecot whose mail lives on
//!    tmpfs: wall time, peak RSS (GNU time), messages/s, and MiB/s of the
//!    messages as appended over IMAP (the bytes the run's report counts).
//! 3. Checks every folder of the destination: the same messages as the
//!    PST's folder, compared as multisets of (Subject, Message-ID, flags,
//!    INTERNALDATE, text and HTML bodies decoded), and as many bytes as
//!    the report says were copied.
//!    Any difference fails the benchmark.
//! 4. Runs the same command again with nothing changed: it must copy
//!    nothing and leave the destination as it was.
//! 5. Undoes the import (`mailshift undo`): every folder must be left
//!    without messages.
//!
//! Run with `cargo bench --bench pst`. Knobs, as environment variables:
//!
//! - `BENCH_PST_MESSAGES` (5000), `BENCH_SEED`;
//! - `BENCH_MAIL_ROOT` (`/dev/shm`): where the Dovecot mail store lives
//!   (the PST itself is written to the temporary directory);
//! - `MAILSHIFT_BIN`: the binary to measure (default: the one Cargo built
//!   with this benchmark, `target/release/mailshift`).

#[allow(dead_code)]
#[path = "../tests/it/support/dovecot.rs"]
mod dovecot;
#[allow(dead_code)]
#[path = "../tests/it/support/gmail_view.rs"]
mod gmail_view;
#[allow(dead_code)]
#[path = "../tests/it/support/mime.rs"]
mod mime;
#[allow(dead_code)]
#[path = "../tests/it/support/pst_writer/mod.rs"]
mod pst_writer;
#[allow(dead_code)]
#[path = "../tests/it/support/server.rs"]
mod server;

#[allow(dead_code)]
#[path = "support/corpus.rs"]
mod corpus;
#[allow(dead_code)]
#[path = "support/measure.rs"]
mod measure;
#[path = "support/outcome.rs"]
mod outcome;
#[path = "support/pst_corpus.rs"]
mod pst_corpus;
#[allow(dead_code)]
#[path = "support/rng.rs"]
mod rng;
#[path = "support/totals.rs"]
mod totals;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::DateTime;
use mailshift::protocols::imap::Session;

use corpus::Shape;
use dovecot::{Dovecot, DovecotOptions};
use measure::{env_or, measure, mib};
use mime::Entity;
use outcome::{migration_id, row, run_args, succeeded, undo_args};
use pst_corpus::Expected;

const USER: &str = "user00";
const EMAIL: &str = "user00@example.test";
const DEST_PASSWORD: &str = "dest-pw";

/// Messages of every folder at the destination, and their bytes.
type Inventory = BTreeMap<String, (Vec<Expected>, u64)>;

fn main() {
    let Some(runtime) = measure::start("pst") else {
        return;
    };
    let shape = Shape {
        accounts: 1,
        messages_per_account: env_or("BENCH_PST_MESSAGES", 5000),
        seed: env_or("BENCH_SEED", 20_240_601),
    };
    let root = std::env::var_os("BENCH_MAIL_ROOT")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/dev/shm")))
        .filter(|p| p.is_dir());
    measure::exit(runtime.block_on(bench(&shape, &measure::mailshift_binary(), root)));
}

async fn bench(shape: &Shape, binary: &Path, root: Option<PathBuf>) -> Result<(), String> {
    println!(
        "pst bench: {} messages, seed {}, mail under {}, binary {}",
        shape.messages_per_account,
        shape.seed,
        root.as_deref()
            .map_or("the temp directory".into(), |p| p.display().to_string()),
        binary.display()
    );
    if !binary.is_file() {
        return Err(format!(
            "{} does not exist: run `cargo bench --bench pst`, which builds it",
            binary.display()
        ));
    }
    let work = tempfile::Builder::new()
        .prefix("mailshift-pst-bench-")
        .tempdir()
        .map_err(|e| format!("a temporary directory: {e}"))?;
    let dir = work.path();

    // 1. The PST (not timed).
    let pst = dir.join("mailbox.pst");
    let started = Instant::now();
    let written =
        pst_corpus::write(shape, &pst).map_err(|e| format!("write {}: {e}", pst.display()))?;
    let pst_bytes = std::fs::metadata(&pst)
        .map_err(|e| format!("{}: {e}", pst.display()))?
        .len();
    println!(
        "PST: {} messages in {} folders, {:.1} MiB, written in {:.1} s \
         ({} attachments)",
        written.messages,
        written.folders.len(),
        mib(pst_bytes),
        started.elapsed().as_secs_f64(),
        written.attachments
    );

    // 2–3. The import, then the check.
    let dest = Dovecot::start(DovecotOptions {
        users: &[(USER, DEST_PASSWORD)],
        root,
        // Sent, Drafts, Trash and Junk exist, as at a provider.
        auto_folders: true,
        ..DovecotOptions::default()
    });
    let manifest = dir.join("batch.yaml");
    std::fs::write(&manifest, manifest_yaml(&pst, &dest))
        .map_err(|e| format!("write {}: {e}", manifest.display()))?;
    let state = dir.join("state.db");
    let reports = dir.join("reports");
    let run_args = run_args(&manifest, &state, &reports);
    let run = measure(binary, &run_args, dir, "run");
    let totals = succeeded(&run, "mailshift run")?;
    let messages = written.messages as u64;
    if totals.completed != 1 || totals.found != messages || totals.copied != messages {
        return Err(format!(
            "mailshift run did not import every message: {totals}\n{}",
            run.stdout
        ));
    }
    let bytes = copied_bytes(&reports.join("pstbench/report.json"))?;
    let got = inventory(&dest).await?;
    same(&written.folders, &got, "after the import")?;
    let at_destination: u64 = got.values().map(|(_, b)| b).sum();
    if at_destination != bytes {
        return Err(format!(
            "the report counts {bytes} bytes copied, the destination holds {at_destination}"
        ));
    }

    // 4. Nothing changed: nothing copied.
    let rerun = measure(binary, &run_args, dir, "rerun");
    let rerun_totals = succeeded(&rerun, "the no-change re-run")?;
    if rerun_totals.copied != 0 || rerun_totals.failed != 0 {
        return Err(format!(
            "the no-change re-run did something: {rerun_totals}\n{}",
            rerun.stdout
        ));
    }
    same(
        &written.folders,
        &inventory(&dest).await?,
        "after the re-run",
    )?;

    // 5. Undo.
    let id = migration_id(binary, &state, EMAIL)?;
    let undo_args = undo_args(id, EMAIL, &state, &reports);
    let undo = measure(binary, &undo_args, dir, "undo");
    succeeded(&undo, "mailshift undo")?;
    let left: usize = inventory(&dest)
        .await?
        .values()
        .map(|(messages, _)| messages.len())
        .sum();
    if left != 0 {
        return Err(format!(
            "{left} messages left at the destination after the undo:\n{}",
            undo.stdout
        ));
    }

    println!();
    outcome::header();
    let count = written.messages;
    row("mailshift run", count, bytes, run.wall, Some(&run));
    row("no-change re-run", count, bytes, rerun.wall, Some(&rerun));
    row("undo", count, 0, undo.wall, Some(&undo));
    println!(
        "mailshift run: {} CPU, machine {:.0}% busy during the run",
        run.cpu.map_or("?".into(), |c| format!("{c:.2} s")),
        run.machine_busy * 100.0
    );
    println!(
        "checked: every folder's messages (Subject, Message-ID, flags, INTERNALDATE, bodies) \
         and bytes \
         equal after the run and the re-run ({totals}; re-run: {rerun_totals}); \
         no message left after the undo; PST {:.1} MiB",
        mib(pst_bytes)
    );
    Ok(())
}

/// A manifest importing `pst` into the destination's only account.
fn manifest_yaml(pst: &Path, dest: &Dovecot) -> String {
    format!(
        "batch: pstbench\n\
         accounts:\n  \
           - source: {{kind: pst, path: \"{}\"}}\n    \
             destination: {{kind: imap, host: 127.0.0.1, port: {}, tls: none, \
         email: {EMAIL}, user: {USER}, password: {DEST_PASSWORD}}}\n",
        pst.display(),
        dest.imap_port()
    )
}

/// The bytes the batch's report counts as copied.
fn copied_bytes(report: &Path) -> Result<u64, String> {
    let text = std::fs::read(report).map_err(|e| format!("{}: {e}", report.display()))?;
    let json: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", report.display()))?;
    json["totals"]["all_stages"]["bytes"]
        .as_u64()
        .ok_or_else(|| format!("{}: no totals.all_stages.bytes", report.display()))
}

/// Every folder of the destination: its messages as [`Expected`] values,
/// sorted, and their bytes (RFC822.SIZE).
async fn inventory(dest: &Dovecot) -> Result<Inventory, String> {
    let failed = |what: &str, e: &dyn std::fmt::Display| format!("destination: {what}: {e}");
    let mut session = Session::connect(&dest.imap_config(USER))
        .await
        .map_err(|e| failed("login", &e))?;
    let mut inventory = Inventory::new();
    for mailbox in session.list().await.map_err(|e| failed("LIST", &e))? {
        if mailbox.noselect {
            inventory.insert(mailbox.name, (Vec::new(), 0));
            continue;
        }
        let state = session
            .examine(&mailbox.raw)
            .await
            .map_err(|e| failed(&mailbox.name, &e))?;
        if state.exists == 0 {
            inventory.insert(mailbox.name, (Vec::new(), 0));
            continue;
        }
        let metas = session
            .fetch_meta("1:*")
            .await
            .map_err(|e| failed(&mailbox.name, &e))?;
        let uids: Vec<u32> = metas.iter().map(|m| m.uid).collect();
        // Subject, Message-ID and body digest by UID, one message in
        // memory at a time.
        let mut read: BTreeMap<u32, (Option<String>, Option<String>, String)> = BTreeMap::new();
        session
            .fetch_bodies(&uids, |uid, body| {
                read.insert(uid, contents(&body));
            })
            .await
            .map_err(|e| failed(&mailbox.name, &e))?;
        let mut messages = Vec::with_capacity(metas.len());
        for meta in &metas {
            let (subject, message_id, bodies) = read
                .remove(&meta.uid)
                .ok_or_else(|| failed(&mailbox.name, &format!("UID {} not fetched", meta.uid)))?;
            let date = DateTime::parse_from_str(meta.internal_date.trim(), "%d-%b-%Y %H:%M:%S %z")
                .map_err(|e| failed(&meta.internal_date, &e))?;
            let mut flags = meta.flags.clone();
            flags.sort();
            messages.push((subject, message_id, flags, date.timestamp(), bodies));
        }
        messages.sort();
        let bytes = metas.iter().map(|m| m.size).sum();
        inventory.insert(mailbox.name, (messages, bytes));
    }
    session.logout().await.ok();
    Ok(inventory)
}

/// A message's Subject and Message-ID, and the [`pst_corpus::digest`] of
/// its `text/plain` and `text/html` parts, decoded.
fn contents(raw: &[u8]) -> (Option<String>, Option<String>, String) {
    let message = Entity::parse(raw);
    let subject = message.header("subject").map(str::to_owned);
    let message_id = message.header("message-id").map(str::to_owned);
    let (mut text, mut html) = (Vec::new(), Vec::new());
    for leaf in message.leaves() {
        let kind = leaf
            .header("content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        let qp = leaf
            .header("content-transfer-encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"));
        let body = if qp { unquote(&leaf.body) } else { leaf.body };
        if kind.starts_with("text/plain") {
            text.extend_from_slice(&body);
        } else if kind.starts_with("text/html") {
            html = body;
        }
    }
    (subject, message_id, pst_corpus::digest(&text, &html))
}

/// Decodes quoted-printable (RFC 2045 6.7): soft line breaks joined,
/// `=XX` to its byte.
fn unquote(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    while at < body.len() {
        if body[at] == b'=' {
            if body[at + 1..].starts_with(b"\r\n") {
                at += 3;
                continue;
            }
            let byte = body
                .get(at + 1..at + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok());
            if let Some(byte) = byte {
                out.push(byte);
                at += 3;
                continue;
            }
        }
        out.push(body[at]);
        at += 1;
    }
    out
}

/// Fails, listing every difference, unless every folder of the PST holds
/// the same messages at the destination and no other folder holds any.
fn same(want: &BTreeMap<String, Vec<Expected>>, got: &Inventory, when: &str) -> Result<(), String> {
    let mut differences = String::new();
    for (name, expected) in want {
        let Some((found, _)) = got.get(name) else {
            let _ = writeln!(differences, "  {name:?}: missing");
            continue;
        };
        if found != expected {
            let _ = writeln!(
                differences,
                "  {name:?}: {} messages in the PST, {} at the destination; \
                 first missing {:?}, first unexpected {:?}",
                expected.len(),
                found.len(),
                expected.iter().find(|m| !found.contains(m)),
                found.iter().find(|m| !expected.contains(m))
            );
        }
    }
    for (name, (found, _)) in got {
        if !want.contains_key(name) && !found.is_empty() {
            let _ = writeln!(
                differences,
                "  {name:?}: {} messages in a folder the PST does not have",
                found.len()
            );
        }
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(format!("the destination differs {when}:\n{differences}"))
    }
}
