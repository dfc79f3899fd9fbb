//! What events and tasks write alike: the VCALENDAR envelope, the
//! item's times, text, class, priority, categories and reminder.

use chrono::{DateTime, Utc};

use super::lines::{Lines, utc_value};
use crate::formats::content_line::escape_text;
use crate::protocols::pst::item::{Key, MapiItem, PSETID_COMMON};
use crate::protocols::pst::props::without_prefix_marker;

/// `PidTagImportance`.
const IMPORTANCE: u16 = 0x0017;
/// `PidTagSensitivity`.
const SENSITIVITY: u16 = 0x0036;
/// `PidTagSubject`.
const SUBJECT: u16 = 0x0037;
/// `PidTagBody`.
const BODY: u16 = 0x1000;
/// `PidTagCreationTime`.
const CREATION_TIME: u16 = 0x3007;
/// `PidTagLastModificationTime`.
const LAST_MODIFICATION_TIME: u16 = 0x3008;
/// `PidLidReminderDelta`: minutes before the start.
pub(super) const REMINDER_DELTA: u32 = 0x8501;
/// `PidLidReminderTime`: when the reminder is due.
pub(super) const REMINDER_TIME: u32 = 0x8502;
/// `PidLidReminderSet`.
pub(super) const REMINDER_SET: u32 = 0x8503;
/// Outlook's reminder when none is recorded.
pub(super) const DEFAULT_REMINDER_MINUTES: i32 = 15;

/// A `PSETID_Common` property's key.
pub(super) fn common(lid: u32) -> Key {
    Key::Lid(PSETID_COMMON, lid)
}

/// Starts the object: `BEGIN:VCALENDAR`, VERSION and PRODID.
pub(super) fn open(lines: &mut Lines) {
    lines.begin("VCALENDAR");
    lines.raw("VERSION", "2.0");
    lines.raw("PRODID", "-//mailshift//PST//EN");
}

/// The item's subject, without the marker of its prefix.
pub(super) fn subject(item: &MapiItem) -> Option<&str> {
    item.text(&Key::Tag(SUBJECT))
        .map(without_prefix_marker)
        .filter(|s| !s.is_empty())
}

/// UID, then DTSTAMP, CREATED and LAST-MODIFIED from the item's own
/// times, never from the clock, so that the same item always gives the
/// same bytes. DTSTAMP is the last change, else the creation, else
/// `otherwise` (the start), else the Unix epoch.
pub(super) fn identity(
    lines: &mut Lines,
    item: &MapiItem,
    uid: &str,
    otherwise: Option<DateTime<Utc>>,
) {
    lines.text("UID", uid);
    let created = item.time(&Key::Tag(CREATION_TIME));
    let modified = item.time(&Key::Tag(LAST_MODIFICATION_TIME));
    let stamp = modified
        .or(created)
        .or(otherwise)
        .unwrap_or(DateTime::UNIX_EPOCH);
    lines.raw("DTSTAMP", &utc_value(stamp));
    if let Some(created) = created {
        lines.raw("CREATED", &utc_value(created));
    }
    if let Some(modified) = modified {
        lines.raw("LAST-MODIFIED", &utc_value(modified));
    }
}

/// DESCRIPTION, CLASS, PRIORITY and CATEGORIES.
pub(super) fn details(lines: &mut Lines, item: &MapiItem) {
    if let Some(body) = item.text(&Key::Tag(BODY)) {
        lines.text("DESCRIPTION", body);
    }
    // Outlook's "personal" (1) has no iCalendar class: private is the
    // closest, as it keeps the item out of shared views.
    let class = item.int(&Key::Tag(SENSITIVITY)).map(|s| match s {
        1 | 2 => "PRIVATE",
        3 => "CONFIDENTIAL",
        _ => "PUBLIC",
    });
    if let Some(class) = class {
        lines.raw("CLASS", class);
    }
    // Importance 0 low, 1 normal, 2 high; PRIORITY 1 is the highest.
    let priority = item.int(&Key::Tag(IMPORTANCE)).and_then(|i| match i {
        0 => Some(9),
        1 => Some(5),
        2 => Some(1),
        _ => None,
    });
    if let Some(priority) = priority {
        lines.raw("PRIORITY", &priority.to_string());
    }
    let categories: Vec<String> = item.categories().map(escape_text).collect();
    if !categories.is_empty() {
        lines.raw("CATEGORIES", &categories.join(","));
    }
}

/// When an alarm rings.
pub(super) enum Trigger {
    /// Minutes before the start.
    Before(i32),
    /// At an instant.
    At(DateTime<Utc>),
}

/// A display VALARM.
pub(super) fn alarm(lines: &mut Lines, trigger: Trigger, description: &str) {
    lines.begin("VALARM");
    lines.raw("ACTION", "DISPLAY");
    match trigger {
        Trigger::Before(minutes) if minutes >= 0 => lines.raw("TRIGGER", &format!("-PT{minutes}M")),
        Trigger::Before(minutes) => lines.raw("TRIGGER", &format!("PT{}M", -minutes)),
        Trigger::At(at) => lines.raw("TRIGGER;VALUE=DATE-TIME", &utc_value(at)),
    }
    lines.text("DESCRIPTION", description);
    lines.end("VALARM");
}
