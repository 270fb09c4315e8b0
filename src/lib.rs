//! Tessera: a conformance test harness for ArcGIS-style token authentication.
//!
//! YAML scenarios (`scenario`) are played by the runner (`runner`) against a
//! target (`target`): the embedded reference server (`reference`) or any real
//! endpoint. Results become a report model (`report`) that pure writers turn
//! into console, JSON, JUnit, Markdown and HTML output.

pub mod endpoints;
pub mod exit;
pub mod fuzz;
pub mod knobs;
pub mod reference;
pub mod report;
pub mod rules;
pub mod runner;
pub mod scenario;
pub mod selfcheck;
pub mod target;
