//! The decisions of the built-in token client, as pure functions so they
//! can be tested without a network: which origin and root a URL belongs to,
//! whether a server is federated with the home portal, when a token or a
//! session must be renewed, whether an answer is a token error, and how long
//! to back off. The client (`client.rs`) calls these and does the I/O.
//!
//! Origins are compared as parsed `scheme://host:port` (host
//! case-insensitive, default ports filled in), never as substrings or
//! regular expressions (CL-5, CL-6).

use std::time::Duration;

/// A parsed origin: scheme, lower-case host, port (default filled in).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Origin {
    /// The origin of an absolute `http(s)` URL; `None` for anything else.
    pub fn of(url: &str) -> Option<Origin> {
        let u = url::Url::parse(url).ok()?;
        let scheme = u.scheme().to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        Some(Origin {
            host: u.host_str()?.to_ascii_lowercase(),
            port: u.port_or_known_default()?,
            scheme,
        })
    }

    pub fn is_https(&self) -> bool {
        self.scheme == "https"
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// A scope a token may be presented in: an origin plus a path prefix
/// (segment-wise: `/arcgis` covers `/arcgis` and `/arcgis/...`, not
/// `/arcgisx`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Root {
    pub origin: Origin,
    /// Without a trailing slash; empty for the whole origin.
    pub path: String,
}

impl Root {
    /// The root of an absolute URL taken as a whole (`https://h/portal/` →
    /// origin + `/portal`).
    pub fn of(url: &str) -> Option<Root> {
        let origin = Origin::of(url)?;
        let u = url::Url::parse(url).ok()?;
        Some(Root {
            origin,
            path: u.path().trim_end_matches('/').to_owned(),
        })
    }

    /// Whether `url` lies in this scope: same parsed origin and a path
    /// equal to the root's or below it at a segment boundary.
    pub fn contains(&self, url: &str) -> bool {
        let (Some(o), Ok(u)) = (Origin::of(url), url::Url::parse(url)) else {
            return false;
        };
        if o != self.origin {
            return false;
        }
        let p = u.path();
        self.path.is_empty()
            || p == self.path
            || p.strip_prefix(&self.path)
                .is_some_and(|r| r.starts_with('/'))
    }

    /// `scheme://host:port/path` (no trailing slash).
    pub fn url(&self) -> String {
        format!("{}{}", self.origin, self.path)
    }
}

/// The base URL of a portal (`…/sharing/rest` → `…`), as `owningSystemUrl`
/// names it; the portal URL itself when it has no `/sharing/rest`.
pub fn portal_base(portal_url: &str) -> String {
    let t = portal_url.trim_end_matches('/');
    t.strip_suffix("/sharing/rest")
        .or_else(|| t.strip_suffix("/sharing"))
        .unwrap_or(t)
        .to_owned()
}

/// The server root of a service URL: everything before `/rest/` (or a
/// trailing `/rest`), as ArcGIS clients derive it. `None` when the path has
/// no `rest` segment.
pub fn server_root(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let path = u.path();
    let cut = path
        .find("/rest/")
        .or_else(|| path.strip_suffix("/rest").map(|p| p.len()))?;
    let origin = Origin::of(url)?;
    Some(format!("{origin}{}", &path[..cut]))
}

/// CL-6: a server is federated with the home portal only when its
/// `owningSystemUrl` equals the portal's base URL: same parsed origin
/// (scheme, host case-insensitive, port) and same path, a trailing slash
/// aside. Nothing else (prefixes, substrings, patterns) counts.
pub fn is_federated(owning_system_url: &str, portal_url: &str) -> bool {
    let (Some(a), Some(b)) = (
        Root::of(owning_system_url.trim()),
        Root::of(&portal_base(portal_url)),
    ) else {
        return false;
    };
    a == b
}

/// The broken decision of `regex-federation` (rest-js `isFederated`): the
/// server-supplied URL without its scheme becomes a case-insensitive,
/// unanchored regular expression tested against the portal URL without its
/// scheme. Kept here so its unit test shows why it is wrong.
pub fn is_federated_by_regex(owning_system_url: &str, portal_url: &str) -> bool {
    let strip = |s: &str| {
        s.split_once("://")
            .map(|(_, r)| r.to_owned())
            .unwrap_or_else(|| s.to_owned())
    };
    let pattern = strip(owning_system_url.trim_end_matches('/'));
    regex::RegexBuilder::new(&pattern)
        .case_insensitive(true)
        .build()
        .is_ok_and(|r| r.is_match(&strip(portal_url)))
}

/// CL-7: renew a token this long before its `expires`:
/// `min(max(lifetime/100, 1 s), 5 min)`.
pub fn renewal_margin(lifetime: Duration) -> Duration {
    (lifetime / 100)
        .max(Duration::from_secs(1))
        .min(Duration::from_secs(300))
}

/// CL-11: start a new session this long before `endTime`:
/// `min(max(duration/100, 1 s), 300 s)`.
pub fn session_margin(duration: Duration) -> Duration {
    renewal_margin(duration)
}

/// CL-11: `durationSeconds` kept within 10..43200.
pub fn clamp_session_seconds(asked: u32) -> u32 {
    asked.clamp(10, 43_200)
}

/// How long a token lives from the moment its answer arrived, read from the
/// answer's `expires` against the *server's* clock when the answer carried
/// one (the `Date` header, `server_now_ms`), so a client clock that is off
/// does not shorten or stretch it (CL-13). Without a server time, the local
/// clock is used. A result that is not positive (a server far behind with
/// no `Date`) falls back to `fallback` (what was asked), so the client does
/// not renew in a loop.
pub fn token_lifetime(
    expires_ms: i64,
    server_now_ms: Option<i64>,
    local_now_ms: i64,
    fallback: Duration,
) -> Duration {
    let now = server_now_ms.unwrap_or(local_now_ms);
    match u64::try_from(expires_ms.saturating_sub(now)) {
        Ok(ms) if ms > 0 => Duration::from_millis(ms),
        _ => fallback,
    }
}

/// The server's time when it answered, from an HTTP `Date` header
/// (IMF-fixdate, whole seconds), as epoch milliseconds. The header is
/// truncated to the second, so the *end* of that second is taken: a token's
/// lifetime is then underestimated by less than a second, never
/// overestimated.
pub fn server_now_from_date(date: &str) -> Option<i64> {
    static PARSER: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    let ts = PARSER.parse_timestamp(date.trim()).ok()?;
    Some(ts.as_millisecond() + 999)
}

/// A token error as the answer states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// 498: invalid or expired token.
    Invalid,
    /// 499: token required.
    Required,
}

/// CL-9: a token error is `error.code` 498/499 in the JSON body, whether
/// the HTTP status is 200 (Server, Portal) or 401/403 (Basemap Styles);
/// the message text is never read.
pub fn token_error(status: u16, body: &serde_json::Value) -> Option<TokenError> {
    if !matches!(status, 200 | 401 | 403 | 498 | 499) {
        return None;
    }
    let code = body
        .get("error")
        .and_then(|e| e.get("code"))
        .and_then(code_of);
    match code {
        Some(498) => Some(TokenError::Invalid),
        Some(499) => Some(TokenError::Required),
        _ => None,
    }
}

/// The broken decision of `text-match-498` (ArcGIS API for Python): a token
/// error only when an HTTP 200 body's message is exactly `Invalid Token`.
pub fn token_error_by_text(status: u16, body: &serde_json::Value) -> Option<TokenError> {
    let msg = body
        .get("error")
        .and_then(|e| e.get("message"))
        .and_then(|m| m.as_str())?;
    match (status, msg) {
        (200, "Invalid Token") => Some(TokenError::Invalid),
        (200, "Token Required") => Some(TokenError::Required),
        _ => None,
    }
}

/// A JSON number or numeric string as an integer (`expires`, `code`).
pub fn code_of(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The error code of an answer: `error.code` of the body, else the HTTP
/// status when it is not a success.
pub fn error_code(status: u16, body: &serde_json::Value) -> Option<i64> {
    body.get("error")
        .and_then(|e| e.get("code"))
        .and_then(code_of)
        .or(if (200..300).contains(&status) {
            None
        } else {
            Some(i64::from(status))
        })
}

/// Whether an answer from a token service asks the client to come back
/// later (CL-14 SHOULD: back off on 429, 503 and other 5xx).
pub fn is_throttle(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// A `Retry-After` header in delta-seconds (the HTTP-date form is not used
/// by ArcGIS); capped at a minute so a hostile value cannot stall a case.
pub fn retry_after(value: &str) -> Option<Duration> {
    let s: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(s.min(60)))
}

/// Exponential backoff with full jitter: attempt 0 waits up to 500 ms,
/// attempt 1 up to 1 s, ... capped at 8 s; `unit` in `[0, 1)` is the random
/// draw. A `Retry-After` wins when it is longer.
pub fn backoff(attempt: u32, unit: f64, retry_after: Option<Duration>) -> Duration {
    let cap = Duration::from_millis(500u64.saturating_mul(1 << attempt.min(4)));
    let jittered = cap
        .mul_f64(unit.clamp(0.0, 1.0))
        .max(Duration::from_millis(50));
    match retry_after {
        Some(r) if r > jittered => r,
        _ => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn origins_compare_parsed_with_default_ports_and_any_host_case() {
        assert_eq!(
            Origin::of("HTTP://LocalHost/x"),
            Origin::of("http://localhost:80/y")
        );
        assert_ne!(
            Origin::of("http://127.0.0.1:8080/"),
            Origin::of("https://127.0.0.1:8080/")
        );
        assert_ne!(
            Origin::of("http://127.0.0.1:8080/"),
            Origin::of("http://127.0.0.1:8081/")
        );
        assert_eq!(Origin::of("ftp://h/x"), None);
        assert_eq!(Origin::of("not a url"), None);
    }

    #[test]
    fn a_root_holds_its_path_and_below_never_a_lookalike_or_another_origin() {
        let portal = Root::of("http://127.0.0.1:5000/sharing/rest").unwrap();
        assert!(portal.contains("http://127.0.0.1:5000/sharing/rest"));
        assert!(portal.contains("http://127.0.0.1:5000/sharing/rest/community/self?f=json"));
        assert!(!portal.contains("http://127.0.0.1:5000/sharing/restx"));
        // The URL merely contains the portal URL (rest-js `new RegExp(portal)`).
        assert!(!portal.contains("http://127.0.0.1:6000/x?u=http://127.0.0.1:5000/sharing/rest"));
        assert!(!portal.contains("http://127x0.0.1:5000/sharing/rest"));
        assert!(!portal.contains("http://127.0.0.1:5000@evil.example/sharing/rest"));
        let whole = Root::of("http://127.0.0.1:5000/").unwrap();
        assert!(whole.contains("http://127.0.0.1:5000/anything"));
        assert_eq!(whole.url(), "http://127.0.0.1:5000");
    }

    #[test]
    fn server_roots_are_cut_before_the_rest_segment() {
        assert_eq!(
            server_root("http://127.0.0.1:1/federated/rest/services/Secured/MapServer").as_deref(),
            Some("http://127.0.0.1:1/federated")
        );
        assert_eq!(
            server_root("http://127.0.0.1:1/arcgis/rest").as_deref(),
            Some("http://127.0.0.1:1/arcgis")
        );
        assert_eq!(server_root("http://127.0.0.1:1/restful/x"), None);
        assert_eq!(portal_base("http://h:1/sharing/rest/"), "http://h:1");
        assert_eq!(
            portal_base("http://h:1/portal/sharing/rest"),
            "http://h:1/portal"
        );
    }

    #[test]
    fn federation_is_an_exact_match_of_the_portal_base() {
        let portal = "http://127.0.0.1:5000/sharing/rest";
        assert!(is_federated("http://127.0.0.1:5000", portal));
        assert!(is_federated("http://127.0.0.1:5000/", portal));
        assert!(is_federated("HTTP://127.0.0.1:5000", portal));
        // The attacks of the background study: alternation, a prefix, a
        // path that contains the portal, another port or scheme.
        assert!(!is_federated("http://127.0.0.1:6000/e|127", portal));
        assert!(!is_federated("http://127.0.0.1:500", portal));
        assert!(!is_federated(
            "http://127.0.0.1:6000/127.0.0.1:5000",
            portal
        ));
        assert!(!is_federated("http://127.0.0.1:5001", portal));
        assert!(!is_federated("https://127.0.0.1:5000", portal));
        assert!(!is_federated("http://127.0.0.1:5000/sharing/rest", portal));
        assert!(!is_federated("", portal));
    }

    #[test]
    fn the_regex_decision_of_the_broken_variant_accepts_the_attacks() {
        let portal = "http://127.0.0.1:5000/sharing/rest";
        assert!(is_federated_by_regex("http://127.0.0.1:5000", portal));
        assert!(is_federated_by_regex("http://127.0.0.1:6000/e|127", portal));
        assert!(is_federated_by_regex("http://127.0.0.1:500", portal));
        assert!(!is_federated_by_regex("http://10.0.0.1:1", portal));
    }

    #[test]
    fn margins_follow_the_one_percent_rule_between_one_second_and_five_minutes() {
        let s = Duration::from_secs;
        assert_eq!(renewal_margin(s(20)), s(1));
        assert_eq!(renewal_margin(s(3600)), s(36));
        assert_eq!(renewal_margin(s(60 * 60 * 24)), s(300));
        assert_eq!(renewal_margin(Duration::ZERO), s(1));
        assert_eq!(session_margin(s(10)), s(1));
        assert_eq!(session_margin(s(43_200)), s(300));
        assert_eq!(clamp_session_seconds(1), 10);
        assert_eq!(clamp_session_seconds(100_000), 43_200);
        assert_eq!(clamp_session_seconds(600), 600);
    }

    #[test]
    fn lifetimes_are_read_against_the_server_clock_when_it_is_known() {
        let s = Duration::from_secs;
        // Server 2 h behind the client: local comparison would call the
        // token expired on arrival; the server's Date keeps its 20 s.
        let server_now = 1_000_000_000_000;
        let local_now = server_now + 7_200_000;
        let expires = server_now + 20_000;
        assert_eq!(
            token_lifetime(expires, Some(server_now), local_now, s(3600)),
            s(20)
        );
        assert_eq!(token_lifetime(expires, None, local_now, s(3600)), s(3600));
        assert_eq!(token_lifetime(expires, None, server_now, s(3600)), s(20));
    }

    #[test]
    fn the_date_header_is_read_as_the_end_of_its_second() {
        assert_eq!(
            server_now_from_date("Fri, 04 Dec 2026 20:40:12 GMT"),
            Some(1_796_416_812_999)
        );
        assert_eq!(server_now_from_date("yesterday"), None);
    }

    #[test]
    fn token_errors_are_read_by_code_in_both_envelopes_never_by_text() {
        let e = |code: i64, msg: &str| json!({"error": {"code": code, "message": msg}});
        assert_eq!(
            token_error(200, &e(498, "Invalid Token")),
            Some(TokenError::Invalid)
        );
        assert_eq!(
            token_error(200, &e(498, "Invalid token.")),
            Some(TokenError::Invalid)
        );
        assert_eq!(
            token_error(401, &e(498, "Token Invalid.")),
            Some(TokenError::Invalid)
        );
        assert_eq!(
            token_error(403, &e(499, "whatever")),
            Some(TokenError::Required)
        );
        assert_eq!(
            token_error(200, &json!({"error": {"code": "498"}})),
            Some(TokenError::Invalid)
        );
        // Text alone is not a token error; nor is another code.
        assert_eq!(token_error(200, &e(400, "Invalid Token")), None);
        assert_eq!(token_error(500, &e(498, "x")), None);
        assert_eq!(token_error(200, &json!({"token": "x"})), None);
        // The broken variant sees only one spelling in one envelope.
        assert_eq!(
            token_error_by_text(200, &e(498, "Invalid Token")),
            Some(TokenError::Invalid)
        );
        assert_eq!(token_error_by_text(200, &e(498, "Invalid token.")), None);
        assert_eq!(token_error_by_text(401, &e(498, "Invalid Token")), None);
    }

    #[test]
    fn error_codes_come_from_the_body_then_the_status() {
        assert_eq!(error_code(200, &json!({"error": {"code": 400}})), Some(400));
        assert_eq!(error_code(503, &json!(null)), Some(503));
        assert_eq!(error_code(200, &json!({"ok": 1})), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_retry_after_wins_when_longer() {
        let ms = Duration::from_millis;
        assert_eq!(backoff(0, 0.0, None), ms(50));
        assert_eq!(backoff(0, 0.999_999, None).as_millis(), 499);
        assert_eq!(backoff(1, 0.5, None), ms(500));
        assert_eq!(backoff(10, 1.0, None), ms(8000));
        assert_eq!(backoff(0, 0.5, Some(ms(2000))), ms(2000));
        assert_eq!(backoff(3, 1.0, Some(ms(100))), ms(4000));
        assert_eq!(retry_after(" 2 "), Some(ms(2000)));
        assert_eq!(retry_after("3600"), Some(Duration::from_secs(60)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert!(is_throttle(429) && is_throttle(503) && is_throttle(500));
        assert!(!is_throttle(400) && !is_throttle(200));
    }
}
