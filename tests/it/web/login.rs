//! The admin login of the daemon configuration's `web:` section: the
//! password hash `mailshift hash-password` prints, on the login form; the
//! header of a trusted reverse proxy; the hash shown nowhere.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use super::{completed, cookie_header, form_token};
use crate::support::web::Serve;

const PASSWORD: &str = "correct horse battery staple";

/// `mailshift hash-password` fed `password` on standard input: its
/// standard output.
fn hash_password(password: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailshift"))
        .args(["hash-password", "--iterations", "20000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mailshift hash-password");
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A daemon configuration holding `web`, written in `dir`.
fn config(dir: &Path, web: &str) -> String {
    let path = dir.join(format!("daemon-{}.yaml", web.len()));
    std::fs::write(&path, format!("web:\n{web}")).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Posts `password` to the login form: the answer and the session's
/// cookies.
async fn log_in(serve: &Serve, password: &str) -> (u16, String) {
    let form = serve.get("/admin/login", &[]).await;
    let cookie = cookie_header(&form, "mailshift_csrf");
    let token = form_token(&form.body);
    let reply = serve
        .post(
            "/admin/login",
            &[("Cookie", &cookie)],
            "application/x-www-form-urlencoded",
            &format!("csrf={token}&password={}", password.replace(' ', "+")),
        )
        .await;
    let session = reply
        .cookie("mailshift_admin")
        .map(|admin| format!("{cookie}; {admin}"))
        .unwrap_or(cookie);
    (reply.status, session)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_configured_password_opens_the_dashboard_and_is_never_shown() {
    let (_source, _dest, batch, _id, _email) = completed().await;
    let hash = hash_password(PASSWORD);
    assert!(hash.starts_with("$pbkdf2-sha256$i=20000$"), "{hash}");
    assert_ne!(hash, hash_password(PASSWORD), "every hash has its own salt");
    let path = config(
        batch.dir.path(),
        &format!("  admin_password_hash: \"{hash}\"\n"),
    );
    let serve = Serve::start_with(&batch.state(), &batch.reports(), 1000, &["--config", &path]);

    let (status, session) = log_in(&serve, "correct horse battery stapler").await;
    assert_eq!(status, 401, "a wrong password is refused");
    assert_eq!(
        serve.get("/admin", &[("Cookie", &session)]).await.status,
        303
    );

    let (status, session) = log_in(&serve, PASSWORD).await;
    assert_eq!(status, 303, "the right password opens a session");
    let dashboard = serve.get("/admin", &[("Cookie", &session)]).await;
    assert_eq!(dashboard.status, 200);
    let batch_id = batch.list()[0]["batch_id"].as_str().unwrap().to_owned();
    assert!(dashboard.body.contains(&batch_id));

    // The hash (or any piece of it) appears on no page or API answer.
    let salt = hash.split('$').nth(3).unwrap();
    for path in [
        "/".to_owned(),
        "/admin".to_owned(),
        "/admin/login".to_owned(),
        "/api/v1/batches".to_owned(),
        format!("/admin/batches/{batch_id}"),
    ] {
        let reply = serve.get(&path, &[("Cookie", &session)]).await;
        assert!(!reply.body.contains(salt), "{path} shows the hash");
    }

    // A hash that does not read stops `serve` with the field, not the hash.
    let broken = config(
        batch.dir.path(),
        &format!("  admin_password_hash: \"{}x!\"\n", &hash[..hash.len() - 4]),
    );
    let output = crate::cmd::mailshift()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            &broken,
            "--state",
        ])
        .arg(batch.state())
        .run();
    assert_ne!(output.code, Some(0));
    let stderr = &output.stderr;
    assert!(stderr.contains("admin_password_hash"), "{stderr}");
    assert!(stderr.contains("is not a password hash"), "{stderr}");
    assert!(!stderr.contains(salt), "the hash is quoted: {stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_header_is_believed_from_a_trusted_proxy_only() {
    let (_source, _dest, batch, _id, _email) = completed().await;
    let header = [("X-Remote-User", "ops@example.test")];
    let trusted = config(
        batch.dir.path(),
        "  admin_user_header: X-Remote-User\n  trusted_proxies: [127.0.0.1]\n",
    );
    let serve = Serve::start_with(
        &batch.state(),
        &batch.reports(),
        1000,
        &["--config", &trusted],
    );
    let dashboard = serve.get("/admin", &header).await;
    assert_eq!(dashboard.status, 200, "{}", dashboard.body);
    assert_eq!(serve.get("/api/v1/batches", &header).await.status, 200);
    assert_eq!(
        serve.get("/admin", &[]).await.status,
        303,
        "no header, no entry"
    );

    // The same header from an address that is not a trusted proxy.
    let untrusted = config(
        batch.dir.path(),
        "  admin_user_header: X-Remote-User\n  trusted_proxies: [10.9.8.7]\n",
    );
    let serve = Serve::start_with(
        &batch.state(),
        &batch.reports(),
        1000,
        &["--config", &untrusted],
    );
    assert_eq!(serve.get("/admin", &header).await.status, 303);
    assert_eq!(serve.get("/api/v1/batches", &header).await.status, 401);
}
