//! The catalogue of deliberate rule violations (semantics.md "Reference server
//! control"). Each breaks a MUST or SHOULD clause of semantics.md v2 (or
//! shows none of a VARIANT rule's listed variants) and names the rule IDs it
//! breaks; what v2 lists as a variant is a [`super::Variants`] switch, not a
//! deviation; `tessera serve --deviation
//! NAME` switches it on. They prove the suite catches real mistakes, and show
//! vendors what a failing report looks like. This module only describes them;
//! the handlers consult `AppState::dev`.

macro_rules! deviations {
    ($($variant:ident $name:literal [$($rule:literal),+] $desc:literal;)*) => {
        /// A deliberate rule violation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Deviation { $($variant),* }

        impl Deviation {
            /// Every deviation, in catalogue order.
            pub const ALL: &'static [Deviation] = &[$(Deviation::$variant),*];

            /// The name `--deviation` takes.
            pub fn name(self) -> &'static str {
                match self { $(Deviation::$variant => $name),* }
            }

            /// The rule IDs of semantics.md it breaks.
            pub fn rules(self) -> &'static [&'static str] {
                match self { $(Deviation::$variant => &[$($rule),+]),* }
            }

            /// One line saying what the server does wrong.
            pub fn description(self) -> &'static str {
                match self { $(Deviation::$variant => $desc),* }
            }
        }
    };
}

deviations! {
    AcceptExpiredTokens "accept-expired-tokens" ["LT-5"] "expired tokens are still accepted";
    ValidAtExpiryInstant "valid-at-expiry-instant" ["LT-5"] "a token is still valid at now == expires";
    SlidingExpiry "sliding-expiry" ["LT-6"] "every successful use restarts a token's lifetime";
    NoExpirationClamp "no-expiration-clamp" ["LT-3"] "expiration above max_expiration_minutes is honoured, not clamped";
    LenientExpiration "lenient-expiration" ["LT-4"] "zero, negative or non-integer expiration gets the default lifetime instead of 400";
    PortalOmitsSsl "portal-omits-ssl" ["TS-2"] "Portal generateToken answers carry no `ssl`";
    ExpiresInSeconds "expires-in-seconds" ["TS-2"] "`expires` is reported in epoch seconds, not milliseconds";
    NonUrlSafeTokens "non-url-safe-tokens" ["TS-2"] "tokens use the standard base64 alphabet with + / and = padding";
    GetGenerateTokenAllowed "get-generate-token-allowed" ["TS-4"] "generateToken answers GET requests with the knob off";
    QueryCredentialsAllowed "query-credentials-allowed" ["TS-4"] "POST generateToken takes credentials from the query string with the knob off";
    CaseInsensitiveUsernames "case-insensitive-usernames" ["TS-3"] "usernames are compared case-insensitively";
    MissingBindingValueUnbound "missing-binding-value-unbound" ["TS-5"] "client=ip without ip (or referer without referer) issues an unbound token";
    ExchangeOutlivesSource "exchange-outlives-source" ["TS-8"] "token exchange ignores the source token's expiry when computing the new one";
    IgnoreIpBinding "ignore-ip-binding" ["IP-1", "IP-2", "IP-5", "IP-6"] "IP-bound tokens (and ArcWeb tokens) work from any address";
    IgnoreRefererBinding "ignore-referer-binding" ["IP-1", "IP-3"] "referer-bound tokens work with any or no Referer";
    TrustAnyForwardedFor "trust-any-forwarded-for" ["IP-2"] "X-Forwarded-For is believed from any peer, not only trusted proxies";
    MalformedIpAccepted "malformed-ip-accepted" ["IP-7"] "a malformed ip parameter issues an unbound token instead of 400";
    InconsistentCarrierOrder "inconsistent-carrier-order" ["HP-2"] "two carriers alone rank the other way round from the order that stacks of three or more follow";
    FallbackToLowerCarrier "fallback-to-lower-carrier" ["HP-3", "HP-2"] "after an invalid winning carrier, lower carriers are tried";
    BasicAuthAsToken "basic-auth-as-token" ["HP-4"] "Authorization with a non-Bearer scheme (Basic) is taken as a token";
    WebTierAuthIgnored "web-tier-auth-ignored" ["HP-5"] "Authorization carries a token even with web_tier_auth on";
    MissingTokenAs498 "missing-token-as-498" ["HP-7"] "a missing token gets 498 where 499 belongs";
    ForbiddenAs498 "forbidden-as-498" ["HP-7"] "a valid token lacking permission gets 498 instead of 403";
    PublicServiceRequiresToken "public-service-requires-token" ["HP-8"] "public services answer 499 without a token";
    HttpStatusErrors "http-status-errors" ["TS-6", "HP-7"] "Server/Portal errors use HTTP 401/403/400 instead of 200-wrapped bodies";
    RenewExpiredToken "renew-expired-token" ["RN-2"] "ArcWeb renewToken extends an expired token";
    RenewalShortensToken "renewal-shortens-token" ["RN-3"] "renewal sets expiry to now + 60 min even when the token had longer";
    RenewalDropsBinding "renewal-drops-binding" ["RN-1", "IP-6"] "renewal works from any address and the renewed token loses its IP binding";
    RegenerateRevokesOld "regenerate-revokes-old" ["RN-4"] "a new generateToken for a user invalidates that user's earlier tokens";
    ToutNotClamped "tout-not-clamped" ["LT-7"] "ArcWeb tout above 1440 is honoured";
    ArcwebExpiredAs403 "arcweb-expired-as-403" ["LT-7a"] "an expired ArcWeb token is refused with 403, not 500 `1021: Token has expired.`";
    UserIdExpires "user-id-expires" ["LT-8"] "ArcWeb user IDs expire 60 minutes after issue";
    PasswordChangeKeepsTokens "password-change-keeps-tokens" ["LT-9"] "tokens and user IDs survive a password change";
    SessionOver12h "session-over-12h" ["SL-3"] "durationSeconds above 43200 is honoured";
    SessionEndsWithParent "session-ends-with-parent" ["SL-4"] "a session token stops working when its parent access token expires";
    SessionTokenOtherFamily "session-token-other-family" ["SL-5"] "a session token reaches styles of the other family";
    SessionTokenAnyService "session-token-any-service" ["SL-5"] "a session token is accepted by secured services outside Basemap Styles";
    SessionTokenStartsSession "session-token-starts-session" ["SL-6"] "a valid session token can start another session";
    LocationErrorsWrapped "location-errors-wrapped" ["SL-7"] "location-service errors are HTTP 200 with the error in the body";
    NoSessionCap "no-session-cap" ["SL-8"] "max_concurrent_sessions is ignored";
}

impl Deviation {
    /// `name  RULE,RULE  description`, as `--list-deviations` prints it.
    pub fn line(self) -> String {
        format!(
            "{:<32} {:<12} {}",
            self.name(),
            self.rules().join(","),
            self.description()
        )
    }

    /// Whether it breaks only SHOULD clauses: the suite then owes it `warn`s
    /// and no `fail` (semantics.md v2, "Levels"); every other deviation
    /// breaks a MUST (or shows none of a VARIANT rule's variants) and must
    /// get a `fail`. `tessera selfcheck` checks both.
    pub fn breaks_only_should(self) -> bool {
        use Deviation::*;
        matches!(
            self,
            ValidAtExpiryInstant
                | LenientExpiration
                | CaseInsensitiveUsernames
                | MalformedIpAccepted
                | BasicAuthAsToken
                | RenewalShortensToken
                | NoSessionCap
        )
    }

    /// Bit of this deviation in a set (fewer than 64 exist).
    pub(crate) fn bit(self) -> u64 {
        1u64 << (self as u32)
    }
}

impl std::fmt::Display for Deviation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Deviation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Deviation::ALL
            .iter()
            .copied()
            .find(|d| d.name() == s)
            .ok_or_else(|| {
                format!("unknown deviation `{s}`; `tessera serve --list-deviations` lists them")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_large_named_and_cites_real_rules() {
        assert!(Deviation::ALL.len() >= 25);
        assert!(Deviation::ALL.len() < 64);
        for n in [
            "accept-expired-tokens",
            "valid-at-expiry-instant",
            "ignore-ip-binding",
            "inconsistent-carrier-order",
            "fallback-to-lower-carrier",
            "renew-expired-token",
            "session-over-12h",
            "session-token-any-service",
        ] {
            assert_eq!(n.parse::<Deviation>().unwrap().name(), n);
        }
        let ids: Vec<&str> = crate::rules::RULES.iter().map(|r| r.id).collect();
        for d in Deviation::ALL {
            for r in d.rules() {
                assert!(ids.contains(r), "{d}: unknown rule {r}");
            }
            assert!(d.line().starts_with(d.name()));
        }
        let mut names: Vec<_> = Deviation::ALL.iter().map(|d| d.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Deviation::ALL.len());
        assert!("nope".parse::<Deviation>().is_err());
        // A SHOULD-only deviation names rules that have a SHOULD clause;
        // every other one names a rule with a MUST or VARIANT level.
        use crate::rules::Level;
        for d in Deviation::ALL {
            let rules = d.rules().iter().map(|r| crate::rules::find(r).unwrap());
            if d.breaks_only_should() {
                assert!(rules.clone().all(|r| r.has(Level::Should)), "{d}");
            } else {
                assert!(
                    rules
                        .clone()
                        .any(|r| r.has(Level::Must) || r.has(Level::Variant)),
                    "{d}"
                );
            }
        }
        for fam in ["TS", "LT", "RN", "HP", "IP", "SL"] {
            assert!(
                Deviation::ALL
                    .iter()
                    .any(|d| d.rules().iter().any(|r| r.starts_with(fam))),
                "{fam}"
            );
        }
    }
}
