//! MAPI properties: the tags this reader uses ([MS-OXPROPS]) and the
//! decoding of their values into Rust types.

use chrono::{DateTime, Utc};
use encoding_rs::Encoding;

// Message store.
pub const PST_PASSWORD: u16 = 0x67FF;
pub const RECORD_KEY: u16 = 0x0FF9;
pub const IPM_WASTEBASKET: u16 = 0x35E3;
pub const IPM_SENT_MAIL: u16 = 0x35E4;

// Folders.
pub const ATTRIBUTE_HIDDEN: u16 = 0x10F4;
pub const CONTAINER_CLASS: u16 = 0x3613;
pub const IPM_DRAFTS: u16 = 0x36D7;
pub const ADDITIONAL_REN_ENTRY_IDS: u16 = 0x36D8;

// Messages.
pub const MESSAGE_CLASS: u16 = 0x001A;
pub const SUBJECT: u16 = 0x0037;
pub const CLIENT_SUBMIT_TIME: u16 = 0x0039;
pub const SENT_REPRESENTING_NAME: u16 = 0x0042;
pub const SENT_REPRESENTING_ADDRESS_TYPE: u16 = 0x0064;
pub const SENT_REPRESENTING_EMAIL: u16 = 0x0065;
pub const TRANSPORT_MESSAGE_HEADERS: u16 = 0x007D;
pub const SENDER_NAME: u16 = 0x0C1A;
pub const SENDER_ADDRESS_TYPE: u16 = 0x0C1E;
pub const SENDER_EMAIL: u16 = 0x0C1F;
pub const MESSAGE_DELIVERY_TIME: u16 = 0x0E06;
pub const MESSAGE_FLAGS: u16 = 0x0E07;
pub const BODY: u16 = 0x1000;
pub const RTF_COMPRESSED: u16 = 0x1009;
pub const HTML: u16 = 0x1013;
pub const INTERNET_MESSAGE_ID: u16 = 0x1035;
pub const INTERNET_REFERENCES: u16 = 0x1039;
pub const IN_REPLY_TO_ID: u16 = 0x1042;
pub const LAST_VERB_EXECUTED: u16 = 0x1081;
pub const FLAG_STATUS: u16 = 0x1090;
pub const CREATION_TIME: u16 = 0x3007;
pub const MESSAGE_CODEPAGE: u16 = 0x3FFD;
pub const INTERNET_CODEPAGE: u16 = 0x3FDE;
pub const SENDER_SMTP_ADDRESS: u16 = 0x5D01;
pub const SENT_REPRESENTING_SMTP_ADDRESS: u16 = 0x5D02;

// Recipients.
pub const RECIPIENT_TYPE: u16 = 0x0C15;
pub const DISPLAY_NAME: u16 = 0x3001;
pub const ADDRESS_TYPE: u16 = 0x3002;
pub const EMAIL_ADDRESS: u16 = 0x3003;
pub const SMTP_ADDRESS: u16 = 0x39FE;

// Attachments.
pub const ATTACH_DATA: u16 = 0x3701;
pub const ATTACH_METHOD: u16 = 0x3705;
pub const ATTACH_FILENAME: u16 = 0x3704;
pub const ATTACH_LONG_FILENAME: u16 = 0x3707;
pub const ATTACH_MIME_TAG: u16 = 0x370E;
pub const ATTACH_CONTENT_ID: u16 = 0x3712;
pub const ATTACH_FLAGS: u16 = 0x3714;
pub const ATTACHMENT_HIDDEN: u16 = 0x7FFE;

/// `PidTagMessageFlags`: the message has been read.
pub const MSGFLAG_READ: i32 = 0x01;
/// `PidTagMessageFlags`: the message is a draft, never sent.
pub const MSGFLAG_UNSENT: i32 = 0x08;
/// `PidTagFlagStatus`: flagged for follow-up.
pub const FLAG_FOLLOWUP: i32 = 2;
/// `PidTagLastVerbExecuted`: replied to the sender, or to all.
pub const VERB_REPLY: [i32; 2] = [102, 103];
/// `PidTagLastVerbExecuted`: forwarded.
pub const VERB_FORWARD: i32 = 104;
/// `PidTagAttachFlags`: rendered inline in an HTML body.
pub const ATT_MHTML_REF: i32 = 0x4;

/// A property value as stored, owned. 8-bit strings stay bytes until
/// their code page is known.
#[derive(Debug, Clone, PartialEq)]
pub enum Prop {
    Int16(i16),
    Int32(i32),
    /// `PtypInteger64` and `PtypCurrency`.
    Int64(i64),
    Float32(f32),
    /// `PtypFloating64` and `PtypFloatingTime`.
    Float64(f64),
    Bool(bool),
    Error(i32),
    /// 100-nanosecond intervals since 1601-01-01 UTC.
    Time(i64),
    String8(Vec<u8>),
    Unicode(String),
    /// 16 bytes, as stored.
    Guid(Vec<u8>),
    Binary(Vec<u8>),
    /// A sub-node holding an object (an attached message): its node ID
    /// and size.
    Object {
        node: u32,
        size: u32,
    },
    /// `PtypMultipleInteger16` and `PtypMultipleInteger32`.
    Ints(Vec<i32>),
    /// `PtypMultipleInteger64` and `PtypMultipleTime`.
    Longs(Vec<i64>),
    String8s(Vec<Vec<u8>>),
    Unicodes(Vec<String>),
    Binaries(Vec<Vec<u8>>),
    /// A type nothing here reads.
    Other,
}

/// A string property, in whatever form it is stored. `String8` values are
/// in the message's code page (`codepage`, Windows-1252 when unknown).
pub fn string(value: Option<&Prop>, codepage: &'static Encoding) -> Option<String> {
    let text = match value? {
        Prop::Unicode(v) => v.clone(),
        Prop::String8(v) => codepage.decode(v).0.into_owned(),
        _ => return None,
    };
    let text = text.trim_end_matches('\0');
    (!text.is_empty()).then(|| text.to_owned())
}

/// A 32-bit integer property.
pub fn integer(value: Option<&Prop>) -> Option<i32> {
    match value? {
        Prop::Int32(v) => Some(*v),
        Prop::Int16(v) => Some(i32::from(*v)),
        _ => None,
    }
}

/// A boolean property.
pub fn boolean(value: Option<&Prop>) -> bool {
    matches!(value, Some(Prop::Bool(true)))
}

/// A binary property's bytes.
pub fn binary(value: Option<&Prop>) -> Option<&[u8]> {
    match value? {
        Prop::Binary(v) => Some(v),
        _ => None,
    }
}

/// A time property (100-nanosecond intervals since 1601-01-01 UTC).
pub fn time(value: Option<&Prop>) -> Option<DateTime<Utc>> {
    let Prop::Time(ticks) = value? else {
        return None;
    };
    /// Seconds from 1601-01-01 to 1970-01-01.
    const EPOCH_DIFFERENCE: i64 = 11_644_473_600;
    let seconds = ticks.div_euclid(10_000_000) - EPOCH_DIFFERENCE;
    let nanos = u32::try_from(ticks.rem_euclid(10_000_000) * 100).ok()?;
    DateTime::from_timestamp(seconds, nanos).filter(|_| *ticks > 0)
}

/// A subject without the marker Outlook may put in front of it: `\x01`
/// and a character giving the length of its prefix ("RE: "), which are
/// not text.
pub fn without_prefix_marker(subject: &str) -> &str {
    let mut chars = subject.chars();
    if chars.next() == Some('\u{1}') {
        chars.next();
        return chars.as_str();
    }
    subject
}

/// The text encoding of a Windows code page number, when it is one
/// `encoding_rs` knows.
pub fn codepage(number: i32) -> Option<&'static Encoding> {
    let label = match number {
        65001 => "utf-8".to_owned(),
        20127 | 28591 => "windows-1252".to_owned(),
        874 | 1250..=1258 => format!("windows-{number}"),
        28592..=28606 => format!("iso-8859-{}", number - 28590),
        932 => "shift_jis".to_owned(),
        936 => "gbk".to_owned(),
        54936 => "gb18030".to_owned(),
        949 => "euc-kr".to_owned(),
        950 => "big5".to_owned(),
        866 => "ibm866".to_owned(),
        20866 => "koi8-r".to_owned(),
        21866 => "koi8-u".to_owned(),
        50220..=50222 => "iso-2022-jp".to_owned(),
        51932 => "euc-jp".to_owned(),
        10000 => "macintosh".to_owned(),
        _ => return None,
    };
    Encoding::for_label(label.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetime_becomes_utc() {
        // From the libyal test file: 2007-04-29 22:27:33 UTC.
        let t = time(Some(&Prop::Time(128_223_592_535_930_000))).unwrap();
        assert_eq!(t.to_rfc3339(), "2007-04-29T22:27:33.593+00:00");
        assert_eq!(time(Some(&Prop::Time(0))), None);
    }

    #[test]
    fn the_subject_prefix_marker_is_not_text() {
        assert_eq!(without_prefix_marker("\u{1}\u{9}Updated: x"), "Updated: x");
        assert_eq!(without_prefix_marker("\u{1}"), "");
        assert_eq!(without_prefix_marker("RE: y"), "RE: y");
    }

    #[test]
    fn code_pages_have_names() {
        assert_eq!(codepage(1252).unwrap().name(), "windows-1252");
        assert_eq!(codepage(936).unwrap().name(), "GBK");
        assert_eq!(codepage(28605).unwrap().name(), "ISO-8859-15");
        assert_eq!(codepage(65001).unwrap().name(), "UTF-8");
        assert!(codepage(1).is_none());
    }
}
