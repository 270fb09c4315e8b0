//! Console output: the per-instance lines (`-v`), then a summary (failures,
//! errors and warnings grouped as in [`super::groups`], a table by area,
//! rule totals, and the run's outcome as the gate decided it: notes, the
//! result line, the reasons it fails, capped so a CI log tail shows the
//! result). Pure functions of the (masked) report model and a [`Style`];
//! printing, the progress bar and reading the terminal belong to the CLI.
//! Nothing here decides whether the run passes: that is `report.outcome`.
//! Everything is listed in a stable order (by id), never completion order.

use std::fmt::Write as _;

use super::groups::{self, Group, What};
use super::model::{Report, ScenarioReport, Verdict};

/// How much the console says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// `-q`: the outcome only (result line, capped reasons).
    Quiet,
    /// Failures grouped and capped, the area table, rules, the outcome.
    #[default]
    Normal,
    /// `-v`: every instance's line, every group, every case, every reason.
    Verbose,
}

/// How to render: verbosity and whether to use ANSI colours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    pub verbosity: Verbosity,
    pub color: bool,
}

/// Groups listed in full before "... and N more" (not with `-v`).
pub const GROUPS_SHOWN: usize = 10;
/// Reasons (and notes) listed under "the run fails:" before the count.
pub const REASONS_SHOWN: usize = 10;
/// Case names listed per group before "(+N more)".
pub const CASES_SHOWN: usize = 6;
/// A fixed-width verdict tag.
pub fn tag(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS ",
        Verdict::Warn => "WARN ",
        Verdict::Fail => "FAIL ",
        Verdict::Error => "ERROR",
        Verdict::Skipped => "SKIP ",
        Verdict::NotApplicable => "N/A  ",
    }
}

/// `PASS  lifetimes/x (12 ms)`, with the reason or the first failure.
pub fn scenario_line(s: &ScenarioReport) -> String {
    let mut line = format!("{} {}", tag(s.verdict), s.id);
    match s.verdict {
        Verdict::Pass => {}
        Verdict::Fail | Verdict::Warn => {
            if let Some((step, c)) = s.failures().next() {
                let _ = write!(
                    line,
                    " — step {}: {} expected {}, got {} [{}]",
                    step.index,
                    c.what,
                    c.expected,
                    c.actual,
                    c.rules.join(", ")
                );
            }
        }
        Verdict::Error | Verdict::Skipped | Verdict::NotApplicable => {
            if let Some(r) = &s.reason {
                let _ = write!(line, " — {r}");
            }
        }
    }
    let _ = write!(line, " ({} ms)", s.duration_ms);
    line
}

/// `tag(v)` in its colour.
fn painted_tag(v: Verdict, color: bool) -> String {
    let code = match v {
        Verdict::Pass => "32",
        Verdict::Warn => "33",
        Verdict::Fail => "31",
        Verdict::Error => "35",
        Verdict::Skipped | Verdict::NotApplicable => "2",
    };
    paint(tag(v), code, color)
}

/// `text` in an ANSI colour when `color`.
fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// Every instance's line, in id order (`-v`; the default shows groups).
pub fn instance_lines(r: &Report, style: Style) -> String {
    let mut sorted: Vec<&ScenarioReport> = r.scenarios.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = String::new();
    for s in sorted {
        let line = scenario_line(s);
        let rest = &line[tag(s.verdict).len()..];
        let _ = write!(out, "{}{rest}", painted_tag(s.verdict, style.color));
        if s.attempts > 1 {
            let _ = write!(out, " [{} attempts]", s.attempts);
        }
        out.push('\n');
    }
    out
}

/// One group: a header (`FAIL  id — 9 of 9 cases: ...`), where, and what.
fn group_lines(g: &Group, style: Style) -> String {
    let cap = if style.verbosity == Verbosity::Verbose {
        usize::MAX
    } else {
        CASES_SHOWN
    };
    let mut head = format!("{} {}", painted_tag(g.verdict, style.color), g.scenario);
    let cases = g.cases_text(cap);
    if !cases.is_empty() {
        let _ = write!(head, " — {cases}");
    }
    if g.expected {
        head.push_str(" (expected by the baseline)");
    }
    if g.attempts > 1 {
        let _ = write!(head, " [{} attempts]", g.attempts);
    }
    let place = match &g.what {
        What::Check {
            step, line, label, ..
        } => format!("{}:{line} step {step}: {label}", g.file),
        What::Reason { line: Some(l), .. } => format!("{}:{l}", g.file),
        What::Reason { line: None, .. } => g.file.clone(),
    };
    format!("{head}\n      {place}\n      {}\n", g.what.one_line())
}

/// The failure, error and warning groups (capped unless verbose).
fn groups_section(r: &Report, style: Style) -> String {
    let all = groups::groups(r);
    let mut out = String::new();
    if all.is_empty() {
        return out;
    }
    let instances: usize = all.iter().map(|g| g.ids.len()).sum();
    let _ = writeln!(
        out,
        "Failures, errors and warnings ({} group{}, {instances} instance{}):",
        all.len(),
        if all.len() == 1 { "" } else { "s" },
        if instances == 1 { "" } else { "s" },
    );
    let cap = if style.verbosity == Verbosity::Verbose {
        usize::MAX
    } else {
        GROUPS_SHOWN
    };
    for g in all.iter().take(cap) {
        out.push_str(&group_lines(g, style));
    }
    if all.len() > cap {
        let rest = &all[cap..];
        let n: usize = rest.iter().map(|g| g.ids.len()).sum();
        let _ = writeln!(
            out,
            "... and {} more group(s), {n} instance(s) (-v, report.md or report.html list them all)",
            rest.len()
        );
    }
    out.push('\n');
    out
}

/// The end-of-run summary, ending with the run's outcome (plain text).
pub fn summary(r: &Report) -> String {
    summary_styled(r, Style::default())
}

/// The end-of-run summary in `style`.
pub fn summary_styled(r: &Report, style: Style) -> String {
    let mut out = tls_lines(r);
    if style.verbosity == Verbosity::Quiet {
        out.push_str(&outcome_lines(r, r.duration_ms, style));
        return out;
    }
    out.push_str(&groups_section(r, style));
    let by_area = r.totals_by_area();
    let width = by_area
        .keys()
        .map(|a| a.len())
        .chain(["area".len(), "total".len()])
        .max()
        .unwrap_or(5);
    let _ = writeln!(
        out,
        "{:width$}  {:>5} {:>5} {:>5} {:>5} {:>7} {:>5}",
        "area", "pass", "warn", "fail", "error", "skipped", "n/a"
    );
    let row = |out: &mut String, name: &str, t: &super::model::Totals| {
        let _ = writeln!(
            out,
            "{name:width$}  {:>5} {:>5} {:>5} {:>5} {:>7} {:>5}",
            t.pass, t.warn, t.fail, t.error, t.skipped, t.not_applicable
        );
    };
    for (area, t) in &by_area {
        row(&mut out, area, t);
    }
    row(&mut out, "total", &r.totals());

    let rules = r.rule_verdicts();
    let count = |v: Verdict| rules.iter().filter(|x| x.verdict == Some(v)).count();
    let named = |v: Verdict| {
        let ids: Vec<&str> = rules
            .iter()
            .filter(|x| x.verdict == Some(v))
            .map(|x| x.rule.as_str())
            .collect();
        if ids.is_empty() {
            String::new()
        } else {
            format!(" ({})", ids.join(", "))
        }
    };
    let _ = writeln!(
        out,
        "\nrules: {} pass, {} warn{}, {} fail{}, {} error, {} skipped, {} n/a, {} not covered",
        count(Verdict::Pass),
        count(Verdict::Warn),
        named(Verdict::Warn),
        count(Verdict::Fail),
        named(Verdict::Fail),
        count(Verdict::Error),
        count(Verdict::Skipped),
        count(Verdict::NotApplicable),
        rules.iter().filter(|x| x.verdict.is_none()).count()
    );
    if let Some(o) = r
        .outcome
        .as_ref()
        .filter(|o| !o.behaviour.variants.is_empty())
    {
        out.push_str("behaviour profile:\n");
        for line in super::behaviour::console_lines(&o.behaviour) {
            let _ = writeln!(out, "  {line}");
        }
    }
    out.push_str(&outcome_lines(r, r.duration_ms, style));
    out
}

/// The target's TLS facts, and `--insecure` said loudly (even with `-q`).
fn tls_lines(r: &Report) -> String {
    let mut out = String::new();
    if let Some(tls) = &r.target.tls {
        if tls.insecure {
            let _ = writeln!(out, "{}", super::model::TlsSummary::INSECURE_WARNING);
        }
        let _ = writeln!(out, "TLS: {}\n", tls.line());
    }
    out
}

/// `lines`, at most `cap` of them, then how many were left out.
fn capped(lines: Vec<String>, cap: usize, prefix: &str, out: &mut String) {
    let n = lines.len();
    for l in lines.iter().take(cap) {
        let _ = writeln!(out, "{prefix}{l}");
    }
    if n > cap {
        let _ = writeln!(
            out,
            "{prefix}... and {} more (report.md and report.json list them all)",
            n - cap
        );
    }
}

/// The gate's outcome: counts, notes, the result line, and each reason the
/// run fails (reasons and notes capped unless verbose). Rendered from
/// `report.outcome`, never worked out here.
fn outcome_lines(r: &Report, duration_ms: u64, style: Style) -> String {
    let mut out = String::new();
    let Some(o) = &r.outcome else {
        let _ = writeln!(
            out,
            "result: not decided (no gate was applied to this report)"
        );
        return out;
    };
    let cap = if style.verbosity == Verbosity::Verbose {
        usize::MAX
    } else {
        REASONS_SHOWN
    };
    if o.expected_failures + o.unexpected_passes + o.flaky > 0 {
        let _ = writeln!(
            out,
            "gate: {} expected failure(s) (baseline), {} unexpected pass(es), {} flaky (passed on a retry)",
            o.expected_failures, o.unexpected_passes, o.flaky
        );
    }
    if style.verbosity != Verbosity::Quiet {
        capped(groups::collapse(&o.notes), cap, "note: ", &mut out);
    }
    let t = &o.totals;
    let mut policy = Vec::new();
    if o.policy.strict {
        policy.push("--strict");
    }
    if o.policy.flaky_fails {
        policy.push("--flaky-fails");
    }
    let word = if o.passed() {
        paint("ok", "32;1", style.color)
    } else {
        paint("FAILED", "31;1", style.color)
    };
    let _ = writeln!(
        out,
        "result: {word} — {} passed, {} warned, {} failed, {} errors, {} skipped, {} not applicable ({} ms){}; {}",
        t.pass,
        t.warn,
        t.fail,
        t.error,
        t.skipped,
        t.not_applicable,
        duration_ms,
        if policy.is_empty() {
            String::new()
        } else {
            format!(" [{}]", policy.join(" "))
        },
        o.coverage.ran_text()
    );
    if let Some(u) = o.coverage.unchecked_text() {
        let _ = writeln!(
            out,
            "unchecked: {} MUST rule(s) had no case run: {u}",
            o.coverage.unchecked.len()
        );
    }
    if !o.passed() {
        let _ = writeln!(out, "the run fails:");
        capped(groups::collapse(&o.reasons), cap, "  - ", &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::gate::{self, Baseline, ExpectedFailure};
    use crate::report::model::tests::{report, scenario};
    use crate::report::model::{GateMark, Policy};

    fn sample() -> Report {
        let mut skipped = scenario("sessions/long", &["SL-4"], Verdict::Skipped, &[]);
        skipped.reason = Some("needs clock control to advance 12h".into());
        skipped.steps.clear();
        let mut err = scenario("binding/alt", &["IP-2"], Verdict::Error, &[]);
        err.reason = Some("step 1 (line 7): GET /x: connection failed".into());
        let mut r = report(vec![
            scenario("lifetimes/expired", &["LT-5"], Verdict::Fail, &["LT-5"]),
            scenario("lifetimes/default", &["LT-1"], Verdict::Pass, &[]),
            scenario(
                "lifetimes/boundary",
                &["LT-5/SHOULD"],
                Verdict::Warn,
                &["LT-5/SHOULD"],
            ),
            skipped,
            err,
        ]);
        gate::gate(&mut r, Policy::default());
        r
    }

    #[test]
    fn scenario_lines() {
        let r = sample();
        let lines: Vec<String> = r.scenarios.iter().map(scenario_line).collect();
        insta::assert_snapshot!(lines.join("\n"), @r"
        FAIL  lifetimes/expired — step 1: status expected 200, got 500 [LT-5] (1 ms)
        PASS  lifetimes/default (1 ms)
        WARN  lifetimes/boundary — step 1: status expected 200, got 500 [LT-5/SHOULD] (1 ms)
        SKIP  sessions/long — needs clock control to advance 12h (1 ms)
        ERROR binding/alt — step 1 (line 7): GET /x: connection failed (1 ms)
        ");
    }

    #[test]
    fn summary_lists_failures_areas_and_rules() {
        insta::assert_snapshot!(summary(&sample()));
    }

    #[test]
    fn summary_counts_gate_marks_and_expected_failures_do_not_fail() {
        let mut flaky = scenario("lifetimes/default", &["LT-1"], Verdict::Pass, &[]);
        flaky.flaky = true;
        flaky.attempts = 2;
        let mut r = report(vec![
            scenario("lifetimes/expired", &["LT-5"], Verdict::Fail, &["LT-5"]),
            flaky,
        ]);
        let b = Baseline {
            version: 1,
            expected_failures: vec![ExpectedFailure {
                id: "lifetimes/expired".into(),
                reason: "ticket 1".into(),
                expires: None,
            }],
        };
        gate::apply_baseline(&mut r, &b, Policy::default(), jiff::civil::date(2026, 1, 1));
        let text = summary(&r);
        assert!(
            text.contains("gate: 1 expected failure(s) (baseline), 0 unexpected pass(es), 1 flaky"),
            "{text}"
        );
        assert!(text.contains("result: ok"), "{text}");
        assert!(!text.contains("the run fails"), "{text}");
    }

    /// The result line is the stored outcome's, whatever the scenarios look
    /// like: an all-pass report whose gate failed (an expired baseline
    /// entry, a flaky pass under --flaky-fails) says FAILED, with why.
    #[test]
    fn the_result_line_renders_the_stored_outcome() {
        let mut flaky = scenario("lifetimes/default", &["LT-1"], Verdict::Pass, &[]);
        flaky.flaky = true;
        flaky.attempts = 2;
        let mut r = report(vec![flaky]);
        let strict = Policy {
            flaky_fails: true,
            strict: false,
        };
        gate::gate(&mut r, strict);
        let text = summary(&r);
        assert!(text.contains("result: FAILED"), "{text}");
        assert!(text.contains("[--flaky-fails]"), "{text}");
        assert!(
            text.ends_with(
                "the run fails:\n  - lifetimes/default is flaky: passed after 2 attempts\n"
            ),
            "{text}"
        );
        r.scenarios[0].gate = Some(GateMark::UnexpectedPass { reason: "x".into() });
        r.outcome = None;
        assert!(summary(&r).contains("result: not decided"));
    }

    /// Many failing matrix cases: one group per scenario, the groups and
    /// the closing list capped with a count, and `-v` lifts the caps.
    #[test]
    fn many_failures_are_grouped_and_capped() {
        let mut all = Vec::new();
        for n in 0..(GROUPS_SHOWN + 3) {
            for c in ["a", "b", "c"] {
                let id = format!("hp/s{n:02}");
                let mut s = scenario(&id, &["LT-5"], Verdict::Fail, &["LT-5"]);
                s.id = format!("{id}[{c}]");
                s.case = Some(c.into());
                all.push(s);
            }
        }
        all.reverse(); // completion order must not matter
        let mut r = report(all);
        gate::gate(&mut r, Policy::default());
        let text = summary(&r);
        assert!(text.contains("(13 groups, 39 instances)"), "{text}");
        assert!(
            text.contains("FAIL  hp/s00 — 3 of 3 cases: a, b, c\n"),
            "{text}"
        );
        assert!(
            text.contains("... and 3 more group(s), 9 instance(s)"),
            "{text}"
        );
        assert!(text.contains("  - hp/s00 fail (3 cases)\n"), "{text}");
        assert!(text.contains("  - ... and 3 more (report.md"), "{text}");
        let first = text.find("hp/s00").unwrap();
        assert!(first < text.find("hp/s01").unwrap(), "{text}");
        assert!(text.lines().count() < 60, "{text}");
        let verbose = Style {
            verbosity: Verbosity::Verbose,
            color: false,
        };
        let full = summary_styled(&r, verbose);
        assert!(full.contains("FAIL  hp/s12"), "{full}");
        assert!(!full.contains("more group"), "{full}");
        let lines = instance_lines(&r, verbose);
        assert!(lines.starts_with("FAIL  hp/s00[a]"), "{lines}");
    }

    #[test]
    fn quiet_prints_the_outcome_only_and_colour_is_opt_in() {
        let r = sample();
        let quiet = Style {
            verbosity: Verbosity::Quiet,
            color: false,
        };
        let text = summary_styled(&r, quiet);
        assert!(text.starts_with("result: FAILED"), "{text}");
        assert!(!text.contains("area "), "{text}");
        assert!(!summary(&r).contains('\x1b'));
        let color = Style {
            verbosity: Verbosity::Normal,
            color: true,
        };
        assert!(summary_styled(&r, color).contains("\x1b[31mFAIL \x1b[0m lifetimes/expired"));
    }
}
