//! Response bodies: the output formats (`f`), the ArcGIS error body, and the
//! HTTP status conventions of each family — 200-wrapped errors on Server and
//! Portal paths (TS-6, HP-7), real statuses on the location service (SL-7),
//! Tomcat-style text on ArcWeb (LT-7a). Never a `WWW-Authenticate` header.

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
