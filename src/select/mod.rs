//! Which scenarios run: the one place that turns the loaded suite and a
//! [`Selection`] (filters, `--rerun-failed` ids ([`failed_ids`]),
//! `--partition`) into the scenarios to play.
//!
//! The paths on the command line choose what is loaded; everything after
//! that is decided here, in a fixed order: the filters, then the rerun ids,
//! then the shard. "Nothing selected" has two kinds ([`NothingSelected`],
//! both exit 5); an empty shard, or a rerun whose failures fall outside the
//! filters, is not an error but a [`Note`] (the run then writes an empty
//! report, which a merge of every shard needs).
//!
//! Pure: no files, no printing, no running.

pub mod filter;
pub mod partition;

use std::fmt;

use crate::scenario::model::Scenario;

pub use filter::{Filter, FilterError};
pub use partition::Partition;

/// What to run out of the loaded suite; the default selects everything.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `--filter`, `--area`, `--rule`, `--profile`.
    pub filter: Filter,
    /// `--rerun-failed`: only these scenario ids (the failures of an earlier
    /// report). `Some(empty)` means nothing failed: nothing to rerun.
    pub rerun: Option<Vec<String>>,
    /// `--partition k/n`: only this shard, by scenario id, so every case of
    /// a matrix scenario stays together.
    pub partition: Option<Partition>,
}

/// The scenarios to run, in suite order, and what the user should be told.
#[derive(Debug, Clone)]
pub struct Selected {
    pub scenarios: Vec<Scenario>,
    pub notes: Vec<Note>,
}

/// Something worth telling about a selection that still runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A scenario that failed before is not among those the filters keep.
    RerunNotSelected(String),
    /// The shard has no scenario; the run writes an empty report.
    EmptyShard(Partition),
    /// `--filter 'area/name[case]'` names a case the scenario does not have.
    NoSuchCase {
        scenario: String,
        case: String,
        known: Vec<String>,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::RerunNotSelected(id) => write!(
                f,
                "`{id}` failed before but is not among the selected scenarios"
            ),
            Note::EmptyShard(p) => write!(f, "shard {p} has no scenario"),
            Note::NoSuchCase {
                scenario,
                case,
                known,
            } => write!(
                f,
                "`{scenario}` has no case `{case}`; its cases: {}",
                if known.iter().all(String::is_empty) {
                    "none (it has no matrix)".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        }
    }
}

/// Why nothing runs at all (exit 5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NothingSelected {
    #[error("nothing selected: no scenario matches the paths and filters")]
    NoMatch,
    #[error("nothing to rerun: nothing failed or errored in that report")]
    NothingToRerun,
    #[error("nothing selected: `{scenario}` has no case `{case}`; its cases: {known}")]
    NoSuchCase {
        scenario: String,
        case: String,
        known: String,
    },
}

/// `--rerun-failed REPORT.json`: the scenario ids that failed or errored in
/// a previous run, in report order, each once. `results` gives, per reported
/// instance, the scenario id from the file (not the matrix case id) and
/// whether it failed; rerunning a scenario reruns all its cases.
pub fn failed_ids<'a>(results: impl IntoIterator<Item = (&'a str, bool)>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (id, failed) in results {
        if failed && !out.iter().any(|o| o == id) {
            out.push(id.to_owned());
        }
    }
    out
}

/// Applies `selection` to the loaded suite `all`.
pub fn select(all: Vec<Scenario>, selection: &Selection) -> Result<Selected, NothingSelected> {
    let mut notes = Vec::new();
    let mut scenarios: Vec<Scenario> = Vec::new();
    for mut s in all.into_iter().filter(|s| selection.filter.matches(s)) {
        if let Some(names) = selection.filter.cases(&s) {
            for n in names
                .iter()
                .filter(|n| !s.cases.iter().any(|c| c.name == **n))
            {
                notes.push(Note::NoSuchCase {
                    scenario: s.id.clone(),
                    case: n.clone(),
                    known: s.cases.iter().map(|c| c.name.clone()).collect(),
                });
            }
            s.cases.retain(|c| names.contains(&c.name));
        }
        if !s.cases.is_empty() {
            scenarios.push(s);
        }
    }
    if scenarios.is_empty() {
        return match notes.into_iter().next() {
            Some(Note::NoSuchCase {
                scenario,
                case,
                known,
            }) => Err(NothingSelected::NoSuchCase {
                scenario,
                case,
                known: known.join(", "),
            }),
            _ => Err(NothingSelected::NoMatch),
        };
    }
    if let Some(ids) = &selection.rerun {
        if ids.is_empty() {
            return Err(NothingSelected::NothingToRerun);
        }
        scenarios.retain(|s| ids.contains(&s.id));
        notes.extend(
            ids.iter()
                .filter(|id| !scenarios.iter().any(|s| &s.id == *id))
                .map(|id| Note::RerunNotSelected(id.clone())),
        );
    }
    if let Some(p) = selection.partition {
        scenarios.retain(|s| p.contains(&s.id));
        if scenarios.is_empty() {
            notes.push(Note::EmptyShard(p));
        }
    }
    Ok(Selected { scenarios, notes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::{Case, Profile};

    fn sc(id: &str) -> Scenario {
        Scenario {
            file: "x.yaml".into(),
            id: id.into(),
            area: id.split('/').next().unwrap_or_default().into(),
            title: String::new(),
            description: None,
            rules: vec!["LT-1".parse().expect("a rule")],
            profile: Profile::ArcgisToken,
            requires: vec![],
            knobs: Default::default(),
            cases: vec![Case::default()],
            steps: vec![],
        }
    }

    fn suite() -> Vec<Scenario> {
        ["lifetimes/a", "lifetimes/b", "sessions/c", "sessions/d"]
            .into_iter()
            .map(sc)
            .collect()
    }

    fn ids(s: &Selected) -> Vec<&str> {
        s.scenarios.iter().map(|s| s.id.as_str()).collect()
    }

    fn area(a: &str) -> Filter {
        Filter::new(&[], &[a.to_owned()], &[], &[]).unwrap()
    }

    #[test]
    fn the_default_selects_everything_in_order() {
        let s = select(suite(), &Selection::default()).unwrap();
        assert_eq!(
            ids(&s),
            ["lifetimes/a", "lifetimes/b", "sessions/c", "sessions/d"]
        );
        assert!(s.notes.is_empty());
    }

    #[test]
    fn filters_that_match_nothing_are_nothing_selected() {
        let sel = Selection {
            filter: area("no-such-area"),
            ..Selection::default()
        };
        assert_eq!(select(suite(), &sel).unwrap_err(), NothingSelected::NoMatch);
        // Even with an empty rerun list: the filters are judged first.
        let sel = Selection {
            rerun: Some(vec![]),
            ..sel
        };
        assert_eq!(select(suite(), &sel).unwrap_err(), NothingSelected::NoMatch);
    }

    #[test]
    fn a_rerun_keeps_the_failures_the_filters_keep_and_notes_the_others() {
        let sel = Selection {
            filter: area("sessions"),
            rerun: Some(vec!["lifetimes/a".into(), "sessions/d".into()]),
            ..Selection::default()
        };
        let s = select(suite(), &sel).unwrap();
        assert_eq!(ids(&s), ["sessions/d"]);
        assert_eq!(s.notes, [Note::RerunNotSelected("lifetimes/a".into())]);
        assert_eq!(
            s.notes[0].to_string(),
            "`lifetimes/a` failed before but is not among the selected scenarios"
        );
    }

    #[test]
    fn failed_ids_name_each_failed_scenario_once_in_order() {
        let results = [
            ("hp/m", true), // case a
            ("hp/m", true), // case b
            ("lt/x", false),
            ("lt/e", true),
            ("lt/s", false),
        ];
        assert_eq!(failed_ids(results), ["hp/m", "lt/e"]);
        assert!(failed_ids([("lt/x", false)]).is_empty());
    }

    #[test]
    fn a_rerun_of_a_report_without_failures_is_nothing_to_rerun() {
        let sel = Selection {
            rerun: Some(vec![]),
            ..Selection::default()
        };
        assert_eq!(
            select(suite(), &sel).unwrap_err(),
            NothingSelected::NothingToRerun
        );
    }

    #[test]
    fn shards_split_the_selection_and_an_empty_one_is_a_note() {
        let shard = |k| {
            select(
                suite(),
                &Selection {
                    partition: Some(Partition { k, n: 3 }),
                    ..Selection::default()
                },
            )
            .unwrap()
        };
        let mut all: Vec<String> = (1..=3)
            .flat_map(|k| shard(k).scenarios.into_iter().map(|s| s.id))
            .collect();
        all.sort();
        assert_eq!(
            all,
            ["lifetimes/a", "lifetimes/b", "sessions/c", "sessions/d"]
        );
        // One scenario in four shards: at least three are empty, and say so.
        let one = |k| {
            select(
                vec![sc("lifetimes/a")],
                &Selection {
                    partition: Some(Partition { k, n: 4 }),
                    ..Selection::default()
                },
            )
            .unwrap()
        };
        let empty: Vec<Selected> = (1..=4)
            .map(one)
            .filter(|s| s.scenarios.is_empty())
            .collect();
        assert_eq!(empty.len(), 3);
        assert!(matches!(empty[0].notes[..], [Note::EmptyShard(_)]));
    }
}
