//! The judge of client certification: pure functions from a case's plan,
//! its [`Expectations`] and what was recorded ([`CaseRecord`]) to a
//! [`CaseResult`], and from a client's case results to its
//! [`ClientResult`] ([`client_result`]: per rule, across cases, behaviour
//! card). Nothing here does I/O or reads a clock.
//!
//! Three kinds of evaluators (background c.8):
//! - per request, in every case ([`passive`]): CL-1 (POST body, `f`),
//!   CL-2 (password only to a home token service), CL-3 (carrier, with its
//!   variant per request kind), CL-4 (one token value), CL-5 (origin and
//!   root scope), CL-12 (nothing over plain HTTP after `ssl`; untrusted
//!   certificates), CL-15 (binding kept);
//! - per case, in every case ([`passive`]): CL-7 (never after `expires` +
//!   [`TOLERANCE_MS`], margins measured), CL-8 (the 498'd token never
//!   resent, retries bounded, reaction shown), CL-9 (the same reaction in
//!   every envelope), CL-10 (499 reactions), CL-11 (sessions), CL-13 (skew,
//!   in cases citing it) and CL-14 (acquisition bounds, back-off), plus the
//!   case's own [`expect`] checks;
//! - across cases ([`rollup`]): a VARIANT shown inconsistently fails.

pub mod expect;
pub mod passive;
pub mod rollup;
pub mod timeline;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use expect::{Check, CheckKind, Expectations, Filter, OpExpect, TokenMatch};
pub use rollup::client_result;

use crate::certify::journal::{
    CaseRecord, DriverEnd, Entry, IssuedToken, Seen, TokenId, TokenKind,
};
use crate::certify::plan::{CasePlan, Event, StepKind};
use crate::certify::protocol::Outcome;
use crate::certify::rules::{ClCite, Level, breach_is_warning};
use crate::certify::verdict::{CaseResult, Finding, Shown, Verdict};
use timeline::{Timeline, token_label};

/// How late (ms, server clock) a token may still be presented after its
/// `expires` (CL-7's "run's tolerance").
pub const TOLERANCE_MS: i64 = 2000;

/// Judges one played case.
pub fn judge(plan: &CasePlan, expect: &Expectations, record: &CaseRecord) -> CaseResult {
    let mut result = CaseResult {
        id: plan.id.clone(),
        title: plan.title.clone(),
        file: plan.file.clone(),
        rules: plan.rules.clone(),
        verdict: Verdict::Pass,
        reason: None,
        findings: vec![],
        shown: vec![],
        duration_ms: duration_ms(record),
        replay: format!("tessera certify --case {} --verbose", plan.id),
    };
    let t = &record.transcript;
    let Some(hello) = &t.hello else {
        result.verdict = Verdict::Error;
        result.reason = Some(format!("the driver sent no hello ({})", end_text(&t.end)));
        return result;
    };
    let missing: Vec<&str> = plan
        .requires
        .iter()
        .filter(|f| !hello.has(**f))
        .map(|f| f.as_str())
        .collect();
    if !missing.is_empty() {
        result.verdict = Verdict::NotApplicable;
        result.reason = Some(format!(
            "the driver does not declare {}",
            missing.join(", ")
        ));
        return result;
    }
    if let Some(o) = t
        .ops
        .iter()
        .find(|o| o.outcome == Some(Outcome::Unsupported))
    {
        result.verdict = Verdict::NotApplicable;
        result.reason = Some(format!(
            "the driver answered unsupported to {}",
            o.op.name()
        ));
        return result;
    }

    let mut cx = Cx::new(plan, record);
    passive::run_all(&mut cx);
    check_ops(&mut cx, expect);
    for c in &expect.checks {
        check(&mut cx, c);
    }
    result.findings = cx.findings;
    result.shown = cx.shown;

    let worst = result
        .findings
        .iter()
        .map(|f| f.verdict)
        .max_by_key(|v| severity(*v));
    let trouble = driver_trouble(record);
    // A driver that stopped early (c.8) makes the case an error unless a
    // MUST broke in a request it did send: a missing request says nothing
    // about a driver that hung or crashed before it.
    let failed_on_the_wire = result
        .findings
        .iter()
        .any(|f| f.verdict == Verdict::Fail && f.entry.is_some());
    result.verdict = match (worst, &trouble) {
        (Some(Verdict::Fail), None) => Verdict::Fail,
        (Some(Verdict::Fail), Some(_)) if failed_on_the_wire || plan.allow_client_error => {
            Verdict::Fail
        }
        (_, Some(_)) if !plan.allow_client_error => Verdict::Error,
        (Some(v), _) => v,
        (None, _) => Verdict::Pass,
    };
    if let Some(why) = trouble {
        result.reason = Some(if plan.allow_client_error {
            format!("{why} (allowed in this case)")
        } else {
            why
        });
    }
    result
}

/// Ranks verdicts for "the worst of".
pub fn severity(v: Verdict) -> u8 {
    match v {
        Verdict::Fail => 5,
        Verdict::Error => 4,
        Verdict::Warn => 3,
        Verdict::Pass => 2,
        Verdict::Skipped => 1,
        Verdict::NotApplicable => 0,
    }
}

fn duration_ms(r: &CaseRecord) -> u64 {
    let ops = r
        .transcript
        .ops
        .iter()
        .map(|o| o.answered_real_ms.unwrap_or(o.sent_real_ms));
    let entries = r.journal.entries.iter().map(|e| e.real_ms);
    ops.chain(entries).max().unwrap_or(0).max(0) as u64
}

fn end_text(end: &DriverEnd) -> String {
    match end {
        DriverEnd::Exited(c) => format!("exited with code {c}"),
        DriverEnd::Signalled(s) => format!("killed by signal {s}"),
        DriverEnd::TimedOut => "timed out".into(),
        DriverEnd::SpawnFailed(m) => format!("could not be started: {m}"),
        DriverEnd::Protocol(m) => format!("broke the protocol: {m}"),
    }
}

/// Why the driver's side cannot be trusted to have played the case.
fn driver_trouble(r: &CaseRecord) -> Option<String> {
    let t = &r.transcript;
    if let Some(o) = t
        .ops
        .iter()
        .find(|o| o.outcome.is_none() && !matches!(o.op, crate::certify::protocol::Op::Bye))
    {
        return Some(format!(
            "the driver did not answer {} (step {}); it {}",
            o.op.name(),
            o.step + 1,
            end_text(&t.end)
        ));
    }
    match &t.end {
        DriverEnd::Exited(0) => None,
        other => Some(format!("the driver {}", end_text(other))),
    }
}

/// What the evaluators share: the inputs, facts derived once, and the
/// findings and variants collected.
pub struct Cx<'a> {
    pub plan: &'a CasePlan,
    pub rec: &'a CaseRecord,
    /// Paths of token URLs advertised by events (lower case).
    pub token_paths: Vec<String>,
    /// The first answer with 498 presenting each token: entry seq.
    pub rejected: BTreeMap<TokenId, usize>,
    /// Where each clock event lies in the case's order.
    pub clock_moves: Vec<Pos>,
    /// The operation step each request happened in (by its time, the
    /// earliest operation window holding it), by entry seq.
    pub entry_step: Vec<Option<usize>>,
    pub timeline: Timeline,
    pub findings: Vec<Finding>,
    pub shown: Vec<Shown>,
}

impl<'a> Cx<'a> {
    pub fn new(plan: &'a CasePlan, rec: &'a CaseRecord) -> Cx<'a> {
        let mut token_paths = Vec::new();
        for s in &plan.steps {
            if let StepKind::Event(Event::AdvertiseTokenUrl { url, .. }) = &s.kind {
                let text = url.resolve(&|_| String::new());
                let path = text
                    .split(['?', '#'])
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if path.starts_with('/') && path.len() > 1 {
                    token_paths.push(path);
                }
            }
        }
        let mut rejected = BTreeMap::new();
        for e in &rec.journal.entries {
            if e.error_code == Some(498) {
                for p in &e.presented {
                    if let Seen::Issued(id) = p.token {
                        rejected.entry(id).or_insert(e.seq);
                    }
                }
            }
        }
        let entry_step = assign_steps(rec);
        let pos_of_event = |a: &crate::certify::journal::Applied| (a.real_ms, a.step, 0u8);
        let clock_moves = rec
            .journal
            .events
            .iter()
            .filter(|a| matches!(a.event, Event::ClockJump { .. } | Event::ClockOffset { .. }))
            .map(pos_of_event)
            .collect();
        let timeline = {
            let r = &rejected;
            Timeline::build(rec, &entry_step, &|id| r.contains_key(&id))
        };
        Cx {
            plan,
            rec,
            token_paths,
            rejected,
            clock_moves,
            entry_step,
            timeline,
            findings: vec![],
            shown: vec![],
        }
    }

    pub fn entries(&self) -> &'a [Entry] {
        &self.rec.journal.entries
    }

    pub fn token(&self, id: TokenId) -> Option<&'a IssuedToken> {
        self.rec.journal.token(id)
    }

    pub fn label(&self, id: TokenId) -> String {
        self.token(id)
            .map(|t| token_label(t, self.rejected.contains_key(&id)))
            .unwrap_or_else(|| id.label())
    }

    pub fn origin(&self, e: &Entry) -> String {
        self.rec
            .journal
            .listeners
            .get(e.listener)
            .map(|l| l.origin.to_ascii_lowercase())
            .unwrap_or_default()
    }

    /// A token service path: generateToken (any case), getToken, a
    /// server's `/tokens`, or a token URL an event advertised.
    pub fn is_token_path(&self, path: &str) -> bool {
        let p = path.to_ascii_lowercase();
        let p = p.trim_end_matches('/');
        p.ends_with("/generatetoken")
            || p.ends_with("/gettoken")
            || p.ends_with("/tokens")
            || self
                .token_paths
                .iter()
                .any(|t| t.trim_end_matches('/') == p)
    }

    /// A token acquisition attempt: a token service request with a
    /// password or a token (exchange), or anything that obtained a
    /// non-session token.
    pub fn is_acquisition(&self, e: &Entry) -> bool {
        let issued_here = e
            .issued
            .and_then(|id| self.token(id))
            .is_some_and(|t| t.kind != TokenKind::Session);
        issued_here
            || (self.is_token_path(&e.path)
                && (password(e)
                    || !e.presented.is_empty()
                    || e.body_keys.iter().any(|k| k.eq_ignore_ascii_case("token"))))
    }

    /// Whether a clock event lies after request `a` and at or before
    /// request `b` (entry seqs).
    pub fn clock_moved(&self, a: usize, b: usize) -> bool {
        let (pa, pb) = (self.pos(a), self.pos(b));
        self.clock_moves.iter().any(|m| *m > pa && *m <= pb)
    }

    /// Where request `seq` lies in the case's order: its time, then the
    /// step it belongs to, after the step's start.
    pub fn pos(&self, seq: usize) -> Pos {
        let Some(e) = self.entries().get(seq) else {
            return (i64::MAX, usize::MAX, 1);
        };
        let step = self
            .entry_step
            .get(seq)
            .copied()
            .flatten()
            .unwrap_or_else(|| {
                // Outside every operation: after the last step begun by then.
                self.step_starts()
                    .into_iter()
                    .filter(|(t, _)| *t <= e.real_ms)
                    .map(|(_, s)| s)
                    .max()
                    .unwrap_or(0)
            });
        (e.real_ms, step, 1)
    }

    /// Where a step begins in the case's order; `None` if never reached.
    pub fn step_pos(&self, step: usize) -> Option<Pos> {
        self.step_time(step).map(|t| (t, step, 0))
    }

    /// When a revocation hit a token, as a place in the case's order.
    pub fn revoked_pos(&self, t: &IssuedToken) -> Option<Pos> {
        let at = t.revoked_real_ms?;
        let step = self
            .rec
            .journal
            .events
            .iter()
            .filter(|a| matches!(a.event, Event::Revoke(_)) && a.real_ms <= at)
            .map(|a| a.step)
            .max()
            .unwrap_or(0);
        Some((at, step, 0))
    }

    fn step_starts(&self) -> Vec<(i64, usize)> {
        let ops = self
            .rec
            .transcript
            .ops
            .iter()
            .map(|o| (o.sent_real_ms, o.step));
        let evs = self.rec.journal.events.iter().map(|a| (a.real_ms, a.step));
        ops.chain(evs).collect()
    }

    /// Whether two requests happened within the same operation.
    pub fn same_op(&self, a: usize, b: usize) -> bool {
        let sa = self.entry_step.get(a).copied().flatten();
        sa.is_some() && sa == self.entry_step.get(b).copied().flatten()
    }

    /// The server clock at a real time, from the nearest request seen
    /// (the offset between the two clocks changes only with clock events).
    pub fn server_at(&self, real_ms: i64) -> Option<i64> {
        let es = self.entries();
        let near = es
            .iter()
            .rev()
            .find(|e| e.real_ms <= real_ms)
            .or_else(|| es.first())?;
        Some(real_ms + (near.server_ms - near.real_ms))
    }

    /// The real time a step began: its op was sent, or its event applied.
    pub fn step_time(&self, step: usize) -> Option<i64> {
        self.rec
            .transcript
            .ops
            .iter()
            .find(|o| o.step == step)
            .map(|o| o.sent_real_ms)
            .or_else(|| {
                self.rec
                    .journal
                    .events
                    .iter()
                    .find(|a| a.step == step)
                    .map(|a| a.real_ms)
            })
    }

    /// Records a broken clause with an excerpt around `entry`.
    pub fn find(&mut self, cite: ClCite, entry: Option<usize>, message: String) {
        let verdict = if cite.level() == Level::Should {
            Verdict::Warn
        } else {
            Verdict::Fail
        };
        self.finding(cite.to_string(), verdict, entry, message);
    }

    pub fn finding(
        &mut self,
        rule: String,
        verdict: Verdict,
        entry: Option<usize>,
        message: String,
    ) {
        let excerpt = self.timeline.excerpt(entry);
        self.findings.push(Finding {
            rule,
            verdict,
            message,
            entry,
            excerpt,
        });
    }

    /// Records a variant (once per rule, about and variant).
    pub fn show(&mut self, rule: &str, about: impl Into<String>, variant: impl Into<String>) {
        let s = Shown {
            rule: rule.to_owned(),
            about: about.into(),
            variant: variant.into(),
        };
        if !self.shown.contains(&s) {
            self.shown.push(s);
        }
    }

    /// Whether the case cites rule `id` (any clause).
    pub fn cites(&self, id: &str) -> bool {
        self.plan
            .rules
            .iter()
            .any(|r| crate::certify::rules::cites(r, id))
    }
}

/// A place in a case's order: real ms, then the step, then 0 for a
/// step's start and 1 for a request in it. Times have millisecond
/// resolution; the step breaks ties between an operation's last request
/// and the event that follows it.
pub type Pos = (i64, usize, u8);

/// The operation step each request belongs to: the earliest operation
/// whose window (sent..=answered, or until the next was sent) holds it,
/// never earlier than the previous request's.
fn assign_steps(rec: &CaseRecord) -> Vec<Option<usize>> {
    let ops = &rec.transcript.ops;
    let windows: Vec<(usize, i64, i64)> = ops
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let next = ops.get(i + 1).map(|n| n.sent_real_ms).unwrap_or(i64::MAX);
            (o.step, o.sent_real_ms, o.answered_real_ms.unwrap_or(next))
        })
        .collect();
    let mut floor = 0;
    rec.journal
        .entries
        .iter()
        .map(|e| {
            let found = windows
                .iter()
                .enumerate()
                .skip(floor)
                .find(|(_, (_, from, to))| e.real_ms >= *from && e.real_ms <= *to);
            found.map(|(i, (step, _, _))| {
                floor = i;
                *step
            })
        })
        .collect()
}

pub fn password(e: &Entry) -> bool {
    e.credentials.as_ref().is_some_and(|c| c.password.is_some())
        || e.query_keys
            .iter()
            .any(|k| k.eq_ignore_ascii_case("password"))
}

fn ends_with_ci(path: &str, suffix: &str) -> bool {
    let (p, s) = (path.to_ascii_lowercase(), suffix.to_ascii_lowercase());
    p.trim_end_matches('/').ends_with(s.trim_end_matches('/'))
}

/// Operation results against the case's `expect: {ok: ...}`.
fn check_ops(cx: &mut Cx, expect: &Expectations) {
    for oe in &expect.ops {
        let Some(rec) = cx.rec.transcript.ops.iter().find(|o| o.step == oe.step) else {
            continue;
        };
        let got_ok = match &rec.outcome {
            Some(Outcome::Ok) => true,
            Some(Outcome::Failed(_)) => false,
            // Unanswered: the driver's trouble decides; unsupported: n/a.
            _ => continue,
        };
        if got_ok == oe.ok {
            continue;
        }
        let what = match &rec.outcome {
            Some(Outcome::Failed(e)) => format!(
                "failed ({:?}{})",
                e.kind,
                e.code.map(|c| format!(" {c}")).unwrap_or_default()
            )
            .to_lowercase(),
            _ => "succeeded".into(),
        };
        // The last request of the operation, for the excerpt.
        let entry = cx
            .entries()
            .iter()
            .rev()
            .find(|e| cx.entry_step.get(e.seq).copied().flatten() == Some(oe.step))
            .map(|e| e.seq);
        let message = format!(
            "{} (line {}) {what}; the case expects {}",
            rec.op.name(),
            oe.line,
            if oe.ok { "ok" } else { "an error" }
        );
        cite_all(cx, &oe.rules, entry, message);
    }
}

/// One finding for a broken expectation: `warn` when every citation is a
/// SHOULD clause, else `fail`; the rule column lists the citations.
fn cite_all(cx: &mut Cx, cites: &[ClCite], entry: Option<usize>, message: String) {
    let verdict = if breach_is_warning(cites) {
        Verdict::Warn
    } else {
        Verdict::Fail
    };
    let rule = cites
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    cx.finding(rule, verdict, entry, message);
}

/// Whether an entry matches a filter.
pub fn matches(cx: &Cx, f: &Filter, e: &Entry) -> bool {
    if !f.roles.is_empty() && !f.roles.contains(&e.role) {
        return false;
    }
    if let Some(s) = &f.path_suffix
        && !ends_with_ci(&e.path, s)
    {
        return false;
    }
    if let Some(m) = &f.method
        && !e.method.eq_ignore_ascii_case(m)
    {
        return false;
    }
    if let Some(s) = f.scheme
        && e.scheme != s
    {
        return false;
    }
    if let Some(a) = f.acquisition
        && cx.is_acquisition(e) != a
    {
        return false;
    }
    if let Some(p) = f.password
        && password(e) != p
    {
        return false;
    }
    if let Some(c) = f.error_code
        && e.error_code != Some(c)
    {
        return false;
    }
    let ids = || {
        e.presented.iter().filter_map(|p| match p.token {
            Seen::Issued(id) => Some(id),
            _ => None,
        })
    };
    if let Some(k) = f.token_kind
        && !ids().any(|id| cx.token(id).is_some_and(|t| t.kind == k))
    {
        return false;
    }
    if let Some(t) = f.token {
        let ok =
            match t {
                TokenMatch::Any => !e.presented.is_empty(),
                TokenMatch::None => e.presented.is_empty(),
                TokenMatch::Revoked => ids().any(|id| {
                    cx.token(id)
                        .and_then(|t| cx.revoked_pos(t))
                        .is_some_and(|at| cx.pos(e.seq) >= at)
                }),
                TokenMatch::Rejected => {
                    ids().any(|id| cx.rejected.get(&id).is_some_and(|s| e.seq > *s))
                }
                TokenMatch::Home => ids().any(|id| {
                    cx.token(id).is_some_and(|t| {
                        cx.rec.journal.listeners.iter().any(|l| {
                            l.role.is_home() && l.origin.eq_ignore_ascii_case(&t.scope_origin)
                        })
                    })
                }),
                TokenMatch::OtherCase => e.presented.iter().any(|p| p.token == Seen::OtherCase),
            };
        if !ok {
            return false;
        }
    }
    true
}

fn check(cx: &mut Cx, c: &Check) {
    // A step never reached: nothing after it.
    let from: Option<Pos> = match c.after {
        None => Some((i64::MIN, 0, 0)),
        Some(s) => cx.step_pos(s),
    };
    let to: Pos = match c.until {
        None => (i64::MAX, usize::MAX, 2),
        Some(s) => cx.step_pos(s).unwrap_or((i64::MAX, usize::MAX, 2)),
    };
    let inside = |seq: usize| from.is_some_and(|f| cx.pos(seq) >= f) && cx.pos(seq) < to;
    let note = c
        .note
        .as_ref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    match &c.what {
        CheckKind::Count { filter, min, max } => {
            let hits: Vec<usize> = cx
                .entries()
                .iter()
                .filter(|e| inside(e.seq) && matches(cx, filter, e))
                .map(|e| e.seq)
                .collect();
            let n = hits.len() as u32;
            if let Some(mx) = max
                && n > *mx
            {
                let message = if *mx == 0 {
                    format!(
                        "line {}: {n} request(s) matched what must never happen{note}",
                        c.line
                    )
                } else {
                    format!(
                        "line {}: {n} matching requests, at most {mx} expected{note}",
                        c.line
                    )
                };
                let first_excess = hits.get(*mx as usize).copied();
                cite_all(cx, &c.rules, first_excess, message);
            }
            if let Some(mn) = min
                && n < *mn
            {
                let message = format!(
                    "line {}: {n} matching requests, at least {mn} expected{note}",
                    c.line
                );
                cite_all(cx, &c.rules, hits.last().copied(), message);
            }
        }
        CheckKind::Renewal { kind } => {
            let from = from.map(|f| f.0).unwrap_or(i64::MAX);
            let to = if to.0 == i64::MAX { i64::MAX } else { to.0 };
            renewal(cx, c, *kind, from, to, &note)
        }
    }
}

/// How much of a renewal margin the trip to the server may eat: a client
/// renewing exactly at the margin by its clock arrives a little later.
pub const MARGIN_SLACK_MS: i64 = 250;

/// The margin CL-7 and CL-11 ask for: `min(max(lifetime/100, 1 s), 5 min)`.
pub fn required_margin_ms(lifetime_ms: i64) -> i64 {
    (lifetime_ms / 100).clamp(1000, 300_000)
}

/// The token renewing `t`: the next token of the same kind, user and
/// scope issued after it.
pub fn successor<'a>(cx: &Cx<'a>, t: &IssuedToken) -> Option<&'a IssuedToken> {
    cx.rec.journal.tokens.iter().find(|s| {
        s.kind == t.kind
            && s.user == t.user
            && s.scope_origin.eq_ignore_ascii_case(&t.scope_origin)
            && s.issued_by > t.issued_by
    })
}

/// Whether `t` died of something else than age before request `seq`
/// (or, without one, before the real time `end`): revoked, rejected with
/// 498, a clock event moved time under it, or `seq` renewed in reaction
/// to a token error.
pub fn died_otherwise(cx: &Cx, t: &IssuedToken, seq: Option<usize>, end: i64) -> bool {
    let at: Pos = match seq {
        Some(s) => cx.pos(s),
        None => (end, usize::MAX, 1),
    };
    // A renewal in reaction to a token error (498/499) in the same
    // operation is not a proactive one.
    let reactive = seq.is_some_and(|s| {
        cx.entries()
            .iter()
            .take(s)
            .any(|x| matches!(x.error_code, Some(498 | 499)) && cx.same_op(x.seq, s))
    });
    reactive
        || cx.revoked_pos(t).is_some_and(|r| r <= at)
        || cx.rejected.get(&t.id).is_some_and(|s| cx.pos(*s) <= at)
        || cx
            .clock_moves
            .iter()
            .any(|m| *m > cx.pos(t.issued_by) && *m <= at)
}

fn renewal(cx: &mut Cx, c: &Check, kind: TokenKind, from: i64, to: i64, note: &str) {
    let end_real = cx
        .rec
        .transcript
        .ops
        .iter()
        .filter(|o| !matches!(o.op, crate::certify::protocol::Op::Bye))
        .filter_map(|o| o.answered_real_ms)
        .max()
        .unwrap_or(0)
        .min(to);
    let Some(end_server) = cx.server_at(end_real) else {
        return;
    };
    let tokens: Vec<&IssuedToken> = cx
        .rec
        .journal
        .tokens
        .iter()
        .filter(|t| t.kind == kind && t.issued_real_ms >= from)
        .collect();
    for t in tokens {
        if t.expires_server_ms >= end_server {
            continue; // still valid when the case ended
        }
        let life = t.expires_server_ms - t.issued_server_ms;
        let need = required_margin_ms(life);
        let next = successor(cx, t);
        let renewed_at = next.map(|s| s.issued_server_ms);
        if died_otherwise(cx, t, next.map(|s| s.issued_by), end_real) {
            continue;
        }
        let ok = renewed_at.is_some_and(|at| t.expires_server_ms - at >= need - MARGIN_SLACK_MS);
        if ok {
            continue;
        }
        let label = cx.label(t.id);
        let message = match (next, renewed_at) {
            (Some(s), Some(at)) => format!(
                "line {}: {label} lived {:.1} s; its successor {} came {}, {:.1} s margin wanted{note}",
                c.line,
                life as f64 / 1000.0,
                s.id.label(),
                margin_text(t.expires_server_ms - at),
                need as f64 / 1000.0
            ),
            _ => format!(
                "line {}: {label} expired ({:.1} s lifetime) and was never renewed{note}",
                c.line,
                life as f64 / 1000.0
            ),
        };
        let entry = next.map(|s| s.issued_by).or(Some(t.issued_by));
        cite_all(cx, &c.rules, entry, message);
        return;
    }
}

/// `2.5 s before expiry` / `1.0 s after expiry`.
pub fn margin_text(margin_ms: i64) -> String {
    if margin_ms >= 0 {
        format!("{:.1} s before expiry", margin_ms as f64 / 1000.0)
    } else {
        format!("{:.1} s after expiry", -margin_ms as f64 / 1000.0)
    }
}
