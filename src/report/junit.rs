//! The JUnit XML writer (`junit.xml`), for CI systems deciding pass/fail.
//!
//! Built with quick-junit (no hand-written XML, so escaping and invalid
//! characters are its business). One `<testsuite>` per area, one
//! `<testcase>` per scenario (or matrix case) with `classname` = area and
//! `name` = report id. Mapping:
//! - fail: `<failure>` whose message names the broken rule and expected vs
//!   actual of the first failed check; the text lists every failed check;
//! - error: `<error>` with the reason;
//! - skipped and not applicable: `<skipped>` with the reason;
//! - flaky (passed on a retry): success with `<flakyFailure>` per failed try;
//! - an expected failure (baseline): `<skipped>` saying so, as pytest does
//!   for xfail, so CI does not turn red for it;
//! - an unexpected pass (baseline): `<failure>`, so CI does;
//! - warn (only SHOULD clauses broken): JUnit has no warning status, and
//!   `<skipped>` would claim it did not run while `<failure>` would turn CI
//!   red for what does not fail the run; so it is a passing testcase with
//!   the property `verdict=warn` and the broken checks in `<system-out>`,
//!   which CI test views show per test;
//! - whatever else the gate names as failing the run (a warn under
//!   `--strict`, a flaky pass under `--flaky-fails`, an expired baseline
//!   entry on a passing scenario): `<failure>` with the gate's reason, so the
//!   red testcases are exactly what fails the run;
//! - a coverage gate (`--require-rule`, `--min-ran`): a failed testcase of
//!   its own in a `coverage` suite. Every suite carries the coverage
//!   (`tessera.coverage.ran`, `.total`, one `.unchecked` per MUST rule no
//!   case checked).
//!
//! The run's outcome (`report.outcome`) is a property of every
//! `<testsuite>` (`tessera.outcome` = `passed` / `failed`, one
//! `tessera.outcome.reason` per reason): JUnit has no place for it on
//! `<testsuites>`.
//!
//! Pure: a function of the report; it adds no value that is not in the
//! model (secrets are masked before they get there).

use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{
    NonSuccessKind, Property, Report as JReport, TestCase, TestCaseStatus, TestRerun, TestSuite,
};

use super::model::{Finding, GateMark, Outcome, Report, ScenarioReport, Verdict};

/// The report as JUnit XML.
pub fn write(report: &Report) -> String {
    let mut j = JReport::new("tessera");
    j.set_time(Duration::from_millis(report.duration_ms));
    for area in report.totals_by_area().keys() {
        let mut suite = TestSuite::new(area.as_str());
        suite.add_property(Property::new("target", report.target.name.as_str()));
        suite.add_property(Property::new("base_url", report.target.base_url.as_str()));
        if let Some(tls) = &report.target.tls {
            if tls.insecure {
                suite.add_property(Property::new(
                    "tls.insecure",
                    super::model::TlsSummary::INSECURE_WARNING,
                ));
            }
            suite.add_property(Property::new("tls", tls.line()));
        }
        if let Some(p) = &report.partition {
            suite.add_property(Property::new("partition", p.as_str()));
        }
        outcome_properties(&mut suite, report.outcome.as_ref());
        let mut time = 0;
        for s in report.scenarios.iter().filter(|s| &s.area == area) {
            time += s.duration_ms;
            suite.add_test_case(test_case(s, report.outcome.as_ref()));
        }
        suite.set_time(Duration::from_millis(time));
        j.add_test_suite(suite);
    }
    if let Some(suite) = coverage_suite(report) {
        j.add_test_suite(suite);
    }
    // quick-junit only fails on an io error, impossible for a String.
    j.to_string().unwrap_or_default()
}

/// The gate's outcome, as suite properties.
fn outcome_properties(suite: &mut TestSuite, o: Option<&Outcome>) {
    let Some(o) = o else {
        suite.add_property(Property::new("tessera.outcome", "not decided"));
        return;
    };
    suite.add_property(Property::new("tessera.outcome", o.result.as_str()));
    if o.policy.strict {
        suite.add_property(Property::new("tessera.strict", "true"));
    }
    if o.policy.flaky_fails {
        suite.add_property(Property::new("tessera.flaky_fails", "true"));
    }
    for r in &o.reasons {
        suite.add_property(Property::new("tessera.outcome.reason", r.to_string()));
    }
    let c = &o.coverage;
    suite.add_property(Property::new("tessera.coverage.ran", c.ran.to_string()));
    suite.add_property(Property::new("tessera.coverage.total", c.total.to_string()));
    for u in &c.unchecked {
        suite.add_property(Property::new("tessera.coverage.unchecked", u.to_string()));
    }
}

/// The coverage gates that fail the run (`--require-rule`, `--min-ran`)
/// are about no one scenario: each is a failed testcase of a `coverage`
/// suite, so CI turns red for it too.
fn coverage_suite(report: &Report) -> Option<TestSuite> {
    let o = report.outcome.as_ref()?;
    let gates: Vec<(String, String)> = o
        .reasons
        .iter()
        .filter_map(|f| match f {
            Finding::RuleNotPassed { rule, .. } => Some((format!("require-rule {rule}"), f)),
            Finding::TooFewRan { min_percent, .. } => Some((format!("min-ran {min_percent}%"), f)),
            _ => None,
        })
        .map(|(name, f)| (name, f.to_string()))
        .collect();
    if gates.is_empty() {
        return None;
    }
    let mut suite = TestSuite::new("coverage");
    outcome_properties(&mut suite, Some(o));
    for (name, message) in gates {
        let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
        st.set_type("gate");
        st.set_message(message);
        let mut tc = TestCase::new(name, st);
        tc.set_classname("coverage");
        suite.add_test_case(tc);
    }
    Some(suite)
}

fn test_case(s: &ScenarioReport, o: Option<&Outcome>) -> TestCase {
    let blocking: Vec<String> = o
        .into_iter()
        .flat_map(|o| o.reasons_for(&s.id))
        .map(ToString::to_string)
        .collect();
    let mut tc = TestCase::new(s.id.as_str(), status(s, &blocking));
    tc.set_classname(s.area.as_str());
    tc.set_time(Duration::from_millis(s.duration_ms));
    tc.add_property(Property::new("title", s.title.as_str()));
    tc.add_property(Property::new("file", s.file.as_str()));
    tc.add_property(Property::new("rules", s.rules.join(" ")));
    tc.add_property(Property::new("profile", s.profile.as_str()));
    for (k, v) in &s.vars {
        tc.add_property(Property::new(format!("var.{k}"), plain(v)));
    }
    if s.attempts > 1 {
        tc.add_property(Property::new("attempts", s.attempts.to_string()));
    }
    if s.verdict == Verdict::Warn {
        tc.add_property(Property::new("verdict", "warn"));
        tc.set_system_out(format!("warn: {}\n{}", headline(s, s.verdict), evidence(s)));
    }
    tc
}

fn status(s: &ScenarioReport, blocking: &[String]) -> TestCaseStatus {
    match (&s.gate, s.verdict) {
        (Some(GateMark::ExpectedFailure { reason }), v) => {
            let mut st = TestCaseStatus::skipped();
            st.set_type("expected failure");
            st.set_message(format!("expected failure ({reason}): {}", headline(s, v)));
            st.set_description(evidence(s));
            return st;
        }
        (Some(GateMark::UnexpectedPass { reason }), Verdict::Pass) => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_type("unexpected pass");
            st.set_message(format!(
                "unexpected pass: the baseline expects a failure ({reason}); remove the entry"
            ));
            return st;
        }
        _ => {}
    }
    // Not a failure by its verdict, yet the gate says it fails the run.
    if !s.verdict.is_failure() && !blocking.is_empty() {
        let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
        st.set_type(if s.verdict == Verdict::Warn {
            "warn (--strict)"
        } else {
            "gate"
        });
        st.set_message(blocking.join("; "));
        st.set_description(evidence(s));
        return st;
    }
    match s.verdict {
        Verdict::Pass | Verdict::Warn if s.flaky => {
            let mut st = TestCaseStatus::success();
            for attempt in 1..s.attempts {
                let mut run = TestRerun::new(NonSuccessKind::Failure);
                run.set_message(format!("attempt {attempt} of {} failed", s.attempts));
                st.add_rerun(run);
            }
            st
        }
        Verdict::Pass | Verdict::Warn => TestCaseStatus::success(),
        Verdict::Fail | Verdict::Error => {
            let kind = if s.verdict == Verdict::Fail {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut st = TestCaseStatus::non_success(kind);
            st.set_type(s.verdict.as_str());
            st.set_message(headline(s, s.verdict));
            st.set_description(evidence(s));
            st
        }
        Verdict::Skipped | Verdict::NotApplicable => {
            let mut st = TestCaseStatus::skipped();
            st.set_type(s.verdict.as_str());
            st.set_message(match &s.reason {
                Some(r) => format!("{}: {r}", s.verdict.as_str()),
                None => s.verdict.as_str().to_owned(),
            });
            st
        }
    }
}

/// One line: the first failed check (`[LT-5] status: expected 498, actual
/// 200`) or the reason.
fn headline(s: &ScenarioReport, v: Verdict) -> String {
    match s.failures().next() {
        Some((_, c)) => {
            let more = s.failures().count() - 1;
            let rules = if c.rules.is_empty() {
                String::new()
            } else {
                format!("[{}] ", c.rules.join(", "))
            };
            let tail = if more > 0 {
                format!(" (+{more} more)")
            } else {
                String::new()
            };
            format!(
                "{rules}{}: expected {}, actual {}{tail}",
                c.what, c.expected, c.actual
            )
        }
        None => s.reason.clone().unwrap_or_else(|| v.as_str().to_owned()),
    }
}

/// Every failed check with its step, and the step's exchanges.
fn evidence(s: &ScenarioReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} ({})", s.title, s.file);
    if let Some(r) = &s.reason {
        let _ = writeln!(out, "reason: {r}");
    }
    let mut last_step = 0;
    for (step, c) in s.failures() {
        if step.index != last_step {
            last_step = step.index;
            let _ = writeln!(
                out,
                "step {} (line {}): {}",
                step.index, step.line, step.label
            );
            for x in &step.exchanges {
                let status = x
                    .status
                    .map_or_else(|| x.error.clone().unwrap_or_default(), |s| s.to_string());
                let _ = writeln!(out, "  {} {} -> {status}", x.method, x.url);
                if let Some(b) = &x.response_body {
                    let _ = writeln!(out, "  body: {b}");
                }
            }
        }
        let _ = writeln!(
            out,
            "  [{}] {}: expected {}, actual {}",
            c.rules.join(", "),
            c.what,
            c.expected,
            c.actual
        );
    }
    out
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::model::tests::{report, scenario};
    use crate::report::model::{Check, Exchange};

    /// A small report with one of every kind of outcome.
    pub(crate) fn sample() -> Report {
        let mut fail = scenario(
            "lifetimes/lt5-boundary",
            &["LT-5"],
            Verdict::Fail,
            &["LT-5"],
        );
        fail.title = "A token is invalid at now == expires <edge>".into();
        fail.steps[0].exchanges.push(Exchange {
            method: "GET".into(),
            url: "http://127.0.0.1:1/arcgis/rest/services/SampleWorldCities/MapServer?token=***"
                .into(),
            from: None,
            request_headers: Default::default(),
            request_body: None,
            status: Some(200),
            response_body: Some("{\"currentVersion\":11.1}".into()),
            elapsed_ms: 2,
            error: None,
        });
        fail.steps[0].checks.push(Check {
            what: "arcgis_error".into(),
            expected: "498".into(),
            actual: "none".into(),
            passed: false,
            rules: vec!["LT-5".into()],
        });
        let mut error = scenario("sessions/sl1-start", &["SL-1"], Verdict::Error, &[]);
        error.reason = Some("connection refused".into());
        let mut skipped = scenario("sessions/sl8-cap", &["SL-8"], Verdict::Skipped, &[]);
        skipped.reason = Some("needs capability `clock-control`".into());
        let mut na = scenario("arcweb/lt7-tout", &["LT-7"], Verdict::NotApplicable, &[]);
        na.reason = Some("profile arcweb-2006 not implemented".into());
        let mut flaky = scenario("lifetimes/lt1-default", &["LT-1"], Verdict::Pass, &[]);
        flaky.flaky = true;
        flaky.attempts = 2;
        let mut expected = scenario("lifetimes/lt3-clamp", &["LT-3"], Verdict::Fail, &["LT-3"]);
        expected.gate = Some(GateMark::ExpectedFailure {
            reason: "vendor ticket 7".into(),
        });
        let mut hp = scenario(
            "header-precedence/hp2[x-esri]",
            &["HP-2"],
            Verdict::Pass,
            &[],
        );
        hp.scenario = "header-precedence/hp2".into();
        hp.case = Some("x-esri".into());
        hp.vars
            .insert("winner".into(), "X-Esri-Authorization".into());
        let warn = scenario(
            "lifetimes/lt5-at-expiry",
            &["LT-5/SHOULD"],
            Verdict::Warn,
            &["LT-5/SHOULD"],
        );
        let mut r = report(vec![
            hp,
            fail,
            flaky,
            expected,
            error,
            skipped,
            na,
            scenario("lifetimes/lt2-exact", &["LT-2"], Verdict::Pass, &[]),
            warn,
        ]);
        // The gate's outcome from the marks above (no baseline to apply).
        crate::report::gate::decide_merged(&mut r, &[], Default::default());
        r
    }

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(write(&sample()));
    }

    /// Third-party check: borisfaure's `junit-parser` (not quick-junit's own
    /// reader) must load the file and see what a CI consumer would.
    #[test]
    fn a_third_party_parser_reads_it() {
        let xml = write(&sample());
        let suites = junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes())).unwrap();
        assert_eq!(suites.tests, 9);
        let cases: Vec<_> = suites.suites.iter().flat_map(|s| &s.cases).collect();
        assert_eq!(cases.len(), 9);
        let by = |n: &str| cases.iter().find(|c| c.original_name == n).unwrap();
        let f = by("lifetimes/lt5-boundary");
        assert_eq!(f.classname.as_deref(), Some("lifetimes"));
        assert_eq!(f.name, "lifetimes::lifetimes/lt5-boundary");
        assert!(f.status.is_failure());
        let msg = &f.status.failure_as_ref().message;
        assert!(
            msg.starts_with("[LT-5] status: expected 200, actual 500"),
            "{msg}"
        );
        assert!(
            f.status
                .failure_as_ref()
                .text
                .contains("arcgis_error: expected 498")
        );
        assert!(by("sessions/sl1-start").status.is_error());
        let sk = by("sessions/sl8-cap");
        assert!(sk.status.is_skipped());
        assert!(sk.status.skipped_as_ref().message.contains("clock-control"));
        assert!(by("arcweb/lt7-tout").status.is_skipped());
        assert!(by("lifetimes/lt3-clamp").status.is_skipped());
        let fl = by("lifetimes/lt1-default");
        assert!(fl.status.is_success());
        assert_eq!(fl.reruns.len(), 1);
        assert!(by("lifetimes/lt2-exact").status.is_success());
        let area_names: Vec<_> = suites.suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            area_names,
            ["arcweb", "header-precedence", "lifetimes", "sessions"]
        );
        let lt = &suites.suites[2];
        assert_eq!((lt.tests, lt.failures, lt.skipped), (5, 1, 1));
        let w = by("lifetimes/lt5-at-expiry");
        assert!(w.status.is_success());
        assert!(
            w.system_out
                .as_deref()
                .unwrap_or("")
                .starts_with("warn: [LT-5/SHOULD]")
        );
        assert!(
            w.properties
                .hashmap
                .get("verdict")
                .is_some_and(|v| v == "warn")
        );
        assert_eq!(
            lt.properties
                .hashmap
                .get("tessera.outcome")
                .map(String::as_str),
            Some("failed")
        );
    }

    /// What the gate says fails the run is a failed testcase, whatever the
    /// verdict: a warn under --strict, a flaky pass under --flaky-fails.
    #[test]
    fn the_gate_decides_which_testcases_fail() {
        use crate::report::model::Policy;
        let mut flaky = scenario("lifetimes/f", &["LT-1"], Verdict::Pass, &[]);
        flaky.flaky = true;
        flaky.attempts = 2;
        let warn = scenario("lifetimes/w", &["LT-4"], Verdict::Warn, &["LT-4"]);
        let mut r = report(vec![flaky, warn]);
        let parse = |r: &Report| {
            let xml = write(r);
            junit_parser::from_reader(std::io::Cursor::new(xml.into_bytes())).unwrap()
        };
        crate::report::gate::gate(&mut r, Policy::default());
        let s = parse(&r);
        assert!(s.suites[0].cases.iter().all(|c| c.status.is_success()));
        assert_eq!(s.suites[0].properties.hashmap["tessera.outcome"], "passed");
        crate::report::gate::gate(
            &mut r,
            Policy {
                flaky_fails: true,
                strict: true,
            },
        );
        let s = parse(&r);
        assert!(s.suites[0].cases.iter().all(|c| c.status.is_failure()));
        assert_eq!(s.suites[0].properties.hashmap["tessera.outcome"], "failed");
        let w = s.suites[0]
            .cases
            .iter()
            .find(|c| c.original_name == "lifetimes/w")
            .unwrap();
        assert_eq!(w.status.failure_as_ref().failure_type, "warn (--strict)");
    }

    #[test]
    fn an_unexpected_pass_is_a_failure() {
        let mut s = scenario("lifetimes/a", &["LT-5"], Verdict::Pass, &[]);
        s.gate = Some(GateMark::UnexpectedPass {
            reason: "ticket 9".into(),
        });
        let mut r = report(vec![s]);
        crate::report::gate::decide_merged(&mut r, &[], Default::default());
        let xml = write(&r);
        let suites = junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes())).unwrap();
        let c = &suites.suites[0].cases[0];
        assert!(c.status.is_failure());
        assert!(c.status.failure_as_ref().message.contains("ticket 9"));
    }
}
