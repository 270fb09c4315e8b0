//! Integration tests: one binary, one module per behaviour.

mod cli;
mod fidelity;
mod fuzz;
mod gates;
mod remote;
mod run;
mod secrets;
mod support;
mod tls;
mod validate;
