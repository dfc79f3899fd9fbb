//! The file header, read before the PST reader is given the file: which
//! format it is (ANSI or Unicode PST, an OST), and whether the file is
//! whole.
//!
//! The reader refuses anything but a PST with a generic "invalid magic"
//! message, and finds a truncated file only when a read runs past its end.
//! These checks turn both into errors an administrator understands
//! ([MS-PST] 2.2.2.6 HEADER, 2.2.2.5 ROOT).

use std::io::Read;

use super::PstError;

/// `dwMagic`: `!BDN`.
const MAGIC: &[u8; 4] = b"!BDN";
/// `wMagicClient` of a PST file: `SM`.
const CLIENT_PST: &[u8; 2] = b"SM";
/// `wMagicClient` of an OST file (Outlook's offline cache): `SO`.
const CLIENT_OST: &[u8; 2] = b"SO";
/// The header is this long in a Unicode file (the longer of the two).
const UNICODE_HEADER: usize = 564;
/// The header is this long in an ANSI file.
const ANSI_HEADER: usize = 512;

/// The two on-disk formats of a PST file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Outlook 97-2002: 32-bit offsets, 2 GB at most.
    Ansi,
    /// Outlook 2003 and later.
    Unicode,
}

/// Reads the header of `file` (`len` bytes long) and says which format it
/// is, or why it cannot be read.
pub fn check(path: &str, mut file: impl Read, len: u64) -> Result<Format, PstError> {
    let mut header = Vec::with_capacity(UNICODE_HEADER);
    file.by_ref()
        .take(UNICODE_HEADER as u64)
        .read_to_end(&mut header)
        .map_err(|e| PstError::Unreadable {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if header.len() < MAGIC.len() + 6 || &header[..4] != MAGIC {
        return Err(PstError::NotPst {
            path: path.to_owned(),
        });
    }
    let client = &header[8..10];
    let version = u16::from_le_bytes([header[10], header[11]]);
    if client == CLIENT_OST {
        return Err(PstError::Ost {
            path: path.to_owned(),
        });
    }
    if client != CLIENT_PST {
        return Err(PstError::NotPst {
            path: path.to_owned(),
        });
    }
    let format = match version {
        14 | 15 => Format::Ansi,
        23 => Format::Unicode,
        // 36 is the 4 KiB-page variant of recent OST files.
        36 => {
            return Err(PstError::Ost {
                path: path.to_owned(),
            });
        }
        other => {
            return Err(PstError::UnknownVersion {
                path: path.to_owned(),
                version: other,
            });
        }
    };
    let (header_len, eof_at, eof) = match format {
        Format::Unicode => (UNICODE_HEADER, 0xB8, 8),
        Format::Ansi => (ANSI_HEADER, 0xA8, 4),
    };
    if header.len() < header_len {
        return Err(PstError::Truncated {
            path: path.to_owned(),
            expected: header_len as u64,
            actual: len,
        });
    }
    // ROOT.ibFileEof: how long the file was when Outlook last closed it.
    let mut bytes = [0u8; 8];
    bytes[..eof].copy_from_slice(&header[eof_at..eof_at + eof]);
    let expected = u64::from_le_bytes(bytes);
    if len < expected {
        return Err(PstError::Truncated {
            path: path.to_owned(),
            expected,
            actual: len,
        });
    }
    Ok(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(client: &[u8; 2], version: u16, eof: u64) -> Vec<u8> {
        let mut h = vec![0u8; UNICODE_HEADER];
        h[..4].copy_from_slice(MAGIC);
        h[8..10].copy_from_slice(client);
        h[10..12].copy_from_slice(&version.to_le_bytes());
        h[0xB8..0xC0].copy_from_slice(&eof.to_le_bytes());
        h
    }

    #[test]
    fn formats_and_problems_are_told_apart() {
        let ok = header(CLIENT_PST, 23, 4096);
        assert_eq!(check("a.pst", &ok[..], 4096).unwrap(), Format::Unicode);
        let ost = header(CLIENT_OST, 23, 4096);
        assert!(matches!(
            check("a.ost", &ost[..], 4096),
            Err(PstError::Ost { .. })
        ));
        let short = check("a.pst", &ok[..], 1000).unwrap_err();
        assert!(
            short.to_string().contains("4096 bytes") && short.to_string().contains("1000"),
            "{short}"
        );
        assert!(matches!(
            check("t.txt", &b"hello, world"[..], 12),
            Err(PstError::NotPst { .. })
        ));
        assert!(matches!(
            check("e.pst", &b""[..], 0),
            Err(PstError::NotPst { .. })
        ));
        let odd = header(CLIENT_PST, 99, 4096);
        assert!(matches!(
            check("a.pst", &odd[..], 4096),
            Err(PstError::UnknownVersion { version: 99, .. })
        ));
    }
}
