//! One test per VARIANT rule: the same requests on the reference's variant
//! and on the other one (`Kit::variant`), showing the behaviour each names.

use axum::http::StatusCode;
use serde_json::json;

use super::super::config::Config;
use super::*;

const PUBLIC: &str = "/arcgis/rest/services/Public/MapServer";

#[tokio::test]
async fn ts_3_bad_credentials_400_or_401() {
    for (v, code, details) in [
        ("TS-3=400", 400, json!(["Invalid username or password."])),
        ("TS-3=401", 401, json!("Invalid credentials")),
    ] {
        let k = Kit::variant(&[v]);
        let r = k.generate(("alice", "wrong"), "&client=requestip").await;
        assert_eq!(r.status, StatusCode::OK, "{v}");
        assert_eq!(r.code(), Some(code), "{v}");
        assert_eq!(r.json()["error"]["details"], details, "{v}");
        assert!(r.json().get("token").is_none());
    }
}

#[tokio::test]
async fn ts_4_query_credentials_405_or_400() {
    for (v, code) in [("TS-4=405", 405), ("TS-4=400", 400)] {
        let k = Kit::variant(&[v]);
        let q = "username=alice&password=alice-secret-1&client=requestip&f=json";
        let post = k.send(Req::post(&format!("{GT}?{q}"), "")).await;
        let get = k.send(Req::get(&format!("{GT}?{q}"))).await;
        let one = k
            .send(Req::post(
                &format!("{GT}?password=alice-secret-1"),
                "username=alice&client=requestip&f=json",
            ))
            .await;
        for r in [post, get, one] {
            assert_eq!((r.status, r.code()), (StatusCode::OK, Some(code)), "{v}");
        }
    }
    let r = Kit::new()
        .send(Req::post(
            &format!("{GT}?username=alice&password=alice-secret-1&f=json"),
            "",
        ))
        .await;
    assert_eq!(
        r.json()["error"],
        json!({"code": 405, "message": "Method not supported",
               "details": "Generate Token request should not contain username and password in the query string."})
    );
}

#[tokio::test]
async fn ts_5_missing_binding_value_201_or_400() {
    for (v, code) in [("TS-5=201", 201), ("TS-5=400", 400)] {
        let k = Kit::variant(&[v]);
        for extra in ["&client=ip", "&client=referer", "&client=ip&ip="] {
            let r = k.generate(ALICE, extra).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::OK, Some(code)),
                "{v}{extra}"
            );
        }
    }
    let r = Kit::new().generate(ALICE, "&client=ip").await;
    assert_eq!(
        r.json()["error"],
        json!({"code": 201, "message": "Exception in generating token",
               "details": "Client id cannot be determined"})
    );
}

#[tokio::test]
async fn ts_6_unknown_service_wrapped_or_http_404() {
    let path = "/arcgis/rest/services/Nope/MapServer?f=json";
    let r = Kit::variant(&["TS-6=wrapped-404"])
        .send(Req::get(path))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::OK, Some(404)));
    let r = Kit::variant(&["TS-6=http-404"]).send(Req::get(path)).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, Some(404)));
    // Not a service path: always the plain 404.
    let r = Kit::new().send(Req::get("/nowhere")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn lt_3_portal_above_maximum_clamped_or_refused() {
    let k = Kit::variant(&["LT-3=clamp"]);
    let r = k
        .generate_portal(ALICE, "&client=requestip&expiration=99999")
        .await;
    assert_eq!(r.json()["expires"], T0 + 20160 * MIN);
    let k = Kit::variant(&["LT-3=refuse"]);
    let r = k
        .generate_portal(ALICE, "&client=requestip&expiration=99999")
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::OK, Some(400)));
    let r = k
        .generate_portal(ALICE, "&client=requestip&expiration=20160")
        .await;
    assert!(r.ok());
    // The Server path clamps under either variant (a MUST).
    let r = k
        .generate(ALICE, "&client=requestip&expiration=99999")
        .await;
    assert_eq!(r.json()["expires"], T0 + 1440 * MIN);
}

#[tokio::test]
async fn lt_7_tout_above_1440_clamped_or_refused() {
    let k = Kit::variant(&["LT-7=clamp"]);
    let t = k.arcweb_token("&tout=5000").await;
    k.advance(1440 * MIN - 1);
    let r = k.arcweb(&format!("actn=getMap&tkn={t}")).await;
    assert_eq!(r.status, StatusCode::OK);
    k.advance(1);
    let r = k.arcweb(&format!("actn=getMap&tkn={t}")).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    let k = Kit::variant(&["LT-7=refuse"]);
    let r = k
        .arcweb("actn=getToken&usr=alice&pswd=alice-secret-1&tout=1441")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = k
        .arcweb("actn=getToken&usr=alice&pswd=alice-secret-1&tout=1440")
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn lt_7a_invalid_user_id_403_or_500() {
    for (v, status) in [
        ("LT-7a=403", StatusCode::FORBIDDEN),
        ("LT-7a=500", StatusCode::INTERNAL_SERVER_ERROR),
    ] {
        let k = Kit::variant(&[v]);
        let r = k.arcweb("actn=getMap&usrid=unknown-user-id").await;
        assert_eq!(r.status, status, "{v}");
        assert!(r.text.contains("Invalid userid"), "{v}: {}", r.text);
        // A user ID retired by a password change is invalid too.
        let id = k
            .arcweb("actn=getUserID&usr=alice&pswd=alice-secret-1")
            .await
            .text;
        k.set_password("alice", "other").await;
        let r = k.arcweb(&format!("actn=getMap&usrid={id}")).await;
        assert_eq!(r.status, status, "{v}");
        // Other refusals stay 403.
        let r = k.arcweb("actn=getMap").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{v}");
    }
}

#[tokio::test]
async fn rn_1_same_token_or_new_token() {
    let k = Kit::variant(&["RN-1=same-token"]);
    let t = k.arcweb_token("&tout=10").await;
    k.advance(5 * MIN);
    let r = k.arcweb(&format!("actn=renewToken&tkn={t}")).await;
    assert_eq!(r.text, t);
    k.advance(30 * MIN);
    assert_eq!(
        k.arcweb(&format!("actn=getMap&tkn={t}")).await.status,
        StatusCode::OK
    );

    let k = Kit::variant(&["RN-1=new-token"]);
    let t = k.arcweb_token("&tout=10").await;
    k.advance(5 * MIN);
    let r = k.arcweb(&format!("actn=renewToken&tkn={t}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let n = r.text;
    assert_ne!(n, t);
    assert_eq!(n.len(), t.len());
    k.advance(30 * MIN);
    // The old token kept its own expiry; the new one lives 60 minutes from renewal.
    let map = |x: &str| format!("actn=getMap&tkn={x}");
    assert_eq!(
        k.arcweb(&map(&t)).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(k.arcweb(&map(&n)).await.status, StatusCode::OK);
    // Bound to the same address.
    let r = k
        .send(Req::get(&format!("{ARCWEB}?{}", map(&n))).peer("10.9.9.9"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    k.advance(30 * MIN);
    assert_eq!(
        k.arcweb(&map(&n)).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn hp_2_any_carrier_order() {
    let k = Kit::variant(&["HP-2=cookie,body,query,authorization,x-esri"]);
    let t = k.token(ALICE).await;
    let bad = "Bearer invalid-invalid-invalid";
    // The cookie beats everything.
    let r = Req::get(&format!("{SECURED}?f=json&token=invalid-invalid"))
        .header("X-Esri-Authorization", bad)
        .header("Authorization", bad)
        .header("Cookie", &format!("agstoken={t}"));
    assert!(k.send(r).await.ok());
    // Authorization beats X-Esri-Authorization.
    let r = Req::get(&format!("{SECURED}?f=json"))
        .header("X-Esri-Authorization", bad)
        .header("Authorization", &format!("Bearer {t}"));
    assert!(k.send(r).await.ok());
    // The reference order: X-Esri-Authorization first.
    let k = Kit::new();
    let t = k.token(ALICE).await;
    let r = Req::get(&format!("{SECURED}?f=json&token=invalid-invalid"))
        .header("X-Esri-Authorization", &format!("Bearer {t}"))
        .header("Cookie", "agstoken=invalid-invalid");
    assert!(k.send(r).await.ok());
}

#[tokio::test]
async fn hp_5_cookie_under_web_tier_auth() {
    let mut c = Config::default();
    c.knobs.web_tier_auth = true;
    for (v, served) in [
        ("HP-5=cookie-carries", true),
        ("HP-5=cookie-ignored", false),
    ] {
        let k = Kit::variant_with(c.clone(), &[v]);
        let t = k.token(ALICE).await;
        let r = k
            .send(Req::get(&format!("{SECURED}?f=json")).header("Cookie", &format!("agstoken={t}")))
            .await;
        assert_eq!(r.ok(), served, "{v}");
        if !served {
            assert_eq!(r.code(), Some(499), "{v}");
        }
        // The query carrier is unaffected.
        assert!(k.use_token(&t).await.ok(), "{v}");
    }
    // Without web-tier auth the cookie carries under either variant.
    let k = Kit::variant(&["HP-5=cookie-ignored"]);
    let t = k.token(ALICE).await;
    let r = k
        .send(Req::get(&format!("{SECURED}?f=json")).header("Cookie", &format!("agstoken={t}")))
        .await;
    assert!(r.ok());
}

#[tokio::test]
async fn hp_6_first_or_last_in_every_carrier() {
    for (v, last) in [("HP-6=first", false), ("HP-6=last", true)] {
        let k = Kit::variant(&[v]);
        let t = k.token(ALICE).await;
        let bad = "bad-bad-bad-bad-bad";
        let (a, b) = if last {
            (bad, t.as_str())
        } else {
            (t.as_str(), bad)
        };
        let q = k
            .send(Req::get(&format!("{SECURED}?f=json&token={a}&token={b}")))
            .await;
        let body = k
            .send(Req::post(SECURED, &format!("f=json&token={a}&token={b}")))
            .await;
        let cookie = k
            .send(
                Req::get(&format!("{SECURED}?f=json"))
                    .header("Cookie", &format!("agstoken={a}; agstoken={b}")),
            )
            .await;
        for r in [q, body, cookie] {
            assert!(r.ok(), "{v}: {}", r.text);
        }
    }
}

#[tokio::test]
async fn hp_8_public_service_checked_or_ignored() {
    let k = Kit::variant(&["HP-8=checked"]);
    let alice = k.token(ALICE).await;
    let bob = k.token(BOB).await;
    let expired = k.token_with(ALICE, "&client=requestip&expiration=1").await;
    k.advance(2 * MIN);
    let portal = k.generate_portal(ALICE, "&client=requestip").await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let get = |t: &str| Req::get(&format!("{PUBLIC}?f=json&token={t}"));
    assert!(k.send(Req::get(&format!("{PUBLIC}?f=json"))).await.ok());
    assert!(k.send(get(&alice)).await.ok());
    assert!(k.send(get(&bob)).await.ok());
    for t in ["garbage-garbage", expired.as_str(), portal.as_str()] {
        let r = k.send(get(t)).await;
        assert_eq!((r.status, r.code()), (StatusCode::OK, Some(498)));
        assert_eq!(r.json()["error"]["message"], "Invalid Token");
    }
    // The services directory is public too.
    let r = k
        .send(Req::get("/arcgis/rest/services?f=json&token=garbage"))
        .await;
    assert_eq!(r.code(), Some(498));

    let k = Kit::variant(&["HP-8=ignored"]);
    for t in ["garbage-garbage"] {
        assert!(k.send(get(t)).await.ok());
    }
    assert!(
        k.send(Req::get("/arcgis/rest/services?f=json&token=garbage"))
            .await
            .ok()
    );
    // So is the Portal's portals/self (it answered 498 under `ignored`).
    let r = k
        .send(Req::get("/sharing/rest/portals/self?f=json&token=garbage"))
        .await;
    assert!(r.ok() && r.json()["user"].is_null(), "{}", r.text);
}

#[tokio::test]
async fn ip_4_unbound_or_short_only() {
    let k = Kit::variant(&["IP-4=unbound"]);
    let r = k.generate(ALICE, "&expiration=30").await;
    assert!(r.ok(), "{}", r.text);
    let k = Kit::variant(&["IP-4=short-only"]);
    let r = k.generate(ALICE, "&expiration=30").await;
    assert_eq!((r.status, r.code()), (StatusCode::OK, Some(201)));
    assert!(
        r.json()["error"]["details"]
            .as_str()
            .unwrap()
            .contains("Client ID is required for long expiration tokens")
    );
    // Without `expiration` the token is issued and unbound.
    let t = k.token(ALICE).await;
    let r = k
        .send(Req::get(&format!("{SECURED}?f=json&token={t}")).peer("10.1.2.3"))
        .await;
    assert!(r.ok());
    // With `client` an expiration is fine.
    assert!(
        k.generate(ALICE, "&client=requestip&expiration=30")
            .await
            .ok()
    );
}

#[tokio::test]
async fn sl_3_out_of_range_refused_or_clamped() {
    let k = Kit::variant(&["SL-3=refuse"]);
    let t = k.token(ALICE).await;
    for d in ["5", "43201", "1.5", "ten"] {
        let r = k.start(&t, &format!("&durationSeconds={d}")).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, Some(400)),
            "{d}"
        );
    }
    let k = Kit::variant(&["SL-3=clamp"]);
    let t = k.token(ALICE).await;
    for (d, secs) in [
        ("5", 10),
        ("43201", 43_200),
        ("99999", 43_200),
        ("60.7", 60),
    ] {
        let r = k.start(&t, &format!("&durationSeconds={d}")).await;
        assert!(r.ok(), "{d}: {}", r.text);
        assert_eq!(r.json()["endTime"], T0 + secs * 1000, "{d}");
    }
    let r = k.start(&t, "&durationSeconds=ten").await;
    assert_eq!(r.code(), Some(400));
}

#[tokio::test]
async fn sl_5_session_token_elsewhere_403_or_498() {
    for (v, code) in [("SL-5=403", 403), ("SL-5=498", 498)] {
        let k = Kit::variant(&[v]);
        let t = k.token(ALICE).await;
        let s = k.session(&t, "").await;
        let r = k.use_token(&s).await;
        assert_eq!((r.status, r.code()), (StatusCode::OK, Some(code)), "{v}");
        let r = k
            .send(Req::get(&format!("{STYLE_OPEN}?f=json&token={s}")))
            .await;
        assert_eq!(r.code(), Some(code), "{v}");
        let r = k
            .send(Req::get(&format!(
                "/sharing/rest/community/self?f=json&token={s}"
            )))
            .await;
        assert_eq!(r.code(), Some(code), "{v}");
        let r = k
            .send(Req::get(&format!("{STYLE_ARCGIS}?f=json&token={s}")))
            .await;
        assert!(r.ok(), "{v}");
    }
}

#[tokio::test]
async fn sl_6_session_token_starting_a_session_403_or_498() {
    for (v, code) in [("SL-6=403", 403), ("SL-6=498", 498)] {
        let k = Kit::variant(&[v]);
        let t = k.token(ALICE).await;
        let s = k.session(&t, "").await;
        let r = k.start(&s, "").await;
        assert_eq!(r.code(), Some(code), "{v}");
        assert_eq!(
            r.status,
            StatusCode::from_u16(if code == 403 { 403 } else { 401 }).unwrap()
        );
        // An expired session token gets 498 either way.
        let s = k.session(&t, "&durationSeconds=10").await;
        k.advance(11_000);
        assert_eq!(k.start(&s, "").await.code(), Some(498), "{v}");
    }
}

#[tokio::test]
async fn every_alternative_at_once_still_serves_the_basics() {
    let k = Kit::with_variants(
        Config::default(),
        super::super::Variants::all_alternatives(),
    );
    let t = k.token_with(ALICE, "&client=requestip").await;
    assert!(k.use_token(&t).await.ok());
    let s = k.session(&t, "").await;
    assert!(
        k.send(Req::get(&format!("{STYLE_ARCGIS}?f=json&token={s}")))
            .await
            .ok()
    );
}
