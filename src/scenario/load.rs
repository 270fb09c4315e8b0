//! Reading and writing scenario files: the only module that touches the
//! YAML crate (serde-saphyr). Swapping the crate means changing this file
//! only: the [`Spanned`] deserializer, the mapping of the reader's errors to
//! [`Diagnostic`]s and the writer ([`write_scenario`], [`to_yaml`]) live here.
//!
//! It must not run anything: loading is pure apart from reading files, and
//! writing returns text.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_saphyr::Error as YamlError;

use super::diagnostic::{Diagnostic, DiagnosticKind};
use super::model::{Loc, Scenario, ScenarioFile, Spanned};

/// Parses YAML text into any serde type, mapping reader errors to a
/// [`Diagnostic`] at the reader's location. Reference configs and target
/// profiles come through here too, so this stays the one YAML door.
pub fn parse_yaml<T: DeserializeOwned>(text: &str, file: &Path) -> Result<T, Diagnostic> {
    serde_saphyr::from_str(text).map_err(|e| yaml_diagnostic(&e, text, file))
}

/// Writes any serde value as YAML (baselines drafted from a run, ...). It
/// lives here so that this module stays the one place that knows the YAML
/// crate.
pub fn to_yaml<T: serde::Serialize>(value: &T) -> Result<String, YamlWriteError> {
    serde_saphyr::to_string(value).map_err(|e| YamlWriteError(e.to_string()))
}

/// Writes a scenario file as YAML that [`parse_yaml`] reads back to an
/// equal [`ScenarioFile`] (locations aside). Each line of `comment` heads
/// the file as a `# ` comment (what wrote it, how to replay it).
pub fn write_scenario(file: &ScenarioFile, comment: &[&str]) -> Result<String, YamlWriteError> {
    let mut out = String::new();
    for line in comment.iter().flat_map(|c| c.lines()) {
        out.push_str(if line.is_empty() { "#" } else { "# " });
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&to_yaml(file)?);
    Ok(out)
}

/// A value could not be written as YAML.
#[derive(Debug, thiserror::Error)]
#[error("cannot write YAML: {0}")]
pub struct YamlWriteError(pub String);

/// Reads and checks one scenario file.
pub fn load_file(path: &Path) -> Result<Scenario, Vec<Diagnostic>> {
    load_one(path).map(|(s, _)| s)
}

/// [`load_file`], also returning where the id is written (for the
/// duplicate-id check of [`load_suite`]).
fn load_one(path: &Path) -> Result<(Scenario, Loc), Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::new(
            path,
            Loc::default(),
            DiagnosticKind::Io(e.to_string()),
        )]
    })?;
    let file: ScenarioFile = parse_yaml(&text, path).map_err(|d| vec![d])?;
    let id_loc = file.id.loc;
    super::validate::check_with_source(file, path, &text).map(|s| (s, id_loc))
}

/// Reads every `*.yaml` / `*.yml` file under `paths` (files or folders,
/// recursively, in sorted order; a file named explicitly is read whatever its
/// extension) and checks that scenario ids are unique. Nothing is returned
/// unless every file is good; otherwise every problem found is returned.
pub fn load_suite(paths: &[PathBuf]) -> Result<Vec<Scenario>, Vec<Diagnostic>> {
    let (files, mut errors) = yaml_files(paths, Some(CLIENT_CASES));
    let mut out: Vec<Scenario> = Vec::new();
    for f in files {
        match load_one(&f) {
            Ok((s, id_loc)) => {
                if let Some(prev) = out.iter().find(|o| o.id == s.id) {
                    errors.push(Diagnostic::new(
                        &f,
                        id_loc,
                        DiagnosticKind::DuplicateId {
                            id: s.id.clone(),
                            other: prev.file.clone(),
                        },
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

/// The folder name under `specs/` of client certification cases, which
/// scenario loading skips.
pub const CLIENT_CASES: &str = "clients";

/// The `*.yaml` / `*.yml` files under `paths` (folders recursively; a file
/// named explicitly is taken whatever its extension), sorted, without
/// repeats; sub-folders named `skip` are not entered. A path that cannot be
/// read is a diagnostic. Shared by the scenario and the client-case loaders.
pub fn yaml_files(paths: &[PathBuf], skip: Option<&str>) -> (Vec<PathBuf>, Vec<Diagnostic>) {
    let mut errors = Vec::new();
    let mut files = Vec::new();
    for p in paths {
        if p.is_file() {
            files.push(p.clone());
        } else if let Err(e) = collect(p, skip, &mut files) {
            errors.push(Diagnostic::new(
                p,
                Loc::default(),
                DiagnosticKind::Io(e.to_string()),
            ));
        }
    }
    files.sort();
    files.dedup();
    (files, errors)
}

fn collect(p: &Path, skip: Option<&str>, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if p.is_dir() {
        for entry in std::fs::read_dir(p)? {
            let path = entry?.path();
            // `specs/clients/` holds client certification cases, another
            // format (`certify::load`), skipped by the scenario loader.
            if path.is_dir() && skip.is_some_and(|s| path.file_name().is_some_and(|n| n == s)) {
                continue;
            }
            collect(&path, skip, out)?;
        }
    } else if p.is_file() {
        if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p.to_owned());
        }
    } else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file or folder",
        ));
    }
    Ok(())
}

/// Turns a reader error into one diagnostic whose message says what was
/// expected, without the reader's own "at line X" suffix or snippet (the
/// diagnostic renders its own).
fn yaml_diagnostic(e: &YamlError, text: &str, file: &Path) -> Diagnostic {
    let loc = e
        .location()
        .map(|l| Loc {
            line: l.line() as u32,
            column: l.column() as u32,
        })
        .unwrap_or_default();
    let found = || {
        let f = text_at(text, loc);
        if f.is_empty() {
            "nothing".to_owned()
        } else {
            format!("`{f}`")
        }
    };
    let mut inner = e.without_snippet();
    while let YamlError::AliasError { error, .. } = inner {
        inner = error.without_snippet();
    }
    let kind = match inner {
        _ if text.trim().is_empty() => {
            DiagnosticKind::Type("a YAML mapping, found an empty file".into())
        }
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => DiagnosticKind::UnknownField {
            field: field.clone(),
            expected: expected.iter().map(|s| (*s).to_owned()).collect(),
        },
        YamlError::SerdeUnknownVariant {
            variant, expected, ..
        } => DiagnosticKind::Type(format!(
            "one of {}, found `{variant}`",
            expected
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        YamlError::SerdeMissingField { field, .. } => {
            DiagnosticKind::Type(format!("the required field `{field}` in this mapping"))
        }
        YamlError::SerdeInvalidType {
            unexpected,
            expected,
            ..
        }
        | YamlError::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => DiagnosticKind::Type(format!("{expected}, found {unexpected}")),
        YamlError::SerdeInvalidLength { len, expected, .. } => {
            DiagnosticKind::Type(format!("{expected}, found {len} items"))
        }
        YamlError::InvalidScalar { ty, .. } => {
            DiagnosticKind::Type(format!("{}, found {}", describe_scalar(ty), found()))
        }
        YamlError::InvalidBooleanStrict { .. } => {
            DiagnosticKind::Type(format!("`true` or `false`, found {}", found()))
        }
        YamlError::NullIntoString { .. } => DiagnosticKind::Type("a string, found null".into()),
        YamlError::Unexpected { expected, .. } => {
            let what = match *expected {
                "sequence start" => "a list",
                "mapping start" => "a mapping",
                "string scalar" => "a string",
                other => other,
            };
            DiagnosticKind::Type(format!("{what}, found {}", found()))
        }
        YamlError::DuplicateMappingKey { key, .. } => DiagnosticKind::Type(match key {
            Some(k) => format!("each key once in a mapping, found `{k}` again"),
            None => "each key once in a mapping".into(),
        }),
        YamlError::Message { msg, .. } => DiagnosticKind::Type(msg.clone()),
        other => DiagnosticKind::Syntax(bare_message(other).into_owned()),
    };
    Diagnostic::new(file, loc, kind)
}

/// What a scalar of Rust type `ty` looks like to a scenario author.
fn describe_scalar(ty: &str) -> Cow<'static, str> {
    match ty {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        "bool" | "boolean" => "`true` or `false`".into(),
        "char" => "a single character".into(),
        other => format!("a valid {other}").into(),
    }
}

/// The scalar or key the reader's location points at, for "found `...`".
fn text_at(text: &str, loc: Loc) -> String {
    if loc.line == 0 {
        return String::new();
    }
    let Some(line) = text.lines().nth(loc.line as usize - 1) else {
        return String::new();
    };
    let rest: String = line
        .chars()
        .skip(loc.column.saturating_sub(1) as usize)
        .collect();
    let end = rest
        .char_indices()
        .find(|&(i, c)| {
            matches!(c, ',' | ']' | '}' | '#')
                || (c == ':' && rest[i + 1..].chars().next().is_none_or(char::is_whitespace))
        })
        .map_or(rest.len(), |(i, _)| i);
    let t = rest[..end].trim();
    if t.chars().count() > 40 {
        format!("{}...", t.chars().take(40).collect::<String>())
    } else {
        t.to_owned()
    }
}

/// The reader's own message for a syntax error, without location suffixes.
fn bare_message(e: &YamlError) -> Cow<'_, str> {
    struct NoLocation;
    impl serde_saphyr::Localizer for NoLocation {
        fn attach_location<'a>(
            &self,
            base: Cow<'a, str>,
            _: serde_saphyr::Location,
        ) -> Cow<'a, str> {
            base
        }
        fn alias_used_at(&self, _: serde_saphyr::Location) -> String {
            String::new()
        }
        fn alias_defined_at(&self, _: serde_saphyr::Location) -> String {
            String::new()
        }
    }
    struct Bare;
    impl serde_saphyr::MessageFormatter for Bare {
        fn localizer(&self) -> &dyn serde_saphyr::Localizer {
            &NoLocation
        }
        fn format_message<'a>(&self, e: &'a YamlError) -> Cow<'a, str> {
            serde_saphyr::UserMessageFormatter.format_message(e)
        }
    }
    let mut opts = serde_saphyr::RenderOptions::new(&Bare);
    opts.snippets = serde_saphyr::SnippetMode::Off;
    Cow::Owned(e.render_with_options(opts))
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
    use super::*;

    fn first_line(src: &str) -> String {
        match parse_yaml::<ScenarioFile>(src, Path::new("t.yaml")) {
            Ok(_) => panic!("parsed: {src}"),
            Err(d) => d.to_string(),
        }
    }

    #[test]
    fn reader_errors_carry_only_our_location() {
        let head = "version: 1\nid: a/b\ntitle: t\nrules: [LT-1]\nprofile: arcgis-token\n";
        let cases = [
            (
                format!("{head}steps: 5\n"),
                "t.yaml:6:8: error: a list, found `5`",
            ),
            (
                format!("{head}steps:\n  - wait: 1s\n    waitt: 2s\n"),
                "t.yaml:8:5: error: one of the fields `request`, `expect`, `variants`, `capture`, `advance`, \
                 `advance_to`, `wait`, `concurrent`, `set_password`, `rules`, `note`, found unknown field `waitt` (did you mean `wait`?)",
            ),
            (
                "version: one\n".to_owned(),
                "t.yaml:1:10: error: a non-negative integer, found `one`",
            ),
            (
                format!("{head}steps: [\"a]\n"),
                "t.yaml:6:9: error: valid YAML (unclosed quote)",
            ),
            (
                format!("{head}title: u\nsteps: []\n"),
                "t.yaml:6:1: error: each key once in a mapping, found `title` again",
            ),
            (
                String::new(),
                "t.yaml:1:1: error: a YAML mapping, found an empty file",
            ),
        ];
        for (src, want) in cases {
            assert_eq!(first_line(&src), want, "{src}");
        }
    }

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

    /// Reads `path` as a scenario file, writes it, reads the text back and
    /// checks the two files are equal (locations aside); returns the text.
    fn round_trip(path: &Path) -> String {
        let text = std::fs::read_to_string(path).unwrap();
        let first: ScenarioFile = parse_yaml(&text, path).unwrap_or_else(|d| panic!("{d}"));
        let written = write_scenario(&first, &["written by a test"]).unwrap();
        let again: ScenarioFile = parse_yaml(&written, Path::new("written.yaml"))
            .unwrap_or_else(|d| panic!("{}\n{written}", d.render(Some(&written))));
        assert!(
            first == again,
            "{} changed in a write-then-read:\n{first:#?}\n---\n{again:#?}\n---\n{written}",
            path.display()
        );
        written
    }

    fn manifest(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
    }

    /// Every property name the schema gives any type of the format.
    fn schema_fields(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        if let Some(props) = v.get("properties").and_then(|p| p.as_object()) {
            out.extend(props.keys().cloned());
        }
        if let Some(defs) = v.get("$defs").and_then(|d| d.as_object()) {
            defs.values().for_each(|d| schema_fields(d, out));
        }
    }

    /// Every mapping key anywhere in a written file.
    fn keys(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    out.insert(k.clone());
                    keys(v, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_field_of_the_format_survives_a_write_and_a_read() {
        let path = manifest("fixtures/roundtrip/every-field.yaml");
        let written = round_trip(&path);
        assert!(written.starts_with("# written by a test\n"), "{written}");
        // The fixture is a real scenario, and uses every field the schema
        // names: a field added to the format without a round trip fails here.
        let text = std::fs::read_to_string(&path).unwrap();
        let file: ScenarioFile = parse_yaml(&text, &path).unwrap();
        super::super::validate::check(file, &path).unwrap_or_else(|ds| {
            panic!(
                "{}",
                ds.iter()
                    .map(|d| d.render(Some(&text)))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        let mut wanted = std::collections::BTreeSet::new();
        schema_fields(&super::super::schema::scenario_schema(), &mut wanted);
        let mut used = std::collections::BTreeSet::new();
        keys(
            &parse_yaml::<serde_json::Value>(&written, &path).unwrap(),
            &mut used,
        );
        let missing: Vec<&String> = wanted.difference(&used).collect();
        assert!(
            missing.is_empty(),
            "every-field.yaml does not use {missing:?}"
        );
    }

    #[test]
    fn every_spec_and_runner_fixture_survives_a_write_and_a_read() {
        let mut files = Vec::new();
        collect(&manifest("specs"), Some(CLIENT_CASES), &mut files).unwrap();
        let specs = files.len();
        collect(&manifest("fixtures/runner"), None, &mut files).unwrap();
        assert!(
            specs > 100 && files.len() > specs,
            "{specs} {}",
            files.len()
        );
        for f in files {
            round_trip(&f);
        }
    }

    #[test]
    fn int_exprs_write_as_integers_or_templates() {
        use super::super::model::IntExpr;
        assert_eq!(to_yaml(&IntExpr("498".into())).unwrap().trim(), "498");
        assert_eq!(to_yaml(&IntExpr("-1".into())).unwrap().trim(), "-1");
        // Not an integer as written: stays a string (`007` would read as 7).
        for s in ["007", "{{case.code}}", "none"] {
            let back: IntExpr =
                parse_yaml(&to_yaml(&IntExpr(s.into())).unwrap(), Path::new("x")).unwrap();
            assert_eq!(back.0, s);
        }
    }
}
