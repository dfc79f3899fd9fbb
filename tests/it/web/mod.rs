//! `mailshift serve`: the end user's page in a real browser (headless
//! Chromium over WebDriver) following a real migration between two
//! private Dovecots, Cancel and Undo (`browser`); over plain HTTP, what the
//! server refuses: a wrong ID/address pair, too many lookups, a POST
//! without its CSRF token, the admin pages without login (`http`); the admin password and a
//! trusted proxy's header of the daemon configuration (`login`); a first
//! pass's live total, rate and time left (`progress`); an undo run in
//! the background and followed to its outcome, alone or for a selection
//! (`undo`); the pages over HTTPS (`tls`); a
//! batch started by uploading its manifest to `watch --serve` (`upload`);
//! a PST file uploaded with its destination (`pst`); and a failed account
//! retried through the daemon, or refused without it (`retry`).

mod browser;
mod http;
mod login;
mod progress;
mod pst;
mod retry;
mod tls;
mod undo;
mod upload;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::mail::{Batch, account, assert_success, two_messages};
use crate::support::web::{Reply, Serve};

/// The migration ID and source address of the batch's first account,
/// once the state database has it.
pub async fn first_account(batch: &Batch) -> (String, String) {
    let started = Instant::now();
    loop {
        if batch.state().exists() {
            let listed = batch.list();
            if let Some(a) = listed[0]["accounts"].get(0) {
                return (
                    a["migration_id"].as_str().unwrap().to_owned(),
                    a["source"].as_str().unwrap().to_owned(),
                );
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the batch never registered its account"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits up to a minute for `check` to hold.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(60), "never: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The Dovecot destination's INBOX message count.
pub async fn dest_inbox(dest: &crate::support::Dovecot) -> u32 {
    let mut session = mailshift::protocols::imap::Session::connect(&dest.imap_config("alice"))
        .await
        .unwrap();
    let n = session.status("INBOX").await.unwrap().messages;
    session.logout().await.ok();
    n
}

/// `mailshift watch INBOX --serve` on a free port, its state database,
/// reports and area in `dir`, with `more` of its arguments.
pub fn watch_serve(dir: &Path, inbox: &Path, more: &[&str]) -> Serve {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mailshift"));
    command
        .arg("watch")
        .arg(inbox)
        .arg("--state")
        .arg(dir.join("state.db"))
        .arg("--reports")
        .arg(dir.join("reports"))
        .arg("--area")
        .arg(dir.join("area"))
        .args(["--settle-seconds", "1"])
        .args(more)
        .args(["--serve", "127.0.0.1:0"]);
    Serve::spawn(command)
}

/// A batch of one account (alice, two messages) run to completion; its
/// servers stay up while the batch is used.
pub async fn completed() -> (
    crate::support::Dovecot,
    crate::support::Dovecot,
    Batch,
    String,
    String,
) {
    let (source, dest) = two_messages().await;
    let batch = Batch::new(&[account("alice", &source, &dest)], "");
    assert_success(&batch.run());
    let (id, email) = first_account(&batch).await;
    (source, dest, batch, id, email)
}

pub fn cookie_header(reply: &Reply, name: &str) -> String {
    reply
        .cookie(name)
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", reply.headers))
}

/// The CSRF token a page carries in its forms.
pub fn form_token(page: &str) -> String {
    let tag = r#"<meta name="csrf-token" content=""#;
    let at = page.find(tag).expect("a CSRF token") + tag.len();
    page[at..at + 32].to_owned()
}
