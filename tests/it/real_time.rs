//! Real time without clock control (semantics.md, "Real time"; issue 10):
//! `tessera serve` without `--control`, its clock skewed with
//! `--clock-offset`, and a profile declaring `time_tolerance: 2s`. The
//! boundary scenarios whose waits are short (10- and 30-second basemap sessions)
//! must pass, not be skipped, with the server's clock 1.5 s ahead and 1.5 s
//! behind; with no tolerance declared, a server 1.5 s behind is caught at
//! the boundary, which shows the placement is what makes the difference.
//! Timing itself is never asserted.

use std::path::Path;

use tessera::report::Verdict;

use super::support::{Server, code, repo, report, serve_with, stdout, tessera};

/// `tessera serve` on a free port, no control, its clock shifted by `offset`.
fn serve(offset: &str) -> (Server, String) {
    serve_with(&["--clock-offset", offset])
}

/// A vendor profile for `url`: no clock or password control, real waits up
/// to 40 s, the given tolerance.
fn profile(dir: &Path, url: &str, tolerance: &str) -> String {
    let text = format!(
        "version: 1\nname: skewed reference\nbase_url: {url}\n\
         profiles: [arcgis-token, arcweb-2006, basemap-sessions]\n\
         capabilities:\n  clock_control: false\n  password_control: false\n  max_real_wait: 40s\n\
         time_tolerance: {tolerance}\n"
    );
    let path = dir.join("profile.yaml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The boundary scenarios with short waits (10 s and 30 s sessions).
const BOUNDARY: [&str; 2] = [
    "specs/session-limits/session-valid-until-end.yaml",
    "specs/renewal/session-not-extended-by-use.yaml",
];

/// Runs the short boundary scenarios against a server skewed by `offset`
/// with `tolerance` declared; the exit code and the report.
fn skewed_run(
    offset: &str,
    tolerance: &str,
    scenarios: &[&str],
) -> (i32, tessera::report::Report, String) {
    let (_server, url) = serve(offset);
    let dir = tempfile::tempdir().unwrap();
    let target = profile(dir.path(), &url, tolerance);
    let out = dir.path().join("out");
    let mut args = vec!["run"];
    let files: Vec<String> = scenarios.iter().map(|f| repo(f)).collect();
    args.extend(files.iter().map(String::as_str));
    let out_arg = out.display().to_string();
    args.extend(["--target", &target, "--out", &out_arg, "--report", "json"]);
    let o = tessera(&args);
    (code(&o), report(&out), stdout(&o))
}

#[test]
fn boundaries_pass_on_a_skewed_clock_within_the_tolerance() {
    let runs: Vec<_> = ["1.5s", "-1.5s"]
        .into_iter()
        .map(|offset| std::thread::spawn(move || (offset, skewed_run(offset, "2s", &BOUNDARY))))
        .collect();
    for r in runs {
        let (offset, (code, report, out)) = r.join().unwrap();
        assert_eq!(code, 0, "offset {offset}:\n{out}");
        for s in &report.scenarios {
            // Played and passed: neither skipped nor failed.
            assert_eq!(s.verdict, Verdict::Pass, "offset {offset}: {s:?}");
        }
        assert!(
            out.contains("running 2 of 2 cases"),
            "the plan line comes first:\n{out}"
        );
    }
}

#[test]
fn without_tolerance_a_server_behind_is_caught_at_the_boundary() {
    let (code, report, out) = skewed_run("-1.5s", "0s", &BOUNDARY[..1]);
    assert_eq!(code, 1, "{out}");
    let s = &report.scenarios[0];
    assert_eq!(s.verdict, Verdict::Fail, "{s:?}");
}
