//! `certification.md`, sized for a CI job summary or release notes: the
//! outcome, each client's behaviour card, the rules x clients matrix
//! (several clients), then per client its per-rule table, each failure and warning (rule,
//! case, message, timeline excerpt with the offending line marked `>`,
//! replay command) and the cases not judged.
//!
//! Pure. Names, messages and URLs come from drivers and case files, so they
//! are treated as untrusted text: `<`, `>`, `&` and `|` are escaped in prose
//! and tables; excerpts go in fenced blocks whose fence is longer than any
//! backtick run inside.

use std::fmt::Write as _;

use super::{
    Counts, at, client_identity, guard, matrix, outcome, problems, sorted_rules, unjudged,
    verdict_label,
};
use crate::certify::verdict::{Certification, ClientResult};

/// The certification as Markdown.
pub fn write(cert: &Certification) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Tessera client certification: **{}**\n",
        outcome(cert)
    );
    let _ = writeln!(
        out,
        "Tessera {} · tier `{}` · plan `{}` · {} client{} · {}\n",
        text(&cert.tessera),
        code(&cert.tier),
        code(&cert.plan),
        cert.clients.len(),
        if cert.clients.len() == 1 { "" } else { "s" },
        Counts::of_run(cert)
    );
    for c in &cert.clients {
        card(&mut out, c);
    }
    if cert.clients.len() > 1 {
        matrix_table(&mut out, cert);
    }
    for c in &cert.clients {
        client(&mut out, c);
    }
    guard::mask(&out)
}

fn matrix_table(out: &mut String, cert: &Certification) {
    let m = matrix(cert);
    let _ = writeln!(out, "## Rules × clients\n");
    let _ = writeln!(
        out,
        "| rule | {} |",
        m.clients
            .iter()
            .map(|c| text(c))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|---|{}", "---|".repeat(m.clients.len()));
    for r in &m.rows {
        let cells: Vec<String> = r
            .cells
            .iter()
            .map(|c| match c {
                None => "–".to_owned(),
                Some(c) if c.verdict == crate::certify::verdict::Verdict::Fail => {
                    format!("**{}**", text(&c.text))
                }
                Some(c) => text(&c.text),
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", text(&r.rule), cells.join(" | "));
    }
    let _ = writeln!(
        out,
        "\nF fail (MUST) · W warn (SHOULD) · P pass · V: variant shown · n/a not applicable · – not judged\n"
    );
}

/// `## Behaviour card: NAME (identity)`, what vendors read first.
fn card(out: &mut String, c: &ClientResult) {
    let identity = client_identity(c);
    let _ = writeln!(
        out,
        "## Behaviour card: {}{} — {}\n",
        text(&c.name),
        if identity.is_empty() {
            String::new()
        } else {
            format!(" ({})", text(&identity))
        },
        verdict_label(c.verdict)
    );
    if c.card.is_empty() {
        let _ = writeln!(out, "Nothing measured.\n");
    } else {
        let _ = writeln!(out, "| what | measured |\n|---|---|");
        for l in &c.card {
            let _ = writeln!(out, "| {} | {} |", text(&l.topic), text(&l.value));
        }
        out.push('\n');
    }
}

/// Per client: identity, rules, failures and warnings, cases not judged.
fn client(out: &mut String, c: &ClientResult) {
    let _ = writeln!(out, "## {} — {}\n", text(&c.name), verdict_label(c.verdict));
    let _ = write!(
        out,
        "Driver `{}` · {}",
        code(&c.driver),
        Counts::of(&c.cases)
    );
    if !c.features.is_empty() {
        let _ = write!(out, " · features: {}", text(&c.features.join(", ")));
    }
    out.push_str("\n\n");

    let rules = sorted_rules(c);
    if !rules.is_empty() {
        let _ = writeln!(out, "### Rules\n");
        let _ = writeln!(
            out,
            "| rule | levels | verdict | variants | cases |\n|---|---|---|---|---|"
        );
        for r in rules {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                text(&r.rule),
                text(&r.levels),
                verdict_label(r.verdict),
                text(&r.variants.join(", ")),
                r.cases
                    .iter()
                    .map(|k| format!("`{}`", code(k)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        out.push('\n');
    }

    let problems = problems(c);
    if !problems.is_empty() {
        let _ = writeln!(out, "### Failures and warnings\n");
    }
    for p in problems {
        let f = p.finding;
        let _ = writeln!(
            out,
            "- **{}** {} in `{}`: {}",
            f.verdict.as_str().to_uppercase(),
            text(&f.rule),
            code(&p.case.id),
            text(&f.message)
        );
        if let Some(seq) = f.entry {
            let _ = writeln!(out, "  first offending request: #{seq}");
        }
        let mut excerpt = String::new();
        for l in &f.excerpt {
            let _ = writeln!(
                excerpt,
                "{} {:>9}  {}",
                if l.offending { '>' } else { ' ' },
                at(l.real_ms),
                l.text
            );
        }
        let _ = writeln!(excerpt, "$ {}", p.case.replay);
        let fence = fence_for(&excerpt);
        let _ = writeln!(out, "\n  {fence}text");
        for l in excerpt.lines() {
            let _ = writeln!(out, "  {l}");
        }
        let _ = writeln!(out, "  {fence}\n");
    }

    let unjudged = unjudged(c);
    if !unjudged.is_empty() {
        let _ = writeln!(out, "### Not judged\n");
        for k in unjudged {
            let _ = writeln!(
                out,
                "- {} `{}`: {}",
                verdict_label(k.verdict),
                code(&k.id),
                text(k.reason.as_deref().unwrap_or("no reason given"))
            );
        }
        out.push('\n');
    }
}

/// Untrusted text in prose or a table cell.
fn text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace('\n', " ")
}

/// Untrusted text inside an inline code span: no backticks, no newlines.
fn code(s: &str) -> String {
    s.replace('`', "'").replace('\n', " ").replace('|', "\\|")
}

/// A backtick fence longer than any backtick run in `body`.
fn fence_for(body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat((longest + 1).max(3))
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn snapshot_two_clients() {
        insta::assert_snapshot!(write(&fixture::two()));
    }

    #[test]
    fn snapshot_one_good_client() {
        let md = write(&fixture::one_good());
        assert!(!md.contains("Rules × clients"));
        insta::assert_snapshot!(md);
    }

    #[test]
    fn untrusted_text_cannot_break_tables_or_fences() {
        let mut c = fixture::one_faulty();
        c.clients[0].card[0].value = "a | b <script>".into();
        c.clients[0].cases[1].findings[0].excerpt[0].text = "``` closing".into();
        let md = write(&c);
        assert!(md.contains("| a \\| b &lt;script&gt; |"), "{md}");
        assert!(md.contains("  ````text"), "{md}");
    }
}
