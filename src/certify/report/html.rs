//! `certification.html`: one self-contained page for people. A PASSED /
//! FAILED badge (as decided), the run's identity, the behaviour card of
//! every client first (what vendors read first), the rules x clients matrix
//! (several clients), then per client the per-rule table, each failure and
//! warning with its timeline excerpt (the offending line highlighted) and
//! replay command, and the cases not judged.
//!
//! Rust computes a view model; the minijinja template in
//! `templates/certification.html` only lays it out, with HTML auto-escaping
//! on (names, messages and URLs come from drivers). Inline CSS only: no
//! script, no network, no external resource. Pure.

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::{
    Counts, at, client_identity, guard, matrix, outcome, problems, sorted_rules, unjudged,
    verdict_label,
};
use crate::certify::verdict::{Certification, ClientResult, Verdict};

const TEMPLATE: &str = include_str!("templates/certification.html");

/// The certification as one HTML page.
pub fn write(cert: &Certification) -> String {
    let page = page(cert);
    let ctx = serde_json::to_value(&page).map(|v| crate::report::html::to_value(&v));
    let mut env = Environment::new();
    // Strict: a typo in the template is an error in tests, not a blank.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let rendered = ctx.map_err(|e| e.to_string()).and_then(|ctx| {
        env.add_template("certification.html", TEMPLATE)
            .and_then(|()| env.get_template("certification.html"))
            .and_then(|t| t.render(ctx))
            .map_err(|e| e.to_string())
    });
    let html = match rendered {
        Ok(html) => html,
        // A template bug, not bad input: still give the reader something.
        Err(e) => format!(
            "<!doctype html><meta charset=\"utf-8\"><title>Tessera certification</title><pre>certification template error: {}</pre>",
            e.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        ),
    };
    guard::mask(&html)
}

// ---------------------------------------------------------------- view model

#[derive(Serialize)]
struct Page {
    outcome: &'static str,
    outcome_label: &'static str,
    tessera: String,
    tier: String,
    plan: String,
    counts: String,
    totals: Vec<Total>,
    clients: Vec<ClientView>,
    matrix: Option<MatrixView>,
}

#[derive(Serialize)]
struct Total {
    class: &'static str,
    label: &'static str,
    n: usize,
}

#[derive(Serialize)]
struct ClientView {
    name: String,
    anchor: String,
    identity: String,
    driver: String,
    features: String,
    class: &'static str,
    label: &'static str,
    counts: String,
    card: Vec<[String; 2]>,
    rules: Vec<RuleView>,
    problems: Vec<ProblemView>,
    unjudged: Vec<UnjudgedView>,
}

#[derive(Serialize)]
struct RuleView {
    rule: String,
    levels: String,
    class: &'static str,
    label: &'static str,
    variants: String,
    cases: Vec<String>,
}

#[derive(Serialize)]
struct ProblemView {
    class: &'static str,
    label: &'static str,
    rule: String,
    case: String,
    title: String,
    message: String,
    entry: Option<usize>,
    lines: Vec<LineView>,
    replay: String,
}

#[derive(Serialize)]
struct LineView {
    at: String,
    text: String,
    offending: bool,
}

#[derive(Serialize)]
struct UnjudgedView {
    class: &'static str,
    label: &'static str,
    id: String,
    reason: String,
    replay: String,
}

#[derive(Serialize)]
struct MatrixView {
    clients: Vec<String>,
    rows: Vec<MatrixRowView>,
}

#[derive(Serialize)]
struct MatrixRowView {
    rule: String,
    levels: String,
    cells: Vec<CellView>,
}

/// A matrix cell: its class and text.
#[derive(Serialize)]
struct CellView {
    class: &'static str,
    text: String,
    /// The whole cell when `text` is its compact form.
    title: String,
}

fn class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Warn => "warn",
        Verdict::Fail => "fail",
        Verdict::NotApplicable => "na",
        Verdict::Skipped => "skipped",
        Verdict::Error => "error",
    }
}

fn page(cert: &Certification) -> Page {
    let counts = Counts::of_run(cert);
    Page {
        outcome: if cert.passed { "pass" } else { "fail" },
        outcome_label: outcome(cert),
        tessera: cert.tessera.clone(),
        tier: cert.tier.clone(),
        plan: cert.plan.clone(),
        counts: counts.to_string(),
        totals: super::VERDICTS
            .iter()
            .filter(|v| counts.get(**v) > 0)
            .map(|v| Total {
                class: class(*v),
                label: verdict_label(*v),
                n: counts.get(*v),
            })
            .collect(),
        clients: cert
            .clients
            .iter()
            .enumerate()
            .map(|(i, c)| client(i, c))
            .collect(),
        matrix: (cert.clients.len() > 1).then(|| {
            let m = matrix(cert);
            MatrixView {
                clients: m.clients,
                rows: m
                    .rows
                    .into_iter()
                    .map(|r| MatrixRowView {
                        rule: r.rule,
                        levels: r.levels,
                        cells: r
                            .cells
                            .into_iter()
                            .map(|c| match c {
                                Some(c) => CellView {
                                    class: class(c.verdict),
                                    title: if c.full == c.text {
                                        String::new()
                                    } else {
                                        c.full
                                    },
                                    text: c.text,
                                },
                                None => CellView {
                                    class: "none",
                                    title: String::new(),
                                    text: "–".into(),
                                },
                            })
                            .collect(),
                    })
                    .collect(),
            }
        }),
    }
}

fn client(i: usize, c: &ClientResult) -> ClientView {
    ClientView {
        name: c.name.clone(),
        anchor: format!("client-{}", i + 1),
        identity: client_identity(c),
        driver: c.driver.clone(),
        features: c.features.join(", "),
        class: class(c.verdict),
        label: verdict_label(c.verdict),
        counts: Counts::of(&c.cases).to_string(),
        card: c
            .card
            .iter()
            .map(|l| [l.topic.clone(), l.value.clone()])
            .collect(),
        rules: sorted_rules(c)
            .into_iter()
            .map(|r| RuleView {
                rule: r.rule.clone(),
                levels: r.levels.clone(),
                class: class(r.verdict),
                label: verdict_label(r.verdict),
                variants: r.variants.join(", "),
                cases: r.cases.clone(),
            })
            .collect(),
        problems: problems(c)
            .into_iter()
            .map(|p| ProblemView {
                class: class(p.finding.verdict),
                label: verdict_label(p.finding.verdict),
                rule: p.finding.rule.clone(),
                case: p.case.id.clone(),
                title: p.case.title.clone(),
                message: p.finding.message.clone(),
                entry: p.finding.entry,
                lines: p
                    .finding
                    .excerpt
                    .iter()
                    .map(|l| LineView {
                        at: at(l.real_ms),
                        text: l.text.clone(),
                        offending: l.offending,
                    })
                    .collect(),
                replay: p.case.replay.clone(),
            })
            .collect(),
        unjudged: unjudged(c)
            .into_iter()
            .map(|k| UnjudgedView {
                class: class(k.verdict),
                label: verdict_label(k.verdict),
                id: k.id.clone(),
                reason: k.reason.clone().unwrap_or_else(|| "no reason given".into()),
                replay: k.replay.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(write(&fixture::two()));
    }

    #[test]
    fn badge_card_first_then_matrix_then_rules_and_no_external_resource() {
        let html = write(&fixture::two());
        assert!(html.contains("<span class=\"badge fail big\" id=\"outcome\">FAILED</span>"));
        let card = html.find("id=\"cards\"").unwrap();
        let matrix = html.find("id=\"matrix\"").unwrap();
        let rules = html.find("id=\"client-1-rules\"").unwrap();
        let failure = html.find("class=\"line offending\"").unwrap();
        assert!(card < matrix && matrix < rules && rules < failure);
        for external in ["<script", "<link", " src=", "url(", "@import", "<iframe"] {
            assert!(!html.contains(external), "{external} in the page");
        }
        let mut good = fixture::one_good();
        good.passed = true;
        let html = write(&good);
        assert!(html.contains("badge pass big\" id=\"outcome\">PASSED<"));
        assert!(!html.contains("id=\"matrix\""));
    }

    #[test]
    fn untrusted_text_is_escaped() {
        let mut c = fixture::one_faulty();
        c.clients[0].name = "<img onerror=x>".into();
        c.clients[0].cases[1].findings[0].message = "a <b>bold</b> & \"quoted\"".into();
        let html = write(&c);
        assert!(!html.contains("<img onerror"));
        assert!(html.contains("&lt;img onerror=x&gt;"));
        assert!(!html.contains("<b>bold</b>"));
    }
}
