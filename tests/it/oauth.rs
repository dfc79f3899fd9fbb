//! OAuth2 service accounts through the binary: a batch between two
//! Dovecots whose `oauth2` passdbs validate the bearer JWTs, the tokens
//! granted by the test support's token endpoint to a Google service
//! account (domain-wide delegation, one token per mailbox) and a
//! Microsoft application (client credentials, one token for every
//! mailbox). No user's password is given.
//!
//! Dovecot stands in for Gmail and Exchange Online: the source checks
//! that a token's `sub` is the mailbox, the destination that it belongs
//! to the mailbox's tenant (`username_format = %d`), as an app-only token
//! opens every mailbox of its tenant.

use std::path::{Path, PathBuf};

use crate::cmd::mailshift;
use crate::mail::raw;
use crate::support::dovecot::{Dovecot, DovecotOptions, OAuth2Passdb};
use crate::support::token_endpoint::{
    AppCredential, GoogleClient, KeyPair, MicrosoftClient, Setup, TokenEndpoint, certificate,
    rsa_key,
};

const TENANT: &str = "example.test";
const CLIENT_ID: &str = "6f1c0de2-migration-app";
const CLIENT_SECRET: &str = "app-Client-Secret-7Qx";
const SERVICE_ACCOUNT: &str = "migrator@project.iam.gserviceaccount.test";
/// How every assertion and token here begins (`{"typ":"JWT","alg":"RS256"`).
const JWT_HEADER: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiI";

fn names(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("staff{i:02}@{TENANT}"))
        .collect()
}

/// Dovecot users whose passwords nobody gives mailshift.
fn users(names: &[String], side: &str) -> &'static [(&'static str, &'static str)] {
    let users: Vec<(&'static str, &'static str)> = names
        .iter()
        .map(|n| {
            let user: &'static str = Box::leak(n.clone().into_boxed_str());
            let password: &'static str = Box::leak(format!("{n}-{side}-own").into_boxed_str());
            (user, password)
        })
        .collect();
    Box::leak(users.into_boxed_slice())
}

/// A Dovecot taking the endpoint's tokens: `username_format` `%u` checks
/// the token's mailbox, `%d` its tenant.
fn server(
    users: &'static [(&'static str, &'static str)],
    endpoint: &TokenEndpoint,
    username_format: &'static str,
) -> Dovecot {
    let public_key: &'static str = Box::leak(endpoint.issuer_public_key().to_owned().into());
    Dovecot::start(DovecotOptions {
        users,
        auth_mechanisms: "plain login xoauth2 oauthbearer",
        oauth2: Some(OAuth2Passdb {
            public_key,
            username_attribute: "sub",
            username_format,
        }),
        ..DovecotOptions::default()
    })
}

/// A Google key file as the Cloud console gives it, for `key`.
fn key_file(dir: &Path, key: &KeyPair, token_uri: &str) -> PathBuf {
    let path = dir.join("sa.json");
    let json = serde_json::json!({
        "type": "service_account",
        "project_id": "project",
        "private_key_id": "0a1b2c3d",
        "private_key": key.private,
        "client_email": SERVICE_ACCOUNT,
        "client_id": "1234567890",
        "token_uri": token_uri,
    });
    std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    path
}

/// `staff.yaml` (servers, service accounts, limits) and `staff.csv`
/// (addresses only) in `dir`.
fn manifest(dir: &Path, names: &[String], defaults: &str) -> PathBuf {
    std::fs::write(dir.join("staff.yaml"), format!("batch: staff\n{defaults}")).unwrap();
    let mut csv = String::from("source_email,destination_email\n");
    for n in names {
        csv.push_str(&format!("{n},{n}\n"));
    }
    let path = dir.join("staff.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

fn run(dir: &Path, manifest: &Path) -> crate::cmd::Cmd {
    mailshift()
        .arg("run")
        .arg(manifest)
        .arg("--state")
        .arg(dir.join("state.db"))
        .arg("--reports")
        .arg(dir.join("reports"))
        .env("APP_SECRET", CLIENT_SECRET)
}

async fn seed(source: &Dovecot, names: &[String], count: usize) {
    for n in names {
        let bodies: Vec<Vec<u8>> = (0..count)
            .map(|i| {
                raw(
                    &format!("Subject: {n} {i}\r\nMessage-ID: <{n}.{i}@x>"),
                    "body",
                )
            })
            .collect();
        source.seed_bodies(n, "INBOX", &bodies).await;
    }
}

/// Whether any of `secrets` is in a file under `dir` (state, reports,
/// undo manifests).
fn files_holding(dir: &Path, secrets: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy();
        // The test's own key material.
        if name.ends_with(".key")
            || name.ends_with(".crt")
            || name == "sa.json"
            || name == "app.pem"
        {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_default();
        for secret in secrets {
            if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                found.push(format!("{} holds {secret:.20}…", path.display()));
            }
        }
    }
    found
}

/// A line from the middle of a PEM private key: what would show if the
/// key leaked.
fn key_line(pem: &str) -> String {
    pem.lines().nth(5).unwrap().to_owned()
}

/// Two Dovecots taking the endpoint's tokens, mailboxes seeded at the
/// source, and a Google service account (source) and a Microsoft
/// application (destination) that the endpoint knows.
struct Scene {
    dir: tempfile::TempDir,
    google_key: KeyPair,
    endpoint: TokenEndpoint,
    source: Dovecot,
    dest: Dovecot,
    names: Vec<String>,
}

/// How a scene's tokens live and the application proves itself.
struct Tokens {
    /// Seconds to a token's `exp`.
    lifetime: u64,
    /// The `expires_in` announced.
    announced: u64,
    /// A certificate (`certificate_file: app.pem`) instead of the client
    /// secret from `$APP_SECRET`.
    certificate: bool,
    /// Token requests answered 503 before the endpoint answers.
    unavailable: usize,
}

impl Scene {
    async fn start(accounts: usize, messages: usize, tokens: Tokens) -> Scene {
        let dir = tempfile::tempdir().unwrap();
        let google_key = rsa_key(dir.path(), "google");
        let credential = if tokens.certificate {
            let app = certificate(dir.path(), "app");
            std::fs::write(dir.path().join("app.pem"), &app.pem).unwrap();
            AppCredential::Certificate {
                public_key: app.public,
                x5t: app.x5t,
            }
        } else {
            AppCredential::Secret(CLIENT_SECRET.into())
        };
        let endpoint = TokenEndpoint::start(
            dir.path(),
            Setup {
                google: Some(GoogleClient {
                    client_email: SERVICE_ACCOUNT.into(),
                    public_key: google_key.public.clone(),
                }),
                microsoft: Some(MicrosoftClient {
                    tenant: TENANT.into(),
                    client_id: CLIENT_ID.into(),
                    credential,
                }),
                lifetime: tokens.lifetime,
                announced: tokens.announced,
                unavailable: tokens.unavailable,
            },
        );
        let names = names(accounts);
        let source = server(users(&names, "src"), &endpoint, "%u");
        let dest = server(users(&names, "dst"), &endpoint, "%d");
        seed(&source, &names, messages).await;
        key_file(dir.path(), &google_key, &endpoint.google_url());
        Scene {
            dir,
            google_key,
            endpoint,
            source,
            dest,
            names,
        }
    }

    /// The manifest: an IMAP or POP3 (`source_kind`) source, `limits`,
    /// and the application's credential in the manifest's words (`app`).
    fn manifest(&self, source_kind: &str, limits: &str, app: &str) -> PathBuf {
        let source_port = match source_kind {
            "pop3" => self.source.pop3_port(),
            _ => self.source.imap_port(),
        };
        let defaults = format!(
            "limits: {{{limits}}}\n\
             defaults:\n  \
             source: {{kind: {source_kind}, host: 127.0.0.1, port: {source_port}, tls: none, \
             oauth2: {{service: google, key_file: sa.json}}}}\n  \
             destination: {{kind: imap, host: 127.0.0.1, port: {}, tls: none, \
             oauth2: {{service: microsoft, tenant: {TENANT}, client_id: {CLIENT_ID}, \
             {app}, token_url: '{}'}}}}\n",
            self.dest.imap_port(),
            self.endpoint.microsoft_url(TENANT),
        );
        manifest(self.dir.path(), &self.names, &defaults)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Application tokens granted from the `from`th grant on.
    fn app_tokens(&self, from: usize) -> usize {
        let granted = self.endpoint.granted();
        granted[from..]
            .iter()
            .filter(|s| s.starts_with(CLIENT_ID))
            .count()
    }

    async fn assert_copied(&self) {
        for n in &self.names {
            assert_eq!(
                self.dest.snapshot(n).await,
                self.source.snapshot(n).await,
                "{n}'s mailbox at the destination"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_company_batch_runs_on_service_account_tokens_that_expire_mid_run() {
    // Tokens live two seconds; the run, paced to 10 messages a second,
    // takes six.
    let tokens = Tokens {
        lifetime: 2,
        announced: 2,
        certificate: true,
        unavailable: 0,
    };
    let scene = Scene::start(30, 2, tokens).await;
    let csv = scene.manifest(
        "imap",
        "concurrent_accounts: 4, messages_per_second: 10",
        "certificate_file: app.pem",
    );
    let app_pem = std::fs::read_to_string(scene.path().join("app.pem")).unwrap();
    let secrets = [
        key_line(&scene.google_key.private),
        key_line(&app_pem),
        JWT_HEADER.to_owned(),
    ];

    // `plan --check` asks for the tokens and logs in, changing nothing.
    mailshift()
        .args(["plan", "--check"])
        .arg(&csv)
        .run()
        .success()
        .never_shows(JWT_HEADER);
    let before_run = scene.endpoint.granted().len();

    let mut first = run(scene.path(), &csv).run();
    for secret in &secrets {
        first = first.never_shows(secret);
    }
    assert_eq!(
        first.code,
        Some(0),
        "{}\n{}\nrefused: {:?}",
        first.stdout,
        first.stderr,
        scene.endpoint.refused(),
    );
    scene.assert_copied().await;
    // One token per mailbox at the source, each asked for by the mailbox.
    let granted = scene.endpoint.granted();
    for n in &scene.names {
        assert!(
            granted[before_run..].contains(n),
            "no token for {n}: {granted:?}"
        );
    }
    // The application's token expired during the run and was asked for
    // again; not once per mailbox.
    let app_tokens = scene.app_tokens(before_run);
    assert!(
        (2..scene.names.len()).contains(&app_tokens),
        "{app_tokens} application tokens: {granted:?}"
    );
    assert!(
        scene.endpoint.refused().is_empty(),
        "{:?}",
        scene.endpoint.refused()
    );
    // Nothing secret is kept: keys, assertions, tokens.
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let leaks = files_holding(scene.path(), &secrets);
    assert!(leaks.is_empty(), "{leaks:?}");

    let again = run(scene.path(), &csv).run().success();
    assert!(again.stdout.contains("copied 0,"), "{}", again.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_refused_before_its_announced_end_is_asked_for_once_more() {
    // The tokens say an hour and last two seconds: the application's
    // cached token is refused by a later mailbox's login.
    let tokens = Tokens {
        lifetime: 2,
        announced: 3600,
        certificate: false,
        unavailable: 0,
    };
    let scene = Scene::start(3, 4, tokens).await;
    let csv = scene.manifest(
        "imap",
        "concurrent_accounts: 1, messages_per_second: 2",
        "client_secret_env: APP_SECRET",
    );
    let out = run(scene.path(), &csv).run().never_shows(CLIENT_SECRET);
    assert_eq!(
        out.code,
        Some(0),
        "{}\n{}\ngranted {:?}\ndestination: {}",
        out.stdout,
        out.stderr,
        scene.endpoint.granted(),
        scene.dest.log()
    );
    scene.assert_copied().await;
    assert!(scene.app_tokens(0) >= 2, "{:?}", scene.endpoint.granted());
    assert!(
        scene.dest.log().contains("(auth failed, 1 attempts"),
        "the destination never refused a token:\n{}",
        scene.dest.log()
    );
    assert!(files_holding(scene.path(), &[CLIENT_SECRET]).is_empty());
}

/// A token endpoint that is down for a moment (503) is asked again with the
/// mail stage's back-off: the account completes.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_endpoint_down_for_a_moment_is_asked_again() {
    let tokens = Tokens {
        lifetime: 60,
        announced: 60,
        certificate: false,
        unavailable: 2,
    };
    let scene = Scene::start(1, 3, tokens).await;
    let csv = scene.manifest("imap", "", "client_secret_env: APP_SECRET");
    let out = run(scene.path(), &csv).run().never_shows(CLIENT_SECRET);
    assert_eq!(
        out.code,
        Some(0),
        "{}\n{}\nrefused: {:?}",
        out.stdout,
        out.stderr,
        scene.endpoint.refused()
    );
    scene.assert_copied().await;
    let refused = scene.endpoint.refused();
    assert_eq!(
        refused
            .iter()
            .filter(|r| r.starts_with("temporarily_unavailable"))
            .count(),
        2,
        "{refused:?}"
    );
}

/// A POP3 source logs in with the Google service account's tokens too, and
/// the POP3 stage's IMAP destination asks again for a refused token.
#[tokio::test(flavor = "multi_thread")]
async fn a_pop3_source_takes_service_account_tokens_too() {
    let tokens = Tokens {
        lifetime: 2,
        announced: 3600,
        certificate: false,
        unavailable: 0,
    };
    let scene = Scene::start(3, 4, tokens).await;
    let csv = scene.manifest(
        "pop3",
        "concurrent_accounts: 1, messages_per_second: 2",
        "client_secret_env: APP_SECRET",
    );
    let out = run(scene.path(), &csv).run().never_shows(CLIENT_SECRET);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    for n in &scene.names {
        let inbox = &scene.dest.snapshot(n).await["INBOX"];
        assert_eq!(inbox.len(), 4, "{n}");
    }
    assert!(
        scene.source.log().contains("method=XOAUTH2"),
        "{}",
        scene.source.log()
    );
    assert!(scene.app_tokens(0) >= 2, "{:?}", scene.endpoint.granted());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_or_secret_names_the_account_and_the_token_endpoint() {
    let tokens = Tokens {
        lifetime: 60,
        announced: 60,
        certificate: false,
        unavailable: 0,
    };
    let scene = Scene::start(2, 1, tokens).await;
    // The key file holds a key the service account does not have.
    let other = rsa_key(scene.path(), "other");
    key_file(scene.path(), &other, &scene.endpoint.google_url());
    let csv = scene.manifest("imap", "", "client_secret_env: APP_SECRET");
    let wrong_key = run(scene.path(), &csv)
        .run()
        .code(1)
        .never_shows(&key_line(&other.private));
    let all = format!("{}{}", wrong_key.stdout, wrong_key.stderr);
    for n in &scene.names {
        assert!(
            all.contains(&format!(
                "The credential of {n}: the token endpoint {} refused the request (HTTP 400): \
                 invalid_grant: Invalid JWT Signature.",
                scene.endpoint.google_url()
            )),
            "{all}"
        );
    }

    // The right key, and a wrong client secret at the destination.
    key_file(
        scene.path(),
        &scene.google_key,
        &scene.endpoint.google_url(),
    );
    let csv = scene.manifest("imap", "", "client_secret_env: WRONG_SECRET");
    let wrong_secret = run(scene.path(), &csv)
        .env("WRONG_SECRET", "not-the-Client-Secret")
        .run()
        .code(1)
        .never_shows("not-the-Client-Secret");
    let all = format!("{}{}", wrong_secret.stdout, wrong_secret.stderr);
    assert!(
        all.contains(&format!(
            "the token endpoint {} refused the request (HTTP 401): invalid_client: \
             AADSTS7000215: Invalid client secret provided.",
            scene.endpoint.microsoft_url(TENANT)
        )),
        "{all}"
    );
    assert!(all.contains(&scene.names[0]), "{all}");
}

/// Every problem of the manifest `name` (with `files` beside it).
fn problems(name: &str, text: &str, files: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for file in files {
        std::fs::write(dir.path().join(file), "{}").unwrap();
    }
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    match mailshift::manifest::load(&path) {
        Ok(m) => mailshift::plan::check(&m).diagnostics.to_string(),
        Err(d) => d.to_string(),
    }
}

#[test]
fn service_account_fields_are_checked_where_they_are_written() {
    let text = problems(
        "m.yaml",
        "defaults:
  source: {host: imap.old.example.test}
  destination: {host: outlook.office365.com}
accounts:
  - source: {email: a@example.test, oauth2: {service: google}}
    destination: {email: a@example.test, oauth2: {service: microsoft, tenant: t, key_file: sa.json}}
  - source: {email: b@example.test, oauth2: {service: gogle, key_file: sa.json}}
    destination: {email: b@example.test, oauth2: {service: microsoft, client_id: c, client_secret_env: MAILSHIFT_TEST_SURELY_UNSET}}
  - source: {email: c@example.test, oauth2: {key_file: sa.json}}
    destination: {email: c@example.test, oauth2: {service: microsoft, tenant: t, client_id: c, client_secret_env: HOME, certificate_file: app.pem}}
  - source: {email: d@example.test, oauth2: {service: google, key_file: sa.json, token_url: 'ftp://x'}}
    destination: {email: d@example.test, oauth2: {service: microsoft, tenant: t, client_id: c, certificate_file: nowhere.pem}}
",
        &["sa.json"],
    );
    assert_eq!(text.matches("accounts[1].source").count(), 1, "{text}");
    for expected in [
        "m.yaml:5:45: error: accounts[0].source.oauth2.key_file: the service account's key_file is missing",
        "accounts[0].destination.oauth2.key_file: key_file is not used with service: microsoft",
        "m.yaml:7:55: error: accounts[1].source.oauth2.service: `gogle` is not one of: google, microsoft; did you mean `google`?",
        "accounts[1].destination.oauth2.tenant: the service account's tenant is missing",
        "accounts[1].destination.oauth2.client_secret_env: environment variable MAILSHIFT_TEST_SURELY_UNSET is not set",
        "accounts[2].source.oauth2: key_file belongs to a service account: give service (google or microsoft) too",
        "accounts[2].destination.oauth2: a Microsoft application needs exactly one of client_secret_env, client_secret_file and certificate_file",
        "accounts[3].source.oauth2.token_url: \"ftp://x\" is not an http:// or https:// URL",
        "accounts[3].destination.oauth2.certificate_file:",
        "nowhere.pem does not exist",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }

    let text = problems(
        "staff.csv",
        "source_host,source_email,source_oauth2_service,source_oauth2_key_file,destination_host,destination_email,destination_oauth2_service,destination_oauth2_tenant,destination_oauth2_client_id,destination_oauth2_client_secret_env\n\
         imap.gmail.com,a@example.test,google,sa.json,outlook.office365.com,a@example.test,microsoft,example.test,app,HOME\n\
         imap.gmail.com,b@example.test,google,,outlook.office365.com,b@example.test,microsft,example.test,app,HOME\n",
        &["sa.json"],
    );
    for expected in [
        "staff.csv: row 3, column source_oauth2_key_file: error: the service account's key_file is missing",
        "staff.csv: row 3, column destination_oauth2_service: error: `microsft` is not an OAuth2 service: expected one of google, microsoft; did you mean `microsoft`?",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    assert!(!text.contains("row 2"), "{text}");
}
