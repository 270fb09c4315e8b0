//! The CI gate: does this run pass? Baselines of expected failures, and
//! flaky scenarios.
//!
//! A baseline (`--baseline FILE`) is a YAML file of expected failures keyed
//! by scenario id, each with a reason and an optional expiry date:
//!
//! ```yaml
//! version: 1
//! expected_failures:
//!   - id: lifetimes/lt5-expiry-boundary
//!     reason: "vendor ticket 1234: accepts a token at now == expires"
//!     expires: 2026-12-31
//! ```
//!
//! The rules, all decided by [`apply_baseline`] (pure: the date is passed in),
//! which stores the result as the report's [`Outcome`] (writers render it,
//! none decides it again):
//! - an expected failure that fails (or errors) is marked
//!   [`GateMark::ExpectedFailure`] and does not fail the run;
//! - one that passes (or only warns, without `--strict`) is an
//!   [`GateMark::UnexpectedPass`] and fails the run, so the baseline is kept
//!   honest;
//! - an entry whose `expires` date is before today fails the run, naming it
//!   (the scenario's own verdict then counts as if it had no entry);
//! - any other failure or error fails the run;
//! - a `warn` (only SHOULD clauses broken) fails the run only with
//!   `strict`;
//! - a flaky scenario (failed, then passed on a retry) fails the run only
//!   with `flaky_fails`.
//!
//! Coverage is decided here too ([`coverage`], part of every outcome): the
//! cases that ran out of all, the MUST rules cited by cases none of which
//! ran (each with what would unlock them), the skip and not-applicable
//! reasons grouped. [`apply_coverage_gates`] adds `--require-rule` (fails
//! unless a case citing the rule passed) and `--min-ran` (fails below that
//! share of cases run) as reasons.
//!
//! Entries for scenarios not in the report are ignored (a sharded run sees
//! only part of the suite) and listed as notes. `report merge` decides the
//! merged run with [`decide_merged`]. This module reads and writes
//! nothing but strings; YAML goes through `scenario::load`.

use std::collections::BTreeSet;
use std::path::Path;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::model::{
    Coverage, Finding, GateMark, NotRunGroup, Outcome, Policy, Report, RunResult, ScenarioReport,
    UncheckedRule, Unlock, Verdict,
};
use crate::scenario::diagnostic::{Diagnostic, DiagnosticKind};
use crate::scenario::load::{YamlWriteError, parse_yaml, to_yaml};
use crate::scenario::model::{Loc, Spanned};

/// The only baseline format version.
pub const BASELINE_VERSION: u32 = 1;

/// A baseline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub version: u32,
    #[serde(default)]
    pub expected_failures: Vec<ExpectedFailure>,
}

/// The places of a baseline's fields (other fields ignored: [`Baseline`]
/// already checked them).
#[derive(Deserialize)]
struct LocatedBaseline {
    version: Spanned<u32>,
    #[serde(default)]
    expected_failures: Vec<LocatedEntry>,
}

#[derive(Deserialize)]
struct LocatedEntry {
    id: Spanned<String>,
}

/// One scenario expected to fail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailure {
    /// The report id: the scenario id, plus `[case]` for a matrix case.
    pub id: String,
    pub reason: String,
    /// Last day the entry holds (`YYYY-MM-DD`); from the next day on it fails
    /// the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Date>,
}

impl Baseline {
    /// Parses and checks a baseline file's text: version 1, no duplicate
    /// ids, no empty reason.
    pub fn parse(text: &str, file: &Path) -> Result<Baseline, Diagnostic> {
        let b: Baseline = parse_yaml(text, file)?;
        // The same text again, for the places of the problems found below
        // (the model itself stays plain so it can be written back).
        let located: LocatedBaseline = parse_yaml(text, file)?;
        let invalid =
            |loc: Loc, msg: String| Diagnostic::new(file, loc, DiagnosticKind::Invalid(msg));
        if b.version != BASELINE_VERSION {
            return Err(invalid(
                located.version.loc,
                format!(
                    "baseline `version: {BASELINE_VERSION}`, found `version: {}`",
                    b.version
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, e) in b.expected_failures.iter().enumerate() {
            let loc = located
                .expected_failures
                .get(i)
                .map(|l| l.id.loc)
                .unwrap_or_default();
            if !seen.insert(e.id.as_str()) {
                return Err(invalid(
                    loc,
                    format!(
                        "each scenario id once in a baseline, `{}` is listed twice",
                        e.id
                    ),
                ));
            }
            if e.reason.trim().is_empty() {
                return Err(invalid(
                    loc,
                    format!("a reason for every expected failure, `{}` has none", e.id),
                ));
            }
        }
        Ok(b)
    }

    /// The baseline as YAML text.
    pub fn to_yaml(&self) -> Result<String, YamlWriteError> {
        to_yaml(self)
    }

    fn entry(&self, id: &str) -> Option<&ExpectedFailure> {
        self.expected_failures.iter().find(|e| e.id == id)
    }
}

/// `tessera baseline write REPORT.json`: one entry per failed or errored
/// scenario (and per warn, when the report was gated with `--strict`), with
/// a reason to be edited (the first broken check) and no expiry.
pub fn draft_baseline(report: &Report) -> Baseline {
    let strict = report.outcome.as_ref().is_some_and(|o| o.policy.strict);
    let expected_failures = report
        .scenarios
        .iter()
        .filter(|s| s.verdict.is_failure() || (strict && s.verdict == Verdict::Warn))
        .map(|s| {
            let why = match s.failures().next() {
                Some((step, c)) => format!(
                    "{}{}: expected {}, got {} (step {})",
                    rules_prefix(&c.rules),
                    c.what,
                    c.expected,
                    c.actual,
                    step.index
                ),
                None => s
                    .reason
                    .clone()
                    .unwrap_or_else(|| s.verdict.as_str().to_owned()),
            };
            ExpectedFailure {
                id: s.id.clone(),
                reason: format!("TODO explain: {why}"),
                expires: None,
            }
        })
        .collect();
    Baseline {
        version: BASELINE_VERSION,
        expected_failures,
    }
}

fn rules_prefix(rules: &[String]) -> String {
    if rules.is_empty() {
        String::new()
    } else {
        format!("[{}] ", rules.join(", "))
    }
}

/// Decides the run without a baseline (see [`apply_baseline`]).
pub fn gate(report: &mut Report, policy: Policy) -> Outcome {
    let empty = Baseline {
        version: BASELINE_VERSION,
        expected_failures: vec![],
    };
    apply_baseline(report, &empty, policy, Date::MIN)
}

/// Applies a baseline to a report: sets each scenario's `gate` mark,
/// decides whether the run passes, and stores that [`Outcome`] in the
/// report (returning a copy). `today` is the caller's civil date (the gate
/// reads no clock).
pub fn apply_baseline(
    report: &mut Report,
    baseline: &Baseline,
    policy: Policy,
    today: Date,
) -> Outcome {
    let mut out = empty_outcome(report, policy);
    for s in &mut report.scenarios {
        s.gate = None;
        let entry = baseline.entry(&s.id).filter(|e| match e.expires {
            Some(d) if d < today => {
                out.reasons.push(Finding::ExpiredEntry {
                    id: e.id.clone(),
                    expired: d.to_string(),
                    reason: e.reason.clone(),
                });
                false
            }
            _ => true,
        });
        if let Some(e) = entry {
            let reason = e.reason.clone();
            if fails(s.verdict, policy) {
                s.gate = Some(GateMark::ExpectedFailure { reason });
            } else if matches!(s.verdict, Verdict::Pass | Verdict::Warn) {
                s.gate = Some(GateMark::UnexpectedPass { reason });
            }
        }
        judge(s, policy, &mut out);
    }
    for e in &baseline.expected_failures {
        if !report.scenarios.iter().any(|s| s.id == e.id) {
            out.notes.push(Finding::UnmatchedEntry { id: e.id.clone() });
        }
    }
    settle(report, out)
}

/// `report merge`: decides the merged run again from its scenarios, since
/// no shard saw them all. There is no baseline here, but each scenario
/// keeps the mark its shard's baseline gave it (an expected failure stays
/// expected, an unexpected pass still fails the run), and the shards'
/// expired baseline entries still fail it (they are facts about the
/// baseline, not about a scenario's verdict). A baseline entry matching no
/// scenario is noted when no shard matched it. The policy is `flags` plus
/// whatever any shard was gated with (merging never loosens a shard's
/// `--strict` or `--flaky-fails`).
pub fn decide_merged(report: &mut Report, shards: &[Option<Outcome>], flags: Policy) -> Outcome {
    let policy = shards.iter().flatten().fold(flags, |p, o| Policy {
        flaky_fails: p.flaky_fails || o.policy.flaky_fails,
        strict: p.strict || o.policy.strict,
    });
    let mut out = empty_outcome(report, policy);
    for s in &report.scenarios {
        for f in shards.iter().flatten().flat_map(|o| &o.reasons) {
            if matches!(f, Finding::ExpiredEntry { id, .. } if *id == s.id)
                && !out.reasons.contains(f)
            {
                out.reasons.push(f.clone());
            }
        }
        judge(s, policy, &mut out);
    }
    // The shards' coverage gates hold for the merged run (a rule one shard
    // did not see may have passed in another).
    let mut gates = CoverageGates::default();
    for o in shards.iter().flatten() {
        for r in &o.coverage.required_rules {
            if !gates.require_rules.contains(r) {
                gates.require_rules.push(r.clone());
            }
        }
        gates.min_ran_percent = gates.min_ran_percent.max(o.coverage.min_ran_percent);
    }
    coverage_reasons(report, &gates, &mut out);
    let decided: Vec<&Outcome> = shards.iter().flatten().collect();
    if let Some(first) = decided.first() {
        for f in &first.notes {
            if matches!(f, Finding::UnmatchedEntry { .. })
                && decided.iter().all(|o| o.notes.contains(f))
            {
                out.notes.push(f.clone());
            }
        }
    }
    settle(report, out)
}

/// Whether a verdict counts as a failure under the policy.
fn fails(v: Verdict, policy: Policy) -> bool {
    v.is_failure() || (policy.strict && v == Verdict::Warn)
}

fn empty_outcome(report: &Report, policy: Policy) -> Outcome {
    Outcome {
        result: RunResult::Passed,
        reasons: vec![],
        notes: vec![],
        totals: report.totals(),
        expected_failures: 0,
        unexpected_passes: 0,
        flaky: 0,
        policy,
        coverage: coverage(report),
    }
}

/// The coverage gates of `tessera run` (`--require-rule`, `--min-ran`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoverageGates {
    /// Rule IDs that need at least one passing case.
    pub require_rules: Vec<String>,
    /// The least share of cases that must run, in percent.
    pub min_ran_percent: Option<u32>,
}

/// How much of the report ran, which MUST rules no case checked (with what
/// would unlock their cases), and the skip and not-applicable reasons
/// grouped. Gates are added by [`apply_coverage_gates`].
pub fn coverage(report: &Report) -> Coverage {
    use std::collections::BTreeMap;
    let ran = |v: Verdict| !matches!(v, Verdict::Skipped | Verdict::NotApplicable);
    let total = report.scenarios.len();
    let n_ran = report.scenarios.iter().filter(|s| ran(s.verdict)).count();
    let mut unchecked = Vec::new();
    for rule in crate::rules::RULES
        .iter()
        .filter(|r| r.has(crate::rules::Level::Must))
    {
        let citing: Vec<&ScenarioReport> = report
            .scenarios
            .iter()
            .filter(|s| s.rules.iter().any(|c| crate::rules::cites(c, rule.id)))
            .collect();
        if citing.is_empty() || citing.iter().any(|s| ran(s.verdict)) {
            continue;
        }
        unchecked.push(UncheckedRule {
            rule: rule.id.to_owned(),
            cases: citing.len(),
            unlock: unlocks(citing.iter().copied()),
        });
    }
    let mut groups: BTreeMap<(Verdict, String), NotRunGroup> = BTreeMap::new();
    for s in report.scenarios.iter().filter(|s| !ran(s.verdict)) {
        let reason = s.reason.clone().unwrap_or_default();
        groups
            .entry((s.verdict, reason.clone()))
            .or_insert(NotRunGroup {
                verdict: s.verdict,
                reason,
                cases: 0,
                unlock: s.unlock.clone(),
            })
            .cases += 1;
    }
    let mut not_run: Vec<NotRunGroup> = groups.into_values().collect();
    not_run.sort_by(|a, b| b.cases.cmp(&a.cases).then(a.verdict.cmp(&b.verdict)));
    Coverage {
        ran: n_ran,
        total,
        unchecked,
        not_run,
        required_rules: Vec::new(),
        min_ran_percent: None,
    }
}

/// The distinct unlocks of these cases, the most frequent first; of several
/// real-wait lengths only the shortest (it already runs some of them).
fn unlocks<'a>(cases: impl Iterator<Item = &'a ScenarioReport>) -> Vec<Unlock> {
    let mut counted: Vec<(Unlock, usize)> = Vec::new();
    for u in cases.filter_map(|s| s.unlock.clone()) {
        match counted.iter_mut().find(|(k, _)| *k == u) {
            Some((_, n)) => *n += 1,
            None => counted.push((u, 1)),
        }
    }
    let shortest = counted
        .iter()
        .filter_map(|(u, _)| match u {
            Unlock::RealWaits { ms } => Some(*ms),
            _ => None,
        })
        .min();
    counted.retain(|(u, _)| match u {
        Unlock::RealWaits { ms } => Some(*ms) == shortest,
        _ => true,
    });
    counted.sort_by_key(|c| std::cmp::Reverse(c.1));
    counted.into_iter().map(|(u, _)| u).collect()
}

/// `--require-rule` and `--min-ran`: adds a reason to the report's outcome
/// (decided before by [`gate`] or [`apply_baseline`]) for every required
/// rule without a passing case and for too small a share of cases run,
/// records the gates in its coverage, and settles it again.
pub fn apply_coverage_gates(report: &mut Report, gates: &CoverageGates) -> Outcome {
    let mut out = match report.outcome.take() {
        Some(o) => o,
        None => empty_outcome(report, Policy::default()),
    };
    coverage_reasons(report, gates, &mut out);
    settle(report, out)
}

fn coverage_reasons(report: &Report, gates: &CoverageGates, out: &mut Outcome) {
    let verdicts = report.rule_verdicts();
    for id in &gates.require_rules {
        if !out.coverage.required_rules.contains(id) {
            out.coverage.required_rules.push(id.clone());
        }
        let passed = verdicts
            .iter()
            .find(|v| v.rule == *id)
            .is_some_and(|v| v.pass > 0 || v.warn > 0);
        let reason = Finding::RuleNotPassed {
            rule: id.clone(),
            unlock: unlocks(
                report
                    .scenarios
                    .iter()
                    .filter(|s| s.rules.iter().any(|c| crate::rules::cites(c, id))),
            ),
        };
        if !passed && !out.reasons.contains(&reason) {
            out.reasons.push(reason);
        }
    }
    if let Some(min) = gates.min_ran_percent {
        out.coverage.min_ran_percent = Some(min.max(out.coverage.min_ran_percent.unwrap_or(0)));
        let (ran, total) = (out.coverage.ran, out.coverage.total);
        // ran / total < min / 100, in integers.
        if total > 0 && ran * 100 < total * min as usize {
            out.reasons.push(Finding::TooFewRan {
                ran,
                total,
                min_percent: min,
            });
        }
    }
}

/// One scenario's part in the outcome, from its verdict and gate mark.
fn judge(s: &ScenarioReport, policy: Policy, out: &mut Outcome) {
    let id = s.id.clone();
    match (&s.gate, s.verdict) {
        (Some(GateMark::ExpectedFailure { reason }), verdict) => {
            out.expected_failures += 1;
            out.notes.push(Finding::ExpectedFailure {
                id,
                verdict,
                reason: reason.clone(),
            });
        }
        (Some(GateMark::UnexpectedPass { reason }), _) => {
            out.unexpected_passes += 1;
            out.reasons.push(Finding::UnexpectedPass {
                id,
                reason: reason.clone(),
            });
        }
        (None, Verdict::Warn) if policy.strict => out.reasons.push(Finding::Warn { id }),
        (None, Verdict::Warn) => out.notes.push(Finding::Warn { id }),
        (None, verdict) if verdict.is_failure() => {
            out.reasons.push(Finding::Failed { id, verdict });
        }
        (None, _) => {}
    }
    if s.flaky && s.verdict == Verdict::Pass && s.gate.is_none() {
        out.flaky += 1;
        let f = Finding::Flaky {
            id: s.id.clone(),
            attempts: s.attempts,
        };
        if policy.flaky_fails {
            out.reasons.push(f);
        } else {
            out.notes.push(f);
        }
    }
}

/// Closes the outcome and stores it in the report.
fn settle(report: &mut Report, mut out: Outcome) -> Outcome {
    out.result = if out.reasons.is_empty() {
        RunResult::Passed
    } else {
        RunResult::Failed
    };
    report.outcome = Some(out.clone());
    out
}

/// `--retries N`: folds the attempts of one scenario (first to last; the
/// runner stops at the first pass) into the report of the last, counting the
/// attempts and marking it flaky when an earlier attempt failed and the
/// last passed. `None` for no attempts.
pub fn settle_attempts(attempts: Vec<ScenarioReport>) -> Option<ScenarioReport> {
    let n = u32::try_from(attempts.len()).unwrap_or(u32::MAX);
    let failed_before = attempts
        .iter()
        .rev()
        .skip(1)
        .any(|a| a.verdict.is_failure());
    let mut last = attempts.into_iter().last()?;
    last.attempts = n;
    last.flaky = failed_before && last.verdict == Verdict::Pass;
    Some(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::tests::{report, scenario};

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn baseline(entries: &[(&str, Option<&str>)]) -> Baseline {
        Baseline {
            version: 1,
            expected_failures: entries
                .iter()
                .map(|(id, exp)| ExpectedFailure {
                    id: id.to_string(),
                    reason: format!("ticket for {id}"),
                    expires: exp.map(date),
                })
                .collect(),
        }
    }

    const TODAY: &str = "2026-11-24";

    const PLAIN: Policy = Policy {
        flaky_fails: false,
        strict: false,
    };

    fn texts(f: &[Finding]) -> Vec<String> {
        f.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_plain_failure_fails_the_run() {
        let mut r = report(vec![
            scenario("lifetimes/a", &["LT-5"], Verdict::Fail, &["LT-5"]),
            scenario("lifetimes/b", &["LT-1"], Verdict::Pass, &[]),
        ]);
        let o = apply_baseline(&mut r, &baseline(&[]), PLAIN, date(TODAY));
        assert!(!o.passed());
        assert_eq!(texts(&o.reasons), ["lifetimes/a fail"]);
        assert_eq!(gate(&mut r.clone(), PLAIN), o);
        assert_eq!(r.outcome.as_ref(), Some(&o), "stored in the report");
        assert_eq!(o.totals.fail, 1);
    }

    #[test]
    fn an_expected_failure_does_not_fail_the_run() {
        let mut r = report(vec![
            scenario("lifetimes/a", &["LT-5"], Verdict::Fail, &["LT-5"]),
            scenario("lifetimes/e", &["LT-5"], Verdict::Error, &[]),
            scenario("lifetimes/b", &["LT-1"], Verdict::Pass, &[]),
        ]);
        let b = baseline(&[("lifetimes/a", Some(TODAY)), ("lifetimes/e", None)]);
        let o = apply_baseline(&mut r, &b, PLAIN, date(TODAY));
        assert!(o.passed(), "{o:?}");
        assert_eq!(
            r.scenarios[0].gate,
            Some(GateMark::ExpectedFailure {
                reason: "ticket for lifetimes/a".into()
            })
        );
        assert!(matches!(
            r.scenarios[1].gate,
            Some(GateMark::ExpectedFailure { .. })
        ));
        assert_eq!(r.scenarios[2].gate, None);
        assert_eq!(o.notes.len(), 2);
    }

    #[test]
    fn an_unexpected_pass_fails_the_run() {
        let mut r = report(vec![scenario("lifetimes/a", &["LT-5"], Verdict::Pass, &[])]);
        let o = apply_baseline(
            &mut r,
            &baseline(&[("lifetimes/a", None)]),
            PLAIN,
            date(TODAY),
        );
        assert!(!o.passed());
        assert!(
            o.reasons[0]
                .to_string()
                .starts_with("lifetimes/a passed but the baseline expects")
        );
        assert!(matches!(
            r.scenarios[0].gate,
            Some(GateMark::UnexpectedPass { .. })
        ));
    }

    #[test]
    fn an_expired_entry_fails_the_run_naming_it() {
        let mut r = report(vec![scenario(
            "lifetimes/a",
            &["LT-5"],
            Verdict::Fail,
            &["LT-5"],
        )]);
        let b = baseline(&[("lifetimes/a", Some("2026-11-23"))]);
        let o = apply_baseline(&mut r, &b, PLAIN, date(TODAY));
        assert!(!o.passed());
        assert_eq!(
            o.reasons[0].to_string(),
            "baseline entry `lifetimes/a` expired on 2026-11-23 (reason was: ticket for lifetimes/a)"
        );
        assert_eq!(r.scenarios[0].gate, None);
        // The expiry day itself still holds.
        let o = apply_baseline(&mut r, &b, PLAIN, date("2026-11-23"));
        assert!(o.passed());
        // An expired entry for a passing scenario fails too.
        let mut r = report(vec![scenario("lifetimes/a", &["LT-5"], Verdict::Pass, &[])]);
        let o = apply_baseline(&mut r, &b, PLAIN, date(TODAY));
        assert!(!o.passed());
        assert_eq!(r.outcome.unwrap().result, RunResult::Failed);
    }

    #[test]
    fn flaky_fails_only_with_the_flag() {
        let mut s = scenario("sessions/f", &["SL-4"], Verdict::Pass, &[]);
        s.flaky = true;
        s.attempts = 2;
        let mut r = report(vec![s]);
        let o = apply_baseline(&mut r, &baseline(&[]), PLAIN, date(TODAY));
        assert!(o.passed());
        assert_eq!(
            texts(&o.notes),
            ["sessions/f is flaky: passed after 2 attempts"]
        );
        let o = apply_baseline(
            &mut r,
            &baseline(&[]),
            Policy {
                flaky_fails: true,
                strict: false,
            },
            date(TODAY),
        );
        assert!(!o.passed());
        assert_eq!(
            texts(&o.reasons),
            ["sessions/f is flaky: passed after 2 attempts"]
        );
        assert_eq!(o.flaky, 1);
        assert!(o.policy.flaky_fails);
    }

    #[test]
    fn entries_for_absent_scenarios_are_notes() {
        let mut r = report(vec![scenario("lifetimes/b", &["LT-1"], Verdict::Pass, &[])]);
        let o = apply_baseline(&mut r, &baseline(&[("other/x", None)]), PLAIN, date(TODAY));
        assert!(o.passed());
        assert_eq!(
            texts(&o.notes),
            ["baseline entry `other/x` matches no scenario in this report"]
        );
    }

    #[test]
    fn skipped_scenarios_with_an_entry_are_left_alone() {
        let mut r = report(vec![scenario(
            "lifetimes/s",
            &["LT-1"],
            Verdict::Skipped,
            &[],
        )]);
        let o = apply_baseline(
            &mut r,
            &baseline(&[("lifetimes/s", None)]),
            PLAIN,
            date(TODAY),
        );
        assert!(o.passed());
        assert_eq!(r.scenarios[0].gate, None);
    }

    #[test]
    fn baseline_yaml_round_trips_and_is_checked() {
        let p = Path::new("baseline.yaml");
        let text = "version: 1\nexpected_failures:\n  - id: lifetimes/a\n    reason: vendor ticket 12\n    expires: 2026-12-31\n  - id: sessions/b\n    reason: known\n";
        let b = Baseline::parse(text, p).unwrap();
        assert_eq!(b.expected_failures[0].expires, Some(date("2026-12-31")));
        assert_eq!(b.expected_failures[1].expires, None);
        let again = Baseline::parse(&b.to_yaml().unwrap(), p).unwrap();
        assert_eq!(again, b);

        let bad = |t: &str| Baseline::parse(t, p).unwrap_err().to_string();
        assert!(
            bad("version: 2\n").contains("version: 1"),
            "{}",
            bad("version: 2\n")
        );
        assert!(bad("version: 1\nextra: 1\n").contains("extra"));
        assert!(
            Baseline::parse(
                "version: 1\nexpected_failures:\n  - id: a\n    reason: r\n    expires: tomorrow\n",
                p
            )
            .is_err()
        );
        let dup =
            bad("version: 1\nexpected_failures:\n  - {id: a, reason: r}\n  - {id: a, reason: s}\n");
        assert!(dup.contains("listed twice"), "{dup}");
        // Located at the second entry's id.
        assert!(dup.starts_with("baseline.yaml:4:10: error:"), "{dup}");
        assert!(bad("version: 2\n").starts_with("baseline.yaml:1:10:"));
        assert!(
            bad("version: 1\nexpected_failures:\n  - {id: a, reason: ' '}\n").contains("has none")
        );
    }

    #[test]
    fn draft_lists_failures_and_parses_back() {
        let r = report(vec![
            scenario("lifetimes/a", &["LT-5"], Verdict::Fail, &["LT-5"]),
            scenario("lifetimes/b", &["LT-1"], Verdict::Pass, &[]),
            scenario("lifetimes/e", &["LT-1"], Verdict::Error, &[]),
        ]);
        let b = draft_baseline(&r);
        let ids: Vec<_> = b.expected_failures.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["lifetimes/a", "lifetimes/e"]);
        assert_eq!(
            b.expected_failures[0].reason,
            "TODO explain: [LT-5] status: expected 200, got 500 (step 1)"
        );
        let yaml = b.to_yaml().unwrap();
        assert_eq!(
            yaml,
            "version: 1\nexpected_failures:\n- id: lifetimes/a\n  reason: \"TODO explain: [LT-5] status: expected 200, got 500 (step 1)\"\n- id: lifetimes/e\n  reason: \"TODO explain: error\"\n"
        );
        assert_eq!(Baseline::parse(&yaml, Path::new("b.yaml")).unwrap(), b);
        // Drafting then gating the same run passes it.
        let mut r2 = r.clone();
        assert!(apply_baseline(&mut r2, &b, PLAIN, date(TODAY)).passed());
        // A warn is drafted only from a run gated with --strict.
        let mut w = report(vec![scenario(
            "lifetimes/w",
            &["LT-4"],
            Verdict::Warn,
            &["LT-4"],
        )]);
        gate(&mut w, PLAIN);
        assert!(draft_baseline(&w).expected_failures.is_empty());
        let strict = Policy {
            flaky_fails: false,
            strict: true,
        };
        gate(&mut w, strict);
        let b = draft_baseline(&w);
        assert_eq!(b.expected_failures.len(), 1);
        assert!(apply_baseline(&mut w, &b, strict, date(TODAY)).passed());
    }

    #[test]
    fn warns_fail_the_run_only_when_strict() {
        let mut r = report(vec![
            scenario(
                "lifetimes/w",
                &["LT-5/SHOULD"],
                Verdict::Warn,
                &["LT-5/SHOULD"],
            ),
            scenario("lifetimes/b", &["LT-1"], Verdict::Pass, &[]),
        ]);
        let o = gate(&mut r, PLAIN);
        assert!(o.passed());
        assert_eq!(
            texts(&o.notes),
            ["lifetimes/w warn: breaks a SHOULD clause"]
        );
        assert_eq!(o.totals.warn, 1);
        let strict = Policy {
            flaky_fails: false,
            strict: true,
        };
        let o = gate(&mut r, strict);
        assert!(!o.passed());
        assert_eq!(
            texts(&o.reasons),
            ["lifetimes/w warn: breaks a SHOULD clause"]
        );
        // A baseline may expect a warn under --strict...
        let b = baseline(&[("lifetimes/w", None)]);
        assert!(apply_baseline(&mut r, &b, strict, date(TODAY)).passed());
        // ...but without --strict a warn is no failure: the entry is stale.
        let o = apply_baseline(&mut r, &b, PLAIN, date(TODAY));
        assert_eq!(o.unexpected_passes, 1);
        assert!(!o.passed());
    }

    #[test]
    fn merge_decides_again_keeping_marks_and_expired_entries() {
        let mut expected = scenario("lifetimes/a", &["LT-5"], Verdict::Fail, &["LT-5"]);
        expected.gate = Some(GateMark::ExpectedFailure { reason: "t".into() });
        let mut merged = report(vec![
            expected,
            scenario("lifetimes/b", &["LT-1"], Verdict::Pass, &[]),
        ]);
        // Shard 1 saw lifetimes/b with an expired entry; both noted `x/y`.
        let mut s1 = report(vec![scenario("lifetimes/b", &["LT-1"], Verdict::Pass, &[])]);
        let b = baseline(&[("lifetimes/b", Some("2000-01-01")), ("x/y", None)]);
        let o1 = apply_baseline(&mut s1, &b, PLAIN, date(TODAY));
        let mut s2 = report(vec![]);
        let o2 = apply_baseline(&mut s2, &baseline(&[("x/y", None)]), PLAIN, date(TODAY));
        let o = decide_merged(&mut merged, &[Some(o1.clone()), Some(o2)], PLAIN);
        assert!(!o.passed());
        assert_eq!(
            texts(&o.reasons),
            [
                "baseline entry `lifetimes/b` expired on 2000-01-01 (reason was: ticket for lifetimes/b)"
            ]
        );
        assert_eq!(o.expected_failures, 1);
        assert!(
            texts(&o.notes)
                .contains(&"baseline entry `x/y` matches no scenario in this report".to_string())
        );
        assert_eq!(merged.outcome.as_ref(), Some(&o));
        // Without the expired entry the merged run passes; a shard's
        // --strict carries over.
        let strict = Outcome {
            policy: Policy {
                flaky_fails: false,
                strict: true,
            },
            reasons: vec![],
            ..o1
        };
        let o = decide_merged(&mut merged, &[Some(strict), None], PLAIN);
        assert!(o.passed());
        assert!(o.policy.strict);
    }

    #[test]
    fn retries_settle_into_flaky_or_not() {
        let fail = scenario("lt/a", &["LT-1"], Verdict::Fail, &["LT-1"]);
        let pass = scenario("lt/a", &["LT-1"], Verdict::Pass, &[]);
        let s = settle_attempts(vec![fail.clone(), pass.clone()]).unwrap();
        assert_eq!((s.verdict, s.attempts, s.flaky), (Verdict::Pass, 2, true));
        let s = settle_attempts(vec![fail.clone(), fail.clone(), fail.clone()]).unwrap();
        assert_eq!((s.verdict, s.attempts, s.flaky), (Verdict::Fail, 3, false));
        let s = settle_attempts(vec![pass]).unwrap();
        assert_eq!((s.attempts, s.flaky), (1, false));
        assert_eq!(settle_attempts(vec![]), None);
    }

    #[test]
    fn coverage_counts_runs_and_names_unchecked_must_rules_with_their_unlocks() {
        let skipped = |id: &str, rules: &[&str], u: Unlock| {
            let mut s = scenario(id, rules, Verdict::Skipped, &[]);
            s.reason = Some(format!("reason of {id}"));
            s.unlock = Some(u);
            s
        };
        let mut r = report(vec![
            scenario("lifetimes/a", &["LT-1"], Verdict::Pass, &[]),
            skipped(
                "lifetimes/b",
                &["LT-5"],
                Unlock::RealWaits { ms: 3_600_000 },
            ),
            skipped("lifetimes/c", &["LT-5"], Unlock::RealWaits { ms: 120_000 }),
            skipped("lifetimes/d", &["LT-5", "LT-1"], Unlock::AltAddresses),
            skipped("lifetimes/e", &["LT-5"], Unlock::AltAddresses),
        ]);
        let o = gate(&mut r, PLAIN);
        assert!(o.passed());
        let c = &o.coverage;
        assert_eq!((c.ran, c.total), (1, 5));
        // LT-1 had a case run; LT-5 none: the shortest wait only.
        assert_eq!(c.unchecked.len(), 1);
        assert_eq!(
            c.unchecked[0].to_string(),
            "LT-5 (declare alternate addresses or allow real waits of 2m)"
        );
        assert_eq!(c.not_run.len(), 4);

        let gates = CoverageGates {
            require_rules: vec!["LT-5".into(), "LT-1".into()],
            min_ran_percent: Some(20),
        };
        let o = apply_coverage_gates(&mut r, &gates);
        assert_eq!(
            texts(&o.reasons),
            [
                "required rule LT-5: no case passed (to run its cases: declare alternate addresses or allow real waits of 2m)"
            ]
        );
        let o = apply_coverage_gates(
            &mut r,
            &CoverageGates {
                require_rules: vec![],
                min_ran_percent: Some(21),
            },
        );
        assert_eq!(o.reasons.len(), 2, "{:?}", o.reasons);
        // A merge keeps the shards' coverage gates.
        let shard = r.outcome.clone();
        let m = decide_merged(&mut r, &[shard], PLAIN);
        assert_eq!(m.coverage.required_rules, ["LT-5", "LT-1"]);
        assert_eq!(m.coverage.min_ran_percent, Some(21));
        assert_eq!(m.reasons.len(), 2, "{:?}", m.reasons);
    }
}
