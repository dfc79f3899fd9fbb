//! The appointment part of a recurrence ([MS-OXOCAL] 2.2.1.44.5
//! `AppointmentRecurrencePattern`): the instances' times of day and the
//! modified instances, each an `ExceptionInfo` (2.2.1.44.2) with its
//! `ExtendedException` (2.2.1.44.3), which holds the Unicode subject and
//! location.

use encoding_rs::WINDOWS_1252;

use super::IcalError;
use super::bytes::Reader;
use super::recurrence::{Pattern, read_pattern};

/// `OverrideFlags`: which fields an exception overrides.
const ARO_SUBJECT: u16 = 0x0001;
const ARO_MEETINGTYPE: u16 = 0x0002;
const ARO_REMINDERDELTA: u16 = 0x0004;
const ARO_REMINDER: u16 = 0x0008;
const ARO_LOCATION: u16 = 0x0010;
const ARO_BUSYSTATUS: u16 = 0x0020;
const ARO_ATTACHMENT: u16 = 0x0040;
const ARO_SUBTYPE: u16 = 0x0080;
const ARO_APPTCOLOR: u16 = 0x0100;

/// From this `WriterVersion2` on, each `ExtendedException` opens with a
/// `ChangeHighlight`.
const WITH_CHANGE_HIGHLIGHT: u32 = 0x3009;

/// A parsed `PidLidAppointmentRecur`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct AppointmentRecurrence {
    pub(super) pattern: Pattern,
    /// Minutes from midnight to an instance's start.
    pub(super) start_offset: u32,
    pub(super) exceptions: Vec<Exception>,
}

/// A modified instance: its times (wall clock, minutes since 1601) and
/// what it changes; `None` is inherited from the series.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Exception {
    pub(super) start: u32,
    pub(super) end: u32,
    /// The start the instance had before it was changed.
    pub(super) original_start: u32,
    pub(super) subject: Option<String>,
    pub(super) location: Option<String>,
    pub(super) reminder_delta: Option<u32>,
    pub(super) reminder_set: Option<bool>,
    pub(super) busy_status: Option<u32>,
    pub(super) all_day: Option<bool>,
}

/// Reads a `PidLidAppointmentRecur` blob.
pub(super) fn parse(blob: &[u8]) -> Result<AppointmentRecurrence, IcalError> {
    let mut r = Reader::new("recurrence pattern", blob);
    let pattern = read_pattern(&mut r)?;
    r.u32("ReaderVersion2")?;
    let writer = r.u32("WriterVersion2")?;
    let start_offset = r.u32("StartTimeOffset")?;
    r.u32("EndTimeOffset")?;
    let count = r.u16("ExceptionCount")?;
    let mut exceptions = Vec::new();
    let mut flags = Vec::new();
    for _ in 0..count {
        let (exception, overrides) = read_info(&mut r)?;
        exceptions.push(exception);
        flags.push(overrides);
    }
    r.skip_sized("ReservedBlock1")?;
    for (exception, overrides) in exceptions.iter_mut().zip(flags) {
        read_extended(&mut r, exception, overrides, writer)?;
    }
    r.skip_sized("ReservedBlock2")?;
    Ok(AppointmentRecurrence {
        pattern,
        start_offset,
        exceptions,
    })
}

/// One `ExceptionInfo`, and its `OverrideFlags`.
fn read_info(r: &mut Reader) -> Result<(Exception, u16), IcalError> {
    let mut e = Exception {
        start: r.u32("ExceptionInfo.StartDateTime")?,
        end: r.u32("ExceptionInfo.EndDateTime")?,
        original_start: r.u32("ExceptionInfo.OriginalStartDate")?,
        ..Exception::default()
    };
    let flags = r.u16("ExceptionInfo.OverrideFlags")?;
    if flags & ARO_SUBJECT != 0 {
        e.subject = Some(ansi(r, "ExceptionInfo.Subject")?);
    }
    if flags & ARO_MEETINGTYPE != 0 {
        r.u32("ExceptionInfo.MeetingType")?;
    }
    if flags & ARO_REMINDERDELTA != 0 {
        e.reminder_delta = Some(r.u32("ExceptionInfo.ReminderDelta")?);
    }
    if flags & ARO_REMINDER != 0 {
        e.reminder_set = Some(r.u32("ExceptionInfo.ReminderSet")? != 0);
    }
    if flags & ARO_LOCATION != 0 {
        e.location = Some(ansi(r, "ExceptionInfo.Location")?);
    }
    if flags & ARO_BUSYSTATUS != 0 {
        e.busy_status = Some(r.u32("ExceptionInfo.BusyStatus")?);
    }
    if flags & ARO_ATTACHMENT != 0 {
        r.u32("ExceptionInfo.Attachment")?;
    }
    if flags & ARO_SUBTYPE != 0 {
        e.all_day = Some(r.u32("ExceptionInfo.SubType")? != 0);
    }
    if flags & ARO_APPTCOLOR != 0 {
        r.u32("ExceptionInfo.AppointmentColor")?;
    }
    Ok((e, flags))
}

/// A non-Unicode string: its length plus one, its length, its bytes
/// (Windows-1252, the code page of the files this reads).
fn ansi(r: &mut Reader, field: &'static str) -> Result<String, IcalError> {
    r.u16(field)?;
    let len = r.u16(field)?;
    let bytes = r.take(len.into(), field)?;
    Ok(WINDOWS_1252
        .decode_without_bom_handling(bytes)
        .0
        .into_owned())
}

/// One `ExtendedException`: its Unicode subject and location replace the
/// non-Unicode ones.
fn read_extended(
    r: &mut Reader,
    e: &mut Exception,
    flags: u16,
    writer: u32,
) -> Result<(), IcalError> {
    if writer >= WITH_CHANGE_HIGHLIGHT {
        r.skip_sized("ExtendedException.ChangeHighlight")?;
    }
    r.skip_sized("ExtendedException.ReservedBlockEE1")?;
    if flags & (ARO_SUBJECT | ARO_LOCATION) == 0 {
        return Ok(());
    }
    r.take(12, "ExtendedException.StartDateTime")?;
    if flags & ARO_SUBJECT != 0 {
        let len = r.u16("ExtendedException.WideCharSubjectLength")?;
        e.subject = Some(r.utf16(len.into(), "ExtendedException.WideCharSubject")?);
    }
    if flags & ARO_LOCATION != 0 {
        let len = r.u16("ExtendedException.WideCharLocationLength")?;
        e.location = Some(r.utf16(len.into(), "ExtendedException.WideCharLocation")?);
    }
    r.skip_sized("ExtendedException.ReservedBlockEE2")
}
