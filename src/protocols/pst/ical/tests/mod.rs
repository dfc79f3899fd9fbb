//! Tests of the iCalendar output: items built by hand, their output read
//! line by line and by an independent parser ([`check`]).

mod check;
mod events;
mod exceptions;
mod recurring;
mod spec;
mod tasks;
mod zones;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone as _, Utc};
use serde_json::Value as Json;

use crate::protocols::pst::item::{Guid, Key, MapiItem, PSETID_APPOINTMENT, Value};

/// An instant.
fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("a valid test time")
}

/// Sets a property.
fn set(item: &mut MapiItem, key: Key, value: Value) {
    item.props.insert(key, value);
}

/// Sets a named property of a set.
fn lid(item: &mut MapiItem, set_id: Guid, id: u32, value: Value) {
    set(item, Key::Lid(set_id, id), value);
}

/// The output as text, after checking the framing every object must
/// have: CRLF line ends only, lines of at most 75 octets, the envelope.
fn text(ics: &[u8]) -> String {
    let text = String::from_utf8(ics.to_vec()).expect("UTF-8 output");
    assert!(text.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mailshift//PST//EN\r\n"));
    assert!(text.ends_with("END:VCALENDAR\r\n"));
    for line in text.split_inclusive('\n') {
        assert!(line.ends_with("\r\n"), "{line:?} does not end with CRLF");
        assert!(line.len() <= 77, "{line:?} is longer than 75 octets");
        assert!(!line[..line.len() - 2].contains(['\r', '\n']), "{line:?}");
    }
    text
}

/// The unfolded lines of the output.
fn unfolded(text: &str) -> Vec<String> {
    text.replace("\r\n ", "")
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The unfolded lines of the output's `n`th component named `name`, from
/// its BEGIN to its END.
fn component(text: &str, name: &str, n: usize) -> Vec<String> {
    let lines = unfolded(text);
    let begin = format!("BEGIN:{name}");
    let end = format!("END:{name}");
    let start = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| **l == begin)
        .nth(n)
        .unwrap_or_else(|| panic!("no {name} #{n} in\n{text}"))
        .0;
    let stop = start + lines[start..].iter().position(|l| *l == end).expect("END");
    lines[start..=stop].to_vec()
}

/// Bytes from hexadecimal.
pub(super) fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Minutes since 1601-01-01 of a wall-clock time.
pub(super) fn m(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> u32 {
    let epoch = NaiveDate::from_ymd_opt(1601, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let time: NaiveDateTime = NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, 0)
        .unwrap();
    (time - epoch).num_minutes() as u32
}

/// A recurring appointment: its first instance from `start` to `end`
/// (UTC), the pattern and a zone definition.
pub(super) fn recurring(
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
    blob: Vec<u8>,
    zone: Option<Vec<u8>>,
) -> MapiItem {
    let mut item = MapiItem::default();
    lid(&mut item, PSETID_APPOINTMENT, 0x820D, Value::Time(start));
    lid(&mut item, PSETID_APPOINTMENT, 0x820E, Value::Time(end));
    lid(&mut item, PSETID_APPOINTMENT, 0x8223, Value::Bool(true));
    lid(&mut item, PSETID_APPOINTMENT, 0x8216, Value::Binary(blob));
    if let Some(zone) = zone {
        lid(&mut item, PSETID_APPOINTMENT, 0x8260, Value::Binary(zone));
    }
    item
}

/// A JSON list of strings.
pub(super) fn strings(json: &Json) -> Vec<String> {
    json.as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}
