//! An appointment as a VEVENT ([MS-OXOCAL] properties, mapped as
//! [MS-OXCICAL] does), with its recurrence, its modified instances as
//! VEVENTs with a RECURRENCE-ID, and the VTIMEZONE its times use.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use super::common::{self, DEFAULT_REMINDER_MINUTES, Trigger, common};
use super::exceptions::{self, AppointmentRecurrence, Exception};
use super::lines::{Lines, When, date_value, param, utc_value};
use super::recurrence::minutes;
use super::timezone::{self, TimeZone};
use super::{IcalError, uid};
use crate::protocols::pst::RecipientKind;
use crate::protocols::pst::item::{Key, MapiItem, PSETID_APPOINTMENT, Value};

/// `PidLidBusyStatus`: 0 free, 1 tentative, 2 busy, 3 out of office, 4
/// working elsewhere.
const BUSY_STATUS: u32 = 0x8205;
/// `PidLidLocation`.
const LOCATION: u32 = 0x8208;
/// `PidLidAppointmentStartWhole`.
const START: u32 = 0x820D;
/// `PidLidAppointmentEndWhole`.
const END: u32 = 0x820E;
/// `PidLidAppointmentSubType`: an all-day event.
const ALL_DAY: u32 = 0x8215;
/// `PidLidAppointmentRecur`.
const RECUR: u32 = 0x8216;
/// `PidLidRecurring`.
const RECURRING: u32 = 0x8223;
/// `PidTagSentRepresentingName`, `...SmtpAddress`, `...EmailAddress`.
const ORGANIZER_NAME: u16 = 0x0042;
const ORGANIZER_SMTP: u16 = 0x5D02;
const ORGANIZER_EMAIL: u16 = 0x0065;
/// `PidTagSenderName`, `PidTagSenderSmtpAddress` and
/// `PidTagSenderEmailAddress`: who sent the meeting request, the
/// organizer or their delegate.
const SENDER_NAME: u16 = 0x0C1A;
const SENDER_SMTP: u16 = 0x5D01;
const SENDER_EMAIL: u16 = 0x0C1F;

fn appointment(lid: u32) -> Key {
    Key::Lid(PSETID_APPOINTMENT, lid)
}

/// One iCalendar object for an appointment: a VEVENT (plus one per
/// modified instance of a recurring one) and the VTIMEZONE it uses. The
/// UID comes from the meeting's global object ID, else `fallback_uid`
/// (see [`derived_uid`](crate::protocols::pst::item::derived_uid)).
pub fn event(item: &MapiItem, fallback_uid: &str) -> Result<Vec<u8>, IcalError> {
    let start = item.time(&appointment(START)).ok_or(IcalError::NoStart)?;
    let end = item
        .time(&appointment(END))
        .filter(|end| *end >= start)
        .unwrap_or(start);
    let recurring = !matches!(item.get(&appointment(RECURRING)), Some(Value::Bool(false)));
    let recurrence = match item.binary(&appointment(RECUR)) {
        Some(blob) if recurring => Some(exceptions::parse(blob)?),
        _ => None,
    };
    let zone = match timezone::of_item(item, recurrence.is_some())? {
        Some(zone) => Some(zone),
        None => recurrence.as_ref().and_then(|r| blob_offset(r, start)),
    };
    let series = Series {
        item,
        uid: uid::of_event(item, fallback_uid),
        zone: zone.as_ref(),
        all_day: item.flag(&appointment(ALL_DAY)),
        start,
    };

    let mut lines = Lines::default();
    common::open(&mut lines);
    if let Some(zone) = &zone {
        zone.write(&mut lines);
    }
    let master = Instance {
        recurrence_id: None,
        start: series.at_instant(start, series.all_day),
        end: series.at_instant(end, series.all_day),
        summary: common::subject(item),
        location: item.text(&appointment(LOCATION)),
        busy: item.int(&appointment(BUSY_STATUS)),
        reminder: item
            .flag(&common(common::REMINDER_SET))
            .then(|| reminder_minutes(item)),
    };
    let rules = match &recurrence {
        Some(r) => series.rules(r)?,
        None => Rules::default(),
    };
    series.write(&mut lines, &master, &rules);
    for exception in recurrence.iter().flat_map(|r| &r.exceptions) {
        let instance = series.exception(exception, &master);
        series.write(&mut lines, &instance, &Rules::default());
    }
    lines.end("VCALENDAR");
    Ok(lines.finish())
}

/// The offset between the recurrence's wall-clock times and UTC, for an
/// appointment that names no zone: the first instance's local start
/// against its instant, to the quarter hour. Writing the instances at
/// this fixed offset keeps them on their weekdays, which UTC would not
/// for a meeting near midnight; the instances on the other side of a
/// daylight saving change are an hour off, which no rule read from the
/// blob alone can avoid.
fn blob_offset(recurrence: &AppointmentRecurrence, start: DateTime<Utc>) -> Option<TimeZone> {
    let local =
        minutes(recurrence.pattern.start_date) + Duration::minutes(recurrence.start_offset.into());
    let offset = (local - start.naive_utc()).num_minutes();
    let offset = ((offset as f64 / 15.0).round() as i64) * 15;
    ((-24 * 60..=24 * 60).contains(&offset) && offset != 0).then(|| TimeZone::fixed(offset as i32))
}

/// `PidLidReminderDelta`, or Outlook's default.
fn reminder_minutes(item: &MapiItem) -> i32 {
    item.int(&common(common::REMINDER_DELTA))
        .unwrap_or(DEFAULT_REMINDER_MINUTES)
}

/// What every VEVENT of the appointment shares.
struct Series<'a> {
    item: &'a MapiItem,
    uid: String,
    /// The zone of its times; `None` is UTC.
    zone: Option<&'a TimeZone>,
    all_day: bool,
    start: DateTime<Utc>,
}

/// The RRULE and EXDATEs of a recurring series' master VEVENT.
#[derive(Default)]
struct Rules {
    rrule: Option<String>,
    exdates: Vec<When>,
}

/// What differs from one VEVENT to the next.
struct Instance<'a> {
    recurrence_id: Option<When>,
    start: When,
    end: When,
    summary: Option<&'a str>,
    location: Option<&'a str>,
    busy: Option<i32>,
    /// Minutes before the start, when a reminder is set.
    reminder: Option<i32>,
}

impl Series<'_> {
    /// An instant as the event writes it: a date for an all-day event (the
    /// local date of the midnight Outlook stores), else a time in the
    /// event's zone, else UTC.
    fn at_instant(&self, instant: DateTime<Utc>, all_day: bool) -> When {
        match (self.zone, all_day) {
            (Some(zone), true) => When::Date(zone.to_local(instant).date()),
            // No zone: the local midnight is the nearest one to the instant
            // (zones lie within 12 hours of UTC, bar a few islands).
            (None, true) => When::Date((instant + Duration::hours(12)).date_naive()),
            (Some(zone), false) => When::Local(zone.to_local(instant), zone.name.clone()),
            (None, false) => When::Utc(instant),
        }
    }

    /// A wall-clock time of the recurrence as the event writes it.
    fn at_local(&self, local: NaiveDateTime, all_day: bool) -> When {
        match (self.zone, all_day) {
            (_, true) => When::Date(local.date()),
            (Some(zone), false) => When::Local(local, zone.name.clone()),
            (None, false) => When::Utc(local.and_utc()),
        }
    }

    /// The RRULE and the EXDATEs of the series.
    fn rules(&self, recurrence: &AppointmentRecurrence) -> Result<Rules, IcalError> {
        let offset = Duration::minutes(recurrence.start_offset.into());
        let first = match self.at_instant(self.start, self.all_day) {
            When::Date(date) => date,
            When::Local(time, _) => time.date(),
            When::Utc(time) => time.date_naive(),
        };
        // UNTIL is the last instance's start: a date, or an instant in UTC.
        let until = |last: NaiveDate| match self
            .at_local(last.and_time(NaiveTime::MIN) + offset, self.all_day)
        {
            When::Date(date) => date_value(date),
            When::Local(time, _) => utc_value(self.zone.map_or(time.and_utc(), |z| z.to_utc(time))),
            When::Utc(time) => utc_value(time),
        };
        let rrule = recurrence.pattern.rrule(first, until)?;
        // A modified instance is deleted too: only the others are EXDATEs.
        let modified = |date: u32| {
            recurrence
                .exceptions
                .iter()
                .any(|e| e.original_start / 1440 == date / 1440)
        };
        let exdates = recurrence
            .pattern
            .deleted
            .iter()
            .filter(|date| !modified(**date))
            .map(|date| self.at_local(minutes(*date) + offset, self.all_day))
            .collect();
        Ok(Rules {
            rrule: Some(rrule),
            exdates,
        })
    }

    /// A modified instance: its own times and overrides, the rest
    /// inherited from the series.
    fn exception<'a>(&self, e: &'a Exception, master: &Instance<'a>) -> Instance<'a> {
        let all_day = e.all_day.unwrap_or(self.all_day);
        let start = minutes(e.start);
        let end = minutes(e.end.max(e.start));
        let end = if all_day && end.date() <= start.date() {
            start + Duration::days(1)
        } else {
            end
        };
        let reminder = match e.reminder_set {
            Some(false) => None,
            Some(true) => Some(master.reminder.unwrap_or(DEFAULT_REMINDER_MINUTES)),
            None => master.reminder,
        };
        let delta = e.reminder_delta.map(|d| d.min(i32::MAX as u32) as i32);
        Instance {
            recurrence_id: Some(self.at_local(minutes(e.original_start), self.all_day)),
            start: self.at_local(start, all_day),
            end: self.at_local(end, all_day),
            summary: e.subject.as_deref().or(master.summary),
            location: e.location.as_deref().or(master.location),
            busy: e.busy_status.map(|b| b as i32).or(master.busy),
            reminder: reminder.map(|r| delta.unwrap_or(r)),
        }
    }

    /// Writes one VEVENT.
    fn write(&self, lines: &mut Lines, instance: &Instance, rules: &Rules) {
        lines.begin("VEVENT");
        common::identity(lines, self.item, &self.uid, Some(self.start));
        if let Some(id) = &instance.recurrence_id {
            lines.when("RECURRENCE-ID", id);
        }
        lines.when("DTSTART", &instance.start);
        let end = match (&instance.start, &instance.end) {
            // An all-day event lasts at least its day (DTEND is exclusive).
            (When::Date(start), When::Date(end)) if end <= start => {
                When::Date(*start + Duration::days(1))
            }
            (_, end) => end.clone(),
        };
        lines.when("DTEND", &end);
        if let Some(rrule) = &rules.rrule {
            lines.raw("RRULE", rrule);
        }
        for exdate in &rules.exdates {
            lines.when("EXDATE", exdate);
        }
        if let Some(summary) = instance.summary {
            lines.text("SUMMARY", summary);
        }
        if let Some(location) = instance.location {
            lines.text("LOCATION", location);
        }
        if let Some(busy) = instance.busy {
            lines.raw("TRANSP", if busy == 0 { "TRANSPARENT" } else { "OPAQUE" });
            let status = match busy {
                0 => "FREE",
                1 => "TENTATIVE",
                3 => "OOF",
                4 => "WORKINGELSEWHERE",
                _ => "BUSY",
            };
            lines.raw("X-MICROSOFT-CDO-BUSYSTATUS", status);
        }
        common::details(lines, self.item);
        self.people(lines);
        if let Some(minutes) = instance.reminder {
            let text = instance.summary.unwrap_or("Reminder");
            common::alarm(lines, Trigger::Before(minutes), text);
        }
        lines.end("VEVENT");
    }

    /// ORGANIZER and ATTENDEEs, each marked `SCHEDULE-AGENT=CLIENT` so
    /// that the server sends no invitation. An appointment without
    /// attendees is not a meeting: it has no organizer either.
    fn people(&self, lines: &mut Lines) {
        let item = self.item;
        if item.attendees.is_empty() {
            return;
        }
        let name = item.text(&Key::Tag(ORGANIZER_NAME));
        // An organizer known by an Exchange address: the SMTP address the
        // file has for them, as the sender or as one of the attendees.
        // The sender only when it is the organizer, not a delegate.
        let same = |other: Option<&str>| match (name, other) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => true,
        };
        let sender = same(item.text(&Key::Tag(SENDER_NAME)));
        let tags: &[u16] = if sender {
            &[ORGANIZER_SMTP, ORGANIZER_EMAIL, SENDER_SMTP, SENDER_EMAIL]
        } else {
            &[ORGANIZER_SMTP, ORGANIZER_EMAIL]
        };
        let email = tags
            .iter()
            .filter_map(|tag| item.text(&Key::Tag(*tag)))
            .find(|e| e.contains('@'))
            .or_else(|| {
                let name = name?;
                item.attendees.iter().find_map(|a| {
                    let address = &a.recipient.address;
                    address
                        .name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                        .then_some(address.email.as_deref()?)
                        .filter(|e| e.contains('@'))
                })
            });
        if email.is_some() || name.is_some() {
            let head = with_name("ORGANIZER;SCHEDULE-AGENT=CLIENT", name);
            lines.raw(&head, &cal_address(email));
        }
        for attendee in &item.attendees {
            let address = &attendee.recipient.address;
            let role = match attendee.recipient.kind {
                RecipientKind::To => "ROLE=REQ-PARTICIPANT",
                RecipientKind::Cc => "ROLE=OPT-PARTICIPANT",
                RecipientKind::Bcc => "CUTYPE=RESOURCE;ROLE=NON-PARTICIPANT",
            };
            let status = match attendee.response {
                Some(1 | 3) => "ACCEPTED",
                Some(2) => "TENTATIVE",
                Some(4) => "DECLINED",
                _ => "NEEDS-ACTION",
            };
            let head = format!("ATTENDEE;{role};PARTSTAT={status};SCHEDULE-AGENT=CLIENT");
            let head = with_name(&head, address.name.as_deref());
            let email = address.email.as_deref().filter(|e| e.contains('@'));
            lines.raw(&head, &cal_address(email));
        }
    }
}

/// `head` with a `CN` parameter when there is a name.
fn with_name(head: &str, name: Option<&str>) -> String {
    match name.filter(|n| !n.trim().is_empty()) {
        Some(name) => format!("{head};CN={}", param(name)),
        None => head.to_owned(),
    }
}

/// A `mailto:` URI, or Apple's `invalid:nomail` for a person known only
/// by name (an Exchange-only address), who keeps their CN that way.
fn cal_address(email: Option<&str>) -> String {
    match email {
        Some(email) => format!("mailto:{}", email.trim()),
        None => "invalid:nomail".to_owned(),
    }
}
