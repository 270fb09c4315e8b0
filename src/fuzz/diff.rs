//! Differential runs (`tessera diff-targets`): the same generated sequences
//! played against two targets in lockstep, reporting where their normalised
//! outcomes part ways. The model only generates and normalises here; it does
//! not judge.

use std::collections::BTreeMap;

use super::exec::{ExecError, Executor, ObservedBody, StepCtx};
use super::machine::{FuzzConfig, generate};
use super::model::{self, CaptureFrom, State};
use super::ops::Op;
use super::oracle::{self, Outcome};
use super::plan;

/// One place where the targets part ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffEntry {
    /// Which generated sequence (0-based) and which step of it.
    pub case: usize,
    pub step: usize,
    /// The sequence up to and including the diverging step.
    pub ops: Vec<Op>,
    pub a: Outcome,
    pub b: Outcome,
    /// What the model predicts there, for orientation.
    pub rules: Vec<&'static str>,
}

#[derive(Debug, Clone, Default)]
pub struct DiffOutcome {
    pub cases_run: usize,
    pub ops_run: u64,
    pub divergences: Vec<DiffEntry>,
}

struct Side<'e> {
    exec: &'e mut dyn Executor,
    captures: BTreeMap<String, String>,
}

impl Side<'_> {
    fn capture(&mut self, cap: &model::Capture, body: &ObservedBody) {
        let v = match (cap.from, body) {
            (CaptureFrom::Json(p), ObservedBody::Json(v)) => v
                .get(p.trim_start_matches("$."))
                .and_then(|x| x.as_str())
                .map(str::to_owned),
            (CaptureFrom::Body, ObservedBody::Text(t)) => Some(t.trim().to_owned()),
            _ => None,
        };
        if let Some(v) = v {
            self.captures.insert(cap.name.clone(), v);
        }
    }
}

/// Plays every sequence `config` generates against `a` and `b`; a sequence
/// stops at its first divergence (later steps would compare different states).
pub fn diff(
    config: &FuzzConfig,
    a: &mut dyn Executor,
    b: &mut dyn Executor,
) -> Result<DiffOutcome, ExecError> {
    let mut out = DiffOutcome::default();
    let mut sa = Side {
        exec: a,
        captures: BTreeMap::new(),
    };
    let mut sb = Side {
        exec: b,
        captures: BTreeMap::new(),
    };
    for (case, ops) in generate(config).into_iter().enumerate() {
        out.cases_run += 1;
        sa.exec.reset()?;
        sb.exec.reset()?;
        sa.captures.clear();
        sb.captures.clear();
        let mut s = State::default();
        for (i, op) in ops.iter().enumerate() {
            let Some(planned) = plan::plan(&s, op) else {
                continue;
            };
            out.ops_run += 1;
            let p = model::predict(&config.knobs, &s, op);
            let run = |side: &mut Side<'_>| -> Result<_, ExecError> {
                let o = side.exec.execute(&StepCtx {
                    op,
                    state: &s,
                    planned: &planned,
                    captures: &side.captures,
                })?;
                if let Some(cap) = &p.capture {
                    side.capture(cap, &o.body);
                }
                Ok(oracle::outcome(&config.knobs, &s, op, &o))
            };
            let oa = run(&mut sa)?;
            let ob = run(&mut sb)?;
            if oa != ob {
                out.divergences.push(DiffEntry {
                    case,
                    step: i,
                    ops: ops[..=i].to_vec(),
                    a: oa,
                    b: ob,
                    rules: p.rules(),
                });
                break;
            }
            s = model::apply(&config.knobs, s, op);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::exec::{FakeDeviation, ModelExecutor};
    use crate::knobs::Knobs;

    #[test]
    fn identical_targets_agree_and_a_deviant_one_does_not() {
        let cfg = FuzzConfig {
            cases: 200,
            max_steps: 25,
            ..FuzzConfig::new(3)
        };
        let mut a = ModelExecutor::new(Knobs::default(), None);
        let mut b = ModelExecutor::new(Knobs::default(), None);
        assert!(diff(&cfg, &mut a, &mut b).unwrap().divergences.is_empty());
        let mut c = ModelExecutor::new(Knobs::default(), Some(FakeDeviation::AcceptExpiredTokens));
        let d = diff(&cfg, &mut a, &mut c).unwrap();
        let first = d.divergences.first().expect("a divergence");
        assert_eq!(first.a.error_code, Some(498));
        assert_eq!(first.b.error_code, None);
    }
}
