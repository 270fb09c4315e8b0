//! Integration tests: one binary, one module per behaviour.

mod gates;
mod run;
mod support;
mod validate;
