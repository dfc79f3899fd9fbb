//! Modified UTF-7 (RFC 3501 §5.1.3), the encoding of mailbox names on the
//! wire when UTF8=ACCEPT is not enabled.
//!
//! Printable ASCII stands for itself except `&`, written `&-`. Any other run
//! of characters is UTF-16BE, base64-encoded with `,` instead of `/` and no
//! padding, between `&` and `-`.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Encodes a UTF-8 mailbox name to modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush_run(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush_run(&mut pending, &mut out);
    out
}

/// Writes a run of UTF-16 units as `&base64-` and empties it.
fn flush_run(units: &mut Vec<u16>, out: &mut String) {
    if units.is_empty() {
        return;
    }
    let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_be_bytes()).collect();
    out.push('&');
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let digits = chunk.len() + 1;
        for i in 0..digits {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out.push('-');
    units.clear();
}

/// Why a name is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid modified UTF-7 mailbox name: {0}")]
pub struct DecodeError(&'static str);

/// Decodes a modified UTF-7 mailbox name to UTF-8.
///
/// Strict: rejects raw non-ASCII, unterminated or badly padded shifts and
/// lone surrogates, so that a caller can tell a real mUTF-7 name from a
/// server that sends UTF-8 anyway.
pub fn decode(wire: &str) -> Result<String, DecodeError> {
    let bytes = wire.as_bytes();
    let mut out = String::with_capacity(wire.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'&' {
            let end = bytes[i + 1..]
                .iter()
                .position(|&c| c == b'-')
                .map(|p| i + 1 + p)
                .ok_or(DecodeError("unterminated '&' shift"))?;
            if end == i + 1 {
                out.push('&');
            } else {
                decode_run(&bytes[i + 1..end], &mut out)?;
            }
            i = end + 1;
        } else if (0x20..=0x7e).contains(&b) {
            out.push(char::from(b));
            i += 1;
        } else {
            return Err(DecodeError("raw non-printable or non-ASCII byte"));
        }
    }
    Ok(out)
}

fn decode_run(run: &[u8], out: &mut String) -> Result<(), DecodeError> {
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut bytes = Vec::with_capacity(run.len() * 3 / 4);
    for &c in run {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c)
            .ok_or(DecodeError("invalid base64 character"))?;
        bits = (bits << 6) | v as u32;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            bytes.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    if nbits >= 6 || bits != 0 {
        return Err(DecodeError("bad padding in base64 run"));
    }
    if bytes.len() % 2 != 0 {
        return Err(DecodeError("odd number of UTF-16 bytes"));
    }
    let units = bytes.chunks(2).map(|p| u16::from_be_bytes([p[0], p[1]]));
    let mut decoded = String::new();
    for c in char::decode_utf16(units) {
        let c = c.map_err(|_| DecodeError("unpaired UTF-16 surrogate"))?;
        // A shifted run must not hide printable ASCII (RFC 3501 §5.1.3).
        if (' '..='~').contains(&c) {
            return Err(DecodeError("printable ASCII inside a shift"));
        }
        decoded.push(c);
    }
    out.push_str(&decoded);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for (utf8, wire) in [
            ("INBOX", "INBOX"),
            ("Reçus/Été", "Re&AOc-us/&AMk-t&AOk-"),
            ("&", "&-"),
            ("A&B", "A&-B"),
            ("日本語", "&ZeVnLIqe-"),
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("😀", "&2D3eAA-"),
            ("", ""),
        ] {
            assert_eq!(encode(utf8), wire, "encode {utf8}");
            assert_eq!(decode(wire).unwrap(), utf8, "decode {wire}");
        }
    }

    #[test]
    fn rejects_invalid() {
        for wire in [
            "&", "&AOc", "&AGE-", "Reçus", "&2D0-", "&A-", "&AOd-", "a\tb",
        ] {
            assert!(decode(wire).is_err(), "{wire:?} should not decode");
        }
    }

    #[test]
    fn adjacent_runs_are_merged() {
        assert_eq!(encode("éà"), "&AOkA4A-");
        assert_eq!(decode("&AOkA4A-").unwrap(), "éà");
    }
}
