//! Console output: one line per scenario while the run goes, then a summary
//! (failures with expected/actual and rule, errors, a table by area, rule
//! totals, the result line). Pure functions of the (masked) report model;
//! printing and the progress bar belong to the CLI.

use std::fmt::Write as _;

use super::gate::GateOutcome;
use super::model::{GateMark, Report, ScenarioReport, Verdict};

/// A fixed-width verdict tag.
pub fn tag(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS ",
        Verdict::Fail => "FAIL ",
        Verdict::Error => "ERROR",
        Verdict::Skipped => "SKIP ",
        Verdict::NotApplicable => "N/A  ",
    }
}

/// `PASS  lifetimes/x (12 ms)`, with the reason or the first failure.
pub fn scenario_line(s: &ScenarioReport) -> String {
    let mut line = format!("{} {}", tag(s.verdict), s.id);
    match s.verdict {
        Verdict::Pass => {}
        Verdict::Fail => {
            if let Some((step, c)) = s.failures().next() {
                let _ = write!(
                    line,
                    " — step {}: {} expected {}, got {} [{}]",
                    step.index,
                    c.what,
                    c.expected,
                    c.actual,
                    c.rules.join(", ")
                );
            }
        }
        Verdict::Error | Verdict::Skipped | Verdict::NotApplicable => {
            if let Some(r) = &s.reason {
                let _ = write!(line, " — {r}");
            }
        }
    }
    let _ = write!(line, " ({} ms)", s.duration_ms);
    line
}

/// The end-of-run summary.
pub fn summary(r: &Report) -> String {
    let mut out = String::new();
    let failed: Vec<&ScenarioReport> = r
        .scenarios
        .iter()
        .filter(|s| s.verdict == Verdict::Fail)
        .collect();
    if !failed.is_empty() {
        out.push_str("Failures:\n");
        for s in failed {
            let _ = writeln!(out, "\n  {} ({})", s.id, s.file);
            let _ = writeln!(out, "    {}", s.title);
            for (step, c) in s.failures() {
                let _ = writeln!(
                    out,
                    "    step {} (line {}) {}\n      {}\n        expected: {}\n        actual:   {}\n        rules:    {}",
                    step.index,
                    step.line,
                    step.label,
                    c.what,
                    c.expected,
                    c.actual,
                    c.rules.join(", ")
                );
            }
        }
        out.push('\n');
    }
    let errors: Vec<&ScenarioReport> = r
        .scenarios
        .iter()
        .filter(|s| s.verdict == Verdict::Error)
        .collect();
    if !errors.is_empty() {
        out.push_str("Errors:\n");
        for s in errors {
            let _ = writeln!(
                out,
                "  {} ({}): {}",
                s.id,
                s.file,
                s.reason.as_deref().unwrap_or("unknown error")
            );
        }
        out.push('\n');
    }
    let by_area = r.totals_by_area();
    let width = by_area
        .keys()
        .map(|a| a.len())
        .chain(["area".len(), "total".len()])
        .max()
        .unwrap_or(5);
    let _ = writeln!(
        out,
        "{:width$}  {:>5} {:>5} {:>5} {:>7} {:>5}",
        "area", "pass", "fail", "error", "skipped", "n/a"
    );
    let row = |out: &mut String, name: &str, t: &super::model::Totals| {
        let _ = writeln!(
            out,
            "{name:width$}  {:>5} {:>5} {:>5} {:>7} {:>5}",
            t.pass, t.fail, t.error, t.skipped, t.not_applicable
        );
    };
    for (area, t) in &by_area {
        row(&mut out, area, t);
    }
    let totals = r.totals();
    row(&mut out, "total", &totals);

    let rules = r.rule_verdicts();
    let count = |v: Verdict| rules.iter().filter(|x| x.verdict == Some(v)).count();
    let failed_rules: Vec<&str> = rules
        .iter()
        .filter(|x| x.verdict == Some(Verdict::Fail))
        .map(|x| x.rule.as_str())
        .collect();
    let _ = write!(
        out,
        "\nrules: {} pass, {} fail",
        count(Verdict::Pass),
        count(Verdict::Fail)
    );
    if !failed_rules.is_empty() {
        let _ = write!(out, " ({})", failed_rules.join(", "));
    }
    let _ = writeln!(
        out,
        ", {} error, {} skipped, {} n/a, {} not covered",
        count(Verdict::Error),
        count(Verdict::Skipped),
        count(Verdict::NotApplicable),
        rules.iter().filter(|x| x.verdict.is_none()).count()
    );
    let expected = r
        .scenarios
        .iter()
        .filter(|s| matches!(s.gate, Some(GateMark::ExpectedFailure { .. })))
        .count();
    let unexpected = r
        .scenarios
        .iter()
        .filter(|s| matches!(s.gate, Some(GateMark::UnexpectedPass { .. })))
        .count();
    let flaky = r.scenarios.iter().filter(|s| s.flaky).count();
    if expected + unexpected + flaky > 0 {
        let _ = writeln!(
            out,
            "gate: {expected} expected failure(s) (baseline), {unexpected} unexpected pass(es), {flaky} flaky (passed on a retry)"
        );
    }
    // An expected failure does not fail the run; an unexpected pass does.
    // (Whether flaky scenarios fail it is the gate's call: see `gate_lines`.)
    let ok = unexpected == 0
        && !r.scenarios.iter().any(|s| {
            s.verdict.is_failure() && !matches!(s.gate, Some(GateMark::ExpectedFailure { .. }))
        });
    let _ = writeln!(
        out,
        "result: {} — {} passed, {} failed, {} errors, {} skipped, {} not applicable ({} ms)",
        if ok { "ok" } else { "FAILED" },
        totals.pass,
        totals.fail,
        totals.error,
        totals.skipped,
        totals.not_applicable,
        r.duration_ms
    );
    out
}

/// The CI gate's verdict: its notes, each reason the run fails, and the
/// closing line. Printed after [`summary`].
pub fn gate_lines(g: &GateOutcome) -> String {
    let mut out = String::new();
    for n in &g.notes {
        let _ = writeln!(out, "note: {n}");
    }
    if g.failed {
        let _ = writeln!(out, "the run fails:");
        for r in &g.reasons {
            let _ = writeln!(out, "  - {r}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::tests::{report, scenario};

    fn sample() -> Report {
        let mut skipped = scenario("sessions/long", &["SL-4"], Verdict::Skipped, &[]);
        skipped.reason = Some("needs clock control to advance 12h".into());
        skipped.steps.clear();
        let mut err = scenario("binding/alt", &["IP-2"], Verdict::Error, &[]);
        err.reason = Some("step 1 (line 7): GET /x: connection failed".into());
        report(vec![
            scenario("lifetimes/expired", &["LT-5"], Verdict::Fail, &["LT-5"]),
            scenario("lifetimes/default", &["LT-1"], Verdict::Pass, &[]),
            skipped,
            err,
        ])
    }

    #[test]
    fn scenario_lines() {
        let r = sample();
        let lines: Vec<String> = r.scenarios.iter().map(scenario_line).collect();
        insta::assert_snapshot!(lines.join("\n"), @r"
        FAIL  lifetimes/expired — step 1: status expected 200, got 500 [LT-5] (1 ms)
        PASS  lifetimes/default (1 ms)
        SKIP  sessions/long — needs clock control to advance 12h (1 ms)
        ERROR binding/alt — step 1 (line 7): GET /x: connection failed (1 ms)
        ");
    }

    #[test]
    fn summary_lists_failures_areas_and_rules() {
        insta::assert_snapshot!(summary(&sample()));
    }

    #[test]
    fn summary_counts_gate_marks_and_expected_failures_do_not_fail() {
        let mut expected = scenario("lifetimes/expired", &["LT-5"], Verdict::Fail, &["LT-5"]);
        expected.gate = Some(GateMark::ExpectedFailure {
            reason: "ticket 1".into(),
        });
        let mut flaky = scenario("lifetimes/default", &["LT-1"], Verdict::Pass, &[]);
        flaky.flaky = true;
        flaky.attempts = 2;
        let r = report(vec![expected, flaky]);
        let text = summary(&r);
        assert!(
            text.contains("gate: 1 expected failure(s) (baseline), 0 unexpected pass(es), 1 flaky"),
            "{text}"
        );
        assert!(text.contains("result: ok"), "{text}");

        let mut r = r;
        r.scenarios[1].gate = Some(GateMark::UnexpectedPass {
            reason: "ticket 2".into(),
        });
        assert!(summary(&r).contains("result: FAILED"));
    }

    #[test]
    fn gate_lines_list_notes_and_reasons() {
        let g = GateOutcome {
            failed: true,
            reasons: vec!["a fail".into()],
            notes: vec!["b is flaky".into()],
        };
        assert_eq!(
            gate_lines(&g),
            "note: b is flaky\nthe run fails:\n  - a fail\n"
        );
        assert_eq!(gate_lines(&GateOutcome::default()), "");
    }
}
