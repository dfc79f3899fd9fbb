//! Autodetect through the binary, against a DNS server and an HTTP server
//! started on loopback for each test and serving real-format records and
//! autoconfig documents. Nothing leaves the machine: `MAILSHIFT_DNS`
//! points every DNS question at the local server (which answers NXDOMAIN
//! for names it does not hold) and `MAILSHIFT_AUTOCONFIG_URL` every
//! autoconfig request at the local HTTP server.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, MX, SRV, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use serde_json::Value;

use crate::cmd::{Cmd, mailshift};

/// A DNS server on 127.0.0.1 answering from a fixed zone, over UDP.
pub struct DnsServer {
    pub addr: SocketAddr,
    /// Every question asked, as `name TYPE`.
    pub log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

/// Records by (lower-case absolute name, type).
#[derive(Default, Clone)]
pub struct Zone(HashMap<(String, RecordType), Vec<RData>>);

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("a DNS name")
}

impl Zone {
    fn add(mut self, owner: &str, data: RData) -> Zone {
        let key = (owner.to_ascii_lowercase(), data.record_type());
        self.0.entry(key).or_default().push(data);
        self
    }

    pub fn srv(self, owner: &str, priority: u16, port: u16, target: &str) -> Zone {
        self.add(owner, RData::SRV(SRV::new(priority, 1, port, name(target))))
    }

    pub fn mx(self, owner: &str, preference: u16, exchange: &str) -> Zone {
        self.add(owner, RData::MX(MX::new(preference, name(exchange))))
    }

    pub fn txt(self, owner: &str, text: &str) -> Zone {
        self.add(owner, RData::TXT(TXT::new(vec![text.to_owned()])))
    }

    pub fn a(self, owner: &str, ip: Ipv4Addr) -> Zone {
        self.add(owner, RData::A(A(ip)))
    }
}

impl DnsServer {
    pub fn start(zone: Zone) -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let addr = socket.local_addr().expect("address");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_log, thread_stop) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !thread_stop.load(Ordering::Relaxed) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
                answer.metadata.recursion_desired = query.metadata.recursion_desired;
                answer.metadata.recursion_available = true;
                answer.metadata.authoritative = true;
                answer.add_queries(query.queries.clone());
                for q in &query.queries {
                    let owner = q.name.to_ascii().to_ascii_lowercase();
                    thread_log
                        .lock()
                        .unwrap()
                        .push(format!("{owner} {}", q.query_type));
                    match zone.0.get(&(owner.clone(), q.query_type)) {
                        Some(records) => {
                            for data in records {
                                answer.add_answer(Record::from_rdata(
                                    q.name.clone(),
                                    60,
                                    data.clone(),
                                ));
                            }
                        }
                        None if zone.0.keys().any(|(o, _)| *o == owner) => {}
                        None => answer.metadata.response_code = ResponseCode::NXDomain,
                    }
                }
                if let Ok(bytes) = answer.to_vec() {
                    let _ = socket.send_to(&bytes, peer);
                }
            }
        });
        DnsServer { addr, log, stop }
    }

    /// How many questions named `owner` (any type).
    pub fn asked(&self, owner: &str) -> usize {
        let prefix = format!("{} ", owner.to_ascii_lowercase());
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|q| q.starts_with(&prefix))
            .count()
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// An HTTP/1.1 server on 127.0.0.1 serving documents by `Host` header and
/// path (without the query); anything else is a 404.
pub struct HttpServer {
    pub port: u16,
    /// Every request, as `host path` (path with its query).
    pub log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl HttpServer {
    pub fn start(documents: &[(&str, &str, String)]) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind TCP");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("address").port();
        let docs: HashMap<(String, String), String> = documents
            .iter()
            .map(|(host, path, body)| ((host.to_string(), path.to_string()), body.clone()))
            .collect();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_log, thread_stop) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            while !thread_stop.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let mut host = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((key, value)) = line.split_once(':')
                        && key.eq_ignore_ascii_case("host")
                    {
                        host = value.trim().to_owned();
                    }
                }
                let target = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .to_owned();
                thread_log.lock().unwrap().push(format!("{host} {target}"));
                let path = target.split('?').next().unwrap_or("/").to_owned();
                let (status, body) = match docs.get(&(host, path)) {
                    Some(body) => ("200 OK", body.clone()),
                    None => ("404 Not Found", "not here".to_owned()),
                };
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.flush();
                let _ = stream.read(&mut [0u8; 1]);
            }
        });
        HttpServer { port, log, stop }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many requests were made with this `Host`.
    pub fn requests_for(&self, host: &str) -> usize {
        let prefix = format!("{host} ");
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.starts_with(&prefix))
            .count()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// An autoconfig document with one IMAP server.
pub fn autoconfig_xml(domain: &str, host: &str, port: u16, socket: &str, username: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{domain}">
    <domain>{domain}</domain>
    <displayName>Mail of {domain}</displayName>
    <incomingServer type="imap">
      <hostname>{host}</hostname>
      <port>{port}</port>
      <socketType>{socket}</socketType>
      <username>{username}</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.{domain}</hostname>
      <port>587</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"#
    )
}

/// Points a command's autodetect at the local servers.
pub fn local(cmd: Cmd, dns: &DnsServer, http: &HttpServer) -> Cmd {
    cmd.env("MAILSHIFT_DNS", dns.addr.to_string())
        .env("MAILSHIFT_AUTOCONFIG_URL", http.url())
}

fn detect_json(dns: &DnsServer, http: &HttpServer, emails: &[&str]) -> Vec<Value> {
    let out = local(
        mailshift()
            .arg("detect")
            .args(emails)
            .args(["--format", "json"]),
        dns,
        http,
    )
    .run()
    .success();
    match out.json() {
        Value::Array(answers) => answers,
        other => panic!("not an array: {other}"),
    }
}

#[test]
fn srv_records_only() {
    let zone = Zone::default()
        .srv("_imaps._tcp.srv.test.", 0, 993, "mail.srv.test.")
        .srv("_imap._tcp.srv.test.", 5, 143, "mail.srv.test.")
        .srv("_submission._tcp.srv.test.", 0, 587, "smtp.srv.test.")
        .srv("_caldavs._tcp.srv.test.", 0, 8443, "dav.srv.test.")
        .txt("_caldavs._tcp.srv.test.", "path=/dav/cal/")
        .srv("_carddavs._tcp.srv.test.", 0, 443, "dav.srv.test.")
        .srv("_sieve._tcp.srv.test.", 0, 4190, "mail.srv.test.");
    let dns = DnsServer::start(zone);
    let http = HttpServer::start(&[]);
    let answers = detect_json(&dns, &http, &["ann@srv.test"]);
    let d = &answers[0]["detection"];
    assert_eq!(d["method"], "srv", "{d:#}");
    assert_eq!(d["answered_by"], "_imaps._tcp.srv.test");
    let s = &d["settings"];
    assert_eq!(s["imap"]["host"], "mail.srv.test");
    assert_eq!(s["imap"]["port"], 993);
    assert_eq!(s["imap"]["tls"], "implicit");
    assert_eq!(s["smtp"]["port"], 587);
    assert_eq!(s["smtp"]["tls"], "starttls");
    assert_eq!(s["caldav"], "https://dav.srv.test:8443/dav/cal/");
    assert_eq!(s["carddav"], "https://dav.srv.test/.well-known/carddav");
    assert_eq!(s["sieve"]["port"], 4190);
    // Everything before SRV was asked, and said no.
    let tried: Vec<&str> = d["tried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        tried,
        ["provider_table", "autoconfig", "autoconfig", "autoconfig"]
    );
    assert_eq!(http.requests_for("autoconfig.srv.test"), 1);
    assert_eq!(http.requests_for("srv.test"), 1);
    assert_eq!(http.requests_for("autoconfig.thunderbird.net"), 1);
}

#[test]
fn autoconfig_only_from_the_domain_then_the_well_known_path() {
    let http = HttpServer::start(&[
        (
            "autoconfig.auto.test",
            "/mail/config-v1.1.xml",
            autoconfig_xml(
                "auto.test",
                "imap.auto.test",
                993,
                "SSL",
                "%EMAILLOCALPART%",
            ),
        ),
        (
            "wk.test",
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            autoconfig_xml(
                "wk.test",
                "imap.%EMAILDOMAIN%",
                143,
                "STARTTLS",
                "%EMAILADDRESS%",
            ),
        ),
    ]);
    let dns = DnsServer::start(Zone::default());
    let answers = detect_json(&dns, &http, &["ann@auto.test", "bob@wk.test"]);

    let d = &answers[0]["detection"];
    assert_eq!(d["method"], "autoconfig", "{d:#}");
    assert_eq!(
        d["answered_by"],
        "https://autoconfig.auto.test/mail/config-v1.1.xml"
    );
    assert_eq!(d["settings"]["imap"]["host"], "imap.auto.test");
    assert_eq!(d["settings"]["imap"]["tls"], "implicit");
    assert_eq!(d["settings"]["login"], "ann");
    assert_eq!(d["settings"]["provider"], "Mail of auto.test");

    let d = &answers[1]["detection"];
    assert_eq!(d["method"], "autoconfig", "{d:#}");
    assert!(
        d["answered_by"]
            .as_str()
            .unwrap()
            .starts_with("https://wk.test/.well-known/autoconfig/"),
        "{d:#}"
    );
    assert_eq!(d["settings"]["imap"]["host"], "imap.wk.test");
    assert_eq!(d["settings"]["imap"]["port"], 143);
    assert_eq!(d["settings"]["imap"]["tls"], "starttls");
    assert_eq!(d["settings"]["login"], "bob@wk.test");
    // No DNS was needed for either.
    assert_eq!(dns.asked("_imaps._tcp.auto.test."), 0);
}

#[test]
fn mx_records_only_match_the_provider_table() {
    let zone = Zone::default()
        .mx("hosted.test.", 10, "mx2.mail.ovh.net.")
        .mx("hosted.test.", 1, "mx1.mail.ovh.net.")
        .mx("exchange.test.", 1, "mx1.mail.ovh.net.")
        .srv(
            "_autodiscover._tcp.exchange.test.",
            0,
            443,
            "ex3.mail.ovh.net.",
        )
        .mx("workspace.test.", 1, "aspmx.l.google.com.")
        .mx("other.test.", 1, "mx.other.test.");
    let dns = DnsServer::start(zone);
    let http = HttpServer::start(&[]);
    let answers = detect_json(
        &dns,
        &http,
        &["ann@hosted.test", "bob@exchange.test", "cy@workspace.test"],
    );

    let d = &answers[0]["detection"];
    assert_eq!(d["method"], "mx", "{d:#}");
    assert_eq!(d["answered_by"], "mx1.mail.ovh.net (OVHcloud MX Plan)");
    assert_eq!(d["settings"]["imap"]["host"], "ssl0.ovh.net");
    assert_eq!(d["settings"]["imap"]["port"], 993);

    let d = &answers[1]["detection"];
    assert_eq!(
        d["settings"]["provider"], "OVHcloud Hosted Exchange",
        "{d:#}"
    );
    assert_eq!(d["settings"]["imap"]["host"], "ex3.mail.ovh.net");
    assert_eq!(d["settings"]["smtp"]["tls"], "starttls");

    let d = &answers[2]["detection"];
    assert_eq!(
        d["settings"]["provider"], "Gmail / Google Workspace",
        "{d:#}"
    );
    assert_eq!(d["settings"]["imap"]["host"], "imap.gmail.com");

    // An MX that is nobody's: nothing found, and it says which MX it saw.
    let out = local(mailshift().args(["detect", "dan@other.test"]), &dns, &http)
        .run()
        .code(1);
    assert!(
        out.stdout
            .contains("mx.other.test is not a known provider's"),
        "{}",
        out.stdout
    );
}

#[test]
fn nothing_found_names_everything_tried() {
    let dns = DnsServer::start(Zone::default());
    let http = HttpServer::start(&[]);
    let out = local(
        mailshift().args(["detect", "nobody@void.test"]),
        &dns,
        &http,
    )
    .run()
    .code(1);
    for expected in [
        "no server settings found for void.test",
        "built-in provider table void.test: not a known provider's domain",
        "autoconfig https://autoconfig.void.test/mail/config-v1.1.xml?emailaddress=nobody%40void.test: HTTP 404",
        "autoconfig https://void.test/.well-known/autoconfig/mail/config-v1.1.xml",
        "autoconfig https://autoconfig.thunderbird.net/v1.1/void.test: HTTP 404",
        "DNS SRV _imaps._tcp.void.test, _imap._tcp.void.test, _pop3s._tcp.void.test, _pop3._tcp.void.test: no records",
        "DNS MX void.test: no records",
        "Give the host",
    ] {
        assert!(
            out.stdout.contains(expected),
            "missing {expected:?} in\n{}",
            out.stdout
        );
    }

    // The same as JSON, for programs.
    let out = local(
        mailshift().args(["detect", "nobody@void.test", "--format", "json"]),
        &dns,
        &http,
    )
    .run()
    .code(1);
    let answers = out.json();
    assert_eq!(answers[0]["found"], false);
    assert_eq!(answers[0]["tried"].as_array().unwrap().len(), 6);

    // Not an address at all: an invalid command line.
    local(mailshift().args(["detect", "nobody"]), &dns, &http)
        .run()
        .code(2)
        .stderr_has("is not an email address");
}

#[test]
fn one_lookup_per_domain() {
    let http = HttpServer::start(&[(
        "autoconfig.many.test",
        "/mail/config-v1.1.xml",
        autoconfig_xml("many.test", "imap.many.test", 993, "SSL", "%EMAILADDRESS%"),
    )]);
    let dns = DnsServer::start(Zone::default().mx("srvless.test.", 1, "smtp.google.com."));
    let answers = detect_json(
        &dns,
        &http,
        &[
            "a@many.test",
            "b@many.test",
            "c@MANY.test",
            "d@srvless.test",
            "e@srvless.test",
        ],
    );
    assert!(answers.iter().all(|a| a["found"] == true), "{answers:?}");
    assert_eq!(answers[1]["detection"]["settings"]["login"], "b@many.test");
    assert_eq!(http.requests_for("autoconfig.many.test"), 1);
    assert_eq!(
        dns.asked("srvless.test."),
        1,
        "{:?}",
        dns.log.lock().unwrap()
    );
    assert_eq!(dns.asked("_imaps._tcp.srvless.test."), 1);
}

#[test]
fn a_provider_domain_needs_no_lookup() {
    let dns = DnsServer::start(Zone::default().a("unused.test.", Ipv4Addr::LOCALHOST));
    let http = HttpServer::start(&[]);
    let answers = detect_json(&dns, &http, &["someone@fastmail.com"]);
    let d = &answers[0]["detection"];
    assert_eq!(d["method"], "provider_table");
    assert_eq!(d["settings"]["imap"]["host"], "imap.fastmail.com");
    assert_eq!(d["settings"]["caldav"], "https://caldav.fastmail.com/");
    assert!(dns.log.lock().unwrap().is_empty());
    assert!(http.log.lock().unwrap().is_empty());

    let out = local(
        mailshift().args(["detect", "someone@fastmail.com"]),
        &dns,
        &http,
    )
    .run()
    .success();
    assert!(
        out.stdout
            .contains("found by     built-in provider table Fastmail"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("IMAP         imap.fastmail.com:993 (TLS)")
    );
}
