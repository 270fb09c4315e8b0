//! The self-check: the suite must pass on the clean reference and catch every
//! deliberate deviation of it. A deviation is caught when at least one
//! scenario citing one of the deviation's rule IDs fails against it (or
//! warns, for a deviation that breaks a SHOULD clause), and caught with the
//! right verdict: a deviation that breaks only SHOULD clauses
//! ([`Deviation::breaks_only_should`]) gets warns and no fail anywhere, any
//! other gets at least one fail.
//!
//! This is how Tessera proves its scenarios can fail: a suite that passes
//! against a server that accepts expired tokens proves nothing. The other
//! direction: with variant runs, the clean suite is also played on the
//! reference switched to other listed variants of the VARIANT rules
//! ([`Variants::alternatives`], one at a time, then all at once), where it
//! must not fail either.
//!
//! [`clients`] is the same idea for client certification: the built-in
//! good driver must pass the client cases and each broken driver must be
//! caught on the rules it breaks.

use crate::reference::{Deviation, Variants};
use crate::report::model::{Finding, Report, Verdict};
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
    /// Why the verdicts are the wrong kind: a `fail` (or a failing run-level
    /// finding) for a deviation that breaks only SHOULD clauses, or only
    /// `warn`s for one that breaks a MUST. Empty when right.
    pub wrong_verdict: Vec<String>,
}

impl DeviationResult {
    pub fn caught(&self) -> bool {
        !self.caught_by.is_empty()
    }
}

/// What one variant set did to the clean suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantRun {
    /// `RULE=NAME, ...` of the variants switched on.
    pub variants: String,
    /// Instances that do not pass with them (`id (verdict)`).
    pub failures: Vec<String>,
}

/// The whole check.
#[derive(Debug, Clone)]
pub struct SelfcheckReport {
    /// Instances that do not pass on the clean reference.
    pub clean_failures: Vec<String>,
    pub clean_instances: usize,
    pub deviations: Vec<DeviationResult>,
    /// The clean suite on other variants (empty unless asked for).
    pub variant_runs: Vec<VariantRun>,
}

impl SelfcheckReport {
    pub fn uncaught(&self) -> Vec<&'static str> {
        self.deviations
            .iter()
            .filter(|d| !d.caught())
            .map(|d| d.deviation.name())
            .collect()
    }

    /// Deviations caught with the wrong kind of verdict.
    pub fn wrong_verdicts(&self) -> Vec<&DeviationResult> {
        self.deviations
            .iter()
            .filter(|d| !d.wrong_verdict.is_empty())
            .collect()
    }

    pub fn ok(&self) -> bool {
        self.clean_failures.is_empty()
            && self.uncaught().is_empty()
            && self.wrong_verdicts().is_empty()
            && self.variant_runs.iter().all(|v| v.failures.is_empty())
    }
}

fn failing(report: &Report) -> impl Iterator<Item = &crate::report::ScenarioReport> {
    report
        .scenarios
        .iter()
        .filter(|s| matches!(s.verdict, Verdict::Fail | Verdict::Warn | Verdict::Error))
}

/// Classifies the failures of a run against `deviation`, and checks their
/// kind: a deviation that breaks only SHOULD clauses gets `warn`s and no
/// `fail`; any other gets at least one `fail` citing its rules.
pub fn judge(deviation: Deviation, report: &Report) -> DeviationResult {
    let (mut caught_by, mut collateral) = (Vec::new(), Vec::new());
    let should_only = deviation.breaks_only_should();
    let (mut wrong_verdict, mut failed) = (Vec::new(), false);
    let cites_deviation = |rules: &[String]| {
        rules
            .iter()
            .any(|r| deviation.rules().iter().any(|d| crate::rules::cites(r, d)))
    };
    for s in failing(report) {
        if should_only && s.verdict != Verdict::Warn {
            wrong_verdict.push(format!("{} {}", s.id, s.verdict.as_str()));
        }
        if cites_deviation(&s.rules) {
            failed |= s.verdict != Verdict::Warn;
            caught_by.push(s.id.clone());
        } else {
            collateral.push(s.id.clone());
        }
    }
    // What the gate found about the run as a whole (different variants of
    // one rule in different cases, an HP-2 order that is not one) catches a
    // deviation of that rule, or of a rule the cases showing it cite (a
    // fallback to a lower carrier shows as a mix of HP-2 winners).
    let run_level = report
        .outcome
        .iter()
        .flat_map(|o| &o.reasons)
        .filter(|f| f.scenario().is_empty());
    for f in run_level {
        let (rule, cases): (&str, Vec<&String>) = match f {
            Finding::MixedVariants { rule, shown } => {
                (rule, shown.iter().flat_map(|s| &s.cases).collect())
            }
            Finding::CarrierOrder { .. } => ("HP-2", Vec::new()),
            Finding::UndeclaredVariant { rule, .. } => (rule, Vec::new()),
            _ => continue,
        };
        let id = rule.split(' ').next().unwrap_or(rule);
        let by_case = || {
            report
                .scenarios
                .iter()
                .any(|s| cases.contains(&&s.id) && cites_deviation(&s.rules))
        };
        if should_only {
            wrong_verdict.push(f.to_string());
        }
        if deviation.rules().contains(&id) || by_case() {
            failed = true;
            caught_by.push(f.to_string());
        } else {
            collateral.push(f.to_string());
        }
    }
    if !should_only && !caught_by.is_empty() && !failed {
        wrong_verdict.push("only warns, but it breaks a MUST".to_owned());
    }
    DeviationResult {
        deviation,
        caught_by,
        collateral,
        wrong_verdict,
    }
}

/// Every variant set a full variant check plays: each non-reference variant
/// alone, then all of them at once.
pub fn variant_sets() -> Vec<Variants> {
    let mut sets: Vec<Variants> = Variants::alternatives()
        .iter()
        .filter_map(|s| Variants::parse(s).ok())
        .collect();
    sets.push(Variants::all_alternatives());
    sets
}

/// The instances that do not pass, then what the gate finds about the run
/// as a whole (a mix of variants, an HP-2 carrier order that is not one).
fn not_passing(report: &mut Report) -> Vec<String> {
    let mut out: Vec<String> = report
        .scenarios
        .iter()
        .filter(|s| s.verdict != Verdict::Pass)
        .map(|s| format!("{} ({})", s.id, s.verdict.as_str()))
        .collect();
    let outcome = crate::report::gate::gate(report, Default::default());
    out.extend(
        outcome
            .reasons
            .iter()
            .filter(|f| f.scenario().is_empty())
            .map(ToString::to_string),
    );
    out
}

/// Runs `scenarios` on the clean in-process reference, then once per
/// deviation in `deviations`, then once per set in `variants`; `progress`
/// hears each deviation as it starts.
pub async fn selfcheck(
    scenarios: &[Scenario],
    deviations: &[Deviation],
    variants: &[Variants],
    opts: &RunOptions,
    mut progress: impl FnMut(Option<Deviation>),
) -> Result<SelfcheckReport, RunError> {
    progress(None);
    let mut clean = run(
        scenarios.to_vec(),
        &Target::reference(Vec::new()),
        opts,
        None,
    )
    .await?;
    let clean_failures = not_passing(&mut clean);
    let mut results = Vec::new();
    for &d in deviations {
        progress(Some(d));
        let mut report = run(scenarios.to_vec(), &Target::reference(vec![d]), opts, None).await?;
        crate::report::gate::gate(&mut report, Default::default());
        results.push(judge(d, &report));
    }
    let mut variant_runs = Vec::new();
    for v in variants {
        let target = Target::reference(Vec::new()).with_variants(v.clone());
        let mut report = run(scenarios.to_vec(), &target, opts, None).await?;
        variant_runs.push(VariantRun {
            variants: v.to_string(),
            failures: not_passing(&mut report),
        });
    }
    Ok(SelfcheckReport {
        clean_failures,
        clean_instances: clean.scenarios.len(),
        deviations: results,
        variant_runs,
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

    #[test]
    fn the_verdict_must_match_the_level_the_deviation_breaks() {
        // A MUST deviation caught only by warns is caught with the wrong verdict.
        let must: Deviation = "accept-expired-tokens".parse().unwrap();
        assert!(!must.breaks_only_should());
        let warned = report(vec![scenario(
            "lifetimes/a",
            &["LT-5"],
            Verdict::Warn,
            &["LT-5/SHOULD"],
        )]);
        let j = judge(must, &warned);
        assert!(j.caught());
        assert_eq!(j.wrong_verdict, vec!["only warns, but it breaks a MUST"]);
        let failed = report(vec![scenario(
            "lifetimes/a",
            &["LT-5"],
            Verdict::Fail,
            &["LT-5"],
        )]);
        assert!(judge(must, &failed).wrong_verdict.is_empty());

        // A SHOULD-only deviation: warns are right, any fail is wrong (even
        // one that does not cite its rules).
        let should: Deviation = "valid-at-expiry-instant".parse().unwrap();
        assert!(should.breaks_only_should());
        assert!(judge(should, &warned).wrong_verdict.is_empty());
        let j = judge(should, &failed);
        assert!(j.caught());
        assert_eq!(j.wrong_verdict, vec!["lifetimes/a fail"]);
        let collateral_fail = report(vec![
            scenario("lifetimes/a", &["LT-5"], Verdict::Warn, &["LT-5/SHOULD"]),
            scenario("renewal/b", &["RN-1"], Verdict::Fail, &["RN-1"]),
        ]);
        assert_eq!(
            judge(should, &collateral_fail).wrong_verdict,
            vec!["renewal/b fail"]
        );
        let r = SelfcheckReport {
            clean_failures: vec![],
            clean_instances: 1,
            deviations: vec![judge(should, &collateral_fail)],
            variant_runs: vec![],
        };
        assert!(!r.ok());
        assert_eq!(r.wrong_verdicts().len(), 1);
    }

    #[test]
    fn variant_sets_are_each_alternative_then_all_at_once() {
        let sets = variant_sets();
        assert_eq!(sets.len(), Variants::alternatives().len() + 1);
        for s in &sets[..sets.len() - 1] {
            assert_eq!(s.changed().len(), 1, "{s}");
        }
        assert_eq!(
            sets.last().unwrap().changed().len(),
            Variants::alternatives().len()
        );
    }

    #[test]
    fn a_failing_variant_run_fails_the_check() {
        let mut r = SelfcheckReport {
            clean_failures: vec![],
            clean_instances: 1,
            deviations: vec![],
            variant_runs: vec![VariantRun {
                variants: "HP-8=ignored".into(),
                failures: vec![],
            }],
        };
        assert!(r.ok());
        r.variant_runs[0].failures.push("a/b (fail)".into());
        assert!(!r.ok());
    }
}

/// The client self-check (`tessera selfcheck --clients`, issue 15): the
/// built-in good driver must pass every client case (or find it not
/// applicable), and each built-in broken driver must be caught, `fail` or
/// `warn`, on each CL rule it is listed with
/// ([`crate::certify::drivers::DRIVERS`]). A broken driver plays only the
/// cases citing its rules; the good one plays them all.
pub mod clients {
    use std::sync::Arc;

    use crate::certify::driver::DriverSpec;
    use crate::certify::drivers::{BROKEN, GOOD};
    use crate::certify::load::Case;
    use crate::certify::plan::CasePlan;
    use crate::certify::run::{self, CaseJudge, Progress, RunOptions, Stages};
    use crate::certify::verdict::{Certification, ClientResult, Verdict};

    /// What one built-in driver did.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DriverCheck {
        pub driver: String,
        /// The rules it must be caught on (none for the good driver).
        pub rules: Vec<String>,
        /// Cases it played.
        pub cases: usize,
        pub ok: bool,
        /// Why it is ok or not, in a line.
        pub detail: String,
    }

    /// The whole client self-check.
    #[derive(Debug, Clone)]
    pub struct ClientsReport {
        pub checks: Vec<DriverCheck>,
        pub certification: Certification,
        /// Cases whose world failed (listeners, certificates).
        pub infrastructure: Vec<String>,
    }

    impl ClientsReport {
        pub fn ok(&self) -> bool {
            self.infrastructure.is_empty() && self.checks.iter().all(|c| c.ok)
        }
    }

    /// `cite` (`CL-7`, `CL-7/SHOULD`) is about `rule` (`CL-7`).
    fn cites(cite: &str, rule: &str) -> bool {
        cite == rule || cite.strip_prefix(rule).is_some_and(|r| r.starts_with('/'))
    }

    /// The indexes of the plans citing any of `rules`.
    pub fn cases_for(rules: &[&str], plans: &[CasePlan]) -> Vec<usize> {
        plans
            .iter()
            .enumerate()
            .filter(|(_, p)| p.rules.iter().any(|c| rules.iter().any(|r| cites(c, r))))
            .map(|(i, _)| i)
            .collect()
    }

    /// The good driver passes when every case passed or was not applicable.
    pub fn check_good(c: &ClientResult) -> DriverCheck {
        let bad: Vec<String> = c
            .cases
            .iter()
            .filter(|k| !matches!(k.verdict, Verdict::Pass | Verdict::NotApplicable))
            .map(|k| format!("{} {}", k.id, k.verdict.as_str()))
            .collect();
        let passed = c
            .cases
            .iter()
            .filter(|k| k.verdict == Verdict::Pass)
            .count();
        DriverCheck {
            driver: GOOD.into(),
            rules: vec![],
            cases: c.cases.len(),
            ok: bad.is_empty() && passed > 0,
            detail: if bad.is_empty() {
                format!("{passed} pass, {} not applicable", c.cases.len() - passed)
            } else {
                format!("does not pass: {}", bad.join(", "))
            },
        }
    }

    /// A broken driver is caught when each of its rules is `fail` or
    /// `warn` in its result.
    pub fn check_broken(name: &str, rules: &[&str], c: &ClientResult) -> DriverCheck {
        let mut caught = Vec::new();
        let mut missed = Vec::new();
        for r in rules {
            let v = c.rules.iter().find(|x| x.rule == *r);
            match v {
                Some(x) if matches!(x.verdict, Verdict::Fail | Verdict::Warn) => caught.push(
                    format!("{r} {} ({})", x.verdict.as_str(), x.cases.join(", ")),
                ),
                Some(x) => missed.push(format!("{r} {}", x.verdict.as_str())),
                None => missed.push(format!("{r} not judged")),
            }
        }
        let errors: Vec<&str> = c
            .cases
            .iter()
            .filter(|k| k.verdict == Verdict::Error)
            .map(|k| k.id.as_str())
            .collect();
        let mut detail = if missed.is_empty() {
            format!("caught: {}", caught.join("; "))
        } else {
            format!("NOT CAUGHT: {}", missed.join(", "))
        };
        if !errors.is_empty() {
            detail.push_str(&format!(" (errors: {})", errors.join(", ")));
        }
        DriverCheck {
            driver: name.into(),
            rules: rules.iter().map(|r| r.to_string()).collect(),
            cases: c.cases.len(),
            ok: missed.is_empty() && !c.cases.is_empty(),
            detail,
        }
    }

    /// Plays the good driver on every case and each broken driver on the
    /// cases citing its rules; `program` is the `tessera` binary that runs
    /// `client-driver NAME`.
    pub async fn run<W: Stages>(
        cases: Vec<Case>,
        program: &str,
        worlds: W,
        opts: &RunOptions,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> ClientsReport {
        let plans: Vec<CasePlan> = cases.iter().map(|c| c.plan.clone()).collect();
        let command = |name: &str| format!("{} client-driver {name}", run::shell_quote(program));
        let mut drivers = vec![DriverSpec {
            command: command(GOOD),
            name: Some(GOOD.into()),
        }];
        let mut subsets = vec![(0..plans.len()).collect::<Vec<_>>()];
        for (name, rules) in BROKEN {
            drivers.push(DriverSpec {
                command: command(name),
                name: Some((*name).into()),
            });
            subsets.push(cases_for(rules, &plans));
        }
        let out = run::certify_subsets(
            Arc::new(plans),
            Arc::new(drivers),
            subsets,
            Arc::new(worlds),
            Arc::new(CaseJudge { cases }),
            opts,
            progress,
        )
        .await;
        let mut checks = Vec::new();
        for (i, c) in out.certification.clients.iter().enumerate() {
            checks.push(match i {
                0 => check_good(c),
                _ => {
                    let (name, rules) = BROKEN[i - 1];
                    check_broken(name, rules, c)
                }
            });
        }
        ClientsReport {
            checks,
            certification: out.certification,
            infrastructure: out.infrastructure,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::certify::verdict::{CaseResult, RuleResult};

        fn case(id: &str, v: Verdict) -> CaseResult {
            CaseResult {
                id: id.into(),
                title: String::new(),
                file: String::new(),
                rules: vec![],
                verdict: v,
                reason: None,
                findings: vec![],
                shown: vec![],
                duration_ms: 0,
                replay: String::new(),
            }
        }

        fn client(cases: Vec<CaseResult>, rules: &[(&str, Verdict)]) -> ClientResult {
            ClientResult {
                name: "x".into(),
                client: None,
                version: None,
                features: vec![],
                driver: String::new(),
                card: vec![],
                rules: rules
                    .iter()
                    .map(|(r, v)| RuleResult {
                        rule: (*r).into(),
                        levels: "MUST".into(),
                        verdict: *v,
                        cases: vec!["client/a".into()],
                        variants: vec![],
                    })
                    .collect(),
                cases,
                verdict: Verdict::Pass,
            }
        }

        #[test]
        fn the_good_driver_must_pass_or_be_not_applicable_everywhere() {
            let ok = client(
                vec![case("a", Verdict::Pass), case("b", Verdict::NotApplicable)],
                &[],
            );
            assert!(check_good(&ok).ok);
            for v in [
                Verdict::Warn,
                Verdict::Fail,
                Verdict::Error,
                Verdict::Skipped,
            ] {
                let c = client(vec![case("a", Verdict::Pass), case("b", v)], &[]);
                let r = check_good(&c);
                assert!(!r.ok, "{v:?}");
                assert!(r.detail.contains("b "), "{}", r.detail);
            }
            assert!(
                !check_good(&client(vec![], &[])).ok,
                "nothing played proves nothing"
            );
        }

        #[test]
        fn a_broken_driver_is_caught_only_when_each_of_its_rules_fails_or_warns() {
            let c = client(
                vec![case("a", Verdict::Fail)],
                &[
                    ("CL-8", Verdict::Fail),
                    ("CL-14", Verdict::Warn),
                    ("CL-1", Verdict::Pass),
                ],
            );
            assert!(check_broken("retry-forever", &["CL-8", "CL-14"], &c).ok);
            let r = check_broken("x", &["CL-8", "CL-1"], &c);
            assert!(!r.ok);
            assert!(r.detail.contains("NOT CAUGHT: CL-1 pass"), "{}", r.detail);
            assert!(!check_broken("x", &["CL-9"], &c).ok);
        }

        #[test]
        fn broken_drivers_play_the_cases_citing_their_rules() {
            let plan = |id: &str, rules: &[&str]| CasePlan {
                id: id.into(),
                rules: rules.iter().map(|r| r.to_string()).collect(),
                ..CasePlan::default()
            };
            let plans = [
                plan("a", &["CL-1"]),
                plan("b", &["CL-7/SHOULD", "CL-5"]),
                plan("c", &["CL-14"]),
            ];
            assert_eq!(cases_for(&["CL-7"], &plans), vec![1]);
            assert_eq!(cases_for(&["CL-1"], &plans), vec![0]);
            assert_eq!(cases_for(&["CL-1", "CL-14"], &plans), vec![0, 2]);
            assert!(cases_for(&["CL-9"], &plans).is_empty());
        }
    }
}
