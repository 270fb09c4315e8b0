//! The command line: one module per subcommand, each with its clap arguments
//! and a function returning an exit code. Part of the binary, not the library,
//! so library users never pull in clap or progress bars.

use clap::{Parser, Subcommand};

/// `println!` that ignores a closed stdout (`tessera ... | head`): the exit
/// code still tells the outcome, and nothing panics.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` that ignores a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that ignores a closed stderr.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!` that ignores a closed stderr.
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

mod baseline;
mod diff_targets;
mod fuzz;
mod report;
mod rules;
mod run;
mod schema;
mod selfcheck;
mod serve;
mod validate;

/// Conformance test harness for ArcGIS-style token authentication.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Play scenarios against a target and write reports.
    Run(Box<run::RunArgs>),
    /// Check scenario files without running them.
    Validate(validate::ValidateArgs),
    /// Run the reference server.
    Serve(serve::ServeArgs),
    /// List every rule with the scenarios citing it; fail when one is uncovered.
    Rules(rules::RulesArgs),
    /// Run the suite against the reference with each deviation in turn; fail
    /// unless every deviation is caught and the clean reference passes.
    Selfcheck(selfcheck::SelfcheckArgs),
    /// Print a JSON Schema (the scenario format by default).
    Schema(schema::SchemaArgs),
    /// Merge or compare JSON reports.
    Report(report::ReportArgs),
    /// Draft a baseline of expected failures from a JSON report.
    Baseline(baseline::BaselineArgs),
    /// Fuzz a target with random token-operation sequences judged by the model.
    Fuzz(fuzz::FuzzArgs),
    /// Play the same generated sequences against two targets and list where they differ.
    DiffTargets(diff_targets::DiffTargetsArgs),
}

impl Cli {
    /// Runs the command and returns the process exit code.
    pub fn execute(self) -> u8 {
        match self.command {
            Command::Run(a) => run::execute(*a),
            Command::Validate(a) => validate::execute(a),
            Command::Serve(a) => serve::execute(a),
            Command::Schema(a) => schema::execute(a),
            Command::Rules(a) => rules::execute(a),
            Command::Selfcheck(a) => selfcheck::execute(a),
            Command::Report(a) => report::execute(a),
            Command::Baseline(a) => baseline::execute(a),
            Command::Fuzz(a) => fuzz::execute(a),
            Command::DiffTargets(a) => diff_targets::execute(a),
        }
    }
}
