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
use crate::scenario::plan::CaptureSource;

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

/// Captured strings at least this long are treated as secrets whatever their
/// source: tokens are 64+ characters (TS-2), ArcWeb tokens and user IDs are
/// long too, while ordinary captured text (`false`, a status word) is short.
pub const MIN_CAPTURED_SECRET_LEN: usize = 16;

/// Whether a captured value should be masked in reports. Numbers, booleans
/// and `null` never are (an `$.expires` instant is evidence, not a secret);
/// strings are when they are long ([`MIN_CAPTURED_SECRET_LEN`]) or come from
/// a token-bearing place: a [`SECRET_JSON_FIELDS`] field (`$.token`), a
/// [`SECRET_HEADERS`] header or `Set-Cookie`. Passwords are registered
/// separately and always masked.
pub fn captured_is_secret(value: &serde_json::Value, source: &CaptureSource) -> bool {
    let serde_json::Value::String(s) = value else {
        return false;
    };
    if s.chars().count() >= MIN_CAPTURED_SECRET_LEN {
        return true;
    }
    match source {
        CaptureSource::Header(h) => {
            let h = h.to_ascii_lowercase();
            SECRET_HEADERS.contains(&h.as_str()) || h == "set-cookie"
        }
        CaptureSource::JsonPath(q) => {
            let last = q.last_member.as_str();
            SECRET_JSON_FIELDS.contains(&last)
                || SECRET_PARAMS.contains(&last.to_ascii_lowercase().as_str())
        }
        CaptureSource::Body | CaptureSource::SentAt => false,
    }
}

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
        let html = html_escape(value);
        for s in [form, json, html] {
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

    /// Registers the credentials in a *response* header: the value of every
    /// `Set-Cookie` (an `agstoken` cookie is a token carrier, HP-1) and the
    /// [`SECRET_PARAMS`] of a `Location` URL (a redirect may hand a token
    /// over in its query).
    pub fn add_response_header(&mut self, name: &str, value: &str) {
        match name.to_ascii_lowercase().as_str() {
            "set-cookie" => {
                let first = value.split(';').next().unwrap_or("");
                if let Some((_, v)) = first.split_once('=') {
                    self.add(v.trim().trim_matches('"'), "cookie");
                }
            }
            "location" => {
                let query = value.split_once('?').map(|(_, q)| q).unwrap_or("");
                let query = query.split('#').next().unwrap_or("");
                self.add_params(query);
            }
            _ => {}
        }
    }

    /// Registers the tokens in a body that is not JSON: the `token` and
    /// `sessionToken` string fields of JSON embedded in text, such as the
    /// HTML-escaped JSON of the `f=html` pages (`<pre>{&quot;token&quot;:
    /// &quot;...&quot;}</pre>`, TS-1's default format).
    pub fn add_text(&mut self, text: &str) {
        let plain = html_unescape(text);
        for field in SECRET_JSON_FIELDS {
            let key = format!("\"{field}\"");
            let mut rest = plain.as_str();
            while let Some(at) = rest.find(&key) {
                rest = &rest[at + key.len()..];
                let after = rest.trim_start();
                let Some(after) = after.strip_prefix(':') else {
                    continue;
                };
                let after = after.trim_start();
                if !after.starts_with('"') {
                    continue;
                }
                // The JSON string literal: up to the first unescaped quote.
                let bytes = after.as_bytes();
                let mut end = None;
                let mut i = 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            end = Some(i);
                            break;
                        }
                        _ => i += 1,
                    }
                }
                if let Some(end) = end
                    && let Ok(v) = serde_json::from_str::<String>(&after[..=end])
                {
                    self.add(&v, "token");
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

/// The escapes of an HTML text node or attribute (what the reference's
/// `f=html` pages and most servers use).
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Undoes the common HTML character references (named quotes and brackets,
/// decimal and hex numeric references); anything else is kept as written.
fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..semi];
        let c = match name {
            "quot" => Some('"'),
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            _ => {
                if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse::<u32>().ok().and_then(char::from_u32)
                } else {
                    None
                }
            }
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
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
    fn learns_tokens_from_html_bodies() {
        let mut r = Redactor::new();
        let page = "<html><body><pre>{\n  &quot;token&quot;: &quot;HtmlTok_0123456789abcdef&quot;,\n  \
                    &quot;expires&quot;: 1,\n  &quot;sessionToken&quot; : &quot;AASTsess&amp;ion-42&quot;\n}</pre></body></html>";
        r.add_text(page);
        let masked = r.mask(page);
        assert!(!masked.contains("HtmlTok_0123456789abcdef"), "{masked}");
        // The HTML-escaped spelling of a token is masked too.
        assert!(!masked.contains("AASTsess&amp;ion-42"), "{masked}");
        assert!(!r.mask("AASTsess&ion-42").contains("AASTsess"));
        // Plain JSON-looking text works the same; other fields are not secrets.
        let mut r = Redactor::new();
        r.add_text(r#"oops {"token":"PlainTok\"quoted","expires":1700000000000}"#);
        assert_eq!(r.mask("PlainTok\"quoted"), "«token»");
        assert_eq!(r.mask("1700000000000"), "1700000000000");
    }

    #[test]
    fn learns_tokens_from_response_headers() {
        let mut r = Redactor::new();
        r.add_response_header("Set-Cookie", "agstoken=CookieTok123456; Path=/; HttpOnly");
        r.add_response_header("location", "/x?f=json&token=LocTok987654#frag");
        r.add_response_header("Location", "/y?tkn=ArcTkn555&usrid=User777");
        r.add_response_header("Content-Type", "text/html");
        for s in ["CookieTok123456", "LocTok987654", "ArcTkn555", "User777"] {
            assert!(r.mask(s).starts_with('«'), "{s} not masked");
        }
        assert_eq!(r.mask("text/html"), "text/html");
        assert_eq!(r.mask("json"), "json");
    }

    #[test]
    fn only_secret_looking_captures_are_secrets() {
        use serde_json::json;
        let src = |s: &str| CaptureSource::parse(s).unwrap();
        assert!(!captured_is_secret(
            &json!(1_700_000_000_000i64),
            &src("$.expires")
        ));
        assert!(!captured_is_secret(&json!(false), &src("$.ssl")));
        assert!(!captured_is_secret(&json!("arcgis"), &src("$.styleFamily")));
        assert!(captured_is_secret(&json!("short"), &src("$.token")));
        assert!(captured_is_secret(
            &json!("short"),
            &src("$.data['sessionToken']")
        ));
        assert!(captured_is_secret(
            &json!("0123456789abcdefXYZ"),
            &src("body")
        ));
        assert!(!captured_is_secret(&json!("short"), &src("body")));
        assert!(captured_is_secret(&json!("abc"), &src("header:Set-Cookie")));
        assert!(!captured_is_secret(
            &json!("text/html"),
            &src("header:Content-Type")
        ));
    }

    #[test]
    fn unescapes_html() {
        assert_eq!(
            html_unescape("&quot;a&amp;b&#34;&#x27;&lt;&unknown;&"),
            "\"a&b\"'<&unknown;&"
        );
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
