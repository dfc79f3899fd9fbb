//! Shared test harness: real servers on loopback and small helpers.
//!
//! Not every test module uses every helper.
#![allow(dead_code)]

pub mod dovecot;
pub mod mime;
pub mod radicale;
pub mod smtp;

pub use dovecot::{Dovecot, DovecotOptions};

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
