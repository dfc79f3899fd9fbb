//! Real-world calendars, written by other programs: the test calendars
//! Debian's python3-icalendar package installs (Mozilla and Outlook
//! exports, time zones with RDATEs, recurrences, odd encodings), read from
//! where the package puts them. Each file goes into the source as one
//! object, as far as the source server takes it; the migration must
//! bring every object the source holds to the destination, or report the
//! destination's refusal in its words, and add nothing on a re-run.

use std::path::Path;

use mailshift::protocols::caldav::{Collection, ICALENDAR, PutOutcome};

use super::{DavKind, calendars, canonical, servers};

/// Where python3-icalendar's test calendars are.
const ICALENDAR_TESTS: &str = "/usr/lib/python3/dist-packages/icalendar/tests";

#[tokio::test(flavor = "multi_thread")]
async fn real_world_calendars_go_from_radicale_to_xandikos_or_are_refused_in_the_servers_words() {
    real_world(DavKind::Radicale, DavKind::Xandikos).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn real_world_calendars_go_from_xandikos_to_radicale_or_are_refused_in_the_servers_words() {
    real_world(DavKind::Xandikos, DavKind::Radicale).await;
}

async fn real_world(from: DavKind, to: DavKind) {
    let dir = Path::new(ICALENDAR_TESTS);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}: run scripts/install-deps.sh", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ics"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    let servers = servers(from, to);
    let (source, dest) = (servers.source.as_ref(), servers.dest.as_ref());
    let dav = source.calendars("alice");
    let href = format!("{}imported/", dav.home());
    dav.create_calendar(
        &href,
        &Collection {
            display_name: Some("Imported".into()),
            components: vec!["VEVENT".into(), "VTODO".into()],
            ..Collection::default()
        },
    )
    .await
    .unwrap();
    let mut taken = 0;
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let content = std::fs::read(file).unwrap();
        // A file the source server refuses is not a source object.
        if let Ok(PutOutcome::Created) = dav
            .put_new(&format!("{href}{name}"), ICALENDAR, &content)
            .await
        {
            taken += 1;
        }
    }
    assert!(
        taken >= 5,
        "{} took {taken} of {}",
        source.name(),
        files.len()
    );
    let held = calendars(source).await["Imported"].objects.clone();
    assert_eq!(held.len(), taken);

    let run = servers.run("calendars, tasks");
    let output = run.run();
    let report = run.report();
    let errors = report.to_string();
    let copied = calendars(dest).await;
    let arrived = copied
        .get("Imported")
        .map(|c| c.objects.clone())
        .unwrap_or_default();
    let refused: Vec<&String> = held.keys().filter(|n| !arrived.contains_key(*n)).collect();
    for name in &refused {
        // Reported with the destination's answer.
        assert!(
            errors.contains(&format!("{name}: ")) || errors.contains(name.as_str()),
            "{name} is neither copied nor reported: {errors}"
        );
    }
    assert!(
        output
            .stdout
            .contains(&format!("found {taken}, copied {}", arrived.len())),
        "{}",
        output.stdout
    );
    for (name, object) in &arrived {
        // Servers re-serialise odd parameters their own way (Radicale
        // rewrites a quoted X-TITLE holding line breaks): the properties
        // and the UIDs must be the same.
        assert_eq!(
            property_names(object),
            property_names(&held[name]),
            "{name}"
        );
        assert_eq!(uids(object), uids(&held[name]), "{name}");
        if to == DavKind::Xandikos {
            // Xandikos stores what it is given.
            assert_eq!(
                canonical(&without_added(object), "SCHEDULE-AGENT=CLIENT"),
                canonical(&without_added(&held[name]), "SCHEDULE-AGENT=SERVER"),
                "{name}"
            );
        }
    }
    eprintln!(
        "{} -> {}: {} files, {taken} taken by the source, {} copied, refused: {refused:?}",
        source.name(),
        dest.name(),
        files.len(),
        arrived.len()
    );
    // A re-run writes nothing again, the refused included.
    let again = run.run();
    assert!(again.stdout.contains("copied 0,"), "{}", again.stdout);
    assert!(
        again
            .stdout
            .contains(&format!("skipped {}, failed 0", refused.len())),
        "{}",
        again.stdout
    );
}

/// An object without the lines Radicale adds where a file has none:
/// DTSTAMP (the time it stored it), PRODID and VERSION.
fn without_added(object: &str) -> String {
    object
        .replace("\r\n", "\n")
        .lines()
        .filter(|l| {
            !["DTSTAMP", "PRODID", "VERSION"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The names of an object's property lines (unfolded), sorted, without
/// those Radicale adds.
fn property_names(object: &str) -> Vec<String> {
    let unfolded = without_added(object).replace("\n ", "").replace("\n\t", "");
    let mut names: Vec<String> = unfolded
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split([';', ':'])
                .next()
                .unwrap_or("")
                .to_ascii_uppercase()
        })
        .collect();
    names.sort();
    names
}

/// The UID lines of an object.
fn uids(object: &str) -> Vec<String> {
    object
        .lines()
        .filter(|l| l.starts_with("UID:"))
        .map(|l| l.trim_end().to_owned())
        .collect()
}
