//! `tessera rules`: every rule of semantics.md with its level(s), its
//! variants (the reference's marked), its one-line summary and the
//! scenarios that cite it (`(SHOULD)` after one citing its SHOULD clause).
//! Uncovered rules are marked and make the command fail (CI uses it).

use std::path::PathBuf;

use tessera::exit;
use tessera::rules::Clause;

#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    /// Scenario files or folders.
    #[arg(default_value = "specs")]
    paths: Vec<PathBuf>,
}

pub fn execute(args: RulesArgs) -> u8 {
    let scenarios = match tessera::scenario::load_suite(&args.paths) {
        Ok(s) => s,
        Err(diags) => {
            err!("{}", tessera::scenario::render_all(&diags, false));
            return exit::LOAD_ERROR;
        }
    };
    let cov = tessera::rules::coverage(
        scenarios
            .iter()
            .map(|s| (s.id.as_str(), s.rules.as_slice())),
    );
    let mut uncovered = Vec::new();
    for (rule, ids) in &cov {
        outln!("{}", tessera::rules::describe(rule));
        if ids.is_empty() {
            uncovered.push(rule.id);
            outln!("{:<6} UNCOVERED\n", "");
            continue;
        }
        let cited: Vec<String> = ids
            .iter()
            .map(|id| {
                let should = scenarios.iter().any(|s| {
                    &s.id == id
                        && s.rules
                            .iter()
                            .any(|r| r.id.as_str() == rule.id && r.clause == Clause::Should)
                });
                if should {
                    format!("{id} (SHOULD)")
                } else {
                    id.clone()
                }
            })
            .collect();
        outln!(
            "{:<6} {} scenario(s): {}\n",
            "",
            cited.len(),
            cited.join(", ")
        );
    }
    let covered = cov.len() - uncovered.len();
    outln!(
        "{covered}/{} rules covered ({}%) by {} scenarios",
        cov.len(),
        covered * 100 / cov.len(),
        scenarios.len()
    );
    if uncovered.is_empty() {
        exit::OK
    } else {
        errln!("uncovered rules: {}", uncovered.join(", "));
        exit::FAILURES
    }
}
