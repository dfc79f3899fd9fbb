//! Live totals, rate and time left of a first pass: the mail stage counts
//! its source before it copies, so the pages know the total at once.

use super::{eventually, first_account};
use crate::mail::{Batch, account, raw, servers, slashed, slashed_source};
use crate::support::web::Serve;

#[tokio::test(flavor = "multi_thread")]
async fn a_first_pass_shows_its_total_rate_and_time_left() {
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..240)
        .map(|i| raw(&format!("Subject: m{i}"), "body"))
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    source.seed_bodies("alice", "Archive", &bodies[..60]).await;
    let batch = Batch::new(
        &[account("alice", &source, &dest)],
        "  messages_per_second: 20",
    );
    let mut run = batch.spawn();
    let (id, email) = first_account(&batch).await;
    let serve = Serve::start(&batch.state(), &batch.reports(), 1000);
    let api = format!(
        "/api/v1/migrations/{id}?source={}",
        email.replace('@', "%40")
    );
    let mail = || async {
        let view = serve.get(&api, &[]).await.json();
        view["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["kind"] == "mail")
            .cloned()
    };

    // While it runs: the pass's total (both folders) before anything
    // finished, then a rate and the time left.
    eventually("the running stage's total", || async {
        mail()
            .await
            .is_some_and(|s| s["state"] == "running" && s["total"] == 300)
    })
    .await;
    let started = std::time::Instant::now();
    let stage = loop {
        let stage = mail().await.unwrap();
        if stage["state"] == "running"
            && stage["rate"].as_f64().is_some_and(|r| r > 0.0)
            && stage["eta_seconds"].as_u64().is_some()
        {
            break stage;
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "never a rate and a time left: {stage}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    let (done, percent) = (
        stage["done"].as_u64().unwrap(),
        stage["percent"].as_u64().unwrap(),
    );
    assert!(done < 300 && percent == done * 100 / 300, "{stage}");
    assert!(
        stage["shown_rate"].as_str().unwrap().ends_with("/s"),
        "{stage}"
    );

    // The pages show them too.
    let page = serve
        .get(
            &format!("/status?id={id}&source={}", email.replace('@', "%40")),
            &[],
        )
        .await;
    assert!(
        page.body.contains(r#"class="n total">300<"#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"class="n eta">"#), "{}", page.body);

    assert!(run.wait().unwrap().success());
    let stage = mail().await.unwrap();
    assert_eq!(
        (
            &stage["state"],
            &stage["done"],
            &stage["total"],
            &stage["percent"]
        ),
        (&"done".into(), &300.into(), &300.into(), &100.into())
    );
}
