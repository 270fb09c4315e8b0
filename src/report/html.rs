//! The HTML writer (`report.html`): one self-contained page for people.
//!
//! The gate's outcome (badge, reasons, notes: rendered from
//! `report.outcome`, never worked out here), per-area bars, a rule × verdict
//! grid (warns apart), matrix tables (for the
//! header-precedence area: which carrier should win, per case, and whether
//! it did), and per scenario a timeline on the target's clock: each token's
//! validity window, a tick per step (green: its checks held, red: one
//! failed), and a marker where the first expectation failed.
//!
//! Rust computes a view model (all geometry included); the minijinja
//! template in `templates/report.html` only lays it out, with HTML
//! auto-escaping on, since titles, URLs and bodies are untrusted. Inline CSS
//! and inline SVG only: no script, no network, no external resource. Pure
//! function of the report; it adds nothing secret (masking happened before
//! the model).

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;

use super::groups::{self, body_for_display};
use super::model::{GateMark, Outcome, Report, ScenarioReport, Verdict};

/// Failure groups in the summary at the top before "... and N more".
const SUMMARY_GROUPS: usize = 40;
/// Reasons and notes listed before "... and N more".
const FINDINGS_SHOWN: usize = 10;

const TEMPLATE: &str = include_str!("templates/report.html");

/// The report as one HTML page.
pub fn write(report: &Report) -> String {
    let page = page(report);
    let ctx = serde_json::to_value(&page).map(|v| to_value(&v));
    let mut env = Environment::new();
    // Strict: a typo in the template is an error in tests, not a blank.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let rendered = ctx.map_err(|e| e.to_string()).and_then(|ctx| {
        env.add_template("report.html", TEMPLATE)
            .and_then(|()| env.get_template("report.html"))
            .and_then(|t| t.render(ctx))
            .map_err(|e| e.to_string())
    });
    match rendered {
        Ok(html) => html,
        // A template bug, not bad input: still give the reader something.
        Err(e) => format!(
            "<!doctype html><meta charset=\"utf-8\"><title>Tessera report</title><pre>report template error: {}</pre>",
            escape(&e)
        ),
    }
}

// ---------------------------------------------------------------- view model

#[derive(Serialize)]
struct Page {
    target: String,
    base_url: String,
    tool: String,
    started_at: String,
    duration: String,
    partition: Option<String>,
    profiles: String,
    capabilities: String,
    deviations: String,
    /// The target's TLS line (empty: plain HTTP) and whether it was
    /// reached with `--insecure`.
    tls: String,
    insecure: Option<&'static str>,
    /// `passed`, `failed` or `undecided`: the gate's outcome.
    outcome: &'static str,
    outcome_label: &'static str,
    /// `--strict`, `--flaky-fails` when the gate applied them.
    policy: String,
    /// Why the run fails, and the gate's notes.
    reasons: Vec<String>,
    notes: Vec<String>,
    /// `ran 215 of 360 cases (59.7%)`, and the MUST rules no case checked
    /// (from the outcome's coverage).
    coverage: String,
    unchecked: Vec<String>,
    /// The failure groups, as the console groups them.
    failures: Vec<FailureRow>,
    /// Groups left out of `failures`.
    more_failures: usize,
    totals: Vec<Count>,
    total: usize,
    areas: Vec<AreaBar>,
    rule_columns: Vec<Count>,
    rule_groups: Vec<RuleGroup>,
    /// The behaviour profile: `[rule, variant shown, declared]` rows.
    behaviour: Vec<[String; 3]>,
    /// The HP-2 carrier order the target showed, highest first (derived
    /// from the pairwise winners by the behaviour profile).
    carrier_order: String,
    matrices: Vec<Matrix>,
    scenarios: Vec<ScenarioView>,
}

/// One failure group in the summary at the top.
#[derive(Serialize)]
struct FailureRow {
    class: &'static str,
    label: String,
    scenario: String,
    anchor: String,
    cases: String,
    rules: String,
    what: String,
    place: String,
}

/// A verdict class (CSS), its label and a count.
#[derive(Serialize)]
struct Count {
    class: &'static str,
    label: &'static str,
    n: usize,
}

#[derive(Serialize)]
struct AreaBar {
    name: String,
    total: usize,
    pass: usize,
    segments: Vec<Segment>,
}

#[derive(Serialize)]
struct Segment {
    class: &'static str,
    label: &'static str,
    n: usize,
    pct: String,
}

#[derive(Serialize)]
struct RuleGroup {
    family: &'static str,
    rules: Vec<RuleRow>,
}

#[derive(Serialize)]
struct RuleRow {
    rule: String,
    /// `MUST SHOULD`, `VARIANT MUST`: the levels its text names.
    levels: String,
    summary: &'static str,
    class: &'static str,
    label: &'static str,
    cells: Vec<Count>,
    /// The first failing (or warning) scenario breaking this rule, by id:
    /// the verdict cell links there.
    link: Option<String>,
}

#[derive(Serialize)]
struct Matrix {
    heading: String,
    area: String,
    columns: Vec<String>,
    rows: Vec<MatrixRow>,
}

#[derive(Serialize)]
struct MatrixRow {
    id: String,
    anchor: String,
    case: String,
    values: Vec<String>,
    /// The other case values, `k=v · k=v` (one wrapping cell, so the table
    /// fits the page however many variables a matrix has).
    others: String,
    class: &'static str,
    label: String,
    detail: String,
}

#[derive(Serialize)]
struct ScenarioView {
    id: String,
    anchor: String,
    title: String,
    file: String,
    area: String,
    profile: String,
    rules: String,
    class: &'static str,
    label: String,
    open: bool,
    reason: Option<String>,
    gate: Option<String>,
    flaky: Option<String>,
    vars: Vec<(String, String)>,
    timeline: Option<Timeline>,
    steps: Vec<StepView>,
}

#[derive(Serialize)]
struct StepView {
    index: usize,
    line: u32,
    kind: String,
    label: String,
    at: String,
    class: &'static str,
    note: Option<String>,
    checks: Vec<CheckView>,
    exchanges: Vec<ExchangeView>,
}

#[derive(Serialize)]
struct CheckView {
    passed: bool,
    what: String,
    expected: String,
    actual: String,
    rules: String,
}

#[derive(Serialize)]
struct ExchangeView {
    summary: String,
    headers: Vec<(String, String)>,
    request_body: Option<String>,
    response_body: Option<String>,
}

fn page(r: &Report) -> Page {
    let t = r.totals();
    let o = r.outcome.as_ref();
    let counts = |t: &super::model::Totals| {
        VERDICTS
            .iter()
            .map(|&v| Count {
                class: class(v),
                label: label(v),
                n: count(t, v),
            })
            .collect::<Vec<_>>()
    };
    let areas = r
        .totals_by_area()
        .into_iter()
        .map(|(name, t)| AreaBar {
            total: t.total(),
            pass: t.pass,
            segments: VERDICTS
                .iter()
                .filter(|&&v| count(&t, v) > 0)
                .map(|&v| Segment {
                    class: class(v),
                    label: label(v),
                    n: count(&t, v),
                    pct: format!("{:.2}", 100.0 * count(&t, v) as f64 / t.total() as f64),
                })
                .collect(),
            name,
        })
        .collect();
    let mut rule_groups: Vec<RuleGroup> = Vec::new();
    for (rule, rv) in crate::rules::RULES.iter().zip(r.rule_verdicts()) {
        let family = family_name(rule.family);
        if rule_groups.last().is_none_or(|g| g.family != family) {
            rule_groups.push(RuleGroup {
                family,
                rules: vec![],
            });
        }
        let cells = [
            rv.pass,
            rv.warn,
            rv.fail,
            rv.error,
            rv.skipped,
            rv.not_applicable,
        ]
        .into_iter()
        .zip(VERDICTS)
        .map(|(n, v)| Count {
            class: class(v),
            label: label(v),
            n,
        })
        .collect();
        if let Some(g) = rule_groups.last_mut() {
            g.rules.push(RuleRow {
                rule: rv.rule.clone(),
                levels: crate::rules::levels_text(rule),
                summary: rule.summary,
                class: rv.verdict.map_or("none", class),
                label: rv.verdict.map_or("not covered", label),
                cells,
                link: first_breaking(r, rule.id).map(|s| anchor(&s.id)),
            });
        }
    }
    Page {
        target: r.target.name.clone(),
        base_url: r.target.base_url.clone(),
        tool: r.tool.clone(),
        started_at: r.started_at.clone(),
        duration: human_ms(r.duration_ms as i64),
        partition: r.partition.clone(),
        profiles: join_or_none(&r.target.profiles),
        capabilities: join_or_none(&r.target.capabilities),
        deviations: r.target.deviations.join(", "),
        tls: r.target.tls.as_ref().map(|t| t.line()).unwrap_or_default(),
        insecure: r
            .target
            .tls
            .as_ref()
            .filter(|t| t.insecure)
            .map(|_| super::model::TlsSummary::INSECURE_WARNING),
        outcome: match o {
            Some(o) if o.passed() => "pass",
            Some(_) => "fail",
            None => "none",
        },
        outcome_label: match o {
            Some(o) if o.passed() => "PASSED",
            Some(_) => "FAILED",
            None => "NOT DECIDED",
        },
        policy: o
            .map(|o| {
                let mut p = Vec::new();
                if o.policy.strict {
                    p.push("--strict");
                }
                if o.policy.flaky_fails {
                    p.push("--flaky-fails");
                }
                p.join(" ")
            })
            .unwrap_or_default(),
        coverage: o.map(|o| o.coverage.ran_text()).unwrap_or_default(),
        unchecked: o
            .map(|o| {
                o.coverage
                    .unchecked
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        reasons: o.map(|o| capped(&o.reasons)).unwrap_or_default(),
        notes: o.map(|o| capped(&o.notes)).unwrap_or_default(),
        failures: groups::groups(r)
            .into_iter()
            .take(SUMMARY_GROUPS)
            .map(|g| FailureRow {
                class: if g.expected {
                    "expected"
                } else {
                    class(g.verdict)
                },
                label: if g.expected {
                    format!("{} (expected)", g.verdict.as_str())
                } else {
                    g.verdict.as_str().to_owned()
                },
                anchor: anchor(&g.ids[0]),
                cases: g.cases_text(4),
                rules: g.what.rules().join(", "),
                what: match &g.what {
                    groups::What::Check {
                        what,
                        expected,
                        actual,
                        ..
                    } => format!("{what}: expected {expected}, got {actual}"),
                    groups::What::Reason { reason, .. } => reason.clone(),
                },
                place: match g.what.line() {
                    Some(l) => format!("{}:{l}", g.file),
                    None => g.file.clone(),
                },
                scenario: g.scenario,
            })
            .collect(),
        more_failures: groups::groups(r).len().saturating_sub(SUMMARY_GROUPS),
        totals: counts(&t),
        total: t.total(),
        areas,
        rule_columns: VERDICTS
            .iter()
            .map(|&v| Count {
                class: class(v),
                label: label(v),
                n: 0,
            })
            .collect(),
        rule_groups,
        behaviour: o
            .map(|o| {
                o.behaviour
                    .variants
                    .iter()
                    .map(|v| [v.key(), v.summary(), v.declared.clone().unwrap_or_default()])
                    .collect()
            })
            .unwrap_or_default(),
        carrier_order: o
            .map(|o| super::behaviour::order_text(&o.behaviour))
            .unwrap_or_default(),
        matrices: matrices(r),
        scenarios: {
            // Grouped by area (stable: suite order within an area).
            let mut v: Vec<ScenarioView> =
                r.scenarios.iter().map(|s| scenario_view(s, o)).collect();
            v.sort_by(|a, b| a.area.cmp(&b.area));
            v
        },
    }
}

/// The first instance (by id) with a failed check citing `rule`.
fn first_breaking<'a>(r: &'a Report, rule: &str) -> Option<&'a ScenarioReport> {
    r.scenarios
        .iter()
        .filter(|s| {
            s.failures()
                .any(|(_, c)| c.rules.iter().any(|x| crate::rules::cites(x, rule)))
        })
        .min_by(|a, b| a.id.cmp(&b.id))
}

/// Findings one line per scenario, at most [`FINDINGS_SHOWN`], then a count.
fn capped(list: &[super::model::Finding]) -> Vec<String> {
    let mut lines = groups::collapse(list);
    if lines.len() > FINDINGS_SHOWN {
        let more = lines.len() - FINDINGS_SHOWN;
        lines.truncate(FINDINGS_SHOWN);
        lines.push(format!("… and {more} more (report.json lists them all)"));
    }
    lines
}

const VERDICTS: [Verdict; 6] = [
    Verdict::Pass,
    Verdict::Warn,
    Verdict::Fail,
    Verdict::Error,
    Verdict::Skipped,
    Verdict::NotApplicable,
];

fn count(t: &super::model::Totals, v: Verdict) -> usize {
    match v {
        Verdict::Pass => t.pass,
        Verdict::Warn => t.warn,
        Verdict::Fail => t.fail,
        Verdict::Error => t.error,
        Verdict::Skipped => t.skipped,
        Verdict::NotApplicable => t.not_applicable,
    }
}

fn class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Warn => "warn",
        Verdict::Fail => "fail",
        Verdict::Error => "error",
        Verdict::Skipped => "skipped",
        Verdict::NotApplicable => "na",
    }
}

fn label(v: Verdict) -> &'static str {
    v.as_str()
}

fn family_name(f: crate::rules::Family) -> &'static str {
    use crate::rules::Family::*;
    match f {
        Issuing => "TS: issuing tokens",
        Lifetimes => "LT: token lifetimes",
        Renewal => "RN: renewal",
        HeaderPrecedence => "HP: header precedence",
        Binding => "IP: binding",
        Sessions => "SL: session limits",
    }
}

/// Verdict class and label of a scenario, the gate's judgement included.
fn scenario_class(s: &ScenarioReport, o: Option<&Outcome>) -> (&'static str, String) {
    let blocks = o.is_some_and(|o| o.reasons_for(&s.id).next().is_some());
    match &s.gate {
        None if blocks && !s.verdict.is_failure() => {
            ("fail", format!("{} (fails the run)", s.verdict.as_str()))
        }
        Some(GateMark::ExpectedFailure { .. }) => {
            ("expected", format!("{} (expected)", s.verdict.as_str()))
        }
        Some(GateMark::UnexpectedPass { .. }) => ("fail", "unexpected pass".into()),
        None if s.flaky => ("flaky", "pass (flaky)".into()),
        None => (class(s.verdict), s.verdict.as_str().into()),
    }
}

/// One table per area whose scenarios carry matrix vars; the columns are
/// the union of their var keys, in order of first appearance.
fn matrices(r: &Report) -> Vec<Matrix> {
    let mut by_area: BTreeMap<&str, Vec<&ScenarioReport>> = BTreeMap::new();
    for s in r.scenarios.iter().filter(|s| !s.vars.is_empty()) {
        by_area.entry(s.area.as_str()).or_default().push(s);
    }
    by_area
        .into_iter()
        .map(|(area, list)| {
            // The case's `name` is already the row label; the outcome a case
            // predicts (`winner`, `code`, `outcome`) reads best first.
            const FIRST: [&str; 3] = ["winner", "code", "outcome"];
            let mut columns: Vec<String> = Vec::new();
            for s in &list {
                for k in s.vars.keys() {
                    if FIRST.contains(&k.as_str()) && !columns.contains(k) {
                        columns.push(k.clone());
                    }
                }
            }
            columns.sort_by_key(|c| FIRST.iter().position(|f| f == c).unwrap_or(FIRST.len()));
            let rows = list
                .iter()
                .map(|s| {
                    let (class, label) = scenario_class(s, r.outcome.as_ref());
                    MatrixRow {
                        id: s.id.clone(),
                        anchor: anchor(&s.id),
                        // `pair-query-over-body[valid-expired]`: the scenario, then the case.
                        case: s
                            .id
                            .split_once('/')
                            .map_or(s.id.as_str(), |(_, n)| n)
                            .to_owned(),
                        values: columns
                            .iter()
                            .map(|c| s.vars.get(c).map_or_else(|| "—".into(), plain))
                            .collect(),
                        others: s
                            .vars
                            .iter()
                            .filter(|(k, _)| *k != "name" && !FIRST.contains(&k.as_str()))
                            .map(|(k, v)| format!("{k}={}", plain(v)))
                            .collect::<Vec<_>>()
                            .join(" · "),
                        class,
                        label,
                        detail: s
                            .failures()
                            .next()
                            .map(|(_, c)| {
                                format!("{}: expected {}, actual {}", c.what, c.expected, c.actual)
                            })
                            .or_else(|| s.reason.clone())
                            .unwrap_or_default(),
                    }
                })
                .collect();
            Matrix {
                heading: if area == "header-precedence" {
                    "Header precedence: the carrier that should win, per case".into()
                } else {
                    format!("Matrix cases: {area}")
                },
                area: area.to_owned(),
                columns,
                rows,
            }
        })
        .collect()
}

fn scenario_view(s: &ScenarioReport, o: Option<&Outcome>) -> ScenarioView {
    let (class, label) = scenario_class(s, o);
    let t0 = origin(s);
    ScenarioView {
        id: s.id.clone(),
        anchor: anchor(&s.id),
        title: s.title.clone(),
        file: s.file.clone(),
        area: s.area.clone(),
        profile: s.profile.clone(),
        rules: s.rules.join(", "),
        class,
        label,
        open: s.verdict.is_failure() || s.verdict == Verdict::Warn || s.gate.is_some(),
        reason: s.reason.clone(),
        gate: s.gate.as_ref().map(|g| match g {
            GateMark::ExpectedFailure { reason } => {
                format!("expected failure (baseline): {reason}")
            }
            GateMark::UnexpectedPass { reason } => {
                format!("unexpected pass: the baseline expects a failure ({reason})")
            }
        }),
        flaky: s
            .flaky
            .then(|| format!("flaky: passed after {} attempts", s.attempts)),
        vars: s.vars.iter().map(|(k, v)| (k.clone(), plain(v))).collect(),
        timeline: timeline(s),
        steps: s
            .steps
            .iter()
            .map(|st| StepView {
                index: st.index,
                line: st.line,
                kind: st.kind.clone(),
                label: st.label.clone(),
                at: match (st.at_ms, t0) {
                    (Some(at), Some(t0)) => format!("+{}", human_ms(at.saturating_sub(t0))),
                    _ => String::new(),
                },
                class: step_class(st),
                note: st.note.clone(),
                checks: st
                    .checks
                    .iter()
                    .map(|c| CheckView {
                        passed: c.passed,
                        what: c.what.clone(),
                        expected: c.expected.clone(),
                        actual: c.actual.clone(),
                        rules: c.rules.join(", "),
                    })
                    .collect(),
                exchanges: st
                    .exchanges
                    .iter()
                    .map(|x| ExchangeView {
                        summary: format!(
                            "{}{} {} → {} ({} ms)",
                            x.from
                                .as_ref()
                                .map(|f| format!("[{f}] "))
                                .unwrap_or_default(),
                            x.method,
                            x.url,
                            x.status.map_or_else(
                                || x.error.clone().unwrap_or_else(|| "no answer".into()),
                                |s| s.to_string()
                            ),
                            x.elapsed_ms
                        ),
                        headers: x
                            .request_headers
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                        request_body: x.request_body.clone(),
                        response_body: x
                            .response_body
                            .as_deref()
                            .map(|b| body_for_display(b).into_owned()),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn step_class(st: &super::model::StepReport) -> &'static str {
    if st.checks.iter().any(|c| !c.passed) {
        "fail"
    } else if st.kind == "request" || st.kind == "concurrent" || !st.checks.is_empty() {
        "pass"
    } else {
        "other"
    }
}

// ------------------------------------------------------------------ timeline

/// Geometry of one scenario's timeline, in SVG user units.
#[derive(Serialize)]
struct Timeline {
    width: f64,
    height: f64,
    /// Left edge of the plot (labels live left of it).
    x0: f64,
    axis_y: f64,
    ticks: Vec<AxisTick>,
    steps_y: f64,
    steps: Vec<StepTick>,
    tokens: Vec<TokenBar>,
    fail: Option<FailMarker>,
    /// Whether the axis is compressed (gaps drawn by their logarithm).
    compressed: bool,
}

#[derive(Serialize)]
struct AxisTick {
    x: f64,
    label: String,
}

#[derive(Serialize)]
struct StepTick {
    x: f64,
    class: &'static str,
    title: String,
    index: usize,
}

#[derive(Serialize)]
struct TokenBar {
    y: f64,
    x: f64,
    w: f64,
    label: String,
    title: String,
}

#[derive(Serialize)]
struct FailMarker {
    x: f64,
    anchor: &'static str,
    label: String,
}

const LABEL_W: f64 = 150.0;
const SLOT_W: f64 = 14.0;
const GAP_MIN: f64 = 10.0;
const GAP_LOG: f64 = 42.0;
const MAX_PLOT_W: f64 = 1000.0;
/// Short timelines are stretched to this width so that they stay legible.
const MIN_PLOT_W: f64 = 760.0;
const ROW_H: f64 = 22.0;

/// The earliest instant on the scenario's clock.
fn origin(s: &ScenarioReport) -> Option<i64> {
    s.steps
        .iter()
        .filter_map(|st| st.at_ms)
        .chain(s.tokens.iter().map(|t| t.issued_at_ms))
        .min()
}

/// Lays out a scenario on its clock. Steps are milliseconds apart while
/// tokens live for hours, so a linear axis would crush the steps together:
/// each distinct instant gets a slot (wide enough for the steps at it), and
/// the gap between two instants is drawn in proportion to the logarithm of
/// its length. The axis labels give the real offsets.
fn timeline(s: &ScenarioReport) -> Option<Timeline> {
    let t0 = origin(s)?;
    // A step without a clock reading sits at its predecessor's instant.
    let mut last = t0;
    let step_at: Vec<i64> = s
        .steps
        .iter()
        .map(|st| {
            last = st.at_ms.unwrap_or(last);
            last
        })
        .collect();
    let mut instants: Vec<i64> = step_at
        .iter()
        .copied()
        .chain(s.tokens.iter().flat_map(|t| [t.issued_at_ms, t.expires_ms]))
        .collect();
    instants.sort_unstable();
    instants.dedup();

    let steps_at = |t: i64| step_at.iter().filter(|&&a| a == t).count();
    let mut x: BTreeMap<i64, f64> = BTreeMap::new();
    let mut cursor = 0.0;
    let mut compressed = false;
    for (i, &t) in instants.iter().enumerate() {
        if i > 0 {
            let dt = t.saturating_sub(instants[i - 1]) as f64;
            cursor += GAP_MIN + GAP_LOG * (1.0 + dt / 1000.0).log10();
            compressed |= dt > 1000.0;
        }
        x.insert(t, cursor);
        cursor += SLOT_W * steps_at(t).max(1) as f64;
    }
    let scale = if cursor > MAX_PLOT_W {
        MAX_PLOT_W / cursor
    } else if instants.len() > 1 && cursor < MIN_PLOT_W {
        MIN_PLOT_W / cursor
    } else {
        1.0
    };
    let plot_w = cursor * scale;
    let pos = |t: i64| LABEL_W + x.get(&t).copied().unwrap_or(0.0) * scale;

    let axis_y = 16.0;
    let steps_y = 40.0;
    let mut ticks: Vec<AxisTick> = Vec::new();
    for &t in &instants {
        let px = pos(t);
        if ticks.last().is_none_or(|l| px - l.x >= 52.0) {
            ticks.push(AxisTick {
                x: round(px),
                label: if t == t0 {
                    "0".into()
                } else {
                    format!("+{}", human_ms(t.saturating_sub(t0)))
                },
            });
        }
    }

    let mut seen_at: BTreeMap<i64, usize> = BTreeMap::new();
    let mut fail = None;
    let steps = s
        .steps
        .iter()
        .zip(&step_at)
        .map(|(st, &at)| {
            let j = seen_at.entry(at).or_insert(0);
            let px = pos(at) + (*j as f64 + 0.5) * SLOT_W * scale;
            *j += 1;
            let failed: Vec<String> = st
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| format!("{}: expected {}, actual {}", c.what, c.expected, c.actual))
                .collect();
            if fail.is_none() && !failed.is_empty() {
                fail = Some(FailMarker {
                    x: round(px),
                    // Keep the label inside the picture.
                    anchor: if px > LABEL_W + MIN_PLOT_W / 2.0 {
                        "end"
                    } else {
                        "start"
                    },
                    label: clip(&format!("✗ step {}: {}", st.index, failed[0]), 110),
                });
            }
            let mut title = format!(
                "step {} (+{}): {}",
                st.index,
                human_ms(at.saturating_sub(t0)),
                st.label
            );
            for f in &failed {
                title.push_str("\n✗ ");
                title.push_str(f);
            }
            StepTick {
                x: round(px),
                class: step_class(st),
                title,
                index: st.index,
            }
        })
        .collect();

    let tokens: Vec<TokenBar> = s
        .tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (a, b) = (pos(t.issued_at_ms), pos(t.expires_ms.max(t.issued_at_ms)));
            TokenBar {
                y: steps_y + 22.0 + i as f64 * ROW_H,
                x: round(a),
                w: round((b - a).max(3.0)),
                label: clip(&t.label, 22),
                title: format!(
                    "{} (from step {}): valid +{} .. +{} ({} long)",
                    t.label,
                    t.step,
                    human_ms(t.issued_at_ms.saturating_sub(t0)),
                    human_ms(t.expires_ms.saturating_sub(t0)),
                    human_ms(t.expires_ms.saturating_sub(t.issued_at_ms))
                ),
            }
        })
        .collect();
    let height = steps_y + 22.0 + tokens.len() as f64 * ROW_H + 24.0;
    Some(Timeline {
        width: round(LABEL_W + plot_w + 40.0).max(600.0),
        height,
        x0: LABEL_W,
        axis_y,
        ticks,
        steps_y,
        steps,
        tokens,
        fail,
        compressed,
    })
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// `350ms`, `1.5s`, `61m`, `1h 1m`, `2d 3h`: offsets on the target's clock.
fn human_ms(ms: i64) -> String {
    let neg = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    let s = ms / 1000;
    let out = if ms < 1000 {
        format!("{ms}ms")
    } else if s < 60 {
        if ms.is_multiple_of(1000) {
            format!("{s}s")
        } else {
            format!("{:.1}s", ms as f64 / 1000.0)
        }
    } else if s < 3600 {
        // Milliseconds are kept: a step 1 ms before a boundary (59m 59.999s)
        // must not read as the boundary itself.
        if !ms.is_multiple_of(1000) {
            format!("{}m {}.{:03}s", s / 60, s % 60, ms % 1000)
        } else if s.is_multiple_of(60) {
            format!("{}m", s / 60)
        } else {
            format!("{}m {}s", s / 60, s % 60)
        }
    } else if s < 48 * 3600 {
        if !ms.is_multiple_of(1000) {
            format!(
                "{}h {}m {}.{:03}s",
                s / 3600,
                (s / 60) % 60,
                s % 60,
                ms % 1000
            )
        } else if !s.is_multiple_of(60) {
            format!("{}h {}m {}s", s / 3600, (s / 60) % 60, s % 60)
        } else if (s / 60).is_multiple_of(60) {
            format!("{}h", s / 3600)
        } else {
            format!("{}h {}m", s / 3600, (s / 60) % 60)
        }
    } else {
        format!("{}d {}h", s / 86400, (s / 3600) % 24)
    };
    format!("{neg}{out}")
}

// ------------------------------------------------------------------- helpers

fn anchor(id: &str) -> String {
    let mut a = String::from("s-");
    for c in id.chars() {
        a.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        });
    }
    a
}

fn join_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// serde_json to minijinja without minijinja's `serde` feature.
pub(crate) fn to_value(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::from(()),
        J::Bool(b) => Value::from(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            _ => Value::from(n.as_f64().unwrap_or(0.0)),
        },
        J::String(s) => Value::from(s.as_str()),
        J::Array(a) => Value::from(a.iter().map(to_value).collect::<Vec<_>>()),
        J::Object(o) => Value::from(
            o.iter()
                .map(|(k, v)| (k.clone(), to_value(v)))
                .collect::<BTreeMap<String, Value>>(),
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::junit::tests::sample;

    /// The failure summary comes before everything else (the first screen),
    /// a binary body is type and size, and a matrix with many variables
    /// keeps its columns few (it must fit a 1280-pixel page).
    #[test]
    fn failures_first_binary_bodies_summarised_matrix_columns_bounded() {
        let mut r = sample();
        r.scenarios[1].steps[0].exchanges[0].response_body =
            Some("\u{FFFD}PNG\r\n\u{1a}\n\0\0\0\rIHDR".into());
        let mut m = crate::report::model::tests::scenario(
            "header-precedence/m",
            &["HP-2"],
            Verdict::Fail,
            &["HP-2"],
        );
        m.id = "header-precedence/m[a]".into();
        for k in [
            "winner", "code", "hi_state", "lo_state", "hi_exp", "lo_exp", "hi_junk",
        ] {
            m.vars.insert(k.into(), serde_json::json!("v"));
        }
        r.scenarios.push(m);
        let html = write(&r);
        let summary = html
            .find("<section id=\"failures\">")
            .expect("a failure summary");
        assert!(summary < html.find("<section id=\"areas\">").unwrap());
        assert!(!html.contains('\0'));
        assert!(
            html.contains(" body, 18 bytes, not shown)"),
            "type and size"
        );
        let s = html
            .find("<section id=\"matrix-header-precedence\"")
            .unwrap();
        let head = &html[s..];
        let head = &head[head.find("<thead>").unwrap()..head.find("</thead>").unwrap()];
        assert_eq!(head.matches("<th>").count(), 6, "{head}");
        // No HP-2 variant was recorded in this report, so no order is derived.
        assert!(html.contains("Carrier order, highest first: <code>not determined</code>"));
        // The verdict cell of a broken rule links to a scenario breaking it.
        assert!(
            html.contains(
                "<a href=\"#s-header-precedence-m-a-\" title=\"the first scenario breaking HP-2\">"
            ),
            "rule link"
        );
    }
    use crate::report::model::{Check, StepReport, TokenWindow};

    const H: i64 = 3_600_000;

    /// The junit sample plus clock data: a token window, an advance past
    /// expiry, and a failed check at the boundary.
    pub(crate) fn rich_sample() -> Report {
        let mut r = sample();
        let t0 = 1_795_000_000_000;
        let s = &mut r.scenarios[1];
        s.steps = vec![
            step(1, "request", "POST /arcgis/tokens/generateToken", t0, true),
            step(
                2,
                "request",
                "GET /arcgis/rest/services/SampleWorldCities/MapServer",
                t0 + 5,
                true,
            ),
            step(3, "advance", "advance 60m", t0 + 7, true),
            step(
                4,
                "request",
                "GET /arcgis/rest/services/SampleWorldCities/MapServer",
                t0 + H,
                false,
            ),
            step(
                5,
                "request",
                "POST /arcgis/tokens/generateToken",
                t0 + H + 1,
                true,
            ),
        ];
        s.tokens = vec![
            TokenWindow {
                label: "token".into(),
                issued_at_ms: t0,
                expires_ms: t0 + H,
                step: 1,
            },
            TokenWindow {
                label: "session (12h)".into(),
                issued_at_ms: t0 + 5,
                expires_ms: t0 + 12 * H + 5,
                step: 2,
            },
        ];
        let hp = &mut r.scenarios[0];
        hp.vars
            .insert("carriers".into(), serde_json::json!(["x-esri", "query"]));
        let mut hp2 = hp.clone();
        hp2.id = "header-precedence/hp2[query]".into();
        hp2.case = Some("query".into());
        hp2.vars.clear();
        hp2.vars.insert("winner".into(), "query token".into());
        hp2.vars.insert("invalid_lower".into(), true.into());
        hp2.verdict = Verdict::Fail;
        hp2.steps[0].checks.push(Check {
            what: "arcgis_error".into(),
            expected: "none".into(),
            actual: "498".into(),
            passed: false,
            rules: vec!["HP-2".into()],
        });
        r.scenarios.insert(1, hp2);
        r
    }

    fn step(index: usize, kind: &str, label: &str, at: i64, ok: bool) -> StepReport {
        StepReport {
            index,
            line: 10 + index as u32,
            kind: kind.into(),
            at_ms: Some(at),
            label: label.into(),
            note: None,
            exchanges: vec![],
            checks: if kind == "request" {
                vec![Check {
                    what: "status".into(),
                    expected: if ok { "200" } else { "498" }.into(),
                    actual: "200".into(),
                    passed: ok,
                    rules: vec!["LT-5".into()],
                }]
            } else {
                vec![]
            },
            variants: vec![],
            skipped: None,
        }
    }

    #[test]
    fn page_has_every_section_and_no_external_resource() {
        let html = write(&rich_sample());
        assert!(!html.contains("report template error"), "{html}");
        for needle in [
            "<!doctype html>",
            "id=\"areas\"",
            "id=\"rules\"",
            "id=\"matrix-header-precedence\"",
            "id=\"scenarios\"",
            "class=\"timeline\"",
            "class=\"token-bar\"",
            "class=\"fail-marker\"",
            "query token",
            "</html>",
        ] {
            assert!(html.contains(needle), "missing {needle}");
        }
        let lower = html.to_ascii_lowercase();
        for banned in ["<script", "<link", "src=", "url(", "@import", "href=\"http"] {
            assert!(!lower.contains(banned), "found {banned}");
        }
        // Every opened section/details/svg/table is closed.
        for tag in ["section", "details", "svg", "table", "div"] {
            assert_eq!(
                html.matches(&format!("<{tag}")).count(),
                html.matches(&format!("</{tag}>")).count(),
                "unbalanced <{tag}>"
            );
        }
    }

    #[test]
    fn untrusted_text_is_escaped() {
        let html = write(&sample());
        assert!(html.contains("now == expires &lt;edge&gt;"));
        assert!(!html.contains("<edge>"));
    }

    #[test]
    fn timeline_keeps_close_steps_apart_and_long_windows_readable() {
        let r = rich_sample();
        let t = timeline(&r.scenarios[2]).unwrap();
        let xs: Vec<f64> = t.steps.iter().map(|s| s.x).collect();
        assert!(xs.windows(2).all(|w| w[1] - w[0] >= 10.0), "{xs:?}");
        assert!(t.compressed);
        assert!(t.width <= LABEL_W + MAX_PLOT_W + 40.0);
        let bar = &t.tokens[0];
        assert!(bar.w > 100.0, "{}", bar.w);
        assert_eq!(t.fail.as_ref().unwrap().x, xs[3]);
        assert!(
            t.ticks.iter().any(|k| k.label == "+1h"),
            "{:?}",
            t.ticks.iter().map(|k| &k.label).collect::<Vec<_>>()
        );
    }

    #[test]
    fn absurd_clock_values_do_not_panic() {
        let mut r = rich_sample();
        r.scenarios[2].tokens[0].issued_at_ms = i64::MIN;
        r.scenarios[2].tokens[1].expires_ms = i64::MAX;
        r.scenarios[2].steps[1].at_ms = None;
        let html = write(&r);
        assert!(html.contains("class=\"token-bar\""));
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_ms(0), "0ms");
        assert_eq!(human_ms(1500), "1.5s");
        // Within a second of a boundary, the milliseconds show.
        assert_eq!(human_ms(3_599_999), "59m 59.999s");
        assert_eq!(human_ms(3_600_001), "1h 0m 0.001s");
        assert_eq!(human_ms(3_601_000), "1h 0m 1s");
        assert_eq!(human_ms(3_600_000), "1h");
        assert_eq!(human_ms(61 * 60_000), "1h 1m");
        assert_eq!(human_ms(60 * 60_000), "1h");
        assert_eq!(human_ms(90_000), "1m 30s");
        assert_eq!(human_ms(50 * H), "2d 2h");
        assert_eq!(human_ms(-5), "-5ms");
    }

    /// Writes the sample page for a look in a browser:
    /// `cargo test --lib report::html::tests::write_sample -- --ignored`.
    #[test]
    #[ignore]
    fn write_sample() {
        let path = std::env::temp_dir().join("tessera-sample-report.html");
        std::fs::write(&path, write(&rich_sample())).unwrap();
        println!("{}", path.display());
    }
}
