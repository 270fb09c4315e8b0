//! The HTTP front: one fallback handler that parses the request once
//! ([`Ctx`]) and dispatches on the path to the family modules. An unknown
//! service under a server root is the Server's error (TS-6); other unknown
//! paths get a JSON 404; methods other than GET and POST a JSON 405. No response
//! ever carries `WWW-Authenticate`.

use std::net::SocketAddr;

use axum::Router;
use axum::body::{Bytes, HttpBody as _};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;

use super::arcgis::{self, Root, TokenService};
use super::errors::{Format, body, error_value, not_found, service_not_found};
use super::params::Ctx;
use super::state::AppState;
use super::{arcweb, basemap, control, portal};

/// Largest request body read (form posts are small).
const MAX_BODY: usize = 1 << 20;

/// The reference server as an axum router. Needs `ConnectInfo<SocketAddr>`:
/// `into_make_service_with_connect_info` on a socket, `MockConnectInfo` in tests.
pub fn router(state: AppState) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, b) = req.into_parts();
    // Most requests (GET) have no body: nothing to collect.
    let bytes = if b.is_end_stream() {
        Bytes::new()
    } else {
        match axum::body::to_bytes(b, MAX_BODY).await {
            Ok(bytes) => bytes,
            Err(_) => {
                return body(
                    Format::Json,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &error_value(413, "Request body too large", &[]),
                );
            }
        }
    };
    let ctx = Ctx::new(&st, parts, bytes, peer);
    dispatch(&st, &ctx)
}

fn dispatch(st: &AppState, ctx: &Ctx) -> Response {
    let path = ctx.path.as_str();
    if let Some(rest) = path.strip_prefix("/_tessera/") {
        return control::handle(st, ctx, rest);
    }
    if ctx.method != Method::GET && ctx.method != Method::POST && ctx.method != Method::HEAD {
        return body(
            Format::Json,
            StatusCode::METHOD_NOT_ALLOWED,
            &error_value(405, "Method Not Allowed", &[]),
        );
    }
    match path {
        "/arcgis/rest/info" => return arcgis::info(st, ctx, Root::Arcgis),
        "/federated/rest/info" => return arcgis::info(st, ctx, Root::Federated),
        // TS-7: the token service root that rest/info advertises, and its
        // generateToken operation.
        "/arcgis/tokens" | "/arcgis/tokens/generateToken" => {
            return arcgis::generate_token(st, ctx, TokenService::Server);
        }
        "/sharing/rest/generateToken" => {
            return arcgis::generate_token(st, ctx, TokenService::Portal);
        }
        "/sharing/rest/info" => return portal::info(st, ctx),
        "/sharing/rest/portals/self" => return portal::portal_self(st, ctx),
        "/sharing/rest/community/self" => return portal::community_self(st, ctx),
        "/services/v2006_1/restmap" => return arcweb::handle(st, ctx),
        _ => {}
    }
    if let Some(name) = path.strip_prefix("/sharing/rest/community/users/")
        && !name.contains('/')
    {
        return portal::community_user(st, ctx, name);
    }
    for root in [Root::Arcgis, Root::Federated] {
        let Some(rest) = path
            .strip_prefix(root.prefix())
            .and_then(|r| r.strip_prefix("/rest/services"))
        else {
            continue;
        };
        if rest.is_empty() {
            return arcgis::directory(st, ctx, root);
        }
        let Some(rest) = rest.strip_prefix('/') else {
            break;
        };
        return match rest.strip_prefix("styles/v2/") {
            Some(s) => basemap::handle(st, ctx, root, s).unwrap_or_else(not_found),
            // TS-6: an unknown service is the Server's own error.
            None => arcgis::service(st, ctx, root, rest).unwrap_or_else(|| {
                service_not_found(st, Format::parse(ctx.param("f"), Format::Html), rest)
            }),
        };
    }
    not_found()
}
