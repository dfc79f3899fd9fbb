//! The batch the mail benchmarks run: every user of a source Dovecot to
//! the same user of a destination Dovecot, over IMAP, under the limits
//! the `BENCH_*` variables set.

use std::fmt::Write as _;

use super::measure::env_or;

/// The batch's name, and so its reports folder.
pub const NAME: &str = "bench";
/// Every user's password at the source.
pub const SOURCE_PASSWORD: &str = "source-pw";
/// Every user's password at the destination.
pub const DEST_PASSWORD: &str = "dest-pw";

/// The manifest's `limits:`.
pub struct Limits {
    pub concurrent_accounts: usize,
    pub connections_per_account: usize,
    pub connections_per_host: usize,
}

impl Limits {
    /// `BENCH_CONCURRENT_ACCOUNTS` (8), `BENCH_CONNECTIONS_PER_ACCOUNT`
    /// (1) and `BENCH_CONNECTIONS_PER_HOST` (64; both servers are
    /// 127.0.0.1, so it caps their connections together).
    pub fn from_env() -> Limits {
        Limits {
            concurrent_accounts: env_or("BENCH_CONCURRENT_ACCOUNTS", 8usize).max(1),
            connections_per_account: env_or("BENCH_CONNECTIONS_PER_ACCOUNT", 1usize).max(1),
            connections_per_host: env_or("BENCH_CONNECTIONS_PER_HOST", 64usize).max(2),
        }
    }
}

/// The manifest of `users` between the servers on `source_port` and
/// `dest_port` of 127.0.0.1, every message copied (deleted ones too).
pub fn manifest(limits: &Limits, users: &[String], source_port: u16, dest_port: u16) -> String {
    let mut yaml = format!(
        "batch: {NAME}\n\
         limits:\n  concurrent_accounts: {}\n  connections_per_host: {}\n  connections_per_account: {}\n\
         defaults:\n  \
           source: {{kind: imap, host: 127.0.0.1, port: {source_port}, tls: none}}\n  \
           destination: {{kind: imap, host: 127.0.0.1, port: {dest_port}, tls: none}}\n  \
           options: [mail]\n  \
           mail: {{include_deleted: true}}\n\
         accounts:\n",
        limits.concurrent_accounts, limits.connections_per_host, limits.connections_per_account,
    );
    for user in users {
        let _ = write!(
            yaml,
            "  - source: {{email: {user}@example.test, user: {user}, password: {SOURCE_PASSWORD}}}\n    \
               destination: {{email: {user}@example.test, user: {user}, password: {DEST_PASSWORD}}}\n"
        );
    }
    yaml
}
