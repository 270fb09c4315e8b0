//! Verdicts follow the level of the clause a server breaks, on the real
//! suite (`specs/`): each deviation of the reference that breaks only SHOULD
//! clauses (a token still valid at `now == expires`, case-insensitive
//! usernames, a malformed `ip` accepted, ...) gets `warn`s and not one
//! `fail`, while a MUST deviation beside it still fails. Before the exact
//! expiry instant moved to steps of its own, `valid-at-expiry-instant` got
//! 26 fails here.

use std::path::PathBuf;

use tessera::reference::Deviation;
use tessera::report::model::{Report, Verdict};
use tessera::runner::{RunOptions, run};
use tessera::scenario::{Scenario, load_suite};
use tessera::selfcheck::judge;
use tessera::target::Target;

use crate::support::repo;

fn suite() -> Vec<Scenario> {
    load_suite(&[PathBuf::from(repo("specs"))]).expect("the suite loads")
}

async fn run_with(scenarios: &[Scenario], d: Deviation) -> Report {
    let mut report = run(
        scenarios.to_vec(),
        &Target::reference(vec![d]),
        &RunOptions::default(),
        None,
    )
    .await
    .expect("the run proceeds");
    tessera::report::gate::gate(&mut report, Default::default());
    report
}

fn count(report: &Report, v: Verdict) -> Vec<&str> {
    report
        .scenarios
        .iter()
        .filter(|s| s.verdict == v)
        .map(|s| s.id.as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn should_only_deviations_get_warns_and_no_fail() {
    let scenarios = suite();
    let should: Vec<Deviation> = Deviation::ALL
        .iter()
        .copied()
        .filter(|d| d.breaks_only_should())
        .collect();
    assert!(should.len() >= 5, "{should:?}");
    assert!(should.contains(&"valid-at-expiry-instant".parse().unwrap()));
    for d in should {
        let report = run_with(&scenarios, d).await;
        let fails = count(&report, Verdict::Fail);
        let errors = count(&report, Verdict::Error);
        assert!(
            fails.is_empty() && errors.is_empty(),
            "{d}: {fails:?} {errors:?}"
        );
        assert!(!count(&report, Verdict::Warn).is_empty(), "{d}: no warn");
        let j = judge(d, &report);
        assert!(j.caught(), "{d}");
        assert!(j.wrong_verdict.is_empty(), "{d}: {:?}", j.wrong_verdict);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_must_deviation_beside_them_still_fails() {
    let scenarios = suite();
    let d: Deviation = "accept-expired-tokens".parse().unwrap();
    assert!(!d.breaks_only_should());
    let report = run_with(&scenarios, d).await;
    let fails = count(&report, Verdict::Fail);
    assert!(
        fails.contains(&"lifetimes/invalid-after-expiry"),
        "{fails:?}"
    );
    assert!(
        fails.contains(&"lifetimes/expiry-boundary-pair"),
        "{fails:?}"
    );
    let j = judge(d, &report);
    assert!(j.caught() && j.wrong_verdict.is_empty(), "{j:?}");
}
