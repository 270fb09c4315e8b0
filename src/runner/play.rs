//! Playing one scenario instance (one matrix case) against one live server.
//!
//! Steps run in order; the first step whose expectations fail ends the
//! scenario (later steps would only report consequences). A transport
//! failure, a control-API failure, a placeholder that cannot be filled, or a
//! non-JSON body where JSON was required makes the verdict *error*.
//!
//! `{{now}}`: on a clock-control target, the control clock read at the start
//! and tracked through `advance:` (requests never move it); otherwise the
//! system time when the request is sent.
//!
//! Time without clock control (semantics.md, "Real time"): `advance:` and
//! `wait:` sleep, and while they sleep the instance gives its `--jobs` slot
//! back ([`Pace`]); `advance_to:` places the check that follows outside the
//! uncertainty around the boundary (the target's `time_tolerance` plus the
//! round trip of the request that produced the instant), or skips the checks
//! up to the next move of time when it cannot be placed so.
//!
//! Everything is recorded unmasked here and masked once at the end by
//! [`Redactor::mask_scenario`], when every secret of the scenario is known.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use indexmap::IndexMap;
use serde_json::Value;

use super::events::{EventSender, RunEvent, emit};
use super::expect::{self, Evaluation};
use super::render::{self, Context, Rendered};
use crate::client::control::Control;
use crate::client::http::{self, Clients, Response, TransportError};
use crate::knobs::Knobs;
use crate::report::model::{Check, Exchange, StepReport, TokenWindow, Verdict};
use crate::report::redact::{self, Redactor};
use crate::scenario::plan::{
    AdvanceTo, CaptureSource, Case, RequestStep, Scenario, Step, StepKind,
};
use crate::target::{User, humanize};

/// A server as one scenario instance sees it.
#[derive(Debug, Clone)]
pub struct Live {
    pub base_url: String,
    pub endpoints: BTreeMap<String, String>,
    pub users: BTreeMap<String, User>,
    pub knobs: Knobs,
    pub addresses: BTreeMap<String, IpAddr>,
    pub tolerance: Duration,
    /// The control clock is used for `{{now}}` and `advance:`.
    pub clock_control: bool,
    /// `advance:` sleeps (no clock control, but the wait fits).
    pub real_waits: bool,
    /// The longest real wait the target allows (one `advance_to:` never
    /// sleeps longer).
    pub max_real_wait: Duration,
}

/// What a real wait does besides sleeping: it gives the `--jobs` slot back
/// for its length (the slot limits work in flight, not sleeps) and tells
/// observers what is waiting and for how long.
#[derive(Debug, Default)]
pub struct Pace {
    /// The run's slots, and the one this instance holds while it works.
    pub slot: Option<(Arc<Semaphore>, Option<OwnedSemaphorePermit>)>,
    pub events: EventSender,
    /// The instance id observers know it by.
    pub id: String,
}

impl Pace {
    /// Sleeps `d` without holding a slot, then takes one again.
    pub async fn sleep(&mut self, d: Duration) {
        if d.is_zero() {
            return;
        }
        emit(
            &self.events,
            RunEvent::Waiting {
                id: self.id.clone(),
                left: d,
            },
        );
        if let Some((_, permit)) = &mut self.slot {
            permit.take();
        }
        tokio::time::sleep(d).await;
        if let Some((sem, permit)) = &mut self.slot {
            // A closed semaphore (never closed by the runner) just means no slot.
            *permit = sem.clone().acquire_owned().await.ok();
        }
        emit(
            &self.events,
            RunEvent::Resumed {
                id: self.id.clone(),
            },
        );
    }
}

/// What playing produced (unmasked until [`Redactor::mask_scenario`]).
#[derive(Debug, Clone)]
pub struct Played {
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub steps: Vec<StepReport>,
    pub tokens: Vec<TokenWindow>,
}

struct Player<'a> {
    live: Live,
    case: &'a Case,
    clients: &'a Clients,
    redactor: &'a mut Redactor,
    captures: IndexMap<String, String>,
    now_ms: i64,
    tokens: Vec<TokenWindow>,
    token_values: BTreeSet<String>,
    pace: Pace,
    /// The round trip of the request each capture came from.
    capture_rtt: HashMap<String, Duration>,
    /// Why the request steps from here to the next move of time are not
    /// played, and whether that lasts to the end (a skipped step captured
    /// something later steps need).
    skipping: Option<(String, bool)>,
}

fn system_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Plays `scenario` with `case` on `live`. Secrets met on the way are added
/// to `redactor`.
pub async fn play(
    scenario: &Scenario,
    case: &Case,
    live: Live,
    clients: &Clients,
    redactor: &mut Redactor,
    pace: Pace,
) -> Played {
    for (alias, u) in &live.users {
        redactor.add_password(alias, &u.password);
    }
    let mut p = Player {
        live,
        case,
        clients,
        redactor,
        captures: IndexMap::new(),
        now_ms: system_ms(),
        tokens: Vec::new(),
        token_values: BTreeSet::new(),
        pace,
        capture_rtt: HashMap::new(),
        skipping: None,
    };
    let mut played = Played {
        verdict: Verdict::Pass,
        reason: None,
        steps: Vec::new(),
        tokens: Vec::new(),
    };
    if p.live.clock_control {
        match p.control().now().await {
            Ok(n) => p.now_ms = n,
            Err(e) => {
                played.verdict = Verdict::Error;
                played.reason = Some(e);
                return played;
            }
        }
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        let index = i + 1;
        let (report, outcome) = p.step(index, step).await;
        played.steps.push(report);
        match outcome {
            Outcome::Ok => {}
            // A step whose failed checks all cite SHOULD clauses is a warn
            // (semantics.md, "Levels"): the scenario goes on, since a later
            // MUST may still fail it; anything else fails it here.
            Outcome::Failed if only_should_broken(played.steps.last()) => {
                played.verdict = Verdict::Warn;
            }
            Outcome::Failed => {
                played.verdict = Verdict::Fail;
                break;
            }
            Outcome::Error(e) => {
                played.verdict = Verdict::Error;
                played.reason = Some(format!("step {index} (line {}): {e}", step.loc.line));
                break;
            }
        }
    }
    played.tokens = p.tokens;
    settle_skips(&mut played);
    played
}

/// A scenario whose steps all passed but some were skipped (a boundary the
/// target's clock cannot decide) is skipped, with the reason: never a pass.
fn settle_skips(played: &mut Played) {
    if played.verdict != Verdict::Pass {
        return;
    }
    let skipped: Vec<String> = played
        .steps
        .iter()
        .filter_map(|st| {
            st.skipped
                .as_ref()
                .map(|r| format!("step {} (line {}): {r}", st.index, st.line))
        })
        .collect();
    if let Some(first) = skipped.first() {
        played.verdict = Verdict::Skipped;
        played.reason = Some(if skipped.len() == 1 {
            format!("{first}; the other steps passed")
        } else {
            format!(
                "{first} (and {} more step(s)); the other steps passed",
                skipped.len() - 1
            )
        });
    }
}

/// Whether every failed check of the step cites only SHOULD clauses.
fn only_should_broken(step: Option<&StepReport>) -> bool {
    step.is_some_and(|st| {
        let mut failed = st.checks.iter().filter(|c| !c.passed).peekable();
        failed.peek().is_some() && failed.all(|c| crate::rules::breach_is_warning(&c.rules))
    })
}

enum Outcome {
    Ok,
    Failed,
    Error(String),
}

impl Player<'_> {
    fn control(&self) -> Control<'_> {
        Control {
            clients: self.clients,
            base_url: &self.live.base_url,
        }
    }

    fn ctx(&self) -> Context<'_> {
        Context {
            now_ms: self.now_ms,
            base_url: &self.live.base_url,
            endpoints: &self.live.endpoints,
            users: &self.live.users,
            knobs: &self.live.knobs,
            case: self.case,
            addresses: &self.live.addresses,
            captures: &self.captures,
        }
    }

    fn tick(&mut self) {
        if !self.live.clock_control {
            self.now_ms = system_ms();
        }
    }

    async fn step(&mut self, index: usize, step: &Step) -> (StepReport, Outcome) {
        self.tick();
        let mut report = StepReport {
            index,
            line: step.loc.line,
            kind: String::new(),
            at_ms: Some(self.now_ms),
            label: String::new(),
            note: step.note.clone(),
            exchanges: Vec::new(),
            checks: Vec::new(),
            skipped: None,
        };
        let rules: Vec<String> = step.rules.iter().map(ToString::to_string).collect();
        if let Some(skipped) = self.skip_step(step, &mut report) {
            return (report, skipped);
        }
        let outcome = match &step.kind {
            StepKind::Request(rs) => {
                report.kind = "request".into();
                self.requests(
                    index,
                    std::slice::from_ref(rs.as_ref()),
                    &rules,
                    &mut report,
                )
                .await
            }
            StepKind::Concurrent(list) => {
                report.kind = "concurrent".into();
                self.requests(index, list, &rules, &mut report).await
            }
            StepKind::Advance(d) => {
                report.kind = "advance".into();
                report.label = format!("advance {}", humanize(*d));
                if self.live.clock_control {
                    match self.control().advance(d.as_millis() as u64).await {
                        Ok(now) => {
                            self.now_ms = now;
                            Outcome::Ok
                        }
                        Err(e) => Outcome::Error(e),
                    }
                } else {
                    // plan::decide only plays an advance without clock
                    // control when real waits are allowed.
                    report.label.push_str(" (real wait)");
                    self.skipping = self.skipping.take().filter(|(_, sticky)| *sticky);
                    self.pace.sleep(*d).await;
                    Outcome::Ok
                }
            }
            StepKind::AdvanceTo(a) => {
                report.kind = "advance_to".into();
                self.advance_to(a, &mut report).await
            }
            StepKind::Wait(d) => {
                report.kind = "wait".into();
                report.label = format!("wait {}", humanize(*d));
                self.pace.sleep(*d).await;
                Outcome::Ok
            }
            StepKind::SetPassword(sp) => {
                report.kind = "set_password".into();
                let alias = sp.user.value.clone();
                report.label = format!("set_password {alias}");
                self.redactor.add_password(&alias, &sp.password);
                match self.live.users.get(&alias).cloned() {
                    None => Outcome::Error(format!("the target maps no account to `{alias}`")),
                    // `{{users.X.password}}` stays the password the target
                    // declares (LT-9 scenarios use it as "the old password"
                    // and write the new one literally).
                    Some(u) => match self.control().set_password(&u.name, &sp.password).await {
                        Ok(()) => Outcome::Ok,
                        Err(e) => Outcome::Error(e),
                    },
                }
            }
        };
        (report, outcome)
    }

    /// Sends one request, or several at once, then checks each answer.
    async fn requests(
        &mut self,
        index: usize,
        list: &[RequestStep],
        rules: &[String],
        report: &mut StepReport,
    ) -> Outcome {
        let mut rendered = Vec::new();
        for rs in list {
            match render::prepare(&self.ctx(), &rs.request) {
                Ok(r) => rendered.push(r),
                Err(e) => return Outcome::Error(format!("cannot render the request: {e}")),
            }
        }
        report.label = rendered
            .iter()
            .map(|r| {
                let path = r.request.url.trim_start_matches(&self.live.base_url);
                let path = path.split('?').next().unwrap_or(path);
                format!("{} {path}", r.request.method)
            })
            .collect::<Vec<_>>()
            .join(" | ");
        let mut set = tokio::task::JoinSet::new();
        for (i, r) in rendered.iter().enumerate() {
            let source = match self.source(r) {
                Ok(s) => s,
                Err(e) => return Outcome::Error(e),
            };
            let client = match self.clients.for_source(source) {
                Ok(c) => c,
                Err(e) => return Outcome::Error(e.to_string()),
            };
            let req = r.request.clone();
            set.spawn(async move {
                let start = Instant::now();
                let res = http::send(&client, &req).await;
                (i, res, start.elapsed())
            });
        }
        let mut results: Vec<Option<(Result<Response, TransportError>, Duration)>> =
            vec![None; rendered.len()];
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, res, el)) => results[i] = Some((res, el)),
                Err(e) => return Outcome::Error(format!("request task failed: {e}")),
            }
        }
        let sent_at = self.now_ms;
        let mut outcome = Outcome::Ok;
        let mut new_captures = IndexMap::new();
        for ((rs, r), res) in list.iter().zip(&rendered).zip(results) {
            let Some((res, elapsed)) = res else { continue };
            self.learn_request(r);
            let mut ex = Exchange {
                method: r.request.method.clone(),
                url: r.request.url.clone(),
                from: r.from.clone(),
                request_headers: headers_map(&r.request.headers),
                request_body: r.request.body.clone(),
                status: None,
                response_body: None,
                elapsed_ms: elapsed.as_millis() as u64,
                error: None,
            };
            let resp = match res {
                Ok(resp) => resp,
                Err(e) => {
                    ex.error = Some(e.to_string());
                    report.exchanges.push(ex);
                    if matches!(outcome, Outcome::Ok | Outcome::Failed) {
                        outcome = Outcome::Error(format!(
                            "{} {}: {e}",
                            r.request.method,
                            r.request.url.trim_start_matches(&self.live.base_url)
                        ));
                    }
                    continue;
                }
            };
            ex.status = Some(resp.status);
            ex.response_body = Some(resp.body.clone());
            report.exchanges.push(ex);
            // Captures first, so their names label the secrets.
            let (caps, cap_checks) = self.capture(rs, &resp, rules);
            let ev: Evaluation =
                expect::evaluate(&rs.asserts, &resp, &self.ctx(), rules, self.live.tolerance);
            self.learn_response(&r.request, &resp);
            self.windows(index, sent_at, &resp, &caps);
            let failed = !ev.passed() || cap_checks.iter().any(|c| !c.passed);
            let definite = ev.definite_failure() || cap_checks.iter().any(|c| !c.passed);
            report.checks.extend(ev.checks);
            report.checks.extend(cap_checks);
            for name in caps.keys() {
                self.capture_rtt.insert(name.clone(), elapsed);
            }
            new_captures.extend(caps);
            match (&outcome, ev.not_json) {
                (Outcome::Error(_), _) => {}
                (_, Some(e)) if !definite => outcome = Outcome::Error(e.to_string()),
                _ if failed => outcome = Outcome::Failed,
                _ => {}
            }
        }
        self.captures.extend(new_captures);
        outcome
    }

    fn source(&self, r: &Rendered) -> Result<Option<IpAddr>, String> {
        r.source(&self.live.addresses)
    }

    fn capture(
        &mut self,
        rs: &RequestStep,
        resp: &Response,
        rules: &[String],
    ) -> (IndexMap<String, String>, Vec<Check>) {
        let mut caps = IndexMap::new();
        let mut checks = Vec::new();
        let json = resp.json();
        for (name, src) in &rs.capture {
            // The value as text, and as JSON to judge whether it is a secret.
            let value = match src {
                CaptureSource::Body => Some(Value::String(resp.body.trim().to_owned())),
                CaptureSource::SentAt => Some(Value::from(self.now_ms)),
                CaptureSource::Header(h) => resp.header(h).map(|v| Value::String(v.to_owned())),
                CaptureSource::JsonPath(q) => json
                    .as_ref()
                    .and_then(|j| q.select(j))
                    .filter(|v| !v.is_null()),
            };
            match value {
                Some(j) => {
                    let v = render::value_text(&j);
                    if redact::captured_is_secret(&j, src) {
                        self.redactor.add(&v, name);
                    }
                    caps.insert(name.clone(), v);
                }
                None => checks.push(Check {
                    what: format!("capture {name} from {src}"),
                    expected: "a value".into(),
                    actual: "(absent)".into(),
                    passed: false,
                    rules: rules.to_vec(),
                }),
            }
        }
        (caps, checks)
    }

    /// Credentials the request carried become secrets.
    fn learn_request(&mut self, r: &Rendered) {
        if let Some((_, q)) = r.request.url.split_once('?') {
            self.redactor.add_params(q);
        }
        if let Some(b) = &r.request.body {
            self.redactor.add_params(b);
        }
        for (n, v) in &r.request.headers {
            self.redactor.add_header(n, v);
        }
    }

    /// Tokens in the answer become secrets: JSON `token`/`sessionToken`
    /// (TS-2, SL-2), the same fields in HTML or other text (TS-1's default
    /// `f=html` page), `Set-Cookie` values and `Location` token parameters,
    /// and ArcWeb's plain-text tokens and user IDs (LT-7a).
    fn learn_response(&mut self, req: &http::PreparedRequest, resp: &Response) {
        for (name, value) in &resp.headers {
            self.redactor.add_response_header(name, value);
        }
        if let Some(j) = resp.json() {
            self.redactor.add_json(&j);
            return;
        }
        self.redactor.add_text(&resp.body);
        if resp.status == 200 {
            let q = req.url.split_once('?').map(|(_, q)| q).unwrap_or("");
            let params = format!("{q}&{}", req.body.as_deref().unwrap_or(""));
            let issuing = url::form_urlencoded::parse(params.as_bytes()).any(|(k, v)| {
                k == "actn" && matches!(v.as_ref(), "getToken" | "getUserID" | "renewToken")
            });
            if issuing {
                self.redactor.add(resp.body.trim(), "token");
            }
        }
    }

    /// Records validity windows of tokens and sessions in the answer.
    fn windows(
        &mut self,
        step: usize,
        sent_at: i64,
        resp: &Response,
        caps: &IndexMap<String, String>,
    ) {
        let Some(j) = resp.json() else { return };
        let found = if let (Some(t), Some(e)) = (
            j.get("token").and_then(|v| v.as_str()),
            j.get("expires").and_then(|v| v.as_i64()),
        ) {
            Some((t.to_owned(), sent_at, e))
        } else if let (Some(t), Some(s), Some(e)) = (
            j.get("sessionToken").and_then(|v| v.as_str()),
            j.get("startTime").and_then(|v| v.as_i64()),
            j.get("endTime").and_then(|v| v.as_i64()),
        ) {
            Some((t.to_owned(), s, e))
        } else {
            None
        };
        if let Some((value, issued, expires)) = found {
            if !self.token_values.insert(value.clone()) {
                return;
            }
            let label = caps
                .iter()
                .find(|(_, v)| **v == value)
                .map(|(k, _)| k.clone())
                .unwrap_or_else(|| format!("token #{}", self.tokens.len() + 1));
            self.tokens.push(TokenWindow {
                label,
                issued_at_ms: issued,
                expires_ms: expires,
                step,
            });
        }
    }
}

/// Boundaries and skips (semantics.md, "Real time").
impl Player<'_> {
    /// A request step after an `advance_to:` that could not be placed is
    /// not played: it is reported skipped with the reason. A skipped step
    /// that captures makes the skip last to the end of the scenario.
    fn skip_step(&mut self, step: &Step, report: &mut StepReport) -> Option<Outcome> {
        let (reason, _) = self.skipping.clone()?;
        let captures = match &step.kind {
            StepKind::Request(rs) => !rs.capture.is_empty(),
            StepKind::Concurrent(list) => list.iter().any(|rs| !rs.capture.is_empty()),
            StepKind::SetPassword(_) => false,
            StepKind::Advance(_) | StepKind::AdvanceTo(_) | StepKind::Wait(_) => return None,
        };
        if captures {
            self.skipping = Some((reason.clone(), true));
        }
        report.kind = match &step.kind {
            StepKind::Concurrent(_) => "concurrent",
            StepKind::SetPassword(_) => "set_password",
            _ => "request",
        }
        .into();
        report.label = "not played".into();
        report.skipped = Some(reason);
        Some(Outcome::Ok)
    }

    /// Moves time to `a.instant + a.offset`: exactly with clock control;
    /// without it, by a real wait to a point outside the uncertainty, or
    /// not at all (the checks up to the next move are skipped).
    async fn advance_to(&mut self, a: &AdvanceTo, report: &mut StepReport) -> Outcome {
        let instant = match a.instant.eval(|v| self.ctx().int(v)) {
            Ok(n) => match i64::try_from(n) {
                Ok(n) => n,
                Err(_) => return Outcome::Error(format!("`{}` is out of range", a.instant.text)),
            },
            Err(e) => return Outcome::Error(format!("cannot compute the instant: {e}")),
        };
        let exact = instant.saturating_add(a.offset_ms);
        report.label = format!("advance to {}{}", a.instant.text, signed_ms(a.offset_ms));
        if self.live.clock_control {
            if exact < self.now_ms {
                return Outcome::Error(format!(
                    "`{}`{} lies {} ms before the target's now; the clock never moves back",
                    a.instant.text,
                    signed_ms(a.offset_ms),
                    self.now_ms - exact
                ));
            }
            return match self.control().advance((exact - self.now_ms) as u64).await {
                Ok(now) => {
                    self.now_ms = now;
                    self.skipping = self.skipping.take().filter(|(_, sticky)| *sticky);
                    Outcome::Ok
                }
                Err(e) => Outcome::Error(e),
            };
        }
        let rtt = a
            .captures()
            .filter_map(|c| self.capture_rtt.get(c))
            .max()
            .copied()
            .unwrap_or_default();
        match place(
            a,
            instant,
            self.live.tolerance,
            rtt,
            system_ms(),
            self.live.max_real_wait,
        ) {
            Placement::At { wait, uncertainty } => {
                report.label.push_str(&format!(
                    " (real wait {}, outside the uncertainty of {} ms)",
                    humanize(wait),
                    uncertainty
                ));
                self.skipping = self.skipping.take().filter(|(_, sticky)| *sticky);
                self.pace.sleep(wait).await;
                Outcome::Ok
            }
            Placement::Cannot(reason) => {
                report.label.push_str(" (not placed)");
                report.skipped = Some(reason.clone());
                let sticky = self.skipping.as_ref().is_some_and(|(_, s)| *s);
                self.skipping = Some((reason, sticky));
                Outcome::Ok
            }
        }
    }
}

/// Where a boundary check lands on a target without clock control.
#[derive(Debug, PartialEq)]
enum Placement {
    /// Wait this long from now; `uncertainty` in ms.
    At { wait: Duration, uncertainty: i64 },
    /// The check cannot be placed outside the uncertainty; the reason.
    Cannot(String),
}

/// Places the check after `a` (semantics.md, "Real time"): "before the
/// boundary" at `instant - uncertainty` or earlier, "at or after" at
/// `instant + uncertainty` or later, where the uncertainty is `tolerance`
/// plus the round trip `rtt` of the request that produced the instant.
/// Pure: `now` is the local clock in epoch ms.
fn place(
    a: &AdvanceTo,
    instant: i64,
    tolerance: Duration,
    rtt: Duration,
    now: i64,
    max_wait: Duration,
) -> Placement {
    let u = (tolerance + rtt).as_millis() as i64;
    let exact = instant.saturating_add(a.offset_ms);
    let at = if a.before() {
        exact.min(instant.saturating_sub(u))
    } else {
        exact.max(instant.saturating_add(u))
    };
    let uncertainty = format!(
        "time_tolerance {} + round trip {} ms",
        humanize(tolerance),
        rtt.as_millis()
    );
    if at <= now && a.before() {
        return Placement::Cannot(format!(
            "without clock control the check must land before `{}` by more than the uncertainty ({uncertainty}); that point passed {} ms ago",
            a.instant.text,
            now - at
        ));
    }
    let wait = Duration::from_millis(at.saturating_sub(now).max(0) as u64);
    if wait > max_wait {
        return Placement::Cannot(format!(
            "placing the check outside the uncertainty ({uncertainty}) needs a real wait of {}; the target allows {}",
            humanize(wait),
            humanize(max_wait)
        ));
    }
    Placement::At {
        wait,
        uncertainty: u,
    }
}

fn signed_ms(ms: i64) -> String {
    match ms {
        0 => String::new(),
        n if n < 0 => format!(" - {}ms", -n),
        n => format!(" + {n}ms"),
    }
}

fn headers_map(h: &[(String, String)]) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    for (n, v) in h {
        m.entry(n.clone())
            .and_modify(|e| {
                e.push_str(", ");
                e.push_str(v);
            })
            .or_insert_with(|| v.clone());
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::plan::Arith;

    fn to(offset_ms: i64) -> AdvanceTo {
        AdvanceTo {
            instant: Arith::parse("{{expires}}").unwrap(),
            offset_ms,
            about: Duration::from_secs(60),
        }
    }

    const TOL: Duration = Duration::from_secs(2);
    const RTT: Duration = Duration::from_millis(30);
    const MAX: Duration = Duration::from_secs(120);

    #[test]
    fn just_before_lands_the_uncertainty_before_the_boundary() {
        let p = place(&to(-1), 100_000, TOL, RTT, 40_000, MAX);
        assert_eq!(
            p,
            Placement::At {
                wait: Duration::from_millis(100_000 - 2_030 - 40_000),
                uncertainty: 2_030
            }
        );
        // An offset already outside the uncertainty is kept.
        let p = place(&to(-10_000), 100_000, TOL, RTT, 40_000, MAX);
        assert!(matches!(p, Placement::At { wait, .. } if wait == Duration::from_millis(50_000)));
    }

    #[test]
    fn at_the_boundary_lands_the_uncertainty_after_it() {
        let p = place(&to(0), 100_000, TOL, RTT, 40_000, MAX);
        assert!(
            matches!(p, Placement::At { wait, .. } if wait == Duration::from_millis(62_030)),
            "{p:?}"
        );
        let p = place(&to(1), 100_000, TOL, RTT, 101_000, MAX);
        assert!(matches!(p, Placement::At { wait, .. } if wait == Duration::from_millis(1_030)));
        // Already far past: no wait at all.
        let p = place(&to(0), 100_000, TOL, RTT, 200_000, MAX);
        assert!(matches!(p, Placement::At { wait, .. } if wait.is_zero()));
    }

    #[test]
    fn a_check_that_cannot_be_placed_says_why() {
        // Too late for "before".
        let Placement::Cannot(why) = place(&to(-1), 100_000, TOL, RTT, 98_000, MAX) else {
            panic!("placed");
        };
        assert!(why.contains("uncertainty") && why.contains("2s"), "{why}");
        // Too far for the allowed wait.
        let Placement::Cannot(why) = place(&to(0), 1_000_000, TOL, RTT, 0, MAX) else {
            panic!("placed");
        };
        assert!(why.contains("2m"), "{why}");
    }

    fn step_report(index: usize, skipped: Option<&str>) -> StepReport {
        StepReport {
            index,
            line: 10,
            kind: "request".into(),
            at_ms: None,
            label: String::new(),
            note: None,
            exchanges: vec![],
            checks: vec![],
            skipped: skipped.map(Into::into),
        }
    }

    #[test]
    fn a_skipped_step_makes_a_passing_scenario_skipped_never_a_failing_one() {
        let mut p = Played {
            verdict: Verdict::Pass,
            reason: None,
            steps: vec![step_report(1, None), step_report(2, Some("too late"))],
            tokens: vec![],
        };
        settle_skips(&mut p);
        assert_eq!(p.verdict, Verdict::Skipped);
        assert!(p.reason.unwrap().contains("step 2 (line 10): too late"));
        let mut f = Played {
            verdict: Verdict::Fail,
            reason: None,
            steps: vec![step_report(1, Some("too late"))],
            tokens: vec![],
        };
        settle_skips(&mut f);
        assert_eq!(f.verdict, Verdict::Fail);
    }

    #[tokio::test]
    async fn a_sleep_gives_the_slot_back_and_takes_it_again() {
        let sem = Arc::new(Semaphore::new(1));
        let permit = sem.clone().acquire_owned().await.unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut pace = Pace {
            slot: Some((sem.clone(), Some(permit))),
            events: Some(tx),
            id: "a/b".into(),
        };
        let other = sem.clone();
        let sleeper = tokio::spawn(async move {
            pace.sleep(Duration::from_millis(200)).await;
            pace
        });
        // While it sleeps another instance gets the only slot.
        let got = tokio::time::timeout(Duration::from_millis(150), other.acquire()).await;
        assert!(got.is_ok(), "the slot stayed held during the sleep");
        drop(got);
        let pace = sleeper.await.unwrap();
        assert!(matches!(&pace.slot, Some((_, Some(_)))));
        assert!(matches!(rx.try_recv(), Ok(RunEvent::Waiting { .. })));
        assert!(matches!(rx.try_recv(), Ok(RunEvent::Resumed { .. })));
    }
}
