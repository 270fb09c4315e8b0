//! Reports: the model, the redactor that masks secrets before anything enters
//! the model, and one pure writer per format.

pub mod console;
pub mod json;
pub mod model;
pub mod redact;

pub use model::{Report, ScenarioReport, Verdict};
