//! A little-endian reader over the binary properties Outlook stores
//! (recurrence patterns, time zone definitions), which says where a
//! structure ends too early instead of panicking.

use super::IcalError;

/// Reads the fields of one structure in order.
pub(super) struct Reader<'a> {
    /// The structure, for error messages ("the recurrence pattern").
    what: &'static str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`, which hold a `what`.
    pub(super) fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        Reader {
            what,
            bytes,
            pos: 0,
        }
    }

    /// The offset of the next field.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// Moves to `pos` (a header that says its own size), never backwards
    /// nor past the end.
    pub(super) fn seek(&mut self, pos: usize, field: &'static str) -> Result<(), IcalError> {
        if pos > self.bytes.len() {
            return Err(self.truncated(field));
        }
        self.pos = self.pos.max(pos);
        Ok(())
    }

    /// The next `len` bytes.
    pub(super) fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], IcalError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| self.truncated(field))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    /// Skips a block that starts with its size as a 32-bit number (the
    /// reserved blocks of [MS-OXOCAL]).
    pub(super) fn skip_sized(&mut self, field: &'static str) -> Result<(), IcalError> {
        let len = self.u32(field)?;
        self.take(len as usize, field).map(|_| ())
    }

    /// A byte.
    pub(super) fn u8(&mut self, field: &'static str) -> Result<u8, IcalError> {
        Ok(self.take(1, field)?[0])
    }

    /// A 16-bit number.
    pub(super) fn u16(&mut self, field: &'static str) -> Result<u16, IcalError> {
        let b = self.take(2, field)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// A 32-bit number.
    pub(super) fn u32(&mut self, field: &'static str) -> Result<u32, IcalError> {
        let b = self.take(4, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A signed 32-bit number.
    pub(super) fn i32(&mut self, field: &'static str) -> Result<i32, IcalError> {
        self.u32(field).map(|v| v as i32)
    }

    /// `chars` UTF-16 code units, as a string (unpaired surrogates
    /// replaced).
    pub(super) fn utf16(&mut self, chars: usize, field: &'static str) -> Result<String, IcalError> {
        let bytes = self.take(chars.saturating_mul(2), field)?;
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        Ok(String::from_utf16_lossy(&units))
    }

    fn truncated(&self, field: &'static str) -> IcalError {
        IcalError::Truncated {
            what: self.what,
            field,
            offset: self.pos,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_structure_is_an_error_with_its_offset() {
        let mut r = Reader::new("test structure", &[1, 0, 2]);
        assert_eq!(r.u16("first").unwrap(), 1);
        let err = r.u32("second").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the test structure is truncated at byte 2 (second)"
        );
        assert!(r.take(usize::MAX, "huge").is_err());
    }

    #[test]
    fn strings_are_utf16_little_endian() {
        let mut r = Reader::new("x", &[0x41, 0, 0xE9, 0, 0x3A, 0xD8]);
        assert_eq!(r.utf16(2, "s").unwrap(), "Aé");
        assert!(r.utf16(2, "t").is_err());
    }
}
