//! Building commands: arguments, quoting, literals, sequence sets, and the
//! validation of flags and dates that keeps a command from being rejected
//! as `BAD` (which, with non-synchronising literals, could leave message
//! data to be read as commands).

use std::fmt::Write as _;

use chrono::DateTime;

/// A piece of a command line. Deliberately not `Debug`: it may hold a
/// password.
pub(crate) enum Part<'a> {
    /// Bytes sent as they are (command name, atoms, quoted strings, spaces).
    Text(Vec<u8>),
    /// A literal; the transport chooses `{N+}` or `{N}` and waits for the
    /// continuation when needed.
    Literal(&'a [u8]),
}

/// One command, without its tag. `Debug` shows what [`Command::for_log`]
/// shows, so credentials stay hidden.
pub(crate) struct Command<'a> {
    /// The command name for errors and logs (`APPEND`, `UID FETCH`).
    pub name: &'static str,
    pub parts: Vec<Part<'a>>,
    /// Arguments contain a credential: logged as the name only.
    pub secret: bool,
}

impl<'a> Command<'a> {
    /// Starts a command whose first words are `name`.
    pub fn new(name: &'static str) -> Self {
        Command {
            name,
            parts: vec![Part::Text(name.as_bytes().to_vec())],
            secret: false,
        }
    }

    fn text(&mut self) -> &mut Vec<u8> {
        if !matches!(self.parts.last(), Some(Part::Text(_))) {
            self.parts.push(Part::Text(Vec::new()));
        }
        match self.parts.last_mut() {
            Some(Part::Text(t)) => t,
            // Just ensured above.
            _ => unreachable!("last part is text"),
        }
    }

    /// Appends ` raw`, verbatim (atoms, numbers, lists built by the caller).
    pub fn raw(mut self, raw: &str) -> Self {
        let t = self.text();
        t.push(b' ');
        t.extend_from_slice(raw.as_bytes());
        self
    }

    /// Appends a string argument: quoted when possible, else a literal.
    pub fn string(mut self, value: &'a [u8]) -> Self {
        self.text().push(b' ');
        if needs_literal(value) {
            self.parts.push(Part::Literal(value));
        } else {
            let t = self.text();
            t.push(b'"');
            for &b in value {
                if b == b'"' || b == b'\\' {
                    t.push(b'\\');
                }
                t.push(b);
            }
            t.push(b'"');
        }
        self
    }

    /// Appends ` {N}` and the data: always a literal (message bodies).
    pub fn literal(mut self, value: &'a [u8]) -> Self {
        self.text().push(b' ');
        self.parts.push(Part::Literal(value));
        self
    }

    /// Marks the command as carrying a credential.
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// The command as it may appear in a trace log.
    pub fn for_log(&self) -> String {
        if self.secret {
            return format!("{} <redacted>", self.name);
        }
        let mut s = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => s.push_str(&String::from_utf8_lossy(t)),
                Part::Literal(l) => {
                    let _ = write!(s, "{{{}}}", l.len());
                }
            }
        }
        s
    }
}

impl std::fmt::Debug for Command<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.for_log())
    }
}

/// Whether a string argument cannot be sent quoted.
fn needs_literal(value: &[u8]) -> bool {
    value
        .iter()
        .any(|&b| b == 0 || b == b'\r' || b == b'\n' || b >= 0x80)
}

/// Compresses UIDs into IMAP sequence-set syntax (`1:5,7,9:12`), sorted and
/// without duplicates.
pub fn sequence_set(uids: &[u32]) -> String {
    sequence_sets(uids, usize::MAX).pop().unwrap_or_default()
}

/// Like [`sequence_set`], split so that no set is longer than `max_len`
/// characters (servers limit command lines; Dovecot to 64 KiB).
pub(crate) fn sequence_sets(uids: &[u32], max_len: usize) -> Vec<String> {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut sets = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        i += 1;
        let item = if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        };
        if !current.is_empty() && current.len() + 1 + item.len() > max_len {
            sets.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(',');
        }
        current.push_str(&item);
    }
    if !current.is_empty() {
        sets.push(current);
    }
    sets
}

/// Expands a sequence set without `*` (as in ESEARCH results). Refuses to
/// expand to more than `limit` numbers.
pub(crate) fn expand_sequence_set(set: &str, limit: usize) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for item in set.split(',') {
        let (a, b) = match item.split_once(':') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let n = item.parse::<u32>().ok()?;
                (n, n)
            }
        };
        let (lo, hi) = (a.min(b), a.max(b));
        if out.len() + (hi - lo) as usize >= limit {
            return None;
        }
        out.extend(lo..=hi);
    }
    Some(out)
}

/// Whether a caller-supplied UID set is plain sequence-set syntax
/// (digits, `:`, `,`, `*`), so it can be put on the wire as is.
pub(crate) fn is_sequence_set(set: &str) -> bool {
    !set.is_empty()
        && set
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b':' || b == b',' || b == b'*')
}

/// The system flags APPEND and STORE accept (`\Recent` is not settable).
const SYSTEM_FLAGS: &[&str] = &["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

/// A flag in the form the server accepts, or `None` if it cannot be sent:
/// system flags are normalised to their canonical case, `\Recent` and
/// unknown `\` flags are dropped, keywords must be atoms.
pub fn normalize_flag(flag: &str) -> Option<String> {
    if let Some(stripped) = flag.strip_prefix('\\') {
        return SYSTEM_FLAGS
            .iter()
            .find(|f| f[1..].eq_ignore_ascii_case(stripped))
            .map(|f| (*f).to_owned());
    }
    let is_atom = !flag.is_empty()
        && flag.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
        });
    is_atom.then(|| flag.to_owned())
}

/// Formats flags as a parenthesised list, dropping what cannot be sent and
/// duplicates.
pub(crate) fn flag_list<'f>(flags: impl IntoIterator<Item = &'f String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for f in flags {
        if let Some(n) = normalize_flag(f)
            && !seen.iter().any(|s| s.eq_ignore_ascii_case(&n))
        {
            seen.push(n);
        }
    }
    format!("({})", seen.join(" "))
}

/// An IMAP `date-time` (`17-Jul-1996 02:44:25 -0700`, day possibly
/// space-padded or one digit) as an instant in its own time zone.
pub fn internal_date(value: &str) -> Option<DateTime<chrono::FixedOffset>> {
    DateTime::parse_from_str(value.trim(), "%d-%b-%Y %H:%M:%S %z").ok()
}

/// Whether `date` is a valid IMAP `date-time` (`"17-Jul-1996 02:44:25
/// -0700"`, day possibly space-padded), the only form APPEND accepts.
pub fn is_valid_internal_date(date: &str) -> bool {
    let b = date.as_bytes();
    if b.len() != 26 || !(b[0] == b' ' || b[0].is_ascii_digit()) {
        return false;
    }
    let normalized = date.replacen(' ', "0", usize::from(b[0] == b' '));
    DateTime::parse_from_str(&normalized, "%d-%b-%Y %H:%M:%S %z").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_sets_compress() {
        assert_eq!(
            sequence_set(&[1, 2, 3, 4, 5, 7, 9, 10, 11, 12]),
            "1:5,7,9:12"
        );
        assert_eq!(sequence_set(&[12, 3, 3, 1, 2]), "1:3,12");
        assert_eq!(sequence_set(&[]), "");
        assert_eq!(sequence_set(&[u32::MAX]), u32::MAX.to_string());
        let uids: Vec<u32> = (0..100).map(|i| i * 2 + 1).collect();
        let sets = sequence_sets(&uids, 20);
        assert!(sets.iter().all(|s| s.len() <= 20));
        let back: Vec<u32> = sets
            .iter()
            .flat_map(|s| expand_sequence_set(s, 1000).unwrap())
            .collect();
        assert_eq!(back, uids);
    }

    #[test]
    fn expand() {
        assert_eq!(
            expand_sequence_set("1:3,7,9:8", 100).unwrap(),
            [1, 2, 3, 7, 8, 9]
        );
        assert!(expand_sequence_set("1:*", 100).is_none());
        assert!(expand_sequence_set("1:4000000000", 1000).is_none());
        assert!(is_sequence_set("1:*"));
        assert!(!is_sequence_set("1 DELETE"));
    }

    #[test]
    fn quoting() {
        let c = Command::new("SELECT").string(b"My \"box\" \\ x");
        assert_eq!(c.for_log(), "SELECT \"My \\\"box\\\" \\\\ x\"");
        let c = Command::new("CREATE").string("Été".as_bytes());
        assert_eq!(c.for_log(), "CREATE {5}");
        let c = Command::new("LOGIN").string(b"u").string(b"p").secret();
        assert_eq!(c.for_log(), "LOGIN <redacted>");
    }

    #[test]
    fn flags() {
        let flags: Vec<String> = [
            "\\seen", "\\Recent", "$Label1", "bad flag", "\\Foo", "\\Seen", "Junk",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(flag_list(&flags), "(\\Seen $Label1 Junk)");
    }

    #[test]
    fn internal_dates() {
        assert!(is_valid_internal_date("17-Jul-1996 02:44:25 -0700"));
        assert!(is_valid_internal_date(" 7-Jul-1996 02:44:25 +0000"));
        assert!(is_valid_internal_date("07-Jul-1996 02:44:25 +0000"));
        assert!(!is_valid_internal_date("7-Jul-1996 02:44:25 +0000"));
        assert!(!is_valid_internal_date("17-Foo-1996 02:44:25 -0700"));
        assert!(!is_valid_internal_date("17-Jul-1996 02:44:25 -0700\r\n"));
        assert!(!is_valid_internal_date("17-Jul-1996 02:44:25 -0700\" x"));
    }
}
