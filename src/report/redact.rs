//! Masking secrets before anything enters the report model.
//!
//! A [`Redactor`] holds every secret string known so far (profile and fixture
//! passwords, captured values, tokens seen in answers or sent in carriers) and
//! replaces each occurrence with a stable label such as `«alice.password»` or
//! `«token»`. The runner feeds it as it plays and passes every string that goes
//! into a [`crate::report::model`] value through [`Redactor::mask`], so the
//! console, JSON and every later writer only ever see masked text.
//!
//! This module decides nothing about verdicts and does no I/O.

use std::collections::BTreeSet;

use crate::report::model::ScenarioReport;

/// Shorter observed values are not treated as secrets: masking every `ok` or
/// `1` would make reports unreadable while protecting nothing. Passwords are
/// always masked, whatever their length.
const MIN_OBSERVED_LEN: usize = 3;

/// Parameter names (query or form) whose values are credentials (HP-1, TS-1,
/// LT-7: `token`, ArcWeb `tkn` and `usrid`, passwords).
pub const SECRET_PARAMS: &[&str] = &["token", "tkn", "usrid", "password", "pswd", "sessiontoken"];

/// Header names whose values carry credentials.
pub const SECRET_HEADERS: &[&str] = &["authorization", "x-esri-authorization", "cookie"];

/// JSON fields whose string values are tokens (TS-2, SL-2).
pub const SECRET_JSON_FIELDS: &[&str] = &["token", "sessionToken"];

/// Secret strings and the labels that replace them.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// (needle, label); a secret may be present in several encodings.
    secrets: Vec<(String, String)>,
    labels: BTreeSet<String>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a password (masked whatever its length). `owner` names it.
    pub fn add_password(&mut self, owner: &str, password: &str) -> String {
        self.insert(password, &format!("{owner}.password"), 1)
    }

    /// Registers an observed secret (a token, a captured value) under a label
    /// derived from `hint`; returns the label. Values shorter than three
    /// characters are ignored (see [`MIN_OBSERVED_LEN`]).
    pub fn add(&mut self, value: &str, hint: &str) -> Option<String> {
        if value.chars().count() < MIN_OBSERVED_LEN {
            return None;
        }
        Some(self.insert(value, hint, MIN_OBSERVED_LEN))
    }

    /// The label a secret is masked with, if it is known.
    pub fn label_of(&self, value: &str) -> Option<&str> {
        self.secrets
            .iter()
            .find(|(s, _)| s == value)
            .map(|(_, l)| l.as_str())
    }

    fn insert(&mut self, value: &str, hint: &str, min: usize) -> String {
        if value.is_empty() {
            return String::new();
        }
        if let Some(l) = self.label_of(value) {
            return l.to_owned();
        }
        let mut label = format!("«{hint}»");
        let mut n = 2;
        while self.labels.contains(&label) {
            label = format!("«{hint}#{n}»");
            n += 1;
        }
        self.labels.insert(label.clone());
        // The same secret travels URL-encoded in queries and form bodies and
        // escaped in JSON; mask every spelling.
        let mut spellings = vec![value.to_owned()];
        let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        let json = serde_json::to_string(value).unwrap_or_default();
        let json = json.trim_matches('"').to_owned();
        for s in [form, json] {
            if !spellings.contains(&s) && s.chars().count() >= min {
                spellings.push(s);
            }
        }
        for s in spellings {
            self.secrets.push((s, label.clone()));
        }
        // Longest first, so a secret that contains another is masked whole.
        self.secrets
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        label
    }

    /// Registers credentials carried by a query string or form body
    /// (`a=1&token=XYZ`): every value of a [`SECRET_PARAMS`] name.
    pub fn add_params(&mut self, encoded: &str) {
        for (k, v) in url::form_urlencoded::parse(encoded.as_bytes()) {
            let k = k.to_ascii_lowercase();
            if SECRET_PARAMS.contains(&k.as_str()) {
                let hint = if k.contains("pass") || k == "pswd" {
                    "password"
                } else {
                    "token"
                };
                if hint == "password" {
                    self.add_password("param", &v);
                } else {
                    self.add(&v, hint);
                }
            }
        }
    }

    /// Registers the credential in a header value: the part after the scheme
    /// of `Authorization`-like headers, every cookie value of `Cookie`.
    pub fn add_header(&mut self, name: &str, value: &str) {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            for pair in value.split(';') {
                if let Some((_, v)) = pair.split_once('=') {
                    self.add(v.trim(), "cookie");
                }
            }
        } else if SECRET_HEADERS.contains(&name.as_str()) {
            let v = value.trim();
            match v.split_once(' ') {
                Some((_scheme, cred)) => {
                    self.add(cred.trim(), "token");
                }
                None => {
                    self.add(v, "token");
                }
            }
        }
    }

    /// Registers every token-like field of a JSON answer, at any depth.
    pub fn add_json(&mut self, value: &serde_json::Value) {
        match value {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    if let (true, Some(s)) = (SECRET_JSON_FIELDS.contains(&k.as_str()), v.as_str())
                    {
                        self.add(s, "token");
                    } else {
                        self.add_json(v);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| self.add_json(v)),
            _ => {}
        }
    }

    /// Replaces every known secret in `text` by its label. Replaced text is
    /// never scanned again, so labels cannot be half-masked.
    pub fn mask(&self, text: &str) -> String {
        if self.secrets.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        'outer: while i < text.len() {
            let rest = &text[i..];
            // Secrets are sorted longest first: the first that matches here wins.
            for (s, label) in &self.secrets {
                if rest.starts_with(s.as_str()) {
                    out.push_str(label);
                    i += s.len();
                    continue 'outer;
                }
            }
            let c = rest.chars().next().expect("not at the end");
            out.push(c);
            i += c.len_utf8();
        }
        out
    }

    /// Masks every string inside a JSON value.
    pub fn mask_json(&self, value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::String(s) => serde_json::Value::String(self.mask(s)),
            serde_json::Value::Array(a) => {
                serde_json::Value::Array(a.iter().map(|v| self.mask_json(v)).collect())
            }
            serde_json::Value::Object(m) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), self.mask_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// Bodies kept in a report: the start only (after masking, so a cut can
/// never leave half a secret behind).
pub const MAX_REPORTED_BODY_CHARS: usize = 2000;

impl Redactor {
    /// Masks every string of a scenario report in place and shortens bodies.
    pub fn mask_scenario(&self, s: &mut ScenarioReport) {
        s.reason = s.reason.as_deref().map(|r| self.mask(r));
        s.vars = s
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), self.mask_json(v)))
            .collect();
        for step in &mut s.steps {
            step.label = self.mask(&step.label);
            step.note = step.note.as_deref().map(|n| self.mask(n));
            for ex in &mut step.exchanges {
                ex.url = self.mask(&ex.url);
                ex.request_headers = ex
                    .request_headers
                    .iter()
                    .map(|(k, v)| (k.clone(), self.mask(v)))
                    .collect();
                let body = |b: &Option<String>| {
                    b.as_deref()
                        .map(|b| cut(&self.mask(b), MAX_REPORTED_BODY_CHARS))
                };
                ex.request_body = body(&ex.request_body);
                ex.response_body = body(&ex.response_body);
                ex.error = ex.error.as_deref().map(|e| self.mask(e));
            }
            for c in &mut step.checks {
                c.what = self.mask(&c.what);
                c.expected = self.mask(&c.expected);
                c.actual = self.mask(&c.actual);
            }
        }
        for t in &mut s.tokens {
            t.label = self.mask(&t.label);
        }
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords_and_tokens_with_stable_labels() {
        let mut r = Redactor::new();
        r.add_password("alice", "alice-secret-1");
        assert_eq!(r.add("tok+en/AB", "token").as_deref(), Some("«token»"));
        assert_eq!(r.add("other-token", "token").as_deref(), Some("«token#2»"));
        assert_eq!(r.add("tok+en/AB", "x").as_deref(), Some("«token»"));
        let text = "password=alice-secret-1&token=tok%2Ben%2FAB and other-token";
        assert_eq!(
            r.mask(text),
            "password=«alice.password»&token=«token» and «token#2»"
        );
    }

    #[test]
    fn short_observed_values_are_not_secrets_but_passwords_are() {
        let mut r = Redactor::new();
        assert_eq!(r.add("ok", "token"), None);
        r.add_password("bob", "pw");
        assert_eq!(r.mask("ok pw"), "ok «bob.password»");
    }

    #[test]
    fn longest_secret_wins_and_labels_are_not_rescanned() {
        let mut r = Redactor::new();
        r.add("abcdef", "token");
        r.add("abcdefgh", "long");
        // A secret that appears inside a label must not mangle it.
        r.add("token", "word");
        assert_eq!(r.mask("abcdefgh abcdef"), "«long» «token»");
    }

    #[test]
    fn learns_from_params_headers_and_json() {
        let mut r = Redactor::new();
        r.add_params("f=json&token=QUERYTOKEN&tkn=ARCWEB1&username=alice");
        r.add_header("Authorization", "Bearer HEADERTOKEN");
        r.add_header("Cookie", "agstoken=COOKIETOKEN; other=abc");
        r.add_json(&serde_json::json!({"a": {"sessionToken": "SESSIONTOK"}, "token": "JSONTOKEN"}));
        let masked =
            r.mask("QUERYTOKEN ARCWEB1 HEADERTOKEN COOKIETOKEN SESSIONTOK JSONTOKEN alice json");
        for s in [
            "QUERYTOKEN",
            "ARCWEB1",
            "HEADERTOKEN",
            "COOKIETOKEN",
            "SESSIONTOK",
            "JSONTOKEN",
        ] {
            assert!(!masked.contains(s), "{s} leaked in {masked}");
        }
        assert!(masked.ends_with("alice json"));
    }

    #[test]
    fn masks_inside_json_values() {
        let mut r = Redactor::new();
        r.add("SECRETVALUE", "token");
        let v = r.mask_json(&serde_json::json!({"k": ["x SECRETVALUE"], "n": 1}));
        assert_eq!(v, serde_json::json!({"k": ["x «token»"], "n": 1}));
    }

    #[test]
    fn planted_secrets_never_reach_the_json_report_or_the_console() {
        use crate::report::model::tests::{report, scenario};
        use crate::report::model::{Exchange, Verdict};
        let password = "planted-Pa55word";
        let token = "plantedTOKENabc123XYZ";
        let mut r = Redactor::new();
        r.add_password("alice", password);
        let mut s = scenario("lifetimes/x", &["LT-5"], Verdict::Fail, &["LT-5"]);
        s.reason = Some(format!("token {token} refused"));
        s.vars.insert(
            "carrier".into(),
            serde_json::json!(format!("Bearer {token}")),
        );
        let step = &mut s.steps[0];
        step.exchanges.push(Exchange {
            method: "POST".into(),
            url: format!("http://127.0.0.1:1/x?token={token}"),
            from: None,
            request_headers: [("Authorization".to_string(), format!("Bearer {token}"))].into(),
            request_body: Some(format!("username=alice&password={password}")),
            status: Some(200),
            response_body: Some(format!(r#"{{"token":"{token}","expires":1}}"#)),
            elapsed_ms: 1,
            error: None,
        });
        step.checks[0].actual = token.into();
        // What the player does: learn from the exchange, then mask.
        r.add_header("Authorization", &format!("Bearer {token}"));
        r.mask_scenario(&mut s);
        let rep = report(vec![s]);
        let outputs = [
            crate::report::json::write(&rep),
            crate::report::console::summary(&rep),
            crate::report::console::scenario_line(&rep.scenarios[0]),
        ];
        for out in &outputs {
            assert!(!out.contains(password), "password leaked: {out}");
            assert!(!out.contains(token), "token leaked: {out}");
        }
        assert!(outputs[0].contains("password=«alice.password»"));
    }
}
