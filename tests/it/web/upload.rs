//! A batch started by uploading its manifest to `watch --serve`.

use super::{dest_inbox, eventually, two_messages, watch_serve};
use crate::mail::{Batch, account};
use crate::support::web::ADMIN_TOKEN;

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_starts_a_batch_by_uploading_its_manifest_to_watch_serve() {
    let (source, dest) = two_messages().await;
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let serve = watch_serve(dir.path(), &inbox, &[]);
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
