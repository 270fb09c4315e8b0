//! What the reference saw during one certification case, as data: the
//! listeners it opened, every request (carriers, credentials, which issued
//! token it carried; token and password *values* are never stored), the
//! registry of tokens it issued with their provenance, the events it
//! applied, and the driver's transcript. The evaluators are pure functions
//! of a [`CaseRecord`] and the case's plan.
//!
//! Times: `real_ms` is milliseconds since the case started on the harness's
//! (= the client's) clock; `server_ms` is the reference's clock (real time
//! plus the case's offset) in epoch milliseconds.

use std::net::IpAddr;

use serde::Serialize;

use super::plan::Event;
use super::protocol::{Hello, Op, Outcome};

/// The part a listener plays in a case (`client-rules.md` "Terms").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The home portal (`/sharing/rest`).
    Portal,
    /// The home stand-alone server (`/arcgis`, its own token service).
    Server,
    /// A server whose `owningSystemUrl` is the home portal (`/federated`).
    Federated,
    /// Any other origin; the reference plays an attacker or a stranger here.
    Foreign,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Portal, Role::Server, Role::Federated, Role::Foreign];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Portal => "portal",
            Role::Server => "server",
            Role::Federated => "federated",
            Role::Foreign => "foreign",
        }
    }

    /// Home origins are the ones the driver was configured with.
    pub fn is_home(self) -> bool {
        matches!(self, Role::Portal | Role::Server)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Http,
    Https,
}

/// One listener of a case: a role on one origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listener {
    pub role: Role,
    pub scheme: Scheme,
    /// `scheme://127.0.0.1:port`, no trailing slash.
    pub origin: String,
    /// Presents a certificate outside `TESSERA_CA_FILE` (CL-12 SHOULD).
    pub untrusted: bool,
}

/// Where a token travelled in a request (CL-3's variants, CL-4's count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Carrier {
    /// `X-Esri-Authorization: Bearer`.
    XEsriHeader,
    /// `Authorization: Bearer`.
    AuthorizationHeader,
    /// `token` in the URL query.
    Query,
    /// `token` in a form body.
    Body,
    /// The `agstoken` cookie.
    Cookie,
}

/// Which token a carrier held, by the registry; values are never kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Seen {
    /// A token the reference issued in this case.
    Issued(TokenId),
    /// A token the reference issued in *another* case of the run (a leak).
    OtherCase,
    /// Anything else (garbage, `None`, a token of no case).
    Unknown,
}

/// One token presented in one carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Presented {
    pub carrier: Carrier,
    pub token: Seen,
}

/// Where a password was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Place {
    Query,
    Body,
}

/// Credentials seen in a request (the password's value is never kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Credentials {
    pub username: Option<String>,
    pub password: Option<Place>,
}

/// One request the reference received during a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Position in the case's journal, from 0.
    pub seq: usize,
    /// Index into [`Journal::listeners`].
    pub listener: usize,
    pub role: Role,
    pub scheme: Scheme,
    pub real_ms: i64,
    pub server_ms: i64,
    pub method: String,
    /// The path, without query.
    pub path: String,
    /// Parameter names in the query and in a form body (values not kept).
    pub query_keys: Vec<String>,
    pub body_keys: Vec<String>,
    pub presented: Vec<Presented>,
    pub credentials: Option<Credentials>,
    pub referer: Option<String>,
    pub peer: IpAddr,
    /// The HTTP status answered.
    pub status: u16,
    /// `error.code` of the answer's JSON body, if any.
    pub error_code: Option<i64>,
    /// The token this request obtained, if it was an issuing request.
    pub issued: Option<TokenId>,
    /// Answered by an injected fault (an [`Event::Inject`]), not the reference.
    pub injected: bool,
}

/// A registry index; shown to people as `T1`, `T2`, ... in order of issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct TokenId(pub u32);

impl TokenId {
    pub fn label(self) -> String {
        format!("T{}", self.0 + 1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKind {
    /// From the portal's generateToken with a password.
    Portal,
    /// From a stand-alone server's generateToken with a password.
    Server,
    /// A server token from an exchange (TS-8).
    Exchanged,
    /// A basemap session token (`sessions/start`).
    Session,
    /// Issued by the foreign origin (an attacker's token).
    Foreign,
}

/// What a token was bound to when issued (CL-15's variants).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Binding {
    Referer(String),
    RequestIp,
    Ip(String),
    None,
}

/// A token the reference issued, with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IssuedToken {
    pub id: TokenId,
    pub kind: TokenKind,
    pub user: String,
    /// The origin it may be presented to (CL-5), `scheme://host:port`.
    pub scope_origin: String,
    /// The path prefix under that origin (`/sharing/rest`, `/arcgis`, ...).
    pub scope_root: String,
    /// The request that obtained it ([`Entry::seq`]).
    pub issued_by: usize,
    pub issued_real_ms: i64,
    pub issued_server_ms: i64,
    /// `expires` as answered (server clock, epoch ms).
    pub expires_server_ms: i64,
    pub binding: Binding,
    /// The token it was exchanged from (TS-8) or the session's access token.
    pub from: Option<TokenId>,
    /// When a revocation event hit it (real ms).
    pub revoked_real_ms: Option<i64>,
}

/// An event the harness applied, when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    /// Index of the step in the plan.
    pub step: usize,
    pub real_ms: i64,
    pub event: Event,
}

/// Everything the reference saw in one case.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Journal {
    pub listeners: Vec<Listener>,
    pub entries: Vec<Entry>,
    pub tokens: Vec<IssuedToken>,
    pub events: Vec<Applied>,
    /// The server clock's offset from real time when the case started.
    pub start_offset_ms: i64,
}

impl Journal {
    pub fn token(&self, id: TokenId) -> Option<&IssuedToken> {
        self.tokens.get(id.0 as usize)
    }
}

/// One operation sent to the driver and what came back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpRecord {
    /// Index of the step in the plan.
    pub step: usize,
    pub op: Op,
    pub sent_real_ms: i64,
    pub answered_real_ms: Option<i64>,
    /// `None`: no answer before the deadline or the driver ended.
    pub outcome: Option<Outcome>,
}

/// How the driver process ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriverEnd {
    /// Exited by itself with this code.
    Exited(i32),
    /// Killed by a signal it did not ask for (crash).
    Signalled(i32),
    /// Killed (process group) at the deadline.
    TimedOut,
    /// Could not be started (the message says why).
    SpawnFailed(String),
    /// Wrote something that is not the contract (killed then).
    Protocol(String),
}

/// The driver's side of a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transcript {
    pub hello: Option<Hello>,
    pub ops: Vec<OpRecord>,
    pub end: DriverEnd,
    /// The last lines of its stderr, for the report (drivers must not print
    /// secrets; the harness masks the case's password and issued tokens).
    pub stderr_tail: String,
}

/// One played case: the journal and the transcript.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseRecord {
    pub case: String,
    pub journal: Journal,
    pub transcript: Transcript,
}
