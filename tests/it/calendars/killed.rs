//! `kill -9` in the middle of a pass, twice, then a resume: every source
//! event arrives once, the destination's own events (one with a UID the
//! source has too) are left as they were, and undo gives the destination
//! back as it was.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailshift::protocols::caldav::{Collection, ICALENDAR};
use mailshift::protocols::dav::DavClient;

use super::{DavKind, calendars, servers};
use crate::support::calendars::calendar;

#[tokio::test(flavor = "multi_thread")]
async fn a_pass_killed_twice_resumes_exactly_radicale_to_xandikos() {
    killed_twice(DavKind::Radicale, DavKind::Xandikos).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pass_killed_twice_resumes_exactly_xandikos_to_radicale() {
    killed_twice(DavKind::Xandikos, DavKind::Radicale).await;
}

/// Events at the source.
const EVENTS: usize = 90;

fn event(uid: &str, summary: &str) -> String {
    calendar(&format!(
        "BEGIN:VEVENT\r\nUID:{uid}@example.test\r\nDTSTAMP:20261101T090000Z\r\n\
         DTSTART:20261210T090000Z\r\nDURATION:PT1H\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\n"
    ))
}

/// A calendar named Work, holding `events` (name, object). It takes
/// tasks too, as Xandikos's calendars all do: a destination calendar is
/// reused only if it takes every component the source's does.
async fn work_calendar(dav: &DavClient, events: &[(String, String)]) -> String {
    let href = format!("{}work/", dav.home());
    let like = Collection {
        display_name: Some("Work".into()),
        components: vec!["VEVENT".into(), "VTODO".into()],
        ..Collection::default()
    };
    dav.create_calendar(&href, &like).await.unwrap();
    for (name, object) in events {
        dav.put_new(&format!("{href}{name}"), ICALENDAR, object.as_bytes())
            .await
            .unwrap();
    }
    href
}

/// The UIDs of a calendar's objects, each with how many objects have it.
fn uids(objects: &BTreeMap<String, String>) -> BTreeMap<String, usize> {
    let mut all = BTreeMap::new();
    for object in objects.values() {
        let uid = object
            .lines()
            .find_map(|l| l.strip_prefix("UID:"))
            .unwrap()
            .to_owned();
        *all.entry(uid).or_default() += 1;
    }
    all
}

async fn killed_twice(from: DavKind, to: DavKind) {
    let servers = servers(from, to);
    let (source, dest) = (servers.source.as_ref(), servers.dest.as_ref());
    let source_events: Vec<(String, String)> = (0..EVENTS)
        .map(|i| {
            (
                format!("e{i:03}.ics"),
                event(&format!("e{i:03}"), &format!("Meeting {i}")),
            )
        })
        .collect();
    work_calendar(&source.calendars("alice"), &source_events).await;
    // The destination has a Work calendar already: its own stand-up, and
    // one of the source's events under another name.
    let dest_dav = dest.calendars("alice");
    let dest_work = work_calendar(
        &dest_dav,
        &[
            ("standup.ics".into(), event("standup", "Stand-up")),
            ("mine-007.ics".into(), event("e007", "Meeting 7")),
        ],
    )
    .await;
    let before = calendars(dest).await;
    let run = servers.run("calendars, tasks");
    let in_dest = async || dest_dav.items(&dest_work).await.unwrap().len();

    // kill -9 once the first event is there, then once a third are.
    for threshold in [1, EVENTS / 3] {
        let mut child = spawn(&run);
        let started = Instant::now();
        while in_dest().await < 2 + threshold && started.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill().expect("kill -9");
        child.wait().expect("reap");
    }
    assert!(
        in_dest().await < 1 + EVENTS,
        "the kills came before the end"
    );

    run.run().success().stdout_has("skipped 0, failed 0");
    let after = calendars(dest).await;
    let objects = &after["Work"].objects;
    let mut want: BTreeMap<String, usize> = (0..EVENTS)
        .map(|i| (format!("e{i:03}@example.test"), 1))
        .collect();
    want.insert("standup@example.test".into(), 1);
    assert_eq!(uids(objects), want, "every event once");
    for (name, object) in &before["Work"].objects {
        assert_eq!(&objects[name], object, "{name} left as it was");
    }
    assert_eq!(after.len(), 1, "{:?}", after.keys());
    run.run()
        .success()
        .stdout_has(&format!("copied 0, present {EVENTS}, skipped 0, failed 0"));
    run.undo().success();
    assert_eq!(calendars(dest).await, before);
}

/// `mailshift run` of `run`'s manifest in the background, its output
/// dropped: one to kill.
fn spawn(run: &super::GroupwareRun) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mailshift"))
        .arg("run")
        .arg(run.dir.path().join("batch.yaml"))
        .arg("--state")
        .arg(run.state())
        .arg("--reports")
        .arg(run.dir.path().join("reports"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mailshift")
}
