//! The reference model: the token state of semantics.md as plain data, and
//! what a conformant target answers to each [`Op`].
//!
//! Pure: no I/O, no clock, no randomness. Time is milliseconds since the
//! start of a fuzz case (the target's clock at reset is the origin), so the
//! model can be compared with any target whose clock we control.
//!
//! `predict` and `apply` are both derived from one function (`step`), so the
//! state a prediction assumes and the state the next operation sees cannot
//! drift apart. Every expected answer cites the rules it follows, so a
//! divergence names the rule it breaks. Knob values come from [`Knobs`];
//! the few numbers fixed by rule text (ArcWeb's `tout`, session durations)
//! are the reference server's own constants (`reference::arcweb`,
//! `reference::basemap`), so the two cannot disagree about them.

use crate::knobs::Knobs;
use crate::reference::StyleFamily;
use crate::reference::arcweb::{DEFAULT_TOUT_MINUTES, MAX_TOUT_MINUTES, RENEW_MINUTES};
use crate::reference::basemap::{DEFAULT_DURATION_S, MAX_DURATION_S, MIN_DURATION_S};

use super::ops::*;

const MINUTE_MS: i64 = 60_000;

/// The knobs [`predict`] reads: a regression scenario states their values,
/// because its expectations hold where they do.
pub const KNOBS_READ: &[&str] = &[
    "short_lived_minutes",
    "max_expiration_minutes",
    "portal_short_lived_minutes",
    "portal_max_expiration_minutes",
    "web_tier_auth",
    "max_concurrent_sessions",
];

/// TS-2: the shape of a token, as a regular expression: 64–256 characters,
/// URL-safe (RFC 3986 unreserved, so no `+ / =`).
pub const TOKEN_PATTERN: &str = "^[A-Za-z0-9._~-]{64,256}$";

/// Whether `t` has the shape of [`TOKEN_PATTERN`].
pub fn token_shaped(t: &str) -> bool {
    (64..=256).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
}

/// Where a token is bound (IP-1, IP-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    None,
    Ip(Addr),
    /// An index into [`BIND_REFERERS`].
    Referer(usize),
}

/// An `arcgis-token` token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub user: User,
    /// The user's password epoch at issue (LT-9).
    pub epoch: u32,
    pub path: TokenPath,
    pub issued: i64,
    pub expires: i64,
    pub binding: Binding,
}

/// An ArcWeb token (always address-bound, IP-5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcToken {
    pub user: User,
    pub epoch: u32,
    pub expires: i64,
    pub bound: Addr,
}

/// An ArcWeb user ID (LT-8: no expiry, no binding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserId {
    pub user: User,
    pub epoch: u32,
}

/// A basemap session (SL-2, SL-4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    /// The token handle it was started with.
    pub parent: Handle,
    pub family: StyleFamily,
    pub start: i64,
    pub end: i64,
}

/// Everything a conformant target remembers, as far as the fuzzer can see.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    /// Milliseconds since the case started.
    pub now: i64,
    /// Password epoch per user (index: [`User::index`]); 0 is the fixture password.
    pub epochs: [u32; 2],
    pub tokens: Vec<Token>,
    pub arc_tokens: Vec<ArcToken>,
    pub user_ids: Vec<UserId>,
    pub sessions: Vec<Session>,
}

impl State {
    pub fn epoch(&self, u: User) -> u32 {
        self.epochs[u.index()]
    }

    /// Handles of Server-path tokens (the ones `/arcgis` services take).
    pub fn server_token_handles(&self) -> Vec<Handle> {
        (0..self.tokens.len())
            .filter(|h| self.tokens[*h].path == TokenPath::Server)
            .collect()
    }

    /// The password a user has after `epoch` changes made by the fuzzer
    /// (`None`: the fixture password).
    pub fn fuzz_password(u: User, epoch: u32) -> Option<String> {
        (epoch > 0).then(|| format!("{}-fuzz-{epoch}", u.alias()))
    }
}

/// The shape of an answer body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// ArcGIS JSON; `error` is the expected `error.code` (`None`: no error).
    Json,
    /// ArcWeb `text/plain` (LT-7a).
    Text,
}

/// A check on one field of a successful answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// A JSON field holds an instant, in model time (ms since case start).
    JsonInstant {
        path: &'static str,
        at: i64,
    },
    JsonIsString {
        path: &'static str,
    },
    /// TS-2: a token is a string of 64–256 URL-safe characters.
    JsonIsToken {
        path: &'static str,
    },
    JsonIsBool {
        path: &'static str,
    },
    JsonEquals {
        path: &'static str,
        value: serde_json::Value,
    },
    /// The text body is a non-empty value without whitespace.
    BodyIsValue,
    /// The text body equals the secret captured under this name.
    BodyEqualsCapture(String),
    BodyContains(&'static str),
}

/// One acceptable answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub status: u16,
    pub body: BodyKind,
    pub error: Option<i64>,
    pub checks: Vec<Check>,
    /// The rules this answer follows.
    pub rules: Vec<&'static str>,
}

impl Expected {
    fn json(status: u16, error: Option<i64>, rules: &[&'static str]) -> Self {
        Expected {
            status,
            body: BodyKind::Json,
            error,
            checks: Vec::new(),
            rules: rules.to_vec(),
        }
    }
    fn text(status: u16, rules: &[&'static str]) -> Self {
        Expected {
            status,
            body: BodyKind::Text,
            error: None,
            checks: Vec::new(),
            rules: rules.to_vec(),
        }
    }
    fn with(mut self, c: Check) -> Self {
        self.checks.push(c);
        self
    }
}

/// Where a new secret is read from in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFrom {
    Json(&'static str),
    Body,
}

/// A secret the answer issues, kept under `name` for later operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub name: String,
    pub from: CaptureFrom,
}

/// What the model predicts for one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Acceptable answers; more than one only where semantics.md leaves the
    /// order of two refusals open (they never differ in their effect).
    /// Empty for control operations (clock, password).
    pub accept: Vec<Expected>,
    pub capture: Option<Capture>,
}

impl Prediction {
    /// Every rule any acceptable answer cites, deduplicated, in order.
    pub fn rules(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for e in &self.accept {
            for r in &e.rules {
                if !out.contains(r) {
                    out.push(r);
                }
            }
        }
        out
    }
}

/// Capture names: stable functions of the handle, so the YAML writer and the
/// fuzz loop agree without sharing a table.
pub fn token_capture(h: Handle) -> String {
    format!("t{}", h + 1)
}
pub fn arc_capture(h: Handle) -> String {
    format!("a{}", h + 1)
}
pub fn uid_capture(h: Handle) -> String {
    format!("u{}", h + 1)
}
pub fn session_capture(h: Handle) -> String {
    format!("s{}", h + 1)
}

/// How far a clock move goes, in ms (`None`: its handle does not exist).
pub fn advance_ms(s: &State, a: &Advance) -> Option<i64> {
    let to = |at: i64, off: i8| at + i64::from(off) - s.now;
    match a {
        Advance::Ms(ms) => i64::try_from(*ms).ok(),
        Advance::ToTokenExpiry { handle, offset } => {
            s.tokens.get(*handle).map(|t| to(t.expires, *offset))
        }
        Advance::ToArcwebExpiry { handle, offset } => {
            s.arc_tokens.get(*handle).map(|t| to(t.expires, *offset))
        }
        Advance::ToSessionEnd { handle, offset } => {
            s.sessions.get(*handle).map(|t| to(t.end, *offset))
        }
    }
}

/// IP-3: the request's Referer starts with the bound referer; scheme and host
/// compare case-insensitively, the path case-sensitively; a bound referer
/// that is not an absolute URL is a plain, case-sensitive prefix.
pub fn referer_matches(bound: &str, sent: &str) -> bool {
    fn fold(u: &str) -> Option<String> {
        let (scheme, rest) = u.split_once("://")?;
        let (host, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        Some(format!(
            "{}://{}{}",
            scheme.to_ascii_lowercase(),
            host.to_ascii_lowercase(),
            path
        ))
    }
    match fold(bound) {
        Some(b) => fold(sent).is_some_and(|s| s.starts_with(&b)),
        None => sent.starts_with(bound),
    }
}

fn creds_ok(s: &State, u: User, p: Password) -> bool {
    match p {
        Password::Current => true,
        Password::Initial => s.epoch(u) == 0,
        Password::Wrong | Password::WrongCase => false,
    }
}

/// Why an issued token is refused on a request (all answer 498).
fn token_refusal(
    s: &State,
    h: Handle,
    from: Addr,
    referer: Option<usize>,
) -> Result<User, &'static str> {
    let t = &s.tokens[h];
    if s.now >= t.expires {
        return Err("LT-5");
    }
    if t.epoch != s.epoch(t.user) {
        return Err("LT-9");
    }
    match t.binding {
        Binding::None => {}
        Binding::Ip(a) if a != from => return Err("IP-2"),
        Binding::Ip(_) => {}
        Binding::Referer(r) => {
            let ok = referer.is_some_and(|x| referer_matches(BIND_REFERERS[r], SENT_REFERERS[x]));
            if !ok {
                return Err("IP-3");
            }
        }
    }
    Ok(t.user)
}

/// The state change an answer implies.
#[derive(Debug, Clone)]
enum Effect {
    NewToken(Token),
    NewArc(ArcToken),
    Renew { h: Handle, expires: i64 },
    NewUid(UserId),
    NewSession(Session),
    Advance(i64),
    PasswordChange(User),
}

/// The winning carrier of a secured request (HP-2, HP-4, HP-5), with the
/// rules that decided it.
pub fn winning_carrier(k: &Knobs, c: &Carriers) -> Option<(CarrierName, TokRef)> {
    if let Some(t) = &c.x_esri {
        return Some((CarrierName::XEsriAuthorization, t.clone()));
    }
    if !k.web_tier_auth {
        match &c.authorization {
            Some(AuthHeader::Bearer(t)) | Some(AuthHeader::BearerLowercase(t)) => {
                return Some((CarrierName::Authorization, t.clone()));
            }
            // HP-4: other schemes and an empty Bearer carry nothing.
            Some(AuthHeader::Basic) | Some(AuthHeader::EmptyBearer) | None => {}
        }
    }
    if let Some(t) = &c.query {
        return Some((CarrierName::Query, t.clone()));
    }
    if let Some(t) = &c.body {
        return Some((CarrierName::Body, t.clone()));
    }
    c.cookie.clone().map(|t| (CarrierName::Cookie, t))
}

/// The carriers of HP-1, in precedence order (HP-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CarrierName {
    XEsriAuthorization,
    Authorization,
    Query,
    Body,
    Cookie,
}

impl CarrierName {
    pub fn as_str(self) -> &'static str {
        match self {
            CarrierName::XEsriAuthorization => "x-esri-authorization",
            CarrierName::Authorization => "authorization",
            CarrierName::Query => "query",
            CarrierName::Body => "body",
            CarrierName::Cookie => "cookie",
        }
    }
}

fn step(k: &Knobs, s: &State, op: &Op) -> (Prediction, Option<Effect>) {
    let none = |accept: Vec<Expected>| {
        (
            Prediction {
                accept,
                capture: None,
            },
            None,
        )
    };
    match op {
        Op::GenerateToken {
            user,
            password,
            path,
            expiration,
            client,
            from,
        } => {
            let (short, max) = match path {
                TokenPath::Server => (k.short_lived_minutes, k.max_expiration_minutes),
                TokenPath::Portal => (
                    k.portal_short_lived_minutes,
                    k.portal_max_expiration_minutes,
                ),
            };
            let mut refusals: Vec<&'static str> = Vec::new();
            if !creds_ok(s, *user, *password) {
                refusals.push(if s.epoch(*user) > 0 && *password == Password::Initial {
                    "LT-9"
                } else {
                    "TS-3"
                });
            }
            let minutes = match expiration {
                Minutes::Omitted | Minutes::Empty => Some(short as i64), // LT-1
                Minutes::Value(v) if *v >= 1 => Some((*v).min(max as i64)), // LT-2, LT-3
                Minutes::Value(_) | Minutes::Text(_) => {
                    refusals.push("LT-4");
                    None
                }
            };
            let mut missing_client_id = false;
            let binding = match client {
                Client::Omitted => Some(Binding::None),
                Client::RequestIp => Some(Binding::Ip(*from)),
                Client::Ip(a) => Some(Binding::Ip(*a)),
                Client::Referer(r) => Some(Binding::Referer(*r)),
                Client::MalformedIp => {
                    refusals.push("IP-7");
                    None
                }
                Client::IpMissing | Client::RefererMissing => {
                    // TS-5 variant `201` (the reference's), checked before
                    // the credentials and after `expiration` (LT-4).
                    missing_client_id = true;
                    refusals.push("TS-5");
                    None
                }
                Client::Unknown => {
                    refusals.push("TS-5");
                    None
                }
            };
            match (refusals.is_empty(), minutes, binding) {
                (true, Some(m), Some(binding)) => {
                    let expires = s.now + m * MINUTE_MS;
                    let mut rules = vec!["TS-2", "TS-6"];
                    rules.push(match expiration {
                        Minutes::Omitted | Minutes::Empty => "LT-1",
                        Minutes::Value(v) if *v > max as i64 => "LT-3",
                        _ => "LT-2",
                    });
                    rules.push(if binding == Binding::None {
                        "IP-4"
                    } else {
                        "IP-1"
                    });
                    let e = Expected::json(200, None, &rules)
                        .with(Check::JsonIsToken { path: "$.token" })
                        .with(Check::JsonInstant {
                            path: "$.expires",
                            at: expires,
                        });
                    // TS-2: Portal answers carry `ssl`; the stand-alone Server omits it.
                    let e = if *path == TokenPath::Portal {
                        e.with(Check::JsonIsBool { path: "$.ssl" })
                    } else {
                        e
                    };
                    let h = s.tokens.len();
                    (
                        Prediction {
                            accept: vec![e],
                            capture: Some(Capture {
                                name: token_capture(h),
                                from: CaptureFrom::Json("$.token"),
                            }),
                        },
                        Some(Effect::NewToken(Token {
                            user: *user,
                            epoch: s.epoch(*user),
                            path: *path,
                            issued: s.now,
                            expires,
                            binding,
                        })),
                    )
                }
                _ => {
                    // TS-6: token-operation errors are HTTP 200 with the body;
                    // code 201 for a missing ip/referer (unless `expiration`
                    // was refused first, LT-4), otherwise 400.
                    let mut rules = refusals.clone();
                    rules.push("TS-6");
                    let code = if missing_client_id && !refusals.contains(&"LT-4") {
                        201
                    } else {
                        400
                    };
                    none(vec![Expected::json(200, Some(code), &rules)])
                }
            }
        }
        Op::ArcwebGetToken {
            user,
            password,
            tout,
            ip,
            from,
        } => {
            let mut refusals = Vec::new();
            if !creds_ok(s, *user, *password) {
                refusals.push("LT-7a");
            }
            let minutes = match tout {
                Minutes::Omitted | Minutes::Empty => Some(DEFAULT_TOUT_MINUTES),
                Minutes::Value(v) if *v >= 1 => Some((*v).min(MAX_TOUT_MINUTES)),
                _ => {
                    refusals.push("LT-7");
                    None
                }
            };
            match minutes {
                Some(m) if refusals.is_empty() => {
                    let h = s.arc_tokens.len();
                    (
                        Prediction {
                            accept: vec![
                                Expected::text(200, &["LT-7", "LT-7a", "IP-5"])
                                    .with(Check::BodyIsValue),
                            ],
                            capture: Some(Capture {
                                name: arc_capture(h),
                                from: CaptureFrom::Body,
                            }),
                        },
                        Some(Effect::NewArc(ArcToken {
                            user: *user,
                            epoch: s.epoch(*user),
                            expires: s.now + m * MINUTE_MS,
                            bound: ip.unwrap_or(*from),
                        })),
                    )
                }
                _ => {
                    refusals.push("LT-7a");
                    none(vec![Expected::text(403, &refusals)])
                }
            }
        }
        Op::ArcwebRenew { token, from } => match token {
            ArcRef::Unknown(_) | ArcRef::Garbage(_) => {
                none(vec![Expected::text(403, &["RN-2", "LT-7a"])])
            }
            ArcRef::Issued(h) => {
                let t = &s.arc_tokens[*h];
                let refusals = arc_refusals(s, t, *from, "IP-6", "RN-2");
                if refusals.is_empty() {
                    // RN-1 (the same token, extended), RN-3 (never shortened).
                    let expires = t.expires.max(s.now + RENEW_MINUTES * MINUTE_MS);
                    (
                        Prediction {
                            accept: vec![
                                Expected::text(200, &["RN-1", "RN-3", "LT-7a"])
                                    .with(Check::BodyEqualsCapture(arc_capture(*h))),
                            ],
                            capture: None,
                        },
                        Some(Effect::Renew { h: *h, expires }),
                    )
                } else {
                    none(refusals)
                }
            }
        },
        Op::ArcwebGetUserId {
            user,
            password,
            from: _,
        } => {
            if !creds_ok(s, *user, *password) {
                return none(vec![Expected::text(403, &["LT-7a", "LT-8"])]);
            }
            let epoch = s.epoch(*user);
            // LT-8: one ID per account (per password, LT-9).
            if let Some(h) = s
                .user_ids
                .iter()
                .position(|u| u.user == *user && u.epoch == epoch)
            {
                return none(vec![
                    Expected::text(200, &["LT-8", "LT-7a"])
                        .with(Check::BodyEqualsCapture(uid_capture(h))),
                ]);
            }
            let h = s.user_ids.len();
            (
                Prediction {
                    accept: vec![Expected::text(200, &["LT-8", "LT-7a"]).with(Check::BodyIsValue)],
                    capture: Some(Capture {
                        name: uid_capture(h),
                        from: CaptureFrom::Body,
                    }),
                },
                Some(Effect::NewUid(UserId { user: *user, epoch })),
            )
        }
        Op::ArcwebMap { cred, from } => match cred {
            ArcCred::Nothing
            | ArcCred::UnknownUserId(_)
            | ArcCred::Tkn(ArcRef::Unknown(_))
            | ArcCred::Tkn(ArcRef::Garbage(_)) => none(vec![Expected::text(403, &["LT-7a"])]),
            ArcCred::UserId(h) => {
                let u = &s.user_ids[*h];
                if u.epoch != s.epoch(u.user) {
                    none(vec![Expected::text(403, &["LT-9", "LT-7a"])])
                } else {
                    none(vec![Expected::text(200, &["LT-8", "LT-7a"])])
                }
            }
            ArcCred::Tkn(ArcRef::Issued(h)) => {
                let refusals = arc_refusals(s, &s.arc_tokens[*h], *from, "IP-5", "LT-7a");
                if refusals.is_empty() {
                    none(vec![Expected::text(200, &["LT-7a", "IP-5"])])
                } else {
                    none(refusals)
                }
            }
        },
        Op::Secured {
            service,
            carriers,
            from,
            referer,
        } => {
            let lower_present = |name: CarrierName| {
                let present = [
                    (CarrierName::XEsriAuthorization, carriers.x_esri.is_some()),
                    (
                        CarrierName::Authorization,
                        matches!(
                            carriers.authorization,
                            Some(AuthHeader::Bearer(_)) | Some(AuthHeader::BearerLowercase(_))
                        ) && !k.web_tier_auth,
                    ),
                    (CarrierName::Query, carriers.query.is_some()),
                    (CarrierName::Body, carriers.body.is_some()),
                    (CarrierName::Cookie, carriers.cookie.is_some()),
                ];
                present.iter().any(|(n, p)| *n > name && *p)
            };
            let mut base: Vec<&'static str> = vec!["HP-2"];
            if *service == Service::Public {
                // HP-8 `checked` (the reference's variant): a public service
                // answers without a token and with any user's valid one, and
                // refuses a presented invalid token like a secured one.
                base.push("HP-8");
            }
            if matches!(
                carriers.authorization,
                Some(AuthHeader::Basic)
                    | Some(AuthHeader::EmptyBearer)
                    | Some(AuthHeader::BearerLowercase(_))
            ) {
                base.push("HP-4");
            }
            if k.web_tier_auth && carriers.authorization.is_some() {
                base.push("HP-5");
            }
            let Some((name, tok)) = winning_carrier(k, carriers) else {
                if *service == Service::Public {
                    return none(vec![Expected::json(200, None, &base)]);
                }
                base.push("HP-7");
                return none(vec![Expected::json(200, Some(499), &base)]);
            };
            let refuse = |rule: &'static str| {
                let mut r = base.clone();
                r.push(rule);
                if lower_present(name) {
                    r.push("HP-3");
                }
                Expected::json(200, Some(498), &r)
            };
            match tok {
                TokRef::Unknown(_) | TokRef::Garbage(_) => none(vec![refuse("HP-3")]),
                TokRef::Session(h) => {
                    let ss = &s.sessions[h];
                    if s.now >= ss.end {
                        none(vec![refuse("SL-4")])
                    } else {
                        let mut r = base.clone();
                        r.push("SL-5");
                        none(vec![Expected::json(200, Some(403), &r)])
                    }
                }
                TokRef::Issued(h) => match token_refusal(s, h, *from, *referer) {
                    Err(rule) => none(vec![refuse(rule)]),
                    Ok(User::Bob) if *service == Service::Restricted => {
                        base.push("HP-7");
                        none(vec![Expected::json(200, Some(403), &base)])
                    }
                    Ok(_) => {
                        base.push("LT-5");
                        none(vec![Expected::json(200, None, &base)])
                    }
                },
            }
        }
        Op::SessionStart {
            token,
            family,
            duration,
            from,
        } => {
            // SL-7: the location service answers with real statuses.
            let mut token_refusal_e: Option<Expected> = None;
            let mut parent: Option<(Handle, User)> = None;
            match token {
                None => {
                    token_refusal_e = Some(Expected::json(401, Some(499), &["SL-7", "HP-7"]));
                }
                Some(TokRef::Unknown(_)) | Some(TokRef::Garbage(_)) => {
                    token_refusal_e = Some(Expected::json(401, Some(498), &["SL-7", "SL-1"]));
                }
                Some(TokRef::Session(h)) => {
                    let rule_status = if s.now >= s.sessions[*h].end {
                        (401, 498)
                    } else {
                        (403, 403)
                    };
                    token_refusal_e = Some(Expected::json(
                        rule_status.0,
                        Some(rule_status.1),
                        &["SL-6", "SL-7"],
                    ));
                }
                Some(TokRef::Issued(h)) => match token_refusal(s, *h, *from, None) {
                    Err(rule) => {
                        token_refusal_e = Some(Expected::json(401, Some(498), &[rule, "SL-7"]));
                    }
                    Ok(User::Bob) => {
                        token_refusal_e = Some(Expected::json(403, Some(403), &["SL-6", "SL-7"]));
                    }
                    Ok(u) => parent = Some((*h, u)),
                },
            }
            let seconds = match duration {
                Seconds::Omitted => Some(DEFAULT_DURATION_S),
                Seconds::Value(v) if (MIN_DURATION_S..=MAX_DURATION_S).contains(v) => Some(*v),
                _ => None,
            };
            let bad_duration = Expected::json(400, Some(400), &["SL-3", "SL-7"]);
            match (token_refusal_e, seconds) {
                (Some(t), Some(_)) => none(vec![t]),
                // Which refusal wins is not pinned: both are acceptable.
                (Some(t), None) => none(vec![t, bad_duration]),
                (None, None) => none(vec![bad_duration]),
                (None, Some(secs)) => {
                    let (ph, user) = parent.expect("no refusal means a parent token");
                    if let Some(cap) = k.max_concurrent_sessions {
                        let live = s
                            .sessions
                            .iter()
                            .filter(|x| x.parent == ph && s.now < x.end)
                            .count();
                        if live >= cap as usize {
                            return none(vec![Expected::json(429, Some(429), &["SL-8"])]);
                        }
                    }
                    let fam = family.unwrap_or(StyleFamily::Arcgis);
                    let end = s.now + secs * 1000;
                    let h = s.sessions.len();
                    let e = Expected::json(200, None, &["SL-1", "SL-2"])
                        .with(Check::JsonIsString {
                            path: "$.sessionToken",
                        })
                        .with(Check::JsonInstant {
                            path: "$.startTime",
                            at: s.now,
                        })
                        .with(Check::JsonInstant {
                            path: "$.endTime",
                            at: end,
                        })
                        .with(Check::JsonEquals {
                            path: "$.styleFamily",
                            value: serde_json::Value::from(fam.as_str()),
                        });
                    (
                        Prediction {
                            accept: vec![e],
                            capture: Some(Capture {
                                name: session_capture(h),
                                from: CaptureFrom::Json("$.sessionToken"),
                            }),
                        },
                        Some(Effect::NewSession(Session {
                            user,
                            parent: ph,
                            family: fam,
                            start: s.now,
                            end,
                        })),
                    )
                }
            }
        }
        Op::Style {
            family,
            token,
            from,
        } => {
            let e = match token {
                None => Expected::json(401, Some(499), &["SL-7", "HP-7"]),
                Some(TokRef::Unknown(_)) | Some(TokRef::Garbage(_)) => {
                    Expected::json(401, Some(498), &["SL-7"])
                }
                Some(TokRef::Session(h)) => {
                    let ss = &s.sessions[*h];
                    if s.now >= ss.end {
                        Expected::json(401, Some(498), &["SL-4", "SL-7"])
                    } else if ss.family != *family {
                        Expected::json(403, Some(403), &["SL-5", "SL-7"])
                    } else {
                        Expected::json(200, None, &["SL-4", "SL-5"])
                    }
                }
                Some(TokRef::Issued(h)) => match token_refusal(s, *h, *from, None) {
                    Err(rule) => Expected::json(401, Some(498), &[rule, "SL-7"]),
                    Ok(User::Bob) => Expected::json(403, Some(403), &["SL-9", "SL-7"]),
                    Ok(User::Alice) => Expected::json(200, None, &["SL-9"]),
                },
            };
            none(vec![e])
        }
        Op::Advance(a) => (
            Prediction {
                accept: Vec::new(),
                capture: None,
            },
            advance_ms(s, a).map(Effect::Advance),
        ),
        Op::SetPassword { user } => (
            Prediction {
                accept: Vec::new(),
                capture: None,
            },
            Some(Effect::PasswordChange(*user)),
        ),
    }
}

/// ArcWeb refusals of a token (expired 500 "1021", stale or wrong address
/// 403). When several apply, each is acceptable: their order is not pinned.
fn arc_refusals(
    s: &State,
    t: &ArcToken,
    from: Addr,
    address_rule: &'static str,
    expired_rule: &'static str,
) -> Vec<Expected> {
    let mut out = Vec::new();
    if s.now >= t.expires {
        out.push(
            Expected::text(500, &[expired_rule, "LT-7a"])
                .with(Check::BodyContains("1021: Token has expired.")),
        );
        // A server may forget a token long expired (the reference purges a
        // day after expiry); it is then unknown: 403.
        if s.now
            >= t.expires
                .saturating_add(crate::reference::tokens::PURGE_GRACE_MS)
        {
            out.push(Expected::text(403, &[expired_rule, "LT-7a"]));
        }
    }
    if t.epoch != s.epoch(t.user) {
        out.push(Expected::text(403, &["LT-9", "LT-7a"]));
    }
    if t.bound != from {
        out.push(Expected::text(403, &[address_rule, "LT-7a"]));
    }
    out
}

/// What a conformant target answers to `op` in state `s`.
pub fn predict(k: &Knobs, s: &State, op: &Op) -> Prediction {
    step(k, s, op).0
}

/// The state after `op` got the answer the model predicts.
pub fn apply(k: &Knobs, mut s: State, op: &Op) -> State {
    match step(k, &s, op).1 {
        None => {}
        Some(Effect::NewToken(t)) => s.tokens.push(t),
        Some(Effect::NewArc(t)) => s.arc_tokens.push(t),
        Some(Effect::Renew { h, expires }) => s.arc_tokens[h].expires = expires,
        Some(Effect::NewUid(u)) => s.user_ids.push(u),
        Some(Effect::NewSession(x)) => s.sessions.push(x),
        Some(Effect::Advance(ms)) => s.now += ms.max(0),
        Some(Effect::PasswordChange(u)) => s.epochs[u.index()] += 1,
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k() -> Knobs {
        Knobs::default()
    }

    fn gen_op(expiration: Minutes, client: Client) -> Op {
        Op::GenerateToken {
            user: User::Alice,
            password: Password::Current,
            path: TokenPath::Server,
            expiration,
            client,
            from: Addr::Primary,
        }
    }

    fn run(ops: &[Op]) -> State {
        ops.iter()
            .fold(State::default(), |s, op| apply(&k(), s, op))
    }

    fn query(h: Handle) -> Op {
        Op::Secured {
            service: Service::Secured,
            carriers: Carriers {
                query: Some(TokRef::Issued(h)),
                ..Carriers::default()
            },
            from: Addr::Primary,
            referer: None,
        }
    }

    fn one(p: &Prediction) -> (u16, Option<i64>) {
        assert_eq!(p.accept.len(), 1, "{p:?}");
        (p.accept[0].status, p.accept[0].error)
    }

    #[test]
    fn lifetimes_default_exact_clamped_refused() {
        let kn = k();
        let s = State::default();
        let at =
            |m: Minutes| match &predict(&kn, &s, &gen_op(m, Client::Omitted)).accept[0].checks[1] {
                Check::JsonInstant { at, .. } => Some(*at),
                _ => None,
            };
        // LT-1, LT-2, LT-3 read the knobs.
        assert_eq!(
            at(Minutes::Omitted),
            Some(kn.short_lived_minutes as i64 * 60_000)
        );
        assert_eq!(
            at(Minutes::Empty),
            Some(kn.short_lived_minutes as i64 * 60_000)
        );
        assert_eq!(at(Minutes::Value(15)), Some(15 * 60_000));
        let max = kn.max_expiration_minutes as i64;
        assert_eq!(at(Minutes::Value(max + 1)), Some(max * 60_000));
        // LT-4
        for bad in [Minutes::Value(0), Minutes::Value(-1), Minutes::Text("abc")] {
            let p = predict(&kn, &s, &gen_op(bad, Client::Omitted));
            assert_eq!(one(&p), (200, Some(400)));
            assert!(p.rules().contains(&"LT-4"));
        }
    }

    #[test]
    fn validity_ends_exactly_at_expiry() {
        // LT-5: valid at expires - 1, invalid at expires.
        let s = run(&[
            gen_op(Minutes::Value(1), Client::Omitted),
            Op::Advance(Advance::ToTokenExpiry {
                handle: 0,
                offset: -1,
            }),
        ]);
        assert_eq!(s.now, 59_999);
        assert_eq!(one(&predict(&k(), &s, &query(0))), (200, None));
        let s = apply(&k(), s, &Op::Advance(Advance::Ms(1)));
        let p = predict(&k(), &s, &query(0));
        assert_eq!(one(&p), (200, Some(498)));
        assert!(p.rules().contains(&"LT-5"));
    }

    #[test]
    fn precedence_without_fallback() {
        let s = run(&[gen_op(Minutes::Omitted, Client::Omitted)]);
        // HP-3: a garbage X-Esri-Authorization beats a valid query token.
        let op = Op::Secured {
            service: Service::Secured,
            carriers: Carriers {
                x_esri: Some(TokRef::Garbage(Garbage::Short)),
                query: Some(TokRef::Issued(0)),
                ..Carriers::default()
            },
            from: Addr::Primary,
            referer: None,
        };
        let p = predict(&k(), &s, &op);
        assert_eq!(one(&p), (200, Some(498)));
        assert!(p.rules().contains(&"HP-3"));
        // HP-4: Basic is ignored, so the cookie wins.
        let op = Op::Secured {
            service: Service::Secured,
            carriers: Carriers {
                authorization: Some(AuthHeader::Basic),
                cookie: Some(TokRef::Issued(0)),
                ..Carriers::default()
            },
            from: Addr::Primary,
            referer: None,
        };
        assert_eq!(one(&predict(&k(), &s, &op)), (200, None));
        // HP-5: with web_tier_auth, a Bearer header carries nothing.
        let wt = k().with("web_tier_auth", &serde_json::json!(true)).unwrap();
        let op = Op::Secured {
            service: Service::Secured,
            carriers: Carriers {
                authorization: Some(AuthHeader::Bearer(TokRef::Issued(0))),
                ..Carriers::default()
            },
            from: Addr::Primary,
            referer: None,
        };
        assert_eq!(one(&predict(&wt, &s, &op)), (200, Some(499)));
        assert_eq!(one(&predict(&k(), &s, &op)), (200, None));
        // HP-8
        let op = Op::Secured {
            service: Service::Public,
            carriers: Carriers {
                query: Some(TokRef::Garbage(Garbage::Long)),
                ..Carriers::default()
            },
            from: Addr::Alt1,
            referer: None,
        };
        // HP-8 `checked`: a presented garbage token is refused even here ...
        assert_eq!(one(&predict(&k(), &s, &op)), (200, Some(498)));
        // ... while no token at all is served.
        let op = Op::Secured {
            service: Service::Public,
            carriers: Carriers::default(),
            from: Addr::Alt1,
            referer: None,
        };
        assert_eq!(one(&predict(&k(), &s, &op)), (200, None));
    }

    #[test]
    fn binding_by_address_and_referer() {
        let s = run(&[
            gen_op(Minutes::Omitted, Client::RequestIp),
            gen_op(Minutes::Omitted, Client::Referer(1)),
        ]);
        let req = |h, from, referer| Op::Secured {
            service: Service::Secured,
            carriers: Carriers {
                query: Some(TokRef::Issued(h)),
                ..Carriers::default()
            },
            from,
            referer,
        };
        assert_eq!(
            one(&predict(&k(), &s, &req(0, Addr::Primary, None))),
            (200, None)
        );
        assert_eq!(
            one(&predict(&k(), &s, &req(0, Addr::Alt1, None))),
            (200, Some(498))
        );
        // IP-3: host case-insensitive, path case-sensitive, absent referer refused.
        assert_eq!(
            one(&predict(&k(), &s, &req(1, Addr::Alt2, Some(1)))),
            (200, None)
        );
        assert_eq!(
            one(&predict(&k(), &s, &req(1, Addr::Alt2, Some(2)))),
            (200, Some(498))
        );
        assert_eq!(
            one(&predict(&k(), &s, &req(1, Addr::Alt2, None))),
            (200, Some(498))
        );
        assert!(referer_matches(
            "@esri/arcgis-rest-js",
            "@esri/arcgis-rest-js"
        ));
        assert!(!referer_matches(
            "@esri/arcgis-rest-js",
            "@ESRI/arcgis-rest-js"
        ));
        assert!(referer_matches(
            "https://app.example.com",
            "HTTPS://App.Example.com/x"
        ));
        // IP-7, TS-5
        let p = predict(
            &k(),
            &State::default(),
            &gen_op(Minutes::Omitted, Client::MalformedIp),
        );
        assert_eq!(one(&p), (200, Some(400)));
        let p = predict(
            &k(),
            &State::default(),
            &gen_op(Minutes::Omitted, Client::IpMissing),
        );
        assert!(p.rules().contains(&"TS-5"));
    }

    #[test]
    fn password_change_kills_tokens_and_ids_not_sessions() {
        let s = run(&[
            gen_op(Minutes::Omitted, Client::Omitted),
            Op::SessionStart {
                token: Some(TokRef::Issued(0)),
                family: None,
                duration: Seconds::Omitted,
                from: Addr::Primary,
            },
            Op::ArcwebGetUserId {
                user: User::Alice,
                password: Password::Current,
                from: Addr::Primary,
            },
            Op::SetPassword { user: User::Alice },
        ]);
        assert_eq!(one(&predict(&k(), &s, &query(0))), (200, Some(498)));
        let style = Op::Style {
            family: StyleFamily::Arcgis,
            token: Some(TokRef::Session(0)),
            from: Addr::Primary,
        };
        assert_eq!(one(&predict(&k(), &s, &style)), (200, None));
        let map = Op::ArcwebMap {
            cred: ArcCred::UserId(0),
            from: Addr::Alt2,
        };
        assert_eq!(one(&predict(&k(), &s, &map)).0, 403);
        // The fixture password no longer works; the new one does.
        let stale = Op::GenerateToken {
            user: User::Alice,
            password: Password::Initial,
            path: TokenPath::Server,
            expiration: Minutes::Omitted,
            client: Client::Omitted,
            from: Addr::Primary,
        };
        assert_eq!(one(&predict(&k(), &s, &stale)), (200, Some(400)));
        assert_eq!(
            one(&predict(
                &k(),
                &s,
                &gen_op(Minutes::Omitted, Client::Omitted)
            )),
            (200, None)
        );
    }

    #[test]
    fn renewal_extends_never_shortens_and_keeps_binding() {
        let get = |tout| Op::ArcwebGetToken {
            user: User::Alice,
            password: Password::Current,
            tout,
            ip: None,
            from: Addr::Primary,
        };
        let renew = |from| Op::ArcwebRenew {
            token: ArcRef::Issued(0),
            from,
        };
        // RN-3: 120 minutes left stays 120.
        let s = run(&[get(Minutes::Value(120)), renew(Addr::Primary)]);
        assert_eq!(s.arc_tokens[0].expires, 120 * 60_000);
        // RN-1: 10 minutes left becomes 60 from now.
        let s = run(&[
            get(Minutes::Value(10)),
            Op::Advance(Advance::Ms(300_000)),
            renew(Addr::Primary),
        ]);
        assert_eq!(s.arc_tokens[0].expires, 300_000 + 60 * 60_000);
        // IP-6
        let p = predict(&k(), &s, &renew(Addr::Alt1));
        assert_eq!(one(&p).0, 403);
        assert!(p.rules().contains(&"IP-6"));
        // RN-2: expired is 500 with 1021; expired and elsewhere: either.
        let s = apply(
            &k(),
            s,
            &Op::Advance(Advance::ToArcwebExpiry {
                handle: 0,
                offset: 0,
            }),
        );
        assert_eq!(one(&predict(&k(), &s, &renew(Addr::Primary))).0, 500);
        let p = predict(&k(), &s, &renew(Addr::Alt1));
        assert_eq!(
            p.accept.iter().map(|e| e.status).collect::<Vec<_>>(),
            vec![500, 403]
        );
        // LT-7: tout clamp and refusal.
        let s = run(&[get(Minutes::Value(5000))]);
        assert_eq!(s.arc_tokens[0].expires, MAX_TOUT_MINUTES * 60_000);
        assert_eq!(
            one(&predict(&k(), &State::default(), &get(Minutes::Value(0)))).0,
            403
        );
    }

    #[test]
    fn sessions_limits_scope_and_lifetime() {
        let start = |token, duration| Op::SessionStart {
            token: Some(token),
            family: Some(StyleFamily::Open),
            duration,
            from: Addr::Primary,
        };
        let s = run(&[gen_op(Minutes::Value(1), Client::Omitted)]);
        // SL-3: no clamping.
        for d in [
            Seconds::Value(9),
            Seconds::Value(43_201),
            Seconds::Text("abc"),
        ] {
            assert_eq!(
                one(&predict(&k(), &s, &start(TokRef::Issued(0), d))),
                (400, Some(400))
            );
        }
        let s = apply(&k(), s, &start(TokRef::Issued(0), Seconds::Value(600)));
        assert_eq!(s.sessions[0].end, 600_000);
        // SL-4: outlives its parent token, ends exactly at endTime.
        let s = apply(
            &k(),
            s,
            &Op::Advance(Advance::ToSessionEnd {
                handle: 0,
                offset: -1,
            }),
        );
        let style = |family| Op::Style {
            family,
            token: Some(TokRef::Session(0)),
            from: Addr::Primary,
        };
        assert_eq!(
            one(&predict(&k(), &s, &style(StyleFamily::Open))),
            (200, None)
        );
        // SL-5
        assert_eq!(
            one(&predict(&k(), &s, &style(StyleFamily::Arcgis))),
            (403, Some(403))
        );
        // SL-6: a session token cannot start a session.
        assert_eq!(
            one(&predict(
                &k(),
                &s,
                &start(TokRef::Session(0), Seconds::Omitted)
            )),
            (403, Some(403))
        );
        let s = apply(&k(), s, &Op::Advance(Advance::Ms(1)));
        assert_eq!(
            one(&predict(&k(), &s, &style(StyleFamily::Open))),
            (401, Some(498))
        );
        // Two refusals at once: either is acceptable.
        let p = predict(&k(), &s, &start(TokRef::Issued(0), Seconds::Value(5)));
        assert_eq!(p.accept.len(), 2);
    }
}
