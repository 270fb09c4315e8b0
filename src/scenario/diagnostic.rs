//! Load and validation errors: a location plus a kind, rendered one way.
//!
//! Every problem in a scenario file (YAML syntax, wrong types, unknown fields,
//! unknown rule IDs, unknown endpoints, captures used before they are set, bad
//! durations) becomes a [`Diagnostic`], rendered as
//! `file:line:col: error: what was expected` followed by a snippet with a caret.

use std::fmt;
use std::path::PathBuf;

use super::model::Loc;

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub loc: Loc,
    pub kind: DiagnosticKind,
}

/// What is wrong. Messages are lower-case fragments saying what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiagnosticKind {
    #[error("cannot read the file: {0}")]
    Io(String),
    /// Syntax, type and unknown-field errors reported by the YAML reader.
    #[error("{0}")]
    Yaml(String),
    /// A semantic check failed; the text says what was expected.
    #[error("{0}")]
    Invalid(String),
}

impl Diagnostic {
    pub fn new(file: impl Into<PathBuf>, loc: Loc, kind: DiagnosticKind) -> Self {
        Diagnostic {
            file: file.into(),
            loc,
            kind,
        }
    }

    /// `file:line:col: error: message`, then the offending line and a caret
    /// when `source` (the file's text) is given and the location is known.
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = format!("{self}");
        if let (Some(src), true) = (source, self.loc.line > 0) {
            let line_no = self.loc.line as usize;
            if let Some(line) = src.lines().nth(line_no - 1) {
                let width = line_no.to_string().len();
                let col = (self.loc.column.max(1) - 1) as usize;
                let pad: String = line
                    .chars()
                    .take(col)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                out.push_str(&format!(
                    "\n{:width$} |\n{line_no} | {line}\n{:width$} | {pad}^",
                    "", ""
                ));
            }
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file.display(),
            self.loc.line,
            self.loc.column,
            self.kind
        )
    }
}

impl std::error::Error for Diagnostic {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_and_caret() {
        let d = Diagnostic::new(
            "specs/a.yaml",
            Loc { line: 2, column: 8 },
            DiagnosticKind::Invalid("a known rule ID, found `LT-99`".into()),
        );
        let out = d.render(Some("version: 1\nrules: [LT-99]\n"));
        assert_eq!(
            out,
            "specs/a.yaml:2:8: error: a known rule ID, found `LT-99`\n  |\n2 | rules: [LT-99]\n  |        ^"
        );
    }
}
