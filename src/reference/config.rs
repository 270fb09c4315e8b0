//! The reference server's configuration: accounts, API keys, services, basemap
//! styles and knobs (semantics.md "Reference fixture"). `Config::default()` is
//! the built-in fixture; `fixtures/reference/default.yaml` is the same data on
//! disk, and a test keeps the two equal. YAML is read through
//! `scenario::load::parse_yaml` only; this module never touches the YAML crate.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::knobs::Knobs;
use crate::scenario::diagnostic::{Diagnostic, DiagnosticKind};
use crate::scenario::model::Loc;

/// The privilege that lets an access token start basemap sessions and fetch
/// styles (SL-1, SL-6, SL-9); the name ArcGIS Location Platform uses.
pub const BASEMAP_PRIVILEGE: &str = "premium:user:basemaps";

/// Accounts, services and knobs of a reference server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version; only 1 exists.
    pub version: u32,
    #[serde(default)]
    pub knobs: Knobs,
    pub users: Vec<UserConfig>,
    /// Long-lived access tokens with their own privileges (never expire).
    #[serde(default)]
    pub api_keys: Vec<ApiKeyConfig>,
    /// Services under `/arcgis/rest/services/` (also mounted under `/federated/`).
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
    /// Basemap styles under `.../styles/v2/styles/{family}/{name}`.
    #[serde(default)]
    pub styles: Vec<StyleConfig>,
}

/// One account. Names and passwords are case-sensitive (TS-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    pub password: String,
    /// Privileges such as [`BASEMAP_PRIVILEGE`].
    #[serde(default)]
    pub privileges: Vec<String>,
}

/// An API key: a non-expiring access token acting for `user` with its own privileges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The key itself: URL-safe, at least 64 characters (TS-2).
    pub key: String,
    pub user: String,
    #[serde(default)]
    pub privileges: Vec<String>,
}

/// One service, served at `/{root}/rest/services/{name}/{type}` and below.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Public services answer without a token and with any user's (HP-8).
    #[serde(default)]
    pub public: bool,
    /// Who may use a secured service (others get 403, HP-7).
    #[serde(default)]
    pub users: Vec<String>,
}

/// A basemap style family (SL-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StyleFamily {
    Arcgis,
    Open,
}

impl StyleFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            StyleFamily::Arcgis => "arcgis",
            StyleFamily::Open => "open",
        }
    }

    pub fn parse(s: &str) -> Option<StyleFamily> {
        match s {
            "arcgis" => Some(StyleFamily::Arcgis),
            "open" => Some(StyleFamily::Open),
            _ => None,
        }
    }
}

/// One basemap style.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StyleConfig {
    pub family: StyleFamily,
    pub name: String,
}

impl Default for Config {
    /// The built-in fixture of semantics.md ("Reference fixture").
    fn default() -> Self {
        let svc = |name: &str, kind: &str, public: bool, users: &[&str]| ServiceConfig {
            name: name.into(),
            kind: kind.into(),
            public,
            users: users.iter().map(|u| (*u).into()).collect(),
        };
        Config {
            version: 1,
            knobs: Knobs::default(),
            users: vec![
                UserConfig {
                    name: "alice".into(),
                    password: "alice-secret-1".into(),
                    privileges: vec![BASEMAP_PRIVILEGE.into()],
                },
                UserConfig {
                    name: "bob".into(),
                    password: "bob-secret-2".into(),
                    privileges: vec![],
                },
            ],
            api_keys: vec![],
            services: vec![
                svc("SampleWorldCities", "MapServer", false, &["alice", "bob"]),
                svc("Restricted", "MapServer", false, &["alice"]),
                svc("Public", "MapServer", true, &[]),
                svc("World", "GeocodeServer", false, &["alice", "bob"]),
            ],
            styles: vec![
                StyleConfig {
                    family: StyleFamily::Arcgis,
                    name: "navigation".into(),
                },
                StyleConfig {
                    family: StyleFamily::Open,
                    name: "osm-style".into(),
                },
            ],
        }
    }
}

/// One account.
impl Config {
    /// Parses and checks a config file's text. `file` names it in diagnostics.
    pub fn from_yaml(text: &str, file: &Path) -> Result<Config, Diagnostic> {
        let cfg: Config = crate::scenario::load::parse_yaml(text, file)?;
        cfg.check()
            .map_err(|m| Diagnostic::new(file, Loc::default(), DiagnosticKind::Invalid(m)))?;
        Ok(cfg)
    }

    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, Diagnostic> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Diagnostic::new(path, Loc::default(), DiagnosticKind::Io(e.to_string()))
        })?;
        Config::from_yaml(&text, path)
    }

    /// Cross-field checks; the message says what was expected.
    pub fn check(&self) -> Result<(), String> {
        if self.version != 1 {
            return Err(format!("version 1, found {}", self.version));
        }
        let mut names: Vec<&str> = self.users.iter().map(|u| u.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err("unique user names".into());
        }
        let known = |u: &str| self.users.iter().any(|x| x.name == u);
        for s in &self.services {
            if s.name.is_empty() || s.kind.is_empty() || s.name.contains("styles") {
                return Err(format!(
                    "a service name and type (not under `styles`), found `{}/{}`",
                    s.name, s.kind
                ));
            }
            if let Some(u) = s.users.iter().find(|u| !known(u)) {
                return Err(format!(
                    "a configured user in service `{}`, found `{u}`",
                    s.name
                ));
            }
        }
        for k in &self.api_keys {
            if !known(&k.user) {
                return Err(format!(
                    "a configured user for an API key, found `{}`",
                    k.user
                ));
            }
            let ok = k.key.len() >= 64
                && k.key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err("API keys of at least 64 URL-safe characters (A-Z a-z 0-9 - _)".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_file_is_the_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reference/default.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(Config::from_yaml(&text, &path).unwrap(), Config::default());
    }

    #[test]
    fn unknown_fields_and_bad_references_are_refused() {
        let p = Path::new("c.yaml");
        let e = Config::from_yaml("version: 1\nusers: []\nnope: 1\n", p).unwrap_err();
        assert!(e.to_string().starts_with("c.yaml:"), "{e}");
        let e = Config::from_yaml(
            "version: 1\nusers: []\nservices: [{name: A, type: MapServer, users: [zed]}]\n",
            p,
        )
        .unwrap_err();
        assert!(e.to_string().contains("zed"));
        assert!(Config::from_yaml("version: 2\nusers: []\n", p).is_err());
    }
}
