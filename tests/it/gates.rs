//! The CI-facing side of `tessera run` and its companions, driven through
//! the built binary against the in-process reference: every report format
//! is written and parses, baselines, sharding and merge, diff, retries and
//! flaky scenarios, `--rerun-failed`, and usage errors.

use tessera::report::Verdict;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{arg, both, code, repo, report, stdout, tessera, verdicts};

/// Three scenarios (four instances); `samples/default-expiration` fails with
/// the `accept-expired-tokens` deviation (LT-5), the others pass.
const SAMPLES: &str = "fixtures/runner/reference";
const FAILING: &str = "samples/default-expiration";
const DEVIATION: &[&str] = &["--deviation", "accept-expired-tokens"];

fn run(paths: &[&str], out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let out = out.display().to_string();
    let mut args = vec!["run"];
    args.extend_from_slice(paths);
    args.extend_from_slice(&["--out", &out]);
    args.extend_from_slice(extra);
    tessera(&args)
}

#[test]
fn the_main_command_writes_every_format_and_each_parses() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[&repo(SAMPLES)], dir.path(), DEVIATION);
    assert_eq!(code(&o), 1, "{}", both(&o));
    let out = stdout(&o);
    // The console: a line per scenario, the summary, the gate, the files.
    assert!(out.contains(&format!("FAIL  {FAILING}")), "{out}");
    assert!(out.contains("result: FAILED"), "{out}");
    assert!(out.contains(&format!("  - {FAILING} fail")), "{out}");
    for f in ["report.json", "junit.xml", "report.md", "report.html"] {
        assert!(
            out.contains(&format!("report: {}", arg(dir.path(), f))),
            "{out}"
        );
    }

    let r = report(dir.path());
    assert_eq!(r.scenarios.len(), 4);
    assert_eq!(verdicts(&r)[FAILING], Verdict::Fail);

    let xml = std::fs::read(dir.path().join("junit.xml")).unwrap();
    let suites = junit_parser::from_reader(std::io::Cursor::new(xml)).expect("junit.xml parses");
    let cases: Vec<_> = suites.suites.iter().flat_map(|s| &s.cases).collect();
    assert_eq!(cases.len(), 4);
    let failed = cases
        .iter()
        .find(|c| c.original_name == FAILING)
        .expect("the failing scenario is a testcase");
    assert!(failed.status.is_failure());
    assert!(
        failed.status.failure_as_ref().message.contains("[LT-5]"),
        "{:?}",
        failed.status
    );
    assert_eq!(cases.iter().filter(|c| c.status.is_success()).count(), 3);

    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    for section in ["# Tessera", "## Areas", "## Rules", "## Failures"] {
        assert!(md.contains(section), "report.md lacks {section}:\n{md}");
    }
    assert!(md.contains(FAILING));
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"));
    assert!(html.contains("<h2>Scenarios") && html.contains("default-expiration"));
    assert!(!html.contains("<script"), "self-contained, no script");
}

#[test]
fn report_picks_formats_and_rejects_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[&repo(SAMPLES)], dir.path(), &["--report", "md,json"]);
    assert_eq!(code(&o), 0, "{}", both(&o));
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["report.json", "report.md"]);

    let o = run(&[&repo(SAMPLES)], dir.path(), &["--report", "json,pdf"]);
    assert_eq!(code(&o), 2);
    assert!(crate::support::stderr(&o).contains("unknown report format `pdf`"));
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    arg(dir, name)
}

#[test]
fn baselines_expected_failure_unexpected_pass_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    assert_eq!(code(&run(&[&repo(SAMPLES)], &first, DEVIATION)), 1);

    // `baseline write` drafts one entry per failure.
    let o = tessera(&["baseline", "write", &arg(&first, "report.json")]);
    assert_eq!(code(&o), 0, "{}", both(&o));
    let draft = stdout(&o);
    assert!(draft.contains(&format!("- id: {FAILING}")), "{draft}");
    assert!(draft.contains("TODO explain: [LT-5]"), "{draft}");
    let baseline = write(dir.path(), "baseline.yaml", &draft);

    // The expected failure does not fail the run.
    let out = dir.path().join("expected");
    let o = run(
        &[&repo(SAMPLES)],
        &out,
        &[DEVIATION, &["--baseline", &baseline]].concat(),
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    let text = stdout(&o);
    assert!(text.contains("1 expected failure(s)"), "{text}");
    assert!(text.contains("result: ok"), "{text}");
    assert!(text.contains("expected by the baseline"), "{text}");
    let r = report(&out);
    let s = r.scenarios.iter().find(|s| s.id == FAILING).unwrap();
    assert_eq!(s.verdict, Verdict::Fail, "the verdict itself is kept");
    assert!(s.gate.is_some());
    let xml = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    let suites = junit_parser::from_reader(std::io::Cursor::new(xml)).unwrap();
    let case = suites
        .suites
        .iter()
        .flat_map(|s| &s.cases)
        .find(|c| c.original_name == FAILING)
        .unwrap();
    assert!(
        case.status.is_skipped(),
        "an expected failure is skipped in JUnit"
    );

    // Without the deviation it passes: an unexpected pass fails the run.
    let o = run(
        &[&repo(SAMPLES)],
        &dir.path().join("fixed"),
        &["--baseline", &baseline],
    );
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert!(
        stdout(&o).contains(&format!(
            "{FAILING} passed but the baseline expects it to fail"
        )),
        "{}",
        both(&o)
    );

    // An expired entry fails the run, naming it, even though it still fails.
    let expired = write(
        dir.path(),
        "expired.yaml",
        &format!(
            "version: 1\nexpected_failures:\n  - id: {FAILING}\n    reason: vendor ticket 1\n    expires: 2000-01-01\n  - id: elsewhere/not-in-this-run\n    reason: another shard\n"
        ),
    );
    let o = run(
        &[&repo(SAMPLES)],
        &dir.path().join("expired"),
        &[DEVIATION, &["--baseline", &expired]].concat(),
    );
    assert_eq!(code(&o), 1, "{}", both(&o));
    let text = stdout(&o);
    assert!(
        text.contains(&format!("baseline entry `{FAILING}` expired on 2000-01-01")),
        "{text}"
    );
    assert!(
        text.contains("note: baseline entry `elsewhere/not-in-this-run` matches no scenario"),
        "{text}"
    );
}

#[test]
fn a_bad_baseline_or_partition_is_refused_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.yaml",
        "version: 1\nexpected_failures:\n  - id: a/b\n    reasn: typo\n",
    );
    let o = run(
        &[&repo(SAMPLES)],
        &dir.path().join("o"),
        &["--baseline", &bad],
    );
    assert_eq!(code(&o), 3, "{}", both(&o));
    let err = crate::support::stderr(&o);
    assert!(err.contains(&format!("{bad}:4:5")), "{err}");
    assert!(!dir.path().join("o").exists(), "nothing ran");

    for p in ["0/2", "3/2", "1-2", "x/2"] {
        let o = run(
            &[&repo(SAMPLES)],
            &dir.path().join("o"),
            &["--partition", p],
        );
        assert_eq!(code(&o), 2, "{p}: {}", both(&o));
        assert!(
            crate::support::stderr(&o).contains(&format!("--partition: invalid partition `{p}`")),
            "{}",
            both(&o)
        );
    }
}

#[test]
fn shards_merged_give_the_unsharded_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let suite = [repo("specs/lifetimes"), repo(SAMPLES)];
    let suite: Vec<&str> = suite.iter().map(String::as_str).collect();
    let whole = dir.path().join("whole");
    let whole_code = code(&run(&suite, &whole, DEVIATION));
    let mut shard_reports = Vec::new();
    let mut total = 0;
    for k in 1..=2 {
        let out = dir.path().join(format!("shard-{k}"));
        let o = run(
            &suite,
            &out,
            &[DEVIATION, &["--partition", &format!("{k}/2")]].concat(),
        );
        assert!(matches!(code(&o), 0 | 1), "{}", both(&o));
        let r = report(&out);
        assert_eq!(r.partition.as_deref(), Some(format!("{k}/2").as_str()));
        total += r.scenarios.len();
        assert!(!r.scenarios.is_empty(), "shard {k} is not empty");
        shard_reports.push(arg(&out, "report.json"));
    }
    let w = report(&whole);
    assert_eq!(
        total,
        w.scenarios.len(),
        "each instance in exactly one shard"
    );

    let merged = dir.path().join("merged");
    let mut args = vec!["report", "merge"];
    args.extend(shard_reports.iter().map(String::as_str));
    let merged_arg = merged.display().to_string();
    args.extend(["--out", &merged_arg]);
    let o = tessera(&args);
    assert_eq!(code(&o), whole_code, "{}", both(&o));
    for f in ["report.json", "junit.xml", "report.md", "report.html"] {
        assert!(merged.join(f).is_file(), "merge rebuilds {f}");
    }
    let m = report(&merged);
    assert_eq!(verdicts(&m), verdicts(&w));
    assert_eq!(m.partition, None);
    let ids =
        |r: &tessera::report::Report| r.scenarios.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&m), ids(&w), "suite order");

    // A missing shard is refused.
    let o = tessera(&["report", "merge", &shard_reports[0], "--out", &merged_arg]);
    assert_eq!(code(&o), 3, "{}", both(&o));
    assert!(crate::support::stderr(&o).contains("shards missing: 2/2"));
}

#[test]
fn diff_fails_on_a_regression_only() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean");
    let broken = dir.path().join("broken");
    assert_eq!(
        code(&run(&[&repo(SAMPLES)], &clean, &["--report", "json"])),
        0
    );
    assert_eq!(
        code(&run(
            &[&repo(SAMPLES)],
            &broken,
            &[DEVIATION, &["--report", "json"]].concat()
        )),
        1
    );
    let (c, b) = (arg(&clean, "report.json"), arg(&broken, "report.json"));

    let o = tessera(&["report", "diff", &c, &b]);
    assert_eq!(code(&o), 1, "{}", both(&o));
    let text = stdout(&o);
    assert!(text.contains("new failures (1)"), "{text}");
    assert!(text.contains(FAILING), "{text}");

    let o = tessera(&["report", "diff", &b, &c]);
    assert_eq!(code(&o), 0, "a fix is not a regression: {}", both(&o));
    assert!(stdout(&o).contains("fixes (1)"), "{}", both(&o));

    let o = tessera(&["report", "diff", &c, &c]);
    assert_eq!((code(&o), stdout(&o).as_str()), (0, "no changes\n"));

    let missing = arg(dir.path(), "nope.json");
    let o = tessera(&["report", "diff", &c, &missing]);
    assert_eq!(code(&o), 3, "{}", both(&o));
    assert!(crate::support::stderr(&o).contains("nope.json: cannot read the file"));
}

#[test]
fn rerun_failed_runs_only_the_failed_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    assert_eq!(code(&run(&[&repo(SAMPLES)], &first, DEVIATION)), 1);
    let again = dir.path().join("again");
    let o = run(
        &[&repo(SAMPLES)],
        &again,
        &[DEVIATION, &["--rerun-failed", &arg(&first, "report.json")]].concat(),
    );
    assert_eq!(code(&o), 1, "{}", both(&o));
    let ids: Vec<String> = report(&again).scenarios.into_iter().map(|s| s.id).collect();
    assert_eq!(ids, [FAILING]);

    // Nothing failed: nothing to rerun, exit 5 (nothing selected).
    let clean = dir.path().join("clean");
    assert_eq!(code(&run(&[&repo(SAMPLES)], &clean, &[])), 0);
    let none = dir.path().join("none");
    let o = run(
        &[&repo(SAMPLES)],
        &none,
        &["--rerun-failed", &arg(&clean, "report.json")],
    );
    assert_eq!(code(&o), 5, "{}", both(&o));
    assert!(crate::support::stderr(&o).contains("nothing to rerun"));

    // A zero timeout is refused as a usage error.
    let o = run(&[&repo(SAMPLES)], &none, &["--timeout", "0s"]);
    assert_eq!(code(&o), 2, "{}", both(&o));
    assert!(both(&o).contains("a timeout above zero"), "{}", both(&o));
}

#[test]
fn schema_report_prints_the_committed_schema() {
    let o = tessera(&["schema", "report"]);
    assert_eq!(code(&o), 0);
    let committed =
        std::fs::read_to_string(crate::support::root().join("fixtures/schema/report.schema.json"))
            .unwrap();
    assert_eq!(stdout(&o), committed);
    let o = tessera(&["schema", "certification"]);
    assert_eq!(code(&o), 0);
    let committed = std::fs::read_to_string(
        crate::support::root().join("fixtures/schema/certification.schema.json"),
    )
    .unwrap();
    assert_eq!(stdout(&o), committed);
}

/// A stub whose `rest/info` answers 500 the first `failures` times, then
/// correctly.
async fn flaky_server(failures: u64) -> MockServer {
    let server = MockServer::start().await;
    let base = server.uri();
    // Resolving the URL target reads rest/info once (its
    // shortLivedTokenValidity) before any scenario plays: that read is
    // answered apart, so `failures` counts the scenario's attempts.
    Mock::given(method("GET"))
        .and(path("/arcgis/rest/info"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "authInfo": {"isTokenBasedSecurity": true}
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    if failures > 0 {
        Mock::given(method("GET"))
            .and(path("/arcgis/rest/info"))
            .respond_with(ResponseTemplate::new(500).set_body_string("warming up"))
            .up_to_n_times(failures)
            .with_priority(2)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/arcgis/rest/info"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "authInfo": {
                "isTokenBasedSecurity": true,
                "tokenServicesUrl": format!("{base}/arcgis/tokens/generateToken"),
            }
        })))
        .with_priority(3)
        .mount(&server)
        .await;
    server
}

/// `tessera run` on the stub's info scenario, off the async runtime (the
/// stub keeps serving on it meanwhile).
async fn run_on(
    server: &MockServer,
    extra: &[&str],
) -> (std::process::Output, tessera::report::Report) {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = vec![
        "run".into(),
        repo("fixtures/runner/stub/info.yaml"),
        "--target".into(),
        server.uri(),
        "--timeout".into(),
        "5s".into(),
        "--out".into(),
        dir.path().display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        tessera(&a)
    })
    .await
    .unwrap();
    let r = report(dir.path());
    (o, r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_passing_on_a_retry_is_flaky() {
    // No retries: the first answer is final.
    let (o, r) = run_on(&flaky_server(1).await, &[]).await;
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert_eq!(
        (r.scenarios[0].verdict, r.scenarios[0].attempts),
        (Verdict::Fail, 1)
    );

    // One retry: passes the second time, flaky, the run passes.
    let (o, r) = run_on(&flaky_server(1).await, &["--retries", "1"]).await;
    assert_eq!(code(&o), 0, "{}", both(&o));
    let s = &r.scenarios[0];
    assert_eq!((s.verdict, s.attempts, s.flaky), (Verdict::Pass, 2, true));
    let text = stdout(&o);
    assert!(text.contains("1 flaky (passed on a retry)"), "{text}");
    assert!(text.contains("is flaky: passed after 2 attempts"), "{text}");

    // ... unless flaky scenarios fail the run.
    let (o, _) = run_on(&flaky_server(1).await, &["--retries", "1", "--flaky-fails"]).await;
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert!(stdout(&o).contains("the run fails:"), "{}", both(&o));

    // Retries run out: still a failure, with the attempts counted.
    let (o, r) = run_on(&flaky_server(5).await, &["--retries", "2"]).await;
    assert_eq!(code(&o), 1, "{}", both(&o));
    let s = &r.scenarios[0];
    assert_eq!((s.verdict, s.attempts, s.flaky), (Verdict::Fail, 3, false));

    // A pass is never retried.
    let (o, r) = run_on(&flaky_server(0).await, &["--retries", "3"]).await;
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert_eq!(r.scenarios[0].attempts, 1);
}

// ------------------------------------------------- one outcome, five outputs

/// The run's outcome as each output shows it, checked against the exit
/// code: the console's result line and reasons, `report.json`'s
/// `outcome`, the `tessera.outcome` property of every JUnit suite, the
/// Markdown headline and the HTML badge. Each names `reason` when the run
/// fails.
fn assert_one_outcome(o: &std::process::Output, dir: &std::path::Path, failed: bool, reason: &str) {
    let all = both(o);
    assert_eq!(code(o), if failed { 1 } else { 0 }, "{all}");

    let console = stdout(o);
    let word = if failed {
        "result: FAILED"
    } else {
        "result: ok"
    };
    assert!(console.contains(word), "console: {console}");
    assert_eq!(
        console.contains("the run fails:"),
        failed,
        "console: {console}"
    );

    let r = report(dir);
    let outcome = r.outcome.expect("report.json carries the outcome");
    assert_eq!(!outcome.passed(), failed, "report.json: {outcome:?}");

    let xml = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let suites = junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes())).unwrap();
    assert!(!suites.suites.is_empty());
    for s in &suites.suites {
        let p = &s.properties.hashmap;
        assert_eq!(
            p.get("tessera.outcome").map(String::as_str),
            Some(if failed { "failed" } else { "passed" }),
            "junit.xml: {xml}"
        );
    }
    // A run that fails has a red testcase; one that passes has none.
    let red = suites
        .suites
        .iter()
        .flat_map(|s| &s.cases)
        .any(|c| c.status.is_failure() || c.status.is_error());
    assert_eq!(red, failed, "junit.xml: {xml}");

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let head = if failed { "**FAILED**" } else { "**PASSED**" };
    assert!(md.contains(head), "report.md: {md}");

    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let badge = if failed {
        "id=\"outcome\">FAILED<"
    } else {
        "id=\"outcome\">PASSED<"
    };
    assert!(html.contains(badge), "report.html lacks {badge}");

    if failed {
        let (_, fails) = console.split_once("the run fails:\n").unwrap();
        assert!(
            fails
                .lines()
                .any(|l| l.starts_with("  - ") && l.contains(reason)),
            "console: {console}"
        );
        assert!(
            outcome
                .reasons
                .iter()
                .any(|f| f.to_string().contains(reason)),
            "report.json: {:?}",
            outcome.reasons
        );
        assert!(
            xml.contains(&xml_text(reason)),
            "junit.xml lacks {reason}: {xml}"
        );
        assert!(
            md.contains(&md_text(reason)),
            "report.md lacks {reason}: {md}"
        );
        assert!(
            html_text(&html).contains(reason),
            "report.html lacks {reason}"
        );
    }
}

fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// How report.md escapes prose.
fn md_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The page's text with HTML's character references resolved.
fn html_text(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x60;", "`")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Issue 11: an expired baseline entry on a passing scenario fails the run,
/// and every output says so (report.md used to say PASSED, the console
/// "result: ok" before "the run fails:").
#[test]
fn an_expired_entry_on_a_pass_fails_the_run_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let expired = write(
        dir.path(),
        "expired.yaml",
        &format!(
            "version: 1\nexpected_failures:\n  - id: {FAILING}\n    reason: vendor ticket 1\n    expires: 2000-01-01\n"
        ),
    );
    let out = dir.path().join("o");
    let o = run(&[&repo(SAMPLES)], &out, &["--baseline", &expired]);
    assert!(
        report(&out)
            .scenarios
            .iter()
            .all(|s| s.verdict == Verdict::Pass)
    );
    assert_one_outcome(
        &o,
        &out,
        true,
        &format!("baseline entry `{FAILING}` expired on 2000-01-01"),
    );
}

#[test]
fn an_unexpected_pass_fails_the_run_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let b = write(
        dir.path(),
        "b.yaml",
        &format!(
            "version: 1\nexpected_failures:\n  - id: {FAILING}\n    reason: vendor ticket 2\n"
        ),
    );
    let out = dir.path().join("o");
    let o = run(&[&repo(SAMPLES)], &out, &["--baseline", &b]);
    assert_one_outcome(
        &o,
        &out,
        true,
        &format!("{FAILING} passed but the baseline expects it to fail"),
    );
    // The same baseline with the deviation: an expected failure, a pass.
    let out = dir.path().join("expected");
    let o = run(
        &[&repo(SAMPLES)],
        &out,
        &[DEVIATION, &["--baseline", &b]].concat(),
    );
    assert_one_outcome(&o, &out, false, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_pass_under_flaky_fails_fails_the_run_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, failed) in [(None, false), (Some("--flaky-fails"), true)] {
        let server = flaky_server(1).await;
        let out = dir.path().join(format!("{failed}"));
        let mut args: Vec<String> = vec![
            "run".into(),
            repo("fixtures/runner/stub/info.yaml"),
            "--target".into(),
            server.uri(),
            "--retries".into(),
            "1".into(),
            "--out".into(),
            out.display().to_string(),
        ];
        args.extend(flag.map(String::from));
        let o = tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            tessera(&a)
        })
        .await
        .unwrap();
        assert!(report(&out).scenarios[0].flaky, "{}", both(&o));
        assert_one_outcome(&o, &out, failed, "is flaky: passed after 2 attempts");
    }
}

/// A scenario whose failed check cites only `LT-5/SHOULD` warns: shown in
/// every output, the run passes; under `--strict` (on `run` or on `report
/// merge`) it fails, in every output.
#[test]
fn warns_show_everywhere_and_fail_the_run_only_under_strict() {
    const SHOULD: &str = "fixtures/runner/should";
    const AT_EXPIRY: &[&str] = &["--deviation", "valid-at-expiry-instant"];
    let dir = tempfile::tempdir().unwrap();

    let clean = dir.path().join("clean");
    let o = run(&[&repo(SHOULD)], &clean, &[]);
    assert_one_outcome(&o, &clean, false, "");
    assert_eq!(report(&clean).scenarios[0].verdict, Verdict::Pass);

    let warned = dir.path().join("warned");
    let o = run(&[&repo(SHOULD)], &warned, AT_EXPIRY);
    assert_one_outcome(&o, &warned, false, "");
    let r = report(&warned);
    assert_eq!(r.scenarios[0].verdict, Verdict::Warn);
    assert_eq!(r.outcome.as_ref().unwrap().totals.warn, 1);
    // Shown distinctly in each output.
    assert!(
        stdout(&o).contains("WARN  samples/lt5-invalid-at-expiry"),
        "{}",
        both(&o)
    );
    assert!(stdout(&o).contains("1 warned"), "{}", both(&o));
    let md = std::fs::read_to_string(warned.join("report.md")).unwrap();
    assert!(
        md.contains("1 warned") && md.contains("## Warnings"),
        "{md}"
    );
    let xml = std::fs::read_to_string(warned.join("junit.xml")).unwrap();
    assert!(
        xml.contains("<property name=\"verdict\" value=\"warn\"/>"),
        "{xml}"
    );
    assert!(xml.contains("<system-out>warn: [LT-5/SHOULD]"), "{xml}");
    let html = std::fs::read_to_string(warned.join("report.html")).unwrap();
    assert!(
        html.contains("<span class=\"badge warn\">warn</span>"),
        "report.html"
    );

    let strict = dir.path().join("strict");
    let o = run(
        &[&repo(SHOULD)],
        &strict,
        &[AT_EXPIRY, &["--strict"]].concat(),
    );
    let reason = "samples/lt5-invalid-at-expiry warn: breaks a SHOULD clause";
    assert_one_outcome(&o, &strict, true, reason);
    assert!(report(&strict).outcome.unwrap().policy.strict);

    // `report merge --strict` decides the merged run again.
    let merged = dir.path().join("merged");
    let m = merged.display().to_string();
    let json = arg(&warned, "report.json");
    let o = tessera(&["report", "merge", &json, "--out", &m]);
    assert_one_outcome(&o, &merged, false, "");
    let o = tessera(&["report", "merge", &json, "--out", &m, "--strict"]);
    assert_one_outcome(&o, &merged, true, reason);
}

#[test]
fn variant_switches_the_in_process_reference_only() {
    let dir = tempfile::tempdir().unwrap();
    // A listed variant runs (these samples do not touch HP-8).
    let o = run(
        &[&repo(SAMPLES)],
        dir.path(),
        &["--variant", "HP-8=ignored"],
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    // An unknown name is a usage error that lists the valid ones.
    let o = run(&[&repo(SAMPLES)], dir.path(), &["--variant", "HP-8=maybe"]);
    assert_eq!(code(&o), 2, "{}", both(&o));
    assert!(both(&o).contains("checked, ignored"), "{}", both(&o));
    // Like --deviation, it is refused for any other target.
    let o = run(
        &[&repo(SAMPLES)],
        dir.path(),
        &[
            "--variant",
            "HP-8=ignored",
            "--target",
            "http://127.0.0.1:9",
        ],
    );
    assert_eq!(code(&o), 2, "{}", both(&o));
    assert!(both(&o).contains("--target reference"), "{}", both(&o));
}

// ------------------------------------------------------ coverage and its gates

/// A vendor-like profile (no clock control, no real waits, no alternate
/// addresses) on a stub that answers anything: the two samples that need
/// those are skipped, so no case runs. Returns the output and the report
/// folder.
async fn run_uncovered(extra: &[&str]) -> (std::process::Output, tempfile::TempDir) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let profile = write(
        dir.path(),
        "vendor.yaml",
        &format!(
            "version: 1\nbase_url: {}\nprofiles: [arcgis-token]\n",
            server.uri()
        ),
    );
    let mut args: Vec<String> = [
        "run",
        &repo(SAMPLES),
        "--filter",
        FAILING,
        "--filter",
        "samples/requestip-binding",
        "--target",
        &profile,
        "--out",
        &dir.path().display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        tessera(&a)
    })
    .await
    .unwrap();
    (o, dir)
}

/// Issue 10: a run where nothing ran never says PASSED without saying what
/// did not run, and what would let it run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passed_run_says_what_did_not_run_in_every_output() {
    let (o, dir) = run_uncovered(&[]).await;
    assert_one_outcome(&o, dir.path(), false, "");
    let console = stdout(&o);
    assert!(console.contains("; ran 0 of 2 cases (0%)"), "{console}");
    let unchecked = console
        .lines()
        .find(|l| l.starts_with("unchecked: "))
        .unwrap_or_else(|| panic!("no unchecked line: {console}"));
    assert!(
        unchecked.contains("LT-5 (allow real waits of 1h)"),
        "{unchecked}"
    );
    assert!(
        unchecked.contains("IP-1 (declare alternate addresses)"),
        "{unchecked}"
    );

    let r = report(dir.path());
    let c = &r.outcome.unwrap().coverage;
    assert_eq!((c.ran, c.total), (0, 2));
    assert!(c.unchecked.iter().any(|u| u.rule == "LT-5"));
    assert_eq!(c.not_run.len(), 2, "{:?}", c.not_run);

    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("Coverage: ran 0 of 2 cases (0%)."), "{md}");
    assert!(md.contains("Unchecked MUST rules"), "{md}");
    assert!(
        md.contains("| skipped | 1 | needs alternate source addresses"),
        "{md}"
    );
    let html = html_text(&std::fs::read_to_string(dir.path().join("report.html")).unwrap());
    assert!(html.contains("ran 0 of 2 cases"), "report.html");
    assert!(
        html.contains("LT-5 (allow real waits of 1h)"),
        "report.html"
    );
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(
        xml.contains(r#"name="tessera.coverage.ran" value="0""#)
            && xml.contains(r#"name="tessera.coverage.total" value="2""#)
            && xml.contains("tessera.coverage.unchecked"),
        "{xml}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_rule_fails_a_run_where_no_case_of_it_passed_in_every_output() {
    let (o, dir) = run_uncovered(&["--require-rule", "LT-5"]).await;
    assert_one_outcome(
        &o,
        dir.path(),
        true,
        "required rule LT-5: no case passed (to run its cases: allow real waits of 1h)",
    );
    let (o, dir) = run_uncovered(&["--min-ran", "50"]).await;
    assert_one_outcome(
        &o,
        dir.path(),
        true,
        "only 0 of 2 cases ran (0%), below --min-ran 50%",
    );
    // --min-ran 0 asks nothing.
    let (o, dir) = run_uncovered(&["--min-ran", "0"]).await;
    assert_one_outcome(&o, dir.path(), false, "");
}

#[test]
fn require_rule_passes_when_a_case_of_it_passed_and_refuses_unknown_ids() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ok");
    let o = run(
        &[&repo(SAMPLES)],
        &out,
        &["--require-rule", "LT-5", "--min-ran", "100"],
    );
    assert_one_outcome(&o, &out, false, "");
    // On the deviating reference LT-5's only case fails.
    let out = dir.path().join("dev");
    let o = run(
        &[&repo(SAMPLES)],
        &out,
        &[DEVIATION, &["--require-rule", "LT-5"]].concat(),
    );
    assert_one_outcome(&o, &out, true, "required rule LT-5: no case passed");
    let o = run(&[&repo(SAMPLES)], dir.path(), &["--require-rule", "LT-99"]);
    assert_eq!(code(&o), 2, "{}", both(&o));
    assert!(crate::support::stderr(&o).contains("`LT-99` is not a rule ID"));
}
