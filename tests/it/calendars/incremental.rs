//! Incremental passes: a source collection that offers the
//! `sync-collection` report (RFC 6578; Radicale and Xandikos both do) is
//! asked only what changed since the token of the last pass, so a pass
//! after one change costs the source a few requests, not a listing of
//! every collection; a token the server no longer accepts means a whole
//! listing, with the same outcome.

use mailshift::protocols::caldav::ICALENDAR;

use super::counting_proxy::CountingProxy;
use super::{DavKind, GroupwareRun, Side, calendars, servers};
use crate::support::calendars::calendar;
use crate::support::groupware::Proxied;

#[tokio::test(flavor = "multi_thread")]
async fn a_second_pass_asks_the_source_only_what_changed_radicale_to_xandikos() {
    incremental(DavKind::Radicale, DavKind::Xandikos).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_pass_asks_the_source_only_what_changed_xandikos_to_radicale() {
    incremental(DavKind::Xandikos, DavKind::Radicale).await;
}

/// An event of the work calendar.
fn event(uid: &str, summary: &str) -> String {
    calendar(&format!(
        "BEGIN:VEVENT\r\nUID:{uid}@example.test\r\nDTSTAMP:20261101T090000Z\r\n\
         DTSTART:20261210T090000Z\r\nDURATION:PT1H\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\n"
    ))
}

async fn incremental(from: DavKind, to: DavKind) {
    let servers = servers(from, to);
    let (source, dest) = (servers.source.as_ref(), servers.dest.as_ref());
    let dav = source.calendars("alice");
    crate::support::calendars::seed_source(&dav).await;
    let work = format!("{}work/", dav.home());
    // The run reads the source through a proxy that counts its requests.
    let proxy = CountingProxy::start(source.port(), std::time::Duration::ZERO);
    let through = Proxied {
        server: source,
        port: proxy.port,
    };
    let run = GroupwareRun::new(
        Side {
            imap: &servers.imap_source,
            dav: Some(&through),
            email: "alice@example.test",
            password: "source-pw",
        },
        Side {
            imap: &servers.imap_dest,
            dav: Some(dest),
            email: "alice@example.test",
            password: "dest-pw",
        },
        "calendars, tasks",
    );
    let requests = |run: &GroupwareRun, expect: &str| {
        let before = proxy.requests();
        run.run().success().stdout_has(expect);
        proxy.requests() - before
    };
    let first = requests(&run, "copied 8, present 0, skipped 0, failed 0");
    let unchanged = requests(&run, "copied 0, present 8, skipped 0, failed 0");
    // The first pass listed and read each of the 2 collections each stage
    // visits (events: work and personal; tasks: to do and personal); with
    // nothing changed, none is listed.
    assert!(first >= unchanged + 2 * 2 * 2, "{first} then {unchanged}");

    // One event added: a sync report and a multiget of one collection,
    // for each stage.
    dav.put_new(
        &format!("{work}late.ics"),
        ICALENDAR,
        event("late", "Late addition").as_bytes(),
    )
    .await
    .unwrap();
    let added = requests(&run, "copied 1, present 8, skipped 0, failed 0");
    assert!(added <= unchanged + 2 * 2, "{added} against {unchanged}");
    // One event changed: written again over the migration's copy.
    dav.put_replace(
        &format!("{work}late.ics"),
        ICALENDAR,
        event("late", "Late addition (moved)").as_bytes(),
    )
    .await
    .unwrap();
    let changed = requests(&run, "copied 1, present 8, skipped 0, failed 0");
    assert!(
        changed <= unchanged + 2 * 2,
        "{changed} against {unchanged}"
    );
    let copy = &calendars(dest).await["Work – Équipe"].objects["late.ics"];
    assert!(copy.contains("SUMMARY:Late addition (moved)"), "{copy}");
    // One event removed at the source: no longer counted, now or later;
    // its copy stays.
    assert!(dav.delete(&format!("{work}offsite.ics")).await.unwrap());
    run.run()
        .success()
        .stdout_has("copied 0, present 8, skipped 0, failed 0");
    run.run()
        .success()
        .stdout_has("copied 0, present 8, skipped 0, failed 0");

    // A token the server does not accept: a whole listing, the same
    // outcome, and a valid token again.
    let conn = rusqlite::Connection::open(run.state()).unwrap();
    let spoilt = conn
        .execute(
            "UPDATE dav_sync_tokens SET token = 'http://example.invalid/sync/0'",
            [],
        )
        .unwrap();
    assert!(spoilt >= 3, "{spoilt} tokens");
    dav.put_new(
        &format!("{work}later.ics"),
        ICALENDAR,
        event("later", "Later addition").as_bytes(),
    )
    .await
    .unwrap();
    run.run()
        .success()
        .stdout_has("copied 1, present 8, skipped 0, failed 0");
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM dav_sync_tokens WHERE token LIKE '%example.invalid%'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
    drop(conn);
    let unchanged_again = requests(&run, "copied 0, present 9, skipped 0, failed 0");
    assert_eq!(unchanged_again, unchanged);

    run.undo()
        .success()
        .stdout_has("Calendars: 10 calendar objects deleted, 3 calendars deleted");
    assert!(calendars(dest).await.is_empty());
}
