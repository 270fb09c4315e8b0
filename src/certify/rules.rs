//! The client rules of `client-rules.md` (CL-1..15, version 1) as data:
//! IDs, levels (the [`Level`] of the server rules), a one-line text and the
//! VARIANT dimension each names, plus what case files cite ([`ClCite`]:
//! `CL-8`, `CL-8/MUST`, `CL-7/SHOULD`) and the level a break of a citation
//! counts at.
//!
//! The table is checked against `specs/client-rules.md` (a byte copy of the
//! shared document) by a unit test that reads it at compile time: a missing
//! file does not compile, a changed level fails.

use std::fmt;
use std::str::FromStr;

pub use crate::rules::Level;

/// One client rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClRule {
    pub id: &'static str,
    /// The levels its row names, in order: the first is what a plain
    /// citation (`CL-8`) means.
    pub levels: &'static [Level],
    /// A one-line summary (the normative text is client-rules.md).
    pub summary: &'static str,
    /// What its VARIANT is reported per (empty when it has none).
    pub dimension: &'static str,
    /// The named variants; empty for a measured variant (CL-7's margin) or
    /// a rule without VARIANT.
    pub variants: &'static [&'static str],
}

impl ClRule {
    pub fn primary(&self) -> Level {
        self.levels.first().copied().unwrap_or(Level::Must)
    }

    pub fn has(&self, level: Level) -> bool {
        self.levels.contains(&level)
    }

    /// `MUST + SHOULD + VARIANT`, as the table writes it.
    pub fn levels_text(&self) -> String {
        self.levels
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

use Level::{Must, Should, Variant};

/// Every client rule, in the order of client-rules.md.
pub const CL_RULES: &[ClRule] = &[
    ClRule {
        id: "CL-1",
        levels: &[Must],
        summary: "generateToken is a POST with the credentials in the form body, never in the query, asking for f=json",
        dimension: "",
        variants: &[],
    },
    ClRule {
        id: "CL-2",
        levels: &[Must],
        summary: "username and password go only to a home token service, never to a token URL another origin advertised",
        dimension: "",
        variants: &[],
    },
    ClRule {
        id: "CL-3",
        levels: &[Should, Variant],
        summary: "tokens travel in a Bearer header or a POST body, not the URL query (query or agstoken cookie: warn)",
        dimension: "request kind",
        variants: &["header", "body", "query", "cookie"],
    },
    ClRule {
        id: "CL-4",
        levels: &[Must],
        summary: "a request carries at most one token value; the same value twice is a warning",
        dimension: "",
        variants: &[],
    },
    ClRule {
        id: "CL-5",
        levels: &[Must],
        summary: "a token goes only to the origin (and server root) it was issued or exchanged for, never to a foreign origin",
        dimension: "",
        variants: &[],
    },
    ClRule {
        id: "CL-6",
        levels: &[Must],
        summary: "federation is an exact match of owningSystemUrl to the home portal; otherwise the server is foreign",
        dimension: "",
        variants: &[],
    },
    ClRule {
        id: "CL-7",
        levels: &[Must, Should, Variant],
        summary: "never present a token after its expires (+ tolerance); SHOULD renew ahead with a margin; the margin is reported",
        dimension: "token kind",
        variants: &[],
    },
    ClRule {
        id: "CL-8",
        levels: &[Should, Must, Variant],
        summary: "on 498 SHOULD renew and retry once; MUST never resend the rejected token, retries bounded",
        dimension: "token kind",
        variants: &["renew-retry", "anonymous-retry", "surface-error"],
    },
    ClRule {
        id: "CL-9",
        levels: &[Must],
        summary: "token errors are recognised by error.code 498/499 in both envelopes (HTTP 200 body, HTTP 401/403 + JSON), never by text",
        dimension: "",
        variants: &[],
    },
    ClRule {
        id: "CL-10",
        levels: &[Should, Must],
        summary: "SHOULD acquire and retry once on a home 499; MUST send no credentials or home token to a foreign 499",
        dimension: "",
        variants: &[],
    },
    ClRule {
        id: "CL-11",
        levels: &[Must, Should],
        summary: "sessions start with the access token, are not used after endTime, never renewed; SHOULD restart ahead with a margin",
        dimension: "",
        variants: &[],
    },
    ClRule {
        id: "CL-12",
        levels: &[Must, Should],
        summary: "after ssl/allSSL nothing goes over plain HTTP, https is never downgraded; SHOULD verify certificates",
        dimension: "",
        variants: &[],
    },
    ClRule {
        id: "CL-13",
        levels: &[Should],
        summary: "with the server clock ±5 min off: a server-expired token presented at most once, one renewal per lifetime",
        dimension: "",
        variants: &[],
    },
    ClRule {
        id: "CL-14",
        levels: &[Must, Should],
        summary: "a credential failure retried at most once; acquisitions bounded (never > 10 a minute); SHOULD back off, honour Retry-After",
        dimension: "",
        variants: &[],
    },
    ClRule {
        id: "CL-15",
        levels: &[Must, Should, Variant],
        summary: "a bound token is sent with its Referer / from its address every time; SHOULD name client explicitly",
        dimension: "binding",
        variants: &["referer", "requestip", "ip", "none"],
    },
];

/// Looks a client rule up by exact ID.
pub fn find(id: &str) -> Option<&'static ClRule> {
    CL_RULES.iter().find(|r| r.id == id)
}

/// What a case cites: a rule, or one of its clauses.
/// Written `CL-8` (the rule's primary level), `CL-8/MUST`, `CL-7/SHOULD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClCite {
    pub rule: &'static ClRule,
    /// `None`: the rule's primary level.
    pub clause: Option<Level>,
}

impl ClCite {
    /// The level a break of this citation counts at.
    pub fn level(&self) -> Level {
        self.clause.unwrap_or_else(|| self.rule.primary())
    }

    /// A citation of `id` at `level`, for findings the judge makes itself.
    /// Panics only on an ID not in [`CL_RULES`] (a programming error).
    pub fn of(id: &str, level: Level) -> ClCite {
        let rule = find(id).expect("a rule of CL_RULES");
        let clause = (rule.primary() != level).then_some(level);
        ClCite { rule, clause }
    }
}

impl fmt::Display for ClCite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.clause {
            None => f.write_str(self.rule.id),
            Some(l) => write!(f, "{}/{}", self.rule.id, l.as_str()),
        }
    }
}

/// A citation that names no clause of a client rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClCiteError {
    #[error("a rule ID of client-rules.md (`CL-1` .. `CL-15`), found `{found}`{}", did_you_mean(.suggestion))]
    Unknown {
        found: String,
        suggestion: Option<&'static str>,
    },
    #[error("`{found}` names a {level} clause, but {id} has none (its levels: {levels})")]
    NoClause {
        found: String,
        id: &'static str,
        level: &'static str,
        levels: String,
    },
    #[error("`RULE`, `RULE/MUST`, `RULE/SHOULD` or `RULE/VARIANT`, found `{0}`")]
    BadClause(String),
}

fn did_you_mean(s: &Option<&'static str>) -> String {
    s.map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

impl FromStr for ClCite {
    type Err = ClCiteError;

    fn from_str(s: &str) -> Result<ClCite, ClCiteError> {
        let (id, clause) = match s.split_once('/') {
            None => (s, None),
            Some((id, "MUST")) => (id, Some(Must)),
            Some((id, "SHOULD")) => (id, Some(Should)),
            Some((id, "VARIANT")) => (id, Some(Variant)),
            Some(_) => return Err(ClCiteError::BadClause(s.to_owned())),
        };
        let Some(rule) = find(id) else {
            let upper = id.to_ascii_uppercase();
            let suggestion = find(&upper)
                .or_else(|| find(&upper.replace(' ', "-")))
                .or_else(|| {
                    upper
                        .strip_prefix("CL")
                        .and_then(|n| find(&format!("CL-{n}")))
                })
                .map(|r| r.id);
            return Err(ClCiteError::Unknown {
                found: s.to_owned(),
                suggestion,
            });
        };
        if let Some(level) = clause
            && !rule.has(level)
        {
            return Err(ClCiteError::NoClause {
                found: s.to_owned(),
                id: rule.id,
                level: level.as_str(),
                levels: rule.levels_text(),
            });
        }
        Ok(ClCite { rule, clause })
    }
}

/// Whether a break of these citations is only a `warn`: every citation is
/// at SHOULD level. None at all is a `fail`.
pub fn breach_is_warning(cites: &[ClCite]) -> bool {
    !cites.is_empty() && cites.iter().all(|c| c.level() == Should)
}

/// Whether a citation as written (`CL-7/SHOULD`) is about rule `id`.
pub fn cites(citation: &str, id: &str) -> bool {
    citation.split('/').next() == Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// client-rules.md as the repository carries it; a missing file is a
    /// compile error, never a silent pass.
    const DOC: &str = include_str!("../../specs/client-rules.md");

    /// `(id, levels)` of every table row `| CL-n | LEVELS | text |`.
    fn documented(text: &str) -> Vec<(String, Vec<Level>, String)> {
        text.lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                if cells.len() < 4 || !cells[1].starts_with("CL-") {
                    return None;
                }
                let levels = cells[2]
                    .split('+')
                    .map(|l| match l.trim() {
                        "MUST" => Must,
                        "SHOULD" => Should,
                        "VARIANT" => Variant,
                        other => panic!("unknown level `{other}` in {line}"),
                    })
                    .collect();
                Some((cells[1].to_owned(), levels, cells[3..].join("|")))
            })
            .collect()
    }

    #[test]
    fn table_matches_client_rules_md() {
        let doc = documented(DOC);
        assert_eq!(doc.len(), CL_RULES.len(), "one row per rule");
        for ((id, levels, text), rule) in doc.iter().zip(CL_RULES) {
            assert_eq!(
                (id.as_str(), levels.as_slice()),
                (rule.id, rule.levels),
                "client-rules.md (left) and CL_RULES (right) differ"
            );
            // A VARIANT rule reports a dimension; named variants are the
            // ones the row spells in backticks.
            assert_eq!(rule.has(Variant), !rule.dimension.is_empty(), "{id}");
            for v in rule.variants {
                assert!(text.contains(&format!("`{v}`")), "{id} does not name `{v}`");
            }
        }
    }

    #[test]
    fn the_parser_notices_a_changed_level() {
        let changed = DOC.replace("| CL-13 | SHOULD |", "| CL-13 | MUST |");
        assert_ne!(documented(&changed), documented(DOC));
        let ok = documented(DOC);
        assert_eq!(ok[12].1, vec![Should]);
    }

    #[test]
    fn citations_parse_with_levels_and_suggestions() {
        let c: ClCite = "CL-8".parse().unwrap();
        assert_eq!((c.level(), c.to_string()), (Should, "CL-8".into()));
        let c: ClCite = "CL-8/MUST".parse().unwrap();
        assert_eq!((c.level(), c.to_string()), (Must, "CL-8/MUST".into()));
        assert_eq!("CL-7/SHOULD".parse::<ClCite>().unwrap().level(), Should);
        assert_eq!("CL-7".parse::<ClCite>().unwrap().level(), Must);
        let e = "CL-1/SHOULD".parse::<ClCite>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "`CL-1/SHOULD` names a SHOULD clause, but CL-1 has none (its levels: MUST)"
        );
        let e = "cl-5".parse::<ClCite>().unwrap_err();
        assert!(e.to_string().ends_with("did you mean `CL-5`?"), "{e}");
        let e = "CL5".parse::<ClCite>().unwrap_err();
        assert!(e.to_string().ends_with("did you mean `CL-5`?"), "{e}");
        assert!(matches!(
            "CL-99".parse::<ClCite>(),
            Err(ClCiteError::Unknown {
                suggestion: None,
                ..
            })
        ));
        assert!(matches!(
            "CL-5/MAY".parse::<ClCite>(),
            Err(ClCiteError::BadClause(_))
        ));
        assert_eq!(ClCite::of("CL-8", Should).to_string(), "CL-8");
        assert_eq!(ClCite::of("CL-8", Must).to_string(), "CL-8/MUST");
    }

    #[test]
    fn only_should_citations_make_a_warning() {
        let c = |s: &str| s.parse::<ClCite>().unwrap();
        assert!(breach_is_warning(&[c("CL-7/SHOULD"), c("CL-8")]));
        assert!(!breach_is_warning(&[c("CL-7/SHOULD"), c("CL-8/MUST")]));
        assert!(!breach_is_warning(&[c("CL-5")]));
        assert!(!breach_is_warning(&[]));
        assert!(cites("CL-7/SHOULD", "CL-7") && !cites("CL-1", "CL-15"));
    }
}
