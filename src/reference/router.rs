//! The HTTP front: one fallback handler that parses the request once
//! ([`Ctx`]) and dispatches on the path to the family modules. An unknown
//! service under a server root is the Server's error (TS-6); other unknown
//! paths get a JSON 404; methods other than GET and POST a JSON 405. No response
//! ever carries `WWW-Authenticate`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Bytes, HttpBody as _};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderValue, Method, StatusCode};
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
/// [`spawn`](super::spawn) does not use it: it serves each connection with a
/// [`Connection`], which answers exactly as this router does.
pub fn router(state: AppState) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let https = req.extensions().get::<super::tls::Https>().is_some();
    respond(st, peer, https, req).await
}

/// Reads the body (if any), parses the request once and dispatches.
async fn respond(st: AppState, peer: SocketAddr, https: bool, req: Request) -> Response {
    let (parts, b) = req.into_parts();
    // Most requests (GET) have no body: nothing to collect.
    let bytes = if b.is_end_stream() {
        Bytes::new()
    } else {
        match axum::body::to_bytes(b, MAX_BODY).await {
            Ok(bytes) => bytes,
            Err(_) => return too_large(),
        }
    };
    let ctx = Ctx::with_scheme(&st, parts, bytes, peer, https);
    dispatch(&st, &ctx)
}

fn too_large() -> Response {
    body(
        Format::Json,
        StatusCode::PAYLOAD_TOO_LARGE,
        &error_value(413, "Request body too large", &[]),
    )
}

/// The service of one accepted connection: the state, the peer address and
/// the scheme, captured once per connection, so that a request carries no
/// extensions and goes through no router. Answers as [`router`] does,
/// including what axum's router adds on the way out (`Content-Length` of a
/// body of known size, no body for HEAD).
#[derive(Debug, Clone)]
pub struct Connection {
    state: AppState,
    peer: SocketAddr,
    https: bool,
}

impl Connection {
    pub fn new(state: AppState, peer: SocketAddr, https: bool) -> Connection {
        Connection { state, peer, https }
    }
}

impl tower::Service<Request> for Connection {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Answer {
        let head = req.method() == Method::HEAD;
        // Most requests (GET) have no body: answered at once, no future
        // boxed.
        if req.body().is_end_stream() {
            let (parts, _) = req.into_parts();
            let ctx = Ctx::with_scheme(&self.state, parts, Bytes::new(), self.peer, self.https);
            let res = dispatch(&self.state, &ctx);
            return Answer::Ready(Some(finish(head, res)));
        }
        let fut = respond(self.state.clone(), self.peer, self.https, req);
        Answer::Body(head, Box::pin(fut))
    }
}

/// Makes the service of each accepted connection: a [`Connection`]
/// that knows its peer's address and scheme, instead of a router reading
/// them from request extensions (`ConnectInfo`, [`Https`](super::tls::Https)) on every
/// request.
#[derive(Debug, Clone)]
pub struct Connections {
    state: AppState,
    https: bool,
}

impl Connections {
    pub fn new(state: AppState, https: bool) -> Connections {
        Connections { state, https }
    }
}

impl<'a, L> tower::Service<axum::serve::IncomingStream<'a, L>> for Connections
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    type Response = Connection;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Connection, std::convert::Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, conn: axum::serve::IncomingStream<'a, L>) -> Self::Future {
        let peer = *conn.remote_addr();
        std::future::ready(Ok(Connection::new(self.state.clone(), peer, self.https)))
    }
}

/// The future of one request on a [`Connection`].
pub enum Answer {
    Ready(Option<Response>),
    Body(bool, Pin<Box<dyn Future<Output = Response> + Send>>),
}

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Answer::Ready(res) => match res.take() {
                Some(res) => Poll::Ready(Ok(res)),
                None => Poll::Pending,
            },
            Answer::Body(head, fut) => fut.as_mut().poll(cx).map(|r| Ok(finish(*head, r))),
        }
    }
}

/// What axum's router does to every response it returns: `Content-Length`
/// when the body's size is known, and an empty body for HEAD.
fn finish(head: bool, mut res: Response) -> Response {
    if !res.headers().contains_key(CONTENT_LENGTH)
        && let Some(n) = res.body().size_hint().exact()
    {
        res.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(n));
    }
    if head {
        *res.body_mut() = axum::body::Body::empty();
    }
    res
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
