//! Writing iCalendar content lines (RFC 5545 §3.1): TEXT values escaped
//! (§3.3.11), parameter values quoted, date and time values formatted,
//! lines folded at 75 octets with CRLF ends.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::formats::content_line::{self, escape_text};

/// An iCalendar object being written, line by line.
#[derive(Default)]
pub(super) struct Lines {
    out: Vec<u8>,
}

impl Lines {
    /// Writes `NAME` + `head` (its parameters, each starting with `;`) and
    /// a value already in its iCalendar form.
    pub(super) fn raw(&mut self, head: &str, value: &str) {
        content_line::write(head, value, &mut self.out);
    }

    /// Writes a TEXT property, escaped.
    pub(super) fn text(&mut self, head: &str, value: &str) {
        self.raw(head, &escape_text(value));
    }

    /// `BEGIN:` a component.
    pub(super) fn begin(&mut self, component: &str) {
        self.raw("BEGIN", component);
    }

    /// `END:` a component.
    pub(super) fn end(&mut self, component: &str) {
        self.raw("END", component);
    }

    /// Writes a date or date-time property.
    pub(super) fn when(&mut self, name: &str, when: &When) {
        match when {
            When::Date(date) => self.raw(&format!("{name};VALUE=DATE"), &date_value(*date)),
            When::Local(time, tzid) => {
                self.raw(&format!("{name};TZID={}", param(tzid)), &local_value(*time));
            }
            When::Utc(time) => self.raw(name, &utc_value(*time)),
        }
    }

    /// The object's bytes.
    pub(super) fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// A DATE or DATE-TIME value and how it is anchored.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum When {
    /// A whole day (`VALUE=DATE`).
    Date(NaiveDate),
    /// A wall-clock time in the named time zone (`TZID=`).
    Local(NaiveDateTime, String),
    /// An instant (`Z`).
    Utc(DateTime<Utc>),
}

/// A parameter value: quoted when it holds `:`, `;` or `,`, with double
/// quotes and line breaks written as RFC 6868 says (`^'`, `^n`, `^^`).
pub(super) fn param(value: &str) -> String {
    let mut body = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '^' => body.push_str("^^"),
            '"' => body.push_str("^'"),
            '\n' => body.push_str("^n"),
            c if c.is_control() => {}
            c => body.push(c),
        }
    }
    if body.contains([':', ';', ',']) {
        format!("\"{body}\"")
    } else {
        body
    }
}

/// `YYYYMMDD`.
pub(super) fn date_value(date: NaiveDate) -> String {
    date.format("%Y%m%d").to_string()
}

/// `YYYYMMDDTHHMMSS`, a wall-clock time.
pub(super) fn local_value(time: NaiveDateTime) -> String {
    time.format("%Y%m%dT%H%M%S").to_string()
}

/// `YYYYMMDDTHHMMSSZ`, an instant.
pub(super) fn utc_value(time: DateTime<Utc>) -> String {
    time.format("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_quoted_when_they_must_be() {
        assert_eq!(param("Ann Smith"), "Ann Smith");
        assert_eq!(param("Smith, Ann"), "\"Smith, Ann\"");
        assert_eq!(param("say \"hi\"^"), "say ^'hi^'^^");
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_cutting_characters() {
        let mut lines = Lines::default();
        lines.text("SUMMARY", &"é".repeat(60));
        let out = lines.finish();
        let text = String::from_utf8(out).expect("folding kept UTF-8 whole");
        for physical in text.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(physical.len() <= 75, "{physical:?} is too long");
        }
        assert_eq!(
            text.replace("\r\n ", ""),
            format!("SUMMARY:{}\r\n", "é".repeat(60))
        );
    }
}
