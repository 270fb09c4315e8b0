//! Playing scenarios against a target: scheduling, applicability, requests,
//! expectations, and the report.
//!
//! [`run`] is the library entry point (the CLI, `tests/` and conformance
//! harnesses call it) and plays what it is given: choosing the scenarios is
//! `crate::select`'s job, resolving and starting targets `crate::target`'s,
//! sending requests `crate::client`'s. For each scenario instance (one per
//! matrix case) it decides applicability ([`plan`]), gets a live server
//! (`target::in_process` for the reference), plays the steps ([`play`]) and
//! masks the result ([`crate::report::redact`]). It never prints: observers
//! get [`events::RunEvent`]s.
//!
//! Scheduling (`--jobs`): on the in-process reference every instance gets its
//! own server (own clock, own state), so everything runs in parallel. On a
//! remote (shared) target, instances that change a password, or move the
//! clock through clock control, run alone (a write lock; others hold read
//! locks); with the control API the target is also reset
//! (`POST /_tessera/reset`) at the start of the run and before and after
//! each of those. Ordinary instances are not reset before
//! each run: a reset forgets every token on the server, so it would break
//! instances running beside them; they do not depend on a clean server,
//! only on a clock nobody moves while they run.
//!
//! Real time (semantics.md, "Real time"): a `--jobs` slot limits work in
//! flight, not sleeps. An instance that waits in real time gives its slot
//! back for the wait ([`play::Pace`]), so waiting instances wait side by side
//! and a run lasts about its longest wait. Before playing, observers get
//! [`RunEvent::Planned`] (how many instances play, the longest wait, the
//! expected duration) and, during the run, which instances wait and for how
//! long ([`RunEvent::Waiting`]).

pub mod events;
pub mod expect;
pub mod plan;
pub mod play;
pub mod render;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{RwLock, Semaphore};

use crate::client::{Clients, Control, Timeouts};
use crate::reference::Deviation;
use crate::report::gate;
use crate::report::model::{Report, ScenarioReport, Verdict};
use crate::report::redact::Redactor;
use crate::scenario::model::{Case, Scenario};
use crate::target::{Target, TargetKind, in_process};
use events::{EventSender, RunEvent, emit};
use plan::{Decision, Plan};
use play::Live;

pub use events::RunEvent as Event;

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Instances played at once (at least 1).
    pub jobs: usize,
    /// Timeout of every HTTP request.
    pub timeout: Duration,
    /// Plays of a failed or errored instance beyond the first (`--retries`);
    /// one that passes on a retry is reported flaky (`gate::settle_attempts`).
    pub retries: u32,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            timeout: Duration::from_secs(10),
            retries: 0,
        }
    }
}

/// Why a run could not proceed at all (exit 4).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot prepare target {target}: {reason}")]
    Target { target: String, reason: String },
}

/// One scenario with one of its cases.
#[derive(Debug, Clone)]
pub struct Instance {
    pub scenario: Arc<Scenario>,
    pub case: usize,
}

impl Instance {
    pub fn case(&self) -> &Case {
        &self.scenario.cases[self.case]
    }

    /// `SCENARIO_ID` or `SCENARIO_ID[case]`.
    pub fn id(&self) -> String {
        let c = self.case();
        if c.name.is_empty() {
            self.scenario.id.clone()
        } else {
            format!("{}[{}]", self.scenario.id, c.name)
        }
    }
}

/// Every instance of `scenarios`, in order.
pub fn instances(scenarios: Vec<Scenario>) -> Vec<Instance> {
    scenarios
        .into_iter()
        .flat_map(|s| {
            let s = Arc::new(s);
            (0..s.cases.len()).map(move |case| Instance {
                scenario: s.clone(),
                case,
            })
        })
        .collect()
}

/// A redactor that knows the target's passwords.
pub fn base_redactor(target: &Target) -> Redactor {
    let mut r = Redactor::new();
    for (alias, u) in &target.users {
        r.add_password(alias, &u.password);
    }
    r
}

struct Shared {
    target: Target,
    clients: Clients,
    redactor: Redactor,
    /// Readers: ordinary instances; writer: one that mutates shared state.
    state: RwLock<()>,
    jobs: Arc<Semaphore>,
    events: EventSender,
}

/// Plays `scenarios` on `target` and returns the (masked) report.
pub async fn run(
    scenarios: Vec<Scenario>,
    target: &Target,
    opts: &RunOptions,
    events: EventSender,
) -> Result<Report, RunError> {
    let started = Instant::now();
    let started_at = jiff::Timestamp::now().to_string();
    let list = instances(scenarios);
    let shared = Arc::new(Shared {
        target: target.clone(),
        clients: target.clients(Timeouts::new(opts.timeout)),
        redactor: base_redactor(target),
        state: RwLock::new(()),
        jobs: Arc::new(Semaphore::new(opts.jobs.max(1))),
        events,
    });
    if target.is_shared() && target.capabilities.clock_control {
        Control {
            clients: &shared.clients,
            base_url: &target.base_url,
        }
        .reset()
        .await
        .map_err(|reason| RunError::Target {
            target: target.name.clone(),
            reason,
        })?;
    }
    emit(&shared.events, RunEvent::RunStarted { total: list.len() });
    emit(&shared.events, forecast(&list, target));
    let retries = opts.retries;
    let reports = play_all(&list, &shared.events, |inst| {
        let shared = shared.clone();
        async move {
            let report = run_with_retries(&inst, &shared, retries).await;
            emit(
                &shared.events,
                RunEvent::ScenarioFinished(Box::new(report.clone())),
            );
            report
        }
    })
    .await;
    emit(&shared.events, RunEvent::RunFinished);
    Ok(Report::unjudged(
        target.summary(),
        started_at,
        started.elapsed().as_millis() as u64,
        reports,
    ))
}

/// What the run will do: instances played, the longest real wait among
/// them, the expected duration (waits run side by side; the requests add
/// about a second per `jobs`-wide wave of instances, a rough guide).
fn forecast(list: &[Instance], target: &Target) -> RunEvent {
    let mut to_run = 0;
    let mut longest = Duration::ZERO;
    for inst in list {
        if let Decision::Play(plan) = plan::decide_case(&inst.scenario, Some(inst.case()), target) {
            to_run += 1;
            let s = &inst.scenario;
            let wait = if plan.real_waits {
                s.total_real_wait()
            } else {
                // With clock control only `wait:` sleeps.
                s.total_real_wait().saturating_sub(s.total_advance())
            };
            longest = longest.max(wait);
        }
    }
    RunEvent::Planned {
        to_run,
        total: list.len(),
        longest_wait: longest,
        expected: longest + Duration::from_millis(50 * to_run as u64),
    }
}

/// Plays every instance concurrently (each in its own task) and returns
/// their reports in `list` order. A task that panics or is cancelled is a
/// bug in tessera, not in the target: it becomes an *error* verdict for
/// that instance alone (with the reason), and the rest of the run goes on.
async fn play_all<F, Fut>(list: &[Instance], events: &EventSender, play: F) -> Vec<ScenarioReport>
where
    F: Fn(Instance) -> Fut,
    Fut: std::future::Future<Output = ScenarioReport> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    let mut index = std::collections::HashMap::new();
    for (i, inst) in list.iter().cloned().enumerate() {
        let handle = set.spawn(play(inst));
        index.insert(handle.id(), i);
    }
    let mut reports: Vec<Option<ScenarioReport>> = vec![None; list.len()];
    while let Some(joined) = set.join_next_with_id().await {
        match joined {
            Ok((id, r)) => {
                if let Some(&i) = index.get(&id) {
                    reports[i] = Some(r);
                }
            }
            Err(e) => {
                let Some(&i) = index.get(&e.id()) else {
                    continue;
                };
                let mut r = blank_report(&list[i]);
                r.verdict = Verdict::Error;
                r.reason = Some(if e.is_panic() {
                    "internal error: the scenario task panicked (a bug in tessera; please report it)"
                        .to_string()
                } else {
                    format!("internal error: the scenario task failed: {e}")
                });
                emit(events, RunEvent::ScenarioFinished(Box::new(r.clone())));
                reports[i] = Some(r);
            }
        }
    }
    reports.into_iter().flatten().collect()
}

/// Plays one instance, then again while it fails or errors, at most
/// `retries` more times; the attempts are folded into one report (the last
/// attempt's, with the count and the flaky mark).
async fn run_with_retries(inst: &Instance, shared: &Shared, retries: u32) -> ScenarioReport {
    let first = run_instance(inst, shared).await;
    if !first.verdict.is_failure() || retries == 0 {
        return first;
    }
    let mut attempts = vec![first];
    while attempts.len() <= retries as usize
        && attempts.last().is_some_and(|a| a.verdict.is_failure())
    {
        attempts.push(run_instance(inst, shared).await);
    }
    // `attempts` is never empty, so `settle_attempts` always answers; the
    // fallback only keeps this free of a panic path.
    let fallback = attempts[0].clone();
    gate::settle_attempts(attempts).unwrap_or(fallback)
}

/// Decides, plays and masks one instance.
async fn run_instance(inst: &Instance, shared: &Shared) -> ScenarioReport {
    let s = &inst.scenario;
    let mut redactor = shared.redactor.clone();
    let mut report = blank_report(inst);
    let permit = shared.jobs.clone().acquire_owned().await.ok();
    let pace = play::Pace {
        slot: Some((shared.jobs.clone(), permit)),
        events: shared.events.clone(),
        id: report.id.clone(),
    };
    let start = Instant::now();
    match plan::decide_case(s, Some(inst.case()), &shared.target) {
        Decision::NotApplicable(r) => {
            report.verdict = Verdict::NotApplicable;
            report.reason = Some(r.reason);
            report.unlock = r.unlock;
        }
        Decision::Skip(r) => {
            report.verdict = Verdict::Skipped;
            report.reason = Some(r.reason);
            report.unlock = r.unlock;
        }
        Decision::Play(plan) => {
            emit(
                &shared.events,
                RunEvent::ScenarioStarted {
                    id: report.id.clone(),
                },
            );
            let played = match &shared.target.kind {
                TargetKind::Reference {
                    deviations,
                    variants,
                } => {
                    play_in_process(
                        inst,
                        shared,
                        &plan,
                        deviations,
                        variants,
                        &mut redactor,
                        pace,
                    )
                    .await
                }
                TargetKind::Remote => play_remote(inst, shared, &plan, &mut redactor, pace).await,
            };
            report.verdict = played.verdict;
            report.reason = played.reason;
            report.steps = played.steps;
            report.tokens = played.tokens;
        }
    }
    report.duration_ms = start.elapsed().as_millis() as u64;
    redactor.mask_scenario(&mut report);
    report
}

/// The report of an instance before it is played: a pass with no steps.
/// The report of an instance that never finished because the run was
/// stopped (Ctrl-C): an error whose reason says so.
pub fn interrupted(inst: &Instance) -> ScenarioReport {
    let mut r = blank_report(inst);
    r.verdict = Verdict::Error;
    r.reason = Some("interrupted: the run was stopped before this finished".into());
    r
}

fn blank_report(inst: &Instance) -> ScenarioReport {
    let s = &inst.scenario;
    ScenarioReport {
        id: inst.id(),
        scenario: s.id.clone(),
        case: Some(inst.case().name.clone()).filter(|n| !n.is_empty()),
        area: s.area.clone(),
        title: s.title.clone(),
        file: s.file.display().to_string(),
        rules: s.rules.iter().map(ToString::to_string).collect(),
        profile: s.profile.as_str().to_owned(),
        vars: inst.case().vars.clone(),
        verdict: Verdict::Pass,
        reason: None,
        duration_ms: 0,
        attempts: 1,
        flaky: false,
        steps: Vec::new(),
        tokens: Vec::new(),
        unlock: None,
        gate: None,
    }
}

fn live(target: &Target, plan: &Plan, base_url: String) -> Live {
    Live {
        base_url,
        endpoints: target.endpoints.clone(),
        users: target.users.clone(),
        knobs: plan.knobs.clone(),
        addresses: target.capabilities.addresses.clone(),
        tolerance: target.time_tolerance,
        clock_control: target.capabilities.clock_control,
        real_waits: plan.real_waits,
        max_real_wait: target.capabilities.max_real_wait,
    }
}

fn error_played(reason: String) -> play::Played {
    play::Played {
        verdict: Verdict::Error,
        reason: Some(reason),
        steps: Vec::new(),
        tokens: Vec::new(),
    }
}

/// A fresh reference server for this instance alone: its own clock and
/// state, the scenario's knobs applied.
async fn play_in_process(
    inst: &Instance,
    shared: &Shared,
    plan: &Plan,
    deviations: &[Deviation],
    variants: &crate::reference::Variants,
    redactor: &mut Redactor,
    pace: play::Pace,
) -> play::Played {
    let server = match in_process::Server::start(
        &plan.knobs,
        deviations,
        variants,
        shared.target.reference_tls,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return error_played(e.to_string()),
    };
    let base = server.base_url().to_owned();
    let played = play::play(
        &inst.scenario,
        inst.case(),
        live(&shared.target, plan, base),
        &shared.clients,
        redactor,
        pace,
    )
    .await;
    server.stop().await;
    played
}

/// A shared server: exclusive instances run alone between two resets.
async fn play_remote(
    inst: &Instance,
    shared: &Shared,
    plan: &Plan,
    redactor: &mut Redactor,
    pace: play::Pace,
) -> play::Played {
    let target = &shared.target;
    let control = Control {
        clients: &shared.clients,
        base_url: &target.base_url,
    };
    let live = live(target, plan, target.base_url.clone());
    if plan.exclusive {
        let _w = shared.state.write().await;
        // Resets need the control API; without it the instance still runs
        // alone, so nobody sees the password change half-way.
        let resets = target.capabilities.clock_control;
        if resets && let Err(e) = control.reset().await {
            return error_played(e);
        }
        if !plan.remote_knobs.is_empty()
            && let Err(e) = control.set_knobs(&plan.remote_knobs).await
        {
            return error_played(format!("setting the scenario's knobs: {e}"));
        }
        let mut played = play::play(
            &inst.scenario,
            inst.case(),
            live,
            &shared.clients,
            redactor,
            pace,
        )
        .await;
        // Both clean-ups always run; the first that fails makes the instance
        // an error (the shared target may be left in the scenario's state).
        let restored = plan::restore_knobs(&control, target, plan).await;
        let reset = if resets {
            control.reset().await
        } else {
            Ok(())
        };
        if let Err(e) = restored.and(reset)
            && played.verdict != Verdict::Error
        {
            played.verdict = Verdict::Error;
            played.reason = Some(format!("after the scenario: {e}"));
        }
        played
    } else {
        let _r = shared.state.read().await;
        play::play(
            &inst.scenario,
            inst.case(),
            live,
            &shared.clients,
            redactor,
            pace,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::Profile;

    #[tokio::test]
    async fn a_panicking_instance_is_an_error_for_that_instance_only() {
        let mut a = plan::tests::scenario(Profile::ArcgisToken, vec![]);
        a.id = "a/ok".into();
        let mut b = a.clone();
        b.id = "a/boom".into();
        let list = instances(vec![a, b]);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let reports = play_all(&list, &Some(tx), |inst| async move {
            if inst.scenario.id == "a/boom" {
                panic!("boom");
            }
            blank_report(&inst)
        })
        .await;
        assert_eq!(reports.len(), 2);
        assert_eq!(reports[0].id, "a/ok");
        assert_eq!(reports[0].verdict, Verdict::Pass);
        assert_eq!(reports[1].id, "a/boom");
        assert_eq!(reports[1].verdict, Verdict::Error);
        assert!(reports[1].reason.as_deref().unwrap().contains("panicked"));
        // Observers hear about it too.
        let ev = rx.try_recv().unwrap();
        assert!(matches!(ev, RunEvent::ScenarioFinished(r) if r.id == "a/boom"));
    }
}
