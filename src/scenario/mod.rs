//! The scenario format: model, loading (the only YAML access), validation,
//! diagnostics and the JSON Schema. No tokio, no reqwest in here.

pub mod diagnostic;
pub mod load;
pub mod model;
pub mod template;

pub use model::{Scenario, ScenarioFile};
