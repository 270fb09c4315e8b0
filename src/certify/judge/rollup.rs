//! From one client's case results to its [`ClientResult`]: variants
//! compared across cases (a VARIANT shown two ways is a `fail`, added to
//! the cases that showed the odd one out, so the run's decision sees it),
//! a verdict per CL rule, the behaviour card, and the client's verdict.

use std::collections::BTreeMap;

use super::severity;
use crate::certify::protocol::Hello;
use crate::certify::rules::{CL_RULES, cites};
use crate::certify::verdict::{CardLine, CaseResult, ClientResult, Finding, RuleResult, Verdict};

/// The rules whose variants must agree across cases, and the key a
/// variant is compared under (CL-9 compares reactions per token kind
/// across envelopes: `portal token / http-401` is keyed `portal token`).
fn consistency_key(rule: &str, about: &str) -> Option<String> {
    match rule {
        "CL-3" | "CL-8" | "CL-15" => Some(about.to_owned()),
        "CL-9" => Some(about.split(" / ").next().unwrap_or(about).to_owned()),
        _ => None,
    }
}

fn judged(c: &CaseResult) -> bool {
    matches!(c.verdict, Verdict::Pass | Verdict::Warn | Verdict::Fail)
}

/// Shell-quotes a driver command for a replay line.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Everything about one client, from its judged cases.
pub fn client_result(
    name: &str,
    driver: &str,
    hello: Option<&Hello>,
    mut cases: Vec<CaseResult>,
) -> ClientResult {
    for c in &mut cases {
        c.replay = format!(
            "tessera certify --driver {} --case {} --verbose",
            quote(driver),
            c.id
        );
    }
    inconsistencies(&mut cases);
    let rules = CL_RULES
        .iter()
        .map(|r| rule_result(r.id, &cases))
        .collect::<Vec<_>>();
    let card = card(&cases, &rules);
    let verdict = cases
        .iter()
        .map(|c| c.verdict)
        .max_by_key(|v| severity(*v))
        .unwrap_or(Verdict::NotApplicable);
    ClientResult {
        name: name.to_owned(),
        client: hello.map(|h| h.client.clone()),
        version: hello.map(|h| h.version.clone()),
        features: hello.map(|h| h.features.clone()).unwrap_or_default(),
        driver: driver.to_owned(),
        card,
        rules,
        cases,
        verdict,
    }
}

/// Adds a `fail` finding to every case showing a variant other than the
/// first one shown for the same rule and key.
fn inconsistencies(cases: &mut [CaseResult]) {
    // (rule, key) -> first (variant, case id, about)
    let mut first: BTreeMap<(String, String), (String, String, String)> = BTreeMap::new();
    let mut add: Vec<(usize, Finding)> = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        if !judged(c) {
            continue;
        }
        for s in &c.shown {
            let Some(key) = consistency_key(&s.rule, &s.about) else {
                continue;
            };
            match first.get(&(s.rule.clone(), key.clone())) {
                None => {
                    first.insert(
                        (s.rule.clone(), key),
                        (s.variant.clone(), c.id.clone(), s.about.clone()),
                    );
                }
                Some((v, id, about)) if *v != s.variant => {
                    let where_ = if *id == c.id {
                        "earlier in this case".to_owned()
                    } else {
                        format!("in {id}")
                    };
                    let finding = Finding {
                        rule: s.rule.clone(),
                        verdict: Verdict::Fail,
                        message: format!(
                            "shown inconsistently: `{}` for {} here, `{v}` for {about} {where_}",
                            s.variant, s.about
                        ),
                        entry: None,
                        excerpt: vec![],
                    };
                    if !add
                        .iter()
                        .any(|(j, f)| *j == i && f.message == finding.message)
                    {
                        add.push((i, finding));
                    }
                }
                Some(_) => {}
            }
        }
    }
    for (i, f) in add {
        let c = &mut cases[i];
        c.findings.push(f);
        c.verdict = Verdict::Fail;
    }
}

fn rule_result(id: &'static str, cases: &[CaseResult]) -> RuleResult {
    let rule = crate::certify::rules::find(id).expect("a rule of the table");
    let citing: Vec<&CaseResult> = cases
        .iter()
        .filter(|c| c.rules.iter().any(|r| cites(r, id)))
        .collect();
    let mut worst: Option<Verdict> = None;
    let mut deciding: Vec<String> = Vec::new();
    for c in cases {
        let v = c
            .findings
            .iter()
            .filter(|f| f.rule.split(", ").any(|r| cites(r, id)))
            .map(|f| f.verdict)
            .max_by_key(|v| severity(*v));
        if let Some(v) = v {
            if worst.is_none_or(|w| severity(v) > severity(w)) {
                worst = Some(v);
                deciding.clear();
            }
            if Some(v) == worst {
                deciding.push(c.id.clone());
            }
        }
    }
    let verdict = match worst {
        Some(v) => v,
        None => {
            deciding = citing.iter().map(|c| c.id.clone()).collect();
            if citing.iter().any(|c| judged(c)) {
                Verdict::Pass
            } else if citing.iter().any(|c| c.verdict == Verdict::Error) {
                Verdict::Error
            } else if citing.iter().any(|c| c.verdict == Verdict::Skipped) {
                Verdict::Skipped
            } else {
                Verdict::NotApplicable
            }
        }
    };
    let mut variants: Vec<String> = Vec::new();
    for c in cases.iter().filter(|c| judged(c)) {
        for s in c.shown.iter().filter(|s| s.rule == id) {
            let v = format!("{}: {}", s.about, s.variant);
            if !variants.contains(&v) {
                variants.push(v);
            }
        }
    }
    RuleResult {
        rule: id.to_owned(),
        levels: rule.levels_text(),
        verdict,
        cases: deciding,
        variants,
    }
}

/// The behaviour card: what the client did, measured, topic by topic.
fn card(cases: &[CaseResult], rules: &[RuleResult]) -> Vec<CardLine> {
    let shown = |rule: &str| -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for c in cases.iter().filter(|c| judged(c)) {
            for s in c.shown.iter().filter(|s| s.rule == rule) {
                let p = (s.about.clone(), s.variant.clone());
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    };
    let joined = |list: &[(String, String)], sep: &str| -> String {
        list.iter()
            .map(|(a, v)| format!("{a}{sep}{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let verdict = |id: &str| {
        rules
            .iter()
            .find(|r| r.rule == id)
            .map(|r| r.verdict)
            .unwrap_or(Verdict::NotApplicable)
    };
    let mut card = Vec::new();
    let mut line = |topic: &str, value: String| {
        if !value.is_empty() {
            card.push(CardLine {
                topic: topic.to_owned(),
                value,
            });
        }
    };
    line("carriers", joined(&shown("CL-3"), " → "));
    let mut binding = shown("CL-15")
        .into_iter()
        .map(|(_, v)| v)
        .collect::<Vec<_>>()
        .join(", ");
    if !binding.is_empty() {
        binding.push_str(match verdict("CL-15") {
            Verdict::Fail => "; binding not kept (CL-15 fail)",
            _ => "; Referer and address always matched",
        });
    }
    line("binding", binding);
    let mut margins = shown("CL-7");
    margins.extend(shown("CL-11"));
    line("renewal margin", joined(&smallest_margins(&margins), ": "));
    line("reaction to 498", joined(&shown("CL-9"), ": "));
    line("reaction to 499", joined(&shown("CL-10"), ": "));
    let foreign_rules = ["CL-2", "CL-5", "CL-6", "CL-10"];
    let foreign = if foreign_rules.iter().any(|r| verdict(r) == Verdict::Fail) {
        let broken: Vec<&str> = foreign_rules
            .iter()
            .copied()
            .filter(|r| verdict(r) == Verdict::Fail)
            .collect();
        format!(
            "sent a token or credentials where it must not ({} fail)",
            broken.join(", ")
        )
    } else if foreign_rules.iter().any(|r| verdict(r) == Verdict::Pass) {
        "no token or credentials to foreign origins".into()
    } else {
        String::new()
    };
    line("foreign origins", foreign);
    line(
        "ssl: true",
        match verdict("CL-12") {
            Verdict::Fail => "ignored (CL-12 fail)".into(),
            Verdict::Pass => "honoured".into(),
            Verdict::Warn => "honoured; an untrusted certificate was accepted".into(),
            _ => String::new(),
        },
    );
    let peak = shown("CL-14")
        .iter()
        .filter_map(|(_, v)| v.parse::<u32>().ok())
        .max();
    line(
        "acquisitions per minute (peak)",
        peak.map(|p| p.to_string()).unwrap_or_default(),
    );
    line("clock skew", joined(&shown("CL-13"), ": "));
    card
}

/// The smallest margin measured per token kind (as a share of its
/// lifetime), with how many were measured: `portal token: 0.9 s of 15.0 s
/// (smallest of 4)`. Margins are written `M s of L s[, short]` or
/// `none (...)`.
fn smallest_margins(list: &[(String, String)]) -> Vec<(String, String)> {
    let share = |v: &str| -> f64 {
        let mut parts = v.split(" s of ");
        let m = parts.next().and_then(|m| m.parse::<f64>().ok());
        let l = parts
            .next()
            .and_then(|l| l.split(" s").next())
            .and_then(|l| l.parse::<f64>().ok());
        match (m, l) {
            (Some(m), Some(l)) if l > 0.0 => m / l,
            _ => f64::NEG_INFINITY, // `none (...)`: the smallest of all
        }
    };
    let mut out: Vec<(String, String, usize)> = Vec::new();
    for (about, v) in list {
        match out.iter_mut().find(|(a, _, _)| a == about) {
            Some((_, best, n)) => {
                *n += 1;
                if share(v) < share(best) {
                    *best = v.clone();
                }
            }
            None => out.push((about.clone(), v.clone(), 1)),
        }
    }
    out.into_iter()
        .map(|(a, v, n)| {
            let v = if n > 1 {
                format!("{v} (smallest of {n})")
            } else {
                v
            };
            (a, v)
        })
        .collect()
}
