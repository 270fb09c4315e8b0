//! `tessera certify` end to end through the binary, with the built-in
//! drivers (`tessera client-driver NAME`) and small `sh` drivers that hang
//! or print garbage: verdicts, exit codes, reports, and no secret in any
//! output.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{both, code, stdout, tessera};

/// The fixture password of alice, the user every driver signs in as.
const PASSWORD: &str = "alice-secret-1";

fn builtin(name: &str) -> String {
    format!("{} client-driver {name}", env!("CARGO_BIN_EXE_tessera"))
}

const HELLO: &str = r#"{"hello":{"client":"sh","version":"1","features":["portal","server","federation","sessions","tls"]}}"#;

fn json(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("certification.json")).expect("report written");
    serde_json::from_str(&text).expect("valid JSON")
}

fn case_verdicts(report: &serde_json::Value) -> Vec<(String, String)> {
    report["clients"][0]["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or("").to_owned(),
                c["verdict"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn rule_verdict(report: &serde_json::Value, rule: &str) -> String {
    report["clients"][0]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["rule"] == rule)
        .and_then(|r| r["verdict"].as_str())
        .unwrap_or("missing")
        .to_owned()
}

/// Every report file and both streams, for secret checks.
fn everything(out: &std::process::Output, dir: &Path) -> String {
    let mut all = both(out);
    for f in std::fs::read_dir(dir).expect("report dir") {
        let f = f.expect("entry").path();
        all.push_str(&std::fs::read_to_string(&f).unwrap_or_default());
    }
    all
}

#[test]
fn the_good_driver_passes_its_cases_and_the_reports_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera(&[
        "certify",
        "--driver",
        &builtin("good"),
        "--case",
        "client/signin-and-request",
        "--case",
        "client/federated-exchange",
        "--report-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(
        stdout(&out).contains("certification PASSED"),
        "{}",
        both(&out)
    );
    let r = json(dir.path());
    assert_eq!(r["passed"], true);
    assert_eq!(
        case_verdicts(&r),
        [
            ("client/federated-exchange".to_owned(), "pass".to_owned()),
            ("client/signin-and-request".to_owned(), "pass".to_owned())
        ]
    );
    for f in [
        "certification.xml",
        "certification.md",
        "certification.html",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    assert!(!everything(&out, dir.path()).contains(PASSWORD));
}

#[test]
fn a_broken_driver_fails_on_the_rule_it_breaks() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera(&[
        "certify",
        "--driver",
        &builtin("query-credentials"),
        "--name",
        "creds in the query",
        "--case",
        "client/signin-and-request",
        "--report-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let r = json(dir.path());
    assert_eq!(r["clients"][0]["name"], "creds in the query");
    assert_eq!(case_verdicts(&r)[0].1, "fail");
    assert_eq!(rule_verdict(&r, "CL-1"), "fail");
    // The password went in a query string: the reports still never show it.
    assert!(!everything(&out, dir.path()).contains(PASSWORD));
}

/// Gone, or a zombie its new parent has not reaped yet.
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z')),
    }
}

#[test]
fn a_driver_that_hangs_is_killed_with_its_children_and_the_case_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let driver = format!(
        "echo '{HELLO}'; sleep 300 & echo $! > {}; wait",
        pidfile.display()
    );
    let reports = dir.path().join("reports");
    let t = Instant::now();
    let out = tessera(&[
        "certify",
        "--driver",
        &driver,
        "--case",
        "client/signin-and-request",
        "--case-timeout",
        "2s",
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    assert_eq!(code(&out), 1, "{}", both(&out));
    let r = json(&reports);
    assert_eq!(case_verdicts(&r)[0].1, "error", "{}", both(&out));
    let reason = r["clients"][0]["cases"][0]["reason"].as_str().unwrap_or("");
    assert!(reason.contains("timed out"), "{reason}");
    let pid = std::fs::read_to_string(&pidfile).expect("the driver wrote its child's pid");
    let pid = pid.trim();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gone(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(gone(pid), "the driver's child {pid} outlived the case");
}

#[test]
fn a_driver_that_prints_garbage_is_an_error_and_its_secrets_are_masked() {
    let dir = tempfile::tempdir().unwrap();
    // Answers the first operation with a line that is not the contract and
    // carries the password; says the password on stderr too.
    let driver = format!(
        "echo \"my password is $TESSERA_PASSWORD\" >&2; echo '{HELLO}'; read -r l; echo \"signed in with $TESSERA_PASSWORD\"; sleep 300"
    );
    let out = tessera(&[
        "certify",
        "--driver",
        &driver,
        "--case",
        "client/signin-and-request",
        "--verbose",
        "--report-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let r = json(dir.path());
    assert_eq!(case_verdicts(&r)[0].1, "error");
    let reason = r["clients"][0]["cases"][0]["reason"].as_str().unwrap_or("");
    assert!(reason.contains("broke the protocol"), "{reason}");
    assert!(reason.contains("signed in with ***"), "{reason}");
    assert!(
        reason.contains("driver stderr: my password is ***"),
        "{reason}"
    );
    assert!(!everything(&out, dir.path()).contains(PASSWORD));
}

#[test]
fn usage_load_and_selection_errors_have_their_exit_codes() {
    let good = builtin("good");
    let two_names = tessera(&[
        "certify", "--driver", &good, "--name", "a", "--name", "b", "--case", "x",
    ]);
    assert_eq!(code(&two_names), 2, "{}", both(&two_names));
    let no_driver = tessera(&["certify"]);
    assert_eq!(code(&no_driver), 2, "{}", both(&no_driver));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "version: 1\nid: client/bad\nnonsense: true\n").unwrap();
    let out = tessera(&["certify", "--driver", &good, bad.to_str().unwrap()]);
    assert_eq!(code(&out), 3, "{}", both(&out));
    assert!(both(&out).contains("bad.yaml:"), "{}", both(&out));

    let none = tessera(&[
        "certify",
        "--driver",
        &good,
        "--case",
        "client/no-such-case",
    ]);
    assert_eq!(code(&none), 5, "{}", both(&none));
}

#[test]
fn ctrl_c_kills_every_driver_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let driver = format!(
        "echo '{HELLO}'; sleep 300 & echo $! > {}; wait",
        pidfile.display()
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args([
            "certify",
            "--driver",
            &driver,
            "--case",
            "client/signin-and-request",
        ])
        .current_dir(crate::support::root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tessera starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pidfile.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // The driver has started its sleeper and is blocked in `wait`.
    std::thread::sleep(Duration::from_millis(200));
    let pid = std::fs::read_to_string(&pidfile).expect("the driver wrote its child's pid");
    let pid = pid.trim().to_owned();
    let tessera_pid = i32::try_from(child.id()).expect("a pid");
    // SAFETY: sends SIGINT to the tessera process this test started.
    unsafe {
        libc::kill(tessera_pid, libc::SIGINT);
    }
    let status = child.wait().expect("tessera exits");
    assert_eq!(status.code(), Some(130));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gone(&pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(gone(&pid), "the driver's child {pid} outlived Ctrl-C");
}

/// The client self-check's wiring on one case (the whole fast tier takes
/// minutes: `tessera selfcheck --clients`): the good driver passes, the
/// broken drivers whose rules the case cites are caught, and the others,
/// with no case to be caught in, fail the check.
#[test]
fn selfcheck_clients_passes_the_good_driver_and_names_what_is_not_caught() {
    let out = tessera(&[
        "selfcheck",
        "--clients",
        "specs/clients/signin-and-request.yaml",
    ]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let text = stdout(&out);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no line for {name}: {text}"))
            .to_owned()
    };
    assert!(line("good").contains(" ok 1 pass"), "{}", line("good"));
    assert!(line("query-credentials").contains("ok caught: CL-1 fail"));
    assert!(line("regex-federation").contains("FAILED NOT CAUGHT: CL-6"));
    assert!(text.contains("client selfcheck FAILED: "), "{text}");
    assert!(!text.contains("query-credentials,"), "{text}");
}

#[test]
fn plan_selects_the_session_cases() {
    let dir = tempfile::tempdir().unwrap();
    // A driver that ends at once: every selected case is an error, fast.
    let out = tessera(&[
        "certify",
        "--driver",
        "exit 0",
        "--plan",
        "basemap-sessions",
        "--report-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let ids: Vec<String> = case_verdicts(&json(dir.path()))
        .into_iter()
        .map(|(id, v)| {
            assert_eq!(v, "error", "{id}");
            id
        })
        .collect();
    assert!(!ids.is_empty());
    assert!(
        ids.iter().all(|id| id.starts_with("client/session")),
        "{ids:?}"
    );
}
