//! Checking an answer against a step's `expect:`.
//!
//! Every expectation becomes one or more [`Check`]s (what, expected, actual,
//! passed, rules): a failed expectation is data, never an `Err`. Matchers
//! (scenario/model.rs `Matcher`): equals, not_equals, one_of, matches,
//! contains, type, length, min_length, max_length, exists, at_least, at_most,
//! tolerance.
//!
//! Time arithmetic: when the actual value is a number and the expected value
//! is a string template, the rendered text is evaluated with
//! `template::eval_int_expr` (`"{{now}} + 60m"`) and compared within a
//! tolerance: the matcher's `tolerance:` when given, else the target's
//! declared tolerance when the template mentions `{{now}}` (clock skew is the
//! only thing that tolerance is for), else 0 (LT-2: "± the target's declared
//! tolerance, 0 on the reference").
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
use crate::scenario::model::{Expect, JsonType, Matcher, parse_duration};
use crate::scenario::template::{Template, Var, eval_int_expr};

/// The result of checking one answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evaluation {
    pub checks: Vec<Check>,
    /// Set when JSON was required and the body is not JSON.
    pub not_json: Option<String>,
}

/// The `actual` of checks that failed only because the body is not JSON.
pub const NOT_JSON: &str = "body is not JSON";

impl Evaluation {
    pub fn passed(&self) -> bool {
        self.not_json.is_none() && self.checks.iter().all(|c| c.passed)
    }

    /// A check failed for a reason other than a non-JSON body.
    pub fn definite_failure(&self) -> bool {
        self.checks
            .iter()
            .any(|c| !c.passed && c.actual != NOT_JSON)
    }
}

/// Checks `resp` against `expect`. `tolerance` is the target's.
pub fn evaluate(
    expect: &Expect,
    resp: &Response,
    ctx: &Context,
    rules: &[String],
    tolerance: Duration,
) -> Evaluation {
    let mut ev = Evaluation::default();
    let json = resp.json();
    let push =
        |ev: &mut Evaluation, what: String, expected: String, actual: String, passed: bool| {
            ev.checks.push(Check {
                what,
                expected,
                actual,
                passed,
                rules: rules.to_vec(),
            })
        };
    let needs_json = |ev: &mut Evaluation, what: &str| {
        if ev.not_json.is_none() {
            ev.not_json = Some(format!(
                "{what} needs a JSON answer; the body is not JSON: {}",
                snippet(&resp.body, 80)
            ));
        }
    };

    if let Some(st) = &expect.status {
        match int_expr(&st.value.0, ctx) {
            Ok(n) => push(
                &mut ev,
                "status".into(),
                n.to_string(),
                resp.status.to_string(),
                n == resp.status as i128,
            ),
            Err(e) => push(&mut ev, "status".into(), e, resp.status.to_string(), false),
        }
    }

    let error_code = json
        .as_ref()
        .and_then(|j| j.get("error"))
        .filter(|e| !e.is_null());
    let no_error_check = |ev: &mut Evaluation, what: &str, want_none: bool| {
        let actual = match error_code {
            None => "no error".to_string(),
            Some(e) => format!(
                "error {}",
                e.get("code")
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "without code".into())
            ),
        };
        let passed = error_code.is_none() == want_none;
        ev.checks.push(Check {
            what: what.into(),
            expected: if want_none {
                "no error".into()
            } else {
                "an error".into()
            },
            actual,
            passed,
            rules: rules.to_vec(),
        });
    };
    if let Some(ae) = &expect.arcgis_error {
        // `none`, literally or from a case value (`"{{case.code}}"`).
        let rendered = ctx
            .render(&ae.value.0)
            .unwrap_or_else(|_| ae.value.0.clone());
        if rendered.trim() == "none" {
            no_error_check(&mut ev, "arcgis_error", true);
        } else if json.is_none() {
            needs_json(&mut ev, "arcgis_error");
            push(
                &mut ev,
                "arcgis_error".into(),
                ae.value.0.clone(),
                NOT_JSON.into(),
                false,
            );
        } else {
            let actual = error_code.and_then(|e| e.get("code"));
            match int_expr(&ae.value.0, ctx) {
                Ok(n) => push(
                    &mut ev,
                    "arcgis_error".into(),
                    n.to_string(),
                    match actual {
                        Some(c) => c.to_string(),
                        None => "no error".into(),
                    },
                    actual.and_then(as_i128) == Some(n),
                ),
                Err(e) => push(&mut ev, "arcgis_error".into(), e, String::new(), false),
            }
        }
    }
    if let Some(want) = expect.no_error {
        no_error_check(&mut ev, "no_error", want);
    }

    for (name, m) in &expect.headers {
        let actual = resp.header(name).map(|v| Value::String(v.to_owned()));
        ev.checks.extend(matcher(
            &format!("header {name}"),
            &m.value,
            actual.as_ref(),
            ctx,
            rules,
            tolerance,
        ));
    }
    if !expect.json.is_empty() {
        match &json {
            None => {
                needs_json(&mut ev, "json");
                for path in expect.json.keys() {
                    push(
                        &mut ev,
                        format!("json {path}"),
                        "a JSON body".into(),
                        NOT_JSON.into(),
                        false,
                    );
                }
            }
            Some(j) => {
                for (path, m) in &expect.json {
                    let actual = json_path(j, path);
                    ev.checks.extend(matcher(
                        &format!("json {path}"),
                        &m.value,
                        actual.as_ref(),
                        ctx,
                        rules,
                        tolerance,
                    ));
                }
            }
        }
    }
    if let Some(m) = &expect.body {
        let actual = Value::String(resp.body.clone());
        let mut checks = matcher("body", &m.value, Some(&actual), ctx, rules, tolerance);
        // A binary answer (ArcWeb's map image) is evidence by its size, not
        // by a screenful of mangled bytes.
        if looks_binary(&resp.body) {
            for c in &mut checks {
                c.actual = format!(
                    "a binary body of {} bytes ({})",
                    resp.body.len(),
                    resp.header("content-type").unwrap_or("no content type")
                );
            }
        }
        ev.checks.extend(checks);
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

/// The value at a JSON path: the node if exactly one, an array if several,
/// `None` if none (or the path is bad, which validation already rejects).
pub fn json_path(json: &Value, path: &str) -> Option<Value> {
    let p = serde_json_path::JsonPath::parse(path).ok()?;
    let nodes = p.query(json).all();
    match nodes.len() {
        0 => None,
        1 => Some(nodes[0].clone()),
        _ => Some(Value::Array(nodes.into_iter().cloned().collect())),
    }
}

fn int_expr(text: &str, ctx: &Context) -> Result<i128, String> {
    let rendered = ctx.render(text)?;
    eval_int_expr(&rendered)
}

fn as_i128(v: &Value) -> Option<i128> {
    if let Some(i) = v.as_i64() {
        Some(i as i128)
    } else if let Some(u) = v.as_u64() {
        Some(u as i128)
    } else {
        v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i128)
    }
}

/// A body start for messages.
pub fn snippet(s: &str, max: usize) -> String {
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

/// An expected operand after rendering its templates.
struct Operand {
    value: Value,
    /// Some string template in it mentions `{{now}}`.
    uses_now: bool,
}

fn render_operand(v: &Value, ctx: &Context) -> Result<Operand, String> {
    let mut uses_now = false;
    fn walk(v: &Value, ctx: &Context, uses_now: &mut bool) -> Result<Value, String> {
        Ok(match v {
            Value::String(s) => {
                let t = Template::parse(s)?;
                if t.vars().any(|x| *x == Var::Now) {
                    *uses_now = true;
                }
                Value::String(t.render(|x| ctx.lookup(x))?)
            }
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| walk(x, ctx, uses_now))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| Ok((k.clone(), walk(x, ctx, uses_now)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }
    let value = walk(v, ctx, &mut uses_now)?;
    Ok(Operand { value, uses_now })
}

/// The number an expected operand stands for, when it is one.
fn operand_number(v: &Value) -> Option<i128> {
    match v {
        Value::String(s) => eval_int_expr(s).ok(),
        other => as_i128(other),
    }
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

/// Whether `actual` equals `expected` (rendered), numbers within `tol` ms.
///
/// YAML 1.1 habits: a scenario may write `"true"` or `"498"` for a JSON
/// boolean or number, or `true`/`498` for a JSON string holding that text.
/// Both directions compare the same: a string and a boolean or number are
/// equal when the string is the other's JSON text.
fn equal(actual: &Value, expected: &Value, tol: i128) -> Cmp {
    match (actual, expected) {
        (Value::Number(_), _) => match (as_i128(actual), operand_number(expected)) {
            (Some(a), Some(e)) => match a.checked_sub(e).and_then(|d| d.checked_abs()) {
                Some(d) => Cmp::of(d <= tol),
                None => Cmp::OutOfRange,
            },
            _ => Cmp::of(match expected {
                Value::String(s) => s.as_str() == actual.to_string().as_str(),
                _ => actual == expected,
            }),
        },
        (Value::String(a), Value::String(e)) => Cmp::of(a == e),
        (Value::String(a), Value::Number(_) | Value::Bool(_)) => {
            Cmp::of(a.as_str() == expected.to_string().as_str())
        }
        (Value::Bool(_), Value::String(e)) => Cmp::of(e.trim() == actual.to_string().as_str()),
        _ => Cmp::of(actual == expected),
    }
}

fn expected_text(op: &Operand, raw: &Value, tol: i128) -> String {
    let mut s = match (&op.value, operand_number(&op.value)) {
        (Value::String(r), Some(n)) if r.trim() != n.to_string() => format!("{n} ({r})"),
        (Value::String(r), Some(_)) => r.clone(),
        (v, _) => v.to_string(),
    };
    if let Value::String(t) = raw
        && t.contains("{{")
        && !s.contains(t.as_str())
        && operand_number(&op.value).is_none()
    {
        s = format!("{s} ({t})");
    }
    if tol > 0 {
        s.push_str(&format!(" ± {tol}ms"));
    }
    s
}

/// Checks one matcher on one (possibly absent) value.
pub fn matcher(
    label: &str,
    m: &Matcher,
    actual: Option<&Value>,
    ctx: &Context,
    rules: &[String],
    target_tolerance: Duration,
) -> Vec<Check> {
    let mut out = Vec::new();
    let mut push = |op: &str, expected: String, passed: bool, actual_text: String| {
        out.push(Check {
            what: format!("{label} {op}"),
            expected,
            actual: actual_text,
            passed,
            rules: rules.to_vec(),
        })
    };
    let explicit_tol = match &m.tolerance {
        Some(t) => match parse_duration(&t.value) {
            Ok(d) => Some(d.as_millis() as i128),
            Err(e) => {
                push("tolerance", e, false, String::new());
                return out;
            }
        },
        None => None,
    };
    let tol_for = |op: &Operand| {
        explicit_tol.unwrap_or(if op.uses_now {
            target_tolerance.as_millis() as i128
        } else {
            0
        })
    };
    let actual_shown = show(actual);

    if let Some(want) = m.exists {
        push(
            "exists",
            want.to_string(),
            actual.is_some() == want,
            (actual.is_some()).to_string(),
        );
    }
    // Every other matcher needs a value; an absent one fails each.
    let simple = |raw: &Value| render_operand(raw, ctx);
    for (op, raw, negate) in [
        ("equals", &m.equals, false),
        ("not_equals", &m.not_equals, true),
    ] {
        let Some(raw) = raw else { continue };
        match simple(raw) {
            Err(e) => push(op, e, false, actual_shown.clone()),
            Ok(o) => {
                let tol = if negate { 0 } else { tol_for(&o) };
                let (passed, shown) = match actual.map(|a| equal(a, &o.value, tol)) {
                    None => (negate, actual_shown.clone()),
                    Some(Cmp::OutOfRange) => (false, out_of_range(&actual_shown)),
                    Some(c) => ((c == Cmp::Same) != negate, actual_shown.clone()),
                };
                push(op, expected_text(&o, raw, tol), passed, shown);
            }
        }
    }
    if let Some(list) = &m.one_of {
        let mut shown = Vec::new();
        let mut passed = false;
        let mut overflow = false;
        for raw in list {
            match simple(raw) {
                Ok(o) => {
                    let tol = tol_for(&o);
                    match actual.map(|a| equal(a, &o.value, tol)) {
                        Some(Cmp::Same) => passed = true,
                        Some(Cmp::OutOfRange) => overflow = true,
                        _ => {}
                    }
                    shown.push(expected_text(&o, raw, tol));
                }
                Err(e) => shown.push(e),
            }
        }
        push(
            "one_of",
            format!("one of [{}]", shown.join(", ")),
            passed,
            if overflow && !passed {
                out_of_range(&actual_shown)
            } else {
                actual_shown.clone()
            },
        );
    }
    if let Some(re) = &m.matches {
        let passed = match regex::Regex::new(re) {
            Ok(r) => actual.is_some_and(|a| r.is_match(&text_of(a))),
            Err(_) => false,
        };
        push("matches", format!("/{re}/"), passed, actual_shown.clone());
    }
    if let Some(c) = &m.contains {
        let needle = ctx.render(c).unwrap_or_else(|_| c.clone());
        let passed = actual.is_some_and(|a| text_of(a).contains(&needle));
        push(
            "contains",
            format!("{needle:?}"),
            passed,
            actual_shown.clone(),
        );
    }
    if let Some(t) = m.type_ {
        let (passed, actual_type) = match actual {
            None => (false, "absent".to_string()),
            Some(a) => (has_type(a, t), type_name(a).to_string()),
        };
        push("type", format!("{t:?}").to_lowercase(), passed, actual_type);
    }
    for (op, bound) in [
        ("length", m.length),
        ("min_length", m.min_length),
        ("max_length", m.max_length),
    ] {
        let Some(n) = bound else { continue };
        let len = actual.and_then(length);
        let passed = match (op, len) {
            (_, None) => false,
            ("length", Some(l)) => l == n,
            ("min_length", Some(l)) => l >= n,
            (_, Some(l)) => l <= n,
        };
        push(
            op,
            n.to_string(),
            passed,
            len.map(|l| format!("length {l}"))
                .unwrap_or_else(|| actual_shown.clone()),
        );
    }
    for (op, raw, at_least) in [
        ("at_least", &m.at_least, true),
        ("at_most", &m.at_most, false),
    ] {
        let Some(raw) = raw else { continue };
        match simple(raw) {
            Err(e) => push(op, e, false, actual_shown.clone()),
            Ok(o) => {
                let tol = tol_for(&o);
                let bound = operand_number(&o.value);
                let limit = bound.map(|b| {
                    if at_least {
                        b.checked_sub(tol)
                    } else {
                        b.checked_add(tol)
                    }
                });
                let (passed, shown) = match (actual.and_then(as_i128), limit) {
                    (Some(_), Some(None)) => (false, out_of_range(&actual_shown)),
                    (Some(a), Some(Some(l))) if at_least => (a >= l, actual_shown.clone()),
                    (Some(a), Some(Some(l))) => (a <= l, actual_shown.clone()),
                    _ => (false, actual_shown.clone()),
                };
                push(op, expected_text(&o, raw, tol), passed, shown);
            }
        }
    }
    out
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
    use crate::scenario::model::{IntExpr, Loc, Spanned};
    use serde_json::json;

    fn m(v: Value) -> Matcher {
        serde_json::from_value::<MatcherJson>(v).unwrap().into()
    }

    /// Matcher has no serde-json friendly tolerance (it is Spanned), so tests
    /// build it through this mirror.
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct MatcherJson {
        equals: Option<Value>,
        not_equals: Option<Value>,
        one_of: Option<Vec<Value>>,
        matches: Option<String>,
        contains: Option<String>,
        #[serde(rename = "type")]
        type_: Option<JsonType>,
        length: Option<u64>,
        min_length: Option<u64>,
        max_length: Option<u64>,
        exists: Option<bool>,
        at_least: Option<Value>,
        at_most: Option<Value>,
        tolerance: Option<String>,
    }

    impl From<MatcherJson> for Matcher {
        fn from(j: MatcherJson) -> Matcher {
            Matcher {
                equals: j.equals,
                not_equals: j.not_equals,
                one_of: j.one_of,
                matches: j.matches,
                contains: j.contains,
                type_: j.type_,
                length: j.length,
                min_length: j.min_length,
                max_length: j.max_length,
                exists: j.exists,
                at_least: j.at_least,
                at_most: j.at_most,
                tolerance: j.tolerance.map(|t| Spanned::new(t, Loc::default())),
            }
        }
    }

    fn run(mj: Value, actual: Option<Value>, tol_ms: u64) -> Vec<Check> {
        let f = Fixture::new();
        matcher(
            "json $.x",
            &m(mj),
            actual.as_ref(),
            &f.ctx(),
            &["LT-2".into()],
            Duration::from_millis(tol_ms),
        )
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
        // An explicit tolerance always applies.
        assert!(ok(
            json!({"equals": 1000, "tolerance": "1s"}),
            Some(json!(1999))
        ));
        let c = run(json!({"equals": "{{now}} + 1m"}), Some(json!(5)), 0);
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
    }

    #[test]
    fn equality_across_types() {
        assert!(ok(json!({"equals": "TOK123"}), Some(json!("TOK123"))));
        assert!(ok(json!({"equals": "{{token}}"}), Some(json!("TOK123"))));
        assert!(ok(json!({"equals": 498}), Some(json!(498))));
        assert!(ok(json!({"equals": "498"}), Some(json!(498))));
        assert!(ok(json!({"equals": true}), Some(json!(true))));
        assert!(ok(json!({"equals": ["a", 1]}), Some(json!(["a", 1]))));
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
    fn binary_bodies_are_shown_by_size() {
        assert!(looks_binary("\u{89}PNG\r\n\u{1a}\n\0\0\0\rIHDR"));
        assert!(!looks_binary("1021: Token has expired.\n"));
        assert!(!looks_binary(""));
    }

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
            elapsed: Duration::ZERO,
        }
    }

    fn expect_of(status: Option<&str>, arcgis: Option<&str>) -> Expect {
        Expect {
            status: status.map(|s| Spanned::new(IntExpr(s.into()), Loc::default())),
            arcgis_error: arcgis.map(|s| Spanned::new(IntExpr(s.into()), Loc::default())),
            ..Default::default()
        }
    }

    #[test]
    fn status_and_arcgis_error() {
        let f = Fixture::new();
        let rules = vec!["LT-5".to_string()];
        let ev = evaluate(
            &expect_of(Some("200"), Some("{{case.code}}")),
            &resp(200, r#"{"error":{"code":498,"message":"Invalid Token"}}"#),
            &f.ctx(),
            &rules,
            Duration::ZERO,
        );
        assert!(ev.passed(), "{ev:?}");
        let ev = evaluate(
            &expect_of(Some("200"), Some("none")),
            &resp(200, r#"{"error":{"code":498}}"#),
            &f.ctx(),
            &rules,
            Duration::ZERO,
        );
        assert!(!ev.passed());
        assert_eq!(ev.checks[1].actual, "error 498");
        assert_eq!(ev.checks[1].rules, ["LT-5"]);
        let ev = evaluate(
            &expect_of(Some("403"), None),
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
    }

    #[test]
    fn json_needed_on_text_body_is_flagged() {
        let f = Fixture::new();
        let ev = evaluate(
            &expect_of(None, Some("498")),
            &resp(200, "<html>"),
            &f.ctx(),
            &[],
            Duration::ZERO,
        );
        assert!(ev.not_json.unwrap().contains("<html>"));
        let ev = evaluate(
            &expect_of(None, Some("none")),
            &resp(200, "TOKEN-TEXT"),
            &f.ctx(),
            &[],
            Duration::ZERO,
        );
        assert!(ev.passed());
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

    #[test]
    fn json_paths() {
        let j = json!({"a": {"b": [1, 2]}, "t": "x"});
        assert_eq!(json_path(&j, "$.a.b[1]"), Some(json!(2)));
        assert_eq!(json_path(&j, "$.missing"), None);
        assert_eq!(json_path(&j, "$.a.b[*]"), Some(json!([1, 2])));
    }
}
