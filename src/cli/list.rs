//! `tessera list [PATHS]`: what `tessera run` with the same paths and
//! filters would select, without running anything: one line per scenario
//! (profile, what it needs from the target, its knobs), one per matrix case
//! (the instance id `--filter` and baselines accept), and the totals.

use std::path::PathBuf;

use tessera::exit;
use tessera::select::{Partition, Selection};

use super::FilterArgs;

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Scenario files or folders (searched recursively for *.yaml).
    #[arg(default_value = "specs")]
    paths: Vec<PathBuf>,
    /// Only shard k of n (`2/3`), as `run --partition` would.
    #[arg(long, value_name = "K/N")]
    partition: Option<String>,
    #[command(flatten)]
    filter: FilterArgs,
}

pub fn execute(args: ListArgs) -> u8 {
    let filter = match args.filter.filter() {
        Ok(f) => f,
        Err(code) => return code,
    };
    let partition = match args.partition.as_deref().map(str::parse::<Partition>) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            errln!("error: --partition: {e}");
            return exit::USAGE;
        }
    };
    let all = match tessera::scenario::load_suite(&args.paths) {
        Ok(s) => s,
        Err(diags) => {
            errln!("{}", tessera::scenario::render_all(&diags, false));
            return exit::LOAD_ERROR;
        }
    };
    if let Err(code) = super::check_areas(&filter, &all) {
        return code;
    }
    let selection = Selection {
        filter,
        rerun: None,
        partition,
    };
    let selected = match super::select_or_exit(all, &selection) {
        Ok(s) => s,
        Err(code) => return code,
    };
    for note in &selected.notes {
        errln!("note: {note}");
    }
    let mut scenarios = selected.scenarios;
    scenarios.sort_by(|a, b| a.id.cmp(&b.id));
    let mut instances = 0;
    for s in &scenarios {
        let mut needs = vec![s.profile.as_str().to_owned()];
        if !s.requires.is_empty() {
            let r: Vec<&str> = s.requires.iter().map(|c| c.as_str()).collect();
            needs.push(format!("requires {}", r.join(", ")));
        }
        let k: Vec<String> = s.knobs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !k.is_empty() {
            needs.push(format!("knobs {}", k.join(", ")));
        }
        let matrix = s.cases.iter().any(|c| !c.name.is_empty());
        if matrix {
            needs.push(format!("{} cases", s.cases.len()));
        }
        outln!("{}  ({})", s.id, needs.join("; "));
        if matrix {
            for c in &s.cases {
                outln!("  {}[{}]", s.id, c.name);
            }
        }
        instances += s.cases.len();
    }
    outln!(
        "{} scenario(s), {instances} instance(s) selected",
        scenarios.len()
    );
    exit::OK
}
