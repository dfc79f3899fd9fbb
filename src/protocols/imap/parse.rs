//! Parsing of server responses.
//!
//! The transport hands over one response at a time as a [`RawResponse`]:
//! the text of its lines (literal markers `{N}` left in place) and the
//! literal payloads, already read, in order. Literal payloads are moved, not
//! copied, into the parsed [`Value`]s, so a 50 MB message body is never
//! re-scanned or duplicated.

use super::response::{Code, RawResponse, RespText, Response, Status, Value};

/// A malformed response; the text says where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError(pub String);

type Result<T> = std::result::Result<T, ParseError>;

/// Parses one complete response.
pub(crate) fn parse(raw: RawResponse) -> Result<Response> {
    let mut p = Parser {
        s: &raw.text,
        pos: 0,
        literals: raw.literals.into_iter(),
    };
    let first = p.atom()?;
    p.space();
    if first == "+" {
        return Ok(Response::Continuation(p.rest_of_line()));
    }
    if first == "*" {
        let word = p.atom()?;
        if let Ok(number) = word.parse::<u32>() {
            p.space();
            let kind = p.atom()?.to_ascii_uppercase();
            let data = p.values_to_end()?;
            return Ok(Response::Numbered { number, kind, data });
        }
        let kind = word.to_ascii_uppercase();
        if let Some(status) = status_word(&kind) {
            p.space();
            let text = p.resp_text();
            return Ok(Response::Status { status, text });
        }
        let data = p.values_to_end()?;
        return Ok(Response::Data { kind, data });
    }
    let word = p.atom()?.to_ascii_uppercase();
    let status = status_word(&word)
        .filter(|s| matches!(s, Status::Ok | Status::No | Status::Bad))
        .ok_or_else(|| ParseError(format!("tagged response with status {word:?}")))?;
    p.space();
    let text = p.resp_text();
    Ok(Response::Tagged {
        tag: first,
        status,
        text,
    })
}

/// Whether a first line can announce a literal. Status responses and
/// continuations are free text, where `{5}` at the end means nothing.
pub(crate) fn may_have_literal(first_line: &[u8]) -> bool {
    if first_line.starts_with(b"+") {
        return false;
    }
    let mut words = first_line.split(|&b| b == b' ');
    words.next();
    match words.next() {
        Some(w) => {
            let w = String::from_utf8_lossy(w).trim_end().to_ascii_uppercase();
            status_word(&w).is_none()
        }
        None => false,
    }
}

/// If the line ends with a literal marker (`{N}`, `{N+}`, `~{N}`), its size.
pub(crate) fn literal_at_end(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 12 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn status_word(word: &str) -> Option<Status> {
    Some(match word {
        "OK" => Status::Ok,
        "NO" => Status::No,
        "BAD" => Status::Bad,
        "BYE" => Status::Bye,
        "PREAUTH" => Status::Preauth,
        _ => return None,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    literals: std::vec::IntoIter<Vec<u8>>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn error(&self, what: &str) -> ParseError {
        let start = self.pos.saturating_sub(20);
        let end = (self.pos + 20).min(self.s.len());
        ParseError(format!(
            "{what} at byte {} near {:?}",
            self.pos,
            String::from_utf8_lossy(&self.s[start..end])
        ))
    }

    fn space(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn at_end_of_line(&self) -> bool {
        matches!(self.peek(), None | Some(b'\r') | Some(b'\n'))
    }

    /// An atom, possibly with a bracketed section (`BODY[HEADER.FIELDS
    /// (FROM)]<0>`), which may contain spaces.
    fn atom(&mut self) -> Result<String> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'(' | b')' | b'\r' | b'\n' | b'"' | b'{' => break,
                b'[' => {
                    let close = self.s[self.pos..]
                        .iter()
                        .position(|&c| c == b']')
                        .ok_or_else(|| self.error("unclosed '['"))?;
                    self.pos += close + 1;
                }
                // A lone ']' ends a response code, never belongs to an atom.
                b']' => break,
                _ => self.pos += 1,
            }
        }
        if self.pos == start {
            return Err(self.error("expected an atom"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    fn value(&mut self) -> Result<Value> {
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.space();
                    match self.peek() {
                        Some(b')') => {
                            self.pos += 1;
                            return Ok(Value::List(items));
                        }
                        None | Some(b'\r') | Some(b'\n') => {
                            return Err(self.error("unclosed '('"));
                        }
                        _ => items.push(self.value()?),
                    }
                }
            }
            Some(b'"') => self.quoted().map(Value::Bytes),
            Some(b'{') => self.literal().map(Value::Bytes),
            Some(b'~') if self.s.get(self.pos + 1) == Some(&b'{') => {
                self.pos += 1;
                self.literal().map(Value::Bytes)
            }
            _ => {
                let atom = self.atom()?;
                if atom.eq_ignore_ascii_case("NIL") {
                    Ok(Value::Nil)
                } else {
                    Ok(Value::Atom(atom))
                }
            }
        }
    }

    fn quoted(&mut self) -> Result<Vec<u8>> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let c = self
                        .s
                        .get(self.pos + 1)
                        .copied()
                        .ok_or_else(|| self.error("unterminated quoted string"))?;
                    out.push(c);
                    self.pos += 2;
                }
                None | Some(b'\r') | Some(b'\n') => {
                    return Err(self.error("unterminated quoted string"));
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn literal(&mut self) -> Result<Vec<u8>> {
        let close = self.s[self.pos..]
            .iter()
            .position(|&c| c == b'}')
            .ok_or_else(|| self.error("unclosed literal marker"))?;
        self.pos += close + 1;
        if self.peek() == Some(b'\r') {
            self.pos += 1;
        }
        if self.peek() != Some(b'\n') {
            return Err(self.error("literal marker not at end of line"));
        }
        self.pos += 1;
        self.literals
            .next()
            .ok_or_else(|| self.error("literal marker without data"))
    }

    fn values_to_end(&mut self) -> Result<Vec<Value>> {
        let mut values = Vec::new();
        loop {
            self.space();
            if self.at_end_of_line() {
                return Ok(values);
            }
            if self.peek() == Some(b')') {
                return Err(self.error("unbalanced ')'"));
            }
            values.push(self.value()?);
        }
    }

    fn rest_of_line(&mut self) -> String {
        let start = self.pos;
        while !self.at_end_of_line() {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.pos]).into_owned()
    }

    fn resp_text(&mut self) -> RespText {
        let mut code = None;
        if self.peek() == Some(b'[') {
            let rest = &self.s[self.pos + 1..];
            let line_end = rest
                .iter()
                .position(|&c| c == b'\r' || c == b'\n')
                .unwrap_or(rest.len());
            if let Some(close) = rest[..line_end].iter().position(|&c| c == b']') {
                let inner = String::from_utf8_lossy(&rest[..close]);
                let (name, args) = inner.split_once(' ').unwrap_or((&inner, ""));
                code = Some(Code {
                    name: name.to_ascii_uppercase(),
                    args: args.trim().to_owned(),
                });
                self.pos += close + 2;
                self.space();
            }
        }
        RespText {
            code,
            text: self.rest_of_line(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &[u8], literals: &[&[u8]]) -> RawResponse {
        RawResponse {
            text: text.to_vec(),
            literals: literals.iter().map(|l| l.to_vec()).collect(),
        }
    }

    fn atom(s: &str) -> Value {
        Value::Atom(s.into())
    }

    #[test]
    fn tagged_with_code() {
        let r = parse(raw(
            b"A3 OK [APPENDUID 38505 3955] APPEND completed\r\n",
            &[],
        ))
        .unwrap();
        let Response::Tagged { tag, status, text } = r else {
            panic!("{r:?}")
        };
        assert_eq!(tag, "A3");
        assert_eq!(status, Status::Ok);
        assert_eq!(text.code_name(), Some("APPENDUID"));
        assert_eq!(text.code.unwrap().args, "38505 3955");
        assert_eq!(text.text, "APPEND completed");
    }

    #[test]
    fn permanentflags_code_words() {
        let r = parse(raw(
            b"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n",
            &[],
        ))
        .unwrap();
        let Response::Status { status, text } = r else {
            panic!()
        };
        assert_eq!(status, Status::Ok);
        assert_eq!(text.code.unwrap().words(), ["\\Deleted", "\\Seen", "\\*"]);
    }

    #[test]
    fn fetch_with_literal_body_and_section() {
        let body: &[u8] = b"Subject: x\r\n\r\n\xe9t\xe9\nbare LF\r\n";
        let text = format!(
            "* 12 FETCH (UID 7 FLAGS (\\Seen $Label1) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" BODY[HEADER.FIELDS (FROM TO)] {{3}}\r\n BODY[] {{{}}}\r\n)\r\n",
            body.len()
        );
        let r = parse(raw(text.as_bytes(), &[b"abc", body])).unwrap();
        let Response::Numbered { number, kind, data } = r else {
            panic!()
        };
        assert_eq!((number, kind.as_str()), (12, "FETCH"));
        let items = data[0].as_list().unwrap();
        assert_eq!(items[0], atom("UID"));
        assert_eq!(items[1].as_u32(), Some(7));
        assert_eq!(items[3], Value::List(vec![atom("\\Seen"), atom("$Label1")]));
        assert_eq!(items[5].as_bytes().unwrap(), b"17-Jul-1996 02:44:25 -0700");
        assert_eq!(items[6], atom("BODY[HEADER.FIELDS (FROM TO)]"));
        assert_eq!(items[7].as_bytes().unwrap(), b"abc");
        assert_eq!(items[8], atom("BODY[]"));
        assert_eq!(items[9].as_bytes().unwrap(), body);
    }

    #[test]
    fn list_with_quoting_and_nil_delimiter() {
        let r = parse(raw(
            b"* LIST (\\HasNoChildren \\Sent) \"/\" \"My \\\"quoted\\\" \\\\ box\"\r\n",
            &[],
        ))
        .unwrap();
        let Response::Data { kind, data } = r else {
            panic!()
        };
        assert_eq!(kind, "LIST");
        assert_eq!(data[1].as_bytes().unwrap(), b"/");
        assert_eq!(data[2].as_bytes().unwrap(), b"My \"quoted\" \\ box");
        let r = parse(raw(b"* LIST (\\Noselect) NIL \"\"\r\n", &[])).unwrap();
        let Response::Data { data, .. } = r else {
            panic!()
        };
        assert_eq!(data[1], Value::Nil);
        assert_eq!(data[2].as_bytes().unwrap(), b"");
    }

    #[test]
    fn list_name_as_literal_and_extended_data() {
        let r = parse(raw(
            b"* LIST (\\Subscribed) \".\" {4}\r\n (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
            &[b"A\"B\\"],
        ))
        .unwrap();
        let Response::Data { data, .. } = r else {
            panic!()
        };
        assert_eq!(data[2].as_bytes().unwrap(), b"A\"B\\");
        assert_eq!(data.len(), 4);
    }

    #[test]
    fn esearch_and_search() {
        let r = parse(raw(b"* ESEARCH (TAG \"m5\") UID ALL 1:3,7\r\n", &[])).unwrap();
        let Response::Data { kind, data } = r else {
            panic!()
        };
        assert_eq!(kind, "ESEARCH");
        assert_eq!(data[3], atom("1:3,7"));
        let r = parse(raw(b"* SEARCH\r\n", &[])).unwrap();
        assert_eq!(
            r,
            Response::Data {
                kind: "SEARCH".into(),
                data: vec![]
            }
        );
    }

    #[test]
    fn continuation_and_bye() {
        assert_eq!(
            parse(raw(b"+ Ready\r\n", &[])).unwrap(),
            Response::Continuation("Ready".into())
        );
        assert_eq!(
            parse(raw(b"+\r\n", &[])).unwrap(),
            Response::Continuation(String::new())
        );
        let Response::Status { status, text } =
            parse(raw(b"* BYE Server shutting down\r\n", &[])).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (status, text.text.as_str()),
            (Status::Bye, "Server shutting down")
        );
    }

    #[test]
    fn text_with_brackets_but_no_code() {
        let Response::Tagged { text, .. } = parse(raw(b"a1 NO [unclosed text\r\n", &[])).unwrap()
        else {
            panic!()
        };
        assert_eq!(text.code, None);
        assert_eq!(text.text, "[unclosed text");
    }

    #[test]
    fn malformed() {
        assert!(parse(raw(b"* 1 FETCH (UID 1\r\n", &[])).is_err());
        assert!(parse(raw(b"* 1 FETCH (BODY[] {3}\r\n)\r\n", &[])).is_err());
        assert!(parse(raw(b"a1 MAYBE\r\n", &[])).is_err());
        assert!(parse(raw(b"* LIST () \"/\" \"open\r\n", &[])).is_err());
    }

    #[test]
    fn literal_markers() {
        assert_eq!(literal_at_end(b"* 1 FETCH (BODY[] {123}\r\n"), Some(123));
        assert_eq!(literal_at_end(b"x {5+}\r\n"), Some(5));
        assert_eq!(literal_at_end(b"x ~{0}\n"), Some(0));
        assert_eq!(literal_at_end(b"x {}\r\n"), None);
        assert_eq!(literal_at_end(b"x {1a}\r\n"), None);
        assert_eq!(literal_at_end(b"x {12}"), None);
        assert!(may_have_literal(b"* 1 FETCH (BODY[] {3}\r\n"));
        assert!(!may_have_literal(b"* OK hello {3}\r\n"));
        assert!(!may_have_literal(b"a1 no {3}\r\n"));
        assert!(!may_have_literal(b"+ {3}\r\n"));
    }
}
