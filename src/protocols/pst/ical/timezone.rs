//! Outlook's time zones: the `TZDEFINITION` ([MS-OXOCAL] 2.2.1.41) and
//! `TZREG` (2.2.1.39) structures an appointment carries, turned into
//! rules that convert between UTC and wall-clock time ([`vtimezone`]
//! writes them as a VTIMEZONE).
//!
//! A `TZDEFINITION` may hold one rule per range of years (the United
//! States moved their daylight saving dates in 2007): every rule is kept,
//! each in force from its year to the next rule's, the first one for all
//! the years before it too, so that a series that crosses the change has
//! each instance at the right time.
//!
//! [`vtimezone`]: super::vtimezone

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};
use windows_timezones::WindowsTimezone;

use super::IcalError;
use super::bytes::Reader;
use crate::protocols::pst::item::{Key, MapiItem, PSETID_APPOINTMENT};

/// `PidLidAppointmentTimeZoneDefinitionStartDisplay`.
const DEFINITION_START: u32 = 0x825E;
/// `PidLidAppointmentTimeZoneDefinitionRecur`.
const DEFINITION_RECUR: u32 = 0x8260;
/// `PidLidTimeZoneStruct`.
const TIME_ZONE_STRUCT: u32 = 0x8233;
/// `PidLidTimeZoneDescription`.
const TIME_ZONE_DESCRIPTION: u32 = 0x8234;

/// A time zone: its name and its rules.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TimeZone {
    /// The TZID.
    pub(super) name: String,
    /// By the year they take effect, oldest first; never empty.
    pub(super) rules: Vec<Rule>,
}

/// The offsets of a zone from a year on.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Rule {
    /// The first year it is in force (the first rule's also covers the
    /// years before).
    pub(super) from: i32,
    /// Minutes east of UTC outside daylight saving time.
    pub(super) standard: i32,
    pub(super) daylight: Option<Daylight>,
}

/// Daylight saving time.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Daylight {
    /// Minutes east of UTC during daylight saving time.
    pub(super) offset: i32,
    /// When it begins, in standard wall-clock time.
    pub(super) begins: Onset,
    /// When it ends, in daylight wall-clock time.
    pub(super) ends: Onset,
}

/// A yearly change of offset, from a `SYSTEMTIME`: the `week`th (5 is the
/// last) `weekday` of `month`, or a fixed day of the month.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Onset {
    month: u32,
    day: OnsetDay,
    time: NaiveTime,
}

#[derive(Debug, Clone, PartialEq)]
enum OnsetDay {
    Nth { week: u8, weekday: Weekday },
    Fixed(u32),
}

/// The zone an appointment's times are shown in, if it records one. A
/// recurring appointment's recurrence zone comes first, a single one's
/// start zone.
pub(super) fn of_item(item: &MapiItem, recurring: bool) -> Result<Option<TimeZone>, IcalError> {
    let lid = |id| Key::Lid(PSETID_APPOINTMENT, id);
    let order = if recurring {
        [DEFINITION_RECUR, DEFINITION_START]
    } else {
        [DEFINITION_START, DEFINITION_RECUR]
    };
    if let Some(blob) = order.into_iter().find_map(|id| item.binary(&lid(id))) {
        return from_definition(blob).map(Some);
    }
    match item.binary(&lid(TIME_ZONE_STRUCT)) {
        Some(blob) => {
            let name = item.text(&lid(TIME_ZONE_DESCRIPTION));
            from_struct(blob, name).map(Some)
        }
        None => Ok(None),
    }
}

/// The TZID for Outlook's name of a zone: the IANA name CLDR gives a
/// Windows zone (`Romance Standard Time` → `Europe/Paris`), which
/// calendar programs know; else the name itself, made to need no
/// escaping: as TEXT a TZID would escape `;`, `,` and `\\`, but parsers
/// compare it unescaped with the TZID parameters (vobject, which Radicale
/// uses, does), so those become `/`. The VTIMEZONE written with it keeps
/// Outlook's own rules either way.
fn tzid(name: &str) -> String {
    if let Ok(zone) = name.trim().parse::<WindowsTimezone>() {
        return zone.tzdb_id().to_owned();
    }
    let name: String = name
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            ';' | ',' | '\\' => '/',
            '"' => '\'',
            c => c,
        })
        .collect();
    match name.trim() {
        "" => "Outlook time zone".to_owned(),
        name => name.to_owned(),
    }
}

/// Reads a `TZDEFINITION` with all its rules.
pub(super) fn from_definition(blob: &[u8]) -> Result<TimeZone, IcalError> {
    let what = "time zone definition";
    let mut r = Reader::new(what, blob);
    let major = r.u8("MajorVersion")?;
    if major != 2 {
        return Err(IcalError::Invalid {
            what,
            reason: format!("version {major} is not 2"),
        });
    }
    r.u8("MinorVersion")?;
    let header = r.u16("cbHeader")?;
    let rules_at = r.pos() + usize::from(header);
    r.u16("Reserved")?;
    let chars = r.u16("cchKeyName")?;
    let name = r.utf16(usize::from(chars), "KeyName")?;
    let count = r.u16("cRules")?;
    r.seek(rules_at, "TZRule")?;
    let mut rules: Vec<Rule> = Vec::new();
    for _ in 0..count {
        r.take(6, "TZRule header")?;
        let from = r.u16("wYear")?;
        r.take(14, "X")?;
        let rule = read_rule(&mut r, from.into(), false)?;
        rules.push(rule);
    }
    rules.sort_by_key(|rule| rule.from);
    // Of two rules for the same year the later wins; a rule that repeats
    // the one before changes nothing.
    rules.dedup_by(|later, earlier| {
        let same = later.from == earlier.from
            || (later.standard, &later.daylight) == (earlier.standard, &earlier.daylight);
        if later.from == earlier.from {
            std::mem::swap(later, earlier);
        }
        same
    });
    if rules.is_empty() {
        return Err(IcalError::Invalid {
            what,
            reason: "it has no rule".to_owned(),
        });
    }
    Ok(TimeZone {
        name: tzid(&name),
        rules,
    })
}

/// Reads a `TZREG`, named by `PidLidTimeZoneDescription` when there is
/// one.
pub(super) fn from_struct(blob: &[u8], name: Option<&str>) -> Result<TimeZone, IcalError> {
    let mut r = Reader::new("time zone structure", blob);
    Ok(TimeZone {
        name: tzid(name.unwrap_or_default()),
        rules: vec![read_rule(&mut r, 0, true)?],
    })
}

/// The biases and the two `SYSTEMTIME`s that a `TZREG` and a `TZRule`
/// share; a `TZREG` puts a year before each `SYSTEMTIME`.
fn read_rule(r: &mut Reader, from: i32, years: bool) -> Result<Rule, IcalError> {
    let bias = r.i32("lBias")?;
    let standard_bias = r.i32("lStandardBias")?;
    let daylight_bias = r.i32("lDaylightBias")?;
    if years {
        r.u16("wStandardYear")?;
    }
    let to_standard = read_onset(r, "stStandardDate")?;
    if years {
        r.u16("wDaylightYear")?;
    }
    let to_daylight = read_onset(r, "stDaylightDate")?;
    let offset = |extra: i32| -(i64::from(bias) + i64::from(extra));
    let standard = offset(standard_bias);
    let daylight = offset(daylight_bias);
    // Real zones lie within a day of UTC; anything else is a garbled field.
    let valid = |minutes: i64| (-24 * 60..=24 * 60).contains(&minutes);
    if !valid(standard) || !valid(daylight) {
        return Err(IcalError::Invalid {
            what: "time zone rule",
            reason: format!("its bias of {bias} minutes is out of range"),
        });
    }
    let daylight = match (to_standard, to_daylight) {
        (Some(ends), Some(begins)) => Some(Daylight {
            offset: daylight as i32,
            begins,
            ends,
        }),
        _ => None,
    };
    Ok(Rule {
        from,
        standard: standard as i32,
        daylight,
    })
}

/// A `SYSTEMTIME` as an onset; month 0 means the zone has no daylight
/// saving time.
fn read_onset(r: &mut Reader, field: &'static str) -> Result<Option<Onset>, IcalError> {
    let at = r.pos();
    let bytes = r.take(16, field)?;
    let word = |i: usize| u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]);
    let (year, month, weekday, day) = (word(0), word(1), word(2), word(3));
    let (hour, minute, second) = (word(4), word(5), word(6));
    if month == 0 {
        return Ok(None);
    }
    let invalid = || IcalError::Invalid {
        what: "time zone rule",
        reason: format!("the {field} at byte {at} is not a valid date"),
    };
    let time =
        NaiveTime::from_hms_opt(hour.into(), minute.into(), second.into()).ok_or_else(invalid)?;
    let day = if year == 0 {
        let weekday = (weekday < 7)
            .then(|| Weekday::try_from(((weekday + 6) % 7) as u8).ok())
            .flatten()
            .ok_or_else(invalid)?;
        if !(1..=5).contains(&day) {
            return Err(invalid());
        }
        OnsetDay::Nth {
            week: day as u8,
            weekday,
        }
    } else {
        OnsetDay::Fixed(day.into())
    };
    if !(1..=12).contains(&month) || matches!(day, OnsetDay::Fixed(d) if !(1..=31).contains(&d)) {
        return Err(invalid());
    }
    Ok(Some(Onset {
        month: month.into(),
        day,
        time,
    }))
}

impl Onset {
    /// The wall-clock time of the change in `year`.
    pub(super) fn in_year(&self, year: i32) -> NaiveDateTime {
        let date = match self.day {
            OnsetDay::Nth { week, weekday } => nth_weekday(year, self.month, weekday, week),
            OnsetDay::Fixed(day) => (1..=day)
                .rev()
                .find_map(|d| NaiveDate::from_ymd_opt(year, self.month, d)),
        };
        // Month and day were checked when read: a date exists for every year
        // chrono covers, and only a year out of its range could miss.
        date.unwrap_or(NaiveDate::MIN).and_time(self.time)
    }

    /// The yearly RRULE of the change.
    pub(super) fn rrule(&self) -> String {
        match self.day {
            OnsetDay::Nth { week, weekday } => {
                let nth = if week == 5 { -1 } else { i32::from(week) };
                format!(
                    "FREQ=YEARLY;BYMONTH={};BYDAY={nth}{}",
                    self.month,
                    super::recurrence::weekday_code(weekday)
                )
            }
            OnsetDay::Fixed(day) => format!("FREQ=YEARLY;BYMONTH={};BYMONTHDAY={day}", self.month),
        }
    }
}

/// The `n`th `weekday` of a month, 5 meaning the last.
pub(super) fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> Option<NaiveDate> {
    (1..=n.min(5))
        .rev()
        .find_map(|n| NaiveDate::from_weekday_of_month_opt(year, month, weekday, n))
}

impl TimeZone {
    /// A zone at a fixed offset from UTC (minutes east), named after it.
    pub(super) fn fixed(offset: i32) -> TimeZone {
        TimeZone {
            name: format!("UTC{}", super::vtimezone::offset_value(offset)),
            rules: vec![Rule {
                from: 0,
                standard: offset,
                daylight: None,
            }],
        }
    }

    /// The rule in force in `year`.
    fn rule(&self, year: i32) -> &Rule {
        self.rules
            .iter()
            .rev()
            .find(|rule| rule.from <= year)
            .or(self.rules.first())
            // `from_definition` refuses a definition without rules; the
            // other constructors make exactly one.
            .expect("every way to make a zone gives it a rule")
    }

    /// The instant of a wall-clock time.
    pub(super) fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let offset = self.rule(local.year()).offset_at(local);
        (local - Duration::minutes(offset.into())).and_utc()
    }

    /// The wall-clock time of an instant.
    pub(super) fn to_local(&self, utc: DateTime<Utc>) -> NaiveDateTime {
        let naive = utc.naive_utc();
        let guess = naive + Duration::minutes(self.rule(naive.year()).standard.into());
        let rule = self.rule(guess.year());
        let standard = naive + Duration::minutes(rule.standard.into());
        let Some(d) = &rule.daylight else {
            return standard;
        };
        let year = standard.year();
        let begins = d.begins.in_year(year) - Duration::minutes(rule.standard.into());
        let ends = d.ends.in_year(year) - Duration::minutes(d.offset.into());
        if within(naive, begins, ends) {
            naive + Duration::minutes(d.offset.into())
        } else {
            standard
        }
    }
}

impl Rule {
    /// The offset at a wall-clock time of the rule's years.
    pub(super) fn offset_at(&self, local: NaiveDateTime) -> i32 {
        match &self.daylight {
            Some(d) => {
                let year = local.year();
                let inside = within(local, d.begins.in_year(year), d.ends.in_year(year));
                if inside { d.offset } else { self.standard }
            }
            None => self.standard,
        }
    }
}

/// Whether `time` is in daylight saving time that begins and ends at
/// these times of its year: between them, or outside them in the
/// southern hemisphere, where it spans the turn of the year.
fn within(time: NaiveDateTime, begins: NaiveDateTime, ends: NaiveDateTime) -> bool {
    if begins < ends {
        begins <= time && time < ends
    } else {
        time >= begins || time < ends
    }
}

#[cfg(test)]
mod tests {
    use super::tzid;

    #[test]
    fn windows_zone_names_become_iana_names_and_others_stay() {
        assert_eq!(tzid("Romance Standard Time"), "Europe/Paris");
        assert_eq!(tzid(" Pacific Standard Time "), "America/Los_Angeles");
        assert_eq!(tzid("Tokyo Standard Time"), "Asia/Tokyo");
        assert_eq!(
            tzid("(UTC+01:00) Brussels, Paris"),
            "(UTC+01:00) Brussels/ Paris"
        );
        assert_eq!(tzid(""), "Outlook time zone");
    }
}
