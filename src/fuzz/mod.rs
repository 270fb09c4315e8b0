//! Fuzzing (`tessera fuzz`): random sequences of token operations played
//! against a target and judged by a model of semantics.md.
//!
//! - `ops`: the operations and the strategies that draw them;
//! - `model`: the reference state and its predictions (pure);

pub mod diff;
pub mod exec;
pub mod machine;
pub mod model;
pub mod ops;
pub mod oracle;
pub mod plan;
pub mod shrink_to_yaml;
