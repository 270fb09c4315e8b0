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
    Format, MSG_BAD_CREDENTIALS, MSG_UNABLE, arcgis_error, body, forbidden, invalid_token,
    token_required,
};
use super::params::Ctx;
use super::state::{AppState, Inner};
use super::tokens::{AccessToken, Audience, Binding, Kind, TOKEN_BYTES, new_token};

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

/// TS-7: `rest/info` of a server root.
pub fn info(st: &AppState, ctx: &Ctx, root: Root) -> Response {
    let fmt = Format::parse(ctx.param("f"), Format::Html);
    let k = st.knobs();
    let v = match root {
        Root::Arcgis => json!({
            "currentVersion": CURRENT_VERSION,
            "fullVersion": "11.3.0",
            "authInfo": {
                "isTokenBasedSecurity": true,
                "tokenServicesUrl": format!("{}/arcgis/tokens/generateToken", ctx.base),
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

/// `generateToken` on either token service.
pub fn generate_token(st: &AppState, ctx: &Ctx, svc: TokenService) -> Response {
    let fmt = Format::parse(ctx.param("f"), Format::Html);
    let fail = |detail: &str| arcgis_error(st, fmt, 400, MSG_UNABLE, &[detail]);
    let k = st.knobs();
    // TS-4: POST only, credentials in the body.
    if ctx.method != Method::POST
        && !(k.allow_http_get || st.dev(Deviation::GetGenerateTokenAllowed))
    {
        return fail("generateToken requires POST; GET is not allowed.");
    }
    if ctx.method == Method::POST
        && (ctx.in_query("username") || ctx.in_query("password"))
        && !(k.allow_post_query_params || st.dev(Deviation::QueryCredentialsAllowed))
    {
        return fail("Credentials must be sent in the request body, not in the query string.");
    }
    let (short, max) = match svc {
        TokenService::Server => (k.short_lived_minutes, k.max_expiration_minutes),
        TokenService::Portal => (
            k.portal_short_lived_minutes,
            k.portal_max_expiration_minutes,
        ),
    };
    // LT-1..LT-4.
    let minutes = match ctx.param("expiration").map(str::trim) {
        None | Some("") => short as i64,
        Some(s) => match super::params::positive_int(s) {
            Some(m) => {
                if m as u64 > max && !st.dev(Deviation::NoExpirationClamp) {
                    max as i64
                } else {
                    m
                }
            }
            None if st.dev(Deviation::LenientExpiration) => short as i64,
            _ => return fail("expiration must be a positive whole number of minutes."),
        },
    };
    let lifetime_ms = minutes.saturating_mul(60_000);
    let mut inner = st.lock();
    if ctx.nonempty("username").is_none()
        && let Some(src) = ctx.nonempty("token")
    {
        return exchange(st, ctx, &mut inner, svc, src, lifetime_ms, fmt);
    }
    // TS-5, IP-1, IP-4, IP-7.
    let unbound_ok = st.dev(Deviation::MissingBindingValueUnbound);
    let binding = match ctx.param("client") {
        None | Some("") => Binding::None,
        Some("requestip") => Binding::Ip(ctx.client_ip),
        Some("ip") => match ctx.nonempty("ip") {
            None if unbound_ok => Binding::None,
            None => return fail("client=ip requires the ip parameter."),
            Some(s) => match s.trim().parse::<IpAddr>() {
                Ok(ip) => Binding::Ip(ip.to_canonical()),
                Err(_) if st.dev(Deviation::MalformedIpAccepted) => Binding::None,
                Err(_) => return fail("ip is not a valid IPv4 or IPv6 address."),
            },
        },
        Some("referer") => match ctx.nonempty("referer") {
            None if unbound_ok => Binding::None,
            None => return fail("client=referer requires the referer parameter."),
            Some(r) => Binding::Referer(r.to_owned()),
        },
        Some(_) => return fail("client must be one of referer, ip, requestip."),
    };
    // TS-3: case-sensitive names, passwords compared in constant time.
    let (Some(user), Some(pass)) = (ctx.nonempty("username"), ctx.nonempty("password")) else {
        return fail("username and password are required.");
    };
    let ci = st.dev(Deviation::CaseInsensitiveUsernames);
    let Some(acct) = inner.accounts.iter().find(|a| {
        if ci {
            a.name.eq_ignore_ascii_case(user)
        } else {
            a.name == user
        }
    }) else {
        return fail(MSG_BAD_CREDENTIALS);
    };
    if !bool::from(acct.password.as_bytes().ct_eq(pass.as_bytes())) {
        return fail(MSG_BAD_CREDENTIALS);
    }
    let (name, epoch) = (acct.name.clone(), acct.epoch);
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
    issue(st, &mut inner, ctx, token, fmt)
}

fn issue(st: &AppState, inner: &mut Inner, ctx: &Ctx, token: AccessToken, fmt: Format) -> Response {
    let text = if st.dev(Deviation::NonUrlSafeTokens) {
        // 47 bytes in standard base64 always end in `=`.
        let mut buf = [0u8; 47];
        inner.entropy.fill(&mut buf);
        base64::engine::general_purpose::STANDARD.encode(buf)
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
    body(
        fmt,
        StatusCode::OK,
        &json!({"token": text, "expires": expires_wire, "ssl": false}),
    )
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
    let source = match check_token(st, inner, ctx, src, accept) {
        Ok(Principal::User { token, .. }) => token,
        Ok(Principal::Session { .. }) | Err(_) => return invalid_token(st, fmt),
    };
    let path = ctx.nonempty("serverUrl").map(|u| {
        url::Url::parse(u)
            .map(|p| p.path().to_owned())
            .unwrap_or_else(|_| u.to_owned())
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
    issue(st, inner, ctx, token, fmt)
}

/// `{root}/rest/services`: the directory, public (tokens ignored).
pub fn directory(st: &AppState, ctx: &Ctx) -> Response {
    let fmt = Format::parse(ctx.param("f"), Format::Html);
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
    let ok = || body(fmt, StatusCode::OK, &service_json(svc, sub));
    if svc.public && !st.dev(Deviation::PublicServiceChecksToken) {
        // HP-8: a public resource ignores tokens, even invalid ones.
        return Some(ok());
    }
    let mut inner = st.lock();
    let user = match authenticate(st, &mut inner, ctx, root.audiences()) {
        Err(Denial::Required) if svc.public => return Some(ok()),
        Err(Denial::Required) => return Some(token_required(st, fmt)),
        Err(Denial::Invalid) => return Some(invalid_token(st, fmt)),
        Ok(Principal::User { token, .. }) => token.user,
        Ok(Principal::Session { parent_user, .. }) => {
            // SL-5: a session token only reaches Basemap Styles.
            if st.dev(Deviation::SessionTokenAnyService) {
                parent_user
            } else {
                return Some(forbidden(st, fmt));
            }
        }
    };
    drop(inner);
    if svc.public || svc.users.contains(&user) {
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
