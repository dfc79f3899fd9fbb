//! Splitting an iCalendar or vCard file into the resources a CalDAV or
//! CardDAV server stores one by one.
//!
//! A calendar object resource holds the components of one UID (an event
//! and its recurrence overrides, or a to-do) and the time zones they name
//! (RFC 4791 §4.1); it has no `METHOD`. An address book holds one vCard
//! per resource. Each resource keeps its lines byte for byte; only a
//! missing UID is added, derived from the content so that a re-run names
//! the same resource again.

use std::collections::BTreeMap;

use crate::formats::content_line::{logical_lines, split_line, trim_end, unfold};

/// Why a file cannot be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// An `.ics` file without a calendar.
    #[error("not an iCalendar file (no BEGIN:VCALENDAR)")]
    NotCalendar,
    /// A `.vcf` file without a card.
    #[error("not a vCard file (no BEGIN:VCARD)")]
    NotVcard,
    /// An `END` that closes another component than the open one.
    #[error("line {line}: END:{found} closes BEGIN:{open}")]
    Mismatched {
        /// The line of the `END`.
        line: usize,
        /// The component open there.
        open: String,
        /// The component the `END` names.
        found: String,
    },
    /// An `END` with no component open.
    #[error("line {line}: END:{found} without a BEGIN")]
    Unopened {
        /// The line of the `END`.
        line: usize,
        /// The component it names.
        found: String,
    },
    /// The file ends with a component still open.
    #[error("the file ends inside BEGIN:{open} (line {line}): is it truncated?")]
    Unclosed {
        /// The line of the `BEGIN`.
        line: usize,
        /// The component left open.
        open: String,
    },
}

/// One calendar object resource of an iCalendar file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarObject {
    /// The UID its components share (added when the file had none).
    pub uid: String,
    /// Its main component: `VEVENT`, `VTODO`, `VJOURNAL`...
    pub component: String,
    /// A whole `VCALENDAR`, ready to store.
    pub content: Vec<u8>,
}

/// What an iCalendar file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    /// `X-WR-CALNAME`, the name calendar programs give an exported file.
    pub name: Option<String>,
    /// `X-WR-CALDESC`.
    pub description: Option<String>,
    /// One resource per UID, in the order the file first names them.
    pub objects: Vec<CalendarObject>,
}

/// One vCard of a vCard file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// Its UID (added when the card had none).
    pub uid: String,
    /// The whole card, `BEGIN:VCARD` to `END:VCARD`.
    pub content: Vec<u8>,
}

/// A parsed line: its bytes in the file, its first line's number, its
/// unfolded name (upper case, without group), parameters and value.
struct Line<'a> {
    raw: &'a [u8],
    number: usize,
    name: String,
    params: Vec<String>,
    value: String,
}

fn parse(text: &[u8]) -> Vec<Line<'_>> {
    let mut number = 1;
    let mut lines = Vec::new();
    for raw in logical_lines(text) {
        let unfolded = unfold(raw);
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let (head, value) = split_line(trim_end(&unfolded)).unwrap_or_default();
        let mut head = head.into_iter().map(text);
        let name = head.next().unwrap_or_default();
        // A property may carry a group prefix (`item1.EMAIL`).
        let name = name.rsplit('.').next().unwrap_or("").to_ascii_uppercase();
        lines.push(Line {
            raw,
            number,
            name,
            params: head.collect(),
            value: text(value),
        });
        number += raw.iter().filter(|b| **b == b'\n').count();
    }
    lines
}

/// Checks that every BEGIN has its END, and returns, for each line, the
/// nesting depth it is at (a BEGIN and its END are at the outer depth).
fn depths(lines: &[Line<'_>]) -> Result<Vec<usize>, SplitError> {
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut depths = Vec::with_capacity(lines.len());
    for line in lines {
        match line.name.as_str() {
            "BEGIN" => {
                depths.push(open.len());
                open.push((line.value.trim().to_ascii_uppercase(), line.number));
            }
            "END" => {
                let found = line.value.trim().to_ascii_uppercase();
                match open.pop() {
                    Some((name, _)) if name == found => depths.push(open.len()),
                    Some((name, _)) => {
                        return Err(SplitError::Mismatched {
                            line: line.number,
                            open: name,
                            found,
                        });
                    }
                    None => {
                        return Err(SplitError::Unopened {
                            line: line.number,
                            found,
                        });
                    }
                }
            }
            _ => depths.push(open.len()),
        }
    }
    match open.pop() {
        Some((open, line)) => Err(SplitError::Unclosed { line, open }),
        None => Ok(depths),
    }
}

/// A UID for content that has none: the same content gets the same UID.
fn derived_uid(content: &[u8]) -> String {
    let hash = blake3::hash(content).to_hex();
    format!("mailshift-{}", &hash[..32])
}

/// A component of the calendar being split: its lines, its UID and the
/// time zones it names.
struct Component {
    name: String,
    uid: Option<String>,
    tzids: Vec<String>,
    bytes: Vec<u8>,
}

/// Splits an iCalendar file (one or several `VCALENDAR`s) into calendar
/// object resources.
pub fn calendar(text: &[u8]) -> Result<Calendar, SplitError> {
    let lines = parse(text);
    let depths = depths(&lines)?;
    if !lines
        .iter()
        .any(|l| l.name == "BEGIN" && l.value.trim().eq_ignore_ascii_case("VCALENDAR"))
    {
        return Err(SplitError::NotCalendar);
    }
    let mut calendar = Calendar::default();
    let mut header: Vec<u8> = Vec::new();
    let mut timezones: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut components: Vec<Component> = Vec::new();
    let mut current: Option<Component> = None;
    for (line, depth) in lines.iter().zip(depths) {
        match depth {
            // A VCALENDAR's own properties: kept for each resource, but
            // METHOD (not allowed in a stored resource).
            1 if current.is_none() && line.name != "BEGIN" => match line.name.as_str() {
                "X-WR-CALNAME" => calendar.name = Some(line.value.clone()),
                "X-WR-CALDESC" => calendar.description = Some(line.value.clone()),
                "VERSION" | "PRODID" | "CALSCALE" if !contains_line(&header, line) => {
                    header.extend_from_slice(line.raw);
                }
                _ => {}
            },
            0 => {}
            _ => {
                let component = current.get_or_insert_with(|| Component {
                    name: line.value.trim().to_ascii_uppercase(),
                    uid: None,
                    tzids: Vec::new(),
                    bytes: Vec::new(),
                });
                component.bytes.extend_from_slice(line.raw);
                if depth == 2 && line.name == "UID" {
                    component.uid = Some(line.value.trim().to_owned());
                }
                if depth == 2 && component.name == "VTIMEZONE" && line.name == "TZID" {
                    component.uid = Some(line.value.trim().to_owned());
                }
                if let Some(tzid) = tzid_param(&line.params) {
                    component.tzids.push(tzid);
                }
                if depth == 1 && line.name == "END" {
                    let done = current.take().expect("a component is open at its END");
                    if done.name == "VTIMEZONE" {
                        timezones.insert(done.uid.clone().unwrap_or_default(), done.bytes);
                    } else {
                        components.push(done);
                    }
                }
            }
        }
    }
    let mut by_uid: Vec<(String, Vec<Component>)> = Vec::new();
    for mut component in components {
        let uid = match component.uid.clone() {
            Some(uid) if !uid.is_empty() => uid,
            _ => {
                let uid = derived_uid(&component.bytes);
                component.bytes = with_uid(&component.bytes, &uid, "BEGIN:");
                uid
            }
        };
        match by_uid.iter_mut().find(|(u, _)| *u == uid) {
            Some((_, group)) => group.push(component),
            None => by_uid.push((uid, vec![component])),
        }
    }
    if !header
        .windows(8)
        .any(|w| w.eq_ignore_ascii_case(b"VERSION:"))
    {
        header.splice(0..0, b"VERSION:2.0\r\n".iter().copied());
    }
    for (uid, group) in by_uid {
        let mut content = b"BEGIN:VCALENDAR\r\n".to_vec();
        content.extend_from_slice(&header);
        let mut named: Vec<&String> = group.iter().flat_map(|c| &c.tzids).collect();
        named.sort();
        named.dedup();
        for tzid in named {
            if let Some(zone) = timezones.get(tzid) {
                content.extend_from_slice(zone);
            }
        }
        for component in &group {
            content.extend_from_slice(&component.bytes);
        }
        content.extend_from_slice(b"END:VCALENDAR\r\n");
        calendar.objects.push(CalendarObject {
            uid,
            component: group[0].name.clone(),
            content,
        });
    }
    Ok(calendar)
}

/// Splits a vCard file into its cards (a card nested in another, as a
/// vCard 2.1 `AGENT`, stays inside its card).
pub fn cards(text: &[u8]) -> Result<Vec<Card>, SplitError> {
    let lines = parse(text);
    let depths = depths(&lines)?;
    let mut cards = Vec::new();
    let mut current: Option<(Vec<u8>, Option<String>)> = None;
    for (line, depth) in lines.iter().zip(depths) {
        if depth == 0 && line.name == "BEGIN" {
            current = Some((Vec::new(), None));
        }
        let Some((bytes, uid)) = current.as_mut() else {
            continue;
        };
        bytes.extend_from_slice(line.raw);
        if depth == 1 && line.name == "UID" {
            *uid = Some(line.value.trim().to_owned());
        }
        if depth == 0 && line.name == "END" {
            let (bytes, uid) = current.take().expect("a card is open at its END");
            let card = match uid {
                Some(uid) if !uid.is_empty() => Card {
                    uid,
                    content: bytes,
                },
                _ => {
                    let uid = derived_uid(&bytes);
                    let content = with_uid(&bytes, &uid, "VERSION:");
                    Card { uid, content }
                }
            };
            cards.push(card);
        }
    }
    if cards.is_empty() {
        return Err(SplitError::NotVcard);
    }
    Ok(cards)
}

/// The `TZID` parameter of a property, if it has one.
fn tzid_param(params: &[String]) -> Option<String> {
    params.iter().find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.eq_ignore_ascii_case("TZID")
            .then(|| value.trim_matches('"').to_owned())
    })
}

/// Whether `header` holds a line of the same property already (a second
/// VCALENDAR of a file repeats VERSION and PRODID).
fn contains_line(header: &[u8], line: &Line<'_>) -> bool {
    parse(header).iter().any(|l| l.name == line.name)
}

/// `bytes` with a `UID` line added after its first line starting with
/// `after` (`BEGIN:` for a component, `VERSION:` for a vCard, where
/// VERSION must come first).
fn with_uid(bytes: &[u8], uid: &str, after: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + uid.len() + 6);
    let mut added = false;
    for raw in logical_lines(bytes) {
        out.extend_from_slice(raw);
        if !added
            && raw.len() >= after.len()
            && raw[..after.len()].eq_ignore_ascii_case(after.as_bytes())
        {
            if !raw.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(format!("UID:{uid}\r\n").as_bytes());
            added = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEAM: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//EN\r\nMETHOD:PUBLISH\r\nX-WR-CALNAME:Team\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\nBEGIN:STANDARD\r\nDTSTART:19701101T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:weekly@example\r\nDTSTART;TZID=Europe/Paris:20260105T100000\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:Weekly\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VTODO\r\nSUMMARY:No UID\r\nEND:VTODO\r\n\
BEGIN:VEVENT\r\nUID:weekly@example\r\nRECURRENCE-ID;TZID=Europe/Paris:20260112T100000\r\nDTSTART;TZID=Europe/Paris:20260113T100000\r\nSUMMARY:Moved\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

    #[test]
    fn one_resource_per_uid_with_the_zones_it_names() {
        let calendar = calendar(TEAM.as_bytes()).unwrap();
        assert_eq!(calendar.name.as_deref(), Some("Team"));
        assert_eq!(calendar.objects.len(), 2);
        let weekly = &calendar.objects[0];
        assert_eq!(weekly.uid, "weekly@example");
        assert_eq!(weekly.component, "VEVENT");
        let text = String::from_utf8(weekly.content.clone()).unwrap();
        assert!(text.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Paris"));
        assert!(!text.contains("America/New_York"), "{text}");
        assert!(!text.contains("METHOD"), "{text}");
        assert!(!text.contains("X-WR-CALNAME"), "{text}");
        assert_eq!(text.matches("BEGIN:VEVENT").count(), 2);
        assert!(text.contains("BEGIN:VALARM\r\nACTION:DISPLAY"));
        assert!(text.ends_with("SUMMARY:Moved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"));
    }

    #[test]
    fn a_component_without_uid_gets_a_stable_one() {
        let first = calendar(TEAM.as_bytes()).unwrap();
        let again = calendar(TEAM.as_bytes()).unwrap();
        let todo = &first.objects[1];
        assert_eq!(todo.component, "VTODO");
        assert!(todo.uid.starts_with("mailshift-"));
        assert_eq!(todo.uid, again.objects[1].uid);
        let text = String::from_utf8(todo.content.clone()).unwrap();
        assert!(text.contains(&format!(
            "BEGIN:VTODO\r\nUID:{}\r\nSUMMARY:No UID",
            todo.uid
        )));
    }

    #[test]
    fn broken_files_say_where() {
        assert_eq!(calendar(b"hello\n"), Err(SplitError::NotCalendar));
        let truncated = &TEAM.as_bytes()[..TEAM.len() / 2];
        assert!(matches!(
            calendar(truncated),
            Err(SplitError::Unclosed { .. })
        ));
        assert_eq!(
            calendar(b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VTODO\nEND:VCALENDAR\n"),
            Err(SplitError::Mismatched {
                line: 3,
                open: "VEVENT".into(),
                found: "VTODO".into()
            })
        );
        assert_eq!(cards(b""), Err(SplitError::NotVcard));
    }

    #[test]
    fn vcards_split_with_folded_lines_and_missing_uids() {
        let file = "BEGIN:VCARD\nVERSION:3.0\nFN:Zoë\nUID:z1\nPHOTO;ENCODING=b;TYPE=JPEG:AAAA\n BBBB\nEND:VCARD\n\
BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Group\r\nKIND:group\r\nEND:VCARD\r\n";
        let cards = cards(file.as_bytes()).unwrap();
        assert_eq!(cards.len(), 2);
        assert_eq!(cards[0].uid, "z1");
        assert!(cards[0].content.ends_with(b" BBBB\nEND:VCARD\n"));
        let group = String::from_utf8(cards[1].content.clone()).unwrap();
        assert!(group.starts_with(&format!(
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{}\r\nFN:Group",
            cards[1].uid
        )));
    }
}
