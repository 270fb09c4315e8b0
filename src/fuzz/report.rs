//! The JSON fuzz report (`tessera fuzz --json FILE`) and the merge of the
//! reports of a campaign spread over CI jobs (`tessera fuzz --partition
//! k/n` per job, then `tessera report merge`): what was tried (seed, cases,
//! operations by kind) and every divergence with its replay command and
//! regression file. Merged totals equal an unpartitioned run with the same
//! seed when no share diverged (a share stops at its first divergence, as
//! an unpartitioned run does at the first overall).
//!
//! Pure: the CLI reads and writes the files.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change; its presence marks a fuzz report.
pub const FUZZ_FORMAT_VERSION: u32 = 1;

/// One fuzz run, or a merged campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FuzzReport {
    pub fuzz_format_version: u32,
    /// `tessera X.Y.Z`.
    pub tool: String,
    /// `--target` as given.
    pub target: String,
    pub deviations: Vec<String>,
    /// `--knob` settings, `NAME=VALUE`.
    pub knobs: Vec<String>,
    pub seed: u64,
    /// Sequences of the whole campaign (`--cases`).
    pub cases: u32,
    pub max_steps: usize,
    /// The shares this report covers (`k/n`); empty when unpartitioned.
    pub partitions: Vec<String>,
    /// Sequences played.
    pub cases_run: u32,
    /// Operations played (shrinking included).
    pub ops_run: u64,
    pub ops_per_kind: BTreeMap<String, u64>,
    /// Summed over the jobs.
    pub elapsed_ms: u64,
    pub budget_exhausted: bool,
    pub divergences: Vec<FuzzDivergence>,
}

/// One divergence from the model, shrunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FuzzDivergence {
    /// The share that found it (`k/n`), if partitioned.
    pub partition: Option<String>,
    /// Expected vs observed, with the rules.
    pub summary: String,
    /// The minimal sequence's length (its last step diverges).
    pub steps: usize,
    pub shrunk_from: usize,
    /// The regression scenario written, if it could be.
    pub regression: Option<String>,
    /// The exact command that finds it again.
    pub replay: String,
}

/// Why fuzz reports cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FuzzMergeError {
    #[error("no fuzz report to merge")]
    Empty,
    #[error("the reports are of different campaigns: {0} differs")]
    Different(&'static str),
    #[error("a report is not one share of a partitioned campaign (`tessera fuzz --partition k/n`)")]
    NotAShare,
    #[error("shares do not cover the campaign once each: have {have}, need 1..={n} of {n}")]
    Shares { have: String, n: u32 },
}

impl FuzzReport {
    /// Merges the shares of one campaign into its summary.
    pub fn merge(reports: Vec<FuzzReport>) -> Result<FuzzReport, FuzzMergeError> {
        let first = reports.first().ok_or(FuzzMergeError::Empty)?.clone();
        let mut shares: Vec<(u32, u32)> = Vec::new();
        for r in &reports {
            let same = [
                ("tool", r.tool == first.tool),
                ("target", r.target == first.target),
                ("deviations", r.deviations == first.deviations),
                ("knobs", r.knobs == first.knobs),
                ("seed", r.seed == first.seed),
                ("cases", r.cases == first.cases),
                ("max_steps", r.max_steps == first.max_steps),
            ];
            if let Some((what, _)) = same.iter().find(|(_, ok)| !ok) {
                return Err(FuzzMergeError::Different(what));
            }
            for p in &r.partitions {
                let share = p
                    .parse::<crate::select::Partition>()
                    .map_err(|_| FuzzMergeError::NotAShare)?;
                shares.push((share.k, share.n));
            }
            if r.partitions.is_empty() {
                return Err(FuzzMergeError::NotAShare);
            }
        }
        let n = shares[0].1;
        let mut ks: Vec<u32> = shares.iter().map(|s| s.0).collect();
        ks.sort_unstable();
        if shares.iter().any(|s| s.1 != n) || ks != (1..=n).collect::<Vec<_>>() {
            return Err(FuzzMergeError::Shares {
                have: shares
                    .iter()
                    .map(|(k, n)| format!("{k}/{n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                n,
            });
        }
        let mut merged = FuzzReport {
            partitions: vec![],
            cases_run: 0,
            ops_run: 0,
            ops_per_kind: BTreeMap::new(),
            elapsed_ms: 0,
            budget_exhausted: false,
            divergences: vec![],
            ..first
        };
        let mut sorted = reports;
        sorted.sort_by(|a, b| a.partitions.cmp(&b.partitions));
        for r in sorted {
            merged.partitions.extend(r.partitions);
            merged.cases_run += r.cases_run;
            merged.ops_run += r.ops_run;
            for (k, v) in r.ops_per_kind {
                *merged.ops_per_kind.entry(k).or_default() += v;
            }
            merged.elapsed_ms += r.elapsed_ms;
            merged.budget_exhausted |= r.budget_exhausted;
            merged.divergences.extend(r.divergences);
        }
        Ok(merged)
    }

    /// The campaign summary as Markdown (for a CI job summary).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Tessera fuzz: {}\n\n**{}** · seed {} · {} of {} cases · {} operations{}\n",
            md(&self.target),
            if self.divergences.is_empty() {
                "NO DIVERGENCE"
            } else {
                "DIVERGED"
            },
            self.seed,
            self.cases_run,
            self.cases,
            self.ops_run,
            if self.partitions.is_empty() {
                String::new()
            } else {
                format!(" · shares {}", self.partitions.join(", "))
            }
        );
        out.push_str("| operation | count |\n|---|---:|\n");
        for (k, v) in &self.ops_per_kind {
            let _ = writeln!(out, "| {} | {v} |", md(k));
        }
        if !self.divergences.is_empty() {
            out.push_str("\n## Divergences\n\n");
            for d in &self.divergences {
                let _ = writeln!(
                    out,
                    "- {}{} ({} steps, shrunk from {})\n  - replay: `{}`{}",
                    d.partition
                        .as_deref()
                        .map(|p| format!("share {p}: "))
                        .unwrap_or_default(),
                    md(&d.summary),
                    d.steps,
                    d.shrunk_from,
                    d.replay.replace('`', "'"),
                    d.regression
                        .as_deref()
                        .map(|r| format!("\n  - regression: `{}`", r.replace('`', "'")))
                        .unwrap_or_default()
                );
            }
        }
        out
    }

    /// The campaign summary as one self-contained HTML page.
    pub fn html(&self) -> String {
        let mut rows = String::new();
        for (k, v) in &self.ops_per_kind {
            let _ = write!(rows, "<tr><td>{}</td><td>{v}</td></tr>", esc(k));
        }
        let mut divs = String::new();
        for d in &self.divergences {
            let _ = write!(
                divs,
                "<li>{}{} ({} steps, shrunk from {})<br>replay: <code>{}</code>{}</li>",
                d.partition
                    .as_deref()
                    .map(|p| format!("share {}: ", esc(p)))
                    .unwrap_or_default(),
                esc(&d.summary),
                d.steps,
                d.shrunk_from,
                esc(&d.replay),
                d.regression
                    .as_deref()
                    .map(|r| format!("<br>regression: <code>{}</code>", esc(r)))
                    .unwrap_or_default()
            );
        }
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Tessera fuzz: {t}</title>\
<style>body{{font:14px system-ui,sans-serif;max-width:1000px;margin:24px auto}}table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ddd;padding:3px 10px;text-align:left}}</style></head>\
<body><h1>Tessera fuzz: {t}</h1><p id=\"outcome\"><b>{o}</b> · seed {seed} · {run} of {cases} cases · {ops} operations{shares}</p>\
<table><tr><th>operation</th><th>count</th></tr>{rows}</table>{divs}</body></html>\n",
            t = esc(&self.target),
            o = if self.divergences.is_empty() {
                "NO DIVERGENCE"
            } else {
                "DIVERGED"
            },
            seed = self.seed,
            run = self.cases_run,
            cases = self.cases,
            ops = self.ops_run,
            shares = if self.partitions.is_empty() {
                String::new()
            } else {
                format!(" · shares {}", esc(&self.partitions.join(", ")))
            },
            divs = if divs.is_empty() {
                String::new()
            } else {
                format!("<h2>Divergences</h2><ul>{divs}</ul>")
            },
        )
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn md(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('`', "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(k: u32, n: u32, cases_run: u32, ops: u64) -> FuzzReport {
        FuzzReport {
            fuzz_format_version: FUZZ_FORMAT_VERSION,
            tool: "tessera test".into(),
            target: "reference".into(),
            deviations: vec![],
            knobs: vec![],
            seed: 7,
            cases: 10,
            max_steps: 30,
            partitions: vec![format!("{k}/{n}")],
            cases_run,
            ops_run: ops,
            ops_per_kind: [("generate-token".to_string(), ops)].into(),
            elapsed_ms: 5,
            budget_exhausted: false,
            divergences: vec![],
        }
    }

    #[test]
    fn shares_merge_into_the_campaign_and_must_cover_it_once() {
        let m = FuzzReport::merge(vec![share(2, 2, 5, 40), share(1, 2, 5, 60)]).unwrap();
        assert_eq!((m.cases_run, m.ops_run), (10, 100));
        assert_eq!(m.partitions, ["1/2", "2/2"]);
        assert_eq!(m.ops_per_kind["generate-token"], 100);
        assert!(
            m.markdown()
                .contains("**NO DIVERGENCE** · seed 7 · 10 of 10 cases")
        );
        assert!(m.html().contains("id=\"outcome\"><b>NO DIVERGENCE</b>"));
        let e = FuzzReport::merge(vec![share(1, 2, 5, 40)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "shares do not cover the campaign once each: have 1/2, need 1..=2 of 2"
        );
        let mut other = share(2, 2, 5, 40);
        other.seed = 8;
        assert_eq!(
            FuzzReport::merge(vec![share(1, 2, 5, 40), other]).unwrap_err(),
            FuzzMergeError::Different("seed")
        );
    }
}
