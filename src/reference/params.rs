//! One request as the handlers see it: parameters merged from the query and a
//! form body, the client's address, the base URL it used, and the token
//! carriers of HP-1 in precedence order (HP-2..HP-6). Nothing here decides
//! whether a token is valid.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, Method, header, request::Parts};

use super::deviations::Deviation;
use super::state::AppState;
use super::variants::{Hp5, Hp6};
use crate::knobs::Knobs;

/// A request, parsed once.
#[derive(Debug)]
pub struct Ctx {
    pub method: Method,
    /// The path without a trailing slash.
    pub path: String,
    pub query: Pairs,
    /// Form body parameters (`application/x-www-form-urlencoded` only).
    pub form: Pairs,
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
    /// The knobs in force when the request arrived (read once: every
    /// reading takes a lock).
    pub knobs: Arc<Knobs>,
}

/// Decoded `name=value` pairs of a query string or form body, in order. All
/// names and values share one buffer, so a request costs two allocations
/// however many parameters it has (none without parameters).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pairs {
    text: String,
    /// Per pair: where its name starts, where its value starts (= where the
    /// name ends), where its value ends.
    spans: Vec<[u32; 3]>,
}

impl Pairs {
    /// Decodes `application/x-www-form-urlencoded` text (as
    /// `url::form_urlencoded::parse`: `+` is a space, bad escapes kept,
    /// invalid UTF-8 replaced).
    pub fn parse(s: &str) -> Pairs {
        let mut p = Pairs {
            text: String::with_capacity(s.len()),
            spans: Vec::new(),
        };
        if !s.bytes().any(|b| b == b'%' || b == b'+') {
            // Nothing to decode (the usual token query): the same split as
            // `form_urlencoded::parse` (`&` between pairs, empty ones
            // skipped, the first `=` ends the name), without its decoder.
            for pair in s.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                p.push(k, v);
            }
            return p;
        }
        for (k, v) in url::form_urlencoded::parse(s.as_bytes()) {
            p.push(&k, &v);
        }
        p
    }

    fn push(&mut self, k: &str, v: &str) {
        let start = self.text.len();
        self.text.push_str(k);
        let mid = self.text.len();
        self.text.push_str(v);
        let end = self.text.len();
        // Request parts are far below 4 GiB (the body is capped at 1 MiB).
        self.spans.push([start as u32, mid as u32, end as u32]);
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &str)> + '_ {
        self.spans.iter().map(|&[a, b, c]| {
            let (a, b, c) = (a as usize, b as usize, c as usize);
            (&self.text[a..b], &self.text[b..c])
        })
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

/// Does the `Content-Type` say a form body? (Case-insensitive, no allocation.)
fn is_form(content_type: &str) -> bool {
    const FORM: &[u8] = b"application/x-www-form-urlencoded";
    content_type
        .trim_start()
        .as_bytes()
        .get(..FORM.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(FORM))
}

impl Ctx {
    /// A request that came through [`router`](super::router): HTTPS if
    /// the request carries the [`Https`](super::tls::Https) marker.
    pub fn new(st: &AppState, parts: Parts, body: Bytes, peer: SocketAddr) -> Ctx {
        let https = parts.extensions.get::<super::tls::Https>().is_some();
        Self::with_scheme(st, parts, body, peer, https)
    }

    /// A request whose connection said whether it is HTTPS (the accept
    /// loop of `spawn`, which passes the marker without an extension).
    pub fn with_scheme(
        st: &AppState,
        parts: Parts,
        body: Bytes,
        peer: SocketAddr,
        https: bool,
    ) -> Ctx {
        let knobs = st.knobs();
        let query = parts.uri.query().map(Pairs::parse).unwrap_or_default();
        let form = match parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
        {
            Some(t) if is_form(t) => std::str::from_utf8(&body)
                .map(Pairs::parse)
                .unwrap_or_default(),
            _ => Pairs::default(),
        };
        let mut path = parts.uri.path();
        while path.len() > 1 && path.ends_with('/') {
            path = &path[..path.len() - 1];
        }
        let path = path.to_owned();
        let peer = peer.ip().to_canonical();
        let client_ip = client_ip(st, &knobs, &parts.headers, peer);
        let host = parts
            .headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or("localhost");
        // The scheme the connection used (`tessera serve --tls` marks its
        // requests); behind a trusted TLS proxy the client's scheme comes
        // from X-Forwarded-Proto.
        let direct = if https { "https" } else { "http" };
        let scheme: &str = if knobs.trusted_proxies.contains(&peer) {
            parts
                .headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .filter(|v| *v == "https" || *v == "http")
                .unwrap_or(direct)
        } else {
            direct
        };
        let mut base = String::with_capacity(scheme.len() + 3 + host.len());
        base.push_str(scheme);
        base.push_str("://");
        base.push_str(host);
        Ctx {
            method: parts.method,
            path,
            query,
            form,
            body,
            headers: parts.headers,
            peer,
            client_ip,
            base,
            now: st.now_ms(),
            knobs,
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
            .chain(self.form.iter())
            .find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_empty())
            .map(|(_, v)| v)
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

fn first<'a>(list: &'a Pairs, name: &str) -> Option<&'a str> {
    list.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
}

fn last<'a>(list: &'a Pairs, name: &str) -> Option<&'a str> {
    list.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// IP-2: believe `X-Forwarded-For` only from a trusted proxy; the client is
/// the right-most address that is not itself a trusted proxy.
fn client_ip(st: &AppState, knobs: &Knobs, headers: &HeaderMap, peer: IpAddr) -> IpAddr {
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

/// The token carriers of a request, highest precedence first: at most one
/// of each of the five, kept inline (no allocation).
#[derive(Debug, Clone, Copy)]
pub struct Carriers<'a> {
    list: [(Carrier, &'a str); 5],
    len: usize,
}

impl<'a> Carriers<'a> {
    fn push(&mut self, c: Carrier, token: &'a str) {
        if let Some(slot) = self.list.get_mut(self.len) {
            *slot = (c, token);
            self.len += 1;
        }
    }
}

impl<'a> std::ops::Deref for Carriers<'a> {
    type Target = [(Carrier, &'a str)];
    fn deref(&self) -> &Self::Target {
        &self.list[..self.len]
    }
}

impl std::ops::DerefMut for Carriers<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.list[..self.len]
    }
}

/// HP-1's header carrier (a known name: no parsing per request).
const X_ESRI_AUTHORIZATION: HeaderName = HeaderName::from_static("x-esri-authorization");

/// Every token carrier present, highest precedence first (HP-2, in the
/// order of the HP-2 variant). Only the first is the token (HP-3); the list
/// exists for the fallback deviation.
pub fn carriers<'a>(st: &AppState, ctx: &'a Ctx, token_param: &str) -> Carriers<'a> {
    let v = st.variants();
    let knobs = &ctx.knobs;
    let mut out = Carriers {
        list: [(Carrier::Query, ""); 5],
        len: 0,
    };
    if let Some(t) = (ctx.headers.get(&X_ESRI_AUTHORIZATION))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| bearer(v, false))
    {
        out.push(Carrier::XEsriAuthorization, t);
    }
    // HP-5: with web-tier authentication, Authorization belongs to the web tier.
    let web_tier = knobs.web_tier_auth && !st.dev(Deviation::WebTierAuthIgnored);
    if !web_tier
        && let Some(v) = (ctx.headers.get(header::AUTHORIZATION)).and_then(|v| v.to_str().ok())
    {
        let t = if st.dev(Deviation::BasicAuthAsToken) {
            v.trim()
                .split_once(char::is_whitespace)
                .map(|(_, t)| t.trim())
                .filter(|t| !t.is_empty())
        } else {
            bearer(v, false)
        };
        if let Some(t) = t {
            out.push(Carrier::Authorization, t);
        }
    }
    // HP-6: which of duplicate parameters (and cookies) wins, the same in
    // every carrier.
    let last_wins = v.hp6 == Hp6::Last;
    let pick = if last_wins { last } else { first };
    if let Some(t) = pick(&ctx.query, token_param).filter(|t| !t.is_empty()) {
        out.push(Carrier::Query, t);
    }
    if let Some(t) = pick(&ctx.form, token_param).filter(|t| !t.is_empty()) {
        out.push(Carrier::Body, t);
    }
    // HP-5 variant: under web-tier authentication the cookie may be ignored.
    let cookie_off = knobs.web_tier_auth && v.hp5 == Hp5::CookieIgnored;
    if !cookie_off && let Some(t) = cookie(ctx, "agstoken", last_wins) {
        out.push(Carrier::Cookie, t);
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
    fn pairs_decode_as_form_urlencoded_does() {
        for raw in [
            "",
            "f=json&token=abc",
            "a=1&a=2&&b&=v&c=x%20y+z&d=%zz&e=%FF&%C3%A9=%E2%82%AC",
            "token=&f=",
            "&&a=1&&b==2&c&=&é=ü&",
            "=",
            "&",
        ] {
            let want: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let p = Pairs::parse(raw);
            let got: Vec<(String, String)> = p.iter().map(|(k, v)| (k.into(), v.into())).collect();
            assert_eq!(got, want, "{raw:?}");
            assert_eq!(p.len(), want.len());
            let back: Vec<(&str, &str)> = p.iter().rev().collect();
            assert_eq!(back.len(), want.len());
        }
        let p = Pairs::parse("t=1&u=2&t=3");
        assert_eq!(first(&p, "t"), Some("1"));
        assert_eq!(last(&p, "t"), Some("3"));
        assert_eq!(first(&p, "v"), None);
    }

    #[test]
    fn form_content_type_is_matched_without_case() {
        assert!(is_form("application/x-www-form-urlencoded"));
        assert!(is_form(" Application/X-WWW-Form-URLEncoded; charset=utf-8"));
        assert!(!is_form("application/json"));
        assert!(!is_form("application/x-www-form"));
        assert!(!is_form(""));
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer("bEaReR abc", false), Some("abc"));
        assert_eq!(bearer("Bearer ", false), None);
        assert_eq!(bearer("Basic abc", false), None);
        assert_eq!(bearer("bearer abc", true), None);
    }
}
