//! The driver contract of `client-rules.md`: a driver is started once per
//! case with the case's environment ([`Env`]), writes a `hello` line, then
//! answers each operation the harness writes on its stdin with one result
//! line on its stdout. Everything here is data plus its JSON-lines
//! encoding; spawning and deadlines live in the harness.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A capability a driver declares in `hello`; a case that requires an
/// undeclared feature is `not-applicable` for that driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// Sign in to a portal (`/sharing/rest`) with username and password.
    Portal,
    /// Sign in to a stand-alone server's token service.
    Server,
    /// Reach a federated server by exchanging a portal token (TS-8).
    Federation,
    /// Basemap style sessions (`sessions/start`, SL-*).
    Sessions,
    /// HTTPS with the run's CA (`TESSERA_CA_FILE`).
    Tls,
}

impl Feature {
    pub const ALL: [Feature; 5] = [
        Feature::Portal,
        Feature::Server,
        Feature::Federation,
        Feature::Sessions,
        Feature::Tls,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Portal => "portal",
            Feature::Server => "server",
            Feature::Federation => "federation",
            Feature::Sessions => "sessions",
            Feature::Tls => "tls",
        }
    }
}

/// The driver's first line: `{"hello": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelloLine {
    pub hello: Hello,
}

/// Who the client is and what it can do. Feature names the harness does not
/// know are kept in `other_features` (reported, never an error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub client: String,
    pub version: String,
    #[serde(default)]
    pub features: Vec<String>,
    /// Driver options worth reporting (e.g. `hideToken`, `autoRefresh`).
    #[serde(default)]
    pub options: BTreeMap<String, serde_json::Value>,
}

impl Hello {
    /// The declared features the harness knows.
    pub fn known_features(&self) -> Vec<Feature> {
        Feature::ALL
            .into_iter()
            .filter(|f| self.features.iter().any(|s| s == f.as_str()))
            .collect()
    }

    pub fn has(&self, f: Feature) -> bool {
        self.features.iter().any(|s| s == f.as_str())
    }
}

/// One operation the harness sends, one JSON object per line, tagged by
/// `op` (`{"op":"request","url":"..."}`). URLs are absolute: the harness has
/// already put the case's listener addresses in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", deny_unknown_fields)]
pub enum Op {
    /// Create the identity from the environment and make it ready.
    #[serde(rename = "signin")]
    Signin,
    /// One SDK request with the signed-in identity.
    #[serde(rename = "request")]
    Request {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        method: Option<String>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        params: BTreeMap<String, String>,
    },
    /// Start a basemap style session.
    #[serde(rename = "session.start")]
    SessionStart {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration: Option<u32>,
        #[serde(
            default,
            rename = "autoRefresh",
            skip_serializing_if = "Option::is_none"
        )]
        auto_refresh: Option<bool>,
    },
    /// Fetch a style with the session's current token.
    #[serde(rename = "session.use")]
    SessionUse { url: String },
    /// Sleep, letting the SDK's timers (auto-refresh) run.
    #[serde(rename = "idle")]
    Idle { ms: u64 },
    /// Release everything and exit 0.
    #[serde(rename = "bye")]
    Bye,
}

impl Op {
    /// The `op` name as on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Signin => "signin",
            Op::Request { .. } => "request",
            Op::SessionStart { .. } => "session.start",
            Op::SessionUse { .. } => "session.use",
            Op::Idle { .. } => "idle",
            Op::Bye => "bye",
        }
    }

    /// The line written to the driver (no trailing newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("an operation always serializes")
    }
}

/// How a failed operation failed, as the driver classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    Auth,
    Refresh,
    NotFederated,
    Http,
    Other,
}

/// A driver's error report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpError {
    pub kind: ErrorKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A driver's answer to one operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Outcome {
    Ok,
    Failed(OpError),
    Unsupported,
}

/// Why a driver's line is not a valid answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error(
        "expected {{\"ok\": true}}, {{\"ok\": false, \"error\": {{...}}}} or {{\"unsupported\": true}}, found {0}"
    )]
    NotAResult(String),
    #[error("expected {{\"hello\": {{\"client\", \"version\", \"features\"}}}}: {0}")]
    NotAHello(String),
}

/// The wire shape of a result line, read field by field (no `untagged`).
#[derive(Deserialize)]
struct RawResult {
    #[serde(default)]
    ok: Option<bool>,
    #[serde(default)]
    error: Option<OpError>,
    #[serde(default)]
    unsupported: Option<bool>,
}

/// Longest excerpt of a bad line quoted in an error (drivers may print
/// anything; keep errors short).
const QUOTE: usize = 120;

fn quote(line: &str) -> String {
    let t = line.trim();
    match t.char_indices().nth(QUOTE) {
        Some((i, _)) => format!("`{}…`", &t[..i]),
        None => format!("`{t}`"),
    }
}

/// Parses one result line.
pub fn parse_result(line: &str) -> Result<Outcome, ProtocolError> {
    let raw: RawResult =
        serde_json::from_str(line).map_err(|e| ProtocolError::NotJson(e.to_string()))?;
    match (raw.unsupported, raw.ok, raw.error) {
        (Some(true), _, _) => Ok(Outcome::Unsupported),
        (_, Some(true), None) => Ok(Outcome::Ok),
        (_, Some(false), Some(e)) => Ok(Outcome::Failed(e)),
        _ => Err(ProtocolError::NotAResult(quote(line))),
    }
}

/// Parses the driver's first line.
pub fn parse_hello(line: &str) -> Result<Hello, ProtocolError> {
    serde_json::from_str::<HelloLine>(line)
        .map(|h| h.hello)
        .map_err(|e| ProtocolError::NotAHello(format!("{e} in {}", quote(line))))
}

/// The environment variable names of the contract, in one place.
pub mod env {
    pub const CASE: &str = "TESSERA_CASE";
    pub const PORTAL_URL: &str = "TESSERA_PORTAL_URL";
    pub const SERVER_URL: &str = "TESSERA_SERVER_URL";
    pub const FEDERATED_URL: &str = "TESSERA_FEDERATED_URL";
    pub const SERVICE_URL: &str = "TESSERA_SERVICE_URL";
    pub const SESSION_URL: &str = "TESSERA_SESSION_URL";
    pub const USERNAME: &str = "TESSERA_USERNAME";
    pub const PASSWORD: &str = "TESSERA_PASSWORD";
    pub const CA_FILE: &str = "TESSERA_CA_FILE";
    pub const CONTEXT: &str = "TESSERA_CONTEXT";
    pub const DEADLINE_MS: &str = "TESSERA_DEADLINE_MS";
}

/// The environment one case hands its driver. `Debug` masks the password.
#[derive(Clone, PartialEq, Default)]
pub struct Env {
    pub case: String,
    pub portal_url: String,
    pub server_url: String,
    pub federated_url: String,
    pub service_url: String,
    pub session_url: String,
    pub username: String,
    /// Never printed.
    pub password: String,
    pub ca_file: Option<String>,
    /// JSON object: `extra_urls`, case parameters.
    pub context: serde_json::Value,
    /// Epoch milliseconds by which the driver must have exited.
    pub deadline_ms: i64,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("case", &self.case)
            .field("portal_url", &self.portal_url)
            .field("username", &self.username)
            .field("password", &"***")
            .finish_non_exhaustive()
    }
}

impl Env {
    /// The `(name, value)` pairs to set on the driver process.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            (env::CASE, self.case.clone()),
            (env::PORTAL_URL, self.portal_url.clone()),
            (env::SERVER_URL, self.server_url.clone()),
            (env::FEDERATED_URL, self.federated_url.clone()),
            (env::SERVICE_URL, self.service_url.clone()),
            (env::SESSION_URL, self.session_url.clone()),
            (env::USERNAME, self.username.clone()),
            (env::PASSWORD, self.password.clone()),
            (env::CONTEXT, self.context.to_string()),
            (env::DEADLINE_MS, self.deadline_ms.to_string()),
        ];
        if let Some(ca) = &self.ca_file {
            v.push((env::CA_FILE, ca.clone()));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_tagged_by_op_as_the_contract_shows() {
        assert_eq!(Op::Signin.to_line(), r#"{"op":"signin"}"#);
        let r = Op::Request {
            url: "http://127.0.0.1:1/x".into(),
            method: None,
            params: BTreeMap::new(),
        };
        assert_eq!(
            r.to_line(),
            r#"{"op":"request","url":"http://127.0.0.1:1/x"}"#
        );
        let s = Op::SessionStart {
            url: None,
            duration: Some(10),
            auto_refresh: Some(true),
        };
        assert_eq!(
            s.to_line(),
            r#"{"op":"session.start","duration":10,"autoRefresh":true}"#
        );
        assert_eq!(Op::Idle { ms: 5 }.to_line(), r#"{"op":"idle","ms":5}"#);
        let back: Op = serde_json::from_str(&s.to_line()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn results_parse_in_the_three_shapes_and_nothing_else() {
        assert_eq!(parse_result(r#"{"ok":true}"#), Ok(Outcome::Ok));
        assert_eq!(
            parse_result(r#"{"unsupported":true}"#),
            Ok(Outcome::Unsupported)
        );
        assert_eq!(
            parse_result(r#"{"ok":false,"error":{"kind":"auth","code":498}}"#),
            Ok(Outcome::Failed(OpError {
                kind: ErrorKind::Auth,
                code: Some(498),
                message: None
            }))
        );
        assert!(matches!(
            parse_result("{}"),
            Err(ProtocolError::NotAResult(_))
        ));
        assert!(matches!(
            parse_result(r#"{"ok":false}"#),
            Err(ProtocolError::NotAResult(_))
        ));
        assert!(matches!(
            parse_result("ready"),
            Err(ProtocolError::NotJson(_))
        ));
    }

    #[test]
    fn hello_keeps_unknown_features_without_failing() {
        let h =
            parse_hello(r#"{"hello":{"client":"x","version":"1","features":["portal","oauth"]}}"#)
                .unwrap();
        assert_eq!(h.known_features(), vec![Feature::Portal]);
        assert!(h.features.contains(&"oauth".to_string()));
        assert!(parse_hello(r#"{"client":"x"}"#).is_err());
    }

    #[test]
    fn the_environment_names_every_contract_variable() {
        let e = Env {
            ca_file: Some("/ca.pem".into()),
            ..Env::default()
        };
        let names: Vec<_> = e.vars().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), 11);
        assert!(names.contains(&env::CA_FILE));
    }

    #[test]
    fn debug_of_the_environment_never_shows_the_password() {
        let e = Env {
            password: "alice-secret-1".into(),
            ..Env::default()
        };
        assert!(!format!("{e:?}").contains("alice-secret-1"));
    }
}
