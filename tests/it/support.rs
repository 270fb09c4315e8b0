//! Helpers shared by the integration tests that drive the built `tessera`
//! binary: run it, read what it wrote.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use tessera::report::{Report, Verdict};

/// The repository root (fixtures live under it).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A path under the repository root, as a string argument.
pub fn repo(rel: &str) -> String {
    root().join(rel).display().to_string()
}

/// Runs `tessera ARGS` (no progress bar) and returns what it did.
pub fn tessera(args: &[&str]) -> Output {
    tessera_env(args, &[])
}

/// Like [`tessera`] with extra environment variables.
pub fn tessera_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
    // A test run on GitHub Actions must not annotate or write the job's
    // summary unless a test asks for it.
    c.args(args)
        .env("CI", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .current_dir(root());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("the tessera binary runs")
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stdout and stderr together, for messages in assertions.
pub fn both(o: &Output) -> String {
    format!("--- stdout\n{}--- stderr\n{}", stdout(o), stderr(o))
}

/// Reads `DIR/report.json` into the model (strictly: unknown fields fail).
pub fn report(dir: &Path) -> Report {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json written");
    serde_json::from_str(&text).expect("report.json parses into the model")
}

/// Report id to verdict.
pub fn verdicts(r: &Report) -> BTreeMap<String, Verdict> {
    r.scenarios
        .iter()
        .map(|s| (s.id.clone(), s.verdict))
        .collect()
}

/// `dir/name` as a string argument.
pub fn arg(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}
