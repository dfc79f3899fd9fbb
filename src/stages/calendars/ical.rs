//! Just enough iCalendar (RFC 5545) for copying calendar objects: which
//! component an object holds, and switching off server-side scheduling
//! (RFC 6638) on its organizer and attendees while leaving every other
//! byte as it was.

use std::borrow::Cow;

use crate::formats::content_line::{rewrite, split_line, strip_prefix_ignore_case, unfolded_lines};

/// The parameter that tells a scheduling server the client handles
/// scheduling for this organizer or attendee: the server sends nothing.
const SCHEDULE_AGENT: &[u8] = b"SCHEDULE-AGENT=CLIENT";

/// The main component of a calendar object: the first component of its
/// VCALENDAR that is not a VTIMEZONE (`VEVENT`, `VTODO`, `VJOURNAL`...).
pub fn main_component(ics: &[u8]) -> Option<String> {
    let mut depth = 0usize;
    for text in unfolded_lines(ics) {
        if let Some(name) = strip_prefix_ignore_case(&text, b"BEGIN:") {
            depth += 1;
            if depth == 2 && !name.eq_ignore_ascii_case(b"VTIMEZONE") {
                return Some(String::from_utf8_lossy(name).to_ascii_uppercase());
            }
        } else if strip_prefix_ignore_case(&text, b"END:").is_some() {
            depth = depth.saturating_sub(1);
        }
    }
    None
}

/// The object with `SCHEDULE-AGENT=CLIENT` on every ORGANIZER and
/// ATTENDEE of its components (not those of alarms, which name the
/// recipients of an email alarm): a scheduling server then sends no
/// invitation, update or reply for it (RFC 6638 §7.1). An existing
/// `SCHEDULE-AGENT` is replaced. Changed lines are folded again at 75
/// octets, never inside a UTF-8 character; every other line is kept byte
/// for byte.
pub fn without_scheduling(ics: &[u8]) -> Cow<'_, [u8]> {
    let mut in_alarm = 0usize;
    rewrite(ics, |content| {
        if let Some(name) = strip_prefix_ignore_case(content, b"BEGIN:") {
            in_alarm += usize::from(name.eq_ignore_ascii_case(b"VALARM") || in_alarm > 0);
        } else if strip_prefix_ignore_case(content, b"END:").is_some() {
            in_alarm = in_alarm.saturating_sub(1);
        }
        if in_alarm == 0 && is_scheduling_property(content) {
            with_client_agent(content).map(|line| vec![line])
        } else {
            None
        }
    })
}

/// Whether a content line is an ORGANIZER or ATTENDEE (with or without a
/// group prefix).
fn is_scheduling_property(line: &[u8]) -> bool {
    let Some((parts, _)) = split_line(line) else {
        return false;
    };
    let name = parts[0].rsplit(|b| *b == b'.').next().unwrap_or_default();
    name.eq_ignore_ascii_case(b"ORGANIZER") || name.eq_ignore_ascii_case(b"ATTENDEE")
}

/// The line with `SCHEDULE-AGENT=CLIENT` as its only SCHEDULE-AGENT;
/// `None` when it has exactly that already.
fn with_client_agent(line: &[u8]) -> Option<Vec<u8>> {
    let (parts, value) = split_line(line)?;
    let is_agent = |p: &[u8]| strip_prefix_ignore_case(p, b"SCHEDULE-AGENT=").is_some();
    let agents: Vec<&[u8]> = parts
        .iter()
        .skip(1)
        .copied()
        .filter(|p| is_agent(p))
        .collect();
    if agents.len() == 1 && agents[0].eq_ignore_ascii_case(SCHEDULE_AGENT) {
        return None;
    }
    let mut out = Vec::with_capacity(line.len() + SCHEDULE_AGENT.len() + 1);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 && is_agent(part) {
            continue;
        }
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(part);
    }
    out.push(b';');
    out.extend_from_slice(SCHEDULE_AGENT);
    out.push(b':');
    out.extend_from_slice(value);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn the_main_component_skips_time_zones() {
        let ics = b"BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nBEGIN:STANDARD\r\nEND:STANDARD\r\n\
                    END:VTIMEZONE\r\nBEGIN:VTODO\r\nUID:1\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        assert_eq!(main_component(ics).as_deref(), Some("VTODO"));
        assert_eq!(main_component(b"BEGIN:VCALENDAR\nEND:VCALENDAR\n"), None);
    }

    #[test]
    fn organizer_and_attendees_get_a_client_agent_and_nothing_else_changes() {
        let ics = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nDESCRIPTION:Line one tha\r\n t goes on\r\n\
                   ORGANIZER;CN=\"Doe; J: x\":mailto:jane@example.test\r\n\
                   ATTENDEE;SCHEDULE-AGENT=SERVER;PARTSTAT=ACCEPTED:mailto:bob@example.test\r\n\
                   item1.ATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:x@example.test\r\n\
                   BEGIN:VALARM\r\nACTION:EMAIL\r\nATTENDEE:mailto:me@example.test\r\nEND:VALARM\r\n\
                   END:VEVENT\r\nEND:VCALENDAR\r\n";
        let out = without_scheduling(ics.as_bytes());
        let expected = ics
            .replace("x\":mailto:jane", "x\";SCHEDULE-AGENT=CLIENT:mailto:jane")
            .replace(
                "ATTENDEE;SCHEDULE-AGENT=SERVER;PARTSTAT=ACCEPTED:",
                "ATTENDEE;PARTSTAT=ACCEPTED;SCHEDULE-AGENT=CLIENT:",
            );
        assert_eq!(text(&out), expected);
        // Once done, nothing more changes.
        assert!(matches!(without_scheduling(&out), Cow::Borrowed(_)));
        let plain = b"BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:2\nEND:VTODO\nEND:VCALENDAR\n";
        assert!(matches!(without_scheduling(plain), Cow::Borrowed(_)));
    }

    #[test]
    fn folded_attendees_are_unfolded_and_folded_again_at_75_octets() {
        let long = format!(
            "ATTENDEE;CN=Zoë Ångström-Éléonore Ørsted;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:{}@example.test",
            "z".repeat(40)
        );
        let folded = format!("{}\n {}\n", &long[..60], &long[60..]);
        let ics = format!("BEGIN:VCALENDAR\nBEGIN:VEVENT\n{folded}END:VEVENT\nEND:VCALENDAR\n");
        let out = without_scheduling(ics.as_bytes()).into_owned();
        let out = text(&out);
        for line in out.split('\n') {
            assert!(line.len() <= 75, "{line:?} is {} octets", line.len());
        }
        assert!(out.lines().all(|l| !l.ends_with('\r')), "{out}");
        let unfolded = out.replace("\n ", "");
        let attendee = unfolded
            .lines()
            .find(|l| l.starts_with("ATTENDEE"))
            .unwrap();
        assert_eq!(
            attendee,
            long.replace(":mailto:", ";SCHEDULE-AGENT=CLIENT:mailto:")
        );
    }
}
