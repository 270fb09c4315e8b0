//! Reports: the model, the redactor that masks secrets before anything enters
//! the model, one pure writer per format, plus the pure CI-gate logic
//! (baselines, sharding, merge, diff) that works on the model.

pub mod behaviour;
pub mod console;
pub mod diff;
pub mod gate;
pub mod github;
pub mod groups;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod merge;
pub mod model;
pub mod output;
pub mod redact;
pub mod schema;

pub use model::{Report, ScenarioReport, Verdict};
