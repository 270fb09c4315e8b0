//! One test per rule of semantics.md, through the router on a virtual clock
//! with fake peer addresses. Deviation tests live in `deviation_tests`,
//! variant tests in `variant_tests`.

use axum::http::StatusCode;
use serde_json::json;

use super::testkit::*;

mod deviation_tests;
mod variant_tests;

// ---------------------------------------------------------------- TS

#[tokio::test]
async fn ts_1_generate_token_parameters_and_default_html() {
    let k = Kit::new();
    let r = k
        .send(Req::post(GT, "username=alice&password=alice-secret-1"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let r = k
        .generate(
            ALICE,
            "&client=referer&referer=https://a.example&expiration=5",
        )
        .await;
    assert!(r.ok(), "{}", r.text);
}

#[tokio::test]
async fn ts_2_success_shape_and_url_safe_token() {
    let k = Kit::new();
    let v = k.generate(ALICE, "").await.json();
    let t = v["token"].as_str().unwrap();
    assert!((64..=256).contains(&t.len()));
    assert!(!t.contains(['+', '/', '=']));
    assert!(v["expires"].is_i64());
    // A stand-alone Server answers {token, expires} [AT-30]; Portal adds ssl [AT-29].
    assert_eq!(v.as_object().unwrap().len(), 2);
    assert_ne!(t, k.token(ALICE).await);
    let v = k.generate_portal(ALICE, "").await.json();
    assert_eq!(v["ssl"], json!(false));
    let pt = v["token"].as_str().unwrap();
    assert!(pt.ends_with('.') && pt.len() == 65, "{pt}");
    assert_eq!(v.as_object().unwrap().len(), 3);
}

#[tokio::test]
async fn ts_3_bad_credentials_are_case_sensitive() {
    let k = Kit::new();
    for (u, p) in [
        ("alice", "wrong"),
        ("Alice", "alice-secret-1"),
        ("alice", "ALICE-SECRET-1"),
        ("zed", "x"),
    ] {
        let r = k.generate((u, p), "").await;
        assert_eq!(r.status, StatusCode::OK);
        let v = r.json();
        assert_eq!(v["error"]["code"], 400);
        assert_eq!(v["error"]["message"], "Unable to generate token.");
        assert_eq!(v["error"]["details"][0], "Invalid username or password.");
    }
}

#[tokio::test]
async fn ts_4_get_and_query_credentials_refused_unless_knobs() {
    let k = Kit::new();
    let q = "username=alice&password=alice-secret-1&f=json";
    // Code 405 is the reference's TS-4 variant (variant_tests has both).
    assert_eq!(
        k.send(Req::get(&format!("{GT}?{q}"))).await.code(),
        Some(405)
    );
    assert_eq!(
        k.send(Req::post(&format!("{GT}?{q}"), "")).await.code(),
        Some(405)
    );
    assert_eq!(
        k.send(Req::get(&format!("{PGT}?{q}"))).await.code(),
        Some(405)
    );
    let k = Kit::knob("allow_http_get", json!(true));
    assert!(k.send(Req::get(&format!("{GT}?{q}"))).await.ok());
    let k = Kit::knob("allow_post_query_params", json!(true));
    assert!(k.send(Req::post(&format!("{GT}?{q}"), "")).await.ok());
}

#[tokio::test]
async fn ts_5_client_without_its_value_or_unknown() {
    let k = Kit::new();
    // A missing value is code 201 (the reference's TS-5 variant); an
    // unknown client value is refused with 400.
    for (extra, code) in [
        ("&client=ip", 201),
        ("&client=referer", 201),
        ("&client=bogus", 400),
        ("&client=ip&ip=", 201),
    ] {
        let r = k.generate(ALICE, extra).await;
        assert_eq!(r.code(), Some(code), "{extra}");
        assert!(r.json().get("token").is_none());
    }
}

#[tokio::test]
async fn ts_6_formats_and_200_wrapped_errors() {
    let k = Kit::new();
    let r = k
        .send(Req::post(GT, "username=alice&password=x&f=pjson"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains('\n'));
    assert_eq!(r.code(), Some(400));
    let r = k
        .send(Req::get(&format!("{SECURED}?f=json&token=nope")))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::OK, Some(498)));
}

#[tokio::test]
async fn ts_7_info_advertises_token_service_from_host() {
    let k = Kit::new();
    let v = k.send(Req::get("/arcgis/rest/info?f=json")).await.json();
    assert_eq!(v["authInfo"]["isTokenBasedSecurity"], true);
    assert_eq!(
        v["authInfo"]["tokenServicesUrl"],
        "http://ref.test:8080/arcgis/tokens/"
    );
    assert_eq!(v["authInfo"]["shortLivedTokenValidity"], 60);
    // The advertised root and generateToken both issue tokens.
    for path in ["/arcgis/tokens/", "/arcgis/tokens", GT] {
        let r = k
            .send(Req::post(
                path,
                "username=alice&password=alice-secret-1&client=requestip&f=json",
            ))
            .await;
        assert!(r.json()["token"].is_string(), "{path}: {}", r.text);
    }
    assert!(v.get("owningSystemUrl").is_none());
    let v = k.send(Req::get("/federated/rest/info?f=json")).await.json();
    assert_eq!(v["owningSystemUrl"], "http://ref.test:8080");
    assert_eq!(
        v["authInfo"]["tokenServicesUrl"],
        "http://ref.test:8080/sharing/rest/generateToken"
    );
}

#[tokio::test]
async fn ts_8_token_exchange_on_both_services() {
    let k = Kit::new();
    // Portal token -> federated server token.
    let p = k
        .send(Req::post(
            PGT,
            "username=alice&password=alice-secret-1&f=json&expiration=30",
        ))
        .await
        .json();
    let pt = p["token"].as_str().unwrap();
    let fed = "/federated/rest/services/SampleWorldCities/MapServer";
    let form = format!("token={pt}&serverUrl=http://ref.test:8080/federated&f=json&expiration=600");
    let e = k.send(Req::post(PGT, &form)).await.json();
    let et = e["token"].as_str().unwrap();
    assert_ne!(et, pt);
    assert!(e["expires"].as_i64().unwrap() <= p["expires"].as_i64().unwrap());
    let r = k.send(Req::get(&format!("{fed}?f=json&token={et}"))).await;
    assert!(r.ok(), "{}", r.text);
    // Stand-alone server exchange (arcgis-rest-js server mode).
    let st = k.token(ALICE).await;
    let form = format!("token={st}&serverUrl=http://ref.test:8080/arcgis/rest/services/X&f=json");
    let e = k.send(Req::post(GT, &form)).await.json();
    assert!(k.use_token(e["token"].as_str().unwrap()).await.ok());
    // Expired or unknown source: 498.
    let r = k
        .send(Req::post(GT, "token=nope-nope-nope-nope-nope&f=json"))
        .await;
    assert_eq!(r.code(), Some(498));
    k.advance(60 * MIN);
    let r = k.send(Req::post(GT, &format!("token={st}&f=json"))).await;
    assert_eq!(r.code(), Some(498));
}

#[tokio::test]
async fn ts_8_exchange_accepts_python_spelling() {
    // ArcGIS API for Python sends `serverURL` and `request=getToken` (issue 15).
    let k = Kit::new();
    let p = k.generate_portal(ALICE, "&client=requestip").await.json();
    let pt = p["token"].as_str().unwrap();
    let form = format!(
        "token={pt}&serverURL=http://ref.test:8080/federated/rest/services&request=getToken&f=json"
    );
    let e = k.send(Req::post(PGT, &form)).await.json();
    let et = e["token"].as_str().unwrap();
    let fed = "/federated/rest/services/SampleWorldCities/MapServer";
    assert!(
        k.send(Req::get(&format!("{fed}?f=json&token={et}")))
            .await
            .ok()
    );
    // `serverURL` outside the Portal's servers is refused like `serverUrl`.
    let form = format!("token={pt}&serverURL=http://ref.test:8080/arcgis&f=json");
    assert_eq!(k.send(Req::post(PGT, &form)).await.code(), Some(400));
}

#[tokio::test]
async fn ts_8_client_mode_knows_a_server_by_its_origin_alone() {
    // ArcGIS API for Python's federated exchange names the server by
    // `scheme://host:port` only (`serverURL`, `request=getToken`); in client
    // mode each server root has an origin of its own.
    let k = Kit::new();
    k.st.set_client_mode(super::state::ClientMode {
        servers: vec![
            ("fed.test:9001".into(), "/federated".into()),
            ("srv.test:9002".into(), "/arcgis".into()),
        ],
    });
    let p = k.generate_portal(ALICE, "").await.json();
    let pt = p["token"].as_str().unwrap();
    let form =
        format!("token={pt}&serverURL=http://FED.test:9001&request=getToken&referer=http&f=json");
    let e = k.send(Req::post(PGT, &form)).await.json();
    let et = e["token"].as_str().expect("an exchanged token");
    let fed = "/federated/rest/services/SampleWorldCities/MapServer";
    assert!(
        k.send(Req::get(&format!("{fed}?f=json&token={et}")))
            .await
            .ok()
    );
    // A full URL on that origin is judged by its path, as before.
    let form = format!("token={pt}&serverUrl=http://fed.test:9001/federated&f=json");
    assert!(k.send(Req::post(PGT, &form)).await.ok());
    // The stand-alone server is not the Portal's; an unknown origin is
    // refused even with a federated-looking path.
    for url in [
        "http://srv.test:9002",
        "http://evil.test:9003/federated",
        "http://ref.test:8080/federated",
    ] {
        let form = format!("token={pt}&serverUrl={url}&f=json");
        assert_eq!(
            k.send(Req::post(PGT, &form)).await.code(),
            Some(400),
            "{url}"
        );
    }
}

#[tokio::test]
async fn invalid_token_text_per_product() {
    // semantics.md "Client compatibility": Server, Portal, location service.
    let k = Kit::new();
    let msg = |r: Resp| r.json()["error"]["message"].as_str().unwrap().to_owned();
    let r = k
        .send(Req::get(&format!("{SECURED}?f=json&token=nope")))
        .await;
    assert_eq!(msg(r), "Invalid Token");
    let r = k
        .send(Req::get("/sharing/rest/community/self?f=json&token=nope"))
        .await;
    assert_eq!(msg(r), "Invalid token.");
    let r = k.send(Req::post(PGT, "token=nope-nope&f=json")).await;
    assert_eq!(msg(r), "Invalid token.");
    let r = k
        .send(Req::get(&format!("{STYLE_ARCGIS}?f=json&token=nope")))
        .await;
    assert_eq!(msg(r), "Token Invalid.");
}

// ---------------------------------------------------------------- LT

#[tokio::test]
async fn lt_1_default_lifetimes() {
    let k = Kit::new();
    assert_eq!(k.generate(ALICE, "").await.json()["expires"], T0 + 60 * MIN);
    assert_eq!(
        k.generate(ALICE, "&expiration=").await.json()["expires"],
        T0 + 60 * MIN
    );
    let p = k
        .send(Req::post(
            PGT,
            "username=alice&password=alice-secret-1&f=json",
        ))
        .await;
    assert_eq!(p.json()["expires"], T0 + 120 * MIN);
}

#[tokio::test]
async fn lt_2_expiration_honoured_exactly() {
    let k = Kit::new();
    assert_eq!(
        k.generate(ALICE, "&expiration=5").await.json()["expires"],
        T0 + 5 * MIN
    );
    assert_eq!(
        k.generate(ALICE, "&expiration=1440").await.json()["expires"],
        T0 + 1440 * MIN
    );
}

#[tokio::test]
async fn lt_3_expiration_clamped() {
    let k = Kit::new();
    assert_eq!(
        k.generate(ALICE, "&expiration=99999").await.json()["expires"],
        T0 + 1440 * MIN
    );
    let p = k
        .send(Req::post(
            PGT,
            "username=alice&password=alice-secret-1&f=json&expiration=99999",
        ))
        .await;
    assert_eq!(p.json()["expires"], T0 + 20160 * MIN);
}

#[tokio::test]
async fn lt_4_bad_expiration_refused() {
    let k = Kit::new();
    for e in ["0", "-5", "1.5", "abc"] {
        assert_eq!(
            k.generate(ALICE, &format!("&expiration={e}")).await.code(),
            Some(400),
            "{e}"
        );
    }
}

#[tokio::test]
async fn lt_5_invalid_at_the_expiry_instant() {
    let k = Kit::new();
    let t = k.token_with(ALICE, "&expiration=5").await;
    k.advance(5 * MIN - 1);
    assert!(k.use_token(&t).await.ok());
    k.advance(1);
    assert_eq!(k.use_token(&t).await.code(), Some(498));
}

#[tokio::test]
async fn lt_6_no_sliding_expiry() {
    let k = Kit::new();
    let t = k.token_with(ALICE, "&expiration=5").await;
    for _ in 0..4 {
        k.advance(MIN);
        assert!(k.use_token(&t).await.ok());
    }
    k.advance(MIN);
    assert_eq!(k.use_token(&t).await.code(), Some(498));
}

#[tokio::test]
async fn lt_7_arcweb_tout() {
    let k = Kit::new();
    let t = k
        .arcweb("actn=getToken&usr=alice&pswd=alice-secret-1")
        .await
        .text;
    k.advance(60 * MIN - 1);
    assert!(k.arcweb(&format!("actn=getMap&tkn={t}")).await.status == StatusCode::OK);
    k.advance(1);
    assert_eq!(
        k.arcweb(&format!("actn=getMap&tkn={t}")).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let t = k
        .arcweb("actn=getToken&usr=alice&pswd=alice-secret-1&tout=5000")
        .await
        .text;
    k.advance(1440 * MIN);
    assert_eq!(
        k.arcweb(&format!("actn=getMap&tkn={t}")).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    for bad in ["0", "-1", "2.5", "x"] {
        let r = k
            .arcweb(&format!(
                "actn=getToken&usr=alice&pswd=alice-secret-1&tout={bad}"
            ))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{bad}");
    }
}

#[tokio::test]
async fn lt_7a_arcweb_answers() {
    let k = Kit::new();
    let r = k
        .arcweb("actn=getToken&usr=alice&pswd=alice-secret-1")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(r.text.len(), 72);
    let post = k
        .send(Req::post(
            ARCWEB,
            "actn=getUserID&usr=alice&pswd=alice-secret-1",
        ))
        .await;
    assert_eq!(post.status, StatusCode::OK);
    for (q, why) in [
        ("actn=getMap".to_owned(), "No token or userid supplied"),
        ("actn=getMap&usrid=nope".to_owned(), "Invalid userid"),
        ("actn=getMap&tkn=short".to_owned(), "Wrong token format"),
        (
            "actn=getToken&usr=alice&pswd=bad".to_owned(),
            "Invalid username or password",
        ),
        (format!("actn=getMap&tkn={}", r.text), ""),
    ] {
        let resp = if why.is_empty() {
            k.send(Req::get(&format!("{ARCWEB}?{q}")).peer("10.9.9.9"))
                .await
        } else {
            k.arcweb(&q).await
        };
        assert_eq!(resp.status, StatusCode::FORBIDDEN, "{q}");
        assert!(
            resp.text
                .contains(if why.is_empty() { "Wrong address" } else { why })
        );
    }
    k.advance(60 * MIN);
    let e = k.arcweb(&format!("actn=getMap&tkn={}", r.text)).await;
    assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(e.text.contains("1021: Token has expired."));
}

#[tokio::test]
async fn lt_8_user_ids_never_expire_one_per_account_not_bound() {
    let k = Kit::new();
    let a = k
        .arcweb("actn=getUserID&usr=alice&pswd=alice-secret-1")
        .await
        .text;
    let b = k
        .arcweb("actn=getUserID&usr=alice&pswd=alice-secret-1")
        .await
        .text;
    assert_eq!(a, b);
    let bob = k
        .arcweb("actn=getUserID&usr=bob&pswd=bob-secret-2")
        .await
        .text;
    assert_ne!(a, bob);
    k.advance(400 * 24 * 60 * MIN);
    let r = k
        .send(Req::get(&format!("{ARCWEB}?actn=getMap&usrid={a}")).peer("10.1.2.3"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn lt_9_password_change_retires_tokens_not_sessions() {
    let k = Kit::new();
    let t = k.token(ALICE).await;
    let s = k.session(&t, "").await;
    let aw = k
        .arcweb("actn=getToken&usr=alice&pswd=alice-secret-1")
        .await
        .text;
    let id = k
        .arcweb("actn=getUserID&usr=alice&pswd=alice-secret-1")
        .await
        .text;
    let bob = k.token(BOB).await;
    k.set_password("alice", "new-pass").await;
    assert_eq!(k.use_token(&t).await.code(), Some(498));
    assert_eq!(
        k.arcweb(&format!("actn=getMap&tkn={aw}")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        k.arcweb(&format!("actn=getMap&usrid={id}")).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(k.use_token(&bob).await.ok());
    let r = k.send(Req::get(&format!("{STYLE_ARCGIS}?token={s}"))).await;
    assert!(r.ok(), "{}", r.text);
    assert!(k.token_with(("alice", "new-pass"), "").await.len() >= 64);
    let id2 = k
        .arcweb("actn=getUserID&usr=alice&pswd=new-pass")
        .await
        .text;
    assert_ne!(id, id2);
}

// ---------------------------------------------------------------- RN

#[tokio::test]
async fn rn_1_renew_extends_same_token_same_binding() {
    let k = Kit::new();
    let t = k.arcweb_token("").await;
    k.advance(30 * MIN);
    let r = k.arcweb(&format!("actn=renewToken&tkn={t}")).await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::OK, t.as_str()));
    k.advance(60 * MIN - 1);
    assert_eq!(
        k.arcweb(&format!("actn=getMap&tkn={t}")).await.status,
        StatusCode::OK
    );
    let other = k
        .send(Req::get(&format!("{ARCWEB}?actn=getMap&tkn={t}")).peer("10.0.0.9"))
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    k.advance(1);
    assert_eq!(
        k.arcweb(&format!("actn=getMap&tkn={t}")).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn rn_2_renewing_expired_or_unknown_fails() {
    let k = Kit::new();
    let t = k.arcweb_token("&tout=1").await;
    k.advance(MIN);
    let r = k.arcweb(&format!("actn=renewToken&tkn={t}")).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.text.contains("1021"));
    assert_eq!(
        k.arcweb(&format!("actn=getMap&tkn={t}")).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let unknown = "A".repeat(72);
    assert_eq!(
        k.arcweb(&format!("actn=renewToken&tkn={unknown}"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        k.arcweb("actn=renewToken&tkn=bad").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn rn_3_renewal_never_shortens() {
    let k = Kit::new();
    let t = k.arcweb_token("&tout=600").await;
    assert_eq!(
        k.arcweb(&format!("actn=renewToken&tkn={t}")).await.status,
        StatusCode::OK
    );
    k.advance(600 * MIN - 1);
    assert_eq!(
        k.arcweb(&format!("actn=getMap&tkn={t}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn rn_4_regenerate_gives_distinct_token_old_stays_valid() {
    let k = Kit::new();
    let a = k.token_with(ALICE, "&expiration=10").await;
    k.advance(5 * MIN);
    let b = k.token(ALICE).await;
    assert_ne!(a, b);
    assert!(k.use_token(&a).await.ok());
    k.advance(5 * MIN);
    assert_eq!(k.use_token(&a).await.code(), Some(498));
    assert!(k.use_token(&b).await.ok());
}

#[tokio::test]
async fn rn_5_sessions_are_not_extended_new_one_from_access_token() {
    let k = Kit::new();
    let t = k.token_with(ALICE, "&expiration=1440").await;
    let s = k.session(&t, "&durationSeconds=60").await;
    k.advance(59_000);
    let s2 = k.session(&t, "&durationSeconds=60").await;
    k.advance(1_000);
    let style = |s: &str| format!("{STYLE_ARCGIS}?token={s}");
    assert_eq!(k.send(Req::get(&style(&s))).await.code(), Some(498));
    assert!(k.send(Req::get(&style(&s2))).await.ok());
}

#[tokio::test]
async fn rn_6_regenerated_token_works_at_once() {
    let k = Kit::new();
    let t = k.token_with(ALICE, "&expiration=1").await;
    k.advance(MIN);
    assert_eq!(k.use_token(&t).await.code(), Some(498));
    let t2 = k.token_with(ALICE, "&expiration=1").await;
    assert!(k.use_token(&t2).await.ok());
}

// ---------------------------------------------------------------- HP

#[tokio::test]
async fn hp_1_every_carrier_works() {
    let k = Kit::new();
    let t = k.token(ALICE).await;
    let u = format!("{SECURED}?f=json");
    for r in [
        Req::get(&u).header("X-Esri-Authorization", &format!("Bearer {t}")),
        Req::get(&u).header("Authorization", &format!("Bearer {t}")),
        Req::get(&format!("{u}&token={t}")),
        Req::post(&u, &format!("token={t}")),
        Req::get(&u).header("Cookie", &format!("a=b; agstoken={t}")),
    ] {
        let resp = k.send(r).await;
        assert!(resp.ok(), "{}", resp.text);
    }
}

#[tokio::test]
async fn hp_2_precedence_order() {
    let k = Kit::new();
    let t = k.token(ALICE).await;
    let u = format!("{SECURED}?f=json");
    // The higher carrier holds garbage: the answer is 498, showing it won.
    let bad = "x".repeat(64);
    let cases = [
        Req::post(&format!("{u}&token={t}"), &format!("token={t}"))
            .header("X-Esri-Authorization", &format!("Bearer {bad}"))
            .header("Authorization", &format!("Bearer {t}")),
        Req::get(&format!("{u}&token={t}")).header("Authorization", &format!("Bearer {bad}")),
        Req::post(&format!("{u}&token={bad}"), &format!("token={t}")),
        Req::post(&u, &format!("token={bad}")).header("Cookie", &format!("agstoken={t}")),
    ];
    for r in cases {
        assert_eq!(k.send(r).await.code(), Some(498));
    }
}

#[tokio::test]
async fn hp_3_no_fallback_after_invalid_winner() {
    let k = Kit::new();
    let t = k.token(ALICE).await;
    let r = Req::get(&format!("{SECURED}?f=json&token=invalid-token-value-0000"))
        .header("Cookie", &format!("agstoken={t}"));
    assert_eq!(k.send(r).await.code(), Some(498));
}

#[tokio::test]
async fn hp_4_non_bearer_and_empty_bearer_ignored_case_insensitive() {
    let k = Kit::new();
    let t = k.token(ALICE).await;
    let u = format!("{SECURED}?f=json&token={t}");
    for v in ["Basic YWxpY2U6eA==", "Negotiate abc", "Bearer ", "Bearer"] {
        assert!(
            k.send(Req::get(&u).header("Authorization", v)).await.ok(),
            "{v}"
        );
    }
    let r = Req::get(&format!("{SECURED}?f=json")).header("authorization", &format!("bEARER {t}"));
    assert!(k.send(r).await.ok());
    let r = Req::get(&format!("{SECURED}?f=json")).header("Authorization", &format!("Basic {t}"));
    assert_eq!(k.send(r).await.code(), Some(499));
}

#[tokio::test]
async fn hp_5_web_tier_auth_owns_authorization() {
    let k = Kit::knob("web_tier_auth", json!(true));
    let t = k.token(ALICE).await;
    let r = Req::get(&format!("{SECURED}?f=json")).header("Authorization", &format!("Bearer {t}"));
    assert_eq!(k.send(r).await.code(), Some(499));
    let r =
        Req::get(&format!("{SECURED}?f=json&token={t}")).header("Authorization", "Bearer garbage");
    assert!(k.send(r).await.ok());
    let r = Req::get(&format!("{SECURED}?f=json"))
        .header("X-Esri-Authorization", &format!("Bearer {t}"));
    assert!(k.send(r).await.ok());
}

#[tokio::test]
async fn hp_6_first_duplicate_wins() {
    let k = Kit::new();
    let t = k.token(ALICE).await;
    let r = k
        .send(Req::get(&format!("{SECURED}?f=json&token={t}&token=bad")))
        .await;
    assert!(r.ok());
    let r = k
        .send(Req::get(&format!("{SECURED}?f=json&token=bad&token={t}")))
        .await;
    assert_eq!(r.code(), Some(498));
}

#[tokio::test]
async fn hp_7_token_required_and_forbidden() {
    let k = Kit::new();
    let r = k.send(Req::get(&format!("{SECURED}?f=json"))).await;
    assert_eq!(r.json()["error"]["message"], "Token Required");
    assert_eq!(r.code(), Some(499));
    let bob = k.token(BOB).await;
    let r = k
        .send(Req::get(&format!(
            "/arcgis/rest/services/Restricted/MapServer?f=json&token={bob}"
        )))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::OK, Some(403)));
    let alice = k.token(ALICE).await;
    let r = k
        .send(Req::get(&format!(
            "/arcgis/rest/services/Restricted/MapServer?f=json&token={alice}"
        )))
        .await;
    assert!(r.ok());
    let r = k
        .send(Req::get(&format!(
            "/arcgis/rest/services/World/GeocodeServer?f=json&token={bob}"
        )))
        .await;
    assert!(r.ok());
}

#[tokio::test]
async fn hp_8_public_answers_without_and_with_valid_tokens_checks_bad_ones() {
    let k = Kit::new();
    let bob = k.token(BOB).await;
    for q in ["".to_owned(), format!("&token={bob}")] {
        let r = k
            .send(Req::get(&format!(
                "/arcgis/rest/services/Public/MapServer?f=json{q}"
            )))
            .await;
        assert!(r.ok(), "{}", r.text);
    }
    let r = k
        .send(Req::get(
            "/arcgis/rest/services/Public/MapServer?f=json&token=garbage",
        ))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::OK, Some(498)));
}

// ---------------------------------------------------------------- IP

#[tokio::test]
async fn ip_1_binding_kinds() {
    let k = Kit::new();
    let t = k.token_with(ALICE, "&client=requestip").await;
    assert!(k.use_token(&t).await.ok());
    let t = k.token_with(ALICE, "&client=ip&ip=10.0.0.5").await;
    assert_eq!(k.use_token(&t).await.code(), Some(498));
    let r = Req::get(&format!("{SECURED}?f=json&token={t}")).peer("10.0.0.5");
    assert!(k.send(r).await.ok());
    let t = k
        .token_with(ALICE, "&client=referer&referer=https://app.example.com")
        .await;
    let r = Req::get(&format!("{SECURED}?f=json&token={t}"))
        .header("Referer", "https://app.example.com/page");
    assert!(k.send(r).await.ok());
}

#[tokio::test]
async fn ip_2_other_address_and_forwarded_for() {
    let k = Kit::new();
    let t = k.token_with(ALICE, "&client=requestip").await;
    let from = |ip: &str| Req::get(&format!("{SECURED}?f=json&token={t}")).peer(ip);
    assert_eq!(k.send(from("10.0.0.2")).await.code(), Some(498));
    assert_eq!(
        k.send(from("10.0.0.2").header("X-Forwarded-For", "127.0.0.1"))
            .await
            .code(),
        Some(498)
    );
    // With the proxy trusted, X-Forwarded-For names the client.
    let k = Kit::knob("trusted_proxies", json!(["10.0.0.1"]));
    let g = Req::post(
        GT,
        "username=alice&password=alice-secret-1&f=json&client=requestip",
    )
    .peer("10.0.0.1")
    .header("X-Forwarded-For", "192.0.2.7");
    let t = k.send(g).await.json()["token"].as_str().unwrap().to_owned();
    let via = |xff: &str| {
        Req::get(&format!("{SECURED}?f=json&token={t}"))
            .peer("10.0.0.1")
            .header("X-Forwarded-For", xff)
    };
    assert!(k.send(via("192.0.2.7")).await.ok());
    assert_eq!(k.send(via("192.0.2.8")).await.code(), Some(498));
    let direct = Req::get(&format!("{SECURED}?f=json&token={t}")).peer("192.0.2.7");
    assert!(k.send(direct).await.ok());
}

#[tokio::test]
async fn ip_3_referer_matching() {
    let k = Kit::new();
    let t = k
        .token_with(
            ALICE,
            "&client=referer&referer=https://App.example.com/maps",
        )
        .await;
    let with = |r: Option<&str>| {
        let q = Req::get(&format!("{SECURED}?f=json&token={t}"));
        match r {
            Some(r) => q.header("Referer", r),
            None => q,
        }
    };
    assert!(
        k.send(with(Some("HTTPS://app.EXAMPLE.com/maps/1")))
            .await
            .ok()
    );
    assert_eq!(
        k.send(with(Some("https://app.example.com/MAPS")))
            .await
            .code(),
        Some(498)
    );
    assert_eq!(
        k.send(with(Some("https://other.example.com/maps")))
            .await
            .code(),
        Some(498)
    );
    assert_eq!(k.send(with(None)).await.code(), Some(498));
    let t = k
        .token_with(ALICE, "&client=referer&referer=@esri/arcgis-rest-js")
        .await;
    let r =
        Req::get(&format!("{SECURED}?f=json&token={t}")).header("Referer", "@esri/arcgis-rest-js");
    assert!(k.send(r).await.ok());
    let r =
        Req::get(&format!("{SECURED}?f=json&token={t}")).header("Referer", "@ESRI/arcgis-rest-js");
    assert_eq!(k.send(r).await.code(), Some(498));
}

#[tokio::test]
async fn ip_4_no_client_means_unbound() {
    let k = Kit::new();
    let t = k.token(ALICE).await;
    let r = Req::get(&format!("{SECURED}?f=json&token={t}")).peer("203.0.113.9");
    assert!(k.send(r).await.ok());
}

#[tokio::test]
async fn ip_5_arcweb_binds_to_requester_or_ip() {
    let k = Kit::new();
    let t = k.arcweb_token("").await;
    let r = k
        .send(Req::get(&format!("{ARCWEB}?actn=getMap&tkn={t}")).peer("10.0.0.3"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let t = k.arcweb_token("&ip=10.0.0.3").await;
    let r = k
        .send(Req::get(&format!("{ARCWEB}?actn=getMap&tkn={t}")).peer("10.0.0.3"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        k.arcweb(&format!("actn=getMap&tkn={t}")).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn ip_6_renew_keeps_binding_refuses_other_address() {
    let k = Kit::new();
    let t = k.arcweb_token("").await;
    let r = k
        .send(Req::get(&format!("{ARCWEB}?actn=renewToken&tkn={t}")).peer("10.0.0.4"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        k.arcweb(&format!("actn=renewToken&tkn={t}")).await.status,
        StatusCode::OK
    );
    let r = k
        .send(Req::get(&format!("{ARCWEB}?actn=getMap&tkn={t}")).peer("10.0.0.4"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn ip_7_malformed_ip_refused() {
    let k = Kit::new();
    for ip in ["999.1.1.1", "10.0.0", "abc", "1.2.3.4.5", "::g"] {
        assert_eq!(
            k.generate(ALICE, &format!("&client=ip&ip={ip}"))
                .await
                .code(),
            Some(400),
            "{ip}"
        );
    }
    assert!(k.generate(ALICE, "&client=ip&ip=2001:db8::1").await.ok());
}

// ---------------------------------------------------------------- SL

#[tokio::test]
async fn sl_1_start_parameters_and_header_carrier() {
    let k = Kit::new();
    let t = k.token(ALICE).await;
    let v = k.start(&t, "").await.json();
    assert_eq!(v["styleFamily"], "arcgis");
    assert_eq!(
        v["endTime"].as_i64().unwrap() - v["startTime"].as_i64().unwrap(),
        43_200_000
    );
    let r = k
        .send(
            Req::get(&format!("{START}?styleFamily=open"))
                .header("X-Esri-Authorization", &format!("Bearer {t}")),
        )
        .await;
    assert_eq!(r.json()["styleFamily"], "open");
    assert_eq!(
        k.start(&t, "&styleFamily=bogus").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn sl_2_response_shape() {
    let k = Kit::new();
    let t = k.token(ALICE).await;
    let v = k.start(&t, "&durationSeconds=120").await.json();
    let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["endTime", "sessionToken", "startTime", "styleFamily"]
    );
    assert_eq!(v["startTime"], T0);
    assert_eq!(v["endTime"], T0 + 120_000);
}

#[tokio::test]
async fn sl_3_bad_durations_refused() {
    let k = Kit::new();
    let t = k.token(ALICE).await;
    for d in ["9", "43201", "1.5", "0", "-1", "x"] {
        let r = k.start(&t, &format!("&durationSeconds={d}")).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, Some(400)),
            "{d}"
        );
    }
    assert!(k.start(&t, "&durationSeconds=10").await.ok());
    assert!(k.start(&t, "&durationSeconds=43200").await.ok());
}

#[tokio::test]
async fn sl_4_session_outlives_parent_until_end_time() {
    let k = Kit::new();
    let t = k.token_with(ALICE, "&expiration=1").await;
    let s = k.session(&t, "&durationSeconds=600").await;
    k.advance(5 * MIN);
    assert_eq!(k.use_token(&t).await.code(), Some(498));
    let style = format!("{STYLE_ARCGIS}?token={s}");
    assert!(k.send(Req::get(&style)).await.ok());
    k.advance(5 * MIN);
    let r = k.send(Req::get(&style)).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, Some(498)));
    assert_eq!(r.json()["error"]["message"], "Token Invalid.");
}

#[tokio::test]
async fn sl_5_session_scope() {
    let k = Kit::new();
    let t = k.token(ALICE).await;
    let s = k.session(&t, "").await;
    let r = k.send(Req::get(&format!("{STYLE_OPEN}?token={s}"))).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, Some(403)));
    assert_eq!(k.use_token(&s).await.code(), Some(403));
    let r = k
        .send(Req::get(&format!(
            "/arcgis/rest/services/World/GeocodeServer?f=json&token={s}"
        )))
        .await;
    assert_eq!(r.code(), Some(403));
    let r = k
        .send(Req::get(&format!(
            "/federated/rest/services/styles/v2/styles/arcgis/navigation?token={s}"
        )))
        .await;
    assert!(r.ok());
}

#[tokio::test]
async fn sl_6_session_token_cannot_start_and_privilege_needed() {
    let k = Kit::new();
    let t = k.token(ALICE).await;
    let s = k.session(&t, "&durationSeconds=10").await;
    let r = k.start(&s, "").await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, Some(403)));
    k.advance(10_000);
    assert_eq!(k.start(&s, "").await.code(), Some(498));
    let bob = k.token(BOB).await;
    assert_eq!(k.start(&bob, "").await.code(), Some(403));
}

#[tokio::test]
async fn sl_7_location_errors_use_http_status_and_rest_info_url() {
    let k = Kit::new();
    let r = k.send(Req::get(START)).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, Some(499)));
    assert_eq!(
        r.json()["error"]["restInfoUrl"],
        "http://ref.test:8080/arcgis/rest/info"
    );
    let r = k.start("garbage", "").await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, Some(498)));
    let bob = k.token(BOB).await;
    assert_eq!(k.start(&bob, "").await.status, StatusCode::FORBIDDEN);
    let alice = k.token(ALICE).await;
    assert_eq!(
        k.start(&alice, "&durationSeconds=1").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn sl_8_session_cap() {
    let k = Kit::knob("max_concurrent_sessions", json!(1));
    let t = k.token(ALICE).await;
    assert!(k.start(&t, "&durationSeconds=10").await.ok());
    let r = k.start(&t, "&durationSeconds=10").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, Some(429))
    );
    let other = k.token(ALICE).await;
    assert!(k.start(&other, "").await.ok());
    k.advance(10_000);
    assert!(k.start(&t, "").await.ok());
    let k = Kit::new();
    let t = k.token(ALICE).await;
    for _ in 0..5 {
        assert!(k.start(&t, "").await.ok());
    }
}

#[tokio::test]
async fn sl_9_access_token_fetches_styles_with_privilege() {
    let k = Kit::new();
    let a = k.token(ALICE).await;
    assert!(
        k.send(Req::get(&format!("{STYLE_OPEN}?token={a}")))
            .await
            .ok()
    );
    let b = k.token(BOB).await;
    let r = k.send(Req::get(&format!("{STYLE_OPEN}?token={b}"))).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, Some(403)));
}

// ------------------------------------------------- client compatibility

#[tokio::test]
async fn portal_endpoints_and_scoping() {
    let k = Kit::new();
    let r = k
        .send(Req::get("/sharing/rest/community/self?f=json"))
        .await;
    assert_eq!(r.code(), Some(499));
    let p = k
        .send(Req::post(
            PGT,
            "username=alice&password=alice-secret-1&f=json",
        ))
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let v = k
        .send(Req::get(&format!(
            "/sharing/rest/community/self?f=json&token={p}"
        )))
        .await
        .json();
    assert_eq!(v["username"], "alice");
    let v = k
        .send(Req::get(&format!(
            "/sharing/rest/community/users/bob?f=json&token={p}"
        )))
        .await
        .json();
    assert_eq!(v["username"], "bob");
    assert_eq!(
        k.send(Req::get("/sharing/rest/community/users/bob?f=json"))
            .await
            .code(),
        Some(499)
    );
    let v = k
        .send(Req::get("/sharing/rest/portals/self?f=json"))
        .await
        .json();
    assert_eq!(
        (v["isPortal"].clone(), v["allSSL"].clone()),
        (json!(true), json!(false))
    );
    assert!(v["portalName"].is_string());
    let v = k
        .send(Req::get(&format!(
            "/sharing/rest/portals/self?f=json&token={p}"
        )))
        .await
        .json();
    assert_eq!(v["user"]["username"], "alice");
    let v = k.send(Req::get("/sharing/rest/info?f=json")).await.json();
    assert_eq!(
        v["authInfo"]["tokenServicesUrl"],
        "http://ref.test:8080/sharing/rest/generateToken"
    );
    // Root scoping: a Portal token is foreign to the stand-alone server.
    assert_eq!(k.use_token(&p).await.code(), Some(498));
    let fed = format!("/federated/rest/services/SampleWorldCities/MapServer?f=json&token={p}");
    assert!(k.send(Req::get(&fed)).await.ok());
    let s = k.token(ALICE).await;
    assert_eq!(
        k.send(Req::get(&format!(
            "/sharing/rest/community/self?f=json&token={s}"
        )))
        .await
        .code(),
        Some(498)
    );
}

#[tokio::test]
async fn unknown_paths_json_404_and_no_www_authenticate() {
    let k = Kit::new();
    let r = k.send(Req::get("/sharing/info")).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, Some(404)));
    // An unknown service is the Server's 200-wrapped 404 (TS-6 variant).
    let r = k
        .send(Req::get("/arcgis/rest/services/Nope/MapServer?f=json"))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::OK, Some(404)));
    for r in [
        Req::get(START),
        Req::get(&format!("{SECURED}?f=json&token=x")),
    ] {
        assert!(k.send(r).await.headers.get("www-authenticate").is_none());
    }
    let v = k
        .send(Req::get("/arcgis/rest/services?f=json"))
        .await
        .json();
    assert_eq!(v["services"].as_array().unwrap().len(), 4);
}

// ---------------------------------------------------------------- control

#[tokio::test]
async fn control_api() {
    let k = Kit::new();
    assert_eq!(
        k.send(Req::get("/_tessera/clock")).await.json(),
        json!({"now_ms": T0})
    );
    let r = k
        .send(Req::post_json("/_tessera/clock", r#"{"advance_ms": 1000}"#))
        .await;
    assert_eq!(r.json(), json!({"now_ms": T0 + 1000}));
    let r = k
        .send(Req::post_json(
            "/_tessera/clock",
            &format!(r#"{{"set_ms": {}}}"#, T0),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = k
        .send(Req::post_json(
            "/_tessera/clock",
            &format!(r#"{{"set_ms": {}}}"#, T0 + 5000),
        ))
        .await;
    assert_eq!(r.json(), json!({"now_ms": T0 + 5000}));
    let t = k.token(ALICE).await;
    k.set_password("alice", "changed").await;
    assert_eq!(
        k.send(Req::post_json("/_tessera/reset", "{}")).await.json(),
        json!({})
    );
    assert_eq!(k.use_token(&t).await.code(), Some(498));
    assert!(
        k.generate(ALICE, "").await.ok(),
        "fixture password restored"
    );
    assert_eq!(
        k.send(Req::get("/_tessera/clock")).await.json()["now_ms"],
        T0 + 5000
    );
    let r = k
        .send(Req::post_json(
            "/_tessera/users/zed/password",
            r#"{"password":"x"}"#,
        ))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn control_knobs_read_set_and_reset() {
    let k = Kit::new();
    let v = k.send(Req::get("/_tessera/knobs")).await.json();
    assert_eq!(v["short_lived_minutes"], 60);
    let r = k
        .send(Req::post_json(
            "/_tessera/knobs",
            r#"{"short_lived_minutes": 30, "allow_http_get": true}"#,
        ))
        .await;
    assert!(r.ok(), "{}", r.text);
    assert_eq!(r.json()["short_lived_minutes"], 30);
    assert_eq!(k.generate(ALICE, "").await.json()["expires"], T0 + 30 * MIN);
    let v = k.send(Req::get("/arcgis/rest/info?f=json")).await.json();
    assert_eq!(v["authInfo"]["shortLivedTokenValidity"], 30);
    // All or nothing: an unknown knob or a bad value changes nothing.
    for bad in [r#"{"nope": 1}"#, r#"{"short_lived_minutes": "x"}"#, "[1]"] {
        let r = k.send(Req::post_json("/_tessera/knobs", bad)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(
        k.send(Req::get("/_tessera/knobs")).await.json()["short_lived_minutes"],
        30
    );
    // Reset restores the start-up values.
    assert!(k.send(Req::post_json("/_tessera/reset", "{}")).await.ok());
    let v = k.send(Req::get("/_tessera/knobs")).await.json();
    assert_eq!(v["short_lived_minutes"], 60);
    assert_eq!(v["allow_http_get"], false);
}

#[tokio::test]
async fn control_api_absent_without_control() {
    let opts = super::ServerOptions::default();
    let clock = std::sync::Arc::new(super::VirtualClock::at(T0));
    let st =
        super::AppState::with_virtual_clock(opts, clock, Box::new(super::SeededEntropy::new(1)));
    let k = Kit {
        st,
        clock: std::sync::Arc::new(super::VirtualClock::at(T0)),
    };
    for r in [
        Req::get("/_tessera/clock"),
        Req::post_json("/_tessera/reset", "{}"),
    ] {
        assert_eq!(k.send(r).await.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn spawn_serves_a_real_socket_and_shuts_down() {
    let h = super::spawn(
        super::ServerOptions::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let url = format!("http://{}/arcgis/rest/info?f=json", h.addr);
    let v: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(
        v["authInfo"]["tokenServicesUrl"],
        format!("http://{}/arcgis/tokens/", h.addr)
    );
    let addr = h.addr;
    h.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

// ---------------------------------------------------------------- socket

/// `spawn` serves connections without the router ([`super::router::Connection`]);
/// on a socket it must answer as the router does: the peer's address binds
/// tokens (IP-2), the connection's scheme is advertised, a body of known
/// size has its `Content-Length`, and HEAD gets the headers without the body.
#[tokio::test]
async fn a_socket_answers_as_the_router_does() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let h = super::spawn(super::ServerOptions::default(), ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let base = format!("http://{}", h.addr);
    let c = reqwest::Client::new();
    let token = c
        .post(format!("{base}{GT}"))
        .body("username=alice&password=alice-secret-1&client=requestip&f=json")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{base}{SECURED}?f=json&token={token}");
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Bound to 127.0.0.1; the same token from another claimed address
    // (an untrusted X-Forwarded-For is ignored) is still the peer's.
    let r = c
        .get(&url)
        .header("x-forwarded-for", "10.9.9.9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let mut s = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    s.write_all(
        b"HEAD /arcgis/rest/info?f=json HTTP/1.1\r\nHost: h.test\r\n\r\n\
          GET /arcgis/rest/info?f=json HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let length = |head: &str| -> usize {
        head.lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .expect("a Content-Length")
    };
    let (head1, rest) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head1.starts_with("HTTP/1.1 200"), "{head1}");
    // No body after the HEAD answer: the next answer starts at once.
    assert!(rest.starts_with("HTTP/1.1 200"), "{rest}");
    let (head2, body) = rest.split_once("\r\n\r\n").unwrap();
    assert_eq!(length(head1), length(head2));
    assert_eq!(body.len(), length(head2));
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        v["authInfo"]["tokenServicesUrl"],
        "http://h.test/arcgis/tokens/"
    );
    h.shutdown().await;
}
