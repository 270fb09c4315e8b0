//! Failures as a person reads them: instances that broke the same check of
//! the same step in the same way are one [`Group`] listing their cases, so
//! nine matrix cases failing one check read as one entry, not nine.
//!
//! The console, Markdown, HTML and the GitHub annotations all list failures
//! through [`groups`], so they group the same way and in the same stable
//! order (by verdict, then scenario id, then step). Pure: no printing, no
//! deciding whether the run passes (that is `report.outcome`).

use super::model::{Finding, GateMark, Report, ScenarioReport, Verdict};

/// Instances of one scenario that did not pass in the same way.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// `Fail`, `Error` or `Warn`.
    pub verdict: Verdict,
    /// The scenario id (without `[case]`).
    pub scenario: String,
    pub title: String,
    /// The scenario file.
    pub file: String,
    /// What broke: the first failed check, or the reason of an error.
    pub what: What,
    /// The report ids of the instances (`area/name[case]`), in id order.
    pub ids: Vec<String>,
    /// Their case names (empty for a scenario without a matrix).
    pub cases: Vec<String>,
    /// How many instances the scenario has in the report, so "9 of 9
    /// cases" can be told from "1 of 9".
    pub of: usize,
    /// Every instance of the group is expected to fail by the baseline.
    pub expected: bool,
    /// The most attempts any instance took (`--retries`).
    pub attempts: u32,
}

/// What the instances of a group have in common.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum What {
    /// A check that did not hold.
    Check {
        step: usize,
        line: u32,
        label: String,
        what: String,
        expected: String,
        actual: String,
        rules: Vec<String>,
    },
    /// An error, or a failure without a failed check.
    Reason { line: Option<u32>, reason: String },
}

impl What {
    /// The line in the scenario file to point at.
    pub fn line(&self) -> Option<u32> {
        match self {
            What::Check { line, .. } => Some(*line),
            What::Reason { line, .. } => *line,
        }
    }

    /// `[LT-5] status: expected 498, got 200`, or the reason.
    pub fn one_line(&self) -> String {
        match self {
            What::Check {
                what,
                expected,
                actual,
                rules,
                ..
            } => format!(
                "{}{what}: expected {expected}, got {actual}",
                if rules.is_empty() {
                    String::new()
                } else {
                    format!("[{}] ", rules.join(", "))
                }
            ),
            What::Reason { reason, .. } => reason.clone(),
        }
    }

    /// The rules a failure here breaks (none for an error).
    pub fn rules(&self) -> &[String] {
        match self {
            What::Check { rules, .. } => rules,
            What::Reason { .. } => &[],
        }
    }
}

impl Group {
    /// `9 of 9 cases: a, b, c, ... (+4 more)`, or empty without a matrix.
    pub fn cases_text(&self, cap: usize) -> String {
        if self.cases.is_empty() {
            return String::new();
        }
        let shown: Vec<&str> = self.cases.iter().take(cap).map(String::as_str).collect();
        let more = self.cases.len().saturating_sub(cap);
        format!(
            "{} of {} case{}: {}{}",
            self.cases.len(),
            self.of,
            if self.of == 1 { "" } else { "s" },
            shown.join(", "),
            if more > 0 {
                format!(" (+{more} more)")
            } else {
                String::new()
            }
        )
    }

    /// An anchor for the scenario, shared by the HTML report's sections.
    pub fn anchor(&self) -> String {
        anchor(&self.scenario)
    }
}

/// `s-area-name`: an HTML id for a scenario id.
pub fn anchor(scenario: &str) -> String {
    let mut a = String::from("s-");
    a.extend(
        scenario
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }),
    );
    a
}

fn what_of(s: &ScenarioReport) -> What {
    match s.failures().next() {
        Some((step, c)) if s.verdict != Verdict::Error => What::Check {
            step: step.index,
            line: step.line,
            label: step.label.clone(),
            what: c.what.clone(),
            expected: c.expected.clone(),
            actual: c.actual.clone(),
            rules: c.rules.clone(),
        },
        _ => What::Reason {
            line: s
                .steps
                .iter()
                .rev()
                .find(|st| !st.exchanges.is_empty() || !st.checks.is_empty())
                .map(|st| st.line),
            reason: s
                .reason
                .clone()
                .unwrap_or_else(|| s.verdict.as_str().to_owned()),
        },
    }
}

/// The instances that failed, errored or warned, grouped, in a stable
/// order: failures, then errors, then warns; within each, by scenario id
/// and then by the first instance id of the group.
pub fn groups(r: &Report) -> Vec<Group> {
    let mut sorted: Vec<&ScenarioReport> = r
        .scenarios
        .iter()
        .filter(|s| matches!(s.verdict, Verdict::Fail | Verdict::Error | Verdict::Warn))
        .collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out: Vec<Group> = Vec::new();
    for s in sorted {
        let what = what_of(s);
        let expected = matches!(s.gate, Some(GateMark::ExpectedFailure { .. }));
        let same = out.iter_mut().find(|g| {
            g.scenario == s.scenario
                && g.verdict == s.verdict
                && g.what == what
                && g.expected == expected
        });
        match same {
            Some(g) => {
                g.ids.push(s.id.clone());
                g.cases.extend(s.case.clone());
                g.attempts = g.attempts.max(s.attempts);
            }
            None => out.push(Group {
                verdict: s.verdict,
                scenario: s.scenario.clone(),
                title: s.title.clone(),
                file: s.file.clone(),
                what,
                ids: vec![s.id.clone()],
                cases: s.case.clone().into_iter().collect(),
                of: r
                    .scenarios
                    .iter()
                    .filter(|x| x.scenario == s.scenario)
                    .count(),
                expected,
                attempts: s.attempts,
            }),
        }
    }
    let rank = |v: Verdict| match v {
        Verdict::Fail => 0,
        Verdict::Error => 1,
        _ => 2,
    };
    out.sort_by(|a, b| {
        (rank(a.verdict), &a.scenario, &a.ids[0]).cmp(&(rank(b.verdict), &b.scenario, &b.ids[0]))
    });
    out
}

/// `Failed` (or expected) findings of one scenario's cases read as one
/// line; other findings as they are; in id order.
pub fn collapse(findings: &[Finding]) -> Vec<String> {
    type Key = (String, &'static str, bool);
    let mut out: Vec<(String, Option<Key>, usize)> = Vec::new();
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| a.scenario().cmp(b.scenario()));
    for f in sorted {
        let key: Option<Key> = match f {
            Finding::Failed { id, verdict } => Some((scenario_of(id), verdict.as_str(), false)),
            Finding::ExpectedFailure { id, verdict, .. } => {
                Some((scenario_of(id), verdict.as_str(), true))
            }
            _ => None,
        };
        if key.is_some()
            && let Some(entry) = out.iter_mut().find(|(_, k, _)| *k == key)
        {
            entry.2 += 1;
            continue;
        }
        out.push((f.to_string(), key, 1));
    }
    out.into_iter()
        .map(|(text, k, n)| match k {
            Some((sc, v, expected)) if n > 1 => format!(
                "{sc} {v} ({n} cases){}",
                if expected {
                    ": expected by the baseline"
                } else {
                    ""
                }
            ),
            _ => text,
        })
        .collect()
}

/// `area/name` of `area/name[case]`.
fn scenario_of(id: &str) -> String {
    id.split_once('[').map_or(id, |(s, _)| s).to_owned()
}

/// A short view of a response body: text as it is; a body that is not
/// text (NUL or other control bytes, or bytes that were not UTF-8) as its
/// type and size, never as bytes.
pub fn body_for_display(body: &str) -> std::borrow::Cow<'_, str> {
    let binary = body
        .chars()
        .any(|c| c == '\u{FFFD}' || (c.is_control() && !matches!(c, '\n' | '\r' | '\t')));
    if !binary {
        return std::borrow::Cow::Borrowed(body);
    }
    let kind = if body.contains("PNG") && body.starts_with(['\u{FFFD}', '\u{89}']) {
        "image/png"
    } else if body.starts_with("GIF8") {
        "image/gif"
    } else if body.starts_with("%PDF") {
        "application/pdf"
    } else {
        "binary"
    };
    std::borrow::Cow::Owned(format!("({kind} body, {} bytes, not shown)", body.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::tests::{report, scenario};

    fn case(id: &str, name: &str, verdict: Verdict, broken: &[&str]) -> ScenarioReport {
        let mut s = scenario(id, &["HP-2"], verdict, broken);
        s.id = format!("{id}[{name}]");
        s.case = Some(name.into());
        s
    }

    #[test]
    fn identical_failures_of_matrix_cases_are_one_group_in_id_order() {
        let mut other = case("hp/m", "c", Verdict::Fail, &["HP-2"]);
        other.steps[0].checks[0].actual = "403".into();
        let r = report(vec![
            case("hp/m", "b", Verdict::Fail, &["HP-2"]),
            scenario("a/x", &["LT-5"], Verdict::Fail, &["LT-5"]),
            case("hp/m", "a", Verdict::Fail, &["HP-2"]),
            other,
            case("hp/m", "d", Verdict::Pass, &[]),
        ]);
        let g = groups(&r);
        let short: Vec<(&str, Vec<&str>, usize)> = g
            .iter()
            .map(|g| {
                (
                    g.scenario.as_str(),
                    g.cases.iter().map(String::as_str).collect(),
                    g.of,
                )
            })
            .collect();
        assert_eq!(
            short,
            [
                ("a/x", vec![], 1),
                ("hp/m", vec!["a", "b"], 4),
                ("hp/m", vec!["c"], 4)
            ]
        );
        assert_eq!(g[1].cases_text(1), "2 of 4 cases: a (+1 more)");
        assert_eq!(g[1].what.one_line(), "[HP-2] status: expected 200, got 500");
        assert_eq!(anchor("hp/m"), "s-hp-m");
    }

    #[test]
    fn errors_and_warns_follow_failures() {
        let mut err = scenario("a/err", &["IP-2"], Verdict::Error, &[]);
        err.reason = Some("connection refused".into());
        let r = report(vec![
            scenario("a/w", &["LT-5/SHOULD"], Verdict::Warn, &["LT-5/SHOULD"]),
            err,
            scenario("z/f", &["LT-5"], Verdict::Fail, &["LT-5"]),
        ]);
        let all = groups(&r);
        let order: Vec<(Verdict, &str)> = all
            .iter()
            .map(|g| (g.verdict, g.scenario.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                (Verdict::Fail, "z/f"),
                (Verdict::Error, "a/err"),
                (Verdict::Warn, "a/w")
            ]
        );
        assert_eq!(groups(&r)[1].what.one_line(), "connection refused");
    }

    #[test]
    fn binary_bodies_show_as_type_and_size() {
        assert_eq!(body_for_display("{\"a\":1}\n"), "{\"a\":1}\n");
        let png = "\u{FFFD}PNG\r\n\u{1a}\n\0\0\0\rIHDR";
        assert_eq!(
            body_for_display(png),
            format!("(image/png body, {} bytes, not shown)", png.len())
        );
        assert!(body_for_display("a\0b").starts_with("(binary body"));
    }
}
