//! `tessera fuzz` against the in-process reference over HTTP: a bounded run
//! on the clean reference finds no divergence; with a deviation switched on,
//! a fixed seed finds it, and the shrunk regression scenario it writes fails
//! under the runner against that deviation and passes on the clean reference.
//! Also the CLI's exit codes, and (ignored) the speed measurement of the
//! fuzz loop against a plain request loop of the same client.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tessera::client::http::{self, Clients, PreparedRequest, Timeouts};
use tessera::fuzz::http::HttpExecutor;
use tessera::fuzz::machine::{self, FuzzConfig, FuzzOutcome};
use tessera::fuzz::shrink_to_yaml::{self, Origin};
use tessera::knobs::Knobs;
use tessera::reference::Deviation;
use tessera::report::Verdict;
use tessera::runner::{RunOptions, run};
use tessera::target::Target;

/// One runtime for every test here: the servers and the blocking steps
/// share its worker.
fn rt() -> Arc<tokio::runtime::Runtime> {
    static RT: OnceLock<Arc<tokio::runtime::Runtime>> = OnceLock::new();
    RT.get_or_init(|| {
        Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime"),
        )
    })
    .clone()
}

fn timeouts() -> Timeouts {
    Timeouts::new(Duration::from_secs(10))
}

fn fuzz(deviations: Vec<Deviation>, seed: u64, cases: u32) -> FuzzOutcome {
    let knobs = Knobs::default();
    fuzz_with(deviations, &knobs, &knobs, seed, cases)
}

/// Fuzzes the reference started with `server` knobs, the model predicting
/// with `model` knobs.
fn fuzz_with(
    deviations: Vec<Deviation>,
    server: &Knobs,
    model: &Knobs,
    seed: u64,
    cases: u32,
) -> FuzzOutcome {
    let mut target = Target::reference(deviations);
    target.knobs = server.clone();
    let mut exec = HttpExecutor::new(rt(), &target, timeouts()).expect("executor");
    let config = FuzzConfig {
        cases,
        max_steps: 30,
        knobs: model.clone(),
        kinds: HttpExecutor::kinds(&target),
        ..FuzzConfig::new(seed)
    };
    machine::run(&config, &mut exec, &mut |_| {}).expect("the reference answers")
}

fn verdict(file: &Path, deviations: Vec<Deviation>) -> Verdict {
    let scenarios = tessera::scenario::load_suite(&[file.to_path_buf()]).expect("the file loads");
    let opts = RunOptions {
        jobs: 1,
        timeout: Duration::from_secs(10),
        ..RunOptions::default()
    };
    let report = rt()
        .block_on(run(scenarios, &Target::reference(deviations), &opts, None))
        .expect("the runner starts");
    assert_eq!(report.scenarios.len(), 1);
    report.scenarios[0].verdict
}

#[test]
fn a_bounded_run_on_the_clean_reference_finds_no_divergence() {
    let out = fuzz(vec![], 2024, 150);
    assert!(
        out.failure.is_none(),
        "the model and the reference disagree: {:?}",
        out.failure
    );
    assert_eq!(out.cases_run, 150);
    assert!(out.ops_run > 1000, "{}", out.ops_run);
    // Every kind of operation reached the server.
    assert_eq!(out.ops_per_kind.len(), 10, "{:?}", out.ops_per_kind);
}

/// Non-default knobs the model must follow as the reference does: Bearer
/// headers left to the web tier (HP-5), a cap on live sessions (SL-8), and
/// Portal and Server lifetimes (LT-1, LT-3) away from their defaults.
fn non_default_knobs() -> Vec<(&'static str, Knobs)> {
    let with = |pairs: &[(&str, serde_json::Value)]| {
        pairs.iter().fold(Knobs::default(), |k, (name, v)| {
            k.with(name, v).expect("a valid knob value")
        })
    };
    use serde_json::json;
    vec![
        ("web_tier_auth", with(&[("web_tier_auth", json!(true))])),
        (
            "max_concurrent_sessions",
            with(&[("max_concurrent_sessions", json!(1))]),
        ),
        (
            "portal lifetimes",
            with(&[
                ("portal_short_lived_minutes", json!(30)),
                ("portal_max_expiration_minutes", json!(90)),
            ]),
        ),
        (
            "server lifetimes",
            with(&[
                ("short_lived_minutes", json!(15)),
                ("max_expiration_minutes", json!(120)),
            ]),
        ),
    ]
}

#[test]
fn the_model_follows_the_reference_under_non_default_knobs() {
    for (what, knobs) in non_default_knobs() {
        // With the same knobs on both sides, they agree...
        let out = fuzz_with(vec![], &knobs, &knobs, 7, 60);
        assert!(
            out.failure.is_none(),
            "{what}: the model and the reference disagree: {:?}",
            out.failure
        );
        // ...and the knob matters: a model that ignores it is caught, so
        // the agreement above is not for want of exercising it.
        let out = fuzz_with(vec![], &knobs, &Knobs::default(), 7, 60);
        assert!(
            out.failure.is_some(),
            "{what}: the knob changes nothing the fuzzer sees"
        );
    }
}

/// Fuzzes the reference with `dev`, then replays the written scenario with
/// the runner on the deviant and on the clean reference.
fn finds(dev: &str, seed: u64) {
    let dev: Deviation = dev.parse().unwrap();
    let out = fuzz(vec![dev], seed, 300);
    let f = out
        .failure
        .unwrap_or_else(|| panic!("{dev} not found with seed {seed}"));
    assert!(f.ops.len() <= f.original_len);
    assert!(
        f.ops.len() <= 8,
        "{dev}: shrunk only to {} steps",
        f.ops.len()
    );
    let name = shrink_to_yaml::file_name(seed, &f.ops);
    let origin = Origin {
        id: format!("regressions/{}", name.trim_end_matches(".yaml")),
        seed,
        summary: f.divergence.mismatch.to_string(),
    };
    let text = shrink_to_yaml::to_yaml(&Default::default(), &f.ops, &origin).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, &text).unwrap();
    assert_eq!(
        verdict(&file, vec![dev]),
        Verdict::Fail,
        "{dev}: the regression does not fail on the deviant reference\n{text}"
    );
    assert_eq!(
        verdict(&file, vec![]),
        Verdict::Pass,
        "{dev}: the regression does not pass on the clean reference\n{text}"
    );
}

macro_rules! deviation_tests {
    ($($test:ident: $name:literal seed $seed:literal;)*) => {$(
        #[test]
        fn $test() {
            finds($name, $seed);
        }
    )*};
}

deviation_tests! {
    finds_accept_expired_tokens: "accept-expired-tokens" seed 1;
    finds_valid_at_expiry_instant: "valid-at-expiry-instant" seed 1;
    finds_sliding_expiry: "sliding-expiry" seed 1;
    finds_no_expiration_clamp: "no-expiration-clamp" seed 1;
    finds_expires_in_seconds: "expires-in-seconds" seed 1;
    finds_ignore_ip_binding: "ignore-ip-binding" seed 1;
    finds_ignore_referer_binding: "ignore-referer-binding" seed 1;
    finds_inconsistent_carrier_order: "inconsistent-carrier-order" seed 1;
    finds_fallback_to_lower_carrier: "fallback-to-lower-carrier" seed 1;
    finds_missing_token_as_498: "missing-token-as-498" seed 1;
    finds_public_service_requires_token: "public-service-requires-token" seed 1;
    finds_renew_expired_token: "renew-expired-token" seed 1;
    finds_renewal_drops_binding: "renewal-drops-binding" seed 1;
    finds_password_change_keeps_tokens: "password-change-keeps-tokens" seed 1;
    finds_session_over_12h: "session-over-12h" seed 1;
    finds_session_token_any_service: "session-token-any-service" seed 1;
    finds_location_errors_wrapped: "location-errors-wrapped" seed 1;
    finds_non_url_safe_tokens: "non-url-safe-tokens" seed 1;
    finds_session_token_other_family: "session-token-other-family" seed 3;
}

#[test]
fn the_same_seed_finds_the_same_sequence() {
    let dev = vec![Deviation::IgnoreIpBinding];
    let a = fuzz(dev.clone(), 9, 300).failure.expect("found");
    let b = fuzz(dev, 9, 300).failure.expect("found");
    assert_eq!(a.ops, b.ops);
    assert_eq!(a.divergence, b.divergence);
}

fn tessera() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
}

/// Runs `tessera fuzz ARGS --out DIR` (`args` split at blanks): the exit
/// code and what it printed.
fn fuzz_cli(args: &str, out: &Path) -> (Option<i32>, String) {
    let o = tessera()
        .arg("fuzz")
        .args(args.split_whitespace())
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn the_binary_writes_the_regression_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout) = fuzz_cli(
        "--deviation accept-expired-tokens --seed 1 --cases 50",
        dir.path(),
    );
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("DIVERGENCE"), "{stdout}");
    assert!(stdout.contains("replay: tessera fuzz"), "{stdout}");
    let written: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(written.len(), 1);
    // No password or token in what it printed.
    assert!(!stdout.contains("alice-secret-1"), "{stdout}");
}

#[test]
fn the_binary_exits_0_on_the_clean_reference_2_on_misuse_4_when_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout) = fuzz_cli("--seed 3 --cases 20", dir.path());
    assert_eq!(code, Some(0), "{stdout}");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let usage = tessera()
        .args(["fuzz", "--target", &url, "--deviation", "sliding-expiry"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
    let down = tessera()
        .args(["fuzz", "--target", &url, "--cases", "1"])
        .output()
        .unwrap();
    assert_eq!(
        down.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
}

#[test]
fn knobs_reach_the_reference_and_the_model() {
    // Seed 7 exercises the session cap (see
    // `the_model_follows_the_reference_under_non_default_knobs`): had only
    // one side taken the knob, they would disagree.
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout) = fuzz_cli(
        "--knob max_concurrent_sessions=1 --seed 7 --cases 60",
        dir.path(),
    );
    assert_eq!(code, Some(0), "{stdout}");
    // The regression a divergence writes states the knobs it was found with,
    // and the replay line repeats them.
    let (code, stdout) = fuzz_cli(
        "--deviation accept-expired-tokens --knob short_lived_minutes=15 --knob web_tier_auth=true --seed 1 --cases 50",
        dir.path(),
    );
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("--knob 'short_lived_minutes=15' --knob 'web_tier_auth=true'"),
        "{stdout}"
    );
    let written = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let file: tessera::scenario::ScenarioFile = tessera::scenario::load::parse_yaml(
        &std::fs::read_to_string(written.path()).unwrap(),
        &written.path(),
    )
    .unwrap();
    assert_eq!(file.knobs["short_lived_minutes"].value, 15);
    assert_eq!(file.knobs["web_tier_auth"].value, true);
}

#[test]
fn an_unknown_knob_is_a_usage_error_naming_the_valid_ones() {
    let out = tessera()
        .args(["fuzz", "--knob", "short_lived=5"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown knob `short_lived`"), "{stderr}");
    for name in Knobs::NAMES {
        assert!(stderr.contains(name), "{name} missing from: {stderr}");
    }
    let out = tessera()
        .args(["fuzz", "--knob", "max_concurrent_sessions=many"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A remote target declares its knobs; the flag does not override them.
    let out = tessera()
        .args([
            "fuzz",
            "--target",
            "http://127.0.0.1:9",
            "--knob",
            "web_tier_auth=true",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn diff_targets_reports_where_the_deviant_parts_ways() {
    let out = tessera()
        .args(["diff-targets", "--a", "reference", "--b", "reference"])
        .args(["--b-deviation", "inconsistent-carrier-order", "--seed", "1"])
        .args(["--cases", "40"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("carrier won"), "{stdout}");
}

/// Speed of the fuzz loop against the in-process reference compared with a
/// plain loop of the same client (generateToken + one secured request).
/// Run: `cargo test --test it fuzz::ops_per_second -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a test"]
fn ops_per_second() {
    let started = Instant::now();
    let out = fuzz(vec![], 77, 1000);
    let fuzz_secs = started.elapsed().as_secs_f64();
    let fuzz_rate = out.ops_run as f64 / fuzz_secs;

    let rt = rt();
    let handle = rt
        .block_on(tessera::reference::spawn(
            tessera::reference::ServerOptions::default(),
            ([127, 0, 0, 1], 0).into(),
        ))
        .unwrap();
    let base = format!("http://{}", handle.addr);
    let clients = Clients::new(timeouts());
    let client = clients.for_source(None).unwrap();
    let n = out.ops_run / 2;
    let started = Instant::now();
    for _ in 0..n {
        let issue = PreparedRequest {
            method: "POST".into(),
            url: format!("{base}/arcgis/tokens/generateToken"),
            headers: vec![(
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: Some("username=alice&password=alice-secret-1&f=json".into()),
        };
        let r = rt.block_on(http::send(&client, &issue)).unwrap();
        let token = r.json().unwrap()["token"].as_str().unwrap().to_owned();
        let sec = PreparedRequest::get(format!(
            "{base}/arcgis/rest/services/SampleWorldCities/MapServer?f=json&token={token}"
        ));
        let r = rt.block_on(http::send(&client, &sec)).unwrap();
        assert_eq!(r.status, 200);
    }
    let loop_secs = started.elapsed().as_secs_f64();
    let loop_rate = (2 * n) as f64 / loop_secs;
    println!(
        "fuzz: {} ops in {fuzz_secs:.2}s = {fuzz_rate:.0} ops/s; plain loop: {} requests in {loop_secs:.2}s = {loop_rate:.0} req/s; ratio {:.2}",
        out.ops_run,
        2 * n,
        fuzz_rate / loop_rate
    );
}

/// Issue 10, part 6: `tessera serve` without `--control` (a vendor-like
/// server) can be fuzzed and diffed: no reset, the real clock, clock and
/// password operations left out and said so. The planted deviation is
/// found, and the regression scenario it writes replays with `tessera run`:
/// it fails on the deviant server and passes on the clean one.
#[test]
fn fuzz_and_diff_run_without_the_control_api() {
    use crate::support::serve_with;
    let (_dev, dev_url) = serve_with(&["--deviation", "ignore-ip-binding"]);
    let (_clean, clean_url) = serve_with(&[]);
    let dir = tempfile::tempdir().unwrap();

    // The clean server: no divergence, the left-out kinds named.
    let o = tessera()
        .args([
            "fuzz", "--target", &clean_url, "--seed", "5", "--cases", "30",
        ])
        .arg("--out")
        .arg(dir.path().join("none"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("left out") && err.contains("clock-advance, password-change"),
        "{err}"
    );

    // The deviant one: found, shrunk, written.
    let out = dir.path().join("found");
    let o = tessera()
        .args([
            "fuzz", "--target", &dev_url, "--seed", "5", "--cases", "200",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("DIVERGENCE"), "{stdout}");
    let written: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(written.len(), 1);
    let scenario = written[0].display().to_string();
    let replay = |url: &str| {
        tessera()
            .args(["run", &scenario, "--target", url, "--report", "json"])
            .arg("--out")
            .arg(dir.path().join("replay"))
            .env("CI", "1")
            .output()
            .unwrap()
    };
    let on_dev = replay(&dev_url);
    assert_eq!(
        on_dev.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&on_dev.stdout)
    );
    let on_clean = replay(&clean_url);
    assert_eq!(
        on_clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&on_clean.stdout)
    );

    // diff-targets between the two servers.
    let o = tessera()
        .args(["diff-targets", "--a", &clean_url, "--b", &dev_url])
        .args(["--seed", "5", "--cases", "200"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("left out"), "{stdout}");
    assert!(stdout.contains("IP-"), "{stdout}");
}
