//! The rules the judge applies in every case, whatever the case file says:
//! per request (CL-1, 2, 3, 4, 5, 12, 15) and per case (CL-7, 8, 9, 10,
//! 11, 13, 14). Each reports the first offending request of each kind of
//! break (with how many more there were) and records the variants shown.

use std::collections::{BTreeMap, BTreeSet};

use super::timeline::{envelope_name, kind_name};
use super::{Cx, TOLERANCE_MS, margin_text, password, required_margin_ms, successor};
use crate::certify::journal::{
    Binding, Carrier, Entry, Place, Role, Scheme, Seen, TokenId, TokenKind,
};
use crate::certify::plan::{Envelope, Event};
use crate::certify::rules::{ClCite, Level};

use Level::{Must, Should};

/// Every passive evaluator, in rule order.
pub fn run_all(cx: &mut Cx) {
    cl1(cx);
    cl2(cx);
    cl3(cx);
    cl4(cx);
    cl5(cx);
    cl7(cx);
    cl8(cx);
    cl10(cx);
    cl11(cx);
    cl12(cx);
    if cx.cites("CL-13") {
        cl13(cx);
    }
    cl14(cx);
    cl15(cx);
}

/// Offending requests grouped by what they broke; one finding per group.
struct Offences {
    groups: BTreeMap<(String, Level), Vec<(usize, String)>>,
}

impl Offences {
    fn new() -> Offences {
        Offences {
            groups: BTreeMap::new(),
        }
    }

    fn add(&mut self, rule: &str, level: Level, seq: usize, message: String) {
        self.groups
            .entry((rule.to_owned(), level))
            .or_default()
            .push((seq, message));
    }

    fn report(self, cx: &mut Cx) {
        for ((rule, level), list) in self.groups {
            let mut firsts: Vec<&(usize, String)> = Vec::new();
            for o in &list {
                if !firsts.iter().any(|f| f.1 == o.1) {
                    firsts.push(o);
                }
            }
            // One finding per distinct message, first request first.
            for (seq, msg) in firsts {
                let same = list.iter().filter(|o| o.1 == *msg).count();
                let more = if same > 1 {
                    format!(" ({} requests like this)", same)
                } else {
                    String::new()
                };
                cx.find(ClCite::of(&rule, level), Some(*seq), format!("{msg}{more}"));
            }
        }
    }
}

fn issued_ids(e: &Entry) -> impl Iterator<Item = TokenId> + '_ {
    e.presented.iter().filter_map(|p| match p.token {
        Seen::Issued(id) => Some(id),
        _ => None,
    })
}

/// CL-1: credentials never in the query; generateToken is a POST asking
/// for `f`.
fn cl1(cx: &mut Cx) {
    let mut off = Offences::new();
    for e in cx.entries() {
        let in_query = e
            .credentials
            .as_ref()
            .is_some_and(|c| c.password == Some(Place::Query))
            || e.query_keys
                .iter()
                .any(|k| k.eq_ignore_ascii_case("password"));
        if in_query {
            off.add(
                "CL-1",
                Must,
                e.seq,
                "the password was sent in the query string".into(),
            );
        }
        if cx.is_token_path(&e.path) && password(e) {
            if !e.method.eq_ignore_ascii_case("POST") {
                off.add(
                    "CL-1",
                    Must,
                    e.seq,
                    format!("generateToken with a password by {}", e.method),
                );
            }
            let has_f = e
                .query_keys
                .iter()
                .chain(&e.body_keys)
                .any(|k| k.eq_ignore_ascii_case("f"));
            if !has_f {
                off.add(
                    "CL-1",
                    Must,
                    e.seq,
                    "generateToken without `f` (f=json or pjson)".into(),
                );
            }
        }
    }
    off.report(cx);
}

/// CL-2: a password only to a home token service.
fn cl2(cx: &mut Cx) {
    let mut off = Offences::new();
    for e in cx.entries() {
        if !password(e) {
            continue;
        }
        if !e.role.is_home() {
            off.add(
                "CL-2",
                Must,
                e.seq,
                format!(
                    "the password went to the {} origin ({})",
                    e.role.as_str(),
                    e.path
                ),
            );
        } else if !cx.is_token_path(&e.path) {
            off.add(
                "CL-2",
                Must,
                e.seq,
                format!(
                    "the password went with a request that is not for a token ({})",
                    e.path
                ),
            );
        }
    }
    off.report(cx);
}

/// What CL-3 reports a request as: `GET`, `POST`, `sessions/start`,
/// `token exchange`.
pub fn request_kind(cx: &Cx, e: &Entry) -> String {
    let p = e.path.to_ascii_lowercase();
    if p.trim_end_matches('/').ends_with("/sessions/start") {
        "sessions/start".into()
    } else if cx.is_acquisition(e) {
        "token exchange".into()
    } else {
        e.method.to_ascii_uppercase()
    }
}

fn carrier_variant(c: Carrier) -> &'static str {
    match c {
        Carrier::XEsriHeader | Carrier::AuthorizationHeader => "header",
        Carrier::Query => "query",
        Carrier::Body => "body",
        Carrier::Cookie => "cookie",
    }
}

/// CL-3: the carrier per request kind; query and cookie are warnings.
fn cl3(cx: &mut Cx) {
    let mut off = Offences::new();
    let mut shown: Vec<(String, String)> = Vec::new();
    for e in cx.entries() {
        if e.presented.is_empty() {
            continue;
        }
        let carriers: BTreeSet<&str> = e
            .presented
            .iter()
            .map(|p| carrier_variant(p.carrier))
            .collect();
        let variant = carriers.iter().copied().collect::<Vec<_>>().join("+");
        shown.push((request_kind(cx, e), variant));
        for p in &e.presented {
            match p.carrier {
                Carrier::Query => off.add(
                    "CL-3",
                    Should,
                    e.seq,
                    format!("a token in the URL query ({} {})", e.method, e.path),
                ),
                Carrier::Cookie => off.add(
                    "CL-3",
                    Should,
                    e.seq,
                    "a token in the agstoken cookie".into(),
                ),
                _ => {}
            }
        }
    }
    for (about, v) in shown {
        cx.show("CL-3", about, v);
    }
    // One warning per carrier is enough: keep the first of each message
    // kind (query messages differ by path; fold them).
    let mut folded = Offences::new();
    for ((rule, level), list) in off.groups {
        let mut query: Option<(usize, usize)> = None;
        for (seq, msg) in list {
            if msg.starts_with("a token in the URL query") {
                query = Some(match query {
                    None => (seq, 1),
                    Some((s, n)) => (s, n + 1),
                });
                if query.is_some_and(|(_, n)| n == 1) {
                    folded.add(&rule, level, seq, msg);
                }
            } else {
                folded.add(&rule, level, seq, msg);
            }
        }
        if let Some((_, n)) = query
            && n > 1
            && let Some(l) = folded.groups.get_mut(&(rule.clone(), level))
            && let Some(first) = l
                .iter_mut()
                .find(|(_, m)| m.starts_with("a token in the URL query"))
        {
            first
                .1
                .push_str(&format!(" and {} more requests with a query token", n - 1));
        }
    }
    folded.report(cx);
}

/// CL-4: at most one token value per request.
fn cl4(cx: &mut Cx) {
    let mut off = Offences::new();
    for e in cx.entries() {
        let token_keys = e
            .query_keys
            .iter()
            .chain(&e.body_keys)
            .filter(|k| k.eq_ignore_ascii_case("token"))
            .count();
        let n = e.presented.len();
        if n < 2 {
            if token_keys > 1 {
                off.add("CL-4", Should, e.seq, "a repeated `token` parameter".into());
            }
            continue;
        }
        let distinct: BTreeSet<String> = e
            .presented
            .iter()
            .map(|p| match p.token {
                Seen::Issued(id) => id.label(),
                Seen::OtherCase => "other-case".into(),
                Seen::Unknown => "unknown".into(),
            })
            .collect();
        let all_issued = e
            .presented
            .iter()
            .all(|p| matches!(p.token, Seen::Issued(_)));
        if distinct.len() > 1 {
            off.add(
                "CL-4",
                Must,
                e.seq,
                format!("{n} carriers held different tokens in one request"),
            );
        } else if all_issued {
            off.add(
                "CL-4",
                Should,
                e.seq,
                format!("the same token in {n} carriers of one request"),
            );
        } else {
            // Two unknown values: they may differ; they are not the
            // token the client was given, so this is at least a warning.
            off.add(
                "CL-4",
                Should,
                e.seq,
                format!("{n} carriers in one request, tokens not recognised"),
            );
        }
    }
    // CL-4 has only a MUST level: its "same value twice" is a warning the
    // rule's text names; report it at the rule with verdict warn.
    for ((rule, level), list) in off.groups {
        for (seq, msg) in first_per_message(&list) {
            let verdict = if level == Must {
                crate::certify::verdict::Verdict::Fail
            } else {
                crate::certify::verdict::Verdict::Warn
            };
            cx.finding(rule.clone(), verdict, Some(seq), msg);
        }
    }
}

fn first_per_message(list: &[(usize, String)]) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for (seq, msg) in list {
        if !out.iter().any(|(_, m)| m == msg) {
            let n = list.iter().filter(|(_, m)| m == msg).count();
            let more = if n > 1 {
                format!(" ({n} requests like this)")
            } else {
                String::new()
            };
            out.push((*seq, format!("{msg}{more}")));
        }
    }
    out
}

/// Whether `path` lies under `root` (`/arcgis` holds `/arcgis/rest/...`).
fn under(path: &str, root: &str) -> bool {
    let (p, r) = (path.to_ascii_lowercase(), root.to_ascii_lowercase());
    let r = r.trim_end_matches('/');
    r.is_empty() || p == r || p.starts_with(&format!("{r}/"))
}

/// CL-5: a token only to its origin (and, for server tokens, its root).
fn cl5(cx: &mut Cx) {
    let mut off = Offences::new();
    for e in cx.entries() {
        let origin = cx.origin(e);
        for p in &e.presented {
            match p.token {
                Seen::OtherCase => off.add(
                    "CL-5",
                    Must,
                    e.seq,
                    "a token issued in another case was presented".into(),
                ),
                Seen::Issued(id) => {
                    let Some(t) = cx.token(id) else { continue };
                    if !t.scope_origin.eq_ignore_ascii_case(&origin) {
                        off.add(
                            "CL-5",
                            Must,
                            e.seq,
                            format!(
                                "{} was sent to the {} origin",
                                cx.label(id),
                                e.role.as_str()
                            ),
                        );
                    } else if matches!(t.kind, TokenKind::Server | TokenKind::Exchanged)
                        && !under(&e.path, &t.scope_root)
                    {
                        off.add(
                            "CL-5",
                            Must,
                            e.seq,
                            format!(
                                "{} was sent outside its server root {}",
                                cx.label(id),
                                t.scope_root
                            ),
                        );
                    }
                }
                Seen::Unknown => {}
            }
        }
    }
    off.report(cx);
}

/// CL-7 MUST (and CL-11 for session tokens): no token presented after its
/// `expires` plus the tolerance, judged on the server clock while the two
/// clocks agree (skew is CL-13, jumps CL-8). The margins shown.
fn cl7(cx: &mut Cx) {
    let mut off = Offences::new();
    let skewed = cx.plan.setup.clock_offset_ms != 0 || cx.rec.journal.start_offset_ms != 0;
    if !skewed {
        for e in cx.entries() {
            for id in issued_ids(e) {
                let Some(t) = cx.token(id) else { continue };
                if t.kind == TokenKind::Foreign
                    || cx.clock_moved(t.issued_by, e.seq)
                    || e.server_ms <= t.expires_server_ms + TOLERANCE_MS
                {
                    continue;
                }
                let rule = if t.kind == TokenKind::Session {
                    "CL-11"
                } else {
                    "CL-7"
                };
                off.add(
                    rule,
                    Must,
                    e.seq,
                    format!(
                        "{} was presented {:.1} s after its expires",
                        cx.label(id),
                        (e.server_ms - t.expires_server_ms) as f64 / 1000.0
                    ),
                );
            }
        }
    }
    off.report(cx);
    // Margins: each token with a successor obtained while it still had to
    // last (not revoked, rejected or moved by a clock event).
    let tokens = cx.rec.journal.tokens.clone();
    for t in &tokens {
        if matches!(t.kind, TokenKind::Foreign) {
            continue;
        }
        let Some(s) = successor(cx, t) else { continue };
        if super::died_otherwise(cx, t, Some(s.issued_by), 0) {
            continue;
        }
        let life = t.expires_server_ms - t.issued_server_ms;
        let margin = t.expires_server_ms - s.issued_server_ms;
        let rule = if t.kind == TokenKind::Session {
            "CL-11"
        } else {
            "CL-7"
        };
        let variant = if margin <= 0 {
            format!("none (renewed {})", margin_text(margin))
        } else {
            let enough = if margin >= required_margin_ms(life) - super::MARGIN_SLACK_MS {
                ""
            } else {
                ", short"
            };
            format!(
                "{:.1} s of {:.1} s{enough}",
                margin as f64 / 1000.0,
                life as f64 / 1000.0
            )
        };
        cx.show(rule, kind_name(t.kind), variant);
    }
}

/// The reaction to an error answer within its operation: what followed
/// on the same path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reaction {
    RenewRetry,
    AnonymousRetry,
    ResentSame,
    SurfaceError,
}

impl Reaction {
    fn as_str(self) -> &'static str {
        match self {
            Reaction::RenewRetry => "renew-retry",
            Reaction::AnonymousRetry => "anonymous-retry",
            Reaction::ResentSame => "resent the rejected token",
            Reaction::SurfaceError => "surface-error",
        }
    }
}

/// The requests after `err` within its operation (or, outside any, all
/// later ones).
fn later_in_op<'a>(cx: &Cx<'a>, err: &Entry) -> Vec<&'a Entry> {
    let in_op = cx.entry_step.get(err.seq).copied().flatten().is_some();
    cx.entries()
        .iter()
        .filter(|e| e.seq > err.seq && (!in_op || cx.same_op(e.seq, err.seq)))
        .collect()
}

fn reaction(cx: &Cx, err: &Entry) -> Reaction {
    let before: BTreeSet<TokenId> = issued_ids(err).collect();
    let later = later_in_op(cx, err);
    let Some(retry) = later
        .iter()
        .find(|e| e.path.eq_ignore_ascii_case(&err.path) && !cx.is_acquisition(e))
    else {
        return Reaction::SurfaceError;
    };
    let ids: BTreeSet<TokenId> = issued_ids(retry).collect();
    if retry.presented.is_empty() {
        Reaction::AnonymousRetry
    } else if !before.is_empty() && ids.iter().any(|i| before.contains(i)) {
        Reaction::ResentSame
    } else {
        Reaction::RenewRetry
    }
}

/// The envelope an error answer came in: the injecting event's, else the
/// reference's own (Portal's text on the portal, Server's elsewhere).
fn envelope_of(cx: &Cx, e: &Entry) -> Envelope {
    if e.injected {
        let ev = cx.rec.journal.events.iter().rev().find(|a| {
            a.real_ms <= e.real_ms
                && matches!(&a.event, Event::Inject { role, path_suffix, .. }
                    if *role == e.role && super::ends_with_ci(&e.path, path_suffix))
        });
        if let Some(a) = ev
            && let Event::Inject { envelope, .. } = a.event
        {
            return envelope;
        }
    }
    match (e.status, e.role) {
        (401, _) => Envelope::Http401,
        (403, _) => Envelope::Http403,
        (_, Role::Portal) => Envelope::Portal200,
        _ => Envelope::Server200,
    }
}

/// CL-8 MUST: the rejected token never again; bounded retries and
/// renewals. Variant: the reaction per token kind. CL-9: the same
/// reaction in every envelope (per token kind).
fn cl8(cx: &mut Cx) {
    let mut off = Offences::new();
    // Resent after its 498.
    for e in cx.entries() {
        for id in issued_ids(e) {
            if let Some(first) = cx.rejected.get(&id)
                && e.seq > *first
            {
                off.add(
                    "CL-8",
                    Must,
                    e.seq,
                    format!("{} was presented again after it drew a 498", cx.label(id)),
                );
            }
        }
    }
    // Retries of one failed request within its operation.
    let mut reactions: Vec<(usize, String, Envelope, Reaction)> = Vec::new();
    let mut seen_windows: BTreeSet<(Option<usize>, String)> = BTreeSet::new();
    for e in cx.entries() {
        if e.error_code != Some(498) || cx.is_acquisition(e) {
            continue;
        }
        let op = cx.entry_step.get(e.seq).copied().flatten();
        if seen_windows.insert((op, e.path.to_ascii_lowercase())) {
            let retries = later_in_op(cx, e)
                .into_iter()
                .filter(|x| x.path.eq_ignore_ascii_case(&e.path) && !cx.is_acquisition(x))
                .count();
            if retries > 1 {
                off.add(
                    "CL-8",
                    Must,
                    e.seq,
                    format!(
                        "a request that drew a 498 was retried {retries} times in one operation"
                    ),
                );
            }
            let kind = issued_ids(e)
                .next()
                .and_then(|id| cx.token(id))
                .map(|t| kind_name(t.kind))
                .unwrap_or("no token");
            reactions.push((e.seq, kind.to_owned(), envelope_of(cx, e), reaction(cx, e)));
        }
    }
    // Renewals after a 498: at most 3 per origin in any minute.
    if let Some(first) = cx
        .entries()
        .iter()
        .find(|e| e.error_code == Some(498))
        .map(|e| e.seq)
    {
        let mut by_origin: BTreeMap<String, Vec<&Entry>> = BTreeMap::new();
        for e in cx.entries().iter().filter(|e| e.seq > first) {
            let issued = e
                .issued
                .and_then(|id| cx.token(id))
                .is_some_and(|t| t.kind != TokenKind::Session);
            if issued {
                by_origin.entry(cx.origin(e)).or_default().push(e);
            }
        }
        for list in by_origin.values() {
            if let Some(at) = burst(list, 60_000, 3) {
                off.add(
                    "CL-8",
                    Must,
                    at,
                    "more than 3 renewals at one origin within a minute after a 498".into(),
                );
            }
        }
    }
    off.report(cx);
    for (_, kind, env, r) in &reactions {
        if *r != Reaction::ResentSame {
            cx.show("CL-8", kind.clone(), r.as_str());
        }
        cx.show(
            "CL-9",
            format!("{kind} / {}", envelope_name(*env)),
            r.as_str(),
        );
    }
    // CL-9 within the case: one reaction per token kind, whatever the
    // envelope.
    let mut by_kind: BTreeMap<&str, Vec<&(usize, String, Envelope, Reaction)>> = BTreeMap::new();
    for r in &reactions {
        by_kind.entry(r.1.as_str()).or_default().push(r);
    }
    for (kind, list) in by_kind {
        let first = list[0];
        if let Some(other) = list.iter().find(|r| r.3 != first.3) {
            cx.find(
                ClCite::of("CL-9", Must),
                Some(other.0),
                format!(
                    "a 498 on a {kind} drew `{}` in the {} envelope but `{}` in the {} envelope",
                    other.3.as_str(),
                    envelope_name(other.2),
                    first.3.as_str(),
                    envelope_name(first.2)
                ),
            );
        }
    }
}

/// The seq of the first entry that makes more than `max` entries within
/// `span_ms` (entries in time order).
fn burst(list: &[&Entry], span_ms: i64, max: usize) -> Option<usize> {
    for (i, e) in list.iter().enumerate() {
        if i >= max && e.real_ms - list[i - max].real_ms < span_ms {
            return Some(e.seq);
        }
    }
    None
}

/// CL-10: the reaction to 499 (shown), and nothing home-ish sent to a
/// foreign origin after its 499.
fn cl10(cx: &mut Cx) {
    let mut off = Offences::new();
    let mut shown: Vec<(String, String)> = Vec::new();
    for e in cx.entries().iter().filter(|e| e.error_code == Some(499)) {
        let foreign = e.role == Role::Foreign;
        if foreign {
            let bad = cx.entries().iter().find(|x| {
                x.seq > e.seq
                    && x.role == Role::Foreign
                    && (password(x)
                        || issued_ids(x)
                            .any(|id| cx.token(id).is_some_and(|t| t.kind != TokenKind::Foreign)))
            });
            match bad {
                Some(x) => {
                    off.add(
                        "CL-10",
                        Must,
                        x.seq,
                        "after a 499 from the foreign origin, credentials or a home token went there".into(),
                    );
                    shown.push(("foreign 499".into(), "sent credentials".into()));
                }
                None => shown.push(("foreign 499".into(), "no token sent".into())),
            }
        } else {
            let r = reaction(cx, e);
            let acquired = later_in_op(cx, e).iter().any(|x| cx.is_acquisition(x));
            let v = match r {
                Reaction::RenewRetry if acquired => "acquire-retry",
                Reaction::RenewRetry => "retry with another token",
                other => other.as_str(),
            };
            shown.push(("home 499".into(), v.into()));
        }
    }
    off.report(cx);
    for (a, v) in shown {
        cx.show("CL-10", a, v);
    }
}

/// CL-11: sessions start with the access token; starts bounded.
fn cl11(cx: &mut Cx) {
    let mut off = Offences::new();
    for e in cx.entries() {
        let start = e
            .path
            .to_ascii_lowercase()
            .trim_end_matches('/')
            .ends_with("/sessions/start");
        if !start {
            continue;
        }
        for id in issued_ids(e) {
            if cx.token(id).is_some_and(|t| t.kind == TokenKind::Session) {
                off.add(
                    "CL-11",
                    Must,
                    e.seq,
                    format!("a session was started with {}", cx.label(id)),
                );
            }
        }
    }
    let sessions: Vec<_> = cx
        .rec
        .journal
        .tokens
        .iter()
        .filter(|t| t.kind == TokenKind::Session)
        .cloned()
        .collect();
    for w in sessions.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let duration = a.expires_server_ms - a.issued_server_ms;
        if super::died_otherwise(cx, a, Some(b.issued_by), 0) {
            continue;
        }
        if b.issued_server_ms - a.issued_server_ms < duration / 2 {
            off.add(
                "CL-11",
                Should,
                b.issued_by,
                format!(
                    "a new session {:.1} s after the previous one of {:.0} s (at most one per half duration)",
                    (b.issued_server_ms - a.issued_server_ms) as f64 / 1000.0,
                    duration as f64 / 1000.0
                ),
            );
        }
    }
    off.report(cx);
}

/// CL-12: after `ssl`/`allSSL`, nothing secret over plain HTTP; an https
/// listener never downgraded; untrusted certificates not accepted.
fn cl12(cx: &mut Cx) {
    let mut off = Offences::new();
    let declared = |all: bool| -> Option<super::Pos> {
        cx.rec
            .journal
            .events
            .iter()
            .filter(|a| match a.event {
                Event::DeclareAllSsl => true,
                Event::DeclareSsl => !all,
                _ => false,
            })
            .map(|a| (a.real_ms, a.step, 0))
            .min()
    };
    if let Some(at) = declared(false) {
        // `ssl: true` arrives with a token answer: from the first token
        // issued after the declaration the client knows; `allSSL` is on
        // portals/self, readable before anything secret is sent.
        let learned = cx
            .rec
            .journal
            .tokens
            .iter()
            .map(|t| cx.pos(t.issued_by))
            .filter(|p| *p >= at)
            .min();
        let known = match declared(true) {
            Some(all) => Some(learned.map_or(all, |l| l.min(all))),
            None => learned,
        };
        for e in cx.entries().iter().filter(|e| e.scheme == Scheme::Http) {
            for id in issued_ids(e) {
                if cx.token(id).is_some_and(|t| cx.pos(t.issued_by) >= at) {
                    off.add(
                        "CL-12",
                        Must,
                        e.seq,
                        format!(
                            "{} went over plain HTTP after HTTPS-only was declared",
                            cx.label(id)
                        ),
                    );
                }
            }
            if password(e) && known.is_some_and(|k| cx.pos(e.seq) > k) {
                off.add(
                    "CL-12",
                    Must,
                    e.seq,
                    "the password went over plain HTTP after HTTPS-only was declared".into(),
                );
            }
        }
    }
    let https = &cx.plan.setup.https;
    for e in cx.entries() {
        if e.scheme == Scheme::Http && https.contains(&e.role) {
            off.add(
                "CL-12",
                Must,
                e.seq,
                format!(
                    "an https URL of the {} was downgraded to http",
                    e.role.as_str()
                ),
            );
        }
        let untrusted = cx
            .rec
            .journal
            .listeners
            .get(e.listener)
            .is_some_and(|l| l.untrusted);
        if untrusted {
            off.add(
                "CL-12",
                Should,
                e.seq,
                format!(
                    "a request reached the {} listener whose certificate is not trusted",
                    e.role.as_str()
                ),
            );
        }
    }
    off.report(cx);
}

/// CL-13 (cases citing it): with the clocks apart, each server-expired
/// token drew at most one 498 and renewals stayed at one per lifetime.
fn cl13(cx: &mut Cx) {
    let offset = cx
        .rec
        .journal
        .events
        .iter()
        .rev()
        .find_map(|a| match a.event {
            Event::ClockOffset { ms } => Some(ms),
            _ => None,
        })
        .unwrap_or(if cx.rec.journal.start_offset_ms != 0 {
            cx.rec.journal.start_offset_ms
        } else {
            cx.plan.setup.clock_offset_ms
        });
    let about = format!("server clock {:+} min", offset as f64 / 60_000.0);
    let mut trouble: Vec<String> = Vec::new();
    let mut per_token: BTreeMap<TokenId, Vec<usize>> = BTreeMap::new();
    for e in cx.entries().iter().filter(|e| e.error_code == Some(498)) {
        for id in issued_ids(e) {
            per_token.entry(id).or_default().push(e.seq);
        }
    }
    for (id, seqs) in &per_token {
        if seqs.len() > 1 {
            let msg = format!("{} drew {} 498s", cx.label(*id), seqs.len());
            cx.find(ClCite::of("CL-13", Should), Some(seqs[1]), msg.clone());
            trouble.push(msg);
        }
    }
    // Renewals: at most one per lifetime (+ one per 498) per origin.
    let mut by_origin: BTreeMap<String, Vec<&Entry>> = BTreeMap::new();
    for e in cx.entries() {
        let ok = e
            .issued
            .and_then(|id| cx.token(id))
            .is_some_and(|t| t.kind != TokenKind::Foreign);
        if ok {
            by_origin.entry(cx.origin(e)).or_default().push(e);
        }
    }
    let rejections = cx
        .entries()
        .iter()
        .filter(|e| e.error_code == Some(498))
        .count() as i64;
    for list in by_origin.values() {
        let (Some(first), Some(last)) = (list.first(), list.last()) else {
            continue;
        };
        let life = list
            .iter()
            .filter_map(|e| e.issued.and_then(|id| cx.token(id)))
            .map(|t| t.expires_server_ms - t.issued_server_ms)
            .min()
            .unwrap_or(i64::MAX)
            .max(1);
        let span = last.real_ms - first.real_ms;
        let allowed = 1 + span / life + rejections;
        if list.len() as i64 > allowed {
            let msg = format!(
                "{} tokens obtained in {:.1} s with {:.1} s lifetimes (at most {allowed})",
                list.len(),
                span as f64 / 1000.0,
                life as f64 / 1000.0
            );
            cx.find(ClCite::of("CL-13", Should), Some(last.seq), msg.clone());
            trouble.push(msg);
        }
    }
    let v = if trouble.is_empty() {
        "ok".to_owned()
    } else {
        trouble.join("; ")
    };
    cx.show("CL-13", about, v);
}

/// CL-14: credential failures retried at most once per operation; never
/// more than 10 acquisitions a minute per origin; back-off after 429/503.
fn cl14(cx: &mut Cx) {
    let mut off = Offences::new();
    // Credential failures per operation.
    let steps: BTreeSet<usize> = cx.entry_step.iter().flatten().copied().collect();
    for step in steps {
        let failures: Vec<&Entry> = cx
            .entries()
            .iter()
            .filter(|e| {
                cx.entry_step.get(e.seq).copied().flatten() == Some(step)
                    && password(e)
                    && cx.is_token_path(&e.path)
                    && matches!(e.error_code, Some(400 | 401))
            })
            .collect();
        if failures.len() > 2 {
            off.add(
                "CL-14",
                Must,
                failures[2].seq,
                format!(
                    "a credential failure was retried {} times in one operation",
                    failures.len() - 1
                ),
            );
        }
    }
    // Acquisitions per origin per minute.
    let mut by_origin: BTreeMap<String, Vec<&Entry>> = BTreeMap::new();
    for e in cx.entries() {
        if cx.is_acquisition(e) {
            by_origin.entry(cx.origin(e)).or_default().push(e);
        }
    }
    let mut peak = 0usize;
    for list in by_origin.values() {
        for (i, e) in list.iter().enumerate() {
            let n = list[i..]
                .iter()
                .take_while(|x| x.real_ms - e.real_ms < 60_000)
                .count();
            peak = peak.max(n);
        }
        if let Some(at) = burst(list, 60_000, 10) {
            off.add(
                "CL-14",
                Must,
                at,
                "more than 10 token acquisitions at one origin within a minute".into(),
            );
        }
    }
    // Back-off after an injected 429/503/5xx at a token service.
    for e in cx.entries() {
        let throttled =
            e.injected && (e.status == 429 || e.status >= 500) && cx.is_token_path(&e.path);
        if !throttled {
            continue;
        }
        let retry_after = cx
            .rec
            .journal
            .events
            .iter()
            .rev()
            .find_map(|a| match &a.event {
                Event::Inject {
                    role,
                    path_suffix,
                    retry_after_s,
                    ..
                } if a.real_ms <= e.real_ms
                    && *role == e.role
                    && super::ends_with_ci(&e.path, path_suffix) =>
                {
                    Some(*retry_after_s)
                }
                _ => None,
            });
        let Some(next) = cx
            .entries()
            .iter()
            .find(|x| x.seq > e.seq && x.path.eq_ignore_ascii_case(&e.path))
        else {
            continue;
        };
        let gap = next.real_ms - e.real_ms;
        let wanted = match retry_after.flatten() {
            Some(s) => i64::from(s) * 1000 - 100,
            None => 100,
        };
        if gap < wanted {
            off.add(
                "CL-14",
                Should,
                next.seq,
                format!(
                    "retried {gap} ms after a {}{}",
                    e.status,
                    retry_after
                        .flatten()
                        .map(|s| format!(" with Retry-After {s}"))
                        .unwrap_or_else(|| " without backing off".into())
                ),
            );
        }
    }
    off.report(cx);
    if peak > 0 {
        cx.show("CL-14", "peak acquisitions per minute", peak.to_string());
    }
}

/// CL-15: a bound token keeps its binding; `client` named explicitly.
fn cl15(cx: &mut Cx) {
    let mut off = Offences::new();
    for e in cx.entries() {
        for id in issued_ids(e) {
            let Some(t) = cx.token(id) else { continue };
            match &t.binding {
                Binding::Referer(r) => {
                    let ok = e.referer.as_ref().is_some_and(|h| {
                        h.to_ascii_lowercase().starts_with(&r.to_ascii_lowercase())
                    });
                    if !ok {
                        off.add(
                            "CL-15",
                            Must,
                            e.seq,
                            format!(
                                "{} is referer-bound but the request {}",
                                cx.label(id),
                                if e.referer.is_some() {
                                    "sent another Referer"
                                } else {
                                    "sent no Referer"
                                }
                            ),
                        );
                    }
                }
                Binding::RequestIp => {
                    let from = cx.entries().get(t.issued_by).map(|x| x.peer);
                    if from.is_some_and(|p| p != e.peer) {
                        off.add(
                            "CL-15",
                            Must,
                            e.seq,
                            format!(
                                "{} is requestip-bound but came from another address",
                                cx.label(id)
                            ),
                        );
                    }
                }
                Binding::Ip(a) => {
                    if e.peer.to_string() != *a {
                        off.add(
                            "CL-15",
                            Must,
                            e.seq,
                            format!("{} is ip-bound but came from another address", cx.label(id)),
                        );
                    }
                }
                Binding::None => {}
            }
        }
    }
    let mut bindings: Vec<&'static str> = Vec::new();
    for t in cx.rec.journal.tokens.iter() {
        if !matches!(t.kind, TokenKind::Portal | TokenKind::Server) {
            continue;
        }
        bindings.push(match t.binding {
            Binding::Referer(_) => "referer",
            Binding::RequestIp => "requestip",
            Binding::Ip(_) => "ip",
            Binding::None => "none",
        });
        if let Some(e) = cx.entries().get(t.issued_by)
            && !e.body_keys.iter().any(|k| k.eq_ignore_ascii_case("client"))
        {
            off.add(
                "CL-15",
                Should,
                e.seq,
                "generateToken without an explicit `client`".into(),
            );
        }
    }
    off.report(cx);
    for b in bindings {
        cx.show("CL-15", "binding", b);
    }
}
