//! Integration tests: one binary, one module per behaviour.

mod fuzz;
mod run;
mod validate;
