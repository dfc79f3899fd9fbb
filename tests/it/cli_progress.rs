//! The progress line of `run` on a terminal (a pseudo-terminal from
//! util-linux's `script`), against real Dovecot servers.

use std::process::Command;

use crate::mail::{raw, servers, slashed, slashed_source};

const CLEAR: &str = "\r\x1b[2K";

/// Regression: the progress line showed no totals, no failures and no
/// time left, and log lines were glued onto it. It shows accounts n/N,
/// messages n/N (N from the folders' STATUS), failures and an ETA; each log
/// line clears it first.
#[tokio::test(flavor = "multi_thread")]
async fn the_progress_line_has_totals_and_log_lines_clear_it() {
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..2000)
        .map(|i| raw(&format!("Subject: m{i}"), &"w".repeat(2000)))
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    source
        .seed_bodies("bob", "INBOX", &[&raw("Subject: b", "b")])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let endpoint = |user: &str, port: u16, password: &str| {
        format!(
            "{{kind: imap, host: 127.0.0.1, port: {port}, tls: none, \
             email: {user}@example.test, user: {user}, password: {password}}}"
        )
    };
    let mut manifest = "batch: shown\nlimits: {concurrent_accounts: 1}\naccounts:\n".to_owned();
    for user in ["alice", "bob"] {
        manifest.push_str(&format!(
            "  - source: {}\n    destination: {}\n",
            endpoint(user, source.imap_port(), "source-pw"),
            endpoint(user, dest.imap_port(), "dest-pw"),
        ));
    }
    std::fs::write(dir.path().join("shown.yaml"), manifest).unwrap();
    let line = format!(
        "{} run shown.yaml --state state.db --reports reports",
        env!("CARGO_BIN_EXE_mailshift")
    );
    // Bob's session opens (a debug line) while the line is drawn.
    let out = Command::new("script")
        .args(["-qfec", &line, "/dev/null"])
        .current_dir(dir.path())
        .env("MAILSHIFT_LOG", "mailshift=debug")
        .output()
        .expect("util-linux script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("accounts 2/2  messages 2001/2001  failures 0"),
        "{text}"
    );
    assert!(text.contains("ETA "), "{text}");
    let mut cleared = 0;
    for row in text
        .split('\n')
        .filter(|r| r.contains("IMAP session ready"))
    {
        let visible = row.rsplit(CLEAR).next().unwrap();
        assert!(!visible.contains("msg/s"), "a log line glued on: {row:?}");
        if row.contains("msg/s") {
            cleared += 1;
        }
    }
    assert!(
        cleared > 0,
        "no log line came while the line was drawn:\n{text}"
    );
}
