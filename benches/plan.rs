//! How long validating and planning a large batch takes: a generated
//! 10,000-row CSV with its defaults file, loaded, checked against the
//! schema and every rule, and planned. The target is under one second.
//!
//! Run with `cargo bench --bench plan`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

const ROWS: usize = 10_000;
const RUNS: usize = 5;

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    write_batch(dir.path(), ROWS);
    let yaml = dir.path().join("users.yaml");

    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let manifest = mailshift::manifest::load(&yaml).expect("the generated manifest loads");
        let checked = mailshift::plan::check(&manifest);
        let elapsed = started.elapsed();
        assert!(checked.is_valid(), "{}", checked.diagnostics);
        assert_eq!(checked.plan.accounts.len(), ROWS);
        times.push(elapsed);
    }
    times.sort();
    let median = times[RUNS / 2];
    println!(
        "validate + plan, {ROWS} CSV rows: median {} (best {}, worst {}) over {RUNS} runs; target < 1 s",
        ms(median),
        ms(times[0]),
        ms(times[RUNS - 1]),
    );
    if median >= Duration::from_secs(1) {
        println!("SLOWER THAN THE TARGET");
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// A defaults file and a CSV of `rows` accounts, shaped like a real export:
/// every account with its own passwords, options and folder rules.
fn write_batch(dir: &Path, rows: usize) {
    std::fs::write(dir.join("pw.txt"), "shared-destination-password\n").expect("write pw.txt");
    std::fs::write(
        dir.join("users.yaml"),
        "batch: bench
accounts_csv: users.csv
notify: [admin@example.test]
defaults:
  source: {host: imap.old.example.test, tls: starttls}
  destination: {host: imap.new.example.test, password_file: pw.txt}
  options: [mail]
  mail: {exclude: [Junk, Trash]}
",
    )
    .expect("write users.yaml");
    let mut csv = String::from(
        "source_email;source_user;source_password;destination_email;mail_include;mail_since;mail_max_message_size;notify\r\n",
    );
    for i in 0..rows {
        let _ = write!(
            csv,
            "user{i}@old.example.test;user{i};\"pw;{i}\";user{i}@new.example.test;INBOX|Sent|Archive/*;2020-01-01;25MB;manager{}@example.test\r\n",
            i % 50
        );
    }
    std::fs::write(dir.join("users.csv"), csv).expect("write users.csv");
}
