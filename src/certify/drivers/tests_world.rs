//! The built-in client against a real [`World`] (listeners on loopback, the
//! reference behind them): what it sends, read from the journal. Each
//! behaviour is checked on the good client and on the broken variant that
//! switches it, so the test shows it can fail.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Flaw;
use super::client::{Client, State, now_ms};
use crate::certify::journal::{Entry, Journal, Role, Seen, TokenId};
use crate::certify::plan::{Envelope, Event, Revoke, Setup, Var};
use crate::certify::world::{LeakRegistry, RunTls, World, WorldOptions};

async fn world(setup: Setup) -> World {
    let opts = WorldOptions::new("drivers", Arc::new(LeakRegistry::new()));
    World::start(&setup, &opts)
        .await
        .expect("a world on loopback")
}

/// A world whose listeners also speak HTTPS (one port, both schemes), with
/// the run's CA in the driver's environment. The directory must outlive it.
async fn world_tls(setup: Setup, dir: &std::path::Path) -> World {
    let mut opts = WorldOptions::new("drivers", Arc::new(LeakRegistry::new()));
    opts.tls = Some(Arc::new(RunTls::generate(dir).expect("a run CA")));
    World::start(&setup, &opts)
        .await
        .expect("a world on loopback")
}

fn client(w: &World, flaw: Option<Flaw>) -> Client {
    let env = w.env("drivers", now_ms() + 60_000);
    Client::new(env, flaw, Instant::now() + Duration::from_secs(60)).expect("a client")
}

fn no_params() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn tokens_in(e: &Entry) -> Vec<TokenId> {
    e.presented
        .iter()
        .filter_map(|p| match p.token {
            Seen::Issued(id) => Some(id),
            _ => None,
        })
        .collect()
}

fn acquisitions(j: &Journal, from_ms: i64) -> usize {
    j.entries
        .iter()
        .filter(|e| e.real_ms >= from_ms && e.issued.is_some())
        .count()
}

/// signin, a request, revoke alice, a request: (journal, real time of the
/// revocation, the second request's result).
async fn revoke_case(flaw: Option<Flaw>) -> (Journal, i64, bool) {
    let w = world(Setup::default()).await;
    let c = client(&w, flaw);
    let mut st = State::default();
    let self_url = format!("{}/community/self", w.url(Var::Portal));
    c.signin(&mut st).await.expect("signin");
    c.request(&mut st, &self_url, None, &no_params())
        .await
        .expect("first request");
    let from = w.now_real_ms();
    w.apply(2, &Event::Revoke(Revoke::User("alice".into())))
        .await
        .expect("revoke");
    let ok = c
        .request(&mut st, &self_url, None, &no_params())
        .await
        .is_ok();
    (w.finish().await, from, ok)
}

/// Whether a token that drew a 498 was presented again afterwards.
fn rejected_token_resent(j: &Journal, from_ms: i64) -> bool {
    let mut rejected: Vec<TokenId> = Vec::new();
    for e in j.entries.iter().filter(|e| e.real_ms >= from_ms) {
        let used = tokens_in(e);
        if used.iter().any(|t| rejected.contains(t)) {
            return true;
        }
        if e.error_code == Some(498) {
            rejected.extend(used);
        }
    }
    false
}

#[tokio::test]
async fn after_a_revocation_the_good_client_renews_once_retries_and_never_resends() {
    let (j, from, ok) = revoke_case(None).await;
    assert!(ok, "the retry with a new token succeeds");
    assert_eq!(acquisitions(&j, from), 1, "{:#?}", j.entries);
    assert!(!rejected_token_resent(&j, from));
    // Every request of the good client carries one token in the header
    // (or none) and its referer.
    for e in &j.entries {
        assert!(e.presented.len() <= 1, "{e:?}");
        assert!(e.credentials.as_ref().is_none_or(|_| e.method == "POST"));
    }
}

#[tokio::test]
async fn resend_rejected_sends_the_rejected_token_again() {
    let (j, from, ok) = revoke_case(Some(Flaw::ResendRejected)).await;
    assert!(!ok);
    assert!(rejected_token_resent(&j, from), "{:#?}", j.entries);
}

#[tokio::test]
async fn repeated_498s_draw_one_renewal_and_one_retry_unless_retry_forever() {
    for (flaw, max_requests) in [(None, 2), (Some(Flaw::RetryForever), usize::MAX)] {
        let w = world(Setup::default()).await;
        let c = client(&w, flaw);
        let mut st = State::default();
        c.signin(&mut st).await.expect("signin");
        let from = w.now_real_ms();
        w.apply(
            1,
            &Event::Inject {
                role: Role::Portal,
                path_suffix: "/community/self".into(),
                code: 498,
                envelope: Envelope::Server200,
                times: 5,
                retry_after_s: None,
            },
        )
        .await
        .expect("inject");
        let url = format!("{}/community/self", w.url(Var::Portal));
        let r = c.request(&mut st, &url, None, &no_params()).await;
        let j = w.finish().await;
        let hits = j
            .entries
            .iter()
            .filter(|e| e.real_ms >= from && e.path.ends_with("/community/self"))
            .count();
        if max_requests == 2 {
            let e = r.expect_err("the error surfaces after one retry");
            assert_eq!(e.code, Some(498));
            assert_eq!(hits, 2);
        } else {
            assert!(hits > 2, "retry-forever keeps going: {hits}");
        }
    }
}

#[tokio::test]
async fn a_498_in_the_http_401_envelope_is_a_token_error_unless_matched_by_text() {
    for (flaw, renews) in [(None, true), (Some(Flaw::TextMatch498), false)] {
        let w = world(Setup::default()).await;
        let c = client(&w, flaw);
        let mut st = State::default();
        c.signin(&mut st).await.expect("signin");
        w.apply(
            1,
            &Event::Inject {
                role: Role::Portal,
                path_suffix: "/community/self".into(),
                code: 498,
                envelope: Envelope::Http401,
                times: 1,
                retry_after_s: None,
            },
        )
        .await
        .expect("inject");
        let url = format!("{}/community/self", w.url(Var::Portal));
        let r = c.request(&mut st, &url, None, &no_params()).await;
        let j = w.finish().await;
        // The signin's token, and a second one only if the 498 was seen.
        let renewed = j.entries.iter().filter(|e| e.issued.is_some()).count() == 2;
        assert_eq!(renewed, renews, "{flaw:?}");
        assert_eq!(r.is_ok(), renews, "{flaw:?}");
    }
}

#[tokio::test]
async fn no_token_reaches_a_foreign_origin_unless_sent_everywhere() {
    for (flaw, leaks) in [(None, false), (Some(Flaw::SendEverywhere), true)] {
        let w = world(Setup::default()).await;
        let c = client(&w, flaw);
        let mut st = State::default();
        c.signin(&mut st).await.expect("signin");
        let portal = w.url(Var::Portal);
        let foreign = w.url(Var::Origin(Role::Foreign));
        for url in [
            format!("{foreign}/arcgis/rest/services/SampleWorldCities/MapServer?u={portal}"),
            format!("{foreign}/x/{portal}/community/self"),
        ] {
            let _ = c.request(&mut st, &url, None, &no_params()).await;
        }
        let j = w.finish().await;
        let at_foreign = j
            .entries
            .iter()
            .filter(|e| e.role == Role::Foreign)
            .any(|e| !e.presented.is_empty() || e.credentials.is_some());
        assert_eq!(at_foreign, leaks, "{flaw:?}: {:#?}", j.entries);
    }
}

#[tokio::test]
async fn the_federated_server_gets_an_exchanged_token_and_the_portal_none() {
    let w = world(Setup::default()).await;
    let c = client(&w, None);
    let mut st = State::default();
    c.signin(&mut st).await.expect("signin");
    let url = format!(
        "{}/rest/services/SampleWorldCities/MapServer",
        w.url(Var::Federated)
    );
    c.request(&mut st, &url, None, &no_params())
        .await
        .expect("federated request");
    let j = w.finish().await;
    let fed: Vec<&Entry> = j
        .entries
        .iter()
        .filter(|e| e.role == Role::Federated)
        .collect();
    let used: Vec<TokenId> = fed.iter().flat_map(|e| tokens_in(e)).collect();
    assert_eq!(used.len(), 1, "{fed:#?}");
    let t = j.token(used[0]).expect("a registered token");
    assert!(t.from.is_some(), "exchanged from the portal token: {t:?}");
    assert!(fed.iter().all(|e| e.credentials.is_none()));
}

#[tokio::test]
async fn a_short_token_is_renewed_ahead_of_its_expiry_not_late() {
    for (flaw, ahead) in [(None, true), (Some(Flaw::LateRenewal), false)] {
        let setup = Setup {
            token_lifetime_ms: Some(3000),
            ..Setup::default()
        };
        let w = world(setup).await;
        let c = client(&w, flaw);
        let mut st = State::default();
        c.signin(&mut st).await.expect("signin");
        // What the renewal timer does, four times a second.
        let end = Instant::now() + Duration::from_millis(3600);
        while Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(250)).await;
            c.renew_due(&mut st).await;
        }
        let j = w.finish().await;
        let first = &j.tokens[0];
        let next = j.tokens.get(1);
        let renewed_ahead =
            next.is_some_and(|n| first.expires_server_ms - n.issued_server_ms >= 1000);
        assert_eq!(renewed_ahead, ahead, "{flaw:?}: {:#?}", j.tokens);
    }
}

#[tokio::test]
async fn after_ssl_true_the_token_stays_off_plain_http_unless_ssl_is_ignored() {
    for (flaw, over_http) in [(None, false), (Some(Flaw::IgnoreSsl), true)] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let w = world_tls(Setup::default(), dir.path()).await;
        w.apply(0, &Event::DeclareSsl).await.expect("declare ssl");
        let c = client(&w, flaw);
        let mut st = State::default();
        let signed = c.signin(&mut st).await;
        let url = format!("{}/community/self", w.url(Var::Portal));
        let asked = c.request(&mut st, &url, None, &no_params()).await;
        if flaw.is_none() {
            // Upgraded to https on the same port: both succeed.
            assert!(signed.is_ok() && asked.is_ok(), "{signed:?} {asked:?}");
        }
        let j = w.finish().await;
        let sent = j.entries.iter().any(|e| {
            e.issued.is_none()
                && !e.presented.is_empty()
                && e.scheme == crate::certify::journal::Scheme::Http
        });
        assert_eq!(sent, over_http, "{flaw:?}: {:#?}", j.entries);
    }
}
