//! The content lines that iCalendar (RFC 5545 §3.1) and vCard (RFC 6350
//! §3.2) share: logical lines made of folded physical ones, `NAME;PARAM=
//! ...:VALUE` with quoted parameter values, folding at 75 octets.

use std::borrow::Cow;

/// The longest content line, in octets, before folding.
const LINE_OCTETS: usize = 75;

/// The logical lines of a text: each physical line with the
/// continuation lines (starting with a space or tab) that follow it,
/// line ends included.
pub fn logical_lines(text: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\n' {
            let next = i + 1;
            if next < text.len() && (text[next] == b' ' || text[next] == b'\t') {
                i = next;
                continue;
            }
            lines.push(&text[start..next]);
            start = next;
        }
        i += 1;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// The logical lines of a text, unfolded, without their line ends.
pub fn unfolded_lines(text: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    logical_lines(text).into_iter().map(|line| {
        let mut unfolded = unfold(line);
        unfolded.truncate(trim_end(&unfolded).len());
        unfolded
    })
}

/// The value of the first `UID` property (vCard, or the first component
/// of an iCalendar object).
pub fn uid(text: &[u8]) -> Option<Vec<u8>> {
    unfolded_lines(text).find_map(|line| {
        let (parts, value) = split_line(&line)?;
        parts[0]
            .eq_ignore_ascii_case(b"UID")
            .then(|| value.trim_ascii().to_vec())
    })
}

/// A logical line with its folds removed.
pub fn unfold(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let fold = match &line[i..] {
            [b'\r', b'\n', b' ' | b'\t', ..] => 3,
            [b'\n', b' ' | b'\t', ..] => 2,
            _ => 0,
        };
        if fold > 0 {
            i += fold;
        } else {
            out.push(line[i]);
            i += 1;
        }
    }
    out
}

/// A line without its line end.
pub fn trim_end(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|b| *b != b'\r' && *b != b'\n')
        .map_or(0, |i| i + 1);
    &line[..end]
}

/// `text` after `prefix`, compared without case.
pub fn strip_prefix_ignore_case<'a>(text: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    (text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &text[prefix.len()..])
}

/// The parts of a content line's head (`NAME;PARAM=...;PARAM=...`), cut
/// at `;` outside quotes, and the value after the first `:` outside
/// quotes.
pub fn split_line(line: &[u8]) -> Option<(Vec<&[u8]>, &[u8])> {
    let mut quoted = false;
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, byte) in line.iter().enumerate() {
        match byte {
            b'"' => quoted = !quoted,
            b';' if !quoted => {
                parts.push(&line[start..i]);
                start = i + 1;
            }
            b':' if !quoted => {
                parts.push(&line[start..i]);
                return Some((parts, &line[i + 1..]));
            }
            _ => {}
        }
    }
    None
}

/// Writes `line` folded at 75 octets (a continuation starts with a space
/// and holds 74 more), never cutting a UTF-8 character.
pub fn fold(line: &[u8], ending: &[u8], out: &mut Vec<u8>) {
    let mut rest = line;
    let mut limit = LINE_OCTETS;
    loop {
        if rest.len() <= limit {
            out.extend_from_slice(rest);
            out.extend_from_slice(ending);
            return;
        }
        let mut cut = limit;
        // Continuation bytes of UTF-8 are 0b10xx_xxxx: never cut before one.
        while cut > 1 && (rest[cut] & 0xC0) == 0x80 {
            cut -= 1;
        }
        out.extend_from_slice(&rest[..cut]);
        out.extend_from_slice(ending);
        out.push(b' ');
        rest = &rest[cut..];
        limit = LINE_OCTETS - 1;
    }
}

/// Writes the content line `head:value` (`head` is the name and its
/// parameters, `value` in its final form), folded, ending in CRLF.
pub fn write(head: &str, value: &str, out: &mut Vec<u8>) {
    let mut line = Vec::with_capacity(head.len() + 1 + value.len());
    line.extend_from_slice(head.as_bytes());
    line.push(b':');
    line.extend_from_slice(value.as_bytes());
    fold(&line, b"\r\n", out);
}

/// A TEXT value escaped as iCalendar (RFC 5545 §3.3.11) and vCard
/// (RFC 2426 §4, RFC 6350 §3.4) both write it: backslash, semicolon,
/// comma and line breaks; other control characters but tab, which a
/// value cannot hold, are dropped.
pub fn escape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | ';' | ',' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `text` with some of its logical lines replaced: `change` sees each
/// unfolded line without its line end and answers `None` to keep it byte
/// for byte, or the lines to put in its place (none to drop it), which
/// are folded and given the line end the line had.
pub fn rewrite(
    text: &[u8],
    mut change: impl FnMut(&[u8]) -> Option<Vec<Vec<u8>>>,
) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut done = 0usize;
    let mut offset = 0usize;
    for line in logical_lines(text) {
        let start = offset;
        offset += line.len();
        let unfolded = unfold(line);
        let Some(replacement) = change(trim_end(&unfolded)) else {
            continue;
        };
        let buffer = out.get_or_insert_with(Vec::new);
        buffer.extend_from_slice(&text[done..start]);
        let ending: &[u8] = if line.ends_with(b"\r\n") || !line.ends_with(b"\n") {
            b"\r\n"
        } else {
            b"\n"
        };
        for new in replacement {
            fold(&new, ending, buffer);
        }
        done = offset;
    }
    match out {
        Some(mut buffer) => {
            buffer.extend_from_slice(&text[done..]);
            Cow::Owned(buffer)
        }
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_are_escaped_for_icalendar_and_vcard_alike() {
        // A bell character is dropped, a tab kept, a colon left alone.
        assert_eq!(
            escape_text("a\\b,c;d\re\nf\r\ng\u{7}h\ti:j"),
            "a\\\\b\\,c\\;d\\ne\\nf\\ngh\ti:j"
        );
    }

    #[test]
    fn a_written_line_is_folded_and_ends_in_crlf() {
        let mut out = Vec::new();
        write("NOTE;LANGUAGE=fr", &"é".repeat(50), &mut out);
        let text = String::from_utf8(out).expect("folded between characters");
        assert!(text.ends_with("\r\n"));
        assert!(text.split("\r\n").all(|l| l.len() <= 75), "{text}");
        assert_eq!(
            text.replace("\r\n ", ""),
            format!("NOTE;LANGUAGE=fr:{}\r\n", "é".repeat(50))
        );
    }
}
