//! The server side of one certification case: one reference [`AppState`]
//! on a clock that is real time plus an adjustable offset, and one listener
//! per [`Role`] (portal, stand-alone server, federated server, a foreign
//! origin), each on `127.0.0.1:0`, all behind a recording and injecting
//! layer (`record`) that knows its role. Everything the client does shows
//! up in the case's [`Journal`]: every request with its carriers and
//! credentials (values never kept), the registry of tokens issued in the
//! case with their provenance, and the events applied.
//!
//! Every port speaks both schemes when the run has TLS material (`net`):
//! a listener's [`Scheme`] is the one advertised to the driver, and each
//! entry records the scheme the request used, so an upgrade to `https`
//! (CL-12) reaches the same listener. Roles in `setup.untrusted` present a
//! certificate outside the run's CA file.
//!
//! Roles: the federated listener's `rest/info` names the portal listener
//! as its `owningSystemUrl` and advertises the portal's token service; the
//! stand-alone server advertises its own; the foreign listener is not the
//! reference but an attacker (`foreign`) with a token service of its own.
//! Token values stay inside the world: the journal names tokens by
//! [`TokenId`], and [`World::redact`] labels them in driver output.

mod foreign;
mod net;
mod record;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::reference::state::ClientMode;
use crate::reference::tls::ServerTls;
use crate::reference::tokens::Kind;
use crate::reference::{AppState, Clock, Config, OsEntropy, ServerOptions, SystemClock};

use super::journal::{
    Applied, Entry, IssuedToken, Journal, Listener, Role, Scheme, Seen, TokenId, TokenKind,
};
use super::plan::{Envelope, Event, Revoke, Setup, Var};
use super::protocol::Env;

/// The secured service `TESSERA_SERVICE_URL` names (on the server root).
pub const SERVICE_PATH: &str = "/rest/services/SampleWorldCities/MapServer";
/// Where sessions start (`TESSERA_SESSION_URL`), under the stand-alone
/// server root beside its styles (`{{server}}/rest/services/styles/v2/...`).
pub const SESSION_PATH: &str = "/rest/services/styles/v2/sessions/start";

/// The run's TLS material: a certificate the driver trusts (its PEM is the
/// CA file) and one it does not (for `setup.untrusted`).
pub struct RunTls {
    trusted: ServerTls,
    untrusted: ServerTls,
    ca_file: PathBuf,
}

impl std::fmt::Debug for RunTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunTls")
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

impl RunTls {
    /// Two fresh self-signed certificates for `localhost` and `127.0.0.1`;
    /// the trusted one's PEM is written to `dir/ca.pem`.
    pub fn generate(dir: &Path) -> Result<RunTls, WorldError> {
        let tls_err = |e: crate::reference::tls::TlsSetupError| WorldError::Tls(e.to_string());
        let trusted = ServerTls::self_signed(&[]).map_err(tls_err)?;
        let untrusted = ServerTls::self_signed(&[]).map_err(tls_err)?;
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, trusted.cert_pem())
            .map_err(|e| WorldError::Tls(format!("{}: {e}", ca_file.display())))?;
        Ok(RunTls {
            trusted,
            untrusted,
            ca_file,
        })
    }

    /// The PEM file a driver trusts (`TESSERA_CA_FILE`).
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }
}

/// Every token issued in the run, by value, with its case: a token of
/// another case seen in this one is [`Seen::OtherCase`]. Values stay in
/// memory; `Debug` shows only how many.
#[derive(Default)]
pub struct LeakRegistry {
    by_value: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for LeakRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeakRegistry")
            .field("tokens", &self.lock().len())
            .finish()
    }
}

impl LeakRegistry {
    pub fn new() -> LeakRegistry {
        LeakRegistry::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.by_value.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, value: &str, case: &str) {
        self.lock().insert(value.to_owned(), case.to_owned());
    }

    /// The case that issued `value`, if any case of the run did.
    pub fn case_of(&self, value: &str) -> Option<String> {
        self.lock().get(value).cloned()
    }
}

/// What a case's world needs from the run.
#[derive(Clone)]
pub struct WorldOptions {
    /// The case id (journal, leak registry, `TESSERA_CASE`).
    pub case: String,
    /// The fixture user the driver signs in as.
    pub username: String,
    pub password: String,
    /// `None`: plain HTTP only (cases that need HTTPS cannot start).
    pub tls: Option<Arc<RunTls>>,
    pub leaks: Arc<LeakRegistry>,
}

impl std::fmt::Debug for WorldOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorldOptions")
            .field("case", &self.case)
            .field("username", &self.username)
            .field("password", &"***")
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl WorldOptions {
    /// The reference fixture's first user (alice), no TLS.
    pub fn new(case: &str, leaks: Arc<LeakRegistry>) -> WorldOptions {
        let config = Config::default();
        let (username, password) = config
            .users
            .first()
            .map(|u| (u.name.clone(), u.password.clone()))
            .unwrap_or_default();
        WorldOptions {
            case: case.to_owned(),
            username,
            password,
            tls: None,
            leaks,
        }
    }
}

/// Why a world could not start or an event could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorldError {
    #[error("cannot open the {role} listener: {error}")]
    Listen { role: &'static str, error: String },
    #[error("the {0} listener must speak HTTPS but the run has no TLS material")]
    NoTls(&'static str),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("step {step}: {what}")]
    Event { step: usize, what: String },
}

/// Real time plus an offset that events move (c.5).
#[derive(Debug, Default)]
pub struct WorldClock {
    offset_ms: AtomicI64,
}

impl WorldClock {
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }
}

impl Clock for WorldClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms().saturating_add(self.offset_ms())
    }
}

/// An injection waiting for its requests.
#[derive(Debug, Clone)]
struct Pending {
    role: Role,
    path_suffix: String,
    code: u16,
    envelope: Envelope,
    times: u32,
    retry_after_s: Option<u32>,
}

/// The mutable record of a case.
#[derive(Debug, Default)]
struct Book {
    listeners: Vec<Listener>,
    entries: Vec<Entry>,
    tokens: Vec<IssuedToken>,
    /// Token values by [`TokenId`] (never leave the world).
    values: Vec<String>,
    by_value: HashMap<String, TokenId>,
    events: Vec<Applied>,
    injects: Vec<Pending>,
    /// `DeclareSsl` applied: later token answers say `ssl: true`.
    ssl: bool,
    /// Tokens issued with `ssl: true`.
    ssl_tokens: HashSet<TokenId>,
    all_ssl: bool,
    owning: HashMap<Role, String>,
    token_url: HashMap<Role, String>,
    refused_families: Vec<String>,
    /// Every password the user had in the case (for redaction).
    passwords: Vec<String>,
}

/// What the listeners of a case share.
struct Shared {
    case: String,
    start: Instant,
    clock: Arc<WorldClock>,
    state: AppState,
    leaks: Arc<LeakRegistry>,
    lifetime_ms: Option<u64>,
    book: Mutex<Book>,
}

impl Shared {
    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn clock_now(&self) -> i64 {
        self.clock.now_ms()
    }

    fn real_ms(&self) -> i64 {
        self.start.elapsed().as_millis() as i64
    }

    /// The registry's view of a presented value.
    fn seen(&self, book: &Book, value: &str) -> Seen {
        if let Some(id) = book.by_value.get(value) {
            return Seen::Issued(*id);
        }
        match self.leaks.case_of(value) {
            Some(c) if c != self.case => Seen::OtherCase,
            _ => Seen::Unknown,
        }
    }
}

/// A running listener's stop switch.
struct Server {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// The listeners and state of one case. Dropping it stops the listeners
/// without waiting; [`World::finish`] waits and hands back the journal.
pub struct World {
    shared: Arc<Shared>,
    setup: Setup,
    listeners: Vec<Listener>,
    servers: Vec<Server>,
    username: String,
    password: String,
    ca_file: Option<String>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("case", &self.shared.case)
            .field("listeners", &self.listeners)
            .finish_non_exhaustive()
    }
}

fn root_of(role: Role) -> &'static str {
    match role {
        Role::Portal => "/sharing/rest",
        Role::Server => "/arcgis",
        Role::Federated => "/federated",
        Role::Foreign => "",
    }
}

impl World {
    /// Opens the case's listeners and starts serving.
    pub async fn start(setup: &Setup, opts: &WorldOptions) -> Result<World, WorldError> {
        let clock = Arc::new(WorldClock {
            offset_ms: AtomicI64::new(setup.clock_offset_ms),
        });
        let state =
            AppState::with_clock(ServerOptions::default(), clock.clone(), Box::new(OsEntropy));
        let mut bound = Vec::new();
        for role in Role::ALL {
            let untrusted = setup.untrusted.contains(&role);
            let https = untrusted || setup.https.contains(&role);
            let tls = match (&opts.tls, https) {
                (None, true) => return Err(WorldError::NoTls(role.as_str())),
                (None, false) => None,
                (Some(t), _) if untrusted => Some(t.untrusted.clone()),
                (Some(t), _) => Some(t.trusted.clone()),
            };
            let listen_err = |e: std::io::Error| WorldError::Listen {
                role: role.as_str(),
                error: e.to_string(),
            };
            let tcp = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                .await
                .map_err(listen_err)?;
            let port = tcp.local_addr().map_err(listen_err)?.port();
            let scheme = if https { Scheme::Https } else { Scheme::Http };
            let origin = format!(
                "{}://127.0.0.1:{port}",
                if https { "https" } else { "http" }
            );
            let listener = Listener {
                role,
                scheme,
                origin,
                untrusted,
            };
            bound.push((listener, tcp, tls, port));
        }
        let port_of = |r: Role| {
            bound
                .iter()
                .find(|b| b.0.role == r)
                .map(|b| b.3)
                .unwrap_or(0)
        };
        state.set_client_mode(ClientMode {
            servers: vec![
                (
                    format!("127.0.0.1:{}", port_of(Role::Server)),
                    "/arcgis".into(),
                ),
                (
                    format!("127.0.0.1:{}", port_of(Role::Federated)),
                    "/federated".into(),
                ),
            ],
        });
        let listeners: Vec<Listener> = bound.iter().map(|b| b.0.clone()).collect();
        let book = Book {
            listeners: listeners.clone(),
            passwords: vec![opts.password.clone()],
            ..Book::default()
        };
        let shared = Arc::new(Shared {
            case: opts.case.clone(),
            start: Instant::now(),
            clock,
            state: state.clone(),
            leaks: opts.leaks.clone(),
            lifetime_ms: setup.token_lifetime_ms,
            book: Mutex::new(book),
        });
        let mut servers = Vec::new();
        for (index, (listener, tcp, tls, _)) in bound.into_iter().enumerate() {
            let dual = net::DualListener::new(tcp, tls).map_err(|e| WorldError::Listen {
                role: listener.role.as_str(),
                error: e.to_string(),
            })?;
            let app = record::app(record::RoleCtx {
                shared: shared.clone(),
                role: listener.role,
                index,
                inner: crate::reference::router(state.clone()),
            })
            .into_make_service_with_connect_info::<net::ConnMeta>();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(async move {
                let _ = axum::serve(dual, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
            servers.push(Server { stop, task });
        }
        let ca_file = opts.tls.as_ref().map(|t| t.ca_file().display().to_string());
        Ok(World {
            shared,
            setup: setup.clone(),
            listeners,
            servers,
            username: opts.username.clone(),
            password: opts.password.clone(),
            ca_file,
        })
    }

    /// The case's listeners, in [`Role::ALL`] order (an entry's
    /// `listener` indexes this).
    pub fn listeners(&self) -> &[Listener] {
        &self.listeners
    }

    fn origin(&self, role: Role) -> &str {
        self.listeners
            .iter()
            .find(|l| l.role == role)
            .map_or("", |l| l.origin.as_str())
    }

    /// The URL a case placeholder stands for.
    pub fn url(&self, var: Var) -> String {
        match var {
            Var::Portal => format!("{}/sharing/rest", self.origin(Role::Portal)),
            Var::Server => format!("{}/arcgis", self.origin(Role::Server)),
            Var::Federated => format!("{}/federated", self.origin(Role::Federated)),
            Var::Service => format!("{}/arcgis{SERVICE_PATH}", self.origin(Role::Server)),
            Var::Session => format!("{}/federated{SESSION_PATH}", self.origin(Role::Federated)),
            Var::Origin(role) => self.origin(role).to_owned(),
        }
    }

    /// The driver's environment for this case. `TESSERA_CA_FILE` is set
    /// whenever the run has TLS material (every port accepts HTTPS then).
    pub fn env(&self, case: &str, deadline_ms: i64) -> Env {
        let mut context = self.setup.context.clone();
        let extra: Vec<serde_json::Value> = self
            .setup
            .extra_urls
            .iter()
            .map(|t| serde_json::Value::String(t.resolve(&|v| self.url(v))))
            .collect();
        context.insert("extra_urls".into(), serde_json::Value::Array(extra));
        Env {
            case: case.to_owned(),
            portal_url: self.url(Var::Portal),
            server_url: self.url(Var::Server),
            federated_url: self.url(Var::Federated),
            service_url: self.url(Var::Service),
            session_url: self.url(Var::Session),
            username: self.username.clone(),
            password: self.password.clone(),
            ca_file: self.ca_file.clone(),
            context: serde_json::Value::Object(context),
            deadline_ms,
        }
    }

    /// Milliseconds since the world started (the journal's `real_ms`).
    pub fn now_real_ms(&self) -> i64 {
        self.shared.real_ms()
    }

    /// The server clock now (epoch ms).
    pub fn now_server_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }

    /// Applies event `event` (step `step` of the plan) and records it.
    /// `Wait` sleeps here (recorded when it starts).
    pub async fn apply(&self, step: usize, event: &Event) -> Result<(), WorldError> {
        let real_ms = self.now_real_ms();
        if let Event::Wait { ms } = event {
            self.shared.book().events.push(Applied {
                step,
                real_ms,
                event: event.clone(),
            });
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            return Ok(());
        }
        self.apply_now(step, event, real_ms)
    }

    fn apply_now(&self, step: usize, event: &Event, real_ms: i64) -> Result<(), WorldError> {
        let sh = &self.shared;
        let mut book = sh.book();
        match event {
            Event::Revoke(which) => {
                let hit: Vec<usize> = book
                    .tokens
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| t.kind != TokenKind::Foreign && t.revoked_real_ms.is_none())
                    .filter(|(_, t)| match which {
                        Revoke::User(u) => t.user == *u,
                        Revoke::AllTokens => true,
                    })
                    .map(|(i, _)| i)
                    .collect();
                self.revoke(&mut book, &hit, real_ms);
            }
            Event::PasswordChange { user } => {
                let new = {
                    let mut inner = sh.state.lock();
                    let Some(a) = inner.accounts.iter_mut().find(|a| *a.name == **user) else {
                        return Err(WorldError::Event {
                            step,
                            what: format!("no user `{user}` in the reference"),
                        });
                    };
                    // LT-9: the epoch bump retires every earlier token.
                    a.password = format!("{}-changed-{}", a.password, a.epoch + 1);
                    a.epoch += 1;
                    a.password.clone()
                };
                book.passwords.push(new);
                let hit: Vec<usize> = book
                    .tokens
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| {
                        t.kind != TokenKind::Foreign
                            && t.user == *user
                            && t.revoked_real_ms.is_none()
                    })
                    .map(|(i, _)| i)
                    .collect();
                self.revoke(&mut book, &hit, real_ms);
            }
            Event::Inject {
                role,
                path_suffix,
                code,
                envelope,
                times,
                retry_after_s,
            } => book.injects.push(Pending {
                role: *role,
                path_suffix: path_suffix.clone(),
                code: *code,
                envelope: *envelope,
                times: *times,
                retry_after_s: *retry_after_s,
            }),
            Event::ClockJump { ms } => {
                sh.clock.offset_ms.fetch_add(*ms, Ordering::SeqCst);
            }
            Event::ClockOffset { ms } => sh.clock.offset_ms.store(*ms, Ordering::SeqCst),
            Event::DeclareSsl => book.ssl = true,
            Event::DeclareAllSsl => book.all_ssl = true,
            Event::AdvertiseOwningSystem { role, value } => {
                let v = value.resolve(&|v| self.url(v));
                book.owning.insert(*role, v);
            }
            Event::AdvertiseTokenUrl { role, url } => {
                let v = url.resolve(&|v| self.url(v));
                book.token_url.insert(*role, v);
            }
            Event::SessionScopeRefuse { family } => book.refused_families.push(family.clone()),
            Event::Wait { .. } => {}
        }
        book.events.push(Applied {
            step,
            real_ms,
            event: event.clone(),
        });
        Ok(())
    }

    /// Ends the tokens at `hit` in the reference's store now (later uses get
    /// 498) and records when.
    fn revoke(&self, book: &mut Book, hit: &[usize], real_ms: i64) {
        let now = self.shared.clock.now_ms();
        let mut inner = self.shared.state.lock();
        for &i in hit {
            let Some(value) = book.values.get(i) else {
                continue;
            };
            inner.store.update(value, |k| match k {
                Kind::Access(a) => a.expires_ms = a.expires_ms.min(now - 1),
                Kind::Session(s) => s.end_ms = s.end_ms.min(now - 1),
                _ => {}
            });
            if let Some(t) = book.tokens.get_mut(i) {
                t.revoked_real_ms = Some(real_ms);
            }
        }
    }

    /// `text` with every token issued in the case replaced by its label
    /// (`T3`) and every password the user had by `***`.
    pub fn redact(&self, text: &str) -> String {
        let book = self.shared.book();
        let mut by_len: Vec<(usize, &String)> = book.values.iter().enumerate().collect();
        by_len.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        let mut out = text.to_owned();
        for (i, v) in by_len {
            if !v.is_empty() {
                out = out.replace(v.as_str(), &TokenId(i as u32).label());
            }
        }
        for p in &book.passwords {
            if !p.is_empty() {
                out = out.replace(p.as_str(), "***");
            }
        }
        out
    }

    /// Stops the listeners (waiting up to two seconds for open requests)
    /// and hands back what the case saw.
    pub async fn finish(self) -> Journal {
        for s in self.servers {
            let _ = s.stop.send(());
            let abort = s.task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), s.task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        let mut book = self.shared.book();
        Journal {
            listeners: std::mem::take(&mut book.listeners),
            entries: std::mem::take(&mut book.entries),
            tokens: std::mem::take(&mut book.tokens),
            events: std::mem::take(&mut book.events),
            start_offset_ms: self.setup.clock_offset_ms,
        }
    }
}
