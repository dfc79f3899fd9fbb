//! YAML text → a JSON value (for the schema and serde) plus an index from
//! each JSON pointer to where that value is written.
//!
//! The parser is serde-saphyr, with its budgets tightened so that deep
//! nesting and alias bombs end in an error, not a hang. Booleans follow
//! YAML 1.2: only `true`/`false` are booleans, so `no`, `yes`, `on`,
//! `off` (a country code, a login name) stay text.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::{Location, Spanned};

/// A line and column (both from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
}

impl Pos {
    fn from_location(l: &Location) -> Pos {
        Pos {
            line: l.line().max(1),
            column: l.column().max(1),
        }
    }
}

/// Where each value of a YAML document is written, by JSON pointer
/// (`/accounts/0/source/port`).
#[derive(Default)]
pub struct PathIndex {
    entries: HashMap<String, Entry>,
}

impl fmt::Debug for PathIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PathIndex({} values)", self.entries.len())
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Where the mapping key is (absent for sequence items and the root).
    key: Option<Pos>,
    /// Where the value is.
    value: Pos,
}

impl PathIndex {
    /// Where the value at `pointer` is written.
    pub fn value(&self, pointer: &str) -> Option<Pos> {
        self.entries.get(pointer).map(|e| e.value)
    }

    /// Where the key of the value at `pointer` is written, else the value.
    pub fn key(&self, pointer: &str) -> Option<Pos> {
        self.entries.get(pointer).map(|e| e.key.unwrap_or(e.value))
    }

    /// The nearest written ancestor of `pointer` (itself included).
    pub fn nearest(&self, pointer: &str) -> Pos {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.value(p) {
                return pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Pos { line: 1, column: 1 },
            }
        }
    }
}

/// A parsed document.
#[derive(Debug)]
pub struct Document {
    /// The document as JSON, for the schema and serde.
    pub value: Value,
    /// Where each value is written.
    pub index: PathIndex,
}

/// Why a YAML text could not be parsed at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where the parser stopped, when it knows.
    pub pos: Option<Pos>,
    /// What went wrong, without the position.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The limits a manifest's YAML must stay within. A manifest of 100,000
/// accounts fits; a billion-laughs alias bomb does not.
fn options() -> serde_saphyr::Options {
    let budget = serde_saphyr::budget! {
        max_events: 8_000_000,
        max_nodes: 4_000_000,
        max_depth: 32,
        max_documents: 1,
        max_aliases: 10_000,
        max_anchors: 10_000,
        max_recorded_anchor_events: 200_000,
        max_total_scalar_bytes: 64 * 1024 * 1024,
        max_merge_keys: 10_000,
    };
    let mut alias_limits = serde_saphyr::options::AliasLimits::default();
    alias_limits.max_total_replayed_events = 200_000;
    alias_limits.max_replay_stack_depth = 16;
    alias_limits.max_alias_expansions_per_anchor = 10_000;
    serde_saphyr::options! {
        budget: budget,
        alias_limits: alias_limits,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        with_snippet: false,
    }
}

/// Parses one YAML document.
pub fn parse(text: &str) -> Result<Document, ParseError> {
    let root: Spanned<Node> =
        serde_saphyr::from_str_with_options(text, options()).map_err(|e| {
            let inner = e.without_snippet();
            let pos = inner
                .location()
                .filter(|l| l.line() > 0)
                .map(|l| Pos::from_location(&l));
            ParseError {
                pos,
                message: describe(inner),
            }
        })?;
    let mut index = PathIndex::default();
    let mut pointer = String::new();
    let value = flatten(root, None, &mut pointer, &mut index);
    Ok(Document { value, index })
}

/// The parser's message without its own position suffix.
fn describe(e: &serde_saphyr::Error) -> String {
    use serde_saphyr::MessageFormatter;
    let text = serde_saphyr::UserMessageFormatter
        .format_message(e)
        .into_owned();
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.is_empty() {
        "this is not valid YAML".to_owned()
    } else {
        format!("this is not valid YAML: {text}")
    }
}

/// Moves a node into a JSON value, recording positions on the way.
fn flatten(
    node: Spanned<Node>,
    key: Option<Pos>,
    pointer: &mut String,
    index: &mut PathIndex,
) -> Value {
    let pos = Pos::from_location(&node.referenced);
    index
        .entries
        .insert(pointer.clone(), Entry { key, value: pos });
    match node.value {
        Node::Scalar(v) => v,
        Node::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                out.push(flatten(item, None, pointer, index));
                pointer.truncate(len);
            }
            Value::Array(out)
        }
        Node::Map(entries) => {
            let mut out = Map::new();
            for (k, v) in entries {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&escape_pointer(&k.value.0));
                let key_pos = Pos::from_location(&k.referenced);
                let value = flatten(v, Some(key_pos), pointer, index);
                pointer.truncate(len);
                out.insert(k.value.0, value);
            }
            Value::Object(out)
        }
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Splits a JSON pointer into its unescaped segments.
pub fn pointer_segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// A YAML node with the positions of everything inside it.
enum Node {
    Scalar(Value),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<Key>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Number(v.into())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Number(v.into())))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        // Too large for JSON numbers: keep the digits as text.
        Ok(Node::Scalar(Value::String(v.to_string())))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        Ok(Node::Scalar(Value::String(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Number::from_f64(v)
            .map(|n| Node::Scalar(Value::Number(n)))
            .ok_or_else(|| E::custom("numbers must be finite"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Scalar(Value::String(v)))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Node, E> {
        Err(E::custom("binary values are not allowed in a manifest"))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Null))
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Key>>()? {
            let value = map.next_value::<Spanned<Node>>()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

/// A mapping key: any scalar, as text.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.to_owned()))
            }
            fn visit_unit<E>(self) -> Result<Key, E> {
                Ok(Key(String::new()))
            }
            fn visit_none<E>(self) -> Result<Key, E> {
                Ok(Key(String::new()))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_positions_by_pointer() {
        let doc = parse("batch: b\naccounts:\n  - source:\n      port: 993\n").unwrap();
        assert_eq!(doc.value["accounts"][0]["source"]["port"], 993);
        assert_eq!(
            doc.index.value("/accounts/0/source/port"),
            Some(Pos {
                line: 4,
                column: 13
            })
        );
        assert_eq!(
            doc.index.key("/accounts/0/source/port"),
            Some(Pos { line: 4, column: 7 })
        );
        assert_eq!(doc.index.value("/batch"), Some(Pos { line: 1, column: 8 }));
    }

    #[test]
    fn yaml_1_1_booleans_stay_text() {
        let doc = parse("a: no\nb: yes\nc: NO\nd: off\ne: on\nf: true\ng: 0755\n").unwrap();
        assert_eq!(doc.value["a"], "no");
        assert_eq!(doc.value["b"], "yes");
        assert_eq!(doc.value["c"], "NO");
        assert_eq!(doc.value["d"], "off");
        assert_eq!(doc.value["e"], "on");
        assert_eq!(doc.value["f"], true);
        assert_eq!(doc.value["g"], "0755");
    }

    #[test]
    fn escapes_keys_in_pointers() {
        let doc = parse("map:\n  a/b: c\n").unwrap();
        assert!(doc.index.value("/map/a~1b").is_some());
        assert_eq!(pointer_segments("/map/a~1b"), ["map", "a/b"]);
    }

    #[test]
    fn rejects_alias_bombs_and_deep_nesting() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(parse(&bomb).is_err());
        let deep = "[".repeat(100_000);
        assert!(parse(&deep).is_err());
        let deep_block: String = (0..200).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        assert!(parse(&deep_block).is_err());
    }

    #[test]
    fn duplicate_keys_are_errors_with_a_position() {
        let e = parse("batch: a\nbatch: b\n").unwrap_err();
        assert_eq!(e.pos.map(|p| p.line), Some(2));
    }
}
