//! Exit codes: the [`Exit`] a command ends with, and the `exit_codes!`
//! macro that writes the part of a command's `--help` listing the codes it
//! can give.

/// The help's closing section: the exit codes a command can give (given
/// as the lines of [`exit_line`]), then where logs go.
macro_rules! exit_codes {
    ($($code:tt),*) => {
        concat!(
            "Exit codes:\n",
            $(exit_line!($code),)*
            "\nLogs go to standard error; set MAILSHIFT_LOG (or RUST_LOG) to e.g. `debug`\n\
             or `mailshift=trace` for more."
        )
    };
}

/// One documented exit code, as the help lists it.
macro_rules! exit_line {
    (0) => {
        "  0  success\n"
    };
    (1) => {
        "  1  the batch ran but some accounts failed\n"
    };
    (1_check) => {
        "  1  some accounts are not ready\n"
    };
    (1_undo) => {
        "  1  the undo failed part way (run it again)\n"
    };
    (2) => {
        "  2  invalid manifest or invalid command line\n"
    };
    (2_undo) => {
        "  2  invalid command line, or undo not allowed (not finished, window passed)\n"
    };
    (2_args) => {
        "  2  invalid command line\n"
    };
    (3) => {
        "  3  internal error\n"
    };
    (4) => {
        "  4  no such migration or batch\n"
    };
    (4_state) => {
        "  4  no state database there\n"
    };
    (5) => {
        "  5  the batch is already being run by another mailshift\n"
    };
}

/// How the process ends; the numbers are the documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked.
    Success = 0,
    /// The batch ran, but some accounts failed.
    AccountsFailed = 1,
    /// The input (manifest or command line) is invalid.
    Invalid = 2,
    /// A bug or an environment failure (disk, database...).
    Internal = 3,
    /// No migration or batch matches what was asked for.
    NotFound = 4,
    /// The batch is being run by another mailshift on the same state database.
    Busy = 5,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}
