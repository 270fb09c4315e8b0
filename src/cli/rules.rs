//! `tessera rules`: every rule ID with the scenarios that cite it; uncovered
//! rules are marked and make the command fail (CI uses it).

use std::path::PathBuf;

use tessera::exit;

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
        if ids.is_empty() {
            uncovered.push(rule.id);
            outln!("{:<6} UNCOVERED  {}", rule.id, rule.summary);
        } else {
            outln!(
                "{:<6} {:>3} scenarios  {}",
                rule.id,
                ids.len(),
                ids.join(", ")
            );
        }
    }
    let covered = cov.len() - uncovered.len();
    outln!(
        "\n{covered}/{} rules covered ({}%) by {} scenarios",
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
