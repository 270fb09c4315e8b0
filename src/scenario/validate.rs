//! Semantic checks: turns a [`ScenarioFile`] into a checked [`Scenario`] or
//! a list of [`Diagnostic`]s, each with a location.

use std::collections::BTreeSet;
use std::path::Path;

use super::diagnostic::{Diagnostic, DiagnosticKind};
use super::model::*;
use super::template::{Template, Var};

struct Checker<'a> {
    file: &'a Path,
    errors: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn err(&mut self, loc: Loc, msg: impl Into<String>) {
        self.errors.push(Diagnostic::new(
            self.file,
            loc,
            DiagnosticKind::Invalid(msg.into()),
        ));
    }
}

/// Checks one parsed file.
pub fn check(file: ScenarioFile, path: &Path) -> Result<Scenario, Vec<Diagnostic>> {
    let mut c = Checker {
        file: path,
        errors: Vec::new(),
    };
    if file.version.value != FORMAT_VERSION {
        c.err(
            file.version.loc,
            format!(
                "`version: {FORMAT_VERSION}` (the only format version this build reads), found {}",
                file.version.value
            ),
        );
    }
    let id = file.id.value.trim().to_owned();
    let area = match id.split_once('/') {
        Some((a, n)) if !a.is_empty() && !n.is_empty() => a.to_owned(),
        _ => {
            c.err(
                file.id.loc,
                format!("an id of the form `area/name`, found `{id}`"),
            );
            String::new()
        }
    };
    let rules = check_rules(&mut c, &file.rules);
    if rules.is_empty() && file.rules.is_empty() {
        c.err(file.id.loc, "at least one rule ID in `rules`");
    }
    let cases = check_matrix(&mut c, &file.matrix);
    let mut captured: BTreeSet<String> = BTreeSet::new();
    let mut steps = Vec::new();
    for raw in &file.steps {
        if let Some(step) = check_step(&mut c, raw, &rules, &cases, &mut captured, false) {
            steps.push(step);
        }
    }
    if file.steps.is_empty() {
        c.err(file.id.loc, "at least one step in `steps`");
    }
    let mut knobs = std::collections::BTreeMap::new();
    for (name, v) in &file.knobs {
        match crate::knobs::Knobs::default().with(name, &v.value) {
            Ok(_) => {
                knobs.insert(name.clone(), v.value.clone());
            }
            Err(e) => c.err(v.loc, e.to_string()),
        }
    }
    if !c.errors.is_empty() {
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
        requires: file.requires.iter().map(|r| r.value).collect(),
        knobs,
        cases,
        steps,
    })
}

fn check_rules(c: &mut Checker, rules: &[Spanned<String>]) -> Vec<String> {
    let mut out = Vec::new();
    for r in rules {
        if crate::rules::is_known(&r.value) {
            out.push(r.value.clone());
        } else {
            c.err(
                r.loc,
                format!(
                    "a rule ID of semantics.md (such as `LT-5`), found `{}`",
                    r.value
                ),
            );
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
            Some(n) if !n.is_empty() => {
                if !names.insert(n.to_owned()) {
                    c.err(row.loc, format!("a unique case name, `{n}` appears twice"));
                }
                out.push(Case {
                    name: n.to_owned(),
                    vars: row.value.clone(),
                });
            }
            _ => c.err(
                row.loc,
                "a `name` (a non-empty string) in every matrix case",
            ),
        }
    }
    out
}

fn check_template(
    c: &mut Checker,
    loc: Loc,
    text: &str,
    cases: &[Case],
    captured: &BTreeSet<String>,
) {
    match Template::parse(text) {
        Err(e) => c.err(loc, e),
        Ok(t) => {
            for v in t.vars() {
                match v {
                    Var::Capture(name) if !captured.contains(name) => c.err(
                        loc,
                        format!(
                            "`{{{{{name}}}}}` to be captured by an earlier step before it is used"
                        ),
                    ),
                    Var::Knob(k) if !crate::knobs::Knobs::NAMES.contains(&k.as_str()) => c.err(
                        loc,
                        format!(
                            "a knob name ({}), found `{k}`",
                            crate::knobs::Knobs::NAMES.join(", ")
                        ),
                    ),
                    Var::Url(e) if crate::endpoints::find(e).is_none() => {
                        c.err(loc, format!("an endpoint name after `url.`, found `{e}`"))
                    }
                    Var::Case(k) if !cases.iter().all(|cs| cs.vars.contains_key(k)) => {
                        c.err(loc, format!("every matrix case to define `{k}`"))
                    }
                    _ => {}
                }
            }
        }
    }
}

fn check_duration(c: &mut Checker, d: &Spanned<String>) -> Option<std::time::Duration> {
    match parse_duration(&d.value) {
        Ok(x) => Some(x),
        Err(e) => {
            c.err(d.loc, e);
            None
        }
    }
}

fn check_step(
    c: &mut Checker,
    raw: &Spanned<RawStep>,
    scenario_rules: &[String],
    cases: &[Case],
    captured: &mut BTreeSet<String>,
    nested: bool,
) -> Option<Step> {
    let s = &raw.value;
    let loc = raw.loc;
    let actions = [
        s.request.is_some(),
        s.advance.is_some(),
        s.wait.is_some(),
        s.concurrent.is_some(),
        s.set_password.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if actions != 1 {
        c.err(
            loc,
            "exactly one of `request`, `advance`, `wait`, `concurrent`, `set_password` in a step",
        );
        return None;
    }
    if s.request.is_none() && (s.expect.is_some() || !s.capture.is_empty()) {
        c.err(loc, "`expect` and `capture` only next to a `request`");
    }
    let rules = if s.rules.is_empty() {
        scenario_rules.to_vec()
    } else {
        check_rules(c, &s.rules)
    };
    let kind = if let Some(req) = &s.request {
        let rs = check_request_step(c, loc, req, s, cases, captured);
        StepKind::Request(Box::new(rs))
    } else if let Some(d) = &s.advance {
        StepKind::Advance(check_duration(c, d)?)
    } else if let Some(d) = &s.wait {
        StepKind::Wait(check_duration(c, d)?)
    } else if let Some(items) = &s.concurrent {
        if nested {
            c.err(
                loc,
                "a request step inside `concurrent`, found another `concurrent`",
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
                        && item.value.wait.is_none()
                        && item.value.concurrent.is_none()
                        && item.value.set_password.is_none() =>
                {
                    // Requests sent at once cannot see each other's captures.
                    let mut scope = before.clone();
                    reqs.push(check_request_step(
                        c,
                        item.loc,
                        req,
                        &item.value,
                        cases,
                        &mut scope,
                    ));
                    after.extend(scope);
                }
                _ => c.err(item.loc, "only `request` steps inside `concurrent`"),
            }
        }
        *captured = after;
        StepKind::Concurrent(reqs)
    } else if let Some(sp) = &s.set_password {
        StepKind::SetPassword(sp.clone())
    } else {
        unreachable!("one action was counted")
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
) -> RequestStep {
    match (&req.endpoint, &req.path) {
        (Some(_), Some(_)) => c.err(loc, "either `endpoint` or `path` in a request, not both"),
        (None, None) => c.err(loc, "an `endpoint` name or a `path` in the request"),
        (Some(e), None) if crate::endpoints::find(&e.value).is_none() => c.err(
            e.loc,
            format!(
                "a known endpoint name ({}), found `{}`",
                crate::endpoints::names().join(", "),
                e.value
            ),
        ),
        (None, Some(p)) if !p.starts_with('/') => {
            c.err(loc, format!("a path starting with `/`, found `{p}`"))
        }
        _ => {}
    }
    let texts = req
        .query
        .values()
        .chain(req.form.values())
        .chain(req.headers.values())
        .chain(req.cookies.values())
        .flatten()
        .chain(req.raw_query.iter())
        .chain(req.raw_body.iter())
        .chain(req.referer.iter())
        .chain(req.path.iter());
    for t in texts {
        check_template(c, loc, t, cases, captured);
    }
    let expect = raw.expect.clone().unwrap_or_default();
    for m in expect
        .json
        .values()
        .chain(expect.headers.values())
        .chain(expect.body.iter())
    {
        if let Some(t) = &m.value.tolerance {
            check_duration(c, t);
        }
        if let Some(re) = &m.value.matches
            && let Err(e) = regex::Regex::new(re)
        {
            c.err(
                m.loc,
                format!("a valid regular expression in `matches`: {e}"),
            );
        }
        for v in [
            &m.value.equals,
            &m.value.not_equals,
            &m.value.at_least,
            &m.value.at_most,
        ]
        .into_iter()
        .flatten()
        .chain(m.value.one_of.iter().flatten())
        {
            if let serde_json::Value::String(s) = v {
                check_template(c, m.loc, s, cases, captured);
            }
        }
    }
    for (path, m) in &expect.json {
        if serde_json_path::JsonPath::parse(path).is_err() {
            c.err(
                m.loc,
                format!("a JSON path such as `$.error.code`, found `{path}`"),
            );
        }
    }
    for n in [&expect.status, &expect.arcgis_error].into_iter().flatten() {
        if n.value.0.parse::<i64>().is_err() && n.value.0 != "none" {
            check_template(c, n.loc, &n.value.0, cases, captured);
        }
    }
    let mut capture = indexmap::IndexMap::new();
    for (name, src) in &raw.capture {
        match CaptureSource::parse(&src.value) {
            Ok(cs) => {
                if let CaptureSource::JsonPath(p) = &cs
                    && serde_json_path::JsonPath::parse(p).is_err()
                {
                    c.err(
                        src.loc,
                        format!("a JSON path such as `$.token`, found `{p}`"),
                    );
                }
                capture.insert(name.clone(), cs);
            }
            Err(e) => c.err(src.loc, e),
        }
        captured.insert(name.clone());
    }
    RequestStep {
        loc,
        request: req.clone(),
        expect,
        capture,
    }
}
