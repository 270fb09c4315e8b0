//! Reading JSON reports back, and merging the reports of a sharded run
//! (`tessera report merge A.json B.json ... --out DIR`) into the report an
//! unsharded run would have written.
//!
//! Merging is pure and refuses anything that could make the merged verdicts
//! lie: different format versions, tools or targets, one scenario id with two
//! different results, or an incomplete or repeated set of shards. It writes
//! no files; the caller renders every format from the result.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::model::{Policy, REPORT_FORMAT_VERSION, Report, ScenarioReport};
use crate::select::partition::Partition;

/// A JSON report that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", file.display())]
pub struct ReadError {
    pub file: PathBuf,
    pub kind: ReadErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadErrorKind {
    #[error("cannot read the file: {0}")]
    Io(String),
    #[error("not a Tessera JSON report: {0}")]
    Json(String),
    #[error("report format_version {found}; this tessera reads version {REPORT_FORMAT_VERSION}")]
    Version { found: u64 },
}

/// Parses a JSON report's text, checking `format_version` first so that a
/// report from another version gets a clear message rather than a field
/// error.
pub fn parse_report(text: &str, file: &Path) -> Result<Report, ReadError> {
    let err = |kind| ReadError {
        file: file.to_owned(),
        kind,
    };
    let raw: serde_json::Value =
        serde_json::from_str(text).map_err(|e| err(ReadErrorKind::Json(e.to_string())))?;
    match raw.get("format_version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(REPORT_FORMAT_VERSION) => {}
        Some(found) => return Err(err(ReadErrorKind::Version { found })),
        None => {
            return Err(err(ReadErrorKind::Json(
                "no integer `format_version` field".into(),
            )));
        }
    }
    serde_json::from_value(raw).map_err(|e| err(ReadErrorKind::Json(e.to_string())))
}

/// Reads a JSON report file.
pub fn read_report(file: &Path) -> Result<Report, ReadError> {
    let text = std::fs::read_to_string(file).map_err(|e| ReadError {
        file: file.to_owned(),
        kind: ReadErrorKind::Io(e.to_string()),
    })?;
    parse_report(&text, file)
}

/// Why reports cannot be merged. `index` is the 0-based position of the
/// offending report in the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge")]
    Empty,
    #[error("report #{index} has format_version {found}, expected {REPORT_FORMAT_VERSION}")]
    Version { index: usize, found: u32 },
    #[error("report #{index} was written by `{found}`, the first by `{first}`")]
    Tool {
        index: usize,
        found: String,
        first: String,
    },
    #[error("report #{index} tested another target than the first ({what} differs)")]
    Target { index: usize, what: &'static str },
    #[error("scenario `{id}` appears in reports #{first} and #{index} with different results")]
    Duplicate {
        id: String,
        first: usize,
        index: usize,
    },
    #[error("report #{index} has partition `{found}`, which is not `k/n`")]
    BadPartition { index: usize, found: String },
    #[error("reports mix shards and unsharded runs (report #{index})")]
    MixedPartitions { index: usize },
    #[error("shard counts differ: {a} and {b}")]
    ShardCount { a: u32, b: u32 },
    #[error("report #{index} is report #{first} again (the same run given twice)")]
    RepeatedReport { index: usize, first: usize },
    #[error("shard {0} is given twice")]
    RepeatedShard(Partition),
    #[error("shards missing: {}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "))]
    MissingShards(Vec<Partition>),
}

/// Merges reports into one. With shards (`partition: k/n` in every report)
/// all n must be present once; without, the reports are simply combined.
///
/// The result: the first report's tool and target, the earliest
/// `started_at`, the longest `duration_ms` (shards run side by side), no
/// partition, and the scenarios in suite order (by file, keeping each file's
/// order), which is the order an unsharded run reports them in. Its outcome
/// is decided again from the merged scenarios by
/// [`super::gate::decide_merged`] (no baseline: the shards' marks and
/// expired entries count; `policy` adds to the shards' switches).
pub fn merge(reports: Vec<Report>, policy: Policy) -> Result<Report, MergeError> {
    let first = reports.first().ok_or(MergeError::Empty)?;
    for (index, r) in reports.iter().enumerate() {
        if r.format_version != REPORT_FORMAT_VERSION {
            return Err(MergeError::Version {
                index,
                found: r.format_version,
            });
        }
        if r.tool != first.tool {
            return Err(MergeError::Tool {
                index,
                found: r.tool.clone(),
                first: first.tool.clone(),
            });
        }
        let (a, b) = (&first.target, &r.target);
        let what = if a.name != b.name {
            Some("name")
        } else if a.base_url != b.base_url {
            Some("base_url")
        } else if a.profiles != b.profiles {
            Some("profiles")
        } else if a.capabilities != b.capabilities {
            Some("capabilities")
        } else if a.knobs != b.knobs {
            Some("knobs")
        } else if a.deviations != b.deviations {
            Some("deviations")
        } else {
            None
        };
        if let Some(what) = what {
            return Err(MergeError::Target { index, what });
        }
    }
    check_shards(&reports)?;
    // The same file twice is a mistake in the command line (shards
    // given twice are reported as such above).
    for (index, r) in reports.iter().enumerate() {
        if let Some(first) = reports[..index].iter().position(|o| o == r) {
            return Err(MergeError::RepeatedReport { index, first });
        }
    }

    let mut seen: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut scenarios: Vec<ScenarioReport> = Vec::new();
    for (index, r) in reports.iter().enumerate() {
        for s in &r.scenarios {
            match seen.get(&s.id) {
                Some(&(first, pos)) => {
                    if scenarios[pos] != *s {
                        return Err(MergeError::Duplicate {
                            id: s.id.clone(),
                            first,
                            index,
                        });
                    }
                }
                None => {
                    seen.insert(s.id.clone(), (index, scenarios.len()));
                    scenarios.push(s.clone());
                }
            }
        }
    }
    // Stable: cases of one scenario (always in one shard) keep their order.
    scenarios.sort_by(|a, b| a.file.cmp(&b.file));

    let started_at = reports
        .iter()
        .map(|r| r.started_at.clone())
        .min_by(
            |a, b| match (a.parse::<jiff::Timestamp>(), b.parse::<jiff::Timestamp>()) {
                (Ok(x), Ok(y)) => x.cmp(&y),
                _ => a.cmp(b),
            },
        )
        .unwrap_or_default();
    let mut merged = Report {
        format_version: REPORT_FORMAT_VERSION,
        tool: first.tool.clone(),
        started_at,
        duration_ms: reports.iter().map(|r| r.duration_ms).max().unwrap_or(0),
        target: first.target.clone(),
        partition: None,
        scenarios,
        outcome: None,
    };
    let shards: Vec<_> = reports.into_iter().map(|r| r.outcome).collect();
    super::gate::decide_merged(&mut merged, &shards, policy);
    Ok(merged)
}

fn check_shards(reports: &[Report]) -> Result<(), MergeError> {
    let sharded = reports.first().is_some_and(|r| r.partition.is_some());
    let mut shards: Vec<Partition> = Vec::new();
    for (index, r) in reports.iter().enumerate() {
        match (&r.partition, sharded) {
            (Some(p), true) => shards.push(p.parse().map_err(|_| MergeError::BadPartition {
                index,
                found: p.clone(),
            })?),
            (None, false) => {}
            _ => return Err(MergeError::MixedPartitions { index }),
        }
    }
    let Some(n) = shards.first().map(|p| p.n) else {
        return Ok(());
    };
    let mut present = std::collections::BTreeSet::new();
    for p in &shards {
        if p.n != n {
            return Err(MergeError::ShardCount { a: n, b: p.n });
        }
        if !present.insert(p.k) {
            return Err(MergeError::RepeatedShard(*p));
        }
    }
    // Bounded: `n` comes from a file and may be absurd.
    let missing: Vec<Partition> = (1..=n)
        .filter(|k| !present.contains(k))
        .take(20)
        .map(|k| Partition { k, n })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(MergeError::MissingShards(missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;
    use crate::report::model::tests::{report, scenario};

    fn merge_plain(reports: Vec<Report>) -> Result<Report, MergeError> {
        merge(reports, Policy::default())
    }

    fn suite() -> Report {
        let mut scenarios = Vec::new();
        for i in 0..12 {
            let area = ["lifetimes", "sessions", "header-precedence"][i % 3];
            let v = [
                Verdict::Pass,
                Verdict::Fail,
                Verdict::Skipped,
                Verdict::Error,
            ][i % 4];
            let failed: &[&str] = if v == Verdict::Fail { &["LT-5"] } else { &[] };
            scenarios.push(scenario(&format!("{area}/s{i:02}"), &["LT-5"], v, failed));
        }
        // A matrix scenario with three cases, in one file.
        for case in ["a", "b", "c"] {
            let mut s = scenario("header-precedence/hp2", &["HP-2"], Verdict::Pass, &[]);
            s.id = format!("header-precedence/hp2[{case}]");
            s.case = Some(case.into());
            scenarios.push(s);
        }
        scenarios.sort_by(|a, b| a.file.cmp(&b.file));
        report(scenarios)
    }

    fn shard(full: &Report, k: u32, n: u32) -> Report {
        let mut r = full.clone();
        r.partition = Some(format!("{k}/{n}"));
        r.duration_ms = u64::from(k);
        r.scenarios
            .retain(|s| crate::select::partition::in_partition(&s.scenario, k, n));
        r
    }

    #[test]
    fn merged_shards_equal_the_unsharded_run() {
        let full = suite();
        for n in 1..=4 {
            let shards: Vec<Report> = (1..=n).rev().map(|k| shard(&full, k, n)).collect();
            let merged = merge_plain(shards).unwrap();
            assert_eq!(merged.scenarios, full.scenarios, "n={n}");
            assert_eq!(merged.rule_verdicts(), full.rule_verdicts());
            assert_eq!(merged.totals(), full.totals());
            assert_eq!(merged.partition, None);
            assert_eq!(merged.duration_ms, u64::from(n));
            // Decided again from the merged scenarios: as the whole run.
            let mut whole = full.clone();
            crate::report::gate::gate(&mut whole, Policy::default());
            assert_eq!(merged.outcome, whole.outcome, "n={n}");
        }
    }

    #[test]
    fn refuses_what_would_lie() {
        let full = suite();
        let s = |k, n| shard(&full, k, n);
        assert_eq!(merge_plain(vec![]), Err(MergeError::Empty));
        assert_eq!(
            merge_plain(vec![s(1, 3), s(3, 3)]),
            Err(MergeError::MissingShards(vec![Partition { k: 2, n: 3 }]))
        );
        assert_eq!(
            merge_plain(vec![s(1, 2), s(1, 2), s(2, 2)]),
            Err(MergeError::RepeatedShard(Partition { k: 1, n: 2 }))
        );
        assert_eq!(
            merge_plain(vec![s(1, 2), s(2, 3)]),
            Err(MergeError::ShardCount { a: 2, b: 3 })
        );
        assert_eq!(
            merge_plain(vec![s(1, 2), full.clone()]),
            Err(MergeError::MixedPartitions { index: 1 })
        );
        assert_eq!(
            merge_plain(vec![full.clone(), s(1, 1)]),
            Err(MergeError::MixedPartitions { index: 1 })
        );
        let mut other = s(2, 2);
        other.target.base_url = "http://127.0.0.1:2".into();
        assert_eq!(
            merge_plain(vec![s(1, 2), other]),
            Err(MergeError::Target {
                index: 1,
                what: "base_url"
            })
        );
        let mut other = full.clone();
        other.scenarios[0].verdict = Verdict::Error;
        assert!(matches!(
            merge_plain(vec![full.clone(), other]),
            Err(MergeError::Duplicate {
                first: 0,
                index: 1,
                ..
            })
        ));
        let mut huge = full.clone();
        huge.partition = Some("1/4000000000".into());
        match merge_plain(vec![huge]) {
            Err(MergeError::MissingShards(m)) => assert_eq!(m.len(), 20),
            other => panic!("{other:?}"),
        }
        // The same report twice is refused...
        assert!(matches!(
            merge_plain(vec![full.clone(), full.clone()]),
            Err(MergeError::RepeatedReport { index: 1, first: 0 })
        ));
        // ...while identical results from two runs are fine.
        let mut later = full.clone();
        later.started_at = "2099-01-01T00:00:00Z".into();
        assert_eq!(
            merge_plain(vec![full.clone(), later]).unwrap().scenarios,
            full.scenarios
        );
    }

    #[test]
    fn reads_json_and_checks_the_version() {
        let full = suite();
        let p = Path::new("r.json");
        let text = serde_json::to_string(&full).unwrap();
        assert_eq!(parse_report(&text, p).unwrap(), full);
        let mut raw: serde_json::Value = serde_json::from_str(&text).unwrap();
        raw["format_version"] = 99.into();
        let e = parse_report(&raw.to_string(), p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "r.json: report format_version 99; this tessera reads version 2"
        );
        assert!(parse_report("{}", p).is_err());
        assert!(parse_report("not json", p).is_err());
    }
}
