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
//! Everything is recorded unmasked here and masked once at the end by
//! [`Redactor::mask_scenario`], when every secret of the scenario is known.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::Value;

use super::expect::{self, Evaluation};
use super::render::{self, Context, Rendered};
use crate::client::control::Control;
use crate::client::http::{self, Clients, Response, TransportError};
use crate::knobs::Knobs;
use crate::report::model::{Check, Exchange, StepReport, TokenWindow, VariantMatch, Verdict};
use crate::report::redact::{self, Redactor};
use crate::scenario::plan::{CaptureSource, Case, RequestStep, Scenario, Step, StepKind};
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
    played
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
            variants: Vec::new(),
        };
        let rules: Vec<String> = step.rules.iter().map(ToString::to_string).collect();
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
                    tokio::time::sleep(*d).await;
                    Outcome::Ok
                }
            }
            StepKind::Wait(d) => {
                report.kind = "wait".into();
                report.label = format!("wait {}", humanize(*d));
                tokio::time::sleep(*d).await;
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
            let (alt_checks, matches) = self.alternatives(rs, &resp);
            let alt_failed = matches.iter().any(|m| m.matched.is_empty());
            report.variants.extend(matches);
            let failed = !ev.passed() || cap_checks.iter().any(|c| !c.passed) || alt_failed;
            let definite =
                ev.definite_failure() || cap_checks.iter().any(|c| !c.passed) || alt_failed;
            report.checks.extend(ev.checks);
            report.checks.extend(alt_checks);
            report.checks.extend(cap_checks);
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

    /// Checks the step's `variants:` alternatives on one answer: for each
    /// VARIANT rule, which alternatives hold. The checks of the first that
    /// holds are reported (labelled with the variant); when none holds,
    /// every alternative's failed checks, citing the VARIANT rule.
    fn alternatives(&self, rs: &RequestStep, resp: &Response) -> (Vec<Check>, Vec<VariantMatch>) {
        let mut checks = Vec::new();
        let mut matches = Vec::new();
        for alt in &rs.alternatives {
            let rules = [alt.rule.id.to_owned()];
            let evs: Vec<(&str, Evaluation)> = alt
                .options
                .iter()
                .map(|(name, asserts)| {
                    let ev =
                        expect::evaluate(asserts, resp, &self.ctx(), &rules, self.live.tolerance);
                    (*name, ev)
                })
                .collect();
            let matched: Vec<String> = evs
                .iter()
                .filter(|(_, ev)| ev.passed())
                .map(|(n, _)| (*n).to_owned())
                .collect();
            let label = |name: &str| {
                if alt.dimension.is_empty() {
                    format!("[{}: {name}]", alt.rule.id)
                } else {
                    format!("[{} {}: {name}]", alt.rule.id, alt.dimension)
                }
            };
            for (name, ev) in evs {
                let shown = matched.first().map(String::as_str);
                if shown.is_some() && shown != Some(name) {
                    continue;
                }
                let prefix = label(name);
                checks.extend(
                    ev.checks
                        .into_iter()
                        .filter(|c| shown.is_some() || !c.passed)
                        .map(|mut c| {
                            c.what = format!("{prefix} {}", c.what);
                            c
                        }),
                );
            }
            matches.push(VariantMatch {
                rule: alt.rule.id.to_owned(),
                dimension: alt.dimension.clone(),
                matched,
            });
        }
        (checks, matches)
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
