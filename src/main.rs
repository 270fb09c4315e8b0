//! `tessera`: parse the command line, call the library, map the outcome to a
//! named exit code (see `tessera::exit`). Nothing else lives here.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    ExitCode::from(args.execute())
}
