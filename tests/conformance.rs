//! `cargo test` runs the conformance suite: every scenario in `specs/` is a
//! test named `AREA::NAME`, played against the in-process reference server.
//!
//! libtest-mimic gives the usual test-binary interface, so
//! `cargo test --test conformance -- --list`, name filters and `--exact`
//! work as with any Rust test. A matrix scenario is one test; its cases are
//! played inside it. The suite goes through the same selection as
//! `tessera run` (`tessera::select`), with nothing filtered out. Each
//! scenario's report then goes through the gate, so a VARIANT rule shown
//! differently by the cases of one matrix fails its test too; one more
//! test, `suite::behaviour-profile`, plays the whole suite at once and fails
//! on what the gate finds across scenarios.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use tessera::report::console;
use tessera::report::gate::gate;
use tessera::runner::{RunOptions, run};
use tessera::scenario::{Scenario, load_suite, render_all};
use tessera::select::{Selection, select};
use tessera::target::Target;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
    let scenarios = match load_suite(&[specs]) {
        Ok(s) => s,
        Err(diags) => {
            eprint!("{}", render_all(&diags, false));
            return ExitCode::from(tessera::exit::LOAD_ERROR);
        }
    };
    let scenarios = match select(scenarios, &Selection::default()) {
        Ok(s) => s.scenarios,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(tessera::exit::NOTHING_SELECTED);
        }
    };
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime"),
    );
    let target = Arc::new(Target::reference(Vec::new()));
    let whole = {
        let (rt, target, all) = (runtime.clone(), target.clone(), scenarios.clone());
        Trial::test("suite::behaviour-profile", move || {
            play_all(&rt, &target, all)
        })
    };
    let trials = scenarios
        .into_iter()
        .map(|s| {
            let name = test_name(&s);
            let (rt, target) = (runtime.clone(), target.clone());
            Trial::test(name, move || play(&rt, &target, s))
        })
        .chain(std::iter::once(whole))
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

/// `lifetimes/default-expiration` is `lifetimes::default-expiration`.
fn test_name(s: &Scenario) -> String {
    match s.id.split_once('/') {
        Some((area, name)) => format!("{area}::{name}"),
        None => s.id.clone(),
    }
}

/// The whole suite in one run, judged as `tessera run` judges it: what the
/// gate finds across scenarios (one VARIANT rule shown differently by two
/// scenarios, an HP-2 order the pairs and stacks do not agree on) fails
/// this test; each scenario's own verdict is its own test's business.
fn play_all(
    rt: &tokio::runtime::Runtime,
    target: &Target,
    all: Vec<Scenario>,
) -> Result<(), Failed> {
    let mut report = rt
        .block_on(run(all, target, &RunOptions::default(), None))
        .map_err(|e| Failed::from(e.to_string()))?;
    let outcome = gate(&mut report, Default::default());
    let bad: Vec<String> = outcome
        .reasons
        .iter()
        .filter(|f| f.scenario().is_empty())
        .map(ToString::to_string)
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n").into())
    }
}

fn play(rt: &tokio::runtime::Runtime, target: &Target, s: Scenario) -> Result<(), Failed> {
    let opts = RunOptions {
        jobs: 1,
        ..RunOptions::default()
    };
    let mut report = rt
        .block_on(run(vec![s], target, &opts, None))
        .map_err(|e| Failed::from(e.to_string()))?;
    let outcome = gate(&mut report, Default::default());
    let mut bad: Vec<String> = report
        .scenarios
        .iter()
        // The reference implements every SHOULD clause too: a warn is a bug.
        .filter(|r| r.verdict.is_failure() || r.verdict == tessera::report::Verdict::Warn)
        .map(console::scenario_line)
        .collect();
    // What the gate finds about the scenario's cases together, as `tessera
    // run` would: one VARIANT rule (or HP-2 pair) shown differently from
    // case to case, an HP-2 order that is not one. Each case alone passes
    // then; a reference that falls back to a lower carrier shows only so.
    bad.extend(
        outcome
            .reasons
            .iter()
            .filter(|f| f.scenario().is_empty())
            .map(ToString::to_string),
    );
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n").into())
    }
}
