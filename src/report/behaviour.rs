//! The behaviour profile: which variant of each VARIANT rule the target
//! showed, and the run-level findings it leads to (semantics.md, "Levels,
//! variants and verdicts"). Decided with the outcome, by the gate and by
//! `report merge` alike ([`decide`]); writers only render it.
//!
//! - A step's answer shows a variant when exactly one of its named
//!   alternatives held ([`VariantMatch::shown`]); an answer that several
//!   alternatives fit tells them apart not, and is not counted.
//! - Different variants of one rule (or HP-2 pair) in different cases fail
//!   the run.
//! - HP-2: the pairwise winners must form one strict order of the carriers
//!   (no cycle), and the winner of every stack of three or more carriers
//!   must beat the stack's other carriers wherever that pair was shown.
//! - A variant the target profile declares fails the run when another one
//!   is shown; one that no case showed is a note.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{BehaviourProfile, Finding, Report, ShownIn, VariantShown};
use crate::rules::{CARRIERS, RULES};

/// The profile of `report`, with the findings that fail the run (reasons)
/// and those worth saying (notes).
pub fn decide(report: &Report) -> (BehaviourProfile, Vec<Finding>, Vec<Finding>) {
    // (rule, dimension) -> variant -> cases (in report order, each once).
    let mut seen: BTreeMap<(String, String), BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for s in &report.scenarios {
        for m in s.steps.iter().flat_map(|st| &st.variants) {
            let Some(name) = m.shown() else { continue };
            let cases = seen
                .entry((m.rule.clone(), m.dimension.clone()))
                .or_default()
                .entry(name.to_owned())
                .or_default();
            if !cases.contains(&s.id) {
                cases.push(s.id.clone());
            }
        }
    }
    for key in report.target.declared_variants.keys() {
        let (rule, dim) = split_key(key);
        seen.entry((rule, dim)).or_default();
    }
    let mut variants: Vec<VariantShown> = seen
        .into_iter()
        .map(|((rule, dimension), shown)| {
            let key = if dimension.is_empty() {
                rule.clone()
            } else {
                format!("{rule} {dimension}")
            };
            VariantShown {
                declared: report.target.declared_variants.get(&key).cloned(),
                rule,
                dimension,
                shown: shown
                    .into_iter()
                    .map(|(name, cases)| ShownIn { name, cases })
                    .collect(),
            }
        })
        .collect();
    variants.sort_by_key(order_key);

    let mut reasons = Vec::new();
    let mut notes = Vec::new();
    for v in &variants {
        if v.shown.len() > 1 {
            reasons.push(Finding::MixedVariants {
                rule: v.key(),
                shown: v.shown.clone(),
            });
        }
        if let Some(declared) = &v.declared {
            let shown: Vec<String> = v.shown.iter().map(|s| s.name.clone()).collect();
            let finding = Finding::UndeclaredVariant {
                rule: v.key(),
                declared: declared.clone(),
                shown: shown.clone(),
            };
            if shown.is_empty() {
                notes.push(finding);
            } else if shown != [declared.clone()] {
                reasons.push(finding);
            }
        }
    }
    // HP-2 stacks, with every alternative that held (an answer that only
    // tells the top carrier from the rest still says who is not on top).
    let stacks: Vec<(String, Vec<String>)> = report
        .scenarios
        .iter()
        .flat_map(|s| s.steps.iter().flat_map(|st| &st.variants))
        .filter(|m| m.rule == "HP-2" && m.dimension.split('/').count() > 2)
        .filter(|m| !m.matched.is_empty())
        .map(|m| (m.dimension.clone(), m.matched.clone()))
        .collect();
    let (carrier_order, problems) = carrier_order(&variants, &stacks);
    reasons.extend(
        problems
            .into_iter()
            .map(|problem| Finding::CarrierOrder { problem }),
    );
    (
        BehaviourProfile {
            variants,
            carrier_order,
        },
        reasons,
        notes,
    )
}

/// `HP-2 x-esri/query` -> (`HP-2`, `x-esri/query`).
fn split_key(key: &str) -> (String, String) {
    match key.split_once(' ') {
        Some((r, d)) => (r.to_owned(), d.trim().to_owned()),
        None => (key.to_owned(), String::new()),
    }
}

/// semantics.md's order: the rule's place, then the dimension's (stacks,
/// which are not listed dimensions, after the pairs).
fn order_key(v: &VariantShown) -> (usize, usize, String) {
    let rule = RULES.iter().position(|r| r.id == v.rule);
    let dim = rule
        .and_then(|i| {
            RULES[i]
                .dimensions
                .iter()
                .position(|d| d.name == v.dimension)
        })
        .unwrap_or(usize::MAX);
    (rule.unwrap_or(usize::MAX), dim, v.dimension.clone())
}

/// HP-2: the carrier order the pairwise winners give (when they order every
/// carrier they mention, each pair known), and what is wrong with them.
fn carrier_order(
    variants: &[VariantShown],
    stacks: &[(String, Vec<String>)],
) -> (Option<Vec<String>>, Vec<String>) {
    let idx = |c: &str| CARRIERS.iter().position(|k| *k == c);
    let n = CARRIERS.len();
    // beats[a][b]: a pair showed a winning over b.
    let mut beats = vec![vec![false; n]; n];
    let mut involved = BTreeSet::new();
    for v in variants.iter().filter(|v| v.rule == "HP-2") {
        let [one] = v.shown.as_slice() else { continue };
        let carriers: Vec<usize> = v.dimension.split('/').filter_map(idx).collect();
        let Some(winner) = idx(&one.name) else {
            continue;
        };
        if carriers.len() == 2 {
            for c in &carriers {
                involved.insert(*c);
                if *c != winner {
                    beats[winner][*c] = true;
                }
            }
        }
    }
    let mut problems = Vec::new();
    // Transitive closure: a carrier reaching itself is a cycle.
    let mut reach = beats.clone();
    for k in 0..n {
        for i in 0..n {
            for j in 0..n {
                if reach[i][k] && reach[k][j] {
                    reach[i][j] = true;
                }
            }
        }
    }
    let cyclic: Vec<&str> = (0..n)
        .filter(|i| reach[*i][*i])
        .map(|i| CARRIERS[i])
        .collect();
    if !cyclic.is_empty() {
        let pairs: Vec<String> = (0..n)
            .flat_map(|a| (0..n).map(move |b| (a, b)))
            .filter(|(a, b)| beats[*a][*b] && reach[*b][*a])
            .map(|(a, b)| format!("{} beats {}", CARRIERS[a], CARRIERS[b]))
            .collect();
        problems.push(format!(
            "the pairwise winners form no strict order of the carriers ({})",
            pairs.join(", ")
        ));
    }
    // A stack's answer must fit its top carrier in the pairs' order (the
    // one above every other carrier of the stack), when there is one.
    let mut stack_problems = BTreeSet::new();
    for (dim, matched) in stacks {
        let carriers: Vec<usize> = dim.split('/').filter_map(idx).collect();
        let top = carriers.iter().copied().find(|t| {
            carriers
                .iter()
                .all(|c| c == t || (reach[*t][*c] && !reach[*c][*t]))
        });
        if let Some(top) = top
            && !matched.iter().any(|m| m == CARRIERS[top])
        {
            stack_problems.insert(format!(
                "the stack {dim} was won by {}, but the pairs put {} on top",
                matched.join(" | "),
                CARRIERS[top]
            ));
        }
    }
    problems.extend(stack_problems);
    let complete = involved.iter().all(|a| {
        involved
            .iter()
            .all(|b| a == b || beats[*a][*b] || beats[*b][*a])
    });
    let order = (cyclic.is_empty() && complete && !involved.is_empty()).then(|| {
        let mut v: Vec<usize> = involved.iter().copied().collect();
        v.sort_by_key(|a| std::cmp::Reverse(beats[*a].iter().filter(|b| **b).count()));
        v.into_iter().map(|i| CARRIERS[i].to_owned()).collect()
    });
    (order, problems)
}

/// The profile as short lines for the console: one per rule; HP-2's
/// pairs and stacks folded into its carrier order unless they mix.
pub fn console_lines(p: &BehaviourProfile) -> Vec<String> {
    let mut out = Vec::new();
    let mut hp2 = 0;
    for v in &p.variants {
        if v.rule == "HP-2" && v.shown.len() == 1 {
            hp2 += 1;
            continue;
        }
        let declared = v
            .declared
            .as_ref()
            .map(|d| format!(" [declared: {d}]"))
            .unwrap_or_default();
        out.push(format!("{}: {}{declared}", v.key(), v.summary()));
    }
    if hp2 > 0 || p.carrier_order.is_some() {
        out.push(format!(
            "HP-2: carrier order {} ({hp2} pairs and stacks shown)",
            order_text(p)
        ));
    }
    out
}

/// `x-esri > authorization > query > body > cookie`, or why there is none.
pub fn order_text(p: &BehaviourProfile) -> String {
    match &p.carrier_order {
        Some(o) => o.join(" > "),
        None => "not determined".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::tests::{report, scenario};
    use crate::report::model::{VariantMatch, Verdict};

    fn with(id: &str, matches: &[(&str, &str, &[&str])]) -> crate::report::ScenarioReport {
        let mut s = scenario(id, &["TS-4"], Verdict::Pass, &[]);
        s.steps[0].variants = matches
            .iter()
            .map(|(rule, dim, names)| VariantMatch {
                rule: rule.to_string(),
                dimension: dim.to_string(),
                matched: names.iter().map(|n| n.to_string()).collect(),
            })
            .collect();
        s
    }

    #[test]
    fn one_variant_everywhere_is_a_profile_and_a_mix_fails() {
        let r = report(vec![
            with("issuance/a", &[("TS-4", "", &["400"])]),
            with("issuance/b", &[("TS-4", "", &["400"])]),
            with("issuance/c", &[("TS-4", "", &["405", "400"])]),
        ]);
        let (p, reasons, _) = decide(&r);
        assert!(reasons.is_empty(), "{reasons:?}");
        assert_eq!(p.variants.len(), 1);
        assert_eq!(p.variants[0].summary(), "400 (2 cases)");

        let r = report(vec![
            with("issuance/a", &[("TS-4", "", &["400"])]),
            with("issuance/b", &[("TS-4", "", &["405"])]),
        ]);
        let (_, reasons, _) = decide(&r);
        let text = reasons[0].to_string();
        assert!(text.contains("TS-4 fail"), "{text}");
        assert!(text.contains("400 in issuance/a"), "{text}");
        assert!(text.contains("405 in issuance/b"), "{text}");
    }

    #[test]
    fn settling_again_does_not_repeat_a_mix() {
        let mut r = report(vec![
            with("issuance/a", &[("TS-4", "", &["400"])]),
            with("issuance/b", &[("TS-4", "", &["405"])]),
        ]);
        crate::report::gate::gate(&mut r, Default::default());
        let o = crate::report::gate::apply_coverage_gates(&mut r, &Default::default());
        let mixes = o
            .reasons
            .iter()
            .filter(|f| matches!(f, Finding::MixedVariants { .. }))
            .count();
        assert_eq!(mixes, 1, "{:?}", o.reasons);
    }

    #[test]
    fn carrier_order_from_pairs_cycles_and_stacks() {
        let mk = |pairs: &[(&str, &str)], stacks: &[(&str, &str)]| {
            let mut ss = Vec::new();
            for (i, (dim, w)) in pairs.iter().chain(stacks).enumerate() {
                let mut s = with(&format!("header-precedence/x{i}"), &[]);
                s.steps[0].variants.push(VariantMatch {
                    rule: "HP-2".into(),
                    dimension: dim.to_string(),
                    matched: vec![w.to_string()],
                });
                ss.push(s);
            }
            decide(&report(ss))
        };
        let (p, reasons, _) = mk(
            &[
                ("x-esri/query", "query"),
                ("x-esri/cookie", "x-esri"),
                ("query/cookie", "query"),
            ],
            &[("x-esri/query/cookie", "query")],
        );
        assert!(reasons.is_empty(), "{reasons:?}");
        assert_eq!(
            p.carrier_order,
            Some(vec!["query".into(), "x-esri".into(), "cookie".into()])
        );
        // A cycle.
        let (p, reasons, _) = mk(
            &[
                ("x-esri/query", "query"),
                ("x-esri/cookie", "x-esri"),
                ("query/cookie", "cookie"),
            ],
            &[],
        );
        assert_eq!(p.carrier_order, None);
        assert!(
            reasons[0].to_string().contains("no strict order"),
            "{:?}",
            reasons
        );
        // A stack that disagrees with the pairs.
        let (_, reasons, _) = mk(
            &[("x-esri/query", "query"), ("query/cookie", "query")],
            &[("x-esri/query/cookie", "x-esri")],
        );
        assert!(
            reasons[0]
                .to_string()
                .contains("won by x-esri, but the pairs put query on top"),
            "{reasons:?}"
        );
    }

    #[test]
    fn a_declared_variant_must_be_the_one_shown() {
        let mut r = report(vec![with("issuance/a", &[("TS-4", "", &["400"])])]);
        r.target
            .declared_variants
            .insert("TS-4".into(), "405".into());
        r.target
            .declared_variants
            .insert("HP-8".into(), "checked".into());
        let (p, reasons, notes) = decide(&r);
        assert_eq!(reasons.len(), 1);
        assert!(
            reasons[0]
                .to_string()
                .contains("declares `405`, the target showed 400"),
            "{reasons:?}"
        );
        assert_eq!(notes.len(), 1, "HP-8 was not shown: a note");
        assert_eq!(p.variants[0].rule, "TS-4", "semantics.md's order");
        assert_eq!(p.variants[1].rule, "HP-8");
    }
}
