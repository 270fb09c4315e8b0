//! The minimal Portal at `/sharing/rest` that official clients need
//! (semantics.md "Client compatibility"): `info`, `portals/self`,
//! `community/self`, `community/users/{name}`. `generateToken` lives in
//! `arcgis.rs` with the Server one (same rules, Portal knobs). Portal
//! resources accept Portal tokens and API keys; session tokens get 403 (SL-5,
//! or 498 under its variant); an invalid token is `Invalid token.` (498).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::auth::{Denial, Principal, authenticate};
use super::deviations::Deviation;
use super::errors::{Format, arcgis_error, body, forbidden, invalid_token_portal, token_required};
use super::params::Ctx;
use super::state::AppState;
use super::tokens::Audience;
use super::variants::{Hp8, Sl5};

const PORTAL: &[Audience] = &[Audience::Portal];

/// `/sharing/rest/info`.
pub fn info(st: &AppState, ctx: &Ctx) -> Response {
    let fmt = Format::parse(ctx.param("f"), Format::Html);
    let v = json!({
        "owningSystemUrl": ctx.base,
        "authInfo": {
            "isTokenBasedSecurity": true,
            "tokenServicesUrl": format!("{}/sharing/rest/generateToken", ctx.base),
            "shortLivedTokenValidity": st.knobs().portal_short_lived_minutes,
        }
    });
    body(fmt, StatusCode::OK, &v)
}

fn user_json(name: &str) -> Value {
    json!({
        "username": name,
        "fullName": name,
        "role": "org_user",
        "orgId": "tessera",
    })
}

/// Who is asking: `Ok(None)` without a token, the user name with a valid one.
fn who(st: &AppState, ctx: &Ctx, fmt: Format) -> Result<Option<String>, Box<Response>> {
    let mut inner = st.lock_at(ctx.now);
    match authenticate(st, &mut inner, ctx, PORTAL) {
        Ok(Principal::User { user, .. }) => Ok(Some(user.to_string())),
        Ok(Principal::Session { parent_user, .. }) => {
            if st.dev(Deviation::SessionTokenAnyService) {
                Ok(Some(parent_user))
            } else if st.variants().sl5 == Sl5::Invalid498 {
                Err(Box::new(invalid_token_portal(st, fmt)))
            } else {
                Err(Box::new(forbidden(st, fmt)))
            }
        }
        Err(Denial::Required) => Ok(None),
        Err(Denial::Invalid) => Err(Box::new(invalid_token_portal(st, fmt))),
    }
}

/// `/sharing/rest/portals/self`: anonymous without a token, with `user` when signed in.
pub fn portal_self(st: &AppState, ctx: &Ctx) -> Response {
    let fmt = Format::parse(ctx.param("f"), Format::Html);
    let user = match who(st, ctx, fmt) {
        Ok(u) => u,
        // A public resource (HP-8): under `ignored` an invalid token is
        // served anonymously, as on the Server's public services.
        Err(_) if st.variants().hp8 == Hp8::Ignored => None,
        Err(r) => return *r,
    };
    let mut v = json!({
        "id": "tessera",
        "name": "Tessera reference",
        "portalName": "Tessera reference portal",
        "isPortal": true,
        "portalMode": "singletenant",
        "currentVersion": "2024.1",
        "authorizedCrossOriginDomains": [],
        "allSSL": false,
        "supportsOAuth": false,
        "helperServices": {},
    });
    if let Some(u) = user {
        v["user"] = user_json(&u);
    }
    body(fmt, StatusCode::OK, &v)
}

/// `/sharing/rest/community/self`: 499 without a token.
pub fn community_self(st: &AppState, ctx: &Ctx) -> Response {
    let fmt = Format::parse(ctx.param("f"), Format::Html);
    match who(st, ctx, fmt) {
        Ok(Some(u)) => body(fmt, StatusCode::OK, &user_json(&u)),
        Ok(None) => token_required(st, fmt),
        Err(r) => *r,
    }
}

/// `/sharing/rest/community/users/{name}`: 499 without a token.
pub fn community_user(st: &AppState, ctx: &Ctx, name: &str) -> Response {
    let fmt = Format::parse(ctx.param("f"), Format::Html);
    match who(st, ctx, fmt) {
        Ok(Some(_)) => {
            if st.lock_at(ctx.now).account(name).is_some() {
                body(fmt, StatusCode::OK, &user_json(name))
            } else {
                arcgis_error(st, fmt, 400, "User not found", &[])
            }
        }
        Ok(None) => token_required(st, fmt),
        Err(r) => *r,
    }
}
