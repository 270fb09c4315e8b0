//! VARIANT rules against a stub server: a target answering with
//! non-reference variants (TS-3 `401` with `details` as a string, TS-4
//! `400`) passes the scenarios that check them, and the report's behaviour
//! profile names them; a target mixing variants of one rule across cases
//! fails the run, naming the rule and the cases.

use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{both, code, repo, report, tessera};

const SCENARIOS: [&str; 3] = [
    "specs/issuance/wrong-password.yaml",
    "specs/issuance/unknown-user.yaml",
    "specs/issuance/get-refused.yaml",
];

fn error(code: u16) -> ResponseTemplate {
    // `details` as a string, as some real servers send it.
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "error": {"code": code, "message": "Unable to generate token.", "details": "Invalid username or password."}
    }))
}

/// A stub token service: a wrong password gets `wrong`, an unknown user
/// `unknown`, a GET 400.
async fn stub(wrong: u16, unknown: u16) -> MockServer {
    let server = MockServer::start().await;
    let at = || path("/arcgis/tokens/generateToken");
    Mock::given(method("POST"))
        .and(at())
        .and(body_string_contains("-nobody"))
        .respond_with(error(unknown))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(at())
        .respond_with(error(wrong))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(at())
        .respond_with(error(400))
        .mount(&server)
        .await;
    server
}

async fn run_on(server: &MockServer) -> (std::process::Output, tessera::report::Report) {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(SCENARIOS.iter().map(|s| repo(s)));
    args.extend(
        [
            "--target",
            &server.uri(),
            "--timeout",
            "5s",
            "--report",
            "json",
            "--out",
        ]
        .map(String::from),
    );
    args.push(dir.path().display().to_string());
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
async fn non_reference_variants_pass_and_show_in_the_profile() {
    let server = stub(401, 401).await;
    let (o, r) = run_on(&server).await;
    assert_eq!(code(&o), 0, "{}", both(&o));
    let outcome = r.outcome.clone().expect("gated");
    let shown: Vec<(String, String)> = outcome
        .behaviour
        .variants
        .iter()
        .map(|v| (v.key(), v.summary()))
        .collect();
    assert_eq!(
        shown,
        [
            ("TS-3".to_owned(), "401 (2 cases)".to_owned()),
            ("TS-4".to_owned(), "400 (1 case)".to_owned())
        ]
    );
    let wrong = r
        .scenarios
        .iter()
        .find(|s| s.id == "issuance/wrong-password");
    let step = &wrong.expect("played").steps[0];
    assert_eq!(step.variants[0].shown(), Some("401"), "{step:?}");
    let console = tessera::report::console::summary(&r);
    assert!(console.contains("TS-3: 401 (2 cases)"), "{console}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixing_variants_across_cases_fails_the_run() {
    let server = stub(401, 400).await;
    let (o, r) = run_on(&server).await;
    assert_ne!(code(&o), 0, "{}", both(&o));
    // Every scenario passes on its own: the mix is the run's failure.
    assert!(
        r.scenarios
            .iter()
            .all(|s| s.verdict == tessera::report::Verdict::Pass)
    );
    let text = both(&o);
    assert!(
        text.contains("TS-3 fail: different variants in different cases (400 in issuance/unknown-user; 401 in issuance/wrong-password)"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_fitting_no_variant_fails_citing_the_variant_rule() {
    let server = stub(403, 401).await;
    let (o, r) = run_on(&server).await;
    assert_ne!(code(&o), 0, "{}", both(&o));
    let s = r
        .scenarios
        .iter()
        .find(|s| s.id == "issuance/wrong-password")
        .unwrap();
    assert_eq!(s.verdict, tessera::report::Verdict::Fail);
    let failed: Vec<(&str, &str)> = s
        .failures()
        .map(|(_, c)| (c.what.as_str(), c.rules[0].as_str()))
        .collect();
    assert_eq!(
        failed,
        [
            ("[TS-3: 400] arcgis_error", "TS-3"),
            ("[TS-3: 401] arcgis_error", "TS-3")
        ]
    );
    assert!(s.steps[0].variants[0].matched.is_empty());
}
