//! The recurrence pattern of [MS-OXOCAL] 2.2.1.44.1 (`RecurrencePattern`,
//! which a task's `PidLidTaskRecurrence` holds alone) and its RRULE.
//!
//! Times in a pattern are wall-clock times of the item's zone, in minutes
//! since 1601-01-01; the dates of deleted instances are midnights.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};

use super::IcalError;
use super::bytes::Reader;

const WHAT: &str = "recurrence pattern";

/// `RecurFrequency`.
const DAILY: u16 = 0x200A;
const WEEKLY: u16 = 0x200B;
const MONTHLY: u16 = 0x200C;
const YEARLY: u16 = 0x200D;

/// `EndType`.
const END_AFTER_DATE: u32 = 0x2021;
const END_AFTER_COUNT: u32 = 0x2022;
const NEVER_END: u32 = 0x2023;
/// Some writers say "never" with all bits set.
const NEVER_END_TOO: u32 = 0xFFFF_FFFF;

/// Calendar types whose months are not the Gregorian ones (Hijri,
/// Hebrew, Umm al-Qura, the East Asian lunar calendars): an RRULE cannot
/// say "the 3rd of Nisan" without RFC 7529, which servers rarely know.
const LUNAR_CALENDARS: [u16; 6] = [6, 8, 14, 15, 16, 20];

/// A parsed `RecurrencePattern`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pattern {
    frequency: u16,
    kind: Kind,
    calendar: u16,
    period: u32,
    end: u32,
    count: u32,
    first_day_of_week: u32,
    /// Original dates of the deleted instances (the modified ones
    /// included), as midnights.
    pub(super) deleted: Vec<u32>,
    /// The date of the first instance.
    pub(super) start_date: u32,
    end_date: u32,
}

/// `PatternType` with its `PatternTypeSpecific` field.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Day,
    /// Days of the week, bit 0 Sunday to bit 6 Saturday.
    Week(u32),
    /// Day of the month; past a month's end, its last day.
    Month(u32),
    /// The `n`th (5 = last) of the days in the mask.
    MonthNth {
        days: u32,
        n: u32,
    },
    MonthEnd,
    /// The Hijri variants (0x000A to 0x000C).
    Hijri,
}

/// Reads a `RecurrencePattern` at the reader's position.
pub(super) fn read_pattern(r: &mut Reader) -> Result<Pattern, IcalError> {
    r.u16("ReaderVersion")?;
    r.u16("WriterVersion")?;
    let frequency = r.u16("RecurFrequency")?;
    let pattern_type = r.u16("PatternType")?;
    let calendar = r.u16("CalendarType")?;
    r.u32("FirstDateTime")?;
    let period = r.u32("Period")?;
    r.u32("SlidingFlag")?;
    let kind = match pattern_type {
        0x0 => Kind::Day,
        0x1 => Kind::Week(r.u32("PatternTypeSpecific")?),
        0x2 => Kind::Month(r.u32("PatternTypeSpecific")?),
        0x3 => Kind::MonthNth {
            days: r.u32("PatternTypeSpecific")?,
            n: r.u32("PatternTypeSpecific")?,
        },
        0x4 => {
            r.u32("PatternTypeSpecific")?;
            Kind::MonthEnd
        }
        0xA | 0xC => {
            r.u32("PatternTypeSpecific")?;
            Kind::Hijri
        }
        0xB => {
            r.take(8, "PatternTypeSpecific")?;
            Kind::Hijri
        }
        other => return Err(invalid(format!("its pattern type {other:#06x} is unknown"))),
    };
    let end = r.u32("EndType")?;
    let count = r.u32("OccurrenceCount")?;
    let first_day_of_week = r.u32("FirstDOW")?;
    let deleted = read_dates(r, "DeletedInstanceDates")?;
    read_dates(r, "ModifiedInstanceDates")?;
    let start_date = r.u32("StartDate")?;
    let end_date = r.u32("EndDate")?;
    Ok(Pattern {
        frequency,
        kind,
        calendar,
        period,
        end,
        count,
        first_day_of_week,
        deleted,
        start_date,
        end_date,
    })
}

/// A count followed by that many dates.
fn read_dates(r: &mut Reader, field: &'static str) -> Result<Vec<u32>, IcalError> {
    let count = r.u32(field)?;
    // The count is not trusted for the allocation: the bytes must be there.
    r.take((count as usize).saturating_mul(4), field)
        .map(|bytes| {
            bytes
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        })
}

fn invalid(reason: String) -> IcalError {
    IcalError::Invalid { what: WHAT, reason }
}

impl Pattern {
    /// The RRULE value. `first` is the date of the first instance (whose
    /// month a yearly pattern repeats); `until` formats the date of the last
    /// one as the UNTIL value the DTSTART's type calls for.
    pub(super) fn rrule(
        &self,
        first: NaiveDate,
        until: impl Fn(NaiveDate) -> String,
    ) -> Result<String, IcalError> {
        let mut parts: Vec<String> = Vec::new();
        let monthly = |parts: &mut Vec<String>, interval: u32| {
            parts.push(interval_part(interval));
        };
        match (self.frequency, self.kind) {
            (DAILY, Kind::Day) => {
                if self.period == 0 || !self.period.is_multiple_of(1440) {
                    return Err(invalid(format!(
                        "a daily period of {} minutes is not whole days",
                        self.period
                    )));
                }
                parts.push("FREQ=DAILY".into());
                parts.push(interval_part(self.period / 1440));
            }
            // "Every weekday" is stored as a daily pattern of the Week type.
            (DAILY | WEEKLY, Kind::Week(days)) => {
                parts.push("FREQ=WEEKLY".into());
                if self.frequency == WEEKLY {
                    parts.push(interval_part(self.period));
                }
                parts.push(format!("BYDAY={}", day_list(days)?));
                parts.push(format!("WKST={}", self.week_start()?));
            }
            (MONTHLY | YEARLY, Kind::Hijri) => {
                return Err(IcalError::Unsupported {
                    what: WHAT,
                    reason: "a Hijri calendar pattern cannot be written as an RRULE".into(),
                });
            }
            (MONTHLY | YEARLY, kind) => {
                if LUNAR_CALENDARS.contains(&self.calendar) {
                    return Err(IcalError::Unsupported {
                        what: WHAT,
                        reason: format!(
                            "calendar type {} is lunar: its months cannot be written as an RRULE",
                            self.calendar
                        ),
                    });
                }
                if self.frequency == MONTHLY {
                    parts.push("FREQ=MONTHLY".into());
                    monthly(&mut parts, self.period);
                } else {
                    parts.push("FREQ=YEARLY".into());
                    monthly(&mut parts, (self.period / 12).max(1));
                    parts.push(format!("BYMONTH={}", first.month()));
                }
                parts.extend(month_days(kind)?);
            }
            (frequency, _) => {
                return Err(invalid(format!(
                    "frequency {frequency:#06x} does not go with its pattern type"
                )));
            }
        }
        match self.end {
            END_AFTER_DATE => parts.push(format!("UNTIL={}", until(minutes(self.end_date).date()))),
            END_AFTER_COUNT => parts.push(format!("COUNT={}", self.count.max(1))),
            NEVER_END | NEVER_END_TOO => {}
            other => return Err(invalid(format!("its end type {other:#010x} is unknown"))),
        }
        parts.retain(|p| !p.is_empty());
        Ok(parts.join(";"))
    }

    fn week_start(&self) -> Result<&'static str, IcalError> {
        WEEKDAYS
            .get(self.first_day_of_week as usize)
            .map(|(_, code)| *code)
            .ok_or_else(|| {
                invalid(format!(
                    "its first day of the week {} is not 0 to 6",
                    self.first_day_of_week
                ))
            })
    }
}

/// `INTERVAL=n`, left out when 1.
fn interval_part(interval: u32) -> String {
    match interval {
        0 | 1 => String::new(),
        n => format!("INTERVAL={n}"),
    }
}

/// The BYMONTHDAY/BYDAY/BYSETPOS parts of a monthly or yearly pattern.
fn month_days(kind: Kind) -> Result<Vec<String>, IcalError> {
    Ok(match kind {
        Kind::Month(31) | Kind::MonthEnd => vec!["BYMONTHDAY=-1".into()],
        // Outlook moves a day past a month's end to its last day: the last
        // of 28..=day that the month has.
        Kind::Month(day @ 29..=30) => {
            let days: Vec<String> = (28..=day).map(|d| d.to_string()).collect();
            vec![
                format!("BYMONTHDAY={}", days.join(",")),
                "BYSETPOS=-1".into(),
            ]
        }
        Kind::Month(day @ 1..=28) => vec![format!("BYMONTHDAY={day}")],
        Kind::Month(day) => return Err(invalid(format!("day {day} of the month is not 1 to 31"))),
        Kind::MonthNth { days, n } => {
            let nth = match n {
                1..=4 => n as i32,
                5 => -1,
                _ => return Err(invalid(format!("week {n} of the month is not 1 to 5"))),
            };
            let list = day_list(days)?;
            if days.count_ones() == 1 {
                vec![format!("BYDAY={nth}{list}")]
            } else {
                vec![format!("BYDAY={list}"), format!("BYSETPOS={nth}")]
            }
        }
        Kind::Day | Kind::Week(_) | Kind::Hijri => {
            return Err(invalid(
                "a monthly frequency with a daily or weekly pattern type".into(),
            ));
        }
    })
}

/// Bit, code and weekday, Sunday first as Outlook numbers them.
const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Sun, "SU"),
    (Weekday::Mon, "MO"),
    (Weekday::Tue, "TU"),
    (Weekday::Wed, "WE"),
    (Weekday::Thu, "TH"),
    (Weekday::Fri, "FR"),
    (Weekday::Sat, "SA"),
];

/// The iCalendar code of a weekday (`MO`).
pub(super) fn weekday_code(day: Weekday) -> &'static str {
    WEEKDAYS[day.num_days_from_sunday() as usize].1
}

/// `MO,WE,FR` from a day mask.
fn day_list(mask: u32) -> Result<String, IcalError> {
    if mask == 0 || mask > 0x7F {
        return Err(invalid(format!(
            "its day mask {mask:#04x} names no weekday"
        )));
    }
    let days: Vec<&str> = WEEKDAYS
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, (_, code))| *code)
        .collect();
    Ok(days.join(","))
}

/// A time in minutes since 1601-01-01.
pub(super) fn minutes(value: u32) -> NaiveDateTime {
    let epoch = NaiveDate::from_ymd_opt(1601, 1, 1).unwrap_or(NaiveDate::MIN);
    // u32 minutes reach the year 9767, well inside chrono's range.
    epoch.and_time(chrono::NaiveTime::MIN) + Duration::minutes(value.into())
}
