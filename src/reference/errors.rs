//! Response bodies: the output formats (`f`), the ArcGIS error body, and the
//! HTTP status conventions of each family — 200-wrapped errors on Server and
//! Portal paths (TS-6, HP-7), real statuses on the location service (SL-7),
//! Tomcat-style text on ArcWeb (LT-7a). Never a `WWW-Authenticate` header.

use std::cell::RefCell;

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::deviations::Deviation;
use super::state::AppState;
use super::variants::Ts6;

/// The 498 text on Server paths (semantics.md "Client compatibility").
pub const MSG_INVALID_TOKEN: &str = "Invalid Token";
/// The 498 text on Portal paths, as Portal and ArcGIS Online say it [AT-11].
pub const MSG_INVALID_TOKEN_PORTAL: &str = "Invalid token.";
pub const MSG_TOKEN_REQUIRED: &str = "Token Required";
pub const MSG_FORBIDDEN: &str =
    "You do not have permissions to access this resource or perform this operation.";
pub const MSG_UNABLE: &str = "Unable to generate token.";
pub const MSG_BAD_CREDENTIALS: &str = "Invalid username or password.";
/// The location service's 498 text (semantics.md "Client compatibility").
pub const MSG_LOCATION_INVALID: &str = "Token Invalid.";
pub const DETAIL_LOCATION_INVALID: &str = "The required authentication information is invalid. The token is either invalid or has expired.";

/// The `f` parameter (TS-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Pjson,
    Html,
}

impl Format {
    /// Reads `f`; absent means `default`; unknown values answer JSON.
    pub fn parse(v: Option<&str>, default: Format) -> Format {
        match v {
            None | Some("") => default,
            Some("pjson") => Format::Pjson,
            Some("html") => Format::Html,
            Some(_) => Format::Json,
        }
    }
}

/// A JSON value in the requested format.
pub fn body(fmt: Format, status: StatusCode, v: &Value) -> Response {
    let (ctype, text) = match fmt {
        Format::Json => ("application/json; charset=utf-8", v.to_string()),
        Format::Pjson => (
            "application/json; charset=utf-8",
            serde_json::to_string_pretty(v).unwrap_or_default(),
        ),
        Format::Html => {
            let pretty = serde_json::to_string_pretty(v).unwrap_or_default();
            (
                "text/html; charset=utf-8",
                format!(
                    "<!DOCTYPE html>\n<html><head><title>ArcGIS REST</title></head><body><pre>{}</pre></body></html>\n",
                    escape_html(&pretty)
                ),
            )
        }
    };
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(ctype))],
        text,
    )
        .into_response()
}

/// Like [`body`] for a value that depends only on `key`: under `f=json` it
/// is serialized once per worker thread and key, and the bytes are reused
/// (the token-checked hot path answers the same service description again
/// and again). `key` must name everything `build` reads.
pub fn body_once(
    fmt: Format,
    status: StatusCode,
    key: &[&str],
    build: impl FnOnce() -> Value,
) -> Response {
    /// Entries kept per thread before the cache starts over.
    const MAX: usize = 64;
    type Cache = RefCell<Vec<(Vec<Box<str>>, Bytes)>>;
    thread_local! {
        static BODIES: Cache = const { RefCell::new(Vec::new()) };
    }
    if fmt != Format::Json {
        return body(fmt, status, &build());
    }
    let same = |k: &[Box<str>]| k.len() == key.len() && k.iter().zip(key).all(|(a, b)| **a == **b);
    let hit = BODIES.with_borrow(|c| c.iter().find(|(k, _)| same(k)).map(|(_, b)| b.clone()));
    let text = hit.unwrap_or_else(|| {
        let text = Bytes::from(build().to_string());
        BODIES.with_borrow_mut(|c| {
            if c.len() >= MAX {
                c.clear();
            }
            c.push((key.iter().map(|k| (*k).into()).collect(), text.clone()));
        });
        text
    });
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `{"error":{"code":N,"message":S,"details":[..]}}`.
pub fn error_value(code: u16, message: &str, details: &[&str]) -> Value {
    json!({"error": {"code": code, "message": message, "details": details}})
}

/// Like [`error_value`] with `details` a string, as real token services send
/// it for codes 201, 401 and 405 [AT-02, AT-03, AT-05].
pub fn error_value_text(code: u16, message: &str, detail: &str) -> Value {
    json!({"error": {"code": code, "message": message, "details": detail}})
}

/// A Server/Portal error with a string `details` (see [`error_value_text`]),
/// HTTP 200 like [`arcgis_error`].
pub fn arcgis_error_text(
    st: &AppState,
    fmt: Format,
    code: u16,
    message: &str,
    detail: &str,
) -> Response {
    let status = if st.dev(Deviation::HttpStatusErrors) {
        http_status_for(code)
    } else {
        StatusCode::OK
    };
    body(fmt, status, &error_value_text(code, message, detail))
}

/// A Server/Portal error: HTTP 200 with the error body (TS-6), unless the
/// `http-status-errors` deviation is on.
pub fn arcgis_error(
    st: &AppState,
    fmt: Format,
    code: u16,
    message: &str,
    details: &[&str],
) -> Response {
    let status = if st.dev(Deviation::HttpStatusErrors) {
        http_status_for(code)
    } else {
        StatusCode::OK
    };
    body(fmt, status, &error_value(code, message, details))
}

/// SL-7: 401 for 498/499, otherwise the code itself.
pub fn http_status_for(code: u16) -> StatusCode {
    match code {
        498 | 499 => StatusCode::UNAUTHORIZED,
        c => StatusCode::from_u16(c).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// 498 on a Server path (`Invalid Token`).
pub fn invalid_token(st: &AppState, fmt: Format) -> Response {
    arcgis_error(st, fmt, 498, MSG_INVALID_TOKEN, &[])
}

/// 498 on a Portal path (`Invalid token.`).
pub fn invalid_token_portal(st: &AppState, fmt: Format) -> Response {
    arcgis_error(st, fmt, 498, MSG_INVALID_TOKEN_PORTAL, &[])
}

pub fn token_required(st: &AppState, fmt: Format) -> Response {
    arcgis_error(st, fmt, 499, MSG_TOKEN_REQUIRED, &[])
}

pub fn forbidden(st: &AppState, fmt: Format) -> Response {
    arcgis_error(st, fmt, 403, MSG_FORBIDDEN, &[])
}

/// A location-service error (SL-7): real status, body plus `restInfoUrl`.
pub fn location_error(
    st: &AppState,
    fmt: Format,
    code: u16,
    message: &str,
    details: &[&str],
    rest_info_url: &str,
) -> Response {
    let status = if st.dev(Deviation::LocationErrorsWrapped) {
        StatusCode::OK
    } else {
        http_status_for(code)
    };
    let v = json!({"error": {"code": code, "message": message, "details": details, "restInfoUrl": rest_info_url}});
    body(fmt, status, &v)
}

/// TS-6: an unknown service under a server root. `wrapped-404` (the
/// reference): HTTP 200 with code 404, as ArcGIS Server answers [AT-27];
/// `http-404`: the plain JSON 404.
pub fn service_not_found(st: &AppState, fmt: Format, name: &str) -> Response {
    match st.variants().ts6 {
        Ts6::Wrapped404 => arcgis_error(st, fmt, 404, &format!("Service {name} not found"), &[]),
        Ts6::Http404 => not_found(),
    }
}

/// The JSON 404 for unknown paths (and `/_tessera/` without control).
pub fn not_found() -> Response {
    body(
        Format::Json,
        StatusCode::NOT_FOUND,
        &error_value(404, "Not Found", &[]),
    )
}

/// A plain-text answer (ArcWeb).
pub fn text(status: StatusCode, s: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        s,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(r: Response) -> (StatusCode, String, String) {
        let ctype = r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let status = r.status();
        let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (status, ctype, String::from_utf8(b.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn body_once_answers_what_body_answers_and_keys_by_its_key() {
        let v = |name: &str| json!({"name": name, "currentVersion": 11.3, "list": []});
        for fmt in [Format::Json, Format::Pjson, Format::Html] {
            for _ in 0..2 {
                let cached = text(body_once(fmt, StatusCode::OK, &["t", "a"], || v("a"))).await;
                assert_eq!(cached, text(body(fmt, StatusCode::OK, &v("a"))).await);
            }
        }
        // Another key is another body; the first is still served.
        let b = text(body_once(Format::Json, StatusCode::OK, &["t", "b"], || {
            v("b")
        }))
        .await;
        assert!(b.2.contains("\"b\""), "{}", b.2);
        let a = text(body_once(Format::Json, StatusCode::OK, &["t", "a"], || {
            v("zzz")
        }))
        .await;
        assert!(a.2.contains("\"a\""), "{}", a.2);
    }
}
