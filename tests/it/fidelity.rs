//! Real ArcGIS answers against the suite: every answer recorded in
//! `fixtures/fidelity/answers.json` (copied from the fidelity study, with
//! its case ID and source) is fed to the compiled expectations of the
//! scenario steps that check that situation (`runner::expect::evaluate`, the
//! runner's own checker). An answer that breaks no MUST rule must pass every
//! step it is fed to; one that breaks a MUST must fail. A step that fails a
//! real answer breaking no MUST is a bug in the suite: the fixture names it
//! (`suite_gap`), and this test insists it still fails, so the fix is
//! noticed and the entry removed.

use std::collections::BTreeMap;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;
use tessera::client::http::Response;
use tessera::runner::expect::{Evaluation, evaluate};
use tessera::runner::render::Context;
use tessera::scenario::plan::{Case, StepKind};
use tessera::scenario::{Scenario, load_suite};
use tessera::target::Target;

use super::support::root;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    #[allow(dead_code)]
    about: String,
    answers: Vec<Answer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // provenance fields are read by people, not by the test
struct Answer {
    case: String,
    system: String,
    source: String,
    evidence: String,
    rules: Vec<String>,
    request: Value,
    response: Recorded,
    checked_by: Vec<CheckedBy>,
    /// The MUST rule the answer breaks: every step fed must fail.
    breaks_must: Option<String>,
    /// A step fails this answer although it breaks no MUST: a suite bug.
    #[serde(default)]
    suite_gap: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Recorded {
    /// `None`: not recorded.
    status: Option<u16>,
    content_type: String,
    #[allow(dead_code)]
    content_type_recorded: bool,
    /// A JSON body, or a string for a text body.
    body: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckedBy {
    scenario: String,
    /// 1-based indices into the scenario's `steps`.
    steps: Vec<usize>,
    /// The matrix case, by name.
    #[serde(default)]
    case: Option<String>,
    /// Values for the step's `{{capture}}` placeholders.
    #[serde(default)]
    captures: IndexMap<String, String>,
    /// `{{now}}` in epoch ms (when the step compares with it).
    #[serde(default)]
    now: Option<i64>,
    /// Site settings the recorded server declares.
    #[serde(default)]
    knobs: BTreeMap<String, Value>,
}

fn fixture() -> Fixture {
    let path = root().join("fixtures/fidelity/answers.json");
    let text = std::fs::read_to_string(&path).expect("the fidelity fixture exists");
    serde_json::from_str(&text).expect("the fidelity fixture parses")
}

fn suite() -> Vec<Scenario> {
    load_suite(&[root().join("specs")]).expect("the suite loads")
}

/// The answer as the runner's client would have returned it.
fn response(rec: &Recorded) -> Response {
    let body = match &rec.body {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Response {
        // 0: not recorded; a step checking the status then fails visibly.
        status: rec.status.unwrap_or(0),
        headers: vec![("content-type".into(), rec.content_type.clone())],
        body,
        elapsed: Duration::ZERO,
    }
}

/// One fed step: where, and what the checker said.
struct Fed {
    place: String,
    /// The step's plain expectations.
    eval: Evaluation,
    /// Its VARIANT rules' alternatives that no listed variant satisfied,
    /// with why.
    unmatched: Vec<String>,
}

impl Fed {
    fn passed(&self) -> bool {
        self.eval.passed() && self.unmatched.is_empty()
    }

    fn failures(&self) -> String {
        let mut out = vec![failed_checks(&self.eval)];
        out.extend(self.unmatched.iter().cloned());
        out.retain(|s| !s.is_empty());
        out.join("; ")
    }
}

/// Feeds `resp` to every step `by` names.
fn feed(suite: &[Scenario], target: &Target, by: &CheckedBy, resp: &Response) -> Vec<Fed> {
    let s = suite
        .iter()
        .find(|s| s.id == by.scenario)
        .unwrap_or_else(|| panic!("no scenario {}", by.scenario));
    let case: Case = match &by.case {
        None => s.cases[0].clone(),
        Some(n) => s
            .cases
            .iter()
            .find(|c| &c.name == n)
            .unwrap_or_else(|| panic!("{} has no case {n}", s.id))
            .clone(),
    };
    let mut knobs = target.knobs.clone();
    for (k, v) in &by.knobs {
        knobs = knobs.with(k, v).expect("a known knob");
    }
    let ctx = Context {
        now_ms: by.now.unwrap_or(1_700_000_000_000),
        base_url: "http://recorded.example",
        endpoints: &target.endpoints,
        users: &target.users,
        knobs: &knobs,
        case: &case,
        addresses: &target.capabilities.addresses,
        captures: &by.captures,
    };
    by.steps
        .iter()
        .map(|&i| {
            let step = s
                .steps
                .get(i - 1)
                .unwrap_or_else(|| panic!("{} has no step {i}", s.id));
            let StepKind::Request(rs) = &step.kind else {
                panic!("step {i} of {} is not a request", s.id)
            };
            let rules: Vec<String> = step.rules.iter().map(|r| r.to_string()).collect();
            let place = match &by.case {
                Some(c) => format!("{} [{c}] step {i}", s.id),
                None => format!("{} step {i}", s.id),
            };
            Fed {
                place,
                eval: evaluate(&rs.asserts, resp, &ctx, &rules, Duration::ZERO),
                unmatched: rs
                    .alternatives
                    .iter()
                    .filter_map(|alt| {
                        let rules = [alt.rule.id.to_owned()];
                        let evs: Vec<(&str, Evaluation)> = alt
                            .options
                            .iter()
                            .map(|(n, asserts)| {
                                (*n, evaluate(asserts, resp, &ctx, &rules, Duration::ZERO))
                            })
                            .collect();
                        if evs.iter().any(|(_, e)| e.passed()) {
                            return None;
                        }
                        let why: Vec<String> = evs
                            .iter()
                            .map(|(n, e)| format!("{n}: {}", failed_checks(e)))
                            .collect();
                        Some(format!(
                            "[{}] no variant holds ({})",
                            alt.key(),
                            why.join(", ")
                        ))
                    })
                    .collect(),
            }
        })
        .collect()
}

fn failed_checks(e: &Evaluation) -> String {
    let mut out: Vec<String> = e
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{}: expected {}, got {}", c.what, c.expected, c.actual))
        .collect();
    if let Some(nj) = &e.not_json {
        out.push(nj.to_string());
    }
    out.join("; ")
}

#[test]
fn recorded_real_answers_fail_only_where_they_break_a_must() {
    let fx = fixture();
    let suite = suite();
    let target = Target::reference(Vec::new());
    let mut wrong = Vec::new();
    let mut fed = 0;
    for a in &fx.answers {
        assert!(
            !(a.breaks_must.is_some() && a.suite_gap.is_some()),
            "{}: a MUST break and a suite gap at once",
            a.case
        );
        let resp = response(&a.response);
        let results: Vec<Fed> = a
            .checked_by
            .iter()
            .flat_map(|by| feed(&suite, &target, by, &resp))
            .collect();
        fed += results.len();
        let failing: Vec<String> = results
            .iter()
            .filter(|f| !f.passed())
            .map(|f| format!("{}: {}", f.place, f.failures()))
            .collect();
        match (&a.breaks_must, &a.suite_gap) {
            (Some(rule), _) if failing.len() != results.len() => wrong.push(format!(
                "{} breaks {rule} but passes a step that checks it",
                a.case
            )),
            (None, None) if !failing.is_empty() => wrong.push(format!(
                "{} (real, breaks no MUST) fails: {}",
                a.case,
                failing.join(" | ")
            )),
            (None, Some(gap)) if failing.is_empty() => wrong.push(format!(
                "{}: the suite gap is fixed ({gap}); drop suite_gap from the fixture",
                a.case
            )),
            (None, Some(gap)) => eprintln!("{} suite gap ({gap}): {}", a.case, failing.join(" | ")),
            _ => {}
        }
    }
    assert!(fed >= fx.answers.len(), "every answer is fed to a step");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The check above can fail: the same steps fail each recorded answer once
/// it is broken the way a MUST forbids (an HTTP 599 and an error code no
/// rule allows where a code, a success or a status is due).
#[test]
fn every_fed_step_fails_a_broken_answer() {
    let fx = fixture();
    let suite = suite();
    let target = Target::reference(Vec::new());
    let broken = Response {
        status: 599,
        headers: vec![("content-type".into(), "application/json".into())],
        body: r#"{"error":{"code":999}}"#.into(),
        elapsed: Duration::ZERO,
    };
    let passing: Vec<String> = fx
        .answers
        .iter()
        .flat_map(|a| &a.checked_by)
        .flat_map(|by| feed(&suite, &target, by, &broken))
        .filter(|f| f.passed())
        .map(|f| f.place)
        .collect();
    assert!(
        passing.is_empty(),
        "steps that accept anything: {passing:?}"
    );
}

/// Answers whose status is not recorded are fed only to steps that do not
/// check the status (the fixture says so; this keeps it true).
#[test]
fn unrecorded_statuses_meet_no_status_check() {
    let fx = fixture();
    let suite = suite();
    let target = Target::reference(Vec::new());
    for a in fx.answers.iter().filter(|a| a.response.status.is_none()) {
        let resp = response(&a.response);
        for by in &a.checked_by {
            for f in feed(&suite, &target, by, &resp) {
                assert!(
                    f.eval.checks.iter().all(|c| c.what != "status"),
                    "{}: {} checks a status that was not recorded",
                    a.case,
                    f.place
                );
            }
        }
    }
}
