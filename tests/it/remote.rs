//! The same suite against `tessera serve --control` over HTTP and against the
//! in-process reference gives the same verdicts (issue "Foundation", done-when).
//!
//! Scenarios that state knob values get them set on the remote server
//! through `POST /_tessera/knobs` (and run alone), so there is no allowed
//! difference: every verdict is the same, none is not applicable.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use tessera::report::model::{Report, Verdict};

use super::support::{Server, serve_with};

fn serve() -> (Server, String) {
    serve_with(&["--control"])
}

fn run(target: &str, out: &Path) -> Report {
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
    let status = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("run")
        .arg(&specs)
        .args(["--target", target, "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "run against {target}");
    let text = std::fs::read_to_string(out.join("report.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn remote_reference_gives_the_in_process_verdicts() {
    let (_server, url) = serve();
    let dir = tempfile::tempdir().unwrap();
    let remote = run(&url, &dir.path().join("remote"));
    let local = run("reference", &dir.path().join("local"));

    let verdicts = |r: &Report| -> BTreeMap<String, (Verdict, String)> {
        r.scenarios
            .iter()
            .map(|s| {
                (
                    s.id.clone(),
                    (s.verdict, s.reason.clone().unwrap_or_default()),
                )
            })
            .collect()
    };
    let (remote, local) = (verdicts(&remote), verdicts(&local));
    assert_eq!(
        remote.keys().collect::<Vec<_>>(),
        local.keys().collect::<Vec<_>>()
    );
    // Exactly the same verdicts: scenarios that state knobs get them set
    // through `/_tessera/knobs` (issue 10, part 7), so none is not
    // applicable.
    for (id, (v, _)) in &local {
        let (r, reason) = &remote[id];
        assert_eq!(r, v, "{id}: remote {r:?} ({reason}), in-process {v:?}");
    }
    let na = remote
        .values()
        .filter(|(v, _)| *v == Verdict::NotApplicable)
        .count();
    assert_eq!(na, 0);
}

/// `tessera serve` stops cleanly (exit 0) on SIGTERM, as on Ctrl-C.
#[cfg(unix)]
#[test]
fn serve_stops_cleanly_on_sigterm() {
    let (mut server, _url) = serve();
    let pid = server.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = server.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}
