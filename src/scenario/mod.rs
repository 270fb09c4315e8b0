//! The scenario format: model, loading (the only YAML access), validation
//! into the compiled plan the runner plays, diagnostics and the JSON Schema. No tokio, no reqwest in here.

pub mod diagnostic;
pub mod endpoints;
pub mod load;
pub mod model;
pub mod plan;
pub mod schema;
pub mod template;
pub mod validate;

pub use diagnostic::{Diagnostic, DiagnosticKind, render_all};
pub use load::{load_file, load_suite};
pub use model::ScenarioFile;
pub use plan::Scenario;
pub use schema::scenario_schema;
