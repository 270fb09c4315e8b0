//! How operations reach a target: the [`Executor`] trait, and executors
//! built on the model itself for tests (a conformant one and deviant ones).
//!
//! An executor is synchronous from the fuzz loop's point of view; the HTTP
//! executor blocks on a shared runtime. Executors report what they saw and
//! never judge it: judging is the oracle's job.

use std::collections::BTreeMap;

use crate::knobs::Knobs;

use super::model::{self, BodyKind, Check, State};
use super::ops::*;
use super::plan::Planned;

/// An answer as the oracle sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub status: u16,
    pub body: ObservedBody,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ObservedBody {
    /// A body that parsed as JSON.
    Json(serde_json::Value),
    /// Anything else, as text (ArcWeb answers, LT-7a).
    Text(String),
}

impl Observed {
    /// The answer to a control step (clock, password), which has no body to judge.
    pub fn control() -> Self {
        Observed {
            status: 200,
            body: ObservedBody::Json(serde_json::Value::Null),
        }
    }
}

/// Everything an executor may read to perform one step.
#[derive(Debug, Clone, Copy)]
pub struct StepCtx<'a> {
    pub op: &'a Op,
    /// The model state before the step.
    pub state: &'a State,
    /// What to send; templates refer to `captures`, fixture users and
    /// address aliases.
    pub planned: &'a Planned,
    /// Secrets captured so far (`t1`, `a1`, `u1`, `s1`, ...).
    pub captures: &'a BTreeMap<String, String>,
}

/// Why a step could not be performed (not a verdict: the run stops).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    #[error("target unreachable: {0}")]
    Unreachable(String),
    #[error("target misbehaved outside the rules: {0}")]
    Protocol(String),
    #[error("the target cannot do this: {0}")]
    Unsupported(String),
}

/// A target as the fuzz loop drives it.
pub trait Executor {
    /// Forgets every token, user ID and session and restores the fixture
    /// passwords (`POST /_tessera/reset`); returns the target's clock in
    /// epoch ms, the origin of the model's time for the next case.
    fn reset(&mut self) -> Result<i64, ExecError>;

    /// Performs one step and reports the answer.
    fn execute(&mut self, step: &StepCtx<'_>) -> Result<Observed, ExecError>;

    /// How far an instant may be from the model's (ms): 0 with clock
    /// control; on a real clock the target's `time_tolerance` plus the
    /// time a case takes.
    fn tolerance_ms(&self) -> i64 {
        0
    }
}

/// Deliberate rule violations of the model-backed executor, to prove the
/// fuzz loop catches them (tests only; the reference's deviations are the
/// real thing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeDeviation {
    /// LT-5: tokens never expire on services.
    AcceptExpiredTokens,
    /// LT-3: `expiration` is honoured without the clamp.
    NoExpirationClamp,
    /// IP-2: address binding is not checked.
    IgnoreIpBinding,
}

/// An executor that answers as the model predicts (optionally with one
/// deviation): the fuzz loop's test double, and a baseline for speed.
#[derive(Debug, Clone)]
pub struct ModelExecutor {
    knobs: Knobs,
    deviation: Option<FakeDeviation>,
    state: State,
    epoch0: i64,
    clock: i64,
    issued: u64,
}

impl ModelExecutor {
    pub fn new(knobs: Knobs, deviation: Option<FakeDeviation>) -> Self {
        ModelExecutor {
            knobs,
            deviation,
            state: State::default(),
            epoch0: 1_700_000_000_000,
            clock: 1_700_000_000_000,
            issued: 0,
        }
    }

    /// The state and knobs the deviant target judges with.
    fn view(&self, op: &Op) -> (Knobs, State) {
        let mut k = self.knobs.clone();
        let mut s = self.state.clone();
        match self.deviation {
            None => {}
            Some(FakeDeviation::AcceptExpiredTokens) => {
                if matches!(op, Op::Secured { .. }) {
                    for t in &mut s.tokens {
                        t.expires = i64::MAX;
                    }
                }
            }
            Some(FakeDeviation::NoExpirationClamp) => {
                k.max_expiration_minutes = u64::from(u32::MAX);
            }
            Some(FakeDeviation::IgnoreIpBinding) => {
                for t in &mut s.tokens {
                    if matches!(t.binding, model::Binding::Ip(_)) {
                        t.binding = model::Binding::None;
                    }
                }
            }
        }
        (k, s)
    }

    fn secret(&mut self) -> String {
        self.issued += 1;
        format!("fake{:060}", self.issued)
    }
}

impl Executor for ModelExecutor {
    fn reset(&mut self) -> Result<i64, ExecError> {
        self.state = State::default();
        // Like the reference, reset never moves the clock back.
        self.epoch0 = self.clock;
        Ok(self.clock)
    }

    fn execute(&mut self, step: &StepCtx<'_>) -> Result<Observed, ExecError> {
        let (k, view) = self.view(step.op);
        let p = model::predict(&k, &view, step.op);
        // The view only changes how tokens are judged; what the executor
        // remembers follows the (possibly deviant) knobs it issues with.
        self.state = model::apply(&k, std::mem::take(&mut self.state), step.op);
        self.clock = self.epoch0 + self.state.now;
        let Some(e) = p.accept.first() else {
            return Ok(Observed::control());
        };
        let body = match e.body {
            BodyKind::Json => {
                let mut obj = serde_json::Map::new();
                if let Some(code) = e.error {
                    obj.insert(
                        "error".into(),
                        serde_json::json!({"code": code, "message": "refused", "details": []}),
                    );
                }
                for c in &e.checks {
                    let (path, v) = match c {
                        Check::JsonInstant { path, at } => {
                            (*path, serde_json::json!(self.epoch0 + at))
                        }
                        Check::JsonIsString { path } | Check::JsonIsToken { path } => {
                            (*path, serde_json::json!(self.secret()))
                        }
                        Check::JsonIsBool { path } => (*path, serde_json::json!(false)),
                        Check::JsonEquals { path, value } => (*path, value.clone()),
                        _ => continue,
                    };
                    obj.insert(path.trim_start_matches("$.").to_owned(), v);
                }
                ObservedBody::Json(serde_json::Value::Object(obj))
            }
            BodyKind::Text => {
                let mut text = String::from("ok");
                for c in &e.checks {
                    match c {
                        Check::BodyIsValue => text = self.secret(),
                        Check::BodyEqualsCapture(name) => {
                            text = step.captures.get(name).cloned().unwrap_or_default()
                        }
                        Check::BodyContains(s) => text = format!("Error: {s}"),
                        _ => {}
                    }
                }
                ObservedBody::Text(text)
            }
        };
        Ok(Observed {
            status: e.status,
            body,
        })
    }
}
