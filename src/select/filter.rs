//! The filters of a selection: by id glob or exact instance id, area, rule
//! ID and profile.
//!
//! Within one kind of filter any value may match; across kinds all must
//! match. Values are checked when the filter is built (a bad glob, an
//! unknown rule ID or profile) or, for areas, against the loaded suite
//! ([`Filter::check_areas`]), so a typo is a usage error naming the valid
//! values and the closest one, not an empty run.
//!
//! A `--filter` value written exactly as an instance id is printed,
//! `area/name[case]`, selects that one case of a matrix scenario (as a glob
//! it would be a character class).

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::scenario::model::{Profile, Scenario};

/// A scenario filter; the default selects everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    ids: Option<GlobSet>,
    /// Exact instance ids: (scenario id, case name).
    instances: Vec<(String, String)>,
    areas: Vec<String>,
    rules: Vec<String>,
    profiles: Vec<String>,
}

/// A filter value that can match nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("bad --filter glob `{glob}`: {reason}")]
    Glob { glob: String, reason: String },
    #[error("unknown profile `{0}`{hint}; expected one of {known}", hint = did_you_mean(.0, &profile_names()), known = profile_names().join(", "))]
    Profile(String),
    #[error("unknown rule ID `{0}`{hint}; `tessera rules` lists them", hint = did_you_mean(.0, &rule_ids()))]
    Rule(String),
    #[error("unknown area `{area}`{hint}; the suite has {known}", hint = did_you_mean(area, &known.split(", ").collect::<Vec<_>>()))]
    Area { area: String, known: String },
}

fn rule_ids() -> Vec<&'static str> {
    crate::rules::RULES.iter().map(|r| r.id).collect()
}

/// ` (did you mean `x`?)` for the closest of `known`, when one is close.
pub fn did_you_mean(value: &str, known: &[&str]) -> String {
    let lower = value.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(&lower, &k.to_ascii_lowercase()), k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

/// `area/name[case]` as (scenario id, case), when `value` is written as an
/// exact instance id (no glob characters before the bracket).
fn instance_id(value: &str) -> Option<(String, String)> {
    let inner = value.strip_suffix(']')?;
    let (id, case) = inner.split_once('[')?;
    let plain = |s: &str| !s.is_empty() && !s.contains(['*', '?', '{', '}', '[', ']', '!']);
    (plain(id) && plain(case) && id.contains('/')).then(|| (id.to_owned(), case.to_owned()))
}

fn profile_names() -> Vec<&'static str> {
    Profile::ALL.iter().map(|p| p.as_str()).collect()
}

impl Filter {
    /// `ids` are globs over scenario ids (`lifetimes/*`, `*expired*`); `areas`,
    /// `rules` (`LT-5`) and `profiles` (`arcgis-token`) compare exactly.
    pub fn new(
        ids: &[String],
        areas: &[String],
        rules: &[String],
        profiles: &[String],
    ) -> Result<Filter, FilterError> {
        if let Some(p) = profiles
            .iter()
            .find(|p| !profile_names().contains(&p.as_str()))
        {
            return Err(FilterError::Profile(p.clone()));
        }
        if let Some(r) = rules
            .iter()
            .find(|r| !crate::rules::is_known(&r.to_ascii_uppercase()))
        {
            return Err(FilterError::Rule(r.clone()));
        }
        let instances: Vec<(String, String)> = ids.iter().filter_map(|v| instance_id(v)).collect();
        let globs: Vec<&String> = ids.iter().filter(|v| instance_id(v).is_none()).collect();
        let ids = if globs.is_empty() {
            None
        } else {
            let mut b = GlobSetBuilder::new();
            for g in globs.iter().copied() {
                b.add(Glob::new(g).map_err(|e| FilterError::Glob {
                    glob: g.clone(),
                    reason: e.kind().to_string(),
                })?);
            }
            Some(b.build().map_err(|e| {
                FilterError::Glob {
                    glob: globs
                        .iter()
                        .map(|g| g.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                    reason: e.to_string(),
                }
            })?)
        };
        Ok(Filter {
            ids,
            instances,
            areas: areas.to_vec(),
            rules: rules.iter().map(|r| r.to_ascii_uppercase()).collect(),
            profiles: profiles.to_vec(),
        })
    }

    /// An `--area` that no scenario of the loaded suite has is a usage
    /// error naming the suite's areas.
    pub fn check_areas(&self, all: &[Scenario]) -> Result<(), FilterError> {
        let mut known: Vec<&str> = all.iter().map(|s| s.area.as_str()).collect();
        known.sort_unstable();
        known.dedup();
        match self.areas.iter().find(|a| !known.contains(&a.as_str())) {
            None => Ok(()),
            Some(a) => Err(FilterError::Area {
                area: a.clone(),
                known: known.join(", "),
            }),
        }
    }

    /// Whether an id filter (glob or instance id) keeps the scenario.
    fn id_matches(&self, id: &str) -> bool {
        (self.ids.is_none() && self.instances.is_empty())
            || self.ids.as_ref().is_some_and(|g| g.is_match(id))
            || self.instances.iter().any(|(s, _)| s == id)
    }

    /// The cases of `s` to keep: `None` for all of them, or the names of
    /// the cases that exact instance ids select (when no glob selects the
    /// whole scenario).
    pub fn cases(&self, s: &Scenario) -> Option<Vec<String>> {
        if self.instances.is_empty() || self.ids.as_ref().is_some_and(|g| g.is_match(&s.id)) {
            return None;
        }
        Some(
            self.instances
                .iter()
                .filter(|(id, _)| *id == s.id)
                .map(|(_, c)| c.clone())
                .collect(),
        )
    }

    /// Whether `s` passes every kind of filter.
    pub fn matches(&self, s: &Scenario) -> bool {
        self.id_matches(&s.id)
            && (self.areas.is_empty() || self.areas.contains(&s.area))
            && (self.rules.is_empty()
                || s.rules
                    .iter()
                    .any(|r| self.rules.iter().any(|x| x == r.id.as_str())))
            && (self.profiles.is_empty() || self.profiles.iter().any(|p| p == s.profile.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::{Case, Profile};

    fn sc(id: &str, rules: &[&str], profile: Profile) -> Scenario {
        Scenario {
            file: "x.yaml".into(),
            id: id.into(),
            area: id.split('/').next().unwrap().into(),
            title: String::new(),
            description: None,
            rules: rules.iter().map(|r| r.parse().unwrap()).collect(),
            profile,
            requires: vec![],
            knobs: Default::default(),
            cases: vec![Case::default()],
            steps: vec![],
        }
    }

    fn ids(f: &Filter) -> Vec<String> {
        [
            sc("lifetimes/default", &["LT-1"], Profile::ArcgisToken),
            sc("lifetimes/expired", &["LT-5"], Profile::ArcgisToken),
            sc("sessions/start", &["SL-1"], Profile::BasemapSessions),
        ]
        .into_iter()
        .filter(|s| f.matches(s))
        .map(|s| s.id)
        .collect()
    }

    #[test]
    fn filters_combine() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(ids(&Filter::default()).len(), 3);
        assert_eq!(
            ids(&Filter::new(&s(&["*expired*"]), &[], &[], &[]).unwrap()),
            ["lifetimes/expired"]
        );
        assert_eq!(
            ids(&Filter::new(&[], &s(&["sessions"]), &[], &[]).unwrap()),
            ["sessions/start"]
        );
        assert_eq!(
            ids(&Filter::new(&[], &[], &s(&["lt-1"]), &[]).unwrap()),
            ["lifetimes/default"]
        );
        assert_eq!(
            ids(&Filter::new(&s(&["lifetimes/*"]), &[], &[], &s(&["basemap-sessions"])).unwrap()),
            Vec::<String>::new()
        );
        assert!(matches!(
            Filter::new(&s(&["a[b"]), &[], &[], &[]),
            Err(FilterError::Glob { .. })
        ));
        let e = Filter::new(&[], &[], &s(&["LT-99"]), &[]).unwrap_err();
        assert_eq!(e, FilterError::Rule("LT-99".into()));
        let e = Filter::new(&[], &[], &[], &s(&["arcgis-tokn"])).unwrap_err();
        assert!(
            e.to_string().contains("(did you mean `arcgis-token`?)"),
            "{e}"
        );
        let e = Filter::new(&[], &[], &[], &s(&["arcgis"])).unwrap_err();
        assert_eq!(e, FilterError::Profile("arcgis".into()));
        assert!(
            e.to_string().contains("expected one of arcgis-token, "),
            "{e}"
        );
    }

    #[test]
    fn an_exact_instance_id_selects_one_case() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let mut m = sc("hp/all", &["HP-2"], Profile::ArcgisToken);
        m.cases = ["a", "b"]
            .iter()
            .map(|n| Case {
                name: (*n).into(),
                ..Case::default()
            })
            .collect();
        let f = Filter::new(&s(&["hp/all[b]"]), &[], &[], &[]).unwrap();
        assert!(f.matches(&m));
        assert_eq!(f.cases(&m), Some(vec!["b".to_string()]));
        assert_eq!(ids(&f), Vec::<String>::new());
        // A glob that keeps the whole scenario wins over a single case.
        let f = Filter::new(&s(&["hp/all[b]", "hp/*"]), &[], &[], &[]).unwrap();
        assert_eq!(f.cases(&m), None);
        // A glob character class is still a glob.
        assert!(instance_id("hp/[ab]*").is_none());
        assert!(instance_id("hp/all[b*]").is_none());
    }

    #[test]
    fn an_unknown_area_names_the_suite_areas_and_the_closest() {
        let all = [
            sc("lifetimes/default", &["LT-1"], Profile::ArcgisToken),
            sc("sessions/start", &["SL-1"], Profile::BasemapSessions),
        ];
        let f = Filter::new(&[], &["lifetime".into()], &[], &[]).unwrap();
        let e = f.check_areas(&all).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown area `lifetime` (did you mean `lifetimes`?); the suite has lifetimes, sessions"
        );
        assert!(Filter::default().check_areas(&all).is_ok());
    }
}
