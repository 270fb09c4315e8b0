//! Writes a (shrunk) operation sequence as a version-1 scenario, so a
//! failure found by fuzzing becomes a regression anyone can replay with
//! `tessera run`.
//!
//! Requests come from `plan` (what the fuzzer sent, as templates);
//! expectations are the model's predictions, with instants written as
//! `{{now}}`-relative arithmetic. The sequence becomes a [`ScenarioFile`]
//! value, written by `scenario::load::write_scenario` (the one module that
//! knows YAML); nothing here spells a field name or an indentation.

use indexmap::IndexMap;
use serde_json::Value;

use crate::knobs::Knobs;
use crate::scenario::load::{self, YamlWriteError};
use crate::scenario::model::{
    Capability, Expect, FORMAT_VERSION, IntExpr, JsonType, Matcher, Profile, RawStep, ScenarioFile,
    SetPassword, Spanned,
};

use super::model::{self, BodyKind, CaptureFrom, Check, Expected, State};
use super::ops::{Addr, Op, OpKind};
use super::plan::{self, Planned};

/// What the file says about where it came from.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The scenario id (`regressions/...`).
    pub id: String,
    pub seed: u64,
    /// One line: what diverged.
    pub summary: String,
}

/// `3723004` → `1h 2m 3s 4ms`.
pub fn human_ms(ms: u64) -> String {
    let parts = [
        (ms / 3_600_000, "h"),
        (ms / 60_000 % 60, "m"),
        (ms / 1000 % 60, "s"),
        (ms % 1000, "ms"),
    ];
    let out: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if out.is_empty() {
        "0ms".into()
    } else {
        out.join(" ")
    }
}

fn relative(delta: i64) -> String {
    match delta {
        0 => "{{now}}".into(),
        d if d > 0 => format!("{{{{now}}}} + {}", human_ms(d as u64)),
        d => format!("{{{{now}}}} - {}", human_ms(d.unsigned_abs())),
    }
}

/// The profile a sequence exercises: that of its last (diverging) request.
pub fn profile_of(ops: &[Op]) -> Profile {
    ops.iter()
        .rev()
        .find_map(|op| match op.kind() {
            OpKind::GenerateToken | OpKind::Secured => Some(Profile::ArcgisToken),
            OpKind::ArcwebGetToken
            | OpKind::ArcwebRenew
            | OpKind::ArcwebGetUserId
            | OpKind::ArcwebMap => Some(Profile::Arcweb2006),
            OpKind::SessionStart | OpKind::Style => Some(Profile::BasemapSessions),
            OpKind::Advance | OpKind::SetPassword => None,
        })
        .unwrap_or(Profile::ArcgisToken)
}

fn text(s: impl Into<String>) -> Option<Value> {
    Some(Value::String(s.into()))
}

fn of_type(t: JsonType) -> Matcher {
    Matcher {
        type_: Some(t),
        ..Matcher::default()
    }
}

fn contains(s: &str) -> Matcher {
    Matcher {
        contains: Some(s.into()),
        ..Matcher::default()
    }
}

/// The expectations for a request whose acceptable answers are `accept`,
/// with instants relative to `now` (model time).
fn expect(accept: &[Expected], now: i64) -> Option<Expect> {
    let first = accept.first()?;
    let mut e = Expect::default();
    if accept.iter().all(|x| x.status == first.status) {
        e.status = Some(IntExpr(first.status.to_string()).into());
    }
    if first.body == BodyKind::Json {
        if accept.iter().all(|x| x.error == first.error) {
            match first.error {
                Some(c) => e.arcgis_error = Some(IntExpr(c.to_string()).into()),
                None => e.no_error = Some(true),
            }
        } else {
            let codes = accept.iter().filter_map(|x| x.error).map(Value::from);
            let one_of = Matcher {
                one_of: Some(codes.collect()),
                ..Matcher::default()
            };
            e.json.insert("$.error.code".into(), one_of.into());
        }
    }
    // Field checks only when one answer is acceptable.
    if accept.len() == 1 {
        for c in &first.checks {
            // A JSON path's matcher, or the body's (`None`).
            let (path, m) = match c {
                Check::JsonInstant { path, at } => (
                    Some(path),
                    Matcher {
                        equals: text(relative(at - now)),
                        ..Matcher::default()
                    },
                ),
                Check::JsonIsString { path } => (Some(path), of_type(JsonType::String)),
                Check::JsonIsToken { path } => (
                    Some(path),
                    Matcher {
                        matches: Some(model::TOKEN_PATTERN.into()),
                        ..of_type(JsonType::String)
                    },
                ),
                Check::JsonIsBool { path } => (Some(path), of_type(JsonType::Boolean)),
                Check::JsonEquals { path, value } => (
                    Some(path),
                    Matcher {
                        equals: Some(value.clone()),
                        ..Matcher::default()
                    },
                ),
                Check::BodyIsValue => (
                    None,
                    Matcher {
                        matches: Some(r"^\S+$".into()),
                        ..Matcher::default()
                    },
                ),
                Check::BodyEqualsCapture(name) => (
                    None,
                    Matcher {
                        equals: text(format!("{{{{{name}}}}}")),
                        ..Matcher::default()
                    },
                ),
                Check::BodyContains(s) => (None, contains(s)),
            };
            match path {
                Some(p) => {
                    e.json.insert((*p).to_owned(), m.into());
                }
                None => e.body = Some(m.into()),
            }
        }
    } else if let Some(common) = first.checks.iter().find_map(|c| match c {
        Check::BodyContains(s) if accept.iter().all(|x| x.checks.contains(c)) => Some(*s),
        _ => None,
    }) {
        e.body = Some(contains(common).into());
    }
    Some(e)
}

/// The step that plays `op` in state `s`, with the rules it cites, and the
/// capability it needs.
fn step(knobs: &Knobs, s: &State, op: &Op, last: bool) -> Option<(RawStep, Vec<Capability>)> {
    let mut step = RawStep {
        request: None,
        expect: None,
        capture: IndexMap::new(),
        advance: None,
        advance_to: None,
        wait: None,
        concurrent: None,
        set_password: None,
        rules: Vec::new(),
        note: None,
    };
    let needs = match plan::plan(s, op)? {
        Planned::Advance(ms) => {
            step.advance = Some(human_ms(ms).into());
            vec![Capability::ClockControl]
        }
        Planned::SetPassword { user, password } => {
            step.set_password = Some(SetPassword {
                user: user.alias().to_owned().into(),
                password,
            });
            vec![Capability::PasswordControl]
        }
        Planned::Request(r) => {
            let uses_alt = r.from != Addr::Primary
                || [&r.query, &r.form]
                    .iter()
                    .any(|m| m.iter().any(|(_, v)| v.contains("{{addr.")));
            let prediction = model::predict(knobs, s, op);
            step.request = Some(r.to_request());
            step.expect = expect(&prediction.accept, s.now);
            if let Some(cap) = &prediction.capture {
                let from = match cap.from {
                    CaptureFrom::Json(p) => p,
                    CaptureFrom::Body => "body",
                };
                step.capture
                    .insert(cap.name.clone(), from.to_owned().into());
            }
            step.rules = prediction
                .rules()
                .into_iter()
                .map(|r| r.to_owned().into())
                .collect();
            if last {
                step.note = Some("the step where the fuzzer saw the target diverge".into());
            }
            uses_alt
                .then_some(Capability::AltAddresses)
                .into_iter()
                .collect()
        }
    };
    Some((step, needs))
}

/// The knobs the model predicted with, as the scenario states them: it holds
/// where they do.
fn knob_values(knobs: &Knobs) -> IndexMap<String, Spanned<Value>> {
    model::KNOBS_READ
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), knobs.get(name).ok()?.into())))
        .collect()
}

/// The scenario for `ops` under `knobs`.
pub fn to_scenario(knobs: &Knobs, ops: &[Op], origin: &Origin) -> ScenarioFile {
    let mut steps = Vec::new();
    let mut rules: Vec<Spanned<String>> = Vec::new();
    let mut requires: Vec<Spanned<Capability>> = Vec::new();
    let mut s = State::default();
    for (i, op) in ops.iter().enumerate() {
        if let Some((step, needs)) = step(knobs, &s, op, i + 1 == ops.len()) {
            for c in needs {
                if !requires.iter().any(|r| r.value == c) {
                    requires.push(c.into());
                }
            }
            for r in &step.rules {
                if !rules.contains(r) {
                    rules.push(r.clone());
                }
            }
            steps.push(step.into());
        }
        s = model::apply(knobs, s, op);
    }
    if rules.is_empty() {
        rules.push("LT-5".to_owned().into());
    }
    ScenarioFile {
        version: FORMAT_VERSION.into(),
        id: origin.id.clone().into(),
        title: format!("Fuzz regression: {}", origin.summary),
        description: Some(format!(
            "A shrunk sequence found by `tessera fuzz --seed {}`. Expectations are the model's \
             predictions; the last step is where the target diverged.",
            origin.seed
        )),
        rules,
        profile: profile_of(ops),
        requires,
        knobs: knob_values(knobs),
        matrix: Vec::new(),
        steps,
    }
}

/// The scenario text for `ops` under `knobs`: [`to_scenario`], headed by a
/// comment saying how to find it again.
pub fn to_yaml(knobs: &Knobs, ops: &[Op], origin: &Origin) -> Result<String, YamlWriteError> {
    let comment = format!(
        "Written by `tessera fuzz`; replay the search with --seed {}.",
        origin.seed
    );
    load::write_scenario(&to_scenario(knobs, ops, origin), &[&comment])
}

/// A file name for a regression (`fuzz-<seed>-<kind>.yaml`).
pub fn file_name(seed: u64, ops: &[Op]) -> String {
    let kind = ops.last().map(|o| o.kind().name()).unwrap_or("empty");
    format!("fuzz-{seed}-{kind}.yaml")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::fuzz::exec::{FakeDeviation, ModelExecutor};
    use crate::fuzz::machine::{self, FuzzConfig};
    use crate::fuzz::ops::*;
    use crate::reference::StyleFamily;
    use crate::scenario::model::{ScenarioFile, StepKind};
    use crate::scenario::{load, validate};

    fn check(text: &str) -> crate::scenario::model::Scenario {
        let file: ScenarioFile = load::parse_yaml(text, Path::new("fuzz.yaml"))
            .unwrap_or_else(|d| panic!("{}\n{text}", d.render(Some(text))));
        validate::check(file, Path::new("fuzz.yaml")).unwrap_or_else(|ds| {
            let msgs: Vec<String> = ds.iter().map(|d| d.render(Some(text))).collect();
            panic!("{}\n{text}", msgs.join("\n"))
        })
    }

    fn origin() -> Origin {
        Origin {
            id: "regressions/fuzz-test".into(),
            seed: 42,
            summary: "an expired token was accepted".into(),
        }
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(human_ms(3_599_999), "59m 59s 999ms");
        assert_eq!(human_ms(3_600_000), "1h");
        assert_eq!(human_ms(0), "0ms");
        for ms in [1, 59_999, 86_400_001] {
            let back = crate::scenario::model::parse_duration(&human_ms(ms)).unwrap();
            assert_eq!(back.as_millis() as u64, ms);
        }
    }

    #[test]
    fn every_kind_of_step_round_trips_through_validation() {
        let ops = vec![
            Op::GenerateToken {
                user: User::Alice,
                password: Password::Current,
                path: TokenPath::Server,
                expiration: Minutes::Value(1),
                client: Client::Ip(Addr::Alt1),
                from: Addr::Primary,
            },
            Op::SessionStart {
                token: Some(TokRef::Issued(0)),
                family: Some(StyleFamily::Open),
                duration: Seconds::Value(600),
                from: Addr::Alt1,
            },
            Op::ArcwebGetToken {
                user: User::Bob,
                password: Password::Current,
                tout: Minutes::Value(10),
                ip: None,
                from: Addr::Primary,
            },
            Op::ArcwebGetUserId {
                user: User::Bob,
                password: Password::Current,
                from: Addr::Primary,
            },
            Op::SetPassword { user: User::Bob },
            Op::Advance(Advance::ToTokenExpiry {
                handle: 0,
                offset: 0,
            }),
            Op::ArcwebRenew {
                token: ArcRef::Issued(0),
                from: Addr::Alt2,
            },
            Op::ArcwebMap {
                cred: ArcCred::UserId(0),
                from: Addr::Primary,
            },
            Op::Style {
                family: StyleFamily::Open,
                token: Some(TokRef::Session(0)),
                from: Addr::Primary,
            },
            Op::Secured {
                service: Service::Restricted,
                carriers: Carriers {
                    x_esri: None,
                    authorization: Some(AuthHeader::Basic),
                    query: Some(TokRef::Unknown(3)),
                    body: Some(TokRef::Issued(0)),
                    cookie: Some(TokRef::Garbage(Garbage::Dotted)),
                },
                from: Addr::Alt1,
                referer: Some(0),
            },
        ];
        let text = to_yaml(&Knobs::default(), &ops, &origin()).unwrap();
        // What is written reads back as the scenario that was built.
        let back: ScenarioFile = load::parse_yaml(&text, Path::new("fuzz.yaml")).unwrap();
        assert!(back == to_scenario(&Knobs::default(), &ops, &origin()));
        let sc = check(&text);
        assert_eq!(sc.steps.len(), ops.len());
        assert!(matches!(sc.steps[5].kind, StepKind::Advance(_)));
        assert_eq!(sc.requires.len(), 3);
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_found_deviation_becomes_a_valid_scenario() {
        let mut exec =
            ModelExecutor::new(Knobs::default(), Some(FakeDeviation::AcceptExpiredTokens));
        let cfg = FuzzConfig {
            cases: 200,
            max_steps: 25,
            ..FuzzConfig::new(5)
        };
        let out = machine::run(&cfg, &mut exec, &mut |_| {}).unwrap();
        let f = out.failure.expect("found");
        let text = to_yaml(&Knobs::default(), &f.ops, &origin()).unwrap();
        let sc = check(&text);
        assert!(sc.rules.iter().any(|r| *r == "LT-5"), "{text}");
        assert_eq!(sc.profile, Profile::ArcgisToken);
    }
}
