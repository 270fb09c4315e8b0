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

/// Writes any serde value as YAML (baselines drafted from a run, ...). It
/// lives here so that this module stays the one place that knows the YAML
/// crate.
pub fn to_yaml<T: serde::Serialize>(value: &T) -> Result<String, YamlWriteError> {
    serde_saphyr::to_string(value).map_err(|e| YamlWriteError(e.to_string()))
}

/// A value could not be written as YAML.
#[derive(Debug, thiserror::Error)]
#[error("cannot write YAML: {0}")]
pub struct YamlWriteError(pub String);

/// Reads and checks one scenario file.
pub fn load_file(path: &Path) -> Result<super::model::Scenario, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::new(
            path,
            Loc::default(),
            DiagnosticKind::Io(e.to_string()),
        )]
    })?;
    let file: super::model::ScenarioFile = parse_yaml(&text, path).map_err(|d| vec![d])?;
    super::validate::check(file, path)
}

/// Reads every `*.yaml` / `*.yml` file under `paths` (files or folders,
/// recursively, in sorted order) and checks that scenario ids are unique.
/// Nothing is returned unless every file is good.
pub fn load_suite(
    paths: &[std::path::PathBuf],
) -> Result<Vec<super::model::Scenario>, Vec<Diagnostic>> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files).map_err(|e| {
            vec![Diagnostic::new(
                p,
                Loc::default(),
                DiagnosticKind::Io(e.to_string()),
            )]
        })?;
    }
    files.sort();
    let mut errors = Vec::new();
    let mut out: Vec<super::model::Scenario> = Vec::new();
    for f in files {
        match load_file(&f) {
            Ok(s) => {
                if let Some(prev) = out.iter().find(|o| o.id == s.id) {
                    errors.push(Diagnostic::new(
                        &f,
                        Loc::default(),
                        DiagnosticKind::Invalid(format!(
                            "a unique scenario id, `{}` is also used by {}",
                            s.id,
                            prev.file.display()
                        )),
                    ));
                }
                out.push(s);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn collect(p: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    if p.is_dir() {
        for entry in std::fs::read_dir(p)? {
            collect(&entry?.path(), out)?;
        }
    } else if p.is_file() {
        if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p.to_owned());
        }
    } else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} does not exist", p.display()),
        ));
    }
    Ok(())
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
