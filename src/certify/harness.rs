//! Plays one certification case: starts the driver with the case's
//! environment, reads its `hello`, walks the plan's timeline in order
//! (operations resolved against the case's listeners and sent to the
//! driver, server-side events applied to the world), says `bye`, and
//! assembles the [`CaseRecord`] the judge reads: the world's journal and the
//! driver's transcript, with every text that came from the driver redacted.
//!
//! The harness talks to the world through [`Stage`], the part of the
//! world's API it needs, so that its walk is testable without listeners.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::driver::{Driver, DriverSpec};
use super::journal::{CaseRecord, DriverEnd, Journal, OpRecord, Transcript};
use super::plan::{CasePlan, Event, OpPlan, StepKind, Var};
use super::protocol::{Env, Op, Outcome};
use super::world::World;

/// The pause between two steps. The journal's times are whole
/// milliseconds and a local request takes less than one, so without it an
/// operation's answer, its requests and the next step's start could share a
/// millisecond and the judge could not tell which step a request followed.
pub const STEP_GAP: Duration = Duration::from_millis(3);

/// What the harness needs from a case's world (listeners, events, journal):
/// [`World`]'s API.
pub trait Stage: Send {
    /// A placeholder's value for this case (`{{portal}}` ...).
    fn url(&self, var: Var) -> String;
    /// The driver's environment for this case.
    fn env(&self, case: &str, deadline_ms: i64) -> Env;
    /// Applies a server-side event of step `step` (a `wait` sleeps there);
    /// an `Err` is an infrastructure failure (the case cannot be judged).
    fn apply(
        &mut self,
        step: usize,
        event: &Event,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// Milliseconds since the case started (the journal's `real_ms`).
    fn now_real_ms(&self) -> i64;
    /// `text` with the case's password and every issued token masked.
    fn redact(&self, text: &str) -> String;
    /// Closes the listeners and gives what they saw.
    fn finish(self) -> impl Future<Output = Journal> + Send;
}

impl Stage for World {
    fn url(&self, var: Var) -> String {
        World::url(self, var)
    }
    fn env(&self, case: &str, deadline_ms: i64) -> Env {
        World::env(self, case, deadline_ms)
    }
    async fn apply(&mut self, step: usize, event: &Event) -> Result<(), String> {
        World::apply(self, step, event)
            .await
            .map_err(|e| e.to_string())
    }
    fn now_real_ms(&self) -> i64 {
        World::now_real_ms(self)
    }
    fn redact(&self, text: &str) -> String {
        World::redact(self, text)
    }
    fn finish(self) -> impl Future<Output = Journal> + Send {
        World::finish(self)
    }
}

/// How long the harness waits for a driver at each point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// For the `hello` line (an SDK's start-up: node, Python imports).
    pub hello: Duration,
    /// For the answer to an operation (an SDK request with its retries).
    pub op: Duration,
    /// Added to `idle {ms}`'s `ms` for its answer.
    pub idle_margin: Duration,
    /// For the driver to exit after `bye`.
    pub exit: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            hello: Duration::from_secs(30),
            op: Duration::from_secs(30),
            idle_margin: Duration::from_secs(10),
            exit: Duration::from_secs(10),
        }
    }
}

impl Limits {
    /// The whole case's budget when none is given: start-up and exit, the
    /// idles and waits the plan asks for, and some seconds per operation.
    pub fn case_budget(&self, plan: &CasePlan) -> Duration {
        let per_op = Duration::from_secs(5);
        let mut total = self.hello + self.exit + Duration::from_secs(10);
        for step in &plan.steps {
            total += match &step.kind {
                StepKind::Op(OpPlan::Idle { ms }) => Duration::from_millis(*ms) + per_op,
                StepKind::Op(_) => per_op,
                StepKind::Event(Event::Wait { ms }) => Duration::from_millis(*ms),
                StepKind::Event(_) => Duration::ZERO,
            };
        }
        total
    }
}

/// The world failed under the case (an event could not be applied): the
/// case says nothing about the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: step {step}: {message}")]
pub struct StageError {
    pub file: String,
    pub line: usize,
    pub step: usize,
    pub message: String,
}

/// A played case: the record, or why the world could not play it (the
/// record is kept then too, for the report).
#[derive(Debug, Clone, PartialEq)]
pub struct Played {
    pub record: CaseRecord,
    pub stage_error: Option<StageError>,
    /// Wall time of the case, start of the driver to the journal.
    pub duration: Duration,
}

/// An operation with the case's listeners put in.
pub fn resolve(op: &OpPlan, url: &dyn Fn(Var) -> String) -> Op {
    match op {
        OpPlan::Signin => Op::Signin,
        OpPlan::Request {
            url: u,
            method,
            params,
        } => Op::Request {
            url: u.resolve(url),
            method: method.clone(),
            params: params.iter().cloned().collect::<BTreeMap<String, String>>(),
        },
        OpPlan::SessionStart {
            url: u,
            duration,
            auto_refresh,
        } => Op::SessionStart {
            url: u.as_ref().map(|u| u.resolve(url)),
            duration: *duration,
            auto_refresh: *auto_refresh,
        },
        OpPlan::SessionUse { url: u } => Op::SessionUse {
            url: u.resolve(url),
        },
        OpPlan::Idle { ms } => Op::Idle { ms: *ms },
        OpPlan::Bye => Op::Bye,
    }
}

fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Plays `plan` with the driver `spec` against `world`, within `budget`.
///
/// A driver that lacks a feature the case requires is sent `bye` at once
/// (the judge makes the case not applicable); an `unsupported` answer ends
/// the walk the same way. A driver that times out, crashes or breaks the
/// protocol ends the walk; the journal still holds what it did before.
pub async fn play<S: Stage>(
    plan: &CasePlan,
    mut world: S,
    spec: &DriverSpec,
    limits: &Limits,
    budget: Duration,
) -> Played {
    let started = Instant::now();
    let deadline = started + budget;
    let deadline_ms = epoch_ms().saturating_add(i64::try_from(budget.as_millis()).unwrap_or(0));
    let env = world.env(&plan.id, deadline_ms);
    let mut ops = Vec::new();
    let mut stage_error = None;
    let (hello, end, stderr_tail) = match Driver::spawn(spec, &env, deadline) {
        Err(end) => (None, end, String::new()),
        Ok(mut driver) => {
            let hello = driver.hello(limits.hello).await.ok();
            if let Some(h) = &hello
                && plan.requires.iter().all(|f| h.has(*f))
            {
                stage_error = walk(plan, &mut world, &mut driver, limits, &mut ops).await;
            }
            let (end, tail) = driver.finish(limits.exit).await;
            (hello, end, tail)
        }
    };
    let end = match end {
        DriverEnd::Protocol(m) => DriverEnd::Protocol(world.redact(&m)),
        DriverEnd::SpawnFailed(m) => DriverEnd::SpawnFailed(world.redact(&m)),
        other => other,
    };
    for r in &mut ops {
        if let Some(Outcome::Failed(e)) = &mut r.outcome
            && let Some(m) = &e.message
        {
            e.message = Some(world.redact(m));
        }
    }
    let stderr_tail = world.redact(&stderr_tail);
    let journal = world.finish().await;
    Played {
        record: CaseRecord {
            case: plan.id.clone(),
            journal,
            transcript: super::journal::Transcript {
                hello,
                ops,
                end,
                stderr_tail,
            },
        },
        stage_error,
        duration: started.elapsed(),
    }
}

/// Walks the timeline until its end, an explicit `bye`, an `unsupported`
/// answer or the driver's end; `Some` when an event could not be applied.
async fn walk<S: Stage>(
    plan: &CasePlan,
    world: &mut S,
    driver: &mut Driver,
    limits: &Limits,
    ops: &mut Vec<OpRecord>,
) -> Option<StageError> {
    for (i, step) in plan.steps.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(STEP_GAP).await;
        }
        match &step.kind {
            StepKind::Op(OpPlan::Bye) => break,
            StepKind::Op(p) => {
                let op = resolve(p, &|v| world.url(v));
                let wait = match &op {
                    Op::Idle { ms } => Duration::from_millis(*ms) + limits.idle_margin,
                    _ => limits.op,
                };
                let sent_real_ms = world.now_real_ms();
                let answer = driver.call(&op, wait).await;
                let answered_real_ms = answer.is_ok().then(|| world.now_real_ms());
                let outcome = answer.ok();
                let stop = !matches!(outcome, Some(Outcome::Ok | Outcome::Failed(_)));
                ops.push(OpRecord {
                    step: i,
                    op,
                    sent_real_ms,
                    answered_real_ms,
                    outcome,
                });
                if stop {
                    break;
                }
            }
            StepKind::Event(e) => {
                if let Err(message) = world.apply(i, e).await {
                    return Some(StageError {
                        file: plan.file.clone(),
                        line: step.line,
                        step: i,
                        message,
                    });
                }
            }
        }
    }
    None
}

/// A transcript's end in a sentence, for reasons and progress lines.
pub fn describe_end(t: &Transcript) -> String {
    match &t.end {
        DriverEnd::Exited(0) => "exited".into(),
        DriverEnd::Exited(c) => format!("exited with code {c}"),
        DriverEnd::Signalled(s) => format!("killed by signal {s}"),
        DriverEnd::TimedOut => "timed out and was killed".into(),
        DriverEnd::SpawnFailed(m) => format!("could not be started: {m}"),
        DriverEnd::Protocol(m) => format!("broke the protocol: {m}"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::certify::journal::Applied;
    use crate::certify::plan::{Step, UrlPart, UrlTemplate};
    use crate::certify::protocol::Feature;

    /// A world without listeners: URLs on a closed port, events recorded.
    pub(crate) struct FakeStage {
        pub started: Instant,
        pub events: Vec<Applied>,
        pub fail_at: Option<usize>,
        pub seen_env: Arc<Mutex<Option<Env>>>,
    }

    impl FakeStage {
        pub(crate) fn new() -> FakeStage {
            FakeStage {
                started: Instant::now(),
                events: vec![],
                fail_at: None,
                seen_env: Arc::default(),
            }
        }
    }

    impl Stage for FakeStage {
        fn url(&self, var: Var) -> String {
            match var {
                Var::Portal => "http://127.0.0.1:9/sharing/rest".into(),
                _ => "http://127.0.0.1:9/other".into(),
            }
        }
        fn env(&self, case: &str, deadline_ms: i64) -> Env {
            let e = Env {
                case: case.into(),
                portal_url: self.url(Var::Portal),
                username: "alice".into(),
                password: "alice-secret-1".into(),
                deadline_ms,
                ..Env::default()
            };
            *self.seen_env.lock().unwrap() = Some(e.clone());
            e
        }
        async fn apply(&mut self, step: usize, event: &Event) -> Result<(), String> {
            if self.fail_at == Some(step) {
                return Err("cannot".into());
            }
            if let Event::Wait { ms } = event {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
            }
            self.events.push(Applied {
                step,
                real_ms: self.now_real_ms(),
                event: event.clone(),
            });
            Ok(())
        }
        fn now_real_ms(&self) -> i64 {
            self.started.elapsed().as_millis() as i64
        }
        fn redact(&self, text: &str) -> String {
            text.replace("alice-secret-1", "***")
                .replace("tok-123", "T1")
        }
        async fn finish(self) -> Journal {
            Journal {
                events: self.events,
                ..Journal::default()
            }
        }
    }

    fn step(kind: StepKind) -> Step {
        Step { line: 1, kind }
    }

    pub(crate) fn plan(steps: Vec<StepKind>) -> CasePlan {
        CasePlan {
            id: "client/fake".into(),
            file: "specs/clients/fake.yaml".into(),
            requires: vec![Feature::Portal],
            steps: steps.into_iter().map(step).collect(),
            ..CasePlan::default()
        }
    }

    fn portal_request() -> StepKind {
        StepKind::Op(OpPlan::Request {
            url: UrlTemplate(vec![
                UrlPart::Var(Var::Portal),
                UrlPart::Text("/portals/self".into()),
            ]),
            method: None,
            params: vec![("f".into(), "json".into())],
        })
    }

    /// Answers each op line with its own line on stderr and `{"ok":true}`,
    /// or with `answer` for requests.
    fn driver(features: &str, answer: &str) -> DriverSpec {
        DriverSpec::new(format!(
            "echo '{{\"hello\":{{\"client\":\"sh\",\"version\":\"1\",\"features\":[{features}]}}}}'; \
             while read -r l; do echo \"$l\" >&2; case \"$l\" in *bye*) exit 0;; *request*) echo '{answer}';; *) echo '{{\"ok\":true}}';; esac; done"
        ))
    }

    const SHORT: Limits = Limits {
        hello: Duration::from_secs(5),
        op: Duration::from_secs(5),
        idle_margin: Duration::from_secs(2),
        exit: Duration::from_secs(5),
    };

    #[tokio::test]
    async fn operations_are_resolved_and_sent_in_order_between_events() {
        let p = plan(vec![
            StepKind::Op(OpPlan::Signin),
            StepKind::Event(Event::DeclareSsl),
            portal_request(),
            StepKind::Event(Event::Wait { ms: 50 }),
            StepKind::Op(OpPlan::Idle { ms: 10 }),
        ]);
        let played = play(
            &p,
            FakeStage::new(),
            &driver("\"portal\"", r#"{"ok":true}"#),
            &SHORT,
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(played.stage_error, None);
        let t = &played.record.transcript;
        assert_eq!(t.end, DriverEnd::Exited(0));
        let steps: Vec<usize> = t.ops.iter().map(|o| o.step).collect();
        assert_eq!(steps, vec![0, 2, 4]);
        assert!(t.ops.iter().all(|o| o.outcome == Some(Outcome::Ok)));
        let ev: Vec<usize> = played
            .record
            .journal
            .events
            .iter()
            .map(|a| a.step)
            .collect();
        assert_eq!(ev, vec![1, 3]);
        // The request went out with the listener's URL and its params; the
        // wait held the walk.
        assert!(t.stderr_tail.contains(
            r#"{"op":"request","url":"http://127.0.0.1:9/sharing/rest/portals/self","params":{"f":"json"}}"#
        ));
        assert!(t.ops[2].sent_real_ms - t.ops[1].answered_real_ms.unwrap() >= 50);

        assert!(
            t.stderr_tail.ends_with(r#"{"op":"bye"}"#),
            "{}",
            t.stderr_tail
        );
        assert_eq!(played.record.case, "client/fake");
    }

    #[tokio::test]
    async fn each_step_starts_in_a_later_millisecond_than_the_one_before() {
        let p = plan(
            std::iter::repeat_n(StepKind::Event(Event::DeclareSsl), 10)
                .chain([
                    StepKind::Op(OpPlan::Signin),
                    StepKind::Event(Event::DeclareSsl),
                ])
                .collect(),
        );
        let played = play(
            &p,
            FakeStage::new(),
            &driver("\"portal\"", r#"{"ok":true}"#),
            &SHORT,
            Duration::from_secs(20),
        )
        .await;
        let times: Vec<i64> = played
            .record
            .journal
            .events
            .iter()
            .map(|a| a.real_ms)
            .collect();
        assert_eq!(times.len(), 11);
        assert!(times.windows(2).all(|w| w[1] > w[0]), "{times:?}");
        let op = &played.record.transcript.ops[0];
        assert!(op.sent_real_ms > times[9] && times[10] > op.answered_real_ms.unwrap());
    }

    #[tokio::test]
    async fn a_missing_feature_sends_bye_before_any_operation() {
        let p = plan(vec![StepKind::Op(OpPlan::Signin)]);
        let played = play(
            &p,
            FakeStage::new(),
            &driver("\"server\"", r#"{"ok":true}"#),
            &SHORT,
            Duration::from_secs(20),
        )
        .await;
        let t = &played.record.transcript;
        assert!(t.hello.is_some());
        assert!(t.ops.is_empty());
        assert_eq!(t.end, DriverEnd::Exited(0));
        assert_eq!(t.stderr_tail, r#"{"op":"bye"}"#);
    }

    #[tokio::test]
    async fn unsupported_ends_the_walk_and_failures_do_not() {
        let p = plan(vec![portal_request(), StepKind::Op(OpPlan::Signin)]);
        let failing = driver(
            "\"portal\"",
            r#"{"ok":false,"error":{"kind":"auth","code":498,"message":"bad tok-123 for alice-secret-1"}}"#,
        );
        let played = play(
            &p,
            FakeStage::new(),
            &failing,
            &SHORT,
            Duration::from_secs(20),
        )
        .await;
        let t = &played.record.transcript;
        assert_eq!(t.ops.len(), 2);
        let Some(Outcome::Failed(e)) = &t.ops[0].outcome else {
            panic!("{:?}", t.ops[0]);
        };
        assert_eq!(e.message.as_deref(), Some("bad T1 for ***"));

        let unsupported = driver("\"portal\"", r#"{"unsupported":true}"#);
        let played = play(
            &p,
            FakeStage::new(),
            &unsupported,
            &SHORT,
            Duration::from_secs(20),
        )
        .await;
        let t = &played.record.transcript;
        assert_eq!(t.ops.len(), 1);
        assert_eq!(t.ops[0].outcome, Some(Outcome::Unsupported));
        assert_eq!(t.end, DriverEnd::Exited(0));
    }

    #[tokio::test]
    async fn a_hanging_driver_is_cut_at_the_budget_and_the_journal_is_kept() {
        let p = plan(vec![
            StepKind::Event(Event::DeclareSsl),
            StepKind::Op(OpPlan::Signin),
        ]);
        let hang = DriverSpec::new(
            "echo '{\"hello\":{\"client\":\"sh\",\"version\":\"1\",\"features\":[\"portal\"]}}'; sleep 300",
        );
        let t0 = Instant::now();
        let played = play(&p, FakeStage::new(), &hang, &SHORT, Duration::from_secs(1)).await;
        assert!(t0.elapsed() < Duration::from_secs(4));
        let t = &played.record.transcript;
        assert_eq!(t.end, DriverEnd::TimedOut);
        assert_eq!(t.ops.len(), 1);
        assert_eq!(t.ops[0].outcome, None);
        assert_eq!(played.record.journal.events.len(), 1);
    }

    #[tokio::test]
    async fn garbage_and_secrets_in_the_protocol_error_are_redacted() {
        let p = plan(vec![StepKind::Op(OpPlan::Signin)]);
        let g = DriverSpec::new(
            "echo \"pw $TESSERA_PASSWORD\" >&2; echo \"hello I am $TESSERA_PASSWORD\"; sleep 300",
        );
        let seen = FakeStage::new();
        let env = seen.seen_env.clone();
        let played = play(&p, seen, &g, &SHORT, Duration::from_secs(20)).await;
        let t = &played.record.transcript;
        assert!(t.hello.is_none());
        let DriverEnd::Protocol(m) = &t.end else {
            panic!("{:?}", t.end);
        };
        assert!(m.contains("***") && !m.contains("alice-secret-1"), "{m}");
        assert_eq!(t.stderr_tail, "pw ***");
        let env = env.lock().unwrap().clone().unwrap();
        assert!(env.deadline_ms > epoch_ms() - 60_000);
    }

    #[tokio::test]
    async fn an_event_the_world_cannot_apply_is_a_stage_error() {
        let p = plan(vec![
            StepKind::Op(OpPlan::Signin),
            StepKind::Event(Event::DeclareAllSsl),
            StepKind::Op(OpPlan::Signin),
        ]);
        let mut w = FakeStage::new();
        w.fail_at = Some(1);
        let played = play(
            &p,
            w,
            &driver("\"portal\"", "{}"),
            &SHORT,
            Duration::from_secs(20),
        )
        .await;
        let e = played.stage_error.expect("a stage error");
        assert_eq!(e.step, 1);
        assert_eq!(e.to_string(), "specs/clients/fake.yaml:1: step 1: cannot");
        assert_eq!(played.record.transcript.ops.len(), 1);
        assert_eq!(played.record.transcript.end, DriverEnd::Exited(0));
    }

    #[tokio::test]
    async fn a_driver_that_cannot_start_is_recorded_as_such() {
        // `sh` itself always starts; what it cannot run ends at hello.
        let p = plan(vec![StepKind::Op(OpPlan::Signin)]);
        let played = play(
            &p,
            FakeStage::new(),
            &DriverSpec::new("/nonexistent/driver"),
            &SHORT,
            Duration::from_secs(20),
        )
        .await;
        let t = &played.record.transcript;
        assert!(t.hello.is_none());
        assert!(
            describe_end(t).contains("exit code 127"),
            "{}",
            describe_end(t)
        );
        assert!(t.stderr_tail.contains("nonexistent"));
    }

    #[test]
    fn the_default_budget_covers_the_idles_and_waits() {
        let p = plan(vec![
            StepKind::Op(OpPlan::Idle { ms: 20_000 }),
            StepKind::Event(Event::Wait { ms: 5_000 }),
        ]);
        let l = Limits::default();
        assert!(l.case_budget(&p) >= Duration::from_secs(25) + l.hello + l.exit);
    }
}
