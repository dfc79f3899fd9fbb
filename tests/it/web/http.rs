//! What the server refuses, over plain HTTP.

use super::{completed, cookie_header, form_token};
use crate::support::web::{ADMIN_TOKEN, Serve};

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

/// Twenty lookups of `path`, the `n`th as if for `forwarded(n)`: their
/// statuses.
async fn lookups(serve: &Serve, path: &str, forwarded: fn(usize) -> String) -> Vec<u16> {
    let mut statuses = Vec::new();
    for n in 0..20 {
        let client = forwarded(n);
        let headers = [("X-Forwarded-For", client.as_str())];
        statuses.push(serve.get(path, &headers).await.status);
    }
    statuses
}

/// Behind a trusted reverse proxy, lookups are limited per client it names
/// in `X-Forwarded-For`; anyone else's `X-Forwarded-For` is not believed.
#[tokio::test(flavor = "multi_thread")]
async fn behind_a_trusted_proxy_lookups_are_limited_per_forwarded_client() {
    let (_source, _dest, batch, id, email) = completed().await;
    let path = format!(
        "/api/v1/migrations/{id}?source={}",
        email.replace('@', "%40")
    );
    let trusting = Serve::start_with(
        &batch.state(),
        &batch.reports(),
        5,
        &["--trusted-proxy", "127.0.0.1"],
    );
    // Twenty clients, one lookup each: nobody is throttled.
    let many = lookups(&trusting, &path, |n| format!("198.51.100.{n}")).await;
    assert!(many.iter().all(|s| *s == 200), "{many:?}");
    // One client twenty times: throttled after its five.
    let one = lookups(&trusting, &path, |_| "203.0.113.7".to_owned()).await;
    assert!(one.iter().filter(|s| **s == 429).count() >= 10, "{one:?}");

    // Not trusted: the header changes nothing, the connection's address
    // is throttled.
    let plain = Serve::start(&batch.state(), &batch.reports(), 5);
    let forged = lookups(&plain, &path, |n| format!("198.51.100.{n}")).await;
    assert!(
        forged.iter().filter(|s| **s == 429).count() >= 10,
        "{forged:?}"
    );
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
            &format!("csrf={token}&password=nope"),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let login = serve
        .post(
            "/admin/login",
            &[("Cookie", &cookie)],
            "application/x-www-form-urlencoded",
            &format!("csrf={token}&password={ADMIN_TOKEN}"),
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
    let report = serve
        .get(
            &format!("/admin/batches/{batch_id}/report.json"),
            &[("Cookie", &session)],
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.body);
    assert_eq!(report.json()["batch_id"], batch_id.as_str());
    let page = serve
        .get(
            &format!("/admin/batches/{batch_id}/report.html"),
            &[("Cookie", &session)],
        )
        .await;
    assert!(page.body.contains("Migration report"), "{}", page.body);
    let undo = format!(
        "/admin/accounts/{id}/undo.json?source={}",
        email.replace('@', "%40")
    );
    let manifest = serve.get(&undo, &[("Cookie", &session)]).await;
    assert_eq!(manifest.status, 200, "{}", manifest.body);
    assert_eq!(manifest.json()["migration_id"], id.as_str());
    assert!(!manifest.body.contains("dest-pw"));
    assert_eq!(serve.get(&undo, &[]).await.status, 303);
    let detail = serve.get(&account, &[("Cookie", &session)]).await;
    assert_eq!(detail.status, 200);
    assert!(detail.body.contains("id=\"undo\""));
    assert!(!detail.body.contains(ADMIN_TOKEN) && !detail.body.contains("dest-pw"));
}
