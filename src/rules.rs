//! The rules of `semantics.md` (version 2) as data: their IDs, levels
//! (MUST / SHOULD / VARIANT) and named variants, what scenarios cite
//! ([`RuleRef`]), what coverage counts, and what deviations of the reference
//! server break.
//!
//! The table is checked against `specs/semantics.md` (a copy of the shared
//! document kept in the repository) by a unit test that reads it at compile
//! time: a missing file does not compile, a changed level or variant fails.

use std::fmt;
use std::str::FromStr;

/// One normative rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub family: Family,
    /// The levels its text names, in the order it names them (each once):
    /// the first is the rule's primary level, what a plain citation means.
    pub levels: &'static [Level],
    /// Its VARIANT dimensions (empty unless `levels` holds
    /// [`Level::Variant`]).
    pub dimensions: &'static [Dimension],
    /// A one-line summary (the normative text is semantics.md).
    pub summary: &'static str,
}

/// How binding a clause of a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// A break is `fail`.
    Must,
    /// A break is `warn`; it fails the run only under `--strict`.
    Should,
    /// Real products differ; every named variant conforms.
    Variant,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::Variant => "VARIANT",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One way real products differ within a VARIANT rule: named variants, one
/// of which the reference server implements. A rule with one dimension
/// names it `""`; HP-2 has one per pair of carriers (`x-esri/query`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dimension {
    pub name: &'static str,
    pub variants: &'static [&'static str],
    /// The variant marked *(reference)*.
    pub reference: &'static str,
}

/// The only dimension of a VARIANT rule; the first variant is the
/// reference's.
macro_rules! one {
    ($reference:literal $(, $other:literal)*) => {
        &[Dimension {
            name: "",
            variants: &[$reference $(, $other)*],
            reference: $reference,
        }]
    };
}

/// HP-2's carriers, in the reference's order of precedence.
pub const CARRIERS: [&str; 5] = ["x-esri", "authorization", "query", "body", "cookie"];

macro_rules! pair {
    ($a:literal, $b:literal) => {
        Dimension {
            name: concat!($a, "/", $b),
            variants: &[$a, $b],
            reference: $a,
        }
    };
}

/// HP-2: each pair of carriers (higher first in the reference's order) is
/// a dimension whose variant is the winner.
const HP2_PAIRS: &[Dimension] = &[
    pair!("x-esri", "authorization"),
    pair!("x-esri", "query"),
    pair!("x-esri", "body"),
    pair!("x-esri", "cookie"),
    pair!("authorization", "query"),
    pair!("authorization", "body"),
    pair!("authorization", "cookie"),
    pair!("query", "body"),
    pair!("query", "cookie"),
    pair!("body", "cookie"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// TS: issuing tokens.
    Issuing,
    /// LT: token lifetimes.
    Lifetimes,
    /// RN: renewal.
    Renewal,
    /// HP: header precedence.
    HeaderPrecedence,
    /// IP: binding.
    Binding,
    /// SL: session limits.
    Sessions,
}

impl Family {
    pub fn prefix(self) -> &'static str {
        match self {
            Family::Issuing => "TS",
            Family::Lifetimes => "LT",
            Family::Renewal => "RN",
            Family::HeaderPrecedence => "HP",
            Family::Binding => "IP",
            Family::Sessions => "SL",
        }
    }
}

macro_rules! rules {
    ($($id:literal $fam:ident [$($lvl:ident),+] $dims:expr, $summary:literal;)*) => {
        /// Every rule, in the order of semantics.md.
        pub const RULES: &[Rule] = &[$(Rule {
            id: $id,
            family: Family::$fam,
            levels: &[$(Level::$lvl),+],
            dimensions: $dims,
            summary: $summary,
        }),*];
    };
}

const NONE: &[Dimension] = &[];

rules! {
    "TS-1" Issuing [Must] NONE, "generateToken takes username, password, client, referer, ip, expiration, f in a form POST body, at the URL rest/info advertises";
    "TS-2" Issuing [Must, Should] NONE, "success is {token, expires (epoch ms)} (+ ssl on Portal); opaque URL-safe token; SHOULD 64-2048 characters, unguessable";
    "TS-3" Issuing [Must, Variant, Should] one!("400", "401"), "bad credentials: no token, HTTP 200 error body, code 400 | 401; SHOULD case-sensitive credentials";
    "TS-4" Issuing [Must, Variant] one!("405", "400"), "GET, or POST with credentials in the query, issues no token unless the knobs allow it; code 405 | 400";
    "TS-5" Issuing [Must, Variant, Should] one!("201", "400"), "client=ip without ip or client=referer without referer: no token, code 201 | 400; SHOULD refuse an unknown client";
    "TS-6" Issuing [Must, Variant] one!("wrapped-404", "http-404"), "f=json/pjson gives JSON; errors are HTTP 200 with the error body; unknown service: wrapped 404 | HTTP 404";
    "TS-7" Issuing [Must] NONE, "rest/info advertises isTokenBasedSecurity, a working tokenServicesUrl and shortLivedTokenValidity";
    "TS-8" Issuing [Must] NONE, "token exchange with token + serverUrl returns a token for the same user expiring no later; bad token 498";
    "LT-1" Lifetimes [Must] NONE, "expiration omitted: the token lives short_lived_minutes (a site setting)";
    "LT-2" Lifetimes [Must] NONE, "expiration within bounds is honoured exactly (within the target's time tolerance)";
    "LT-3" Lifetimes [Must, Variant] one!("clamp", "refuse"), "expiration above max_expiration_minutes is clamped on Server; Portal path clamps | refuses";
    "LT-4" Lifetimes [Should] NONE, "expiration non-integer, zero or negative: refused, no token";
    "LT-5" Lifetimes [Must, Should] NONE, "a token is refused (498) once now > expires, accepted before; SHOULD be invalid at now == expires";
    "LT-6" Lifetimes [Must] NONE, "expiry counts from issue time, never from last use";
    "LT-7" Lifetimes [Must, Variant, Should] one!("clamp", "refuse"), "ArcWeb getToken tout: default 60, max 1440, above it clamp | refuse; SHOULD refuse non-integer or <= 0";
    "LT-7a" Lifetimes [Must, Variant] one!("403", "500"), "ArcWeb answers: text/plain 200; refusals 403; expired 500 '1021'; invalid user ID 403 | 500";
    "LT-8" Lifetimes [Must] NONE, "ArcWeb user IDs never expire, are not IP-bound, one per account";
    "LT-9" Lifetimes [Must, Should] NONE, "a password change invalidates the ArcWeb user ID; SHOULD also invalidate earlier tokens";
    "RN-1" Renewal [Must, Variant] one!("same-token", "new-token"), "ArcWeb renewToken gives 60 minutes from renewal, same binding; the same token | a new one";
    "RN-2" Renewal [Must] NONE, "renewing an expired, unknown or malformed token fails and extends nothing";
    "RN-3" Renewal [Should] NONE, "renewal never shortens a token";
    "RN-4" Renewal [Must] NONE, "arcgis-token renews by generating again; the old token stays valid until its expiry";
    "RN-5" Renewal [Must] NONE, "a basemap session is never extended; a new one is started with the access token";
    "RN-6" Renewal [Must] NONE, "a token regenerated after 498/499 works at once";
    "HP-1" HeaderPrecedence [Must] NONE, "carriers: X-Esri-Authorization, Authorization Bearer, query token, body token, agstoken cookie";
    "HP-2" HeaderPrecedence [Variant, Must] HP2_PAIRS, "which carrier wins varies per pair; the winners MUST form one strict order, consistent everywhere";
    "HP-3" HeaderPrecedence [Should] NONE, "only the winning carrier is validated; no fallback to a lower carrier";
    "HP-4" HeaderPrecedence [Must, Should] NONE, "header names and Bearer are case-insensitive; SHOULD ignore non-Bearer Authorization and empty Bearer";
    "HP-5" HeaderPrecedence [Must, Variant] one!("cookie-carries", "cookie-ignored"), "with web_tier_auth, Authorization never carries a token; the agstoken cookie carries | is ignored";
    "HP-6" HeaderPrecedence [Variant] one!("first", "last"), "duplicate token parameters in one carrier: the first | the last wins, the same in every carrier";
    "HP-7" HeaderPrecedence [Must] NONE, "no token on a secured resource: 499; valid token lacking permission: 403";
    "HP-8" HeaderPrecedence [Must, Variant] one!("checked", "ignored"), "a public resource answers without a token; an invalid presented token is checked (498) | ignored";
    "IP-1" Binding [Must] NONE, "client=requestip / ip / referer bind the token to the peer address, the ip, the referer";
    "IP-2" Binding [Must] NONE, "a bound token used from elsewhere gives 498; X-Forwarded-For only from trusted proxies";
    "IP-3" Binding [Must, Should] NONE, "a Referer starting with the bound referer is accepted; SHOULD compare scheme and host case-insensitively";
    "IP-4" Binding [Variant] one!("unbound", "short-only"), "client omitted: the token is unbound | an explicit expiration is refused";
    "IP-5" Binding [Must] NONE, "ArcWeb getToken binds to the requesting address or ip";
    "IP-6" Binding [Should] NONE, "renewal keeps the binding; a renew from another address is refused";
    "IP-7" Binding [Should] NONE, "malformed ip: refused, no token";
    "SL-1" Sessions [Must] NONE, "sessions/start takes token, styleFamily (default arcgis), durationSeconds (default 43200), f";
    "SL-2" Sessions [Must, Should] NONE, "the answer holds sessionToken, startTime, endTime, styleFamily; endTime - startTime = duration; SHOULD nothing else";
    "SL-3" Sessions [Must, Variant] one!("refuse", "clamp"), "durationSeconds 10..43200 is honoured; outside it refuse (400) | clamp";
    "SL-4" Sessions [Must, Should] NONE, "a session token is valid while now < endTime, refused after; survives its parent token; SHOULD be invalid at endTime";
    "SL-5" Sessions [Must, Variant] one!("403", "498"), "a session token reaches only Basemap Styles of its own family; elsewhere 403 | 498";
    "SL-6" Sessions [Must, Variant] one!("403", "498"), "a session token cannot start a session (403 | 498); a token without the basemap privilege gets 403";
    "SL-7" Sessions [Must] NONE, "Basemap Styles errors use real HTTP statuses with restInfoUrl";
    "SL-8" Sessions [Should] NONE, "max_concurrent_sessions: a start beyond the cap gives 429";
    "SL-9" Sessions [Should] NONE, "a token with the basemap privilege may fetch styles directly; without it 403";
}

impl Rule {
    /// The first level its text names: what a plain citation means.
    pub fn primary(&self) -> Level {
        self.levels.first().copied().unwrap_or(Level::Must)
    }

    /// Whether its text has a clause of this level.
    pub fn has(&self, level: Level) -> bool {
        self.levels.contains(&level)
    }

    /// A VARIANT dimension by name (`""` for a rule's only one).
    pub fn dimension(&self, name: &str) -> Option<&'static Dimension> {
        self.dimensions.iter().find(|d| d.name == name)
    }
}

/// A named variant of a VARIANT rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariantRef {
    pub rule: &'static Rule,
    pub dimension: &'static Dimension,
    pub name: &'static str,
}

impl VariantRef {
    /// Whether the reference server implements it by default.
    pub fn is_reference(&self) -> bool {
        self.dimension.reference == self.name
    }
}

impl fmt::Display for VariantRef {
    /// `HP-8: checked`, `HP-2 x-esri/query: x-esri` (semantics.md's spelling).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dimension.name.is_empty() {
            write!(f, "{}: {}", self.rule.id, self.name)
        } else {
            write!(f, "{} {}: {}", self.rule.id, self.dimension.name, self.name)
        }
    }
}

/// Looks a variant up by rule ID and name: `variant("HP-8", "checked")`;
/// for a rule with several dimensions, `DIMENSION: NAME` or
/// `DIMENSION=NAME` (`variant("HP-2", "x-esri/query: x-esri")`).
pub fn variant(rule: &str, name: &str) -> Option<VariantRef> {
    let rule = find(rule)?;
    let (dim, name) = match name.split_once([':', '=']) {
        Some((d, n)) => (d.trim(), n.trim()),
        None => ("", name.trim()),
    };
    let dimension = rule.dimension(dim)?;
    let name = dimension.variants.iter().find(|v| **v == name)?;
    Some(VariantRef {
        rule,
        dimension,
        name,
    })
}

/// Every variant of every rule, reference first within each dimension's
/// listed order.
pub fn all_variants() -> impl Iterator<Item = VariantRef> {
    RULES.iter().flat_map(|rule| {
        rule.dimensions.iter().flat_map(move |dimension| {
            dimension.variants.iter().map(move |name| VariantRef {
                rule,
                dimension,
                name,
            })
        })
    })
}

/// A rule ID known to [`RULES`] (an index into it: only [`FromStr`] and
/// [`find_id`] make one, so it always names a rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleId(u16);

impl RuleId {
    pub fn rule(self) -> &'static Rule {
        &RULES[usize::from(self.0)]
    }

    pub fn as_str(self) -> &'static str {
        self.rule().id
    }
}

/// The [`RuleId`] of an exact ID.
pub fn find_id(id: &str) -> Option<RuleId> {
    RULES
        .iter()
        .position(|r| r.id == id)
        .and_then(|i| u16::try_from(i).ok())
        .map(RuleId)
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which clause of a rule a citation means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Clause {
    /// `LT-5`: the rule's primary level.
    Primary,
    /// `LT-5/SHOULD`: its SHOULD clause.
    Should,
}

/// What a scenario or step cites: a rule, or explicitly its SHOULD clause.
/// Written `LT-5` or `LT-5/SHOULD` in scenarios and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleRef {
    pub id: RuleId,
    pub clause: Clause,
}

impl RuleRef {
    pub fn rule(self) -> &'static Rule {
        self.id.rule()
    }

    /// The level a break of this citation counts at.
    pub fn level(self) -> Level {
        match self.clause {
            Clause::Primary => self.rule().primary(),
            Clause::Should => Level::Should,
        }
    }
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.clause {
            Clause::Primary => write!(f, "{}", self.id),
            Clause::Should => write!(f, "{}/SHOULD", self.id),
        }
    }
}

/// `LT-5/SHOULD` == `"LT-5/SHOULD"`: a citation equals its spelling.
impl PartialEq<&str> for RuleRef {
    fn eq(&self, other: &&str) -> bool {
        let id = self.id.as_str();
        match self.clause {
            Clause::Primary => *other == id,
            Clause::Should => other.strip_suffix("/SHOULD") == Some(id),
        }
    }
}

/// A citation that names no rule clause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleRefError {
    #[error("a rule ID of semantics.md (such as `LT-5`), found `{found}`{}", did_you_mean(.suggestion))]
    Unknown {
        found: String,
        suggestion: Option<&'static str>,
    },
    #[error(
        "`{id}/SHOULD` names a SHOULD clause, but {id} has none (its levels: {levels}); cite `{id}`"
    )]
    NoShould { id: &'static str, levels: String },
    #[error("`RULE` or `RULE/SHOULD`, found `{0}`")]
    BadClause(String),
}

fn did_you_mean(s: &Option<&'static str>) -> String {
    s.map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

impl FromStr for RuleRef {
    type Err = RuleRefError;

    fn from_str(s: &str) -> Result<RuleRef, RuleRefError> {
        let (id, clause) = match s.split_once('/') {
            None => (s, Clause::Primary),
            Some((id, "SHOULD")) => (id, Clause::Should),
            Some(_) => return Err(RuleRefError::BadClause(s.to_owned())),
        };
        let Some(rid) = find_id(id) else {
            return Err(RuleRefError::Unknown {
                found: s.to_owned(),
                suggestion: suggest(id),
            });
        };
        let rule = rid.rule();
        if clause == Clause::Should && !rule.has(Level::Should) {
            return Err(RuleRefError::NoShould {
                id: rule.id,
                levels: levels_text(rule),
            });
        }
        Ok(RuleRef { id: rid, clause })
    }
}

/// `MUST, VARIANT`.
pub fn levels_text(rule: &Rule) -> String {
    rule.levels
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rule ID a misspelt one clearly meant: the same but for case, or
/// for one character swapped (`XS-3` for `TS-3`), when only one rule is
/// that close. `LT-99` and `LT-S` get none.
fn suggest(id: &str) -> Option<&'static str> {
    let id = id.to_ascii_uppercase();
    let close: Vec<(usize, &'static str)> = RULES
        .iter()
        .filter(|r| r.id.len() == id.len())
        .map(|r| (edit_distance(&id, &r.id.to_ascii_uppercase()), r.id))
        .filter(|(d, _)| *d <= 1)
        .collect();
    let best = close.iter().map(|(d, _)| *d).min()?;
    match close.iter().filter(|(d, _)| *d == best).collect::<Vec<_>>()[..] {
        [(_, id)] => Some(id),
        _ => None,
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

impl serde::Serialize for RuleRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RuleRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RuleRef, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether a citation as written in a report (`LT-5`, `LT-5/SHOULD`) is
/// about rule `id`.
pub fn cites(citation: &str, id: &str) -> bool {
    citation.split('/').next() == Some(id)
}

/// Whether a failed check citing these rules is only a `warn`: every
/// citation is a SHOULD clause (a rule whose primary level is SHOULD, or
/// `X/SHOULD`). No citation, an unknown one, or any MUST or VARIANT one
/// makes it a `fail`.
pub fn breach_is_warning<S: AsRef<str>>(citations: &[S]) -> bool {
    !citations.is_empty()
        && citations.iter().all(|c| {
            c.as_ref()
                .parse::<RuleRef>()
                .is_ok_and(|r| r.level() == Level::Should)
        })
}

/// Looks a rule up by ID (exact, case-sensitive).
pub fn find(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// Whether `id` names a rule.
pub fn is_known(id: &str) -> bool {
    find(id).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ids_are_unique_and_match_their_family() {
        let mut seen = BTreeSet::new();
        for r in RULES {
            assert!(seen.insert(r.id), "duplicate rule {}", r.id);
            assert!(
                r.id.starts_with(r.family.prefix()),
                "{} in wrong family",
                r.id
            );
        }
        assert!(is_known("LT-7a"));
        assert!(!is_known("lt-5"));
    }

    /// semantics.md as the repository carries it; a missing file is a
    /// compile error, never a silent pass.
    const SEMANTICS: &str = include_str!("../specs/semantics.md");

    /// What one rule bullet of semantics.md says: its levels in order and,
    /// for a VARIANT, the variant names with the reference's.
    #[derive(Debug, PartialEq)]
    struct Documented {
        id: String,
        levels: Vec<Level>,
        variants: Vec<String>,
        reference: Option<String>,
    }

    /// Parses every `- ID **LEVEL** ...` bullet: the levels are the first
    /// occurrences of `**MUST**`, `**SHOULD**` and `VARIANT`; the variants
    /// are the backticked names of the `a *(reference)* | b` list after
    /// `VARIANT` (up to the next bold level).
    fn documented(text: &str) -> Vec<Documented> {
        let bullet = regex::Regex::new(r"^- ((?:TS|LT|RN|HP|IP|SL)-\d+a?) \*\*[A-Z]+\*\*").unwrap();
        let tick = regex::Regex::new(r"`([^`]+)`").unwrap();
        let mut out = Vec::new();
        for line in text.lines() {
            let Some(c) = bullet.captures(line) else {
                continue;
            };
            let mut found: Vec<(usize, Level)> = [
                ("**MUST**", Level::Must),
                ("**SHOULD**", Level::Should),
                ("VARIANT", Level::Variant),
            ]
            .into_iter()
            .filter_map(|(w, l)| line.find(w).map(|at| (at, l)))
            .collect();
            found.sort();
            let (mut variants, mut reference) = (Vec::new(), None);
            if let Some(at) = line.find("VARIANT") {
                let seg = &line[at + "VARIANT".len()..];
                let seg = seg.trim_start_matches("**");
                let end = ["**MUST**", "**SHOULD**"]
                    .iter()
                    .filter_map(|w| seg.find(w))
                    .min()
                    .unwrap_or(seg.len());
                for (i, part) in seg[..end].split(" | ").enumerate() {
                    let names: Vec<&str> = tick
                        .captures_iter(part)
                        .map(|c| c.get(1).unwrap().as_str())
                        .collect();
                    // The first alternative follows the rule's own words;
                    // its name is the last backticked one before `|`.
                    let name = if i == 0 { names.last() } else { names.first() };
                    if let Some(name) = name {
                        variants.push(name.to_string());
                        if part.contains("*(reference") {
                            reference = Some(name.to_string());
                        }
                    }
                }
            }
            out.push(Documented {
                id: c[1].to_owned(),
                levels: found.into_iter().map(|(_, l)| l).collect(),
                variants,
                reference,
            });
        }
        out
    }

    /// The table as the parser would see it, HP-2 aside (its variants are
    /// the carrier pairs, checked separately).
    fn ours() -> Vec<Documented> {
        RULES
            .iter()
            .map(|r| {
                let (variants, reference) = match r.dimensions {
                    [d] => (
                        d.variants.iter().map(|v| v.to_string()).collect(),
                        Some(d.reference.to_owned()),
                    ),
                    _ => (vec![], None),
                };
                Documented {
                    id: r.id.to_owned(),
                    levels: r.levels.to_vec(),
                    variants,
                    reference,
                }
            })
            .collect()
    }

    #[test]
    fn table_matches_semantics_md() {
        let mut doc = documented(SEMANTICS);
        assert_eq!(doc.len(), RULES.len(), "one bullet per rule");
        // HP-2 names its variants by example (`HP-2 x-esri/query: x-esri`).
        let hp2 = doc.iter_mut().find(|d| d.id == "HP-2").unwrap();
        assert_eq!(hp2.variants, ["HP-2 x-esri/query: x-esri"]);
        let v = variant("HP-2", "x-esri/query: x-esri").unwrap();
        assert!(v.is_reference());
        assert_eq!(v.to_string(), "HP-2 x-esri/query: x-esri");
        hp2.variants.clear();
        hp2.reference = None;
        for (d, o) in doc.iter().zip(ours()) {
            assert_eq!(*d, o, "semantics.md (left) and RULES (right) differ");
        }
        // Every VARIANT rule has dimensions, and only those.
        for r in RULES {
            assert_eq!(r.has(Level::Variant), !r.dimensions.is_empty(), "{}", r.id);
        }
    }

    #[test]
    fn the_parser_notices_a_changed_entry() {
        let changed = SEMANTICS.replace(
            "- HP-8 **MUST** a public (unsecured) resource",
            "- HP-8 **SHOULD** a public (unsecured) resource",
        );
        assert_ne!(documented(&changed), documented(SEMANTICS));
        let renamed = SEMANTICS.replace("`checked` *(reference", "`verified` *(reference");
        assert_ne!(documented(&renamed), ours());
    }

    #[test]
    fn hp2_has_one_dimension_per_pair_in_reference_order() {
        let hp2 = find("HP-2").unwrap();
        assert_eq!(hp2.dimensions.len(), 10);
        for (i, a) in CARRIERS.iter().enumerate() {
            for b in &CARRIERS[i + 1..] {
                let d = hp2.dimension(&format!("{a}/{b}")).unwrap();
                assert_eq!((d.variants, d.reference), (&[*a, *b][..], *a));
            }
        }
        assert_eq!(hp2.primary(), Level::Variant);
        assert!(hp2.has(Level::Must));
    }

    #[test]
    fn variants_are_looked_up_by_rule_and_name() {
        let v = variant("HP-8", "ignored").unwrap();
        assert!(!v.is_reference());
        assert_eq!(v.to_string(), "HP-8: ignored");
        assert!(variant("HP-8", "checked").unwrap().is_reference());
        assert!(variant("HP-2", "query/body=body").is_some());
        assert!(variant("HP-2", "body/query=body").is_none());
        assert!(variant("HP-8", "maybe").is_none());
        assert!(variant("LT-5", "clamp").is_none());
        assert_eq!(all_variants().filter(|v| v.is_reference()).count(), 25);
        for v in all_variants() {
            assert!(v.dimension.variants.contains(&v.dimension.reference));
        }
    }

    #[test]
    fn rule_refs_parse_with_levels_and_suggestions() {
        let r: RuleRef = "LT-5".parse().unwrap();
        assert_eq!((r.level(), r.to_string()), (Level::Must, "LT-5".into()));
        let r: RuleRef = "LT-5/SHOULD".parse().unwrap();
        assert_eq!(
            (r.level(), r.to_string()),
            (Level::Should, "LT-5/SHOULD".into())
        );
        assert_eq!("LT-4".parse::<RuleRef>().unwrap().level(), Level::Should);
        assert_eq!("HP-6".parse::<RuleRef>().unwrap().level(), Level::Variant);
        let e = "LT-1/SHOULD".parse::<RuleRef>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "`LT-1/SHOULD` names a SHOULD clause, but LT-1 has none (its levels: MUST); cite `LT-1`"
        );
        let e = "lt-5".parse::<RuleRef>().unwrap_err();
        assert!(e.to_string().ends_with("did you mean `LT-5`?"), "{e}");
        let e = "lt-7A".parse::<RuleRef>().unwrap_err();
        assert!(e.to_string().ends_with("did you mean `LT-7a`?"), "{e}");
        let e = "XS-3/SHOULD".parse::<RuleRef>().unwrap_err();
        assert!(e.to_string().ends_with("did you mean `TS-3`?"), "{e}");
        assert!(
            !"LT-S"
                .parse::<RuleRef>()
                .unwrap_err()
                .to_string()
                .contains("did you mean")
        );
        let e = "LT-99".parse::<RuleRef>().unwrap_err();
        assert_eq!(
            e,
            RuleRefError::Unknown {
                found: "LT-99".into(),
                suggestion: None
            }
        );
        assert!(matches!(
            "LT-5/MUST".parse::<RuleRef>(),
            Err(RuleRefError::BadClause(_))
        ));
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, "\"LT-5/SHOULD\"");
        assert_eq!(serde_json::from_str::<RuleRef>(&json).unwrap(), r);
    }

    #[test]
    fn only_should_citations_make_a_warning() {
        assert!(breach_is_warning(&["LT-5/SHOULD"]));
        assert!(breach_is_warning(&["LT-4", "HP-3"]));
        assert!(!breach_is_warning(&["LT-4", "LT-5"]));
        assert!(!breach_is_warning(&["HP-6"]));
        assert!(!breach_is_warning::<&str>(&[]));
        assert!(!breach_is_warning(&["XX-1"]));
        assert!(cites("LT-5/SHOULD", "LT-5") && cites("LT-5", "LT-5"));
        assert!(!cites("LT-5", "LT-5a") && !cites("LT-7a", "LT-7"));
    }
}

/// What `tessera rules` prints for a rule, before its citing scenarios:
/// `ID  LEVELS  summary`, then one line per VARIANT dimension with the
/// reference's variant starred.
pub fn describe(rule: &Rule) -> String {
    let levels = rule
        .levels
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = format!("{:<6} {:<21} {}", rule.id, levels, rule.summary);
    for d in rule.dimensions {
        let names: Vec<String> = d
            .variants
            .iter()
            .map(|v| {
                if *v == d.reference {
                    format!("{v} (reference)")
                } else {
                    (*v).to_owned()
                }
            })
            .collect();
        let dim = if d.name.is_empty() {
            String::new()
        } else {
            format!("{}: ", d.name)
        };
        out.push_str(&format!("\n{:<6} variant {dim}{}", "", names.join(" | ")));
    }
    out
}

/// Which scenarios cite each rule, in the order of [`RULES`].
pub fn coverage<'a, I>(citations: I) -> Vec<(&'static Rule, Vec<String>)>
where
    I: IntoIterator<Item = (&'a str, &'a [RuleRef])>,
{
    let citations: Vec<(&str, &[RuleRef])> = citations.into_iter().collect();
    RULES
        .iter()
        .map(|rule| {
            let ids = citations
                .iter()
                .filter(|(_, rules)| rules.iter().any(|r| r.id.as_str() == rule.id))
                .map(|(id, _)| (*id).to_owned())
                .collect();
            (rule, ids)
        })
        .collect()
}

#[cfg(test)]
mod coverage_tests {
    use super::*;

    #[test]
    fn describe_shows_levels_and_variants() {
        let text = ["LT-5", "TS-3", "HP-2"]
            .iter()
            .map(|id| describe(find(id).unwrap()))
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!(text, @r"
        LT-5   MUST SHOULD           a token is refused (498) once now > expires, accepted before; SHOULD be invalid at now == expires
        TS-3   MUST VARIANT SHOULD   bad credentials: no token, HTTP 200 error body, code 400 | 401; SHOULD case-sensitive credentials
               variant 400 (reference) | 401
        HP-2   VARIANT MUST          which carrier wins varies per pair; the winners MUST form one strict order, consistent everywhere
               variant x-esri/authorization: x-esri (reference) | authorization
               variant x-esri/query: x-esri (reference) | query
               variant x-esri/body: x-esri (reference) | body
               variant x-esri/cookie: x-esri (reference) | cookie
               variant authorization/query: authorization (reference) | query
               variant authorization/body: authorization (reference) | body
               variant authorization/cookie: authorization (reference) | cookie
               variant query/body: query (reference) | body
               variant query/cookie: query (reference) | cookie
               variant body/cookie: body (reference) | cookie
        ");
    }

    #[test]
    fn coverage_lists_citing_scenarios_and_uncovered_rules() {
        let r = |s: &str| s.parse::<RuleRef>().unwrap();
        let a = vec![r("LT-5/SHOULD"), r("LT-1")];
        let b = vec![r("LT-5")];
        let cov = coverage([("lifetimes/a", a.as_slice()), ("lifetimes/b", b.as_slice())]);
        let lt5 = cov.iter().find(|(r, _)| r.id == "LT-5").unwrap();
        assert_eq!(lt5.1, vec!["lifetimes/a", "lifetimes/b"]);
        let hp1 = cov.iter().find(|(r, _)| r.id == "HP-1").unwrap();
        assert!(hp1.1.is_empty());
        assert_eq!(cov.len(), RULES.len());
    }
}
