//! The timeline of a case as lines people read: operations and their
//! answers, events, and requests with the tokens they carried as stable
//! labels (`T3 (portal token for alice, revoked)`). Values of tokens and
//! passwords are never in a journal, so they cannot be here either; a
//! password shows as `password in body`.

use crate::certify::journal::{
    Binding, Carrier, CaseRecord, Entry, IssuedToken, Place, Seen, TokenId, TokenKind,
};
use crate::certify::plan::{Envelope, Event, Revoke};
use crate::certify::protocol::{Op, Outcome};
use crate::certify::verdict::TimelineLine;

/// Where a timeline line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Op(usize),
    Answer(usize),
    Event(usize),
    Entry(usize),
}

/// The whole timeline of a case, in time order.
pub struct Timeline {
    pub lines: Vec<(Source, TimelineLine)>,
}

pub fn kind_name(k: TokenKind) -> &'static str {
    match k {
        TokenKind::Portal => "portal token",
        TokenKind::Server => "server token",
        TokenKind::Exchanged => "federated server token",
        TokenKind::Session => "session token",
        TokenKind::Foreign => "foreign token",
    }
}

/// `T3 (portal token for alice, revoked)`.
pub fn token_label(t: &IssuedToken, rejected: bool) -> String {
    let mut s = format!("{} ({} for {}", t.id.label(), kind_name(t.kind), t.user);
    if t.revoked_real_ms.is_some() {
        s.push_str(", revoked");
    }
    if rejected {
        s.push_str(", drew a 498");
    }
    s.push(')');
    s
}

pub fn carrier_name(c: Carrier) -> &'static str {
    match c {
        Carrier::XEsriHeader => "X-Esri-Authorization",
        Carrier::AuthorizationHeader => "Authorization",
        Carrier::Query => "query",
        Carrier::Body => "body",
        Carrier::Cookie => "agstoken cookie",
    }
}

pub fn envelope_name(e: Envelope) -> &'static str {
    match e {
        Envelope::Server200 => "server-200",
        Envelope::Portal200 => "portal-200",
        Envelope::Http401 => "http-401",
        Envelope::Http403 => "http-403",
        Envelope::Status => "status",
    }
}

fn seen_text(rec: &CaseRecord, s: Seen, rejected: &dyn Fn(TokenId) -> bool) -> String {
    match s {
        Seen::Issued(id) => rec
            .journal
            .token(id)
            .map(|t| token_label(t, rejected(id)))
            .unwrap_or_else(|| id.label()),
        Seen::OtherCase => "a token of another case".into(),
        Seen::Unknown => "an unknown token".into(),
    }
}

pub fn entry_text(rec: &CaseRecord, e: &Entry, rejected: &dyn Fn(TokenId) -> bool) -> String {
    let scheme = match e.scheme {
        crate::certify::journal::Scheme::Http => "http",
        crate::certify::journal::Scheme::Https => "https",
    };
    let mut s = format!("{} {scheme} {} {}", e.role.as_str(), e.method, e.path);
    for p in &e.presented {
        s.push_str(&format!(
            "; {} in {}",
            seen_text(rec, p.token, rejected),
            carrier_name(p.carrier)
        ));
    }
    if let Some(c) = &e.credentials {
        if let Some(place) = c.password {
            let place = match place {
                Place::Query => "query",
                Place::Body => "body",
            };
            s.push_str(&format!("; password in {place}"));
        }
        if let Some(u) = &c.username {
            s.push_str(&format!(" (user {u})"));
        }
    }
    s.push_str(&format!(" -> {}", e.status));
    if let Some(c) = e.error_code {
        s.push_str(&format!(" error {c}"));
    }
    if e.injected {
        s.push_str(" (injected)");
    }
    if let Some(id) = e.issued
        && let Some(t) = rec.journal.token(id)
    {
        let life = (t.expires_server_ms - t.issued_server_ms) as f64 / 1000.0;
        let bind = match &t.binding {
            Binding::Referer(_) => ", referer-bound",
            Binding::RequestIp => ", requestip-bound",
            Binding::Ip(_) => ", ip-bound",
            Binding::None => "",
        };
        s.push_str(&format!(
            "; issued {} = {} for {}, expires in {life:.1} s{bind}",
            t.id.label(),
            kind_name(t.kind),
            t.user
        ));
    }
    s
}

fn op_text(op: &Op) -> String {
    match op {
        Op::Signin => "op signin".into(),
        Op::Request { url, method, .. } => format!(
            "op request {}{url}",
            method.as_ref().map(|m| format!("{m} ")).unwrap_or_default()
        ),
        Op::SessionStart {
            duration,
            auto_refresh,
            ..
        } => format!(
            "op session.start{}{}",
            duration
                .map(|d| format!(" duration {d} s"))
                .unwrap_or_default(),
            auto_refresh
                .map(|a| format!(" autoRefresh {a}"))
                .unwrap_or_default()
        ),
        Op::SessionUse { url } => format!("op session.use {url}"),
        Op::Idle { ms } => format!("op idle {ms} ms"),
        Op::Bye => "op bye".into(),
    }
}

fn outcome_text(o: &Option<Outcome>) -> String {
    match o {
        None => "  no answer".into(),
        Some(Outcome::Ok) => "  answered ok".into(),
        Some(Outcome::Unsupported) => "  answered unsupported".into(),
        Some(Outcome::Failed(e)) => format!(
            "  answered failed: {:?}{}",
            e.kind,
            e.code.map(|c| format!(" {c}")).unwrap_or_default()
        )
        .to_lowercase(),
    }
}

pub fn event_text(e: &Event) -> String {
    match e {
        Event::Revoke(Revoke::User(u)) => format!("event revoke every token of {u}"),
        Event::Revoke(Revoke::AllTokens) => "event revoke every token".into(),
        Event::PasswordChange { user } => format!("event password change for {user}"),
        Event::Inject {
            role,
            path_suffix,
            code,
            envelope,
            times,
            retry_after_s,
        } => format!(
            "event inject {code} ({}) x{times} on {} …{path_suffix}{}",
            envelope_name(*envelope),
            role.as_str(),
            retry_after_s
                .map(|r| format!(", Retry-After {r}"))
                .unwrap_or_default()
        ),
        Event::ClockJump { ms } => {
            format!("event server clock jumps {:+.1} s", *ms as f64 / 1000.0)
        }
        Event::ClockOffset { ms } => {
            format!("event server clock offset {:+.1} s", *ms as f64 / 1000.0)
        }
        Event::DeclareSsl => "event token answers declare ssl: true".into(),
        Event::DeclareAllSsl => "event portals/self declares allSSL: true".into(),
        Event::AdvertiseOwningSystem { role, .. } => {
            format!(
                "event {} advertises a chosen owningSystemUrl",
                role.as_str()
            )
        }
        Event::AdvertiseTokenUrl { role, .. } => {
            format!("event {} advertises a chosen token URL", role.as_str())
        }
        Event::SessionScopeRefuse { family } => format!("event styles of {family} answer 403"),
        Event::Wait { ms } => format!("event wait {ms} ms"),
    }
}

impl Timeline {
    /// `entry_step` gives each request's operation step (ties at one
    /// millisecond are ordered by step).
    pub fn build(
        rec: &CaseRecord,
        entry_step: &[Option<usize>],
        rejected: &dyn Fn(TokenId) -> bool,
    ) -> Timeline {
        let mut lines: Vec<(Source, TimelineLine)> = Vec::new();
        let line = |real_ms, text| TimelineLine {
            real_ms,
            text,
            offending: false,
        };
        for o in &rec.transcript.ops {
            lines.push((Source::Op(o.step), line(o.sent_real_ms, op_text(&o.op))));
            if let Some(at) = o.answered_real_ms {
                lines.push((Source::Answer(o.step), line(at, outcome_text(&o.outcome))));
            }
        }
        for a in &rec.journal.events {
            lines.push((Source::Event(a.step), line(a.real_ms, event_text(&a.event))));
        }
        for e in &rec.journal.entries {
            lines.push((
                Source::Entry(e.seq),
                line(e.real_ms, entry_text(rec, e, rejected)),
            ));
        }
        // Ops and events, then their requests, then the answer; at one
        // millisecond, by step.
        let starts: Vec<(i64, usize)> = lines
            .iter()
            .filter_map(|(src, l)| match src {
                Source::Op(s) | Source::Event(s) => Some((l.real_ms, *s)),
                _ => None,
            })
            .collect();
        let keyed: Vec<(super::Pos, (Source, TimelineLine))> = lines
            .into_iter()
            .map(|(src, l)| {
                let (step, rank) = match src {
                    Source::Op(s) | Source::Event(s) => (s, 0),
                    // Outside every operation: after the last step begun.
                    Source::Entry(seq) => (
                        entry_step.get(seq).copied().flatten().unwrap_or_else(|| {
                            starts
                                .iter()
                                .filter(|(t, _)| *t <= l.real_ms)
                                .map(|(_, s)| *s)
                                .max()
                                .unwrap_or(0)
                        }),
                        1,
                    ),
                    Source::Answer(s) => (s, 2),
                };
                ((l.real_ms, step, rank), (src, l))
            })
            .collect();
        let mut keyed = keyed;
        keyed.sort_by_key(|(k, _)| *k);
        let lines = keyed.into_iter().map(|(_, l)| l).collect();
        Timeline { lines }
    }

    /// A few lines around a request (or the start, without one), the
    /// request marked offending.
    pub fn excerpt(&self, entry: Option<usize>) -> Vec<TimelineLine> {
        const BEFORE: usize = 6;
        const AFTER: usize = 3;
        let at = entry.and_then(|seq| {
            self.lines
                .iter()
                .position(|(s, _)| *s == Source::Entry(seq))
        });
        let (from, to) = match at {
            Some(i) => (
                i.saturating_sub(BEFORE),
                (i + AFTER + 1).min(self.lines.len()),
            ),
            None => (0, self.lines.len().min(BEFORE + AFTER)),
        };
        self.lines[from..to]
            .iter()
            .enumerate()
            .map(|(k, (_, l))| TimelineLine {
                offending: at == Some(from + k),
                ..l.clone()
            })
            .collect()
    }
}
