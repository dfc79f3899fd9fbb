//! The state in PostgreSQL (`--state postgres://…`): a real migration
//! between private Dovecots is exact, a `kill -9` mid-run then a resume
//! duplicates nothing, a second run of the same batch is refused while
//! the first holds its lock, and `list`, `status`, `report`, `undo`,
//! `serve` and `purge` read the same state. The server is a private
//! cluster from Debian's `postgresql` package; without it they fail.

use std::time::{Duration, Instant};

use crate::cmd::mailshift;
use crate::mail::{
    Batch, account, assert_same, assert_success, dest_count, raw, servers, slashed, slashed_source,
    snapshot,
};
use crate::support::Dovecot;
use crate::support::postgres::Postgres;
use crate::support::web::Serve;

/// The password in every URL below: the cluster trusts loopback, so any
/// password logs in, and none may ever be printed.
const PASSWORD: &str = "pg-secret-9f2c";

fn state_url(server: &Postgres) -> String {
    server
        .database("mailshift")
        .replace("postgres@", &format!("postgres:{PASSWORD}@"))
}

/// Asserts that nothing the command printed holds the password.
#[track_caller]
fn assert_no_password(output: &crate::cmd::Output) {
    assert!(
        !output.stdout.contains(PASSWORD) && !output.stderr.contains(PASSWORD),
        "{output:?}"
    );
}

fn bodies(n: usize, size: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            raw(
                &format!("Subject: m{i}\r\nMessage-ID: <{}@x>", i % (n / 3).max(1)),
                &"z".repeat(size),
            )
        })
        .collect()
}

/// A PostgreSQL server, two Dovecots with `n` messages of `size` bytes in
/// alice's source INBOX (and a fifth of them in Archive), and a batch of
/// alice's account with its state in PostgreSQL (`limits` added to its
/// manifest's).
async fn setup(n: usize, size: usize, limits: &str) -> (Postgres, Dovecot, Dovecot, Batch) {
    let server = Postgres::start();
    let (source, dest) = servers(slashed_source(), slashed());
    let mail = bodies(n, size);
    source.seed_bodies("alice", "INBOX", &mail).await;
    source.seed_bodies("alice", "Archive", &mail[..n / 5]).await;
    let batch =
        Batch::new(&[account("alice", &source, &dest)], limits).on_postgres(state_url(&server));
    (server, source, dest, batch)
}

/// `mailshift status --format json` of alice's migration `id`.
fn status_of(batch: &Batch, id: &str, source: &str) -> serde_json::Value {
    mailshift()
        .args([
            "status", id, "--source", source, "--format", "json", "--state",
        ])
        .arg(batch.state_arg())
        .run()
        .success()
        .json()
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_state_migrates_exactly_and_serves_status_report_and_undo() {
    let (_server, source, dest, batch) = setup(250, 600, "").await;

    let first = batch.run();
    assert_success(&first);
    assert_no_password(&first);
    assert_same(
        &snapshot(&dest, "alice").await,
        &snapshot(&source, "alice").await,
    );
    assert!(!batch.state().exists(), "no SQLite file was made");

    let again = batch.run();
    assert_success(&again);
    assert!(again.stdout.contains("copied 0,"), "{again:?}");

    let listed = batch.list();
    let id = listed[0]["accounts"][0]["migration_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = status_of(&batch, &id, "ALICE@example.test");
    assert_eq!(status["state"], "completed", "{status}");
    let mail_stage = &status["stages"][0];
    assert_eq!(
        (&mail_stage["kind"], &mail_stage["copied"]),
        (&"mail".into(), &300.into())
    );

    // `report` writes the batch's report again from the state alone.
    let again = batch.dir.path().join("again");
    let rewritten = mailshift()
        .args(["report", "test", "--reports"])
        .arg(&again)
        .arg("--state")
        .arg(batch.state_arg())
        .run()
        .success();
    assert_no_password(&rewritten);
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(again.join("test").join("report.json")).unwrap(),
    )
    .unwrap();
    let report_text = report.to_string();
    assert!(report_text.contains(&id), "{report_text}");
    assert!(!report_text.contains(PASSWORD));

    let undo = mailshift()
        .args(["undo", &id, "--source", "alice@example.test", "--state"])
        .arg(batch.state_arg())
        .run();
    assert_no_password(&undo);
    undo.success().stdout_has("300 messages removed");
    let after = snapshot(&dest, "alice").await;
    assert!(after.values().all(|folder| folder.is_empty()), "{after:?}");
    let status = status_of(&batch, &id, "alice@example.test");
    assert_eq!(status["state"], "undone");

    // The status pages read the same state.
    let state = std::path::PathBuf::from(batch.state_arg());
    let serve = Serve::start(&state, &batch.reports(), 100);
    let page = serve
        .get(
            &format!("/api/v1/migrations/{id}?source=alice%40example.test"),
            &[],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.json()["state"], "undone");
    assert!(!page.body.contains(PASSWORD));
    drop(serve);

    // `purge` forgets the migration there too.
    let purged = mailshift()
        .args([
            "purge",
            &id,
            "--source",
            "alice@example.test",
            "--yes",
            "--state",
        ])
        .arg(batch.state_arg())
        .run();
    assert_no_password(&purged);
    purged.success();
    mailshift()
        .args(["status", &id, "--source", "alice@example.test", "--state"])
        .arg(batch.state_arg())
        .run()
        .code(4);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_state_kill_9_mid_run_then_resume_duplicates_nothing() {
    // Paced, so that the last kill comes before the end even on a loaded
    // machine.
    let (_server, source, dest, batch) = setup(1500, 1500, "  messages_per_second: 800").await;

    for threshold in [1, 500, 1100] {
        let mut child = batch.spawn();
        let started = Instant::now();
        while dest_count(&dest, "alice").await < threshold
            && started.elapsed() < Duration::from_secs(60)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if threshold == 500 {
            // The running batch holds its advisory lock: a second run of
            // it is refused, and says where the lock is.
            let second = batch.run();
            assert_eq!(second.code, Some(5), "{second:?}");
            assert!(second.stderr.contains("advisory lock"), "{second:?}");
            assert_no_password(&second);
        }
        child.kill().expect("kill -9");
        child.wait().expect("reap");
    }
    assert!(
        dest_count(&dest, "alice").await < 1800,
        "the kills came before the end"
    );
    assert_success(&batch.run());
    assert_same(
        &snapshot(&dest, "alice").await,
        &snapshot(&source, "alice").await,
    );
}

#[test]
fn an_unreachable_postgres_state_is_a_clear_error_without_its_password() {
    let dir = tempfile::TempDir::new().unwrap();
    let url = format!("postgres://mail:{PASSWORD}@127.0.0.1:1/state");
    let out = mailshift()
        .args(["list", "--state", &url])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, Some(3), "{out:?}");
    assert_no_password(&out);
    assert!(
        out.stderr
            .contains("Cannot open the state database postgres://mail:***@127.0.0.1:1/state"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file made"
    );
}
