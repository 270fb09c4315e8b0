//! Reports: the model and one pure writer per format.

pub mod model;

pub use model::{Report, ScenarioReport, Verdict};
