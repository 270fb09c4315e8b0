//! The certification case format (`specs/clients/*.yaml`, version 1) and
//! its loader: YAML read through the scenario format's one YAML door
//! ([`crate::scenario::load::parse_yaml`], serde-saphyr with locations),
//! `deny_unknown_fields`, no `flatten`/`untagged`, every problem a
//! [`Diagnostic`] (`file:line:col` plus a kind, "did you mean" where a name
//! is close). A loaded [`Case`] is a [`CasePlan`] the harness plays and the
//! [`Expectations`] the judge checks; nothing downstream parses text.
//!
//! ```yaml
//! version: 1
//! id: client/renew-after-revocation
//! title: A revoked portal token is replaced once, and never resent
//! rules: [CL-8, CL-14]
//! requires: [portal]
//! setup: {token_lifetime_ms: 60000}
//! steps:
//!   - op: signin
//!   - op: request
//!     url: "{{portal}}/community/self"
//!   - event: revoke
//!     user: alice
//!   - op: request
//!     url: "{{portal}}/community/self"
//!     expect: {ok: true, rules: [CL-8/SHOULD]}
//! expect:
//!   - after: revoke
//!     count: {acquisition: true, max: 1}
//!     rules: [CL-8/MUST, CL-14]
//! ```
//!
//! This module reads files and builds data; it runs nothing.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::journal::{Role, Scheme, TokenKind};
use super::judge::expect::{Check, CheckKind, Expectations, Filter, OpExpect, TokenMatch};
use super::plan::{
    CasePlan, Envelope, Event, OpPlan, Revoke, Setup, Step, StepKind, Tier, UrlPart, UrlTemplate,
    Var,
};
use super::protocol::Feature;
use super::rules::ClCite;
use crate::scenario::diagnostic::suggest;
use crate::scenario::load::{parse_yaml, yaml_files};
use crate::scenario::model::{Loc, Spanned};
use crate::scenario::{Diagnostic, DiagnosticKind};

/// The only case format version this build reads.
pub const FORMAT_VERSION: u32 = 1;

/// A loaded, checked case: what the harness plays and what the judge checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    pub plan: CasePlan,
    pub expect: Expectations,
}

// ---------------------------------------------------------------------------
// File types: exactly what the YAML may say.
// ---------------------------------------------------------------------------

/// One case file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// Format version; must be 1.
    pub version: Spanned<u32>,
    /// `client/name`, unique across the cases.
    pub id: Spanned<String>,
    /// One line a client vendor understands.
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// CL rules the case checks (`CL-8`, `CL-7/SHOULD`).
    pub rules: Vec<Spanned<String>>,
    /// Driver features the case needs; a driver without one of them gets
    /// `not-applicable`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<FeatureName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<TierName>,
    /// A driver error (refusing an attacker) is acceptable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_client_error: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<RawSetup>,
    /// The timeline: driver operations and server-side events, in order.
    pub steps: Vec<Spanned<RawStep>>,
    /// Checks over the journal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<Spanned<RawCheck>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FeatureName {
    Portal,
    Server,
    Federation,
    Sessions,
    Tls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TierName {
    Fast,
    Slow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    Portal,
    Server,
    Federated,
    Foreign,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SchemeName {
    Http,
    Https,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKindName {
    Portal,
    Server,
    Exchanged,
    Session,
    Foreign,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum EnvelopeName {
    /// HTTP 200, Server's `Invalid Token`.
    #[serde(rename = "server-200")]
    Server200,
    /// HTTP 200, Portal's `Invalid token.`.
    #[serde(rename = "portal-200")]
    Portal200,
    /// HTTP 401 with a JSON body (`Token Invalid.`).
    #[serde(rename = "http-401")]
    Http401,
    #[serde(rename = "http-403")]
    Http403,
    #[serde(rename = "status")]
    /// Only the HTTP status (429, 503, ...).
    Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TokenMatchName {
    Any,
    None,
    Revoked,
    Rejected,
    Home,
    OtherCase,
}

/// The server settings of a case.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSetup {
    /// Lifetime of every token issued, whatever was asked (fast tier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime_ms: Option<u64>,
    /// The server clock's offset from real time at the start (skew).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub https: Vec<RoleName>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untrusted: Vec<RoleName>,
    /// URLs the driver gets in `TESSERA_CONTEXT.extra_urls` (templates).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_urls: Vec<Spanned<String>>,
    /// Further case parameters for `TESSERA_CONTEXT`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub context: IndexMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum OpName {
    #[serde(rename = "signin")]
    Signin,
    #[serde(rename = "request")]
    Request,
    #[serde(rename = "session.start")]
    SessionStart,
    #[serde(rename = "session.use")]
    SessionUse,
    #[serde(rename = "idle")]
    Idle,
    #[serde(rename = "bye")]
    Bye,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum EventName {
    #[serde(rename = "revoke")]
    Revoke,
    #[serde(rename = "password.change")]
    PasswordChange,
    #[serde(rename = "inject")]
    Inject,
    #[serde(rename = "clock.jump")]
    ClockJump,
    #[serde(rename = "clock.offset")]
    ClockOffset,
    #[serde(rename = "declare.ssl")]
    DeclareSsl,
    #[serde(rename = "declare.allssl")]
    DeclareAllSsl,
    #[serde(rename = "advertise-owning-system")]
    AdvertiseOwningSystem,
    #[serde(rename = "advertise-token-url")]
    AdvertiseTokenUrl,
    #[serde(rename = "session.scope-refuse")]
    SessionScopeRefuse,
    #[serde(rename = "wait")]
    Wait,
}

impl EventName {
    fn as_str(self) -> &'static str {
        match self {
            EventName::Revoke => "revoke",
            EventName::PasswordChange => "password.change",
            EventName::Inject => "inject",
            EventName::ClockJump => "clock.jump",
            EventName::ClockOffset => "clock.offset",
            EventName::DeclareSsl => "declare.ssl",
            EventName::DeclareAllSsl => "declare.allssl",
            EventName::AdvertiseOwningSystem => "advertise-owning-system",
            EventName::AdvertiseTokenUrl => "advertise-token-url",
            EventName::SessionScopeRefuse => "session.scope-refuse",
            EventName::Wait => "wait",
        }
    }
}

impl OpName {
    fn as_str(self) -> &'static str {
        match self {
            OpName::Signin => "signin",
            OpName::Request => "request",
            OpName::SessionStart => "session.start",
            OpName::SessionUse => "session.use",
            OpName::Idle => "idle",
            OpName::Bye => "bye",
        }
    }
}

/// One step as written: exactly one of `op` and `event`, with the fields
/// that kind takes.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<OpName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventName>,
    /// A name other steps' and checks' `after`/`until` may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Spanned<String>>,
    /// `request`, `session.start`, `session.use`, `advertise-token-url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub params: IndexMap<String, String>,
    /// `session.start`: `durationSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_refresh: Option<bool>,
    /// `idle`, `wait`, `clock.jump`, `clock.offset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<i64>,
    /// `revoke` (a user's tokens), `password.change`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `revoke`: every token issued so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
    /// `inject`, `advertise-*`: the listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RoleName>,
    /// `inject`: the path suffix of the requests hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<EnvelopeName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u32>,
    /// `advertise-owning-system`: the `owningSystemUrl` (a template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Spanned<String>>,
    /// `session.scope-refuse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Operations: the result expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<RawOpExpect>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The result an operation should have.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOpExpect {
    pub ok: bool,
    /// The clauses a different result breaks (`CL-8/SHOULD`).
    pub rules: Vec<Spanned<String>>,
}

/// One check over the journal: exactly one of `count`, `never`, `renewal`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub rules: Vec<Spanned<String>>,
    /// A step `label`, or an event name used once in the case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Spanned<String>>,
    /// The number of matching requests is within `min`/`max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<RawFilter>,
    /// No request matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub never: Option<RawFilter>,
    /// Tokens of this kind are renewed ahead of `expires` with the margin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal: Option<TokenKindName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Which requests: every field given must match.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFilter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub role: Vec<RoleName>,
    /// The path ends with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<SchemeName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquisition: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenMatchName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_kind: Option<TokenKindName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
    /// `count` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}

// ---------------------------------------------------------------------------
// Loading.
// ---------------------------------------------------------------------------

/// Reads and checks one case file.
pub fn load_file(path: &Path) -> Result<Case, Vec<Diagnostic>> {
    load_located(path).map(|(c, _)| c)
}

/// Parses and checks a case from its text (`file` names it in errors).
pub fn parse_case(text: &str, file: &Path) -> Result<Case, Vec<Diagnostic>> {
    parse_located(text, file).map(|(c, _)| c)
}

/// [`parse_case`], also returning where the id is written (for the
/// duplicate-id check of [`load_cases`]).
fn parse_located(text: &str, file: &Path) -> Result<(Case, Loc), Vec<Diagnostic>> {
    let raw: CaseFile = parse_yaml(text, file).map_err(|d| vec![d])?;
    let id_loc = raw.id.loc;
    check(raw, file).map(|c| (c, id_loc))
}

fn load_located(path: &Path) -> Result<(Case, Loc), Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::new(
            path,
            Loc::default(),
            DiagnosticKind::Io(e.to_string()),
        )]
    })?;
    parse_located(&text, path)
}

/// Reads every `*.yaml` / `*.yml` under `paths` (files or folders,
/// recursively, sorted) and checks that ids are unique. Nothing is returned
/// unless every file is good.
pub fn load_cases(paths: &[PathBuf]) -> Result<Vec<Case>, Vec<Diagnostic>> {
    let (files, mut errors) = yaml_files(paths, None);
    let mut out: Vec<Case> = Vec::new();
    for f in files {
        match load_located(&f) {
            Ok((c, id_loc)) => {
                if let Some(prev) = out.iter().find(|o| o.plan.id == c.plan.id) {
                    errors.push(Diagnostic::new(
                        &f,
                        id_loc,
                        DiagnosticKind::DuplicateId {
                            id: c.plan.id.clone(),
                            other: PathBuf::from(&prev.plan.file),
                        },
                    ));
                }
                out.push(c);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The JSON Schema (draft 2020-12) of one case file.
pub fn case_schema() -> serde_json::Value {
    schemars::schema_for!(CaseFile).to_value()
}

/// [`case_schema`] as pretty JSON with a final newline: the text of the
/// committed copy `fixtures/schema/client-case.schema.json` and of
/// `tessera schema client-case`.
pub fn case_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&case_schema())
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// Collects diagnostics while checking one file.
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

    fn cites(&mut self, raw: &[Spanned<String>], loc: Loc) -> Vec<ClCite> {
        if raw.is_empty() {
            self.err(loc, "at least one CL rule in `rules`");
        }
        raw.iter()
            .filter_map(|s| match s.value.parse::<ClCite>() {
                Ok(c) => Some(c),
                Err(e) => {
                    self.err(s.loc, e.to_string());
                    None
                }
            })
            .collect()
    }

    fn template(&mut self, s: &Spanned<String>) -> UrlTemplate {
        match parse_template(&s.value) {
            Ok(t) => t,
            Err(msg) => {
                self.err(s.loc, msg);
                UrlTemplate(vec![])
            }
        }
    }
}

/// The placeholders a case may write, with what they stand for.
pub const PLACEHOLDERS: [&str; 9] = [
    "portal",
    "server",
    "federated",
    "service",
    "session",
    "origin.portal",
    "origin.server",
    "origin.federated",
    "origin.foreign",
];

fn var(name: &str) -> Option<Var> {
    Some(match name {
        "portal" => Var::Portal,
        "server" => Var::Server,
        "federated" => Var::Federated,
        "service" => Var::Service,
        "session" => Var::Session,
        "origin.portal" => Var::Origin(Role::Portal),
        "origin.server" => Var::Origin(Role::Server),
        "origin.federated" => Var::Origin(Role::Federated),
        "origin.foreign" => Var::Origin(Role::Foreign),
        _ => return None,
    })
}

/// Parses `{{portal}}/community/self` into text and placeholders; an
/// unknown or unclosed placeholder is an error saying what was expected.
pub fn parse_template(s: &str) -> Result<UrlTemplate, String> {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find("{{") {
        if at > 0 {
            parts.push(UrlPart::Text(rest[..at].to_owned()));
        }
        let after = &rest[at + 2..];
        let Some(end) = after.find("}}") else {
            return Err(format!("a closing `}}}}` for the placeholder in `{s}`"));
        };
        let name = after[..end].trim();
        match var(name) {
            Some(v) => parts.push(UrlPart::Var(v)),
            None => {
                return Err(format!(
                    "a placeholder of {}, found `{{{{{name}}}}}`{}",
                    PLACEHOLDERS
                        .iter()
                        .map(|p| format!("`{{{{{p}}}}}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    suggest(name, &PLACEHOLDERS)
                ));
            }
        }
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(UrlPart::Text(rest.to_owned()));
    }
    Ok(UrlTemplate(parts))
}

fn role(r: RoleName) -> Role {
    match r {
        RoleName::Portal => Role::Portal,
        RoleName::Server => Role::Server,
        RoleName::Federated => Role::Federated,
        RoleName::Foreign => Role::Foreign,
    }
}

fn token_kind(k: TokenKindName) -> TokenKind {
    match k {
        TokenKindName::Portal => TokenKind::Portal,
        TokenKindName::Server => TokenKind::Server,
        TokenKindName::Exchanged => TokenKind::Exchanged,
        TokenKindName::Session => TokenKind::Session,
        TokenKindName::Foreign => TokenKind::Foreign,
    }
}

fn feature(f: FeatureName) -> Feature {
    match f {
        FeatureName::Portal => Feature::Portal,
        FeatureName::Server => Feature::Server,
        FeatureName::Federation => Feature::Federation,
        FeatureName::Sessions => Feature::Sessions,
        FeatureName::Tls => Feature::Tls,
    }
}

fn envelope(e: EnvelopeName) -> Envelope {
    match e {
        EnvelopeName::Server200 => Envelope::Server200,
        EnvelopeName::Portal200 => Envelope::Portal200,
        EnvelopeName::Http401 => Envelope::Http401,
        EnvelopeName::Http403 => Envelope::Http403,
        EnvelopeName::Status => Envelope::Status,
    }
}

impl RawStep {
    /// The names of the fields set (besides `op`/`event`/`label`/`note`).
    fn fields(&self) -> Vec<&'static str> {
        let mut f = Vec::new();
        let mut add = |set: bool, name| {
            if set {
                f.push(name)
            }
        };
        add(self.url.is_some(), "url");
        add(self.method.is_some(), "method");
        add(!self.params.is_empty(), "params");
        add(self.duration.is_some(), "duration");
        add(self.auto_refresh.is_some(), "auto_refresh");
        add(self.ms.is_some(), "ms");
        add(self.user.is_some(), "user");
        add(self.all.is_some(), "all");
        add(self.role.is_some(), "role");
        add(self.path.is_some(), "path");
        add(self.code.is_some(), "code");
        add(self.envelope.is_some(), "envelope");
        add(self.times.is_some(), "times");
        add(self.retry_after_s.is_some(), "retry_after_s");
        add(self.value.is_some(), "value");
        add(self.family.is_some(), "family");
        add(self.expect.is_some(), "expect");
        f
    }
}

/// The fields each kind of step takes, and which of them it needs.
fn op_fields(op: OpName) -> (&'static [&'static str], &'static [&'static str]) {
    match op {
        OpName::Signin | OpName::Bye => (&["expect"], &[]),
        OpName::Request => (&["url", "method", "params", "expect"], &["url"]),
        OpName::SessionStart => (&["url", "duration", "auto_refresh", "expect"], &[]),
        OpName::SessionUse => (&["url", "expect"], &["url"]),
        OpName::Idle => (&["ms", "expect"], &["ms"]),
    }
}

fn event_fields(ev: EventName) -> (&'static [&'static str], &'static [&'static str]) {
    match ev {
        EventName::Revoke => (&["user", "all"], &[]),
        EventName::PasswordChange => (&["user"], &["user"]),
        EventName::Inject => (
            &["role", "path", "code", "envelope", "times", "retry_after_s"],
            &["role", "path", "code"],
        ),
        EventName::ClockJump | EventName::ClockOffset | EventName::Wait => (&["ms"], &["ms"]),
        EventName::DeclareSsl | EventName::DeclareAllSsl => (&[], &[]),
        EventName::AdvertiseOwningSystem => (&["role", "value"], &["role", "value"]),
        EventName::AdvertiseTokenUrl => (&["role", "url"], &["role", "url"]),
        EventName::SessionScopeRefuse => (&["family"], &["family"]),
    }
}

fn check(raw: CaseFile, file: &Path) -> Result<Case, Vec<Diagnostic>> {
    let mut c = Checker {
        file,
        errors: Vec::new(),
    };
    if raw.version.value != FORMAT_VERSION {
        c.errors.push(Diagnostic::new(
            file,
            raw.version.loc,
            DiagnosticKind::Version {
                expected: FORMAT_VERSION,
                found: raw.version.value,
            },
        ));
    }
    let id_ok = raw.id.value.strip_prefix("client/").is_some_and(|n| {
        !n.is_empty()
            && n.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_')
    });
    if !id_ok {
        c.err(
            raw.id.loc,
            format!(
                "an id of the form `client/name` (lowercase letters, digits, `-`, `_`), found `{}`",
                raw.id.value
            ),
        );
    }
    if raw.title.trim().is_empty() {
        c.err(raw.id.loc, "a non-empty `title`");
    }
    let rules = c.cites(&raw.rules, raw.id.loc);
    let setup = raw.setup.unwrap_or_default();
    let extra_urls = setup.extra_urls.iter().map(|u| c.template(u)).collect();
    let plan_setup = Setup {
        token_lifetime_ms: setup.token_lifetime_ms,
        clock_offset_ms: setup.clock_offset_ms.unwrap_or(0),
        https: setup.https.iter().map(|r| role(*r)).collect(),
        untrusted: setup.untrusted.iter().map(|r| role(*r)).collect(),
        extra_urls,
        context: setup.context.into_iter().collect(),
    };
    for r in &plan_setup.untrusted {
        if !plan_setup.https.contains(r) {
            c.err(
                raw.id.loc,
                format!(
                    "`setup.untrusted` roles to be in `setup.https` too, found `{}`",
                    r.as_str()
                ),
            );
        }
    }
    if raw.steps.is_empty() {
        c.err(raw.id.loc, "at least one step in `steps`");
    }

    // Labels (and event names used once) that `after`/`until` may name.
    let mut labels: Vec<(String, usize)> = Vec::new();
    for (i, s) in raw.steps.iter().enumerate() {
        if let Some(l) = &s.value.label {
            if labels.iter().any(|(n, _)| *n == l.value) {
                c.err(
                    l.loc,
                    format!("a label used once, `{}` appears twice", l.value),
                );
            }
            labels.push((l.value.clone(), i));
        }
    }
    let mut event_steps: Vec<(&'static str, usize)> = Vec::new();
    for (i, s) in raw.steps.iter().enumerate() {
        if let Some(e) = s.value.event {
            event_steps.push((e.as_str(), i));
        }
    }

    let mut steps = Vec::new();
    let mut ops = Vec::new();
    for (i, s) in raw.steps.iter().enumerate() {
        let (loc, st) = (s.loc, &s.value);
        let kind_name;
        let (allowed, needed) = match (st.op, st.event) {
            (Some(op), None) => {
                kind_name = format!("op: {}", op.as_str());
                op_fields(op)
            }
            (None, Some(ev)) => {
                kind_name = format!("event: {}", ev.as_str());
                event_fields(ev)
            }
            (a, b) => {
                c.err(
                    loc,
                    format!(
                        "exactly one of `op` and `event` in a step, found {}",
                        if a.is_some() && b.is_some() {
                            "both"
                        } else {
                            "neither"
                        }
                    ),
                );
                continue;
            }
        };
        let fields = st.fields();
        for f in &fields {
            if !allowed.contains(f) {
                c.err(
                    loc,
                    format!(
                        "only {} with `{kind_name}`, found `{f}`",
                        if allowed.is_empty() {
                            "no further fields".to_owned()
                        } else {
                            allowed
                                .iter()
                                .map(|a| format!("`{a}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                );
            }
        }
        for n in needed {
            if !fields.contains(n) {
                c.err(loc, format!("`{n}` in a step with `{kind_name}`"));
            }
        }
        let line = loc.line as usize;
        let kind = if let Some(op) = st.op {
            if let Some(e) = &st.expect {
                let rules = c.cites(&e.rules, loc);
                ops.push(OpExpect {
                    step: i,
                    line,
                    ok: e.ok,
                    rules,
                });
            }
            StepKind::Op(match op {
                OpName::Signin => OpPlan::Signin,
                OpName::Bye => OpPlan::Bye,
                OpName::Request => OpPlan::Request {
                    url: st
                        .url
                        .as_ref()
                        .map(|u| c.template(u))
                        .unwrap_or(UrlTemplate(vec![])),
                    method: st.method.as_ref().map(|m| m.to_ascii_uppercase()),
                    params: st
                        .params
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                },
                OpName::SessionStart => {
                    if let Some(d) = st.duration
                        && !(10..=43200).contains(&d)
                    {
                        c.err(
                            loc,
                            format!("`duration` within 10..43200 seconds, found {d}"),
                        );
                    }
                    OpPlan::SessionStart {
                        url: st.url.as_ref().map(|u| c.template(u)),
                        duration: st.duration,
                        auto_refresh: st.auto_refresh,
                    }
                }
                OpName::SessionUse => OpPlan::SessionUse {
                    url: st
                        .url
                        .as_ref()
                        .map(|u| c.template(u))
                        .unwrap_or(UrlTemplate(vec![])),
                },
                OpName::Idle => OpPlan::Idle {
                    ms: nonneg(&mut c, st.ms, loc),
                },
            })
        } else {
            let ev = st.event.unwrap_or(EventName::Wait);
            StepKind::Event(match ev {
                EventName::Revoke => match (&st.user, st.all) {
                    (Some(u), None | Some(false)) => Event::Revoke(Revoke::User(u.clone())),
                    (None, Some(true)) => Event::Revoke(Revoke::AllTokens),
                    _ => {
                        c.err(
                            loc,
                            "exactly one of `user: NAME` and `all: true` in a revoke",
                        );
                        Event::Revoke(Revoke::AllTokens)
                    }
                },
                EventName::PasswordChange => Event::PasswordChange {
                    user: st.user.clone().unwrap_or_default(),
                },
                EventName::Inject => {
                    let code = st.code.unwrap_or(498);
                    let env = st.envelope.map(envelope).unwrap_or(Envelope::Server200);
                    if matches!(code, 429 | 500..=599) != (env == Envelope::Status)
                        && st.envelope.is_some()
                    {
                        c.err(
                            loc,
                            format!(
                                "`envelope: status` exactly for HTTP statuses (429, 5xx), found code {code}"
                            ),
                        );
                    }
                    Event::Inject {
                        role: st.role.map(role).unwrap_or(Role::Portal),
                        path_suffix: st.path.clone().unwrap_or_default(),
                        code,
                        envelope: if st.envelope.is_none() && matches!(code, 429 | 500..=599) {
                            Envelope::Status
                        } else {
                            env
                        },
                        times: st.times.unwrap_or(1),
                        retry_after_s: st.retry_after_s,
                    }
                }
                EventName::ClockJump => Event::ClockJump {
                    ms: st.ms.unwrap_or(0),
                },
                EventName::ClockOffset => Event::ClockOffset {
                    ms: st.ms.unwrap_or(0),
                },
                EventName::Wait => Event::Wait {
                    ms: nonneg(&mut c, st.ms, loc),
                },
                EventName::DeclareSsl => Event::DeclareSsl,
                EventName::DeclareAllSsl => Event::DeclareAllSsl,
                EventName::AdvertiseOwningSystem => Event::AdvertiseOwningSystem {
                    role: st.role.map(role).unwrap_or(Role::Foreign),
                    value: st
                        .value
                        .as_ref()
                        .map(|u| c.template(u))
                        .unwrap_or(UrlTemplate(vec![])),
                },
                EventName::AdvertiseTokenUrl => Event::AdvertiseTokenUrl {
                    role: st.role.map(role).unwrap_or(Role::Foreign),
                    url: st
                        .url
                        .as_ref()
                        .map(|u| c.template(u))
                        .unwrap_or(UrlTemplate(vec![])),
                },
                EventName::SessionScopeRefuse => Event::SessionScopeRefuse {
                    family: st.family.clone().unwrap_or_default(),
                },
            })
        };
        steps.push(Step { line, kind });
    }

    let anchor = |c: &mut Checker, a: &Option<Spanned<String>>| -> Option<usize> {
        let a = a.as_ref()?;
        if let Some((_, i)) = labels.iter().find(|(n, _)| *n == a.value) {
            return Some(*i);
        }
        let uses: Vec<usize> = event_steps
            .iter()
            .filter(|(n, _)| *n == a.value)
            .map(|(_, i)| *i)
            .collect();
        match uses[..] {
            [i] => Some(i),
            [] => {
                let mut names: Vec<&str> = labels.iter().map(|(n, _)| n.as_str()).collect();
                names.extend(event_steps.iter().map(|(n, _)| *n));
                c.err(
                    a.loc,
                    format!(
                        "a step `label` or an event of this case, found `{}`{}",
                        a.value,
                        suggest(&a.value, &names)
                    ),
                );
                None
            }
            _ => {
                c.err(
                    a.loc,
                    format!(
                        "a step `label`: the event `{}` occurs {} times in this case",
                        a.value,
                        uses.len()
                    ),
                );
                None
            }
        }
    };

    let mut checks = Vec::new();
    for s in &raw.expect {
        let (loc, rc) = (s.loc, &s.value);
        let rules = c.cites(&rc.rules, loc);
        let after = anchor(&mut c, &rc.after);
        let until = anchor(&mut c, &rc.until);
        let kinds = [rc.count.is_some(), rc.never.is_some(), rc.renewal.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            c.err(
                loc,
                "exactly one of `count`, `never`, `renewal` in a check".to_owned(),
            );
            continue;
        }
        let what = if let Some(f) = &rc.count {
            if f.min.is_none() && f.max.is_none() {
                c.err(loc, "`min` or `max` in a `count`");
            }
            if let (Some(a), Some(b)) = (f.min, f.max)
                && a > b
            {
                c.err(loc, format!("`min` ({a}) at most `max` ({b})"));
            }
            CheckKind::Count {
                filter: filter(f),
                min: f.min,
                max: f.max,
            }
        } else if let Some(f) = &rc.never {
            if f.min.is_some() || f.max.is_some() {
                c.err(loc, "no `min`/`max` in `never` (it means `max: 0`)");
            }
            CheckKind::Count {
                filter: filter(f),
                min: None,
                max: Some(0),
            }
        } else {
            CheckKind::Renewal {
                kind: token_kind(rc.renewal.unwrap_or(TokenKindName::Portal)),
            }
        };
        checks.push(Check {
            line: loc.line as usize,
            rules,
            after,
            until,
            what,
            note: rc.note.clone(),
        });
    }

    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    let mut requires: Vec<Feature> = raw.requires.iter().map(|f| feature(*f)).collect();
    requires.sort();
    requires.dedup();
    Ok(Case {
        plan: CasePlan {
            id: raw.id.value,
            title: raw.title,
            file: file.display().to_string(),
            rules: rules.iter().map(|r| r.to_string()).collect(),
            requires,
            tier: match raw.tier {
                Some(TierName::Slow) => Tier::Slow,
                _ => Tier::Fast,
            },
            setup: plan_setup,
            steps,
            allow_client_error: raw.allow_client_error,
        },
        expect: Expectations { ops, checks },
    })
}

fn nonneg(c: &mut Checker, ms: Option<i64>, loc: Loc) -> u64 {
    match ms {
        Some(v) if v >= 0 => v as u64,
        Some(v) => {
            c.err(loc, format!("`ms` of at least 0, found {v}"));
            0
        }
        None => 0,
    }
}

fn filter(f: &RawFilter) -> Filter {
    Filter {
        roles: f.role.iter().map(|r| role(*r)).collect(),
        path_suffix: f.path.clone(),
        method: f.method.as_ref().map(|m| m.to_ascii_uppercase()),
        scheme: f.scheme.map(|s| match s {
            SchemeName::Http => Scheme::Http,
            SchemeName::Https => Scheme::Https,
        }),
        acquisition: f.acquisition,
        password: f.password,
        token: f.token.map(|t| match t {
            TokenMatchName::Any => TokenMatch::Any,
            TokenMatchName::None => TokenMatch::None,
            TokenMatchName::Revoked => TokenMatch::Revoked,
            TokenMatchName::Rejected => TokenMatch::Rejected,
            TokenMatchName::Home => TokenMatch::Home,
            TokenMatchName::OtherCase => TokenMatch::OtherCase,
        }),
        token_kind: f.token_kind.map(token_kind),
        error_code: f.error_code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(src: &str) -> Vec<String> {
        match parse_case(src, Path::new("c.yaml")) {
            Ok(_) => panic!("loaded: {src}"),
            Err(ds) => ds.iter().map(|d| d.to_string()).collect(),
        }
    }

    const HEAD: &str = "version: 1\nid: client/x\ntitle: t\nrules: [CL-8]\nrequires: [portal]\n";

    #[test]
    fn the_module_example_loads_into_a_plan_and_expectations() {
        let src = r#"version: 1
id: client/renew-after-revocation
title: A revoked portal token is replaced once, and never resent
rules: [CL-8, CL-14]
requires: [portal]
setup: {token_lifetime_ms: 60000, extra_urls: ["{{origin.foreign}}/x?u={{portal}}"]}
steps:
  - op: signin
  - op: request
    url: "{{portal}}/community/self"
  - event: revoke
    user: alice
  - op: request
    url: "{{portal}}/community/self"
    expect: {ok: true, rules: [CL-8/SHOULD]}
expect:
  - after: revoke
    count: {acquisition: true, max: 1}
    rules: [CL-8/MUST, CL-14]
"#;
        let case = parse_case(src, Path::new("c.yaml")).unwrap();
        let p = &case.plan;
        assert_eq!(p.rules, ["CL-8", "CL-14"]);
        assert_eq!(p.requires, [Feature::Portal]);
        assert_eq!(p.setup.token_lifetime_ms, Some(60000));
        assert_eq!(
            p.setup.extra_urls[0].0,
            vec![
                UrlPart::Var(Var::Origin(Role::Foreign)),
                UrlPart::Text("/x?u=".into()),
                UrlPart::Var(Var::Portal)
            ]
        );
        assert_eq!(p.steps.len(), 4);
        assert_eq!(p.steps[3].line, 13);
        assert_eq!(
            p.steps[2].kind,
            StepKind::Event(Event::Revoke(Revoke::User("alice".into())))
        );
        let e = &case.expect;
        assert_eq!((e.ops[0].step, e.ops[0].ok), (3, true));
        assert_eq!(e.ops[0].rules[0].to_string(), "CL-8/SHOULD");
        assert_eq!(e.checks[0].after, Some(2));
        assert_eq!(e.checks[0].line, 17);
        assert!(matches!(
            &e.checks[0].what,
            CheckKind::Count { filter, max: Some(1), min: None } if filter.acquisition == Some(true)
        ));
    }

    #[test]
    fn bad_files_give_located_errors_with_suggestions() {
        let cases = [
            (
                format!("{HEAD}steps:\n  - op: signin\n    urll: x\n"),
                "c.yaml:8:5: error: one of the fields",
            ),
            (
                format!("{HEAD}steps:\n  - op: request\n    url: \"{{{{portl}}}}/x\"\n"),
                "c.yaml:8:10: error: a placeholder of `{{portal}}`",
            ),
            (
                format!("{HEAD}steps:\n  - op: request\n"),
                "c.yaml:7:5: error: `url` in a step with `op: request`",
            ),
            (
                format!("{HEAD}steps:\n  - op: signin\n    ms: 5\n"),
                "c.yaml:7:5: error: only `expect` with `op: signin`, found `ms`",
            ),
            (
                format!("{HEAD}steps:\n  - op: signin\n    event: revoke\n"),
                "c.yaml:7:5: error: exactly one of `op` and `event` in a step, found both",
            ),
            (
                format!(
                    "{HEAD}steps:\n  - op: signin\nexpect:\n  - rules: [CL-8]\n    after: revok\n    never: {{}}\n"
                ),
                "c.yaml:10:12: error: a step `label` or an event of this case, found `revok`",
            ),
            (
                format!(
                    "{HEAD}steps:\n  - op: signin\nexpect:\n  - rules: [CL-1/SHOULD]\n    never: {{}}\n"
                ),
                "c.yaml:9:13: error: `CL-1/SHOULD` names a SHOULD clause",
            ),
            (
                "version: 1\nid: client/x\ntitle: t\nrules: [CL8]\nsteps: [{op: signin}]\n".into(),
                "c.yaml:4:9: error: a rule ID of client-rules.md (`CL-1` .. `CL-15`), found `CL8`; did you mean `CL-8`?",
            ),
            (
                format!("{HEAD}steps:\n  - op: session.start\n    duration: 5\n"),
                "c.yaml:7:5: error: `duration` within 10..43200 seconds, found 5",
            ),
            (
                "version: 2\nid: x/y\ntitle: t\nrules: [CL-1]\nsteps: [{op: signin}]\n".into(),
                "c.yaml:1:10: error: `version: 1`",
            ),
        ];
        for (src, want) in cases {
            let got = errors(&src);
            assert!(
                got.iter().any(|g| g.starts_with(want)),
                "want {want}\ngot {got:#?}\n{src}"
            );
        }
        // `did you mean` on a misspelt placeholder.
        let got = errors(&format!(
            "{HEAD}steps:\n  - op: request\n    url: \"{{{{origin.foriegn}}}}/x\"\n"
        ));
        assert!(
            got[0].ends_with("(did you mean `origin.foreign`?)"),
            "{got:?}"
        );
    }

    #[test]
    fn a_duplicate_id_is_reported_where_the_second_file_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        let body = "version: 1\n# a comment\nid: client/same\ntitle: t\nrules: [CL-1]\nsteps: [{op: signin}]\n";
        std::fs::write(dir.path().join("a.yaml"), body).unwrap();
        std::fs::write(dir.path().join("b.yaml"), body).unwrap();
        let errs = load_cases(&[dir.path().to_owned()]).unwrap_err();
        assert_eq!(errs.len(), 1);
        let text = errs[0].to_string();
        assert!(
            text.contains("b.yaml:3:5: error: a scenario id unique"),
            "{text}"
        );
    }

    #[test]
    fn committed_schema_is_current() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/schema/client-case.schema.json"
        );
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == case_schema_text(),
            "fixtures/schema/client-case.schema.json is stale; regenerate it with\n    \
             cargo run -- schema client-case > fixtures/schema/client-case.schema.json"
        );
    }

    #[test]
    fn the_schema_denies_unknown_fields_and_names_ops_and_events() {
        let s = case_schema();
        assert_eq!(s["additionalProperties"], false);
        let text = s.to_string();
        for name in [
            "session.start",
            "advertise-owning-system",
            "clock.offset",
            "renewal",
        ] {
            assert!(text.contains(name), "{name}");
        }
    }

    #[test]
    fn every_case_in_specs_clients_loads_and_ids_are_unique() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/clients");
        let cases = load_cases(&[dir]).unwrap_or_else(|ds| {
            panic!(
                "{}",
                ds.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert!(cases.len() >= 20, "{} cases", cases.len());
        // Every CL rule is cited by some case.
        for r in super::super::rules::CL_RULES {
            assert!(
                cases.iter().any(|c| c
                    .plan
                    .rules
                    .iter()
                    .any(|x| super::super::rules::cites(x, r.id))),
                "no case cites {}",
                r.id
            );
        }
    }
}
