//! Target profile files (`--target FILE.yaml`): a real endpoint described as
//! data.
//!
//! ```yaml
//! version: 1
//! name: Example vendor
//! base_url: https://gis.example.com/server
//! profiles: [arcgis-token]
//! endpoints:                      # names of src/scenario/endpoints.rs -> paths
//!   generate_token: /server/tokens/generateToken
//! knobs:                          # values the target documents
//!   short_lived_minutes: 60
//! capabilities:
//!   clock_control: false
//!   password_control: false
//!   max_real_wait: 2m
//!   addresses: {primary: 10.0.0.5, alt1: 10.0.0.6}
//! time_tolerance: 2s
//! users:                          # fixture alias -> account
//!   alice: {name: "${VENDOR_USER}", password: "${VENDOR_PASSWORD}"}
//! tls:                            # paths relative to this file
//!   cacert: certs/internal-ca.pem   # trusted besides the system's roots
//!   insecure: false                 # true: accept any certificate (reported loudly)
//!   client_cert: certs/tessera.pem  # for a web tier that asks for one
//!   client_key: certs/tessera.key
//! ```
//!
//! Passwords must be `${ENV_VAR}` references, resolved from the environment
//! at load time: a password never lives in a file or on the command line.
//! Parsing goes through `scenario::load::parse_yaml` (the one YAML door);
//! a malformed file is a [`Diagnostic`] with file:line:col.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Capabilities, Target, TargetError, TargetKind, User};
use crate::knobs::Knobs;
use crate::scenario::diagnostic::{Diagnostic, DiagnosticKind};
use crate::scenario::model::{Loc, Profile, Spanned, parse_duration};

/// The only profile format version this build reads.
pub const PROFILE_VERSION: u32 = 1;

/// A target profile file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    /// Must be 1.
    pub version: Spanned<u32>,
    /// Shown in reports; defaults to the file name.
    #[serde(default)]
    pub name: Option<String>,
    /// `https://host[:port][/prefix]`; endpoint paths are appended to it.
    pub base_url: Spanned<String>,
    /// The profiles (systems) the target implements.
    pub profiles: Spanned<Vec<Profile>>,
    /// Endpoint name to path, for names whose path differs from the reference.
    #[serde(default)]
    pub endpoints: IndexMap<String, Spanned<String>>,
    /// Documented knob values. Undeclared knobs read the reference defaults,
    /// but scenarios that set them are not applicable.
    #[serde(default)]
    pub knobs: IndexMap<String, Spanned<serde_json::Value>>,
    #[serde(default)]
    pub capabilities: CapabilitiesFile,
    /// Allowed clock distance for `{{now}}` comparisons (`2s`); default 2s.
    #[serde(default)]
    pub time_tolerance: Option<Spanned<String>>,
    /// Fixture alias (`alice`, `bob`) to an account on the target. Omitted:
    /// the reference fixture's accounts.
    #[serde(default)]
    pub users: IndexMap<String, Spanned<UserFile>>,
    /// How to reach an `https://` target: extra trusted roots, no
    /// verification, a client certificate.
    #[serde(default)]
    pub tls: TlsFile,
}

/// The `tls:` section. Paths are relative to the profile file.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    /// A PEM file of CA certificates trusted besides the system's roots
    /// (a private CA, or the server's self-signed certificate).
    #[serde(default)]
    pub cacert: Option<Spanned<String>>,
    /// Accept any certificate and host name. Every report says so.
    #[serde(default)]
    pub insecure: bool,
    /// A PEM client certificate (chain), for a web tier that asks for one.
    #[serde(default)]
    pub client_cert: Option<Spanned<String>>,
    /// The PEM private key of `client_cert`.
    #[serde(default)]
    pub client_key: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapabilitiesFile {
    /// Serves the control API `/_tessera/clock` and `/_tessera/reset`.
    #[serde(default)]
    pub clock_control: bool,
    /// Serves `/_tessera/users/{name}/password`.
    #[serde(default)]
    pub password_control: bool,
    /// Serves `GET/POST /_tessera/knobs`: scenarios stating other knob
    /// values get them set there.
    #[serde(default)]
    pub knob_control: bool,
    /// The longest real wait allowed instead of clock control (`2m`).
    #[serde(default)]
    pub max_real_wait: Option<Spanned<String>>,
    /// Source-address alias to a local address of this machine.
    #[serde(default)]
    /// Parsed by `build`, so a bad address is a located error saying what
    /// was expected.
    pub addresses: IndexMap<String, Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserFile {
    /// A user name, literal or `${ENV_VAR}`.
    pub name: String,
    /// Must be a `${ENV_VAR}` reference.
    pub password: String,
}

/// Reads a profile file and resolves its `${ENV}` references.
pub fn load(path: &Path) -> Result<Target, TargetError> {
    load_with_env(path, &|k| std::env::var(k).ok())
}

/// [`load`] with an injected environment (tests).
pub fn load_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Target, TargetError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        TargetError::Profile(vec![Diagnostic::new(
            path,
            Loc::default(),
            DiagnosticKind::Io(e.to_string()),
        )])
    })?;
    let file: ProfileFile = crate::scenario::load::parse_yaml(&text, path)
        .map_err(|d| TargetError::Profile(vec![d]))?;
    build(file, path, env)
}

fn build(
    file: ProfileFile,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Target, TargetError> {
    let mut errs = Vec::new();
    let mut err = |loc: Loc, msg: String| {
        errs.push(Diagnostic::new(path, loc, DiagnosticKind::Invalid(msg)));
    };
    if file.version.value != PROFILE_VERSION {
        err(
            file.version.loc,
            format!(
                "`version: {PROFILE_VERSION}` (the only profile version this build reads), found {}",
                file.version.value
            ),
        );
    }
    let base = file.base_url.value.trim_end_matches('/').to_owned();
    match url::Url::parse(&base) {
        // Never echo the value here: it holds a password.
        Ok(u) if super::has_userinfo(&u) => err(
            file.base_url.loc,
            "a base URL without credentials (`user:password@`); declare accounts under \
             `users:` with `${ENV_VAR}` passwords"
                .into(),
        ),
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => err(
            file.base_url.loc,
            format!(
                "an http:// or https:// base URL, found `{}`",
                super::star_url_passwords(&file.base_url.value)
            ),
        ),
    }
    if file.profiles.value.is_empty() {
        err(
            file.profiles.loc,
            format!(
                "at least one profile ({})",
                Profile::ALL.map(|p| p.as_str()).join(", ")
            ),
        );
    }
    let mut addresses = BTreeMap::new();
    for (alias, a) in &file.capabilities.addresses {
        if !crate::scenario::validate::is_address_alias(alias) {
            err(
                a.loc,
                format!("a source-address alias (`primary`, `alt1`, `alt2`, ...), found `{alias}`"),
            );
        }
        match a.value.trim().parse::<IpAddr>() {
            Ok(ip) => {
                addresses.insert(alias.clone(), ip);
            }
            Err(_) => err(
                a.loc,
                format!(
                    "an IP address such as `127.0.0.2` or `::1` for `{alias}`, found `{}`",
                    a.value
                ),
            ),
        }
    }
    let mut endpoints = super::default_endpoints();
    for (name, p) in &file.endpoints {
        if crate::scenario::endpoints::find(name).is_none() {
            err(
                p.loc,
                format!(
                    "a known endpoint name ({}), found `{name}`",
                    crate::scenario::endpoints::names().join(", ")
                ),
            );
        } else if !p.value.starts_with('/') {
            err(
                p.loc,
                format!("a path starting with `/`, found `{}`", p.value),
            );
        } else {
            endpoints.insert(name.clone(), p.value.clone());
        }
    }
    let mut knobs = Knobs::default();
    let mut declared = BTreeSet::new();
    for (name, v) in &file.knobs {
        match knobs.with(name, &v.value) {
            Ok(k) => {
                knobs = k;
                declared.insert(name.clone());
            }
            Err(e) => err(v.loc, e.to_string()),
        }
    }
    let tls = tls_options(&file.tls, path, &mut err);
    let mut dur = |d: &Option<Spanned<String>>, default: Duration| match d {
        None => default,
        Some(s) => parse_duration(&s.value).unwrap_or_else(|e| {
            err(s.loc, e);
            default
        }),
    };
    let max_real_wait = dur(&file.capabilities.max_real_wait, Duration::ZERO);
    let time_tolerance = dur(&file.time_tolerance, Duration::from_secs(2));
    let mut users = BTreeMap::new();
    let mut missing: Option<String> = None;
    for (alias, u) in &file.users {
        if !crate::scenario::validate::FIXTURE_USERS.contains(&alias.as_str()) {
            err(
                u.loc,
                format!(
                    "a fixture user alias ({}), found `{alias}`",
                    crate::scenario::validate::FIXTURE_USERS
                        .iter()
                        .map(|u| format!("`{u}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            continue;
        }
        if !is_env_ref(&u.value.password) {
            err(
                u.loc,
                format!(
                    "a `${{ENV_VAR}}` reference as the password of `{alias}` (passwords never live in profile files)"
                ),
            );
            continue;
        }
        let mut resolve = |s: &str| match expand_env(s, env) {
            Ok(v) => v,
            Err(var) => {
                missing.get_or_insert(var);
                String::new()
            }
        };
        let name = resolve(&u.value.name);
        let password = resolve(&u.value.password);
        users.insert(alias.clone(), User { name, password });
    }
    if !errs.is_empty() {
        return Err(TargetError::Profile(errs));
    }
    if let Some(var) = missing {
        return Err(TargetError::MissingEnv {
            file: path.display().to_string(),
            var,
        });
    }
    if file.users.is_empty() {
        users = super::fixture_users();
    }
    let name = file.name.unwrap_or_else(|| {
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string())
    });
    Ok(Target {
        name,
        kind: TargetKind::Remote,
        base_url: base,
        endpoints,
        profiles: file.profiles.value.into_iter().collect(),
        knobs,
        declared_knobs: declared,
        capabilities: Capabilities {
            clock_control: file.capabilities.clock_control,
            password_control: file.capabilities.password_control,
            knob_control: file.capabilities.knob_control,
            max_real_wait,
            addresses,
        },
        users,
        time_tolerance,
        tls,
        reference_tls: false,
        peer_tls: None,
    })
}

/// The `tls:` section as client settings; a file that cannot be read or
/// used is an error at its value.
fn tls_options(
    file: &TlsFile,
    profile: &Path,
    err: &mut dyn FnMut(Loc, String),
) -> crate::client::TlsOptions {
    let mut tls = crate::client::TlsOptions::default();
    tls.insecure = file.insecure;
    let dir = profile.parent().unwrap_or(Path::new(""));
    let read = |v: &Spanned<String>, err: &mut dyn FnMut(Loc, String)| {
        let p = dir.join(&v.value);
        match std::fs::read(&p) {
            Ok(bytes) => Some((p.display().to_string(), bytes)),
            Err(e) => {
                err(
                    v.loc,
                    format!("a readable PEM file, but `{}`: {e}", p.display()),
                );
                None
            }
        }
    };
    if let Some(c) = &file.cacert
        && let Some((name, pem)) = read(c, err)
        && let Err(e) = tls.add_cacert_pem(&name, &pem)
    {
        err(c.loc, format!("a PEM CA certificate: {e}"));
    }
    match (&file.client_cert, &file.client_key) {
        (Some(c), Some(k)) => {
            if let (Some((name, cert)), Some((_, key))) = (read(c, err), read(k, err))
                && let Err(e) = tls.set_client_identity_pem(&name, &cert, &key)
            {
                err(c.loc, format!("a usable client certificate and key: {e}"));
            }
        }
        (Some(c), None) => err(c.loc, "`client_key` beside `client_cert`".into()),
        (None, Some(k)) => err(k.loc, "`client_cert` beside `client_key`".into()),
        (None, None) => {}
    }
    tls
}

fn is_env_ref(s: &str) -> bool {
    let t = s.trim();
    t.len() > 3
        && t.starts_with("${")
        && t.ends_with('}')
        && t[2..t.len() - 1].chars().all(is_var_char)
}

fn is_var_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Replaces every `${VAR}` by its value; `Err(VAR)` for the first unset one.
pub fn expand_env(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(j) if after[..j].chars().all(is_var_char) && j > 0 => {
                let var = &after[..j];
                out.push_str(&env(var).ok_or_else(|| var.to_owned())?);
                rest = &after[j + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "VENDOR_USER" => Some("gisadmin".into()),
            "VENDOR_PASSWORD" => Some("s3cret!".into()),
            _ => None,
        }
    }

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/targets")
            .join(name)
    }

    #[test]
    fn shipped_vendor_example_loads() {
        let t = load_with_env(&fixture("vendor-example.yaml"), &env).unwrap();
        assert_eq!(t.users["alice"].name, "gisadmin");
        assert_eq!(t.users["alice"].password, "s3cret!");
        assert!(!t.capabilities.clock_control);
        assert_eq!(t.capabilities.max_real_wait, Duration::from_secs(120));
        assert_eq!(t.profiles.len(), 1);
        assert!(t.base_url.starts_with("https://"));
        assert!(t.declared_knobs.contains("short_lived_minutes"));
    }

    #[test]
    fn shipped_reference_remote_loads() {
        let t = load_with_env(&fixture("reference-remote.yaml"), &env).unwrap();
        assert!(t.capabilities.clock_control);
        assert_eq!(t.users["bob"].password, "bob-secret-2");
        assert_eq!(
            t.capabilities.addresses["alt1"],
            IpAddr::from([127, 0, 0, 2])
        );
    }

    #[test]
    fn tls_settings_load_relative_to_the_profile() {
        let dir = tempfile::tempdir().unwrap();
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".to_owned()]).unwrap();
        std::fs::create_dir(dir.path().join("certs")).unwrap();
        std::fs::write(dir.path().join("certs/ca.pem"), ca.cert.pem()).unwrap();
        std::fs::write(dir.path().join("certs/me.pem"), ca.cert.pem()).unwrap();
        std::fs::write(
            dir.path().join("certs/me.key"),
            ca.signing_key.serialize_pem(),
        )
        .unwrap();
        let p = dir.path().join("t.yaml");
        std::fs::write(
            &p,
            format!(
                "{HEAD}tls:\n  cacert: certs/ca.pem\n  insecure: true\n  \
                 client_cert: certs/me.pem\n  client_key: certs/me.key\n"
            ),
        )
        .unwrap();
        let t = load_with_env(&p, &env).unwrap();
        assert!(t.tls.insecure);
        assert!(t.tls.has_client_cert());
        assert_eq!(t.tls.cacert_sources().len(), 1);
        assert!(t.tls.cacert_sources()[0].ends_with("ca.pem"));
        assert!(!format!("{t:?}").contains("PRIVATE KEY"));
    }

    #[test]
    fn shipped_reference_tls_loads_with_the_served_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("reference-tls.yaml");
        std::fs::copy(fixture("reference-tls.yaml"), &p).unwrap();
        let served = crate::reference::tls::ServerTls::self_signed(&[]).unwrap();
        std::fs::write(dir.path().join("reference-tls.pem"), served.cert_pem()).unwrap();
        let t = load_with_env(&p, &env).unwrap();
        assert!(t.base_url.starts_with("https://"));
        assert_eq!(t.tls.cacert_sources().len(), 1);
        assert!(!t.tls.insecure);
    }

    #[test]
    fn tls_mistakes_are_located_errors() {
        let e = load_text(&format!("{HEAD}tls:\n  cacert: nowhere.pem\n")).unwrap_err();
        assert!(
            e.contains(":5:11: error: a readable PEM file") && e.contains("nowhere.pem"),
            "{e}"
        );
        let e = load_text(&format!("{HEAD}tls:\n  client_cert: me.pem\n")).unwrap_err();
        assert!(
            e.contains(":5:16: error: `client_key` beside `client_cert`"),
            "{e}"
        );
        let e = load_text(&format!("{HEAD}tls:\n  ca_cert: x.pem\n")).unwrap_err();
        assert!(e.contains(":5:") && e.contains("ca_cert"), "{e}");
        let e = load_text(&format!("{HEAD}tls:\n  cacert: t.yaml\n")).unwrap_err();
        assert!(
            e.contains(":5:11: error: a PEM CA certificate") && e.contains("no PEM certificate"),
            "{e}"
        );
    }

    #[test]
    fn missing_env_var_is_named() {
        let err = load_with_env(&fixture("vendor-example.yaml"), &|_| None).unwrap_err();
        match &err {
            TargetError::MissingEnv { var, .. } => assert_eq!(var, "VENDOR_USER"),
            other => panic!("{other:?}"),
        }
        assert_eq!(err.exit_code(), crate::exit::USAGE);
    }

    #[test]
    fn literal_passwords_and_unknown_fields_are_located_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.yaml");
        std::fs::write(
            &p,
            "version: 1\nbase_url: https://x.example\nprofiles: [arcgis-token]\nusers:\n  alice: {name: a, password: hunter2}\n",
        )
        .unwrap();
        let err = load_with_env(&p, &env).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(":5:"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(err.exit_code(), crate::exit::LOAD_ERROR);

        std::fs::write(
            &p,
            "version: 1\nbase_url: https://x.example\nprofiles: [arcgis-token]\nbogus: 1\n",
        )
        .unwrap();
        let err = load_with_env(&p, &env).unwrap_err();
        assert!(err.to_string().contains(":4:"), "{err}");
    }

    /// Loads a profile written from `text`; the error rendered as the CLI does.
    fn load_text(text: &str) -> Result<Target, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.yaml");
        std::fs::write(&p, text).unwrap();
        load_with_env(&p, &|k| (k == "PW").then(|| "pw-value".to_string())).map_err(|e| {
            assert_eq!(e.exit_code(), crate::exit::LOAD_ERROR, "{e}");
            e.render(false)
        })
    }

    const HEAD: &str = "version: 1\nbase_url: http://127.0.0.1:9\nprofiles: [arcgis-token]\n";

    #[test]
    fn credentials_in_the_base_url_are_refused_without_echoing_them() {
        let e = load_text(
            "version: 1\nbase_url: http://admin:s3cr3t@127.0.0.1:9\nprofiles: [arcgis-token]\n",
        )
        .unwrap_err();
        assert!(
            e.starts_with("") && e.contains("t.yaml:2:11: error: a base URL without credentials"),
            "{e}"
        );
        assert!(!e.contains("s3cr3t"), "{e}");
        // The snippet is there, with the password starred out.
        assert!(e.contains("admin:******@127.0.0.1"), "{e}");
        let e = load_text("version: 1\nbase_url: ftp://u:s3cr3t@x\nprofiles: [arcgis-token]\n")
            .unwrap_err();
        assert!(!e.contains("s3cr3t"), "{e}");
    }

    #[test]
    fn profile_errors_render_like_scenario_diagnostics() {
        let e = load_text(&format!(
            "{HEAD}capabilities: {{addresses: {{primary: 999.1.1.1}}}}\n"
        ))
        .unwrap_err();
        assert!(
            e.contains(":4:")
                && e.contains("an IP address such as `127.0.0.2`")
                && e.contains("found `999.1.1.1`"),
            "{e}"
        );
        assert_eq!(e.matches("error:").count(), 1, "{e}");
        assert!(e.contains("4 | capabilities"), "a snippet: {e}");
    }

    #[test]
    fn typos_in_profiles_are_load_errors() {
        let e = load_text(&format!(
            "{HEAD}capabilities: {{addresses: {{bogus: 127.0.0.1}}}}\n"
        ))
        .unwrap_err();
        assert!(e.contains("found `bogus`"), "{e}");
        let e = load_text(&format!(
            "{HEAD}users:\n  carol: {{name: c, password: \"${{PW}}\"}}\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("a fixture user alias (`alice`, `bob`), found `carol`"),
            "{e}"
        );
        let e = load_text("version: 1\nbase_url: http://127.0.0.1:9\nprofiles: []\n").unwrap_err();
        assert!(
            e.contains(":3:") && e.contains("at least one profile"),
            "{e}"
        );
        let e = load_text(&format!(
            "{HEAD}users:\n  alice: {{name: a, password: \"${{}}\"}}\n"
        ))
        .unwrap_err();
        assert!(e.contains("`${ENV_VAR}` reference"), "{e}");
        // And the good spellings load.
        let t = load_text(&format!(
            "{HEAD}capabilities: {{addresses: {{primary: 127.0.0.1, alt2: \"::1\"}}}}\nusers:\n  bob: {{name: b, password: \"${{PW}}\"}}\n"
        ))
        .unwrap();
        assert_eq!(t.users["bob"].password, "pw-value");
        assert_eq!(t.capabilities.addresses.len(), 2);
    }

    #[test]
    fn url_passwords_are_starred() {
        assert_eq!(
            crate::target::star_url_passwords("a: http://u:pw@h/x, b: https://tok@h2?q"),
            "a: http://u:**@h/x, b: https://***@h2?q"
        );
        assert_eq!(crate::target::star_url_passwords("no urls"), "no urls");
    }

    #[test]
    fn expands_env_references() {
        assert_eq!(
            expand_env("u-${VENDOR_USER}-x", &env).unwrap(),
            "u-gisadmin-x"
        );
        assert_eq!(expand_env("plain", &env).unwrap(), "plain");
        assert_eq!(expand_env("${NOPE}", &env).unwrap_err(), "NOPE");
    }
}
