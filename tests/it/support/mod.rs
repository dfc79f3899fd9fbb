//! Shared test harness: real servers on loopback and small helpers.
//!
//! Not every test module uses every helper.
#![allow(dead_code)]

pub mod calendars;
pub mod courier;
pub mod cyrus;
pub mod dovecot;
pub mod gmail_view;
pub mod groupware;
pub mod machines;
pub mod mime;
pub mod postgres;
pub mod pst_writer;
pub mod radicale;
pub mod server;
pub mod smtp;
pub mod token_endpoint;
pub mod web;
pub mod xandikos;

pub use courier::Courier;
pub use cyrus::Cyrus;
pub use dovecot::{Dovecot, DovecotOptions};
pub use server::{Kind, MailServer};

/// Sends `tracing` output to the test's captured output when `RUST_LOG` is
/// set (`RUST_LOG=mailshift=trace cargo test ...`). Safe to call often.
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// A small RFC 5322 message with CRLF line ends.
pub fn message(subject: &str, body: &str) -> Vec<u8> {
    let id: String = subject
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!(
        "From: Alice <alice@example.com>\r\nTo: Bob <bob@example.com>\r\n\
         Subject: {subject}\r\nDate: Wed, 17 Jul 1996 02:44:25 -0700\r\n\
         Message-ID: <{id}@example.com>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// The migration ID of the first account of the first batch in a state
/// database (`mailshift list`).
pub fn first_migration_id(state: &std::path::Path) -> String {
    let listed = crate::cmd::mailshift()
        .args(["list", "--format", "json", "--state"])
        .arg(state)
        .run()
        .success()
        .json();
    listed[0]["accounts"][0]["migration_id"]
        .as_str()
        .expect("a migration ID")
        .to_owned()
}

/// `mailshift undo` of the first account of a state database, whose
/// source address is `source`.
pub fn undo_first(
    state: &std::path::Path,
    reports: &std::path::Path,
    source: &str,
) -> crate::cmd::Output {
    let id = first_migration_id(state);
    crate::cmd::mailshift()
        .args(["undo", &id, "--source", source, "--state"])
        .arg(state)
        .arg("--reports")
        .arg(reports)
        .run()
}
