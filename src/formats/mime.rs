//! The MIME pieces of the messages mailshift writes (notification emails,
//! messages rebuilt from PST items): folded headers, RFC 2047 encoded
//! words, RFC 2231 parameters, quoted-printable, base64 lines, and header
//! values made safe.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// Control characters (CR and LF above all: header injection) become
/// spaces; values come from manifests and server replies.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The domain of an address (`Name <user@host>` or `user@host`), for the
/// Message-ID.
pub fn domain_of(address: &str) -> String {
    let address = address
        .rsplit_once('<')
        .map_or(address, |(_, rest)| rest.trim_end_matches('>'));
    match address.rsplit_once('@') {
        Some((_, domain))
            if !domain.is_empty()
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') =>
        {
            domain.to_owned()
        }
        _ => "mailshift.invalid".to_owned(),
    }
}

/// A mailbox for a header: the address as given, with a non-ASCII display
/// name (`Zoë <z@x>`) encoded per RFC 2047.
pub fn mailbox(text: &str) -> String {
    let text = clean(text);
    match text.rsplit_once('<') {
        Some((name, address)) if !name.trim().is_empty() && !name.is_ascii() => {
            format!("{} <{address}", encode_words(name.trim()))
        }
        _ => text.trim().to_owned(),
    }
}

/// Appends `Name: value`, folded at spaces to keep lines near 78
/// characters.
pub fn header(out: &mut String, name: &str, value: &str) {
    let mut line_len = name.len() + 1;
    out.push_str(name);
    out.push(':');
    for word in value.split(' ').filter(|w| !w.is_empty()) {
        if line_len + 1 + word.len() > 78 && line_len > name.len() + 1 {
            out.push_str("\r\n");
            line_len = 0;
        }
        out.push(' ');
        out.push_str(word);
        line_len += 1 + word.len();
    }
    out.push_str("\r\n");
}

/// Encodes the words of `text` that are not plain ASCII (or could be read
/// as an encoded word) as RFC 2047 `=?UTF-8?B?...?=` words. Runs of such
/// words are encoded together, spaces included, because white space
/// between two encoded words is dropped when decoding.
pub fn encode_words(text: &str) -> String {
    let needs = |w: &str| !w.is_ascii() || w.contains("=?") || w.contains("?=");
    let words: Vec<&str> = text.split(' ').collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if !needs(words[i]) {
            out.push(words[i].to_owned());
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < words.len() && needs(words[j]) {
            j += 1;
        }
        out.push(encoded_words(&words[i..j].join(" ")));
        i = j;
    }
    out.join(" ")
}

/// `text` as encoded words of at most 75 characters each (RFC 2047
/// section 2), split between characters, separated by spaces.
fn encoded_words(text: &str) -> String {
    // 45 bytes make 60 base64 characters: 72 with `=?UTF-8?B?` and `?=`.
    const MAX_BYTES: usize = 45;
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() - start > MAX_BYTES {
            words.push(&text[start..end]);
            start = i;
        }
        end = i + c.len_utf8();
    }
    words.push(&text[start..end]);
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", BASE64.encode(w)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quoted-printable (RFC 2045 section 6.7) with CRLF line ends and soft
/// breaks before 76 characters.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let lines: Vec<&str> = text.split('\n').collect();
    let last = lines.len() - 1;
    for (n, line) in lines.iter().enumerate() {
        if n == last && line.is_empty() {
            break;
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        let bytes = line.as_bytes();
        let mut width = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let at_end = i + 1 == bytes.len();
            let literal = matches!(b, 33..=60 | 62..=126) || (matches!(b, b' ' | b'\t') && !at_end);
            let len = if literal { 1 } else { 3 };
            // Room for the token and, unless the line ends here, a soft
            // break's `=`.
            let room = if at_end { 76 } else { 75 };
            if width + len > room {
                out.push_str("=\r\n");
                width = 0;
            }
            if literal {
                out.push(char::from(b));
            } else {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('=');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0F)]));
            }
            width += len;
        }
        out.push_str("\r\n");
    }
    out
}

/// `filename="a.jpg"`, or `filename*=UTF-8''...` (RFC 2231) for a name
/// that is not plain ASCII.
pub fn filename_parameter(name: &str) -> String {
    if name.is_ascii() {
        return format!("filename={}", quoted(name));
    }
    let mut encoded = String::from("filename*=UTF-8''");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    encoded
}

/// The `name` parameter older clients read: quoted, or RFC 2047-encoded.
pub fn legacy_parameter(name: &str) -> String {
    if name.is_ascii() {
        quoted(name)
    } else {
        format!("\"{}\"", encode_words(name))
    }
}

/// A MIME parameter value as a quoted string.
pub fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Base64 in lines of 76 characters, CRLF after each.
pub fn base64_lines(bytes: &[u8]) -> String {
    let encoded = BASE64.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38 + 2);
    let mut rest = encoded.as_str();
    while !rest.is_empty() {
        // Base64 is ASCII: any index is a character boundary.
        let (line, tail) = rest.split_at(rest.len().min(76));
        out.push_str(line);
        out.push_str("\r\n");
        rest = tail;
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Quoted-printable decoded, with `\n` line ends.
    pub(crate) fn decode_qp(text: &str) -> String {
        let joined = text.replace("=\r\n", "");
        let mut out = Vec::new();
        let bytes = joined.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' {
                out.push(u8::from_str_radix(&joined[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap().replace("\r\n", "\n")
    }

    #[test]
    fn encoded_words_are_short_and_split_between_characters() {
        let long = "é".repeat(100);
        let encoded = encode_words(&long);
        for word in encoded.split(' ') {
            assert!(word.len() <= 75, "{word}");
            let payload = word
                .strip_prefix("=?UTF-8?B?")
                .and_then(|w| w.strip_suffix("?="))
                .unwrap();
            let bytes = BASE64.decode(payload).unwrap();
            String::from_utf8(bytes).expect("whole characters");
        }
        assert_eq!(encode_words("plain words"), "plain words");
        assert_eq!(encode_words("Zoë Dupont"), "=?UTF-8?B?Wm/Dqw==?= Dupont");
        assert_eq!(encode_words("Zoë Lë"), "=?UTF-8?B?Wm/DqyBMw6s=?=");
        assert_eq!(mailbox("Zoë <z@x>"), "=?UTF-8?B?Wm/Dqw==?= <z@x>");
    }

    #[test]
    fn quoted_printable_round_trips() {
        let text = format!(
            "a = b\ntrailing space \n{}\nUmlaut: äöü\n.dot\n",
            "x".repeat(200)
        );
        let encoded = quoted_printable(&text);
        for line in encoded.split("\r\n") {
            assert!(line.len() <= 76, "{line}");
            assert!(!line.ends_with(' '));
        }
        assert!(encoded.contains("a =3D b\r\n"));
        assert!(encoded.contains("trailing space=20\r\n"));
        assert_eq!(decode_qp(&encoded), text);
    }

    #[test]
    fn message_id_uses_the_sender_domain() {
        assert_eq!(domain_of("mailshift <noreply@ops.example>"), "ops.example");
        assert_eq!(domain_of("noreply@ops.example"), "ops.example");
        assert_eq!(domain_of("noreply"), "mailshift.invalid");
    }
}
