//! `tessera run` and `tessera::runner::run` against wiremock stubs: a right
//! answer passes, a wrong one fails naming the rule, a hung server is an
//! error verdict, an unreachable target exits 4, a broken scenario exits 3,
//! and secrets never reach the report or the console.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tessera::client::Timeouts;
use tessera::report::Verdict;
use tessera::report::{console, json};
use tessera::runner::{RunOptions, run};
use tessera::target::Target;
use wiremock::matchers::{body_json, body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PLANTED_TOKEN: &str = "PLANTEDtokenZ9x8c7v6b5n4m3";

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/runner")
        .join(rel)
}

fn load(rel: &str) -> Vec<tessera::scenario::Scenario> {
    tessera::scenario::load_suite(&[fixture(rel)]).expect("fixture loads")
}

fn opts(timeout: Duration) -> RunOptions {
    RunOptions {
        jobs: 2,
        timeout,
        retries: 0,
    }
}

/// A stub that answers like a conformant server.
async fn good_server() -> MockServer {
    let server = MockServer::start().await;
    let base = server.uri();
    Mock::given(method("GET"))
        .and(path("/arcgis/rest/info"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "authInfo": {
                "isTokenBasedSecurity": true,
                "tokenServicesUrl": format!("{base}/arcgis/tokens/generateToken"),
                "shortLivedTokenValidity": 60
            }
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/arcgis/tokens/generateToken"))
        .and(body_string_contains("password=alice-secret-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token": PLANTED_TOKEN, "expires": 4_102_444_800_000i64, "ssl": false
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/arcgis/rest/services/SampleWorldCities/MapServer"))
        .and(header(
            "X-Esri-Authorization",
            format!("Bearer {PLANTED_TOKEN}").as_str(),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"mapName": "World"})),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_conformant_stub_passes_and_secrets_stay_masked() {
    let server = good_server().await;
    let target = Target::probe_url(&server.uri(), Timeouts::new(Duration::from_secs(5)))
        .await
        .unwrap();
    assert!(!target.capabilities.clock_control);
    let mut scenarios = load("stub/info.yaml");
    scenarios.extend(load("stub/token.yaml"));
    let report = run(scenarios, &target, &opts(Duration::from_secs(5)), None)
        .await
        .unwrap();
    for s in &report.scenarios {
        assert_eq!(s.verdict, Verdict::Pass, "{}", console::scenario_line(s));
    }
    let token = report
        .scenarios
        .iter()
        .find(|s| s.id == "stub/token-round-trip")
        .unwrap();
    assert_eq!(token.tokens.len(), 1);
    assert_eq!(token.tokens[0].label, "token");

    let json_text = json::write(&report);
    let console_text = format!(
        "{}\n{}",
        report
            .scenarios
            .iter()
            .map(console::scenario_line)
            .collect::<Vec<_>>()
            .join("\n"),
        console::summary(&report)
    );
    for out in [&json_text, &console_text] {
        assert!(!out.contains(PLANTED_TOKEN), "token leaked");
        assert!(!out.contains("alice-secret-1"), "password leaked");
    }
    // The exchanges are there, masked.
    assert!(json_text.contains("Bearer «token»"), "{json_text}");
    assert!(json_text.contains("password=«alice.password»"));
}

#[tokio::test]
async fn a_wrong_answer_fails_naming_the_rule() {
    let server = MockServer::start().await;
    Mock::given(path("/arcgis/rest/info"))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .mount(&server)
        .await;
    let target = Target::probe_url(&server.uri(), Timeouts::new(Duration::from_secs(5)))
        .await
        .unwrap();
    let report = run(
        load("stub/info.yaml"),
        &target,
        &opts(Duration::from_secs(5)),
        None,
    )
    .await
    .unwrap();
    let s = &report.scenarios[0];
    assert_eq!(s.verdict, Verdict::Fail);
    let (_, check) = s.failures().next().unwrap();
    assert_eq!(check.what, "status");
    assert_eq!(
        (check.expected.as_str(), check.actual.as_str()),
        ("200", "500")
    );
    assert_eq!(check.rules, ["TS-7"]);
}

#[tokio::test]
async fn a_hung_server_is_an_error_after_the_timeout() {
    let server = MockServer::start().await;
    Mock::given(path("/arcgis/rest/info"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let target = Target::probe_url(&server.uri(), Timeouts::new(Duration::from_secs(5)))
        .await
        .unwrap();
    let report = run(
        load("stub/info.yaml"),
        &target,
        &opts(Duration::from_millis(300)),
        None,
    )
    .await
    .unwrap();
    let s = &report.scenarios[0];
    assert_eq!(s.verdict, Verdict::Error);
    let reason = s.reason.as_deref().unwrap();
    assert!(reason.contains("timeout"), "{reason}");
}

#[tokio::test]
async fn a_control_target_moves_its_clock_and_is_reset_around_exclusive_scenarios() {
    let server = MockServer::start().await;
    let t0: i64 = 1_000_000;
    Mock::given(method("GET"))
        .and(path("/_tessera/clock"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"now_ms": t0})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/_tessera/clock"))
        .and(body_json(serde_json::json!({"advance_ms": 3_660_000})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"now_ms": t0 + 3_660_000})),
        )
        .expect(1)
        .mount(&server)
        .await;
    // Once at the start of the run, then before and after the exclusive scenario.
    Mock::given(method("POST"))
        .and(path("/_tessera/reset"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .expect(3)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/arcgis/tokens/generateToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token": PLANTED_TOKEN, "expires": t0 + 3_600_000, "ssl": false
        })))
        .mount(&server)
        .await;
    Mock::given(path("/arcgis/rest/services/SampleWorldCities/MapServer"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"error": {"code": 498, "message": "Invalid Token"}}),
            ),
        )
        .mount(&server)
        .await;
    let target = Target::probe_url(&server.uri(), Timeouts::new(Duration::from_secs(5)))
        .await
        .unwrap();
    assert!(target.capabilities.clock_control);
    let report = run(
        load("stub/advance.yaml"),
        &target,
        &opts(Duration::from_secs(5)),
        None,
    )
    .await
    .unwrap();
    let s = &report.scenarios[0];
    assert_eq!(s.verdict, Verdict::Pass, "{}", console::scenario_line(s));
    assert_eq!(s.steps[2].at_ms, Some(t0 + 3_660_000));
    assert_eq!(s.tokens[0].expires_ms, t0 + 3_600_000);
}

fn tessera() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
}

#[test]
fn an_unreachable_target_exits_4() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out_dir = tempfile::tempdir().unwrap();
    let out = tessera()
        .arg("run")
        .arg(fixture("stub/info.yaml"))
        .args(["--target", &format!("http://127.0.0.1:{port}")])
        .args(["--timeout", "2s", "--out"])
        .arg(out_dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
}

#[test]
fn a_broken_scenario_exits_3_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::copy(fixture("broken/bad-rule.yaml"), &file).unwrap();
    let out = tessera().arg("run").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:4:9: error", file.display())),
        "{stderr}"
    );
}

#[test]
fn nothing_selected_exits_5() {
    let out = tessera()
        .arg("run")
        .arg(fixture("stub"))
        .args(["--filter", "no-such-area/*"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
}

#[tokio::test]
async fn the_binary_writes_a_masked_report_and_exits_0() {
    let server = good_server().await;
    let out_dir = tempfile::tempdir().unwrap();
    let uri = server.uri();
    let fixtures = fixture("stub");
    let dir = out_dir.path().to_owned();
    // The binary blocks; keep the stub's runtime free to answer.
    let out = tokio::task::spawn_blocking(move || {
        tessera()
            .arg("run")
            .arg(fixtures)
            .args(["--target", &uri, "-v", "--out"])
            .arg(&dir)
            .env("CI", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("PASS  stub/token-round-trip"), "{stdout}");
    let report = std::fs::read_to_string(out_dir.path().join("report.json")).unwrap();
    assert!(report.contains(&format!(
        "\"format_version\": {}",
        tessera::report::model::REPORT_FORMAT_VERSION
    )));
    for text in [&report, &stdout.to_string()] {
        assert!(!text.contains(PLANTED_TOKEN));
        assert!(!text.contains("alice-secret-1"));
    }
}

#[tokio::test]
async fn tokens_in_set_cookie_and_location_are_masked() {
    const COOKIE_TOKEN: &str = "CookieTOKENq1w2e3r4t5y6u7i8";
    const LOCATION_TOKEN: &str = "LocationTOKENa1s2d3f4g5h6j7";
    let server = good_server().await;
    Mock::given(method("GET"))
        .and(path("/arcgis/login"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header(
                    "Set-Cookie",
                    format!("agstoken={COOKIE_TOKEN}; Path=/; HttpOnly").as_str(),
                )
                .insert_header(
                    "Location",
                    format!("/arcgis/home?f=json&token={LOCATION_TOKEN}").as_str(),
                ),
        )
        .mount(&server)
        .await;
    let target = Target::probe_url(&server.uri(), Timeouts::new(Duration::from_secs(5)))
        .await
        .unwrap();
    let report = run(
        load("secrets/response-headers.yaml"),
        &target,
        &opts(Duration::from_secs(5)),
        None,
    )
    .await
    .unwrap();
    assert_eq!(report.scenarios[0].verdict, Verdict::Fail);
    let json_text = json::write(&report);
    assert!(!json_text.contains(COOKIE_TOKEN), "{json_text}");
    assert!(!json_text.contains(LOCATION_TOKEN), "{json_text}");
    // The evidence is there, masked.
    assert!(json_text.contains("agstoken=«cookie»"), "{json_text}");
    assert!(json_text.contains("token=«token»"), "{json_text}");
}
