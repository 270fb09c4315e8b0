//! Console output: one line per scenario while the run goes, then a summary
//! (failures and warnings with expected/actual and rule, errors, a table by
//! area, rule totals, and the run's outcome as the gate decided it: notes,
//! the result line, the reasons it fails). Pure functions of the (masked)
//! report model; printing and the progress bar belong to the CLI. Nothing
//! here decides whether the run passes: that is `report.outcome`.

use std::fmt::Write as _;

use super::model::{Report, ScenarioReport, Verdict};

/// A fixed-width verdict tag.
pub fn tag(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS ",
        Verdict::Warn => "WARN ",
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
        Verdict::Fail | Verdict::Warn => {
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

/// The end-of-run summary, ending with the run's outcome.
pub fn summary(r: &Report) -> String {
    let mut out = String::new();
    if let Some(tls) = &r.target.tls {
        if tls.insecure {
            let _ = writeln!(out, "{}", super::model::TlsSummary::INSECURE_WARNING);
        }
        let _ = writeln!(out, "TLS: {}\n", tls.line());
    }
    for (verdict, heading) in [
        (Verdict::Fail, "Failures"),
        (Verdict::Warn, "Warnings (SHOULD clauses)"),
    ] {
        let listed: Vec<&ScenarioReport> = r
            .scenarios
            .iter()
            .filter(|s| s.verdict == verdict)
            .collect();
        if listed.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{heading}:");
        for s in listed {
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
        "{:width$}  {:>5} {:>5} {:>5} {:>5} {:>7} {:>5}",
        "area", "pass", "warn", "fail", "error", "skipped", "n/a"
    );
    let row = |out: &mut String, name: &str, t: &super::model::Totals| {
        let _ = writeln!(
            out,
            "{name:width$}  {:>5} {:>5} {:>5} {:>5} {:>7} {:>5}",
            t.pass, t.warn, t.fail, t.error, t.skipped, t.not_applicable
        );
    };
    for (area, t) in &by_area {
        row(&mut out, area, t);
    }
    row(&mut out, "total", &r.totals());

    let rules = r.rule_verdicts();
    let count = |v: Verdict| rules.iter().filter(|x| x.verdict == Some(v)).count();
    let named = |v: Verdict| {
        let ids: Vec<&str> = rules
            .iter()
            .filter(|x| x.verdict == Some(v))
            .map(|x| x.rule.as_str())
            .collect();
        if ids.is_empty() {
            String::new()
        } else {
            format!(" ({})", ids.join(", "))
        }
    };
    let _ = writeln!(
        out,
        "\nrules: {} pass, {} warn{}, {} fail{}, {} error, {} skipped, {} n/a, {} not covered",
        count(Verdict::Pass),
        count(Verdict::Warn),
        named(Verdict::Warn),
        count(Verdict::Fail),
        named(Verdict::Fail),
        count(Verdict::Error),
        count(Verdict::Skipped),
        count(Verdict::NotApplicable),
        rules.iter().filter(|x| x.verdict.is_none()).count()
    );
    out.push_str(&outcome_lines(r, r.duration_ms));
    out
}

/// The gate's outcome: counts, notes, the result line, and each reason the
/// run fails. Rendered from `report.outcome`, never worked out here.
fn outcome_lines(r: &Report, duration_ms: u64) -> String {
    let mut out = String::new();
    let Some(o) = &r.outcome else {
        let _ = writeln!(
            out,
            "result: not decided (no gate was applied to this report)"
        );
        return out;
    };
    if o.expected_failures + o.unexpected_passes + o.flaky > 0 {
        let _ = writeln!(
            out,
            "gate: {} expected failure(s) (baseline), {} unexpected pass(es), {} flaky (passed on a retry)",
            o.expected_failures, o.unexpected_passes, o.flaky
        );
    }
    for n in &o.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let t = &o.totals;
    let mut policy = Vec::new();
    if o.policy.strict {
        policy.push("--strict");
    }
    if o.policy.flaky_fails {
        policy.push("--flaky-fails");
    }
    let _ = writeln!(
        out,
        "result: {} — {} passed, {} warned, {} failed, {} errors, {} skipped, {} not applicable ({} ms){}; {}",
        if o.passed() { "ok" } else { "FAILED" },
        t.pass,
        t.warn,
        t.fail,
        t.error,
        t.skipped,
        t.not_applicable,
        duration_ms,
        if policy.is_empty() {
            String::new()
        } else {
            format!(" [{}]", policy.join(" "))
        },
        o.coverage.ran_text()
    );
    if let Some(u) = o.coverage.unchecked_text() {
        let _ = writeln!(
            out,
            "unchecked: {} MUST rule(s) had no case run: {u}",
            o.coverage.unchecked.len()
        );
    }
    if !o.passed() {
        let _ = writeln!(out, "the run fails:");
        for reason in &o.reasons {
            let _ = writeln!(out, "  - {reason}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::gate::{self, Baseline, ExpectedFailure};
    use crate::report::model::tests::{report, scenario};
    use crate::report::model::{GateMark, Policy};

    fn sample() -> Report {
        let mut skipped = scenario("sessions/long", &["SL-4"], Verdict::Skipped, &[]);
        skipped.reason = Some("needs clock control to advance 12h".into());
        skipped.steps.clear();
        let mut err = scenario("binding/alt", &["IP-2"], Verdict::Error, &[]);
        err.reason = Some("step 1 (line 7): GET /x: connection failed".into());
        let mut r = report(vec![
            scenario("lifetimes/expired", &["LT-5"], Verdict::Fail, &["LT-5"]),
            scenario("lifetimes/default", &["LT-1"], Verdict::Pass, &[]),
            scenario(
                "lifetimes/boundary",
                &["LT-5/SHOULD"],
                Verdict::Warn,
                &["LT-5/SHOULD"],
            ),
            skipped,
            err,
        ]);
        gate::gate(&mut r, Policy::default());
        r
    }

    #[test]
    fn scenario_lines() {
        let r = sample();
        let lines: Vec<String> = r.scenarios.iter().map(scenario_line).collect();
        insta::assert_snapshot!(lines.join("\n"), @r"
        FAIL  lifetimes/expired — step 1: status expected 200, got 500 [LT-5] (1 ms)
        PASS  lifetimes/default (1 ms)
        WARN  lifetimes/boundary — step 1: status expected 200, got 500 [LT-5/SHOULD] (1 ms)
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
        let mut flaky = scenario("lifetimes/default", &["LT-1"], Verdict::Pass, &[]);
        flaky.flaky = true;
        flaky.attempts = 2;
        let mut r = report(vec![
            scenario("lifetimes/expired", &["LT-5"], Verdict::Fail, &["LT-5"]),
            flaky,
        ]);
        let b = Baseline {
            version: 1,
            expected_failures: vec![ExpectedFailure {
                id: "lifetimes/expired".into(),
                reason: "ticket 1".into(),
                expires: None,
            }],
        };
        gate::apply_baseline(&mut r, &b, Policy::default(), jiff::civil::date(2026, 1, 1));
        let text = summary(&r);
        assert!(
            text.contains("gate: 1 expected failure(s) (baseline), 0 unexpected pass(es), 1 flaky"),
            "{text}"
        );
        assert!(text.contains("result: ok"), "{text}");
        assert!(!text.contains("the run fails"), "{text}");
    }

    /// The result line is the stored outcome's, whatever the scenarios look
    /// like: an all-pass report whose gate failed (an expired baseline
    /// entry, a flaky pass under --flaky-fails) says FAILED, with why.
    #[test]
    fn the_result_line_renders_the_stored_outcome() {
        let mut flaky = scenario("lifetimes/default", &["LT-1"], Verdict::Pass, &[]);
        flaky.flaky = true;
        flaky.attempts = 2;
        let mut r = report(vec![flaky]);
        let strict = Policy {
            flaky_fails: true,
            strict: false,
        };
        gate::gate(&mut r, strict);
        let text = summary(&r);
        assert!(text.contains("result: FAILED"), "{text}");
        assert!(text.contains("[--flaky-fails]"), "{text}");
        assert!(
            text.ends_with(
                "the run fails:\n  - lifetimes/default is flaky: passed after 2 attempts\n"
            ),
            "{text}"
        );
        r.scenarios[0].gate = Some(GateMark::UnexpectedPass { reason: "x".into() });
        r.outcome = None;
        assert!(summary(&r).contains("result: not decided"));
    }
}
