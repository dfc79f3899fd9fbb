//! `mailshift serve`: the end user's page in a real browser (headless
//! Chromium over WebDriver) following a real migration between two
//! private Dovecots, Cancel and Undo; and, over plain HTTP, what the
//! server refuses: a wrong ID/address pair, too many lookups, a POST
//! without its CSRF token, the admin pages without login.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};

use crate::mail::{Batch, account, assert_success, raw, servers, slashed, slashed_source};
use crate::support::web::{ADMIN_TOKEN, Browser, Reply, Serve};

/// The migration ID and source address of the batch's first account,
/// once the state database has it.
async fn first_account(batch: &Batch) -> (String, String) {
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
async fn eventually<F, Fut>(what: &str, mut check: F)
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

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn click(c: &Client, css: &str) {
    c.wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Keeps a screenshot: in the test's folder, and in `docs/web/` when
/// `MAILSHIFT_UPDATE_SCREENSHOTS` is set. Checked to be a real picture.
fn keep_screenshot(png: &[u8], dir: &Path, name: &str) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is no PNG");
    assert!(png.len() > 5_000, "{name} is blank ({} bytes)", png.len());
    std::fs::write(dir.join(name), png).unwrap();
    if std::env::var_os("MAILSHIFT_UPDATE_SCREENSHOTS").is_some() {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/web");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join(name), png).unwrap();
    }
}

/// The Dovecot destination's INBOX message count.
async fn dest_inbox(dest: &crate::support::Dovecot) -> u32 {
    let mut session = mailshift::protocols::imap::Session::connect(&dest.imap_config("alice"))
        .await
        .unwrap();
    let n = session.status("INBOX").await.unwrap().messages;
    session.logout().await.ok();
    n
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_follows_a_running_migration_in_a_browser_cancels_it_and_undoes_it() {
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..400)
        .map(|i| raw(&format!("Subject: m{i}"), &"y".repeat(2000)))
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    let batch = Batch::new(
        &[account("alice", &source, &dest)],
        "  messages_per_second: 20",
    );
    let mut run = batch.spawn();
    let (id, email) = first_account(&batch).await;
    let serve = Serve::start(&batch.state(), &batch.reports(), 30);
    let work = tempfile::TempDir::new().unwrap();
    let browser = Browser::start(&work.path().join("desktop"), 1200, 900, "en").await;
    let c = &browser.client;

    // The seed's form: migration ID and source address.
    c.goto(&serve.url("/")).await.unwrap();
    c.find(Locator::Css("#id"))
        .await
        .unwrap()
        .send_keys(&id)
        .await
        .unwrap();
    c.find(Locator::Css("#source"))
        .await
        .unwrap()
        .send_keys(&email)
        .await
        .unwrap();
    click(c, "#lookup button").await;
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#account"))
        .await
        .unwrap();
    assert_eq!(text(c, "#migration-id").await, id);

    // The counts advance on the page by themselves, without a reload.
    let row = r#"tr[data-stage="mail"] .done"#;
    eventually("the mail stage on the page", || async {
        c.find(Locator::Css(row)).await.is_ok()
    })
    .await;
    let first: u64 = text(c, row).await.parse().unwrap();
    c.execute("window.stayed = true;", vec![]).await.unwrap();
    eventually("the done count advancing", || async {
        text(c, row).await.parse::<u64>().unwrap() > first
    })
    .await;
    assert_eq!(
        c.execute("return window.stayed === true;", vec![])
            .await
            .unwrap(),
        serde_json::json!(true),
        "the page reloaded instead of updating"
    );
    assert_eq!(text(c, "#state").await, "in progress");
    assert!(
        c.find(Locator::Css("#cancel"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap()
    );
    assert!(
        c.find(Locator::Css("#undo")).await.is_err(),
        "no Undo while running"
    );
    keep_screenshot(
        &c.screenshot().await.unwrap(),
        work.path(),
        "status-desktop.png",
    );

    // Cancel, confirmed.
    click(c, "#cancel").await;
    click(c, "#confirm-button").await;
    let notice = text(c, "#notice").await;
    assert!(notice.contains("Cancel requested"), "{notice}");
    let status = run.wait().expect("run ends");
    assert_eq!(
        status.code(),
        Some(1),
        "a cancelled account is not a success"
    );
    let copied = dest_inbox(&dest).await;
    assert!(
        copied > 0 && copied < 400,
        "the cancel kept what was copied: {copied}"
    );

    // The page sees the end by itself and offers Undo, with its deadline.
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#undo"))
        .await
        .expect("Undo offered once the account stopped");
    assert_eq!(text(c, "#state").await, "cancelled");
    assert!(text(c, "#undo-until").await.ends_with("UTC"));
    click(c, "#undo").await;
    click(c, "#confirm-button").await;
    c.wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("#notice"))
        .await
        .unwrap();
    assert_eq!(text(c, "#state").await, "undone");
    assert!(c.find(Locator::Css("#undo")).await.is_err());
    assert_eq!(dest_inbox(&dest).await, 0, "undo emptied the destination");
    assert!(
        text(c, "#undone")
            .await
            .contains("messages removed from alice@example.test")
    );

    // The admin logs in and finds the account in its batch.
    c.goto(&serve.url("/admin")).await.unwrap();
    assert!(
        c.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/admin/login")
    );
    c.find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(ADMIN_TOKEN)
        .await
        .unwrap();
    click(c, "#login button").await;
    click(c, "#batches a").await;
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#accounts"))
        .await
        .unwrap();
    let row = text(c, "#accounts tbody tr").await;
    assert!(row.contains(&id) && row.contains("undone"), "{row}");
    keep_screenshot(
        &c.screenshot().await.unwrap(),
        work.path(),
        "admin-accounts.png",
    );
    click(c, "#accounts tbody a").await;
    assert_eq!(text(c, "#migration-id").await, id);
    browser.close().await;

    // A phone, in Spanish: the same account, nothing wider than the screen.
    let phone = Browser::start(&work.path().join("phone"), 390, 844, "es").await;
    let p = &phone.client;
    p.goto(&serve.url(&format!(
        "/status?id={id}&source={}",
        email.replace('@', "%40")
    )))
    .await
    .unwrap();
    assert_eq!(text(p, "#state").await, "deshecha");
    assert!(text(p, "dl").await.contains("Dirección de origen"));
    let overflow = p
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        overflow,
        serde_json::json!(true),
        "the phone page scrolls sideways"
    );
    keep_screenshot(
        &p.screenshot().await.unwrap(),
        work.path(),
        "status-phone.png",
    );
    phone.close().await;
}

/// A batch of one account (alice, two messages) run to completion; its
/// servers stay up while the batch is used.
async fn completed() -> (
    crate::support::Dovecot,
    crate::support::Dovecot,
    Batch,
    String,
    String,
) {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies(
            "alice",
            "INBOX",
            &[&raw("Subject: one", "1"), &raw("Subject: two", "2")],
        )
        .await;
    let batch = Batch::new(&[account("alice", &source, &dest)], "");
    assert_success(&batch.run());
    let (id, email) = first_account(&batch).await;
    (source, dest, batch, id, email)
}

fn cookie_header(reply: &Reply, name: &str) -> String {
    reply
        .cookie(name)
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", reply.headers))
}

/// The CSRF token a page carries in its forms.
fn form_token(page: &str) -> String {
    let tag = r#"<meta name="csrf-token" content=""#;
    let at = page.find(tag).expect("a CSRF token") + tag.len();
    page[at..at + 32].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_pair_is_answered_as_an_unknown_id_and_posts_need_their_csrf_token() {
    let (_source, _dest, batch, id, email) = completed().await;
    let serve = Serve::start(&batch.state(), &batch.reports(), 1000);
    let query = |id: &str, source: &str| format!("{id}?source={}", source.replace('@', "%40"));

    let right = serve
        .get(&format!("/api/v1/migrations/{}", query(&id, &email)), &[])
        .await;
    assert_eq!(right.status, 200, "{}", right.body);
    let json = right.json();
    assert_eq!(json["state"], "completed");
    assert_eq!(json["stages"][0]["done"], 2);
    assert_eq!(json["stages"][0]["percent"], 100);
    assert_eq!(json["can_undo"], true);
    assert!(!right.body.contains("source-pw") && !right.body.contains("dest-pw"));

    let wrong_pair = serve
        .get(
            &format!("/api/v1/migrations/{}", query(&id, "bob@example.test")),
            &[],
        )
        .await;
    let unknown = serve
        .get(
            &format!("/api/v1/migrations/{}", query("ABCDEFGHJKMNPQ", &email)),
            &[],
        )
        .await;
    assert_eq!(wrong_pair.status, 404);
    assert_eq!(
        (wrong_pair.status, &wrong_pair.body),
        (unknown.status, &unknown.body)
    );
    let page = |id: &str, source: &str| {
        format!(
            "/status?id={}",
            query(id, source).replace("?source", "&source")
        )
    };
    let home = serve.get("/", &[]).await;
    let cookie = cookie_header(&home, "mailshift_csrf");
    let same_browser = [("Cookie", cookie.as_str())];
    let wrong_page = serve
        .get(&page(&id, "bob@example.test"), &same_browser)
        .await;
    let unknown_page = serve
        .get(&page("ABCDEFGHJKMNPQ", &email), &same_browser)
        .await;
    assert_eq!(wrong_page.status, 404);
    assert_eq!(wrong_page.body, unknown_page.body);
    assert!(!wrong_page.body.contains(&id));

    // A POST without the token of its cookie is refused, and changes nothing.
    let form = format!("id={id}&source={}", email.replace('@', "%40"));
    let bare = serve
        .post(
            "/status/undo",
            &[],
            "application/x-www-form-urlencoded",
            &form,
        )
        .await;
    assert_eq!(bare.status, 403);
    let forged = serve
        .post(
            "/status/undo",
            &[("Cookie", &cookie)],
            "application/x-www-form-urlencoded",
            &format!("{form}&csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        )
        .await;
    assert_eq!(forged.status, 403);
    let api = serve
        .post(
            &format!("/api/v1/migrations/{id}/undo"),
            &[("Cookie", &cookie)],
            "application/json",
            &serde_json::json!({ "source": email }).to_string(),
        )
        .await;
    assert_eq!(api.status, 403, "{}", api.body);
    assert_eq!(
        serve
            .get(&format!("/api/v1/migrations/{}", query(&id, &email)), &[])
            .await
            .json()["state"],
        "completed",
        "a refused POST undid nothing"
    );

    // With the token: the same API call answers (cancel of a finished account).
    let token = form_token(&serve.get("/", &[("Cookie", &cookie)]).await.body);
    let cancel = serve
        .post(
            &format!("/api/v1/migrations/{id}/cancel"),
            &[("Cookie", &cookie), ("X-CSRF-Token", &token)],
            "application/json",
            &serde_json::json!({ "source": email }).to_string(),
        )
        .await;
    assert_eq!(cancel.status, 409, "{}", cancel.body);
    assert!(
        cancel.json()["error"]
            .as_str()
            .unwrap()
            .contains("already finished")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_rapid_lookups_are_throttled() {
    let (_source, _dest, batch, id, email) = completed().await;
    let serve = Serve::start(&batch.state(), &batch.reports(), 30);
    let path = format!(
        "/api/v1/migrations/{id}?source={}",
        email.replace('@', "%40")
    );
    let mut statuses = Vec::new();
    for _ in 0..100 {
        statuses.push(serve.get(&path, &[]).await.status);
    }
    assert_eq!(statuses[0], 200);
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        throttled >= 60,
        "only {throttled} of 100 throttled: {statuses:?}"
    );
    let page = serve
        .get(
            &format!("/status?id={id}&source={}", email.replace('@', "%40")),
            &[("Accept-Language", "es")],
        )
        .await;
    assert_eq!(page.status, 429);
    assert!(page.body.contains("Demasiadas consultas"), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_pages_need_a_login() {
    let (_source, _dest, batch, id, email) = completed().await;
    let serve = Serve::start(&batch.state(), &batch.reports(), 1000);
    let batch_id = batch.list()[0]["batch_id"].as_str().unwrap().to_owned();
    let account = format!("/admin/accounts/{id}?source={}", email.replace('@', "%40"));
    for path in ["/admin", &format!("/admin/batches/{batch_id}"), &account] {
        let reply = serve.get(path, &[]).await;
        assert_eq!(reply.status, 303, "{path}");
        assert_eq!(reply.headers["location"], "/admin/login", "{path}");
    }
    for path in [
        "/api/v1/batches",
        &format!("/api/v1/batches/{batch_id}/accounts"),
    ] {
        assert_eq!(serve.get(path, &[]).await.status, 401, "{path}");
        let wrong = format!("Bearer {ADMIN_TOKEN}x");
        assert_eq!(
            serve.get(path, &[("Authorization", &wrong)]).await.status,
            401,
            "{path}"
        );
    }
    let resume = serve
        .post(
            &format!("/admin/accounts/{id}/resume"),
            &[],
            "application/x-www-form-urlencoded",
            &format!("source={}", email.replace('@', "%40")),
        )
        .await;
    assert_eq!(resume.status, 401);

    // The bearer token opens the API.
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let batches = serve
        .get("/api/v1/batches", &[("Authorization", &bearer)])
        .await
        .json();
    assert_eq!(batches["batches"][0]["batch_id"], batch_id.as_str());
    assert_eq!(batches["batches"][0]["accounts"], 1);
    let listing = serve
        .get(
            &format!("/api/v1/batches/{batch_id}/accounts?state=completed&per_page=1"),
            &[("Authorization", &bearer)],
        )
        .await
        .json();
    assert_eq!(listing["matching"], 1);
    assert_eq!(listing["accounts"][0]["migration_id"], id.as_str());
    let none = serve
        .get(
            &format!("/api/v1/batches/{batch_id}/accounts?state=failed"),
            &[("Authorization", &bearer)],
        )
        .await
        .json();
    assert_eq!(none["matching"], 0);

    // The login form: a wrong token is refused, the right one opens a session.
    let form = serve.get("/admin/login", &[]).await;
    let cookie = cookie_header(&form, "mailshift_csrf");
    let token = form_token(&form.body);
    let wrong = serve
        .post(
            "/admin/login",
            &[("Cookie", &cookie)],
            "application/x-www-form-urlencoded",
            &format!("csrf={token}&token=nope"),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let login = serve
        .post(
            "/admin/login",
            &[("Cookie", &cookie)],
            "application/x-www-form-urlencoded",
            &format!("csrf={token}&token={ADMIN_TOKEN}"),
        )
        .await;
    assert_eq!(login.status, 303, "{}", login.body);
    let session = format!("{cookie}; {}", cookie_header(&login, "mailshift_admin"));
    let dashboard = serve.get("/admin", &[("Cookie", &session)]).await;
    assert_eq!(dashboard.status, 200);
    assert!(dashboard.body.contains(&batch_id));
    let accounts = serve
        .get(
            &format!("/admin/batches/{batch_id}?q=alice"),
            &[("Cookie", &session)],
        )
        .await;
    assert_eq!(accounts.status, 200);
    assert!(accounts.body.contains(&id));
    let detail = serve.get(&account, &[("Cookie", &session)]).await;
    assert_eq!(detail.status, 200);
    assert!(detail.body.contains("id=\"undo\""));
    assert!(!detail.body.contains(ADMIN_TOKEN) && !detail.body.contains("dest-pw"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_starts_a_batch_by_uploading_its_manifest_to_watch_serve() {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies(
            "alice",
            "INBOX",
            &[&raw("Subject: one", "1"), &raw("Subject: two", "2")],
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mailshift"));
    command
        .arg("watch")
        .arg(&inbox)
        .arg("--state")
        .arg(dir.path().join("state.db"))
        .arg("--reports")
        .arg(dir.path().join("reports"))
        .arg("--area")
        .arg(dir.path().join("area"))
        .args(["--settle-seconds", "1", "--serve", "127.0.0.1:0"]);
    let serve = Serve::spawn(command);
    let home = serve
        .get("/", &[("Accept-Language", "es-ES,es;q=0.9")])
        .await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Seguir una migración"), "{}", home.body);
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let admin = [("Authorization", bearer.as_str())];
    let upload = |name: &str, body: String| {
        let path = format!("/api/v1/batches?name={}", name.replace('/', "%2F"));
        let serve = &serve;
        async move {
            serve
                .post(&path, &admin, "application/octet-stream", &body)
                .await
        }
    };

    // Without login: refused.
    let anonymous = serve
        .post(
            "/api/v1/batches?name=a.yaml",
            &[],
            "text/yaml",
            "batch: a\n",
        )
        .await;
    assert_eq!(anonymous.status, 401);

    // A broken manifest: every problem with its line and column, as
    // `validate` says it; nothing is dropped.
    let broken = upload(
        "broken.yaml",
        "batch: broken\naccounts:\n  - source: {kind: imap, host: 127.0.0.1, port: seven}\n"
            .to_owned(),
    )
    .await;
    assert_eq!(broken.status, 422, "{}", broken.body);
    let json = broken.json();
    assert_eq!(json["outcome"], "invalid");
    let first = json["diagnostics"][0].as_str().unwrap();
    assert!(first.starts_with("broken.yaml:3:"), "{first}");
    assert!(
        !broken.body.contains("mailshift-upload"),
        "the private folder shows: {}",
        broken.body
    );

    // Hostile names and sizes are refused without touching any file.
    let hostile = upload("../../x.yaml", "batch: x\n".to_owned()).await;
    assert_eq!(hostile.status, 400, "{}", hostile.body);
    let hidden = upload(".x.yaml", "batch: x\n".to_owned()).await;
    assert_eq!(hidden.status, 400, "{}", hidden.body);
    let huge = upload("huge.yaml", "#".repeat(100 * 1024 * 1024)).await;
    assert_eq!(huge.status, 413);
    assert!(!dir.path().join("x.yaml").exists() && !inbox.join("huge.yaml").exists());
    let dropped: Vec<_> = std::fs::read_dir(&inbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    assert!(dropped.is_empty(), "{dropped:?}");

    // A valid one goes into the watched folder and runs.
    let batch = Batch::new(&[account("alice", &source, &dest)], "");
    let manifest = std::fs::read_to_string(batch.dir.path().join("batch.yaml")).unwrap();
    let accepted = upload("alice.yaml", manifest).await;
    assert_eq!(accepted.status, 201, "{}", accepted.body);
    assert_eq!(accepted.json()["accounts"], 1);
    eventually("the uploaded batch completed", || async {
        let batches = serve.get("/api/v1/batches", &admin).await.json();
        batches["batches"][0]["by_state"]["completed"] == 1
    })
    .await;
    assert_eq!(dest_inbox(&dest).await, 2);
}
