//! Integration tests: one binary, one module per behaviour.

mod bench;
mod cli;
mod fuzz;
mod gates;
mod probe;
mod remote;
mod run;
mod secrets;
mod support;
mod tls;
mod validate;
mod variants;
