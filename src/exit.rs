//! The named exit codes of `tessera`, documented once (README repeats them).

/// Everything selected passed (skips and not-applicable allowed).
pub const OK: u8 = 0;
/// At least one scenario failed (or errored).
pub const FAILURES: u8 = 1;
/// Bad command line (clap uses 2 too).
pub const USAGE: u8 = 2;
/// A scenario file could not be loaded or validated; nothing ran.
pub const LOAD_ERROR: u8 = 3;
/// The target is unreachable, or another infrastructure error.
pub const INFRASTRUCTURE: u8 = 4;
/// The filters selected no scenario.
pub const NOTHING_SELECTED: u8 = 5;
/// The run was interrupted (Ctrl-C); the reports hold what finished.
pub const INTERRUPTED: u8 = 130;
