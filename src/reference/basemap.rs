//! The `basemap-sessions` profile: Basemap Styles v2 under
//! `{root}/rest/services/styles/v2/` on both roots — `sessions/start`
//! (SL-1..SL-3, SL-6, SL-8) and style resources per family (SL-4, SL-5,
//! SL-9). Errors use real HTTP statuses with `restInfoUrl` (SL-7).
//!
//! Choices where semantics.md is silent: the service accepts the access tokens
//! of the root it is mounted on (plus API keys); a session token works on both
//! mounts (it is one service); the cap of SL-8 answers code 429 with HTTP 429;
//! an unknown style is a 404 error body.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::arcgis::Root;
use super::auth::{Denial, Principal, authenticate};
use super::config::{BASEMAP_PRIVILEGE, StyleFamily};
use super::deviations::Deviation;
use super::errors::{
    DETAIL_LOCATION_INVALID, Format, MSG_FORBIDDEN, MSG_LOCATION_INVALID, MSG_TOKEN_REQUIRED, body,
    location_error,
};
use super::params::Ctx;
use super::state::AppState;
use super::tokens::{Kind, Session, TOKEN_BYTES, new_token};
use super::variants::{Sl3, Sl5, Sl6};

/// SL-1/SL-3: `durationSeconds` default and bounds.
pub const DEFAULT_DURATION_S: i64 = 43_200;
pub const MIN_DURATION_S: i64 = 10;
pub const MAX_DURATION_S: i64 = 43_200;
/// Upper bound under the `session-over-12h` deviation (a week).
const DEVIANT_MAX_DURATION_S: i64 = 7 * 24 * 3600;

/// `{root}/rest/services/styles/v2/{rest}`; `None` for unknown paths.
pub fn handle(st: &AppState, ctx: &Ctx, root: Root, rest: &str) -> Option<Response> {
    let fmt = Format::parse(ctx.param("f"), Format::Json);
    let info_url = format!("{}{}/rest/info", ctx.base, root.prefix());
    let err = |code: u16, msg: &str, details: &[&str]| {
        location_error(st, fmt, code, msg, details, &info_url)
    };
    let denied = |d: Denial| match d {
        Denial::Required => err(499, MSG_TOKEN_REQUIRED, &[]),
        Denial::Invalid => err(498, MSG_LOCATION_INVALID, &[DETAIL_LOCATION_INVALID]),
    };
    if rest == "sessions/start" {
        return Some(start(st, ctx, root, fmt, &err, &denied));
    }
    let style = rest.strip_prefix("styles/")?;
    let (fam, name) = style.split_once('/')?;
    let family = StyleFamily::parse(fam)?;
    let name = name.split('/').next().unwrap_or(name);
    if !st
        .config()
        .styles
        .iter()
        .any(|s| s.family == family && s.name == name)
    {
        return Some(err(404, "Style not found.", &[]));
    }
    let mut inner = st.lock_at(ctx.now);
    let allowed = match authenticate(st, &mut inner, ctx, root.audiences()) {
        Err(d) => return Some(denied(d)),
        // SL-5: a session token reaches only its own family (403, or 498
        // under the variant).
        Ok(Principal::Session { family: f, .. }) => {
            let own = f == family || st.dev(Deviation::SessionTokenOtherFamily);
            if !own && st.variants().sl5 == Sl5::Invalid498 {
                return Some(denied(Denial::Invalid));
            }
            own
        }
        // SL-9: access tokens need the basemap privilege.
        Ok(Principal::User { privileges, .. }) => privileges.iter().any(|p| p == BASEMAP_PRIVILEGE),
    };
    drop(inner);
    if !allowed {
        return Some(err(403, MSG_FORBIDDEN, &[]));
    }
    let v = json!({
        "version": 8,
        "name": format!("{}/{}", family.as_str(), name),
        "sources": {},
        "layers": [],
    });
    Some(body(fmt, StatusCode::OK, &v))
}

fn start(
    st: &AppState,
    ctx: &Ctx,
    root: Root,
    fmt: Format,
    err: &dyn Fn(u16, &str, &[&str]) -> Response,
    denied: &dyn Fn(Denial) -> Response,
) -> Response {
    let mut inner = st.lock_at(ctx.now);
    let (parent_key, parent_user, parent_expires, privileges) =
        match authenticate(st, &mut inner, ctx, root.audiences()) {
            Err(d) => return denied(d),
            Ok(Principal::User {
                key,
                user,
                expires_ms,
                privileges,
            }) => (key, user.to_string(), expires_ms, privileges),
            // SL-6: a (valid) session token cannot start a session.
            Ok(Principal::Session {
                parent_key,
                parent_user,
                ..
            }) if st.dev(Deviation::SessionTokenStartsSession) => {
                let privs = inner
                    .account(&parent_user)
                    .map(|a| a.privileges.clone())
                    .unwrap_or_default();
                (parent_key, parent_user, i64::MAX, privs)
            }
            Ok(Principal::Session { .. }) => {
                return match st.variants().sl6 {
                    Sl6::Forbidden403 => err(
                        403,
                        MSG_FORBIDDEN,
                        &["A session token cannot start a session."],
                    ),
                    Sl6::Invalid498 => denied(Denial::Invalid),
                };
            }
        };
    if !privileges.iter().any(|p| p == BASEMAP_PRIVILEGE) {
        return err(
            403,
            MSG_FORBIDDEN,
            &["The token lacks the basemap privilege."],
        );
    }
    let family = match ctx.param("styleFamily") {
        None | Some("") => StyleFamily::Arcgis,
        Some(s) => match StyleFamily::parse(s) {
            Some(f) => f,
            None => {
                return err(
                    400,
                    "Invalid styleFamily.",
                    &["styleFamily must be arcgis or open."],
                );
            }
        },
    };
    // SL-3: outside 10..43200 or not an integer: refused (the reference) or
    // clamped (a number is clamped into range; a fraction rounds down first).
    let duration = match ctx.param("durationSeconds").map(str::trim) {
        None | Some("") => DEFAULT_DURATION_S,
        Some(s) => {
            let max = if st.dev(Deviation::SessionOver12h) {
                DEVIANT_MAX_DURATION_S
            } else {
                MAX_DURATION_S
            };
            let clamp = st.variants().sl3 == Sl3::Clamp;
            let number = s.parse::<f64>().ok().filter(|d| d.is_finite());
            match s.parse::<i64>() {
                Ok(d) if (MIN_DURATION_S..=max).contains(&d) => d,
                _ if clamp && number.is_some() => {
                    let d = number.unwrap_or_default().floor();
                    d.clamp(MIN_DURATION_S as f64, MAX_DURATION_S as f64) as i64
                }
                _ => {
                    return err(
                        400,
                        "Invalid durationSeconds.",
                        &["durationSeconds must be a whole number from 10 to 43200."],
                    );
                }
            }
        }
    };
    // SL-8: at most `max_concurrent_sessions` live sessions per access token.
    if let Some(cap) = st.knobs().max_concurrent_sessions
        && !st.dev(Deviation::NoSessionCap)
    {
        let live = inner.store.live_sessions(&parent_key, ctx.now);
        if live >= cap as usize {
            return err(
                429,
                "Too many sessions.",
                &["The concurrent session limit for this token is reached."],
            );
        }
    }
    let token = new_token(inner.entropy.as_mut(), "AAST", TOKEN_BYTES);
    let end = ctx.now.saturating_add(duration * 1000);
    let kind = Kind::Session(Session {
        parent_key,
        parent_user,
        parent_expires_ms: parent_expires,
        start_ms: ctx.now,
        end_ms: end,
        family,
    });
    inner.store.insert(&token, kind, ctx.now);
    body(
        fmt,
        StatusCode::OK,
        &json!({
            "sessionToken": token,
            "startTime": ctx.now,
            "endTime": end,
            "styleFamily": family.as_str(),
        }),
    )
}
