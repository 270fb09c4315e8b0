//! The oracle: does an observed answer match one of the model's acceptable
//! answers? And the normalised [`Outcome`] differential runs compare.
//!
//! Pure. Messages never contain a token, user ID or password: a mismatch on
//! a secret says which capture it should have equalled, not what it held.

use std::collections::BTreeMap;

use crate::knobs::Knobs;

use super::exec::{Observed, ObservedBody};
use super::model::{self, BodyKind, CarrierName, Check, Expected, Prediction, State};
use super::ops::*;

/// Why an observed answer is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What the model expected (each acceptable answer, summarised).
    pub expected: Vec<String>,
    /// What came back, summarised.
    pub observed: String,
    /// The rules the expected answers cite.
    pub rules: Vec<&'static str>,
    /// What differed, for the first acceptable answer.
    pub detail: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "expected {} ({}), observed {}: {}",
            self.expected.join(" or "),
            self.rules.join(", "),
            self.observed,
            self.detail
        )
    }
}

/// The ArcGIS error code of a JSON body, if it holds an `error` object.
pub fn error_code(body: &ObservedBody) -> Option<i64> {
    match body {
        ObservedBody::Json(v) => v.get("error").map(|e| {
            e.get("code")
                .and_then(|c| {
                    c.as_i64()
                        .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
                })
                .unwrap_or(-1)
        }),
        ObservedBody::Text(_) => None,
    }
}

fn summary(e: &Expected) -> String {
    match (e.body, e.error) {
        (BodyKind::Json, Some(c)) => format!("HTTP {} with error {c}", e.status),
        (BodyKind::Json, None) => format!("HTTP {} without error", e.status),
        (BodyKind::Text, _) => format!("HTTP {} (text)", e.status),
    }
}

fn observed_summary(o: &Observed) -> String {
    match (&o.body, error_code(&o.body)) {
        (ObservedBody::Json(_), Some(c)) => format!("HTTP {} with error {c}", o.status),
        (ObservedBody::Json(_), None) => format!("HTTP {} without error", o.status),
        (ObservedBody::Text(_), _) => format!("HTTP {} (text)", o.status),
    }
}

fn json_at<'v>(v: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    path.trim_start_matches("$.")
        .split('.')
        .try_fold(v, |v, k| v.get(k))
}

/// Why `o` does not fit `e` (`None`: it fits). `epoch0` turns model time
/// into the target's epoch ms.
fn misfit(
    e: &Expected,
    o: &Observed,
    epoch0: i64,
    tolerance_ms: i64,
    captures: &BTreeMap<String, String>,
) -> Option<String> {
    if e.status != o.status {
        return Some(format!("status {} instead of {}", o.status, e.status));
    }
    if e.body == BodyKind::Json {
        let got = error_code(&o.body);
        if got != e.error {
            return Some(match (e.error, got) {
                (Some(w), Some(g)) => format!("error code {g} instead of {w}"),
                (Some(w), None) => format!("no error where error {w} was due"),
                (None, Some(g)) => format!("error {g} where none was due"),
                (None, None) => unreachable!("equal"),
            });
        }
    }
    for c in &e.checks {
        let bad = match (c, &o.body) {
            (Check::JsonInstant { path, at }, ObservedBody::Json(v)) => {
                let want = epoch0 + at;
                match json_at(v, path).and_then(|x| x.as_i64()) {
                    Some(g) if (g - want).abs() <= tolerance_ms => None,
                    Some(g) => Some(format!(
                        "{path} is now {:+} ms instead of now {:+} ms",
                        g - epoch0,
                        at
                    )),
                    None => Some(format!("{path} is not an integer")),
                }
            }
            (Check::JsonIsString { path }, ObservedBody::Json(v)) => (!json_at(v, path)
                .is_some_and(|x| x.is_string()))
            .then(|| format!("{path} is not a string")),
            (Check::JsonIsToken { path }, ObservedBody::Json(v)) => (!json_at(v, path)
                .and_then(|x| x.as_str())
                .is_some_and(model::token_shaped))
            .then(|| format!("{path} is not 64-256 URL-safe characters (TS-2)")),
            (Check::JsonIsBool { path }, ObservedBody::Json(v)) => (!json_at(v, path)
                .is_some_and(|x| x.is_boolean()))
            .then(|| format!("{path} is not a boolean")),
            (Check::JsonEquals { path, value }, ObservedBody::Json(v)) => {
                (json_at(v, path) != Some(value)).then(|| format!("{path} is not {value}"))
            }
            (Check::BodyIsValue, ObservedBody::Text(t)) => {
                let t = t.trim();
                (t.is_empty() || t.contains(char::is_whitespace))
                    .then(|| "the body is not a single value".to_owned())
            }
            (Check::BodyEqualsCapture(name), ObservedBody::Text(t)) => {
                (captures.get(name).map(String::as_str) != Some(t.trim()))
                    .then(|| format!("the body is not the value captured as `{name}`"))
            }
            (Check::BodyContains(s), ObservedBody::Text(t)) => {
                (!t.contains(s)).then(|| format!("the body does not contain `{s}`"))
            }
            (Check::BodyContains(s), ObservedBody::Json(v)) => {
                (!v.to_string().contains(s)).then(|| format!("the body does not contain `{s}`"))
            }
            (_, ObservedBody::Json(_)) => Some("a text body was due, JSON came".to_owned()),
            (_, ObservedBody::Text(_)) => Some("a JSON body was due, text came".to_owned()),
        };
        if bad.is_some() {
            return bad;
        }
    }
    None
}

/// Judges one answer. Control steps (no acceptable answers listed) always pass.
pub fn judge(
    p: &Prediction,
    o: &Observed,
    epoch0: i64,
    captures: &BTreeMap<String, String>,
) -> Result<(), Mismatch> {
    judge_within(p, o, epoch0, 0, captures)
}

/// [`judge`] with instants compared within `tolerance_ms` either way: on a
/// target without clock control the model's time stands at the case's
/// start while the target's clock runs (and may differ from ours).
pub fn judge_within(
    p: &Prediction,
    o: &Observed,
    epoch0: i64,
    tolerance_ms: i64,
    captures: &BTreeMap<String, String>,
) -> Result<(), Mismatch> {
    if p.accept.is_empty() {
        return Ok(());
    }
    let mut first = None;
    for e in &p.accept {
        match misfit(e, o, epoch0, tolerance_ms, captures) {
            None => return Ok(()),
            Some(why) => {
                first.get_or_insert(why);
            }
        }
    }
    Err(Mismatch {
        expected: p.accept.iter().map(summary).collect(),
        observed: observed_summary(o),
        rules: p.rules(),
        detail: first.unwrap_or_default(),
    })
}

/// A normalised answer, as differential runs compare them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: u16,
    pub error_code: Option<i64>,
    /// For secured requests: the carrier whose token decided the answer,
    /// inferred from the model (see [`infer_carrier`]).
    pub carrier_won: Option<CarrierName>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(c) = self.error_code {
            write!(f, ", error {c}")?;
        }
        if let Some(c) = self.carrier_won {
            write!(f, ", {} carrier won", c.as_str())?;
        }
        Ok(())
    }
}

/// Normalises an answer to `op` in state `s`.
pub fn outcome(k: &Knobs, s: &State, op: &Op, o: &Observed) -> Outcome {
    let status = o.status;
    let error_code = error_code(&o.body);
    Outcome {
        status,
        error_code,
        carrier_won: infer_carrier(k, s, op, status, error_code),
    }
}

/// Which carrier of a secured request the target honoured: the first, in
/// precedence order, whose token alone would give this answer. `None` when
/// no carrier explains it (or the request is not a secured one).
pub fn infer_carrier(
    k: &Knobs,
    s: &State,
    op: &Op,
    status: u16,
    error_code: Option<i64>,
) -> Option<CarrierName> {
    let Op::Secured {
        service,
        carriers,
        from,
        referer,
    } = op
    else {
        return None;
    };
    let mut singles: Vec<(CarrierName, Carriers)> = Vec::new();
    if let Some(t) = &carriers.x_esri {
        singles.push((
            CarrierName::XEsriAuthorization,
            Carriers {
                x_esri: Some(t.clone()),
                ..Carriers::default()
            },
        ));
    }
    if let Some(a @ (AuthHeader::Bearer(_) | AuthHeader::BearerLowercase(_))) =
        &carriers.authorization
        && !k.web_tier_auth
    {
        singles.push((
            CarrierName::Authorization,
            Carriers {
                authorization: Some(a.clone()),
                ..Carriers::default()
            },
        ));
    }
    for (name, slot) in [
        (CarrierName::Query, &carriers.query),
        (CarrierName::Body, &carriers.body),
        (CarrierName::Cookie, &carriers.cookie),
    ] {
        if let Some(t) = slot {
            let mut c = Carriers::default();
            match name {
                CarrierName::Query => c.query = Some(t.clone()),
                CarrierName::Body => c.body = Some(t.clone()),
                _ => c.cookie = Some(t.clone()),
            }
            singles.push((name, c));
        }
    }
    singles.into_iter().find_map(|(name, c)| {
        let single = Op::Secured {
            service: *service,
            carriers: c,
            from: *from,
            referer: *referer,
        };
        model::predict(k, s, &single)
            .accept
            .iter()
            .any(|e| e.status == status && e.error == error_code)
            .then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::model::apply;

    #[test]
    fn carrier_inference_follows_the_answer() {
        let k = Knobs::default();
        let s = apply(
            &k,
            State::default(),
            &Op::GenerateToken {
                user: User::Alice,
                password: Password::Current,
                path: TokenPath::Server,
                expiration: Minutes::Omitted,
                client: Client::Omitted,
                from: Addr::Primary,
            },
        );
        let op = Op::Secured {
            service: Service::Secured,
            carriers: Carriers {
                x_esri: Some(TokRef::Garbage(Garbage::Short)),
                cookie: Some(TokRef::Issued(0)),
                ..Carriers::default()
            },
            from: Addr::Primary,
            referer: None,
        };
        // A conformant answer (498): the header won. A 200 means the cookie did (no HP-3).
        assert_eq!(
            infer_carrier(&k, &s, &op, 200, Some(498)),
            Some(CarrierName::XEsriAuthorization)
        );
        assert_eq!(
            infer_carrier(&k, &s, &op, 200, None),
            Some(CarrierName::Cookie)
        );
        assert_eq!(infer_carrier(&k, &s, &op, 500, None), None);
    }

    #[test]
    fn judging_reports_rules_and_never_secrets() {
        let p = Prediction {
            accept: vec![Expected {
                status: 200,
                body: BodyKind::Text,
                error: None,
                checks: vec![Check::BodyEqualsCapture("a1".into())],
                rules: vec!["RN-1"],
            }],
            capture: None,
        };
        let caps: BTreeMap<String, String> = [("a1".to_owned(), "SECRET-A".to_owned())].into();
        let o = Observed {
            status: 200,
            body: ObservedBody::Text("SECRET-B".into()),
        };
        let m = judge(&p, &o, 0, &caps).unwrap_err();
        assert_eq!(m.rules, vec!["RN-1"]);
        assert!(!m.to_string().contains("SECRET"), "{m}");
        let ok = Observed {
            status: 200,
            body: ObservedBody::Text("SECRET-A\n".into()),
        };
        assert!(judge(&p, &ok, 0, &caps).is_ok());
    }
}
