//! The IMAP client against a real Dovecot, plus a few scripted servers for
//! what Dovecot will not do on demand (stalls, resets).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailshift::protocols::imap::{
    AppendRequest, Auth, FetchedBody, ImapError, Session, SpecialUse, TlsMode,
};
use mailshift::protocols::{SessionConfig, SessionError};
use mailshift::vocabulary::Server;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::support::{Dovecot, DovecotOptions, init_tracing, message};

const ALICE: &[(&str, &str)] = &[("alice", "s3cret-Pa55")];

fn alice() -> Dovecot {
    init_tracing();
    Dovecot::start(DovecotOptions {
        users: ALICE,
        ..DovecotOptions::default()
    })
}

async fn login(server: &Dovecot) -> Session {
    Session::connect(&server.imap_config("alice"))
        .await
        .unwrap_or_else(|e| panic!("login: {e}\n{}", server.log()))
}

fn request(body: Vec<u8>, flags: &[&str], date: Option<&str>) -> AppendRequest {
    AppendRequest {
        flags: flags.iter().map(|f| f.to_string()).collect(),
        internal_date: date.map(str::to_owned),
        body,
    }
}

#[tokio::test]
async fn login_reads_capabilities_and_namespace() {
    let server = alice();
    let mut session = login(&server).await;
    let caps = session.capabilities().clone();
    assert!(caps.uidplus && caps.literal_plus && caps.condstore && caps.list_extended);
    assert!(caps.special_use && caps.namespace && caps.r#move && caps.esearch);
    assert!(caps.has("IMAP4rev1"));
    assert_eq!(
        session.namespace().await.unwrap(),
        (String::new(), Some('/'))
    );
    session.noop().await.unwrap();
    session.logout().await.unwrap();
}

#[tokio::test]
async fn inbox_prefix_namespace_with_dot_separator() {
    init_tracing();
    let server = Dovecot::start(DovecotOptions {
        users: ALICE,
        separator: '.',
        inbox_prefix: true,
        ..DovecotOptions::default()
    });
    let mut session = login(&server).await;
    assert_eq!(
        session.namespace().await.unwrap(),
        ("INBOX.".to_owned(), Some('.'))
    );
}

#[tokio::test]
async fn wrong_password_names_user_and_server_but_not_the_password() {
    let server = alice();
    let config = SessionConfig {
        auth: Auth::Password("wrong-Horse-battery".into()),
        ..server.imap_config("alice")
    };
    let err = Session::connect(&config).await.unwrap_err();
    assert!(
        matches!(err, ImapError::Session(SessionError::Auth { .. })),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("alice"), "{shown}");
    assert!(
        shown.contains(&format!("127.0.0.1:{}", server.imap_port())),
        "{shown}"
    );
    assert!(!shown.contains("wrong-Horse-battery"), "{shown}");
}

#[tokio::test]
async fn passwords_with_special_characters() {
    init_tracing();
    let users = [("bob", r#"pa"ss\wörd {3}"#)];
    let server = Dovecot::start(DovecotOptions {
        users: &users,
        ..DovecotOptions::default()
    });
    let session = Session::connect(&server.imap_config("bob")).await.unwrap();
    assert_eq!(session.user(), "bob");
}

#[tokio::test]
async fn login_command_when_plain_is_not_offered() {
    // Dovecot ties LOGIN to the PLAIN mechanism, so a scripted server.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let port = fake_server(
        "* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=CRAM-MD5] hi\r\n",
        |mut conn| async move {
            let mut line = String::new();
            conn.read_line(&mut line).await.unwrap();
            conn.get_mut()
                .write_all(b"m1 OK [CAPABILITY IMAP4rev1 UIDPLUS] in\r\n")
                .await
                .unwrap();
            tx.send(line).unwrap();
        },
    )
    .await;
    let config = SessionConfig {
        auth: Auth::Password(r#"pa"ss\word"#.into()),
        ..scripted_config(port, Duration::from_secs(5))
    };
    let session = Session::connect(&config).await.unwrap();
    assert!(session.capabilities().uidplus);
    assert_eq!(rx.await.unwrap(), "m1 LOGIN \"u\" \"pa\\\"ss\\\\word\"\r\n");
}

#[tokio::test]
async fn xoauth2_sends_the_bearer_token_and_reports_refusal() {
    use base64::Engine as _;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let port = fake_server(
        "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] hi\r\n",
        |mut conn| async move {
            let mut line = String::new();
            conn.read_line(&mut line).await.unwrap();
            // The error challenge, which the client must acknowledge.
            conn.get_mut()
                .write_all(b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\n")
                .await
                .unwrap();
            let mut ack = String::new();
            conn.read_line(&mut ack).await.unwrap();
            conn.get_mut()
                .write_all(b"m1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n")
                .await
                .unwrap();
            tx.send((line, ack)).unwrap();
        },
    )
    .await;
    let config = SessionConfig {
        auth: Auth::XOAuth2 {
            token: "ya29.token".into(),
        },
        ..scripted_config(port, Duration::from_secs(5))
    };
    let err = Session::connect(&config).await.unwrap_err();
    assert!(
        matches!(err, ImapError::Session(SessionError::Auth { .. })),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(!format!("{err} {err:?}").contains("ya29"));
    let (line, ack) = rx.await.unwrap();
    let encoded = line
        .trim_end()
        .strip_prefix("m1 AUTHENTICATE XOAUTH2 ")
        .unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(decoded, b"user=u\x01auth=Bearer ya29.token\x01\x01");
    assert_eq!(ack, "\r\n");
}

#[tokio::test]
async fn temporary_login_failure_is_retryable() {
    let port = fake_server(
        "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n",
        |mut conn| async move {
            let tag = next_tag(&mut conn).await;
            let no = format!("{tag} NO [UNAVAILABLE] Temporary authentication failure\r\n");
            conn.get_mut().write_all(no.as_bytes()).await.unwrap();
        },
    )
    .await;
    let err = Session::connect(&scripted_config(port, Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("UNAVAILABLE"), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn bye_greeting_is_retryable() {
    let port = fake_server("* BYE Too many connections\r\n", |_| async {}).await;
    let err = Session::connect(&scripted_config(port, Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(matches!(err, ImapError::Bye { .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn minimal_server_synchronising_literals_and_fallbacks() {
    // No LITERAL+, ESEARCH, LIST-EXTENDED, NAMESPACE, CONDSTORE, STATUS=SIZE.
    init_tracing();
    let server = Dovecot::start(DovecotOptions {
        users: ALICE,
        imap_capability: Some("IMAP4rev1 SASL-IR UIDPLUS"),
        ..DovecotOptions::default()
    });
    let mut session = login(&server).await;
    let caps = session.capabilities().clone();
    assert!(!caps.literal_plus && !caps.esearch && !caps.list_extended && !caps.condstore);
    assert_eq!(
        session.namespace().await.unwrap(),
        (String::new(), Some('/'))
    );

    session.create("Sub/Child").await.unwrap();
    session.create("Été").await.unwrap_err(); // 8-bit names must be encoded
    session
        .create(&mailshift::protocols::imap::utf7::encode("Été"))
        .await
        .unwrap();
    session.subscribe("Sub/Child").await.unwrap();
    let boxes = session.list().await.unwrap();
    let child = boxes.iter().find(|m| m.raw == "Sub/Child").unwrap();
    assert!(child.subscribed);
    assert!(boxes.iter().any(|m| m.name == "Été" && !m.subscribed));

    // Pipelined APPEND with synchronising literals, one of them large.
    let mut completions = Vec::new();
    {
        let mut appender = session.appender("Sub/Child", 16);
        for i in 0..50 {
            let text = if i == 25 {
                "y".repeat(1 << 20)
            } else {
                format!("n{i}")
            };
            let body = message(&format!("sync {i}"), &text);
            completions.extend(
                appender
                    .push(request(body, &["\\Seen"], None))
                    .await
                    .unwrap(),
            );
        }
        completions.extend(appender.finish().await);
    }
    let uids: Vec<u32> = completions
        .iter()
        .map(|c| c.result.as_ref().unwrap().unwrap().uid)
        .collect();
    assert_eq!(uids, (1..=50).collect::<Vec<u32>>());

    let state = session.select("Sub/Child").await.unwrap();
    assert_eq!((state.exists, state.highestmodseq), (50, None));
    assert_eq!(session.uid_search_all().await.unwrap(), uids);
    let metas = session.fetch_meta("1:*").await.unwrap();
    assert_eq!(metas.len(), 50);
    assert!(
        metas
            .iter()
            .all(|m| m.modseq.is_none() && m.flags == ["\\Seen"])
    );
    assert!(session.fetch_meta_since("1:*", Some(1)).await.is_err());
    let status = session.status("Sub/Child").await.unwrap();
    assert_eq!((status.messages, status.size), (50, None));
}

#[tokio::test]
async fn secrets_never_reach_trace_logs() {
    let server = alice();
    let sink = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || LogWriter(writer.clone()))
        .finish();
    // With a single registered subscriber, tracing computes a callsite's
    // interest from the default of whichever thread reaches it first (the
    // no-op one of a parallel test) and caches "never". A second registered
    // subscriber makes it consult all of them; then recompute the cache.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    let mut session = login(&server).await;
    session.list().await.unwrap();
    let bad = SessionConfig {
        auth: Auth::Password("other-Secret-9".into()),
        ..server.imap_config("alice")
    };
    Session::connect(&bad).await.unwrap_err();
    let logs = String::from_utf8(sink.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("AUTHENTICATE <redacted>"), "{logs}");
    assert!(logs.contains("LIST"), "{logs}");
    for secret in ["s3cret-Pa55", "other-Secret-9"] {
        assert!(!logs.contains(secret));
    }
    // Nor their SASL encodings.
    assert!(!logs.contains("YWxpY2U"), "{logs}");
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn starttls_and_implicit_tls_with_self_signed_certificate() {
    init_tracing();
    let server = Dovecot::start(DovecotOptions {
        users: ALICE,
        tls: true,
        ..DovecotOptions::default()
    });
    let mut starttls = Session::connect(&server.starttls_config("alice"))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    starttls.noop().await.unwrap();
    assert!(!starttls.capabilities().has("STARTTLS"));
    let mut implicit = Session::connect(&server.imaps_config("alice"))
        .await
        .unwrap();
    implicit.select("INBOX").await.unwrap();

    // Verification on: the self-signed certificate is refused, for good.
    let mut strict = server.imaps_config("alice");
    strict.server.accept_invalid_certs = false;
    let err = Session::connect(&strict).await.unwrap_err();
    assert!(
        matches!(err, ImapError::Session(SessionError::Connect(_))),
        "{err:?}"
    );
    assert!(!err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn starttls_is_required_when_configured() {
    let server = alice();
    let mut config = server.imap_config("alice");
    config.server.tls = TlsMode::StartTls;
    let err = Session::connect(&config).await.unwrap_err();
    assert!(
        matches!(err, ImapError::Session(SessionError::Unsupported { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn list_reports_special_use_and_subscriptions() {
    init_tracing();
    let server = Dovecot::start(DovecotOptions {
        users: ALICE,
        auto_folders: true,
        ..DovecotOptions::default()
    });
    let mut session = login(&server).await;
    session.create("Projects").await.unwrap();
    session.create("Unsubscribed").await.unwrap();
    session.subscribe("Projects").await.unwrap();
    let boxes = session.list().await.unwrap();
    let find = |name: &str| {
        boxes
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} not in {boxes:#?}"))
    };
    assert_eq!(find("Sent").special_use, Some(SpecialUse::Sent));
    assert_eq!(find("Trash").special_use, Some(SpecialUse::Trash));
    assert_eq!(find("Drafts").special_use, Some(SpecialUse::Drafts));
    assert_eq!(find("Junk").special_use, Some(SpecialUse::Junk));
    assert!(find("Sent").subscribed);
    assert!(find("Projects").subscribed);
    assert!(!find("Unsubscribed").subscribed);
    assert_eq!(find("INBOX").delimiter, Some('/'));
    assert!(boxes.iter().all(|m| !m.noselect));
}

#[tokio::test]
async fn nested_and_international_folders_with_both_separators() {
    init_tracing();
    for (separator, inbox_prefix) in [('/', false), ('.', true), ('.', false)] {
        let server = Dovecot::start(DovecotOptions {
            users: ALICE,
            separator,
            inbox_prefix,
            ..DovecotOptions::default()
        });
        let mut session = login(&server).await;
        let (prefix, delimiter) = session.namespace().await.unwrap();
        assert_eq!(delimiter, Some(separator));
        let sep = separator.to_string();
        let names = [
            format!("{prefix}Work{sep}2024{sep}Q1"),
            format!("{prefix}Reçus{sep}Été"),
            format!("{prefix}日本語"),
            format!("{prefix}A & B"),
            format!("{prefix}My \"quoted\" box"),
        ];
        for name in &names {
            let raw = mailshift::protocols::imap::utf7::encode(name);
            session.create(&raw).await.unwrap();
            // Creating again is not an error.
            session.create(&raw).await.unwrap();
            session.select(&raw).await.unwrap();
        }
        let boxes = session.list().await.unwrap();
        for name in &names {
            let m = boxes
                .iter()
                .find(|m| &m.name == name)
                .unwrap_or_else(|| panic!("{name} not in {boxes:#?}"));
            assert_eq!(m.raw, mailshift::protocols::imap::utf7::encode(name));
            assert_eq!(m.delimiter, Some(separator));
        }
        let parent = boxes
            .iter()
            .find(|m| m.name == format!("{prefix}Work{sep}2024"))
            .expect("parent created");
        assert_eq!(parent.raw, format!("{prefix}Work{sep}2024"));
        let raw = mailshift::protocols::imap::utf7::encode(&names[1]);
        assert!(raw.contains("&AOc-") && raw.contains("&AMk-"), "{raw}");
        session.delete(&raw).await.unwrap();
        assert!(session.list().await.unwrap().iter().all(|m| m.raw != raw));
    }
}

#[tokio::test]
async fn pipelined_append_returns_appenduids_in_order() {
    let server = alice();
    let mut session = login(&server).await;
    session.create("Bulk").await.unwrap();
    let before = session.status("Bulk").await.unwrap();
    let mut completions = Vec::new();
    {
        let mut appender = session.appender("Bulk", 32);
        for i in 0..200 {
            let body = message(&format!("bulk {i}"), &"line of text\r\n".repeat(i % 50));
            let done = appender
                .push(request(body, &["\\Seen"], None))
                .await
                .unwrap();
            assert!(appender.pending() <= 33);
            completions.extend(done);
        }
        completions.extend(appender.finish().await);
    }
    assert_eq!(completions.len(), 200);
    let mut previous = 0;
    for (i, c) in completions.iter().enumerate() {
        assert_eq!(c.index, i as u64);
        let uid = c.result.as_ref().unwrap().expect("APPENDUID");
        assert_eq!(uid.uidvalidity, before.uidvalidity);
        assert!(uid.uid > previous);
        previous = uid.uid;
    }
    let status = session.status("Bulk").await.unwrap();
    assert_eq!(status.messages, 200);
    session.select("Bulk").await.unwrap();
    let uids = session.uid_search_all().await.unwrap();
    let appended: Vec<u32> = completions
        .iter()
        .map(|c| c.result.as_ref().unwrap().unwrap().uid)
        .collect();
    assert_eq!(uids, appended);
}

#[tokio::test]
async fn per_message_refusals_do_not_stop_the_pipeline() {
    init_tracing();
    let server = Dovecot::start(DovecotOptions {
        users: ALICE,
        max_message_size: Some(4000),
        ..DovecotOptions::default()
    });
    let mut session = login(&server).await;
    let mut completions = Vec::new();
    {
        let mut appender = session.appender("INBOX", 8);
        for size in [100, 10_000, 200, 50_000, 300] {
            let body = message("sized", &"x".repeat(size));
            completions.extend(appender.push(request(body, &[], None)).await.unwrap());
        }
        completions.extend(appender.finish().await);
    }
    let outcome: Vec<bool> = completions.iter().map(|c| c.result.is_ok()).collect();
    assert_eq!(outcome, [true, false, true, false, true]);
    let err = completions[1].result.as_ref().unwrap_err();
    assert!(!err.is_retryable(), "{err:?}");
    // The session is still fine.
    assert_eq!(session.select("INBOX").await.unwrap().exists, 3);

    // A missing mailbox: each message is refused (TRYCREATE), nothing hangs.
    let mut appender = session.appender("Missing", 4);
    let mut done = Vec::new();
    for i in 0..6 {
        done.extend(
            appender
                .push(request(message(&i.to_string(), "x"), &[], None))
                .await
                .unwrap(),
        );
    }
    done.extend(appender.finish().await);
    assert_eq!(done.len(), 6);
    for c in &done {
        let err = c.result.as_ref().unwrap_err();
        assert_eq!(err.code(), Some("TRYCREATE"), "{err:?}");
    }
    session.noop().await.unwrap();
}

#[tokio::test]
async fn fetch_bodies_returns_exact_bytes_streaming() {
    let server = alice();
    let mut eight_bit = message("8bit", "").to_vec();
    eight_bit.extend_from_slice("Grüße, café, 日本語\r\n".as_bytes());
    eight_bit.extend_from_slice(b"raw \xff\xfe\x80 bytes\r\n");
    let mut bare_lf = b"Subject: bare\n\nline one\nline two\n".to_vec();
    bare_lf.extend_from_slice(b"mixed\r\nend\n");
    let mut big = message("big", "").to_vec();
    let mut n = 0u32;
    while big.len() < 5 * 1024 * 1024 {
        big.extend_from_slice(
            format!("{n:08} The quick brown fox jumps over the lazy dog.\r\n").as_bytes(),
        );
        n += 1;
    }
    let bodies = vec![eight_bit, bare_lf, big, message("last", "bye")];
    let uids = server.seed_bodies("alice", "INBOX", &bodies).await;

    let mut session = login(&server).await;
    session.examine("INBOX").await.unwrap();
    let mut got = Vec::new();
    session
        .fetch_bodies(&uids, |uid, body| got.push((uid, body)))
        .await
        .unwrap();
    got.sort();
    assert_eq!(got.len(), bodies.len());
    for ((uid, body), (expected_uid, expected)) in got.iter().zip(uids.iter().zip(&bodies)) {
        assert_eq!(uid, expected_uid);
        // 8-bit bytes survive as they are; Dovecot serves bare LFs as CRLF
        // (the client itself keeps every byte: see the scripted test).
        let expected = crlf(expected);
        assert!(
            *body == expected,
            "message {uid} differs ({} vs {} bytes)",
            body.len(),
            expected.len()
        );
    }

    // The channel form, with a small buffer: backpressure, same bytes.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<FetchedBody>(1);
    let consumer = tokio::spawn(async move {
        let mut total = 0;
        while let Some(m) = rx.recv().await {
            total += m.body.len();
        }
        total
    });
    let delivered = session.fetch_bodies_to(&uids, &tx).await.unwrap();
    drop(tx);
    assert_eq!(delivered, 4);
    let expected: usize = bodies.iter().map(|b| crlf(b).len()).sum();
    assert_eq!(consumer.await.unwrap(), expected);
}

/// Bare LFs turned into CRLF, as Dovecot serves messages.
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// The instant an IMAP date-time denotes (Dovecot keeps the instant, not
/// always the zone).
fn instant(date: &str) -> chrono::DateTime<chrono::FixedOffset> {
    let padded = match date.strip_prefix(' ') {
        Some(rest) => format!("0{rest}"),
        None => date.to_owned(),
    };
    chrono::DateTime::parse_from_str(&padded, "%d-%b-%Y %H:%M:%S %z")
        .unwrap_or_else(|e| panic!("{date:?}: {e}"))
}

#[tokio::test]
async fn flags_keywords_and_internaldate_round_trip() {
    let server = alice();
    let mut session = login(&server).await;
    let state = session.select("INBOX").await.unwrap();
    assert!(state.permanent_flags.iter().any(|f| f == "\\*"));
    let body = message("flags", "hello");
    let size = body.len() as u64;
    let mut appender = session
        .appender("INBOX", 4)
        .permanent_flags(state.permanent_flags.clone());
    let mut done = appender
        .push(request(
            body.clone(),
            &[
                "\\Seen",
                "\\Flagged",
                "$Label1",
                "Work",
                "\\Recent",
                "bad flag",
            ],
            Some("17-Jul-1996 02:44:25 -0700"),
        ))
        .await
        .unwrap();
    done.extend(
        appender
            .push(request(
                body.clone(),
                &[],
                Some(" 7-Jan-2020 23:00:00 +0100"),
            ))
            .await
            .unwrap(),
    );
    done.extend(
        appender
            .push(request(body, &[], Some("not a date")))
            .await
            .unwrap(),
    );
    done.extend(appender.finish().await);
    assert!(done.iter().all(|c| c.result.is_ok()), "{done:?}");

    let metas = session.fetch_meta("1:*").await.unwrap();
    assert_eq!(metas.len(), 3);
    let mut flags = metas[0].flags.clone();
    flags.sort();
    assert_eq!(flags, ["$Label1", "Work", "\\Flagged", "\\Seen"]);
    assert_eq!(
        instant(&metas[0].internal_date),
        instant("17-Jul-1996 02:44:25 -0700")
    );
    assert_eq!(
        instant(&metas[1].internal_date),
        instant("07-Jan-2020 23:00:00 +0100")
    );
    assert!(metas[1].flags.is_empty(), "{:?}", metas[1].flags);
    assert_eq!(metas[0].size, size);
    assert!(metas[0].modseq.is_some());

    // CHANGEDSINCE returns only what changed after a mod-sequence.
    let high = metas.iter().filter_map(|m| m.modseq).max().unwrap();
    session
        .uid_store_flags(metas[2].uid, &["\\Answered".to_owned()])
        .await
        .unwrap();
    let changed = session.fetch_meta_since("1:*", Some(high)).await.unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].uid, metas[2].uid);
    assert_eq!(changed[0].flags, ["\\Answered"]);
}

#[tokio::test]
async fn fetch_headers_returns_the_header_block() {
    let server = alice();
    let bodies = [message("one", "first body"), message("two", "second body")];
    let uids = server.seed_bodies("alice", "INBOX", &bodies).await;
    let mut session = login(&server).await;
    session.examine("INBOX").await.unwrap();
    let headers = session.fetch_headers(&uids).await.unwrap();
    assert_eq!(headers.len(), 2);
    for (stored, body) in headers.iter().zip(&bodies) {
        assert!(uids.contains(&stored.uid));
        assert_eq!(stored.size, body.len() as u64);
        assert!(
            mailshift::protocols::imap::is_valid_internal_date(&stored.internal_date),
            "{}",
            stored.internal_date
        );
        let end = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(stored.header.as_slice(), &body[..end]);
    }
}

#[tokio::test]
async fn store_flags_in_batches() {
    let server = alice();
    let bodies: Vec<Vec<u8>> = (0..10).map(|i| message(&format!("m{i}"), "x")).collect();
    let uids = server.seed_bodies("alice", "INBOX", &bodies).await;
    let mut session = login(&server).await;
    session.select("INBOX").await.unwrap();
    let seen = vec!["\\Seen".to_owned()];
    let both = vec!["\\Seen".to_owned(), "$Important".to_owned()];
    let items: Vec<(u32, Vec<String>)> = uids
        .iter()
        .map(|&uid| {
            (
                uid,
                if uid % 2 == 0 {
                    seen.clone()
                } else {
                    both.clone()
                },
            )
        })
        .collect();
    session.uid_store_flags_batch(&items).await.unwrap();
    for meta in session.fetch_meta("1:*").await.unwrap() {
        let mut flags = meta.flags.clone();
        flags.sort();
        if meta.uid % 2 == 0 {
            assert_eq!(flags, ["\\Seen"]);
        } else {
            assert_eq!(flags, ["$Important", "\\Seen"]);
        }
    }
    // Replacing with nothing clears.
    session.uid_store_flags(uids[0], &[]).await.unwrap();
    let metas = session.fetch_meta(&uids[0].to_string()).await.unwrap();
    assert!(metas[0].flags.is_empty());
    assert!(session.fetch_meta("1 OR 2").await.is_err());
}

#[tokio::test]
async fn status_select_examine_and_expunge() {
    let server = alice();
    let bodies: Vec<Vec<u8>> = (0..5).map(|i| message(&format!("s{i}"), "body")).collect();
    let uids = server.seed_bodies("alice", "Box", &bodies).await;
    let mut session = login(&server).await;

    let status = session.status("Box").await.unwrap();
    assert_eq!(status.messages, 5);
    assert_eq!(status.uidnext, uids[4] + 1);
    assert_eq!(
        status.size,
        Some(bodies.iter().map(|b| b.len() as u64).sum())
    );
    assert!(status.highestmodseq.is_some());

    let examined = session.examine("Box").await.unwrap();
    assert!(examined.read_only);
    assert_eq!(examined.exists, 5);
    let state = session.select("Box").await.unwrap();
    assert!(!state.read_only);
    assert_eq!(state.uidvalidity, status.uidvalidity);
    assert_eq!(state.uidnext, status.uidnext);
    assert!(state.highestmodseq.is_some());

    // An unrelated message already marked \Deleted must survive.
    session
        .uid_store_flags(uids[4], &["\\Deleted".to_owned()])
        .await
        .unwrap();
    session.uid_expunge(&uids[0..2]).await.unwrap();
    assert_eq!(session.uid_search_all().await.unwrap(), &uids[2..]);
    assert_eq!(session.uid_search_from(uids[3]).await.unwrap(), &uids[3..]);
    // `n:*` holds the highest UID even above it: none is from there on.
    let past = uids[4] + 1;
    assert!(session.uid_search_from(past).await.unwrap().is_empty());
    assert_eq!(session.status("Box").await.unwrap().messages, 3);

    assert!(session.select("Nope").await.is_err());
    session.noop().await.unwrap();
}

/// A scripted server: sends `greeting`, then runs `script` on the
/// connection. Returns the port.
async fn fake_server<F, Fut>(greeting: &'static str, script: F) -> u16
where
    F: FnOnce(BufReader<tokio::net::TcpStream>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut conn = BufReader::new(stream);
        conn.get_mut().write_all(greeting.as_bytes()).await.unwrap();
        script(conn).await;
    });
    port
}

/// A scripted server that accepts AUTHENTICATE PLAIN, then runs `script`.
async fn scripted<F, Fut>(script: F) -> u16
where
    F: FnOnce(BufReader<tokio::net::TcpStream>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    fake_server(
        "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n",
        |mut conn| async move {
            let tag = next_tag(&mut conn).await;
            let ok = format!("{tag} OK [CAPABILITY IMAP4rev1 UIDPLUS LITERAL+] in\r\n");
            conn.get_mut().write_all(ok.as_bytes()).await.unwrap();
            script(conn).await;
        },
    )
    .await
}

fn scripted_config(port: u16, timeout: Duration) -> SessionConfig {
    let server = Server {
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::None,
        accept_invalid_certs: false,
    };
    server.session("u", Auth::Password("p".into()), timeout)
}

async fn next_tag(conn: &mut BufReader<tokio::net::TcpStream>) -> String {
    let mut line = String::new();
    conn.read_line(&mut line).await.unwrap();
    line.split(' ').next().unwrap().to_owned()
}

#[tokio::test]
async fn slow_but_flowing_literal_does_not_time_out_but_a_stall_does() {
    init_tracing();
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let expected = body.clone();
    let port = scripted(move |mut conn| async move {
        let tag = next_tag(&mut conn).await;
        let head = format!("* 1 FETCH (UID 7 BODY[] {{{}}}\r\n", body.len());
        conn.get_mut().write_all(head.as_bytes()).await.unwrap();
        // 10 chunks, 100 ms apart: 1 s in all, each gap under the timeout.
        for chunk in body.chunks(10_000) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            conn.get_mut().write_all(chunk).await.unwrap();
        }
        let end = format!(")\r\n{tag} OK done\r\n");
        conn.get_mut().write_all(end.as_bytes()).await.unwrap();
        // Second fetch: half a literal, then silence.
        let _tag = next_tag(&mut conn).await;
        conn.get_mut()
            .write_all(b"* 2 FETCH (UID 8 BODY[] {100}\r\n0123456789")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let mut session = Session::connect(&scripted_config(port, Duration::from_millis(400)))
        .await
        .unwrap();
    let mut got = Vec::new();
    session
        .fetch_bodies(&[7], |uid, b| got.push((uid, b)))
        .await
        .unwrap();
    assert_eq!(got, [(7, expected)]);

    let started = std::time::Instant::now();
    let err = session.fetch_bodies(&[8], |_, _| {}).await.unwrap_err();
    assert!(
        matches!(err, ImapError::Session(SessionError::Timeout { .. })),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(3));
    // The session is now unusable, and says so.
    assert!(session.is_broken());
    assert!(session.noop().await.unwrap_err().is_retryable());
}

#[tokio::test]
async fn connection_loss_fails_in_flight_appends_as_retryable() {
    init_tracing();
    let port = scripted(|mut conn| async move {
        // Answer the first APPEND, then drop the connection.
        let mut line = String::new();
        conn.read_line(&mut line).await.unwrap();
        let tag = line.split(' ').next().unwrap().to_owned();
        let mut body = vec![0u8; 0];
        let size: usize = line
            .rsplit('{')
            .next()
            .unwrap()
            .trim_end()
            .trim_end_matches("+}")
            .parse()
            .unwrap();
        body.resize(size + 2, 0);
        tokio::io::AsyncReadExt::read_exact(&mut conn, &mut body)
            .await
            .unwrap();
        let ok = format!("{tag} OK [APPENDUID 9 1] done\r\n");
        conn.get_mut().write_all(ok.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;
    let mut session = Session::connect(&scripted_config(port, Duration::from_secs(5)))
        .await
        .unwrap();
    let mut appender = session.appender("INBOX", 2);
    let mut done = Vec::new();
    let mut refused = None;
    for i in 0..6 {
        match appender
            .push(request(message(&i.to_string(), "x"), &[], None))
            .await
        {
            Ok(c) => done.extend(c),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    done.extend(appender.finish().await);
    assert_eq!(done[0].result.as_ref().unwrap().unwrap().uid, 1);
    assert!(done.len() >= 2, "{done:?}");
    for c in &done[1..] {
        let err = c.result.as_ref().unwrap_err();
        assert!(err.is_retryable() && err.is_connection_lost(), "{err:?}");
    }
    if let Some(e) = refused {
        assert!(e.is_retryable());
    }
    // Indices are contiguous: every accepted request was reported once.
    let indices: Vec<u64> = done.iter().map(|c| c.index).collect();
    assert_eq!(indices, (0..done.len() as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn connect_timeout_and_refused_are_retryable() {
    // Accepts but never greets.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let err = Session::connect(&scripted_config(port, Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ImapError::Session(SessionError::Timeout { .. })),
        "{err:?}"
    );
    assert!(err.is_retryable());
    drop(listener);
    let err = Session::connect(&scripted_config(port, Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}
