//! The `arcweb-2006` profile: `/services/v2006_1/restmap?actn=...` with
//! `getToken`, `getUserID`, `renewToken` and the map request `getMap`
//! (LT-7, LT-7a, LT-8, LT-9, RN-1..RN-3, IP-5, IP-6). Parameters come from the
//! query or a form body, GET or POST; answers are plain text, refusals
//! Tomcat-style 403 pages, an expired token the 500 "1021" page.
//!
//! Choices where semantics.md is silent: a malformed `ip` or `tout` is a 403
//! refusal like every other ArcWeb refusal (LT-7a); the map answer is a 1×1
//! PNG; a token whose user changed password is "Invalid token" (403).

use std::net::IpAddr;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::auth::alive;
use super::deviations::Deviation;
use super::errors::text;
use super::params::Ctx;
use super::state::{AppState, Inner};
use super::tokens::{ARCWEB_TOKEN_BYTES, ArcWebToken, Kind, UserId, new_token};
use super::variants::{Lt7, Lt7a, Rn1};

/// LT-7: `tout` default and maximum, minutes (ArcWeb guide).
pub const DEFAULT_TOUT_MINUTES: i64 = 60;
pub const MAX_TOUT_MINUTES: i64 = 1440;
/// RN-1: a renewal extends to 60 minutes from the renewal instant.
pub const RENEW_MINUTES: i64 = 60;
/// Length of an ArcWeb token (72 URL-safe characters).
const TOKEN_LEN: usize = ARCWEB_TOKEN_BYTES * 4 / 3;

/// A 1×1 transparent PNG: the "map".
const MAP_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

fn refuse(reason: &str) -> Response {
    text(
        StatusCode::FORBIDDEN,
        format!("Access to the specified resource ({reason}) has been forbidden."),
    )
}

fn expired(st: &AppState) -> Response {
    if st.dev(Deviation::ArcwebExpiredAs403) {
        return refuse("Token has expired");
    }
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The server encountered an internal error (1021: Token has expired.) that prevented it from fulfilling this request.".to_owned(),
    )
}

/// LT-7a: an invalid user ID is the 403 refusal (the reference) or the 500
/// page with `Invalid userid` [AW-05, AW-08].
fn invalid_user_id(st: &AppState) -> Response {
    match st.variants().lt7a {
        Lt7a::Forbidden403 => refuse("Invalid userid"),
        Lt7a::Error500 => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server encountered an internal error (Invalid userid) that prevented it from fulfilling this request.".to_owned(),
        ),
    }
}

fn well_formed(t: &str) -> bool {
    t.len() == TOKEN_LEN
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `/services/v2006_1/restmap`.
pub fn handle(st: &AppState, ctx: &Ctx) -> Response {
    match ctx.param("actn") {
        Some("getToken") => get_token(st, ctx),
        Some("getUserID") => get_user_id(st, ctx),
        Some("renewToken") => renew(st, ctx),
        Some("getMap") => map(st, ctx),
        _ => text(
            StatusCode::BAD_REQUEST,
            "actn must be one of getToken, getUserID, renewToken, getMap.".to_owned(),
        ),
    }
}

/// Checks `usr`/`pswd`; the account name and epoch on success.
fn credentials(st: &AppState, inner: &Inner, ctx: &Ctx) -> Option<(String, u64)> {
    let (u, p) = (ctx.nonempty("usr")?, ctx.nonempty("pswd")?);
    let ci = st.dev(Deviation::CaseInsensitiveUsernames);
    let a = inner.accounts.iter().find(|a| {
        if ci {
            a.name.eq_ignore_ascii_case(u)
        } else {
            *a.name == *u
        }
    })?;
    bool::from(a.password.as_bytes().ct_eq(p.as_bytes())).then(|| (a.name.to_string(), a.epoch))
}

fn get_token(st: &AppState, ctx: &Ctx) -> Response {
    let tout = match ctx.param("tout").map(str::trim) {
        None | Some("") => DEFAULT_TOUT_MINUTES,
        Some(s) => match super::params::positive_int(s) {
            Some(m) if m <= MAX_TOUT_MINUTES || st.dev(Deviation::ToutNotClamped) => m,
            // LT-7 above 1440: `clamp` (the reference) or `refuse`.
            Some(_) if st.variants().lt7 == Lt7::Refuse => return refuse("Invalid tout"),
            Some(_) => MAX_TOUT_MINUTES,
            _ => return refuse("Invalid tout"),
        },
    };
    // IP-5: bound to the requester, or to `ip` when given.
    let ip = match ctx.nonempty("ip") {
        None => ctx.client_ip,
        Some(s) => match s.trim().parse::<IpAddr>() {
            Ok(ip) => ip.to_canonical(),
            // IP-7 (ArcWeb's refusal is its 403): the deviation binds to the
            // requester instead of refusing.
            Err(_) if st.dev(Deviation::MalformedIpAccepted) => ctx.client_ip,
            Err(_) => return refuse("Invalid ip address"),
        },
    };
    let mut inner = st.lock_at(ctx.now);
    let Some((user, epoch)) = credentials(st, &inner, ctx) else {
        return refuse("Invalid username or password");
    };
    let t = new_token(inner.entropy.as_mut(), "", ARCWEB_TOKEN_BYTES);
    let kind = Kind::ArcWeb(ArcWebToken {
        user,
        epoch,
        issued_ms: ctx.now,
        expires_ms: ctx.now.saturating_add(tout.saturating_mul(60_000)),
        bound_ip: Some(ip),
    });
    inner.store.insert(&t, kind, ctx.now);
    text(StatusCode::OK, t)
}

/// LT-8: one ID per account, never expiring, not bound.
fn get_user_id(st: &AppState, ctx: &Ctx) -> Response {
    let mut inner = st.lock_at(ctx.now);
    let Some((user, epoch)) = credentials(st, &inner, ctx) else {
        return refuse("Invalid username or password");
    };
    if let Some(secret) = inner.store.user_id_of(&user, epoch) {
        return text(StatusCode::OK, secret);
    }
    let id = new_token(inner.entropy.as_mut(), "", ARCWEB_TOKEN_BYTES);
    let kind = Kind::UserId(UserId {
        user,
        epoch,
        issued_ms: ctx.now,
    });
    inner.store.insert(&id, kind, ctx.now);
    text(StatusCode::OK, id)
}

/// Why an ArcWeb token cannot be used.
enum TokenState {
    Good,
    Refused(&'static str),
    Expired,
    WrongAddress,
}

fn token_state(st: &AppState, inner: &Inner, ctx: &Ctx, t: &str) -> TokenState {
    if !well_formed(t) {
        return TokenState::Refused("Wrong token format");
    }
    let Some(Kind::ArcWeb(a)) = inner.store.get(t) else {
        return TokenState::Refused("Invalid token");
    };
    let current = inner.account(&a.user).map(|x| x.epoch);
    if current != Some(a.epoch) && !st.dev(Deviation::PasswordChangeKeepsTokens) {
        return TokenState::Refused("Invalid token");
    }
    if !alive(st, ctx.now, a.expires_ms) {
        return TokenState::Expired;
    }
    match a.bound_ip {
        Some(ip) if ip != ctx.client_ip && !st.dev(Deviation::IgnoreIpBinding) => {
            TokenState::WrongAddress
        }
        _ => TokenState::Good,
    }
}

/// RN-1..RN-3, IP-6: the same token, extended, same binding (`same-token`,
/// the reference), or a new token with the same binding while the old one
/// keeps its own expiry (`new-token`). Either way never shortened (RN-3).
fn renew(st: &AppState, ctx: &Ctx) -> Response {
    let Some(t) = ctx.nonempty("tkn") else {
        return refuse("No token or userid supplied");
    };
    let mut inner = st.lock_at(ctx.now);
    match token_state(st, &inner, ctx, t) {
        TokenState::Good => {}
        TokenState::Refused(r) => return refuse(r),
        TokenState::Expired if st.dev(Deviation::RenewExpiredToken) => {}
        TokenState::Expired => return expired(st),
        TokenState::WrongAddress if st.dev(Deviation::RenewalDropsBinding) => {}
        TokenState::WrongAddress => return refuse("Wrong address"),
    }
    let drop_binding = st.dev(Deviation::RenewalDropsBinding);
    let shorten = st.dev(Deviation::RenewalShortensToken);
    let Some(Kind::ArcWeb(old)) = inner.store.get(t) else {
        return refuse("Invalid token");
    };
    let target = ctx.now.saturating_add(RENEW_MINUTES * 60_000);
    let renewed = ArcWebToken {
        expires_ms: if shorten {
            target
        } else {
            old.expires_ms.max(target)
        },
        bound_ip: if drop_binding { None } else { old.bound_ip },
        ..old
    };
    match st.variants().rn1 {
        Rn1::SameToken => {
            inner.store.update(t, |k| *k = Kind::ArcWeb(renewed));
            text(StatusCode::OK, t.to_owned())
        }
        Rn1::NewToken => {
            let fresh = new_token(inner.entropy.as_mut(), "", ARCWEB_TOKEN_BYTES);
            let renewed = ArcWebToken {
                issued_ms: ctx.now,
                ..renewed
            };
            inner.store.insert(&fresh, Kind::ArcWeb(renewed), ctx.now);
            text(StatusCode::OK, fresh)
        }
    }
}

/// `actn=getMap` with `tkn` or `usrid`.
fn map(st: &AppState, ctx: &Ctx) -> Response {
    let inner = st.lock_at(ctx.now);
    if let Some(t) = ctx.nonempty("tkn") {
        match token_state(st, &inner, ctx, t) {
            TokenState::Good => return png(),
            TokenState::Refused(r) => return refuse(r),
            TokenState::Expired => return expired(st),
            TokenState::WrongAddress => return refuse("Wrong address"),
        }
    }
    let Some(id) = ctx.nonempty("usrid") else {
        return refuse("No token or userid supplied");
    };
    let Some(Kind::UserId(u)) = inner.store.get(id) else {
        return invalid_user_id(st);
    };
    let current = inner.account(&u.user).map(|x| x.epoch);
    if current != Some(u.epoch) && !st.dev(Deviation::PasswordChangeKeepsTokens) {
        return invalid_user_id(st);
    }
    if st.dev(Deviation::UserIdExpires) && ctx.now >= u.issued_ms + DEFAULT_TOUT_MINUTES * 60_000 {
        return expired(st);
    }
    png()
}

fn png() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static("image/png"))],
        MAP_PNG,
    )
        .into_response()
}
