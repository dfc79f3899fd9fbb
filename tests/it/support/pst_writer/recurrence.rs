//! Recurring appointments: the AppointmentRecurrencePattern blob of
//! PidLidAppointmentRecur ([MS-OXOCAL] 2.2.1.44) and the time zone blobs
//! of PidLidTimeZoneStruct (2.2.1.39) and of
//! PidLidAppointmentTimeZoneDefinitionRecur (TZDEFINITION, 2.2.1.41).
//!
//! Times in a recurrence are local wall-clock times of the series' zone,
//! counted in minutes from 1601-01-01, as Outlook stores them.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};

use super::ltp::utf16;

/// How a series repeats.
#[derive(Clone, Debug)]
pub enum Pattern {
    /// Every `every` days.
    Daily { every: u32 },
    /// On `days` of every `every`-th week.
    Weekly { every: u32, days: Vec<Weekday> },
    /// On day `day` of every `every`-th month (the month's last day when
    /// it is shorter).
    MonthlyDay { every: u32, day: u32 },
    /// On the `nth` (1 to 4, 5 for the last) of `days` in every
    /// `every`-th month: "the second Tuesday".
    MonthlyNth {
        every: u32,
        nth: u32,
        days: Vec<Weekday>,
    },
    /// Every year on day `day` of the first occurrence's month.
    Yearly { day: u32 },
    /// Every year on the `nth` of `days` in the first occurrence's month.
    YearlyNth { nth: u32, days: Vec<Weekday> },
}

/// When a series ends.
#[derive(Clone, Debug)]
pub enum End {
    /// With the last occurrence on or before this date.
    Date(NaiveDate),
    /// After this many occurrences (deleted ones count).
    Count(u32),
    Never,
}

/// A moved or changed occurrence (an exception).
#[derive(Clone, Debug)]
pub struct Change {
    /// The start it had in the series.
    pub original: NaiveDateTime,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub subject: Option<String>,
    pub location: Option<String>,
}

/// A recurring series.
#[derive(Clone, Debug)]
pub struct Recurrence {
    pub pattern: Pattern,
    /// Start of the first occurrence.
    pub start: NaiveDateTime,
    pub duration: Duration,
    pub end: End,
    /// Dates of occurrences deleted from the series.
    pub deleted: Vec<NaiveDate>,
    pub changed: Vec<Change>,
}

/// Weeks start on Sunday (FirstDOW 0).
const FIRST_DAY: Weekday = Weekday::Sun;
/// EndDate and OccurrenceCount Outlook writes for a series without end.
const NO_END_DATE: u32 = 0x5AE9_80DF;
const NO_END_COUNT: u32 = 10;
/// ExceptionInfo OverrideFlags ([MS-OXOCAL] 2.2.1.44.2).
const ARO_SUBJECT: u16 = 0x0001;
const ARO_LOCATION: u16 = 0x0010;
/// Series longer than this are not expanded when counting occurrences.
const MAX_OCCURRENCES: usize = 5000;

/// Minutes from 1601-01-01 00:00 to `at`.
fn minutes(at: NaiveDateTime) -> u32 {
    let epoch = NaiveDate::from_ymd_opt(1601, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("1601-01-01 is a date");
    u32::try_from((at - epoch).num_minutes()).expect("pst_writer: a date before 1601")
}

fn midnight(date: NaiveDate) -> u32 {
    minutes(date.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

/// The day mask of [MS-OXOCAL] 2.2.1.44.1.2: bit 0 Sunday .. bit 6 Saturday.
fn day_mask(days: &[Weekday]) -> u32 {
    days.iter()
        .fold(0, |mask, d| mask | 1 << d.num_days_from_sunday())
}

/// The first day of the week holding `date`.
fn week_start(date: NaiveDate) -> NaiveDate {
    let offset = (7 + date.weekday().num_days_from_sunday() - FIRST_DAY.num_days_from_sunday()) % 7;
    date - Duration::days(i64::from(offset))
}

/// Months from January 1601 to the month of `date`.
fn month_index(date: NaiveDate) -> u32 {
    (date.year() as u32 - 1601) * 12 + date.month0()
}

/// The first day of month `index` counted from January 1601.
fn month_start(index: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1601 + (index / 12) as i32, index % 12 + 1, 1)
        .expect("a month's first day exists")
}

/// Day `day` of the month starting `first`, or its last day.
fn day_in_month(first: NaiveDate, day: u32) -> NaiveDate {
    let last = first
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .expect("a month has a last day");
    first.with_day(day).unwrap_or(last)
}

/// The `nth` (5: last) day of the month starting `first` among `days`.
fn nth_in_month(first: NaiveDate, nth: u32, days: &[Weekday]) -> Option<NaiveDate> {
    let matching: Vec<NaiveDate> = first
        .iter_days()
        .take_while(|d| d.month() == first.month())
        .filter(|d| days.contains(&d.weekday()))
        .collect();
    if nth >= 5 {
        matching.last().copied()
    } else {
        matching.get(nth as usize - 1).copied()
    }
}

impl Pattern {
    /// RecurFrequency, PatternType, Period and PatternTypeSpecific.
    fn fields(&self) -> (u16, u16, u32, Vec<u32>) {
        match self {
            Pattern::Daily { every } => (0x200A, 0x0000, every * 1440, vec![]),
            Pattern::Weekly { every, days } => (0x200B, 0x0001, *every, vec![day_mask(days)]),
            Pattern::MonthlyDay { every, day } => (0x200C, 0x0002, *every, vec![*day]),
            Pattern::MonthlyNth { every, nth, days } => {
                (0x200C, 0x0003, *every, vec![day_mask(days), *nth])
            }
            Pattern::Yearly { day } => (0x200D, 0x0002, 12, vec![*day]),
            Pattern::YearlyNth { nth, days } => (0x200D, 0x0003, 12, vec![day_mask(days), *nth]),
        }
    }

    /// Occurrence dates from `first` on, in order.
    fn dates(&self, first: NaiveDate) -> Box<dyn Iterator<Item = NaiveDate> + '_> {
        let month = month_index(first);
        let months = move |every: u32| (0..).map(move |k| month_start(month + k * every));
        match self {
            Pattern::Daily { every } => {
                Box::new((0..).map(move |k| first + Duration::days(i64::from(k * every))))
            }
            Pattern::Weekly { every, days } => {
                let week = week_start(first);
                Box::new(
                    (0..)
                        .flat_map(move |k| {
                            let start = week + Duration::weeks(i64::from(k * every));
                            (0..7).map(move |d| start + Duration::days(d))
                        })
                        .filter(move |d| *d >= first && days.contains(&d.weekday())),
                )
            }
            Pattern::MonthlyDay { every, day } => Box::new(
                months(*every)
                    .map(move |m| day_in_month(m, *day))
                    .filter(move |d| *d >= first),
            ),
            Pattern::MonthlyNth { every, nth, days } => Box::new(
                months(*every)
                    .filter_map(move |m| nth_in_month(m, *nth, days))
                    .filter(move |d| *d >= first),
            ),
            Pattern::Yearly { day } => Box::new(
                months(12)
                    .map(move |m| day_in_month(m, *day))
                    .filter(move |d| *d >= first),
            ),
            Pattern::YearlyNth { nth, days } => Box::new(
                months(12)
                    .filter_map(move |m| nth_in_month(m, *nth, days))
                    .filter(move |d| *d >= first),
            ),
        }
    }

    /// FirstDateTime ([MS-OXOCAL] 2.2.1.44.1.1).
    fn first_date_time(&self, start: NaiveDate, period: u32) -> u32 {
        match self {
            Pattern::Daily { .. } => midnight(start) % period,
            Pattern::Weekly { .. } => midnight(week_start(start)) % (period * 10080),
            _ => midnight(month_start(month_index(start) % period)),
        }
    }
}

impl Recurrence {
    /// The dates of the series' occurrences, deleted and moved ones
    /// included (at most 5000 for a series without end).
    pub fn occurrences(&self) -> Vec<NaiveDate> {
        let dates = self.pattern.dates(self.start.date());
        match self.end {
            End::Date(last) => dates.take_while(|d| *d <= last).collect(),
            End::Count(count) => dates.take(count as usize).collect(),
            End::Never => dates.take(MAX_OCCURRENCES).collect(),
        }
    }

    /// The PidLidAppointmentRecur blob, with the ExtendedException part
    /// Outlook 2003 and later write (WriterVersion2 0x3009).
    pub fn blob(&self) -> Vec<u8> {
        let (frequency, pattern_type, period, specific) = self.pattern.fields();
        let occurrences = self.occurrences();
        let first = *occurrences
            .first()
            .expect("pst_writer: a series without occurrences");
        let (end_type, count, end_date) = match self.end {
            End::Date(_) => (0x2021, occurrences.len() as u32, occurrences.last()),
            End::Count(count) => (0x2022, count, occurrences.last()),
            End::Never => (0x2023, NO_END_COUNT, None),
        };
        let end_date = end_date.map_or(NO_END_DATE, |d| midnight(*d));

        let mut out = Vec::new();
        let u16 = |out: &mut Vec<u8>, v: u16| out.extend_from_slice(&v.to_le_bytes());
        let u32 = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());
        u16(&mut out, 0x3004); // ReaderVersion
        u16(&mut out, 0x3004); // WriterVersion
        u16(&mut out, frequency);
        u16(&mut out, pattern_type);
        u16(&mut out, 0); // CalendarType: Gregorian
        u32(&mut out, self.pattern.first_date_time(first, period));
        u32(&mut out, period);
        u32(&mut out, 0); // SlidingFlag
        for value in specific {
            u32(&mut out, value);
        }
        u32(&mut out, end_type);
        u32(&mut out, count);
        u32(&mut out, FIRST_DAY.num_days_from_sunday());
        // Deleted instances are the original dates of deleted and moved
        // occurrences; modified ones the new dates of moved ones.
        let mut deleted: Vec<u32> = self
            .deleted
            .iter()
            .map(|d| midnight(*d))
            .chain(self.changed.iter().map(|c| midnight(c.original.date())))
            .collect();
        deleted.sort_unstable();
        let mut changed = self.changed.clone();
        changed.sort_by_key(|c| c.start);
        u32(&mut out, deleted.len() as u32);
        for date in deleted {
            u32(&mut out, date);
        }
        u32(&mut out, changed.len() as u32);
        for change in &changed {
            u32(&mut out, midnight(change.start.date()));
        }
        u32(&mut out, midnight(first));
        u32(&mut out, end_date);

        // AppointmentRecurrencePattern.
        let start_offset = minutes(self.start) - midnight(self.start.date());
        u32(&mut out, 0x3006); // ReaderVersion2
        u32(&mut out, 0x3009); // WriterVersion2
        u32(&mut out, start_offset);
        u32(&mut out, start_offset + self.duration.num_minutes() as u32);
        u16(&mut out, changed.len() as u16);
        for change in &changed {
            exception_info(&mut out, change);
        }
        u32(&mut out, 0); // ReservedBlock1Size
        for change in &changed {
            extended_exception(&mut out, change);
        }
        u32(&mut out, 0); // ReservedBlock2Size
        out
    }
}

fn flags(change: &Change) -> u16 {
    let mut flags = 0;
    if change.subject.is_some() {
        flags |= ARO_SUBJECT;
    }
    if change.location.is_some() {
        flags |= ARO_LOCATION;
    }
    flags
}

/// The three times that open ExceptionInfo and ExtendedException.
fn exception_times(out: &mut Vec<u8>, change: &Change) {
    for at in [change.start, change.end, change.original] {
        out.extend_from_slice(&minutes(at).to_le_bytes());
    }
}

/// ExceptionInfo: the changed fields, strings in 8 bits (Windows-1252;
/// what cannot be said there is the extended exception's job).
fn exception_info(out: &mut Vec<u8>, change: &Change) {
    exception_times(out, change);
    out.extend_from_slice(&flags(change).to_le_bytes());
    let ansi = |out: &mut Vec<u8>, s: &str| {
        let bytes: Vec<u8> = s
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect();
        out.extend_from_slice(&(bytes.len() as u16 + 1).to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        out.extend_from_slice(&bytes);
    };
    if let Some(subject) = &change.subject {
        ansi(out, subject);
    }
    if let Some(location) = &change.location {
        ansi(out, location);
    }
}

/// ExtendedException: the subject and location in Unicode.
fn extended_exception(out: &mut Vec<u8>, change: &Change) {
    // ChangeHighlight: size 4, value 0; ReservedBlockEE1Size 0.
    out.extend_from_slice(&4u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    if flags(change) == 0 {
        return;
    }
    exception_times(out, change);
    for text in [&change.subject, &change.location].into_iter().flatten() {
        out.extend_from_slice(&(text.encode_utf16().count() as u16).to_le_bytes());
        out.extend_from_slice(&utf16(text));
    }
    out.extend_from_slice(&0u32.to_le_bytes()); // ReservedBlockEE2Size
}

/// A yearly transition of a time zone: month, the `week` (1 to 4, 5 for
/// the last) `day` of that month, and the local time it happens.
#[derive(Clone, Copy, Debug)]
pub struct Transition {
    pub month: u16,
    pub day: Weekday,
    pub week: u16,
    pub hour: u16,
    pub minute: u16,
}

/// A time zone with one rule: biases in minutes (UTC = local + bias).
#[derive(Clone, Copy, Debug)]
pub struct Zone {
    pub bias: i32,
    pub standard_bias: i32,
    pub daylight_bias: i32,
    /// When daylight saving time ends.
    pub standard: Transition,
    /// When it starts.
    pub daylight: Transition,
}

/// Europe/Paris: UTC+1, summer time from the last Sunday of March at
/// 02:00 to the last Sunday of October at 03:00.
pub const EUROPE_PARIS: Zone = Zone {
    bias: -60,
    standard_bias: 0,
    daylight_bias: -60,
    standard: Transition {
        month: 10,
        day: Weekday::Sun,
        week: 5,
        hour: 3,
        minute: 0,
    },
    daylight: Transition {
        month: 3,
        day: Weekday::Sun,
        week: 5,
        hour: 2,
        minute: 0,
    },
};

/// TZRULE flags: the rule in effect, and the one of the series.
const TZRULE_FLAG_EFFECTIVE_AND_RECUR: u16 = 0x0003;

impl Transition {
    /// SYSTEMTIME with year 0: a yearly rule.
    fn system_time(&self) -> Vec<u8> {
        [
            0,
            self.month,
            self.day.num_days_from_sunday() as u16,
            self.week,
            self.hour,
            self.minute,
            0,
            0,
        ]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
    }
}

impl Zone {
    /// The biases and both transitions, as TZREG and TZRULE hold them.
    fn rule(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for bias in [self.bias, self.standard_bias, self.daylight_bias] {
            out.extend_from_slice(&bias.to_le_bytes());
        }
        out.extend_from_slice(&self.standard.system_time());
        out.extend_from_slice(&self.daylight.system_time());
        out
    }

    /// PidLidTimeZoneStruct (TZREG of 48 bytes).
    pub fn time_zone_struct(&self) -> Vec<u8> {
        let rule = self.rule();
        let mut out = rule[..12].to_vec();
        out.extend_from_slice(&0u16.to_le_bytes()); // wStandardYear
        out.extend_from_slice(&rule[12..28]);
        out.extend_from_slice(&0u16.to_le_bytes()); // wDaylightYear
        out.extend_from_slice(&rule[28..44]);
        out
    }

    /// TZDEFINITION with one rule from `year` on, named `key_name` (the
    /// Windows zone name, "Romance Standard Time" for Paris).
    pub fn definition(&self, key_name: &str, year: u16) -> Vec<u8> {
        let name = utf16(key_name);
        let mut out = vec![0x02, 0x01]; // bMajorVersion, bMinorVersion
        // cbHeader: wReserved, cchKeyName, KeyName, cRules.
        out.extend_from_slice(&(6 + name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0x0002u16.to_le_bytes()); // wReserved
        out.extend_from_slice(&(name.len() as u16 / 2).to_le_bytes());
        out.extend_from_slice(&name);
        out.extend_from_slice(&1u16.to_le_bytes()); // cRules
        // TZRULE: versions, wReserved 0x003E, flags, wYear, 14 bytes of X.
        out.extend_from_slice(&[0x02, 0x01]);
        out.extend_from_slice(&0x003Eu16.to_le_bytes());
        out.extend_from_slice(&TZRULE_FLAG_EFFECTIVE_AND_RECUR.to_le_bytes());
        out.extend_from_slice(&year.to_le_bytes());
        out.extend_from_slice(&[0; 14]);
        out.extend_from_slice(&self.rule());
        out
    }
}
