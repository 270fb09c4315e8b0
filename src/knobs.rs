//! The knobs of semantics.md: documented settings a target may choose (within
//! the rules) and scenarios read instead of hard-coding numbers. This is the one
//! place their names and reference defaults live.

use std::net::IpAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Knob values of one target. Defaults are the reference fixture's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Knobs {
    /// LT-1: lifetime of a token requested without `expiration` (Server path).
    pub short_lived_minutes: u64,
    /// LT-3: the clamp for `expiration` (Server path).
    pub max_expiration_minutes: u64,
    /// LT-1 on the Portal path (`/sharing/rest/generateToken`).
    pub portal_short_lived_minutes: u64,
    /// LT-3 on the Portal path.
    pub portal_max_expiration_minutes: u64,
    /// TS-4: GET generateToken allowed.
    pub allow_http_get: bool,
    /// TS-4: POST with credentials in the query string allowed.
    pub allow_post_query_params: bool,
    /// HP-5: web-tier authentication owns `Authorization`.
    pub web_tier_auth: bool,
    /// IP-2: peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// SL-8: sessions one access token may hold at once; `null` is unlimited.
    pub max_concurrent_sessions: Option<u32>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            short_lived_minutes: 60,
            max_expiration_minutes: 1440,
            portal_short_lived_minutes: 120,
            portal_max_expiration_minutes: 20160,
            allow_http_get: false,
            allow_post_query_params: false,
            web_tier_auth: false,
            trusted_proxies: Vec::new(),
            max_concurrent_sessions: None,
        }
    }
}

/// Why a knob could not be read or set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KnobError {
    #[error("unknown knob `{0}`; expected one of {list}", list = Knobs::NAMES.join(", "))]
    Unknown(String),
    #[error("knob `{name}` takes {expected}")]
    BadValue {
        name: String,
        expected: &'static str,
    },
}

impl Knobs {
    /// Every knob name, as scenarios and profiles write it.
    pub const NAMES: &'static [&'static str] = &[
        "short_lived_minutes",
        "max_expiration_minutes",
        "portal_short_lived_minutes",
        "portal_max_expiration_minutes",
        "allow_http_get",
        "allow_post_query_params",
        "web_tier_auth",
        "trusted_proxies",
        "max_concurrent_sessions",
    ];

    /// The value of one knob as JSON (`{{knobs.NAME}}` renders it).
    pub fn get(&self, name: &str) -> Result<serde_json::Value, KnobError> {
        let all = serde_json::to_value(self).expect("knobs serialize");
        all.get(name)
            .cloned()
            .ok_or_else(|| KnobError::Unknown(name.to_owned()))
    }

    /// A copy with one knob replaced.
    pub fn with(&self, name: &str, value: &serde_json::Value) -> Result<Knobs, KnobError> {
        let mut all = serde_json::to_value(self).expect("knobs serialize");
        let slot = all
            .get_mut(name)
            .ok_or_else(|| KnobError::Unknown(name.to_owned()))?;
        *slot = value.clone();
        serde_json::from_value(all).map_err(|_| KnobError::BadValue {
            name: name.to_owned(),
            expected: Self::expected(name),
        })
    }

    fn expected(name: &str) -> &'static str {
        match name {
            "allow_http_get" | "allow_post_query_params" | "web_tier_auth" => "true or false",
            "trusted_proxies" => "a list of IP addresses",
            "max_concurrent_sessions" => "a positive integer or null",
            _ => "a positive integer (minutes)",
        }
    }
}

/// The knob values a scenario states (`knobs:`), each checked against its
/// knob's type when the scenario is validated. Knobs it does not state are
/// left to the target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScenarioKnobs {
    /// The stated values over the reference defaults.
    values: Knobs,
    /// The names stated, in the order written.
    stated: Vec<&'static str>,
}

impl ScenarioKnobs {
    /// States `name` = `value`.
    pub fn set(&mut self, name: &str, value: &serde_json::Value) -> Result<(), KnobError> {
        let known = Knobs::NAMES
            .iter()
            .find(|n| **n == name)
            .ok_or_else(|| KnobError::Unknown(name.to_owned()))?;
        self.values = self.values.with(name, value)?;
        if !self.stated.contains(known) {
            self.stated.push(known);
        }
        Ok(())
    }

    /// Each stated knob with its value, in the order written.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, serde_json::Value)> + '_ {
        self.stated
            .iter()
            .filter_map(|n| Some((*n, self.values.get(n).ok()?)))
    }

    /// `base` with every stated knob replaced.
    pub fn apply(&self, base: &Knobs) -> Knobs {
        self.iter().fold(base.clone(), |k, (name, v)| {
            // Both sides are `Knobs`: a value read from one fits the other.
            k.with(name, &v).unwrap_or(k)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_readable_and_nothing_else() {
        let k = Knobs::default();
        for n in Knobs::NAMES {
            k.get(n).unwrap();
        }
        assert_eq!(k.get("short_lived_minutes").unwrap(), 60);
        assert!(matches!(k.get("nope"), Err(KnobError::Unknown(_))));
    }

    #[test]
    fn scenario_knobs_apply_only_what_they_state() {
        let mut s = ScenarioKnobs::default();
        assert_eq!(s.iter().count(), 0);
        s.set("web_tier_auth", &serde_json::json!(true)).unwrap();
        s.set("max_concurrent_sessions", &serde_json::json!(2))
            .unwrap();
        assert!(matches!(
            s.set("nope", &serde_json::json!(1)),
            Err(KnobError::Unknown(_))
        ));
        assert!(matches!(
            s.set("short_lived_minutes", &serde_json::json!("x")),
            Err(KnobError::BadValue { .. })
        ));
        let names: Vec<_> = s.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["web_tier_auth", "max_concurrent_sessions"]);
        let base = Knobs {
            short_lived_minutes: 5,
            ..Knobs::default()
        };
        let k = s.apply(&base);
        assert!(k.web_tier_auth);
        assert_eq!(k.max_concurrent_sessions, Some(2));
        assert_eq!(k.short_lived_minutes, 5);
    }

    #[test]
    fn with_replaces_and_type_checks() {
        let k = Knobs::default()
            .with("web_tier_auth", &serde_json::json!(true))
            .unwrap();
        assert!(k.web_tier_auth);
        assert!(matches!(
            k.with("web_tier_auth", &serde_json::json!("yes")),
            Err(KnobError::BadValue { .. })
        ));
    }
}
