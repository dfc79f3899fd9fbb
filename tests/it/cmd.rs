//! A small fluent helper to run the built `mailshift` binary:
//!
//! ```ignore
//! mailshift().args(["validate", "examples/batch.yaml"]).run().success();
//! ```

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// A `mailshift` command line being built.
pub struct Cmd {
    command: Command,
    line: Vec<String>,
}

/// Starts a command line for the binary under test, run from the package
/// root, with logging variables cleared so output is deterministic.
pub fn mailshift() -> Cmd {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailshift"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("MAILSHIFT_LOG")
        .env_remove("RUST_LOG");
    Cmd {
        command,
        line: vec!["mailshift".to_owned()],
    }
}

impl Cmd {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.line.push(arg.as_ref().to_string_lossy().into_owned());
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for arg in args {
            self = self.arg(arg);
        }
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Cmd {
        self.command.env(key, value);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Cmd {
        self.command.current_dir(dir);
        self
    }

    /// Runs the command to completion.
    pub fn run(mut self) -> Output {
        let output = self
            .command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.line.join(" ")));
        Output {
            line: self.line.join(" "),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// What a finished command printed and how it exited.
#[derive(Debug)]
pub struct Output {
    pub line: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Asserts the exit code.
    #[track_caller]
    pub fn code(self, expected: i32) -> Output {
        assert_eq!(
            self.code,
            Some(expected),
            "`{}` exited with {:?}, expected {expected}\n--- stdout\n{}\n--- stderr\n{}",
            self.line,
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn success(self) -> Output {
        self.code(0)
    }

    #[track_caller]
    pub fn stdout_has(self, needle: &str) -> Output {
        assert!(
            self.stdout.contains(needle),
            "`{}`: stdout lacks {needle:?}\n--- stdout\n{}",
            self.line,
            self.stdout
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Output {
        assert!(
            self.stderr.contains(needle),
            "`{}`: stderr lacks {needle:?}\n--- stderr\n{}",
            self.line,
            self.stderr
        );
        self
    }

    /// Asserts that neither stdout nor stderr contains `needle`.
    #[track_caller]
    pub fn never_shows(self, needle: &str) -> Output {
        assert!(
            !self.stdout.contains(needle) && !self.stderr.contains(needle),
            "`{}` printed {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.line,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "`{}`: stdout is not JSON ({e}):\n{}",
                self.line, self.stdout
            )
        })
    }
}
