//! Checking an answer against a step's compiled expectations
//! ([`Assert`]s: a query and a predicate, built by validation).
//!
//! Every assert becomes one [`Check`] (what, expected, actual, passed,
//! rules): a failed expectation is data, never an `Err`. Nothing here parses
//! scenario text: operands arrive as templates and [`Arith`] trees whose
//! placeholders are filled from the [`Context`], regular expressions and JSON
//! paths arrive compiled, tolerances as durations.
//!
//! Time arithmetic: when the actual value is a number and the expected
//! operand stands for an integer (`"{{now}} + 60m"`), the two are compared
//! within a tolerance: the matcher's `tolerance:` when given, else the
//! target's declared tolerance when the operand mentions `{{now}}` (clock
//! skew is the only thing that tolerance is for), else 0 (LT-2: "± the
//! target's declared tolerance, 0 on the reference").
//!
//! JSON: expectations that need a JSON body (`json:`, `arcgis_error: N`) on an
//! answer that is not JSON make the step an *error* (the target misbehaved:
//! unparsable body), reported as a failed check plus [`Evaluation::not_json`]
//! — unless another expectation (the status, say) failed on its own: then the
//! step simply fails, naming its rules ([`Evaluation::definite_failure`]).
//! `arcgis_error: none` and `no_error: true` hold on a non-JSON body (it holds
//! no error object).
//!
//! Checks are built unmasked; the player masks them before they enter the
//! report.

use std::time::Duration;

use serde_json::Value;

use super::render::Context;
use crate::client::http::Response;
use crate::report::model::Check;
use crate::scenario::model::JsonType;
use crate::scenario::plan::{Assert, Operand, Predicate, Query, as_i128};

/// The result of checking one answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evaluation {
    pub checks: Vec<Check>,
    /// Set when JSON was required and the body is not JSON.
    pub not_json: Option<NotJson>,
    /// Some check failed for a reason other than a non-JSON body.
    definite: bool,
}

/// JSON was required and the body is not JSON: the target misbehaved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotJson {
    /// The first expectation that needed JSON (`json`, `arcgis_error`).
    pub needed_by: &'static str,
    /// The start of the body, for the message.
    pub body_start: String,
}

impl std::fmt::Display for NotJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} needs a JSON answer; the body is not JSON: {}",
            self.needed_by, self.body_start
        )
    }
}

/// The `actual` shown on checks that failed only because the body is not
/// JSON (the decision uses [`Evaluation::not_json`], never this text).
const BODY_NOT_JSON: &str = "body is not JSON";

impl Evaluation {
    pub fn passed(&self) -> bool {
        self.not_json.is_none() && self.checks.iter().all(|c| c.passed)
    }

    /// A check failed for a reason other than a non-JSON body.
    pub fn definite_failure(&self) -> bool {
        self.definite
    }

    fn push(
        &mut self,
        what: String,
        expected: String,
        actual: String,
        passed: bool,
        rules: &[String],
    ) {
        self.definite |= !passed;
        self.checks.push(Check {
            what,
            expected,
            actual,
            passed,
            rules: rules.to_vec(),
        });
    }
}

/// Checks `resp` against `asserts`. `tolerance` is the target's.
pub fn evaluate(
    asserts: &[Assert],
    resp: &Response,
    ctx: &Context,
    rules: &[String],
    tolerance: Duration,
) -> Evaluation {
    let mut ev = Evaluation::default();
    let json = resp.json();
    let error_obj = json
        .as_ref()
        .and_then(|j| j.get("error"))
        .filter(|e| !e.is_null());
    let no_error = |ev: &mut Evaluation, what: String, want_none: bool| {
        let actual = match error_obj {
            None => "no error".to_string(),
            Some(e) => format!(
                "error {}",
                e.get("code")
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "without code".into())
            ),
        };
        let expected = if want_none { "no error" } else { "an error" };
        ev.push(
            what,
            expected.into(),
            actual,
            error_obj.is_none() == want_none,
            rules,
        );
    };
    // The last JSON query reported as "body is not JSON" (one check per path).
    let mut not_json_reported: Option<&Query> = None;
    for a in asserts {
        let what = a.label();
        match &a.predicate {
            Predicate::NoError(want) => {
                no_error(&mut ev, what, *want);
                continue;
            }
            Predicate::NoCode => {
                no_error(&mut ev, what, true);
                continue;
            }
            // `none` from a case value (`arcgis_error: "{{case.code}}"`).
            Predicate::Code(n)
                if a.query == Query::ArcgisError
                    && n.lone_var()
                        .is_some_and(|v| ctx.lookup(v).is_ok_and(|t| t.trim() == "none")) =>
            {
                no_error(&mut ev, what, true);
                continue;
            }
            _ => {}
        }
        let needed_by = match a.query {
            Query::ArcgisError => Some("arcgis_error"),
            Query::Json(_) => Some("json"),
            _ => None,
        };
        if let (Some(needed_by), None) = (needed_by, &json) {
            if ev.not_json.is_none() {
                ev.not_json = Some(NotJson {
                    needed_by,
                    body_start: snippet(&resp.body, 80),
                });
            }
            if not_json_reported != Some(&a.query) {
                let expected = match &a.predicate {
                    Predicate::Code(n) if a.query == Query::ArcgisError => n.text.clone(),
                    _ => "a JSON body".into(),
                };
                ev.checks.push(Check {
                    what: a.query.label(),
                    expected,
                    actual: BODY_NOT_JSON.into(),
                    passed: false,
                    rules: rules.to_vec(),
                });
            }
            not_json_reported = Some(&a.query);
            continue;
        }
        let actual: Option<Value> = match &a.query {
            Query::Status => Some(Value::from(resp.status)),
            Query::ArcgisError => error_obj.and_then(|e| e.get("code")).cloned(),
            Query::Header(h) => resp.header(h).map(|v| Value::String(v.to_owned())),
            Query::Json(q) => json.as_ref().and_then(|j| q.select(j)),
            Query::Body => Some(Value::String(resp.body.clone())),
        };
        let (expected, passed, mut shown) = match &a.predicate {
            Predicate::Code(n) => {
                let shown = match (&a.query, &actual) {
                    (Query::ArcgisError, None) => "no error".into(),
                    (_, a) => show(a.as_ref()),
                };
                match n.eval(|v| ctx.int(v)) {
                    Ok(n) => (
                        n.to_string(),
                        actual.as_ref().and_then(as_i128) == Some(n),
                        shown,
                    ),
                    Err(e) if a.query == Query::ArcgisError => (e, false, String::new()),
                    Err(e) => (e, false, shown),
                }
            }
            p => predicate(p, a.tolerance, actual.as_ref(), ctx, tolerance),
        };
        // A binary answer (ArcWeb's map image) is evidence by its size, not
        // by a screenful of mangled bytes.
        if a.query == Query::Body && looks_binary(&resp.body) {
            shown = format!(
                "a binary body of {} bytes ({})",
                resp.body.len(),
                resp.header("content-type").unwrap_or("no content type")
            );
        }
        ev.push(what, expected, shown, passed, rules);
    }
    ev
}

/// Whether a (lossily decoded) body is binary rather than text: a NUL, a
/// replacement character, or mostly control characters in its first 512.
fn looks_binary(body: &str) -> bool {
    let head: Vec<char> = body.chars().take(512).collect();
    let control = head
        .iter()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        .count();
    head.iter()
        .any(|&c| c == '\0' || c == char::REPLACEMENT_CHARACTER)
        || control * 10 > head.len()
}

/// A body start for messages.
fn snippet(s: &str, max: usize) -> String {
    let t: String = s.chars().take(max).collect();
    if s.chars().count() > max {
        format!("{t}…")
    } else {
        t
    }
}

/// A value as text for `matches`/`contains` and for reports.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "(absent)".into(),
        Some(v) => v.to_string(),
    }
}

/// An operand with its placeholders filled.
struct Resolved {
    value: Value,
    /// The integer it stands for, if it is one.
    number: Option<i128>,
    uses_now: bool,
}

fn resolve(o: &Operand, ctx: &Context) -> Result<Resolved, String> {
    let value = o.value.render(&mut |v| ctx.lookup(v))?;
    let number = o.number.as_ref().and_then(|a| a.eval(|v| ctx.int(v)).ok());
    Ok(Resolved {
        value,
        number,
        uses_now: o.uses_now,
    })
}

/// The outcome of comparing two values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Same,
    Different,
    /// Numbers too far apart to subtract (i128 overflow): the check fails.
    OutOfRange,
}

impl Cmp {
    fn of(b: bool) -> Cmp {
        if b { Cmp::Same } else { Cmp::Different }
    }
}

/// The `actual` text of a comparison that overflowed.
fn out_of_range(actual: &str) -> String {
    format!("{actual} (out of range for this comparison)")
}

/// Whether `actual` equals `expected`, numbers within `tol` ms.
///
/// YAML 1.1 habits: a scenario may write `"true"` or `"498"` for a JSON
/// boolean or number, or `true`/`498` for a JSON string holding that text.
/// Both directions compare the same: a string and a boolean or number are
/// equal when the string is the other's JSON text.
fn equal(actual: &Value, expected: &Resolved, tol: i128) -> Cmp {
    let e = &expected.value;
    match (actual, e) {
        (Value::Number(_), _) => match (as_i128(actual), expected.number) {
            (Some(a), Some(n)) => match a.checked_sub(n).and_then(|d| d.checked_abs()) {
                Some(d) => Cmp::of(d <= tol),
                None => Cmp::OutOfRange,
            },
            _ => Cmp::of(match e {
                Value::String(s) => s.as_str() == actual.to_string().as_str(),
                _ => actual == e,
            }),
        },
        (Value::String(a), Value::String(s)) => Cmp::of(a == s),
        (Value::String(a), Value::Number(_) | Value::Bool(_)) => {
            Cmp::of(a.as_str() == e.to_string().as_str())
        }
        (Value::Bool(_), Value::String(s)) => Cmp::of(s.trim() == actual.to_string().as_str()),
        _ => Cmp::of(actual == e),
    }
}

fn expected_text(r: &Resolved, raw: &Value, tol: i128) -> String {
    let mut s = match (&r.value, r.number) {
        (Value::String(t), Some(n)) if t.trim() != n.to_string() => format!("{n} ({t})"),
        (Value::String(t), Some(_)) => t.clone(),
        (v, _) => v.to_string(),
    };
    if let Value::String(t) = raw
        && t.contains("{{")
        && !s.contains(t.as_str())
        && r.number.is_none()
    {
        s = format!("{s} ({t})");
    }
    if tol > 0 {
        s.push_str(&format!(" ± {tol}ms"));
    }
    s
}

/// Checks one predicate on one (possibly absent) value: the expected text,
/// whether it holds, and the actual text. `tolerance` is the matcher's,
/// `target_tolerance` the target's.
fn predicate(
    p: &Predicate,
    tolerance: Option<Duration>,
    actual: Option<&Value>,
    ctx: &Context,
    target_tolerance: Duration,
) -> (String, bool, String) {
    let tol_for = |r: &Resolved| match tolerance {
        Some(t) => t.as_millis() as i128,
        None if r.uses_now => target_tolerance.as_millis() as i128,
        None => 0,
    };
    let shown = show(actual);
    match p {
        Predicate::Exists(want) => (
            want.to_string(),
            actual.is_some() == *want,
            actual.is_some().to_string(),
        ),
        Predicate::Equals(o) | Predicate::NotEquals(o) => {
            let negate = matches!(p, Predicate::NotEquals(_));
            match resolve(o, ctx) {
                Err(e) => (e, false, shown),
                Ok(r) => {
                    let tol = if negate { 0 } else { tol_for(&r) };
                    let (passed, shown) = match actual.map(|a| equal(a, &r, tol)) {
                        None => (negate, shown),
                        Some(Cmp::OutOfRange) => (false, out_of_range(&shown)),
                        Some(c) => ((c == Cmp::Same) != negate, shown),
                    };
                    (expected_text(&r, &o.raw, tol), passed, shown)
                }
            }
        }
        Predicate::OneOf(list) => {
            let mut texts = Vec::new();
            let mut passed = false;
            let mut overflow = false;
            for o in list {
                match resolve(o, ctx) {
                    Ok(r) => {
                        let tol = tol_for(&r);
                        match actual.map(|a| equal(a, &r, tol)) {
                            Some(Cmp::Same) => passed = true,
                            Some(Cmp::OutOfRange) => overflow = true,
                            _ => {}
                        }
                        texts.push(expected_text(&r, &o.raw, tol));
                    }
                    Err(e) => texts.push(e),
                }
            }
            let shown = if overflow && !passed {
                out_of_range(&shown)
            } else {
                shown
            };
            (format!("one of [{}]", texts.join(", ")), passed, shown)
        }
        Predicate::Matches(re) => (
            format!("/{}/", re.as_str()),
            actual.is_some_and(|a| re.is_match(&text_of(a))),
            shown,
        ),
        Predicate::Contains(t) => {
            let needle = ctx.render(t).unwrap_or_else(|_| t.source.clone());
            let passed = actual.is_some_and(|a| text_of(a).contains(&needle));
            (format!("{needle:?}"), passed, shown)
        }
        Predicate::Type(t) => {
            let (passed, actual_type) = match actual {
                None => (false, "absent".to_string()),
                Some(a) => (has_type(a, *t), type_name(a).to_string()),
            };
            (format!("{t:?}").to_lowercase(), passed, actual_type)
        }
        Predicate::Length(n) | Predicate::MinLength(n) | Predicate::MaxLength(n) => {
            let len = actual.and_then(length);
            let passed = match (p, len) {
                (_, None) => false,
                (Predicate::Length(_), Some(l)) => l == *n,
                (Predicate::MinLength(_), Some(l)) => l >= *n,
                (_, Some(l)) => l <= *n,
            };
            let shown = len.map(|l| format!("length {l}")).unwrap_or(shown);
            (n.to_string(), passed, shown)
        }
        Predicate::AtLeast(o) | Predicate::AtMost(o) => {
            let at_least = matches!(p, Predicate::AtLeast(_));
            match resolve(o, ctx) {
                Err(e) => (e, false, shown),
                Ok(r) => {
                    let tol = tol_for(&r);
                    let limit = r.number.map(|b| {
                        if at_least {
                            b.checked_sub(tol)
                        } else {
                            b.checked_add(tol)
                        }
                    });
                    let (passed, shown) = match (actual.and_then(as_i128), limit) {
                        (Some(_), Some(None)) => (false, out_of_range(&shown)),
                        (Some(a), Some(Some(l))) if at_least => (a >= l, shown),
                        (Some(a), Some(Some(l))) => (a <= l, shown),
                        _ => (false, shown),
                    };
                    (expected_text(&r, &o.raw, tol), passed, shown)
                }
            }
        }
        Predicate::Code(n) => match n.eval(|v| ctx.int(v)) {
            Ok(n) => (n.to_string(), actual.and_then(as_i128) == Some(n), shown),
            Err(e) => (e, false, shown),
        },
        Predicate::NoCode | Predicate::NoError(_) => {
            // Judged on the error object by `evaluate`; never reaches here.
            ("no error".into(), false, shown)
        }
    }
}

fn length(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => Some(s.chars().count() as u64),
        Value::Array(a) => Some(a.len() as u64),
        Value::Object(m) => Some(m.len() as u64),
        _ => None,
    }
}

fn has_type(v: &Value, t: JsonType) -> bool {
    match t {
        JsonType::String => v.is_string(),
        JsonType::Number => v.is_number(),
        JsonType::Integer => as_i128(v).is_some() && v.is_number(),
        JsonType::Boolean => v.is_boolean(),
        JsonType::Array => v.is_array(),
        JsonType::Object => v.is_object(),
        JsonType::Null => v.is_null(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::Bool(_) => "boolean",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::render::tests::Fixture;
    use crate::scenario::plan::StepKind;
    use serde_json::json;

    /// The asserts validation compiles for `expect: EXPECT` (JSON, which is
    /// YAML), in a scenario where `{{token}}` and `{{case.code}}` are known.
    fn compile(expect: &Value) -> Vec<Assert> {
        let src = format!(
            "version: 1\nid: a/b\ntitle: t\nrules: [LT-2]\nprofile: arcgis-token\n\
             matrix:\n  - {{name: c1, code: 498, later: \"{{{{now}}}} + 1m\"}}\nsteps:\n\
             \x20 - request: {{endpoint: server_info}}\n    capture: {{token: body}}\n\
             \x20 - request: {{endpoint: server_info}}\n    expect: {expect}\n"
        );
        let path = std::path::Path::new("t.yaml");
        let file = crate::scenario::load::parse_yaml(&src, path).unwrap();
        let s = crate::scenario::validate::check_with_source(file, path, &src)
            .unwrap_or_else(|e| panic!("{e:?}"));
        match &s.steps[1].kind {
            StepKind::Request(r) => r.asserts.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
            elapsed: Duration::ZERO,
        }
    }

    /// Checks matcher `mj` on `$.x` holding `actual` (absent when `None`).
    fn run(mj: Value, actual: Option<Value>, tol_ms: u64) -> Vec<Check> {
        let f = Fixture::new();
        let body = match actual {
            Some(v) => json!({ "x": v }),
            None => json!({}),
        };
        evaluate(
            &compile(&json!({"json": {"$.x": mj}})),
            &resp(200, &body.to_string()),
            &f.ctx(),
            &["LT-2".into()],
            Duration::from_millis(tol_ms),
        )
        .checks
    }

    fn ok(mj: Value, actual: Option<Value>) -> bool {
        let c = run(mj, actual, 0);
        assert!(!c.is_empty());
        c.iter().all(|c| c.passed)
    }

    #[test]
    fn time_arithmetic_with_tolerance() {
        // now = 1_700_000_000_000 in the fixture context.
        let want = json!({"equals": "{{now}} + {{knobs.short_lived_minutes}}m"});
        assert!(ok(want.clone(), Some(json!(1_700_003_600_000i64))));
        assert!(!ok(want.clone(), Some(json!(1_700_003_600_001i64))));
        // The target's tolerance applies to `{{now}}` comparisons...
        assert!(
            run(want.clone(), Some(json!(1_700_003_601_000i64)), 2000)
                .iter()
                .all(|c| c.passed)
        );
        assert!(
            !run(want, Some(json!(1_700_003_603_000i64)), 2000)
                .iter()
                .all(|c| c.passed)
        );
        // ...but not to plain numbers: a status code is exact.
        assert!(!run(json!({"equals": "{{case.code}}"}), Some(json!(499)), 2000)[0].passed);
        // A case value may be arithmetic itself.
        assert!(ok(
            json!({"equals": "{{case.later}}"}),
            Some(json!(1_700_000_060_000i64))
        ));
        // An explicit tolerance always applies.
        assert!(ok(
            json!({"equals": 1000, "tolerance": "1s"}),
            Some(json!(1999))
        ));
        let c = run(json!({"equals": "{{now}} + 1m"}), Some(json!(5)), 0);
        assert_eq!(c[0].what, "json $.x equals");
        assert_eq!(c[0].expected, "1700000060000 (1700000000000 + 1m)");
        assert_eq!(c[0].rules, ["LT-2"]);
    }

    #[test]
    fn bounds() {
        assert!(ok(
            json!({"at_least": "{{now}}", "at_most": "{{now}} + 1440m"}),
            Some(json!(1_700_000_000_001i64))
        ));
        assert!(!ok(
            json!({"at_most": "{{now}}"}),
            Some(json!(1_700_000_000_001i64))
        ));
        assert!(!ok(json!({"at_least": 1}), None));
        // A bound from a captured value is filled when the step plays.
        assert!(!ok(json!({"at_least": "{{token}}"}), Some(json!(5))));
    }

    #[test]
    fn equality_across_types() {
        assert!(ok(json!({"equals": "TOK123"}), Some(json!("TOK123"))));
        assert!(ok(json!({"equals": "{{token}}"}), Some(json!("TOK123"))));
        assert!(ok(json!({"equals": 498}), Some(json!(498))));
        assert!(ok(json!({"equals": "498"}), Some(json!(498))));
        assert!(ok(json!({"equals": true}), Some(json!(true))));
        assert!(ok(json!({"equals": ["a", 1]}), Some(json!(["a", 1]))));
        assert!(ok(
            json!({"equals": {"t": "{{token}}"}}),
            Some(json!({"t": "TOK123"}))
        ));
        assert!(!ok(json!({"equals": "x"}), None));
        assert!(ok(json!({"not_equals": "{{token}}"}), Some(json!("OTHER"))));
        assert!(!ok(
            json!({"not_equals": "{{token}}"}),
            Some(json!("TOK123"))
        ));
        assert!(ok(json!({"one_of": [400, 498]}), Some(json!(498))));
        assert!(!ok(json!({"one_of": [400, 499]}), Some(json!(498))));
    }

    #[test]
    fn text_matchers_types_and_lengths() {
        assert!(ok(
            json!({"matches": "^[A-Za-z0-9_-]+$"}),
            Some(json!("abc-_9"))
        ));
        assert!(!ok(
            json!({"matches": "^[A-Za-z0-9_-]+$"}),
            Some(json!("ab+/="))
        ));
        assert!(ok(
            json!({"contains": "1021: Token has expired."}),
            Some(json!("Error 1021: Token has expired."))
        ));
        assert!(ok(
            json!({"contains": "-{{token}}-"}),
            Some(json!("a-TOK123-b"))
        ));
        // Text that is not a template is meant literally.
        assert!(ok(json!({"contains": "{{"}), Some(json!("a {{ b"))));
        assert!(ok(json!({"type": "integer"}), Some(json!(5))));
        assert!(!ok(json!({"type": "integer"}), Some(json!(5.5))));
        assert!(ok(
            json!({"type": "string", "min_length": 3, "max_length": 3, "length": 3}),
            Some(json!("abc"))
        ));
        assert!(!ok(json!({"min_length": 64}), Some(json!("short"))));
        assert!(ok(json!({"exists": false}), None));
        assert!(!ok(json!({"exists": false}), Some(json!(null))));
        assert!(ok(
            json!({"exists": true, "type": "null"}),
            Some(json!(null))
        ));
    }

    #[test]
    fn checks_come_in_the_order_operators_are_documented() {
        let c = run(
            json!({"at_most": 9, "type": "integer", "equals": 5, "exists": true}),
            Some(json!(5)),
            0,
        );
        let what: Vec<&str> = c.iter().map(|c| c.what.as_str()).collect();
        assert_eq!(
            what,
            [
                "json $.x exists",
                "json $.x equals",
                "json $.x type",
                "json $.x at_most"
            ]
        );
    }

    #[test]
    fn binary_bodies_are_shown_by_size() {
        assert!(looks_binary("\u{89}PNG\r\n\u{1a}\n\0\0\0\rIHDR"));
        assert!(!looks_binary("1021: Token has expired.\n"));
        assert!(!looks_binary(""));
        let f = Fixture::new();
        let ev = evaluate(
            &compile(&json!({"body": {"contains": "x"}})),
            &resp(200, "\u{89}PNG\r\n\u{1a}\n\0\0\0\rIHDR"),
            &f.ctx(),
            &[],
            Duration::ZERO,
        );
        assert!(
            ev.checks[0].actual.starts_with("a binary body of"),
            "{ev:?}"
        );
    }

    #[test]
    fn status_and_arcgis_error() {
        let f = Fixture::new();
        let rules = vec!["LT-5".to_string()];
        let ev = evaluate(
            &compile(&json!({"status": 200, "arcgis_error": "{{case.code}}"})),
            &resp(200, r#"{"error":{"code":498,"message":"Invalid Token"}}"#),
            &f.ctx(),
            &rules,
            Duration::ZERO,
        );
        assert!(ev.passed(), "{ev:?}");
        let ev = evaluate(
            &compile(&json!({"status": 200, "arcgis_error": "none"})),
            &resp(200, r#"{"error":{"code":498}}"#),
            &f.ctx(),
            &rules,
            Duration::ZERO,
        );
        assert!(!ev.passed());
        assert_eq!(ev.checks[1].what, "arcgis_error");
        assert_eq!(ev.checks[1].actual, "error 498");
        assert_eq!(ev.checks[1].rules, ["LT-5"]);
        let ev = evaluate(
            &compile(&json!({"status": 403})),
            &resp(200, "ok"),
            &f.ctx(),
            &rules,
            Duration::ZERO,
        );
        assert_eq!(
            (ev.checks[0].expected.as_str(), ev.checks[0].actual.as_str()),
            ("403", "200")
        );
        assert!(ev.not_json.is_none());
        let ev = evaluate(
            &compile(&json!({"no_error": false, "arcgis_error": 498})),
            &resp(200, r#"{"error":{"code":499}}"#),
            &f.ctx(),
            &rules,
            Duration::ZERO,
        );
        let got: Vec<_> = ev
            .checks
            .iter()
            .map(|c| (c.what.as_str(), c.actual.as_str(), c.passed))
            .collect();
        assert_eq!(
            got,
            [
                ("arcgis_error", "499", false),
                ("no_error", "error 499", true)
            ]
        );
    }

    #[test]
    fn json_needed_on_text_body_is_flagged() {
        let f = Fixture::new();
        let ev = evaluate(
            &compile(&json!({"arcgis_error": 498})),
            &resp(200, "<html>"),
            &f.ctx(),
            &[],
            Duration::ZERO,
        );
        let nj = ev.not_json.clone().unwrap();
        assert_eq!(nj.needed_by, "arcgis_error");
        assert!(nj.to_string().contains("<html>"));
        assert!(!ev.definite_failure());
        let ev = evaluate(
            &compile(&json!({"arcgis_error": "none"})),
            &resp(200, "TOKEN-TEXT"),
            &f.ctx(),
            &[],
            Duration::ZERO,
        );
        assert!(ev.passed());
    }

    #[test]
    fn a_non_json_body_is_one_check_per_path_and_not_a_definite_failure() {
        let f = Fixture::new();
        let ev = evaluate(
            &compile(
                &json!({"json": {"$.a": {"exists": true, "type": "string"}, "$.b": {"equals": 1}}}),
            ),
            &resp(200, "<html>"),
            &f.ctx(),
            &[],
            Duration::ZERO,
        );
        let what: Vec<&str> = ev.checks.iter().map(|c| c.what.as_str()).collect();
        assert_eq!(what, ["json $.a", "json $.b"]);
        assert_eq!(ev.not_json.as_ref().map(|n| n.needed_by), Some("json"));
        assert!(!ev.definite_failure());
        // A status that fails on its own makes the failure definite.
        let ev = evaluate(
            &compile(&json!({"status": 500, "json": {"$.a": {"exists": true}}})),
            &resp(200, "<html>"),
            &f.ctx(),
            &[],
            Duration::ZERO,
        );
        assert!(ev.definite_failure() && ev.not_json.is_some());
    }

    #[test]
    fn overflowing_comparisons_fail_instead_of_panicking() {
        let min = i128::MIN.to_string();
        let c = run(json!({"equals": min}), Some(json!(1_700_000_000_000i64)), 0);
        assert!(!c[0].passed);
        assert!(c[0].actual.contains("out of range"), "{c:?}");
        let c = run(
            json!({"at_least": i128::MIN.to_string(), "tolerance": "1ms"}),
            Some(json!(5)),
            0,
        );
        assert!(!c[0].passed);
        assert!(c[0].actual.contains("out of range"), "{c:?}");
        let c = run(
            json!({"at_most": i128::MAX.to_string(), "tolerance": "1ms"}),
            Some(json!(5)),
            0,
        );
        assert!(!c[0].passed && c[0].actual.contains("out of range"));
        let c = run(json!({"one_of": [min]}), Some(json!(5)), 0);
        assert!(!c[0].passed && c[0].actual.contains("out of range"));
        // A sum that overflows is an error in the expected text, not a panic.
        let max = i128::MAX.to_string();
        let c = run(
            json!({"equals": format!("{max} + {max}")}),
            Some(json!(5)),
            0,
        );
        assert!(!c[0].passed);
    }

    #[test]
    fn yaml_booleans_compare_the_same_both_ways() {
        assert!(ok(json!({"equals": "true"}), Some(json!(true))));
        assert!(ok(json!({"equals": true}), Some(json!("true"))));
        assert!(!ok(json!({"equals": "false"}), Some(json!(true))));
        assert!(!ok(json!({"equals": "yes"}), Some(json!(true))));
        assert!(ok(json!({"one_of": ["true", "x"]}), Some(json!(true))));
    }
}
