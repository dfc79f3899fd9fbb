//! Contacts, distribution lists and appointments of real Outlook files
//! into a real Radicale, counted against `pffexport`.

use std::path::Path;

use tempfile::TempDir;

use super::{oracle, real};
use crate::files::{run, undo};
use crate::pst::destination;
use crate::support::radicale::{Home, Radicale, home};

/// Imports `file` with every groupware option into a fresh Radicale and
/// returns (address books, calendars); a re-run adds nothing and undo
/// takes everything back.
async fn import(file: &str) -> (Home, Home) {
    let pst = real(file);
    let imap = destination();
    let server = Radicale::start(&[("alice", "dest-pw")]);
    let dav = server.client("alice");
    let before = (home(&dav, false).await, home(&dav, true).await);
    let dir = TempDir::new().unwrap();
    let manifest = dir.path().join("batch.yaml");
    std::fs::write(
        &manifest,
        format!(
            "batch: files\naccounts:\n  - source: {{kind: pst, path: \"{}\"}}\n    \
             destination: {{kind: groupware, host: 127.0.0.1, port: {}, tls: none, \
             email: alice@example.test, user: alice, password: dest-pw, dav_url: \"{}\"}}\n    \
             options: [contacts, contact_groups, calendars, tasks]\n",
            pst.display(),
            imap.imap_port(),
            server.home("alice")
        ),
    )
    .unwrap();
    let first = run(dir.path(), &manifest).success();
    assert!(!first.stdout.contains("failed 1"), "{}", first.stdout);
    let after = (home(&dav, false).await, home(&dav, true).await);
    run(dir.path(), &manifest).success().stdout_has("copied 0,");
    assert_eq!((home(&dav, false).await, home(&dav, true).await), after);
    undo(dir.path()).success();
    assert_eq!((home(&dav, false).await, home(&dav, true).await), before);
    after
}

/// How many items other than mail pffexport finds in a folder.
fn pff_items(pst: &Path, folder: &str) -> usize {
    oracle::pffexport(pst)[folder].other
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_real_contacts_without_a_sub_node_tree_arrive() {
    let pst = real("aspose-SampleContacts.pst");
    let (books, _) = import("aspose-SampleContacts.pst").await;
    let (_, cards) = &books["Contacts"];
    assert_eq!(cards.len(), pff_items(&pst, "Contacts"));
    assert_eq!(cards.len(), 6);
    assert!(cards.values().all(|c| c.contains("\nFN:")), "{cards:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_real_distribution_list_arrives_with_its_members() {
    let pst = real("java-libpst-dist-list.pst");
    let (books, calendars) = import("java-libpst-dist-list.pst").await;
    let (_, cards) = &books["Contacts"];
    assert_eq!(cards.len(), pff_items(&pst, "Contacts"));
    let group = crate::pst_groupware::one(cards, "X-ADDRESSBOOKSERVER-KIND:group");
    let members = group
        .lines()
        .filter(|l| l.starts_with("X-ADDRESSBOOKSERVER-MEMBER:"))
        .count();
    assert_eq!(members, 3, "{group}");
    // A member that is a contact of the file points at its card.
    let contact = cards
        .values()
        .find(|c| !c.contains("KIND:group"))
        .expect("the contact");
    let uid = contact
        .lines()
        .find_map(|l| l.strip_prefix("UID:"))
        .expect("a UID");
    assert!(
        group.contains(&format!("urn:uuid:{uid}")),
        "{group}\n{contact}"
    );
    let (_, events) = &calendars["Calendar"];
    assert_eq!(events.len(), pff_items(&pst, "Calendar"));
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_real_appointments_keep_times_recurrence_and_clean_summaries() {
    let (_, calendars) = import("go-pst-32-bit.pst").await;
    let (_, events) = &calendars["Calendar"];
    assert_eq!(events.len(), 1);
    let event = events.values().next().unwrap();
    // Both readers give the subject without Outlook's prefix marker.
    assert!(
        event.contains("\nSUMMARY:Updated: Olympus training for new hires\n"),
        "{event}"
    );
    assert!(!event.contains('\u{1}'));
    assert!(event.contains("\nDTSTART"), "{event}");
    assert!(event.contains("\nDTEND"), "{event}");

    let pst = real("sedatools-ContactCalendar-test.pst");
    let (books, calendars) = import("sedatools-ContactCalendar-test.pst").await;
    let (_, events) = &calendars["Calendrier"];
    assert_eq!(events.len(), pff_items(&pst, "Calendrier"));
    let recurring = events.values().filter(|e| e.contains("\nRRULE:")).count();
    assert!(recurring >= 2, "{events:?}");
    assert!(
        events
            .values()
            .all(|e| !e.contains("invalid:nomail") || !e.contains("@programmevitam.fr")),
        "an organizer with an SMTP address in the file"
    );
    assert_eq!(books["Contacts"].1.len(), pff_items(&pst, "Contacts"));
}
