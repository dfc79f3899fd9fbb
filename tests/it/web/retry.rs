//! Retry of a failed account over HTTP: through `watch --serve` the
//! daemon runs it again from its batch's manifest and its mail arrives;
//! a plain `serve` says that retry needs the daemon.

use super::{cookie_header, dest_inbox, eventually, two_messages, watch_serve};
use crate::support::web::{ADMIN_TOKEN, Serve};

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_account_is_retried_through_the_daemon_and_refused_without_it() {
    let (source, dest) = two_messages().await;
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let state = dir.path().join("state.db");
    let reports = dir.path().join("reports");
    // The source's password is read from a file: wrong at first.
    let password = dir.path().join("source-password");
    std::fs::write(&password, "not-the-password").unwrap();
    let serve = watch_serve(dir.path(), &inbox, &[]);
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let admin = [("Authorization", bearer.as_str())];
    std::fs::write(
        inbox.join("retry.yaml"),
        format!(
            "batch: retry-test\naccounts:\n  - source: {{kind: imap, host: 127.0.0.1, port: {}, \
             tls: none, email: alice@example.test, user: alice, password_file: \"{}\"}}\n    \
             destination: {{kind: imap, host: 127.0.0.1, port: {}, tls: none, \
             email: alice@example.test, user: alice, password: dest-pw}}\n",
            source.imap_port(),
            password.display(),
            dest.imap_port()
        ),
    )
    .unwrap();
    let found = std::sync::Mutex::new(String::new());
    eventually("the account failed", || {
        let (serve, found) = (&serve, &found);
        async move {
            let batches = serve.get("/api/v1/batches", &admin).await.json();
            let Some(batch) = batches["batches"].get(0) else {
                return false;
            };
            let path = format!(
                "/api/v1/batches/{}/accounts",
                batch["batch_id"].as_str().unwrap()
            );
            let accounts = serve.get(&path, &admin).await.json();
            let account = &accounts["accounts"][0];
            *found.lock().unwrap() = account["migration_id"].as_str().unwrap_or("").to_owned();
            account["state"] == "failed"
        }
    })
    .await;
    let id = found.into_inner().unwrap();
    assert_eq!(dest_inbox(&dest).await, 0);
    let retry = format!("/api/v1/migrations/{id}/retry");
    let body = r#"{"source": "alice@example.test"}"#;

    // Without its CSRF token, refused; an end user with it cannot retry.
    let anonymous = serve.post(&retry, &[], "application/json", body).await;
    assert_eq!(anonymous.status, 403, "{}", anonymous.body);
    let csrf = serve.get("/api/v1/csrf", &[]).await;
    let cookie = cookie_header(&csrf, "mailshift_csrf");
    let token = csrf.json()["csrf"].as_str().unwrap().to_owned();
    let user = [
        ("Cookie", cookie.as_str()),
        ("X-CSRF-Token", token.as_str()),
    ];
    let end_user = serve.post(&retry, &user, "application/json", body).await;
    assert_eq!(end_user.status, 401, "{}", end_user.body);

    // The password put right, the admin retries: the daemon runs it again.
    std::fs::write(&password, "source-pw").unwrap();
    let queued = serve.post(&retry, &admin, "application/json", body).await;
    assert_eq!(queued.status, 202, "{}", queued.body);
    let status = format!("/api/v1/migrations/{id}?source=alice%40example.test");
    eventually("the retried account completed", || async {
        serve.get(&status, &admin).await.json()["state"] == "completed"
    })
    .await;
    assert_eq!(dest_inbox(&dest).await, 2);

    // A completed account is not retried; a selection says so per account.
    let again = serve.post(&retry, &admin, "application/json", body).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("can be retried"), "{}", again.body);
    let batches = serve.get("/api/v1/batches", &admin).await.json();
    let batch_id = batches["batches"][0]["batch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let selection = serve
        .post(
            &format!("/api/v1/batches/{batch_id}/accounts/actions"),
            &admin,
            "application/json",
            &format!(r#"{{"action": "retry", "accounts": ["{id}", "NONE-SUCH-ID"]}}"#),
        )
        .await;
    assert_eq!(selection.status, 200, "{}", selection.body);
    let results = selection.json()["results"].clone();
    assert_eq!(results[0]["status"], 409, "{results}");
    assert_eq!(results[1]["status"], 404, "{results}");
    drop(serve);

    // A plain `serve` has no daemon to run it.
    let plain = Serve::start(&state, &reports, 30);
    let refused = plain.post(&retry, &admin, "application/json", body).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains("Retry needs the daemon"),
        "{}",
        refused.body
    );
}
