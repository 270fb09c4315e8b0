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

/// A `tessera serve` child process, killed when dropped.
pub struct Server(pub std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tessera serve` on a free loopback port with `extra` arguments; the URL
/// it prints (`http://` or, with `--tls`, `https://127.0.0.1:PORT`).
pub fn serve_with(extra: &[&str]) -> (Server, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tessera serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("serve prints its URL");
    let url = line.trim().to_owned();
    assert!(url.contains("://127.0.0.1:"), "serve printed {url:?}");
    (Server(child), url)
}
