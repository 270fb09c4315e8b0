//! The certification as console text for a CI log: the run's identity, then
//! per client the behaviour card first, the per-rule verdicts, the failures
//! and warnings (rule, message, timeline excerpt with the offending line
//! marked `>`, replay command) and the cases not judged; with several
//! clients the rules x clients matrix; a closing line with the counts and
//! PASSED/FAILED as decided. Plain text, no colour, stable order. Pure; the
//! CLI prints it.

use std::fmt::Write as _;

use super::{
    Counts, at, client_identity, guard, matrix, outcome, problems, sorted_rules, unjudged,
    verdict_label,
};
use crate::certify::verdict::{Certification, ClientResult, Verdict};

/// Deciding cases listed per rule before `(+N more)`.
pub const CASES_SHOWN: usize = 4;

/// A fixed-width verdict tag.
fn tag(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS ",
        Verdict::Warn => "WARN ",
        Verdict::Fail => "FAIL ",
        Verdict::NotApplicable => "N/A  ",
        Verdict::Skipped => "SKIP ",
        Verdict::Error => "ERROR",
    }
}

/// The whole console report, newline-terminated.
pub fn render(cert: &Certification) -> String {
    let mut out = String::new();
    let n = cert.clients.len();
    let _ = writeln!(
        out,
        "Tessera {} client certification · tier {} · plan {} · {} client{}",
        cert.tessera,
        cert.tier,
        cert.plan,
        n,
        if n == 1 { "" } else { "s" }
    );
    for c in &cert.clients {
        out.push('\n');
        client(&mut out, c);
    }
    if n > 1 {
        out.push('\n');
        matrix_table(&mut out, cert);
    }
    out.push('\n');
    out.push_str(&closing_line(cert));
    out.push('\n');
    guard::mask(&out)
}

/// `certification FAILED: 2 clients, 7 cases: 4 pass, 1 warn, 1 fail, ...`.
pub fn closing_line(cert: &Certification) -> String {
    let n = cert.clients.len();
    let line = format!(
        "certification {}: {} client{}, {}",
        outcome(cert),
        n,
        if n == 1 { "" } else { "s" },
        Counts::of_run(cert)
    );
    guard::mask(&line)
}

fn client(out: &mut String, c: &ClientResult) {
    let identity = client_identity(c);
    let _ = writeln!(
        out,
        "== {}{} · {} · {}",
        c.name,
        if identity.is_empty() {
            String::new()
        } else {
            format!(" ({identity})")
        },
        verdict_label(c.verdict).to_uppercase(),
        Counts::of(&c.cases)
    );
    let _ = writeln!(out, "   driver: {}", c.driver);
    if !c.features.is_empty() {
        let _ = writeln!(out, "   features: {}", c.features.join(", "));
    }

    let _ = writeln!(out, "\n   behaviour card");
    if c.card.is_empty() {
        let _ = writeln!(out, "     (nothing measured)");
    }
    let w = c
        .card
        .iter()
        .map(|l| l.topic.chars().count())
        .max()
        .unwrap_or(0);
    for l in &c.card {
        let _ = writeln!(out, "     {:<w$}  {}", l.topic, l.value);
    }

    let _ = writeln!(out, "\n   rules");
    let rules = sorted_rules(c);
    if rules.is_empty() {
        let _ = writeln!(out, "     (no rule judged)");
    }
    let wr = rules
        .iter()
        .map(|r| r.rule.chars().count())
        .max()
        .unwrap_or(0);
    let wl = rules
        .iter()
        .map(|r| r.levels.chars().count())
        .max()
        .unwrap_or(0);
    for r in rules {
        let mut line = format!(
            "     {:<wr$}  {:<wl$}  {}",
            r.rule,
            r.levels,
            tag(r.verdict)
        );
        if !r.variants.is_empty() {
            let _ = write!(line, "  variants: {}", r.variants.join(", "));
        }
        if !r.cases.is_empty() {
            let _ = write!(line, "  cases: {}", capped(&r.cases, CASES_SHOWN));
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }

    let problems = problems(c);
    if !problems.is_empty() {
        let _ = writeln!(out, "\n   failures and warnings");
    }
    for p in problems {
        let f = p.finding;
        let _ = writeln!(
            out,
            "     {} {} in {}: {}",
            tag(f.verdict).trim_end(),
            f.rule,
            p.case.id,
            f.message
        );
        if let Some(seq) = f.entry {
            let _ = writeln!(out, "          first offending request: #{seq}");
        }
        for l in &f.excerpt {
            let _ = writeln!(
                out,
                "        {} {:>9}  {}",
                if l.offending { '>' } else { ' ' },
                at(l.real_ms),
                l.text
            );
        }
        let _ = writeln!(out, "          replay: {}", p.case.replay);
    }

    let unjudged = unjudged(c);
    if !unjudged.is_empty() {
        let _ = writeln!(out, "\n   not judged");
    }
    for k in unjudged {
        let _ = writeln!(
            out,
            "     {} {}: {}",
            tag(k.verdict).trim_end(),
            k.id,
            k.reason.as_deref().unwrap_or("no reason given")
        );
        if k.verdict == Verdict::Error {
            let _ = writeln!(out, "          replay: {}", k.replay);
        }
    }
}

/// The rules x clients matrix as an aligned text table.
fn matrix_table(out: &mut String, cert: &Certification) {
    let m = matrix(cert);
    let mut rows: Vec<Vec<String>> = vec![
        std::iter::once("rule".to_owned())
            .chain(m.clients.iter().cloned())
            .collect(),
    ];
    for r in &m.rows {
        rows.push(
            std::iter::once(r.rule.clone())
                .chain(r.cells.iter().map(|c| {
                    c.as_ref()
                        .map_or_else(|| "-".to_owned(), |c| c.text.clone())
                }))
                .collect(),
        );
    }
    let cols = rows[0].len();
    let widths: Vec<usize> = (0..cols)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let _ = writeln!(out, "== rules x clients");
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        let _ = writeln!(out, "   {}", line.join("  ").trim_end());
    }
}

fn capped(items: &[String], max: usize) -> String {
    if items.len() <= max {
        items.join(", ")
    } else {
        format!("{} (+{} more)", items[..max].join(", "), items.len() - max)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn one_good_client() {
        insta::assert_snapshot!(render(&fixture::one_good()));
    }

    #[test]
    fn one_faulty_client() {
        insta::assert_snapshot!(render(&fixture::one_faulty()));
    }

    #[test]
    fn two_clients_with_the_matrix() {
        let text = render(&fixture::two());
        // The card comes before the rules, the matrix after the clients,
        // the closing line last.
        let card = text.find("behaviour card").unwrap();
        let rules = text.find("   rules").unwrap();
        let matrix = text.find("== rules x clients").unwrap();
        assert!(card < rules && rules < matrix);
        assert!(text.trim_end().ends_with("1 error"));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn the_outcome_shown_is_the_one_decided() {
        let mut c = fixture::two();
        assert!(closing_line(&c).starts_with("certification FAILED"));
        c.passed = true;
        assert!(closing_line(&c).starts_with("certification PASSED"));
        assert!(!render(&fixture::one_faulty()).contains("rules x clients"));
    }
}
