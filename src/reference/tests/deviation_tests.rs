//! One test per deviation: the same requests with it off and on, showing the
//! behaviour it claims to change.

use axum::http::StatusCode;
use serde_json::json;

use super::super::Deviation as D;
use super::super::config::Config;
use super::*;

fn both() -> [bool; 2] {
    [false, true]
}

#[tokio::test]
async fn accept_expired_tokens() {
    for on in both() {
        let k = Kit::maybe(D::AcceptExpiredTokens, on);
        let t = k.token_with(ALICE, "&expiration=1").await;
        k.advance(10 * MIN);
        assert_eq!(k.use_token(&t).await.ok(), on);
    }
}

#[tokio::test]
async fn valid_at_expiry_instant() {
    for on in both() {
        let k = Kit::maybe(D::ValidAtExpiryInstant, on);
        let t = k.token_with(ALICE, "&expiration=1").await;
        k.advance(MIN);
        assert_eq!(k.use_token(&t).await.ok(), on);
        k.advance(1);
        assert!(!k.use_token(&t).await.ok());
    }
}

#[tokio::test]
async fn sliding_expiry() {
    for on in both() {
        let k = Kit::maybe(D::SlidingExpiry, on);
        let t = k.token_with(ALICE, "&expiration=2").await;
        k.advance(MIN);
        assert!(k.use_token(&t).await.ok());
        k.advance(MIN + 30_000);
        assert_eq!(k.use_token(&t).await.ok(), on);
    }
}

#[tokio::test]
async fn no_expiration_clamp() {
    for on in both() {
        let k = Kit::maybe(D::NoExpirationClamp, on);
        let e = k.generate(ALICE, "&expiration=5000").await.json()["expires"].clone();
        assert_eq!(e, json!(T0 + if on { 5000 } else { 1440 } * MIN));
    }
}

#[tokio::test]
async fn lenient_expiration() {
    for on in both() {
        let k = Kit::maybe(D::LenientExpiration, on);
        assert_eq!(k.generate(ALICE, "&expiration=0").await.ok(), on);
    }
}

#[tokio::test]
async fn expires_in_seconds() {
    for on in both() {
        let k = Kit::maybe(D::ExpiresInSeconds, on);
        let e = k.generate(ALICE, "").await.json()["expires"]
            .as_i64()
            .unwrap();
        let ms = T0 + 60 * MIN;
        assert_eq!(e, if on { ms / 1000 } else { ms });
    }
}

#[tokio::test]
async fn non_url_safe_tokens() {
    for on in both() {
        let k = Kit::maybe(D::NonUrlSafeTokens, on);
        let t = k.token(ALICE).await;
        assert_eq!(t.contains(['+', '/', '=']), on);
    }
}

#[tokio::test]
async fn get_generate_token_allowed() {
    for on in both() {
        let k = Kit::maybe(D::GetGenerateTokenAllowed, on);
        let r = k
            .send(Req::get(&format!(
                "{GT}?username=alice&password=alice-secret-1&f=json"
            )))
            .await;
        assert_eq!(r.ok(), on);
    }
}

#[tokio::test]
async fn query_credentials_allowed() {
    for on in both() {
        let k = Kit::maybe(D::QueryCredentialsAllowed, on);
        let r = k
            .send(Req::post(
                &format!("{GT}?username=alice&password=alice-secret-1"),
                "f=json",
            ))
            .await;
        assert_eq!(r.ok(), on);
    }
}

#[tokio::test]
async fn case_insensitive_usernames() {
    for on in both() {
        let k = Kit::maybe(D::CaseInsensitiveUsernames, on);
        assert_eq!(k.generate(("ALICE", "alice-secret-1"), "").await.ok(), on);
    }
}

#[tokio::test]
async fn missing_binding_value_unbound() {
    for on in both() {
        let k = Kit::maybe(D::MissingBindingValueUnbound, on);
        assert_eq!(k.generate(ALICE, "&client=ip").await.ok(), on);
        assert_eq!(k.generate(ALICE, "&client=referer").await.ok(), on);
    }
}

#[tokio::test]
async fn exchange_outlives_source() {
    for on in both() {
        let k = Kit::maybe(D::ExchangeOutlivesSource, on);
        let t = k.token_with(ALICE, "&expiration=5").await;
        let form = format!("token={t}&serverUrl=http://ref.test:8080/arcgis&expiration=60&f=json");
        let e = k.send(Req::post(GT, &form)).await.json()["expires"].clone();
        assert_eq!(e, json!(T0 + if on { 60 } else { 5 } * MIN));
    }
}

#[tokio::test]
async fn ignore_ip_binding() {
    for on in both() {
        let k = Kit::maybe(D::IgnoreIpBinding, on);
        let t = k.token_with(ALICE, "&client=ip&ip=10.0.0.5").await;
        assert_eq!(k.use_token(&t).await.ok(), on);
        let a = k
            .arcweb("actn=getToken&usr=alice&pswd=alice-secret-1&ip=10.0.0.5")
            .await
            .text;
        let r = k.arcweb(&format!("actn=getMap&tkn={a}")).await;
        assert_eq!(r.status == StatusCode::OK, on);
    }
}

#[tokio::test]
async fn ignore_referer_binding() {
    for on in both() {
        let k = Kit::maybe(D::IgnoreRefererBinding, on);
        let t = k
            .token_with(ALICE, "&client=referer&referer=https://a.example")
            .await;
        assert_eq!(k.use_token(&t).await.ok(), on);
    }
}

#[tokio::test]
async fn trust_any_forwarded_for() {
    for on in both() {
        let k = Kit::maybe(D::TrustAnyForwardedFor, on);
        let t = k.token_with(ALICE, "&client=ip&ip=192.0.2.1").await;
        let r =
            Req::get(&format!("{SECURED}?f=json&token={t}")).header("X-Forwarded-For", "192.0.2.1");
        assert_eq!(k.send(r).await.ok(), on);
    }
}

#[tokio::test]
async fn malformed_ip_accepted() {
    for on in both() {
        let k = Kit::maybe(D::MalformedIpAccepted, on);
        assert_eq!(k.generate(ALICE, "&client=ip&ip=999.0.0.1").await.ok(), on);
        // ArcWeb too: refused (403) when conformant, a token when deviant.
        let r = k
            .send(Req::get(&format!(
                "{ARCWEB}?actn=getToken&usr=alice&pswd=alice-secret-1&ip=999.0.0.1"
            )))
            .await;
        assert_eq!(r.status.is_success(), on, "{:?}", r.status);
    }
}

#[tokio::test]
async fn inconsistent_carrier_order() {
    for on in both() {
        let k = Kit::maybe(D::InconsistentCarrierOrder, on);
        let t = k.token(ALICE).await;
        // Two carriers: the query token wins only under the deviation.
        let r = Req::get(&format!("{SECURED}?f=json&token={t}"))
            .header("X-Esri-Authorization", "Bearer invalid-invalid-invalid");
        assert_eq!(k.send(r).await.ok(), on);
        // Three carriers: X-Esri-Authorization wins either way.
        let r = Req::get(&format!("{SECURED}?f=json&token=invalid-invalid"))
            .header("X-Esri-Authorization", &format!("Bearer {t}"))
            .header("Cookie", "agstoken=invalid-invalid");
        assert!(k.send(r).await.ok());
    }
}

#[tokio::test]
async fn fallback_to_lower_carrier() {
    for on in both() {
        let k = Kit::maybe(D::FallbackToLowerCarrier, on);
        let t = k.token(ALICE).await;
        let r = Req::get(&format!("{SECURED}?f=json&token=invalid-invalid-invalid"))
            .header("Cookie", &format!("agstoken={t}"));
        assert_eq!(k.send(r).await.ok(), on);
    }
}

#[tokio::test]
async fn basic_auth_as_token() {
    for on in both() {
        let k = Kit::maybe(D::BasicAuthAsToken, on);
        let t = k.token(ALICE).await;
        let r =
            Req::get(&format!("{SECURED}?f=json")).header("Authorization", &format!("Basic {t}"));
        assert_eq!(k.send(r).await.ok(), on);
    }
}

#[tokio::test]
async fn web_tier_auth_ignored() {
    for on in both() {
        let mut c = Config::default();
        c.knobs.web_tier_auth = true;
        let devs: Vec<D> = if on {
            vec![D::WebTierAuthIgnored]
        } else {
            vec![]
        };
        let k = Kit::with(c, &devs);
        let t = k.token(ALICE).await;
        let r =
            Req::get(&format!("{SECURED}?f=json")).header("Authorization", &format!("Bearer {t}"));
        assert_eq!(k.send(r).await.ok(), on);
    }
}

#[tokio::test]
async fn missing_token_as_498() {
    for on in both() {
        let k = Kit::maybe(D::MissingTokenAs498, on);
        let r = k.send(Req::get(&format!("{SECURED}?f=json"))).await;
        assert_eq!(r.code(), Some(if on { 498 } else { 499 }));
    }
}

#[tokio::test]
async fn forbidden_as_498() {
    for on in both() {
        let k = Kit::maybe(D::ForbiddenAs498, on);
        let b = k.token(BOB).await;
        let r = k
            .send(Req::get(&format!(
                "/arcgis/rest/services/Restricted/MapServer?f=json&token={b}"
            )))
            .await;
        assert_eq!(r.code(), Some(if on { 498 } else { 403 }));
    }
}

#[tokio::test]
async fn public_service_requires_token() {
    for on in both() {
        let k = Kit::maybe(D::PublicServiceRequiresToken, on);
        let r = k
            .send(Req::get("/arcgis/rest/services/Public/MapServer?f=json"))
            .await;
        assert_eq!(r.code(), if on { Some(499) } else { None });
    }
}

#[tokio::test]
async fn portal_omits_ssl() {
    for on in both() {
        let k = Kit::maybe(D::PortalOmitsSsl, on);
        let r = k.generate_portal(ALICE, "&client=requestip").await;
        assert!(r.ok(), "{}", r.text);
        assert_eq!(r.json()["ssl"].is_boolean(), !on);
    }
}

#[tokio::test]
async fn http_status_errors() {
    for on in both() {
        let k = Kit::maybe(D::HttpStatusErrors, on);
        let r = k.send(Req::get(&format!("{SECURED}?f=json"))).await;
        assert_eq!(
            r.status,
            if on {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::OK
            }
        );
        assert_eq!(r.code(), Some(499));
    }
}

#[tokio::test]
async fn renew_expired_token() {
    for on in both() {
        let k = Kit::maybe(D::RenewExpiredToken, on);
        let t = k.arcweb_token("&tout=1").await;
        k.advance(2 * MIN);
        let r = k.arcweb(&format!("actn=renewToken&tkn={t}")).await;
        assert_eq!(r.status == StatusCode::OK, on);
    }
}

#[tokio::test]
async fn renewal_shortens_token() {
    for on in both() {
        let k = Kit::maybe(D::RenewalShortensToken, on);
        let t = k.arcweb_token("&tout=600").await;
        k.arcweb(&format!("actn=renewToken&tkn={t}")).await;
        k.advance(120 * MIN);
        let r = k.arcweb(&format!("actn=getMap&tkn={t}")).await;
        assert_eq!(r.status == StatusCode::OK, !on);
    }
}

#[tokio::test]
async fn renewal_drops_binding() {
    for on in both() {
        let k = Kit::maybe(D::RenewalDropsBinding, on);
        let t = k.arcweb_token("").await;
        let r = k
            .send(Req::get(&format!("{ARCWEB}?actn=renewToken&tkn={t}")).peer("10.0.0.8"))
            .await;
        assert_eq!(r.status == StatusCode::OK, on);
        let m = k
            .send(Req::get(&format!("{ARCWEB}?actn=getMap&tkn={t}")).peer("10.0.0.8"))
            .await;
        assert_eq!(m.status == StatusCode::OK, on);
    }
}

#[tokio::test]
async fn regenerate_revokes_old() {
    for on in both() {
        let k = Kit::maybe(D::RegenerateRevokesOld, on);
        let a = k.token(ALICE).await;
        let _b = k.token(ALICE).await;
        assert_eq!(k.use_token(&a).await.ok(), !on);
    }
}

#[tokio::test]
async fn tout_not_clamped() {
    for on in both() {
        let k = Kit::maybe(D::ToutNotClamped, on);
        let t = k.arcweb_token("&tout=3000").await;
        k.advance(2000 * MIN);
        let r = k.arcweb(&format!("actn=getMap&tkn={t}")).await;
        assert_eq!(r.status == StatusCode::OK, on);
    }
}

#[tokio::test]
async fn arcweb_expired_as_403() {
    for on in both() {
        let k = Kit::maybe(D::ArcwebExpiredAs403, on);
        let t = k.arcweb_token("&tout=1").await;
        k.advance(MIN);
        let r = k.arcweb(&format!("actn=getMap&tkn={t}")).await;
        let want = if on {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        assert_eq!(r.status, want);
    }
}

#[tokio::test]
async fn user_id_expires() {
    for on in both() {
        let k = Kit::maybe(D::UserIdExpires, on);
        let id = k
            .arcweb("actn=getUserID&usr=alice&pswd=alice-secret-1")
            .await
            .text;
        k.advance(61 * MIN);
        let r = k.arcweb(&format!("actn=getMap&usrid={id}")).await;
        assert_eq!(r.status == StatusCode::OK, !on);
    }
}

#[tokio::test]
async fn password_change_keeps_tokens() {
    for on in both() {
        let k = Kit::maybe(D::PasswordChangeKeepsTokens, on);
        let t = k.token(ALICE).await;
        let a = k.arcweb_token("").await;
        k.set_password("alice", "other").await;
        assert_eq!(k.use_token(&t).await.ok(), on);
        let r = k.arcweb(&format!("actn=getMap&tkn={a}")).await;
        assert_eq!(r.status == StatusCode::OK, on);
    }
}

#[tokio::test]
async fn session_over_12h() {
    for on in both() {
        let k = Kit::maybe(D::SessionOver12h, on);
        let t = k.token(ALICE).await;
        let r = k.start(&t, "&durationSeconds=86400").await;
        assert_eq!(r.ok(), on);
    }
}

#[tokio::test]
async fn session_ends_with_parent() {
    for on in both() {
        let k = Kit::maybe(D::SessionEndsWithParent, on);
        let t = k.token_with(ALICE, "&expiration=1").await;
        let s = k.session(&t, "&durationSeconds=600").await;
        k.advance(2 * MIN);
        let r = k.send(Req::get(&format!("{STYLE_ARCGIS}?token={s}"))).await;
        assert_eq!(r.ok(), !on);
    }
}

#[tokio::test]
async fn session_token_other_family() {
    for on in both() {
        let k = Kit::maybe(D::SessionTokenOtherFamily, on);
        let t = k.token(ALICE).await;
        let s = k.session(&t, "").await;
        assert_eq!(
            k.send(Req::get(&format!("{STYLE_OPEN}?token={s}")))
                .await
                .ok(),
            on
        );
    }
}

#[tokio::test]
async fn session_token_any_service() {
    for on in both() {
        let k = Kit::maybe(D::SessionTokenAnyService, on);
        let t = k.token(ALICE).await;
        let s = k.session(&t, "").await;
        assert_eq!(k.use_token(&s).await.ok(), on);
    }
}

#[tokio::test]
async fn session_token_starts_session() {
    for on in both() {
        let k = Kit::maybe(D::SessionTokenStartsSession, on);
        let t = k.token(ALICE).await;
        let s = k.session(&t, "").await;
        assert_eq!(k.start(&s, "").await.ok(), on);
    }
}

#[tokio::test]
async fn location_errors_wrapped() {
    for on in both() {
        let k = Kit::maybe(D::LocationErrorsWrapped, on);
        let r = k.send(Req::get(START)).await;
        assert_eq!(
            r.status,
            if on {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            }
        );
        assert_eq!(r.code(), Some(499));
    }
}

#[tokio::test]
async fn no_session_cap() {
    for on in both() {
        let mut c = Config::default();
        c.knobs.max_concurrent_sessions = Some(1);
        let devs: Vec<D> = if on { vec![D::NoSessionCap] } else { vec![] };
        let k = Kit::with(c, &devs);
        let t = k.token(ALICE).await;
        assert!(k.start(&t, "").await.ok());
        assert_eq!(k.start(&t, "").await.ok(), on);
    }
}

/// Every deviation above has a test: this list must name them all.
#[test]
fn every_deviation_has_a_test() {
    let src = include_str!("deviation_tests.rs");
    for d in D::ALL {
        let f = format!("async fn {}()", d.name().replace('-', "_"));
        assert!(src.contains(&f), "no test for {}", d.name());
    }
}
