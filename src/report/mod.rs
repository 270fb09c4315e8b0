//! Reports: the model and one pure writer per format, plus the pure CI-gate
//! logic (baselines, sharding, merge, diff) that works on the model.

pub mod diff;
pub mod gate;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod merge;
pub mod model;
pub mod partition;
pub mod schema;

pub use model::{Report, ScenarioReport, Verdict};
