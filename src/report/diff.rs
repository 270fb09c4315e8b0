//! Comparing two JSON reports (`tessera report diff OLD.json NEW.json`):
//! new failures, fixes, other verdict flips, added and removed scenarios, and
//! rules whose verdict changed.
//!
//! Pure: [`diff`] compares, [`ReportDiff::is_regression`] decides the exit
//! code (non-zero on a regression), [`ReportDiff::render`] writes the text.
//! Scenarios are matched by report id (scenario id plus `[case]`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::model::{Report, Verdict};

/// One scenario whose verdict changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: String,
    pub old: Verdict,
    pub new: Verdict,
}

/// A scenario present on one side only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneSided {
    pub id: String,
    pub verdict: Verdict,
}

/// One rule whose verdict changed (`None`: no scenario cites it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleChange {
    pub rule: String,
    pub old: Option<Verdict>,
    pub new: Option<Verdict>,
}

/// What changed between two runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportDiff {
    /// Did not fail before (pass, skipped, not applicable), fails or errors now.
    pub new_failures: Vec<Change>,
    /// Failed or errored before, passes now.
    pub fixes: Vec<Change>,
    /// Any other verdict change (fail to error, pass to skipped, ...).
    pub flips: Vec<Change>,
    /// Only in the new report.
    pub added: Vec<OneSided>,
    /// Only in the old report.
    pub removed: Vec<OneSided>,
    pub rules: Vec<RuleChange>,
    /// `(old, new)` target names and deviations when the two runs tested
    /// different targets: the verdicts then compare servers, not changes.
    pub targets: Option<(String, String)>,
}

/// `name` or `name (deviation a, b)`: what a run was played against.
fn target_of(r: &Report) -> String {
    if r.target.deviations.is_empty() {
        r.target.name.clone()
    } else {
        format!(
            "{} (deviation {})",
            r.target.name,
            r.target.deviations.join(", ")
        )
    }
}

/// Compares `old` with `new`, in `new`'s scenario order (removed ones in
/// `old`'s).
pub fn diff(old: &Report, new: &Report) -> ReportDiff {
    let old_by_id: BTreeMap<&str, Verdict> = old
        .scenarios
        .iter()
        .map(|s| (s.id.as_str(), s.verdict))
        .collect();
    let new_by_id: BTreeMap<&str, Verdict> = new
        .scenarios
        .iter()
        .map(|s| (s.id.as_str(), s.verdict))
        .collect();
    let mut d = ReportDiff::default();
    let (a, b) = (target_of(old), target_of(new));
    if a != b || old.target.base_url != new.target.base_url && old.target.name != "reference" {
        d.targets = Some((a, b));
    }
    for s in &new.scenarios {
        let Some(&was) = old_by_id.get(s.id.as_str()) else {
            d.added.push(OneSided {
                id: s.id.clone(),
                verdict: s.verdict,
            });
            continue;
        };
        if was == s.verdict {
            continue;
        }
        let c = Change {
            id: s.id.clone(),
            old: was,
            new: s.verdict,
        };
        if !was.is_failure() && s.verdict.is_failure() {
            d.new_failures.push(c);
        } else if was.is_failure() && s.verdict == Verdict::Pass {
            d.fixes.push(c);
        } else {
            d.flips.push(c);
        }
    }
    for s in &old.scenarios {
        if !new_by_id.contains_key(s.id.as_str()) {
            d.removed.push(OneSided {
                id: s.id.clone(),
                verdict: s.verdict,
            });
        }
    }
    d.rules = old
        .rule_verdicts()
        .into_iter()
        .zip(new.rule_verdicts())
        .filter(|(a, b)| a.verdict != b.verdict)
        .map(|(a, b)| RuleChange {
            rule: a.rule,
            old: a.verdict,
            new: b.verdict,
        })
        .collect();
    d
}

impl ReportDiff {
    /// A regression: a scenario that did not fail now fails, or a scenario
    /// that is new fails. (A fail turning into an error is a flip, not a
    /// regression: it failed before too.)
    pub fn is_regression(&self) -> bool {
        !self.new_failures.is_empty() || self.added.iter().any(|a| a.verdict.is_failure())
    }

    pub fn is_empty(&self) -> bool {
        self.new_failures.is_empty()
            && self.fixes.is_empty()
            && self.flips.is_empty()
            && self.added.is_empty()
            && self.removed.is_empty()
            && self.rules.is_empty()
    }

    /// The diff as plain text for a terminal or a CI log.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some((a, b)) = &self.targets {
            let _ = writeln!(
                out,
                "note: the runs tested different targets: {a} before, {b} now; differences may be the servers'"
            );
        }
        if self.is_empty() {
            out.push_str("no changes\n");
            return out;
        }
        let changes = |out: &mut String, title: &str, list: &[Change]| {
            if !list.is_empty() {
                let _ = writeln!(out, "{title} ({}):", list.len());
                for c in list {
                    let _ = writeln!(out, "  {}  {} -> {}", c.id, c.old.as_str(), c.new.as_str());
                }
            }
        };
        let sided = |out: &mut String, title: &str, list: &[OneSided]| {
            if !list.is_empty() {
                let _ = writeln!(out, "{title} ({}):", list.len());
                for s in list {
                    let _ = writeln!(out, "  {}  {}", s.id, s.verdict.as_str());
                }
            }
        };
        changes(&mut out, "new failures", &self.new_failures);
        changes(&mut out, "fixes", &self.fixes);
        changes(&mut out, "flips", &self.flips);
        sided(&mut out, "added", &self.added);
        sided(&mut out, "removed", &self.removed);
        if !self.rules.is_empty() {
            let _ = writeln!(out, "rules ({}):", self.rules.len());
            let v = |v: Option<Verdict>| v.map_or("not covered", Verdict::as_str);
            for r in &self.rules {
                let _ = writeln!(out, "  {}  {} -> {}", r.rule, v(r.old), v(r.new));
            }
        }
        let _ = writeln!(
            out,
            "{}",
            if self.is_regression() {
                "regression: yes"
            } else {
                "regression: no"
            }
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::tests::{report, scenario};

    #[test]
    fn classifies_every_kind_of_change() {
        let old = report(vec![
            scenario("lifetimes/a", &["LT-5"], Verdict::Pass, &[]),
            scenario("lifetimes/b", &["LT-1"], Verdict::Fail, &["LT-1"]),
            scenario("lifetimes/c", &["LT-2"], Verdict::Fail, &["LT-2"]),
            scenario("sessions/d", &["SL-1"], Verdict::Pass, &[]),
            scenario("sessions/gone", &["SL-2"], Verdict::Pass, &[]),
        ]);
        let new = report(vec![
            scenario("lifetimes/a", &["LT-5"], Verdict::Fail, &["LT-5"]),
            scenario("lifetimes/b", &["LT-1"], Verdict::Pass, &[]),
            scenario("lifetimes/c", &["LT-2"], Verdict::Error, &[]),
            scenario("sessions/d", &["SL-1"], Verdict::Pass, &[]),
            scenario("sessions/new", &["SL-3"], Verdict::Skipped, &[]),
        ]);
        let d = diff(&old, &new);
        let ids = |l: &[Change]| l.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&d.new_failures), ["lifetimes/a"]);
        assert_eq!(ids(&d.fixes), ["lifetimes/b"]);
        assert_eq!(ids(&d.flips), ["lifetimes/c"]);
        assert_eq!(d.added[0].id, "sessions/new");
        assert_eq!(d.removed[0].id, "sessions/gone");
        assert!(d.is_regression());
        insta::assert_snapshot!(d.render(), @r"
        new failures (1):
          lifetimes/a  pass -> fail
        fixes (1):
          lifetimes/b  fail -> pass
        flips (1):
          lifetimes/c  fail -> error
        added (1):
          sessions/new  skipped
        removed (1):
          sessions/gone  pass
        rules (5):
          LT-1  fail -> pass
          LT-2  fail -> error
          LT-5  pass -> fail
          SL-2  pass -> not covered
          SL-3  not covered -> skipped
        regression: yes
        ");
    }

    #[test]
    fn fixes_alone_are_not_a_regression() {
        let old = report(vec![scenario(
            "lifetimes/b",
            &["LT-1"],
            Verdict::Fail,
            &["LT-1"],
        )]);
        let new = report(vec![scenario("lifetimes/b", &["LT-1"], Verdict::Pass, &[])]);
        let d = diff(&old, &new);
        assert!(!d.is_regression());
        assert_eq!(d.fixes.len(), 1);
        assert_eq!(diff(&new, &new).render(), "no changes\n");
        assert!(diff(&new, &old).is_regression());
    }

    #[test]
    fn a_new_scenario_that_fails_is_a_regression() {
        let old = report(vec![]);
        let new = report(vec![scenario(
            "lifetimes/b",
            &["LT-1"],
            Verdict::Error,
            &[],
        )]);
        assert!(diff(&old, &new).is_regression());
    }

    #[test]
    fn runs_against_different_targets_say_so() {
        let old = report(vec![scenario("a/x", &["LT-1"], Verdict::Pass, &[])]);
        let mut new = old.clone();
        assert_eq!(diff(&old, &new).render(), "no changes\n");
        new.target.deviations = vec!["accept-expired-tokens".into()];
        let text = diff(&old, &new).render();
        assert!(
            text.starts_with(
                "note: the runs tested different targets: reference before, reference (deviation accept-expired-tokens) now;"
            ),
            "{text}"
        );
        // Two in-process references differ only in their port: the same target.
        let mut moved = old.clone();
        moved.target.base_url = "http://127.0.0.1:2".into();
        assert_eq!(diff(&old, &moved).targets, None);
    }
}
