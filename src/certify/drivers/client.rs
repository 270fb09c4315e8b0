//! The built-in token client: one operation of the driver protocol at a
//! time, over reqwest, following the CL rules (or breaking exactly one of
//! them, [`Flaw`]). Decisions come from `logic`; this file does the I/O and
//! keeps the state: the portal token, server tokens per root, what each
//! root was found to be, the basemap session.
//!
//! Never logs a password or a token: stderr lines (with
//! `TESSERA_DRIVER_VERBOSE=1`) show method, origin and path only.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Flaw;
use super::logic::{self, Origin, Root, TokenError};
use crate::certify::protocol::{Env, ErrorKind, OpError};

/// The `Referer` this client binds its tokens to and sends on every request
/// (CL-15).
pub const REFERER: &str = "https://tessera.invalid/builtin-driver";
/// `expiration` asked for, in minutes (the answer's `expires` decides).
const ASKED_MINUTES: u64 = 60;
/// At most this many renewals per origin per minute (CL-8).
const RENEWALS_PER_MINUTE: usize = 3;
/// Retries of a throttled token service (CL-14 SHOULD).
const THROTTLE_RETRIES: u32 = 2;
/// The bound of `retry-forever`, so even the broken driver ends.
const FOREVER: u32 = 15;
/// Renewals start this much before the margin begins, so the new token or
/// session is issued with the full margin left despite the renewal timer's
/// tick and the request's latency.
const SLACK: Duration = Duration::from_millis(500);
/// How late `late-renewal` and `late-session` are.
const LATE: Duration = Duration::from_secs(300);

/// What an operation failed with.
pub type OpResult = Result<(), OpError>;

fn fail(kind: ErrorKind, code: Option<i64>, message: impl Into<String>) -> OpError {
    OpError {
        kind,
        code,
        message: Some(message.into()),
    }
}

/// A token the client holds.
#[derive(Debug, Clone)]
struct Token {
    value: String,
    /// Local monotonic instant of its `expires` (server-relative lifetime).
    expires_at: Instant,
    margin: Duration,
}

/// What a URL's root was found to be.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// Under the home portal: the portal token.
    Portal,
    /// The home stand-alone server: its own token, from its own service.
    Server(Root),
    /// A server whose `owningSystemUrl` is the portal: an exchanged token.
    /// `service` is the token service to exchange at.
    Federated { root: Root, service: String },
    /// Anything else: no token, no credentials (CL-5, CL-10).
    Foreign,
}

/// A basemap session.
#[derive(Debug, Clone)]
struct Session {
    value: String,
    /// Where session tokens may go: the origin of the styles service.
    origin: Option<Origin>,
    ends_at: Instant,
    margin: Duration,
    url: String,
    seconds: u32,
    family: String,
}

/// One HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    server_now_ms: Option<i64>,
    retry_after: Option<Duration>,
    received: Instant,
}

impl Answer {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status) && self.body.get("error").is_none()
    }
}

/// Where a token goes on a request.
#[derive(Debug, Clone, Copy)]
enum Carry<'a> {
    None,
    Token(&'a str),
}

/// The mutable state, behind one lock: operations and the session timer
/// run one at a time.
#[derive(Debug, Default)]
pub struct State {
    portal_token: Option<Token>,
    /// `double-token`: a second portal token.
    spare: Option<Token>,
    /// Server and federated tokens by root, with the scope they renew by.
    server_tokens: HashMap<String, (Scope, Token)>,
    scopes: HashMap<String, Scope>,
    /// The home server's token service, once checked.
    server_service: Option<String>,
    /// A credential failure happened: do not try the password again until
    /// the next `signin` (CL-14).
    credentials_rejected: bool,
    renewals: HashMap<Origin, Vec<Instant>>,
    session: Option<Session>,
    signed_in: bool,
}

/// The configuration that does not change during a run.
pub struct Client {
    pub env: Env,
    pub flaw: Option<Flaw>,
    http: reqwest::Client,
    portal: Option<Root>,
    server: Option<Root>,
    deadline: Instant,
    verbose: bool,
    /// The home declared HTTPS-only (`ssl: true`, `allSSL`, a refusal of
    /// plain HTTP, an https token service for an http root): from then on
    /// every http URL is upgraded to https on the same host and port, and
    /// nothing goes over plain HTTP (CL-12). `ignore-ssl` never sets it.
    https_only: std::sync::atomic::AtomicBool,
}

impl Client {
    /// The client for `env`; `Err` when the CA file cannot be read.
    pub fn new(env: Env, flaw: Option<Flaw>, deadline: Instant) -> Result<Client, String> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(5));
        if let Some(ca) = env.ca_file.as_deref().filter(|c| !c.is_empty()) {
            let pem = std::fs::read(ca).map_err(|e| format!("cannot read {ca}: {e}"))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("{ca} is not PEM: {e}"))?;
            b = b.tls_certs_merge(certs);
        }
        if flaw == Some(Flaw::NoVerifyTls) {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        let http = b
            .build()
            .map_err(|e| format!("cannot build the client: {e}"))?;
        let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let portal = nonempty(&env.portal_url)
            .and_then(|p| Root::of(&format!("{}/sharing", logic::portal_base(&p))));
        let server = nonempty(&env.server_url).and_then(|s| Root::of(&s));
        Ok(Client {
            verbose: std::env::var_os("TESSERA_DRIVER_VERBOSE").is_some_and(|v| v == "1"),
            env,
            flaw,
            http,
            portal,
            server,
            deadline,
            https_only: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn is(&self, f: Flaw) -> bool {
        self.flaw == Some(f)
    }

    /// Marks the home HTTPS-only (not for `ignore-ssl`).
    fn declare_https(&self) {
        if !self.is(Flaw::IgnoreSsl) {
            self.https_only
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// `url`, upgraded to https once the home declared HTTPS-only.
    fn upgraded(&self, url: &str) -> String {
        match url.strip_prefix("http://") {
            Some(rest) if self.https_only.load(std::sync::atomic::Ordering::SeqCst) => {
                format!("https://{rest}")
            }
            _ => url.to_owned(),
        }
    }

    fn note(&self, what: &str) {
        if self.verbose {
            eprintln!("driver: {what}");
        }
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Sends one request. `params` go in the query (GET) or the form body
    /// (POST); `query_extra` always in the query. The token goes where the
    /// flaw says: the `X-Esri-Authorization: Bearer` header by default.
    async fn send(
        &self,
        method: &str,
        url: &str,
        params: &[(String, String)],
        carry: Carry<'_>,
        extra_query: &[(String, String)],
    ) -> Result<Answer, OpError> {
        let mut query: Vec<(String, String)> = extra_query.to_vec();
        let mut form: Vec<(String, String)> = Vec::new();
        let post = method.eq_ignore_ascii_case("POST");
        if post {
            form.extend(params.iter().cloned());
        } else {
            query.extend(params.iter().cloned());
        }
        let mut header_token = None;
        if let Carry::Token(t) = carry {
            if self.is(Flaw::TokenInQueryOnly) {
                query.push(("token".into(), t.to_owned()));
            } else {
                header_token = Some(t);
            }
        }
        let m = if post {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let timeout = self.remaining().min(Duration::from_secs(10));
        if timeout.is_zero() {
            return Err(fail(ErrorKind::Other, None, "deadline passed"));
        }
        let url = &self.upgraded(url);
        let mut rb = self.http.request(m, url).timeout(timeout);
        if !query.is_empty() {
            rb = rb.query(&query);
        }
        if post {
            rb = rb.form(&form);
        }
        if !self.is(Flaw::NoReferer) {
            rb = rb.header(reqwest::header::REFERER, REFERER);
        }
        if let Some(t) = header_token {
            rb = rb.header("X-Esri-Authorization", format!("Bearer {t}"));
        }
        let shown = url.split('?').next().unwrap_or(url);
        let r = rb.send().await.map_err(|e| {
            self.note(&format!("{method} {shown}: {}", transport(&e)));
            fail(ErrorKind::Other, None, transport(&e))
        })?;
        let received = Instant::now();
        let status = r.status().as_u16();
        let header = |n: reqwest::header::HeaderName| {
            r.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let server_now_ms = if self.is(Flaw::AbsoluteExpiry) {
            None
        } else {
            header(reqwest::header::DATE).and_then(|d| logic::server_now_from_date(&d))
        };
        let retry_after = header(reqwest::header::RETRY_AFTER).and_then(|v| logic::retry_after(&v));
        let bytes = r.bytes().await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        self.note(&format!("{method} {shown} -> {status}"));
        Ok(Answer {
            status,
            body,
            server_now_ms,
            retry_after,
            received,
        })
    }

    fn token_error(&self, a: &Answer) -> Option<TokenError> {
        if self.is(Flaw::TextMatch498) {
            logic::token_error_by_text(a.status, &a.body)
        } else {
            logic::token_error(a.status, &a.body)
        }
    }

    fn fresh(&self, t: &Token) -> bool {
        Instant::now() < self.due(t)
    }

    // ---- acquisition -------------------------------------------------

    /// POSTs to a token service, backing off on 429/5xx (CL-14 SHOULD), and
    /// reads `{token, expires, ssl}`.
    async fn token_request(
        &self,
        url: &str,
        params: Vec<(String, String)>,
        with_password: bool,
    ) -> Result<Token, OpError> {
        let (body, query) = if with_password && self.is(Flaw::QueryCredentials) {
            (Vec::new(), params)
        } else {
            (params, Vec::new())
        };
        let mut attempt = 0;
        let a = loop {
            let a = self.send("POST", url, &body, Carry::None, &query).await?;
            let tries = if self.is(Flaw::NoBackoff) {
                5
            } else {
                THROTTLE_RETRIES
            };
            // A refusal of plain HTTP ("SSL Required", 403): this request
            // again over https, and (unless ssl is ignored) everything after.
            if a.status == 403 || logic::error_code(a.status, &a.body) == Some(403) {
                let plain = self.upgraded(url).starts_with("http:");
                if plain && attempt == 0 {
                    self.declare_https();
                    let https = format!("https://{}", url.trim_start_matches("http://"));
                    let a = self
                        .send("POST", &https, &body, Carry::None, &query)
                        .await?;
                    break a;
                }
            }
            if logic::is_throttle(a.status) && attempt < tries {
                let wait = if self.is(Flaw::NoBackoff) {
                    Duration::ZERO
                } else {
                    logic::backoff(attempt, jitter(), a.retry_after)
                };
                if wait >= self.remaining() {
                    break a;
                }
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            break a;
        };
        let token = a.body.get("token").and_then(Value::as_str);
        let expires = a.body.get("expires").and_then(logic::code_of);
        let (Some(value), Some(expires)) = (token, expires) else {
            let code = logic::error_code(a.status, &a.body);
            return Err(match self.token_error(&a) {
                Some(_) => fail(ErrorKind::Auth, code, "token service refused the token"),
                None => fail(ErrorKind::Auth, code, "token service refused"),
            });
        };
        let local_now = now_ms();
        let fallback = if self.is(Flaw::AbsoluteExpiry) {
            // Trusts the local clock: a token "expired on arrival" is
            // renewed again and again.
            Duration::ZERO
        } else {
            Duration::from_secs(ASKED_MINUTES * 60)
        };
        let lifetime = logic::token_lifetime(expires, a.server_now_ms, local_now, fallback);
        if a.body.get("ssl").and_then(Value::as_bool) == Some(true) {
            self.declare_https();
        }
        Ok(Token {
            value: value.to_owned(),
            expires_at: a.received + lifetime,
            margin: logic::renewal_margin(lifetime),
        })
    }

    fn credential_params(&self) -> Vec<(String, String)> {
        vec![
            ("username".into(), self.env.username.clone()),
            ("password".into(), self.env.password.clone()),
            ("client".into(), "referer".into()),
            ("referer".into(), REFERER.into()),
            ("expiration".into(), ASKED_MINUTES.to_string()),
            ("f".into(), "json".into()),
        ]
    }

    /// Username and password at a token service; a refusal marks the
    /// credentials rejected (retried at most once, CL-14).
    async fn with_password(&self, st: &mut State, url: &str) -> Result<Token, OpError> {
        if st.credentials_rejected && !self.is(Flaw::RetryForever) {
            return Err(fail(
                ErrorKind::Auth,
                None,
                "credentials were refused; not sent again",
            ));
        }
        let tries = if self.is(Flaw::RetryForever) {
            FOREVER
        } else {
            1
        };
        let mut last = None;
        for _ in 0..tries {
            match self
                .token_request(url, self.credential_params(), true)
                .await
            {
                Ok(t) => return Ok(t),
                Err(e) => {
                    if e.code.is_some() {
                        st.credentials_rejected = true;
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| fail(ErrorKind::Auth, None, "no attempt")))
    }

    /// A portal token by username and password at `{portal}/generateToken`.
    async fn acquire_portal(&self, st: &mut State) -> Result<Token, OpError> {
        let url = format!(
            "{}/generateToken",
            self.env.portal_url.trim_end_matches('/')
        );
        let t = self.with_password(st, &url).await?;
        if self.is(Flaw::DoubleToken) {
            st.spare = self.with_password(st, &url).await.ok();
        }
        st.portal_token = Some(t.clone());
        Ok(t)
    }

    async fn portal_token(&self, st: &mut State) -> Result<Token, OpError> {
        match &st.portal_token {
            Some(t) if self.fresh(t) => Ok(t.clone()),
            _ => self.acquire_portal(st).await,
        }
    }

    /// The home server's token service, as that server advertises it; only
    /// one on the server's own origin gets the password (CL-2).
    async fn server_service(&self, st: &mut State, root: &Root) -> Result<String, OpError> {
        if let Some(s) = &st.server_service {
            return Ok(s.clone());
        }
        let info = self.rest_info(&root.url()).await?;
        let advertised = info
            .pointer("/authInfo/tokenServicesUrl")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let url = match advertised {
            Some(u) if self.is(Flaw::PasswordToAdvertised) => u,
            Some(u)
                if Origin::of(&u)
                    .is_some_and(|o| o.host == root.origin.host && o.port == root.origin.port) =>
            {
                // An https token service for an http root declares
                // HTTPS-only (CL-12).
                if u.starts_with("https:") && !root.origin.is_https() {
                    self.declare_https();
                }
                u
            }
            Some(_) => {
                return Err(fail(
                    ErrorKind::Auth,
                    None,
                    "the server advertises a token service on another origin",
                ));
            }
            None => format!("{}/tokens/generateToken", root.url()),
        };
        // `…/tokens/` is the token service's root; its operation is
        // `…/tokens/generateToken`.
        let url = match url.trim_end_matches('/').strip_suffix("/tokens") {
            Some(base) => format!("{base}/tokens/generateToken"),
            None => url,
        };
        st.server_service = Some(url.clone());
        Ok(url)
    }

    async fn rest_info(&self, root: &str) -> Result<Value, OpError> {
        let a = self
            .send(
                "GET",
                &format!("{root}/rest/info"),
                &[("f".into(), "json".into())],
                Carry::None,
                &[],
            )
            .await?;
        Ok(a.body)
    }

    /// The token service the portal advertises (on the portal's origin),
    /// for exchanges (CL-6).
    async fn portal_service(&self) -> Result<String, OpError> {
        let portal = self.env.portal_url.trim_end_matches('/');
        let a = self
            .send(
                "GET",
                &format!("{portal}/info"),
                &[("f".into(), "json".into())],
                Carry::None,
                &[],
            )
            .await?;
        let home = Origin::of(portal);
        Ok(a.body
            .pointer("/authInfo/tokenServicesUrl")
            .and_then(Value::as_str)
            .filter(|u| Origin::of(u) == home)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{portal}/generateToken")))
    }

    /// A server token by exchanging the portal token (TS-8); a 498 on the
    /// portal token renews it once.
    async fn exchange(&self, st: &mut State, root: &Root, service: &str) -> Result<Token, OpError> {
        if self.is(Flaw::PasswordToAdvertised) {
            return self.with_password(st, service).await;
        }
        let mut renewed = false;
        loop {
            let portal = self.portal_token(st).await?;
            let params = vec![
                ("token".into(), portal.value.clone()),
                ("serverUrl".into(), root.url()),
                ("expiration".into(), ASKED_MINUTES.to_string()),
                ("f".into(), "json".into()),
            ];
            match self.token_request(service, params, false).await {
                Err(e) if e.code == Some(498) && !renewed => {
                    renewed = true;
                    st.portal_token = None;
                }
                r => {
                    return r.map_err(|e| OpError {
                        kind: ErrorKind::Refresh,
                        ..e
                    });
                }
            }
        }
    }

    // ---- scopes ------------------------------------------------------

    /// What `url` belongs to, asking its root's `rest/info` once.
    async fn scope(&self, st: &mut State, url: &str) -> Scope {
        if self.portal.as_ref().is_some_and(|p| p.contains(url)) {
            return Scope::Portal;
        }
        if let Some(s) = self.server.as_ref().filter(|s| s.contains(url)) {
            return Scope::Server(s.clone());
        }
        let Some(root_url) = logic::server_root(url) else {
            return Scope::Foreign;
        };
        if let Some(s) = st.scopes.get(&root_url) {
            return s.clone();
        }
        let scope = self.discover(&root_url).await;
        st.scopes.insert(root_url, scope.clone());
        scope
    }

    /// A server is federated only when its `owningSystemUrl` is exactly the
    /// portal's base (CL-6); the exchange goes to the portal's own token
    /// service.
    async fn discover(&self, root_url: &str) -> Scope {
        let (Some(root), false) = (Root::of(root_url), self.env.portal_url.is_empty()) else {
            return Scope::Foreign;
        };
        let Ok(info) = self.rest_info(root_url).await else {
            return Scope::Foreign;
        };
        let Some(owning) = info.get("owningSystemUrl").and_then(Value::as_str) else {
            return Scope::Foreign;
        };
        if self.is(Flaw::RegexFederation) {
            if !logic::is_federated_by_regex(owning, &self.env.portal_url) {
                return Scope::Foreign;
            }
            // As rest-js: the owning system's own advertised token service.
            let own = self
                .rest_info(&format!("{}/sharing", owning.trim_end_matches('/')))
                .await
                .ok()
                .and_then(|v| {
                    v.pointer("/authInfo/tokenServicesUrl")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
            let service = own
                .or_else(|| {
                    info.pointer("/authInfo/tokenServicesUrl")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| {
                    format!(
                        "{}/sharing/rest/generateToken",
                        owning.trim_end_matches('/')
                    )
                });
            return Scope::Federated { root, service };
        }
        if self.is(Flaw::PasswordToAdvertised)
            && let Some(service) = info
                .pointer("/authInfo/tokenServicesUrl")
                .and_then(Value::as_str)
        {
            return Scope::Federated {
                root,
                service: service.to_owned(),
            };
        }
        if !logic::is_federated(owning, &self.env.portal_url) {
            return Scope::Foreign;
        }
        match self.portal_service().await {
            Ok(service) => Scope::Federated { root, service },
            Err(_) => Scope::Foreign,
        }
    }

    /// The token for a scope, acquired or renewed when needed; `None` for
    /// a foreign origin.
    async fn token_for(&self, st: &mut State, scope: &Scope) -> Result<Option<Token>, OpError> {
        match scope {
            Scope::Portal => self.portal_token(st).await.map(Some),
            Scope::Server(root) | Scope::Federated { root, .. } => {
                if let Some((_, t)) = st
                    .server_tokens
                    .get(&root.url())
                    .filter(|(_, t)| self.fresh(t))
                {
                    return Ok(Some(t.clone()));
                }
                self.acquire(st, scope).await.map(Some)
            }
            Scope::Foreign if self.is(Flaw::SendEverywhere) => {
                self.portal_token(st).await.map(Some)
            }
            Scope::Foreign => Ok(None),
        }
    }

    /// A new token for a home or federated scope (kept in the state).
    async fn acquire(&self, st: &mut State, scope: &Scope) -> Result<Token, OpError> {
        let (root, t) = match scope {
            Scope::Portal | Scope::Foreign => return self.acquire_portal(st).await,
            Scope::Server(root) => {
                let service = self.server_service(st, root).await?;
                (root, self.with_password(st, &service).await?)
            }
            Scope::Federated { root, service } => (root, self.exchange(st, root, service).await?),
        };
        st.server_tokens
            .insert(root.url(), (scope.clone(), t.clone()));
        Ok(t)
    }

    /// Forgets a token (it drew a 498) so it is never sent again. A
    /// federated token's portal token goes too: whatever killed one may
    /// have killed both (a revocation), and only new tokens should follow.
    fn drop_token(&self, st: &mut State, scope: &Scope, value: &str) {
        match scope {
            Scope::Portal | Scope::Foreign => {
                if st.portal_token.as_ref().is_some_and(|t| t.value == value) {
                    st.portal_token = None;
                }
            }
            Scope::Server(root) | Scope::Federated { root, .. } => {
                if st
                    .server_tokens
                    .get(&root.url())
                    .is_some_and(|(_, t)| t.value == value)
                {
                    st.server_tokens.remove(&root.url());
                }
                if matches!(scope, Scope::Federated { .. }) {
                    st.portal_token = None;
                }
            }
        }
    }

    /// When a token must be renewed ahead (local monotonic instant).
    fn due(&self, t: &Token) -> Instant {
        if self.is(Flaw::LateRenewal) {
            t.expires_at + LATE
        } else {
            t.expires_at
                .checked_sub(t.margin + SLACK)
                .unwrap_or(t.expires_at)
        }
    }

    /// Renews every held token whose margin has begun (CL-7 SHOULD: ahead
    /// of `expires`, not when the app next asks). A renewal that fails
    /// drops the token; the next operation acquires lazily.
    pub async fn renew_due(&self, st: &mut State) {
        let now = Instant::now();
        if let Some(t) = st.portal_token.clone()
            && now >= self.due(&t)
            && self.acquire_portal(st).await.is_err()
        {
            st.portal_token = None;
        }
        let due: Vec<(String, Scope)> = st
            .server_tokens
            .iter()
            .filter(|(_, (_, t))| now >= self.due(t))
            .map(|(k, (s, _))| (k.clone(), s.clone()))
            .collect();
        for (key, scope) in due {
            if self.acquire(st, &scope).await.is_err() {
                st.server_tokens.remove(&key);
            }
        }
    }

    /// CL-8: at most 3 renewals per origin per minute.
    fn may_renew(&self, st: &mut State, url: &str) -> bool {
        if self.is(Flaw::RetryForever) {
            return true;
        }
        let Some(o) = Origin::of(url) else {
            return false;
        };
        let now = Instant::now();
        let list = st.renewals.entry(o).or_default();
        list.retain(|t| now.duration_since(*t) < Duration::from_secs(60));
        if list.len() >= RENEWALS_PER_MINUTE {
            return false;
        }
        list.push(now);
        true
    }

    // ---- operations --------------------------------------------------

    /// `signin`: the portal's `allSSL` first (anonymously, so credentials
    /// never go over http to a portal that declared HTTPS-only, CL-12), then
    /// a token from the home portal, or from the home server when the case
    /// says `signin: server` or there is no portal.
    pub async fn signin(&self, st: &mut State) -> OpResult {
        st.credentials_rejected = false;
        st.signed_in = true;
        let to_server = self.env.context.get("signin").and_then(Value::as_str) == Some("server")
            || self.env.portal_url.is_empty();
        if to_server {
            let Some(root) = &self.server else {
                return Err(fail(
                    ErrorKind::Other,
                    None,
                    "no portal or server to sign in to",
                ));
            };
            self.acquire(st, &Scope::Server(root.clone())).await?;
            return Ok(());
        }
        let url = format!("{}/portals/self", self.env.portal_url.trim_end_matches('/'));
        if !self.is(Flaw::IgnoreSsl) {
            let a = self
                .send(
                    "GET",
                    &url,
                    &[("f".into(), "json".into())],
                    Carry::None,
                    &[],
                )
                .await?;
            if a.body.get("allSSL").and_then(Value::as_bool) == Some(true) {
                self.declare_https();
            }
        }
        self.acquire_portal(st).await?;
        Ok(())
    }

    /// `request`: one request with the right token for its origin; on 498
    /// renew once and retry once; on 499 from home acquire and retry once;
    /// foreign origins get neither tokens nor credentials.
    pub async fn request(
        &self,
        st: &mut State,
        url: &str,
        method: Option<&str>,
        params: &BTreeMap<String, String>,
    ) -> OpResult {
        if Origin::of(url).is_none() {
            return Err(fail(ErrorKind::Other, None, "not an http(s) URL"));
        }
        let mut p: Vec<(String, String)> =
            params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if !params.contains_key("f") {
            p.push(("f".into(), "json".into()));
        }
        let method = method.unwrap_or("GET");
        let scope = self.scope(st, url).await;
        let a = self.authorized(st, &scope, method, url, &p).await?;
        answer_result(&a, &scope)
    }

    /// Sends with the scope's token and handles 498/499 (CL-8, CL-9, CL-10).
    async fn authorized(
        &self,
        st: &mut State,
        scope: &Scope,
        method: &str,
        url: &str,
        params: &[(String, String)],
    ) -> Result<Answer, OpError> {
        if !st.signed_in && *scope != Scope::Foreign {
            // An app that never signed in is anonymous.
            return self.send(method, url, params, Carry::None, &[]).await;
        }
        let mut token = self.token_for(st, scope).await?;
        let mut attempts = 0;
        loop {
            let extra = self.extra_query(st, scope, token.as_ref());
            let carry = token
                .as_ref()
                .map_or(Carry::None, |t| Carry::Token(&t.value));
            let a = self.send(method, url, params, carry, &extra).await?;
            let limit = if self.is(Flaw::RetryForever) {
                FOREVER
            } else {
                1
            };
            match self.token_error(&a) {
                Some(TokenError::Invalid) if token.is_some() && attempts < limit => {
                    attempts += 1;
                    if self.is(Flaw::ResendRejected) {
                        continue;
                    }
                    let rejected = token.take().map(|t| t.value).unwrap_or_default();
                    self.drop_token(st, scope, &rejected);
                    if *scope == Scope::Portal {
                        st.spare = None;
                    }
                    if !self.may_renew(st, url) {
                        return Ok(a);
                    }
                    token = match self.token_for(st, scope).await {
                        Ok(t) => t,
                        Err(e) => {
                            return Err(OpError {
                                kind: ErrorKind::Refresh,
                                ..e
                            });
                        }
                    };
                }
                Some(TokenError::Required) if *scope == Scope::Foreign && attempts < 1 => {
                    if !self.is(Flaw::TokenOn499) {
                        return Ok(a);
                    }
                    attempts += 1;
                    token = Some(self.portal_token(st).await?);
                }
                Some(TokenError::Required) if *scope != Scope::Foreign && attempts < 1 => {
                    // Home or federated: acquire (a fresh token) and retry once.
                    attempts += 1;
                    if let Some(t) = token.take() {
                        self.drop_token(st, scope, &t.value);
                    }
                    if !self.may_renew(st, url) {
                        return Ok(a);
                    }
                    token = self.token_for(st, scope).await?;
                }
                _ => return Ok(a),
            }
        }
    }

    /// `double-token`: the spare portal token in the query beside the header.
    fn extra_query(
        &self,
        st: &State,
        scope: &Scope,
        token: Option<&Token>,
    ) -> Vec<(String, String)> {
        if !self.is(Flaw::DoubleToken) || token.is_none() {
            return Vec::new();
        }
        let spare = match scope {
            Scope::Portal => st.spare.as_ref(),
            _ => st.portal_token.as_ref(),
        };
        spare
            .filter(|s| Some(s.value.as_str()) != token.map(|t| t.value.as_str()))
            .map(|s| vec![("token".into(), s.value.clone())])
            .unwrap_or_default()
    }

    /// `session.start`: a basemap session started with the access token
    /// (CL-11), `durationSeconds` within 10..43200.
    pub async fn session_start(
        &self,
        st: &mut State,
        url: Option<&str>,
        duration: Option<u32>,
    ) -> OpResult {
        let url = url.unwrap_or(&self.env.session_url).to_owned();
        if url.is_empty() {
            return Err(fail(ErrorKind::Other, None, "no session URL"));
        }
        let asked = duration
            .or_else(|| {
                self.env
                    .context
                    .get("duration")
                    .and_then(Value::as_u64)
                    .and_then(|d| u32::try_from(d).ok())
            })
            .unwrap_or(43_200);
        let family = self
            .env
            .context
            .get("style_family")
            .and_then(Value::as_str)
            .unwrap_or("arcgis")
            .to_owned();
        self.start(st, &url, logic::clamp_session_seconds(asked), &family)
            .await
    }

    async fn start(&self, st: &mut State, url: &str, seconds: u32, family: &str) -> OpResult {
        let params = vec![
            ("f".to_owned(), "json".to_owned()),
            ("styleFamily".to_owned(), family.to_owned()),
            ("durationSeconds".to_owned(), seconds.to_string()),
        ];
        let scope = self.scope(st, url).await;
        let a = self.authorized(st, &scope, "GET", url, &params).await?;
        answer_result(&a, &scope)?;
        let value = a.body.get("sessionToken").and_then(Value::as_str);
        let start = a.body.get("startTime").and_then(logic::code_of);
        let end = a.body.get("endTime").and_then(logic::code_of);
        let Some(value) = value else {
            return Err(fail(
                ErrorKind::Other,
                None,
                "no sessionToken in the answer",
            ));
        };
        // The server's own instants give the duration whatever the clocks
        // say (CL-13).
        let length = match (start, end) {
            (Some(s), Some(e)) if e > s => Duration::from_millis((e - s) as u64),
            _ => Duration::from_secs(u64::from(seconds)),
        };
        st.session = Some(Session {
            value: value.to_owned(),
            origin: Origin::of(url),
            ends_at: a.received + length,
            margin: logic::session_margin(length),
            url: url.to_owned(),
            seconds,
            family: family.to_owned(),
        });
        Ok(())
    }

    /// When the current session must be replaced (local monotonic instant).
    pub fn session_due(&self, st: &State) -> Option<Instant> {
        let s = st.session.as_ref()?;
        Some(if self.is(Flaw::LateSession) {
            s.ends_at + LATE
        } else {
            s.ends_at.checked_sub(s.margin + SLACK).unwrap_or(s.ends_at)
        })
    }

    /// Starts a new session in place of the current one (never a "renewal",
    /// RN-5).
    pub async fn restart_session(&self, st: &mut State) -> OpResult {
        let Some(s) = st.session.clone() else {
            return Err(fail(ErrorKind::Other, None, "no session"));
        };
        self.start(st, &s.url, s.seconds, &s.family).await
    }

    /// `session.use`: a style fetched with the current session token (a new
    /// session first when this one is within its margin); on 498 a new
    /// session once, never the rejected token again.
    pub async fn session_use(&self, st: &mut State, url: &str) -> OpResult {
        if st.session.is_none() {
            return Err(fail(ErrorKind::Other, None, "no session started"));
        }
        if self
            .session_due(st)
            .is_some_and(|due| Instant::now() >= due)
        {
            self.restart_session(st).await?;
        }
        let params = vec![("f".to_owned(), "json".to_owned())];
        let mut retried = false;
        loop {
            let s = st
                .session
                .clone()
                .ok_or_else(|| fail(ErrorKind::Other, None, "no session"))?;
            let own = s.origin.is_some() && s.origin == Origin::of(url);
            let carry = if own || self.is(Flaw::SendEverywhere) {
                Carry::Token(&s.value)
            } else {
                Carry::None
            };
            let a = self.send("GET", url, &params, carry, &[]).await?;
            match self.token_error(&a) {
                Some(_) if own && !retried => {
                    retried = true;
                    if self.is(Flaw::ResendRejected) {
                        continue;
                    }
                    st.session = Some(Session {
                        value: String::new(),
                        ..s
                    });
                    self.restart_session(st).await.map_err(|e| OpError {
                        kind: ErrorKind::Refresh,
                        ..e
                    })?;
                }
                _ => {
                    let scope = if own { Scope::Portal } else { Scope::Foreign };
                    return answer_result(&a, &scope);
                }
            }
        }
    }

    /// `bye`: forget everything.
    pub fn forget(st: &mut State) {
        *st = State::default();
    }
}

/// The result of an answer: ok, or the error the driver protocol names.
fn answer_result(a: &Answer, scope: &Scope) -> OpResult {
    if a.ok() {
        return Ok(());
    }
    let code = logic::error_code(a.status, &a.body);
    let kind = match (logic::token_error(a.status, &a.body), scope) {
        (Some(TokenError::Required), Scope::Foreign) => ErrorKind::NotFederated,
        (Some(_), _) => ErrorKind::Auth,
        (None, _) => ErrorKind::Http,
    };
    Err(fail(kind, code, format!("HTTP {}", a.status)))
}

/// A transport error without the URL (it may hold a query).
fn transport(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = src {
        detail = s.to_string();
        src = s.source();
    }
    if detail.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {detail}")
    }
}

/// Epoch milliseconds of the local clock.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A draw in `[0, 1)` for backoff jitter.
fn jitter() -> f64 {
    let r = getrandom::u64().unwrap_or(0x9e37_79b9_7f4a_7c15);
    (r >> 11) as f64 / (1u64 << 53) as f64
}

/// The client and its state, shared with the session timer.
pub struct Shared {
    pub client: Client,
    pub state: tokio::sync::Mutex<State>,
}

/// The renewal timer: every quarter second, tokens whose margin has begun
/// are renewed (CL-7), for the life of the driver.
pub fn spawn_token_renewal(shared: Arc<Shared>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let mut st = shared.state.lock().await;
            shared.client.renew_due(&mut st).await;
        }
    })
}

/// The `autoRefresh` timer: a new session at `endTime − margin`, for as
/// long as the session lives; it stops after a failure (the next
/// `session.use` starts one lazily).
pub fn spawn_auto_refresh(shared: Arc<Shared>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let due = {
                let st = shared.state.lock().await;
                match shared.client.session_due(&st) {
                    Some(d) => d,
                    None => return,
                }
            };
            tokio::time::sleep_until(due.into()).await;
            let mut st = shared.state.lock().await;
            // Another operation may have replaced it meanwhile.
            if shared
                .client
                .session_due(&st)
                .is_some_and(|d| d > Instant::now())
            {
                continue;
            }
            if shared.client.restart_session(&mut st).await.is_err() {
                return;
            }
        }
    })
}
