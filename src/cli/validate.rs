//! `tessera validate [PATHS]...`: loads every scenario file like `run` does
//! and reports every problem, without running anything.
//!
//! Diagnostics go to stderr (with snippets; coloured only on a terminal
//! without `NO_COLOR`), the one-line summary to stdout. Exit 0 when every
//! file is good, 3 (`tessera::exit::LOAD_ERROR`) otherwise, including a path
//! that does not exist; 5 when the paths hold no scenario file, as `run`.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Scenario files or folders (searched recursively for *.yaml / *.yml).
    #[arg(default_value = "specs/")]
    pub paths: Vec<PathBuf>,
}

pub fn execute(args: ValidateArgs) -> u8 {
    match tessera::scenario::load_suite(&args.paths) {
        Ok(scenarios) if scenarios.is_empty() => {
            errln!("nothing selected: no scenario file (*.yaml) under the paths given");
            tessera::exit::NOTHING_SELECTED
        }
        Ok(scenarios) => {
            outln!("{} scenario files OK", scenarios.len());
            tessera::exit::OK
        }
        Err(diags) => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            errln!("{}", tessera::scenario::render_all(&diags, color));
            let files: BTreeSet<&PathBuf> = diags.iter().map(|d| &d.file).collect();
            let (n, m) = (diags.len(), files.len());
            outln!(
                "{n} error{} in {m} file{}",
                if n == 1 { "" } else { "s" },
                if m == 1 { "" } else { "s" }
            );
            tessera::exit::LOAD_ERROR
        }
    }
}
