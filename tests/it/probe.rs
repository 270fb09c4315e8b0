//! `tessera probe`: against `tessera serve` (no control) and a wiremock
//! vendor, it finds what a profile needs, writes a profile that loads and
//! holds no secret; a URL target reads `shortLivedTokenValidity` too.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::serve_with;
use crate::support::{both, code, stdout, tessera};

#[test]
fn probe_writes_a_profile_of_the_served_reference() {
    let (_server, url) = serve_with(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probed.yaml");
    let o = tessera(&[
        "probe",
        &url,
        "--write-profile",
        &file.display().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", both(&o));
    let out = stdout(&o);
    let text = std::fs::read_to_string(&file).unwrap();
    for secret in ["alice-secret-1", "bob-secret-2"] {
        assert!(
            !out.contains(secret) && !text.contains(secret),
            "{out}\n{text}"
        );
    }
    assert!(
        out.contains("short_lived_minutes = 60") && out.contains("rest/info"),
        "{out}"
    );
    assert!(out.contains("variant HP-8: checked"), "{out}");
    assert!(out.contains("user alice: signs in"), "{out}");
    // Each value says how it was found.
    assert!(
        text.contains("# rest/info authInfo.shortLivedTokenValidity\n  short_lived_minutes: 60"),
        "{text}"
    );
    assert!(text.contains("web_tier_auth: false"), "{text}");
    assert!(text.contains("clock_control: false"), "{text}");
    assert!(text.contains("alt1: \"127.0.0.2\""), "{text}");
    assert!(text.contains("primary: \"127.0.0.1\""), "{text}");
    assert!(text.contains("${TESSERA_ALICE_PASSWORD}"), "{text}");

    let t = tessera::target::profile::load_with_env(&file, &|v| match v {
        "TESSERA_ALICE_USER" => Some("alice".into()),
        "TESSERA_ALICE_PASSWORD" => Some("alice-secret-1".into()),
        "TESSERA_BOB_USER" => Some("bob".into()),
        "TESSERA_BOB_PASSWORD" => Some("bob-secret-2".into()),
        _ => None,
    })
    .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(t.profiles.len(), 3);
    assert!(t.declared_knobs.contains("web_tier_auth"));
    assert_eq!(t.knobs.max_expiration_minutes, 1440);
    assert_eq!(t.knobs.portal_max_expiration_minutes, 20160);
    assert_eq!(t.capabilities.max_real_wait, Duration::from_secs(120));
}

/// A vendor whose tokens live 30 minutes by default and 600 at most.
async fn vendor() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/arcgis/rest/info"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "authInfo": {
                "isTokenBasedSecurity": true,
                "tokenServicesUrl": format!("{}/arcgis/tokens/generateToken", server.uri()),
                "shortLivedTokenValidity": 30
            }
        })))
        .mount(&server)
        .await;
    let expires = jiff::Timestamp::now().as_millisecond() + 600 * 60_000;
    Mock::given(method("POST"))
        .and(path("/arcgis/tokens/generateToken"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"token": "t".repeat(64), "expires": expires})),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_reads_a_vendors_lifetimes_and_a_url_target_too() {
    let server = vendor().await;
    let clients =
        tessera::client::Clients::new(tessera::client::Timeouts::new(Duration::from_secs(5)));
    let t = tessera::target::Target::probe_url(
        &server.uri(),
        tessera::client::Timeouts::new(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    assert_eq!(t.knobs.short_lived_minutes, 30, "not the assumed 60");

    let p = tessera::target::probe::probe(&t, &clients).await.unwrap();
    assert_eq!(p.knob("short_lived_minutes"), Some(&json!(30)));
    assert_eq!(p.knob("max_expiration_minutes"), Some(&json!(600)));
    assert_eq!(
        p.token_services_url.as_ref().map(|f| f.value.as_str()),
        Some(format!("{}/arcgis/tokens/generateToken", server.uri()).as_str())
    );
    assert!(!p.clock_control.value);
    let profile = tessera::target::probe::write_profile(&p);
    assert!(profile.contains("max_expiration_minutes: 600"), "{profile}");
}
