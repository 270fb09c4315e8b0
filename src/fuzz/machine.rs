//! The fuzz loop: proptest-state-machine draws and shrinks sequences; this
//! module plays them through an [`Executor`] and judges them with the model.
//!
//! We use the crate's `Sequential` strategy (generation from the model
//! state, shrinking by deleting transitions with preconditions re-checked)
//! but our own test closure instead of `StateMachineTest`: its `init_test`
//! is a static function, while our system under test is an executor value
//! owned by the caller (an HTTP client, a fake), and we need a time budget,
//! progress and per-kind counts that the macro does not offer. Knobs reach
//! the strategy through closures rather than `ReferenceStateMachine`'s
//! static methods for the same reason.
//!
//! Determinism: the runner's RNG is ChaCha seeded from the seed alone, and
//! nothing else feeds generation, so one seed gives one sequence.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use proptest::strategy::{BoxedStrategy, Just, Strategy};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use proptest_state_machine::strategy::Sequential;

use crate::knobs::Knobs;

use super::exec::{ExecError, Executor, ObservedBody, StepCtx};
use super::model::{self, CaptureFrom, State};
use super::ops::{Op, OpKind};
use super::oracle::{self, Mismatch};
use super::plan;
use super::strategy;

/// What a fuzz run does.
#[derive(Debug, Clone)]
pub struct FuzzConfig {
    pub seed: u64,
    /// Sequences to try.
    pub cases: u32,
    /// Operations per sequence (at most).
    pub max_steps: usize,
    /// Stop trying new sequences after this long (shrinking still finishes).
    pub time_budget: Option<Duration>,
    /// The target's knobs (the model predicts with them).
    pub knobs: Knobs,
    /// The operation kinds the target can take.
    pub kinds: BTreeSet<OpKind>,
    /// Bound on shrink steps.
    pub max_shrink_iters: u32,
}

impl FuzzConfig {
    pub fn new(seed: u64) -> Self {
        FuzzConfig {
            seed,
            cases: 100,
            max_steps: 30,
            time_budget: None,
            knobs: Knobs::default(),
            kinds: OpKind::ALL.into_iter().collect(),
            max_shrink_iters: 2048,
        }
    }
}

/// One divergence from the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the operation whose answer diverged.
    pub step: usize,
    pub mismatch: Mismatch,
}

/// A failing sequence, shrunk.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The minimal sequence; its last operation diverges.
    pub ops: Vec<Op>,
    pub divergence: Divergence,
    /// Length of the first failing sequence found.
    pub original_len: usize,
}

/// What a fuzz run found.
#[derive(Debug, Clone)]
pub struct FuzzOutcome {
    pub seed: u64,
    pub cases_run: u32,
    pub ops_run: u64,
    /// Operations played per kind (shrinking included).
    pub ops_per_kind: BTreeMap<OpKind, u64>,
    pub failure: Option<Failure>,
    pub elapsed: Duration,
    /// The time budget ended the run before `cases` sequences were tried.
    pub budget_exhausted: bool,
}

/// Progress, for a TTY bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub cases_run: u32,
    pub cases: u32,
    pub ops_run: u64,
    pub shrinking: bool,
}

/// The sequence strategy for one configuration.
pub fn sequences(
    knobs: &Knobs,
    kinds: &BTreeSet<OpKind>,
    max_steps: usize,
) -> Sequential<State, Op, BoxedStrategy<State>, BoxedStrategy<Op>> {
    let (k1, k2, kinds) = (knobs.clone(), knobs.clone(), kinds.clone());
    Sequential::new(
        (1..=max_steps.max(1)).into(),
        || Just(State::default()).boxed(),
        strategy::precondition,
        move |s| strategy::op_strategy(s, &k1, &kinds),
        move |s, op| model::apply(&k2, s, op),
    )
}

/// The ChaCha RNG for a seed (the seed's bytes, zero-padded to 32).
pub fn rng_for(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// The sequences a seed generates, without playing them (what `--seed`
/// replays; also how tests check determinism).
pub fn generate(config: &FuzzConfig) -> Vec<Vec<Op>> {
    let strategy = sequences(&config.knobs, &config.kinds, config.max_steps);
    let mut runner = TestRunner::new_with_rng(proptest_config(config), rng_for(config.seed));
    (0..config.cases)
        .filter_map(|_| {
            proptest::strategy::ValueTree::current(&strategy.new_tree(&mut runner).ok()?)
                .1
                .into()
        })
        .collect()
}

fn proptest_config(c: &FuzzConfig) -> Config {
    Config {
        cases: c.cases,
        max_shrink_iters: c.max_shrink_iters,
        max_shrink_time: 0,
        failure_persistence: None,
        source_file: None,
        fork: false,
        timeout: 0,
        verbose: 0,
        max_local_rejects: 65_536,
        max_global_rejects: 1024,
        rng_algorithm: RngAlgorithm::ChaCha,
        ..Config::default()
    }
}

/// Counters shared with the test closure.
#[derive(Default)]
struct Tally {
    ops_run: u64,
    per_kind: BTreeMap<OpKind, u64>,
    cases_run: u32,
    first_failure_len: Option<usize>,
    infra: Option<ExecError>,
    out_of_time: bool,
}

/// Plays `ops` from a reset target, judging every answer; stops at the
/// first divergence. `seen` counts the operations played (for shrinking).
pub fn play(
    knobs: &Knobs,
    ops: &[Op],
    exec: &mut dyn Executor,
    mut on_op: impl FnMut(&Op),
) -> Result<Option<Divergence>, ExecError> {
    let epoch0 = exec.reset()?;
    let mut state = State::default();
    let mut captures: BTreeMap<String, String> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        on_op(op);
        let Some(planned) = plan::plan(&state, op) else {
            continue;
        };
        let prediction = model::predict(knobs, &state, op);
        let observed = exec.execute(&StepCtx {
            op,
            state: &state,
            planned: &planned,
            captures: &captures,
        })?;
        if let Err(mismatch) = oracle::judge_within(
            &prediction,
            &observed,
            epoch0,
            exec.tolerance_ms(),
            &captures,
        ) {
            return Ok(Some(Divergence { step: i, mismatch }));
        }
        if let Some(cap) = &prediction.capture {
            let value = match (cap.from, &observed.body) {
                (CaptureFrom::Json(path), ObservedBody::Json(v)) => v
                    .get(path.trim_start_matches("$."))
                    .and_then(|x| x.as_str())
                    .map(str::to_owned),
                (CaptureFrom::Body, ObservedBody::Text(t)) => Some(t.trim().to_owned()),
                _ => None,
            };
            let value = value.ok_or_else(|| {
                ExecError::Protocol(format!("no value to capture as `{}`", cap.name))
            })?;
            captures.insert(cap.name.clone(), value);
        }
        state = model::apply(knobs, state, op);
    }
    Ok(None)
}

/// Runs a fuzz campaign against `exec`.
pub fn run(
    config: &FuzzConfig,
    exec: &mut dyn Executor,
    progress: &mut dyn FnMut(Progress),
) -> Result<FuzzOutcome, ExecError> {
    let started = Instant::now();
    let strategy = sequences(&config.knobs, &config.kinds, config.max_steps);
    let mut runner = TestRunner::new_with_rng(proptest_config(config), rng_for(config.seed));
    let tally = RefCell::new(Tally::default());
    let exec = RefCell::new(exec);
    let progress = RefCell::new(progress);
    let result = runner.run(
        &strategy,
        |(_init, ops, seen): (State, Vec<Op>, Option<Arc<AtomicUsize>>)| {
            {
                let mut t = tally.borrow_mut();
                if t.infra.is_some() {
                    // Shrinking an infrastructure error means nothing:
                    // fail at once so the runner gives up quickly.
                    return Err(TestCaseError::fail("infrastructure"));
                }
                let shrinking = t.first_failure_len.is_some();
                if !shrinking {
                    if config.time_budget.is_some_and(|b| started.elapsed() >= b) {
                        t.out_of_time = true;
                        return Ok(());
                    }
                    t.cases_run += 1;
                }
                (progress.borrow_mut())(Progress {
                    cases_run: t.cases_run,
                    cases: config.cases,
                    ops_run: t.ops_run,
                    shrinking,
                });
            }
            let mut exec = exec.borrow_mut();
            let played = play(&config.knobs, &ops, &mut **exec, |op| {
                let mut t = tally.borrow_mut();
                t.ops_run += 1;
                *t.per_kind.entry(op.kind()).or_default() += 1;
                if let Some(seen) = &seen {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            });
            match played {
                Ok(None) => Ok(()),
                Ok(Some(d)) => {
                    tally
                        .borrow_mut()
                        .first_failure_len
                        .get_or_insert(ops.len());
                    Err(TestCaseError::fail(d.mismatch.to_string()))
                }
                Err(e) => {
                    tally.borrow_mut().infra = Some(e);
                    Err(TestCaseError::fail("infrastructure"))
                }
            }
        },
    );
    let exec = exec.into_inner();
    let mut t = tally.into_inner();
    if let Some(e) = t.infra.take() {
        return Err(e);
    }
    let failure = match result {
        Ok(()) => None,
        Err(TestError::Abort(why)) => {
            return Err(ExecError::Protocol(format!("generation gave up: {why}")));
        }
        Err(TestError::Fail(_, (_, ops, _))) => {
            // Replay the minimal sequence once more for its divergence.
            let found = play(&config.knobs, &ops, exec, |_| {})?;
            found.map(|divergence| Failure {
                ops: ops[..=divergence.step].to_vec(),
                divergence,
                original_len: t.first_failure_len.unwrap_or(ops.len()),
            })
        }
    };
    Ok(FuzzOutcome {
        seed: config.seed,
        cases_run: t.cases_run,
        ops_run: t.ops_run,
        ops_per_kind: t.per_kind,
        failure,
        elapsed: started.elapsed(),
        budget_exhausted: t.out_of_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::exec::{FakeDeviation, ModelExecutor};

    fn config(seed: u64) -> FuzzConfig {
        FuzzConfig {
            cases: 40,
            max_steps: 25,
            ..FuzzConfig::new(seed)
        }
    }

    #[test]
    fn same_seed_same_sequences() {
        let a = generate(&config(7));
        let b = generate(&config(7));
        let c = generate(&config(8));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 40);
    }

    #[test]
    fn conformant_executor_passes() {
        let mut exec = ModelExecutor::new(Knobs::default(), None);
        let out = run(&config(1), &mut exec, &mut |_| {}).unwrap();
        assert!(out.failure.is_none(), "{:?}", out.failure);
        assert_eq!(out.cases_run, 40);
        // Every kind was tried.
        assert_eq!(
            out.ops_per_kind.len(),
            OpKind::ALL.len(),
            "{:?}",
            out.ops_per_kind
        );
    }

    #[test]
    fn deviations_are_found_and_shrunk() {
        for (dev, rule) in [
            (FakeDeviation::AcceptExpiredTokens, "LT-5"),
            (FakeDeviation::NoExpirationClamp, "LT-3"),
            (FakeDeviation::IgnoreIpBinding, "IP-2"),
        ] {
            let mut exec = ModelExecutor::new(Knobs::default(), Some(dev));
            let cfg = FuzzConfig {
                cases: 200,
                ..config(3)
            };
            let out = run(&cfg, &mut exec, &mut |_| {}).unwrap();
            let f = out.failure.unwrap_or_else(|| panic!("{dev:?} not found"));
            assert!(
                f.divergence.mismatch.rules.contains(&rule),
                "{dev:?}: {}",
                f.divergence.mismatch
            );
            assert!(f.ops.len() <= 4, "{dev:?} shrunk to {:#?}", f.ops);
            assert!(f.ops.len() <= f.original_len);
            // The same seed finds the same minimal sequence.
            let mut again = ModelExecutor::new(Knobs::default(), Some(dev));
            let out2 = run(&cfg, &mut again, &mut |_| {}).unwrap();
            assert_eq!(out2.failure.unwrap().ops, f.ops);
        }
    }
}
