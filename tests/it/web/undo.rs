//! Undo runs in the background: the request is answered 202 at once with
//! the task to follow, and the task ends with the outcome.

use std::time::{Duration, Instant};

use super::{completed, dest_inbox};
use crate::support::web::{ADMIN_TOKEN, Serve};

/// The task at `follow` once it has ended.
async fn outcome(serve: &Serve, follow: &str) -> serde_json::Value {
    let begun = Instant::now();
    loop {
        let task = serve.get(follow, &[]).await.json();
        if task["running"] == false {
            return task;
        }
        assert!(begun.elapsed() < Duration::from_secs(60), "{task}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undo_is_a_task_followed_to_its_outcome() {
    let (_source, dest, batch, id, email) = completed().await;
    assert_eq!(dest_inbox(&dest).await, 2);
    let serve = Serve::start(&batch.state(), &batch.reports(), 1000);
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let undo = |id: String, source: String| {
        let (serve, bearer) = (&serve, bearer.clone());
        async move {
            serve
                .post(
                    &format!("/api/v1/migrations/{id}/undo"),
                    &[("Authorization", &bearer)],
                    "application/json",
                    &serde_json::json!({ "source": source }).to_string(),
                )
                .await
        }
    };

    // A wrong pair is answered as an unknown ID, and starts nothing.
    let wrong = undo(id.clone(), "bob@example.test".into()).await;
    let unknown = undo("ABCDEFGHJKMNPQ".into(), email.clone()).await;
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));
    assert_eq!(wrong.status, 404);

    let started = undo(id.clone(), email.clone()).await;
    assert_eq!(started.status, 202, "{}", started.body);
    let follow = started.json()["follow"].as_str().unwrap().to_owned();
    assert_eq!(started.headers["location"], follow);
    let task = outcome(&serve, &follow).await;
    assert_eq!(task["ok"], true, "{task}");
    assert_eq!(task["action"], "undo");
    assert!(
        task["message"].as_str().unwrap().contains("undone"),
        "{task}"
    );
    assert_eq!(
        dest_inbox(&dest).await,
        0,
        "the undo emptied the destination"
    );
    let view = serve
        .get(
            &format!(
                "/api/v1/migrations/{id}?source={}",
                email.replace('@', "%40")
            ),
            &[],
        )
        .await
        .json();
    assert_eq!(view["state"], "undone");

    // A second undo is a task too, refused by its outcome.
    let again = undo(id.clone(), email.clone()).await;
    assert_eq!(again.status, 202);
    let follow = again.json()["follow"].as_str().unwrap().to_owned();
    let task = outcome(&serve, &follow).await;
    assert_eq!(task["ok"], false, "{task}");
    assert!(
        task["message"].as_str().unwrap().contains("already undone"),
        "{task}"
    );
    assert_eq!(serve.get("/api/v1/tasks/nope", &[]).await.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_selection_of_accounts_is_acted_on_one_by_one() {
    let (_source, dest, batch, id, _email) = completed().await;
    let serve = Serve::start(&batch.state(), &batch.reports(), 1000);
    let batch_id = batch.list()[0]["batch_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/batches/{batch_id}/accounts/actions");
    let body = |action: &str| {
        serde_json::json!({ "action": action, "accounts": [id, "ABCDEFGHJKMNPQ"] }).to_string()
    };

    // Without login (a CSRF cookie is no login): refused.
    let anonymous = serve
        .post(&path, &[], "application/json", &body("undo"))
        .await;
    assert_eq!(anonymous.status, 401);
    let home = serve.get("/", &[]).await;
    let cookie = super::cookie_header(&home, "mailshift_csrf");
    let cookie_only = serve
        .post(
            &path,
            &[("Cookie", &cookie)],
            "application/json",
            &body("undo"),
        )
        .await;
    assert_eq!(cookie_only.status, 401);

    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let admin = [("Authorization", bearer.as_str())];
    let cancel = serve
        .post(&path, &admin, "application/json", &body("cancel"))
        .await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    let results = cancel.json()["results"].clone();
    assert_eq!(results[0]["migration_id"], id.as_str());
    assert_eq!(results[0]["status"], 409, "a finished account: {results}");
    assert_eq!(results[1]["status"], 404, "{results}");

    let undo = serve
        .post(&path, &admin, "application/json", &body("undo"))
        .await
        .json();
    assert_eq!(undo["results"][0]["status"], 202, "{undo}");
    let task = outcome(&serve, undo["results"][0]["follow"].as_str().unwrap()).await;
    assert_eq!(task["ok"], true, "{task}");
    assert_eq!(dest_inbox(&dest).await, 0);

    let unknown = serve
        .post(&path, &admin, "application/json", &body("explode"))
        .await;
    assert_eq!(unknown.status, 404);
}
