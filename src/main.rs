//! The `mailshift` binary: parse the command line, run it, exit with its
//! code. Everything else is in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Usage errors exit with 2 and `--help` with 0, as clap does.
    let cli = mailshift::cli::Cli::parse();
    mailshift::cli::init_logging(&cli);
    ExitCode::from(mailshift::cli::run(cli).code())
}
