//! The reference server's switches for the VARIANT rules of semantics.md v2:
//! where real ArcGIS products differ, each listed variant conforms. The
//! reference implements the variant marked *(reference)* by default;
//! `tessera serve --variant RULE=NAME` (and `tessera run --variant` with the
//! in-process target) starts it with another one, so the suite can be shown
//! to accept every listed variant.
//!
//! This module only describes the switches and parses `RULE=NAME`; the
//! handlers read the typed fields of [`Variants`]. The names here are the
//! spellings of semantics.md; `crate::rules` holds the canonical table of
//! rules and variant names (a test there is meant to link the two).

use std::fmt;

/// Why a `RULE=NAME` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VariantError {
    #[error("expected RULE=NAME (such as HP-8=ignored), found `{0}`")]
    Malformed(String),
    #[error("`{rule}` is not a VARIANT rule the reference can switch; expected one of {known}")]
    UnknownRule { rule: String, known: String },
    #[error("unknown variant `{name}` of {rule}; expected one of {valid}")]
    UnknownName {
        rule: &'static str,
        name: String,
        valid: String,
    },
    #[error(
        "HP-2 takes the five carriers {carriers}, each once, highest precedence first, found `{0}`",
        carriers = CARRIER_NAMES.join(",")
    )]
    BadOrder(String),
    #[error("{rule} is given twice (`{first}` and `{second}`)")]
    Twice {
        rule: &'static str,
        first: String,
        second: String,
    },
}

macro_rules! two_way {
    ($(
        $(#[$doc:meta])*
        $ty:ident $field:ident $rule:literal { $refv:ident $refname:literal, $altv:ident $altname:literal }
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
            pub enum $ty {
                /// The reference's own variant.
                #[default]
                $refv,
                $altv,
            }

            impl $ty {
                /// The rule ID of semantics.md.
                pub const RULE: &'static str = $rule;
                /// Variant names, the reference's first.
                pub const NAMES: [&'static str; 2] = [$refname, $altname];

                pub fn name(self) -> &'static str {
                    match self {
                        $ty::$refv => $refname,
                        $ty::$altv => $altname,
                    }
                }

                fn parse(name: &str) -> Option<$ty> {
                    match name {
                        $refname => Some($ty::$refv),
                        $altname => Some($ty::$altv),
                        _ => None,
                    }
                }
            }
        )*

        /// The variant in force for each VARIANT rule. `Default` is the
        /// reference's choice everywhere.
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct Variants {
            $(pub $field: $ty,)*
            /// HP-2: carriers, highest precedence first.
            pub hp2: CarrierOrder,
        }

        /// Every switchable rule with its variant names (reference first);
        /// HP-2 takes an order instead of a name.
        pub const TWO_WAY: &[(&str, [&str; 2])] = &[$(($rule, $ty::NAMES)),*];

        impl Variants {
            /// Sets one rule from `RULE` and `NAME`.
            fn set_one(&mut self, rule: &str, name: &str) -> Result<&'static str, VariantError> {
                $(
                    if rule == $rule {
                        self.$field = $ty::parse(name).ok_or_else(|| VariantError::UnknownName {
                            rule: $rule,
                            name: name.to_owned(),
                            valid: $ty::NAMES.join(", "),
                        })?;
                        return Ok($rule);
                    }
                )*
                if rule == "HP-2" {
                    self.hp2 = name.parse()?;
                    return Ok("HP-2");
                }
                Err(VariantError::UnknownRule {
                    rule: rule.to_owned(),
                    known: known_rules(),
                })
            }

            /// `RULE=NAME` for every rule not at the reference's variant.
            pub fn changed(&self) -> Vec<String> {
                let mut out = Vec::new();
                $(
                    if self.$field != $ty::default() {
                        out.push(format!("{}={}", $rule, self.$field.name()));
                    }
                )*
                if self.hp2 != CarrierOrder::default() {
                    out.push(format!("HP-2={}", self.hp2));
                }
                out
            }
        }
    };
}

two_way! {
    /// TS-3: the code for bad credentials.
    Ts3 ts3 "TS-3" { Code400 "400", Code401 "401" }
    /// TS-4: the code for GET, or credentials in the query string.
    Ts4 ts4 "TS-4" { Code405 "405", Code400 "400" }
    /// TS-5: the code for `client=ip` without `ip` (or referer without referer).
    Ts5 ts5 "TS-5" { Code201 "201", Code400 "400" }
    /// TS-6: an unknown service path.
    Ts6 ts6 "TS-6" { Wrapped404 "wrapped-404", Http404 "http-404" }
    /// LT-3: Portal-path `expiration` above its maximum.
    Lt3 lt3 "LT-3" { Clamp "clamp", Refuse "refuse" }
    /// LT-7: ArcWeb `tout` above 1440.
    Lt7 lt7 "LT-7" { Clamp "clamp", Refuse "refuse" }
    /// LT-7a: an invalid ArcWeb user ID.
    Lt7a lt7a "LT-7a" { Forbidden403 "403", Error500 "500" }
    /// RN-1: what ArcWeb `renewToken` returns.
    Rn1 rn1 "RN-1" { SameToken "same-token", NewToken "new-token" }
    /// HP-5: the `agstoken` cookie under web-tier authentication.
    Hp5 hp5 "HP-5" { CookieCarries "cookie-carries", CookieIgnored "cookie-ignored" }
    /// HP-6: which of duplicate `token` parameters (or cookies) wins.
    Hp6 hp6 "HP-6" { First "first", Last "last" }
    /// HP-8: a public resource given an invalid, expired or foreign token.
    Hp8 hp8 "HP-8" { Checked "checked", Ignored "ignored" }
    /// IP-4: `client` omitted.
    Ip4 ip4 "IP-4" { Unbound "unbound", ShortOnly "short-only" }
    /// SL-3: `durationSeconds` outside 10..43200 or not an integer.
    Sl3 sl3 "SL-3" { Refuse "refuse", Clamp "clamp" }
    /// SL-5: a session token outside Basemap Styles or its family.
    Sl5 sl5 "SL-5" { Forbidden403 "403", Invalid498 "498" }
    /// SL-6: a valid session token starting a session.
    Sl6 sl6 "SL-6" { Forbidden403 "403", Invalid498 "498" }
}

fn known_rules() -> String {
    let mut v: Vec<&str> = TWO_WAY.iter().map(|(r, _)| *r).collect();
    v.push("HP-2");
    v.join(", ")
}

impl Variants {
    /// Reads one `RULE=NAME` into `self`; the rule ID it set.
    pub fn set(&mut self, spec: &str) -> Result<&'static str, VariantError> {
        let (rule, name) = spec
            .split_once('=')
            .map(|(r, n)| (r.trim(), n.trim()))
            .filter(|(r, n)| !r.is_empty() && !n.is_empty())
            .ok_or_else(|| VariantError::Malformed(spec.to_owned()))?;
        self.set_one(rule, name)
    }

    /// One `RULE=NAME`, on top of the reference's variants.
    pub fn parse(spec: &str) -> Result<Variants, VariantError> {
        let mut v = Variants::default();
        v.set(spec)?;
        Ok(v)
    }

    /// Several `RULE=NAME`s (as `--variant` repeats); a rule given twice is
    /// an error, not a silent override.
    pub fn from_specs<S: AsRef<str>>(specs: &[S]) -> Result<Variants, VariantError> {
        let mut v = Variants::default();
        let mut seen: Vec<(&'static str, &str)> = Vec::new();
        for s in specs {
            let s = s.as_ref();
            let id = v.set(s)?;
            if let Some((_, first)) = seen.iter().find(|(r, _)| *r == id) {
                return Err(VariantError::Twice {
                    rule: id,
                    first: (*first).to_owned(),
                    second: s.to_owned(),
                });
            }
            seen.push((id, s));
        }
        Ok(v)
    }

    /// Each non-reference variant alone (`RULE=NAME`), for runs that switch
    /// one at a time; HP-2 contributes the reversed reference order.
    pub fn alternatives() -> Vec<String> {
        let mut v: Vec<String> = TWO_WAY
            .iter()
            .map(|(rule, names)| format!("{rule}={}", names[1]))
            .collect();
        let mut rev = CarrierOrder::default().0;
        rev.reverse();
        v.push(format!("HP-2={}", CarrierOrder(rev)));
        v
    }

    /// Every non-reference variant at once.
    pub fn all_alternatives() -> Variants {
        Variants::from_specs(&Variants::alternatives()).unwrap_or_default()
    }
}

impl fmt::Display for Variants {
    /// `RULE=NAME, ...` of the non-reference variants, or `reference`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.changed();
        if c.is_empty() {
            f.write_str("reference")
        } else {
            f.write_str(&c.join(", "))
        }
    }
}

/// A token carrier of HP-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Carrier {
    XEsriAuthorization,
    Authorization,
    Query,
    Body,
    Cookie,
}

/// The carriers' spellings in `HP-2=...`, in the reference order.
pub const CARRIER_NAMES: [&str; 5] = ["x-esri", "authorization", "query", "body", "cookie"];

impl Carrier {
    pub const ALL: [Carrier; 5] = [
        Carrier::XEsriAuthorization,
        Carrier::Authorization,
        Carrier::Query,
        Carrier::Body,
        Carrier::Cookie,
    ];

    pub fn name(self) -> &'static str {
        CARRIER_NAMES[self as usize]
    }
}

/// HP-2: a strict order of the five carriers, highest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarrierOrder(pub [Carrier; 5]);

impl Default for CarrierOrder {
    /// The reference order: X-Esri-Authorization, Authorization, query, body, cookie.
    fn default() -> Self {
        CarrierOrder(Carrier::ALL)
    }
}

impl CarrierOrder {
    /// Position of `c` (0 is the winner over every other).
    pub fn rank(&self, c: Carrier) -> usize {
        self.0.iter().position(|x| *x == c).unwrap_or(usize::MAX)
    }
}

impl std::str::FromStr for CarrierOrder {
    type Err = VariantError;
    fn from_str(s: &str) -> Result<Self, VariantError> {
        let bad = || VariantError::BadOrder(s.to_owned());
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if parts.len() != 5 {
            return Err(bad());
        }
        let mut out = Carrier::ALL;
        for (slot, p) in out.iter_mut().zip(&parts) {
            *slot = Carrier::ALL
                .into_iter()
                .find(|c| c.name() == *p)
                .ok_or_else(bad)?;
        }
        if Carrier::ALL.iter().any(|c| !out.contains(c)) {
            return Err(bad());
        }
        Ok(CarrierOrder(out))
    }
}

impl fmt::Display for CarrierOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|c| c.name()).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_parses_both_names_and_refuses_others() {
        for (rule, names) in TWO_WAY {
            let v = Variants::parse(&format!("{rule}={}", names[0])).unwrap();
            assert_eq!(v, Variants::default(), "{rule}");
            let v = Variants::parse(&format!("{rule}={}", names[1])).unwrap();
            assert_eq!(v.changed(), vec![format!("{rule}={}", names[1])]);
            let e = Variants::parse(&format!("{rule}=nope")).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains(names[0]) && msg.contains(names[1]), "{msg}");
        }
        assert_eq!(TWO_WAY.len(), 15);
    }

    #[test]
    fn spellings_are_those_of_the_brief() {
        let v = Variants::from_specs(&[
            "TS-3=401",
            "TS-4=400",
            "TS-5=400",
            "TS-6=http-404",
            "LT-3=refuse",
            "LT-7=refuse",
            "LT-7a=500",
            "RN-1=new-token",
            "HP-2=authorization,x-esri,query,body,cookie",
            "HP-5=cookie-ignored",
            "HP-6=last",
            "HP-8=ignored",
            "IP-4=short-only",
            "SL-3=clamp",
            "SL-5=498",
            "SL-6=498",
        ])
        .unwrap();
        assert_eq!(v.ts3, Ts3::Code401);
        assert_eq!(v.hp8, Hp8::Ignored);
        assert_eq!(v.hp2.0[0], Carrier::Authorization);
        assert_eq!(v.changed().len(), 16);
        assert_eq!(v, Variants::all_alternatives().clone_with_hp2(v.hp2));
    }

    impl Variants {
        fn clone_with_hp2(mut self, o: CarrierOrder) -> Variants {
            self.hp2 = o;
            self
        }
    }

    #[test]
    fn malformed_unknown_and_repeated_specs_are_clear_errors() {
        assert!(matches!(
            Variants::parse("HP-8"),
            Err(VariantError::Malformed(_))
        ));
        assert!(matches!(
            Variants::parse("=x"),
            Err(VariantError::Malformed(_))
        ));
        let e = Variants::parse("TS-1=400").unwrap_err();
        assert!(e.to_string().contains("HP-8"), "{e}");
        assert!(matches!(
            Variants::from_specs(&["HP-8=ignored", "HP-8=checked"]),
            Err(VariantError::Twice { rule: "HP-8", .. })
        ));
        for bad in [
            "x-esri,query,body,cookie",
            "x-esri,x-esri,query,body,cookie",
            "x-esri,authorization,query,body,jar",
        ] {
            assert!(
                matches!(
                    Variants::parse(&format!("HP-2={bad}")),
                    Err(VariantError::BadOrder(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn hp2_order_round_trips_and_ranks() {
        let o: CarrierOrder = "cookie,body,query,authorization,x-esri".parse().unwrap();
        assert_eq!(o.to_string(), "cookie,body,query,authorization,x-esri");
        assert_eq!(o.rank(Carrier::Cookie), 0);
        assert_eq!(o.rank(Carrier::XEsriAuthorization), 4);
        assert_eq!(
            CarrierOrder::default().to_string(),
            "x-esri,authorization,query,body,cookie"
        );
        assert_eq!(Variants::default().to_string(), "reference");
        assert_eq!(Variants::alternatives().len(), 16);
    }
}
