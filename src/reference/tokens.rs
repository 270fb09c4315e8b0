//! Token generation and the token store.
//!
//! Tokens are drawn from an injected [`Entropy`] (OS randomness by default,
//! seeded only in tests), encoded base64 URL-safe without padding (TS-2: no
//! `+ / =`). The store keys entries by a token's first [`KEY_LEN`] characters
//! and checks the whole token with a constant-time comparison, so lookups do
//! not leak how much of a guessed token was right. This module never logs or
//! prints a token.

use std::collections::HashMap;
use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use super::config::StyleFamily;

/// Characters of a token used as its store key (the rest is compared in constant time).
pub const KEY_LEN: usize = 16;

/// Random bytes in a user token: 48 bytes give 64 characters.
pub const TOKEN_BYTES: usize = 48;

/// Random bytes in an ArcWeb token: 54 bytes give 72 characters ("72–80" in the ArcWeb guide).
pub const ARCWEB_TOKEN_BYTES: usize = 54;

/// How long expired entries are kept before purge, so that "expired" can still
/// be told apart from "unknown" (ArcWeb 1021, RN-2).
pub const PURGE_GRACE_MS: i64 = 24 * 3600 * 1000;

/// A source of random bytes for tokens.
pub trait Entropy: Send + std::fmt::Debug {
    fn fill(&mut self, buf: &mut [u8]);
}

/// Operating-system randomness (the default).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        // Without OS randomness no unguessable token can be made; there is no
        // safe fallback, so this is the one deliberate panic of the server.
        getrandom::fill(buf).expect("the operating system's random source failed");
    }
}

/// A predictable generator (splitmix64) for reproducible tests. Never use it to
/// serve anything real: its tokens are guessable from the seed.
#[derive(Debug, Clone)]
pub struct SeededEntropy(u64);

impl SeededEntropy {
    pub fn new(seed: u64) -> Self {
        SeededEntropy(seed)
    }
}

impl Entropy for SeededEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// Draws `bytes` random bytes and encodes them URL-safe.
pub fn new_token(entropy: &mut dyn Entropy, prefix: &str, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    entropy.fill(&mut buf);
    let mut s = String::with_capacity(prefix.len() + bytes * 4 / 3 + 2);
    s.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(&buf, &mut s);
    s
}

/// Where a token may be used (which token service issued it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The stand-alone server `/arcgis` (its own token service).
    Server,
    /// The Portal `/sharing/rest`.
    Portal,
    /// The federated server `/federated` (tokens exchanged at the Portal, TS-8).
    Federated,
    /// API keys: every root.
    Any,
}

/// What a token is bound to (IP-1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    None,
    Ip(IpAddr),
    Referer(String),
}

/// A user access token (generateToken, exchange, or an API key).
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub user: String,
    /// The user's password generation at issue time (LT-9).
    pub epoch: u64,
    pub issued_ms: i64,
    pub expires_ms: i64,
    pub binding: Binding,
    pub audience: Audience,
    /// API keys carry their own privileges; `None` means the user's.
    pub privileges: Option<Vec<String>>,
}

/// A basemap session (SL-2).
#[derive(Debug, Clone)]
pub struct Session {
    /// Store key of the access token that started it (SL-8 counts per parent).
    pub parent_key: String,
    pub parent_user: String,
    pub parent_expires_ms: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub family: StyleFamily,
}

/// An ArcWeb `getToken` token (LT-7, IP-5).
#[derive(Debug, Clone)]
pub struct ArcWebToken {
    pub user: String,
    pub epoch: u64,
    pub issued_ms: i64,
    pub expires_ms: i64,
    /// `None` only under the `renewal-drops-binding` deviation.
    pub bound_ip: Option<IpAddr>,
}

/// An ArcWeb user ID (LT-8): never expires, not bound.
#[derive(Debug, Clone)]
pub struct UserId {
    pub user: String,
    pub epoch: u64,
    pub issued_ms: i64,
}

/// Anything the store holds.
#[derive(Debug, Clone)]
pub enum Kind {
    Access(AccessToken),
    Session(Session),
    ArcWeb(ArcWebToken),
    UserId(UserId),
}

#[derive(Debug, Clone)]
pub struct Entry {
    secret: String,
    pub kind: Kind,
}

impl Entry {
    /// When the entry stops being useful (purge horizon); `None` never.
    fn end_ms(&self) -> Option<i64> {
        match &self.kind {
            Kind::Access(a) if a.audience == Audience::Any => None,
            Kind::Access(a) => Some(a.expires_ms),
            Kind::Session(s) => Some(s.end_ms),
            Kind::ArcWeb(t) => Some(t.expires_ms),
            Kind::UserId(_) => None,
        }
    }
}

/// Every live token, session and user ID.
#[derive(Debug, Default)]
pub struct Store {
    map: HashMap<String, Entry>,
    inserts_since_purge: usize,
}

/// Purge after this many inserts (amortised; keeps memory bounded on long runs).
const PURGE_EVERY: usize = 1024;

fn key_of(token: &str) -> Option<&str> {
    token.get(..KEY_LEN)
}

impl Store {
    /// Stores `kind` under `token` (which must be at least [`KEY_LEN`] long;
    /// generated tokens always are) and purges long-expired entries now and then.
    pub fn insert(&mut self, token: &str, kind: Kind, now_ms: i64) {
        self.inserts_since_purge += 1;
        if self.inserts_since_purge >= PURGE_EVERY {
            self.purge(now_ms);
        }
        if let Some(key) = key_of(token) {
            self.map.insert(
                key.to_owned(),
                Entry {
                    secret: token.to_owned(),
                    kind,
                },
            );
        }
    }

    /// Drops entries that ended more than [`PURGE_GRACE_MS`] ago.
    pub fn purge(&mut self, now_ms: i64) {
        self.inserts_since_purge = 0;
        self.map.retain(|_, e| match e.end_ms() {
            None => true,
            Some(end) => end.saturating_add(PURGE_GRACE_MS) > now_ms,
        });
    }

    /// The store key of `token` if the store holds exactly that token.
    pub fn find_key(&self, token: &str) -> Option<&str> {
        let key = key_of(token)?;
        let (k, e) = self.map.get_key_value(key)?;
        bool::from(e.secret.as_bytes().ct_eq(token.as_bytes())).then_some(k.as_str())
    }

    pub fn get(&self, token: &str) -> Option<&Entry> {
        let key = key_of(token)?;
        let e = self.map.get(key)?;
        bool::from(e.secret.as_bytes().ct_eq(token.as_bytes())).then_some(e)
    }

    pub fn get_mut(&mut self, token: &str) -> Option<&mut Entry> {
        let key = key_of(token)?;
        let e = self.map.get_mut(key)?;
        bool::from(e.secret.as_bytes().ct_eq(token.as_bytes())).then_some(e)
    }

    /// Every entry, for scans (session caps, user IDs, revocation deviations).
    pub fn entries(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.map.iter()
    }

    pub fn entries_mut(&mut self) -> impl Iterator<Item = &mut Entry> {
        self.map.values_mut()
    }

    /// The token text of an entry found by a scan (ArcWeb returns a user's ID again).
    pub fn secret_of(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(|e| e.secret.as_str())
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_url_safe_and_long_enough() {
        let mut e = SeededEntropy::new(7);
        let t = new_token(&mut e, "", TOKEN_BYTES);
        assert_eq!(t.len(), 64);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(t, new_token(&mut e, "", TOKEN_BYTES));
        let mut os = OsEntropy;
        assert_eq!(new_token(&mut os, "", ARCWEB_TOKEN_BYTES).len(), 72);
    }

    #[test]
    fn lookup_needs_the_whole_token_and_purge_bounds_memory() {
        let mut s = Store::default();
        let t = "A".repeat(64);
        let kind = Kind::UserId(UserId {
            user: "u".into(),
            epoch: 0,
            issued_ms: 0,
        });
        s.insert(&t, kind, 0);
        assert!(s.get(&t).is_some());
        assert!(s.get(&"A".repeat(63)).is_none());
        assert!(s.get(&format!("{}B", "A".repeat(63))).is_none());
        assert!(s.get("short").is_none());
        let mut e = SeededEntropy::new(1);
        for _ in 0..3000 {
            let t = new_token(&mut e, "", TOKEN_BYTES);
            let kind = Kind::ArcWeb(ArcWebToken {
                user: "u".into(),
                epoch: 0,
                issued_ms: 0,
                expires_ms: 1,
                bound_ip: None,
            });
            s.insert(&t, kind, PURGE_GRACE_MS + 10);
        }
        assert!(s.len() < 1100, "{}", s.len());
        assert!(s.get(&t).is_some(), "user IDs are never purged");
    }
}
