//! The scenario format, version 1, as plain data.
//!
//! Two layers live here:
//! - the *file* types (`ScenarioFile`, `RawStep`, ...) mirror the YAML exactly:
//!   serde with `deny_unknown_fields`, no `flatten`, no `untagged`, and
//!   [`Spanned`] wherever a later semantic check needs a location. They
//!   also serialize (`load::write_scenario`), to the same field names, with
//!   absent optional fields left out. `#[schemars(!skip_serializing_if)]`
//!   keeps that writing detail out of the schema (its `default`s describe
//!   reading) where there was one; fields holding a [`Spanned`] or a
//!   nested file type never showed a default there;
//! - the *checked* types (`Scenario`, `Step`, ...) that `validate` produces
//!   and the runner plays live in [`super::plan`], compiled.
//!
//! This module does no I/O and knows nothing of YAML, tokio or HTTP.

use std::time::Duration;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The only scenario format version this build reads.
pub const FORMAT_VERSION: u32 = 1;

/// A 1-based line and column in a scenario file; `0:0` means unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash, Serialize)]
pub struct Loc {
    pub line: u32,
    pub column: u32,
}

/// A value with the place in the file it came from.
///
/// Its `Deserialize` impl lives in `load` (the only module that knows the YAML
/// crate); in the schema it is transparent.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub loc: Loc,
}

impl<T> Spanned<T> {
    pub fn new(value: T, loc: Loc) -> Self {
        Self { value, loc }
    }
}

/// A value built in code (a fuzz regression, a test) has no place in a file.
impl<T> From<T> for Spanned<T> {
    fn from(value: T) -> Self {
        Self::new(value, Loc::default())
    }
}

/// Two spanned values are equal when their values are: where a value was
/// written is not part of what the scenario says (a written-then-read file
/// compares equal to the one it came from).
impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

/// Written as the bare value, as it was read.
impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

// ---------------------------------------------------------------------------
// File types: exactly what the YAML may say.
// ---------------------------------------------------------------------------

/// One scenario file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Format version; must be 1.
    pub version: Spanned<u32>,
    /// `area/name`, unique across the suite. The area is the first segment.
    pub id: Spanned<String>,
    /// One line a vendor understands.
    pub title: String,
    /// Longer explanation, shown in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub description: Option<String>,
    /// Rule IDs of semantics.md this scenario checks (e.g. `LT-5`).
    pub rules: Vec<Spanned<String>>,
    /// The profile (system) the scenario exercises.
    pub profile: Profile,
    /// Capabilities the target must offer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Spanned<Capability>>,
    /// Knob values the scenario assumes. On the in-process reference these are
    /// applied; on other targets the scenario is not applicable unless the
    /// target declares the same values.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub knobs: IndexMap<String, Spanned<serde_json::Value>>,
    /// A table of cases: the steps run once per case, with `{{case.KEY}}`
    /// bound to the case's values. Every case has a `name`. A string case
    /// value may itself hold placeholders (one level, no `{{case.*}}`), rendered
    /// where it is used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matrix: Vec<Spanned<IndexMap<String, serde_json::Value>>>,
    /// What to do, in order.
    pub steps: Vec<Spanned<RawStep>>,
}

/// The three systems of semantics.md.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
pub enum Profile {
    #[serde(rename = "arcgis-token")]
    ArcgisToken,
    #[serde(rename = "arcweb-2006")]
    Arcweb2006,
    #[serde(rename = "basemap-sessions")]
    BasemapSessions,
}

impl Profile {
    pub const ALL: [Profile; 3] = [
        Profile::ArcgisToken,
        Profile::Arcweb2006,
        Profile::BasemapSessions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::ArcgisToken => "arcgis-token",
            Profile::Arcweb2006 => "arcweb-2006",
            Profile::BasemapSessions => "basemap-sessions",
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a scenario needs from a target beyond plain HTTP.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
pub enum Capability {
    /// Moves time with `advance:`; without clock control the runner waits in
    /// real time when the target allows waits that long, else skips.
    #[serde(rename = "clock-control")]
    ClockControl,
    /// Sends requests from alternate source addresses (`from:`).
    #[serde(rename = "alt-addresses")]
    AltAddresses,
    /// Changes a password through the control API (`set_password:`).
    #[serde(rename = "password-control")]
    PasswordControl,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::ClockControl => "clock-control",
            Capability::AltAddresses => "alt-addresses",
            Capability::PasswordControl => "password-control",
        }
    }
}

/// One step as written. Exactly one of `request`, `advance`, `wait`,
/// `concurrent`, `set_password` must be present; `expect` and `capture` go
/// with `request` only. `validate` turns it into a [`Step`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Send one HTTP request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    /// What the answer to `request` must look like.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// Values to keep from the answer, usable later as `{{NAME}}`:
    /// `$.json.path`, `body` (the whole text body) or `header:NAME`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub capture: IndexMap<String, Spanned<String>>,
    /// Move the target's clock forward (`61m`, `12h`, `59m 59s 999ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advance: Option<Spanned<String>>,
    /// Move the target's clock to an instant a response gave (an expiry),
    /// so that the check after it is placed relative to that boundary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advance_to: Option<Spanned<AdvanceTo>>,
    /// Wait in real time, whatever the target (`2s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<Spanned<String>>,
    /// Send several requests at once; each item is a request step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent: Option<Vec<Spanned<RawStep>>>,
    /// Change a user's password through the control API (LT-9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_password: Option<SetPassword>,
    /// The rules a failure of this step's expectations breaks; defaults to
    /// the scenario's rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Spanned<String>>,
    /// A note shown in reports next to the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub note: Option<String>,
}

/// An HTTP request. String values are templates (`{{...}}`); a value that is
/// `null` (or a lone `{{case.KEY}}` whose case value is `null`) is not sent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// An endpoint name the target resolves (`generate_token`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Spanned<String>>,
    /// A raw path on the target, when no endpoint name fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub path: Option<String>,
    /// Defaults to POST when a body is given, else GET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub method: Option<Method>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(!skip_serializing_if)]
    pub query: IndexMap<String, Option<String>>,
    /// Appended verbatim to the query string (after templating), for
    /// duplicate parameters and other shapes a map cannot state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub raw_query: Option<String>,
    /// Form-encoded body fields.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(!skip_serializing_if)]
    pub form: IndexMap<String, Option<String>>,
    /// A form-encoded body sent verbatim (after templating).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub raw_body: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(!skip_serializing_if)]
    pub headers: IndexMap<String, Option<String>>,
    /// Sent as one `Cookie` header.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(!skip_serializing_if)]
    pub cookies: IndexMap<String, Option<String>>,
    /// A source-address alias (`primary`, `alt1`, `alt2`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Spanned<String>>,
    /// Sets the `Referer` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub referer: Option<String>,
}

impl Request {
    /// Every template string the request holds (values of query, form,
    /// headers and cookies, raw query and body, referer, path), for the
    /// checks that look at placeholders.
    pub fn texts(&self) -> impl Iterator<Item = &String> {
        self.query
            .values()
            .chain(self.form.values())
            .chain(self.headers.values())
            .chain(self.cookies.values())
            .flatten()
            .chain(self.raw_query.iter())
            .chain(self.raw_body.iter())
            .chain(self.referer.iter())
            .chain(self.path.iter())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Method {
    GET,
    POST,
    PUT,
    DELETE,
    HEAD,
    OPTIONS,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::DELETE => "DELETE",
            Method::HEAD => "HEAD",
            Method::OPTIONS => "OPTIONS",
        }
    }
}

/// Expectations on an answer. All given expectations must hold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The HTTP status (an integer, or a template rendering to one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Spanned<IntExpr>>,
    /// The ArcGIS error code in the JSON body (`error.code`), or `none` for
    /// "the body holds no error".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arcgis_error: Option<Spanned<IntExpr>>,
    /// The body holds no `error` object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub no_error: Option<bool>,
    /// Header name (case-insensitive) to matcher.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, Spanned<Matcher>>,
    /// JSON path (`$.a.b[0]`) to matcher.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub json: IndexMap<String, Spanned<Matcher>>,
    /// The whole body as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Spanned<Matcher>>,
}

/// An integer written literally or as a template (`"{{case.code}}"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntExpr(pub String);

impl JsonSchema for IntExpr {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "IntExpr".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "an integer, or a string template rendering to one",
            "type": ["integer", "string"]
        })
    }
}

/// Written as an integer when it is one, else as the template string, so
/// that it reads back as the same expression.
impl Serialize for IntExpr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.parse::<i64>() {
            Ok(n) if n.to_string() == self.0 => s.serialize_i64(n),
            _ => s.serialize_str(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for IntExpr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = IntExpr;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer or a template string")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<IntExpr, E> {
                Ok(IntExpr(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<IntExpr, E> {
                Ok(IntExpr(v.to_string()))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IntExpr, E> {
                Ok(IntExpr(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A test on one value. All given fields must hold. String operands are
/// templates. `equals`, `at_least` and `at_most` on a number accept time
/// arithmetic: `"{{now}} + {{knobs.short_lived_minutes}}m"`, compared within
/// `tolerance` (default: the target's declared tolerance).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub equals: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub not_equals: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub one_of: Option<Vec<serde_json::Value>>,
    /// A regular expression the value (as text) must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub matches: Option<String>,
    /// Text the value (as text) must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub contains: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub type_: Option<JsonType>,
    /// Exact length of a string or array, or the number of keys of an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub min_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub max_length: Option<u64>,
    /// Whether the value is present at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub exists: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub at_least: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub at_most: Option<serde_json::Value>,
    /// Allowed distance for numeric comparisons, as a duration (`1s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
    Null,
}

/// `advance_to:` moves time to a boundary instant plus an offset
/// (semantics.md, "Real time"). With clock control the clock lands exactly
/// at `instant + offset`. Without it the runner waits in real time and
/// places the check outside the uncertainty (the target's `time_tolerance`
/// plus the round trip of the request that produced the instant): a
/// negative offset ("just before") lands at `instant - uncertainty` at the
/// latest, a zero or positive one ("at", "after") at `instant +
/// uncertainty` at the earliest.
///
/// ```yaml
/// - advance_to: {instant: "{{expires}}", offset: -1ms, about: 1m}
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceTo {
    /// The boundary: integer arithmetic in epoch milliseconds over captured
    /// values (`"{{expires}}"`, `"{{issued}} + 1m"`).
    pub instant: String,
    /// Signed distance from the boundary (`-1ms`, `0`, `1ms`); default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(!skip_serializing_if)]
    pub offset: Option<String>,
    /// About how far this moves time from the step before (`1m`): what the
    /// runner compares with `max_real_wait` and shows before the run.
    pub about: String,
}

/// Parses a signed duration (`-1ms`, `0`, `1m 5s`) into milliseconds.
pub fn parse_signed_ms(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let (neg, rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let ms = if rest.trim() == "0" {
        0
    } else {
        parse_duration(rest)?.as_millis() as i64
    };
    Ok(if neg { -ms } else { ms })
}

/// Change a user's password through the control API.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    /// A fixture user name (`alice`, `bob`).
    pub user: Spanned<String>,
    pub password: String,
}

// The checked types (`Scenario`, `Step`, ...) moved to `plan`, the compiled
// form the runner plays; re-exported here for existing paths.
pub use super::plan::{CaptureSource, Case, RequestStep, Scenario, Step, StepKind};

/// The longest duration a scenario may write: 100 years of 365.25 days.
pub const MAX_DURATION: jiff::SignedDuration = jiff::SignedDuration::from_secs(36_525 * 86_400);

/// Parses a human duration: `61m`, `12h`, `1h 30m`, `59m 59s 999ms`.
/// At most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("a duration such as `61m`, `12h` or `59m 59s 999ms`".into());
    }
    let sd: jiff::SignedDuration = t
        .parse()
        .map_err(|_| format!("a duration such as `61m`, `12h` or `59m 59s 999ms`, found `{t}`"))?;
    if sd.is_negative() {
        return Err(format!("a duration that is not negative, found `{t}`"));
    }
    // A cap keeps `advance:`/`wait:` and time arithmetic far from overflow
    // (and a run from sleeping for ever).
    if sd > MAX_DURATION {
        return Err(format!("a duration up to 100 years, found `{t}`"));
    }
    Ok(sd.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_friendly_units() {
        assert_eq!(parse_duration("61m").unwrap(), Duration::from_secs(3660));
        assert_eq!(parse_duration("12h").unwrap(), Duration::from_secs(43200));
        assert_eq!(
            parse_duration("59m 59s 999ms").unwrap(),
            Duration::from_millis(3_599_999)
        );
        assert_eq!(parse_duration("1ms").unwrap(), Duration::from_millis(1));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-5m").is_err());
    }

    #[test]
    fn signed_offsets_parse_with_either_sign() {
        assert_eq!(parse_signed_ms("-1ms").unwrap(), -1);
        assert_eq!(parse_signed_ms("0").unwrap(), 0);
        assert_eq!(parse_signed_ms("+2s").unwrap(), 2000);
        assert_eq!(parse_signed_ms("1m 1ms").unwrap(), 60_001);
        assert!(parse_signed_ms("--1ms").is_err());
        assert!(parse_signed_ms("soon").is_err());
    }

    #[test]
    fn durations_are_capped_at_100_years() {
        assert!(parse_duration("876000h").is_ok());
        let e = parse_duration("1000000h").unwrap_err();
        assert!(e.contains("up to 100 years"), "{e}");
        assert!(parse_duration("876700h").is_err());
    }
}
