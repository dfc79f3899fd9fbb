//! A [`TimeZone`] as a VTIMEZONE (RFC 5545 §3.6.5): for each rule, its
//! yearly STANDARD and DAYLIGHT onsets, bounded by an UNTIL when a later
//! rule takes over, and an onset on the 1st of January when the new rule
//! starts the year at another offset.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

use super::lines::{Lines, local_value, utc_value};
use super::timezone::TimeZone;

/// The first year a VTIMEZONE covers, as Outlook's own exports do.
const FIRST_YEAR: i32 = 1601;

impl TimeZone {
    /// Writes the VTIMEZONE.
    pub(super) fn write(&self, lines: &mut Lines) {
        lines.begin("VTIMEZONE");
        lines.text("TZID", &self.name);
        for (i, rule) in self.rules.iter().enumerate() {
            let first = if i == 0 { FIRST_YEAR } else { rule.from };
            let new_year = january_first(first);
            let offset = rule.offset_at(new_year);
            let before = match i {
                0 => offset,
                _ => self.rules[i - 1].offset_at(new_year - Duration::minutes(1)),
            };
            // A zone without daylight time needs one onset to have any; a
            // rule that takes over at another offset starts with a change.
            if rule.daylight.is_none() || before != offset {
                let kind = match &rule.daylight {
                    Some(d) if d.offset == offset => "DAYLIGHT",
                    _ => "STANDARD",
                };
                observance(lines, kind, new_year, before, offset, None);
            }
            let Some(d) = &rule.daylight else {
                continue;
            };
            let last = self.rules.get(i + 1).map(|next| next.from - 1);
            let onsets = [
                ("STANDARD", &d.ends, d.offset, rule.standard),
                ("DAYLIGHT", &d.begins, rule.standard, d.offset),
            ];
            for (kind, onset, from, to) in onsets {
                let mut rrule = onset.rrule();
                if let Some(last) = last {
                    // UNTIL is in UTC: the wall-clock time of the last onset
                    // at the offset it ends.
                    let until = onset.in_year(last) - Duration::minutes(from.into());
                    rrule.push_str(&format!(";UNTIL={}", utc_value(until.and_utc())));
                }
                observance(lines, kind, onset.in_year(first), from, to, Some(rrule));
            }
        }
        lines.end("VTIMEZONE");
    }
}

/// Midnight on the 1st of January.
fn january_first(year: i32) -> NaiveDateTime {
    // Every year a rule can name (0 to 65535) has a 1st of January.
    NaiveDate::from_ymd_opt(year, 1, 1)
        .unwrap_or(NaiveDate::MIN)
        .and_time(NaiveTime::MIN)
}

fn observance(
    lines: &mut Lines,
    kind: &str,
    start: NaiveDateTime,
    from: i32,
    to: i32,
    rrule: Option<String>,
) {
    lines.begin(kind);
    lines.raw("DTSTART", &local_value(start));
    lines.raw("TZOFFSETFROM", &offset_value(from));
    lines.raw("TZOFFSETTO", &offset_value(to));
    if let Some(rrule) = rrule {
        lines.raw("RRULE", &rrule);
    }
    lines.end(kind);
}

/// `+HHMM`.
pub(super) fn offset_value(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let (h, m) = (minutes.abs() / 60, minutes.abs() % 60);
    format!("{sign}{h:02}{m:02}")
}
