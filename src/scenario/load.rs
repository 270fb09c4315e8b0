//! Reading scenario files: the only module that touches the YAML crate.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::diagnostic::{Diagnostic, DiagnosticKind};
use super::model::{Loc, Spanned};

/// Parses YAML text into any serde type, mapping reader errors to a
/// [`Diagnostic`] at the reader's location. Reference configs and target
/// profiles come through here too, so this stays the one YAML door.
pub fn parse_yaml<T: DeserializeOwned>(text: &str, file: &Path) -> Result<T, Diagnostic> {
    serde_saphyr::from_str(text).map_err(|e| {
        let loc = e
            .location()
            .map(|l| Loc {
                line: l.line() as u32,
                column: l.column() as u32,
            })
            .unwrap_or_default();
        Diagnostic::new(file, loc, DiagnosticKind::Yaml(e.to_string()))
    })
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<T>::deserialize(d)?;
        let loc = Loc {
            line: s.referenced.line() as u32,
            column: s.referenced.column() as u32,
        };
        Ok(Spanned {
            value: s.value,
            loc,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::ScenarioFile;

    #[test]
    fn issue_example_parses() {
        let src = r#"version: 1
id: lifetimes/default-expiration
title: A token requested without expiration lives short_lived_minutes
rules: [LT-1, LT-5]
profile: arcgis-token
requires: [clock-control]
steps:
  - request:
      endpoint: generate_token
      form: {username: "{{user.name}}", password: "{{user.password}}", f: json, expiration: 5, client: ~}
    expect:
      status: 200
      json:
        $.expires: {equals: "{{now}} + {{knobs.short_lived_minutes}}m"}
    capture: {token: $.token}
  - advance: 59m 59s 999ms
  - request: {endpoint: secured_service, headers: {X-Esri-Authorization: "Bearer {{token}}"}}
    expect: {status: 200, no_error: true}
  - advance: 1ms
  - request: {endpoint: secured_service, query: {token: "{{token}}"}}
    expect: {arcgis_error: 498}
"#;
        let f: ScenarioFile = serde_saphyr::from_str(src).unwrap();
        assert_eq!(f.steps.len(), 5);
        assert_eq!(f.steps[1].loc.line, 16);
        assert_eq!(
            f.steps[0].value.request.as_ref().unwrap().form["expiration"].as_deref(),
            Some("5")
        );
        assert_eq!(
            f.steps[0].value.request.as_ref().unwrap().form["client"],
            None
        );
        assert_eq!(f.rules[1].loc.line, 4);
    }
}
