//! Writing a vCard 3.0: content lines ending in CRLF, folded at 75
//! octets without cutting a UTF-8 character, text values escaped.

use chrono::{DateTime, Utc};

use super::super::item::{Key, MapiItem};
use crate::formats::content_line::{self, escape_text};

/// `PidTagBody`: the notes.
const BODY: u16 = 0x1000;
const LAST_MODIFICATION_TIME: u16 = 0x3008;

/// A vCard being written: content lines ending in CRLF, folded at 75
/// octets.
pub(super) struct Card {
    out: Vec<u8>,
}

impl Card {
    pub(super) fn new(uid: &str) -> Card {
        let mut card = Card { out: Vec::new() };
        card.line("BEGIN", "VCARD");
        card.line("VERSION", "3.0");
        card.text("UID", uid);
        card
    }

    /// A line whose value is written as it is.
    pub(super) fn line(&mut self, head: &str, value: &str) {
        content_line::write(head, value, &mut self.out);
    }

    /// A text value, escaped.
    pub(super) fn text(&mut self, head: &str, value: &str) {
        self.line(head, &escape_text(value));
    }

    pub(super) fn optional(&mut self, head: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.text(head, value);
        }
    }

    /// A structured value (`N`, `ADR`, `ORG`): each part escaped, parts
    /// joined by `;`.
    pub(super) fn structured(&mut self, head: &str, parts: &[Option<&str>]) {
        let value: Vec<String> = parts.iter().map(|p| escape_text(p.unwrap_or(""))).collect();
        self.line(head, &value.join(";"));
    }

    /// What contacts and lists both have: notes, categories, revision.
    pub(super) fn common(&mut self, item: &MapiItem) {
        self.optional("NOTE", item.text(&Key::Tag(BODY)));
        let categories: Vec<String> = item.categories().map(escape_text).collect();
        if !categories.is_empty() {
            self.line("CATEGORIES", &categories.join(","));
        }
        if let Some(modified) = item.time(&Key::Tag(LAST_MODIFICATION_TIME)) {
            self.line("REV", &timestamp(modified));
        }
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
        self.line("END", "VCARD");
        self.out
    }
}

/// A UTC time as vCard writes it (`20240131T120000Z`).
fn timestamp(time: DateTime<Utc>) -> String {
    time.format("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A text value as a vCard reader sees it (RFC 2426 §4).
    fn unescape(value: &str) -> String {
        let mut out = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        /// Any text, once written, reads back the same (line breaks as
        /// `\n`, other control characters dropped) from lines of at most
        /// 75 octets that are each valid UTF-8 and end in CRLF.
        #[test]
        fn any_text_reads_back_from_folded_lines(text in "\\PC{0,120}([\r\n,;\\\\]\\PC{0,40}){0,4}") {
            let mut card = Card::new("u");
            card.text("NOTE", &text);
            let bytes = card.finish();
            let written = String::from_utf8(bytes).expect("folds between characters");
            prop_assert!(written.ends_with("\r\n"));
            for line in written.split_terminator("\r\n") {
                prop_assert!(line.len() <= 75, "{} octets", line.len());
                prop_assert!(!line.contains(['\r', '\n']));
            }
            let unfolded = written.replace("\r\n ", "");
            let note = unfolded
                .split("\r\n")
                .find_map(|l| l.strip_prefix("NOTE:"))
                .expect("a NOTE line");
            let expected: String = text
                .replace("\r\n", "\n")
                .replace('\r', "\n")
                .chars()
                .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
                .collect();
            prop_assert_eq!(unescape(note), expected);
        }
    }
}
