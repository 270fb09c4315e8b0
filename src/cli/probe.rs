//! `tessera probe TARGET [--write-profile FILE]`: what the target says about
//! itself, each value with how it was found, and optionally a target profile
//! written from it. The work is `tessera::target::probe`.

use std::path::PathBuf;

use tessera::exit;
use tessera::target::{Target, probe};

use super::TimeoutArgs;

#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// `http://HOST:PORT`, a target profile file, or `reference`.
    target: String,
    /// Write a target profile (YAML, commented) to this file.
    #[arg(long, value_name = "FILE")]
    write_profile: Option<PathBuf>,
    #[command(flatten)]
    timeout: TimeoutArgs,
}

pub fn execute(args: ProbeArgs) -> u8 {
    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async {
        let timeouts = args.timeout.timeouts();
        let target = match Target::resolve(&args.target, vec![], timeouts).await {
            Ok(t) => t,
            Err(e) => {
                errln!("{}", e.render(false));
                return e.exit_code();
            }
        };
        let p = match probe::probe(&target, &target.clients(timeouts)).await {
            Ok(p) => p,
            Err(e) => {
                errln!("error: {e}");
                return exit::INFRASTRUCTURE;
            }
        };
        out!("{}", probe::summary(&p));
        if let Some(file) = &args.write_profile {
            if let Err(e) = std::fs::write(file, probe::write_profile(&p)) {
                errln!("error: cannot write {}: {e}", file.display());
                return exit::INFRASTRUCTURE;
            }
            outln!("profile: {}", file.display());
        }
        exit::OK
    })
}
