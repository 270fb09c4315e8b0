//! The built-in drivers of client certification: a small, well-behaved
//! token client (`good`) that speaks the driver protocol of
//! `client-rules.md` on stdin/stdout and follows every CL rule, and broken
//! variants of it, each switching exactly one behaviour ([`Flaw`]), for
//! `tessera selfcheck --clients` to prove that each named rule fires.
//!
//! - [`logic`]: the client's decisions as pure functions (origins,
//!   federation, margins, token errors, backoff), unit-tested.
//! - `client`: the client itself (reqwest), one operation at a time.
//! - `stdio`: the JSON-lines loop ([`run`]).
//!
//! The table [`DRIVERS`] names every driver with the CL rules a
//! certification must catch it on (`warn` or `fail` on that rule); the good
//! driver must pass everything. No clap here: the binary's hidden
//! `tessera client-driver NAME` calls [`run`].

mod client;
pub mod logic;
mod stdio;

pub use stdio::{env_from_process, run};

/// The one behaviour a broken driver gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// CL-1: generateToken with username and password in the query string.
    QueryCredentials,
    /// CL-2: the password goes to whatever token URL a server advertises,
    /// also for federated servers (no exchange), as rest-js 3.x does.
    PasswordToAdvertised,
    /// CL-3 (warn): the token only as a `token` query parameter.
    TokenInQueryOnly,
    /// CL-4: a second, different token in the query beside the header.
    DoubleToken,
    /// CL-5: the portal token goes to every origin, foreign ones too.
    SendEverywhere,
    /// CL-6: federation decided by a regex built from `owningSystemUrl`,
    /// exchanged through the token service the owning system advertises.
    RegexFederation,
    /// CL-7: a token is kept until 5 minutes after its `expires`.
    LateRenewal,
    /// CL-8, CL-14: on 498 (and on credential failures) renew and retry
    /// without bound.
    RetryForever,
    /// CL-8: on 498 the same token is sent again.
    ResendRejected,
    /// CL-9: a token error only when an HTTP 200 body says exactly
    /// `Invalid Token`.
    TextMatch498,
    /// CL-10: on 499 from a foreign origin, retry there with the portal token.
    TokenOn499,
    /// CL-11: a session token is used until 5 minutes after `endTime`.
    LateSession,
    /// CL-12: `ssl: true`, `allSSL` and https token services are ignored.
    IgnoreSsl,
    /// CL-12 (warn): TLS certificates are not verified.
    NoVerifyTls,
    /// CL-13: lifetimes read against the local clock (no server time).
    AbsoluteExpiry,
    /// CL-14 (warn): 429/503 from a token service retried at once, five
    /// times, `Retry-After` ignored.
    NoBackoff,
    /// CL-15: asks for a referer-bound token but sends no `Referer` header.
    NoReferer,
}

/// The name of the well-behaved driver.
pub const GOOD: &str = "good";

/// Every built-in driver: its name and the CL rules a certification must
/// catch it on. The first is the good driver (no rules: it must pass).
pub const DRIVERS: &[(&str, &[&str])] = &[
    (GOOD, &[]),
    ("query-credentials", &["CL-1"]),
    ("token-in-query-only", &["CL-3"]),
    ("double-token", &["CL-4"]),
    ("send-everywhere", &["CL-5"]),
    ("regex-federation", &["CL-6"]),
    ("late-renewal", &["CL-7"]),
    ("retry-forever", &["CL-8", "CL-14"]),
    ("resend-rejected", &["CL-8"]),
    ("text-match-498", &["CL-9"]),
    ("ignore-ssl", &["CL-12"]),
    ("password-to-advertised", &["CL-2"]),
    ("token-on-499", &["CL-10"]),
    ("late-session", &["CL-11"]),
    ("no-verify-tls", &["CL-12"]),
    ("absolute-expiry", &["CL-13"]),
    ("no-backoff", &["CL-14"]),
    ("no-referer", &["CL-15"]),
];

/// The broken drivers of [`DRIVERS`] (all but the good one).
pub const BROKEN: &[(&str, &[&str])] = DRIVERS.split_at(1).1;

/// The flaw of a driver name: `Ok(None)` for the good driver, `Err` for an
/// unknown name.
pub fn flaw(name: &str) -> Result<Option<Flaw>, UnknownDriver> {
    Ok(Some(match name {
        GOOD => return Ok(None),
        "query-credentials" => Flaw::QueryCredentials,
        "token-in-query-only" => Flaw::TokenInQueryOnly,
        "double-token" => Flaw::DoubleToken,
        "send-everywhere" => Flaw::SendEverywhere,
        "regex-federation" => Flaw::RegexFederation,
        "late-renewal" => Flaw::LateRenewal,
        "retry-forever" => Flaw::RetryForever,
        "resend-rejected" => Flaw::ResendRejected,
        "text-match-498" => Flaw::TextMatch498,
        "ignore-ssl" => Flaw::IgnoreSsl,
        "password-to-advertised" => Flaw::PasswordToAdvertised,
        "token-on-499" => Flaw::TokenOn499,
        "late-session" => Flaw::LateSession,
        "no-verify-tls" => Flaw::NoVerifyTls,
        "absolute-expiry" => Flaw::AbsoluteExpiry,
        "no-backoff" => Flaw::NoBackoff,
        "no-referer" => Flaw::NoReferer,
        _ => return Err(UnknownDriver(name.to_owned())),
    }))
}

/// A driver name that is not in [`DRIVERS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no built-in driver `{0}` (known: {known})", known = DRIVERS.iter().map(|d| d.0).collect::<Vec<_>>().join(", "))]
pub struct UnknownDriver(pub String);

#[cfg(test)]
mod tests_world;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_driver_has_one_distinct_flaw_and_names_a_rule() {
        let mut seen = Vec::new();
        for (name, rules) in DRIVERS {
            let f = flaw(name).unwrap_or_else(|e| panic!("{e}"));
            if *name == GOOD {
                assert!(f.is_none() && rules.is_empty());
                continue;
            }
            let f = f.expect("a broken driver has a flaw");
            assert!(!seen.contains(&f), "{name} repeats a flaw");
            seen.push(f);
            assert!(!rules.is_empty(), "{name} names no rule");
            for r in *rules {
                let n: u32 = r.strip_prefix("CL-").and_then(|n| n.parse().ok()).unwrap();
                assert!((1..=15).contains(&n), "{name}: {r}");
            }
        }
        assert_eq!(BROKEN.len(), DRIVERS.len() - 1);
        assert!(BROKEN.iter().all(|(n, _)| *n != GOOD));
    }

    #[test]
    fn the_drivers_the_issue_names_are_all_there() {
        for name in [
            "query-credentials",
            "token-in-query-only",
            "double-token",
            "send-everywhere",
            "regex-federation",
            "late-renewal",
            "retry-forever",
            "resend-rejected",
            "text-match-498",
            "ignore-ssl",
        ] {
            assert!(BROKEN.iter().any(|(n, _)| *n == name), "{name}");
        }
        assert!(flaw("nope").unwrap_err().to_string().contains("good"));
    }
}
