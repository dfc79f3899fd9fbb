//! A task ([MS-OXOTASK]) as a VTODO.
//!
//! Outlook's task status maps to STATUS as follows: not started
//! NEEDS-ACTION, in progress IN-PROCESS, complete COMPLETED, and both
//! "waiting on someone else" and "deferred" NEEDS-ACTION: a deferred task
//! is postponed, not abandoned, so CANCELLED (which clients strike out
//! and hide) would misstate it.
//!
//! A recurring task's pattern (`PidLidTaskRecurrence`) becomes an RRULE
//! anchored on its start date; without a start date, or with a pattern no
//! RRULE can say (a lunar calendar), the RRULE is left out rather than
//! the task. A garbled pattern is an error.

use chrono::Datelike;

use super::IcalError;
use super::bytes::Reader;
use super::common::{self, Trigger, common};
use super::lines::{Lines, When, date_value, utc_value};
use super::recurrence::read_pattern;
use crate::protocols::pst::item::{Key, MapiItem, PSETID_TASK};

/// `PidLidTaskStatus`.
const STATUS: u32 = 0x8101;
/// `PidLidPercentComplete`, 0.0 to 1.0.
const PERCENT_COMPLETE: u32 = 0x8102;
/// `PidLidTaskStartDate`: midnight UTC of the local date.
const START_DATE: u32 = 0x8104;
/// `PidLidTaskDueDate`, the same way.
const DUE_DATE: u32 = 0x8105;
/// `PidLidTaskDateCompleted`.
const DATE_COMPLETED: u32 = 0x810F;
/// `PidLidTaskRecurrence`.
const RECURRENCE: u32 = 0x8116;
/// `PidLidTaskComplete`.
const COMPLETE: u32 = 0x811C;
/// `PidLidTaskFRecurring`.
const RECURRING: u32 = 0x8126;
/// Outlook writes "no date" as 4501-01-01.
const NO_DATE_YEAR: i32 = 4500;

fn task_key(lid: u32) -> Key {
    Key::Lid(PSETID_TASK, lid)
}

/// One iCalendar object holding the task as a VTODO, with `fallback_uid`
/// as its UID (a task has no global object ID).
pub fn task(item: &MapiItem, fallback_uid: &str) -> Result<Vec<u8>, IcalError> {
    let date = |lid| {
        item.time(&task_key(lid))
            .map(|t| t.date_naive())
            .filter(|d| d.year() < NO_DATE_YEAR)
    };
    let due = date(DUE_DATE);
    // A start after the due date would make the VTODO invalid: the due
    // date is the one people act on.
    let start = date(START_DATE).filter(|s| due.is_none_or(|d| *s <= d));
    let rrule = match (item.binary(&task_key(RECURRENCE)), start) {
        (Some(blob), Some(first)) if item.flag(&task_key(RECURRING)) => {
            let pattern = read_pattern(&mut Reader::new("task recurrence pattern", blob))?;
            match pattern.rrule(first, date_value) {
                Ok(rrule) => Some(rrule),
                // The task without its recurrence rather than no task.
                Err(IcalError::Unsupported { .. }) => None,
                Err(e) => return Err(e),
            }
        }
        _ => None,
    };

    let mut lines = Lines::default();
    common::open(&mut lines);
    lines.begin("VTODO");
    let anchor = start
        .or(due)
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc());
    common::identity(&mut lines, item, fallback_uid, anchor);
    if let Some(start) = start {
        lines.when("DTSTART", &When::Date(start));
    }
    if let Some(due) = due {
        lines.when("DUE", &When::Date(due));
    }
    if let Some(rrule) = rrule {
        lines.raw("RRULE", &rrule);
    }
    if let Some(summary) = common::subject(item) {
        lines.text("SUMMARY", summary);
    }
    let complete = item.flag(&task_key(COMPLETE));
    let status = match item.int(&task_key(STATUS)) {
        Some(1) => "IN-PROCESS",
        Some(2) => "COMPLETED",
        None if complete => "COMPLETED",
        _ => "NEEDS-ACTION",
    };
    lines.raw("STATUS", status);
    if let Some(done) = item.float(&task_key(PERCENT_COMPLETE)) {
        let percent = (done * 100.0).round().clamp(0.0, 100.0) as u8;
        lines.raw("PERCENT-COMPLETE", &percent.to_string());
    }
    if let Some(completed) = item
        .time(&task_key(DATE_COMPLETED))
        .filter(|t| t.year() < NO_DATE_YEAR)
    {
        lines.raw("COMPLETED", &utc_value(completed));
    }
    common::details(&mut lines, item);
    if item.flag(&common(common::REMINDER_SET))
        && let Some(at) = item.time(&common(common::REMINDER_TIME))
    {
        let text = common::subject(item).unwrap_or("Reminder");
        common::alarm(&mut lines, Trigger::At(at), text);
    }
    lines.end("VTODO");
    lines.end("VCALENDAR");
    Ok(lines.finish())
}
