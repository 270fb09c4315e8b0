//! The outcome of a certification as data: per case, per rule and per
//! client, with the behaviour card and the findings. The evaluators produce
//! it (from journals, plans and transcripts); the report writers only render
//! it; the run's pass/fail is decided once, here, by [`Certification::decide`].

use schemars::JsonSchema;
use serde::Serialize;

/// A verdict, with client certification's extra ones (`client-rules.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    /// Only SHOULD clauses broken.
    Warn,
    /// A MUST clause broken, or a VARIANT shown inconsistently.
    Fail,
    /// The driver declared a feature absent, or answered `unsupported`.
    NotApplicable,
    /// A precondition (TLS, say) could not be set up.
    Skipped,
    /// The driver crashed or timed out before the case could be judged.
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
            Verdict::NotApplicable => "not-applicable",
            Verdict::Skipped => "skipped",
            Verdict::Error => "error",
        }
    }
}

/// One line of a timeline excerpt: an operation, an event or a request,
/// tokens as labels (`T3 = portal token for alice, revoked`), no secrets.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TimelineLine {
    pub real_ms: i64,
    pub text: String,
    /// This line is the offending request or answer.
    pub offending: bool,
}

/// A broken clause, with where it broke.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Finding {
    /// `CL-5`, `CL-7/SHOULD`, ...
    pub rule: String,
    /// `fail` (MUST) or `warn` (SHOULD).
    pub verdict: Verdict,
    /// What happened, in a sentence, tokens as labels.
    pub message: String,
    /// The first offending request ([`super::journal::Entry::seq`]).
    pub entry: Option<usize>,
    pub excerpt: Vec<TimelineLine>,
}

/// A variant a case showed for a VARIANT clause (`CL-3` `GET -> query`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Shown {
    pub rule: String,
    /// What it is about: `GET`, `POST`, `sessions/start`, `portal token`, ...
    pub about: String,
    pub variant: String,
}

/// One case for one client.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CaseResult {
    pub id: String,
    pub title: String,
    pub file: String,
    pub rules: Vec<String>,
    pub verdict: Verdict,
    /// Why not pass, when not `fail`/`warn` (unsupported feature, crash, ...).
    pub reason: Option<String>,
    pub findings: Vec<Finding>,
    pub shown: Vec<Shown>,
    pub duration_ms: u64,
    /// The command that replays this case alone.
    pub replay: String,
}

/// One rule for one client, decided from its cases.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RuleResult {
    pub rule: String,
    /// `MUST + SHOULD + VARIANT`, as in client-rules.md.
    pub levels: String,
    pub verdict: Verdict,
    /// The cases that decided the verdict.
    pub cases: Vec<String>,
    /// The variants shown, `about: variant` (empty when none).
    pub variants: Vec<String>,
}

/// One line of the behaviour card: what the client did, measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CardLine {
    /// `carriers`, `binding`, `renewal margin`, `reaction to 498`, ...
    pub topic: String,
    pub value: String,
}

/// Everything about one client (driver).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ClientResult {
    /// `--name`, or the driver's hello.
    pub name: String,
    pub client: Option<String>,
    pub version: Option<String>,
    pub features: Vec<String>,
    pub driver: String,
    pub card: Vec<CardLine>,
    pub rules: Vec<RuleResult>,
    pub cases: Vec<CaseResult>,
    pub verdict: Verdict,
}

/// A certification run: one or more clients over the same cases.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Certification {
    pub version: u32,
    pub tessera: String,
    pub tier: String,
    pub plan: String,
    pub clients: Vec<ClientResult>,
    /// Decided by [`Certification::decide`]; writers only show it.
    pub passed: bool,
}

impl Certification {
    /// The run passes when no client has a failed or errored case (warns
    /// pass unless `strict`).
    pub fn decide(&mut self, strict: bool) {
        self.passed = self.clients.iter().all(|c| {
            c.cases.iter().all(|k| match k.verdict {
                Verdict::Fail | Verdict::Error => false,
                Verdict::Warn => !strict,
                _ => true,
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(v: Verdict) -> CaseResult {
        CaseResult {
            id: "client/x".into(),
            title: String::new(),
            file: String::new(),
            rules: vec![],
            verdict: v,
            reason: None,
            findings: vec![],
            shown: vec![],
            duration_ms: 0,
            replay: String::new(),
        }
    }

    fn run(vs: &[Verdict]) -> Certification {
        Certification {
            version: 1,
            tessera: String::new(),
            tier: "fast".into(),
            plan: "all".into(),
            clients: vec![ClientResult {
                name: "c".into(),
                client: None,
                version: None,
                features: vec![],
                driver: String::new(),
                card: vec![],
                rules: vec![],
                cases: vs.iter().map(|v| case(*v)).collect(),
                verdict: Verdict::Pass,
            }],
            passed: false,
        }
    }

    #[test]
    fn a_fail_or_an_error_fails_the_run_and_a_warn_only_when_strict() {
        for (vs, strict, want) in [
            (
                vec![Verdict::Pass, Verdict::NotApplicable, Verdict::Skipped],
                false,
                true,
            ),
            (vec![Verdict::Pass, Verdict::Warn], false, true),
            (vec![Verdict::Pass, Verdict::Warn], true, false),
            (vec![Verdict::Fail], false, false),
            (vec![Verdict::Error], false, false),
        ] {
            let mut c = run(&vs);
            c.decide(strict);
            assert_eq!(c.passed, want, "{vs:?} strict={strict}");
        }
    }
}
