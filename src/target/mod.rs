//! Targets: what the runner plays scenarios against, and what it may expect
//! of them.
//!
//! A [`Target`] is one of
//! - the in-process reference server (`--target reference`): one fresh server
//!   per scenario instance, with clock control, scenario knobs applied;
//! - a remote URL with reference-style paths (`--target http://HOST:PORT`),
//!   probed for the control API under `/_tessera/`;
//! - a target profile file (`--target FILE.yaml`, see [`profile`]) describing
//!   a vendor endpoint: base URL, endpoint map, profiles, knobs,
//!   capabilities, credentials from the environment.
//!
//! This module describes targets and resolves them; it plays nothing and
//! decides no verdict (see `runner::plan` for applicability).

pub mod in_process;
pub mod probe;
pub mod profile;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use crate::client::http::{self, Clients, PreparedRequest, Timeouts, TransportError};
use crate::client::{Control, PeerTls, TlsOptions};
use crate::knobs::Knobs;
use crate::reference::Deviation;
use crate::report::model::{TargetSummary, TlsSummary};
use crate::scenario::Diagnostic;
use crate::scenario::model::{Capability, Profile};

/// The source-address alias used when a request says no `from:`.
pub const PRIMARY: &str = "primary";

/// How many `altN` aliases a loopback target gets by default.
const LOOPBACK_ALT_ADDRESSES: u8 = 8;

/// A fixture account as the target knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub password: String,
}

/// What the target can do beyond plain HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// The control clock (`/_tessera/clock`) and reset are available.
    pub clock_control: bool,
    /// `/_tessera/users/{name}/password` is available.
    pub password_control: bool,
    /// `GET/POST /_tessera/knobs` is available: scenarios stating knobs
    /// get them set there (and run alone).
    pub knob_control: bool,
    /// The longest total real wait a scenario may use instead of clock control.
    pub max_real_wait: Duration,
    /// Source-address alias to local address. `primary` may be absent: the
    /// OS then picks the address.
    pub addresses: BTreeMap<String, IpAddr>,
}

impl Capabilities {
    /// Capability names for the report.
    pub fn names(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.clock_control {
            v.push(Capability::ClockControl.as_str().to_owned());
        }
        if self.addresses.keys().any(|k| k != PRIMARY) {
            v.push(Capability::AltAddresses.as_str().to_owned());
        }
        if self.password_control {
            v.push(Capability::PasswordControl.as_str().to_owned());
        }
        if self.knob_control {
            v.push("knob-control".to_owned());
        }
        if !self.max_real_wait.is_zero() {
            v.push(format!("real-waits<={}", humanize(self.max_real_wait)));
        }
        v
    }
}

/// Which kind of target this is; decides how the runner gets a live server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    /// One in-process reference server per scenario instance.
    Reference {
        deviations: Vec<Deviation>,
        /// The reference's variants of the VARIANT rules (`--variant`).
        variants: crate::reference::Variants,
    },
    /// A server someone else runs; state on it is shared by all scenarios.
    Remote,
}

/// Everything the runner needs to know about a target.
#[derive(Debug, Clone)]
pub struct Target {
    /// `reference`, the URL, or the profile's name.
    pub name: String,
    pub kind: TargetKind,
    /// Without a trailing slash. Empty for the in-process reference (each
    /// instance has its own address).
    pub base_url: String,
    /// Endpoint name to path (the reference paths unless a profile maps them).
    pub endpoints: BTreeMap<String, String>,
    pub profiles: BTreeSet<Profile>,
    /// Effective knob values (declared ones over the reference defaults).
    pub knobs: Knobs,
    /// Knob names whose values the target declares; a scenario needing
    /// another value of one of them, or any undeclared knob, is not
    /// applicable on a remote target.
    pub declared_knobs: BTreeSet<String>,
    pub capabilities: Capabilities,
    /// Fixture alias (`alice`, `bob`) to account.
    pub users: BTreeMap<String, User>,
    /// Allowed distance for time comparisons involving `{{now}}`.
    pub time_tolerance: Duration,
    /// How every client of the run speaks TLS to this target.
    pub tls: TlsOptions,
    /// The in-process reference speaks HTTPS (`--target reference --tls`).
    pub reference_tls: bool,
    /// What the target showed on TLS when it was probed (for the report).
    pub peer_tls: Option<PeerTls>,
}

/// The TLS asked for on the command line (`--cacert`, `--insecure`,
/// `--client-cert/--client-key`, `--tls`), on top of a profile's `tls:`.
#[derive(Debug, Clone, Default)]
pub struct TlsRequest {
    /// Extra roots and a client certificate, already read and checked.
    pub client: TlsOptions,
    /// Serve the in-process reference over HTTPS (`--target reference`
    /// only).
    pub reference_tls: bool,
}

/// Why a target could not be set up. Each maps to one exit code.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The profile file is malformed (exit 3).
    #[error("{}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
    Profile(Vec<Diagnostic>),
    /// `--target` is not usable as written (exit 2). The text never repeats
    /// the argument when it may hold a credential.
    #[error("--target expects {0}")]
    Usage(String),
    /// A `${VAR}` reference names an unset variable (exit 2).
    #[error(
        "{file}: the environment variable `{var}` is not set (referenced by the target profile)"
    )]
    MissingEnv { file: String, var: String },
    /// Nothing answers at the target, or the reference cannot start (exit 4).
    #[error("target {target} is unreachable: {reason}")]
    Unreachable { target: String, reason: String },
    /// The target answers, but not as declared (exit 4).
    #[error("target {target}: {reason}")]
    Misdeclared { target: String, reason: String },
    /// The TLS handshake with the target failed (exit 4); the reason says
    /// what failed and which flag would help.
    #[error("target {target}: {reason}")]
    Tls { target: String, reason: String },
}

impl TargetError {
    /// The exit code of `tessera run` for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            TargetError::Profile(_) => crate::exit::LOAD_ERROR,
            TargetError::MissingEnv { .. } | TargetError::Usage(_) => crate::exit::USAGE,
            TargetError::Unreachable { .. }
            | TargetError::Misdeclared { .. }
            | TargetError::Tls { .. } => crate::exit::INFRASTRUCTURE,
        }
    }
}

impl TargetError {
    /// The error as the CLI prints it: profile problems like scenario
    /// diagnostics (`file:line:col: error: ...` and a snippet, whose URL
    /// passwords are starred out), anything else as `error: ...`.
    pub fn render(&self, color: bool) -> String {
        match self {
            TargetError::Profile(diags) => {
                let mut out = Vec::new();
                for d in diags {
                    let src = if d.loc.line > 0 {
                        std::fs::read_to_string(&d.file)
                            .ok()
                            .map(|t| star_url_passwords(&t))
                    } else {
                        None
                    };
                    out.push(d.render_styled(src.as_deref(), color));
                }
                out.join("\n\n")
            }
            other => format!("error: {other}"),
        }
    }
}

/// `text` with the password of every `scheme://user:password@` replaced by
/// as many `*` (so carets still line up under the line).
pub fn star_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut rest = line;
        while let Some(at) = rest.find("://") {
            out.push_str(&rest[..at + 3]);
            rest = &rest[at + 3..];
            // The authority ends at the first `/`, `?`, `#`, quote or space.
            let end = rest
                .find(['/', '?', '#', '"', '\'', ' ', ',', '}'])
                .unwrap_or(rest.len());
            let authority = &rest[..end];
            match authority.rfind('@') {
                Some(atsign) => {
                    let userinfo = &authority[..atsign];
                    match userinfo.split_once(':') {
                        Some((user, pw)) => {
                            out.push_str(user);
                            out.push(':');
                            out.push_str(&"*".repeat(pw.chars().count()));
                        }
                        None => out.push_str(&"*".repeat(userinfo.chars().count())),
                    }
                    out.push_str(&authority[atsign..]);
                }
                None => out.push_str(authority),
            }
            rest = &rest[end..];
        }
        out.push_str(rest);
    }
    out
}

/// Whether a URL carries credentials (`user@` or `user:password@`).
pub fn has_userinfo(u: &url::Url) -> bool {
    !u.username().is_empty() || u.password().is_some()
}

fn fixture_users() -> BTreeMap<String, User> {
    crate::reference::Config::default()
        .users
        .into_iter()
        .map(|u| {
            (
                u.name.clone(),
                User {
                    name: u.name,
                    password: u.password,
                },
            )
        })
        .collect()
}

fn default_endpoints() -> BTreeMap<String, String> {
    crate::scenario::endpoints::ENDPOINTS
        .iter()
        .map(|e| (e.name.to_owned(), e.path.to_owned()))
        .collect()
}

/// `primary` = 127.0.0.1, `altN` = 127.0.0.(N+1): every 127/8 address is
/// local on Linux, so these need no setup.
pub fn loopback_addresses() -> BTreeMap<String, IpAddr> {
    let mut m = BTreeMap::new();
    m.insert(PRIMARY.to_owned(), IpAddr::from([127, 0, 0, 1]));
    for n in 1..=LOOPBACK_ALT_ADDRESSES {
        m.insert(format!("alt{n}"), IpAddr::from([127, 0, 0, n + 1]));
    }
    m
}

fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        _ => false,
    }
}

impl Target {
    /// The in-process reference with its built-in fixture.
    pub fn reference(deviations: Vec<Deviation>) -> Target {
        Target {
            name: "reference".into(),
            kind: TargetKind::Reference {
                deviations,
                variants: Default::default(),
            },
            base_url: String::new(),
            endpoints: default_endpoints(),
            profiles: Profile::ALL.into_iter().collect(),
            knobs: crate::reference::Config::default().knobs,
            declared_knobs: Knobs::NAMES.iter().map(|s| s.to_string()).collect(),
            capabilities: Capabilities {
                clock_control: true,
                password_control: true,
                knob_control: false,
                max_real_wait: Duration::ZERO,
                addresses: loopback_addresses(),
            },
            users: fixture_users(),
            time_tolerance: Duration::ZERO,
            tls: TlsOptions::default(),
            reference_tls: false,
            peer_tls: None,
        }
    }

    /// The in-process reference with other variants of the VARIANT rules;
    /// a remote target is returned unchanged.
    pub fn with_variants(mut self, v: crate::reference::Variants) -> Target {
        if let TargetKind::Reference { variants, .. } = &mut self.kind {
            *variants = v;
        }
        self
    }

    /// Clients for this target: its timeouts and TLS settings.
    pub fn clients(&self, timeouts: Timeouts) -> Clients {
        Clients::with_tls(timeouts, self.tls.clone())
    }

    /// Whether scenarios share server state (a remote server).
    pub fn is_shared(&self) -> bool {
        matches!(self.kind, TargetKind::Remote)
    }

    /// The summary that heads a report.
    pub fn summary(&self) -> TargetSummary {
        let declared: serde_json::Map<String, serde_json::Value> = self
            .declared_knobs
            .iter()
            .filter_map(|k| Some((k.clone(), self.knobs.get(k).ok()?)))
            .collect();
        TargetSummary {
            name: self.name.clone(),
            base_url: if self.base_url.is_empty() {
                "in-process".into()
            } else {
                self.base_url.clone()
            },
            profiles: self
                .profiles
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            capabilities: self.capabilities.names(),
            knobs: serde_json::Value::Object(declared),
            deviations: match &self.kind {
                TargetKind::Reference { deviations, .. } => {
                    deviations.iter().map(|d| d.name().to_owned()).collect()
                }
                TargetKind::Remote => Vec::new(),
            },
            tls: self.tls_summary(),
        }
    }

    /// The TLS part of the summary: `None` for plain HTTP.
    fn tls_summary(&self) -> Option<TlsSummary> {
        let https = self.reference_tls || self.base_url.starts_with("https://");
        if !https {
            return None;
        }
        let peer = self.peer_tls.clone();
        Some(TlsSummary {
            scheme: "https".into(),
            version: peer.as_ref().map(|p| p.version.clone()).unwrap_or_default(),
            subject: peer.as_ref().map(|p| p.subject.clone()).unwrap_or_default(),
            expires: peer.map(|p| p.expires).unwrap_or_default(),
            insecure: self.tls.insecure,
            cacert: self.tls.cacert_sources().to_vec(),
            client_cert: self.tls.has_client_cert(),
        })
    }

    /// Resolves `--target`: `reference`, an `http(s)://` URL, or a profile
    /// file. Remote targets are probed; an unreachable one fails within the
    /// connect timeout.
    pub async fn resolve(
        spec: &str,
        deviations: Vec<Deviation>,
        timeouts: Timeouts,
    ) -> Result<Target, TargetError> {
        Self::resolve_with_tls(spec, deviations, timeouts, TlsRequest::default()).await
    }

    /// [`Target::resolve`] with TLS settings from the command line: they
    /// add to a profile's `tls:` (extra roots add up; `--insecure` wins; a
    /// client certificate given here replaces the profile's).
    pub async fn resolve_with_tls(
        spec: &str,
        deviations: Vec<Deviation>,
        timeouts: Timeouts,
        tls: TlsRequest,
    ) -> Result<Target, TargetError> {
        if tls.reference_tls && spec != "reference" {
            return Err(TargetError::Usage(
                "`reference` with --tls (--tls serves the in-process reference over HTTPS; \
                 for a remote target write an https:// URL)"
                    .into(),
            ));
        }
        if spec == "reference" {
            let mut t = Target::reference(deviations);
            t.tls = tls.client;
            if tls.reference_tls {
                t.reference_tls = true;
                let cert =
                    in_process::certificate().map_err(|reason| TargetError::Unreachable {
                        target: "reference".into(),
                        reason,
                    })?;
                t.tls
                    .add_cacert_pem(
                        "in-process reference certificate",
                        cert.cert_pem().as_bytes(),
                    )
                    .map_err(|e| TargetError::Unreachable {
                        target: "reference".into(),
                        reason: e.to_string(),
                    })?;
            }
            t.check_reference_starts(timeouts).await?;
            Ok(t)
        } else if spec.starts_with("http://") || spec.starts_with("https://") {
            // Credentials on the command line end up in shell histories,
            // CI logs and reports; accounts belong in a profile's `users:`
            // with `${ENV_VAR}` passwords.
            match url::Url::parse(spec) {
                Err(e) => Err(TargetError::Usage(format!("a valid http(s) URL ({e})"))),
                Ok(u) if has_userinfo(&u) => Err(TargetError::Usage(
                    "a URL without credentials (`user:password@`); declare accounts in a \
                     target profile file under `users:` with `${ENV_VAR}` passwords"
                        .into(),
                )),
                Ok(_) => Target::probe_url_with_tls(spec, timeouts, tls.client).await,
            }
        } else if spec.contains("://") && !Path::new(spec).exists() {
            Err(TargetError::Usage(
                "`reference`, an http(s) URL or a profile file".into(),
            ))
        } else {
            let mut t = profile::load(Path::new(spec))?;
            t.tls.merge(tls.client);
            t.check_remote(timeouts).await?;
            Ok(t)
        }
    }

    /// Starts and stops one reference server, so a broken build is reported
    /// once as an infrastructure error rather than once per scenario.
    /// Over TLS, it is also asked once for what it shows (the report's TLS
    /// version and certificate).
    async fn check_reference_starts(&mut self, timeouts: Timeouts) -> Result<(), TargetError> {
        match in_process::Server::start(&self.knobs, &[], &Default::default(), self.reference_tls)
            .await
        {
            Ok(server) => {
                let seen = if self.reference_tls {
                    let clients = self.clients(timeouts);
                    Some(self.read_peer_tls(&clients, server.base_url()).await)
                } else {
                    None
                };
                server.stop().await;
                if let Some(seen) = seen {
                    self.peer_tls = seen?;
                }
                Ok(())
            }
            Err(in_process::StartError(e)) => Err(TargetError::Unreachable {
                target: "reference".into(),
                reason: format!("the in-process reference server cannot start: {e}"),
            }),
        }
    }

    /// A reference-style server at `url`: every profile; clock and password
    /// control if `/_tessera/clock` answers; the knobs `/_tessera/knobs`
    /// serves (knob control), else the reference defaults with the
    /// lifetimes `rest/info` states (`shortLivedTokenValidity`).
    pub async fn probe_url(url: &str, timeouts: Timeouts) -> Result<Target, TargetError> {
        Self::probe_url_with_tls(url, timeouts, TlsOptions::default()).await
    }

    /// [`Target::probe_url`] with TLS settings.
    pub async fn probe_url_with_tls(
        url: &str,
        timeouts: Timeouts,
        tls: TlsOptions,
    ) -> Result<Target, TargetError> {
        let parsed = url::Url::parse(url).map_err(|e| TargetError::Unreachable {
            target: url.into(),
            reason: format!("not a URL: {e}"),
        })?;
        let base = url.trim_end_matches('/').to_owned();
        let clients = Clients::with_tls(timeouts, tls.clone());
        let control = probe_clock(&clients, &base).await?;
        // With `/_tessera/knobs` the knobs in force are known exactly.
        let served_knobs = if control {
            Control {
                clients: &clients,
                base_url: &base,
            }
            .knobs()
            .await
            .ok()
            .and_then(|m| serde_json::from_value::<Knobs>(serde_json::Value::Object(m)).ok())
        } else {
            None
        };
        let knob_control = served_knobs.is_some();
        let knobs = match served_knobs {
            Some(k) => k,
            None => probe::server_knobs(&clients, &base).await,
        };
        let mut t = Target {
            name: base.clone(),
            kind: TargetKind::Remote,
            base_url: base.clone(),
            endpoints: default_endpoints(),
            profiles: Profile::ALL.into_iter().collect(),
            knobs,
            declared_knobs: Knobs::NAMES.iter().map(|s| s.to_string()).collect(),
            capabilities: Capabilities {
                clock_control: control,
                password_control: control,
                knob_control,
                max_real_wait: Duration::ZERO,
                addresses: if is_loopback_host(&parsed) {
                    loopback_addresses()
                } else {
                    BTreeMap::new()
                },
            },
            users: fixture_users(),
            time_tolerance: if control {
                Duration::ZERO
            } else {
                Duration::from_secs(2)
            },
            tls,
            reference_tls: false,
            peer_tls: None,
        };
        if base.starts_with("https://") {
            t.peer_tls = t.read_peer_tls(&clients, &base).await?;
        }
        Ok(t)
    }

    /// What the server at `base` shows on TLS (`GET base/`).
    async fn read_peer_tls(
        &self,
        clients: &Clients,
        base: &str,
    ) -> Result<Option<PeerTls>, TargetError> {
        let c = clients
            .for_source(None)
            .map_err(|e| transport_error(&self.name, e))?;
        http::peer_tls(&c, &format!("{base}/"))
            .await
            .map_err(|e| transport_error(&self.name, e))
    }

    /// A profile target must answer at all, and answer the clock if it
    /// declares clock control.
    async fn check_remote(&mut self, timeouts: Timeouts) -> Result<(), TargetError> {
        let clients = self.clients(timeouts);
        if self.capabilities.clock_control {
            if !probe_clock(&clients, &self.base_url).await? {
                return Err(TargetError::Misdeclared {
                    target: self.name.clone(),
                    reason: "the profile declares clock control but GET /_tessera/clock does not answer {\"now_ms\": ...}".into(),
                });
            }
        } else {
            let c = clients
                .for_source(None)
                .map_err(|e| TargetError::Unreachable {
                    target: self.name.clone(),
                    reason: e.to_string(),
                })?;
            http::send(&c, &PreparedRequest::get(format!("{}/", self.base_url)))
                .await
                .map_err(|e| transport_error(&self.name, e))?;
        }
        if self.base_url.starts_with("https://") {
            let base = self.base_url.clone();
            self.peer_tls = self.read_peer_tls(&clients, &base).await?;
        }
        Ok(())
    }
}

/// A failed probe: a TLS failure says so, anything else is unreachable.
fn transport_error(target: &str, e: TransportError) -> TargetError {
    match e {
        TransportError::Tls(..) => TargetError::Tls {
            target: target.to_owned(),
            reason: e.to_string(),
        },
        other => TargetError::Unreachable {
            target: target.to_owned(),
            reason: other.to_string(),
        },
    }
}

/// Whether the server at `base` offers the control API; `Err` when nothing
/// answers.
async fn probe_clock(clients: &Clients, base: &str) -> Result<bool, TargetError> {
    Control {
        clients,
        base_url: base,
    }
    .probe()
    .await
    .map_err(|e| transport_error(base, e))
}

/// `2m`, `1h 30m`, `500ms` (the report's spelling).
pub use crate::report::model::humanize;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_durations() {
        assert_eq!(humanize(Duration::from_secs(120)), "2m");
        assert_eq!(humanize(Duration::from_millis(3_599_999)), "59m 59s 999ms");
        assert_eq!(humanize(Duration::ZERO), "0s");
    }

    #[test]
    fn loopback_aliases() {
        let a = loopback_addresses();
        assert_eq!(a["primary"], IpAddr::from([127, 0, 0, 1]));
        assert_eq!(a["alt1"], IpAddr::from([127, 0, 0, 2]));
        assert_eq!(a["alt2"], IpAddr::from([127, 0, 0, 3]));
    }

    #[tokio::test]
    async fn unreachable_url_is_an_infrastructure_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = Target::probe_url(
            &format!("http://127.0.0.1:{port}"),
            Timeouts::new(Duration::from_secs(2)),
        )
        .await
        .unwrap_err();
        assert_eq!(err.exit_code(), crate::exit::INFRASTRUCTURE);
    }

    #[test]
    fn reference_summary_names_capabilities() {
        let s = Target::reference(vec![]).summary();
        assert!(s.capabilities.contains(&"clock-control".to_string()));
        assert!(s.capabilities.contains(&"alt-addresses".to_string()));
        assert_eq!(s.knobs["short_lived_minutes"], 60);
    }
}
