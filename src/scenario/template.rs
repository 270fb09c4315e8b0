//! Templates in scenario strings: `{{name}}` placeholders.
//!
//! Parsing is pure and happens at validation time, so an unknown namespace or
//! a capture used before it is set is a load error, not a run-time surprise;
//! the plan ([`super::plan`]) holds the parsed [`Template`]s. Rendering takes
//! a lookup function supplied by the runner. Time arithmetic built on
//! templates is [`super::plan::Arith`].
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
    /// As written.
    pub source: String,
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
        Ok(Template {
            source: text.to_owned(),
            parts,
        })
    }

    /// Text meant literally, placeholders or not.
    pub fn literal(text: &str) -> Template {
        Template {
            source: text.to_owned(),
            parts: vec![Part::Lit(text.to_owned())],
        }
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
}
