//! One request as the handlers see it: parameters merged from the query and a
//! form body, the client's address, the base URL it used, and the token
//! carriers of HP-1 in precedence order (HP-2..HP-6). Nothing here decides
//! whether a token is valid.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, request::Parts};

use super::deviations::Deviation;
use super::state::AppState;
use super::variants::{Hp5, Hp6};

/// A request, parsed once.
#[derive(Debug)]
pub struct Ctx {
    pub method: Method,
    /// The path without a trailing slash.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Form body parameters (`application/x-www-form-urlencoded` only).
    pub form: Vec<(String, String)>,
    pub body: Bytes,
    pub headers: HeaderMap,
    /// The TCP peer.
    pub peer: IpAddr,
    /// The client address for binding: the peer, or `X-Forwarded-For` when the
    /// peer is a trusted proxy (IP-2).
    pub client_ip: IpAddr,
    /// `scheme://host[:port]` as the client addressed us.
    pub base: String,
    /// The clock read once per request, so one request sees one instant.
    pub now: i64,
}

fn pairs(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Ctx {
    pub fn new(st: &AppState, parts: Parts, body: Bytes, peer: SocketAddr) -> Ctx {
        let query = parts.uri.query().map(pairs).unwrap_or_default();
        let is_form = parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        let form = if is_form {
            std::str::from_utf8(&body).map(pairs).unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut path = parts.uri.path().to_owned();
        while path.len() > 1 && path.ends_with('/') {
            path.pop();
        }
        let peer = peer.ip().to_canonical();
        let client_ip = client_ip(st, &parts.headers, peer);
        let host = parts
            .headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()))
            .unwrap_or_else(|| "localhost".to_owned());
        // The scheme the connection used (`tessera serve --tls` marks its
        // requests); behind a trusted TLS proxy the client's scheme comes
        // from X-Forwarded-Proto.
        let direct = match parts.extensions.get::<super::tls::Https>() {
            Some(_) => "https",
            None => "http",
        };
        let scheme: String = if st.knobs().trusted_proxies.contains(&peer) {
            parts
                .headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .filter(|v| *v == "https" || *v == "http")
                .unwrap_or(direct)
                .to_owned()
        } else {
            direct.to_owned()
        };
        Ctx {
            method: parts.method,
            path,
            query,
            form,
            body,
            headers: parts.headers,
            peer,
            client_ip,
            base: format!("{scheme}://{host}"),
            now: st.now_ms(),
        }
    }

    /// First value of `name`: the query first, then the form body.
    pub fn param(&self, name: &str) -> Option<&str> {
        first(&self.query, name).or_else(|| first(&self.form, name))
    }

    /// Like [`Ctx::param`], with an empty value counted as absent.
    pub fn nonempty(&self, name: &str) -> Option<&str> {
        self.param(name).filter(|v| !v.is_empty())
    }

    /// Like [`Ctx::nonempty`] with the name matched case-insensitively
    /// (clients spell `serverUrl` as `serverURL` too).
    pub fn nonempty_any_case(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .chain(&self.form)
            .find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub fn in_query(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn referer(&self) -> Option<&str> {
        self.header("referer")
    }
}

/// A positive whole number as written in a minutes parameter (`expiration`,
/// `tout`): digits with an optional `+`. A value too large for `i64` is still
/// a positive integer, so it saturates (and is then clamped, LT-3 / LT-7)
/// rather than being refused. Zero, negatives and anything else: `None`.
pub fn positive_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = digits.parse::<i64>().unwrap_or(i64::MAX);
    (n > 0).then_some(n)
}

fn first<'a>(list: &'a [(String, String)], name: &str) -> Option<&'a str> {
    list.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn last<'a>(list: &'a [(String, String)], name: &str) -> Option<&'a str> {
    list.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// IP-2: believe `X-Forwarded-For` only from a trusted proxy; the client is
/// the right-most address that is not itself a trusted proxy.
fn client_ip(st: &AppState, headers: &HeaderMap, peer: IpAddr) -> IpAddr {
    let knobs = st.knobs();
    let trusted = &knobs.trusted_proxies;
    let any = st.dev(Deviation::TrustAnyForwardedFor);
    if !any && !trusted.contains(&peer) {
        return peer;
    }
    let Some(xff) = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .reduce(|a, b| format!("{a},{b}"))
    else {
        return peer;
    };
    let hops: Vec<IpAddr> = xff
        .split(',')
        .filter_map(|h| h.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect();
    if any {
        return hops.first().copied().unwrap_or(peer);
    }
    hops.iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

pub use super::variants::Carrier;

/// `Bearer <t>` with a case-insensitive scheme and a non-empty value (HP-4).
fn bearer(value: &str, case_sensitive: bool) -> Option<&str> {
    let v = value.trim();
    let (scheme, rest) = v.split_once(char::is_whitespace)?;
    let ok = if case_sensitive {
        scheme == "Bearer"
    } else {
        scheme.eq_ignore_ascii_case("bearer")
    };
    let t = rest.trim();
    (ok && !t.is_empty()).then_some(t)
}

/// Every token carrier present, highest precedence first (HP-2, in the
/// order of the HP-2 variant). Only the first is the token (HP-3); the list
/// exists for the fallback deviation.
pub fn carriers<'a>(st: &AppState, ctx: &'a Ctx, token_param: &str) -> Vec<(Carrier, &'a str)> {
    let v = st.variants();
    let mut out = Vec::with_capacity(2);
    if let Some(t) = ctx
        .header("x-esri-authorization")
        .and_then(|v| bearer(v, false))
    {
        out.push((Carrier::XEsriAuthorization, t));
    }
    // HP-5: with web-tier authentication, Authorization belongs to the web tier.
    let web_tier = st.knobs().web_tier_auth && !st.dev(Deviation::WebTierAuthIgnored);
    if !web_tier && let Some(v) = ctx.header("authorization") {
        let t = if st.dev(Deviation::BasicAuthAsToken) {
            v.trim()
                .split_once(char::is_whitespace)
                .map(|(_, t)| t.trim())
                .filter(|t| !t.is_empty())
        } else {
            bearer(v, false)
        };
        if let Some(t) = t {
            out.push((Carrier::Authorization, t));
        }
    }
    // HP-6: which of duplicate parameters (and cookies) wins, the same in
    // every carrier.
    let last_wins = v.hp6 == Hp6::Last;
    let pick = if last_wins { last } else { first };
    if let Some(t) = pick(&ctx.query, token_param).filter(|t| !t.is_empty()) {
        out.push((Carrier::Query, t));
    }
    if let Some(t) = pick(&ctx.form, token_param).filter(|t| !t.is_empty()) {
        out.push((Carrier::Body, t));
    }
    // HP-5 variant: under web-tier authentication the cookie may be ignored.
    let cookie_off = st.knobs().web_tier_auth && v.hp5 == Hp5::CookieIgnored;
    if !cookie_off && let Some(t) = cookie(ctx, "agstoken", last_wins) {
        out.push((Carrier::Cookie, t));
    }
    out.sort_by_key(|(c, _)| v.hp2.rank(*c));
    if out.len() == 2 && st.dev(Deviation::InconsistentCarrierOrder) {
        // The deviation: two carriers alone rank the other way round.
        out.reverse();
    }
    out
}

/// The `name` cookie: the first (or with `last_wins` the last) non-empty one.
fn cookie<'a>(ctx: &'a Ctx, name: &str, last_wins: bool) -> Option<&'a str> {
    let mut all = ctx
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.trim());
    let found = if last_wins {
        all.next_back()
    } else {
        all.next()
    };
    found.filter(|v| !v.is_empty())
}

/// IP-3: does `referer` (the request's) satisfy the bound referer `bound`?
/// Absolute URLs compare scheme and host case-insensitively and the rest
/// case-sensitively, as a prefix; anything else is a plain prefix.
pub fn referer_matches(bound: &str, referer: Option<&str>) -> bool {
    let Some(r) = referer else { return false };
    match (normalize(bound), normalize(r)) {
        (Some(b), Some(r)) => r.starts_with(&b),
        (Some(_), None) => false,
        (None, _) => r.starts_with(bound),
    }
}

/// `scheme://authority` lower-cased, rest untouched; `None` if not absolute.
fn normalize(u: &str) -> Option<String> {
    let (scheme, rest) = u.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if end == 0 {
        return None;
    }
    Some(format!(
        "{}://{}{}",
        scheme.to_ascii_lowercase(),
        rest[..end].to_ascii_lowercase(),
        &rest[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_int_saturates_huge_values_and_refuses_the_rest() {
        assert_eq!(positive_int("60"), Some(60));
        assert_eq!(positive_int("+5"), Some(5));
        assert_eq!(positive_int("99999999999999999999"), Some(i64::MAX));
        for bad in ["0", "-5", "", "1.5", "6e1", "sixty", " 5", "+"] {
            assert_eq!(positive_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn referer_prefix_rules() {
        let b = "https://App.example.com/maps";
        assert!(referer_matches(b, Some("HTTPS://app.EXAMPLE.com/maps/x")));
        assert!(!referer_matches(b, Some("https://app.example.com/Maps")));
        assert!(!referer_matches(b, None));
        assert!(!referer_matches(b, Some("@esri/arcgis-rest-js")));
        assert!(referer_matches(
            "@esri/arcgis-rest-js",
            Some("@esri/arcgis-rest-js")
        ));
        assert!(!referer_matches(
            "@esri/arcgis-rest-js",
            Some("@ESRI/arcgis-rest-js")
        ));
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer("bEaReR abc", false), Some("abc"));
        assert_eq!(bearer("Bearer ", false), None);
        assert_eq!(bearer("Basic abc", false), None);
        assert_eq!(bearer("bearer abc", true), None);
    }
}
