//! Templates in scenario strings: `{{name}}` placeholders and time arithmetic.
//!
//! Parsing is pure and happens at validation time, so an unknown namespace or
//! a capture used before it is set is a load error, not a run-time surprise.
//! Rendering takes a lookup function supplied by the runner.
//!
//! Placeholders:
//! - `{{now}}`: the target's clock, epoch milliseconds;
//! - `{{user.name}}`, `{{user.password}}`: the primary fixture user (`alice`);
//!   `{{users.ALIAS.name}}` / `{{users.ALIAS.password}}` for any fixture user;
//! - `{{knobs.NAME}}`: a knob value of the target;
//! - `{{case.KEY}}`: a value of the current matrix case;
//! - `{{addr.ALIAS}}`: the IP address of a source-address alias;
//! - `{{url.ENDPOINT}}`: the absolute URL of an endpoint; `{{base_url}}`;
//! - `{{NAME}}`: a value captured by an earlier step.

use std::fmt;

/// A parsed template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Lit(String),
    Var(Var),
}

/// What a placeholder refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Var {
    Now,
    BaseUrl,
    /// `user.FIELD` is `User { alias: "alice", .. }`.
    User {
        alias: String,
        field: UserField,
    },
    Knob(String),
    Case(String),
    Addr(String),
    Url(String),
    Capture(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UserField {
    Name,
    Password,
}

/// The alias `{{user.*}}` stands for.
pub const PRIMARY_USER: &str = "alice";

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Var::Now => f.write_str("now"),
            Var::BaseUrl => f.write_str("base_url"),
            Var::User { alias, field } => {
                let field = match field {
                    UserField::Name => "name",
                    UserField::Password => "password",
                };
                write!(f, "users.{alias}.{field}")
            }
            Var::Knob(k) => write!(f, "knobs.{k}"),
            Var::Case(k) => write!(f, "case.{k}"),
            Var::Addr(a) => write!(f, "addr.{a}"),
            Var::Url(e) => write!(f, "url.{e}"),
            Var::Capture(c) => f.write_str(c),
        }
    }
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Var {
    /// Parses the inside of `{{ ... }}`.
    pub fn parse(raw: &str) -> Result<Var, String> {
        let s = raw.trim();
        let segs: Vec<&str> = s.split('.').collect();
        if segs.iter().any(|p| !is_ident(p)) {
            return Err(format!(
                "a placeholder name of letters, digits, `_`, `-` and dots, found `{{{{{raw}}}}}`"
            ));
        }
        let user_field = |f: &str| match f {
            "name" => Ok(UserField::Name),
            "password" => Ok(UserField::Password),
            other => Err(format!(
                "`name` or `password` after the user, found `{other}`"
            )),
        };
        match segs.as_slice() {
            ["now"] => Ok(Var::Now),
            ["base_url"] => Ok(Var::BaseUrl),
            ["user", f] => Ok(Var::User {
                alias: PRIMARY_USER.into(),
                field: user_field(f)?,
            }),
            ["users", a, f] => Ok(Var::User {
                alias: (*a).into(),
                field: user_field(f)?,
            }),
            ["knobs", k] => Ok(Var::Knob((*k).into())),
            ["case", k] => Ok(Var::Case((*k).into())),
            ["addr", a] => Ok(Var::Addr((*a).into())),
            ["url", e] => Ok(Var::Url((*e).into())),
            [name] => Ok(Var::Capture((*name).into())),
            _ => Err(format!(
                "one of `now`, `base_url`, `user.name`, `user.password`, `users.ALIAS.name`, \
                 `knobs.NAME`, `case.KEY`, `addr.ALIAS`, `url.ENDPOINT` or a capture name, found `{s}`"
            )),
        }
    }
}

impl Template {
    /// Parses `text`, which may hold any number of `{{...}}` placeholders.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Lit(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("`}}}}` to close the placeholder opened in `{text}`"))?;
            parts.push(Part::Var(Var::parse(&after[..end])?));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// Every placeholder, in order.
    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v),
            Part::Lit(_) => None,
        })
    }

    /// The placeholder, if the template is exactly one and nothing else.
    pub fn lone_var(&self) -> Option<&Var> {
        match self.parts.as_slice() {
            [Part::Var(v)] => Some(v),
            _ => None,
        }
    }

    /// Renders with `lookup`, which returns the text for a placeholder.
    pub fn render<E>(
        &self,
        mut lookup: impl FnMut(&Var) -> Result<String, E>,
    ) -> Result<String, E> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Var(v) => out.push_str(&lookup(v)?),
            }
        }
        Ok(out)
    }
}

/// Evaluates rendered time arithmetic to an integer: terms joined by `+` and
/// `-`, each an integer (milliseconds when added to an instant) or a
/// duration (`60m`, `1h 30m`, `1ms`), which counts in milliseconds.
///
/// `"1700000000000 + 60m"` is `1700003600000`; `"5"` is 5.
pub fn eval_int_expr(expr: &str) -> Result<i128, String> {
    let mut total: i128 = 0;
    let mut sign: i128 = 1;
    let mut term = String::new();
    let mut any = false;
    let flush = |term: &mut String, sign: i128, total: &mut i128| -> Result<(), String> {
        let t = term.trim();
        if t.is_empty() {
            return Err(format!("a term between operators in `{expr}`"));
        }
        let v = if let Ok(n) = t.parse::<i128>() {
            n
        } else {
            let d = super::model::parse_duration(t)
                .map_err(|_| format!("an integer or a duration, found `{t}` in `{expr}`"))?;
            d.as_millis() as i128
        };
        // Huge literals must not panic: overflow is a bad value, not a crash.
        *total = v
            .checked_mul(sign)
            .and_then(|sv| total.checked_add(sv))
            .ok_or_else(|| format!("a number in range, found `{expr}`"))?;
        term.clear();
        Ok(())
    };
    let chars: Vec<char> = expr.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        // A leading '-' belongs to the first number.
        let is_op =
            (c == '+' || c == '-') && !(c == '-' && term.trim().is_empty() && !any && i == 0);
        if is_op {
            flush(&mut term, sign, &mut total)?;
            any = true;
            sign = if c == '+' { 1 } else { -1 };
        } else {
            term.push(c);
        }
    }
    flush(&mut term, sign, &mut total)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_literals_and_placeholders() {
        let t = Template::parse("Bearer {{token}}").unwrap();
        assert_eq!(
            t.parts,
            vec![
                Part::Lit("Bearer ".into()),
                Part::Var(Var::Capture("token".into()))
            ]
        );
        assert_eq!(
            Template::parse("{{ user.name }}").unwrap().lone_var(),
            Some(&Var::User {
                alias: "alice".into(),
                field: UserField::Name
            })
        );
        assert_eq!(
            Template::parse("{{knobs.short_lived_minutes}}")
                .unwrap()
                .lone_var(),
            Some(&Var::Knob("short_lived_minutes".into()))
        );
        assert!(
            Template::parse("no placeholders")
                .unwrap()
                .lone_var()
                .is_none()
        );
    }

    #[test]
    fn rejects_bad_placeholders() {
        assert!(Template::parse("{{token").is_err());
        assert!(Template::parse("{{a.b.c.d}}").is_err());
        assert!(Template::parse("{{users.alice.email}}").is_err());
        assert!(Template::parse("{{}}").is_err());
        assert!(Template::parse("{{with space}}").is_err());
    }

    #[test]
    fn renders_with_lookup() {
        let t = Template::parse("{{now}} + {{knobs.x}}m").unwrap();
        let out: Result<String, ()> = t.render(|v| {
            Ok(match v {
                Var::Now => "1000".into(),
                _ => "2".into(),
            })
        });
        assert_eq!(out.unwrap(), "1000 + 2m");
    }

    #[test]
    fn time_arithmetic() {
        assert_eq!(
            eval_int_expr("1700000000000 + 60m").unwrap(),
            1_700_003_600_000
        );
        assert_eq!(eval_int_expr("1000 - 1ms").unwrap(), 999);
        assert_eq!(eval_int_expr("5").unwrap(), 5);
        assert_eq!(eval_int_expr("-5 + 10").unwrap(), 5);
        assert_eq!(eval_int_expr("0 + 1h 30m").unwrap(), 5_400_000);
        assert!(eval_int_expr("1000 +").is_err());
        assert!(eval_int_expr("abc").is_err());
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let max = i128::MAX.to_string();
        let e = eval_int_expr(&format!("{max} + {max}")).unwrap_err();
        assert!(e.contains("a number in range"), "{e}");
        assert!(eval_int_expr(&format!("{max} + 1")).is_err());
        assert!(eval_int_expr(&format!("0 - {}", i128::MIN)).is_err());
        assert_eq!(eval_int_expr(&i128::MIN.to_string()).unwrap(), i128::MIN);
    }
}
