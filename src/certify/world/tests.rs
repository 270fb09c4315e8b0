//! A world on real sockets, driven with reqwest; each test checks what the
//! journal says.

use std::sync::Arc;

use serde_json::Value;

use super::*;
use crate::certify::journal::{Binding, Carrier, Credentials, Place, Presented};
use crate::certify::plan::{UrlPart, UrlTemplate};

const PASSWORD: &str = "alice-secret-1";

fn opts(case: &str, leaks: &Arc<LeakRegistry>) -> WorldOptions {
    WorldOptions::new(case, leaks.clone())
}

async fn start(setup: Setup) -> World {
    World::start(&setup, &opts("c1", &Arc::new(LeakRegistry::new())))
        .await
        .unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

async fn post(c: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = c.post(url).form(form).send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn get(c: &reqwest::Client, url: &str, bearer: Option<&str>) -> (u16, Value) {
    let mut b = c.get(url);
    if let Some(t) = bearer {
        b = b.header("X-Esri-Authorization", format!("Bearer {t}"));
    }
    let r = b.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn portal_token(w: &World, c: &reqwest::Client) -> String {
    let url = format!("{}/generateToken", w.url(Var::Portal));
    let (s, v) = post(
        c,
        &url,
        &[
            ("username", "alice"),
            ("password", PASSWORD),
            ("client", "referer"),
            ("referer", "@esri/arcgis-rest-js"),
            ("f", "json"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["token"].as_str().expect("a token").to_owned()
}

#[tokio::test]
async fn sign_in_is_recorded_without_values_and_the_token_gets_the_case_lifetime() {
    let w = start(Setup {
        token_lifetime_ms: Some(20_000),
        ..Setup::default()
    })
    .await;
    let c = http();
    let t = portal_token(&w, &c).await;
    let self_url = format!("{}/community/self?f=json&token={t}", w.url(Var::Portal));
    let r = c
        .get(&self_url)
        .header("X-Esri-Authorization", format!("Bearer {t}"))
        .header("Cookie", "agstoken=garbage")
        .header("Referer", "@esri/arcgis-rest-js")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let j = w.finish().await;
    let text = serde_json::to_string(&j).unwrap();
    assert!(!text.contains(&t) && !text.contains(PASSWORD), "{text}");

    let gt = &j.entries[0];
    assert_eq!((gt.role, gt.method.as_str()), (Role::Portal, "POST"));
    assert_eq!(gt.path, "/sharing/rest/generateToken");
    assert_eq!(
        gt.credentials,
        Some(Credentials {
            username: Some("alice".into()),
            password: Some(Place::Body)
        })
    );
    assert!(gt.body_keys.contains(&"password".to_string()));
    assert_eq!(gt.issued, Some(TokenId(0)));

    let tok = &j.tokens[0];
    assert_eq!(tok.kind, TokenKind::Portal);
    assert_eq!(tok.user, "alice");
    assert_eq!(tok.scope_origin, j.listeners[0].origin);
    assert_eq!(tok.scope_root, "/sharing/rest");
    assert_eq!(tok.binding, Binding::Referer("@esri/arcgis-rest-js".into()));
    assert_eq!(tok.expires_server_ms - tok.issued_server_ms, 20_000);

    let use_ = &j.entries[1];
    let mut seen = use_.presented.clone();
    seen.sort_by_key(|p| p.carrier);
    assert_eq!(
        seen,
        vec![
            Presented {
                carrier: Carrier::XEsriHeader,
                token: Seen::Issued(TokenId(0))
            },
            Presented {
                carrier: Carrier::Query,
                token: Seen::Issued(TokenId(0))
            },
            Presented {
                carrier: Carrier::Cookie,
                token: Seen::Unknown
            },
        ]
    );
    assert_eq!(use_.referer.as_deref(), Some("@esri/arcgis-rest-js"));
    assert_eq!(use_.credentials, None);
    assert_eq!((use_.status, use_.error_code), (200, None));
    assert!(use_.peer.is_loopback());
}

#[tokio::test]
async fn the_answered_expires_is_the_one_the_store_enforces() {
    let w = start(Setup {
        token_lifetime_ms: Some(1_000),
        ..Setup::default()
    })
    .await;
    let c = http();
    let url = format!(
        "{}/generateToken",
        w.url(Var::Server).replace("/arcgis", "/arcgis/tokens")
    );
    let (_, v) = post(
        &c,
        &url,
        &[
            ("username", "alice"),
            ("password", PASSWORD),
            ("expiration", "600"),
            ("f", "json"),
        ],
    )
    .await;
    let t = v["token"].as_str().unwrap().to_owned();
    let expires = v["expires"].as_i64().unwrap();
    assert!(expires - w.now_server_ms() <= 1_000, "{expires}");
    let svc = format!("{}?f=json", w.url(Var::Service));
    assert_eq!(
        get(&c, &svc, Some(&t)).await.1["error"]["code"],
        Value::Null
    );
    // Server time moves past expiry: the token is refused.
    w.apply(0, &Event::ClockJump { ms: 5_000 }).await.unwrap();
    assert_eq!(get(&c, &svc, Some(&t)).await.1["error"]["code"], 498);
    let j = w.finish().await;
    assert_eq!(j.tokens[0].kind, TokenKind::Server);
    assert_eq!(j.tokens[0].scope_root, "/arcgis");
    assert_eq!(j.events.len(), 1);
    let last = j.entries.last().unwrap();
    assert!(last.server_ms - last.real_ms > j.entries[0].server_ms - j.entries[0].real_ms);
}

#[tokio::test]
async fn the_federated_server_names_the_portal_and_python_can_exchange() {
    let w = start(Setup::default()).await;
    let c = http();
    let (_, info) = get(
        &c,
        &format!("{}/rest/info?f=json", w.url(Var::Federated)),
        None,
    )
    .await;
    let portal = w.url(Var::Origin(Role::Portal));
    assert_eq!(info["owningSystemUrl"], Value::String(portal.clone()));
    assert_eq!(
        info["authInfo"]["tokenServicesUrl"],
        Value::String(format!("{portal}/sharing/rest/generateToken"))
    );
    let (_, sa) = get(
        &c,
        &format!("{}/rest/info?f=json", w.url(Var::Server)),
        None,
    )
    .await;
    assert!(sa.get("owningSystemUrl").is_none(), "{sa}");

    let pt = portal_token(&w, &c).await;
    let fed_origin = w.url(Var::Origin(Role::Federated));
    // What ArcGIS API for Python sends (`_token.py`): the origin alone.
    let r = c
        .post(format!("{}/generateToken", w.url(Var::Portal)))
        .header("Referer", "@esri/arcgis-rest-js")
        .form(&[
            ("token", pt.as_str()),
            ("serverURL", fed_origin.as_str()),
            ("request", "getToken"),
            ("referer", "@esri/arcgis-rest-js"),
            ("f", "json"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let ft = v["token"].as_str().expect("an exchanged token").to_owned();
    let svc = format!(
        "{}/rest/services/SampleWorldCities/MapServer?f=json",
        w.url(Var::Federated)
    );
    let r = c
        .get(&svc)
        .header("X-Esri-Authorization", format!("Bearer {ft}"))
        .header("Referer", "@esri/arcgis-rest-js")
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert!(v.get("error").is_none(), "{v}");
    // Paths outside a role's root are not served there.
    let (s, _) = get(&c, &format!("{fed_origin}/sharing/rest/info?f=json"), None).await;
    assert_eq!(s, 404);
    let j = w.finish().await;
    let ex = &j.tokens[1];
    assert_eq!(ex.kind, TokenKind::Exchanged);
    assert_eq!(ex.from, Some(TokenId(0)));
    assert_eq!(
        (ex.scope_origin.as_str(), ex.scope_root.as_str()),
        (fed_origin.as_str(), "/federated")
    );
    assert_eq!(ex.binding, Binding::Referer("@esri/arcgis-rest-js".into()));
}

#[tokio::test]
async fn an_injected_498_arrives_in_each_envelope_once() {
    let w = start(Setup::default()).await;
    let c = http();
    let svc = format!("{}?f=json", w.url(Var::Service));
    let cases = [
        (Envelope::Server200, 200, "Invalid Token"),
        (Envelope::Portal200, 200, "Invalid token."),
        (Envelope::Http401, 401, "Token Invalid."),
        (Envelope::Http403, 403, "Token Invalid."),
    ];
    for (i, (envelope, status, message)) in cases.into_iter().enumerate() {
        let ev = Event::Inject {
            role: Role::Server,
            path_suffix: "/MapServer".into(),
            code: 498,
            envelope,
            times: 1,
            retry_after_s: None,
        };
        w.apply(i, &ev).await.unwrap();
        let (s, v) = get(&c, &svc, None).await;
        assert_eq!(
            (s, &v["error"]["code"]),
            (status, &Value::from(498)),
            "{envelope:?}"
        );
        assert_eq!(v["error"]["message"], message);
        // Used up: the reference answers again (499, no token).
        let (s, v) = get(&c, &svc, None).await;
        assert_eq!((s, &v["error"]["code"]), (200, &Value::from(499)));
    }
    let ev = Event::Inject {
        role: Role::Server,
        path_suffix: "/generateToken".into(),
        code: 429,
        envelope: Envelope::Status,
        times: 2,
        retry_after_s: Some(7),
    };
    w.apply(9, &ev).await.unwrap();
    let url = format!("{}/tokens/generateToken", w.url(Var::Server));
    let r = c.post(&url).form(&[("f", "json")]).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let j = w.finish().await;
    let injected: Vec<_> = j.entries.iter().filter(|e| e.injected).collect();
    assert_eq!(injected.len(), 5);
    assert!(injected[..4].iter().all(|e| e.error_code == Some(498)));
    assert_eq!(j.entries.iter().filter(|e| !e.injected).count(), 4);
    assert_eq!(j.events.len(), 5);
}

#[tokio::test]
async fn revocation_and_a_password_change_end_tokens_and_old_passwords() {
    let w = start(Setup::default()).await;
    let c = http();
    let pt = portal_token(&w, &c).await;
    let me = format!("{}/community/self?f=json", w.url(Var::Portal));
    let ok = |v: &Value| v.get("error").is_none();
    let r = c
        .get(&me)
        .header("X-Esri-Authorization", format!("Bearer {pt}"))
        .header("Referer", "@esri/arcgis-rest-js")
        .send()
        .await
        .unwrap();
    assert!(ok(&r.json().await.unwrap()));
    w.apply(1, &Event::Revoke(Revoke::User("alice".into())))
        .await
        .unwrap();
    let r = c
        .get(&me)
        .header("X-Esri-Authorization", format!("Bearer {pt}"))
        .header("Referer", "@esri/arcgis-rest-js")
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], 498);
    w.apply(
        2,
        &Event::PasswordChange {
            user: "alice".into(),
        },
    )
    .await
    .unwrap();
    let (_, v) = post(
        &c,
        &format!("{}/generateToken", w.url(Var::Portal)),
        &[("username", "alice"), ("password", PASSWORD), ("f", "json")],
    )
    .await;
    assert_eq!(v["error"]["code"], 400);
    let j = w.finish().await;
    assert!(j.tokens[0].revoked_real_ms.is_some());
    assert_eq!(j.tokens.len(), 1);
}

#[tokio::test]
async fn the_foreign_origin_plays_an_attacker_with_its_own_token_service() {
    let w = start(Setup::default()).await;
    let c = http();
    let foreign = w.url(Var::Origin(Role::Foreign));
    let (_, info) = get(&c, &format!("{foreign}/arcgis/rest/info?f=json"), None).await;
    assert!(info.get("owningSystemUrl").is_none());
    let tsu = info["authInfo"]["tokenServicesUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(tsu, format!("{foreign}/arcgis/tokens/generateToken"));
    // An attacker claims the portal (a regex that matches it, CL-6).
    let claim = UrlTemplate(vec![
        UrlPart::Var(Var::Origin(Role::Foreign)),
        UrlPart::Text("/e|127".into()),
    ]);
    w.apply(
        0,
        &Event::AdvertiseOwningSystem {
            role: Role::Foreign,
            value: claim,
        },
    )
    .await
    .unwrap();
    let (_, info) = get(&c, &format!("{foreign}/arcgis/rest/info?f=json"), None).await;
    assert_eq!(
        info["owningSystemUrl"],
        Value::String(format!("{foreign}/e|127"))
    );
    // A client that falls for it hands over its portal token.
    let pt = portal_token(&w, &c).await;
    let (s, v) = post(
        &c,
        &tsu,
        &[("token", pt.as_str()), ("serverUrl", "x"), ("f", "json")],
    )
    .await;
    assert_eq!(s, 200);
    let stolen = v["token"].as_str().unwrap().to_owned();
    let svc = format!("{foreign}/arcgis/rest/services/X/MapServer?f=json");
    assert_eq!(get(&c, &svc, None).await.1["error"]["code"], 499);
    assert!(get(&c, &svc, Some(&stolen)).await.1.get("error").is_none());
    let j = w.finish().await;
    let f = &j.tokens[1];
    assert_eq!((f.kind, f.from), (TokenKind::Foreign, Some(TokenId(0))));
    assert_eq!(f.scope_origin, foreign);
    let handed = j
        .entries
        .iter()
        .find(|e| e.issued == Some(TokenId(1)))
        .unwrap();
    assert_eq!(handed.role, Role::Foreign);
    assert_eq!(handed.presented[0].token, Seen::Issued(TokenId(0)));
    assert_eq!(
        j.entries.last().unwrap().presented[0].token,
        Seen::Issued(TokenId(1))
    );
}

#[tokio::test]
async fn a_token_url_advertised_elsewhere_is_what_the_home_server_says() {
    let w = start(Setup::default()).await;
    let c = http();
    let steal = UrlTemplate(vec![
        UrlPart::Var(Var::Origin(Role::Foreign)),
        UrlPart::Text("/steal".into()),
    ]);
    w.apply(
        0,
        &Event::AdvertiseTokenUrl {
            role: Role::Server,
            url: steal,
        },
    )
    .await
    .unwrap();
    let (_, info) = get(
        &c,
        &format!("{}/rest/info?f=json", w.url(Var::Server)),
        None,
    )
    .await;
    assert_eq!(
        info["authInfo"]["tokenServicesUrl"],
        Value::String(format!("{}/steal", w.url(Var::Origin(Role::Foreign))))
    );
    w.apply(1, &Event::DeclareAllSsl).await.unwrap();
    let (_, me) = get(
        &c,
        &format!("{}/portals/self?f=json", w.url(Var::Portal)),
        None,
    )
    .await;
    assert_eq!(me["allSSL"], true);
    // `Wait` waits.
    let before = w.now_real_ms();
    w.apply(2, &Event::Wait { ms: 50 }).await.unwrap();
    assert!(w.now_real_ms() - before >= 50);
    let j = w.finish().await;
    let steps: Vec<usize> = j.events.iter().map(|a| a.step).collect();
    assert_eq!(steps, vec![0, 1, 2]);
}

#[tokio::test]
async fn tokens_of_another_case_are_leaks_and_redaction_labels_tokens() {
    let leaks = Arc::new(LeakRegistry::new());
    let a = World::start(&Setup::default(), &opts("a", &leaks))
        .await
        .unwrap();
    let b = World::start(&Setup::default(), &opts("b", &leaks))
        .await
        .unwrap();
    let c = http();
    let ta = portal_token(&a, &c).await;
    get(
        &c,
        &format!("{}/community/self?f=json", b.url(Var::Portal)),
        Some(&ta),
    )
    .await;
    let line = format!("signed in with {ta} and password={PASSWORD}");
    assert_eq!(a.redact(&line), "signed in with T1 and password=***");
    assert_eq!(b.redact("nothing"), "nothing");
    let jb = b.finish().await;
    assert_eq!(jb.entries[0].presented[0].token, Seen::OtherCase);
    assert_eq!(jb.entries[0].error_code, Some(498));
    a.finish().await;
}

#[tokio::test]
async fn the_environment_names_every_listener_and_resolves_extra_urls() {
    let w = start(Setup {
        extra_urls: vec![UrlTemplate(vec![
            UrlPart::Var(Var::Origin(Role::Foreign)),
            UrlPart::Text("/x".into()),
        ])],
        ..Setup::default()
    })
    .await;
    let e = w.env("c1", 42);
    assert_eq!(
        e.portal_url,
        format!("{}/sharing/rest", w.listeners()[0].origin)
    );
    assert!(
        e.service_url
            .ends_with("/arcgis/rest/services/SampleWorldCities/MapServer")
    );
    assert!(
        e.session_url
            .ends_with("/arcgis/rest/services/styles/v2/sessions/start")
    );
    assert_eq!(
        e.context["extra_urls"][0],
        Value::String(format!("{}/x", w.url(Var::Origin(Role::Foreign))))
    );
    assert_eq!(
        (e.username.as_str(), e.password.as_str()),
        ("alice", PASSWORD)
    );
    assert_eq!(e.ca_file, None);
    assert_eq!(w.listeners().len(), 4);
    w.finish().await;
}

#[tokio::test]
async fn sessions_are_registered_with_the_access_token_they_came_from() {
    let w = start(Setup::default()).await;
    let c = http();
    let gt = format!("{}/tokens/generateToken", w.url(Var::Server));
    let creds = [("username", "alice"), ("password", PASSWORD), ("f", "json")];
    let at = post(&c, &gt, &creds).await.1["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let start_url = format!(
        "{}?f=json&durationSeconds=10&styleFamily=arcgis",
        w.url(Var::Session)
    );
    let v = get(&c, &start_url, Some(&at)).await.1;
    let st = v["sessionToken"].as_str().expect("a session").to_owned();
    // The styles live beside the session service, on the server root.
    let style = format!(
        "{}/rest/services/styles/v2/styles/arcgis/navigation?f=json&token={st}",
        w.url(Var::Server)
    );
    assert_eq!(get(&c, &style, None).await.0, 200);
    let refuse = |family: &str| Event::SessionScopeRefuse {
        family: family.into(),
    };
    w.apply(1, &refuse("open")).await.unwrap();
    assert_eq!(get(&c, &style, None).await.0, 200);
    w.apply(2, &refuse("arcgis")).await.unwrap();
    assert_eq!(get(&c, &style, None).await.0, 403);
    let j = w.finish().await;
    let s = &j.tokens[1];
    assert_eq!(
        (s.kind, s.from, s.user.as_str()),
        (TokenKind::Session, Some(TokenId(0)), "alice")
    );
    assert_eq!(s.scope_root, "/arcgis");
    assert_eq!(s.expires_server_ms - s.issued_server_ms, 10_000);
    let injected: Vec<bool> = j.entries.iter().map(|e| e.injected).collect();
    assert_eq!(injected, vec![false, false, false, false, true]);
}

#[tokio::test]
async fn every_port_speaks_both_schemes_and_ssl_declarations_refuse_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let tls = Arc::new(RunTls::generate(dir.path()).unwrap());
    let mut o = opts("tls", &Arc::new(LeakRegistry::new()));
    o.tls = Some(tls.clone());
    let setup = Setup {
        https: vec![Role::Portal],
        untrusted: vec![Role::Foreign],
        ..Setup::default()
    };
    let w = World::start(&setup, &o).await.unwrap();
    assert!(w.url(Var::Portal).starts_with("https://"));
    assert!(w.url(Var::Server).starts_with("http://"));
    assert!(w.listeners()[3].untrusted);
    let pem = std::fs::read(tls.ca_file()).unwrap();
    let c = reqwest::Client::builder()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
        .build()
        .unwrap();
    w.apply(0, &Event::DeclareSsl).await.unwrap();
    let gt = format!("{}/tokens/generateToken", w.url(Var::Server));
    let creds = [("username", "alice"), ("password", PASSWORD), ("f", "json")];
    // Over plain HTTP the credentials are refused once HTTPS-only is declared.
    assert_eq!(post(&c, &gt, &creds).await.0, 403);
    // The same port over TLS: a token that says `ssl: true`.
    let (s, v) = post(&c, &gt.replace("http://", "https://"), &creds).await;
    assert_eq!((s, &v["ssl"]), (200, &Value::Bool(true)), "{v}");
    let t = v["token"].as_str().unwrap().to_owned();
    let svc = format!("{}?f=json", w.url(Var::Service));
    assert_eq!(get(&c, &svc, Some(&t)).await.0, 403);
    let (s, v) = get(&c, &svc.replace("http://", "https://"), Some(&t)).await;
    assert!(s == 200 && v.get("error").is_none(), "{v}");
    // The foreign listener's certificate is not the run's.
    let foreign = format!("{}/rest/info", w.url(Var::Origin(Role::Foreign)));
    assert!(c.get(&foreign).send().await.is_err());
    let e = w.env("tls", 0);
    assert_eq!(e.ca_file.as_deref(), Some(tls.ca_file().to_str().unwrap()));
    let j = w.finish().await;
    let schemes: Vec<Scheme> = j.entries.iter().map(|e| e.scheme).collect();
    assert_eq!(
        schemes,
        vec![Scheme::Http, Scheme::Https, Scheme::Http, Scheme::Https]
    );
    assert!(j.entries[0].injected && j.entries[2].injected);
}

#[test]
fn a_world_and_its_finish_can_move_between_tasks() {
    fn send<T: Send>(_: &T) {}
    fn finish_is_send(w: World) {
        let f = w.finish();
        send(&f);
    }
    let _ = finish_is_send as fn(World);
    fn is_send<T: Send + Sync>() {}
    is_send::<World>();
}

#[tokio::test]
async fn the_server_clock_starts_at_the_case_offset_and_events_move_it() {
    let w = start(Setup {
        clock_offset_ms: -300_000,
        ..Setup::default()
    })
    .await;
    let skew = |w: &World| w.now_server_ms() - SystemClock.now_ms();
    assert!((-300_500..=-299_500).contains(&skew(&w)), "{}", skew(&w));
    w.apply(0, &Event::ClockOffset { ms: 60_000 })
        .await
        .unwrap();
    assert!((59_500..=60_500).contains(&skew(&w)), "{}", skew(&w));
    w.apply(1, &Event::ClockJump { ms: 1_000 }).await.unwrap();
    assert!((60_500..=61_500).contains(&skew(&w)), "{}", skew(&w));
    let c = http();
    get(&c, &format!("{}/info?f=json", w.url(Var::Portal)), None).await;
    let j = w.finish().await;
    assert_eq!(j.start_offset_ms, -300_000);
    let e = &j.entries[0];
    assert_eq!((e.status, e.role), (200, Role::Portal));
    assert!(e.server_ms > SystemClock.now_ms() + 59_000);
}
