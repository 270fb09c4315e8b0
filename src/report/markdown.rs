//! The Markdown writer (`report.md`), sized for a CI job summary (GitHub's
//! `$GITHUB_STEP_SUMMARY`, GitLab, ...): the outcome (as the gate decided
//! it, with the reasons the run fails), totals per area, a per-rule verdict
//! table, then each failure and each warning with its evidence.
//!
//! Pure function of the report. Scenario titles, bodies and URLs come from
//! files and targets, so they are treated as untrusted text: `<`, `>`, `&`
//! and `|` are escaped in prose and tables, and evidence goes in fenced
//! blocks whose fence is longer than any backtick run inside.

use std::fmt::Write as _;

use super::model::{Finding, GateMark, Outcome, Report, ScenarioReport, Totals, Verdict};

/// Longest response body quoted as evidence, in characters.
const BODY_LIMIT: usize = 600;

/// The report as Markdown.
pub fn write(report: &Report) -> String {
    let mut out = String::new();
    let t = report.totals();
    let n_expected = report.outcome.as_ref().map_or(0, |o| o.expected_failures);
    let _ = writeln!(out, "# Tessera: {}\n", text(&report.target.name));
    let _ = writeln!(
        out,
        "**{}** · {} scenarios: {}{} · {} · {}{}\n",
        match &report.outcome {
            Some(o) if o.passed() => "PASSED",
            Some(_) => "FAILED",
            None => "NOT DECIDED",
        },
        t.total(),
        counts(&t),
        if n_expected > 0 {
            format!(" ({n_expected} expected by the baseline)")
        } else {
            String::new()
        },
        text(&report.tool),
        text(&report.started_at),
        report
            .partition
            .as_ref()
            .map(|p| format!(" · shard {}", text(p)))
            .unwrap_or_default()
    );
    if let Some(o) = &report.outcome {
        outcome(&mut out, o);
    }
    let _ = writeln!(
        out,
        "Target `{}` · profiles: {} · {:.1} s\n",
        code(&report.target.base_url),
        list(&report.target.profiles),
        report.duration_ms as f64 / 1000.0
    );
    if !report.target.deviations.is_empty() {
        let _ = writeln!(
            out,
            "Reference started with deviations: {}\n",
            list(&report.target.deviations)
        );
    }
    if let Some(tls) = &report.target.tls {
        if tls.insecure {
            let _ = writeln!(
                out,
                "> **{}**\n",
                text(super::model::TlsSummary::INSECURE_WARNING)
            );
        }
        let _ = writeln!(out, "TLS: {}\n", text(&tls.line()));
    }

    out.push_str("## Areas\n\n| area | pass | warn | fail | error | skipped | n/a | total |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (area, t) in report.totals_by_area() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&area),
            t.pass,
            t.warn,
            t.fail,
            t.error,
            t.skipped,
            t.not_applicable,
            t.total()
        );
    }
    let _ = writeln!(
        out,
        "| **all** | {} | {} | {} | {} | {} | {} | {} |\n",
        t.pass,
        t.warn,
        t.fail,
        t.error,
        t.skipped,
        t.not_applicable,
        t.total()
    );

    out.push_str("## Rules\n\n| rule | verdict | pass | warn | fail | error | skipped | n/a |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
    let mut uncovered = Vec::new();
    for rv in report.rule_verdicts() {
        match rv.verdict {
            None => uncovered.push(rv.rule),
            Some(v) => {
                let _ = writeln!(
                    out,
                    "| {} | {} {} | {} | {} | {} | {} | {} | {} |",
                    rv.rule,
                    icon(v),
                    v.as_str(),
                    rv.pass,
                    rv.warn,
                    rv.fail,
                    rv.error,
                    rv.skipped,
                    rv.not_applicable
                );
            }
        }
    }
    if !uncovered.is_empty() {
        let _ = writeln!(
            out,
            "\nNot covered by this run ({}): {}",
            uncovered.len(),
            uncovered.join(", ")
        );
    }
    out.push('\n');

    // What the gate named, plus every failure and baseline mark.
    let failures: Vec<&ScenarioReport> = report
        .scenarios
        .iter()
        .filter(|s| {
            s.verdict.is_failure()
                || s.gate.is_some()
                || report
                    .outcome
                    .as_ref()
                    .is_some_and(|o| o.reasons_for(&s.id).next().is_some())
        })
        .collect();
    out.push_str("## Failures\n\n");
    if failures.is_empty() {
        out.push_str("None.\n");
    }
    for s in &failures {
        failure(&mut out, s, report.outcome.as_ref());
    }
    let warnings: Vec<&ScenarioReport> = report
        .scenarios
        .iter()
        .filter(|s| s.verdict == Verdict::Warn && !failures.iter().any(|f| f.id == s.id))
        .collect();
    if !warnings.is_empty() {
        out.push_str("\n## Warnings (SHOULD clauses)\n\n");
        for s in warnings {
            failure(&mut out, s, report.outcome.as_ref());
        }
    }

    let flaky: Vec<&ScenarioReport> = report.scenarios.iter().filter(|s| s.flaky).collect();
    if !flaky.is_empty() {
        out.push_str("\n## Flaky\n\n");
        for s in flaky {
            let _ = writeln!(
                out,
                "- `{}`: passed after {} attempts",
                code(&s.id),
                s.attempts
            );
        }
    }
    out
}

fn failure(out: &mut String, s: &ScenarioReport, o: Option<&Outcome>) {
    let mark = match &s.gate {
        Some(GateMark::ExpectedFailure { reason }) => {
            format!(" (expected by the baseline: {})", text(reason))
        }
        Some(GateMark::UnexpectedPass { reason }) => format!(
            " (unexpected pass: the baseline expects a failure: {})",
            text(reason)
        ),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "### {} `{}`: {}{mark}\n",
        icon(s.verdict),
        code(&s.id),
        s.verdict.as_str()
    );
    let _ = writeln!(
        out,
        "{} · `{}` · rules {}\n",
        text(&s.title),
        code(&s.file),
        list(&s.rules)
    );
    if let Some(r) = &s.reason {
        let _ = writeln!(out, "Reason: {}\n", text(r));
    }
    // What fails the run beyond the verdict itself (an expired entry, a
    // flaky pass under --flaky-fails, a warn under --strict).
    for r in o
        .into_iter()
        .flat_map(|o| o.reasons_for(&s.id))
        .filter(|r| !matches!(r, Finding::Failed { .. }))
    {
        let _ = writeln!(out, "Fails the run: {}\n", text(&r.to_string()));
    }
    if !s.vars.is_empty() {
        let vars: Vec<String> = s
            .vars
            .iter()
            .map(|(k, v)| format!("{}=`{}`", text(k), code(&plain(v))))
            .collect();
        let _ = writeln!(out, "Case: {}\n", vars.join(", "));
    }
    let mut last_step = 0;
    for (step, c) in s.failures() {
        if step.index != last_step {
            last_step = step.index;
            let _ = writeln!(
                out,
                "- step {} (line {}) `{}`",
                step.index,
                step.line,
                code(&step.label)
            );
            if !step.exchanges.is_empty() {
                let mut ev = String::new();
                for x in &step.exchanges {
                    let status = x
                        .status
                        .map_or_else(|| x.error.clone().unwrap_or_default(), |s| s.to_string());
                    let _ = writeln!(ev, "{} {} -> {status}", x.method, x.url);
                    if let Some(b) = &x.response_body {
                        let _ = writeln!(ev, "{}", truncate(b, BODY_LIMIT));
                    }
                }
                fenced(out, "  ", &ev);
            }
        }
        let rules = if c.rules.is_empty() {
            String::new()
        } else {
            format!("**{}** ", c.rules.join(", "))
        };
        let _ = writeln!(
            out,
            "  - {rules}{}: expected `{}`, actual `{}`",
            text(&c.what),
            code(&c.expected),
            code(&c.actual)
        );
    }
    if last_step > 0 {
        out.push('\n');
    }
}

/// The gate's reasons (when the run fails) and notes.
fn outcome(out: &mut String, o: &Outcome) {
    let mut switches = Vec::new();
    if o.policy.strict {
        switches.push("`--strict`");
    }
    if o.policy.flaky_fails {
        switches.push("`--flaky-fails`");
    }
    if !switches.is_empty() {
        let _ = writeln!(out, "Gate: {}\n", switches.join(", "));
    }
    if !o.passed() {
        out.push_str("The run fails:\n\n");
        for r in &o.reasons {
            let _ = writeln!(out, "- {}", text(&r.to_string()));
        }
        out.push('\n');
    }
    if !o.notes.is_empty() {
        out.push_str("Notes:\n\n");
        for n in &o.notes {
            let _ = writeln!(out, "- {}", text(&n.to_string()));
        }
        out.push('\n');
    }
    coverage(out, &o.coverage);
}

/// How much ran, the MUST rules no case checked, and why the rest did not
/// run, grouped by reason (all from the outcome's coverage).
fn coverage(out: &mut String, c: &crate::report::model::Coverage) {
    let _ = writeln!(out, "Coverage: {}.\n", text(&c.ran_text()));
    if !c.unchecked.is_empty() {
        out.push_str("Unchecked MUST rules (no case ran):\n\n");
        for u in &c.unchecked {
            let _ = writeln!(out, "- {} ({} case(s))", text(&u.to_string()), u.cases);
        }
        out.push('\n');
    }
    if !c.not_run.is_empty() {
        out.push_str("| not run | cases | reason | would run with |\n|---|---:|---|---|\n");
        for g in &c.not_run {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                g.verdict.as_str(),
                g.cases,
                text(&g.reason),
                g.unlock
                    .as_ref()
                    .map(|u| text(&u.to_string()))
                    .unwrap_or_default()
            );
        }
        out.push('\n');
    }
}

fn counts(t: &Totals) -> String {
    let mut parts = vec![format!("{} passed", t.pass)];
    for (n, what) in [
        (t.warn, "warned"),
        (t.fail, "failed"),
        (t.error, "errored"),
        (t.skipped, "skipped"),
        (t.not_applicable, "not applicable"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

fn icon(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅",
        Verdict::Warn => "🟡",
        Verdict::Fail => "❌",
        Verdict::Error => "⚠️",
        Verdict::Skipped => "⏭️",
        Verdict::NotApplicable => "➖",
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.iter().map(|i| text(i)).collect::<Vec<_>>().join(", ")
    }
}

/// Prose: no HTML, no emphasis or link syntax from untrusted text.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn cell(s: &str) -> String {
    text(s)
}

/// Inside a single-backtick code span: backticks become `'` and newlines
/// spaces (a span cannot hold them reliably), pipes are escaped for tables.
fn code(s: &str) -> String {
    s.replace('`', "'")
        .replace(['\n', '\r'], " ")
        .replace('|', "\\|")
}

/// A fenced block, indented by `indent`, with a fence longer than any
/// backtick run in `body`.
fn fenced(out: &mut String, indent: &str, body: &str) {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(out, "{indent}{fence}text");
    for line in body.lines() {
        let _ = writeln!(out, "{indent}{line}");
    }
    let _ = writeln!(out, "{indent}{fence}");
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push_str(" …");
        t
    }
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::junit::tests::sample;

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(write(&sample()));
    }

    #[test]
    fn untrusted_text_is_escaped() {
        let mut r = sample();
        r.scenarios[1].title = "<script>alert(1)</script> | pipe".into();
        r.scenarios[1].steps[0].exchanges[0].response_body = Some("a ``` b".into());
        let md = write(&r);
        assert!(!md.contains("<script>"));
        assert!(md.contains("&lt;script&gt;alert(1)&lt;/script&gt; \\| pipe"));
        assert!(md.contains("  ````text\n"), "{md}");
    }

    #[test]
    fn a_clean_run_says_passed() {
        let mut r =
            crate::report::model::tests::report(vec![crate::report::model::tests::scenario(
                "lifetimes/a",
                &["LT-1"],
                Verdict::Pass,
                &[],
            )]);
        crate::report::gate::gate(&mut r, Default::default());
        let md = write(&r);
        assert!(md.contains("**PASSED** · 1 scenarios: 1 passed"), "{md}");
        assert!(md.contains("## Failures\n\nNone.\n"));
    }

    /// The headline is the gate's outcome: a flaky pass under
    /// `--flaky-fails` fails the run although every scenario passed.
    #[test]
    fn the_headline_renders_the_stored_outcome() {
        let mut s =
            crate::report::model::tests::scenario("lifetimes/a", &["LT-1"], Verdict::Pass, &[]);
        s.flaky = true;
        s.attempts = 3;
        let mut r = crate::report::model::tests::report(vec![s]);
        let policy = crate::report::model::Policy {
            flaky_fails: true,
            strict: false,
        };
        crate::report::gate::gate(&mut r, policy);
        let md = write(&r);
        assert!(md.contains("**FAILED** · 1 scenarios: 1 passed"), "{md}");
        assert!(
            md.contains("The run fails:\n\n- lifetimes/a is flaky: passed after 3 attempts\n"),
            "{md}"
        );
        assert!(md.contains("Fails the run: lifetimes/a is flaky"), "{md}");
        r.outcome = None;
        assert!(write(&r).contains("**NOT DECIDED**"));
    }
}
