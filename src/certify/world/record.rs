//! The layer in front of each listener: it records every request as a
//! journal [`Entry`] (carriers looked up in the case's registry,
//! credentials without values), answers injected faults and HTTPS-only
//! refusals itself, passes the rest to the reference (or the foreign
//! attacker), and reads the answer: tokens issued go into the registry
//! (with the case's fixed lifetime put into the store and the answer),
//! `rest/info` and `portals/self` say what the case's events advertise.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::net::ConnMeta;
use super::{Book, Pending, Shared, foreign, root_of};
use crate::certify::journal::{
    Binding, Carrier, Credentials, Entry, IssuedToken, Place, Presented, Role, Scheme, Seen,
    TokenId, TokenKind,
};
use crate::certify::plan::Envelope;
use crate::reference::tokens::Kind;

/// Largest request or answer body read.
const MAX_BODY: usize = 1 << 20;

/// One listener's view: the case, its role, and the reference router.
#[derive(Clone)]
pub(super) struct RoleCtx {
    pub shared: Arc<Shared>,
    pub role: Role,
    pub index: usize,
    pub inner: Router,
}

pub(super) fn app(rc: RoleCtx) -> Router {
    Router::new().fallback(handle).with_state(rc)
}

/// A request's parameters, parsed once.
pub(super) struct Parsed {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub https: bool,
}

fn pairs(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Parsed {
    fn new(parts: &axum::http::request::Parts, body: &Bytes, https: bool) -> Parsed {
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        let form = if is_form {
            std::str::from_utf8(body).map(pairs).unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut path = parts.uri.path().to_owned();
        while path.len() > 1 && path.ends_with('/') {
            path.pop();
        }
        Parsed {
            method: parts.method.clone(),
            path,
            query: parts.uri.query().map(pairs).unwrap_or_default(),
            form,
            headers: parts.headers.clone(),
            https,
        }
    }

    /// First non-empty value of `name` (query, then body).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .chain(&self.form)
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn param_any_case(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .chain(&self.form)
            .find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `scheme://host` as the client addressed us.
    pub fn base(&self, fallback: &str) -> String {
        match self.header("host") {
            Some(h) => format!("{}://{h}", if self.https { "https" } else { "http" }),
            None => fallback.to_owned(),
        }
    }

    /// Every token the request carries, in every carrier, duplicates kept
    /// (CL-4 counts them).
    pub fn carriers(&self) -> Vec<(Carrier, String)> {
        let mut out = Vec::new();
        let bearer = |v: &str| {
            let (scheme, rest) = v.trim().split_once(char::is_whitespace)?;
            let t = rest.trim();
            (scheme.eq_ignore_ascii_case("bearer") && !t.is_empty()).then(|| t.to_owned())
        };
        for (name, carrier) in [
            ("x-esri-authorization", Carrier::XEsriHeader),
            ("authorization", Carrier::AuthorizationHeader),
        ] {
            for v in self.headers.get_all(name) {
                if let Some(t) = v.to_str().ok().and_then(bearer) {
                    out.push((carrier, t));
                }
            }
        }
        for (list, carrier) in [(&self.query, Carrier::Query), (&self.form, Carrier::Body)] {
            for (k, v) in list {
                if k == "token" && !v.is_empty() {
                    out.push((carrier, v.clone()));
                }
            }
        }
        for v in self.headers.get_all(header::COOKIE) {
            let Ok(v) = v.to_str() else { continue };
            for (k, t) in v.split(';').filter_map(|kv| kv.trim().split_once('=')) {
                if k == "agstoken" && !t.trim().is_empty() {
                    out.push((Carrier::Cookie, t.trim().to_owned()));
                }
            }
        }
        out
    }

    fn credentials(&self) -> Option<Credentials> {
        let has = |list: &[(String, String)], name: &str| {
            list.iter().any(|(k, v)| k == name && !v.is_empty())
        };
        let password = if has(&self.query, "password") {
            Some(Place::Query)
        } else if has(&self.form, "password") {
            Some(Place::Body)
        } else {
            None
        };
        let username = self.param("username").map(str::to_owned);
        (username.is_some() || password.is_some()).then_some(Credentials { username, password })
    }
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

fn error_json(status: StatusCode, code: u16, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message, "details": []}}),
    )
}

/// The answer of an injected fault (CL-9's envelopes, CL-14's statuses).
fn injected(p: &Pending) -> Response {
    let reason = |code: u16| {
        StatusCode::from_u16(code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error")
            .to_owned()
    };
    let (status, message) = match (p.envelope, p.code) {
        (Envelope::Server200, 498) => (StatusCode::OK, "Invalid Token".to_owned()),
        (Envelope::Portal200, 498) => (StatusCode::OK, "Invalid token.".to_owned()),
        (Envelope::Server200 | Envelope::Portal200, 499) => {
            (StatusCode::OK, "Token Required".to_owned())
        }
        (Envelope::Server200 | Envelope::Portal200, c) => (StatusCode::OK, reason(c)),
        (Envelope::Http401 | Envelope::Http403, c) => {
            let status = if p.envelope == Envelope::Http401 {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::FORBIDDEN
            };
            let m = match c {
                498 => "Token Invalid.".to_owned(),
                499 => "Token Required.".to_owned(),
                c => reason(c),
            };
            (status, m)
        }
        (Envelope::Status, c) => (
            StatusCode::from_u16(c).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            reason(c),
        ),
    };
    let mut r = error_json(status, p.code, &message);
    if let Some(s) = p.retry_after_s
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

fn is_token_service(path: &str) -> bool {
    path.ends_with("/generateToken") || path.ends_with("/tokens")
}

/// Takes one use of the first injection matching this request.
fn take_inject(book: &mut Book, role: Role, path: &str) -> Option<Pending> {
    let i = book
        .injects
        .iter()
        .position(|p| p.role == role && p.times > 0 && path.ends_with(&p.path_suffix))?;
    let p = book.injects[i].clone();
    book.injects[i].times -= 1;
    if book.injects[i].times == 0 {
        book.injects.remove(i);
    }
    Some(p)
}

/// The family of a style request (`.../styles/v2/styles/{family}/...`).
fn style_family(path: &str) -> Option<&str> {
    let (_, rest) = path.split_once("/styles/v2/styles/")?;
    rest.split('/').next()
}

async fn handle(
    State(rc): State<RoleCtx>,
    ConnectInfo(meta): ConnectInfo<ConnMeta>,
    req: Request,
) -> Response {
    let sh = rc.shared.clone();
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    let p = Parsed::new(&parts, &bytes, meta.https);
    let real_ms = sh.real_ms();
    let server_ms = sh.clock_now();
    let carriers = p.carriers();
    let credentials = p.credentials();
    let listener_origin = sh.book().listeners[rc.index].origin.clone();

    // Decide who answers: an injection, an HTTPS-only refusal, a refused
    // style family, the foreign attacker or the reference.
    let pre: Option<Response> = {
        let mut book = sh.book();
        if let Some(pending) = take_inject(&mut book, rc.role, &p.path) {
            Some(injected(&pending))
        } else {
            let ssl_token = carriers.iter().any(|(_, v)| {
                book.by_value
                    .get(v)
                    .is_some_and(|id| book.ssl_tokens.contains(id))
            });
            let plain = !meta.https;
            let secret = credentials.as_ref().is_some_and(|c| c.password.is_some());
            let all_ssl =
                book.all_ssl && rc.role == Role::Portal && (secret || !carriers.is_empty());
            if plain && ((book.ssl && (secret || ssl_token)) || all_ssl) {
                Some(error_json(StatusCode::FORBIDDEN, 403, "SSL Required"))
            } else if style_family(&p.path)
                .is_some_and(|f| book.refused_families.iter().any(|r| r == f))
            {
                Some(error_json(StatusCode::FORBIDDEN, 403, "Forbidden"))
            } else {
                None
            }
        }
    };
    let was_injected = pre.is_some();
    let resp = match pre {
        Some(r) => r,
        None if rc.role == Role::Foreign => {
            let book = sh.book();
            foreign::answer(
                &p,
                &listener_origin,
                &book,
                &carriers,
                sh.lifetime_ms,
                server_ms,
            )
        }
        None if !p.path.starts_with(root_prefix(rc.role)) => {
            error_json(StatusCode::NOT_FOUND, 404, "Not Found")
        }
        None => {
            let mut req = Request::from_parts(parts, Body::from(bytes.clone()));
            req.extensions_mut().insert(ConnectInfo(meta.peer));
            if meta.https {
                req.extensions_mut().insert(crate::reference::tls::Https);
            }
            match rc.inner.clone().oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            }
        }
    };

    // Read the answer, register what it issued, rewrite what events say.
    let (mut rparts, rbody) = resp.into_parts();
    let rbytes = axum::body::to_bytes(rbody, MAX_BODY)
        .await
        .unwrap_or_default();
    let mut answer: Option<Value> = serde_json::from_slice(&rbytes).ok();
    let error_code = answer.as_ref().and_then(|v| v["error"]["code"].as_i64());
    let status = rparts.status.as_u16();
    let mut book = sh.book();
    let seq = book.entries.len();
    let presented: Vec<Presented> = carriers
        .iter()
        .map(|(c, v)| Presented {
            carrier: *c,
            token: sh.seen(&book, v),
        })
        .collect();
    let mut issued = None;
    let mut changed = false;
    if let Some(a) = answer.as_mut().filter(|_| !was_injected && status == 200) {
        if error_code.is_none() {
            issued = register(
                &sh,
                &mut book,
                &rc,
                &p,
                &presented,
                a,
                seq,
                real_ms,
                &listener_origin,
            );
            changed = issued.is_some();
        }
        changed |= advertise(&book, rc.role, &p.path, a);
    }
    book.entries.push(entry(
        &rc,
        &p,
        seq,
        real_ms,
        server_ms,
        meta,
        presented,
        credentials,
        status,
        error_code,
        issued,
        was_injected,
    ));
    let body = match &answer {
        Some(a) if changed => {
            rparts.headers.remove(header::CONTENT_LENGTH);
            rparts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            Body::from(a.to_string())
        }
        _ => Body::from(rbytes),
    };
    Response::from_parts(rparts, body)
}

fn root_prefix(role: Role) -> &'static str {
    match role {
        Role::Portal => "/sharing",
        Role::Server => "/arcgis",
        Role::Federated => "/federated",
        Role::Foreign => "/",
    }
}

#[allow(clippy::too_many_arguments)]
fn entry(
    rc: &RoleCtx,
    p: &Parsed,
    seq: usize,
    real_ms: i64,
    server_ms: i64,
    meta: ConnMeta,
    presented: Vec<Presented>,
    credentials: Option<Credentials>,
    status: u16,
    error_code: Option<i64>,
    issued: Option<TokenId>,
    injected: bool,
) -> Entry {
    Entry {
        seq,
        listener: rc.index,
        role: rc.role,
        scheme: if meta.https {
            Scheme::Https
        } else {
            Scheme::Http
        },
        real_ms,
        server_ms,
        method: p.method.to_string(),
        path: p.path.clone(),
        query_keys: p.query.iter().map(|(k, _)| k.clone()).collect(),
        body_keys: p.form.iter().map(|(k, _)| k.clone()).collect(),
        presented,
        credentials,
        referer: p.header("referer").map(str::to_owned),
        peer: meta.peer.ip().to_canonical(),
        status,
        error_code,
        issued,
        injected,
    }
}

/// The listener whose `host:port` a URL names, with the root its path
/// names (or the listener's own root).
fn scope_of(book: &Book, url: &str) -> Option<(String, String)> {
    let u = url::Url::parse(url).ok()?;
    let authority = format!("{}:{}", u.host_str()?, u.port_or_known_default()?);
    let l = book.listeners.iter().find(|l| {
        l.origin
            .split_once("://")
            .is_some_and(|(_, a)| a.eq_ignore_ascii_case(&authority))
    })?;
    let root = match u.path().split('/').nth(1) {
        None | Some("") => root_of(l.role).to_owned(),
        Some("sharing") => "/sharing/rest".to_owned(),
        Some(seg) => format!("/{seg}"),
    };
    Some((l.origin.clone(), root))
}

/// Registers a token the answer `a` carries (generateToken, exchange,
/// sessions/start, the foreign token service); applies the case's fixed
/// lifetime and `ssl` declaration to the store and the answer.
#[allow(clippy::too_many_arguments)]
fn register(
    sh: &Shared,
    book: &mut Book,
    rc: &RoleCtx,
    p: &Parsed,
    presented: &[Presented],
    a: &mut Value,
    seq: usize,
    real_ms: i64,
    origin: &str,
) -> Option<TokenId> {
    let from_presented = presented.iter().find_map(|x| match x.token {
        Seen::Issued(id) => Some(id),
        _ => None,
    });
    let (value, kind, user, scope, from, binding, expires) = if let Some(v) = a["sessionToken"]
        .as_str()
        .filter(|_| p.path.ends_with("/sessions/start"))
    {
        let from = from_presented;
        let user = from
            .and_then(|id| book.tokens.get(id.0 as usize))
            .map(|t| t.user.clone())
            .unwrap_or_default();
        let scope = (origin.to_owned(), root_of(rc.role).to_owned());
        let expires = a["endTime"].as_i64().unwrap_or(0);
        (
            v.to_owned(),
            TokenKind::Session,
            user,
            scope,
            from,
            Binding::None,
            expires,
        )
    } else if let Some(v) = a["token"].as_str().filter(|_| is_token_service(&p.path)) {
        let binding = match p.param("client") {
            Some("referer") => Binding::Referer(p.param("referer").unwrap_or("").to_owned()),
            Some("requestip") => Binding::RequestIp,
            Some("ip") => Binding::Ip(p.param("ip").unwrap_or("").to_owned()),
            _ => Binding::None,
        };
        let expires = a["expires"].as_i64().unwrap_or(0);
        if rc.role == Role::Foreign {
            let root = p
                .path
                .split_once("/tokens")
                .or_else(|| p.path.split_once("/generateToken"))
                .map_or("", |(r, _)| r)
                .to_owned();
            let user = p.param("username").unwrap_or("").to_owned();
            let from = (!presented.is_empty()).then_some(from_presented).flatten();
            (
                v.to_owned(),
                TokenKind::Foreign,
                user,
                (origin.to_owned(), root),
                from,
                binding,
                expires,
            )
        } else if let Some(user) = p.param("username") {
            let kind = if rc.role == Role::Portal {
                TokenKind::Portal
            } else {
                TokenKind::Server
            };
            let scope = (origin.to_owned(), root_of(rc.role).to_owned());
            (
                v.to_owned(),
                kind,
                user.to_owned(),
                scope,
                None,
                binding,
                expires,
            )
        } else {
            let source = p.param("token").and_then(|t| book.by_value.get(t).copied());
            let src = source.and_then(|id| book.tokens.get(id.0 as usize));
            let user = src.map(|t| t.user.clone()).unwrap_or_default();
            let binding = src.map(|t| t.binding.clone()).unwrap_or(binding);
            let scope = p
                .param_any_case("serverUrl")
                .and_then(|u| scope_of(book, u))
                .unwrap_or_else(|| (origin.to_owned(), root_of(rc.role).to_owned()));
            (
                v.to_owned(),
                TokenKind::Exchanged,
                user,
                scope,
                source,
                binding,
                expires,
            )
        }
    } else {
        return None;
    };
    let id = TokenId(book.tokens.len() as u32);
    // The case's fixed lifetime (fast tier): the store and the answer agree.
    let mut expires_server_ms = expires;
    let mut issued_server_ms = sh.clock_now();
    if kind != TokenKind::Session && kind != TokenKind::Foreign {
        let mut inner = sh.state.lock();
        if let Some(Kind::Access(t)) = inner.store.get(&value) {
            issued_server_ms = t.issued_ms;
            if let Some(l) = sh.lifetime_ms {
                let mut e = t.issued_ms.saturating_add(l as i64);
                if kind == TokenKind::Exchanged
                    && let Some(src) = from.and_then(|f| book.tokens.get(f.0 as usize))
                {
                    e = e.min(src.expires_server_ms);
                }
                inner.store.update(&value, |k| {
                    if let Kind::Access(t) = k {
                        t.expires_ms = e;
                    }
                });
                a["expires"] = json!(e);
                expires_server_ms = e;
            }
        }
    } else if kind == TokenKind::Session {
        issued_server_ms = a["startTime"].as_i64().unwrap_or(issued_server_ms);
    }
    if book.ssl && a.get("token").is_some() {
        a["ssl"] = json!(true);
        book.ssl_tokens.insert(id);
    }
    book.tokens.push(IssuedToken {
        id,
        kind,
        user,
        scope_origin: scope.0,
        scope_root: scope.1,
        issued_by: seq,
        issued_real_ms: real_ms,
        issued_server_ms,
        expires_server_ms,
        binding,
        from,
        revoked_real_ms: None,
    });
    sh.leaks.add(&value, &sh.case);
    book.by_value.insert(value.clone(), id);
    book.values.push(value);
    Some(id)
}

/// What the case's events advertise: `rest/info` of a role (the federated
/// one always names the portal listener), `allSSL` on `portals/self`.
/// Returns whether `a` changed.
fn advertise(book: &Book, role: Role, path: &str, a: &mut Value) -> bool {
    let info = path.ends_with("/rest/info") || path.ends_with("/sharing/rest/info");
    let mut changed = false;
    if info && role != Role::Foreign && a.is_object() {
        let portal = book
            .listeners
            .iter()
            .find(|l| l.role == Role::Portal)
            .map_or("", |l| l.origin.as_str());
        let (mut owning, mut token_url) = (None, None);
        if role == Role::Federated {
            owning = Some(portal.to_owned());
            token_url = Some(format!("{portal}/sharing/rest/generateToken"));
        }
        if let Some(o) = book.owning.get(&role) {
            owning = Some(o.clone());
        }
        if let Some(t) = book.token_url.get(&role) {
            token_url = Some(t.clone());
        }
        if let Some(o) = owning {
            a["owningSystemUrl"] = json!(o);
            changed = true;
        }
        if let Some(t) = token_url {
            if !a["authInfo"].is_object() {
                a["authInfo"] = json!({"isTokenBasedSecurity": true});
            }
            a["authInfo"]["tokenServicesUrl"] = json!(t);
            changed = true;
        }
    }
    if book.all_ssl && role == Role::Portal && path.ends_with("/portals/self") && a.is_object() {
        a["allSSL"] = json!(true);
        changed = true;
    }
    changed
}
