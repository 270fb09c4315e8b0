//! Integration tests: one binary, one module per behaviour.

mod remote;
mod run;
mod validate;
