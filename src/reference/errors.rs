//! Response bodies: the output formats (`f`), the ArcGIS error body, and the
//! HTTP status conventions of each family — 200-wrapped errors on Server and
//! Portal paths (TS-6, HP-7), real statuses on the location service (SL-7),
//! Tomcat-style text on ArcWeb (LT-7a). Never a `WWW-Authenticate` header.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::deviations::Deviation;
use super::state::AppState;

pub const MSG_INVALID_TOKEN: &str = "Invalid Token";
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

pub fn invalid_token(st: &AppState, fmt: Format) -> Response {
    arcgis_error(st, fmt, 498, MSG_INVALID_TOKEN, &[])
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
