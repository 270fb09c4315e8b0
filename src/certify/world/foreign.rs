//! The foreign origin: an attacker (or a stranger) that looks like an
//! ArcGIS server on any path. `.../rest/info` has no `owningSystemUrl`
//! unless an event advertises one and names a token service of its own;
//! that token service hands out [`TokenKind::Foreign`] tokens to anything
//! (credentials, a home token to "exchange"); every other path answers 499
//! without a token and 200 with any token, so a client that sends one is
//! rewarded and recorded.
//!
//! [`TokenKind::Foreign`]: crate::certify::journal::TokenKind::Foreign

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::Book;
use super::record::Parsed;
use crate::certify::journal::{Carrier, Role};
use crate::reference::OsEntropy;
use crate::reference::tokens::{TOKEN_BYTES, new_token};

/// The foreign token lifetime without a fixed case lifetime.
const DEFAULT_LIFETIME_MS: u64 = 60 * 60_000;

fn json_ok(v: &serde_json::Value) -> Response {
    let mut r = Response::new(axum::body::Body::from(v.to_string()));
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    *r.status_mut() = StatusCode::OK;
    r
}

/// The attacker's answer to one request.
pub(super) fn answer(
    p: &Parsed,
    listener_origin: &str,
    book: &Book,
    carriers: &[(Carrier, String)],
    lifetime_ms: Option<u64>,
    now_ms: i64,
) -> Response {
    let base = p.base(listener_origin);
    let path = p.path.as_str();
    if let Some(root) = path
        .strip_suffix("/rest/info")
        .or_else(|| path.strip_suffix("/info"))
    {
        let token_url = book
            .token_url
            .get(&Role::Foreign)
            .cloned()
            .unwrap_or_else(|| {
                if root.ends_with("/sharing") {
                    format!("{base}{root}/rest/generateToken")
                } else {
                    format!("{base}{root}/tokens/generateToken")
                }
            });
        let mut v = json!({
            "currentVersion": 11.3,
            "fullVersion": "11.3.0",
            "authInfo": {
                "isTokenBasedSecurity": true,
                "tokenServicesUrl": token_url,
                "shortLivedTokenValidity": 60,
            }
        });
        if let Some(o) = book.owning.get(&Role::Foreign) {
            v["owningSystemUrl"] = json!(o);
        }
        return json_ok(&v);
    }
    if path.ends_with("/generateToken") || path.ends_with("/tokens") {
        let mut entropy = OsEntropy;
        let token = new_token(&mut entropy, "", TOKEN_BYTES);
        let expires = now_ms.saturating_add(lifetime_ms.unwrap_or(DEFAULT_LIFETIME_MS) as i64);
        return json_ok(&json!({"token": token, "expires": expires, "ssl": false}));
    }
    if carriers.is_empty() {
        return json_ok(&json!({
            "error": {"code": 499, "message": "Token Required", "details": []}
        }));
    }
    json_ok(&json!({
        "currentVersion": 11.3,
        "serviceDescription": "foreign",
        "mapName": "foreign",
        "spatialReference": {"wkid": 4326},
        "layers": [],
    }))
}
