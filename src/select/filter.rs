//! The filters of a selection: by id glob, area, rule ID and profile.
//!
//! Within one kind of filter any value may match; across kinds all must
//! match. Values are checked when the filter is built (a bad glob, an
//! unknown profile), so a typo is a usage error and not an empty run.

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::scenario::model::{Profile, Scenario};

/// A scenario filter; the default selects everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    ids: Option<GlobSet>,
    areas: Vec<String>,
    rules: Vec<String>,
    profiles: Vec<String>,
}

/// A filter value that can match nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("bad --filter glob `{glob}`: {reason}")]
    Glob { glob: String, reason: String },
    #[error("unknown profile `{0}`; expected one of {known}", known = profile_names().join(", "))]
    Profile(String),
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
        let ids = if ids.is_empty() {
            None
        } else {
            let mut b = GlobSetBuilder::new();
            for g in ids {
                b.add(Glob::new(g).map_err(|e| FilterError::Glob {
                    glob: g.clone(),
                    reason: e.kind().to_string(),
                })?);
            }
            Some(b.build().map_err(|e| FilterError::Glob {
                glob: ids.join(" "),
                reason: e.to_string(),
            })?)
        };
        Ok(Filter {
            ids,
            areas: areas.to_vec(),
            rules: rules.iter().map(|r| r.to_ascii_uppercase()).collect(),
            profiles: profiles.to_vec(),
        })
    }

    /// Whether `s` passes every kind of filter.
    pub fn matches(&self, s: &Scenario) -> bool {
        self.ids.as_ref().is_none_or(|g| g.is_match(&s.id))
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
        let e = Filter::new(&[], &[], &[], &s(&["arcgis"])).unwrap_err();
        assert_eq!(e, FilterError::Profile("arcgis".into()));
        assert!(
            e.to_string().contains("expected one of arcgis-token, "),
            "{e}"
        );
    }
}
