//! Writes a (shrunk) operation sequence as a version-1 scenario, so a
//! failure found by fuzzing becomes a regression anyone can replay with
//! `tessera run`.
//!
//! Requests come from `plan` (what the fuzzer sent, as templates);
//! expectations are the model's predictions, with instants written as
//! `{{now}}`-relative arithmetic. The text is produced by hand, with every
//! scalar a JSON string (valid YAML), because `scenario::load` is the only
//! module allowed to touch the YAML crate; the tests read the output back
//! through `load::parse_yaml` and `validate::check`.

use std::fmt::Write as _;

use crate::knobs::Knobs;
use crate::scenario::model::{Capability, Profile};

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

fn q(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
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

fn write_map(out: &mut String, indent: &str, key: &str, items: &[(&'static str, String)]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{indent}{key}:");
    for (k, v) in items {
        let _ = writeln!(out, "{indent}  {}: {}", q(k), q(v));
    }
}

fn write_expect(out: &mut String, accept: &[Expected], now: i64) {
    let Some(first) = accept.first() else {
        return;
    };
    let _ = writeln!(out, "    expect:");
    if accept.iter().all(|e| e.status == first.status) {
        let _ = writeln!(out, "      status: {}", first.status);
    }
    let mut json: Vec<(String, String)> = Vec::new();
    let mut body: Option<String> = None;
    if first.body == BodyKind::Json {
        if accept.iter().all(|e| e.error == first.error) {
            match first.error {
                Some(c) => {
                    let _ = writeln!(out, "      arcgis_error: {c}");
                }
                None => {
                    let _ = writeln!(out, "      no_error: true");
                }
            }
        } else {
            let codes: Vec<String> = accept
                .iter()
                .filter_map(|e| e.error.map(|c| c.to_string()))
                .collect();
            json.push((
                q("$.error.code"),
                format!("{{one_of: [{}]}}", codes.join(", ")),
            ));
        }
    }
    // Field checks only when one answer is acceptable.
    if accept.len() == 1 {
        for c in &first.checks {
            match c {
                Check::JsonInstant { path, at } => {
                    json.push((q(path), format!("{{equals: {}}}", q(&relative(at - now)))))
                }
                Check::JsonIsString { path } => json.push((q(path), "{type: string}".into())),
                Check::JsonIsToken { path } => json.push((
                    q(path),
                    format!("{{type: string, matches: {}}}", q(model::TOKEN_PATTERN)),
                )),
                Check::JsonIsBool { path } => json.push((q(path), "{type: boolean}".into())),
                Check::JsonEquals { path, value } => {
                    json.push((q(path), format!("{{equals: {value}}}")))
                }
                Check::BodyIsValue => body = Some(format!("{{matches: {}}}", q(r"^\S+$"))),
                Check::BodyEqualsCapture(name) => {
                    body = Some(format!("{{equals: {}}}", q(&format!("{{{{{name}}}}}"))))
                }
                Check::BodyContains(s) => body = Some(format!("{{contains: {}}}", q(s))),
            }
        }
    } else if let Some(common) = first.checks.iter().find_map(|c| match c {
        Check::BodyContains(s) if accept.iter().all(|e| e.checks.contains(c)) => Some(*s),
        _ => None,
    }) {
        body = Some(format!("{{contains: {}}}", q(common)));
    }
    if !json.is_empty() {
        let _ = writeln!(out, "      json:");
        for (k, v) in json {
            let _ = writeln!(out, "        {k}: {v}");
        }
    }
    if let Some(b) = body {
        let _ = writeln!(out, "      body: {b}");
    }
}

/// The scenario text for `ops` under `knobs`.
pub fn to_yaml(knobs: &Knobs, ops: &[Op], origin: &Origin) -> String {
    let mut steps = String::new();
    let mut rules: Vec<&'static str> = Vec::new();
    let mut requires: Vec<Capability> = Vec::new();
    let mut need = |c: Capability| {
        if !requires.contains(&c) {
            requires.push(c);
        }
    };
    let mut s = State::default();
    for (i, op) in ops.iter().enumerate() {
        let last = i + 1 == ops.len();
        let Some(planned) = plan::plan(&s, op) else {
            continue;
        };
        let prediction = model::predict(knobs, &s, op);
        match &planned {
            Planned::Advance(ms) => {
                need(Capability::ClockControl);
                let _ = writeln!(steps, "  - advance: {}", q(&human_ms(*ms)));
            }
            Planned::SetPassword { user, password } => {
                need(Capability::PasswordControl);
                let _ = writeln!(steps, "  - set_password:");
                let _ = writeln!(steps, "      user: {}", q(user.alias()));
                let _ = writeln!(steps, "      password: {}", q(password));
            }
            Planned::Request(r) => {
                let uses_alt = r.from != Addr::Primary
                    || [&r.query, &r.form]
                        .iter()
                        .any(|m| m.iter().any(|(_, v)| v.contains("{{addr.")));
                if uses_alt {
                    need(Capability::AltAddresses);
                }
                let _ = writeln!(steps, "  - request:");
                let _ = writeln!(steps, "      endpoint: {}", q(r.endpoint));
                let _ = writeln!(steps, "      method: {}", r.method.as_str());
                write_map(&mut steps, "      ", "query", &r.query);
                write_map(&mut steps, "      ", "form", &r.form);
                write_map(&mut steps, "      ", "headers", &r.headers);
                write_map(&mut steps, "      ", "cookies", &r.cookies);
                let _ = writeln!(steps, "      from: {}", q(r.from.alias()));
                if let Some(referer) = &r.referer {
                    let _ = writeln!(steps, "      referer: {}", q(referer));
                }
                write_expect(&mut steps, &prediction.accept, s.now);
                if let Some(cap) = &prediction.capture {
                    let from = match cap.from {
                        CaptureFrom::Json(p) => p,
                        CaptureFrom::Body => "body",
                    };
                    let _ = writeln!(steps, "    capture:");
                    let _ = writeln!(steps, "      {}: {}", cap.name, q(from));
                }
                let step_rules = prediction.rules();
                if !step_rules.is_empty() {
                    let _ = writeln!(steps, "    rules: [{}]", step_rules.join(", "));
                }
                if last {
                    let _ = writeln!(
                        steps,
                        "    note: {}",
                        q("the step where the fuzzer saw the target diverge")
                    );
                }
                for r in step_rules {
                    if !rules.contains(&r) {
                        rules.push(r);
                    }
                }
            }
        }
        s = model::apply(knobs, s, op);
    }
    if rules.is_empty() {
        rules.push("LT-5");
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by `tessera fuzz`; replay the search with --seed {}.",
        origin.seed
    );
    let _ = writeln!(out, "version: 1");
    let _ = writeln!(out, "id: {}", q(&origin.id));
    let _ = writeln!(
        out,
        "title: {}",
        q(&format!("Fuzz regression: {}", origin.summary))
    );
    let _ = writeln!(
        out,
        "description: {}",
        q(&format!(
            "A shrunk sequence found by `tessera fuzz --seed {}`. Expectations are the model's \
             predictions; the last step is where the target diverged.",
            origin.seed
        ))
    );
    let _ = writeln!(out, "rules: [{}]", rules.join(", "));
    let _ = writeln!(out, "profile: {}", profile_of(ops).as_str());
    if !requires.is_empty() {
        let names: Vec<&str> = requires.iter().map(|c| c.as_str()).collect();
        let _ = writeln!(out, "requires: [{}]", names.join(", "));
    }
    // The knobs the model predicted with: the scenario holds where they do.
    let _ = writeln!(out, "knobs:");
    let _ = writeln!(out, "  short_lived_minutes: {}", knobs.short_lived_minutes);
    let _ = writeln!(
        out,
        "  max_expiration_minutes: {}",
        knobs.max_expiration_minutes
    );
    let _ = writeln!(
        out,
        "  portal_short_lived_minutes: {}",
        knobs.portal_short_lived_minutes
    );
    let _ = writeln!(
        out,
        "  portal_max_expiration_minutes: {}",
        knobs.portal_max_expiration_minutes
    );
    let _ = writeln!(out, "  web_tier_auth: {}", knobs.web_tier_auth);
    if let Some(cap) = knobs.max_concurrent_sessions {
        let _ = writeln!(out, "  max_concurrent_sessions: {cap}");
    }
    let _ = writeln!(out, "steps:");
    out.push_str(&steps);
    out
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
                family: Some(Family::Open),
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
                family: Family::Open,
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
        let text = to_yaml(&Knobs::default(), &ops, &origin());
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
        let text = to_yaml(&Knobs::default(), &f.ops, &origin());
        let sc = check(&text);
        assert!(sc.rules.iter().any(|r| *r == "LT-5"), "{text}");
        assert_eq!(sc.profile, Profile::ArcgisToken);
    }
}
