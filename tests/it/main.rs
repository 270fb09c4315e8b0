//! Integration tests: one binary, one module per behaviour.

mod bench;
mod certify;
mod ci;
mod cli;
mod fidelity;
mod fuzz;
mod gates;
mod levels;
mod probe;
mod real_time;
mod remote;
mod run;
mod secrets;
mod support;
mod tls;
mod validate;
mod variants;
