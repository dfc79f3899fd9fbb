//! Appointments and tasks of a PST file as iCalendar objects (RFC 5545),
//! following [MS-OXCICAL] for the mapping of the [MS-OXOCAL] and
//! [MS-OXOTASK] properties.
//!
//! - [`event`] writes an appointment: a VEVENT, its recurrence
//!   (`recurrence` reads the pattern, `exceptions` the modified
//!   instances, each its own VEVENT with a RECURRENCE-ID), the time zone
//!   of its times (`timezone`, written by `vtimezone`) and its UID
//!   (`uid`).
//! - [`task`] writes a task as a VTODO.
//! - `common` holds what both write; `lines` writes content lines;
//!   `bytes` reads Outlook's binary structures.
//!
//! The output depends only on the item: no clock, no random numbers, so
//! a re-run writes the same bytes and a destination that already holds
//! them sees nothing to change.

mod bytes;
mod common;
mod event;
mod exceptions;
mod lines;
mod recurrence;
mod task;
mod timezone;
mod uid;
mod vtimezone;

#[cfg(test)]
mod tests;

pub use event::event;
pub use task::task;

/// Why an appointment or a task cannot be written as iCalendar.
#[derive(Debug, thiserror::Error)]
pub enum IcalError {
    /// A binary property ends inside one of its fields.
    #[error("the {what} is truncated at byte {offset} ({field})")]
    Truncated {
        /// The property.
        what: &'static str,
        /// The field being read.
        field: &'static str,
        /// Where the property ends.
        offset: usize,
    },
    /// A binary property holds a value it cannot hold.
    #[error("the {what} is invalid: {reason}")]
    Invalid {
        /// The property.
        what: &'static str,
        /// Why its value is invalid.
        reason: String,
    },
    /// A binary property says what iCalendar cannot (a recurrence in a
    /// lunar calendar).
    #[error("the {what} cannot be converted: {reason}")]
    Unsupported {
        /// The property.
        what: &'static str,
        /// What cannot be said in iCalendar.
        reason: String,
    },
    /// An appointment without `PidLidAppointmentStartWhole`.
    #[error("the appointment has no start time (PidLidAppointmentStartWhole)")]
    NoStart,
}
