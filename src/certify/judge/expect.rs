//! A case's expectations as typed data, beside its [`CasePlan`]
//! (`super::super::plan::CasePlan`): what the result of an operation should
//! be, and checks over the request journal ("at most one generateToken after
//! the revocation", "no request to the foreign origin carries a token",
//! "each portal token is renewed before it expires"). The loader builds
//! them from the case file; [`super::judge`] evaluates them. Each one cites
//! the CL clauses it checks, which decide `fail` against `warn`.

use serde::Serialize;

use crate::certify::journal::{Role, Scheme, TokenKind};
use crate::certify::rules::ClCite;

/// Everything a case expects beyond the rules the judge applies always.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Expectations {
    pub ops: Vec<OpExpect>,
    pub checks: Vec<Check>,
}

/// The result an operation step should have.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpExpect {
    /// Index of the step in the plan.
    pub step: usize,
    pub line: usize,
    /// `true`: `{"ok": true}`; `false`: `{"ok": false, ...}`.
    pub ok: bool,
    #[serde(serialize_with = "cites_as_text")]
    pub rules: Vec<ClCite>,
}

/// A check over the journal of a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub line: usize,
    #[serde(serialize_with = "cites_as_text")]
    pub rules: Vec<ClCite>,
    /// Only requests received at or after this step began (index into the
    /// plan's steps); `None`: from the start.
    pub after: Option<usize>,
    /// Only requests received before this step began.
    pub until: Option<usize>,
    pub what: CheckKind,
    /// Said in the finding when the check breaks.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// The number of matching requests lies in `min..=max`.
    Count {
        filter: Filter,
        min: Option<u32>,
        max: Option<u32>,
    },
    /// Every token of this kind that expired during the case had a
    /// successor issued before its `expires`, with the margin of CL-7 /
    /// CL-11 (`min(max(lifetime/100, 1 s), 5 min)`).
    Renewal { kind: TokenKind },
}

/// Which requests a count is about; every field set must match.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Filter {
    /// Any of these roles (empty: any).
    pub roles: Vec<Role>,
    /// The path ends with this (ASCII case-insensitive).
    pub path_suffix: Option<String>,
    /// Exact method, upper case.
    pub method: Option<String>,
    pub scheme: Option<Scheme>,
    /// A token acquisition: a generateToken-like path or an advertised
    /// token URL, with a password or a token.
    pub acquisition: Option<bool>,
    /// A password was seen (query or body).
    pub password: Option<bool>,
    pub token: Option<TokenMatch>,
    /// The presented token is of this kind.
    pub token_kind: Option<TokenKind>,
    /// The answer carried this `error.code`.
    pub error_code: Option<i64>,
}

/// What a request presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenMatch {
    /// Any token in any carrier.
    Any,
    /// No token at all.
    None,
    /// A token after a revocation hit it.
    Revoked,
    /// A token after it drew a 498.
    Rejected,
    /// A token whose scope is a home origin (portal or server).
    Home,
    /// A token of another case of the run.
    OtherCase,
}

fn cites_as_text<S: serde::Serializer>(cites: &[ClCite], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(cites.iter().map(|c| c.to_string()))
}
