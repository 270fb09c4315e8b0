//! `tessera diff-targets`: the same generated sequences against two targets,
//! reporting each divergence in normalised outcome (status, error code,
//! which carrier won).

use std::collections::BTreeSet;

use tessera::exit;
use tessera::fuzz::diff;
use tessera::fuzz::exec::{ExecError, Executor};
use tessera::fuzz::machine::FuzzConfig;
use tessera::fuzz::ops::OpKind;
use tessera::knobs::Knobs;

#[derive(Debug, clap::Args)]
pub struct DiffTargetsArgs {
    #[arg(long, default_value = "reference")]
    pub a: String,
    #[arg(long)]
    pub b: String,
    #[arg(long, default_value_t = 100)]
    pub cases: u32,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, default_value_t = 30)]
    pub max_steps: usize,
}

/// See `fuzz::executor_for`: waits for the HTTP executor.
fn executor_for(target: &str) -> Result<(Box<dyn Executor>, Knobs), ExecError> {
    Err(ExecError::Unsupported(format!(
        "`{target}` needs the HTTP executor, which is not built in yet"
    )))
}

pub fn execute(args: DiffTargetsArgs) -> u8 {
    let seed = args
        .seed
        .unwrap_or_else(|| getrandom::u64().unwrap_or(0x7e55_e7a0));
    let built = executor_for(&args.a).and_then(|a| Ok((a, executor_for(&args.b)?)));
    let ((mut a, knobs), (mut b, _)) = match built {
        Ok(x) => x,
        Err(e) => {
            eprintln!("tessera diff-targets: {e}");
            return exit::INFRASTRUCTURE;
        }
    };
    let config = FuzzConfig {
        cases: args.cases,
        max_steps: args.max_steps,
        knobs,
        kinds: OpKind::ALL.into_iter().collect::<BTreeSet<_>>(),
        ..FuzzConfig::new(seed)
    };
    match diff::diff(&config, a.as_mut(), b.as_mut()) {
        Err(e) => {
            eprintln!("tessera diff-targets: {e}");
            exit::INFRASTRUCTURE
        }
        Ok(d) => {
            println!(
                "{} sequences, {} operations, {} divergences (seed {seed})",
                d.cases_run,
                d.ops_run,
                d.divergences.len()
            );
            for e in &d.divergences {
                println!(
                    "case {} step {} ({}): {} = {}, {} = {}  [{}]",
                    e.case,
                    e.step + 1,
                    e.ops[e.step].kind().name(),
                    args.a,
                    e.a,
                    args.b,
                    e.b,
                    e.rules.join(", ")
                );
            }
            if d.divergences.is_empty() {
                exit::OK
            } else {
                exit::FAILURES
            }
        }
    }
}
