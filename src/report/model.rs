//! The report model: everything any writer needs, as plain serde data.
//!
//! The JSON report is this model serialized; it is versioned by
//! [`REPORT_FORMAT_VERSION`] and is the source of truth for merge, diff and
//! baselines. Writers are pure functions of it. Secrets are masked before a
//! value enters the model (see `redact`).

use std::collections::BTreeMap;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change of the JSON shape.
pub const REPORT_FORMAT_VERSION: u32 = 2;

/// One run of a suite against one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub format_version: u32,
    /// `tessera X.Y.Z`.
    pub tool: String,
    /// RFC 3339 wall-clock time the run started.
    pub started_at: String,
    pub duration_ms: u64,
    pub target: TargetSummary,
    /// `k/n` when the run was one shard of a partitioned suite.
    #[serde(default)]
    pub partition: Option<String>,
    pub scenarios: Vec<ScenarioReport>,
    /// Whether the run passes, decided once by the gate (`report::gate`) or
    /// by `report merge`; every writer renders it and none works it out
    /// again. `None` only before the gate has run (a runner's raw result).
    #[serde(default)]
    pub outcome: Option<Outcome>,
}

/// The run's outcome: passed or failed, why, and the counts it was decided
/// on. Written by [`crate::report::gate`] only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub result: RunResult,
    /// Everything that fails the run (empty when it passes).
    pub reasons: Vec<Finding>,
    /// Things worth saying that do not fail it.
    pub notes: Vec<Finding>,
    /// Verdict counts over the scenarios.
    pub totals: Totals,
    /// Failures the baseline expects (they do not fail the run).
    pub expected_failures: usize,
    /// Passes the baseline expected to fail (they fail the run).
    pub unexpected_passes: usize,
    /// Scenarios that passed on a retry.
    pub flaky: usize,
    /// The switches the gate applied.
    pub policy: Policy,
    /// How much of the suite ran, the MUST rules no case checked, and the
    /// coverage gates (`--require-rule`, `--min-ran`). Decided with the rest
    /// of the outcome; writers render it.
    #[serde(default)]
    pub coverage: Coverage,
    /// For each VARIANT rule, the variant the target showed and in how many
    /// cases (decided with the outcome: a mix, a carrier order that is not
    /// one, or a declared variant not shown fails the run).
    #[serde(default)]
    pub behaviour: BehaviourProfile,
}

/// The behaviour profile: which variant of each VARIANT rule the target
/// showed (semantics.md, "Levels, variants and verdicts").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BehaviourProfile {
    /// One entry per rule and dimension shown or declared, in the order of
    /// semantics.md (HP-2: one per pair, then one per stack).
    pub variants: Vec<VariantShown>,
    /// HP-2: the carriers from highest precedence down, as the pairwise
    /// winners order them; `None` when no pair was shown or the pairs do not
    /// form one strict order.
    #[serde(default)]
    pub carrier_order: Option<Vec<String>>,
}

/// One VARIANT rule (or HP-2 dimension) in the behaviour profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantShown {
    pub rule: String,
    /// `""` for a rule's only dimension; `x-esri/query` for an HP-2 pair.
    #[serde(default)]
    pub dimension: String,
    /// Each variant shown, with the cases (report ids) that showed it; more
    /// than one entry is a mix, which fails the run.
    pub shown: Vec<ShownIn>,
    /// What the target profile declared, if it did.
    #[serde(default)]
    pub declared: Option<String>,
}

impl VariantShown {
    /// `TS-4`, `HP-2 x-esri/query`.
    pub fn key(&self) -> String {
        if self.dimension.is_empty() {
            self.rule.clone()
        } else {
            format!("{} {}", self.rule, self.dimension)
        }
    }

    /// `405 (12 cases)`, `checked (3 cases), ignored (1 case)`, or `not
    /// shown`.
    pub fn summary(&self) -> String {
        if self.shown.is_empty() {
            return "not shown".into();
        }
        self.shown
            .iter()
            .map(|s| {
                let n = s.cases.len();
                format!("{} ({n} case{})", s.name, if n == 1 { "" } else { "s" })
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A variant and the cases that showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShownIn {
    pub name: String,
    pub cases: Vec<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.result == RunResult::Passed
    }

    /// The findings that fail the run because of scenario `id`.
    pub fn reasons_for<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        self.reasons.iter().filter(move |f| f.scenario() == id)
    }
}

/// Passed or failed: the exit code is 0 or 1 accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunResult {
    Passed,
    Failed,
}

impl RunResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Passed => "passed",
            RunResult::Failed => "failed",
        }
    }
}

/// The gate's switches (`--flaky-fails`, `--strict`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// A scenario that passed only on a retry fails the run.
    pub flaky_fails: bool,
    /// A `warn` (a broken SHOULD clause) fails the run.
    pub strict: bool,
}

/// One thing the gate found about one scenario; a reason when it fails the
/// run, a note otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Finding {
    /// Failed or errored, and no baseline entry expects it.
    Failed { id: String, verdict: Verdict },
    /// Failed or errored as the baseline expects.
    ExpectedFailure {
        id: String,
        verdict: Verdict,
        reason: String,
    },
    /// Passed although the baseline expects a failure.
    UnexpectedPass { id: String, reason: String },
    /// The baseline entry for this scenario expired (`YYYY-MM-DD`).
    ExpiredEntry {
        id: String,
        expired: String,
        reason: String,
    },
    /// Passed only on a retry.
    Flaky { id: String, attempts: u32 },
    /// Broke only SHOULD clauses.
    Warn { id: String },
    /// A baseline entry for a scenario that is not in this report.
    UnmatchedEntry { id: String },
    /// `--require-rule`: no case citing the rule passed.
    RuleNotPassed {
        rule: String,
        /// What would let its cases run (empty when they ran and failed).
        unlock: Vec<Unlock>,
    },
    /// `--min-ran`: too few cases ran.
    TooFewRan {
        ran: usize,
        total: usize,
        min_percent: u32,
    },
    /// Different variants of one VARIANT rule in different cases.
    MixedVariants { rule: String, shown: Vec<ShownIn> },
    /// HP-2: the pairwise winners form no strict order, or a stack's winner
    /// is not the top of its carriers in that order.
    CarrierOrder { problem: String },
    /// The target profile declares a variant the target did not show.
    UndeclaredVariant {
        rule: String,
        declared: String,
        shown: Vec<String>,
    },
}

impl Finding {
    /// The scenario (report id) it is about.
    pub fn scenario(&self) -> &str {
        match self {
            Finding::Failed { id, .. }
            | Finding::ExpectedFailure { id, .. }
            | Finding::UnexpectedPass { id, .. }
            | Finding::ExpiredEntry { id, .. }
            | Finding::Flaky { id, .. }
            | Finding::Warn { id }
            | Finding::UnmatchedEntry { id } => id,
            // About the run as a whole, not one scenario.
            Finding::RuleNotPassed { .. }
            | Finding::TooFewRan { .. }
            | Finding::MixedVariants { .. }
            | Finding::CarrierOrder { .. }
            | Finding::UndeclaredVariant { .. } => "",
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Failed { id, verdict } => write!(f, "{id} {}", verdict.as_str()),
            Finding::ExpectedFailure {
                id,
                verdict,
                reason,
            } => write!(
                f,
                "{id} {}: expected by the baseline ({reason})",
                verdict.as_str()
            ),
            Finding::UnexpectedPass { id, reason } => write!(
                f,
                "{id} passed but the baseline expects it to fail ({reason}); remove the entry"
            ),
            Finding::ExpiredEntry {
                id,
                expired,
                reason,
            } => write!(
                f,
                "baseline entry `{id}` expired on {expired} (reason was: {reason})"
            ),
            Finding::Flaky { id, attempts } => {
                write!(f, "{id} is flaky: passed after {attempts} attempts")
            }
            Finding::Warn { id } => write!(f, "{id} warn: breaks a SHOULD clause"),
            Finding::UnmatchedEntry { id } => {
                write!(
                    f,
                    "baseline entry `{id}` matches no scenario in this report"
                )
            }
            Finding::MixedVariants { rule, shown } => {
                let parts: Vec<String> = shown
                    .iter()
                    .map(|s| format!("{} in {}", s.name, s.cases.join(", ")))
                    .collect();
                write!(
                    f,
                    "{rule} fail: different variants in different cases ({})",
                    parts.join("; ")
                )
            }
            Finding::CarrierOrder { problem } => write!(f, "HP-2 fail: {problem}"),
            Finding::UndeclaredVariant {
                rule,
                declared,
                shown,
            } => {
                let shown = if shown.is_empty() {
                    "none was shown".to_owned()
                } else {
                    format!("the target showed {}", shown.join(", "))
                };
                write!(
                    f,
                    "{rule} fail: the target profile declares `{declared}`, {shown}"
                )
            }
            Finding::RuleNotPassed { rule, unlock } => {
                write!(f, "required rule {rule}: no case passed")?;
                if !unlock.is_empty() {
                    write!(f, " (to run its cases: {})", join_unlocks(unlock))?;
                }
                Ok(())
            }
            Finding::TooFewRan {
                ran,
                total,
                min_percent,
            } => write!(
                f,
                "only {ran} of {total} cases ran ({}), below --min-ran {min_percent}%",
                percent_text(*ran, *total)
            ),
        }
    }
}

/// Coverage of one run: cases that ran out of the cases selected, and the
/// MUST rules that no case checked. Computed by `report::gate` from the
/// verdicts (and `report merge` for a merged run); writers render it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    /// Cases played to a verdict (pass, warn, fail or error).
    pub ran: usize,
    /// Every case in the report.
    pub total: usize,
    /// MUST rules cited by cases of this report none of which ran.
    #[serde(default)]
    pub unchecked: Vec<UncheckedRule>,
    /// Skip and not-applicable reasons, each with its number of cases, most
    /// frequent first.
    #[serde(default)]
    pub not_run: Vec<NotRunGroup>,
    /// `--require-rule` IDs the gate checked.
    #[serde(default)]
    pub required_rules: Vec<String>,
    /// `--min-ran` threshold the gate checked, in percent.
    #[serde(default)]
    pub min_ran_percent: Option<u32>,
}

impl Coverage {
    /// `ran 215 of 360 cases (59.7%)`.
    pub fn ran_text(&self) -> String {
        format!(
            "ran {} of {} cases ({})",
            self.ran,
            self.total,
            percent_text(self.ran, self.total)
        )
    }

    /// `LT-5 (declare web_tier_auth), SL-4 (allow real waits of 2m)`, or
    /// `None` when every MUST rule cited had a case run.
    pub fn unchecked_text(&self) -> Option<String> {
        if self.unchecked.is_empty() {
            return None;
        }
        Some(
            self.unchecked
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        )
    }

    /// One line for a console or a headline: the ran count, then the
    /// unchecked MUST rules if any.
    pub fn line(&self) -> String {
        match self.unchecked_text() {
            None => format!("coverage: {}", self.ran_text()),
            Some(u) => format!(
                "coverage: {}; {} MUST rule(s) unchecked: {u}",
                self.ran_text(),
                self.unchecked.len()
            ),
        }
    }
}

/// `2m`, `1h 30m`, `500ms`.
pub fn humanize(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut parts = Vec::new();
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1000, rest % 1000);
    for (v, u) in [(h, "h"), (m, "m"), (s, "s"), (ms, "ms")] {
        if v > 0 {
            parts.push(format!("{v}{u}"));
        }
    }
    parts.join(" ")
}

/// `59.7%`; `100%` for an empty run.
pub fn percent_text(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "100%".into();
    }
    let tenths = (part * 1000 + whole / 2) / whole;
    if tenths.is_multiple_of(10) {
        format!("{}%", tenths / 10)
    } else {
        format!("{}.{}%", tenths / 10, tenths % 10)
    }
}

/// A MUST rule no case checked, with what would let its cases run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UncheckedRule {
    pub rule: String,
    /// Cases citing it (none of which ran).
    pub cases: usize,
    /// What would unlock them, most useful first.
    pub unlock: Vec<Unlock>,
}

impl std::fmt::Display for UncheckedRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.rule)?;
        if !self.unlock.is_empty() {
            write!(f, " ({})", join_unlocks(&self.unlock))?;
        }
        Ok(())
    }
}

/// One skip or not-applicable reason and how many cases gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotRunGroup {
    pub verdict: Verdict,
    pub reason: String,
    pub cases: usize,
    #[serde(default)]
    pub unlock: Option<Unlock>,
}

fn join_unlocks(u: &[Unlock]) -> String {
    u.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

/// What would let a skipped or not-applicable case run on this target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Unlock {
    /// The profile does not declare the knob the scenario states.
    DeclareKnob { knob: String },
    /// The target declares another value; a target configured so (or knob
    /// control, `/_tessera/knobs`) would run it.
    KnobValue {
        knob: String,
        value: serde_json::Value,
    },
    /// Real waits of at least this long (`max_real_wait`), or clock control.
    RealWaits { ms: u64 },
    /// Alternate source addresses (`capabilities.addresses`).
    AltAddresses,
    /// The address of this alias (`capabilities.addresses`), which a
    /// request renders (`{{addr.primary}}`).
    Address { alias: String },
    /// `password_control`.
    PasswordControl,
    /// The target implements this profile.
    Profile { profile: String },
    /// An account mapped to this fixture user.
    User { alias: String },
}

impl std::fmt::Display for Unlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unlock::DeclareKnob { knob } => write!(f, "declare {knob}"),
            Unlock::KnobValue { knob, value } => {
                write!(f, "knob control to set {knob} = {value}")
            }
            Unlock::RealWaits { ms } => {
                let d = std::time::Duration::from_millis(*ms);
                write!(f, "allow real waits of {}", humanize(d))
            }
            Unlock::AltAddresses => f.write_str("declare alternate addresses"),
            Unlock::Address { alias } => write!(f, "declare the {alias} address"),
            Unlock::PasswordControl => f.write_str("password control"),
            Unlock::Profile { profile } => write!(f, "implement the {profile} profile"),
            Unlock::User { alias } => write!(f, "map an account to {alias}"),
        }
    }
}

/// What was tested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetSummary {
    /// `reference`, a URL, or a profile file name.
    pub name: String,
    pub base_url: String,
    pub profiles: Vec<String>,
    pub capabilities: Vec<String>,
    /// Knob values the target declared (or the reference's).
    pub knobs: serde_json::Value,
    /// Deviations the in-process reference was started with.
    #[serde(default)]
    pub deviations: Vec<String>,
    /// The variants the target declares (`variants:` in its profile; the
    /// reference's own otherwise stay undeclared), `RULE` or `HP-2 A/B` to a
    /// variant name; the gate fails the run when another one is shown.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub declared_variants: BTreeMap<String, String>,
    /// How the target was reached over HTTPS; absent: plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSummary>,
}

/// The TLS side of a target: public facts only (no key, no certificate body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsSummary {
    /// `https`.
    pub scheme: String,
    /// The negotiated version (`TLS 1.3`); empty if unknown.
    pub version: String,
    /// The server certificate's subject (`CN=...`); empty if unknown.
    pub subject: String,
    /// The server certificate's `notAfter` (RFC 3339, UTC); empty if unknown.
    pub expires: String,
    /// Certificates and host names were NOT verified (`--insecure`).
    #[serde(default)]
    pub insecure: bool,
    /// Files of extra trusted CA certificates (`--cacert`, `tls.cacert`).
    #[serde(default)]
    pub cacert: Vec<String>,
    /// A client certificate was presented.
    #[serde(default)]
    pub client_cert: bool,
}

impl TlsSummary {
    /// The warning every writer shows first when `insecure`.
    pub const INSECURE_WARNING: &str =
        "INSECURE: run with --insecure, the target's certificate and host name were NOT verified";

    /// One line for the writers' target sections (without the warning).
    pub fn line(&self) -> String {
        let mut parts = Vec::new();
        let mut seen = self.scheme.clone();
        if !self.version.is_empty() {
            seen.push_str(&format!(", {}", self.version));
        }
        if !self.subject.is_empty() {
            seen.push_str(&format!(", certificate {}", self.subject));
        }
        if !self.expires.is_empty() {
            seen.push_str(&format!(" (expires {})", self.expires));
        }
        parts.push(seen);
        if !self.cacert.is_empty() {
            parts.push(format!("trusting {}", self.cacert.join(", ")));
        }
        if self.client_cert {
            parts.push("client certificate presented".to_owned());
        }
        parts.join("; ")
    }
}

/// The outcome of one scenario (one matrix case).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// Only expectations citing SHOULD clauses did not hold: shown
    /// everywhere, fails the run only under `--strict`.
    Warn,
    /// An expectation did not hold: the target breaks a rule.
    Fail,
    /// The target misbehaved (refused, timed out, unparsable body) or the run
    /// could not proceed.
    Error,
    /// The target lacks a capability the scenario needs; `reason` says which.
    Skipped,
    /// The target does not implement the scenario's profile, or declares
    /// other knob values.
    NotApplicable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
            Verdict::Skipped => "skipped",
            Verdict::NotApplicable => "not applicable",
        }
    }

    /// Whether this verdict fails a run by itself (a warn fails it only
    /// under `--strict`, which is the gate's call).
    pub fn is_failure(self) -> bool {
        matches!(self, Verdict::Fail | Verdict::Error)
    }
}

/// One scenario (or one case of a matrix scenario).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioReport {
    /// Unique in the report: the scenario id, plus `[case]` for a matrix case.
    pub id: String,
    /// The scenario id from its file.
    pub scenario: String,
    #[serde(default)]
    pub case: Option<String>,
    pub area: String,
    pub title: String,
    pub file: String,
    pub rules: Vec<String>,
    pub profile: String,
    /// The matrix case's values (masked), e.g. which carrier should win.
    #[serde(default)]
    pub vars: IndexMap<String, serde_json::Value>,
    pub verdict: Verdict,
    /// Why it was skipped, not applicable or an error.
    #[serde(default)]
    pub reason: Option<String>,
    pub duration_ms: u64,
    /// How many times it was played (more than 1 with retries).
    #[serde(default = "one")]
    pub attempts: u32,
    /// Failed first, passed on a retry.
    #[serde(default)]
    pub flaky: bool,
    pub steps: Vec<StepReport>,
    /// Tokens and sessions seen, for timelines.
    #[serde(default)]
    pub tokens: Vec<TokenWindow>,
    /// For a skipped or not-applicable case: what would let it run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlock: Option<Unlock>,
    /// What the CI gate made of this scenario (a baseline's expected failure
    /// or unexpected pass); absent when no baseline mentions it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateMark>,
}

/// The baseline's judgement of one scenario (see `report::gate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum GateMark {
    /// Failed as the baseline expects: reported, but does not fail the run.
    ExpectedFailure { reason: String },
    /// The baseline expects a failure but it passed: fails the run, so that
    /// the baseline stays honest.
    UnexpectedPass { reason: String },
}

fn one() -> u32 {
    1
}

impl ScenarioReport {
    /// The checks that did not hold, with their step.
    pub fn failures(&self) -> impl Iterator<Item = (&StepReport, &Check)> {
        self.steps
            .iter()
            .flat_map(|s| s.checks.iter().filter(|c| !c.passed).map(move |c| (s, c)))
    }
}

/// One step as played.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepReport {
    /// 1-based position in the scenario.
    pub index: usize,
    /// Line in the scenario file.
    pub line: u32,
    /// `request`, `advance`, `wait`, `concurrent` or `set_password`.
    pub kind: String,
    /// The target's clock (epoch ms) when the step started, when known.
    #[serde(default)]
    pub at_ms: Option<i64>,
    /// `POST /arcgis/tokens/generateToken`, `advance 61m`, ...
    pub label: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub exchanges: Vec<Exchange>,
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Why the step was not played (a boundary check the target's clock
    /// cannot decide, semantics.md "Real time"); such a step neither passes
    /// nor fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The `variants:` alternatives checked on this step's answers, with
    /// which held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<VariantMatch>,
}

/// Which named alternatives of one VARIANT rule held on one answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantMatch {
    pub rule: String,
    /// `""` for a rule's only dimension; `x-esri/query` for an HP-2 pair,
    /// `query/body/cookie` for a stack.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dimension: String,
    /// The alternatives that held: one is the variant shown; several mean
    /// this answer cannot tell them apart (the profile does not count it);
    /// none fails the step.
    pub matched: Vec<String>,
}

impl VariantMatch {
    /// The variant this answer shows, when exactly one alternative held.
    pub fn shown(&self) -> Option<&str> {
        match self.matched.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// `TS-4`, `HP-2 x-esri/query`.
    pub fn key(&self) -> String {
        if self.dimension.is_empty() {
            self.rule.clone()
        } else {
            format!("{} {}", self.rule, self.dimension)
        }
    }
}

/// One HTTP request and its answer (masked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    pub method: String,
    pub url: String,
    /// The source-address alias it was sent from.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub request_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub request_body: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
    /// The start of the body, masked.
    #[serde(default)]
    pub response_body: Option<String>,
    pub elapsed_ms: u64,
    /// Transport failure: refused, timed out, ...
    #[serde(default)]
    pub error: Option<String>,
}

/// One expectation and whether it held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// `status`, `arcgis_error`, `json $.expires equals`, ...
    pub what: String,
    pub expected: String,
    pub actual: String,
    pub passed: bool,
    /// The rules a failure here breaks.
    pub rules: Vec<String>,
}

/// A token or session with its validity window on the target's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenWindow {
    /// The capture name, or `token #N`.
    pub label: String,
    pub issued_at_ms: i64,
    pub expires_ms: i64,
    /// The step that obtained it.
    pub step: usize,
}

/// Per-rule outcome, derived from the scenarios.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuleVerdict {
    pub rule: String,
    /// `fail` if any citing scenario failed on it or errored, `pass` if at least
    /// one passed and none failed, else `skipped` / `not_applicable`;
    /// `None` when no scenario in the report cites it.
    pub verdict: Option<Verdict>,
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub error: usize,
    pub skipped: usize,
    pub not_applicable: usize,
}

/// Counts of verdicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub error: usize,
    pub skipped: usize,
    pub not_applicable: usize,
}

impl Totals {
    pub fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Pass => self.pass += 1,
            Verdict::Warn => self.warn += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::Error => self.error += 1,
            Verdict::Skipped => self.skipped += 1,
            Verdict::NotApplicable => self.not_applicable += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.pass + self.warn + self.fail + self.error + self.skipped + self.not_applicable
    }
}

impl Report {
    /// A run's report as the runner hands it over: this tool, no shard, and
    /// no outcome yet (the gate decides it).
    pub fn unjudged(
        target: TargetSummary,
        started_at: String,
        duration_ms: u64,
        scenarios: Vec<ScenarioReport>,
    ) -> Report {
        Report {
            format_version: REPORT_FORMAT_VERSION,
            tool: format!("tessera {}", env!("CARGO_PKG_VERSION")),
            started_at,
            duration_ms,
            target,
            partition: None,
            scenarios,
            outcome: None,
        }
    }

    /// Verdict counts over all scenarios.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for s in &self.scenarios {
            t.add(s.verdict);
        }
        t
    }

    /// Verdict counts per area, areas sorted.
    pub fn totals_by_area(&self) -> BTreeMap<String, Totals> {
        let mut m: BTreeMap<String, Totals> = BTreeMap::new();
        for s in &self.scenarios {
            m.entry(s.area.clone()).or_default().add(s.verdict);
        }
        m
    }

    /// One verdict per rule of semantics.md, in its order.
    ///
    /// A failed (or warned) scenario counts as a failure (or warn) only for
    /// the rules its failed checks name (so a scenario citing LT-1 and LT-5
    /// that fails on LT-5 does not fail LT-1); an error counts against every
    /// rule it cites. `LT-5/SHOULD` counts for LT-5.
    pub fn rule_verdicts(&self) -> Vec<RuleVerdict> {
        use crate::rules::cites;
        crate::rules::RULES
            .iter()
            .map(|rule| {
                let mut rv = RuleVerdict {
                    rule: rule.id.to_owned(),
                    verdict: None,
                    pass: 0,
                    warn: 0,
                    fail: 0,
                    error: 0,
                    skipped: 0,
                    not_applicable: 0,
                };
                for s in self
                    .scenarios
                    .iter()
                    .filter(|s| s.rules.iter().any(|r| cites(r, rule.id)))
                {
                    let broken = || {
                        s.failures()
                            .any(|(_, c)| c.rules.iter().any(|r| cites(r, rule.id)))
                    };
                    match s.verdict {
                        Verdict::Fail if broken() => rv.fail += 1,
                        Verdict::Warn if broken() => rv.warn += 1,
                        Verdict::Fail | Verdict::Warn | Verdict::Pass => rv.pass += 1,
                        Verdict::Error => rv.error += 1,
                        Verdict::Skipped => rv.skipped += 1,
                        Verdict::NotApplicable => rv.not_applicable += 1,
                    }
                }
                rv.verdict = if rv.fail > 0 {
                    Some(Verdict::Fail)
                } else if rv.error > 0 {
                    Some(Verdict::Error)
                } else if rv.warn > 0 {
                    Some(Verdict::Warn)
                } else if rv.pass > 0 {
                    Some(Verdict::Pass)
                } else if rv.skipped > 0 {
                    Some(Verdict::Skipped)
                } else if rv.not_applicable > 0 {
                    Some(Verdict::NotApplicable)
                } else {
                    None
                };
                rv
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn the_tls_line_says_what_was_seen_and_trusted() {
        let mut t = TlsSummary {
            scheme: "https".into(),
            version: "TLS 1.3".into(),
            subject: "CN=gis.example.com, O=Example".into(),
            expires: "2027-12-04T00:00:00Z".into(),
            insecure: false,
            cacert: vec!["internal-ca.pem".into()],
            client_cert: true,
        };
        insta::assert_snapshot!(t.line(), @"https, TLS 1.3, certificate CN=gis.example.com, O=Example (expires 2027-12-04T00:00:00Z); trusting internal-ca.pem; client certificate presented");
        t.version.clear();
        t.subject.clear();
        t.expires.clear();
        t.cacert.clear();
        t.client_cert = false;
        insta::assert_snapshot!(t.line(), @"https");
    }

    pub(crate) fn scenario(
        id: &str,
        rules: &[&str],
        verdict: Verdict,
        failed_rules: &[&str],
    ) -> ScenarioReport {
        let checks = if failed_rules.is_empty() {
            vec![]
        } else {
            vec![Check {
                what: "status".into(),
                expected: "200".into(),
                actual: "500".into(),
                passed: false,
                rules: failed_rules.iter().map(|s| s.to_string()).collect(),
            }]
        };
        ScenarioReport {
            id: id.into(),
            scenario: id.into(),
            case: None,
            area: id.split('/').next().unwrap().into(),
            title: format!("title of {id}"),
            file: format!("specs/{id}.yaml"),
            rules: rules.iter().map(|s| s.to_string()).collect(),
            profile: "arcgis-token".into(),
            vars: IndexMap::new(),
            verdict,
            reason: None,
            duration_ms: 1,
            attempts: 1,
            flaky: false,
            steps: vec![StepReport {
                index: 1,
                line: 7,
                kind: "request".into(),
                at_ms: Some(0),
                label: "GET /x".into(),
                note: None,
                exchanges: vec![],
                checks,
                variants: vec![],
                skipped: None,
            }],
            tokens: vec![],
            unlock: None,
            gate: None,
        }
    }

    pub(crate) fn report(scenarios: Vec<ScenarioReport>) -> Report {
        Report {
            format_version: REPORT_FORMAT_VERSION,
            tool: "tessera test".into(),
            started_at: "2026-11-24T00:00:00Z".into(),
            duration_ms: 5,
            target: TargetSummary {
                name: "reference".into(),
                base_url: "http://127.0.0.1:1".into(),
                profiles: vec!["arcgis-token".into()],
                capabilities: vec!["clock-control".into()],
                knobs: serde_json::json!({}),
                deviations: vec![],
                declared_variants: BTreeMap::new(),
                tls: None,
            },
            partition: None,
            scenarios,
            outcome: None,
        }
    }

    #[test]
    fn rule_verdicts_attribute_failures_to_the_failed_check_rules() {
        let r = report(vec![
            scenario("lifetimes/a", &["LT-1", "LT-5"], Verdict::Fail, &["LT-5"]),
            scenario("lifetimes/b", &["LT-1"], Verdict::Pass, &[]),
            scenario("sessions/c", &["SL-1"], Verdict::Skipped, &[]),
        ]);
        let v: BTreeMap<_, _> = r
            .rule_verdicts()
            .into_iter()
            .map(|v| (v.rule.clone(), v))
            .collect();
        assert_eq!(v["LT-5"].verdict, Some(Verdict::Fail));
        assert_eq!(v["LT-1"].verdict, Some(Verdict::Pass));
        assert_eq!(v["LT-1"].pass, 2);
        assert_eq!(v["SL-1"].verdict, Some(Verdict::Skipped));
        assert_eq!(v["HP-1"].verdict, None);
    }

    #[test]
    fn totals_by_area() {
        let r = report(vec![
            scenario("lifetimes/a", &["LT-1"], Verdict::Fail, &["LT-1"]),
            scenario("lifetimes/b", &["LT-1"], Verdict::Pass, &[]),
            scenario("sessions/c", &["SL-1"], Verdict::Pass, &[]),
        ]);
        let t = r.totals_by_area();
        assert_eq!(t["lifetimes"].fail, 1);
        assert_eq!(t["lifetimes"].pass, 1);
        assert_eq!(t["sessions"].pass, 1);
        assert_eq!(r.totals().total(), 3);
    }
}
