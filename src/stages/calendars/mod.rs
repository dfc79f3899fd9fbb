//! The `calendars` and `tasks` stages: calendars, events and to-dos over
//! CalDAV (RFC 4791).
//!
//! Every calendar collection of the source's calendar home (from the
//! endpoint's `dav_url`, or discovered) is re-created at the destination
//! with `MKCALENDAR`: display name, colour, description, time zone and
//! supported components (`VEVENT`, `VTODO`). A destination calendar of
//! the same name that accepts the same components is reused instead.
//!
//! `calendars` takes the collections that accept events (or say nothing
//! about components) and copies the objects whose main component is not a
//! `VTODO`: events with their recurrence overrides, alarms and inline
//! attachments (one resource holds them all). `tasks` takes the
//! collections that accept to-dos and copies the `VTODO` objects. A mixed
//! collection is re-created once, with both components, and each stage
//! fills in its own objects.
//!
//! **No invitations.** Each object is written with `SCHEDULE-AGENT=CLIENT`
//! on every ORGANIZER and ATTENDEE (RFC 6638 §7.1): a scheduling server
//! then sends no invitation, update, cancellation or reply for it, and an
//! attendee's own copy is not touched. The rest of the object is kept
//! byte for byte ([`ical::without_scheduling`]).
//!
//! UIDs are kept; checkpoints, re-runs and undo data are those of every
//! WebDAV stage ([`super::dav`]).

pub mod ical;

use super::StageFailure;
use super::dav::{self, Rules};
use crate::plan::StageKind;
use crate::protocols::dav::Collection;
use crate::protocols::dav::discovery::Service;
use crate::stages::context::AccountContext;
use crate::store::batches::StageCounts;

/// Runs the `calendars` or `tasks` stage for one account.
pub async fn run(ctx: &AccountContext, kind: StageKind) -> Result<StageCounts, StageFailure> {
    dav::run(ctx, kind, &RULES).await
}

/// The stage an object belongs to: `tasks` for a `VTODO`, `calendars`
/// for anything else (events, journals).
pub fn stage_of(object: &[u8]) -> StageKind {
    match ical::main_component(object).as_deref() {
        Some("VTODO") => StageKind::Tasks,
        _ => StageKind::Calendars,
    }
}

/// Whether a stage visits a calendar: one that accepts its component, or
/// says nothing about components.
fn visits(calendar: &Collection, kind: StageKind) -> bool {
    let component = if kind == StageKind::Tasks {
        "VTODO"
    } else {
        "VEVENT"
    };
    calendar.components.is_empty()
        || calendar.components.iter().any(|c| c == component)
        || (kind == StageKind::Calendars && calendar.components.iter().any(|c| c == "VJOURNAL"))
}

const RULES: Rules = Rules {
    service: Service::CalDav,
    visits,
    belongs: |object, kind| stage_of(object) == kind,
    prepare: |object, _calendar| ical::without_scheduling(object),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_dos_go_to_tasks_and_the_rest_to_calendars() {
        let todo = b"BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        let event = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:e\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert_eq!(stage_of(todo), StageKind::Tasks);
        assert_eq!(stage_of(event), StageKind::Calendars);
        let with = |components: &[&str]| Collection {
            components: components.iter().map(|c| c.to_string()).collect(),
            ..Collection::default()
        };
        assert!(visits(&with(&[]), StageKind::Tasks));
        assert!(visits(&with(&["VEVENT", "VTODO"]), StageKind::Calendars));
        assert!(!visits(&with(&["VTODO"]), StageKind::Calendars));
        assert!(!visits(&with(&["VEVENT"]), StageKind::Tasks));
    }
}
