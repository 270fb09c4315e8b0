//! The `arcgis-token` profile on the Server side: `rest/info` (TS-7),
//! `generateToken` on both token services with token exchange (TS-1..TS-8,
//! LT-1..LT-4, IP-1, IP-4, IP-7), the services directory, and secured and
//! public services (HP-7, HP-8) on the stand-alone root `/arcgis` and the
//! federated root `/federated`.
//!
//! Choices where semantics.md is silent: tokens are scoped to the root whose
//! token service issued them (a `/arcgis` token is 498 on `/federated` and on
//! the Portal, and the other way round), as separate real servers would be;
//! the services directory is public; exchange keeps the source token's binding.

use std::net::IpAddr;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::auth::{Denial, Principal, authenticate, check_token};
use super::config::ServiceConfig;
use super::deviations::Deviation;
use super::errors::{
    Format, MSG_BAD_CREDENTIALS, MSG_UNABLE, arcgis_error, arcgis_error_text, body, body_once,
    forbidden, invalid_token, invalid_token_portal, token_required,
};
use super::params::Ctx;
use super::state::{AppState, Inner};
use super::tokens::{AccessToken, Audience, Binding, Kind, TOKEN_BYTES, new_token};
use super::variants::{Hp8, Ip4, Lt3, Sl5, Ts3, Ts4, Ts5};

/// ArcGIS Server version the reference advertises.
pub const CURRENT_VERSION: f64 = 11.3;

/// A server root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// `/arcgis`: stand-alone, its own token service.
    Arcgis,
    /// `/federated`: federated with the Portal at `/sharing/rest`.
    Federated,
}

impl Root {
    pub fn prefix(self) -> &'static str {
        match self {
            Root::Arcgis => "/arcgis",
            Root::Federated => "/federated",
        }
    }

    /// Token audiences this root accepts.
    pub fn audiences(self) -> &'static [Audience] {
        match self {
            Root::Arcgis => &[Audience::Server],
            Root::Federated => &[Audience::Portal, Audience::Federated],
        }
    }
}

/// Which token service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenService {
    /// `/arcgis/tokens/generateToken`.
    Server,
    /// `/sharing/rest/generateToken`.
    Portal,
}

/// TS-7: `rest/info` of a server root. The stand-alone root advertises its
/// token service root `.../arcgis/tokens/`, as real servers do [AT-08].
pub fn info(st: &AppState, ctx: &Ctx, root: Root) -> Response {
    let fmt = Format::parse(ctx.param("f"), Format::Html);
    let k = st.knobs();
    let v = match root {
        Root::Arcgis => json!({
            "currentVersion": CURRENT_VERSION,
            "fullVersion": "11.3.0",
            "authInfo": {
                "isTokenBasedSecurity": true,
                "tokenServicesUrl": format!("{}/arcgis/tokens/", ctx.base),
                "shortLivedTokenValidity": k.short_lived_minutes,
            }
        }),
        Root::Federated => json!({
            "currentVersion": CURRENT_VERSION,
            "fullVersion": "11.3.0",
            "owningSystemUrl": ctx.base,
            "authInfo": {
                "isTokenBasedSecurity": true,
                "tokenServicesUrl": format!("{}/sharing/rest/generateToken", ctx.base),
                "shortLivedTokenValidity": k.portal_short_lived_minutes,
            }
        }),
    };
    body(fmt, StatusCode::OK, &v)
}

/// TS-4's refusal of GET or of credentials in the query string.
const MSG_METHOD: &str = "Method not supported";
const DETAIL_METHOD: &str =
    "Generate Token request should not contain username and password in the query string.";
/// TS-5 / IP-4: the refusals real servers answer with code 201 [AT-03, AT-04].
const MSG_EXCEPTION: &str = "Exception in generating token";
const DETAIL_NO_CLIENT_ID: &str = "Client id cannot be determined";
const DETAIL_LONG_NEEDS_CLIENT: &str = "Client ID is required for long expiration tokens";
/// TS-3 `401`: the answer a live server gave for bad credentials [AT-02].
const MSG_NOT_AUTHORIZED: &str = "You are not authorized to access this information";

/// `generateToken` on either token service.
pub fn generate_token(st: &AppState, ctx: &Ctx, svc: TokenService) -> Response {
    let fmt = Format::parse(ctx.param("f"), Format::Html);
    let fail = |detail: &str| arcgis_error(st, fmt, 400, MSG_UNABLE, &[detail]);
    let v = st.variants();
    let k = st.knobs();
    // TS-4: POST only, credentials in the body.
    let refuse_method = |detail_400: &str| match v.ts4 {
        Ts4::Code405 => arcgis_error_text(st, fmt, 405, MSG_METHOD, DETAIL_METHOD),
        Ts4::Code400 => fail(detail_400),
    };
    if ctx.method != Method::POST
        && !(k.allow_http_get || st.dev(Deviation::GetGenerateTokenAllowed))
    {
        return refuse_method("generateToken requires POST; GET is not allowed.");
    }
    if ctx.method == Method::POST
        && (ctx.in_query("username") || ctx.in_query("password"))
        && !(k.allow_post_query_params || st.dev(Deviation::QueryCredentialsAllowed))
    {
        return refuse_method(
            "Credentials must be sent in the request body, not in the query string.",
        );
    }
    let (short, max) = match svc {
        TokenService::Server => (k.short_lived_minutes, k.max_expiration_minutes),
        TokenService::Portal => (
            k.portal_short_lived_minutes,
            k.portal_max_expiration_minutes,
        ),
    };
    // LT-1..LT-4.
    let asked = ctx
        .param("expiration")
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let minutes = match asked {
        None => short as i64,
        Some(s) => match super::params::positive_int(s) {
            Some(m) if m as u64 > max && !st.dev(Deviation::NoExpirationClamp) => {
                // LT-3: the Server path clamps; the Portal path's variant may refuse.
                if svc == TokenService::Portal && v.lt3 == Lt3::Refuse {
                    return fail(&format!(
                        "expiration must not exceed {max} minutes on this token service."
                    ));
                }
                max as i64
            }
            Some(m) => m,
            None if st.dev(Deviation::LenientExpiration) => short as i64,
            _ => return fail("expiration must be a positive whole number of minutes."),
        },
    };
    let lifetime_ms = minutes.saturating_mul(60_000);
    let mut inner = st.lock_at(ctx.now);
    if ctx.nonempty("username").is_none()
        && let Some(src) = ctx.nonempty("token")
    {
        return exchange(st, ctx, &mut inner, svc, src, lifetime_ms, fmt);
    }
    // TS-5, IP-1, IP-4, IP-7.
    let unbound_ok = st.dev(Deviation::MissingBindingValueUnbound);
    let no_client_id = || match v.ts5 {
        Ts5::Code201 => arcgis_error_text(st, fmt, 201, MSG_EXCEPTION, DETAIL_NO_CLIENT_ID),
        Ts5::Code400 => {
            fail("client=ip requires the ip parameter, client=referer the referer parameter.")
        }
    };
    let binding = match ctx.param("client") {
        // IP-4 `short-only`: without `client`, an explicit expiration is refused.
        None | Some("") if v.ip4 == Ip4::ShortOnly && asked.is_some() => {
            return arcgis_error_text(st, fmt, 201, MSG_EXCEPTION, DETAIL_LONG_NEEDS_CLIENT);
        }
        None | Some("") => Binding::None,
        Some("requestip") => Binding::Ip(ctx.client_ip),
        Some("ip") => match ctx.nonempty("ip") {
            None if unbound_ok => Binding::None,
            None => return no_client_id(),
            Some(s) => match s.trim().parse::<IpAddr>() {
                Ok(ip) => Binding::Ip(ip.to_canonical()),
                Err(_) if st.dev(Deviation::MalformedIpAccepted) => Binding::None,
                Err(_) => return fail("ip is not a valid IPv4 or IPv6 address."),
            },
        },
        Some("referer") => match ctx.nonempty("referer") {
            None if unbound_ok => Binding::None,
            None => return no_client_id(),
            Some(r) => Binding::Referer(r.to_owned()),
        },
        Some(_) => return fail("client must be one of referer, ip, requestip."),
    };
    // TS-3: case-sensitive names, passwords compared in constant time.
    let (Some(user), Some(pass)) = (ctx.nonempty("username"), ctx.nonempty("password")) else {
        return fail("username and password are required.");
    };
    let bad_credentials = || match v.ts3 {
        Ts3::Code400 => fail(MSG_BAD_CREDENTIALS),
        Ts3::Code401 => arcgis_error_text(st, fmt, 401, MSG_NOT_AUTHORIZED, "Invalid credentials"),
    };
    let ci = st.dev(Deviation::CaseInsensitiveUsernames);
    let Some(acct) = inner.accounts.iter().find(|a| {
        if ci {
            a.name.eq_ignore_ascii_case(user)
        } else {
            *a.name == *user
        }
    }) else {
        return bad_credentials();
    };
    if !bool::from(acct.password.as_bytes().ct_eq(pass.as_bytes())) {
        return bad_credentials();
    }
    let (name, epoch) = (acct.name.to_string(), acct.epoch);
    let audience = match svc {
        TokenService::Server => Audience::Server,
        TokenService::Portal => Audience::Portal,
    };
    if st.dev(Deviation::RegenerateRevokesOld) {
        inner.store.update_all(|k| {
            if let Kind::Access(a) = k
                && a.user == name
                && a.audience != Audience::Any
            {
                a.expires_ms = a.expires_ms.min(ctx.now);
            }
        });
    }
    let token = AccessToken {
        user: name,
        epoch,
        issued_ms: ctx.now,
        expires_ms: ctx.now.saturating_add(lifetime_ms),
        binding,
        audience,
        privileges: None,
    };
    issue(st, &mut inner, ctx, svc, token, fmt)
}

/// Stores and answers a new token (TS-2): `{token, expires}`, plus `ssl` on
/// the Portal's answers [AT-29] (a stand-alone Server omits it [AT-30]).
/// Portal tokens end in `.` like real ones, so clients and the suite meet
/// that shape here.
fn issue(
    st: &AppState,
    inner: &mut Inner,
    ctx: &Ctx,
    svc: TokenService,
    token: AccessToken,
    fmt: Format,
) -> Response {
    let text = if st.dev(Deviation::NonUrlSafeTokens) {
        // 47 bytes in standard base64 always end in `=`.
        let mut buf = [0u8; 47];
        inner.entropy.fill(&mut buf);
        base64::engine::general_purpose::STANDARD.encode(buf)
    } else if svc == TokenService::Portal {
        // Real Portal tokens end in `.` [AT-23]; TS-2 allows it.
        new_token(inner.entropy.as_mut(), "", TOKEN_BYTES) + "."
    } else {
        new_token(inner.entropy.as_mut(), "", TOKEN_BYTES)
    };
    let expires = token.expires_ms;
    inner.store.insert(&text, Kind::Access(token), ctx.now);
    let expires_wire = if st.dev(Deviation::ExpiresInSeconds) {
        expires / 1000
    } else {
        expires
    };
    let mut answer = json!({"token": text, "expires": expires_wire});
    if svc == TokenService::Portal && !st.dev(Deviation::PortalOmitsSsl) {
        answer["ssl"] = json!(false);
    }
    body(fmt, StatusCode::OK, &answer)
}

/// TS-8: `token` + `serverUrl` for a token of the same user on that server.
fn exchange(
    st: &AppState,
    ctx: &Ctx,
    inner: &mut Inner,
    svc: TokenService,
    src: &str,
    lifetime_ms: i64,
    fmt: Format,
) -> Response {
    let accept: &[Audience] = match svc {
        TokenService::Server => &[Audience::Server],
        TokenService::Portal => &[Audience::Portal],
    };
    // The source token as it was before the check (which may slide its
    // expiry under a deviation).
    let before = inner.store.get(src);
    let source = match (check_token(st, inner, ctx, src, accept), before) {
        (Ok(Principal::User { .. }), Some(Kind::Access(token))) => token,
        _ => {
            return match svc {
                TokenService::Server => invalid_token(st, fmt),
                TokenService::Portal => invalid_token_portal(st, fmt),
            };
        }
    };
    // `serverUrl` as documented; any case (Python sends `serverURL`).
    // In client mode servers have origins of their own (`ClientMode`).
    let path = ctx
        .nonempty_any_case("serverUrl")
        .map(|u| match st.client_mode() {
            Some(cm) => cm.server_path(u),
            None => url::Url::parse(u)
                .map(|p| p.path().to_owned())
                .unwrap_or_else(|_| u.to_owned()),
        });
    let under = |p: &str, root: &str| p == root || p.starts_with(&format!("{root}/"));
    let audience = match (svc, path.as_deref()) {
        (TokenService::Server, None) => Audience::Server,
        (TokenService::Server, Some(p)) if under(p, "/arcgis") => Audience::Server,
        (TokenService::Portal, None) => Audience::Portal,
        (TokenService::Portal, Some(p)) if under(p, "/sharing") => Audience::Portal,
        (TokenService::Portal, Some(p)) if under(p, "/federated") => Audience::Federated,
        _ => {
            return arcgis_error(
                st,
                fmt,
                400,
                MSG_UNABLE,
                &["serverUrl is not a server this token service issues tokens for."],
            );
        }
    };
    let mut expires = ctx.now.saturating_add(lifetime_ms);
    if !st.dev(Deviation::ExchangeOutlivesSource) {
        expires = expires.min(source.expires_ms);
    }
    let token = AccessToken {
        issued_ms: ctx.now,
        expires_ms: expires,
        audience: if source.audience == Audience::Any {
            Audience::Any
        } else {
            audience
        },
        ..source
    };
    issue(st, inner, ctx, svc, token, fmt)
}

/// `{root}/rest/services`: the directory, a public resource (HP-8).
pub fn directory(st: &AppState, ctx: &Ctx, root: Root) -> Response {
    let fmt = Format::parse(ctx.param("f"), Format::Html);
    if let Some(refusal) = public_refusal(st, ctx, root, fmt) {
        return refusal;
    }
    let services: Vec<Value> = st
        .config()
        .services
        .iter()
        .map(|s| json!({"name": s.name, "type": s.kind}))
        .collect();
    body(
        fmt,
        StatusCode::OK,
        &json!({"currentVersion": CURRENT_VERSION, "folders": [], "services": services}),
    )
}

/// HP-8 on a public resource: served without a token and with a valid one of
/// any user. A presented token that is invalid, expired or foreign is 498
/// under `checked` (the reference, as ArcGIS Server and Online answer
/// [AT-11..13]) and ignored under `ignored`. `None` means serve it.
fn public_refusal(st: &AppState, ctx: &Ctx, root: Root, fmt: Format) -> Option<Response> {
    let mut inner = st.lock_at(ctx.now);
    match authenticate(st, &mut inner, ctx, root.audiences()) {
        Err(Denial::Required) if st.dev(Deviation::PublicServiceRequiresToken) => {
            Some(token_required(st, fmt))
        }
        Err(Denial::Required) | Ok(Principal::User { .. }) => None,
        _ if st.variants().hp8 == Hp8::Ignored => None,
        Err(Denial::Invalid) => Some(invalid_token(st, fmt)),
        // SL-5: a session token does not reach Server resources.
        Ok(Principal::Session { .. }) => session_elsewhere(st, fmt),
    }
}

/// SL-5: a (valid) session token outside Basemap Styles: 403 (the
/// reference) or 498; `None` under the deviation that lets it through.
pub fn session_elsewhere(st: &AppState, fmt: Format) -> Option<Response> {
    if st.dev(Deviation::SessionTokenAnyService) {
        return None;
    }
    Some(match st.variants().sl5 {
        Sl5::Forbidden403 => forbidden(st, fmt),
        Sl5::Invalid498 => invalid_token(st, fmt),
    })
}

fn find_service<'a, 'b>(st: &'a AppState, rest: &'b str) -> Option<(&'a ServiceConfig, &'b str)> {
    st.config().services.iter().find_map(|s| {
        let r = rest.strip_prefix(s.name.as_str())?.strip_prefix('/')?;
        let sub = r.strip_prefix(s.kind.as_str())?;
        (sub.is_empty() || sub.starts_with('/')).then_some((s, sub))
    })
}

/// A service at `{root}/rest/services/{rest}` (HP-7, HP-8, SL-5).
pub fn service(st: &AppState, ctx: &Ctx, root: Root, rest: &str) -> Option<Response> {
    let (svc, sub) = find_service(st, rest)?;
    let fmt = Format::parse(ctx.param("f"), Format::Html);
    // The description depends only on the service's name and type (and
    // whether a sub-resource was asked for): serialized once, reused.
    let key: &[&str] = if sub.is_empty() {
        &["service", &svc.name, &svc.kind]
    } else {
        &["service-sub"]
    };
    let ok = || body_once(fmt, StatusCode::OK, key, || service_json(svc, sub));
    if svc.public {
        return Some(public_refusal(st, ctx, root, fmt).unwrap_or_else(ok));
    }
    let mut inner = st.lock_at(ctx.now);
    let user = match authenticate(st, &mut inner, ctx, root.audiences()) {
        Err(Denial::Required) => return Some(token_required(st, fmt)),
        Err(Denial::Invalid) => return Some(invalid_token(st, fmt)),
        Ok(Principal::User { user, .. }) => user,
        Ok(Principal::Session { parent_user, .. }) => match session_elsewhere(st, fmt) {
            Some(refusal) => return Some(refusal),
            None => parent_user.into(),
        },
    };
    drop(inner);
    if svc.users.iter().any(|u| **u == *user) {
        Some(ok())
    } else if st.dev(Deviation::ForbiddenAs498) {
        Some(invalid_token(st, fmt))
    } else {
        Some(forbidden(st, fmt))
    }
}

fn service_json(svc: &ServiceConfig, sub: &str) -> Value {
    if !sub.is_empty() {
        return json!({"currentVersion": CURRENT_VERSION, "features": []});
    }
    match svc.kind.as_str() {
        "GeocodeServer" => json!({
            "currentVersion": CURRENT_VERSION,
            "serviceDescription": svc.name,
            "addressFields": [],
            "spatialReference": {"wkid": 4326},
        }),
        _ => json!({
            "currentVersion": CURRENT_VERSION,
            "serviceDescription": svc.name,
            "mapName": svc.name,
            "spatialReference": {"wkid": 4326},
            "layers": [],
        }),
    }
}
