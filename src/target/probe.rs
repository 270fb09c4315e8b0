//! `tessera probe`: asks a target what a target profile needs to say, and
//! writes that profile, each value with how it was found.
//!
//! What it asks (all through the one client, `crate::client`):
//! - `rest/info` (Server and Portal): `tokenServicesUrl`,
//!   `shortLivedTokenValidity` (→ `short_lived_minutes`,
//!   `portal_short_lived_minutes`);
//! - which profiles answer at all (an endpoint that is not a 404);
//! - the `expiration` maxima: a token requested for far too long, its
//!   `expires` less the local time (→ `max_expiration_minutes`, ...);
//! - GET generateToken and POST with credentials in the query
//!   (→ `allow_http_get`, `allow_post_query_params`, and TS-4's variant);
//! - `Authorization: Bearer` alone on a secured service (→ `web_tier_auth`);
//! - a garbage token on the public service (→ HP-8's variant), bad
//!   credentials (→ TS-3's variant);
//! - the control API (clock, knobs; password control is assumed with it,
//!   never exercised: it would change a password);
//! - which alternate source addresses reach the target;
//! - whether each configured user signs in.
//!
//! It never prints or writes a password or a token: findings hold only
//! what a profile may hold, and the written profile names credentials as
//! `${VAR}` placeholders. The profile is YAML written line by line (it is
//! mostly comments, which no serializer writes); every value in it is a
//! JSON scalar, which YAML reads as written, and a test loads it back with
//! `profile::load`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use crate::client::Control;
use crate::client::http::{self, Clients, PreparedRequest, Response};
use crate::knobs::Knobs;
use crate::scenario::model::Profile;

use super::{PRIMARY, Target, TargetKind, User};

/// A very long `expiration` (minutes, about 19 years): any real maximum
/// clamps it.
const HUGE_EXPIRATION: u64 = 10_000_000;

/// One value found, with how.
#[derive(Debug, Clone, PartialEq)]
pub struct Found<T> {
    pub value: T,
    /// One line: the request and what in the answer gave the value.
    pub how: String,
}

fn found<T>(value: T, how: impl Into<String>) -> Found<T> {
    Found {
        value,
        how: how.into(),
    }
}

/// Everything probed. Holds no password and no token.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub target: String,
    pub base_url: String,
    /// Endpoint paths that differ from the reference's (kept from a profile).
    pub endpoints: BTreeMap<String, String>,
    pub profiles: Vec<Found<Profile>>,
    pub token_services_url: Option<Found<String>>,
    /// Knob name to value; only knobs the probe could tell.
    pub knobs: Vec<(String, Found<serde_json::Value>)>,
    pub clock_control: Found<bool>,
    pub password_control: Found<bool>,
    pub knob_control: Found<bool>,
    /// Alias to address: every one that reached the target.
    pub addresses: Found<Vec<(String, IpAddr)>>,
    /// (rule, variant name) the target showed.
    pub variants: Vec<(String, Found<String>)>,
    /// Fixture alias to whether its account signed in.
    pub users: Vec<(String, Found<bool>)>,
}

impl Probe {
    /// A knob found by the probe.
    pub fn knob(&self, name: &str) -> Option<&serde_json::Value> {
        self.knobs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| &f.value)
    }

    /// A variant found by the probe.
    pub fn variant(&self, rule: &str) -> Option<&str> {
        self.variants
            .iter()
            .find(|(r, _)| r == rule)
            .map(|(_, f)| f.value.as_str())
    }
}

/// Probes `target` (a URL or profile target; the in-process reference is
/// started for the purpose). `candidates` are extra source addresses to try
/// as `altN`, beyond those the target already has.
pub async fn probe(target: &Target, clients: &Clients) -> Result<Probe, String> {
    match &target.kind {
        TargetKind::Reference {
            deviations,
            variants,
        } => {
            let server = super::in_process::Server::start(
                &target.knobs,
                deviations,
                variants,
                target.reference_tls,
            )
            .await
            .map_err(|e| e.to_string())?;
            let mut t = target.clone();
            t.base_url = server.base_url().to_owned();
            let p = probe_at(&t, clients).await;
            server.stop().await;
            Ok(p)
        }
        TargetKind::Remote => Ok(probe_at(target, clients).await),
    }
}

struct At<'a> {
    t: &'a Target,
    clients: &'a Clients,
}

impl At<'_> {
    fn url(&self, endpoint: &str) -> String {
        let path = self
            .t
            .endpoints
            .get(endpoint)
            .map(String::as_str)
            .unwrap_or("/");
        format!("{}{}", self.t.base_url, path)
    }

    async fn send(&self, req: PreparedRequest) -> Option<Response> {
        self.send_from(None, req).await
    }

    async fn send_from(&self, from: Option<IpAddr>, req: PreparedRequest) -> Option<Response> {
        let c = self.clients.for_source(from).ok()?;
        http::send(&c, &req).await.ok()
    }

    fn user(&self) -> Option<&User> {
        self.t
            .users
            .get("alice")
            .or_else(|| self.t.users.values().next())
    }

    /// POST generateToken (Server or Portal path) for `user` with `extra`
    /// form fields.
    async fn token(&self, endpoint: &str, user: &User, extra: &[(&str, &str)]) -> Option<Response> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("username", &user.name)
            .append_pair("password", &user.password)
            .append_pair("client", "requestip")
            .append_pair("f", "json");
        for (k, v) in extra {
            form.append_pair(k, v);
        }
        self.send(form_post(self.url(endpoint), form.finish()))
            .await
    }
}

fn form_post(url: String, body: String) -> PreparedRequest {
    PreparedRequest {
        method: "POST".into(),
        url,
        headers: vec![(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: Some(body),
    }
}

fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    format!("{url}?{}", q.finish())
}

/// The ArcGIS `error.code` of an answer, if any.
fn error_code(r: &Response) -> Option<i64> {
    r.json()?.get("error")?.get("code")?.as_i64()
}

/// The `token` field of a generateToken answer (never leaves this module).
fn token_of(r: &Response) -> Option<String> {
    r.json()?.get("token")?.as_str().map(str::to_owned)
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// `rest/info`'s `authInfo`.
async fn auth_info(at: &At<'_>, endpoint: &str) -> Option<serde_json::Value> {
    let r = at
        .send(PreparedRequest::get(with_query(
            &at.url(endpoint),
            &[("f", "json")],
        )))
        .await?;
    (r.status == 200).then_some(())?;
    r.json()?.get("authInfo").cloned()
}

/// `short_lived_minutes` and `portal_short_lived_minutes` as the target's
/// `rest/info` states them, over the reference defaults: what a URL target
/// is taken to use when it offers no knob control.
pub async fn server_knobs(clients: &Clients, base_url: &str) -> Knobs {
    let mut t = Target::reference(vec![]);
    t.kind = TargetKind::Remote;
    t.base_url = base_url.to_owned();
    let at = At { t: &t, clients };
    let mut k = Knobs::default();
    for (endpoint, knob) in [
        ("server_info", "short_lived_minutes"),
        ("portal_info", "portal_short_lived_minutes"),
    ] {
        if let Some(v) = auth_info(&at, endpoint)
            .await
            .and_then(|a| a.get("shortLivedTokenValidity").cloned())
            && let Ok(next) = k.with(knob, &v)
        {
            k = next;
        }
    }
    k
}

async fn probe_at(t: &Target, clients: &Clients) -> Probe {
    let at = At { t, clients };
    let mut p = Probe {
        target: t.name.clone(),
        base_url: t.base_url.clone(),
        endpoints: t
            .endpoints
            .iter()
            .filter(|(n, path)| {
                crate::scenario::endpoints::find(n).is_none_or(|e| e.path != path.as_str())
            })
            .map(|(n, p)| (n.clone(), p.clone()))
            .collect(),
        profiles: Vec::new(),
        token_services_url: None,
        knobs: Vec::new(),
        clock_control: found(false, ""),
        password_control: found(false, ""),
        knob_control: found(false, ""),
        addresses: found(Vec::new(), ""),
        variants: Vec::new(),
        users: Vec::new(),
    };

    // Profiles, rest/info and the short lifetimes.
    let server = auth_info(&at, "server_info").await;
    if let Some(a) = &server {
        p.profiles.push(found(
            Profile::ArcgisToken,
            "GET server_info answered an authInfo",
        ));
        if let Some(u) = a.get("tokenServicesUrl").and_then(|v| v.as_str()) {
            p.token_services_url = Some(found(u.to_owned(), "rest/info authInfo.tokenServicesUrl"));
        }
        if let Some(v) = a.get("shortLivedTokenValidity") {
            p.knobs.push((
                "short_lived_minutes".into(),
                found(v.clone(), "rest/info authInfo.shortLivedTokenValidity"),
            ));
        }
    }
    if let Some(v) = auth_info(&at, "portal_info")
        .await
        .and_then(|a| a.get("shortLivedTokenValidity").cloned())
    {
        p.knobs.push((
            "portal_short_lived_minutes".into(),
            found(
                v,
                "Portal sharing/rest/info authInfo.shortLivedTokenValidity",
            ),
        ));
    }
    for (profile, endpoint, req) in [
        (
            Profile::Arcweb2006,
            "arcweb",
            PreparedRequest::get(with_query(&at.url("arcweb"), &[("actn", "getToken")])),
        ),
        (
            Profile::BasemapSessions,
            "session_start",
            form_post(at.url("session_start"), "f=json".into()),
        ),
    ] {
        if let Some(r) = at.send(req).await
            && r.status != 404
        {
            p.profiles.push(found(
                profile,
                format!("{endpoint} answered HTTP {} (not 404)", r.status),
            ));
        }
    }

    // Users sign in? (Their tokens are dropped at once.)
    let mut signed_in: Option<User> = None;
    for (alias, u) in &t.users {
        let ok = match at.token("generate_token", u, &[]).await {
            Some(r) => token_of(&r).is_some(),
            None => false,
        };
        p.users.push((
            alias.clone(),
            found(
                ok,
                if ok {
                    "POST generate_token issued a token"
                } else {
                    "POST generate_token issued no token: check the account"
                },
            ),
        ));
        if ok && (signed_in.is_none() || alias == "alice") {
            signed_in = Some(u.clone());
        }
    }

    if let Some(user) = signed_in.clone().or_else(|| at.user().cloned()) {
        probe_issuance(&at, &user, &mut p).await;
    }
    if let Some(user) = &signed_in {
        probe_carriers(&at, user, &mut p).await;
    }
    probe_control(&at, &mut p).await;
    probe_addresses(&at, &mut p).await;
    p
}

/// Maxima, GET/query-string issuance (TS-4), bad credentials (TS-3).
async fn probe_issuance(at: &At<'_>, user: &User, p: &mut Probe) {
    let huge = HUGE_EXPIRATION.to_string();
    for (endpoint, knob) in [
        ("generate_token", "max_expiration_minutes"),
        ("portal_generate_token", "portal_max_expiration_minutes"),
    ] {
        let sent = now_ms();
        let Some(r) = at.token(endpoint, user, &[("expiration", &huge)]).await else {
            continue;
        };
        let expires = r
            .json()
            .and_then(|j| j.get("expires").and_then(|e| e.as_i64()));
        if let (Some(_), Some(exp)) = (token_of(&r), expires) {
            // Rounded to the minute: clocks and round trips cost seconds.
            let minutes = (exp - sent + 30_000).div_euclid(60_000);
            if minutes > 0 && (minutes as u64) < HUGE_EXPIRATION {
                p.knobs.push((
                    knob.into(),
                    found(
                        serde_json::json!(minutes),
                        format!(
                            "POST {endpoint} with expiration={HUGE_EXPIRATION}: expires - now, in minutes"
                        ),
                    ),
                ));
            }
        } else if endpoint == "portal_generate_token" && error_code(&r).is_some() {
            p.variants.push((
                "LT-3".into(),
                found(
                    "refuse".into(),
                    format!("POST {endpoint} with expiration={HUGE_EXPIRATION} was refused"),
                ),
            ));
        }
    }

    let creds = [
        ("username", user.name.as_str()),
        ("password", user.password.as_str()),
        ("f", "json"),
    ];
    let get = at
        .send(PreparedRequest::get(with_query(
            &at.url("generate_token"),
            &creds,
        )))
        .await;
    let post_query = at
        .send(form_post(
            with_query(&at.url("generate_token"), &creds),
            String::new(),
        ))
        .await;
    for (knob, answer, what) in [
        ("allow_http_get", &get, "GET generate_token"),
        (
            "allow_post_query_params",
            &post_query,
            "POST generate_token with credentials in the query",
        ),
    ] {
        let Some(r) = answer else { continue };
        let issued = token_of(r).is_some();
        p.knobs.push((
            knob.into(),
            found(
                serde_json::json!(issued),
                format!(
                    "{what}: {}",
                    if issued {
                        "a token".to_owned()
                    } else {
                        format!(
                            "no token (code {})",
                            error_code(r).map_or("none".into(), |c| c.to_string())
                        )
                    }
                ),
            ),
        ));
        if !issued
            && p.variant("TS-4").is_none()
            && let Some(name) = error_code(r).and_then(|c| variant_named("TS-4", c))
        {
            p.variants.push((
                "TS-4".into(),
                found(
                    name,
                    format!(
                        "{what} was refused with code {}",
                        error_code(r).unwrap_or(0)
                    ),
                ),
            ));
        }
    }

    let mut wrong = user.clone();
    wrong.password = format!("{}-not-it", wrong.password);
    if let Some(r) = at.token("generate_token", &wrong, &[]).await
        && token_of(&r).is_none()
        && let Some(code) = error_code(&r)
        && let Some(name) = variant_named("TS-3", code)
    {
        p.variants.push((
            "TS-3".into(),
            found(
                name,
                format!("a wrong password was refused with code {code}"),
            ),
        ));
    }
}

/// The variant of `rule` named by an error code, if one is.
fn variant_named(rule: &str, code: i64) -> Option<String> {
    let name = code.to_string();
    crate::rules::variant(rule, &name).map(|_| name)
}

/// `web_tier_auth` (HP-5) and HP-8's variant, with a token of `user`.
async fn probe_carriers(at: &At<'_>, user: &User, p: &mut Probe) {
    let Some(token) = at
        .token("generate_token", user, &[])
        .await
        .as_ref()
        .and_then(token_of)
    else {
        return;
    };
    let mut req = PreparedRequest::get(with_query(&at.url("secured_service"), &[("f", "json")]));
    req.headers
        .push(("Authorization".into(), format!("Bearer {token}")));
    if let Some(r) = at.send(req).await {
        let carried = r.status == 200 && error_code(&r).is_none();
        p.knobs.push((
            "web_tier_auth".into(),
            found(
                serde_json::json!(!carried),
                if carried {
                    "a token in `Authorization: Bearer` alone opened the secured service".to_owned()
                } else {
                    format!(
                        "a token in `Authorization: Bearer` alone did not open the secured service (HTTP {}, code {})",
                        r.status,
                        error_code(&r).map_or("none".into(), |c| c.to_string())
                    )
                },
            ),
        ));
    }
    // IP-2: a requestip token asked for with X-Forwarded-For. If the header
    // is believed from this machine, the token is bound to the forwarded
    // address and refused here.
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("username", &user.name)
        .append_pair("password", &user.password)
        .append_pair("client", "requestip")
        .append_pair("f", "json");
    let mut req = form_post(at.url("generate_token"), form.finish());
    req.headers
        .push(("X-Forwarded-For".into(), "203.0.113.7".into()));
    if let Some(forwarded) = at.send(req).await.as_ref().and_then(token_of) {
        let use_req = PreparedRequest::get(with_query(
            &at.url("secured_service"),
            &[("f", "json"), ("token", &forwarded)],
        ));
        if let Some(r) = at.send(use_req).await {
            let works_here = r.status == 200 && error_code(&r).is_none();
            if works_here {
                p.knobs.push((
                    "trusted_proxies".into(),
                    found(
                        serde_json::json!([]),
                        "X-Forwarded-For from this machine was not believed (a requestip token asked for with it works here); list the proxies the deployment trusts, if any",
                    ),
                ));
            }
        }
    }
    let garbage = format!("garbage-{token}");
    if let Some(r) = at
        .send(PreparedRequest::get(with_query(
            &at.url("public_service"),
            &[("f", "json"), ("token", &garbage)],
        )))
        .await
    {
        let (name, how) = match error_code(&r) {
            Some(498) => ("checked", "a garbage token on the public service: 498"),
            None if r.status == 200 => ("ignored", "a garbage token on the public service: served"),
            _ => ("", ""),
        };
        if !name.is_empty() {
            p.variants.push(("HP-8".into(), found(name.into(), how)));
        }
    }
}

/// The control API: clock, knobs; password control assumed with it.
async fn probe_control(at: &At<'_>, p: &mut Probe) {
    let control = Control {
        clients: at.clients,
        base_url: &at.t.base_url,
    };
    let clock = control.probe().await.unwrap_or(false);
    p.clock_control = found(
        clock,
        if clock {
            "GET /_tessera/clock answered {\"now_ms\": ...}"
        } else {
            "GET /_tessera/clock did not answer the control protocol"
        },
    );
    p.password_control = found(
        clock,
        if clock {
            "assumed with the control API (not exercised: it would change a password)"
        } else {
            "no control API"
        },
    );
    let knobs = clock && control.knobs().await.is_ok();
    p.knob_control = found(
        knobs,
        if knobs {
            "GET /_tessera/knobs answered the knobs in force"
        } else {
            "GET /_tessera/knobs did not answer"
        },
    );
}

/// Which source addresses reach the target: those it already has, and on a
/// loopback target 127.0.0.2 ... .
async fn probe_addresses(at: &At<'_>, p: &mut Probe) {
    let mut candidates: Vec<(String, IpAddr)> =
        at.t.capabilities
            .addresses
            .iter()
            .filter(|(k, _)| k.as_str() != PRIMARY)
            .map(|(k, a)| (k.clone(), *a))
            .collect();
    let loopback = url::Url::parse(&at.t.base_url)
        .ok()
        .is_some_and(|u| super::is_loopback_host(&u));
    if let Some(a) = at.t.capabilities.addresses.get(PRIMARY) {
        candidates.insert(0, (PRIMARY.to_owned(), *a));
    }
    if candidates.is_empty() && loopback {
        candidates = super::loopback_addresses().into_iter().collect();
    }
    let mut usable = Vec::new();
    let mut tried = Vec::new();
    for (alias, ip) in candidates {
        tried.push(ip.to_string());
        let req = PreparedRequest::get(with_query(&at.url("server_info"), &[("f", "json")]));
        if at.send_from(Some(ip), req).await.is_some() {
            usable.push((alias, ip));
        }
    }
    let how = if tried.is_empty() {
        "none to try: declare local addresses of this machine under capabilities.addresses"
            .to_owned()
    } else {
        format!(
            "{} of {} tried ({}) reached server_info",
            usable.len(),
            tried.len(),
            tried.join(", ")
        )
    };
    p.addresses = found(usable, how);
}

/// A JSON scalar as YAML reads it back.
fn scalar(v: &serde_json::Value) -> String {
    v.to_string()
}

/// The target profile (YAML) the probe supports, each value commented with
/// how it was found; credentials as `${VAR}` placeholders.
pub fn write_profile(p: &Probe) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Written by `tessera probe`; check every value before relying on it."
    );
    let _ = writeln!(o, "version: 1");
    let _ = writeln!(o, "name: {}", scalar(&serde_json::json!(p.target)));
    let _ = writeln!(o, "base_url: {}", scalar(&serde_json::json!(p.base_url)));
    for f in &p.profiles {
        let _ = writeln!(o, "# {}: {}", f.value, f.how);
    }
    let profiles: Vec<&str> = p.profiles.iter().map(|f| f.value.as_str()).collect();
    if profiles.is_empty() {
        let _ = writeln!(
            o,
            "# No profile answered; arcgis-token written so the file loads."
        );
        let _ = writeln!(o, "profiles: [arcgis-token]");
    } else {
        let _ = writeln!(o, "profiles: [{}]", profiles.join(", "));
    }
    if let Some(u) = &p.token_services_url {
        let _ = writeln!(o, "# tokenServicesUrl: {} ({})", u.value, u.how);
    }
    if !p.endpoints.is_empty() {
        let _ = writeln!(o, "endpoints:");
        for (n, path) in &p.endpoints {
            let _ = writeln!(o, "  {n}: {}", scalar(&serde_json::json!(path)));
        }
    }
    let _ = writeln!(o, "knobs:");
    for name in Knobs::NAMES {
        match p.knobs.iter().find(|(n, _)| n == name) {
            Some((_, f)) => {
                let _ = writeln!(o, "  # {}", f.how);
                let _ = writeln!(o, "  {name}: {}", scalar(&f.value));
            }
            None => {
                let _ = writeln!(
                    o,
                    "  # {name}: not found by probing; declare it if documented"
                );
            }
        }
    }
    let _ = writeln!(o, "capabilities:");
    for (name, f) in [
        ("clock_control", &p.clock_control),
        ("password_control", &p.password_control),
        ("knob_control", &p.knob_control),
    ] {
        let _ = writeln!(o, "  # {}", f.how);
        let _ = writeln!(o, "  {name}: {}", f.value);
    }
    let _ = writeln!(
        o,
        "  # Clock-moving scenarios that fit run with real waits (2m runs the\n  # header-precedence matrices); raise it for more coverage, 0s for none."
    );
    let _ = writeln!(o, "  max_real_wait: 2m");
    let _ = writeln!(o, "  # Source addresses: {}", p.addresses.how);
    if p.addresses.value.is_empty() {
        let _ = writeln!(o, "  addresses: {{}}");
    } else {
        let _ = writeln!(o, "  addresses:");
        for (alias, ip) in &p.addresses.value {
            let _ = writeln!(
                o,
                "    {alias}: {}",
                scalar(&serde_json::json!(ip.to_string()))
            );
        }
    }
    let _ = writeln!(
        o,
        "# Clock distance allowed in comparisons with {{{{now}}}} (unsynchronised clocks)."
    );
    let _ = writeln!(o, "time_tolerance: 2s");
    if !p.variants.is_empty() {
        let _ = writeln!(o, "# Variants of the VARIANT rules the target showed:");
        for (rule, f) in &p.variants {
            let _ = writeln!(o, "#   {rule}: {} ({})", f.value, f.how);
        }
    }
    if !p.users.is_empty() {
        let _ = writeln!(
            o,
            "# Accounts: set these variables before `tessera run` (never write passwords here)."
        );
        let _ = writeln!(o, "users:");
        for (alias, f) in &p.users {
            let var = alias.to_ascii_uppercase();
            let _ = writeln!(o, "  # {}", f.how);
            let _ = writeln!(
                o,
                "  {alias}: {{name: \"${{TESSERA_{var}_USER}}\", password: \"${{TESSERA_{var}_PASSWORD}}\"}}"
            );
        }
    }
    o
}

/// The probe as console lines: each value with how it was found.
pub fn summary(p: &Probe) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "probed {}", p.base_url);
    for f in &p.profiles {
        let _ = writeln!(o, "  {:<36} {}", format!("profile {}", f.value), f.how);
    }
    if let Some(u) = &p.token_services_url {
        let _ = writeln!(o, "  tokenServicesUrl {} ({})", u.value, u.how);
    }
    for (n, f) in &p.knobs {
        let _ = writeln!(
            o,
            "  {:<36} {}",
            format!("{n} = {}", scalar(&f.value)),
            f.how
        );
    }
    for (n, f) in [
        ("clock_control", &p.clock_control),
        ("password_control", &p.password_control),
        ("knob_control", &p.knob_control),
    ] {
        let _ = writeln!(o, "  {:<36} {}", format!("{n} = {}", f.value), f.how);
    }
    let addrs: Vec<String> = p
        .addresses
        .value
        .iter()
        .map(|(a, ip)| format!("{a}={ip}"))
        .collect();
    let _ = writeln!(o, "  addresses [{}] {}", addrs.join(", "), p.addresses.how);
    for (r, f) in &p.variants {
        let _ = writeln!(o, "  variant {r}: {} ({})", f.value, f.how);
    }
    for (alias, f) in &p.users {
        let _ = writeln!(
            o,
            "  user {alias}: {} ({})",
            if f.value {
                "signs in"
            } else {
                "DOES NOT sign in"
            },
            f.how
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn clients() -> Clients {
        Clients::new(crate::client::Timeouts::new(Duration::from_secs(5)))
    }

    #[tokio::test]
    async fn the_in_process_reference_is_probed_as_it_is() {
        let p = probe(&Target::reference(vec![]), &clients()).await.unwrap();
        assert_eq!(p.profiles.len(), 3, "{p:#?}");
        let k = Knobs::default();
        // Every knob the probe can tell from outside (the proxy list and the
        // session cap it cannot).
        for name in Knobs::NAMES
            .iter()
            .copied()
            .filter(|n| !matches!(*n, "trusted_proxies" | "max_concurrent_sessions"))
        {
            assert_eq!(p.knob(name), Some(&k.get(name).unwrap()), "{name}: {p:#?}");
        }
        assert_eq!(p.variant("HP-8"), Some("checked"));
        assert_eq!(p.variant("TS-4"), Some("405"));
        assert_eq!(p.variant("TS-3"), Some("400"));
        assert!(p.users.iter().all(|(_, f)| f.value), "{p:#?}");
        assert!(p.token_services_url.is_some());
        // The in-process reference always serves the control API.
        assert!(p.clock_control.value && p.knob_control.value);
        assert_eq!(p.addresses.value.len(), 9, "primary and alt1..alt8");
    }

    #[tokio::test]
    async fn the_written_profile_loads_and_holds_no_secret() {
        let mut t = Target::reference(vec![]);
        t.knobs.short_lived_minutes = 30;
        t.knobs.web_tier_auth = true;
        let p = probe(&t, &clients()).await.unwrap();
        let text = write_profile(&p);
        for u in t.users.values() {
            assert!(!text.contains(&u.password), "{text}");
        }
        assert!(text.contains("short_lived_minutes: 30"), "{text}");
        assert!(text.contains("web_tier_auth: true"), "{text}");
        assert!(!summary(&p).contains("alice-secret"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.yaml");
        std::fs::write(&file, &text).unwrap();
        let loaded =
            super::super::profile::load_with_env(&file, &|v| Some(format!("value-of-{v}")))
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(loaded.knobs.short_lived_minutes, 30);
        assert!(loaded.knobs.web_tier_auth);
        assert!(loaded.declared_knobs.contains("web_tier_auth"));
        assert_eq!(
            loaded.users["alice"].password,
            "value-of-TESSERA_ALICE_PASSWORD"
        );
        assert_eq!(loaded.capabilities.addresses.len(), 9);
    }
}
