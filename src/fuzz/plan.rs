//! What each operation sends, as scenario templates (`{{t1}}`,
//! `{{users.alice.password}}`, `{{addr.alt1}}`).
//!
//! One plan serves both the executor (which renders the templates with the
//! captured secrets and sends them through the runner's client) and the YAML
//! writer (which writes them verbatim), so a regression scenario sends exactly
//! what the fuzzer sent. No I/O here.

use crate::reference::StyleFamily;
use crate::scenario::model::{Method, Request, Spanned};

use super::model::{self, State};
use super::ops::*;

/// One planned step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    Request(PlannedRequest),
    /// Move the target's clock forward by this many ms.
    Advance(u64),
    /// Change a password through the control API (LT-9).
    SetPassword {
        user: User,
        password: String,
    },
}

/// An HTTP request; every value is a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRequest {
    pub endpoint: &'static str,
    pub method: Method,
    pub query: Vec<(&'static str, String)>,
    pub form: Vec<(&'static str, String)>,
    pub headers: Vec<(&'static str, String)>,
    pub cookies: Vec<(&'static str, String)>,
    pub from: Addr,
    pub referer: Option<String>,
}

impl PlannedRequest {
    fn new(endpoint: &'static str, method: Method, from: Addr) -> Self {
        PlannedRequest {
            endpoint,
            method,
            query: Vec::new(),
            form: Vec::new(),
            headers: Vec::new(),
            cookies: Vec::new(),
            from,
            referer: None,
        }
    }

    /// The same request as the scenario model's [`Request`], for the
    /// runner's client.
    pub fn to_request(&self) -> Request {
        let map = |v: &[(&'static str, String)]| {
            v.iter()
                .map(|(k, v)| ((*k).to_owned(), Some(v.clone())))
                .collect()
        };
        Request {
            endpoint: Some(Spanned::new(self.endpoint.to_owned(), Default::default())),
            path: None,
            method: Some(self.method),
            query: map(&self.query),
            raw_query: None,
            form: map(&self.form),
            raw_body: None,
            headers: map(&self.headers),
            cookies: map(&self.cookies),
            from: Some(Spanned::new(
                self.from.alias().to_owned(),
                Default::default(),
            )),
            referer: self.referer.clone(),
        }
    }
}

/// The endpoint name of a style of `family` (SL-5: a session opens its own
/// family's styles only).
fn style_endpoint(family: StyleFamily) -> &'static str {
    match family {
        StyleFamily::Arcgis => "style_arcgis",
        StyleFamily::Open => "style_open",
    }
}

/// A value that is never anyone's password.
pub const WRONG_PASSWORD: &str = "not-the-password-0";
/// A value that is not an IP address (IP-7).
pub const MALFORMED_IP: &str = "999.1.2.x";
/// An `Authorization` value of another scheme (HP-4).
pub const BASIC_AUTH: &str = "Basic dXNlcjpwYXNz";

fn password(s: &State, u: User, p: Password) -> String {
    let fixture = format!("{{{{users.{}.password}}}}", u.alias());
    match p {
        Password::Initial => fixture,
        Password::Current => State::fuzz_password(u, s.epoch(u)).unwrap_or(fixture),
        Password::Wrong => WRONG_PASSWORD.to_owned(),
        // TS-3: case-sensitive. The fixture password is a target's secret,
        // so only a fuzzer-set password can be flipped; otherwise it is
        // simply wrong.
        Password::WrongCase => State::fuzz_password(u, s.epoch(u))
            .map(|p| p.to_uppercase())
            .unwrap_or_else(|| WRONG_PASSWORD.to_uppercase()),
    }
}

fn user_name(u: User) -> String {
    format!("{{{{users.{}.name}}}}", u.alias())
}

fn addr_value(a: Addr) -> String {
    format!("{{{{addr.{}}}}}", a.alias())
}

/// The text a token reference stands for.
pub fn tok_value(t: &TokRef) -> String {
    match t {
        TokRef::Issued(h) => format!("{{{{{}}}}}", model::token_capture(*h)),
        TokRef::Session(h) => format!("{{{{{}}}}}", model::session_capture(*h)),
        TokRef::Unknown(n) => unknown_token(*n),
        TokRef::Garbage(g) => g.text(),
    }
}

fn arc_value(t: &ArcRef) -> String {
    match t {
        ArcRef::Issued(h) => format!("{{{{{}}}}}", model::arc_capture(*h)),
        ArcRef::Unknown(n) => unknown_token(*n),
        ArcRef::Garbage(g) => g.text(),
    }
}

fn minutes_value(m: &Minutes) -> Option<String> {
    match m {
        Minutes::Omitted => None,
        Minutes::Empty => Some(String::new()),
        Minutes::Value(v) => Some(v.to_string()),
        Minutes::Text(t) => Some((*t).to_owned()),
    }
}

/// What `op` sends in state `s` (`None`: a clock move whose handle is gone).
pub fn plan(s: &State, op: &Op) -> Option<Planned> {
    Some(match op {
        Op::GenerateToken {
            user,
            password: pw,
            path,
            expiration,
            client,
            from,
        } => {
            let endpoint = match path {
                TokenPath::Server => "generate_token",
                TokenPath::Portal => "portal_generate_token",
            };
            // TS-1: credentials in a form-encoded POST body.
            let mut r = PlannedRequest::new(endpoint, Method::POST, *from);
            r.form.push(("username", user_name(*user)));
            r.form.push(("password", password(s, *user, *pw)));
            match client {
                Client::Omitted => {}
                Client::RequestIp => r.form.push(("client", "requestip".into())),
                Client::Ip(a) => {
                    r.form.push(("client", "ip".into()));
                    r.form.push(("ip", addr_value(*a)));
                }
                Client::MalformedIp => {
                    r.form.push(("client", "ip".into()));
                    r.form.push(("ip", MALFORMED_IP.into()));
                }
                Client::Referer(i) => {
                    r.form.push(("client", "referer".into()));
                    r.form.push(("referer", BIND_REFERERS[*i].into()));
                }
                Client::IpMissing => r.form.push(("client", "ip".into())),
                Client::RefererMissing => r.form.push(("client", "referer".into())),
                Client::Unknown => r.form.push(("client", "browser".into())),
            }
            if let Some(m) = minutes_value(expiration) {
                r.form.push(("expiration", m));
            }
            r.form.push(("f", "json".into()));
            Planned::Request(r)
        }
        Op::ArcwebGetToken {
            user,
            password: pw,
            tout,
            ip,
            from,
        } => {
            let mut r = PlannedRequest::new("arcweb", Method::GET, *from);
            r.query.push(("actn", "getToken".into()));
            r.query.push(("usr", user_name(*user)));
            r.query.push(("pswd", password(s, *user, *pw)));
            if let Some(m) = minutes_value(tout) {
                r.query.push(("tout", m));
            }
            if let Some(a) = ip {
                r.query.push(("ip", addr_value(*a)));
            }
            Planned::Request(r)
        }
        Op::ArcwebRenew { token, from } => {
            let mut r = PlannedRequest::new("arcweb", Method::GET, *from);
            r.query.push(("actn", "renewToken".into()));
            r.query.push(("tkn", arc_value(token)));
            Planned::Request(r)
        }
        Op::ArcwebGetUserId {
            user,
            password: pw,
            from,
        } => {
            let mut r = PlannedRequest::new("arcweb", Method::GET, *from);
            r.query.push(("actn", "getUserID".into()));
            r.query.push(("usr", user_name(*user)));
            r.query.push(("pswd", password(s, *user, *pw)));
            Planned::Request(r)
        }
        Op::ArcwebMap { cred, from } => {
            let mut r = PlannedRequest::new("arcweb", Method::GET, *from);
            r.query.push(("actn", "getMap".into()));
            match cred {
                ArcCred::Tkn(t) => r.query.push(("tkn", arc_value(t))),
                ArcCred::UserId(h) => r
                    .query
                    .push(("usrid", format!("{{{{{}}}}}", model::uid_capture(*h)))),
                ArcCred::UnknownUserId(n) => r.query.push(("usrid", unknown_token(*n))),
                ArcCred::Nothing => {}
            }
            Planned::Request(r)
        }
        Op::Secured {
            service,
            carriers,
            from,
            referer,
        } => {
            let method = if carriers.body.is_some() {
                Method::POST
            } else {
                Method::GET
            };
            let mut r = PlannedRequest::new(service.endpoint(), method, *from);
            r.query.push(("f", "json".into()));
            if let Some(t) = &carriers.x_esri {
                r.headers
                    .push(("X-Esri-Authorization", format!("Bearer {}", tok_value(t))));
            }
            match &carriers.authorization {
                None => {}
                Some(AuthHeader::Bearer(t)) => r
                    .headers
                    .push(("Authorization", format!("Bearer {}", tok_value(t)))),
                Some(AuthHeader::BearerLowercase(t)) => r
                    .headers
                    .push(("Authorization", format!("bearer {}", tok_value(t)))),
                Some(AuthHeader::Basic) => r.headers.push(("Authorization", BASIC_AUTH.into())),
                Some(AuthHeader::EmptyBearer) => r.headers.push(("Authorization", "Bearer".into())),
            }
            if let Some(t) = &carriers.query {
                r.query.push(("token", tok_value(t)));
            }
            if let Some(t) = &carriers.body {
                r.form.push(("token", tok_value(t)));
            }
            if let Some(t) = &carriers.cookie {
                r.cookies.push(("agstoken", tok_value(t)));
            }
            r.referer = referer.map(|i| SENT_REFERERS[i].to_owned());
            Planned::Request(r)
        }
        Op::SessionStart {
            token,
            family,
            duration,
            from,
        } => {
            let mut r = PlannedRequest::new("session_start", Method::GET, *from);
            if let Some(t) = token {
                r.query.push(("token", tok_value(t)));
            }
            if let Some(f) = family {
                r.query.push(("styleFamily", f.as_str().into()));
            }
            match duration {
                Seconds::Omitted => {}
                Seconds::Value(v) => r.query.push(("durationSeconds", v.to_string())),
                Seconds::Text(t) => r.query.push(("durationSeconds", (*t).into())),
            }
            r.query.push(("f", "json".into()));
            Planned::Request(r)
        }
        Op::Style {
            family,
            token,
            from,
        } => {
            let mut r = PlannedRequest::new(style_endpoint(*family), Method::GET, *from);
            if let Some(t) = token {
                r.query.push(("token", tok_value(t)));
            }
            r.query.push(("f", "json".into()));
            Planned::Request(r)
        }
        Op::Advance(a) => Planned::Advance(u64::try_from(model::advance_ms(s, a)?).ok()?),
        Op::SetPassword { user } => Planned::SetPassword {
            user: *user,
            password: State::fuzz_password(*user, s.epoch(*user) + 1)
                .expect("epoch + 1 is never the fixture"),
        },
    })
}
