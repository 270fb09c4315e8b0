//! `tessera baseline write REPORT.json`: prints a draft baseline (YAML) with
//! one expected failure per failed or errored scenario of the report. The
//! reasons start with `TODO explain:`; the user edits them and adds expiry
//! dates. Prints to stdout only; the report is already masked.

use std::io::Write;
use std::path::PathBuf;

use tessera::exit;
use tessera::report::gate::draft_baseline;
use tessera::report::merge::read_report;

#[derive(Debug, clap::Args)]
pub struct BaselineArgs {
    #[command(subcommand)]
    command: BaselineCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BaselineCommand {
    /// Print a draft baseline listing every failure of a JSON report.
    Write {
        /// A report.json.
        #[arg(value_name = "REPORT.json")]
        report: PathBuf,
    },
}

pub fn execute(args: BaselineArgs) -> u8 {
    let BaselineCommand::Write { report } = args.command;
    let r = match read_report(&report) {
        Ok(r) => r,
        Err(e) => {
            errln!("error: {e}");
            return exit::LOAD_ERROR;
        }
    };
    let text = match draft_baseline(&r).to_yaml() {
        Ok(t) => t,
        Err(e) => {
            errln!("error: cannot write the baseline: {e}");
            return exit::INFRASTRUCTURE;
        }
    };
    let header = format!(
        "# Draft baseline from {}: edit each reason, add `expires:` dates.\n",
        report.display()
    );
    match std::io::stdout()
        .lock()
        .write_all(format!("{header}{text}").as_bytes())
    {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            errln!("error: cannot write to stdout: {e}");
            exit::INFRASTRUCTURE
        }
    }
}
