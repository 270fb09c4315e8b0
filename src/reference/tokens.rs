//! Token generation and the token store.
//!
//! Tokens are drawn from an injected [`Entropy`] (OS randomness by default,
//! seeded only in tests), encoded base64 URL-safe without padding (TS-2: no
//! `+ / =`). The store keeps generated tokens packed, because vendors load
//! test against the reference with millions of live tokens: each shape
//! (access token, basemap session, ArcWeb token, ArcWeb user ID) has a flat
//! table keyed by the first bytes of the token's *decoded* random part, with
//! the remaining bytes compared in constant time, so lookups need the whole
//! token and do not leak how much of a guessed token was right. User names
//! and referers are interned; no entry owns heap memory. Tokens of any other
//! shape (configured API keys, deviant encodings) are kept as text.
//!
//! Ended entries are kept [`PURGE_GRACE_MS`] (so "expired" can be told from
//! "unknown") and then dropped by a purge that the server state runs once per
//! [`PURGE_INTERVAL_MS`] of its injected clock; a purge shrinks the tables so
//! the memory goes back. This module never logs or prints a token.

use std::collections::HashMap;
use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use indexmap::IndexMap;
use subtle::ConstantTimeEq;

use super::config::StyleFamily;

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
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// What a token is bound to, borrowed from the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingRef<'a> {
    None,
    Ip(IpAddr),
    Referer(&'a str),
}

impl Binding {
    pub fn as_ref(&self) -> BindingRef<'_> {
        match self {
            Binding::None => BindingRef::None,
            Binding::Ip(ip) => BindingRef::Ip(*ip),
            Binding::Referer(r) => BindingRef::Referer(r),
        }
    }
}

/// An access token's entry, borrowed from the store: what checking a
/// presented token reads, without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessRef<'a> {
    pub user: &'a str,
    pub epoch: u64,
    pub issued_ms: i64,
    pub expires_ms: i64,
    pub binding: BindingRef<'a>,
    pub audience: Audience,
    pub privileges: Option<&'a [String]>,
}

impl AccessToken {
    pub fn as_ref(&self) -> AccessRef<'_> {
        AccessRef {
            user: &self.user,
            epoch: self.epoch,
            issued_ms: self.issued_ms,
            expires_ms: self.expires_ms,
            binding: self.binding.as_ref(),
            audience: self.audience,
            privileges: self.privileges.as_deref(),
        }
    }
}

/// An entry found by [`Store::lookup_ref`]: a packed access token borrowed,
/// anything else as its [`Kind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found<'a> {
    Access(AccessRef<'a>),
    Other(Kind),
}

/// A basemap session (SL-2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Store key of the access token that started it (SL-8 counts per parent).
    pub parent_key: TokenKey,
    pub parent_user: String,
    pub parent_expires_ms: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub family: StyleFamily,
}

/// An ArcWeb `getToken` token (LT-7, IP-5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcWebToken {
    pub user: String,
    pub epoch: u64,
    pub issued_ms: i64,
    pub expires_ms: i64,
    /// `None` only under the `renewal-drops-binding` deviation.
    pub bound_ip: Option<IpAddr>,
}

/// An ArcWeb user ID (LT-8): never expires, not bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserId {
    pub user: String,
    pub epoch: u64,
    pub issued_ms: i64,
}

/// Anything the store holds, as handlers see it. The store keeps a packed
/// form and hands out these views by value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Access(AccessToken),
    Session(Session),
    ArcWeb(ArcWebToken),
    UserId(UserId),
}

impl Kind {
    /// When the entry stops being useful (purge horizon); `None` never.
    fn end_ms(&self) -> Option<i64> {
        match self {
            Kind::Access(a) => Some(a.expires_ms),
            Kind::Session(s) => Some(s.end_ms),
            Kind::ArcWeb(t) => Some(t.expires_ms),
            Kind::UserId(_) => None,
        }
    }
}

/// Bytes of a token's random part that key the store's tables; the rest is
/// compared in constant time.
const HEAD: usize = 16;

/// The prefix of basemap session tokens.
pub const SESSION_PREFIX: &str = "AAST";

/// How often (in clock time) the store drops long-ended entries.
pub const PURGE_INTERVAL_MS: i64 = 60_000;

/// Entries a purge must free before the allocator is asked to hand the
/// memory back to the operating system (about 10 MB).
const RELEASE_AFTER_ENTRIES: usize = 100_000;

/// What the store asks of glibc's allocator so that freed tables leave the
/// process. By default glibc raises its mmap threshold each time a big block
/// is freed, so the next tables of a growing store (up to 32 MB) land inside
/// its per-thread heaps, and a heap's free top is not given back when it is
/// freed: a purged million tokens left 10 MB a worker thread. A fixed
/// threshold keeps every big table in a mapping of its own, unmapped when
/// freed; a trim after a big purge releases free pages inside the heaps.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod allocator {
    use std::ffi::c_int;

    unsafe extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
        fn malloc_trim(pad: usize) -> c_int;
    }

    /// glibc's `M_TRIM_THRESHOLD` and `M_MMAP_THRESHOLD` (malloc.h).
    const M_TRIM_THRESHOLD: c_int = -1;
    const M_MMAP_THRESHOLD: c_int = -3;
    /// glibc's default threshold; setting it explicitly stops its growth.
    const THRESHOLD: c_int = 128 * 1024;
    /// Free memory a heap keeps at its top before `free` gives it back.
    /// Fixing the mmap threshold also fixes this one at its 128 KiB default,
    /// and then the request path's allocations kept shrinking a worker's
    /// heap and faulting the pages back in (2.6 % of the server's time
    /// under load in a `perf` profile). Big purges trim explicitly
    /// ([`release_freed_memory`]), so memory still leaves the process.
    const TRIM_THRESHOLD: c_int = 16 * 1024 * 1024;

    /// Fixes the mmap and trim thresholds (once per process).
    pub fn keep_tables_returnable() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt takes two integers and no pointers; glibc
            // documents it as safe to call at any time (it locks the arena).
            unsafe {
                mallopt(M_MMAP_THRESHOLD, THRESHOLD);
                mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
            }
        });
    }

    /// Gives free heap pages back to the operating system.
    pub fn release_freed_memory() {
        // SAFETY: malloc_trim takes no pointers and only releases free pages
        // of glibc's own heaps; it locks each arena while it works.
        unsafe {
            malloc_trim(0);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod allocator {
    pub fn keep_tables_returnable() {}
    pub fn release_freed_memory() {}
}

/// Which table holds a token; it follows from the token's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Space {
    Access,
    Session,
    ArcWeb,
    UserId,
    /// A token of no generated shape (API keys, deviant encodings), keyed
    /// by its first characters; the value is how many.
    Odd(u8),
}

/// A token's identity in the store (18 bytes, `Copy`): the table and the
/// first [`HEAD`] bytes of its random part, or of its text for tokens of no
/// generated shape. Never the whole token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenKey {
    space: Space,
    head: [u8; HEAD],
}

fn odd_key(token: &str) -> TokenKey {
    let n = token.len().min(HEAD);
    let mut head = [0u8; HEAD];
    head[..n].copy_from_slice(&token.as_bytes()[..n]);
    TokenKey {
        space: Space::Odd(n as u8),
        head,
    }
}

/// A token's shape: the decoded random bytes of a generated token.
enum Shape {
    Access([u8; TOKEN_BYTES]),
    Session([u8; TOKEN_BYTES]),
    ArcWeb([u8; ARCWEB_TOKEN_BYTES]),
    Odd,
}

/// Decodes exactly `N` bytes from `text`. Lengths that are multiples of four
/// characters have no spare bits, so the encoding is one-to-one.
fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut buf = [0u8; 64];
    if text.len() > 80 {
        return None;
    }
    let n = URL_SAFE_NO_PAD.decode_slice(text, &mut buf).ok()?;
    (n == N).then(|| {
        let mut out = [0u8; N];
        out.copy_from_slice(&buf[..N]);
        out
    })
}

fn shape(token: &str) -> Shape {
    let decoded = match token.len() {
        64 => decode(token).map(Shape::Access),
        68 => token
            .strip_prefix(SESSION_PREFIX)
            .and_then(decode)
            .map(Shape::Session),
        72 => decode(token).map(Shape::ArcWeb),
        _ => None,
    };
    decoded.unwrap_or(Shape::Odd)
}

/// Interned strings (user names, referers) with reference counts, so that a
/// million tokens of one user hold one copy and released names go away.
#[derive(Debug, Default)]
struct Pool {
    index: HashMap<Box<str>, u32>,
    slots: Vec<(Box<str>, u32)>,
    free: Vec<u32>,
}

impl Pool {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            self.slots[i as usize].1 += 1;
            return i;
        }
        let text: Box<str> = s.into();
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = (text.clone(), 1);
                i
            }
            None => {
                self.slots.push((text.clone(), 1));
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(text, i);
        i
    }

    fn find(&self, s: &str) -> Option<u32> {
        self.index.get(s).copied()
    }

    fn get(&self, i: u32) -> &str {
        self.slots.get(i as usize).map_or("", |s| &s.0)
    }

    fn release(&mut self, i: u32) {
        let Some(slot) = self.slots.get_mut(i as usize) else {
            return;
        };
        slot.1 = slot.1.saturating_sub(1);
        if slot.1 == 0 {
            self.index.remove(&slot.0);
            slot.0 = Box::default();
            self.free.push(i);
        }
    }

    /// Gives memory back once most names are gone.
    fn compact(&mut self) {
        if self.index.is_empty() {
            *self = Pool::default();
        } else if self.index.len() < self.index.capacity() / 4 {
            self.index.shrink_to_fit();
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum PackedBinding {
    None,
    Ip(IpAddr),
    Referer(u32),
}

#[derive(Debug, Clone, Copy)]
struct AccessData {
    issued_ms: i64,
    expires_ms: i64,
    epoch: u64,
    user: u32,
    binding: PackedBinding,
    audience: Audience,
}

#[derive(Debug, Clone, Copy)]
struct SessionData {
    parent_expires_ms: i64,
    start_ms: i64,
    end_ms: i64,
    parent_key: TokenKey,
    parent_user: u32,
    family: StyleFamily,
}

#[derive(Debug, Clone, Copy)]
struct ArcWebData {
    issued_ms: i64,
    expires_ms: i64,
    epoch: u64,
    user: u32,
    bound_ip: Option<IpAddr>,
}

#[derive(Debug, Clone, Copy)]
struct UserIdData {
    issued_ms: i64,
    epoch: u64,
    user: u32,
}

/// One packed entry: the token's random bytes after the key, and its data.
#[derive(Debug, Clone, Copy)]
struct Slot<const R: usize, T> {
    rest: [u8; R],
    data: T,
}

/// Entries of one shape in one flat allocation (no heap memory per entry).
#[derive(Debug)]
struct Table<const R: usize, T> {
    map: IndexMap<[u8; HEAD], Slot<R, T>>,
}

impl<const R: usize, T> Default for Table<R, T> {
    fn default() -> Self {
        Table {
            map: IndexMap::new(),
        }
    }
}

impl<const R: usize, T> Table<R, T> {
    /// The index of the entry whose random bytes are exactly `bytes`.
    fn find(&self, bytes: &[u8]) -> Option<usize> {
        let (head, rest) = bytes.split_at_checked(HEAD)?;
        let head: [u8; HEAD] = head.try_into().ok()?;
        let (i, _, slot) = self.map.get_full(&head)?;
        bool::from(slot.rest.as_slice().ct_eq(rest)).then_some(i)
    }

    fn put(&mut self, bytes: &[u8], data: T) {
        let (Some(head), Some(rest)) = (bytes.get(..HEAD), bytes.get(HEAD..)) else {
            return;
        };
        let (Ok(head), Ok(rest)) = (head.try_into(), rest.try_into()) else {
            return;
        };
        self.map.insert(head, Slot { rest, data });
    }

    fn bytes_of(&self, head: &[u8; HEAD]) -> Option<Vec<u8>> {
        let slot = self.map.get(head)?;
        Some([head.as_slice(), slot.rest.as_slice()].concat())
    }

    /// Gives memory back once most entries are gone; whether it shrank.
    fn compact(&mut self) -> bool {
        let shrink = self.map.len() < self.map.capacity() / 4;
        if shrink {
            self.map.shrink_to_fit();
        }
        shrink
    }
}

/// Where a found token lives.
#[derive(Debug, Clone, Copy)]
enum Loc {
    Access(usize),
    Session(usize),
    ArcWeb(usize),
    UserId(usize),
    Odd(TokenKey),
}

/// A token of no generated shape, kept whole.
#[derive(Debug)]
struct OddEntry {
    secret: Box<str>,
    kind: Kind,
}

/// Every live token, session and user ID. Generated tokens are kept packed:
/// key and data in flat tables, user names and referers interned; only
/// tokens of other shapes (API keys, deviant encodings) are kept as text.
#[derive(Debug)]
pub struct Store {
    access: Table<{ TOKEN_BYTES - HEAD }, AccessData>,
    sessions: Table<{ TOKEN_BYTES - HEAD }, SessionData>,
    arcweb: Table<{ ARCWEB_TOKEN_BYTES - HEAD }, ArcWebData>,
    user_ids: Table<{ ARCWEB_TOKEN_BYTES - HEAD }, UserIdData>,
    odd: HashMap<TokenKey, OddEntry>,
    users: Pool,
    referers: Pool,
    /// The clock instant from which the next purge is due.
    next_purge_ms: i64,
}

impl Default for Store {
    fn default() -> Self {
        allocator::keep_tables_returnable();
        Store {
            access: Table::default(),
            sessions: Table::default(),
            arcweb: Table::default(),
            user_ids: Table::default(),
            odd: HashMap::new(),
            users: Pool::default(),
            referers: Pool::default(),
            next_purge_ms: i64::MIN,
        }
    }
}

impl Store {
    /// Stores `kind` under `token`, replacing an entry of the same token, and
    /// purges first if a purge is due.
    pub fn insert(&mut self, token: &str, kind: Kind, now_ms: i64) {
        self.purge_if_due(now_ms);
        self.remove(token);
        self.put(token, kind);
    }

    fn put(&mut self, token: &str, kind: Kind) {
        match (shape(token), kind) {
            (Shape::Access(b), Kind::Access(a))
                if a.privileges.is_none() && a.audience != Audience::Any =>
            {
                let data = AccessData {
                    issued_ms: a.issued_ms,
                    expires_ms: a.expires_ms,
                    epoch: a.epoch,
                    user: self.users.intern(&a.user),
                    binding: match &a.binding {
                        Binding::None => PackedBinding::None,
                        Binding::Ip(ip) => PackedBinding::Ip(*ip),
                        Binding::Referer(r) => PackedBinding::Referer(self.referers.intern(r)),
                    },
                    audience: a.audience,
                };
                self.access.put(&b, data);
            }
            (Shape::Session(b), Kind::Session(s)) => {
                let data = SessionData {
                    parent_expires_ms: s.parent_expires_ms,
                    start_ms: s.start_ms,
                    end_ms: s.end_ms,
                    parent_key: s.parent_key,
                    parent_user: self.users.intern(&s.parent_user),
                    family: s.family,
                };
                self.sessions.put(&b, data);
            }
            (Shape::ArcWeb(b), Kind::ArcWeb(t)) => {
                let data = ArcWebData {
                    issued_ms: t.issued_ms,
                    expires_ms: t.expires_ms,
                    epoch: t.epoch,
                    user: self.users.intern(&t.user),
                    bound_ip: t.bound_ip,
                };
                self.arcweb.put(&b, data);
            }
            (Shape::ArcWeb(b), Kind::UserId(u)) => {
                let data = UserIdData {
                    issued_ms: u.issued_ms,
                    epoch: u.epoch,
                    user: self.users.intern(&u.user),
                };
                self.user_ids.put(&b, data);
            }
            (_, kind) => {
                let entry = OddEntry {
                    secret: token.into(),
                    kind,
                };
                self.odd.insert(odd_key(token), entry);
            }
        }
    }

    fn locate(&self, token: &str) -> Option<Loc> {
        let found = match shape(token) {
            Shape::Access(b) => self.access.find(&b).map(Loc::Access),
            Shape::Session(b) => self.sessions.find(&b).map(Loc::Session),
            Shape::ArcWeb(b) => (self.arcweb.find(&b).map(Loc::ArcWeb))
                .or_else(|| self.user_ids.find(&b).map(Loc::UserId)),
            Shape::Odd => None,
        };
        if found.is_some() || self.odd.is_empty() {
            return found;
        }
        let key = odd_key(token);
        let e = self.odd.get(&key)?;
        bool::from(e.secret.as_bytes().ct_eq(token.as_bytes())).then_some(Loc::Odd(key))
    }

    fn key_at(&self, loc: Loc) -> Option<TokenKey> {
        let (space, head) = match loc {
            Loc::Access(i) => (Space::Access, self.access.map.get_index(i)?.0),
            Loc::Session(i) => (Space::Session, self.sessions.map.get_index(i)?.0),
            Loc::ArcWeb(i) => (Space::ArcWeb, self.arcweb.map.get_index(i)?.0),
            Loc::UserId(i) => (Space::UserId, self.user_ids.map.get_index(i)?.0),
            Loc::Odd(k) => return Some(k),
        };
        Some(TokenKey { space, head: *head })
    }

    fn kind_at(&self, loc: Loc) -> Option<Kind> {
        Some(match loc {
            Loc::Access(i) => self.access_kind(&self.access.map.get_index(i)?.1.data),
            Loc::Session(i) => self.session_kind(&self.sessions.map.get_index(i)?.1.data),
            Loc::ArcWeb(i) => self.arcweb_kind(&self.arcweb.map.get_index(i)?.1.data),
            Loc::UserId(i) => self.user_id_kind(&self.user_ids.map.get_index(i)?.1.data),
            Loc::Odd(k) => self.odd.get(&k)?.kind.clone(),
        })
    }

    fn access_kind(&self, d: &AccessData) -> Kind {
        Kind::Access(AccessToken {
            user: self.users.get(d.user).to_owned(),
            epoch: d.epoch,
            issued_ms: d.issued_ms,
            expires_ms: d.expires_ms,
            binding: match d.binding {
                PackedBinding::None => Binding::None,
                PackedBinding::Ip(ip) => Binding::Ip(ip),
                PackedBinding::Referer(r) => Binding::Referer(self.referers.get(r).to_owned()),
            },
            audience: d.audience,
            privileges: None,
        })
    }

    fn session_kind(&self, d: &SessionData) -> Kind {
        Kind::Session(Session {
            parent_key: d.parent_key,
            parent_user: self.users.get(d.parent_user).to_owned(),
            parent_expires_ms: d.parent_expires_ms,
            start_ms: d.start_ms,
            end_ms: d.end_ms,
            family: d.family,
        })
    }

    fn arcweb_kind(&self, d: &ArcWebData) -> Kind {
        Kind::ArcWeb(ArcWebToken {
            user: self.users.get(d.user).to_owned(),
            epoch: d.epoch,
            issued_ms: d.issued_ms,
            expires_ms: d.expires_ms,
            bound_ip: d.bound_ip,
        })
    }

    fn user_id_kind(&self, d: &UserIdData) -> Kind {
        Kind::UserId(UserId {
            user: self.users.get(d.user).to_owned(),
            epoch: d.epoch,
            issued_ms: d.issued_ms,
        })
    }

    /// Removes `token`'s entry (the whole token must match) and returns it.
    pub fn remove(&mut self, token: &str) -> Option<Kind> {
        let loc = self.locate(token)?;
        let kind = self.kind_at(loc);
        match loc {
            Loc::Access(i) => {
                if let Some((_, s)) = self.access.map.swap_remove_index(i) {
                    self.users.release(s.data.user);
                    if let PackedBinding::Referer(r) = s.data.binding {
                        self.referers.release(r);
                    }
                }
            }
            Loc::Session(i) => {
                if let Some((_, s)) = self.sessions.map.swap_remove_index(i) {
                    self.users.release(s.data.parent_user);
                }
            }
            Loc::ArcWeb(i) => {
                if let Some((_, s)) = self.arcweb.map.swap_remove_index(i) {
                    self.users.release(s.data.user);
                }
            }
            Loc::UserId(i) => {
                if let Some((_, s)) = self.user_ids.map.swap_remove_index(i) {
                    self.users.release(s.data.user);
                }
            }
            Loc::Odd(k) => {
                self.odd.remove(&k);
            }
        }
        kind
    }

    /// Is a purge due at `now_ms` (one per [`PURGE_INTERVAL_MS`] of clock time)?
    pub fn purge_due(&self, now_ms: i64) -> bool {
        now_ms >= self.next_purge_ms
    }

    /// Purges if one is due; whether it did.
    pub fn purge_if_due(&mut self, now_ms: i64) -> bool {
        let due = self.purge_due(now_ms);
        if due {
            self.purge(now_ms);
        }
        due
    }

    /// Drops entries that ended at least [`PURGE_GRACE_MS`] before `now_ms`
    /// and gives their memory back; schedules the next purge.
    pub fn purge(&mut self, now_ms: i64) {
        self.next_purge_ms = now_ms.saturating_add(PURGE_INTERVAL_MS);
        let gone = |end: i64| end.saturating_add(PURGE_GRACE_MS) <= now_ms;
        let (users, referers) = (&mut self.users, &mut self.referers);
        self.access.map.retain(|_, s| {
            let keep = !gone(s.data.expires_ms);
            if !keep {
                users.release(s.data.user);
                if let PackedBinding::Referer(r) = s.data.binding {
                    referers.release(r);
                }
            }
            keep
        });
        self.sessions.map.retain(|_, s| {
            let keep = !gone(s.data.end_ms);
            if !keep {
                users.release(s.data.parent_user);
            }
            keep
        });
        self.arcweb.map.retain(|_, s| {
            let keep = !gone(s.data.expires_ms);
            if !keep {
                users.release(s.data.user);
            }
            keep
        });
        self.odd
            .retain(|_, e| e.kind.end_ms().is_none_or(|end| !gone(end)));
        self.compact();
    }

    /// Drops the user IDs for which `keep(user, epoch)` is false (LT-9: a
    /// password change retires the ID issued before it).
    pub fn retain_user_ids(&mut self, mut keep: impl FnMut(&str, u64) -> bool) {
        let users = &mut self.users;
        self.user_ids.map.retain(|_, s| {
            let k = keep(users.get(s.data.user), s.data.epoch);
            if !k {
                users.release(s.data.user);
            }
            k
        });
        self.odd.retain(|_, e| match &e.kind {
            Kind::UserId(u) => keep(&u.user, u.epoch),
            _ => true,
        });
        self.compact();
    }

    fn compact(&mut self) {
        let before = self.capacity();
        let shrunk = [
            self.access.compact(),
            self.sessions.compact(),
            self.arcweb.compact(),
            self.user_ids.compact(),
        ];
        if self.odd.len() < self.odd.capacity() / 4 {
            self.odd.shrink_to_fit();
        }
        self.users.compact();
        self.referers.compact();
        if shrunk.contains(&true) && before - self.capacity() >= RELEASE_AFTER_ENTRIES {
            allocator::release_freed_memory();
        }
    }

    /// The store key and entry of `token` if the store holds exactly that token.
    pub fn lookup(&self, token: &str) -> Option<(TokenKey, Kind)> {
        let loc = self.locate(token)?;
        Some((self.key_at(loc)?, self.kind_at(loc)?))
    }

    /// Like [`lookup`](Self::lookup), borrowing a packed access token's
    /// entry instead of unpacking it into owned strings (the token-checked
    /// request's path).
    pub fn lookup_ref(&self, token: &str) -> Option<(TokenKey, Found<'_>)> {
        let loc = self.locate(token)?;
        let key = self.key_at(loc)?;
        let found = match loc {
            Loc::Access(i) => {
                let d = &self.access.map.get_index(i)?.1.data;
                Found::Access(AccessRef {
                    user: self.users.get(d.user),
                    epoch: d.epoch,
                    issued_ms: d.issued_ms,
                    expires_ms: d.expires_ms,
                    binding: match d.binding {
                        PackedBinding::None => BindingRef::None,
                        PackedBinding::Ip(ip) => BindingRef::Ip(ip),
                        PackedBinding::Referer(r) => BindingRef::Referer(self.referers.get(r)),
                    },
                    audience: d.audience,
                    privileges: None,
                })
            }
            _ => Found::Other(self.kind_at(loc)?),
        };
        Some((key, found))
    }

    /// The store key of `token` if the store holds exactly that token.
    pub fn find_key(&self, token: &str) -> Option<TokenKey> {
        self.key_at(self.locate(token)?)
    }

    /// The entry of `token` if the store holds exactly that token.
    pub fn get(&self, token: &str) -> Option<Kind> {
        self.kind_at(self.locate(token)?)
    }

    /// Changes `token`'s entry with `f`; whether the store held the token.
    pub fn update(&mut self, token: &str, f: impl FnOnce(&mut Kind)) -> bool {
        let Some(mut kind) = self.remove(token) else {
            return false;
        };
        f(&mut kind);
        self.put(token, kind);
        true
    }

    /// Changes every entry with `f` (a scan: for rare operations only).
    pub fn update_all(&mut self, mut f: impl FnMut(&mut Kind)) {
        let mut changed = Vec::new();
        for (key, kind) in self.entries() {
            let mut new = kind.clone();
            f(&mut new);
            if new != kind
                && let Some(secret) = self.secret_of(&key)
            {
                changed.push((secret, new));
            }
        }
        for (secret, kind) in changed {
            self.remove(&secret);
            self.put(&secret, kind);
        }
    }

    /// Every entry with its key (a scan that unpacks every entry: for rare
    /// operations only).
    pub fn entries(&self) -> impl Iterator<Item = (TokenKey, Kind)> + '_ {
        let key = |space, head: &[u8; HEAD]| TokenKey { space, head: *head };
        let access = (self.access.map.iter())
            .map(move |(h, s)| (key(Space::Access, h), self.access_kind(&s.data)));
        let sessions = (self.sessions.map.iter())
            .map(move |(h, s)| (key(Space::Session, h), self.session_kind(&s.data)));
        let arcweb = (self.arcweb.map.iter())
            .map(move |(h, s)| (key(Space::ArcWeb, h), self.arcweb_kind(&s.data)));
        let user_ids = (self.user_ids.map.iter())
            .map(move |(h, s)| (key(Space::UserId, h), self.user_id_kind(&s.data)));
        let odd = self.odd.iter().map(|(k, e)| (*k, e.kind.clone()));
        access
            .chain(sessions)
            .chain(arcweb)
            .chain(user_ids)
            .chain(odd)
    }

    /// The token text of an entry found by key (ArcWeb returns a user's ID again).
    pub fn secret_of(&self, key: &TokenKey) -> Option<String> {
        let bytes = match key.space {
            Space::Access => self.access.bytes_of(&key.head),
            Space::Session => self.sessions.bytes_of(&key.head),
            Space::ArcWeb => self.arcweb.bytes_of(&key.head),
            Space::UserId => self.user_ids.bytes_of(&key.head),
            Space::Odd(_) => return self.odd.get(key).map(|e| e.secret.to_string()),
        }?;
        let mut text = String::with_capacity(80);
        if key.space == Space::Session {
            text.push_str(SESSION_PREFIX);
        }
        URL_SAFE_NO_PAD.encode_string(&bytes, &mut text);
        Some(text)
    }

    /// The text of `user`'s ArcWeb user ID of password generation `epoch` (LT-8).
    pub fn user_id_of(&self, user: &str, epoch: u64) -> Option<String> {
        let u = self.users.find(user);
        let packed = self.user_ids.map.iter().find_map(|(h, s)| {
            (Some(s.data.user) == u && s.data.epoch == epoch).then_some(TokenKey {
                space: Space::UserId,
                head: *h,
            })
        });
        let key = packed.or_else(|| {
            self.odd.iter().find_map(|(k, e)| match &e.kind {
                Kind::UserId(x) if x.user == user && x.epoch == epoch => Some(*k),
                _ => None,
            })
        })?;
        self.secret_of(&key)
    }

    /// Sessions started from `parent` that are live at `now_ms` (SL-8).
    pub fn live_sessions(&self, parent: &TokenKey, now_ms: i64) -> usize {
        let packed = (self.sessions.map.values())
            .filter(|s| s.data.parent_key == *parent && now_ms < s.data.end_ms)
            .count();
        let odd = (self.odd.values())
            .filter(|e| matches!(&e.kind, Kind::Session(s) if s.parent_key == *parent && now_ms < s.end_ms))
            .count();
        packed + odd
    }

    pub fn len(&self) -> usize {
        self.access.map.len()
            + self.sessions.map.len()
            + self.arcweb.map.len()
            + self.user_ids.map.len()
            + self.odd.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries the store has room for without growing (tests of memory return).
    pub fn capacity(&self) -> usize {
        self.access.map.capacity()
            + self.sessions.map.capacity()
            + self.arcweb.map.capacity()
            + self.user_ids.map.capacity()
            + self.odd.capacity()
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

    fn access(user: &str, expires_ms: i64, binding: Binding) -> Kind {
        Kind::Access(AccessToken {
            user: user.into(),
            epoch: 0,
            issued_ms: 0,
            expires_ms,
            binding,
            audience: Audience::Server,
            privileges: None,
        })
    }

    /// The borrowed lookup of the request path sees exactly what the
    /// owned one unpacks, for packed, referer-bound and odd (API key)
    /// access tokens, and leaves other kinds as they are.
    #[test]
    fn lookup_ref_borrows_what_lookup_unpacks() {
        let mut e = SeededEntropy::new(11);
        let mut s = Store::default();
        let plain = new_token(&mut e, "", TOKEN_BYTES);
        let referer = new_token(&mut e, "", TOKEN_BYTES);
        let aged = new_token(&mut e, "", ARCWEB_TOKEN_BYTES);
        let ip = "10.1.2.3".parse().unwrap();
        s.insert(&plain, access("u", 10, Binding::Ip(ip)), 0);
        s.insert(
            &referer,
            access("v", 20, Binding::Referer("https://a.test".into())),
            0,
        );
        s.insert(&aged, arcweb(30), 0);
        let key = Kind::Access(AccessToken {
            user: "w".into(),
            epoch: 3,
            issued_ms: 1,
            expires_ms: i64::MAX,
            binding: Binding::None,
            audience: Audience::Any,
            privileges: Some(vec!["p".into()]),
        });
        s.insert("api-key-w", key, 0);
        for t in [plain.as_str(), referer.as_str(), "api-key-w"] {
            let (key, kind) = s.lookup(t).unwrap();
            let Kind::Access(owned) = &kind else {
                panic!("{kind:?}")
            };
            match s.lookup_ref(t).unwrap() {
                (k, Found::Access(r)) => {
                    assert_eq!((k, r), (key, owned.as_ref()));
                }
                (k, Found::Other(other)) => assert_eq!((k, other), (key, kind)),
            }
        }
        assert!(matches!(
            s.lookup_ref(&plain),
            Some((
                _,
                Found::Access(AccessRef {
                    user: "u",
                    binding: BindingRef::Ip(_),
                    ..
                })
            ))
        ));
        let (k, found) = s.lookup_ref(&aged).unwrap();
        assert_eq!((k, found), {
            let (k, kind) = s.lookup(&aged).unwrap();
            (k, Found::Other(kind))
        });
        assert!(s.lookup_ref(&flip(&plain, 2)).is_none());
    }

    fn arcweb(expires_ms: i64) -> Kind {
        Kind::ArcWeb(ArcWebToken {
            user: "u".into(),
            epoch: 0,
            issued_ms: 0,
            expires_ms,
            bound_ip: None,
        })
    }

    /// Flips one character of `t` at `i` to another base64 character.
    fn flip(t: &str, i: usize) -> String {
        let mut b = t.as_bytes().to_vec();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn lookup_needs_the_whole_token_in_every_table() {
        let mut e = SeededEntropy::new(3);
        let mut s = Store::default();
        let t = new_token(&mut e, "", TOKEN_BYTES);
        let a = new_token(&mut e, "", ARCWEB_TOKEN_BYTES);
        let id = new_token(&mut e, "", ARCWEB_TOKEN_BYTES);
        let sess = new_token(&mut e, SESSION_PREFIX, TOKEN_BYTES);
        let key = "an-api-key-from-the-config".to_owned();
        s.insert(
            &t,
            access("u", 10, Binding::Referer("https://a.example".into())),
            0,
        );
        s.insert(&a, arcweb(10), 0);
        let uid = Kind::UserId(UserId {
            user: "u".into(),
            epoch: 2,
            issued_ms: 0,
        });
        s.insert(&id, uid.clone(), 0);
        let parent = s.find_key(&t).unwrap();
        let session = Kind::Session(Session {
            parent_key: parent,
            parent_user: "u".into(),
            parent_expires_ms: 10,
            start_ms: 0,
            end_ms: 10,
            family: StyleFamily::Arcgis,
        });
        s.insert(&sess, session.clone(), 0);
        let mut api = access("k", i64::MAX, Binding::None);
        if let Kind::Access(x) = &mut api {
            x.audience = Audience::Any;
            x.privileges = Some(vec!["p".into()]);
        }
        s.insert(&key, api.clone(), 0);
        assert_eq!(s.len(), 5);
        for (tok, want) in [
            (
                &t,
                access("u", 10, Binding::Referer("https://a.example".into())),
            ),
            (&a, arcweb(10)),
            (&id, uid),
            (&sess, session),
            (&key, api),
        ] {
            assert_eq!(s.get(tok).as_ref(), Some(&want));
            let k = s.find_key(tok).unwrap();
            assert_eq!(s.secret_of(&k).as_deref(), Some(tok.as_str()));
            // Every character counts: the first, one inside the key, the last.
            for i in [0, 5, tok.len() - 1] {
                assert!(s.get(&flip(tok, i)).is_none(), "{i}");
            }
            assert!(s.get(&tok[..tok.len() - 1]).is_none());
            assert!(s.get(&format!("{tok}A")).is_none());
        }
        assert_eq!(s.live_sessions(&parent, 5), 1);
        assert_eq!(s.live_sessions(&parent, 10), 0);
        assert_eq!(s.user_id_of("u", 2).as_deref(), Some(id.as_str()));
        assert_eq!(s.user_id_of("u", 1), None);
        assert!(s.get("short").is_none());
        assert!(s.get("").is_none());
    }

    #[test]
    fn update_changes_one_entry_and_insert_replaces() {
        let mut e = SeededEntropy::new(4);
        let mut s = Store::default();
        let t = new_token(&mut e, "", TOKEN_BYTES);
        let other = new_token(&mut e, "", TOKEN_BYTES);
        s.insert(&t, access("u", 10, Binding::None), 0);
        s.insert(&other, access("v", 10, Binding::None), 0);
        assert!(s.update(&t, |k| {
            if let Kind::Access(a) = k {
                a.expires_ms = 99;
            }
        }));
        assert_eq!(s.get(&t), Some(access("u", 99, Binding::None)));
        assert_eq!(s.get(&other), Some(access("v", 10, Binding::None)));
        assert!(!s.update(&flip(&t, 3), |_| {}));
        s.update_all(|k| {
            if let Kind::Access(a) = k
                && a.user == "v"
            {
                a.expires_ms = 5;
            }
        });
        assert_eq!(s.get(&other), Some(access("v", 5, Binding::None)));
        assert_eq!(s.get(&t), Some(access("u", 99, Binding::None)));
        s.insert(&t, arcweb(7), 0);
        assert_eq!(s.len(), 2);
        // A 64-character token is never an ArcWeb token: kept whole, still found.
        assert_eq!(s.get(&t), Some(arcweb(7)));
    }

    #[test]
    fn purge_runs_on_the_clock_keeps_the_grace_and_gives_memory_back() {
        let mut e = SeededEntropy::new(1);
        let mut s = Store::default();
        let id = new_token(&mut e, "", ARCWEB_TOKEN_BYTES);
        let uid = Kind::UserId(UserId {
            user: "u".into(),
            epoch: 0,
            issued_ms: 0,
        });
        s.insert(&id, uid, 0);
        let mut expired = Vec::new();
        for i in 0..3000 {
            let t = new_token(&mut e, "", TOKEN_BYTES);
            let referer = Binding::Referer(format!("https://{i}.example"));
            s.insert(&t, access("u", 1000, referer), 0);
            let a = new_token(&mut e, "", ARCWEB_TOKEN_BYTES);
            s.insert(&a, arcweb(1000), 0);
            expired.push(t);
        }
        let live = new_token(&mut e, "", TOKEN_BYTES);
        s.insert(&live, access("w", 2 * PURGE_GRACE_MS, Binding::None), 0);
        let grown = s.capacity();
        assert!(grown >= 6001, "{grown}");
        // Within the grace an expired token is still known (expired, not unknown).
        assert!(!s.purge_if_due(PURGE_INTERVAL_MS - 1));
        assert!(s.purge_if_due(1000 + PURGE_GRACE_MS - 1));
        assert_eq!(s.len(), 6002);
        assert!(s.get(&expired[0]).is_some());
        // Not due again until another interval of clock time has passed.
        let at = 1000 + PURGE_GRACE_MS;
        assert!(!s.purge_due(at));
        assert_eq!(s.len(), 6002);
        assert!(s.purge_if_due(at - 1 + PURGE_INTERVAL_MS));
        assert_eq!(s.len(), 2, "the user ID (never expires) and the live token");
        assert!(s.get(&expired[0]).is_none());
        assert!(s.get(&id).is_some());
        assert!(s.get(&live).is_some());
        assert!(s.capacity() < 64, "{} of {grown}", s.capacity());
        assert_eq!(s.referers.index.len(), 0, "referers are released");
        assert_eq!(s.users.index.len(), 2);
        // Retiring the user ID (a password change) releases the last name.
        s.retain_user_ids(|_, epoch| epoch > 0);
        assert!(s.get(&id).is_none());
        assert_eq!(s.users.index.len(), 1);
    }

    #[test]
    fn packed_entries_are_small() {
        // What a live token costs in its table (plus the index: ~9 bytes a slot).
        let size = std::mem::size_of::<([u8; HEAD], Slot<{ TOKEN_BYTES - HEAD }, AccessData>)>();
        assert!(size <= 112, "{size}");
        assert!(std::mem::size_of::<TokenKey>() <= 18);
    }
}
