//! An Outlook PST file uploaded on the PST page's API of `watch --serve`,
//! with its destination: it gets a migration ID and its mail reaches a
//! private Dovecot; hostile names and sizes are refused; the password is
//! kept only in its private file. The same through the PST page in
//! headless Chromium.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use std::time::Duration;

use fantoccini::Locator;

use super::browser::{click, keep_screenshot, text};
use super::{eventually, watch_serve};
use crate::pst::{destination, libyal, messages};
use crate::support::web::{ADMIN_TOKEN, Browser, Reply};

/// The destination's password, looked for where it must not be.
const PASSWORD: &str = "dest-pw";

/// A multipart form of `fields` and the file `name` holding `bytes`.
fn form(fields: &[(&str, &str)], name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "mailshift-test-boundary-4f1c";
    let mut body = Vec::new();
    for (field, value) in fields {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n"
            )
            .into_bytes(),
        );
    }
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: application/vnd.ms-outlook\r\n\r\n"
        )
        .into_bytes(),
    );
    body.extend(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Every file under `dir`, at any depth.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(files(&path));
        } else {
            all.push(path);
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_uploads_a_pst_file_and_its_mail_reaches_the_destination() {
    let dest = destination();
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let serve = watch_serve(dir.path(), &inbox, &["--pst-max-mib", "1"]);
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let admin = [("Authorization", bearer.as_str())];
    let port = dest.imap_port().to_string();
    let fields = [
        ("host", "127.0.0.1"),
        ("port", port.as_str()),
        ("tls", "none"),
        ("email", "alice@example.test"),
        ("user", "alice"),
        ("password", PASSWORD),
    ];
    let pst = std::fs::read(libyal()).unwrap();
    let upload = |name: &'static str, bytes: Vec<u8>, headers: Vec<(&'static str, String)>| {
        let (content_type, body) = form(&fields, name, &bytes);
        let serve = &serve;
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            serve
                .post_bytes("/api/v1/pst", &headers, &content_type, &body)
                .await
        }
    };
    let as_admin = || vec![("Authorization", bearer.clone())];
    let mut replies: Vec<Reply> = Vec::new();

    // The page, in Spanish for a Spanish browser, behind the login.
    let page = serve
        .get("/admin/pst", &[admin[0], ("Accept-Language", "es")])
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Importar un archivo PST"),
        "{}",
        page.body
    );
    assert_eq!(serve.get("/admin/pst", &[]).await.status, 303);

    // Without login: refused.
    let anonymous = upload("alice.pst", pst.clone(), Vec::new()).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);

    // A hostile name and an oversize file: refused, nothing kept.
    let hostile = upload("../../x.pst", pst.clone(), as_admin()).await;
    assert_eq!(hostile.status, 400, "{}", hostile.body);
    let not_pst = upload("alice.yaml", pst.clone(), as_admin()).await;
    assert_eq!(not_pst.status, 400, "{}", not_pst.body);
    let huge = upload("huge.pst", vec![0; 2 * 1024 * 1024], as_admin()).await;
    assert_eq!(huge.status, 413, "{}", huge.body);
    assert!(!dir.path().join("x.pst").exists());
    assert!(
        files(dir.path()).iter().all(|f| !f.starts_with(&inbox)),
        "{:?}",
        files(&inbox)
    );
    replies.extend([hostile, not_pst, huge]);

    // The PST: a migration ID at once, then its mail at the destination.
    let started = upload("alice.pst", pst.clone(), as_admin()).await;
    assert_eq!(started.status, 201, "{}", started.body);
    let json = started.json();
    assert_eq!(json["outcome"], "started", "{json}");
    let id = json["migration_id"].as_str().unwrap().to_owned();
    assert_eq!(json["email"], "alice@example.test");
    replies.push(started);
    let status = format!("/api/v1/migrations/{id}?source=alice%40example.test");
    eventually("the PST import completed", || async {
        let reply = serve.get(&status, &[]).await;
        assert!(!reply.body.contains(PASSWORD), "{}", reply.body);
        reply.json()["state"] == "completed"
    })
    .await;
    // The account completes a moment before the daemon files its job: the
    // files below are read once they no longer move, when the job's result
    // is written beside the inbox.
    eventually("the job's result written", || async {
        std::fs::read_dir(&inbox).unwrap().any(|entry| {
            let name = entry.unwrap().file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.') && name.ends_with(".result.json")
        })
    })
    .await;
    let got = messages(&dest).await;
    let counts: Vec<(&str, usize)> = got.iter().map(|(f, m)| (f.as_str(), m.len())).collect();
    let with_mail: Vec<_> = counts.iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(
        with_mail,
        [&("INBOX", 1), &("Recovered_Group2", 1)],
        "{counts:?}"
    );

    // The password is in its private file only: not in the manifest, the
    // daemon's files, the state database or any answer.
    let mut password_files = 0;
    for file in files(dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        let holds = bytes
            .windows(PASSWORD.len())
            .any(|w| w == PASSWORD.as_bytes());
        if file.file_name().is_some_and(|n| n == "password") {
            password_files += 1;
            assert!(file.starts_with(inbox.join(".pst")), "{}", file.display());
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        } else {
            assert!(!holds, "the password is in {}", file.display());
        }
    }
    assert_eq!(password_files, 1);
    for reply in &replies {
        assert!(!reply.body.contains(PASSWORD), "{}", reply.body);
    }

    // A purge of the migration takes the uploaded file and its password
    // file with it.
    let uploads = inbox.join(".pst");
    assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 1);
    let purge = std::process::Command::new(env!("CARGO_BIN_EXE_mailshift"))
        .args(["purge", &id, "--source", "alice@example.test", "--yes"])
        .arg("--state")
        .arg(dir.path().join("state.db"))
        .arg("--reports")
        .arg(dir.path().join("reports"))
        .output()
        .unwrap();
    assert!(
        purge.status.success(),
        "{}",
        String::from_utf8_lossy(&purge.stderr)
    );
    let left = std::fs::read_dir(&uploads).unwrap().count();
    assert_eq!(left, 0, "{:?}", files(&uploads));
    assert!(
        files(dir.path())
            .iter()
            .all(|f| !f.to_string_lossy().ends_with(".pst"))
    );
}

/// Types `value` into the field `css`.
async fn fill(c: &fantoccini::Client, css: &str, value: &str) {
    c.find(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .send_keys(value)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pst_page_in_a_browser_gives_the_migration_id_and_the_mail_arrives() {
    let dest = destination();
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let serve = watch_serve(dir.path(), &inbox, &[]);
    let browser = Browser::start(&dir.path().join("browser"), 1200, 1250, "en").await;
    let c = &browser.client;

    c.goto(&serve.url("/admin")).await.unwrap();
    fill(c, "#password", ADMIN_TOKEN).await;
    click(c, "#login button").await;
    click(c, "#pst-link").await;
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#pst-file"))
        .await
        .unwrap()
        .send_keys(&libyal().canonicalize().unwrap().display().to_string())
        .await
        .unwrap();
    fill(c, "#pst-host", "127.0.0.1").await;
    fill(c, "#pst-port", &dest.imap_port().to_string()).await;
    click(c, "#pst-tls option[value=none]").await;
    fill(c, "#pst-email", "alice@example.test").await;
    fill(c, "#pst-user", "alice").await;
    fill(c, "#pst-password", PASSWORD).await;
    click(c, "#pst-button").await;
    let id = c
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("#pst-migration"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(id.len(), 14, "{id}");
    assert!(text(c, "#pst-result .notice").await.starts_with("Started."));
    keep_screenshot(&c.screenshot().await.unwrap(), dir.path(), "admin-pst.png");

    // The link leads to the account, which completes.
    click(c, "#pst-migration").await;
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#migration-id"))
        .await
        .unwrap();
    assert_eq!(text(c, "#migration-id").await, id);
    browser.close().await;
    eventually("the PST's mail arrived", || async {
        messages(&dest).await.get("INBOX").map(Vec::len) == Some(1)
    })
    .await;
    assert_eq!(messages(&dest).await["Recovered_Group2"].len(), 1);
}
