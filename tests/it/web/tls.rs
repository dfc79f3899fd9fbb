//! `serve --tls-cert --tls-key`: the pages over HTTPS, with a certificate
//! openssl makes for the test.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::completed;

/// A child process, killed on drop (a failed assertion included).
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A self-signed certificate for 127.0.0.1 and its key, in `dir`.
fn certificate(dir: &Path) -> (String, String) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl (run scripts/install-deps.sh)");
    assert!(status.success());
    (
        cert.to_str().unwrap().to_owned(),
        key.to_str().unwrap().to_owned(),
    )
}

/// `GET /` over TLS, trusting `cert` only: the answer's text.
async fn get_over_tls(authority: &str, cert: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(cert).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(authority).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await.expect("a TLS handshake");
    tls.write_all(
        format!("GET / HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pages_are_served_over_https_with_the_given_certificate() {
    let (_source, _dest, batch, _id, _email) = completed().await;
    let (cert, key) = certificate(batch.dir.path());
    let state = batch.state().to_str().unwrap().to_owned();
    let serve = |key: &str| {
        let listen = ["serve", "--listen", "127.0.0.1:0", "--state", &state];
        let tls = ["--tls-cert", &cert, "--tls-key", key];
        listen
            .into_iter()
            .chain(tls)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let mut child = Stopped(
        Command::new(env!("CARGO_BIN_EXE_mailshift"))
            .args(serve(&key))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let authority = line
        .trim()
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("not an https URL: {line:?}"))
        .trim_end_matches('/')
        .to_owned();

    let answer = get_over_tls(&authority, &cert).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#"id="lookup""#), "{answer}");

    // Plain HTTP on the same port gets no page.
    let mut plain = tokio::net::TcpStream::connect(&authority).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = plain.read_to_end(&mut raw).await;
    assert!(!String::from_utf8_lossy(&raw).contains("lookup"));
    drop(child);

    // A key that is not one stops `serve`, naming the file.
    let output = crate::cmd::mailshift().args(serve(&cert)).run();
    assert_ne!(output.code, Some(0));
    assert!(output.stderr.contains(&cert), "{}", output.stderr);
}
