//! `mailshift undo` through the binary: exactly what the migration created
//! goes, everything else stays.

use mailshift::protocols::imap::Session;

use crate::cmd::mailshift;
use crate::mail::{
    Batch, account, assert_success, raw, servers, slashed, slashed_source, snapshot,
};

fn undo_file(batch: &Batch) -> std::path::PathBuf {
    let dir = batch.reports().join("test").join("undo");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.remove(0)
}

fn migration_id(batch: &Batch) -> String {
    let listed = batch.list();
    listed[0]["accounts"][0]["migration_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn undo_removes_exactly_what_the_migration_created() {
    let (source, dest) = servers(slashed_source(), slashed());
    let before = raw("Subject: already there", "mine");
    dest.seed_bodies("alice", "INBOX", &[&before]).await;
    source
        .seed_bodies(
            "alice",
            "INBOX",
            &[&raw("Subject: a", "a"), &raw("Subject: b", "b")],
        )
        .await;
    source
        .seed_bodies("alice", "Projects/2020", &[&raw("Subject: p", "p")])
        .await;
    let batch = Batch::new(&[account("alice", &source, &dest)], "");
    assert_success(&batch.run());
    let untouched = snapshot(&dest, "alice").await;
    assert_eq!(untouched["INBOX"].len(), 3);

    // Mail that arrives after the migration stays.
    let late = raw("Subject: arrived later", "late");
    dest.seed_bodies("alice", "INBOX", &[&late]).await;

    let manifest_text = std::fs::read_to_string(undo_file(&batch)).unwrap();
    assert!(!manifest_text.contains("dest-pw") && !manifest_text.contains("source-pw"));
    assert!(manifest_text.contains("\"inline\""), "{manifest_text}");

    let id = migration_id(&batch);
    mailshift()
        .args(["undo", &id, "--source", "alice@example.test", "--state"])
        .arg(batch.state())
        .run()
        .success()
        .stdout_has("3 messages removed")
        .stdout_has("2 folders removed");

    let after = snapshot(&dest, "alice").await;
    let hash = |m: &[u8]| blake3::hash(m).to_hex().to_string();
    let inbox: Vec<&String> = after["INBOX"].iter().map(|(h, _, _)| h).collect();
    assert_eq!(inbox.len(), 2, "{after:?}");
    assert!(inbox.contains(&&hash(&before)) && inbox.contains(&&hash(&late)));
    assert!(
        !after.contains_key("Projects") && !after.contains_key("Projects/2020"),
        "{after:?}"
    );

    let status = mailshift()
        .args([
            "status",
            &id,
            "--source",
            "alice@example.test",
            "--format",
            "json",
            "--state",
        ])
        .arg(batch.state())
        .run()
        .success()
        .json();
    assert_eq!(status["state"], "undone");
    mailshift()
        .args(["undo", &id, "--source", "alice@example.test", "--state"])
        .arg(batch.state())
        .run()
        .success()
        .stdout_has("already undone");

    // An undone account stays undone on the next run of the manifest...
    assert_success(&batch.run());
    assert_eq!(snapshot(&dest, "alice").await["INBOX"].len(), 2);
    // ...unless it is asked for again: then it is copied again.
    mailshift()
        .arg("run")
        .arg(batch.dir.path().join("batch.yaml"))
        .arg("--state")
        .arg(batch.state())
        .arg("--reports")
        .arg(batch.reports())
        .args(["--redo", &id])
        .run()
        .success();
    assert_eq!(snapshot(&dest, "alice").await["INBOX"].len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn undo_works_from_the_undo_manifest_alone() {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies("alice", "Archive", &[&raw("Subject: a", "a")])
        .await;
    let mut a = account("alice", &source, &dest);
    a.dest_password = "dest-pw";
    let batch = Batch::new(&[a], "");
    assert_success(&batch.run());
    let file = undo_file(&batch);
    std::fs::remove_file(batch.state()).unwrap();

    mailshift()
        .args(["undo", "--from"])
        .arg(&file)
        .run()
        .code(2)
        .stderr_has("--password-env");
    mailshift()
        .args(["undo", "--password-env", "DEST_PW", "--from"])
        .arg(&file)
        .env("DEST_PW", "dest-pw")
        .run()
        .success()
        .stdout_has("1 messages removed");
    let mut session = Session::connect(&dest.imap_config("alice")).await.unwrap();
    let names: Vec<String> = session
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert!(!names.contains(&"Archive".to_owned()), "{names:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn undo_is_refused_once_the_window_has_passed() {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies("alice", "INBOX", &[&raw("Subject: a", "a")])
        .await;
    let batch = Batch::new(&[account("alice", &source, &dest)], "undo_window_hours: 0");
    assert_success(&batch.run());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let id = migration_id(&batch);
    mailshift()
        .args(["undo", &id, "--source", "alice@example.test", "--state"])
        .arg(batch.state())
        .run()
        .code(2)
        .stderr_has("no longer possible");
    assert_eq!(
        snapshot(&dest, "alice").await["INBOX"].len(),
        1,
        "nothing was removed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn purge_forgets_a_migration_and_refuses_undo_afterwards() {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies("alice", "INBOX", &[&raw("Subject: a", "a")])
        .await;
    source
        .seed_bodies("bob", "INBOX", &[&raw("Subject: b", "b")])
        .await;
    let batch = Batch::new(
        &[
            account("alice", &source, &dest),
            account("bob", &source, &dest),
        ],
        "",
    );
    assert_success(&batch.run());
    let listed = batch.list();
    let alice = listed[0]["accounts"][0]["migration_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let undo_file = batch
        .reports()
        .join("test/undo")
        .join(format!("{alice}.json"));
    assert!(undo_file.exists());

    // Without a terminal and without --yes, nothing happens.
    let purge = |extra: &[&str]| {
        mailshift()
            .args(["purge", &alice, "--source", "alice@example.test", "--state"])
            .arg(batch.state())
            .arg("--reports")
            .arg(batch.reports())
            .args(extra)
            .run()
    };
    purge(&[]).code(2).stdout_has("undo is no longer possible");
    assert!(undo_file.exists());

    purge(&["--yes"]).success().stdout_has("purged 1 migration");
    assert!(!undo_file.exists());
    mailshift()
        .args([
            "status",
            &alice,
            "--source",
            "alice@example.test",
            "--state",
        ])
        .arg(batch.state())
        .run()
        .code(4);
    mailshift()
        .args(["undo", &alice, "--source", "alice@example.test", "--state"])
        .arg(batch.state())
        .run()
        .code(4);
    let report = std::fs::read_to_string(batch.reports().join("test/report.json")).unwrap();
    assert!(!report.contains(&alice) && report.contains("bob@example.test"));

    // Purging the whole batch removes its reports too.
    let batch_id = listed[0]["batch_id"].as_str().unwrap().to_owned();
    mailshift()
        .args(["purge", "--batch", &batch_id, "--yes", "--state"])
        .arg(batch.state())
        .arg("--reports")
        .arg(batch.reports())
        .run()
        .success();
    assert!(!batch.reports().join("test").exists());
    let listed = batch.list();
    assert_eq!(listed, serde_json::json!([]));
}

/// Regression: an undone account lost its history from the report. It
/// keeps what the migration had copied and what undo removed, in
/// report.json and on the HTML page.
#[tokio::test(flavor = "multi_thread")]
async fn an_undone_account_keeps_its_history_in_the_report() {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies(
            "alice",
            "Projects",
            &[&raw("Subject: a", "a"), &raw("Subject: b", "b")],
        )
        .await;
    let batch = Batch::new(&[account("alice", &source, &dest)], "");
    assert_success(&batch.run());
    let id = migration_id(&batch);
    mailshift()
        .args(["undo", &id, "--source", "alice@example.test", "--state"])
        .arg(batch.state())
        .arg("--reports")
        .arg(batch.reports())
        .run()
        .success();

    let dir = batch.reports().join("test");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let account = &json["accounts"][0];
    assert_eq!(account["state"], "undone");
    let history = account["history"].as_array().expect("a history");
    assert_eq!(history.len(), 1, "{account}");
    assert_eq!(history[0]["copied"]["mail"], 2, "{account}");
    let removed = history[0]["removed"][0].as_str().unwrap();
    assert!(
        removed.starts_with("2 messages removed from alice@example.test, 1 folders removed"),
        "{removed}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("had copied: mail 2"), "{html}");
    assert!(html.contains(removed), "{html}");
}
