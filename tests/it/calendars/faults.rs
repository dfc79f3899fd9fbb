//! The DAV stages when things go wrong: a destination that refuses an
//! object, connections cut in the middle of a multiget and of a PUT.

use mailshift::protocols::caldav::ICALENDAR;

use super::{DavKind, GroupwareRun, Side, calendars, servers};
use crate::proxy::{Faults, Proxy};
use crate::support::calendars::{calendar, seed_source};
use crate::support::groupware::Proxied;

/// An event with a DTEND that is no date-time: Xandikos stores it,
/// Radicale refuses it (400).
const BAD_END: &str = "BEGIN:VEVENT\r\nUID:bad-end@example.test\r\nDTSTAMP:20261101T090000Z\r\n\
     DTSTART:20261201T100000Z\r\nDTEND:2026-12-01\r\nSUMMARY:Bad end\r\nEND:VEVENT\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_object_is_reported_with_the_servers_words_and_not_written_again_until_it_changes()
 {
    let servers = servers(DavKind::Xandikos, DavKind::Radicale);
    let (source, dest) = (servers.source.as_ref(), servers.dest.as_ref());
    let dav = source.calendars("alice");
    seed_source(&dav).await;
    let bad = format!("{}work/bad-end.ics", dav.home());
    dav.put_new(&bad, ICALENDAR, calendar(BAD_END).as_bytes())
        .await
        .unwrap();
    let run = servers.run("calendars");
    run.run()
        .code(1)
        .stdout_has("copied 4, present 0, skipped 0, failed 1");
    let report = run.report().to_string();
    assert!(
        report.contains("answered PUT") && report.contains("with HTTP 400: Bad Request"),
        "{report}"
    );
    // The same version is not written again: it is reported as refused
    // before, and the run no longer fails for it.
    run.run()
        .success()
        .stdout_has("copied 0, present 4, skipped 1, failed 0");
    let report = run.report().to_string();
    assert!(
        report.contains("refused earlier, unchanged: ") && report.contains("HTTP 400"),
        "{report}"
    );
    assert!(
        !calendars(dest).await["Work – Équipe"]
            .objects
            .contains_key("bad-end.ics")
    );
    // Once the source changes it, it is tried again, and goes.
    let fixed = BAD_END.replace("DTEND:2026-12-01", "DTEND:20261201T110000Z");
    dav.put_replace(&bad, ICALENDAR, calendar(&fixed).as_bytes())
        .await
        .unwrap();
    run.run()
        .success()
        .stdout_has("copied 1, present 4, skipped 0, failed 0");
    assert!(
        calendars(dest).await["Work – Équipe"]
            .objects
            .contains_key("bad-end.ics")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_cut_mid_report_and_mid_put_are_retried_without_a_duplicate_radicale_to_xandikos()
 {
    cut_connections(DavKind::Radicale, DavKind::Xandikos).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_cut_mid_report_and_mid_put_are_retried_without_a_duplicate_xandikos_to_radicale()
 {
    cut_connections(DavKind::Xandikos, DavKind::Radicale).await;
}

/// A proxy in front of each server cuts its first connections: the
/// source's once it has sent a few KiB (in the middle of the multiget of
/// the calendar with the attachment), the destination's once it has
/// received a few KiB (in the middle of a PUT). Each cut request is tried
/// again on a new connection; a PUT the server stored before the cut is
/// recognised by its UID. Everything arrives once, and undo removes it.
async fn cut_connections(from: DavKind, to: DavKind) {
    let servers = servers(from, to);
    let (source, dest) = (servers.source.as_ref(), servers.dest.as_ref());
    let dav = source.calendars("alice");
    seed_source(&dav).await;
    // An event larger than anything else either server sends or takes,
    // so that the cuts fall inside its multiget and its PUT.
    dav.put_new(
        &format!("{}work/plans.ics", dav.home()),
        ICALENDAR,
        big_event().as_bytes(),
    )
    .await
    .unwrap();
    let source_calendars = calendars(source).await;
    let cut = |bytes: (Option<u64>, Option<u64>)| Faults {
        server_bytes: bytes.0,
        client_bytes: bytes.1,
        connections: 100,
        max_cuts: Some(2),
    };
    let source_proxy = Proxy::start(source.port(), cut((Some(REPORT_CUT), None)));
    let dest_proxy = Proxy::start(dest.port(), cut((None, Some(PUT_CUT))));
    let through = |server, proxy: &Proxy| Proxied {
        server,
        port: proxy.port(),
    };
    let (source_side, dest_side) = (through(source, &source_proxy), through(dest, &dest_proxy));
    let run = GroupwareRun::new(
        Side {
            imap: &servers.imap_source,
            dav: Some(&source_side),
            email: "alice@example.test",
            password: "source-pw",
        },
        Side {
            imap: &servers.imap_dest,
            dav: Some(&dest_side),
            email: "alice@example.test",
            password: "dest-pw",
        },
        "calendars, tasks",
    );
    let output = run.run().success().stdout_has("copied 9,");
    assert!(
        source_proxy.cuts() > 0 && dest_proxy.cuts() > 0,
        "{} {}: {}",
        source_proxy.cuts(),
        dest_proxy.cuts(),
        output.stderr
    );
    assert!(
        output.stderr.contains("retrying REPORT"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("retrying PUT"), "{}", output.stderr);
    let after = calendars(dest).await;
    for (name, original) in &source_calendars {
        assert_eq!(
            after[name].objects.keys().collect::<Vec<_>>(),
            original.objects.keys().collect::<Vec<_>>(),
            "{name}"
        );
    }
    run.run().success().stdout_has("copied 0,");
    run.undo()
        .success()
        .stdout_has("Calendars: 9 calendar objects deleted, 3 calendars deleted");
    assert!(calendars(dest).await.is_empty());
}

/// An event of about 30 KiB: 800 comments.
fn big_event() -> String {
    let comments: String = (0..800)
        .map(|room| format!("COMMENT:Floor plan of room {room}\r\n"))
        .collect();
    calendar(&format!(
        "BEGIN:VEVENT\r\nUID:plans@example.test\r\nDTSTAMP:20261101T090000Z\r\n\
         DTSTART:20261215T090000Z\r\nDURATION:PT1H\r\nSUMMARY:Office plans\r\n\
         {comments}END:VEVENT\r\n"
    ))
}

/// Bytes a source connection carries before it is cut: past discovery and
/// listings, inside the multiget of the calendar with the attachment.
const REPORT_CUT: u64 = 12_000;

/// Bytes a destination connection takes before it is cut: inside a PUT.
const PUT_CUT: u64 = 12_000;
