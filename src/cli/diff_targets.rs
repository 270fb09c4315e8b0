//! `tessera diff-targets`: the same generated sequences against two targets,
//! reporting each divergence in normalised outcome (status, error code,
//! which carrier won).

use std::collections::BTreeSet;
use std::sync::Arc;

use tessera::exit;
use tessera::fuzz::diff;
use tessera::fuzz::machine::FuzzConfig;
use tessera::fuzz::ops::OpKind;
use tessera::reference::Deviation;

use super::{SequenceArgs, TimeoutArgs, fuzz};

#[derive(Debug, clap::Args)]
pub struct DiffTargetsArgs {
    /// The first target (what `tessera run --target` takes).
    #[arg(long, default_value = "reference")]
    pub a: String,
    /// The second target.
    #[arg(long)]
    pub b: String,
    /// Start an in-process reference `--a` with this deviation (repeatable).
    #[arg(long = "a-deviation", value_name = "NAME")]
    pub a_deviations: Vec<Deviation>,
    /// Start an in-process reference `--b` with this deviation (repeatable).
    #[arg(long = "b-deviation", value_name = "NAME")]
    pub b_deviations: Vec<Deviation>,
    #[command(flatten)]
    pub sequences: SequenceArgs,
    #[command(flatten)]
    pub timeout: TimeoutArgs,
}

pub fn execute(args: DiffTargetsArgs) -> u8 {
    let seed = args.sequences.seed();
    let rt = match super::runtime() {
        Ok(rt) => Arc::new(rt),
        Err(code) => return code,
    };
    let timeouts = args.timeout.timeouts();
    let built = fuzz::prepare(&rt, &args.a, &args.a_deviations, &[], timeouts).and_then(|a| {
        let b = fuzz::prepare(&rt, &args.b, &args.b_deviations, &[], timeouts)?;
        Ok((a, b))
    });
    let (mut a, mut b) = match built {
        Ok(x) => x,
        Err((code, e)) => {
            errln!("tessera diff-targets: {e}");
            return code;
        }
    };
    // The model generates with `a`'s knobs, and only kinds both targets take.
    let knobs = a.knobs.clone();
    let kinds: BTreeSet<OpKind> = a.kinds.intersection(&b.kinds).copied().collect();
    let label = |t: &str, devs: &[Deviation]| {
        if devs.is_empty() {
            t.to_owned()
        } else {
            let names: Vec<&str> = devs.iter().map(|d| d.name()).collect();
            format!("{t} (deviation {})", names.join(", "))
        }
    };
    outln!(
        "a = {}, b = {}: the same sequences against both (seed {seed}, {} cases)",
        label(&args.a, &args.a_deviations),
        label(&args.b, &args.b_deviations),
        args.sequences.cases
    );
    let mut left_out = a.left_out.clone();
    left_out.extend(b.left_out.iter().filter(|k| !a.left_out.contains(k)));
    if let Some(line) = fuzz::left_out_line(&left_out) {
        outln!("{line}");
    }
    let config = FuzzConfig {
        cases: args.sequences.cases,
        max_steps: args.sequences.max_steps,
        knobs,
        kinds,
        ..FuzzConfig::new(seed)
    };
    match diff::diff(&config, a.exec.as_mut(), b.exec.as_mut()) {
        Err(e) => {
            errln!("tessera diff-targets: {e}");
            exit::INFRASTRUCTURE
        }
        Ok(d) => {
            outln!(
                "{} sequences, {} operations, {} divergences (seed {seed})",
                d.cases_run,
                d.ops_run,
                d.divergences.len()
            );
            for e in &d.divergences {
                outln!(
                    "case {} step {} ({}): a = {}; b = {}  [{}]",
                    e.case,
                    e.step + 1,
                    e.ops[e.step].kind().name(),
                    e.a,
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
