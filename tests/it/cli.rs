//! The binary: exit codes, text and JSON output, help, and secrets.

use crate::cmd::mailshift;

#[test]
fn validate_accepts_every_example() {
    let out = mailshift()
        .args([
            "validate",
            "examples/batch.yaml",
            "examples/users.yaml",
            "examples/users.csv",
        ])
        .args([
            "examples/imapsync.txt",
            "examples/omm.csv",
            "examples/imports.yaml",
        ])
        .run()
        .success()
        .stdout_has("examples/imports.yaml: valid, 2 accounts")
        .stdout_has("examples/batch.yaml: valid, 2 accounts")
        .stdout_has("examples/users.csv: valid, 3 accounts")
        .stdout_has("examples/omm.csv: valid, 2 accounts");
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn validate_reports_errors_with_exit_code_2() {
    mailshift()
        .args(["validate", "tests/golden/broken.yaml"])
        .run()
        .code(2)
        .stdout_has("tests/golden/broken.yaml:21:7: error: accounts[0].source.pasword: unknown field `pasword`; did you mean `password`?")
        .stdout_has("tests/golden/broken.yaml: invalid (")
        .never_shows("hunter2-secret")
        .never_shows("123456789");
}

#[test]
fn one_invalid_file_makes_the_whole_run_invalid() {
    mailshift()
        .args(["validate", "examples/batch.yaml", "tests/golden/broken-rows.csv"])
        .run()
        .code(2)
        .stdout_has("examples/batch.yaml: valid")
        .stdout_has("tests/golden/broken-rows.csv: row 1, column source_pasword: error: unknown column `source_pasword`; did you mean `source_password`?");
}

#[test]
fn validate_json_is_one_document_with_positions() {
    let out = mailshift()
        .args([
            "validate",
            "--format",
            "json",
            "tests/golden/broken.yaml",
            "examples/omm.csv",
        ])
        .run()
        .code(2)
        .never_shows("hunter2-secret");
    let doc = out.json();
    assert_eq!(doc["valid"], false);
    let broken = &doc["files"][0];
    assert_eq!(broken["valid"], false);
    let first = &broken["diagnostics"][0];
    assert_eq!(first["severity"], "error");
    assert_eq!(first["file"], "tests/golden/broken.yaml");
    assert!(first["line"].as_u64().unwrap() > 0);
    assert!(first["column"].as_u64().unwrap() > 0);
    assert!(
        broken["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["hint"] == "did you mean `password`?")
    );
    assert_eq!(doc["files"][1]["valid"], true);
    assert_eq!(doc["files"][1]["accounts"], 2);
}

#[test]
fn plan_shows_resolved_accounts_without_secrets() {
    mailshift()
        .args(["plan", "examples/batch.yaml"])
        .run()
        .success()
        .stdout_has("batch demo (from examples/batch.yaml)")
        .stdout_has("account examples/batch.yaml:40: alice@example.test → alice@example.test")
        .stdout_has("  source       imap 127.0.0.1:10143 (no TLS), user alice@example.test, password written in the manifest")
        .stdout_has("  stages       mail")
        .stdout_has("  mail         skip Junk, Trash; Sent → Sent Items")
        .stdout_has("2 accounts planned, 0 rejected")
        .never_shows("alice-source-demo")
        .never_shows("bob-destination-demo");
}

#[test]
fn plan_json_has_endpoints_after_defaults() {
    let out = mailshift()
        .args(["plan", "--format", "json", "examples/users.csv"])
        .run()
        .success()
        .never_shows("carol;source;demo")
        .never_shows("alice-source-demo");
    let doc = out.json();
    assert_eq!(doc["valid"], true);
    let carol = &doc["plan"]["accounts"][2];
    assert_eq!(carol["source"]["email"], "carol@example.test");
    assert_eq!(carol["source"]["server"]["port"], 10143);
    assert_eq!(carol["source"]["server"]["tls"], "none");
    assert_eq!(carol["source"]["credential"]["password"], "<redacted>");
    assert_eq!(carol["stages"], serde_json::json!(["mail"]));
    assert_eq!(doc["plan"]["undo_window"], 48);
}

#[test]
fn plan_lists_rejected_accounts_and_exits_2() {
    let out = mailshift()
        .args(["plan", "--format", "json", "tests/golden/broken.yaml"])
        .run()
        .code(2)
        .never_shows("hunter2-secret");
    let doc = out.json();
    assert_eq!(doc["valid"], false);
    let rejected = doc["rejected"].as_array().unwrap();
    assert!(!rejected.is_empty());
    assert!(rejected.iter().any(|r| r["source"] == "dave@example.test"));

    mailshift()
        .args(["plan", "tests/golden/broken.yaml"])
        .run()
        .code(2)
        .stdout_has("rejected tests/golden/broken.yaml:")
        .stdout_has("planned,");
}

#[test]
fn unreadable_files_are_invalid_input() {
    mailshift()
        .args(["validate", "no/such/file.yaml"])
        .run()
        .code(2)
        .stdout_has("no/such/file.yaml: error: cannot read this file: no such file");
    let out = mailshift()
        .args(["plan", "--format", "json", "no/such/file.yaml"])
        .run()
        .code(2);
    assert_eq!(out.json()["plan"], serde_json::Value::Null);
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    mailshift().run().code(2).stderr_has("Usage:");
    mailshift()
        .args(["validate"])
        .run()
        .code(2)
        .stderr_has("FILE");
    mailshift().args(["frobnicate"]).run().code(2);
    mailshift()
        .args(["plan", "--format", "yaml", "x"])
        .run()
        .code(2);
    mailshift()
        .arg("--help")
        .run()
        .success()
        .stdout_has("validate")
        .stdout_has("plan")
        .stdout_has("2  invalid manifest or invalid command line");
    mailshift()
        .args(["validate", "--help"])
        .run()
        .success()
        .stdout_has("--format <FORMAT>")
        .stdout_has("file: row N");
    mailshift()
        .arg("--version")
        .run()
        .success()
        .stdout_has("mailshift ");
}

#[test]
fn logs_go_to_stderr_and_data_to_stdout() {
    let out = mailshift()
        .args(["validate", "--format", "json", "examples/batch.yaml"])
        .env("MAILSHIFT_LOG", "debug")
        .run()
        .success()
        .stderr_has("validating examples/batch.yaml");
    assert_eq!(out.json()["valid"], true);
}

#[test]
fn relative_paths_follow_the_manifest_not_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("batch/secrets")).unwrap();
    std::fs::write(dir.path().join("batch/secrets/pw.txt"), "pw\n").unwrap();
    std::fs::write(
        dir.path().join("batch/m.yaml"),
        "accounts:\n  - source: {host: a.example.test, email: a@example.test, password_file: secrets/pw.txt}\n    destination: {host: b.example.test, email: a@example.test, password_file: secrets/pw.txt}\n",
    )
    .unwrap();
    mailshift()
        .current_dir(dir.path())
        .args(["validate", "batch/m.yaml"])
        .run()
        .success()
        .stdout_has("batch/m.yaml: valid, 1 account");
}

/// Regression: a CSV with a quote never closed made `validate`, `plan`
/// and `plan --format json` quote the swallowed text, every password of
/// the rows below it.
#[test]
fn an_unclosed_quote_never_prints_the_rows_it_swallows() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = "source_email,source_host,source_password,destination_email,destination_host,destination_password\n\
                    a@old.example,\"imap.old.example,pw-src-a,a@new.example,imap.new.example,pw-dst-a\n"
        .to_owned();
    for n in 0..5 {
        text.push_str(&format!(
            "u{n}@old.example,imap.old.example,pw-src-{n},u{n}@new.example,imap.new.example,pw-dst-{n}\n"
        ));
    }
    let path = dir.path().join("staff.csv");
    std::fs::write(&path, &text).unwrap();
    // A multi-row cell whose quote closes is refused as well.
    let closed = dir.path().join("closed.csv");
    std::fs::write(
        &closed,
        "source_email,source_password,destination_email\n\"a@old.example\nhidden-pw\",pw-x,a@new.example\n",
    )
    .unwrap();
    let commands: [&[&str]; 4] = [
        &["validate"],
        &["validate", "--format", "json"],
        &["plan"],
        &["plan", "--format", "json"],
    ];
    for command in commands {
        let out = mailshift()
            .args(command)
            .arg(&path)
            .run()
            .code(2)
            .never_shows("pw-src")
            .never_shows("pw-dst")
            .never_shows("u1@old.example");
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            all.contains("a quote opened at row 2 is never closed"),
            "{command:?}: {all}"
        );
        let out = mailshift()
            .args(command)
            .arg(&closed)
            .run()
            .code(2)
            .never_shows("hidden-pw")
            .never_shows("pw-x");
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            all.contains("a quote opened at row 2 closes at row 3"),
            "{command:?}: {all}"
        );
    }
}

/// Regression: columns a spreadsheet carries for itself (`Full Name`,
/// `Department`) made the whole file invalid. They are ignored with one
/// warning naming them; `--strict` makes it an error. A near miss of a
/// column of ours stays an error, since ignoring it would drop a value.
#[test]
fn unknown_columns_are_one_warning_and_strict_makes_them_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("staff.csv");
    std::fs::write(
        &path,
        "Full Name,source_email,source_host,source_password,destination_email,destination_host,destination_password,Department\n\
         Ann Example,ann@old.example,imap.old.example,pw-a,ann@new.example,imap.new.example,pw-b,Sales\n\
         Bob Example,bob@old.example,imap.old.example,pw-c,bob@new.example,imap.new.example,pw-d,Support\n",
    )
    .unwrap();
    let out = mailshift().arg("validate").arg(&path).run().success();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(all.matches("warning:").count(), 1, "{all}");
    assert!(
        all.contains("columns mailshift does not know are ignored: `Full Name`, `Department`"),
        "{all}"
    );
    for command in [&["validate"][..], &["plan"], &["run"]] {
        let out = mailshift()
            .current_dir(dir.path())
            .args(command)
            .arg("--strict")
            .arg(&path)
            .run()
            .code(2);
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            all.contains("`Full Name`, `Department`"),
            "{command:?}: {all}"
        );
    }
    assert!(
        !dir.path().join("mailshift.db").exists(),
        "run --strict ran nothing"
    );
}

/// `watch` has a flag for every key of its configuration (but the `smtp`
/// and `web` sections), named alike: `settle_seconds` is `--settle-seconds`.
#[test]
fn watch_flags_match_its_configuration_keys() {
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mailshift-daemon.yaml"),
    )
    .unwrap();
    let keys: Vec<&str> = example
        .lines()
        .map(|l| l.trim_start_matches('#'))
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k))
        .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    assert!(keys.len() >= 9, "{keys:?}");
    let help = mailshift().args(["watch", "--help"]).run().success().stdout;
    for key in keys.iter().filter(|k| !["smtp", "web"].contains(*k)) {
        let flag = format!("--{}", key.replace('_', "-"));
        assert!(help.contains(&flag), "no {flag} for `{key}`:\n{help}");
    }
}

/// Regression: every command's `--help` listed all six exit codes. Each
/// lists the ones it can give.
#[test]
fn each_commands_help_lists_only_its_exit_codes() {
    let codes = |command: &str| -> Vec<u8> {
        let help = mailshift().args([command, "--help"]).run().success().stdout;
        let section = help
            .split_once("Exit codes:\n")
            .unwrap_or_else(|| panic!("{command}: no exit codes\n{help}"))
            .1;
        section
            .lines()
            .take_while(|l| !l.is_empty())
            .map(|l| l.trim().split(' ').next().unwrap().parse().unwrap())
            .collect()
    };
    for (command, expected) in [
        ("validate", &[0, 2, 3][..]),
        ("plan", &[0, 1, 2, 3]),
        ("run", &[0, 1, 2, 3, 5]),
        ("status", &[0, 2, 3, 4]),
        ("list", &[0, 2, 3, 4]),
        ("cancel", &[0, 2, 3, 4]),
        ("resume", &[0, 2, 3, 4]),
        ("report", &[0, 2, 3, 4]),
        ("purge", &[0, 2, 3, 4]),
        ("undo", &[0, 1, 2, 3, 4]),
        ("watch", &[0, 2, 3]),
        ("serve", &[0, 2, 3, 4]),
    ] {
        assert_eq!(codes(command), expected, "{command}");
    }
}
