//! Load and validation errors: a location plus a kind, rendered one way.
//!
//! Every problem in a scenario file (YAML syntax, wrong types, unknown fields,
//! unknown rule IDs, unknown endpoints, captures used before they are set, bad
//! durations, ...) becomes a [`Diagnostic`], rendered as
//! `file:line:col: error: what was expected` followed by a snippet with a
//! caret under the offending text.
//!
//! The renderer is hand-written rather than miette's graphical handler: the
//! first line must be the compiler-style `file:line:col:` that editors jump
//! to, and miette repeats the message and draws box characters; this output is
//! plain, deterministic and identical on every terminal (colour is added only
//! when the caller asks for it). This module never reads YAML; it may read a
//! file again to show a snippet ([`render_all`]).

use std::fmt;
use std::path::{Path, PathBuf};

use super::model::Loc;

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// `0:0` when the problem has no place in the text (I/O errors).
    pub loc: Loc,
    pub kind: DiagnosticKind,
}

/// What is wrong. Each message is a lower-case fragment saying what was
/// expected (and, where it helps, what was found instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiagnosticKind {
    /// The file or folder could not be read.
    #[error("a readable file or folder ({0})")]
    Io(String),
    /// The text is not YAML at all (unclosed quote, bad indentation, ...).
    #[error("valid YAML ({0})")]
    Syntax(String),
    /// The YAML does not fit the format: a wrong type, a missing field, an
    /// unknown enum value. The text already says what was expected.
    #[error("{0}")]
    Type(String),
    /// A field name the format does not have.
    #[error(
        "one of the fields {}, found unknown field `{field}`{}",
        list(expected),
        suggest(field, expected)
    )]
    UnknownField {
        field: String,
        expected: Vec<String>,
    },
    /// `version` is not the one this build reads.
    #[error("`version: {expected}` (the only format version this build reads), found `{found}`")]
    Version { expected: u32, found: u32 },
    /// `id` is not `area/name` in lowercase letters, digits, `-` and `_`.
    #[error("an id of the form `area/name` (lowercase letters, digits, `-`, `_`), found `{0}`")]
    BadId(String),
    /// Two files declare the same scenario id.
    #[error("a scenario id unique across the suite, `{id}` is also used by {}", other.display())]
    DuplicateId { id: String, other: PathBuf },
    /// A required text or list is empty.
    #[error("{0}")]
    Empty(&'static str),
    #[error("a rule ID of semantics.md (such as `LT-5`), found `{0}`")]
    UnknownRule(String),
    #[error("a known endpoint name ({names}), found `{0}`{hint}", names = crate::scenario::endpoints::names().join(", "), hint = suggest(.0, &crate::scenario::endpoints::names()))]
    UnknownEndpoint(String),
    #[error("a knob name ({names}), found `{0}`{hint}", names = crate::knobs::Knobs::NAMES.join(", "), hint = suggest(.0, crate::knobs::Knobs::NAMES))]
    UnknownKnob(String),
    /// A known knob given a value of the wrong type.
    #[error("{0}")]
    BadKnobValue(String),
    /// `{{NAME}}` used before any step captured `NAME`; `later` names the
    /// step that captures it after this use, if one does; `known` are the
    /// names captured so far (for a suggestion).
    #[error("`{{{{{name}}}}}` to be captured by an earlier step before it is used{}", capture_hint(name, later.as_deref(), known))]
    CaptureBeforeSet {
        name: String,
        later: Option<String>,
        known: Vec<String>,
    },
    /// The text says which duration was expected and what was found.
    #[error("{0}")]
    BadDuration(String),
    /// A `{{...}}` placeholder that does not parse.
    #[error("{0}")]
    BadTemplate(String),
    #[error("a JSON path such as `$.error.code`, found `{0}`")]
    BadJsonPath(String),
    #[error("a valid regular expression in `matches` ({0})")]
    BadRegex(String),
    /// Integer arithmetic (`status`, `arcgis_error`, `at_least`, an operand
    /// using `{{now}}`) that does not parse; the text says what was expected.
    #[error("integer arithmetic such as `{{{{now}}}} + 60m`: {0}")]
    BadIntExpr(String),
    /// A capture source that is not `$.path`, `body` or `header:NAME`.
    #[error("{0}")]
    BadCapture(String),
    #[error(
        "exactly one of `request`, `advance`, `wait`, `concurrent`, `set_password` in a step, found {0}"
    )]
    StepActions(String),
    /// A matrix case without a usable `name`.
    #[error("a `name` (a non-empty string) in every matrix case")]
    CaseName,
    #[error("a unique matrix case name, `{0}` appears twice")]
    DuplicateCase(String),
    /// `{{case.KEY}}` where some case lacks `KEY`.
    #[error("every matrix case to define `{0}` (used as `{{{{case.{0}}}}}`)")]
    CaseKey(String),
    /// A step needs a capability the scenario does not declare in `requires`.
    #[error("`{capability}` in `requires`, because {reason}")]
    MissingCapability {
        capability: &'static str,
        reason: String,
    },
    #[error("a fixture user (`alice` or `bob`), found `{0}`{hint}", hint = suggest(.0, &["alice", "bob"]))]
    UnknownUser(String),
    #[error("a source-address alias (`primary`, `alt1`, `alt2`, ...), found `{0}`")]
    UnknownAddress(String),
    /// Another semantic check failed; the text says what was expected.
    #[error("{0}")]
    Invalid(String),
}

/// ` (did you mean `x`?)` for the candidate closest to `value`, when one
/// is close enough to be a likely misspelling.
pub fn suggest<S: AsRef<str>>(value: &str, candidates: &[S]) -> String {
    let lower = value.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| c.as_ref())
        .filter(|c| *c != value)
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

fn capture_hint(name: &str, later: Option<&str>, known: &[String]) -> String {
    match later {
        Some(step) => format!("; {step} captures it, after this use: move the capture earlier"),
        None => {
            let s = suggest(name, known);
            if s.is_empty() {
                "; no step captures it".into()
            } else {
                s
            }
        }
    }
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Diagnostic {
    pub fn new(file: impl Into<PathBuf>, loc: Loc, kind: DiagnosticKind) -> Self {
        Diagnostic {
            file: file.into(),
            loc,
            kind,
        }
    }

    /// `file:line:col: error: message`, then the offending line (with the one
    /// before it, for context) and carets under the offending text, when
    /// `source` (the file's text) is given and the location is known.
    pub fn render(&self, source: Option<&str>) -> String {
        self.render_styled(source, false)
    }

    /// [`Diagnostic::render`], with ANSI colours when `color` is true (the
    /// caller decides: a terminal, and `NO_COLOR` unset).
    pub fn render_styled(&self, source: Option<&str>, color: bool) -> String {
        let (red, blue, bold, reset) = if color {
            ("\x1b[1;31m", "\x1b[1;34m", "\x1b[1m", "\x1b[0m")
        } else {
            ("", "", "", "")
        };
        let mut out = format!(
            "{bold}{}{reset}{red}error:{reset}{bold} {}{reset}",
            self.place(),
            self.kind
        );
        let Some(src) = source else { return out };
        if self.loc.line == 0 {
            return out;
        }
        let line_no = self.loc.line as usize;
        let lines: Vec<&str> = src.lines().collect();
        let Some(line) = lines.get(line_no - 1) else {
            return out;
        };
        let width = line_no.to_string().len();
        let col = (self.loc.column.max(1) - 1) as usize;
        // Keep tabs so the caret lines up under a tab-indented line.
        let pad: String = line
            .chars()
            .take(col)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let carets = "^".repeat(token_len(line, col).max(1));
        out.push_str(&format!("\n{blue}{:width$} |{reset}", ""));
        if line_no >= 2
            && let Some(prev) = lines.get(line_no - 2)
            && !prev.trim().is_empty()
        {
            out.push_str(&format!("\n{blue}{:>width$} |{reset} {prev}", line_no - 1));
        }
        out.push_str(&format!(
            "\n{blue}{line_no} |{reset} {line}\n{blue}{:width$} |{reset} {pad}{red}{carets}{reset}",
            ""
        ));
        out
    }

    /// `file:line:col: ` or, without a location, `file: `.
    fn place(&self) -> String {
        if self.loc.line == 0 {
            format!("{}: ", self.file.display())
        } else {
            format!(
                "{}:{}:{}: ",
                self.file.display(),
                self.loc.line,
                self.loc.column
            )
        }
    }
}

/// How many characters of `line`, from char index `col`, form the token the
/// caret points at: a quoted scalar up to its closing quote, a `{{...}}`
/// placeholder, or a plain scalar or key up to `,`, `]`, `}`, `#` or `: `.
fn token_len(line: &str, col: usize) -> usize {
    let rest: Vec<char> = line.chars().skip(col).collect();
    match rest.first() {
        None => 0,
        Some(q @ ('"' | '\'')) => rest[1..]
            .iter()
            .position(|c| c == q)
            .map_or(rest.len(), |p| p + 2),
        Some('{') if rest.get(1) == Some(&'{') => {
            let s: String = rest.iter().collect();
            s.find("}}")
                .map_or(rest.len(), |p| s[..p + 2].chars().count())
        }
        Some('[' | '{') => 1,
        Some(_) => {
            let mut n = 0;
            while n < rest.len() {
                let c = rest[n];
                if matches!(c, ',' | ']' | '}' | '#')
                    || (c == ':' && rest.get(n + 1).is_none_or(|d| d.is_whitespace()))
                {
                    break;
                }
                n += 1;
            }
            rest[..n]
                .iter()
                .rposition(|c| !c.is_whitespace())
                .map_or(0, |p| p + 1)
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}error: {}", self.place(), self.kind)
    }
}

impl std::error::Error for Diagnostic {}

/// Renders every diagnostic with its snippet, reading each file once, in
/// the given order, separated by blank lines. A file that cannot be read
/// again is rendered without a snippet.
pub fn render_all(diags: &[Diagnostic], color: bool) -> String {
    let mut cache: Vec<(&Path, Option<String>)> = Vec::new();
    let mut out = Vec::new();
    for d in diags {
        let idx = match cache.iter().position(|(p, _)| *p == d.file.as_path()) {
            Some(i) => i,
            None => {
                let text = if d.loc.line > 0 {
                    std::fs::read_to_string(&d.file).ok()
                } else {
                    None
                };
                cache.push((d.file.as_path(), text));
                cache.len() - 1
            }
        };
        out.push(d.render_styled(cache[idx].1.as_deref(), color));
    }
    out.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_for_misspellings_and_the_capturing_step() {
        assert_eq!(
            suggest("stauts", &["status", "json"]),
            " (did you mean `status`?)"
        );
        assert_eq!(suggest("zzz", &["status", "json"]), "");
        let later = DiagnosticKind::CaptureBeforeSet {
            name: "token".into(),
            later: Some("step 4 (line 21)".into()),
            known: vec![],
        };
        assert!(
            later.to_string().ends_with(
                "; step 4 (line 21) captures it, after this use: move the capture earlier"
            )
        );
        let typo = DiagnosticKind::CaptureBeforeSet {
            name: "tokn".into(),
            later: None,
            known: vec!["token".into()],
        };
        assert!(
            typo.to_string().ends_with(" (did you mean `token`?)"),
            "{typo}"
        );
        let none = DiagnosticKind::CaptureBeforeSet {
            name: "x".into(),
            later: None,
            known: vec![],
        };
        assert!(none.to_string().ends_with("; no step captures it"));
    }

    #[test]
    fn renders_location_and_caret() {
        let d = Diagnostic::new(
            "specs/a.yaml",
            Loc { line: 2, column: 9 },
            DiagnosticKind::UnknownRule("LT-99".into()),
        );
        let out = d.render(Some("version: 1\nrules: [LT-99, LT-1]\n"));
        assert_eq!(
            out,
            "specs/a.yaml:2:9: error: a rule ID of semantics.md (such as `LT-5`), found `LT-99`\n  |\n1 | version: 1\n2 | rules: [LT-99, LT-1]\n  |         ^^^^^"
        );
    }

    #[test]
    fn without_location_there_is_no_line_or_snippet() {
        let d = Diagnostic::new(
            "specs/nope",
            Loc::default(),
            DiagnosticKind::Io("no such file or directory".into()),
        );
        assert_eq!(
            d.render(Some("anything")),
            "specs/nope: error: a readable file or folder (no such file or directory)"
        );
    }

    #[test]
    fn carets_cover_the_token() {
        assert_eq!(token_len("  stauts: 200", 2), 6);
        assert_eq!(token_len("  x: \"a b\" # c", 5), 5);
        assert_eq!(token_len("  h: {a: \"{{tok}} x\"}", 10), 7);
        assert_eq!(token_len("  advance: 5 parsecs  # far", 11), 9);
        assert_eq!(token_len("  rules: [LT-99]", 10), 5);
        assert_eq!(token_len("", 0), 0);
    }

    #[test]
    fn colour_only_when_asked() {
        let d = Diagnostic::new(
            "a.yaml",
            Loc { line: 1, column: 1 },
            DiagnosticKind::CaseName,
        );
        assert!(!d.render(Some("x")).contains('\x1b'));
        assert!(d.render_styled(Some("x"), true).contains("\x1b[1;31m"));
    }
}
