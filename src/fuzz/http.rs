//! The HTTP executor: plays fuzz steps against a real [`Target`] through the
//! one client (`client::http`), the control client (`client::control`) and
//! the runner's template rendering (`runner::render`), so a
//! fuzzed request is built exactly like the same request in a scenario.
//!
//! The in-process reference gets one server for the whole run (control on,
//! the target's knobs and deviations). A remote target with the control API
//! is reset (`POST /_tessera/reset`) before every case; one without it is
//! not: the case obtains fresh tokens, its time is the real clock, and
//! instants are compared within the target's `time_tolerance` plus
//! [`REAL_CLOCK_SLACK`]. Clock advances and password changes need control
//! and are left out there ([`HttpExecutor::kinds`], [`left_out`]).
//!
//! Blocking: the fuzz loop is synchronous, so every step is one `block_on`
//! on a runtime the caller shares (the server, if any, runs on it too).
//! This module judges nothing and prints nothing; no secret leaves it except
//! in the [`Observed`] answer the loop asked for.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use indexmap::IndexMap;
use tokio::runtime::Runtime;

use crate::client::control::Control;
use crate::client::http::{self, Clients, Response, Timeouts, TransportError};
use crate::knobs::Knobs;
use crate::runner::render::{self, Context};
use crate::scenario::model::Profile;
use crate::target::{Target, TargetKind, User, in_process};

use super::exec::{ExecError, Executor, Observed, ObservedBody, StepCtx};
use super::ops::{Addr, OpKind};
use super::plan::Planned;

/// A target driven over HTTP.
pub struct HttpExecutor {
    rt: Arc<Runtime>,
    clients: Clients,
    /// Without a trailing slash.
    base_url: String,
    endpoints: BTreeMap<String, String>,
    users: BTreeMap<String, User>,
    knobs: Knobs,
    addresses: BTreeMap<String, IpAddr>,
    /// The target's clock as last read or moved (`{{now}}`).
    now_ms: i64,
    /// The target serves the control API (reset, clock); without it cases
    /// run on the real clock, with no reset.
    control: bool,
    /// Instants compared within this on the real clock (ms).
    tolerance_ms: i64,
    /// The in-process reference server, stopped when the executor drops.
    server: Option<in_process::Server>,
    /// Scratch copies in the shapes `render::Context` takes.
    captures: IndexMap<String, String>,
    no_case: crate::scenario::plan::Case,
}

/// What a case may take on the real clock beyond the declared tolerance:
/// the model's time stands at the case's start.
pub const REAL_CLOCK_SLACK: std::time::Duration = std::time::Duration::from_secs(5);

/// The operation kinds of `target`'s profiles that it cannot take for want
/// of control (clock advances, password changes): counted, not generated.
pub fn left_out(target: &Target) -> Vec<OpKind> {
    let kinds = HttpExecutor::kinds(target);
    [OpKind::Advance, OpKind::SetPassword]
        .into_iter()
        .filter(|k| !kinds.contains(k))
        .collect()
}

impl std::fmt::Debug for HttpExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpExecutor")
            .field("base_url", &self.base_url)
            .field("in_process", &self.server.is_some())
            .finish_non_exhaustive()
    }
}

fn unreachable(e: impl ToString) -> ExecError {
    ExecError::Unreachable(e.to_string())
}

impl HttpExecutor {
    /// Prepares `target`: starts the in-process reference (with the target's
    /// knobs and deviations) or checks that a remote one can be fuzzed.
    pub fn new(rt: Arc<Runtime>, target: &Target, timeouts: Timeouts) -> Result<Self, ExecError> {
        let (base_url, server) = match &target.kind {
            TargetKind::Reference {
                deviations,
                variants,
            } => {
                let server = rt
                    .block_on(in_process::Server::start(
                        &target.knobs,
                        deviations,
                        variants,
                        target.reference_tls,
                    ))
                    .map_err(unreachable)?;
                (server.base_url().to_owned(), Some(server))
            }
            TargetKind::Remote => (target.base_url.clone(), None),
        };
        for a in [Addr::Alt1, Addr::Alt2] {
            if !target.capabilities.addresses.contains_key(a.alias()) {
                return Err(ExecError::Unsupported(format!(
                    "{} declares no source address `{}`; fuzzing needs alt1 and alt2",
                    target.name,
                    a.alias()
                )));
            }
        }
        Ok(HttpExecutor {
            rt,
            clients: target.clients(timeouts),
            base_url,
            endpoints: target.endpoints.clone(),
            users: target.users.clone(),
            knobs: target.knobs.clone(),
            addresses: target.capabilities.addresses.clone(),
            now_ms: 0,
            control: !matches!(target.kind, TargetKind::Remote)
                || target.capabilities.clock_control,
            tolerance_ms: i64::try_from((target.time_tolerance + REAL_CLOCK_SLACK).as_millis())
                .unwrap_or(i64::MAX),
            server,
            captures: IndexMap::new(),
            no_case: Default::default(),
        })
    }

    /// The operation kinds `target` can take: those of its profiles, and
    /// password changes only with password control.
    pub fn kinds(target: &Target) -> BTreeSet<OpKind> {
        OpKind::ALL
            .into_iter()
            .filter(|k| match k {
                OpKind::GenerateToken | OpKind::Secured => {
                    target.profiles.contains(&Profile::ArcgisToken)
                        || target.profiles.contains(&Profile::BasemapSessions)
                }
                OpKind::ArcwebGetToken
                | OpKind::ArcwebRenew
                | OpKind::ArcwebGetUserId
                | OpKind::ArcwebMap => target.profiles.contains(&Profile::Arcweb2006),
                OpKind::SessionStart | OpKind::Style => {
                    target.profiles.contains(&Profile::BasemapSessions)
                }
                OpKind::Advance => target.capabilities.clock_control,
                OpKind::SetPassword => target.capabilities.password_control,
            })
            .collect()
    }

    /// The knobs the model must predict with (the target's).
    pub fn knobs(&self) -> &Knobs {
        &self.knobs
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn control(&self) -> Control<'_> {
        Control {
            clients: &self.clients,
            base_url: &self.base_url,
        }
    }

    fn request(
        &mut self,
        step: &StepCtx<'_>,
        r: &super::plan::PlannedRequest,
    ) -> Result<Observed, ExecError> {
        self.captures.clear();
        self.captures
            .extend(step.captures.iter().map(|(k, v)| (k.clone(), v.clone())));
        let ctx = Context {
            now_ms: self.now_ms,
            base_url: &self.base_url,
            endpoints: &self.endpoints,
            users: &self.users,
            knobs: &self.knobs,
            case: &self.no_case,
            addresses: &self.addresses,
            captures: &self.captures,
        };
        let plan = crate::scenario::plan::RequestPlan::compile(&r.to_request())
            .map_err(ExecError::Protocol)?;
        let rendered = render::prepare(&ctx, &plan).map_err(ExecError::Protocol)?;
        let source = rendered
            .source(&self.addresses)
            .map_err(ExecError::Unsupported)?;
        let client = self.clients.for_source(source).map_err(unreachable)?;
        let resp = self
            .rt
            .block_on(http::send(&client, &rendered.request))
            .map_err(|e| match e {
                TransportError::Build(m) => ExecError::Protocol(m),
                other => unreachable(other),
            })?;
        Ok(observed(resp))
    }
}

/// An answer as the oracle sees it: JSON when the target says so (or, with
/// no content type, when it parses), text otherwise (ArcWeb, LT-7a).
pub fn observed(resp: Response) -> Observed {
    let ct = resp.header("content-type").map(str::to_ascii_lowercase);
    let json = match ct.as_deref() {
        Some(ct) if ct.contains("json") => resp.json(),
        Some(_) => None,
        None => resp.json(),
    };
    Observed {
        status: resp.status,
        body: match json {
            Some(v) => ObservedBody::Json(v),
            None => ObservedBody::Text(resp.body),
        },
    }
}

impl Executor for HttpExecutor {
    fn reset(&mut self) -> Result<i64, ExecError> {
        if !self.control {
            // No reset: the model starts fresh and the case uses only the
            // tokens it obtains itself; time is the real clock.
            self.now_ms = jiff::Timestamp::now().as_millisecond();
            return Ok(self.now_ms);
        }
        let c = self.control();
        let now = self
            .rt
            .block_on(async { c.reset().await.and(c.now().await) })
            .map_err(unreachable)?;
        self.now_ms = now;
        Ok(now)
    }

    fn tolerance_ms(&self) -> i64 {
        if self.control { 0 } else { self.tolerance_ms }
    }

    fn execute(&mut self, step: &StepCtx<'_>) -> Result<Observed, ExecError> {
        match step.planned {
            Planned::Request(r) => self.request(step, r),
            Planned::Advance(ms) => {
                let c = self.control();
                self.now_ms = self.rt.block_on(c.advance(*ms)).map_err(unreachable)?;
                Ok(Observed::control())
            }
            Planned::SetPassword { user, password } => {
                let name = self
                    .users
                    .get(user.alias())
                    .map(|u| u.name.clone())
                    .ok_or_else(|| {
                        ExecError::Unsupported(format!(
                            "the target maps no account to `{}`",
                            user.alias()
                        ))
                    })?;
                let c = self.control();
                self.rt
                    .block_on(c.set_password(&name, password))
                    .map_err(unreachable)?;
                Ok(Observed::control())
            }
        }
    }
}
