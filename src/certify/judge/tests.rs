//! Hand-built journals for each rule: one that breaks it and one that does
//! not, so an evaluator that is wrong either way fails a test.

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::certify::journal::{
    Applied, Binding, Carrier, Credentials, DriverEnd, Entry, IssuedToken, Journal, Listener,
    OpRecord, Place, Presented, Role, Scheme, Seen, TokenId, TokenKind, Transcript,
};
use crate::certify::plan::{CasePlan, Envelope, Event, Revoke, Setup};
use crate::certify::protocol::{ErrorKind, Feature, Hello, Op, OpError, Outcome};
use crate::certify::rules::ClCite;
use crate::certify::verdict::{CaseResult, Verdict};

/// Server clock at real 0 (epoch ms).
const BASE: i64 = 1_800_000_000_000;

fn origin(r: Role) -> String {
    format!("http://127.0.0.1:{}", 1000 + r as u16)
}

fn root(r: Role) -> &'static str {
    match r {
        Role::Portal => "/sharing/rest",
        Role::Server => "/arcgis",
        Role::Federated => "/federated",
        Role::Foreign => "/arcgis",
    }
}

struct J {
    rec: CaseRecord,
    plan: CasePlan,
    expect: Expectations,
}

fn hello() -> Hello {
    Hello {
        client: "test".into(),
        version: "1".into(),
        features: Feature::ALL.iter().map(|f| f.as_str().to_owned()).collect(),
        options: Default::default(),
    }
}

impl J {
    fn new() -> J {
        let listeners = Role::ALL
            .iter()
            .map(|r| Listener {
                role: *r,
                scheme: Scheme::Http,
                origin: origin(*r),
                untrusted: false,
            })
            .collect();
        J {
            rec: CaseRecord {
                case: "client/t".into(),
                journal: Journal {
                    listeners,
                    ..Journal::default()
                },
                transcript: Transcript {
                    hello: Some(hello()),
                    ops: vec![],
                    end: DriverEnd::Exited(0),
                    stderr_tail: String::new(),
                },
            },
            plan: CasePlan {
                id: "client/t".into(),
                title: "t".into(),
                ..CasePlan::default()
            },
            expect: Expectations::default(),
        }
    }

    fn cites(mut self, rules: &[&str]) -> J {
        self.plan.rules = rules.iter().map(|s| s.to_string()).collect();
        self
    }

    fn req(&mut self, role: Role, method: &str, path: &str, at: i64) -> &mut Entry {
        let seq = self.rec.journal.entries.len();
        self.rec.journal.entries.push(Entry {
            seq,
            listener: role as usize,
            role,
            scheme: Scheme::Http,
            real_ms: at,
            server_ms: BASE + at,
            method: method.into(),
            path: path.into(),
            query_keys: vec![],
            body_keys: vec![],
            presented: vec![],
            credentials: None,
            referer: None,
            peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
            status: 200,
            error_code: None,
            issued: None,
            injected: false,
        });
        self.rec.journal.entries.last_mut().unwrap()
    }

    /// A password generateToken at `role` issuing a token of `life` ms.
    fn signin(&mut self, role: Role, at: i64, life: i64) -> TokenId {
        let kind = match role {
            Role::Server => TokenKind::Server,
            _ => TokenKind::Portal,
        };
        let path = format!("{}/generateToken", root(role));
        let e = self.req(role, "POST", &path, at);
        e.body_keys = vec![
            "username".into(),
            "password".into(),
            "client".into(),
            "f".into(),
        ];
        e.credentials = Some(Credentials {
            username: Some("alice".into()),
            password: Some(Place::Body),
        });
        let seq = e.seq;
        self.token(kind, role, seq, at, life)
    }

    fn token(&mut self, kind: TokenKind, role: Role, by: usize, at: i64, life: i64) -> TokenId {
        let id = TokenId(self.rec.journal.tokens.len() as u32);
        self.rec.journal.tokens.push(IssuedToken {
            id,
            kind,
            user: "alice".into(),
            scope_origin: origin(role),
            scope_root: root(role).into(),
            issued_by: by,
            issued_real_ms: at,
            issued_server_ms: BASE + at,
            expires_server_ms: BASE + at + life,
            binding: Binding::None,
            from: None,
            revoked_real_ms: None,
        });
        self.rec.journal.entries[by].issued = Some(id);
        id
    }

    /// A GET to the portal's community/self with `t` in the header.
    fn get(&mut self, t: TokenId, at: i64) -> &mut Entry {
        let e = self.req(Role::Portal, "GET", "/sharing/rest/community/self", at);
        e.presented = vec![Presented {
            carrier: Carrier::XEsriHeader,
            token: Seen::Issued(t),
        }];
        e
    }

    fn op(&mut self, step: usize, op: Op, from: i64, to: i64, outcome: Outcome) {
        self.rec.transcript.ops.push(OpRecord {
            step,
            op,
            sent_real_ms: from,
            answered_real_ms: Some(to),
            outcome: Some(outcome),
        });
    }

    fn request_op(&mut self, step: usize, from: i64, to: i64, ok: bool) {
        let outcome = if ok {
            Outcome::Ok
        } else {
            Outcome::Failed(OpError {
                kind: ErrorKind::Auth,
                code: Some(498),
                message: None,
            })
        };
        let op = Op::Request {
            url: "http://127.0.0.1:1000/sharing/rest/community/self".into(),
            method: None,
            params: Default::default(),
        };
        self.op(step, op, from, to, outcome);
    }

    fn event(&mut self, step: usize, at: i64, event: Event) {
        self.rec.journal.events.push(Applied {
            step,
            real_ms: at,
            event,
        });
    }

    fn judge(&self) -> CaseResult {
        judge(&self.plan, &self.expect, &self.rec)
    }
}

/// The findings of a result about rule `id` (any clause).
fn about<'a>(r: &'a CaseResult, id: &str) -> Vec<&'a Finding> {
    r.findings
        .iter()
        .filter(|f| {
            f.rule
                .split(", ")
                .any(|c| crate::certify::rules::cites(c, id))
        })
        .collect()
}

fn verdict_on(r: &CaseResult, id: &str) -> Option<Verdict> {
    about(r, id)
        .iter()
        .map(|f| f.verdict)
        .max_by_key(|v| severity(*v))
}

/// A clean case: sign in, two requests with the header.
fn clean() -> J {
    let mut j = J::new();
    let t = j.signin(Role::Portal, 10, 60_000);
    j.get(t, 100);
    j.get(t, 200);
    j
}

#[test]
fn a_clean_journal_passes_and_shows_its_variants() {
    let r = clean().judge();
    assert_eq!(r.verdict, Verdict::Pass, "{:#?}", r.findings);
    let shown: Vec<String> = r
        .shown
        .iter()
        .map(|s| format!("{} {}: {}", s.rule, s.about, s.variant))
        .collect();
    assert!(shown.contains(&"CL-3 GET: header".into()), "{shown:?}");
    assert!(shown.contains(&"CL-15 binding: none".into()), "{shown:?}");
}

#[test]
fn cl1_credentials_in_the_query_or_a_get_fail() {
    let mut j = J::new();
    j.signin(Role::Portal, 10, 60_000);
    j.rec.journal.entries[0]
        .credentials
        .as_mut()
        .unwrap()
        .password = Some(Place::Query);
    assert_eq!(verdict_on(&j.judge(), "CL-1"), Some(Verdict::Fail));

    let mut j = J::new();
    j.signin(Role::Portal, 10, 60_000);
    j.rec.journal.entries[0].method = "GET".into();
    let r = j.judge();
    assert_eq!(verdict_on(&r, "CL-1"), Some(Verdict::Fail));
    assert!(about(&r, "CL-1")[0].message.contains("by GET"));

    let mut j = J::new();
    j.signin(Role::Portal, 10, 60_000);
    j.rec.journal.entries[0].body_keys.retain(|k| k != "f");
    assert_eq!(verdict_on(&j.judge(), "CL-1"), Some(Verdict::Fail));

    assert_eq!(verdict_on(&clean().judge(), "CL-1"), None);
}

#[test]
fn cl2_a_password_off_home_or_off_a_token_service_fails() {
    let mut j = clean();
    let e = j.req(Role::Foreign, "POST", "/steal", 300);
    e.credentials = Some(Credentials {
        username: Some("alice".into()),
        password: Some(Place::Body),
    });
    let r = j.judge();
    assert_eq!(verdict_on(&r, "CL-2"), Some(Verdict::Fail));
    assert_eq!(about(&r, "CL-2")[0].entry, Some(3));

    let mut j = clean();
    j.req(Role::Portal, "POST", "/sharing/rest/community/self", 300)
        .credentials = Some(Credentials {
        username: None,
        password: Some(Place::Body),
    });
    assert_eq!(verdict_on(&j.judge(), "CL-2"), Some(Verdict::Fail));
}

#[test]
fn cl3_query_and_cookie_carriers_warn_and_show_the_variant() {
    let mut j = J::new();
    let t = j.signin(Role::Portal, 10, 60_000);
    j.get(t, 100).presented[0].carrier = Carrier::Query;
    j.get(t, 200).presented[0].carrier = Carrier::Query;
    let r = j.judge();
    assert_eq!(r.verdict, Verdict::Warn);
    let f = about(&r, "CL-3");
    assert_eq!(f.len(), 1, "one warning for the query carrier: {f:#?}");
    assert!(f[0].message.contains("1 more"), "{}", f[0].message);
    assert!(
        r.shown
            .iter()
            .any(|s| s.rule == "CL-3" && s.about == "GET" && s.variant == "query")
    );
    let mut j = J::new();
    let t = j.signin(Role::Portal, 10, 60_000);
    j.get(t, 100).presented[0].carrier = Carrier::Cookie;
    assert_eq!(verdict_on(&j.judge(), "CL-3"), Some(Verdict::Warn));
}

#[test]
fn cl4_two_different_tokens_fail_the_same_twice_warns() {
    let mut j = J::new();
    let a = j.signin(Role::Portal, 10, 60_000);
    let b = j.signin(Role::Portal, 20, 60_000);
    j.get(a, 100).presented.push(Presented {
        carrier: Carrier::Query,
        token: Seen::Issued(b),
    });
    assert_eq!(verdict_on(&j.judge(), "CL-4"), Some(Verdict::Fail));

    let mut j = J::new();
    let a = j.signin(Role::Portal, 10, 60_000);
    j.get(a, 100).presented.push(Presented {
        carrier: Carrier::Body,
        token: Seen::Issued(a),
    });
    let r = j.judge();
    assert_eq!(verdict_on(&r, "CL-4"), Some(Verdict::Warn));
    assert_eq!(r.verdict, Verdict::Warn);
}

#[test]
fn cl5_a_token_outside_its_origin_or_root_fails() {
    let mut j = clean();
    let e = j.req(Role::Foreign, "GET", "/x", 300);
    e.presented = vec![Presented {
        carrier: Carrier::Query,
        token: Seen::Issued(TokenId(0)),
    }];
    let r = j.judge();
    assert_eq!(verdict_on(&r, "CL-5"), Some(Verdict::Fail));
    assert!(
        about(&r, "CL-5")[0]
            .message
            .contains("T1 (portal token for alice)")
    );

    let mut j = J::new();
    let t = j.signin(Role::Server, 10, 60_000);
    j.req(Role::Server, "GET", "/arcgisx/rest/services", 100)
        .presented = vec![Presented {
        carrier: Carrier::XEsriHeader,
        token: Seen::Issued(t),
    }];
    assert_eq!(verdict_on(&j.judge(), "CL-5"), Some(Verdict::Fail));
    let mut j = J::new();
    let t = j.signin(Role::Server, 10, 60_000);
    j.req(Role::Server, "GET", "/arcgis/rest/services", 100)
        .presented = vec![Presented {
        carrier: Carrier::XEsriHeader,
        token: Seen::Issued(t),
    }];
    assert_eq!(verdict_on(&j.judge(), "CL-5"), None);

    let mut j = clean();
    j.rec.journal.entries[1].presented[0].token = Seen::OtherCase;
    assert_eq!(verdict_on(&j.judge(), "CL-5"), Some(Verdict::Fail));
}

#[test]
fn cl7_presenting_past_expires_plus_tolerance_fails_unless_the_clock_moved() {
    let mut j = J::new();
    let t = j.signin(Role::Portal, 0, 10_000);
    j.get(t, 10_000 + TOLERANCE_MS + 1);
    assert_eq!(verdict_on(&j.judge(), "CL-7"), Some(Verdict::Fail));

    let mut j = J::new();
    let t = j.signin(Role::Portal, 0, 10_000);
    j.get(t, 10_000 + TOLERANCE_MS);
    assert_eq!(verdict_on(&j.judge(), "CL-7"), None);

    // A clock jump in between: CL-8's business, not CL-7's.
    let mut j = J::new();
    let t = j.signin(Role::Portal, 0, 10_000);
    j.event(1, 50, Event::ClockJump { ms: 3_600_000 });
    j.get(t, 100).server_ms = BASE + 3_600_100;
    assert_eq!(verdict_on(&j.judge(), "CL-7"), None);
}

/// A 15 s token renewed at `renew_at` ms, then used, with a renewal check.
fn renewed(renew_at: i64) -> CaseResult {
    let mut j = J::new().cites(&["CL-7"]);
    let a = j.signin(Role::Portal, 0, 15_000);
    j.get(a, 100);
    let b = j.signin(Role::Portal, renew_at, 15_000);
    j.get(b, 17_000);
    j.request_op(0, 16_900, 17_100, true);
    j.expect.checks.push(Check {
        line: 9,
        rules: vec!["CL-7/SHOULD".parse::<ClCite>().unwrap()],
        after: None,
        until: None,
        what: CheckKind::Renewal {
            kind: TokenKind::Portal,
        },
        note: None,
    });
    j.judge()
}

#[test]
fn cl7_renewal_needs_the_margin_and_shows_it() {
    let r = renewed(13_000);
    assert_eq!(r.verdict, Verdict::Pass, "{:#?}", r.findings);
    assert!(
        r.shown
            .iter()
            .any(|s| s.rule == "CL-7" && s.variant == "2.0 s of 15.0 s"),
        "{:?}",
        r.shown
    );
    // 0.5 s before expiry: a margin under the 1 s floor.
    let r = renewed(14_500);
    assert_eq!(r.verdict, Verdict::Warn);
    assert!(about(&r, "CL-7")[0].message.contains("0.5 s before expiry"));
    // Lazily, after expiry.
    let r = renewed(16_800);
    assert_eq!(verdict_on(&r, "CL-7"), Some(Verdict::Warn));
    assert!(r.shown.iter().any(|s| s.variant.starts_with("none")));
}

#[test]
fn cl7_a_token_that_expired_and_was_never_renewed_warns() {
    let mut j = J::new();
    let a = j.signin(Role::Portal, 0, 5_000);
    j.get(a, 100);
    j.request_op(0, 50, 150, true);
    j.op(1, Op::Idle { ms: 7000 }, 200, 7_200, Outcome::Ok);
    j.expect.checks.push(Check {
        line: 3,
        rules: vec!["CL-7/SHOULD".parse().unwrap()],
        after: None,
        until: None,
        what: CheckKind::Renewal {
            kind: TokenKind::Portal,
        },
        note: None,
    });
    let r = j.judge();
    assert_eq!(r.verdict, Verdict::Warn);
    assert!(about(&r, "CL-7")[0].message.contains("never renewed"));
}

/// A 498 on T1 within op 0, then whatever `after` adds.
fn rejected(after: impl FnOnce(&mut J, TokenId)) -> CaseResult {
    let mut j = J::new();
    let t = j.signin(Role::Portal, 0, 60_000);
    j.get(t, 100).error_code = Some(498);
    after(&mut j, t);
    j.request_op(1, 90, 1_000, true);
    j.judge()
}

#[test]
fn cl8_renew_and_retry_passes_and_is_the_variant() {
    let r = rejected(|j, _| {
        let n = j.signin(Role::Portal, 200, 60_000);
        j.get(n, 300);
    });
    assert_eq!(r.verdict, Verdict::Pass, "{:#?}", r.findings);
    assert!(
        r.shown
            .iter()
            .any(|s| s.rule == "CL-8" && s.about == "portal token" && s.variant == "renew-retry")
    );
}

#[test]
fn cl8_resending_the_rejected_token_fails() {
    let r = rejected(|j, t| {
        j.get(t, 300);
    });
    assert_eq!(verdict_on(&r, "CL-8"), Some(Verdict::Fail));
    let f = about(&r, "CL-8")[0];
    assert_eq!(f.entry, Some(2));
    assert!(f.excerpt.iter().any(|l| l.offending));
}

#[test]
fn cl8_retrying_forever_fails() {
    let r = rejected(|j, _| {
        for k in 0..4 {
            let n = j.signin(Role::Portal, 200 + k * 100, 60_000);
            j.get(n, 250 + k * 100).error_code = Some(498);
        }
    });
    let f = about(&r, "CL-8");
    assert!(
        f.iter().any(|f| f.message.contains("retried 4 times")),
        "{f:#?}"
    );
    assert!(
        f.iter().any(|f| f.message.contains("more than 3 renewals")),
        "{f:#?}"
    );
    assert_eq!(r.verdict, Verdict::Fail);
}

#[test]
fn cl9_a_reaction_that_changes_with_the_envelope_fails() {
    let run = |second_renews: bool| {
        let mut j = J::new();
        let t = j.signin(Role::Portal, 0, 60_000);
        j.event(
            1,
            50,
            Event::Inject {
                role: Role::Portal,
                path_suffix: "/community/self".into(),
                code: 498,
                envelope: Envelope::Server200,
                times: 1,
                retry_after_s: None,
            },
        );
        let e = j.get(t, 100);
        e.error_code = Some(498);
        e.injected = true;
        let n = j.signin(Role::Portal, 200, 60_000);
        j.get(n, 300);
        j.request_op(2, 90, 400, true);
        j.event(
            3,
            500,
            Event::Inject {
                role: Role::Portal,
                path_suffix: "/community/self".into(),
                code: 498,
                envelope: Envelope::Http401,
                times: 1,
                retry_after_s: None,
            },
        );
        let e = j.get(n, 600);
        e.error_code = Some(498);
        e.status = 401;
        e.injected = true;
        if second_renews {
            let m = j.signin(Role::Portal, 700, 60_000);
            j.get(m, 800);
        }
        j.request_op(4, 590, 900, second_renews);
        j.judge()
    };
    let bad = run(false);
    assert_eq!(
        verdict_on(&bad, "CL-9"),
        Some(Verdict::Fail),
        "{:#?}",
        bad.findings
    );
    assert!(about(&bad, "CL-9")[0].message.contains("http-401"));
    let good = run(true);
    assert_eq!(verdict_on(&good, "CL-9"), None, "{:#?}", good.findings);
    assert_eq!(good.verdict, Verdict::Pass);
}

#[test]
fn cl10_credentials_to_a_foreign_origin_after_its_499_fail() {
    let mut j = clean();
    j.req(
        Role::Foreign,
        "GET",
        "/arcgis/rest/services/X/MapServer",
        300,
    )
    .error_code = Some(499);
    let ok = j.judge();
    assert_eq!(verdict_on(&ok, "CL-10"), None);
    assert!(
        ok.shown
            .iter()
            .any(|s| s.about == "foreign 499" && s.variant == "no token sent")
    );
    j.req(
        Role::Foreign,
        "GET",
        "/arcgis/rest/services/X/MapServer",
        400,
    )
    .presented = vec![Presented {
        carrier: Carrier::Query,
        token: Seen::Issued(TokenId(0)),
    }];
    assert_eq!(verdict_on(&j.judge(), "CL-10"), Some(Verdict::Fail));
}

#[test]
fn cl11_a_session_started_with_a_session_token_fails_and_starts_are_bounded() {
    let start = "/arcgis/rest/services/styles/v2/sessions/start";
    let mut j = J::new();
    let t = j.signin(Role::Portal, 0, 60_000);
    let s1 = {
        let e = j.req(Role::Server, "GET", start, 100);
        e.presented = vec![Presented {
            carrier: Carrier::Query,
            token: Seen::Issued(t),
        }];
        e.seq
    };
    let s = j.token(TokenKind::Session, Role::Server, s1, 100, 10_000);
    let e = j.req(Role::Server, "GET", start, 2_000);
    e.presented = vec![Presented {
        carrier: Carrier::Query,
        token: Seen::Issued(s),
    }];
    let seq = e.seq;
    j.token(TokenKind::Session, Role::Server, seq, 2_000, 10_000);
    let r = j.judge();
    let f = about(&r, "CL-11");
    assert!(
        f.iter()
            .any(|f| f.verdict == Verdict::Fail && f.message.contains("started with T2")),
        "{f:#?}"
    );
    assert!(
        f.iter()
            .any(|f| f.verdict == Verdict::Warn && f.message.contains("half duration")),
        "{f:#?}"
    );
}

#[test]
fn cl12_tokens_after_ssl_over_http_fail_and_untrusted_listeners_warn() {
    let mut j = J::new();
    j.event(0, 0, Event::DeclareSsl);
    let t = j.signin(Role::Portal, 10, 60_000);
    j.get(t, 100);
    assert_eq!(verdict_on(&j.judge(), "CL-12"), Some(Verdict::Fail));

    let mut j = J::new();
    j.event(0, 0, Event::DeclareSsl);
    let t = j.signin(Role::Portal, 10, 60_000);
    j.get(t, 100).scheme = Scheme::Https;
    assert_eq!(verdict_on(&j.judge(), "CL-12"), None);

    let mut j = clean();
    j.plan.setup = Setup {
        https: vec![Role::Portal],
        ..Setup::default()
    };
    assert_eq!(verdict_on(&j.judge(), "CL-12"), Some(Verdict::Fail));

    let mut j = clean();
    j.rec.journal.listeners[0].untrusted = true;
    for e in &mut j.rec.journal.entries {
        e.scheme = Scheme::Https;
    }
    assert_eq!(verdict_on(&j.judge(), "CL-12"), Some(Verdict::Warn));
}

#[test]
fn cl13_two_498s_for_one_token_or_a_storm_warn_in_skew_cases() {
    let mut j = J::new().cites(&["CL-13"]);
    j.plan.setup.clock_offset_ms = 300_000;
    let t = j.signin(Role::Portal, 0, 10_000);
    j.get(t, 100).error_code = Some(498);
    let n = j.signin(Role::Portal, 200, 10_000);
    j.get(n, 300);
    j.request_op(0, 50, 400, true);
    let ok = j.judge();
    assert_eq!(verdict_on(&ok, "CL-13"), None, "{:#?}", ok.findings);
    assert!(
        ok.shown
            .iter()
            .any(|s| s.rule == "CL-13" && s.variant == "ok" && s.about == "server clock +5 min")
    );

    let mut j = J::new().cites(&["CL-13"]);
    j.plan.setup.clock_offset_ms = -300_000;
    for k in 0..5 {
        let t = j.signin(Role::Portal, k * 300, 10_000);
        j.get(t, k * 300 + 100);
    }
    let r = j.judge();
    assert_eq!(verdict_on(&r, "CL-13"), Some(Verdict::Warn));
}

#[test]
fn cl14_more_than_ten_acquisitions_a_minute_fail() {
    let mut j = J::new();
    for k in 0..11 {
        j.signin(Role::Portal, k * 1000, 60_000);
    }
    let r = j.judge();
    assert_eq!(verdict_on(&r, "CL-14"), Some(Verdict::Fail));
    assert!(
        r.shown
            .iter()
            .any(|s| s.rule == "CL-14" && s.variant == "11")
    );
    let mut j = J::new();
    for k in 0..10 {
        j.signin(Role::Portal, k * 1000, 60_000);
    }
    assert_eq!(verdict_on(&j.judge(), "CL-14"), None);
}

#[test]
fn cl14_a_credential_failure_retried_twice_fails() {
    let run = |attempts: usize| {
        let mut j = J::new();
        for k in 0..attempts {
            let e = j.req(
                Role::Portal,
                "POST",
                "/sharing/rest/generateToken",
                10 + k as i64,
            );
            e.body_keys = vec!["username".into(), "password".into(), "f".into()];
            e.credentials = Some(Credentials {
                username: Some("alice".into()),
                password: Some(Place::Body),
            });
            e.error_code = Some(400);
        }
        j.op(
            0,
            Op::Signin,
            0,
            100,
            Outcome::Failed(OpError {
                kind: ErrorKind::Auth,
                code: Some(400),
                message: None,
            }),
        );
        j.judge()
    };
    assert_eq!(verdict_on(&run(2), "CL-14"), None);
    assert_eq!(verdict_on(&run(3), "CL-14"), Some(Verdict::Fail));
}

#[test]
fn cl14_retrying_before_retry_after_warns() {
    let run = |gap: i64| {
        let mut j = J::new();
        j.event(
            0,
            0,
            Event::Inject {
                role: Role::Portal,
                path_suffix: "/generateToken".into(),
                code: 429,
                envelope: Envelope::Status,
                times: 1,
                retry_after_s: Some(2),
            },
        );
        j.signin(Role::Portal, 10, 60_000);
        let e = &mut j.rec.journal.entries[0];
        (e.status, e.injected, e.issued) = (429, true, None);
        j.rec.journal.tokens.clear();
        j.signin(Role::Portal, 10 + gap, 60_000);
        j.judge()
    };
    assert_eq!(verdict_on(&run(50), "CL-14"), Some(Verdict::Warn));
    assert_eq!(verdict_on(&run(2_000), "CL-14"), None);
}

#[test]
fn cl15_a_referer_bound_token_without_its_referer_fails() {
    let mut j = clean();
    j.rec.journal.tokens[0].binding = Binding::Referer("https://app.example".into());
    for e in &mut j.rec.journal.entries[1..] {
        e.referer = Some("https://app.example/page".into());
    }
    let ok = j.judge();
    assert_eq!(verdict_on(&ok, "CL-15"), None);
    assert!(
        ok.shown
            .iter()
            .any(|s| s.rule == "CL-15" && s.variant == "referer")
    );
    j.rec.journal.entries[2].referer = None;
    assert_eq!(verdict_on(&j.judge(), "CL-15"), Some(Verdict::Fail));

    let mut j = clean();
    j.rec.journal.entries[0].body_keys.retain(|k| k != "client");
    assert_eq!(verdict_on(&j.judge(), "CL-15"), Some(Verdict::Warn));
}

#[test]
fn driver_trouble_is_an_error_unless_allowed_and_features_decide_applicability() {
    let mut j = clean();
    j.rec.transcript.end = DriverEnd::TimedOut;
    let r = j.judge();
    assert_eq!(r.verdict, Verdict::Error);
    assert!(r.reason.as_deref().unwrap().contains("timed out"));
    j.plan.allow_client_error = true;
    assert_eq!(j.judge().verdict, Verdict::Pass);

    // A MUST break still fails, crash or not.
    let mut j = clean();
    j.rec.transcript.end = DriverEnd::Signalled(9);
    j.rec.journal.entries[1].presented[0].token = Seen::OtherCase;
    assert_eq!(j.judge().verdict, Verdict::Fail);

    // A driver that hung before the requests a count expects is an error,
    // not a fail: nothing it sent broke a rule.
    let mut j = J::new();
    j.rec.transcript.end = DriverEnd::TimedOut;
    j.expect.checks.push(Check {
        line: 20,
        rules: vec!["CL-1".parse().unwrap()],
        after: None,
        until: None,
        what: CheckKind::Count {
            filter: Filter::default(),
            min: Some(1),
            max: None,
        },
        note: None,
    });
    let r = j.judge();
    assert_eq!(r.verdict, Verdict::Error, "{:?}", r.findings);
    assert!(r.reason.as_deref().unwrap().contains("timed out"));
    j.rec.transcript.end = DriverEnd::Exited(0);
    assert_eq!(j.judge().verdict, Verdict::Fail);

    let mut j = clean();
    j.plan.requires = vec![Feature::Federation];
    j.rec.transcript.hello.as_mut().unwrap().features = vec!["portal".into()];
    let r = j.judge();
    assert_eq!(r.verdict, Verdict::NotApplicable);
    assert!(r.reason.unwrap().contains("federation"));

    let mut j = clean();
    j.op(0, Op::Signin, 0, 5, Outcome::Unsupported);
    assert_eq!(j.judge().verdict, Verdict::NotApplicable);

    let mut j = clean();
    j.rec.transcript.hello = None;
    assert_eq!(j.judge().verdict, Verdict::Error);
}

#[test]
fn counts_respect_anchors_and_op_results_cite_their_levels() {
    let mut j = J::new();
    let t = j.signin(Role::Portal, 0, 60_000);
    j.get(t, 100);
    j.event(2, 150, Event::Revoke(Revoke::User("alice".into())));
    j.signin(Role::Portal, 200, 60_000);
    j.signin(Role::Portal, 300, 60_000);
    let count = |max| Check {
        line: 20,
        rules: vec!["CL-14".parse().unwrap()],
        after: Some(2),
        until: None,
        what: CheckKind::Count {
            filter: Filter {
                acquisition: Some(true),
                ..Filter::default()
            },
            min: None,
            max: Some(max),
        },
        note: Some("after the revocation".into()),
    };
    j.expect.checks = vec![count(2)];
    assert_eq!(j.judge().verdict, Verdict::Pass);
    j.expect.checks = vec![count(1)];
    let r = j.judge();
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.findings[0].entry, Some(3));
    assert!(
        r.findings[0]
            .message
            .contains("line 20: 2 matching requests, at most 1")
    );

    let mut j = clean();
    j.request_op(1, 90, 110, false);
    j.expect.ops.push(OpExpect {
        step: 1,
        line: 7,
        ok: true,
        rules: vec!["CL-8/SHOULD".parse().unwrap()],
    });
    let r = j.judge();
    assert_eq!(r.verdict, Verdict::Warn);
    assert_eq!(r.findings[0].rule, "CL-8/SHOULD");
    j.expect.ops[0].rules = vec!["CL-8/MUST".parse().unwrap()];
    assert_eq!(j.judge().verdict, Verdict::Fail);
}

#[test]
fn token_filters_match_revoked_rejected_and_home_tokens() {
    let mut j = clean();
    j.rec.journal.tokens[0].revoked_real_ms = Some(150);
    let cx = Cx::new(&j.plan, &j.rec);
    let f = |token| Filter {
        token: Some(token),
        ..Filter::default()
    };
    let es = &j.rec.journal.entries;
    assert!(!matches(&cx, &f(TokenMatch::Revoked), &es[1]));
    assert!(matches(&cx, &f(TokenMatch::Revoked), &es[2]));
    assert!(matches(&cx, &f(TokenMatch::Home), &es[2]));
    assert!(!matches(&cx, &f(TokenMatch::Rejected), &es[2]));
    assert!(matches(&cx, &f(TokenMatch::None), &es[0]));
    assert!(matches(
        &cx,
        &Filter {
            acquisition: Some(true),
            ..Filter::default()
        },
        &es[0]
    ));
}

#[test]
fn the_timeline_names_tokens_by_label_and_marks_the_offending_request() {
    let r = rejected(|j, t| {
        j.rec.journal.tokens[0].revoked_real_ms = Some(50);
        j.get(t, 300);
    });
    let f = about(&r, "CL-8")[0];
    let text: Vec<&str> = f.excerpt.iter().map(|l| l.text.as_str()).collect();
    let offending: Vec<&str> = f
        .excerpt
        .iter()
        .filter(|l| l.offending)
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(
        offending,
        [
            "portal http GET /sharing/rest/community/self; T1 (portal token for alice, revoked, drew a 498) in X-Esri-Authorization -> 200"
        ]
    );
    assert!(
        text[0].contains("password in body (user alice) -> 200; issued T1 = portal token for alice, expires in 60.0 s"),
        "{text:#?}"
    );
}

fn result_with(id: &str, shown: &[(&str, &str, &str)]) -> CaseResult {
    let mut j = clean();
    j.plan.id = id.into();
    j.plan.rules = vec!["CL-3".into()];
    let mut r = j.judge();
    r.shown = shown
        .iter()
        .map(|(rule, about, variant)| crate::certify::verdict::Shown {
            rule: (*rule).into(),
            about: (*about).into(),
            variant: (*variant).into(),
        })
        .collect();
    r
}

#[test]
fn rollup_fails_a_variant_shown_two_ways_and_builds_the_card() {
    let a = result_with(
        "client/a",
        &[
            ("CL-3", "GET", "header"),
            ("CL-7", "portal token", "2.0 s of 15.0 s"),
        ],
    );
    let b = result_with(
        "client/b",
        &[
            ("CL-3", "GET", "query"),
            ("CL-14", "peak acquisitions per minute", "3"),
        ],
    );
    let c = client_result(
        "good",
        "drv --x 'y'",
        Some(&hello()),
        vec![a.clone(), b.clone()],
    );
    assert_eq!(c.verdict, Verdict::Fail);
    assert_eq!(c.cases[0].verdict, Verdict::Pass);
    assert_eq!(c.cases[1].verdict, Verdict::Fail);
    assert!(
        c.cases[1].findings[0]
            .message
            .contains("`query` for GET here, `header` for GET in client/a")
    );
    assert_eq!(
        c.cases[0].replay,
        r"tessera certify --driver 'drv --x '\''y'\''' --case client/a --verbose"
    );
    let cl3 = c.rules.iter().find(|r| r.rule == "CL-3").unwrap();
    assert_eq!(
        (cl3.verdict, cl3.cases.clone()),
        (Verdict::Fail, vec!["client/b".to_string()])
    );
    assert_eq!(cl3.levels, "SHOULD + VARIANT");
    let cl1 = c.rules.iter().find(|r| r.rule == "CL-1").unwrap();
    assert_eq!(cl1.verdict, Verdict::NotApplicable);
    assert_eq!(c.rules.len(), 15);
    let card: Vec<String> = c
        .card
        .iter()
        .map(|l| format!("{}: {}", l.topic, l.value))
        .collect();
    assert!(
        card.contains(&"carriers: GET → header, GET → query".to_string()),
        "{card:#?}"
    );
    assert!(
        card.contains(&"renewal margin: portal token: 2.0 s of 15.0 s".to_string()),
        "{card:#?}"
    );
    assert!(
        card.contains(&"acquisitions per minute (peak): 3".to_string()),
        "{card:#?}"
    );

    let b2 = result_with("client/b", &[("CL-3", "GET", "header")]);
    let c = client_result("good", "drv", None, vec![a, b2]);
    assert_eq!(c.verdict, Verdict::Pass);
    let cl3 = c.rules.iter().find(|r| r.rule == "CL-3").unwrap();
    assert_eq!(cl3.verdict, Verdict::Pass);
    assert_eq!(cl3.variants, vec!["GET: header".to_string()]);
}

#[test]
fn a_request_in_the_same_millisecond_as_the_next_event_belongs_to_its_operation() {
    // Op 0 answers at 45 ms, its request arrived at 45 ms; the revocation
    // (step 1) is applied at 45 ms too. Only op 2's requests are after it.
    let mut j = J::new();
    let t = j.signin(Role::Portal, 10, 60_000);
    j.get(t, 45);
    j.request_op(0, 5, 45, true);
    j.event(1, 45, Event::Revoke(Revoke::User("alice".into())));
    j.rec.journal.tokens[0].revoked_real_ms = Some(45);
    j.get(t, 46).error_code = Some(498);
    let n = j.signin(Role::Portal, 47, 60_000);
    j.get(n, 47);
    j.request_op(2, 46, 48, true);
    j.expect.checks.push(Check {
        line: 1,
        rules: vec!["CL-8/MUST".parse().unwrap()],
        after: Some(1),
        until: None,
        what: CheckKind::Count {
            filter: Filter {
                token: Some(TokenMatch::Revoked),
                ..Filter::default()
            },
            min: None,
            max: Some(1),
        },
        note: None,
    });
    let r = j.judge();
    assert_eq!(r.verdict, Verdict::Pass, "{:#?}", r.findings);
    assert!(
        r.shown
            .iter()
            .any(|s| s.rule == "CL-8" && s.variant == "renew-retry")
    );
    // The excerpt lists the first request before the revocation.
    let cx = Cx::new(&j.plan, &j.rec);
    let texts: Vec<&str> = cx
        .timeline
        .lines
        .iter()
        .map(|(_, l)| l.text.as_str())
        .collect();
    let first_get = texts
        .iter()
        .position(|t| t.contains("-> 200") && t.contains("GET"))
        .unwrap();
    let revoke = texts
        .iter()
        .position(|t| t.contains("event revoke"))
        .unwrap();
    assert!(first_get < revoke, "{texts:#?}");
}

#[test]
fn a_servers_tokens_endpoint_is_a_token_service() {
    let mut j = J::new();
    j.signin(Role::Server, 10, 60_000);
    j.rec.journal.entries[0].path = "/arcgis/tokens".into();
    let r = j.judge();
    assert_eq!(verdict_on(&r, "CL-2"), None, "{:#?}", r.findings);
}

#[test]
fn a_renewal_at_the_margin_less_the_trip_to_the_server_passes() {
    // 15 s lifetime: 1 s margin wanted; 0.9 s measured (the trip ate 0.1 s).
    assert_eq!(renewed(14_100).verdict, Verdict::Pass);
    assert_eq!(renewed(14_300).verdict, Verdict::Warn);
}

#[test]
fn cl12_a_password_over_http_after_all_ssl_fails_even_if_refused() {
    let mut j = J::new();
    j.event(0, 0, Event::DeclareAllSsl);
    let e = j.req(Role::Portal, "POST", "/sharing/rest/generateToken", 10);
    e.body_keys = vec![
        "username".into(),
        "password".into(),
        "client".into(),
        "f".into(),
    ];
    e.credentials = Some(Credentials {
        username: Some("alice".into()),
        password: Some(Place::Body),
    });
    e.status = 403;
    assert_eq!(verdict_on(&j.judge(), "CL-12"), Some(Verdict::Fail));
    j.rec.journal.entries[0].scheme = Scheme::Https;
    assert_eq!(verdict_on(&j.judge(), "CL-12"), None);
    // `ssl: true` is learnt from a token answer: the first password is
    // sent before the client can know.
    j.rec.journal.events[0].event = Event::DeclareSsl;
    j.rec.journal.entries[0].scheme = Scheme::Http;
    assert_eq!(verdict_on(&j.judge(), "CL-12"), None);
}

#[test]
fn the_card_keeps_the_smallest_margin_per_token_kind() {
    // Smallest as a share of the lifetime: 2 s of 15 s (13 %).
    let a = result_with(
        "client/a",
        &[
            ("CL-7", "portal token", "0.9 s of 4.0 s"),
            ("CL-7", "portal token", "2.0 s of 15.0 s"),
            (
                "CL-11",
                "session token",
                "none (renewed 0.5 s after expiry)",
            ),
        ],
    );
    let b = result_with("client/b", &[("CL-7", "portal token", "3.0 s of 8.0 s")]);
    let c = client_result("x", "d", None, vec![a, b]);
    let line = c.card.iter().find(|l| l.topic == "renewal margin").unwrap();
    assert_eq!(
        line.value,
        "portal token: 2.0 s of 15.0 s (smallest of 3), session token: none (renewed 0.5 s after expiry)"
    );
}

#[test]
fn a_renewal_after_a_token_error_is_not_a_margin() {
    // A 499 injected on a request with T1; the client renews at once.
    let mut j = J::new();
    let t = j.signin(Role::Portal, 0, 60_000);
    j.request_op(1, 50, 400, true);
    j.get(t, 100).error_code = Some(499);
    let n = j.signin(Role::Portal, 200, 60_000);
    j.get(n, 300);
    let r = j.judge();
    assert!(!r.shown.iter().any(|s| s.rule == "CL-7"), "{:?}", r.shown);
}

/// From H19's branch (merged by H17): a server's token service root is a
/// token path, a service that merely contains `tokens` is not.
#[test]
fn a_server_token_service_root_is_a_token_path() {
    let j = J::new();
    let cx = Cx::new(&j.plan, &j.rec);
    assert!(cx.is_token_path("/arcgis/tokens"));
    assert!(cx.is_token_path("/arcgis/tokens/"));
    assert!(cx.is_token_path("/arcgis/tokens/generateToken"));
    assert!(cx.is_token_path("/sharing/rest/generateToken"));
    assert!(!cx.is_token_path("/arcgis/rest/services/tokens/MapServer/0"));
    assert!(!cx.is_token_path("/arcgis/rest/services"));
}
