//! `mailshift serve` for the web tests: the server as a child process on a
//! free port, a small HTTP/1.1 client for the HTTP-level checks, and
//! headless Chromium driven over WebDriver (Debian's `chromium-driver`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The admin token the served pages are given.
pub const ADMIN_TOKEN: &str = "admin-token-for-tests-7c1f";

/// A running `mailshift serve`, stopped on drop.
pub struct Serve {
    child: Child,
    /// `http://127.0.0.1:PORT`, without a final slash.
    pub base: String,
}

impl Serve {
    /// Serves `state` (reports under `reports`), `burst` lookups at once.
    pub fn start(state: &Path, reports: &Path, burst: u32) -> Serve {
        Serve::start_with(state, reports, burst, &[])
    }

    /// [`Serve::start`] with more of `serve`'s arguments.
    pub fn start_with(state: &Path, reports: &Path, burst: u32, more: &[&str]) -> Serve {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mailshift"));
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(more)
            .arg("--lookup-burst")
            .arg(burst.to_string())
            .arg("--state")
            .arg(state)
            .arg("--reports")
            .arg(reports);
        Serve::spawn(command)
    }

    /// Runs `command` (a `serve`, or a `watch --serve 127.0.0.1:0`) with
    /// the test admin token, and reads the URL it prints first.
    pub fn spawn(mut command: Command) -> Serve {
        let mut child = command
            .args(["--admin-token-env", "MAILSHIFT_TEST_ADMIN_TOKEN"])
            .env("MAILSHIFT_TEST_ADMIN_TOKEN", ADMIN_TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mailshift");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("mailshift prints the pages' URL");
        let base = line.trim().trim_end_matches('/').to_owned();
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "mailshift printed {line:?}"
        );
        Serve { child, base }
    }

    /// The server's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path` with `headers`.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        request(&self.base, "GET", path, headers, None).await
    }

    /// `POST path` with `headers` and a body of `content_type`.
    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        content_type: &str,
        body: &str,
    ) -> Reply {
        self.post_bytes(path, headers, content_type, body.as_bytes())
            .await
    }

    /// [`Serve::post`] with a body of any bytes.
    pub async fn post_bytes(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        content_type: &str,
        body: &[u8],
    ) -> Reply {
        request(
            &self.base,
            "POST",
            path,
            headers,
            Some((content_type, body)),
        )
        .await
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Header names in lower case; repeated headers joined by `\n`.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The `name=value` of the cookie `name` the answer sets.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers.get("set-cookie").and_then(|all| {
            all.lines()
                .filter_map(|c| c.split(';').next())
                .find(|c| c.starts_with(&format!("{name}=")))
                .map(str::to_owned)
        })
    }
}

/// One HTTP/1.1 exchange on a new connection (`Connection: close`).
async fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Reply {
    let authority = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connect to mailshift serve");
    let mut text =
        format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    let bytes = match body {
        Some((content_type, body)) => {
            text.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            ));
            [text.as_bytes(), body].concat()
        }
        None => {
            text.push_str("\r\n");
            text.into_bytes()
        }
    };
    // A server may answer (413) and close before a large body is sent:
    // what it said is read all the same.
    let _ = stream.write_all(&bytes).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let entry = map.entry(name.trim().to_ascii_lowercase()).or_default();
            if !entry.is_empty() {
                entry.push('\n');
            }
            entry.push_str(value.trim());
        }
    }
    let body = if map
        .get("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        unchunk(body)
    } else {
        body.to_owned()
    };
    Reply {
        status,
        headers: map,
        body,
    }
}

/// A chunked body, joined.
fn unchunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// A free port on loopback.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Headless Chromium under chromedriver, stopped on drop.
pub struct Browser {
    driver: Child,
    /// The WebDriver session.
    pub client: Client,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium in a `width`×`height`
    /// window that prefers `language` (`en`, `es`).
    pub async fn start(profile: &Path, width: u32, height: u32, language: &str) -> Browser {
        let port = free_port();
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not listen"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut capabilities = Capabilities::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                    "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                    format!("--lang={language}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": { "intl.accept_languages": language },
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session with headless Chromium");
        Browser { driver, client }
    }
}

impl Browser {
    /// Ends the WebDriver session (and its Chromium).
    pub async fn close(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        let _ = self.driver.kill();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// chromedriver from `PATH` or Debian's place; the test fails without it.
fn chromedriver() -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("chromedriver"))
        .chain([std::path::PathBuf::from("/usr/bin/chromedriver")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("chromedriver not found: run scripts/install-deps.sh"))
}
