//! The self-check: the suite must pass on the clean reference and catch every
//! deliberate deviation of it. A deviation is caught when at least one
//! scenario citing one of the deviation's rule IDs fails against it (or
//! warns, for a deviation that breaks a SHOULD clause).
//!
//! This is how Tessera proves its scenarios can fail: a suite that passes
//! against a server that accepts expired tokens proves nothing.

use crate::reference::Deviation;
use crate::report::model::{Report, Verdict};
use crate::runner::{RunError, RunOptions, run};
use crate::scenario::Scenario;
use crate::target::Target;

/// What one deviation did to the suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviationResult {
    pub deviation: Deviation,
    /// Failing (or erroring) instances that cite one of the deviation's rules.
    pub caught_by: Vec<String>,
    /// Other failing instances (they fail for a rule the deviation does not
    /// name: collateral damage, not evidence).
    pub collateral: Vec<String>,
}

impl DeviationResult {
    pub fn caught(&self) -> bool {
        !self.caught_by.is_empty()
    }
}

/// The whole check.
#[derive(Debug, Clone)]
pub struct SelfcheckReport {
    /// Instances that do not pass on the clean reference.
    pub clean_failures: Vec<String>,
    pub clean_instances: usize,
    pub deviations: Vec<DeviationResult>,
}

impl SelfcheckReport {
    pub fn uncaught(&self) -> Vec<&'static str> {
        self.deviations
            .iter()
            .filter(|d| !d.caught())
            .map(|d| d.deviation.name())
            .collect()
    }

    pub fn ok(&self) -> bool {
        self.clean_failures.is_empty() && self.uncaught().is_empty()
    }
}

fn failing(report: &Report) -> impl Iterator<Item = &crate::report::ScenarioReport> {
    report
        .scenarios
        .iter()
        .filter(|s| matches!(s.verdict, Verdict::Fail | Verdict::Warn | Verdict::Error))
}

/// Classifies the failures of a run against `deviation`.
pub fn judge(deviation: Deviation, report: &Report) -> DeviationResult {
    let (mut caught_by, mut collateral) = (Vec::new(), Vec::new());
    for s in failing(report) {
        if s.rules
            .iter()
            .any(|r| deviation.rules().iter().any(|d| crate::rules::cites(r, d)))
        {
            caught_by.push(s.id.clone());
        } else {
            collateral.push(s.id.clone());
        }
    }
    DeviationResult {
        deviation,
        caught_by,
        collateral,
    }
}

/// Runs `scenarios` on the clean in-process reference, then once per
/// deviation in `deviations`; `progress` hears each deviation as it starts.
pub async fn selfcheck(
    scenarios: &[Scenario],
    deviations: &[Deviation],
    opts: &RunOptions,
    mut progress: impl FnMut(Option<Deviation>),
) -> Result<SelfcheckReport, RunError> {
    progress(None);
    let clean = run(
        scenarios.to_vec(),
        &Target::reference(Vec::new()),
        opts,
        None,
    )
    .await?;
    let clean_failures = clean
        .scenarios
        .iter()
        .filter(|s| s.verdict != Verdict::Pass)
        .map(|s| format!("{} ({})", s.id, s.verdict.as_str()))
        .collect();
    let mut results = Vec::new();
    for &d in deviations {
        progress(Some(d));
        let report = run(scenarios.to_vec(), &Target::reference(vec![d]), opts, None).await?;
        results.push(judge(d, &report));
    }
    Ok(SelfcheckReport {
        clean_failures,
        clean_instances: clean.scenarios.len(),
        deviations: results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::tests::{report, scenario};

    #[test]
    fn a_deviation_is_caught_only_by_failures_citing_its_rules() {
        let d: Deviation = "accept-expired-tokens".parse().unwrap();
        assert!(d.rules().contains(&"LT-5"));
        let r = report(vec![
            scenario("lifetimes/a", &["LT-5"], Verdict::Fail, &["LT-5"]),
            scenario("sessions/b", &["SL-3"], Verdict::Fail, &["SL-3"]),
            scenario("lifetimes/c", &["LT-5"], Verdict::Pass, &[]),
        ]);
        let j = judge(d, &r);
        assert_eq!(j.caught_by, vec!["lifetimes/a"]);
        assert_eq!(j.collateral, vec!["sessions/b"]);
        assert!(j.caught());

        let only_collateral = report(vec![scenario(
            "sessions/b",
            &["SL-3"],
            Verdict::Fail,
            &["SL-3"],
        )]);
        assert!(!judge(d, &only_collateral).caught());
    }
}
