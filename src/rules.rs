//! The rule IDs of `semantics.md` as data: what scenarios cite, what coverage
//! counts, and what deviations of the reference server break.

/// One normative rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub family: Family,
    /// A one-line summary (the normative text is semantics.md).
    pub summary: &'static str,
}

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
    ($($id:literal $fam:ident $summary:literal;)*) => {
        /// Every rule, in the order of semantics.md.
        pub const RULES: &[Rule] = &[$(Rule { id: $id, family: Family::$fam, summary: $summary }),*];
    };
}

rules! {
    "TS-1" Issuing "generateToken takes username, password, client, referer, ip, expiration, f; credentials in a form POST body";
    "TS-2" Issuing "success is {token, expires (epoch ms), ssl}; the token is opaque, URL-safe, 64-256 characters, unguessable";
    "TS-3" Issuing "bad credentials: HTTP 200, code 400 'Unable to generate token.'; usernames and passwords are case-sensitive";
    "TS-4" Issuing "GET, or POST with credentials in the query, is refused unless allow_http_get / allow_post_query_params";
    "TS-5" Issuing "client=ip without ip or client=referer without referer: code 400; unknown client: code 400";
    "TS-6" Issuing "f=json/pjson gives JSON; token-operation errors are HTTP 200 with the error body";
    "TS-7" Issuing "rest/info advertises isTokenBasedSecurity, tokenServicesUrl and shortLivedTokenValidity";
    "TS-8" Issuing "token exchange with token + serverUrl returns a token for the same user expiring no later";
    "LT-1" Lifetimes "expiration omitted: the token lives short_lived_minutes";
    "LT-2" Lifetimes "expiration within bounds is honoured exactly";
    "LT-3" Lifetimes "expiration above max_expiration_minutes is clamped, not refused";
    "LT-4" Lifetimes "expiration non-integer, zero or negative: code 400";
    "LT-5" Lifetimes "a token is valid iff now < expires; at now == expires it is invalid (498)";
    "LT-6" Lifetimes "expiry counts from issue time, never from last use";
    "LT-7" Lifetimes "ArcWeb getToken tout: default 60, maximum 1440 (clamped), non-integer or <= 0 refused";
    "LT-7a" Lifetimes "ArcWeb answers: text/plain 200; refusals 403; expired token 500 '1021: Token has expired.'";
    "LT-8" Lifetimes "ArcWeb user IDs never expire, are not IP-bound, one per account";
    "LT-9" Lifetimes "a password change invalidates earlier tokens and user IDs of that user";
    "RN-1" Renewal "ArcWeb renewToken extends a valid token to 60 minutes from renewal, same binding";
    "RN-2" Renewal "renewing an expired, unknown or malformed token fails and extends nothing";
    "RN-3" Renewal "renewal never shortens a token";
    "RN-4" Renewal "arcgis-token renews by generating again; the old token stays valid until its expiry";
    "RN-5" Renewal "a basemap session is never extended; a new one is started with the access token";
    "RN-6" Renewal "a token regenerated after 498/499 works at once";
    "HP-1" HeaderPrecedence "carriers: X-Esri-Authorization, Authorization Bearer, query token, body token, agstoken cookie";
    "HP-2" HeaderPrecedence "the first present carrier in precedence order is the token";
    "HP-3" HeaderPrecedence "only the winning carrier is validated; no fallback to a lower carrier";
    "HP-4" HeaderPrecedence "non-Bearer Authorization and empty Bearer are ignored; names and scheme are case-insensitive";
    "HP-5" HeaderPrecedence "with web_tier_auth, Authorization never carries a token";
    "HP-6" HeaderPrecedence "duplicate token parameters in one carrier: the first wins";
    "HP-7" HeaderPrecedence "no token on a secured resource: 499; valid token lacking permission: 403";
    "HP-8" HeaderPrecedence "a public resource ignores tokens entirely";
    "IP-1" Binding "client=requestip / ip / referer bind the token to the peer address, the ip, the referer";
    "IP-2" Binding "a bound token used from elsewhere gives 498; X-Forwarded-For only from trusted proxies";
    "IP-3" Binding "referer match is a prefix match; scheme and host case-insensitive, path case-sensitive";
    "IP-4" Binding "client omitted: the token is unbound";
    "IP-5" Binding "ArcWeb getToken binds to the requesting address or ip";
    "IP-6" Binding "renewal keeps the binding; a renew from another address is refused";
    "IP-7" Binding "malformed ip: code 400";
    "SL-1" Sessions "sessions/start takes token, styleFamily (default arcgis), durationSeconds (default 43200), f";
    "SL-2" Sessions "the answer is exactly sessionToken, startTime, endTime, styleFamily; endTime - startTime = duration";
    "SL-3" Sessions "durationSeconds < 10, > 43200 or non-integer: code 400, no clamping";
    "SL-4" Sessions "a session token is valid iff now < endTime; it survives its parent token";
    "SL-5" Sessions "a session token reaches only Basemap Styles and only its own family (else 403)";
    "SL-6" Sessions "a session token cannot start a session; a token without the basemap privilege gets 403";
    "SL-7" Sessions "location-service errors use real HTTP statuses with restInfoUrl";
    "SL-8" Sessions "max_concurrent_sessions: a start beyond the cap gives 429";
    "SL-9" Sessions "a token with the basemap privilege may fetch styles directly; without it 403";
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

    /// When the normative document sits beside the repository (as in CI), the
    /// table above must list exactly its rule IDs.
    #[test]
    fn table_matches_semantics_md_when_present() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/semantics.md");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return;
        };
        let re = regex::Regex::new(r"(?m)^- ((?:TS|LT|RN|HP|IP|SL)-\d+a?) ").unwrap();
        let documented: BTreeSet<&str> = re
            .captures_iter(&text)
            .map(|c| c.get(1).unwrap().as_str())
            .collect();
        let ours: BTreeSet<&str> = RULES.iter().map(|r| r.id).collect();
        assert_eq!(documented, ours);
    }
}

/// Which scenarios cite each rule, in the order of [`RULES`].
pub fn coverage<'a, I>(citations: I) -> Vec<(&'static Rule, Vec<String>)>
where
    I: IntoIterator<Item = (&'a str, &'a [String])>,
{
    let citations: Vec<(&str, &[String])> = citations.into_iter().collect();
    RULES
        .iter()
        .map(|rule| {
            let ids = citations
                .iter()
                .filter(|(_, rules)| rules.iter().any(|r| r == rule.id))
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
    fn coverage_lists_citing_scenarios_and_uncovered_rules() {
        let a = vec!["LT-5".to_string(), "LT-1".to_string()];
        let b = vec!["LT-5".to_string()];
        let cov = coverage([("lifetimes/a", a.as_slice()), ("lifetimes/b", b.as_slice())]);
        let lt5 = cov.iter().find(|(r, _)| r.id == "LT-5").unwrap();
        assert_eq!(lt5.1, vec!["lifetimes/a", "lifetimes/b"]);
        let hp1 = cov.iter().find(|(r, _)| r.id == "HP-1").unwrap();
        assert!(hp1.1.is_empty());
        assert_eq!(cov.len(), RULES.len());
    }
}
