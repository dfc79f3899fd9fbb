//! The end user's page in headless Chromium, during a real migration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::{Client, Locator};

use super::{dest_inbox, eventually, first_account};
use crate::mail::{Batch, account, raw, servers, slashed, slashed_source};
use crate::support::web::{ADMIN_TOKEN, Browser, Serve};

pub(super) async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .text()
        .await
        .unwrap()
}

pub(super) async fn click(c: &Client, css: &str) {
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
pub(super) fn keep_screenshot(png: &[u8], dir: &Path, name: &str) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is no PNG");
    assert!(png.len() > 5_000, "{name} is blank ({} bytes)", png.len());
    std::fs::write(dir.join(name), png).unwrap();
    if std::env::var_os("MAILSHIFT_UPDATE_SCREENSHOTS").is_some() {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/web");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join(name), png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_follows_a_running_migration_in_a_browser_cancels_it_and_undoes_it() {
    let (source, dest) = servers(slashed_source(), slashed());
    // 800 messages at 20 a second: time enough to look, see the counts
    // advance and cancel, even on a busy machine.
    let bodies: Vec<Vec<u8>> = (0..800)
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
    let notice = match c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#notice"))
        .await
    {
        Ok(notice) => notice.text().await.unwrap(),
        Err(e) => panic!(
            "no notice after cancel ({e}): {}",
            c.source().await.unwrap_or_default()
        ),
    };
    assert!(notice.contains("Cancel requested"), "{notice}");
    let status = run.wait().expect("run ends");
    assert_eq!(
        status.code(),
        Some(1),
        "a cancelled account is not a success"
    );
    let copied = dest_inbox(&dest).await;
    assert!(
        copied > 0 && copied < 800,
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
    c.find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(ADMIN_TOKEN)
        .await
        .unwrap();
    click(c, "#login button").await;

    // A broken manifest uploaded on the dashboard: its problems, located.
    let broken = work.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "batch: broken\naccounts:\n  - source: {kind: imap, host: 127.0.0.1, port: seven}\n",
    )
    .unwrap();
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#manifest"))
        .await
        .unwrap()
        .send_keys(&broken.display().to_string())
        .await
        .unwrap();
    click(c, "#upload-button").await;
    let problem = c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#upload-result li"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(problem.starts_with("broken.yaml:3:"), "{problem}");
    assert!(text(c, "#upload-result .alert").await.contains("Not valid"));
    keep_screenshot(
        &c.screenshot().await.unwrap(),
        work.path(),
        "admin-upload.png",
    );
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
