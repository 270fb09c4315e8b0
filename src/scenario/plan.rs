//! The compiled plan of a scenario: what `validate` produces and the runner
//! plays.
//!
//! Everything that can be parsed is parsed here, once, at validation time:
//! templates are split into literal text and placeholders, durations are
//! [`Duration`]s, regular expressions and JSON paths are compiled, integer
//! (time) arithmetic is an [`Arith`] tree whose only open parts are
//! placeholders, expectations are [`Assert`]s in hurl's shape (a [`Query`]
//! and a [`Predicate`] with its compiled operand), captures are
//! [`CaptureSource`]s and knobs are [`ScenarioKnobs`]. The runner fills
//! placeholders and compares; it never parses scenario text.
//!
//! Pure data plus the small evaluators that need no I/O: no tokio, no HTTP,
//! no YAML.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

use super::model::{Capability, JsonType, Loc, Method, Profile, SetPassword, parse_duration};
use super::template::{Part, Template, Var};
pub use crate::knobs::ScenarioKnobs;

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Where it was read from.
    pub file: PathBuf,
    pub id: String,
    /// The first segment of `id`.
    pub area: String,
    pub title: String,
    pub description: Option<String>,
    pub rules: Vec<crate::rules::RuleRef>,
    pub profile: Profile,
    pub requires: Vec<Capability>,
    /// The knob values the scenario assumes.
    pub knobs: ScenarioKnobs,
    /// At least one case; a scenario without `matrix` has one unnamed case.
    pub cases: Vec<Case>,
    pub steps: Vec<Step>,
}

impl Scenario {
    /// Total clock movement requested by `advance:` steps.
    pub fn total_advance(&self) -> Duration {
        self.steps
            .iter()
            .map(|s| match &s.kind {
                StepKind::Advance(d) => *d,
                StepKind::AdvanceTo(a) => a.about,
                _ => Duration::ZERO,
            })
            .sum()
    }

    /// Whether playing it changes state other scenarios could see on a
    /// shared target (the clock, a password).
    pub fn mutates_shared_state(&self) -> bool {
        self.steps.iter().any(|s| {
            matches!(
                s.kind,
                StepKind::Advance(_) | StepKind::AdvanceTo(_) | StepKind::SetPassword(_)
            )
        })
    }

    /// The longest single real wait the scenario asks for (an `advance:`,
    /// `advance_to:` or `wait:`), as planned.
    pub fn longest_step_wait(&self) -> Duration {
        self.steps
            .iter()
            .map(|s| match &s.kind {
                StepKind::Advance(d) | StepKind::Wait(d) => *d,
                StepKind::AdvanceTo(a) => a.about,
                _ => Duration::ZERO,
            })
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// The real time the scenario waits without clock control: every
    /// `wait:`, plus the moves of the clock.
    pub fn total_real_wait(&self) -> Duration {
        self.total_advance()
            + self
                .steps
                .iter()
                .map(|s| match &s.kind {
                    StepKind::Wait(d) => *d,
                    _ => Duration::ZERO,
                })
                .sum::<Duration>()
    }
}

/// One row of a matrix.
#[derive(Debug, Clone, Default)]
pub struct Case {
    /// Empty for a scenario without a matrix.
    pub name: String,
    /// The values as written (reports show them).
    pub vars: IndexMap<String, Value>,
    /// The string values that hold placeholders themselves (one level, no
    /// `{{case.*}}`), split once; rendered where `{{case.KEY}}` is used.
    pub templates: IndexMap<String, Template>,
    /// The string values that are integer arithmetic (`"60m"`,
    /// `"{{now}} + 5m"`), parsed once; used where `{{case.KEY}}` is a term
    /// of arithmetic.
    pub ariths: IndexMap<String, Arith>,
}

impl Case {
    /// A case from its values, splitting the string values that hold
    /// placeholders and parsing those that are arithmetic. A value that does
    /// not parse is kept as text: validation reports it where `{{case.KEY}}`
    /// uses it.
    pub fn new(name: String, vars: IndexMap<String, Value>) -> Case {
        let templates = vars
            .iter()
            .filter_map(|(k, v)| {
                let s = v.as_str().filter(|s| s.contains("{{"))?;
                Some((k.clone(), Template::parse(s).ok()?))
            })
            .collect();
        let ariths = vars
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), Arith::parse(v.as_str()?).ok()?)))
            .collect();
        Case {
            name,
            vars,
            templates,
            ariths,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub loc: Loc,
    /// Rules a failure here breaks (the scenario's unless the step says).
    pub rules: Vec<crate::rules::RuleRef>,
    pub note: Option<String>,
    pub kind: StepKind,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    Request(Box<RequestStep>),
    Advance(Duration),
    /// Move time to a boundary instant (see [`AdvanceTo`]).
    AdvanceTo(AdvanceTo),
    Wait(Duration),
    Concurrent(Vec<RequestStep>),
    SetPassword(SetPassword),
}

/// A compiled `advance_to:` (the scenario model's
/// [`super::model::AdvanceTo`]): a boundary, a signed offset from it, and
/// the planned size of the move.
#[derive(Debug, Clone)]
pub struct AdvanceTo {
    /// The boundary instant (epoch ms) as arithmetic over placeholders.
    pub instant: Arith,
    /// Signed distance from the boundary, in milliseconds: negative checks
    /// "just before", zero or positive "at" or "after".
    pub offset_ms: i64,
    /// About how far the move goes from the step before.
    pub about: Duration,
}

impl AdvanceTo {
    /// Whether the check after it expects the state before the boundary.
    pub fn before(&self) -> bool {
        self.offset_ms < 0
    }

    /// The captured names the instant is computed from.
    pub fn captures(&self) -> impl Iterator<Item = &str> {
        self.instant.terms.iter().filter_map(|t| match &t.value {
            TermValue::Var {
                var: Var::Capture(c),
                ..
            } => Some(c.as_str()),
            _ => None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct RequestStep {
    pub loc: Loc,
    pub request: RequestPlan,
    /// Every expectation, in the order its checks are reported.
    pub asserts: Vec<Assert>,
    pub capture: IndexMap<String, CaptureSource>,
}

impl RequestStep {
    /// Every placeholder the step names (request and expectations).
    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.request
            .templates()
            .chain(self.asserts.iter().flat_map(|a| a.predicate.templates()))
            .flat_map(|t| t.vars())
    }
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An endpoint name the target resolves.
    Endpoint(String),
    /// A raw path (a template) on the target.
    Path(Template),
}

/// A request with every template string split. A value of `None` is not
/// sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPlan {
    pub destination: Destination,
    pub method: Option<Method>,
    pub query: Vec<(String, Option<Template>)>,
    pub raw_query: Option<Template>,
    pub form: Vec<(String, Option<Template>)>,
    pub raw_body: Option<Template>,
    pub headers: Vec<(String, Option<Template>)>,
    pub cookies: Vec<(String, Option<Template>)>,
    /// A source-address alias; `None` is the primary address.
    pub from: Option<String>,
    pub referer: Option<Template>,
}

impl RequestPlan {
    /// Splits every template of `req`. Validation reports each bad template
    /// with its place first; this says only what is wrong.
    pub fn compile(req: &super::model::Request) -> Result<RequestPlan, String> {
        let one = |s: &Option<String>| s.as_deref().map(Template::parse).transpose();
        let map = |m: &IndexMap<String, Option<String>>| {
            m.iter()
                .map(|(k, v)| Ok((k.clone(), one(v)?)))
                .collect::<Result<Vec<_>, String>>()
        };
        let destination = match (&req.endpoint, &req.path) {
            (Some(e), _) => Destination::Endpoint(e.value.clone()),
            (None, Some(p)) => Destination::Path(Template::parse(p)?),
            (None, None) => return Err("a request needs an endpoint or a path".into()),
        };
        Ok(RequestPlan {
            destination,
            method: req.method,
            query: map(&req.query)?,
            raw_query: one(&req.raw_query)?,
            form: map(&req.form)?,
            raw_body: one(&req.raw_body)?,
            headers: map(&req.headers)?,
            cookies: map(&req.cookies)?,
            from: req.from.as_ref().map(|f| f.value.clone()),
            referer: one(&req.referer)?,
        })
    }

    /// Every template of the request.
    pub fn templates(&self) -> impl Iterator<Item = &Template> {
        let path = match &self.destination {
            Destination::Path(t) => Some(t),
            Destination::Endpoint(_) => None,
        };
        self.query
            .iter()
            .chain(&self.form)
            .chain(&self.headers)
            .chain(&self.cookies)
            .filter_map(|(_, v)| v.as_ref())
            .chain(self.raw_query.iter())
            .chain(self.raw_body.iter())
            .chain(self.referer.iter())
            .chain(path)
    }
}

// ---------------------------------------------------------------------------
// Expectations: hurl's `Assert { query, predicate }`.
// ---------------------------------------------------------------------------

/// One expectation on an answer.
#[derive(Debug, Clone)]
pub struct Assert {
    pub query: Query,
    pub predicate: Predicate,
    /// The matcher's `tolerance:` for numeric comparisons, when written.
    pub tolerance: Option<Duration>,
}

impl Assert {
    /// What the check is called in reports: `status`, `arcgis_error`,
    /// `no_error`, `json $.a equals`, `header X exists`, `body contains`.
    pub fn label(&self) -> String {
        match (&self.query, &self.predicate) {
            (_, Predicate::NoError(_)) => "no_error".into(),
            (Query::Status, _) => "status".into(),
            (Query::ArcgisError, _) => "arcgis_error".into(),
            (q, p) => format!("{} {}", q.label(), p.name()),
        }
    }
}

/// What part of the answer an expectation looks at.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// The HTTP status.
    Status,
    /// `error.code` in the JSON body (absent when there is no `error`).
    ArcgisError,
    /// A response header, by name (case-insensitive).
    Header(String),
    /// The value at a JSON path in the body.
    Json(JsonQuery),
    /// The whole body as text.
    Body,
}

impl Query {
    /// `header NAME`, `json PATH`, `body`, `status`, `arcgis_error`.
    pub fn label(&self) -> String {
        match self {
            Query::Status => "status".into(),
            Query::ArcgisError => "arcgis_error".into(),
            Query::Header(h) => format!("header {h}"),
            Query::Json(p) => format!("json {}", p.text),
            Query::Body => "body".into(),
        }
    }
}

/// A test on the queried value, one variant per operator, its operand
/// compiled.
#[derive(Debug, Clone)]
pub enum Predicate {
    /// `status: N` / `arcgis_error: N`: the code is `N`. On `arcgis_error`
    /// a lone placeholder rendering to `none` means [`Predicate::NoCode`].
    Code(Arith),
    /// `arcgis_error: none`: the body holds no error object.
    NoCode,
    /// `no_error: true` (no error object) or `false` (an error object).
    NoError(bool),
    Exists(bool),
    Equals(Operand),
    NotEquals(Operand),
    OneOf(Vec<Operand>),
    Matches(regex::Regex),
    /// Text the value must contain (a template; its source is shown when it
    /// cannot be rendered).
    Contains(Template),
    Type(JsonType),
    Length(u64),
    MinLength(u64),
    MaxLength(u64),
    AtLeast(Operand),
    AtMost(Operand),
}

impl Predicate {
    /// The operator's name as the scenario writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Predicate::Code(_) | Predicate::NoCode => "code",
            Predicate::NoError(_) => "no_error",
            Predicate::Exists(_) => "exists",
            Predicate::Equals(_) => "equals",
            Predicate::NotEquals(_) => "not_equals",
            Predicate::OneOf(_) => "one_of",
            Predicate::Matches(_) => "matches",
            Predicate::Contains(_) => "contains",
            Predicate::Type(_) => "type",
            Predicate::Length(_) => "length",
            Predicate::MinLength(_) => "min_length",
            Predicate::MaxLength(_) => "max_length",
            Predicate::AtLeast(_) => "at_least",
            Predicate::AtMost(_) => "at_most",
        }
    }

    /// The templates in the operand.
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = Vec::new();
        match self {
            Predicate::Equals(o)
            | Predicate::NotEquals(o)
            | Predicate::AtLeast(o)
            | Predicate::AtMost(o) => o.value.templates(&mut out),
            Predicate::OneOf(list) => list.iter().for_each(|o| o.value.templates(&mut out)),
            Predicate::Contains(t) => out.push(t),
            _ => {}
        }
        out
    }
}

/// An operand of `equals`, `not_equals`, `one_of`, `at_least`, `at_most`:
/// a JSON value whose strings are templates, plus the integer it stands for
/// when it is a number or integer arithmetic (`"{{now}} + 60m"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Operand {
    /// As written, for reports.
    pub raw: Value,
    pub value: ValueTemplate,
    /// The integer it stands for, if it is one.
    pub number: Option<Arith>,
    /// A template in it names `{{now}}` (the target's clock tolerance then
    /// applies).
    pub uses_now: bool,
}

impl Operand {
    /// Compiles an operand as written.
    pub fn compile(raw: &Value) -> Result<Operand, String> {
        let value = ValueTemplate::compile(raw)?;
        let mut ts = Vec::new();
        value.templates(&mut ts);
        let uses_now = ts.iter().any(|t| t.vars().any(|v| *v == Var::Now));
        let number = match raw {
            Value::String(s) => Arith::parse(s).ok(),
            Value::Number(_) => as_i128(raw).map(Arith::literal),
            _ => None,
        };
        Ok(Operand {
            raw: raw.clone(),
            value,
            number,
            uses_now,
        })
    }
}

/// The integer a JSON value holds (an integral float counts).
pub fn as_i128(v: &Value) -> Option<i128> {
    if let Some(i) = v.as_i64() {
        Some(i as i128)
    } else if let Some(u) = v.as_u64() {
        Some(u as i128)
    } else {
        v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i128)
    }
}

/// A JSON value whose strings are templates.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueTemplate {
    /// `null`, a boolean or a number.
    Literal(Value),
    Text(Template),
    Array(Vec<ValueTemplate>),
    Object(Vec<(String, ValueTemplate)>),
}

impl ValueTemplate {
    pub fn compile(v: &Value) -> Result<ValueTemplate, String> {
        Ok(match v {
            Value::String(s) => ValueTemplate::Text(Template::parse(s)?),
            Value::Array(a) => {
                ValueTemplate::Array(a.iter().map(Self::compile).collect::<Result<_, _>>()?)
            }
            Value::Object(m) => ValueTemplate::Object(
                m.iter()
                    .map(|(k, x)| Ok((k.clone(), Self::compile(x)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => ValueTemplate::Literal(other.clone()),
        })
    }

    /// The value with every placeholder filled by `lookup`.
    pub fn render(
        &self,
        lookup: &mut impl FnMut(&Var) -> Result<String, String>,
    ) -> Result<Value, String> {
        Ok(match self {
            ValueTemplate::Literal(v) => v.clone(),
            ValueTemplate::Text(t) => Value::String(t.render(&mut *lookup)?),
            ValueTemplate::Array(a) => Value::Array(
                a.iter()
                    .map(|x| x.render(lookup))
                    .collect::<Result<_, _>>()?,
            ),
            ValueTemplate::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| Ok((k.clone(), x.render(lookup)?)))
                    .collect::<Result<_, String>>()?,
            ),
        })
    }

    fn templates<'a>(&'a self, out: &mut Vec<&'a Template>) {
        match self {
            ValueTemplate::Literal(_) => {}
            ValueTemplate::Text(t) => out.push(t),
            ValueTemplate::Array(a) => a.iter().for_each(|x| x.templates(out)),
            ValueTemplate::Object(m) => m.iter().for_each(|(_, x)| x.templates(out)),
        }
    }
}

// ---------------------------------------------------------------------------
// Integer arithmetic
// ---------------------------------------------------------------------------

/// Integer (time) arithmetic, parsed: terms joined by `+` and `-`, each an
/// integer, a duration (in milliseconds), or a placeholder, optionally
/// followed by a unit (`{{knobs.short_lived_minutes}}m`).
///
/// `"{{now}} + 60m"` is `now + 3600000`; `"5"` is 5. Only placeholders are
/// left to fill when the step plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arith {
    /// As written, for messages.
    pub text: String,
    pub terms: Vec<Term>,
}

/// One signed term of an [`Arith`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub negative: bool,
    pub value: TermValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermValue {
    /// An integer, or a duration in milliseconds.
    Literal(i128),
    /// A placeholder holding an integer, times `unit_ms` when a unit follows
    /// it (`{{knobs.x}}m`: 60000).
    Var { var: Var, unit_ms: Option<i128> },
}

impl Arith {
    /// A constant.
    pub fn literal(n: i128) -> Arith {
        Arith {
            text: n.to_string(),
            terms: vec![Term {
                negative: false,
                value: TermValue::Literal(n),
            }],
        }
    }

    /// Parses `text`. A `-` at the very start belongs to the first number.
    pub fn parse(text: &str) -> Result<Arith, String> {
        let t = Template::parse(text)?;
        let mut terms = Vec::new();
        let mut current: Vec<Part> = Vec::new();
        let mut negative = false;
        let mut first = true;
        for part in &t.parts {
            match part {
                Part::Var(v) => {
                    current.push(Part::Var(v.clone()));
                    first = false;
                }
                Part::Lit(s) => {
                    for c in s.chars() {
                        let is_op = (c == '+' || c == '-') && !(c == '-' && first);
                        first = false;
                        if is_op {
                            terms.push(Term {
                                negative,
                                value: term(&current, text)?,
                            });
                            current.clear();
                            negative = c == '-';
                        } else {
                            match current.last_mut() {
                                Some(Part::Lit(l)) => l.push(c),
                                _ => current.push(Part::Lit(c.to_string())),
                            }
                        }
                    }
                }
            }
        }
        terms.push(Term {
            negative,
            value: term(&current, text)?,
        });
        Ok(Arith {
            text: text.to_owned(),
            terms,
        })
    }

    /// The placeholder, if the expression is exactly one and nothing else.
    pub fn lone_var(&self) -> Option<&Var> {
        match self.terms.as_slice() {
            [
                Term {
                    negative: false,
                    value: TermValue::Var { var, unit_ms: None },
                },
            ] => Some(var),
            _ => None,
        }
    }

    /// The value, with each placeholder's integer given by `int_of`.
    /// Overflow is an error, never a panic.
    pub fn eval(
        &self,
        mut int_of: impl FnMut(&Var) -> Result<i128, String>,
    ) -> Result<i128, String> {
        let range = || format!("a number in range, found `{}`", self.text);
        let mut total: i128 = 0;
        for t in &self.terms {
            let v = match &t.value {
                TermValue::Literal(n) => *n,
                TermValue::Var { var, unit_ms } => {
                    let n = int_of(var).map_err(|e| format!("{e} in `{}`", self.text))?;
                    match unit_ms {
                        Some(u) => n.checked_mul(*u).ok_or_else(range)?,
                        None => n,
                    }
                }
            };
            let signed = if t.negative { v.checked_neg() } else { Some(v) };
            total = signed
                .and_then(|s| total.checked_add(s))
                .ok_or_else(range)?;
        }
        Ok(total)
    }
}

/// The integer a placeholder's text stands for (`{{now}}` renders epoch
/// milliseconds, a knob or a captured value their digits).
pub fn integer_of(var: &Var, text: &str) -> Result<i128, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("an integer in `{{{{{var}}}}}`, found `{text}`"))
}

/// One term between operators: an integer, a duration, `{{x}}` or `{{x}}UNIT`.
fn term(parts: &[Part], expr: &str) -> Result<TermValue, String> {
    let mut parts: Vec<Part> = parts.to_vec();
    if let Some(Part::Lit(l)) = parts.first_mut() {
        *l = l.trim_start().to_owned();
    }
    if let Some(Part::Lit(l)) = parts.last_mut() {
        *l = l.trim_end().to_owned();
    }
    parts.retain(|p| !matches!(p, Part::Lit(l) if l.is_empty()));
    match parts.as_slice() {
        [] => Err(format!("a term between operators in `{expr}`")),
        [Part::Lit(s)] => {
            if let Ok(n) = s.parse::<i128>() {
                Ok(TermValue::Literal(n))
            } else {
                let d = parse_duration(s)
                    .map_err(|_| format!("an integer or a duration, found `{s}` in `{expr}`"))?;
                Ok(TermValue::Literal(d.as_millis() as i128))
            }
        }
        [Part::Var(v)] => Ok(TermValue::Var {
            var: v.clone(),
            unit_ms: None,
        }),
        [Part::Var(v), Part::Lit(unit)]
            if unit.chars().all(|c| c.is_ascii_alphabetic()) && !unit.is_empty() =>
        {
            let d = parse_duration(&format!("1{unit}")).map_err(|_| {
                format!("a duration unit such as `m` or `s`, found `{unit}` in `{expr}`")
            })?;
            Ok(TermValue::Var {
                var: v.clone(),
                unit_ms: Some(d.as_millis() as i128),
            })
        }
        _ => Err(format!(
            "terms that are integers, durations or placeholders (`{{{{now}}}}`, \
             `{{{{knobs.NAME}}}}m`) in `{expr}`"
        )),
    }
}

// ---------------------------------------------------------------------------
// JSON paths and captures
// ---------------------------------------------------------------------------

/// A compiled JSON path with the text it was written as.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonQuery {
    pub text: String,
    pub path: serde_json_path::JsonPath,
    /// The name of the last member the path selects (`token` in
    /// `$.data['token']`), empty when it ends in an index or wildcard.
    pub last_member: String,
}

impl JsonQuery {
    pub fn parse(text: &str) -> Result<JsonQuery, serde_json_path::ParseError> {
        let path = serde_json_path::JsonPath::parse(text)?;
        let last_member = text
            .rsplit(['.', '[', '\''])
            .find(|seg| !seg.is_empty() && *seg != "]")
            .unwrap_or("")
            .trim_end_matches([']', '\'', '"'])
            .to_owned();
        Ok(JsonQuery {
            text: text.to_owned(),
            path,
            last_member,
        })
    }

    /// The value at the path: the node if exactly one, an array if several,
    /// `None` if none.
    pub fn select(&self, json: &Value) -> Option<Value> {
        let nodes = self.path.query(json).all();
        match nodes.len() {
            0 => None,
            1 => Some(nodes[0].clone()),
            _ => Some(Value::Array(nodes.into_iter().cloned().collect())),
        }
    }
}

/// Where a captured value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureSource {
    /// A JSON path into the body (`$.token`).
    JsonPath(JsonQuery),
    /// The whole body as text.
    Body,
    /// A response header.
    Header(String),
    /// The instant the request was sent, epoch ms (`{{now}}` then): the
    /// issue instant of an answer that carries no expiry (ArcWeb).
    SentAt,
}

/// Why a capture source is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureError {
    /// Neither `$...`, `body` nor `header:NAME`; the text says what was expected.
    Shape(String),
    /// Starts with `$` but does not compile.
    JsonPath(String),
}

impl CaptureSource {
    /// Parses `$.path`, `body` or `header:NAME`.
    pub fn parse(s: &str) -> Result<Self, CaptureError> {
        let s = s.trim();
        if s.starts_with('$') {
            JsonQuery::parse(s)
                .map(CaptureSource::JsonPath)
                .map_err(|_| CaptureError::JsonPath(s.to_owned()))
        } else if s == "body" {
            Ok(CaptureSource::Body)
        } else if s == "sent_at" {
            Ok(CaptureSource::SentAt)
        } else if let Some(h) = s.strip_prefix("header:") {
            if h.trim().is_empty() {
                Err(CaptureError::Shape("a header name after `header:`".into()))
            } else {
                Ok(CaptureSource::Header(h.trim().to_owned()))
            }
        } else {
            Err(CaptureError::Shape(
                "a JSON path starting with `$`, `body`, `sent_at`, or `header:NAME`".into(),
            ))
        }
    }
}

impl std::fmt::Display for CaptureSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaptureSource::JsonPath(q) => f.write_str(&q.text),
            CaptureSource::Body => f.write_str("body"),
            CaptureSource::Header(h) => write!(f, "header:{h}"),
            CaptureSource::SentAt => f.write_str("sent_at"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_vars(_: &Var) -> Result<i128, String> {
        Err("no placeholders here".into())
    }

    #[test]
    fn arithmetic_parses_into_terms() {
        let a = Arith::parse("{{now}} + {{knobs.short_lived_minutes}}m - 1s").unwrap();
        assert_eq!(
            a.terms,
            vec![
                Term {
                    negative: false,
                    value: TermValue::Var {
                        var: Var::Now,
                        unit_ms: None
                    }
                },
                Term {
                    negative: false,
                    value: TermValue::Var {
                        var: Var::Knob("short_lived_minutes".into()),
                        unit_ms: Some(60_000)
                    }
                },
                Term {
                    negative: true,
                    value: TermValue::Literal(1000)
                },
            ]
        );
        let v = a
            .eval(|v| {
                Ok(match v {
                    Var::Now => 1_000_000,
                    _ => 60,
                })
            })
            .unwrap();
        assert_eq!(v, 1_000_000 + 3_600_000 - 1000);
        assert_eq!(
            Arith::parse("{{case.code}}").unwrap().lone_var(),
            Some(&Var::Case("code".into()))
        );
    }

    #[test]
    fn time_arithmetic() {
        let eval = |s: &str| Arith::parse(s).and_then(|a| a.eval(no_vars));
        assert_eq!(eval("1700000000000 + 60m").unwrap(), 1_700_003_600_000);
        assert_eq!(eval("1000 - 1ms").unwrap(), 999);
        assert_eq!(eval("5").unwrap(), 5);
        assert_eq!(eval("-5 + 10").unwrap(), 5);
        assert_eq!(eval("0 + 1h 30m").unwrap(), 5_400_000);
        assert!(Arith::parse("1000 +").is_err());
        assert!(Arith::parse("abc").is_err());
        assert!(Arith::parse("{{now}} + soon").is_err());
        assert!(Arith::parse("{{user.password}}-wrong").is_err());
        assert!(Arith::parse("{{case.scheme}} {{alice}}").is_err());
        // A placeholder must hold an integer when the step plays.
        let a = Arith::parse("{{token}} + 1").unwrap();
        let e = a.eval(|v| integer_of(v, "TOK")).unwrap_err();
        assert_eq!(
            e,
            "an integer in `{{token}}`, found `TOK` in `{{token}} + 1`"
        );
        assert_eq!(a.eval(|v| integer_of(v, " 41 ")), Ok(42));
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let eval = |s: &str| Arith::parse(s).and_then(|a| a.eval(no_vars));
        let max = i128::MAX.to_string();
        let e = eval(&format!("{max} + {max}")).unwrap_err();
        assert!(e.contains("a number in range"), "{e}");
        assert!(eval(&format!("{max} + 1")).is_err());
        assert!(eval(&format!("0 - {}", i128::MIN)).is_err());
        assert_eq!(eval(&i128::MIN.to_string()).unwrap(), i128::MIN);
        let big = Arith::parse("{{x}}h").unwrap();
        assert!(big.eval(|_| Ok(i128::MAX)).is_err());
    }

    #[test]
    fn case_values_that_are_arithmetic_are_parsed_once() {
        let vars = [
            ("name", json!("c")),
            ("ttl", json!("60m")),
            ("at", json!("{{now}} + 1s")),
            ("who", json!("{{user.name}}")),
            ("n", json!(5)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let c = Case::new("c".into(), vars);
        assert_eq!(c.ariths["ttl"].eval(no_vars), Ok(3_600_000));
        assert!(c.ariths.contains_key("at"));
        assert!(
            c.ariths.contains_key("who"),
            "a lone placeholder is arithmetic too"
        );
        assert!(!c.ariths.contains_key("name"));
        assert_eq!(c.templates.keys().collect::<Vec<_>>(), ["at", "who"]);
    }

    #[test]
    fn operands_know_their_number_and_clock_use() {
        let o = Operand::compile(&json!("{{now}} + 1m")).unwrap();
        assert!(o.uses_now);
        assert!(o.number.is_some());
        let o = Operand::compile(&json!(498)).unwrap();
        assert_eq!(o.number, Some(Arith::literal(498)));
        assert!(!o.uses_now);
        let o = Operand::compile(&json!("TOK")).unwrap();
        assert_eq!(o.number, None);
        let o = Operand::compile(&json!(["{{token}}", 1])).unwrap();
        let mut lookup = |_: &Var| Ok("T".to_string());
        assert_eq!(o.value.render(&mut lookup).unwrap(), json!(["T", 1]));
        assert!(Operand::compile(&json!("{{nope")).is_err());
    }

    #[test]
    fn predicates_are_named_and_labelled() {
        let a = Assert {
            query: Query::Json(JsonQuery::parse("$.token").unwrap()),
            predicate: Predicate::Matches(regex::Regex::new("^a").unwrap()),
            tolerance: None,
        };
        assert_eq!(a.label(), "json $.token matches");
        let a = Assert {
            query: Query::ArcgisError,
            predicate: Predicate::NoError(true),
            tolerance: None,
        };
        assert_eq!(a.label(), "no_error");
        let a = Assert {
            query: Query::Status,
            predicate: Predicate::Code(Arith::literal(200)),
            tolerance: None,
        };
        assert_eq!(a.label(), "status");
        let c = Predicate::Contains(Template::parse("x {{token}}").unwrap());
        assert_eq!(c.templates().len(), 1);
        assert_eq!(Predicate::Length(3).name(), "length");
    }

    #[test]
    fn json_queries_select_and_name_their_last_member() {
        let j = json!({"a": {"b": [1, 2]}, "t": "x"});
        let q = |s: &str| JsonQuery::parse(s).unwrap();
        assert_eq!(q("$.a.b[1]").select(&j), Some(json!(2)));
        assert_eq!(q("$.missing").select(&j), None);
        assert_eq!(q("$.a.b[*]").select(&j), Some(json!([1, 2])));
        assert_eq!(q("$.data['sessionToken']").last_member, "sessionToken");
        assert_eq!(q("$.token").last_member, "token");
        assert!(JsonQuery::parse("$[").is_err());
    }

    #[test]
    fn capture_sources_parse() {
        assert!(matches!(
            CaptureSource::parse("$.token").unwrap(),
            CaptureSource::JsonPath(q) if q.text == "$.token"
        ));
        assert_eq!(CaptureSource::parse("body").unwrap(), CaptureSource::Body);
        assert_eq!(
            CaptureSource::parse("header:Content-Type").unwrap(),
            CaptureSource::Header("Content-Type".into())
        );
        assert_eq!(
            CaptureSource::parse("header:X").unwrap().to_string(),
            "header:X"
        );
        assert!(matches!(
            CaptureSource::parse("token"),
            Err(CaptureError::Shape(_))
        ));
        assert!(matches!(
            CaptureSource::parse("header:"),
            Err(CaptureError::Shape(_))
        ));
        assert!(matches!(
            CaptureSource::parse("$["),
            Err(CaptureError::JsonPath(_))
        ));
    }
}
