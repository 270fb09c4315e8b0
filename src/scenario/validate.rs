//! Semantic checks and compilation: turns a [`ScenarioFile`] into the
//! compiled [`Scenario`] the runner plays (see [`super::plan`]) or a list of
//! [`Diagnostic`]s, each with a location.
//!
//! Everything that can be known before running is checked here, so a bad
//! scenario never starts: rule IDs, endpoint and knob names, templates,
//! captures used before they are set, durations, JSON paths, regexes, integer
//! arithmetic, fixture user and address aliases, and that `requires` declares
//! what the steps use. What is parsed to check it is kept, parsed, in the
//! plan. Nothing here reads files or knows the YAML crate.
//!
//! Values nested in plain maps (request fields, matcher operands) carry no
//! location of their own; when the file's text is at hand
//! ([`check_with_source`]), the offending text is searched for inside the step
//! so the caret lands on it instead of on the step.

use std::collections::BTreeSet;
use std::path::Path;

use super::diagnostic::{Diagnostic, DiagnosticKind as K};
use super::model::*;
use super::plan::{
    Arith, Assert, CaptureError, CaptureSource, Case, JsonQuery, Operand, Predicate, Query,
    RequestPlan, RequestStep, Scenario, ScenarioKnobs, Step, StepKind, TermValue,
};
use super::template::{Template, Var};
use crate::rules::{RuleRef, RuleRefError};

/// Fixture users of semantics.md ("Reference fixture"); a target profile maps
/// them to its own accounts.
pub const FIXTURE_USERS: &[&str] = &["alice", "bob"];

struct Checker<'a> {
    file: &'a Path,
    source: Option<&'a str>,
    /// Where the current top-level step starts and where the next one starts:
    /// the window searched by [`Checker::find`].
    window: (Loc, Option<Loc>),
    errors: Vec<Diagnostic>,
    /// Capabilities some step needs, with the first place and the reason.
    needs: Vec<(Capability, Loc, String)>,
}

impl Checker<'_> {
    fn err(&mut self, loc: Loc, kind: K) {
        self.errors.push(Diagnostic::new(self.file, loc, kind));
    }

    /// The place of the first occurrence of `needle` at or after `from`
    /// inside the current step's window, else `from`.
    fn find(&self, from: Loc, needle: &str) -> Loc {
        let Some(src) = self.source else { return from };
        if needle.is_empty() || from.line == 0 {
            return from;
        }
        let (start, end) = self.window;
        let from = from.max(start);
        for (i, line) in src.lines().enumerate() {
            let line_no = i as u32 + 1;
            if line_no < from.line {
                continue;
            }
            if let Some(end) = end
                && line_no >= end.line
            {
                // The next step starts on this line (or earlier): stop before it.
                if line_no > end.line || end.column <= 1 {
                    break;
                }
            }
            let skip = if line_no == from.line {
                from.column.saturating_sub(1) as usize
            } else {
                0
            };
            let tail: String = line.chars().skip(skip).collect();
            if let Some(byte) = tail.find(needle) {
                let col = skip + tail[..byte].chars().count() + 1;
                if let Some(end) = end
                    && line_no == end.line
                    && col as u32 >= end.column
                {
                    break;
                }
                return Loc {
                    line: line_no,
                    column: col as u32,
                };
            }
        }
        from
    }

    /// The first place `text` (or, better, `part` inside it) is written.
    fn find_in(&self, from: Loc, text: &str, part: Option<&str>) -> Loc {
        if let Some(p) = part {
            let at = self.find(from, p);
            if at != from {
                return at;
            }
        }
        self.find(from, text)
    }

    fn need(&mut self, cap: Capability, loc: Loc, reason: impl Into<String>) {
        if !self.needs.iter().any(|(c, _, _)| *c == cap) {
            self.needs.push((cap, loc, reason.into()));
        }
    }
}

/// Checks one parsed file. Locations of values nested in maps fall back to
/// their step's; prefer [`check_with_source`] when the text is at hand.
pub fn check(file: ScenarioFile, path: &Path) -> Result<Scenario, Vec<Diagnostic>> {
    run(file, path, None)
}

/// Checks one parsed file whose text is `source`, pointing every diagnostic
/// at the offending text itself.
pub fn check_with_source(
    file: ScenarioFile,
    path: &Path,
    source: &str,
) -> Result<Scenario, Vec<Diagnostic>> {
    run(file, path, Some(source))
}

fn run(file: ScenarioFile, path: &Path, source: Option<&str>) -> Result<Scenario, Vec<Diagnostic>> {
    let mut c = Checker {
        file: path,
        source,
        window: (Loc::default(), None),
        errors: Vec::new(),
        needs: Vec::new(),
    };
    if file.version.value != FORMAT_VERSION {
        c.err(
            file.version.loc,
            K::Version {
                expected: FORMAT_VERSION,
                found: file.version.value,
            },
        );
    }
    let id = file.id.value.trim().to_owned();
    let area = match check_id(&id) {
        Some(area) => area,
        None => {
            c.err(file.id.loc, K::BadId(id.clone()));
            String::new()
        }
    };
    if file.title.trim().is_empty() {
        let at = c.find(Loc { line: 1, column: 1 }, "title:");
        c.err(at, K::Empty("a non-empty `title`"));
    } else if file.title.trim().contains(['\n', '\r']) {
        // Reports show the title on one line (console, JUnit names).
        let at = c.find(Loc { line: 1, column: 1 }, "title:");
        c.err(
            at,
            K::Invalid("a one-line `title` (put details in `description`)".into()),
        );
    }
    let rules = check_rules(&mut c, &file.rules);
    if file.rules.is_empty() {
        let at = c.find(Loc { line: 1, column: 1 }, "rules:");
        c.err(at, K::Empty("at least one rule ID in `rules`"));
    }
    let mut knobs = ScenarioKnobs::default();
    for (name, v) in &file.knobs {
        match knobs.set(name, &v.value) {
            Ok(()) => {}
            Err(crate::knobs::KnobError::Unknown(_)) => {
                // The key sits before its value on the same line.
                let at = key_before(source, v.loc, name);
                c.err(at, K::UnknownKnob(name.clone()))
            }
            Err(e) => {
                let found = match &v.value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                c.err(v.loc, K::BadKnobValue(format!("{e}, found `{found}`")))
            }
        }
    }
    if file.matrix.is_empty()
        && let Some(src) = source
        && let Some(i) = src.lines().position(|l| l.starts_with("matrix:"))
    {
        // `matrix: []` would silently mean "no cases" = one plain run.
        c.err(
            Loc {
                line: i as u32 + 1,
                column: 1,
            },
            K::Empty("at least one case in `matrix` (or no `matrix` at all)"),
        );
    }
    let cases = check_matrix(&mut c, &file.matrix);
    let mut captured: BTreeSet<String> = BTreeSet::new();
    let mut steps = Vec::new();
    for (i, raw) in file.steps.iter().enumerate() {
        c.window = (raw.loc, file.steps.get(i + 1).map(|s| s.loc));
        if let Some(step) = check_step(&mut c, raw, &rules, &cases, &mut captured, false) {
            steps.push(step);
        }
    }
    c.window = (Loc::default(), None);
    if file.steps.is_empty() {
        let at = c.find(Loc { line: 1, column: 1 }, "steps:");
        c.err(at, K::Empty("at least one step in `steps`"));
    }
    let declared: Vec<Capability> = file.requires.iter().map(|r| r.value).collect();
    for (cap, loc, reason) in std::mem::take(&mut c.needs) {
        if !declared.contains(&cap) {
            c.err(
                loc,
                K::MissingCapability {
                    capability: cap.as_str(),
                    reason,
                },
            );
        }
    }
    if !c.errors.is_empty() {
        c.errors.sort_by_key(|d| d.loc);
        return Err(c.errors);
    }
    Ok(Scenario {
        file: path.to_owned(),
        id,
        area,
        title: file.title,
        description: file.description,
        rules,
        profile: file.profile,
        requires: declared,
        knobs,
        cases,
        steps,
    })
}

/// `area/name`, each of lowercase ASCII letters, digits, `-` and `_`;
/// returns the area.
fn check_id(id: &str) -> Option<String> {
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    };
    match id.split_once('/') {
        Some((a, n)) if ok(a) && ok(n) => Some(a.to_owned()),
        _ => None,
    }
}

/// A map key written before its value `loc` on the same line, else `loc`.
fn key_before(source: Option<&str>, loc: Loc, key: &str) -> Loc {
    let Some(line) = source.and_then(|s| s.lines().nth(loc.line.saturating_sub(1) as usize)) else {
        return loc;
    };
    let head: String = line
        .chars()
        .take(loc.column.saturating_sub(1) as usize)
        .collect();
    match head.rfind(key) {
        Some(b) => Loc {
            line: loc.line,
            column: head[..b].chars().count() as u32 + 1,
        },
        None => loc,
    }
}

/// Rule citations as typed references: `LT-5`, or `LT-5/SHOULD` for a
/// rule that has a SHOULD clause.
fn check_rules(c: &mut Checker, rules: &[Spanned<String>]) -> Vec<RuleRef> {
    let mut out = Vec::new();
    for r in rules {
        match r.value.parse::<RuleRef>() {
            Ok(rule) => out.push(rule),
            Err(RuleRefError::Unknown {
                suggestion: None, ..
            }) => c.err(r.loc, K::UnknownRule(r.value.clone())),
            Err(e) => c.err(r.loc, K::Invalid(e.to_string())),
        }
    }
    out
}

fn check_matrix(
    c: &mut Checker,
    matrix: &[Spanned<indexmap::IndexMap<String, serde_json::Value>>],
) -> Vec<Case> {
    if matrix.is_empty() {
        return vec![Case::default()];
    }
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for row in matrix {
        match row.value.get("name").and_then(|v| v.as_str()) {
            Some(n) if !n.trim().is_empty() => {
                if !names.insert(n.to_owned()) {
                    c.err(row.loc, K::DuplicateCase(n.to_owned()));
                }
                out.push(Case::new(n.to_owned(), row.value.clone()));
            }
            _ => c.err(row.loc, K::CaseName),
        }
    }
    out
}

/// Whether `alias` names a source address: `primary` or `altN` (N ≥ 1), the
/// aliases scenarios and target profiles may name.
pub fn is_address_alias(alias: &str) -> bool {
    alias == "primary"
        || alias
            .strip_prefix("alt")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && n != "0")
}

/// Checks a template string written at (or after) `loc`.
fn check_template(
    c: &mut Checker,
    loc: Loc,
    text: &str,
    cases: &[Case],
    captured: &BTreeSet<String>,
) {
    let t = match Template::parse(text) {
        Ok(t) => t,
        Err(e) => {
            let at = c.find_in(loc, text, first_bad_placeholder(text));
            c.err(at, K::BadTemplate(e));
            return;
        }
    };
    for v in t.vars() {
        // Point at the placeholder when it is written without inner spaces.
        let at = c.find_in(loc, text, Some(&format!("{{{{{v}")));
        let at = if at == loc {
            c.find_in(loc, text, placeholder_tail(v).as_deref())
        } else {
            at
        };
        match v {
            Var::Capture(name) if !captured.contains(name) => {
                c.err(at, K::CaptureBeforeSet(name.clone()))
            }
            Var::Knob(k) if !crate::knobs::Knobs::NAMES.contains(&k.as_str()) => {
                c.err(at, K::UnknownKnob(k.clone()))
            }
            Var::Url(e) if crate::scenario::endpoints::find(e).is_none() => {
                c.err(at, K::UnknownEndpoint(e.clone()))
            }
            Var::Case(k) if !cases.iter().all(|cs| cs.vars.contains_key(k)) => {
                c.err(at, K::CaseKey(k.clone()))
            }
            Var::Case(k) => {
                // Case values may hold placeholders themselves (one level:
                // rendered when the step plays), so a matrix can say "the
                // valid token in X-Esri-Authorization" per case. They are
                // checked as if written at the place that uses them.
                for cs in cases {
                    if let Some(serde_json::Value::String(inner)) = cs.vars.get(k)
                        && inner.contains("{{")
                    {
                        match Template::parse(inner) {
                            Ok(t) if t.vars().any(|v| matches!(v, Var::Case(_))) => c.err(
                                at,
                                K::BadTemplate(format!(
                                    "no `{{{{case.*}}}}` inside a case value (case `{}`, key `{k}`)",
                                    cs.name
                                )),
                            ),
                            _ => check_template(c, loc, inner, &[], captured),
                        }
                    }
                }
            }
            Var::User { alias, .. } if !FIXTURE_USERS.contains(&alias.as_str()) => {
                c.err(at, K::UnknownUser(alias.clone()))
            }
            Var::Addr(a) if !is_address_alias(a) => c.err(at, K::UnknownAddress(a.clone())),
            Var::Addr(a) if a != "primary" => c.need(
                Capability::AltAddresses,
                at,
                format!("`{{{{addr.{a}}}}}` names an alternate source address"),
            ),
            _ => {}
        }
    }
}

/// The distinctive end of a placeholder (`token}}`), to find it when it is
/// written with spaces inside the braces.
fn placeholder_tail(v: &Var) -> Option<String> {
    Some(format!("{v}}}}}"))
}

fn check_duration(c: &mut Checker, d: &Spanned<String>) -> Option<std::time::Duration> {
    match parse_duration(&d.value) {
        Ok(x) => Some(x),
        Err(e) => {
            c.err(d.loc, K::BadDuration(e));
            None
        }
    }
}

/// Compiles `advance_to:`: the instant is integer arithmetic over values
/// known by then (captures, knobs), the offset a signed duration, `about` a
/// duration.
fn check_advance_to(
    c: &mut Checker,
    a: &Spanned<crate::scenario::model::AdvanceTo>,
    cases: &[Case],
    captured: &BTreeSet<String>,
) -> Option<crate::scenario::plan::AdvanceTo> {
    let loc = a.loc;
    let raw = &a.value;
    check_template(c, loc, &raw.instant, cases, captured);
    let instant = match Arith::parse(&raw.instant) {
        Ok(x) => x,
        Err(e) => {
            c.err(c.find(loc, "instant:"), K::BadIntExpr(e));
            return None;
        }
    };
    let offset_ms = match raw
        .offset
        .as_deref()
        .map(crate::scenario::model::parse_signed_ms)
    {
        None => 0,
        Some(Ok(ms)) => ms,
        Some(Err(e)) => {
            c.err(c.find(loc, "offset:"), K::BadDuration(e));
            return None;
        }
    };
    let about = match parse_duration(&raw.about) {
        Ok(d) => d,
        Err(e) => {
            c.err(c.find(loc, "about:"), K::BadDuration(e));
            return None;
        }
    };
    Some(crate::scenario::plan::AdvanceTo {
        instant,
        offset_ms,
        about,
    })
}

fn check_step(
    c: &mut Checker,
    raw: &Spanned<RawStep>,
    scenario_rules: &[RuleRef],
    cases: &[Case],
    captured: &mut BTreeSet<String>,
    nested: bool,
) -> Option<Step> {
    let s = &raw.value;
    let loc = raw.loc;
    let present: Vec<&str> = [
        ("request", s.request.is_some()),
        ("advance", s.advance.is_some()),
        ("advance_to", s.advance_to.is_some()),
        ("wait", s.wait.is_some()),
        ("concurrent", s.concurrent.is_some()),
        ("set_password", s.set_password.is_some()),
    ]
    .into_iter()
    .filter_map(|(n, p)| p.then_some(n))
    .collect();
    if present.len() != 1 {
        let found = if present.is_empty() {
            "none".to_owned()
        } else {
            present
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        };
        // Point at the second action, the one that should not be there.
        let at = match present.get(1) {
            Some(second) => c.find(loc, &format!("{second}:")),
            None => loc,
        };
        c.err(at, K::StepActions(found));
        return None;
    }
    if s.request.is_none() && (s.expect.is_some() || !s.capture.is_empty()) {
        let key = if s.expect.is_some() {
            "expect:"
        } else {
            "capture:"
        };
        let at = c.find(loc, key);
        c.err(
            at,
            K::Invalid("`expect` and `capture` only next to a `request`".into()),
        );
    }
    let rules = if s.rules.is_empty() {
        scenario_rules.to_vec()
    } else {
        check_rules(c, &s.rules)
    };
    let kind = if let Some(req) = &s.request {
        let rs = check_request_step(c, loc, req, s, cases, captured)?;
        StepKind::Request(Box::new(rs))
    } else if let Some(d) = &s.advance {
        // Moving the target's clock is a control-API call.
        c.need(
            Capability::ClockControl,
            d.loc,
            "`advance:` moves the target's clock",
        );
        StepKind::Advance(check_duration(c, d)?)
    } else if let Some(a) = &s.advance_to {
        c.need(
            Capability::ClockControl,
            a.loc,
            "`advance_to:` moves the target's clock",
        );
        StepKind::AdvanceTo(check_advance_to(c, a, cases, captured)?)
    } else if let Some(d) = &s.wait {
        StepKind::Wait(check_duration(c, d)?)
    } else if let Some(items) = &s.concurrent {
        if nested {
            c.err(
                loc,
                K::Invalid("a request step inside `concurrent`, found another `concurrent`".into()),
            );
            return None;
        }
        let mut reqs = Vec::new();
        let before = captured.clone();
        let mut after = captured.clone();
        for item in items {
            match &item.value.request {
                Some(req)
                    if item.value.advance.is_none()
                        && item.value.advance_to.is_none()
                        && item.value.wait.is_none()
                        && item.value.concurrent.is_none()
                        && item.value.set_password.is_none() =>
                {
                    // Requests sent at once cannot see each other's captures.
                    let mut scope = before.clone();
                    reqs.extend(check_request_step(
                        c,
                        item.loc,
                        req,
                        &item.value,
                        cases,
                        &mut scope,
                    ));
                    after.extend(scope);
                }
                _ => c.err(
                    item.loc,
                    K::Invalid("only `request` steps inside `concurrent`".into()),
                ),
            }
        }
        if items.is_empty() {
            c.err(loc, K::Empty("at least one request in `concurrent`"));
        }
        *captured = after;
        StepKind::Concurrent(reqs)
    } else if let Some(sp) = &s.set_password {
        // LT-9 scenarios change a fixture user's password through the control API.
        if !FIXTURE_USERS.contains(&sp.user.value.as_str()) {
            c.err(sp.user.loc, K::UnknownUser(sp.user.value.clone()));
        }
        c.need(
            Capability::PasswordControl,
            loc,
            "`set_password:` changes a password through the control API",
        );
        StepKind::SetPassword(sp.clone())
    } else {
        // `present.len() == 1` was checked above.
        return None;
    };
    Some(Step {
        loc,
        rules,
        note: s.note.clone(),
        kind,
    })
}

fn check_request_step(
    c: &mut Checker,
    loc: Loc,
    req: &Request,
    raw: &RawStep,
    cases: &[Case],
    captured: &mut BTreeSet<String>,
) -> Option<RequestStep> {
    let errors_before = c.errors.len();
    match (&req.endpoint, &req.path) {
        (Some(_), Some(_)) => {
            let at = c.find(loc, "path:");
            c.err(
                at,
                K::Invalid("either `endpoint` or `path` in a request, not both".into()),
            )
        }
        (None, None) => c.err(
            loc,
            K::Invalid("an `endpoint` name or a `path` in the request".into()),
        ),
        (Some(e), None) if crate::scenario::endpoints::find(&e.value).is_none() => {
            c.err(e.loc, K::UnknownEndpoint(e.value.clone()))
        }
        (None, Some(p)) if !p.starts_with('/') => {
            let at = c.find(loc, p);
            c.err(
                at,
                K::Invalid(format!("a path starting with `/`, found `{p}`")),
            )
        }
        _ => {}
    }
    if let Some(from) = &req.from {
        if !is_address_alias(&from.value) {
            c.err(from.loc, K::UnknownAddress(from.value.clone()));
        } else if from.value != "primary" {
            c.need(
                Capability::AltAddresses,
                from.loc,
                format!(
                    "`from: {}` sends from an alternate source address",
                    from.value
                ),
            );
        }
    }
    for t in req.texts() {
        check_template(c, loc, t, cases, captured);
    }
    check_header_literals(c, loc, req);
    let request = RequestPlan::compile(req);
    let asserts = match &raw.expect {
        Some(expect) => compile_expect(c, loc, expect, cases, captured),
        None => Vec::new(),
    };
    let mut capture = indexmap::IndexMap::new();
    for (name, src) in &raw.capture {
        if let Some(why) = bad_capture_name(name) {
            let at = key_before(c.source, src.loc, name);
            c.err(at, K::Invalid(why));
        }
        match CaptureSource::parse(&src.value) {
            Ok(cs) => {
                capture.insert(name.clone(), cs);
            }
            Err(CaptureError::JsonPath(p)) => c.err(src.loc, K::BadJsonPath(p)),
            Err(CaptureError::Shape(e)) => c.err(src.loc, K::BadCapture(e)),
        }
        captured.insert(name.clone());
    }
    match request {
        Ok(request) if c.errors.len() == errors_before => Some(RequestStep {
            loc,
            request,
            asserts,
            capture,
        }),
        Ok(_) => None,
        Err(e) => {
            // Every bad template is reported above with its place; this only
            // guards against a plan that silently loses a step.
            if c.errors.len() == errors_before {
                c.err(loc, K::BadTemplate(e));
            }
            None
        }
    }
}

/// Compiles `expect:` into asserts, in the order their checks are reported:
/// status, arcgis_error, no_error, headers, json paths, body.
fn compile_expect(
    c: &mut Checker,
    loc: Loc,
    expect: &Expect,
    cases: &[Case],
    captured: &BTreeSet<String>,
) -> Vec<Assert> {
    let mut out = Vec::new();
    for (field, query, n) in [
        ("status", Query::Status, &expect.status),
        ("arcgis_error", Query::ArcgisError, &expect.arcgis_error),
    ] {
        let Some(n) = n else { continue };
        if let Some(predicate) = compile_code(c, field, n, cases, captured) {
            out.push(Assert {
                query,
                predicate,
                tolerance: None,
            });
        }
    }
    if let Some(want) = expect.no_error {
        out.push(Assert {
            query: Query::ArcgisError,
            predicate: Predicate::NoError(want),
            tolerance: None,
        });
    }
    let mut matchers: Vec<(Query, &Spanned<Matcher>)> = Vec::new();
    for (name, m) in &expect.headers {
        matchers.push((Query::Header(name.clone()), m));
    }
    for (path, m) in &expect.json {
        match JsonQuery::parse(path) {
            Ok(q) => matchers.push((Query::Json(q), m)),
            Err(_) => {
                let at = key_before(c.source, m.loc, path);
                let at = if at == m.loc { c.find(loc, path) } else { at };
                c.err(at, K::BadJsonPath(path.clone()));
                // Still check the matcher itself.
                compile_matcher(c, Query::Body, m, cases, captured);
            }
        }
    }
    if let Some(m) = &expect.body {
        matchers.push((Query::Body, m));
    }
    for (query, m) in matchers {
        out.extend(compile_matcher(c, query, m, cases, captured));
    }
    out
}

/// `status:` or `arcgis_error:`: an integer, `none` (arcgis_error only) or
/// integer arithmetic over placeholders (`"{{case.code}}"`).
fn compile_code(
    c: &mut Checker,
    field: &str,
    n: &Spanned<IntExpr>,
    cases: &[Case],
    captured: &BTreeSet<String>,
) -> Option<Predicate> {
    let text = n.value.0.trim();
    if let Ok(code) = text.parse::<i64>() {
        if field == "status" && !(100..=599).contains(&code) {
            c.err(
                n.loc,
                K::Invalid(format!(
                    "an HTTP status from 100 to 599 in `status`, found `{code}`"
                )),
            );
            return None;
        }
        return Some(Predicate::Code(Arith::literal(code as i128)));
    }
    if field == "arcgis_error" && text == "none" {
        return Some(Predicate::NoCode);
    }
    // A string is only a template: literal text can never be a number.
    let has_placeholder = Template::parse(text).is_ok_and(|t| t.vars().next().is_some());
    if !has_placeholder {
        let also = if field == "arcgis_error" {
            ", `none`"
        } else {
            ""
        };
        c.err(
            n.loc,
            K::Type(format!(
                "an integer{also} or a template such as `{{{{case.{field}}}}}` in `{field}`, found `{text}`"
            )),
        );
        return None;
    }
    check_template(c, n.loc, text, cases, captured);
    let a = match Arith::parse(text) {
        Ok(a) => a,
        Err(e) => {
            c.err(n.loc, K::BadIntExpr(e));
            return None;
        }
    };
    // Case values are known now: each one the code names must be an integer
    // (or `none` for a lone `arcgis_error: "{{case.KEY}}"`).
    let none_allowed = field == "arcgis_error" && a.lone_var().is_some();
    for t in &a.terms {
        let TermValue::Var {
            var: Var::Case(k), ..
        } = &t.value
        else {
            continue;
        };
        for cs in cases {
            let ok = match cs.vars.get(k) {
                // A missing key is reported by `check_template`.
                None => true,
                Some(serde_json::Value::Number(n)) => n.is_i64() || n.is_u64(),
                Some(serde_json::Value::String(s)) => {
                    cs.ariths.contains_key(k)
                        || s.contains("{{")
                        || (none_allowed && s.trim() == "none")
                }
                Some(_) => false,
            };
            if !ok {
                let found = cs.vars.get(k).map(|v| v.to_string()).unwrap_or_default();
                c.err(
                    n.loc,
                    K::BadIntExpr(format!(
                        "an integer for `{{{{case.{k}}}}}` in case `{}`, found `{found}`",
                        cs.name
                    )),
                );
            }
        }
    }
    Some(Predicate::Code(a))
}

/// One matcher: its predicates, in the order their checks are reported.
fn compile_matcher(
    c: &mut Checker,
    query: Query,
    m: &Spanned<Matcher>,
    cases: &[Case],
    captured: &BTreeSet<String>,
) -> Vec<Assert> {
    let mv = &m.value;
    let tolerance = mv.tolerance.as_ref().and_then(|t| check_duration(c, t));
    if matcher_is_empty(mv) {
        c.err(
            m.loc,
            K::Empty("at least one matcher (`equals`, `exists`, `type`, ...) in `{}`"),
        );
    }
    if mv.one_of.as_ref().is_some_and(|l| l.is_empty()) {
        let at = c.find(m.loc, "one_of");
        c.err(at, K::Empty("at least one value in `one_of`"));
    }
    let operand = |c: &mut Checker, op: &str, v: &serde_json::Value| -> Option<Operand> {
        if let serde_json::Value::String(s) = v {
            check_template(c, m.loc, s, cases, captured);
        }
        // A bad template is reported by `check_template`.
        let o = Operand::compile(v).ok()?;
        // Bounds are numbers, and `{{now}}` is one: text that should be
        // arithmetic but is not would only fail when played.
        let numeric = matches!(op, "at_least" | "at_most") || (o.uses_now && v.is_string());
        if numeric && o.number.is_none() {
            let why = match v {
                serde_json::Value::String(s) => Arith::parse(s).err().unwrap_or_default(),
                other => format!("a number or integer arithmetic in `{op}`, found `{other}`"),
            };
            let at = match v {
                serde_json::Value::String(s) => c.find(m.loc, s),
                _ => c.find(m.loc, op),
            };
            c.err(at, K::BadIntExpr(why));
            return None;
        }
        Some(o)
    };
    let mut preds = Vec::new();
    if let Some(want) = mv.exists {
        preds.push(Predicate::Exists(want));
    }
    if let Some(v) = &mv.equals
        && let Some(o) = operand(c, "equals", v)
    {
        preds.push(Predicate::Equals(o));
    }
    if let Some(v) = &mv.not_equals
        && let Some(o) = operand(c, "not_equals", v)
    {
        preds.push(Predicate::NotEquals(o));
    }
    if let Some(list) = &mv.one_of {
        let ops: Vec<Operand> = list
            .iter()
            .filter_map(|v| operand(c, "one_of", v))
            .collect();
        if ops.len() == list.len() && !ops.is_empty() {
            preds.push(Predicate::OneOf(ops));
        }
    }
    if let Some(re) = &mv.matches {
        match regex::Regex::new(re) {
            Ok(r) => preds.push(Predicate::Matches(r)),
            Err(e) => {
                let at = c.find(m.loc, re);
                c.err(at, K::BadRegex(one_line(&e.to_string())));
            }
        }
    }
    if let Some(text) = &mv.contains {
        // Text that does not parse as a template is meant literally.
        let t = Template::parse(text).unwrap_or_else(|_| Template::literal(text));
        preds.push(Predicate::Contains(t));
    }
    if let Some(t) = mv.type_ {
        preds.push(Predicate::Type(t));
    }
    if let Some(n) = mv.length {
        preds.push(Predicate::Length(n));
    }
    if let Some(n) = mv.min_length {
        preds.push(Predicate::MinLength(n));
    }
    if let Some(n) = mv.max_length {
        preds.push(Predicate::MaxLength(n));
    }
    if let Some(v) = &mv.at_least
        && let Some(o) = operand(c, "at_least", v)
    {
        preds.push(Predicate::AtLeast(o));
    }
    if let Some(v) = &mv.at_most
        && let Some(o) = operand(c, "at_most", v)
    {
        preds.push(Predicate::AtMost(o));
    }
    preds
        .into_iter()
        .map(|predicate| Assert {
            query: query.clone(),
            predicate,
            tolerance,
        })
        .collect()
}

/// Placeholder names a capture may not take: `{{NAME}}` would mean the
/// built-in, not the capture.
const RESERVED_NAMES: &[&str] = &[
    "now", "base_url", "user", "users", "knobs", "case", "addr", "url",
];

/// Why `name` cannot be a capture name (`{{NAME}}` must reach it), if so.
fn bad_capture_name(name: &str) -> Option<String> {
    let ident = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ident {
        Some(format!(
            "a capture name of letters, digits, `_` and `-` (no dots or spaces), found `{name}`"
        ))
    } else if RESERVED_NAMES.contains(&name) {
        Some(format!(
            "a capture name other than a placeholder namespace ({}), found `{name}`",
            RESERVED_NAMES.join(", ")
        ))
    } else {
        None
    }
}

fn matcher_is_empty(m: &crate::scenario::model::Matcher) -> bool {
    m.equals.is_none()
        && m.not_equals.is_none()
        && m.one_of.is_none()
        && m.matches.is_none()
        && m.contains.is_none()
        && m.type_.is_none()
        && m.length.is_none()
        && m.min_length.is_none()
        && m.max_length.is_none()
        && m.exists.is_none()
        && m.at_least.is_none()
        && m.at_most.is_none()
}

/// Header names and the literal parts of header values must be valid HTTP
/// (RFC 9110 field syntax): a bad one would only fail when sent, as an
/// error verdict blamed on the run. Placeholders are checked when rendered.
fn check_header_literals(c: &mut Checker, loc: Loc, req: &Request) {
    for (name, value) in &req.headers {
        if !name.contains("{{") && !is_header_name(name) {
            let at = c.find(loc, name);
            c.err(
                at,
                K::Invalid(format!(
                    "an HTTP header name (letters, digits and `-`, no spaces), found `{}`",
                    one_line(name)
                )),
            );
        }
        let Some(v) = value else { continue };
        let literal: String = match Template::parse(v) {
            Ok(t) => t
                .parts
                .iter()
                .filter_map(|p| match p {
                    crate::scenario::template::Part::Lit(s) => Some(s.as_str()),
                    crate::scenario::template::Part::Var(_) => None,
                })
                .collect(),
            Err(_) => continue, // reported by check_template
        };
        if !is_header_value(&literal) {
            let at = c.find(loc, name);
            c.err(
                at,
                K::Invalid(format!(
                    "a header value without control characters or line breaks for `{name}`, \
                     found `{}`",
                    one_line(v).escape_default()
                )),
            );
        }
    }
}

/// An RFC 9110 field name: one or more token characters (what the HTTP
/// client accepts; this module stays free of the HTTP stack).
fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A field value the HTTP client accepts: no control characters but tab.
fn is_header_value(s: &str) -> bool {
    s.bytes().all(|b| (b >= 32 && b != 127) || b == b'\t')
}

/// The first `{{...}}` in `text` that does not parse (or an unclosed `{{`),
/// to put the caret on it.
fn first_bad_placeholder(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start..];
        match after[2..].find("}}") {
            None => return Some(after),
            Some(end) => {
                if Var::parse(&after[2..end + 2]).is_err() {
                    return Some(&after[..end + 4]);
                }
                rest = &after[end + 4..];
            }
        }
    }
    None
}

/// The regex crate's messages span several lines (pattern, caret, reason);
/// a diagnostic's first line must hold the whole message, and the snippet
/// already shows the pattern, so keep the reason.
fn one_line(s: &str) -> String {
    if let Some(reason) = s
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
    {
        return reason.to_owned();
    }
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '^'))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(src: &str) -> Result<Scenario, Vec<String>> {
        let path = Path::new("t.yaml");
        let file: ScenarioFile =
            crate::scenario::load::parse_yaml(src, path).map_err(|d| vec![d.to_string()])?;
        check_with_source(file, path, src).map_err(|ds| ds.iter().map(|d| d.to_string()).collect())
    }

    const HEAD: &str = "version: 1\nid: a/b\ntitle: t\nrules: [LT-1]\nprofile: arcgis-token\n";

    #[test]
    fn case_values_may_hold_placeholders_checked_where_used() {
        let good = format!(
            "{HEAD}matrix:
  - {{name: valid, xesri: \"Bearer {{{{tok}}}}\"}}
  - {{name: absent, xesri: ~}}
steps:
  - request: {{endpoint: generate_token, form: {{f: json}}}}
    capture: {{tok: $.token}}
  - request: {{endpoint: secured_service, headers: {{X-Esri-Authorization: \"{{{{case.xesri}}}}\"}}}}
"
        );
        load(&good).unwrap();
        // The case refers to a capture that is only set after the use.
        let late = good.replace("capture: {tok: $.token}", "capture: {other: $.token}");
        let errs = load(&late).unwrap_err();
        assert!(errs.iter().any(|e| e.contains("tok")), "{errs:?}");
        // No case placeholders inside case values.
        let nested = good.replace("Bearer {{tok}}", "{{case.name}}");
        assert!(load(&nested).is_err());
    }

    fn one_error(src: &str) -> String {
        let errs = load(src).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        errs[0].clone()
    }

    #[test]
    fn header_literals_must_be_valid_http() {
        let e = one_error(&format!(
            "{HEAD}steps:\n  - request: {{endpoint: server_info, headers: {{\"bad name\": x}}}}\n"
        ));
        assert!(
            e.contains(":7:") && e.contains("an HTTP header name"),
            "{e}"
        );
        let e = one_error(&format!(
            "{HEAD}steps:\n  - request: {{endpoint: server_info, headers: {{X-A: \"a\\u0001{{{{now}}}}\"}}}}\n"
        ));
        assert!(e.contains("without control characters"), "{e}");
        // Placeholders are judged when rendered, not here.
        load(&format!(
            "{HEAD}steps:\n  - request: {{endpoint: server_info, headers: {{X-A: \"Bearer {{{{now}}}}\"}}}}\n"
        ))
        .unwrap();
    }

    #[test]
    fn codes_are_integer_arithmetic_over_integer_case_values() {
        let src = |code: &str, expect: &str| {
            format!(
                "{HEAD}matrix:\n  - {{name: a, code: {code}}}\nsteps:\n  - request: {{endpoint: server_info}}\n    expect: {expect}\n"
            )
        };
        load(&src(
            "498",
            "{status: 200, arcgis_error: \"{{case.code}}\"}",
        ))
        .unwrap();
        load(&src("none", "{arcgis_error: \"{{case.code}}\"}")).unwrap();
        load(&src("\"498\"", "{arcgis_error: \"{{case.code}} + 1\"}")).unwrap();
        load(&src("\"1s\"", "{arcgis_error: \"{{case.code}} + 1\"}")).unwrap();
        let e = one_error(&src("abc", "{arcgis_error: \"{{case.code}}\"}"));
        assert!(
            e.contains("integer arithmetic") && e.contains("in case `a`, found `\"abc\"`"),
            "{e}"
        );
        // `none` only stands alone.
        let e = one_error(&src("none", "{arcgis_error: \"{{case.code}} + 1\"}"));
        assert!(e.contains("in case `a`"), "{e}");
        let e = one_error(&src("200", "{status: \"{{case.code}}x\"}"));
        assert!(
            e.starts_with("t.yaml:10:22:") && e.contains("a duration unit"),
            "{e}"
        );
        let e = one_error(&src("200", "{json: {$.a: {at_least: true}}}"));
        assert!(
            e.contains("a number or integer arithmetic in `at_least`"),
            "{e}"
        );
        let e = one_error(&src(
            "200",
            "{json: {$.a: {equals: \"{{now}} and later\"}}}",
        ));
        assert!(e.contains("integer arithmetic"), "{e}");
        // Text operands that do not mention the clock stay text.
        load(&src(
            "200",
            "{json: {$.a: {equals: \"{{user.password}}-wrong\"}}}",
        ))
        .unwrap();
    }

    #[test]
    fn header_syntax_matches_the_http_client() {
        use reqwest::header::{HeaderName, HeaderValue};
        for name in [
            "X-Esri-Authorization",
            "a!#$%&'*+-.^_`|~9",
            "",
            "a b",
            "a:b",
            "é",
            "a\n",
        ] {
            assert_eq!(
                is_header_name(name),
                HeaderName::from_bytes(name.as_bytes()).is_ok(),
                "{name:?}"
            );
        }
        for value in ["Bearer x", "a\tb", "", "é", "a\u{1}", "a\nb", "a\u{7f}"] {
            assert_eq!(
                is_header_value(value),
                HeaderValue::from_str(value).is_ok(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn status_literals_are_http_statuses() {
        for bad in ["1000", "-1", "99"] {
            let e = one_error(&format!(
                "{HEAD}steps:\n  - request: {{endpoint: server_info}}\n    expect: {{status: {bad}}}\n"
            ));
            assert!(e.contains("from 100 to 599") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn empty_matchers_matrices_and_multiline_titles_are_refused() {
        let step = "steps:\n  - request: {endpoint: server_info}\n";
        let e = one_error(&format!(
            "{HEAD}{step}    expect: {{json: {{$.a: {{}}}}}}\n"
        ));
        assert!(e.contains("at least one matcher"), "{e}");
        let e = one_error(&format!(
            "{HEAD}{step}    expect: {{json: {{$.a: {{one_of: []}}}}}}\n"
        ));
        assert!(e.contains("at least one value in `one_of`"), "{e}");
        let e = one_error(&format!("{HEAD}matrix: []\n{step}"));
        assert!(
            e.starts_with("t.yaml:6:1:") && e.contains("at least one case"),
            "{e}"
        );
        let e = one_error(&format!(
            "{}{step}",
            HEAD.replace("title: t", "title: \"two\\nlines\"")
        ));
        assert!(e.contains("a one-line `title`"), "{e}");
    }

    #[test]
    fn capture_names_are_identifiers_that_shadow_nothing() {
        let step = "steps:\n  - request: {endpoint: server_info}\n";
        for (name, want) in [
            ("now", "placeholder namespace"),
            ("base_url", "placeholder namespace"),
            ("user.name", "no dots"),
            ("\"a b\"", "no dots or spaces"),
        ] {
            let e = one_error(&format!("{HEAD}{step}    capture: {{{name}: body}}\n"));
            assert!(e.contains(want), "{name}: {e}");
        }
        load(&format!("{HEAD}{step}    capture: {{my_tok-2: body}}\n")).unwrap();
    }

    #[test]
    fn a_full_scenario_loads() {
        let src = format!(
            "{HEAD}requires: [clock-control, alt-addresses, password-control]
knobs: {{short_lived_minutes: 60}}
matrix:
  - {{name: bad, code: 498}}
  - {{name: none, code: 499}}
steps:
  - request:
      endpoint: generate_token
      form: {{username: \"{{{{users.bob.name}}}}\", password: \"{{{{user.password}}}}\", f: json, client: ~}}
      from: alt1
    expect:
      status: 200
      arcgis_error: none
      json:
        $.expires: {{equals: \"{{{{now}}}} + {{{{knobs.short_lived_minutes}}}}m\", tolerance: 1s}}
        $.token: {{matches: \"^[A-Za-z0-9_-]+$\"}}
    capture: {{token: $.token, ct: \"header:Content-Type\"}}
  - advance: 59m 59s 999ms
  - concurrent:
      - request: {{endpoint: secured_service, query: {{token: \"{{{{token}}}}\"}}}}
        expect: {{arcgis_error: \"{{{{case.code}}}}\"}}
        capture: {{a: body}}
      - request: {{path: /arcgis/rest/info, headers: {{X-Forwarded-For: \"{{{{addr.alt2}}}}\"}}}}
  - wait: 1ms
  - set_password: {{user: alice, password: changed}}
    rules: [LT-9]
    note: every token of alice dies here
  - request: {{endpoint: secured_service, referer: \"{{{{a}}}}\"}}
"
        );
        let s = load(&src).unwrap();
        assert_eq!(s.area, "a");
        assert_eq!(s.cases.len(), 2);
        assert_eq!(s.steps.len(), 6);
        assert_eq!(s.steps[4].rules, ["LT-9"]);
        assert_eq!(
            s.total_advance(),
            std::time::Duration::from_millis(3_599_999)
        );
        match &s.steps[0].kind {
            StepKind::Request(r) => {
                assert_eq!(
                    r.capture["ct"],
                    CaptureSource::Header("Content-Type".into())
                );
                assert!(r.request.form.contains(&("client".to_string(), None)));
                // Expectations compile into asserts, one per operator.
                let labels: Vec<String> = r.asserts.iter().map(|a| a.label()).collect();
                assert_eq!(
                    labels,
                    [
                        "status",
                        "arcgis_error",
                        "json $.expires equals",
                        "json $.token matches"
                    ]
                );
                assert_eq!(
                    r.asserts[2].tolerance,
                    Some(std::time::Duration::from_secs(1))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn declared_but_unused_capabilities_are_fine_and_primary_needs_none() {
        let src = format!(
            "{HEAD}requires: [clock-control]\nsteps:\n  - request: {{endpoint: server_info, from: primary}}\n"
        );
        load(&src).unwrap();
    }

    #[test]
    fn every_capability_used_must_be_declared() {
        let src = format!(
            "{HEAD}steps:
  - request: {{endpoint: server_info, from: alt1}}
  - set_password: {{user: bob, password: x}}
  - request: {{endpoint: server_info, query: {{ip: \"{{{{addr.alt3}}}}\"}}}}
  - advance: 1m
"
        );
        let errs = load(&src).unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:#?}");
        assert!(errs[0].starts_with("t.yaml:7:44: error: `alt-addresses` in `requires`"));
        assert!(errs[1].starts_with("t.yaml:8:5: error: `password-control` in `requires`"));
        assert!(errs[2].starts_with("t.yaml:10:14: error: `clock-control` in `requires`"));
    }

    #[test]
    fn concurrent_requests_do_not_see_each_others_captures() {
        let src = format!(
            "{HEAD}steps:
  - concurrent:
      - request: {{endpoint: server_info}}
        capture: {{x: body}}
      - request: {{endpoint: server_info, query: {{a: \"{{{{x}}}}\"}}}}
  - request: {{endpoint: server_info, query: {{a: \"{{{{x}}}}\"}}}}
"
        );
        let errs = load(&src).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert!(
            errs[0].starts_with("t.yaml:10:54: error: `{{x}}` to be captured"),
            "{errs:#?}"
        );
    }

    #[test]
    fn the_caret_stays_inside_the_step() {
        // Both steps use `{{later}}`; each error points into its own step.
        let src = format!(
            "{HEAD}steps:
  - request: {{endpoint: server_info, query: {{a: \"{{{{later}}}}\"}}}}
  - request: {{endpoint: server_info, headers: {{b: \"{{{{later}}}}\"}}}}
    capture: {{later: body}}
"
        );
        let errs = load(&src).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert!(errs[0].starts_with("t.yaml:7:50: "), "{errs:#?}");
        assert!(errs[1].starts_with("t.yaml:8:52: "), "{errs:#?}");
    }

    #[test]
    fn without_source_errors_fall_back_to_the_step() {
        let src = format!(
            "{HEAD}steps:\n  - request: {{endpoint: server_info, query: {{a: \"{{{{nope}}}}\"}}}}\n"
        );
        let file: ScenarioFile =
            crate::scenario::load::parse_yaml(&src, Path::new("t.yaml")).unwrap();
        let errs = check(file, Path::new("t.yaml")).unwrap_err();
        assert_eq!(errs[0].loc, Loc { line: 7, column: 5 });
    }

    #[test]
    fn ids_are_area_slash_name_in_lowercase() {
        assert_eq!(
            check_id("lifetimes/default-exp_1").as_deref(),
            Some("lifetimes")
        );
        assert_eq!(check_id("Lifetimes/x"), None);
        assert_eq!(check_id("lifetimes"), None);
        assert_eq!(check_id("a/b/c"), None);
        assert_eq!(check_id("a/"), None);
        assert_eq!(check_id("a/b c"), None);
    }

    #[test]
    fn address_aliases() {
        for ok in ["primary", "alt1", "alt12"] {
            assert!(is_address_alias(ok), "{ok}");
        }
        for bad in ["alt", "alt0", "altx", "secondary", ""] {
            assert!(!is_address_alias(bad), "{bad}");
        }
    }

    #[test]
    fn the_bad_placeholder_is_found() {
        assert_eq!(
            first_bad_placeholder("{{user.name}} {{user.pass}} {{x}}"),
            Some("{{user.pass}}")
        );
        assert_eq!(first_bad_placeholder("a {{token"), Some("{{token"));
        assert_eq!(first_bad_placeholder("{{now}}"), None);
    }

    #[test]
    fn regex_messages_fit_on_one_line() {
        let pattern = String::from("(a");
        let e = regex::Regex::new(&pattern).unwrap_err().to_string();
        assert!(!one_line(&e).contains('\n'));
        assert!(one_line(&e).contains("unclosed group"));
    }

    /// Validation turns citations into [`RuleRef`](crate::rules::RuleRef)s and refuses a SHOULD
    /// citation of a rule without one, with its place.
    #[test]
    fn scenarios_cite_rule_refs() {
        let check = |rules: &str, step_rules: &str| {
            let src = format!(
                "version: 1\nid: a/b\ntitle: t\nrules: {rules}\nprofile: arcgis-token\nsteps:\n  - request: {{endpoint: server_info, query: {{f: json}}}}\n    expect: {{status: 200}}\n    rules: {step_rules}\n"
            );
            let path = std::path::Path::new("t.yaml");
            let file = crate::scenario::load::parse_yaml(&src, path).unwrap();
            crate::scenario::validate::check_with_source(file, path, &src)
                .map_err(|ds| ds.iter().map(|d| d.to_string()).collect::<Vec<_>>())
        };
        let s = check("[LT-5/SHOULD, TS-7]", "[LT-5/SHOULD]").unwrap();
        assert_eq!(s.rules, ["LT-5/SHOULD", "TS-7"]);
        assert_eq!(s.steps[0].rules[0].level(), crate::rules::Level::Should);
        let e = check("[TS-7]", "[TS-7/SHOULD]").unwrap_err();
        assert_eq!(
            e,
            [
                "t.yaml:9:13: error: `TS-7/SHOULD` names a SHOULD clause, but TS-7 has none (its levels: MUST); cite `TS-7`"
            ]
        );
        let e = check("[ts-7]", "[TS-7]").unwrap_err();
        assert!(
            e[0].starts_with("t.yaml:4:9: error:") && e[0].ends_with("did you mean `TS-7`?"),
            "{e:?}"
        );
    }
}
