//! A certification case as a typed plan: which features it needs, the
//! server settings it runs with, and its timeline: driver operations and
//! server-side events in order. Case files (`specs/clients/`) are loaded
//! and validated into this; the harness plays it and parses nothing.

use serde::Serialize;

use super::journal::Role;
use super::protocol::Feature;

/// Fast cases use short token lifetimes; slow ones real minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    #[default]
    Fast,
    Slow,
}

/// A URL the case names, with the case's listeners still to be put in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UrlTemplate(pub Vec<UrlPart>);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum UrlPart {
    Text(String),
    Var(Var),
}

/// The placeholders a case may use (`{{portal}}` ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Var {
    /// `TESSERA_PORTAL_URL`: `<portal origin>/sharing/rest`.
    Portal,
    /// `TESSERA_SERVER_URL`: `<server origin>/arcgis`.
    Server,
    /// `TESSERA_FEDERATED_URL`: `<federated origin>/federated`.
    Federated,
    /// `TESSERA_SERVICE_URL`: a secured service on the case's primary root.
    Service,
    /// `TESSERA_SESSION_URL`: `.../styles/v2/sessions/start`.
    Session,
    /// The origin (`scheme://host:port`) of a role's listener.
    Origin(Role),
}

impl UrlTemplate {
    /// The URL with each placeholder replaced by `value(var)`.
    pub fn resolve(&self, value: &dyn Fn(Var) -> String) -> String {
        self.0
            .iter()
            .map(|p| match p {
                UrlPart::Text(t) => t.clone(),
                UrlPart::Var(v) => value(*v),
            })
            .collect()
    }
}

/// A driver operation with its URLs still templates (see `protocol::Op`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum OpPlan {
    Signin,
    Request {
        url: UrlTemplate,
        method: Option<String>,
        params: Vec<(String, String)>,
    },
    SessionStart {
        url: Option<UrlTemplate>,
        duration: Option<u32>,
        auto_refresh: Option<bool>,
    },
    SessionUse {
        url: UrlTemplate,
    },
    Idle {
        ms: u64,
    },
    Bye,
}

/// Which tokens a revocation hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Revoke {
    /// Every token of this user (and sessions started with them).
    User(String),
    /// Every token issued so far in the case.
    AllTokens,
}

/// How an injected error is wrapped (CL-9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Envelope {
    /// HTTP 200, `{"error": {"code": N, "message": "Invalid Token"}}` (Server).
    Server200,
    /// HTTP 200 with Portal's text `Invalid token.`.
    Portal200,
    /// HTTP 401 with a JSON body and the location service's `Token Invalid.`.
    Http401,
    /// HTTP 403 with a JSON body.
    Http403,
    /// Only the HTTP status (429, 503, ...), with a JSON body.
    Status,
}

/// A server-side event of the timeline (`client-rules.md`, c.6).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    /// Later uses of the hit tokens get 498.
    Revoke(Revoke),
    /// Later generateToken with the old password gets 400.
    PasswordChange { user: String },
    /// The next `times` requests to `role` whose path ends with
    /// `path_suffix` answer `code` in `envelope`.
    Inject {
        role: Role,
        path_suffix: String,
        code: u16,
        envelope: Envelope,
        times: u32,
        retry_after_s: Option<u32>,
    },
    /// The server clock moves forward by `ms` (every token may expire at once).
    ClockJump { ms: i64 },
    /// The server clock's offset from real time becomes `ms` (skew).
    ClockOffset { ms: i64 },
    /// Later token answers say `ssl: true`.
    DeclareSsl,
    /// `portals/self` says `allSSL: true`.
    DeclareAllSsl,
    /// `rest/info` of `role` answers this `owningSystemUrl`.
    AdvertiseOwningSystem { role: Role, value: UrlTemplate },
    /// `rest/info` of `role` advertises this token service URL.
    AdvertiseTokenUrl { role: Role, url: UrlTemplate },
    /// Styles of this family answer 403 (SL scope).
    SessionScopeRefuse { family: String },
    /// The harness waits this long (real time) before the next step.
    Wait { ms: u64 },
}

/// One step of the timeline, with its place in the case file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// 1-based line in the case file (0 when built in code).
    pub line: usize,
    pub kind: StepKind,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    Op(OpPlan),
    Event(Event),
}

/// The server settings a case runs with.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Setup {
    /// Lifetime of every token the reference issues, whatever was asked
    /// (fast tier, e.g. 20 s); `None`: the reference's own lifetimes.
    pub token_lifetime_ms: Option<u64>,
    /// The server clock's offset from real time at the start (skew).
    pub clock_offset_ms: i64,
    /// Which roles' listeners speak HTTPS (with the run's CA).
    pub https: Vec<Role>,
    /// Which roles' HTTPS listeners present an untrusted certificate.
    pub untrusted: Vec<Role>,
    /// Extra context handed to the driver in `TESSERA_CONTEXT` (`extra_urls`
    /// are templates resolved by the harness).
    pub extra_urls: Vec<UrlTemplate>,
    pub context: serde_json::Map<String, serde_json::Value>,
}

/// A loaded, validated certification case.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CasePlan {
    pub id: String,
    pub title: String,
    /// The file it came from (for diagnostics and replay commands).
    pub file: String,
    /// The CL rules it checks, as written (`CL-8`, `CL-7/SHOULD`).
    pub rules: Vec<String>,
    pub requires: Vec<Feature>,
    pub tier: Tier,
    pub setup: Setup,
    pub steps: Vec<Step>,
    /// A driver error is acceptable (refusing an attacker, CL-6).
    pub allow_client_error: bool,
}
