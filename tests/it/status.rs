//! Migration IDs, `status`, `list` and `cancel` through the binary, on
//! batches run against real Dovecot servers.

use std::time::{Duration, Instant};

use crate::cmd::mailshift;
use crate::mail::{
    Batch, account, assert_success, raw, servers, slashed, slashed_source, two_messages,
};

/// The migration ID of each account, from `list --format json`: ID,
/// source address and state.
pub fn migration_ids(batch: &Batch) -> Vec<(String, String, String)> {
    let listed = batch.list();
    listed[0]["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| {
            (
                a["migration_id"].as_str().unwrap().to_owned(),
                a["source"].as_str().unwrap().to_owned(),
                a["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_shows_a_migration_only_to_who_knows_its_source() {
    let (source, dest) = two_messages().await;
    let batch = Batch::new(&[account("alice", &source, &dest)], "");
    let run = batch.run();
    assert_success(&run);

    let ids = migration_ids(&batch);
    let (id, email, state) = &ids[0];
    assert_eq!(state, "completed");
    assert!(
        run.stdout.contains(id.as_str()),
        "run prints the migration ID"
    );
    assert_eq!(id.len(), 14, "{id}");
    assert!(!id.contains(['0', 'O', '1', 'I', 'L']), "{id}");

    let status = mailshift()
        .args([
            "status",
            id,
            "--source",
            "ALICE@example.test",
            "--format",
            "json",
            "--state",
        ])
        .arg(batch.state())
        .run()
        .success()
        .json();
    assert_eq!(status["migration_id"], id.as_str());
    assert_eq!(status["source"], email.as_str());
    assert_eq!(status["state"], "completed");
    assert_eq!(status["stages"][0]["kind"], "mail");
    assert_eq!(status["stages"][0]["copied"], 2);
    assert!(status["created_at"].is_string() && status["undo_until"].is_string());

    mailshift()
        .args(["status", id, "--source", "alice@example.test", "--state"])
        .arg(batch.state())
        .run()
        .success()
        .stdout_has("Migration ID   ")
        .stdout_has("Created        ")
        .stdout_has("Last change    ")
        .stdout_has("State          completed");

    // A wrong pair answers the same whether the ID exists or not.
    let wrong_source = mailshift()
        .args(["status", id, "--source", "mallory@example.test", "--state"])
        .arg(batch.state())
        .run()
        .code(4);
    let wrong_id = mailshift()
        .args([
            "status",
            "ZZZZ-ZZZZ-ZZZZ",
            "--source",
            "mallory@example.test",
            "--state",
        ])
        .arg(batch.state())
        .run()
        .code(4);
    assert_eq!(
        wrong_source.stderr.replace(id.as_str(), "ID"),
        wrong_id.stderr.replace("ZZZZ-ZZZZ-ZZZZ", "ID")
    );

    // The state database holds no password.
    let db = std::fs::read(batch.state()).unwrap();
    let wal = std::fs::read(batch.state().with_extension("db-wal")).unwrap_or_default();
    for secret in ["source-pw", "dest-pw"] {
        let found = [&db, &wal]
            .iter()
            .any(|bytes| bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
        assert!(!found, "{secret} is in the state database");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_queued_account_never_starts() {
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..3000)
        .map(|i| raw(&format!("Subject: m{i}"), &"y".repeat(3000)))
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    source
        .seed_bodies("bob", "INBOX", &[&raw("Subject: b", "b")])
        .await;
    let batch = Batch::new(
        &[
            account("alice", &source, &dest),
            account("bob", &source, &dest),
        ],
        "  concurrent_accounts: 1",
    );

    let mut child = batch.spawn();
    let started = Instant::now();
    let bob = loop {
        if batch.state().exists() {
            let ids = std::panic::catch_unwind(|| migration_ids(&batch)).unwrap_or_default();
            if ids.len() == 2 && ids[0].2 == "running" {
                break ids[1].clone();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the batch never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(bob.2, "queued");
    mailshift()
        .args(["cancel", &bob.0, "--source", &bob.1, "--state"])
        .arg(batch.state())
        .run()
        .success()
        .stdout_has("cancel requested");
    let status = child.wait().expect("run ends");
    assert_eq!(
        status.code(),
        Some(1),
        "a cancelled account is not a success"
    );

    let ids = migration_ids(&batch);
    assert_eq!(ids[0].2, "completed");
    assert_eq!(ids[1].2, "cancelled");
    let mut session = mailshift::protocols::imap::Session::connect(&dest.imap_config("bob"))
        .await
        .unwrap();
    assert_eq!(
        session.status("INBOX").await.unwrap().messages,
        0,
        "bob never started"
    );

    mailshift()
        .args(["cancel", &bob.0, "--source", &bob.1, "--state"])
        .arg(batch.state())
        .run()
        .success()
        .stdout_has("already finished");

    // A run leaves a cancelled account alone, and says so.
    let again = batch.run();
    assert!(
        again.stderr.contains("was cancelled: skipped"),
        "{}",
        again.stderr
    );
    assert_eq!(migration_ids(&batch)[1].2, "cancelled");

    // `resume` lifts the cancel; the next run migrates bob.
    mailshift()
        .args(["resume", &bob.0, "--source", &bob.1, "--state"])
        .arg(batch.state())
        .run()
        .success()
        .stdout_has("cancel lifted");
    assert_success(&batch.run());
    let ids = migration_ids(&batch);
    assert_eq!(ids[1].2, "completed");
    assert_eq!(session.status("INBOX").await.unwrap().messages, 1);
}

/// Regression: a cancel used to let the stage in progress copy everything.
/// It stops copying at the next checkpoint, keeps what was copied, and a
/// run after `resume` copies the rest, exactly.
#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_stops_a_running_copy_at_its_next_checkpoint() {
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..400)
        .map(|i| raw(&format!("Subject: m{i}"), &"y".repeat(2000)))
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    let batch = Batch::new(
        &[account("alice", &source, &dest)],
        "  messages_per_second: 40",
    );
    let mut session = mailshift::protocols::imap::Session::connect(&dest.imap_config("alice"))
        .await
        .unwrap();

    let mut child = batch.spawn();
    let started = Instant::now();
    let alice = loop {
        if session
            .status("INBOX")
            .await
            .map(|s| s.messages)
            .unwrap_or(0)
            >= 20
        {
            break migration_ids(&batch)[0].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the copy never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(alice.2, "running");
    mailshift()
        .args(["cancel", &alice.0, "--source", &alice.1, "--state"])
        .arg(batch.state())
        .run()
        .success()
        .stdout_has("cancel requested");
    let status = child.wait().expect("run ends");
    assert_eq!(
        status.code(),
        Some(1),
        "a cancelled account is not a success"
    );
    assert_eq!(migration_ids(&batch)[0].2, "cancelled");
    let copied = session.status("INBOX").await.unwrap().messages;
    assert!(copied < 400, "the cancel stopped nothing: {copied} copied");

    mailshift()
        .args(["resume", &alice.0, "--source", &alice.1, "--state"])
        .arg(batch.state())
        .run()
        .success();
    let rest = batch.run();
    assert_success(&rest);
    assert_eq!(session.status("INBOX").await.unwrap().messages, 400);
    assert!(
        rest.stdout.contains(&format!("copied {},", 400 - copied)),
        "{}",
        rest.stdout
    );
}

/// Regression: `list` and `status` in a folder without a state database
/// created an empty `mailshift.db` and printed nothing.
#[test]
fn reading_commands_without_a_state_database_say_where_they_looked() {
    let dir = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 4] = [
        &["list"],
        &["status", "--batch", "B-XXXX-XXXX"],
        &["status", "ABCD-EFGH-JKMN", "--source", "a@example.test"],
        &["report", "spring"],
    ];
    for command in commands {
        mailshift()
            .current_dir(dir.path())
            .args(command)
            .run()
            .code(4)
            .stderr_has("there is no state database at mailshift.db");
        assert!(
            !dir.path().join("mailshift.db").exists(),
            "{command:?} created a state database"
        );
    }
}

/// `report` takes the batch's name as well as its ID.
#[tokio::test(flavor = "multi_thread")]
async fn report_accepts_the_batch_name() {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies("alice", "INBOX", &[&raw("Subject: one", "1")])
        .await;
    let batch = Batch::new(&[account("alice", &source, &dest)], "");
    assert_success(&batch.run());
    let reports = tempfile::tempdir().unwrap();
    mailshift()
        .args(["report", "test", "--state"])
        .arg(batch.state())
        .arg("--reports")
        .arg(reports.path())
        .run()
        .success()
        .stdout_has("report.html");
    assert!(reports.path().join("test/report.json").exists());
}

/// Regression: an undone account was copied again by the next `run` of
/// the same manifest without a word.
#[tokio::test(flavor = "multi_thread")]
async fn an_undone_account_stays_undone_unless_redone() {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies("alice", "INBOX", &[&raw("Subject: one", "1")])
        .await;
    let batch = Batch::new(&[account("alice", &source, &dest)], "");
    assert_success(&batch.run());
    let (id, email, _) = migration_ids(&batch).remove(0);
    mailshift()
        .args(["undo", &id, "--source", &email, "--state"])
        .arg(batch.state())
        .arg("--reports")
        .arg(batch.reports())
        .run()
        .success();
    let inbox = || async {
        let mut session = mailshift::protocols::imap::Session::connect(&dest.imap_config("alice"))
            .await
            .unwrap();
        session.status("INBOX").await.unwrap().messages
    };
    assert_eq!(inbox().await, 0, "undone");

    let again = batch.run();
    assert_success(&again);
    assert!(
        again.stderr.contains("was undone: skipped")
            && again.stderr.contains(&format!("--redo {id}")),
        "{}",
        again.stderr
    );
    assert_eq!(inbox().await, 0, "an undone account stays undone");
    assert_eq!(migration_ids(&batch)[0].2, "undone");

    let redone = mailshift()
        .arg("run")
        .arg(batch.dir.path().join("batch.yaml"))
        .arg("--state")
        .arg(batch.state())
        .arg("--reports")
        .arg(batch.reports())
        .args(["--redo", &id])
        .run()
        .success();
    assert!(redone.stderr.contains("copied again"), "{}", redone.stderr);
    assert_eq!(inbox().await, 1, "--redo copies it again");
    assert_eq!(migration_ids(&batch)[0].2, "completed");
}

/// Regression: `undo` of an account of a CSV whose defaults (and the
/// destination's credential) are in a same-stem YAML said the YAML was not
/// valid and asked for --manifest.
#[tokio::test(flavor = "multi_thread")]
async fn undo_finds_the_credentials_of_a_csv_with_its_defaults_yaml() {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies("alice", "INBOX", &[&raw("Subject: one", "1")])
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("staff.yaml"),
        format!(
            "batch: staff\ndefaults:\n  source: {{kind: imap, host: 127.0.0.1, port: {}, tls: none, \
             password: source-pw}}\n  destination: {{kind: imap, host: 127.0.0.1, port: {}, \
             tls: none, password: dest-pw}}\n",
            source.imap_port(),
            dest.imap_port()
        ),
    )
    .unwrap();
    let csv = dir.path().join("staff.csv");
    std::fs::write(
        &csv,
        "source_email,source_user,destination_email,destination_user\n\
         alice@example.test,alice,alice@example.test,alice\n",
    )
    .unwrap();
    let state = dir.path().join("state.db");
    let reports = dir.path().join("reports");
    mailshift()
        .arg("run")
        .arg(&csv)
        .arg("--state")
        .arg(&state)
        .arg("--reports")
        .arg(&reports)
        .run()
        .success();
    let listed = mailshift()
        .args(["list", "--format", "json", "--state"])
        .arg(&state)
        .run()
        .success()
        .json();
    let id = listed[0]["accounts"][0]["migration_id"]
        .as_str()
        .unwrap()
        .to_owned();
    mailshift()
        .args(["undo", &id, "--source", "alice@example.test", "--state"])
        .arg(&state)
        .arg("--reports")
        .arg(&reports)
        .run()
        .success();
    let mut session = mailshift::protocols::imap::Session::connect(&dest.imap_config("alice"))
        .await
        .unwrap();
    assert_eq!(session.status("INBOX").await.unwrap().messages, 0);
}
