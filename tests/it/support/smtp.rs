//! A private SMTP receiver for one test: Debian's aiosmtpd on a free
//! loopback port, saving every message it accepts (with its envelope) in a
//! temporary directory, killed when dropped.
//!
//! Recipients whose local part starts with `reject` are refused with 550,
//! those starting with `later` with 451, to exercise error paths.
//!
//! ```no_run
//! let receiver = SmtpReceiver::start(SmtpOptions::default());
//! // send through receiver.config() ...
//! let [(to, bytes)] = &receiver.received()[..] else { panic!() };
//! ```

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mailshift::plan::{Credential, Server};
use mailshift::protocols::smtp::SmtpConfig;
use mailshift::protocols::tls::TlsMode;
use tempfile::TempDir;

/// How the receiver is set up.
#[derive(Debug, Clone, Copy)]
pub struct SmtpOptions<'a> {
    /// `None`: plain SMTP. `StartTls`: STARTTLS offered and required.
    /// `Implicit`: TLS from the first byte. Self-signed certificate.
    pub tls: TlsMode,
    /// Require AUTH (PLAIN or LOGIN) with this user and password.
    pub auth: Option<(&'a str, &'a str)>,
}

impl Default for SmtpOptions<'_> {
    fn default() -> Self {
        SmtpOptions {
            tls: TlsMode::None,
            auth: None,
        }
    }
}

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    /// `MAIL FROM` address.
    pub mail_from: String,
    /// `RCPT TO` addresses, in order.
    pub rcpt_to: Vec<String>,
    /// The login the client authenticated as, if it did.
    pub login: Option<String>,
    /// The message as received (after dot-unstuffing).
    pub data: Vec<u8>,
}

/// A running receiver.
pub struct SmtpReceiver {
    child: Child,
    dir: TempDir,
    port: u16,
    tls: TlsMode,
    auth: Option<(String, String)>,
}

/// The receiver: aiosmtpd's SMTP protocol class on an asyncio server.
const SCRIPT: &str = r#"
import argparse, asyncio, json, os, ssl
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True)
p.add_argument("--user")
p.add_argument("--password")
p.add_argument("--cert")
p.add_argument("--key")
p.add_argument("--implicit", action="store_true")
a = p.parse_args()

class Saver:
    count = 0

    async def handle_RCPT(self, server, session, envelope, address, options):
        local = address.split("@")[0]
        if local.startswith("reject"):
            return "550 5.1.1 No such user here"
        if local.startswith("later"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        Saver.count += 1
        base = os.path.join(a.dir, "%06d" % Saver.count)
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_to": envelope.rcpt_tos,
            "login": getattr(session, "auth_data", None),
        }
        with open(base + ".tmp", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".tmp", base + ".json")
        return "250 2.0.0 Saved"

def authenticator(server, session, envelope, mechanism, data):
    ok = (isinstance(data, LoginPassword)
          and data.login.decode() == a.user and data.password.decode() == a.password)
    return AuthResult(success=ok, handled=False, auth_data=data.login.decode() if ok else None)

async def main():
    ctx = None
    if a.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
    starttls = ctx if ctx is not None and not a.implicit else None
    def factory():
        return SMTP(Saver(), hostname="smtp.test", tls_context=starttls,
                    require_starttls=starttls is not None,
                    authenticator=authenticator if a.user else None,
                    auth_required=a.user is not None,
                    auth_require_tls=starttls is not None, enable_SMTPUTF8=True)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, "127.0.0.1", 0,
                                      ssl=ctx if a.implicit else None)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"#;

/// A Python 3 that has aiosmtpd: Debian's first (a `python3` earlier in
/// `PATH`, e.g. from pyenv, may not see Debian's packages).
fn find_python() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let candidates = std::iter::once(PathBuf::from("/usr/bin/python3"))
        .chain(std::env::split_paths(&path).map(|d| d.join("python3")));
    candidates.filter(|p| p.is_file()).find(|p| {
        Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

impl SmtpReceiver {
    /// Starts a receiver and waits until it listens. Panics if aiosmtpd is
    /// not installed or does not come up.
    pub fn start(options: SmtpOptions<'_>) -> SmtpReceiver {
        let python = find_python()
            .unwrap_or_else(|| panic!("python3-aiosmtpd not found: run scripts/install-deps.sh"));
        let dir = tempfile::Builder::new()
            .prefix("mailshift-smtp-")
            .tempdir()
            .expect("temporary directory");
        let base = dir.path();
        let inbox = base.join("inbox");
        fs::create_dir(&inbox).expect("create the inbox directory");
        let script = base.join("receiver.py");
        fs::write(&script, SCRIPT).expect("write the receiver script");
        let mut command = Command::new(&python);
        command.arg(&script).arg("--dir").arg(&inbox);
        if let Some((user, password)) = options.auth {
            command.args(["--user", user, "--password", password]);
        }
        if options.tls != TlsMode::None {
            make_certificate(base);
            command
                .arg("--cert")
                .arg(base.join("cert.pem"))
                .arg("--key")
                .arg(base.join("key.pem"));
        }
        if options.tls == TlsMode::Implicit {
            command.arg("--implicit");
        }
        let log = fs::File::create(base.join("stderr.log")).expect("create the log");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", python.display()));

        // The script binds port 0 and prints the port it got: no race for
        // a free port.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let Ok(port) = line.trim().parse() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "aiosmtpd did not start: {}",
                fs::read_to_string(base.join("stderr.log")).unwrap_or_default()
            );
        };
        SmtpReceiver {
            child,
            dir,
            port,
            tls: options.tls,
            auth: options.auth.map(|(u, p)| (u.to_owned(), p.to_owned())),
        }
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server as a manifest would describe it.
    pub fn server(&self) -> Server {
        Server {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: self.tls,
            accept_invalid_certs: self.tls != TlsMode::None,
        }
    }

    /// Client settings that work: its TLS mode, and its login if it wants
    /// one.
    pub fn config(&self, from: &str) -> SmtpConfig {
        SmtpConfig {
            server: self.server(),
            from: from.into(),
            user: self.auth.as_ref().map(|(u, _)| u.clone()),
            credential: match &self.auth {
                Some((_, password)) => Credential::Password(password.clone()),
                None => Credential::None,
            },
        }
    }

    /// Every accepted message, in order.
    pub fn messages(&self) -> Vec<Received> {
        let inbox = self.dir.path().join("inbox");
        let mut metas: Vec<PathBuf> = fs::read_dir(&inbox)
            .expect("read the inbox")
            .map(|e| e.expect("inbox entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        metas.sort();
        metas
            .into_iter()
            .map(|meta| {
                let value: serde_json::Value =
                    serde_json::from_slice(&fs::read(&meta).expect("read envelope"))
                        .expect("envelope JSON");
                let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
                Received {
                    mail_from: text(&value["mail_from"]).unwrap_or_default(),
                    rcpt_to: value["rcpt_to"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(text)
                        .collect(),
                    login: text(&value["login"]),
                    data: fs::read(meta.with_extension("eml")).expect("read message"),
                }
            })
            .collect()
    }

    /// Every accepted message as `(envelope recipients, bytes)`.
    pub fn received(&self) -> Vec<(Vec<String>, Vec<u8>)> {
        self.messages()
            .into_iter()
            .map(|m| (m.rcpt_to, m.data))
            .collect()
    }

    /// The receiver's log so far (for assertion messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Parses `message` with Python's `email` package (an independent
    /// MIME implementation): `subject`, `from`, `to`, `date`, `message_id`
    /// decoded, and the decoded text `body` (with `\n` line ends).
    pub fn parse(message: &[u8]) -> serde_json::Value {
        let python = find_python()
            .unwrap_or_else(|| panic!("python3-aiosmtpd not found: run scripts/install-deps.sh"));
        let script = r#"
import email, json, sys
from email import policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.default)
print(json.dumps({
    "subject": str(m["subject"]), "from": str(m["from"]), "to": str(m["to"]),
    "date": str(m["date"]), "message_id": str(m["message-id"]),
    "content_type": m.get_content_type(), "charset": m.get_content_charset(),
    "body": m.get_content().replace("\r\n", "\n"), "defects": [str(d) for d in m.defects],
}))
"#;
        let mut child = Command::new(python)
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run python3");
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().expect("piped stdin");
            stdin.write_all(message).expect("write to python3");
        }
        let out = child.wait_with_output().expect("python3 output");
        assert!(out.status.success(), "python3 could not parse the message");
        serde_json::from_slice(&out.stdout).expect("parser JSON")
    }
}

impl Drop for SmtpReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn make_certificate(dir: &Path) {
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec"])
        .args(["-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .args(["-nodes", "-days", "3650", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .unwrap_or_else(|e| panic!("openssl not found ({e}): run scripts/install-deps.sh"));
    assert!(
        out.status.success(),
        "openssl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
