//! `certification.xml`: the certification as JUnit XML for CI test views.
//!
//! Built with quick-junit. One `<testsuite>` per client (named after it),
//! one `<testcase>` per case (`classname` = client, `name` = case id).
//! Mapping, as the server JUnit writer does it:
//! - fail: `<failure>` whose message is the first MUST finding (rule and
//!   message); the text lists every finding with its timeline excerpt and
//!   the replay command;
//! - error: `<error>` with the reason (the driver crashed or timed out);
//! - skipped and not applicable: `<skipped>` with the reason;
//! - warn: JUnit has no warning status, so a passing testcase with the
//!   property `verdict=warn` and the findings in `<system-out>`.
//!
//! Each suite carries the run (`tessera.version`, `.tier`, `.plan`,
//! `tessera.outcome` = `passed`/`failed` as decided), the client's identity,
//! its behaviour card (`card.<topic>`) and per-rule verdicts
//! (`rule.CL-3` = `pass; variants: GET: header`). Pure.

use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::{at, guard, sorted_rules};
use crate::certify::verdict::{CaseResult, Certification, ClientResult, Verdict};

/// The certification as JUnit XML.
pub fn write(cert: &Certification) -> String {
    let mut j = Report::new("tessera certify");
    let mut total = 0;
    for c in &cert.clients {
        let suite = suite(cert, c);
        total += c.cases.iter().map(|k| k.duration_ms).sum::<u64>();
        j.add_test_suite(suite);
    }
    j.set_time(Duration::from_millis(total));
    // quick-junit fails only on an io error, impossible for a String.
    guard::mask(&j.to_string().unwrap_or_default())
}

fn suite(cert: &Certification, c: &ClientResult) -> TestSuite {
    let mut s = TestSuite::new(c.name.as_str());
    let mut prop = |k: &str, v: &str| {
        s.add_property(Property::new(k, v));
    };
    prop("tessera.version", &cert.tessera);
    prop("tessera.tier", &cert.tier);
    prop("tessera.plan", &cert.plan);
    prop(
        "tessera.outcome",
        if cert.passed { "passed" } else { "failed" },
    );
    if let Some(n) = &c.client {
        prop("client", n);
    }
    if let Some(v) = &c.version {
        prop("client.version", v);
    }
    prop("driver", &c.driver);
    prop("features", &c.features.join(" "));
    prop("verdict", c.verdict.as_str());
    for l in &c.card {
        prop(&format!("card.{}", l.topic), &l.value);
    }
    for r in sorted_rules(c) {
        let value = if r.variants.is_empty() {
            r.verdict.as_str().to_owned()
        } else {
            format!(
                "{}; variants: {}",
                r.verdict.as_str(),
                r.variants.join(", ")
            )
        };
        prop(&format!("rule.{}", r.rule), &value);
    }
    let mut time = 0;
    for k in &c.cases {
        time += k.duration_ms;
        s.add_test_case(test_case(c, k));
    }
    s.set_time(Duration::from_millis(time));
    s
}

fn test_case(c: &ClientResult, k: &CaseResult) -> TestCase {
    let mut tc = TestCase::new(k.id.as_str(), status(k));
    tc.set_classname(c.name.as_str());
    tc.set_time(Duration::from_millis(k.duration_ms));
    tc.add_property(Property::new("title", k.title.as_str()));
    tc.add_property(Property::new("file", k.file.as_str()));
    tc.add_property(Property::new("rules", k.rules.join(" ")));
    tc.add_property(Property::new("replay", k.replay.as_str()));
    for s in &k.shown {
        tc.add_property(Property::new(
            format!("variant.{}", s.rule),
            format!("{}: {}", s.about, s.variant),
        ));
    }
    if k.verdict == Verdict::Warn {
        tc.add_property(Property::new("verdict", "warn"));
        tc.set_system_out(evidence(k));
    }
    tc
}

fn status(k: &CaseResult) -> TestCaseStatus {
    match k.verdict {
        Verdict::Pass | Verdict::Warn => TestCaseStatus::success(),
        Verdict::Fail => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let first = k
                .findings
                .iter()
                .find(|f| f.verdict == Verdict::Fail)
                .or(k.findings.first());
            st.set_type(first.map_or("fail", |f| f.rule.as_str()));
            st.set_message(first.map_or_else(
                || k.reason.clone().unwrap_or_else(|| "failed".into()),
                |f| format!("{}: {}", f.rule, f.message),
            ));
            st.set_description(evidence(k));
            st
        }
        Verdict::Error => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
            st.set_type("error");
            st.set_message(
                k.reason
                    .as_deref()
                    .unwrap_or("the case could not be judged"),
            );
            st.set_description(format!("replay: {}", k.replay));
            st
        }
        Verdict::Skipped | Verdict::NotApplicable => {
            let mut st = TestCaseStatus::skipped();
            st.set_type(k.verdict.as_str());
            st.set_message(k.reason.as_deref().unwrap_or(k.verdict.as_str()));
            st
        }
    }
}

/// Every finding with its excerpt (`>` marks the offending line), then the
/// replay command.
fn evidence(k: &CaseResult) -> String {
    let mut out = String::new();
    for f in &k.findings {
        let _ = writeln!(out, "{} {}: {}", f.verdict.as_str(), f.rule, f.message);
        if let Some(seq) = f.entry {
            let _ = writeln!(out, "  first offending request: #{seq}");
        }
        for l in &f.excerpt {
            let _ = writeln!(
                out,
                "{} {:>9}  {}",
                if l.offending { '>' } else { ' ' },
                at(l.real_ms),
                l.text
            );
        }
    }
    let _ = writeln!(out, "replay: {}", k.replay);
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(write(&fixture::two()));
    }

    #[test]
    fn parses_and_maps_each_verdict() {
        let xml = write(&fixture::two());
        let suites = junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes())).unwrap();
        assert_eq!(suites.suites.len(), 2);
        let python = &suites.suites[1];
        assert_eq!(python.name, "python");
        assert_eq!(python.cases.len(), 4);
        let kinds: Vec<(&str, bool, bool, bool)> = python
            .cases
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.status.is_failure(),
                    c.status.is_error(),
                    c.status.is_skipped(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("python::client/signin-post-body", false, false, false),
                ("python::client/foreign-origin-plain", true, false, false),
                ("python::client/renewal-margin", false, false, false),
                ("python::client/ssl-declared", false, true, false),
            ]
        );
        // The not-applicable case of the good client is skipped.
        assert!(suites.suites[0].cases[2].status.is_skipped());
        assert!(xml.contains("name=\"verdict\" value=\"warn\""));
        assert!(xml.contains("<system-out>warn CL-7/SHOULD"));
        assert!(xml.contains("name=\"tessera.outcome\" value=\"failed\""));
    }
}
