//! Fuzzing (`tessera fuzz`, `tessera diff-targets`): random sequences of
//! token operations played against a target and judged by a model of
//! semantics.md; a failure is shrunk and written as a regression scenario.
//!
//! - `ops`: the operations (secrets named by handle, never by value), as
//!   plain data;
//! - `model`: the reference state and its predictions, citing rule IDs (pure);
//! - `strategy`: the proptest strategies that draw operations from the model
//!   state, with the boundary values of the rules;
//! - `plan`: what each operation sends, as scenario templates;
//! - `exec`: the [`exec::Executor`] trait and model-backed test executors;
//! - `oracle`: judging an answer, and the normalised outcome of diff runs;
//! - `machine`: the seeded proptest loop, shrinking, per-kind counts;
//! - `diff`: two targets in lockstep;
//! - `shrink_to_yaml`: a sequence as a version-1 scenario.
//!
//! - `http`: the executor for real targets, built on the runner's client.
//!
//! Only `http` opens sockets; everything else is pure and runs against any
//! `exec::Executor`.

pub mod diff;
pub mod exec;
pub mod http;
pub mod machine;
pub mod model;
pub mod ops;
pub mod oracle;
pub mod plan;
pub mod report;
pub mod shrink_to_yaml;
pub mod strategy;
