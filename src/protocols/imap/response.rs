//! Server responses as data: what [`super::parse`] produces and the
//! commands interpret.
//!
//! Status responses (`OK`, `NO`, `BAD`, `BYE`, `PREAUTH`) keep their
//! response code and text; everything else is a list of [`Value`]s that the
//! command that asked for it interprets.

use std::fmt;

/// One response as read from the wire.
#[derive(Debug, Default)]
pub(crate) struct RawResponse {
    /// All lines, CRLF included, with literal markers in place.
    pub text: Vec<u8>,
    /// Literal payloads in the order their markers appear.
    pub literals: Vec<Vec<u8>>,
}

/// A data item.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// Atom or number, including flags (`\Seen`) and fetch item names with
    /// their section (`BODY[HEADER]`).
    Atom(String),
    /// Quoted string or literal, as bytes.
    Bytes(Vec<u8>),
    /// `NIL`.
    Nil,
    /// Parenthesised list.
    List(Vec<Value>),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Atom(a) => write!(f, "{a}"),
            // Bodies can be megabytes: show the start only.
            Value::Bytes(b) if b.len() > 80 => write!(
                f,
                "{:?}... ({} bytes)",
                String::from_utf8_lossy(&b[..80]),
                b.len()
            ),
            Value::Bytes(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            Value::Nil => write!(f, "NIL"),
            Value::List(l) => f.debug_list().entries(l).finish(),
        }
    }
}

impl Value {
    pub fn as_atom(&self) -> Option<&str> {
        match self {
            Value::Atom(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        self.as_atom()?.parse().ok()
    }

    pub fn as_u32(&self) -> Option<u32> {
        self.as_atom()?.parse().ok()
    }

    /// An `astring` or `nstring` as bytes (`NIL` gives `None`).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Atom(a) => Some(a.as_bytes()),
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// Like [`Value::as_bytes`], taking ownership without copying.
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Value::Atom(a) => Some(a.into_bytes()),
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
}

/// Status of a tagged or untagged status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    No,
    Bad,
    Bye,
    Preauth,
}

/// A response code: `[NAME args]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Code {
    /// Upper case.
    pub name: String,
    /// Everything after the name, unparsed (`1234 5` for APPENDUID).
    pub args: String,
}

impl Code {
    /// The arguments split on spaces, parentheses removed: handy for
    /// `PERMANENTFLAGS (\Seen \*)` and `CAPABILITY ...`.
    pub fn words(&self) -> Vec<String> {
        self.args
            .split([' ', '(', ')'])
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// Response code and human-readable text of a status response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RespText {
    pub code: Option<Code>,
    pub text: String,
}

impl RespText {
    pub fn code_name(&self) -> Option<&str> {
        self.code.as_ref().map(|c| c.name.as_str())
    }

    /// Text with its code, as shown in errors: `[OVERQUOTA] Quota exceeded`.
    pub fn display(&self) -> String {
        match &self.code {
            Some(c) if c.args.is_empty() => format!("[{}] {}", c.name, self.text),
            Some(c) => format!("[{} {}] {}", c.name, c.args, self.text),
            None => self.text.clone(),
        }
    }
}

/// One parsed response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Response {
    /// `+ text`: the server waits for more (literal data, SASL).
    Continuation(String),
    /// Completion of the command with this tag.
    Tagged {
        tag: String,
        status: Status,
        text: RespText,
    },
    /// `* OK/NO/BAD/BYE/PREAUTH [code] text`.
    Status { status: Status, text: RespText },
    /// `* <n> EXISTS|RECENT|EXPUNGE|FETCH ...`; `kind` in upper case.
    Numbered {
        number: u32,
        kind: String,
        data: Vec<Value>,
    },
    /// `* KIND data...` (CAPABILITY, LIST, LSUB, STATUS, SEARCH, ESEARCH,
    /// FLAGS, NAMESPACE, ENABLED, ...); `kind` in upper case.
    Data { kind: String, data: Vec<Value> },
}
