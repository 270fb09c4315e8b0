//! The one HTTP client of Tessera: sends a fully rendered request and returns
//! the answer, or a transport error.
//!
//! The runner, the targets' probes, the control-API client and the fuzzer
//! all build a [`PreparedRequest`] and call [`send`]. Clients are cached per source
//! address ([`Clients`]); every client has no proxy, follows no redirect and
//! has a connect and an overall timeout, so a hung target never hangs a run.
//!
//! This module knows nothing of scenarios, templates or verdicts, and never
//! logs: callers record exchanges through the redactor.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::tls::{PeerTls, TlsFailure, TlsOptions};

/// Answers larger than this are cut (the report keeps only the start anyway).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A request ready to go on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRequest {
    pub method: String,
    /// Absolute URL, query included, exactly as it should be sent.
    pub url: String,
    /// In order; names may repeat.
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl PreparedRequest {
    pub fn get(url: impl Into<String>) -> Self {
        PreparedRequest {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// A POST with a JSON body (the control API).
    pub fn post_json(url: impl Into<String>, body: &serde_json::Value) -> Self {
        PreparedRequest {
            method: "POST".into(),
            url: url.into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Some(body.to_string()),
        }
    }
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
    pub elapsed: Duration,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// Why no answer came. Messages never contain the URL (it may hold a token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("the request could not be built: {0}")]
    Build(String),
    #[error("connection failed: {0}")]
    Connect(String),
    /// The overall request timeout ran out.
    #[error("no answer within the request timeout")]
    Timeout,
    #[error("transport error: {0}")]
    Other(String),
    /// The TLS handshake failed; the message says why and what would help.
    #[error("TLS failed: {}", .0.advice())]
    Tls(TlsFailure, String),
}

/// Timeouts shared by every client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The whole exchange, from connect to the last body byte.
    pub request: Duration,
    pub connect: Duration,
}

impl Timeouts {
    /// `request` overall, and a connect timeout of at most 3 seconds so an
    /// unreachable target is reported quickly.
    pub fn new(request: Duration) -> Self {
        Timeouts {
            request,
            connect: request.min(Duration::from_secs(3)),
        }
    }
}

/// reqwest clients, one per source address, built on first use, all with
/// the same timeouts and TLS settings.
#[derive(Debug)]
pub struct Clients {
    timeouts: Timeouts,
    tls: TlsOptions,
    cache: Mutex<HashMap<Option<IpAddr>, reqwest::Client>>,
}

impl Clients {
    /// Clients that trust the system's roots only.
    pub fn new(timeouts: Timeouts) -> Self {
        Self::with_tls(timeouts, TlsOptions::default())
    }

    /// Clients with extra roots, a client certificate or no verification.
    pub fn with_tls(timeouts: Timeouts, tls: TlsOptions) -> Self {
        Clients {
            timeouts,
            tls,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The client whose sockets bind to `source` (`None`: the OS picks).
    pub fn for_source(&self, source: Option<IpAddr>) -> Result<reqwest::Client, TransportError> {
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| TransportError::Other("client cache poisoned".into()))?;
        if let Some(c) = cache.get(&source) {
            return Ok(c.clone());
        }
        let client = self
            .tls
            .apply(reqwest::Client::builder())
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeouts.request)
            .connect_timeout(self.timeouts.connect)
            .local_address(source)
            .build()
            .map_err(|e| TransportError::Build(e.without_url().to_string()))?;
        cache.insert(source, client.clone());
        Ok(client)
    }
}

/// Sends `req` and reads the whole answer.
pub async fn send(
    client: &reqwest::Client,
    req: &PreparedRequest,
) -> Result<Response, TransportError> {
    let method = reqwest::Method::from_bytes(req.method.as_bytes())
        .map_err(|_| TransportError::Build(format!("bad method `{}`", req.method)))?;
    let url = reqwest::Url::parse(&req.url)
        .map_err(|e| TransportError::Build(format!("bad URL: {e}")))?;
    let mut builder = client.request(method, url);
    for (n, v) in &req.headers {
        let name = reqwest::header::HeaderName::from_bytes(n.as_bytes())
            .map_err(|_| TransportError::Build(format!("bad header name `{n}`")))?;
        let value = reqwest::header::HeaderValue::from_str(v)
            .map_err(|_| TransportError::Build(format!("bad value for header `{n}`")))?;
        builder = builder.header(name, value);
    }
    if let Some(b) = &req.body {
        builder = builder.body(b.clone());
    }
    let start = Instant::now();
    let mut resp = builder.send().await.map_err(classify)?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(classify)? {
        let room = MAX_BODY_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        elapsed: start.elapsed(),
    })
}

/// `GET url` and what the server showed on TLS (`None`: plain HTTP). For
/// the report's target section; the answer itself is not looked at.
pub async fn peer_tls(
    client: &reqwest::Client,
    url: &str,
) -> Result<Option<PeerTls>, TransportError> {
    let url =
        reqwest::Url::parse(url).map_err(|e| TransportError::Build(format!("bad URL: {e}")))?;
    let resp = client.get(url).send().await.map_err(classify)?;
    Ok(resp
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(PeerTls::from_info))
}

fn classify(e: reqwest::Error) -> TransportError {
    let timeout = e.is_timeout();
    let connect = e.is_connect();
    let e = e.without_url();
    // reqwest's top-level message is generic; the source chain says why.
    let msg = super::tls::error_chain(&e);
    if timeout {
        TransportError::Timeout
    } else if let Some(f) = super::tls::failure_of(&e) {
        TransportError::Tls(f, msg)
    } else if connect {
        TransportError::Connect(msg)
    } else {
        TransportError::Other(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refused_connection_is_a_connect_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let clients = Clients::new(Timeouts::new(Duration::from_secs(2)));
        let c = clients.for_source(None).unwrap();
        let err = send(
            &c,
            &PreparedRequest::get(format!("http://127.0.0.1:{port}/x")),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, TransportError::Connect(_)), "{err:?}");
    }

    #[test]
    fn bad_urls_are_build_errors() {
        let clients = Clients::new(Timeouts::new(Duration::from_secs(2)));
        let c = clients.for_source(None).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = rt
            .block_on(send(&c, &PreparedRequest::get("not a url")))
            .unwrap_err();
        assert!(matches!(err, TransportError::Build(_)));
    }
}
