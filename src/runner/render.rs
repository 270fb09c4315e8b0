//! Turning a planned request ([`RequestPlan`], templates split at validation)
//! into a [`PreparedRequest`]: placeholders filled, omitted values dropped,
//! URL, headers and body assembled.
//!
//! Rules (scenario/model.rs `Request`): a value that is YAML `null`, or a lone
//! `{{case.KEY}}` whose case value is `null`, is not sent; the method defaults
//! to POST when `form`/`raw_body` is given, else GET; `cookies` become one
//! `Cookie` header; `referer` sets `Referer`; `raw_query` is appended
//! verbatim; bodies are `application/x-www-form-urlencoded`.
//!
//! Pure: the caller supplies the clock value and every lookup table.

use std::collections::BTreeMap;
use std::net::IpAddr;

use indexmap::IndexMap;

use crate::client::http::PreparedRequest;
use crate::knobs::Knobs;
use crate::scenario::plan::{Case, Destination, RequestPlan, integer_of};
use crate::scenario::template::{Template, UserField, Var};
use crate::target::User;

/// Everything a placeholder may refer to, at one moment of a scenario.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// `{{now}}`, epoch ms.
    pub now_ms: i64,
    /// Without a trailing slash.
    pub base_url: &'a str,
    pub endpoints: &'a BTreeMap<String, String>,
    pub users: &'a BTreeMap<String, User>,
    pub knobs: &'a Knobs,
    pub case: &'a Case,
    pub addresses: &'a BTreeMap<String, IpAddr>,
    pub captures: &'a IndexMap<String, String>,
}

/// A JSON value as template text: strings bare, `null` empty.
pub fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl Context<'_> {
    /// The text for one placeholder.
    pub fn lookup(&self, v: &Var) -> Result<String, String> {
        match v {
            Var::Now => Ok(self.now_ms.to_string()),
            Var::BaseUrl => Ok(self.base_url.to_owned()),
            Var::User { alias, field } => {
                let u = self
                    .users
                    .get(alias)
                    .ok_or_else(|| format!("the target has no fixture user `{alias}`"))?;
                Ok(match field {
                    UserField::Name => u.name.clone(),
                    UserField::Password => u.password.clone(),
                })
            }
            Var::Knob(k) => self
                .knobs
                .get(k)
                .map(|v| value_text(&v))
                .map_err(|e| e.to_string()),
            Var::Case(k) => {
                // A case value may hold placeholders itself (one level,
                // checked at load time): render it here, where it is used.
                if let Some(t) = self.case.templates.get(k) {
                    if t.vars().any(|v| matches!(v, Var::Case(_))) {
                        return Err(format!("case value `{k}` refers to another case value"));
                    }
                    return t.render(|v| self.lookup(v));
                }
                self.case
                    .vars
                    .get(k)
                    .map(value_text)
                    .ok_or_else(|| format!("the case defines no `{k}`"))
            }
            Var::Addr(a) => self
                .addresses
                .get(a)
                .map(|ip| ip.to_string())
                .ok_or_else(|| format!("the target declares no source address `{a}`")),
            Var::Url(e) => self
                .endpoints
                .get(e)
                .map(|p| format!("{}{p}", self.base_url))
                .ok_or_else(|| format!("the target maps no endpoint `{e}`")),
            Var::Capture(c) => self
                .captures
                .get(c)
                .cloned()
                .ok_or_else(|| format!("`{c}` was not captured")),
        }
    }

    /// The integer a placeholder stands for in arithmetic. A case value that
    /// is arithmetic itself (`"60m"`, `"{{now}} + 5m"`) counts as its value.
    pub fn int(&self, v: &Var) -> Result<i128, String> {
        if let Var::Case(k) = v
            && let Some(a) = self.case.ariths.get(k)
        {
            return a.eval(|inner| match inner {
                Var::Case(_) => Err(format!("case value `{k}` refers to another case value")),
                other => self.int(other),
            });
        }
        integer_of(v, &self.lookup(v)?)
    }

    /// Renders a template.
    pub fn render(&self, t: &Template) -> Result<String, String> {
        t.render(|v| self.lookup(v))
    }

    /// Renders a request value; `None` when it is not to be sent.
    pub fn render_value(&self, v: &Option<Template>) -> Result<Option<String>, String> {
        let Some(t) = v else { return Ok(None) };
        if let Some(Var::Case(k)) = t.lone_var()
            && matches!(self.case.vars.get(k), Some(serde_json::Value::Null))
        {
            return Ok(None);
        }
        self.render(t).map(Some)
    }

    fn render_map(
        &self,
        m: &[(String, Option<Template>)],
    ) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        for (k, v) in m {
            if let Some(v) = self.render_value(v)? {
                out.push((k.clone(), v));
            }
        }
        Ok(out)
    }
}

/// The rendered request plus the source alias it goes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub request: PreparedRequest,
    /// `None`: the primary address.
    pub from: Option<String>,
}

impl Rendered {
    /// The local address to send from: the alias's address, or `None` (the
    /// OS picks) for an undeclared `primary`.
    pub fn source(&self, addresses: &BTreeMap<String, IpAddr>) -> Result<Option<IpAddr>, String> {
        let alias = self.from.as_deref().unwrap_or(crate::target::PRIMARY);
        match addresses.get(alias) {
            Some(ip) => Ok(Some(*ip)),
            None if alias == crate::target::PRIMARY => Ok(None),
            None => Err(format!("the target declares no source address `{alias}`")),
        }
    }
}

/// Renders `req` in `ctx`. Errors say which placeholder could not be filled.
pub fn prepare(ctx: &Context, req: &RequestPlan) -> Result<Rendered, String> {
    let path = match &req.destination {
        Destination::Endpoint(e) => ctx
            .endpoints
            .get(e)
            .cloned()
            .ok_or_else(|| format!("the target maps no endpoint `{e}`"))?,
        Destination::Path(p) => ctx.render(p)?,
    };
    let mut url = format!("{}{path}", ctx.base_url);
    let query = ctx.render_map(&req.query)?;
    let raw_query = req.raw_query.as_ref().map(|q| ctx.render(q)).transpose()?;
    let mut qs = form_encode(&query);
    if let Some(raw) = raw_query.filter(|r| !r.is_empty()) {
        if !qs.is_empty() {
            qs.push('&');
        }
        qs.push_str(&raw);
    }
    if !qs.is_empty() {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&qs);
    }
    let has_body = !req.form.is_empty() || req.raw_body.is_some();
    let mut body = form_encode(&ctx.render_map(&req.form)?);
    if let Some(raw) = &req.raw_body {
        let raw = ctx.render(raw)?;
        if !body.is_empty() && !raw.is_empty() {
            body.push('&');
        }
        body.push_str(&raw);
    }
    let mut headers = ctx.render_map(&req.headers)?;
    let cookies = ctx.render_map(&req.cookies)?;
    if !cookies.is_empty() {
        let c: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        headers.push(("Cookie".into(), c.join("; ")));
    }
    if let Some(r) = &req.referer {
        headers.push(("Referer".into(), ctx.render(r)?));
    }
    if has_body
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
    }
    let method = match req.method {
        Some(m) => m.as_str().to_owned(),
        None if has_body => "POST".into(),
        None => "GET".into(),
    };
    Ok(Rendered {
        request: PreparedRequest {
            method,
            url,
            headers,
            body: has_body.then_some(body),
        },
        from: req.from.clone(),
    })
}

fn form_encode(pairs: &[(String, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scenario::model::{Loc, Method, Request, Spanned};

    pub(crate) struct Fixture {
        pub endpoints: BTreeMap<String, String>,
        pub users: BTreeMap<String, User>,
        pub knobs: Knobs,
        pub case: Case,
        pub addresses: BTreeMap<String, IpAddr>,
        pub captures: IndexMap<String, String>,
    }

    impl Fixture {
        pub(crate) fn new() -> Self {
            let t = crate::target::Target::reference(vec![]);
            let mut case = IndexMap::new();
            case.insert("name".into(), serde_json::json!("c1"));
            case.insert("client".into(), serde_json::Value::Null);
            case.insert("code".into(), serde_json::json!(498));
            case.insert("carrier".into(), serde_json::json!("Bearer {{token}}"));
            case.insert("later".into(), serde_json::json!("{{now}} + 1m"));
            let mut captures = IndexMap::new();
            captures.insert("token".into(), "TOK123".into());
            Fixture {
                endpoints: t.endpoints,
                users: t.users,
                knobs: t.knobs,
                case: Case::new("c1".into(), case),
                addresses: t.capabilities.addresses,
                captures,
            }
        }

        pub(crate) fn ctx(&self) -> Context<'_> {
            Context {
                now_ms: 1_700_000_000_000,
                base_url: "http://127.0.0.1:9",
                endpoints: &self.endpoints,
                users: &self.users,
                knobs: &self.knobs,
                case: &self.case,
                addresses: &self.addresses,
                captures: &self.captures,
            }
        }
    }

    fn map(pairs: &[(&str, Option<&str>)]) -> IndexMap<String, Option<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(|s| s.to_string())))
            .collect()
    }

    /// Renders `text`, split as validation would.
    fn render(c: &Context, text: &str) -> Result<String, String> {
        c.render(&Template::parse(text)?)
    }

    fn plan(req: &Request) -> RequestPlan {
        RequestPlan::compile(req).unwrap()
    }

    #[test]
    fn renders_every_namespace() {
        let f = Fixture::new();
        let c = &f.ctx();
        assert_eq!(render(c, "{{now}}").unwrap(), "1700000000000");
        assert_eq!(
            render(c, "{{user.name}}:{{users.bob.password}}").unwrap(),
            "alice:bob-secret-2"
        );
        assert_eq!(render(c, "{{knobs.short_lived_minutes}}").unwrap(), "60");
        assert_eq!(render(c, "{{case.code}}").unwrap(), "498");
        assert_eq!(c.int(&Var::Case("code".into())), Ok(498));
        assert_eq!(c.int(&Var::Now), Ok(1_700_000_000_000));
        assert_eq!(c.int(&Var::Case("later".into())), Ok(1_700_000_060_000));
        assert!(c.int(&Var::Case("carrier".into())).is_err());
        // A case value holding a placeholder is rendered where it is used.
        assert_eq!(render(c, "{{case.carrier}}").unwrap(), "Bearer TOK123");
        assert_eq!(render(c, "{{addr.alt1}}").unwrap(), "127.0.0.2");
        assert_eq!(
            render(c, "{{url.generate_token}}").unwrap(),
            "http://127.0.0.1:9/arcgis/tokens/generateToken"
        );
        assert_eq!(render(c, "Bearer {{token}}").unwrap(), "Bearer TOK123");
        assert!(
            render(c, "{{users.carol.name}}")
                .unwrap_err()
                .contains("carol")
        );
        assert!(render(c, "{{addr.alt99}}").is_err());
    }

    #[test]
    fn null_values_and_null_case_values_are_not_sent() {
        let f = Fixture::new();
        let req = Request {
            endpoint: Some(Spanned::new("generate_token".into(), Loc::default())),
            form: map(&[
                ("username", Some("{{user.name}}")),
                ("password", Some("{{user.password}}")),
                ("client", Some("{{case.client}}")),
                ("expiration", None),
                ("f", Some("json")),
            ]),
            ..Default::default()
        };
        let r = prepare(&f.ctx(), &plan(&req)).unwrap();
        assert_eq!(r.request.method, "POST");
        assert_eq!(
            r.request.url,
            "http://127.0.0.1:9/arcgis/tokens/generateToken"
        );
        assert_eq!(
            r.request.body.as_deref(),
            Some("username=alice&password=alice-secret-1&f=json")
        );
        assert!(r.request.headers.contains(&(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into()
        )));
    }

    #[test]
    fn query_raw_query_cookies_referer_and_method() {
        let f = Fixture::new();
        let req = Request {
            path: Some("/arcgis/rest/services/{{case.name}}".into()),
            query: map(&[("token", Some("{{token}}")), ("f", Some("json"))]),
            raw_query: Some("token=a&token=b".into()),
            cookies: map(&[("agstoken", Some("{{token}}")), ("x", Some("1"))]),
            referer: Some("https://app.example/".into()),
            method: Some(Method::DELETE),
            from: Some(Spanned::new("alt1".into(), Loc::default())),
            ..Default::default()
        };
        let r = prepare(&f.ctx(), &plan(&req)).unwrap();
        assert_eq!(r.request.method, "DELETE");
        assert_eq!(
            r.request.url,
            "http://127.0.0.1:9/arcgis/rest/services/c1?token=TOK123&f=json&token=a&token=b"
        );
        assert_eq!(r.request.body, None);
        assert_eq!(
            r.request.headers,
            vec![
                ("Cookie".to_string(), "agstoken=TOK123; x=1".to_string()),
                ("Referer".to_string(), "https://app.example/".to_string())
            ]
        );
        assert_eq!(r.from.as_deref(), Some("alt1"));
    }

    #[test]
    fn raw_body_makes_a_post() {
        let f = Fixture::new();
        let req = Request {
            endpoint: Some(Spanned::new("generate_token".into(), Loc::default())),
            raw_body: Some("username={{user.name}}&username=bob".into()),
            ..Default::default()
        };
        let r = prepare(&f.ctx(), &plan(&req)).unwrap();
        assert_eq!(r.request.method, "POST");
        assert_eq!(
            r.request.body.as_deref(),
            Some("username=alice&username=bob")
        );
    }
}
