//! The operations a fuzz run plays, and the proptest strategies that draw them.
//!
//! Every issued secret (token, ArcWeb token, user ID, session token) is named
//! by a *handle*: its index in the model's list of that kind. Operations never
//! hold secret values, so a sequence can be printed, shrunk and replayed, and
//! a handle that stops existing after a shrink is caught by a precondition.
//!
//! Strategies read the current model state (which handles exist) and the
//! target's knobs (boundary values such as `max_expiration_minutes`); they
//! must not read anything else, so one seed gives one sequence.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};

use crate::knobs::Knobs;

use super::model::{self, State};

/// An index into one of the model's lists of issued secrets.
pub type Handle = usize;

/// A fixture user (semantics.md, "Reference fixture").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum User {
    /// Every secured service and the basemap privilege.
    Alice,
    /// No basemap privilege; may not use `Restricted`.
    Bob,
}

impl User {
    pub const ALL: [User; 2] = [User::Alice, User::Bob];

    /// The fixture alias (`{{users.ALIAS.name}}`).
    pub fn alias(self) -> &'static str {
        match self {
            User::Alice => "alice",
            User::Bob => "bob",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A source-address alias; the target maps each to a distinct address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Addr {
    Primary,
    Alt1,
    Alt2,
}

impl Addr {
    pub fn alias(self) -> &'static str {
        match self {
            Addr::Primary => "primary",
            Addr::Alt1 => "alt1",
            Addr::Alt2 => "alt2",
        }
    }
}

/// Which password a credential-taking operation sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Password {
    /// The user's password now.
    Current,
    /// The fixture password (stale once the password changed, LT-9).
    Initial,
    /// A password that never belonged to anyone.
    Wrong,
    /// The current password with its case flipped (TS-3: case-sensitive).
    WrongCase,
}

/// Which token service issues an `arcgis-token` token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPath {
    /// `/arcgis/tokens/generateToken` (knobs `short_lived_minutes`, `max_expiration_minutes`).
    Server,
    /// `/sharing/rest/generateToken` (the `portal_*` knobs).
    Portal,
}

/// A minutes parameter (`expiration`, `tout`) as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Minutes {
    /// Not sent.
    Omitted,
    /// Sent empty (LT-1 treats it like omitted on generateToken).
    Empty,
    Value(i64),
    /// A value that is not an integer.
    Text(&'static str),
}

/// The non-integer values tried for minute and second parameters. Values
/// semantics.md leaves open are left out: surrounding blanks (` 5`: the
/// reference trims parameters), `60.0`, `6e1` (dropped from the specs too).
pub const NON_NUMERIC: &[&str] = &["abc", "1.5", "60m", "1e3"];

/// `client` and its companion parameters on generateToken (TS-1, TS-5, IP-1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// No `client`: unbound (IP-4).
    Omitted,
    RequestIp,
    /// `client=ip&ip=<address of the alias>`.
    Ip(Addr),
    /// `client=ip&ip=<not an address>` (IP-7).
    MalformedIp,
    /// `client=referer&referer=<BIND_REFERERS[i]>`.
    Referer(usize),
    /// `client=ip` without `ip` (TS-5).
    IpMissing,
    /// `client=referer` without `referer` (TS-5).
    RefererMissing,
    /// An unknown `client` value (TS-5).
    Unknown,
}

/// Referers a token may be bound to (IP-3): absolute URLs and a plain prefix.
pub const BIND_REFERERS: &[&str] = &[
    "https://app.example.com",
    "https://app.example.com/maps/",
    "@esri/arcgis-rest-js",
];

/// Referers a request may send. Chosen so that the prefix rule of IP-3 gives
/// one answer whichever way an implementation splits host and path.
pub const SENT_REFERERS: &[&str] = &[
    "https://app.example.com/maps/index.html",
    "HTTPS://APP.EXAMPLE.COM/maps/viewer",
    "https://app.example.com/MAPS/",
    "https://evil.example.com/maps/",
    "@esri/arcgis-rest-js",
    "@ESRI/arcgis-rest-js",
];

/// What ends up in a token carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokRef {
    /// A token issued by generateToken (valid or not, the model knows).
    Issued(Handle),
    /// A basemap session token.
    Session(Handle),
    /// A well-formed value no server issued.
    Unknown(u32),
    Garbage(Garbage),
}

/// Values that are not tokens at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Garbage {
    Short,
    Long,
    Dotted,
}

impl Garbage {
    pub fn text(self) -> String {
        match self {
            Garbage::Short => "abc".into(),
            Garbage::Long => "Z".repeat(300),
            Garbage::Dotted => "eyJ0.eyJ1.c2ln".into(),
        }
    }
}

/// A well-formed (URL-safe, 64 characters) value derived from `n` that no
/// server issued.
pub fn unknown_token(n: u32) -> String {
    let mut x = u64::from(n) ^ 0x9E37_79B9_7F4A_7C15;
    let mut out = String::with_capacity(64);
    for _ in 0..4 {
        // splitmix64: spreads `n` over the whole value.
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.push_str(&format!("{z:016x}"));
    }
    out
}

/// The `Authorization` header on a secured request (HP-1, HP-4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthHeader {
    Bearer(TokRef),
    /// `bearer <t>`: the scheme is case-insensitive (HP-4).
    BearerLowercase(TokRef),
    /// `Basic ...`: ignored for token purposes (HP-4).
    Basic,
    /// `Bearer ` with nothing after it: ignored (HP-4).
    EmptyBearer,
}

/// The carriers of a secured request, each optional (HP-1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Carriers {
    pub x_esri: Option<TokRef>,
    pub authorization: Option<AuthHeader>,
    pub query: Option<TokRef>,
    pub body: Option<TokRef>,
    pub cookie: Option<TokRef>,
}

/// The four `arcgis-token` services of the fixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// SampleWorldCities: alice and bob.
    Secured,
    /// alice only.
    Restricted,
    /// No token needed (HP-8).
    Public,
    /// alice and bob; never accepts session tokens (SL-5).
    Geocode,
}

impl Service {
    pub fn endpoint(self) -> &'static str {
        match self {
            Service::Secured => "secured_service",
            Service::Restricted => "restricted_service",
            Service::Public => "public_service",
            Service::Geocode => "geocode_service",
        }
    }
}

/// A basemap style family (SL-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Arcgis,
    Open,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Arcgis => "arcgis",
            Family::Open => "open",
        }
    }
    pub fn style_endpoint(self) -> &'static str {
        match self {
            Family::Arcgis => "style_arcgis",
            Family::Open => "style_open",
        }
    }
}

/// `durationSeconds` as sent (SL-1, SL-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seconds {
    Omitted,
    Value(i64),
    Text(&'static str),
}

/// An ArcWeb token reference (`tkn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArcRef {
    Issued(Handle),
    Unknown(u32),
    Garbage(Garbage),
}

/// What authenticates an ArcWeb map request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArcCred {
    Tkn(ArcRef),
    /// A user ID by handle.
    UserId(Handle),
    UnknownUserId(u32),
    /// Neither `tkn` nor `usrid`.
    Nothing,
}

/// A clock move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advance {
    Ms(u64),
    /// To `expires + offset` of an `arcgis-token` token (offset -1, 0, +1: LT-5's edge).
    ToTokenExpiry {
        handle: Handle,
        offset: i8,
    },
    /// To `expires + offset` of an ArcWeb token.
    ToArcwebExpiry {
        handle: Handle,
        offset: i8,
    },
    /// To `endTime + offset` of a session (SL-4's edge).
    ToSessionEnd {
        handle: Handle,
        offset: i8,
    },
}

/// One fuzz operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    GenerateToken {
        user: User,
        password: Password,
        path: TokenPath,
        expiration: Minutes,
        client: Client,
        from: Addr,
    },
    ArcwebGetToken {
        user: User,
        password: Password,
        tout: Minutes,
        ip: Option<Addr>,
        from: Addr,
    },
    ArcwebRenew {
        token: ArcRef,
        from: Addr,
    },
    ArcwebGetUserId {
        user: User,
        password: Password,
        from: Addr,
    },
    ArcwebMap {
        cred: ArcCred,
        from: Addr,
    },
    Secured {
        service: Service,
        carriers: Carriers,
        from: Addr,
        /// An index into [`SENT_REFERERS`].
        referer: Option<usize>,
    },
    SessionStart {
        /// `None`: no token at all (499).
        token: Option<TokRef>,
        family: Option<Family>,
        duration: Seconds,
        from: Addr,
    },
    Style {
        family: Family,
        token: Option<TokRef>,
        from: Addr,
    },
    Advance(Advance),
    SetPassword {
        user: User,
    },
}

/// The kinds of operations, for selection and the per-kind summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    GenerateToken,
    ArcwebGetToken,
    ArcwebRenew,
    ArcwebGetUserId,
    ArcwebMap,
    Secured,
    SessionStart,
    Style,
    Advance,
    SetPassword,
}

impl OpKind {
    pub const ALL: [OpKind; 10] = [
        OpKind::GenerateToken,
        OpKind::ArcwebGetToken,
        OpKind::ArcwebRenew,
        OpKind::ArcwebGetUserId,
        OpKind::ArcwebMap,
        OpKind::Secured,
        OpKind::SessionStart,
        OpKind::Style,
        OpKind::Advance,
        OpKind::SetPassword,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OpKind::GenerateToken => "generate-token",
            OpKind::ArcwebGetToken => "arcweb-get-token",
            OpKind::ArcwebRenew => "arcweb-renew",
            OpKind::ArcwebGetUserId => "arcweb-get-user-id",
            OpKind::ArcwebMap => "arcweb-map",
            OpKind::Secured => "secured-request",
            OpKind::SessionStart => "session-start",
            OpKind::Style => "style-request",
            OpKind::Advance => "clock-advance",
            OpKind::SetPassword => "password-change",
        }
    }
}

impl Op {
    pub fn kind(&self) -> OpKind {
        match self {
            Op::GenerateToken { .. } => OpKind::GenerateToken,
            Op::ArcwebGetToken { .. } => OpKind::ArcwebGetToken,
            Op::ArcwebRenew { .. } => OpKind::ArcwebRenew,
            Op::ArcwebGetUserId { .. } => OpKind::ArcwebGetUserId,
            Op::ArcwebMap { .. } => OpKind::ArcwebMap,
            Op::Secured { .. } => OpKind::Secured,
            Op::SessionStart { .. } => OpKind::SessionStart,
            Op::Style { .. } => OpKind::Style,
            Op::Advance(_) => OpKind::Advance,
            Op::SetPassword { .. } => OpKind::SetPassword,
        }
    }
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

fn user() -> BoxedStrategy<User> {
    prop_oneof![3 => Just(User::Alice), 1 => Just(User::Bob)].boxed()
}

fn addr() -> BoxedStrategy<Addr> {
    prop_oneof![4 => Just(Addr::Primary), 1 => Just(Addr::Alt1), 1 => Just(Addr::Alt2)].boxed()
}

fn password() -> BoxedStrategy<Password> {
    prop_oneof![
        12 => Just(Password::Current),
        2 => Just(Password::Initial),
        1 => Just(Password::Wrong),
        1 => Just(Password::WrongCase),
    ]
    .boxed()
}

/// The boundary values of LT-1..LT-4 for a path's knobs, plus random ones.
fn minutes(short: u64, max: u64) -> BoxedStrategy<Minutes> {
    let short = short as i64;
    let max = max as i64;
    prop_oneof![
        4 => Just(Minutes::Omitted),
        1 => Just(Minutes::Empty),
        1 => Just(Minutes::Value(0)),
        1 => Just(Minutes::Value(-1)),
        1 => Just(Minutes::Value(1)),
        1 => Just(Minutes::Value(short)),
        2 => Just(Minutes::Value(max)),
        2 => Just(Minutes::Value(max + 1)),
        1 => Just(Minutes::Value(1_000_000_000)),
        1 => proptest::sample::select(NON_NUMERIC).prop_map(Minutes::Text),
        4 => (1..=2 * max).prop_map(Minutes::Value),
    ]
    .boxed()
}

fn client() -> BoxedStrategy<Client> {
    prop_oneof![
        6 => Just(Client::Omitted),
        3 => Just(Client::RequestIp),
        2 => addr().prop_map(Client::Ip),
        3 => (0..BIND_REFERERS.len()).prop_map(Client::Referer),
        1 => Just(Client::MalformedIp),
        1 => Just(Client::IpMissing),
        1 => Just(Client::RefererMissing),
        1 => Just(Client::Unknown),
    ]
    .boxed()
}

fn garbage() -> BoxedStrategy<Garbage> {
    prop_oneof![
        Just(Garbage::Short),
        Just(Garbage::Long),
        Just(Garbage::Dotted)
    ]
    .boxed()
}

/// A token for a carrier: mostly issued ones, so that validity is decided by
/// the model (expired, bound elsewhere, stale password) rather than by chance.
/// Only Server-path tokens are used on `/arcgis` services: where a Portal
/// token is honoured is not pinned by semantics.md.
fn tok_ref(s: &State) -> BoxedStrategy<TokRef> {
    let mut arms: Vec<(u32, BoxedStrategy<TokRef>)> = vec![
        (1, any::<u32>().prop_map(TokRef::Unknown).boxed()),
        (1, garbage().prop_map(TokRef::Garbage).boxed()),
    ];
    let server: Vec<Handle> = s.server_token_handles();
    if !server.is_empty() {
        arms.push((
            10,
            proptest::sample::select(server)
                .prop_map(TokRef::Issued)
                .boxed(),
        ));
    }
    if !s.sessions.is_empty() {
        arms.push((3, (0..s.sessions.len()).prop_map(TokRef::Session).boxed()));
    }
    Union::new_weighted(arms).boxed()
}

fn carriers(s: &State) -> BoxedStrategy<Carriers> {
    let t = tok_ref(s);
    let auth = prop_oneof![
        4 => t.clone().prop_map(AuthHeader::Bearer),
        1 => t.clone().prop_map(AuthHeader::BearerLowercase),
        1 => Just(AuthHeader::Basic),
        1 => Just(AuthHeader::EmptyBearer),
    ];
    (
        proptest::option::weighted(0.25, t.clone()),
        proptest::option::weighted(0.3, auth),
        proptest::option::weighted(0.5, t.clone()),
        proptest::option::weighted(0.2, t.clone()),
        proptest::option::weighted(0.2, t),
    )
        .prop_map(|(x_esri, authorization, query, body, cookie)| Carriers {
            x_esri,
            authorization,
            query,
            body,
            cookie,
        })
        .boxed()
}

fn offset() -> BoxedStrategy<i8> {
    prop_oneof![Just(-1i8), Just(0i8), Just(1i8)].boxed()
}

fn advance(s: &State) -> BoxedStrategy<Advance> {
    let mut arms: Vec<(u32, BoxedStrategy<Advance>)> = vec![(
        3,
        prop_oneof![
            Just(1u64),
            Just(59_999u64),
            Just(60_000u64),
            Just(3_599_999u64),
            Just(3_600_000u64),
            Just(86_400_000u64),
            1u64..=2 * 86_400_000,
        ]
        .prop_map(Advance::Ms)
        .boxed(),
    )];
    if !s.tokens.is_empty() {
        arms.push((
            4,
            (0..s.tokens.len(), offset())
                .prop_map(|(handle, offset)| Advance::ToTokenExpiry { handle, offset })
                .boxed(),
        ));
    }
    if !s.arc_tokens.is_empty() {
        arms.push((
            2,
            (0..s.arc_tokens.len(), offset())
                .prop_map(|(handle, offset)| Advance::ToArcwebExpiry { handle, offset })
                .boxed(),
        ));
    }
    if !s.sessions.is_empty() {
        arms.push((
            2,
            (0..s.sessions.len(), offset())
                .prop_map(|(handle, offset)| Advance::ToSessionEnd { handle, offset })
                .boxed(),
        ));
    }
    Union::new_weighted(arms).boxed()
}

fn arc_ref(s: &State) -> BoxedStrategy<ArcRef> {
    let mut arms: Vec<(u32, BoxedStrategy<ArcRef>)> = vec![
        (1, any::<u32>().prop_map(ArcRef::Unknown).boxed()),
        (1, garbage().prop_map(ArcRef::Garbage).boxed()),
    ];
    if !s.arc_tokens.is_empty() {
        arms.push((8, (0..s.arc_tokens.len()).prop_map(ArcRef::Issued).boxed()));
    }
    Union::new_weighted(arms).boxed()
}

fn seconds() -> BoxedStrategy<Seconds> {
    let max = model::SESSION_MAX_SECONDS;
    let min = model::SESSION_MIN_SECONDS;
    prop_oneof![
        3 => Just(Seconds::Omitted),
        1 => Just(Seconds::Value(min - 1)),
        2 => Just(Seconds::Value(min)),
        1 => Just(Seconds::Value(max)),
        1 => Just(Seconds::Value(max + 1)),
        1 => Just(Seconds::Value(0)),
        1 => Just(Seconds::Value(-1)),
        1 => proptest::sample::select(NON_NUMERIC).prop_map(Seconds::Text),
        4 => (min..=max).prop_map(Seconds::Value),
    ]
    .boxed()
}

fn family() -> BoxedStrategy<Family> {
    prop_oneof![Just(Family::Arcgis), Just(Family::Open)].boxed()
}

/// The strategy for the next operation, given the state and the kinds the
/// run may use.
pub fn op_strategy(s: &State, knobs: &Knobs, kinds: &BTreeSet<OpKind>) -> BoxedStrategy<Op> {
    let mut arms: Vec<(u32, BoxedStrategy<Op>)> = Vec::new();
    let mut add = |kind: OpKind, weight: u32, strat: BoxedStrategy<Op>| {
        if kinds.contains(&kind) {
            arms.push((weight, strat));
        }
    };
    let server = minutes(knobs.short_lived_minutes, knobs.max_expiration_minutes);
    let portal = minutes(
        knobs.portal_short_lived_minutes,
        knobs.portal_max_expiration_minutes,
    );
    let path_and_minutes = prop_oneof![
        4 => server.prop_map(|m| (TokenPath::Server, m)),
        1 => portal.prop_map(|m| (TokenPath::Portal, m)),
    ];
    add(
        OpKind::GenerateToken,
        6,
        (user(), password(), path_and_minutes, client(), addr())
            .prop_map(
                |(user, password, (path, expiration), client, from)| Op::GenerateToken {
                    user,
                    password,
                    path,
                    expiration,
                    client,
                    from,
                },
            )
            .boxed(),
    );
    let tout = minutes(
        model::ARCWEB_DEFAULT_TOUT_MINUTES,
        model::ARCWEB_MAX_TOUT_MINUTES,
    )
    .prop_filter("ArcWeb: an empty tout is not pinned by LT-7", |m| {
        *m != Minutes::Empty
    });
    add(
        OpKind::ArcwebGetToken,
        3,
        (
            user(),
            password(),
            tout,
            proptest::option::weighted(0.3, addr()),
            addr(),
        )
            .prop_map(|(user, password, tout, ip, from)| Op::ArcwebGetToken {
                user,
                password,
                tout,
                ip,
                from,
            })
            .boxed(),
    );
    add(
        OpKind::ArcwebRenew,
        3,
        (arc_ref(s), addr())
            .prop_map(|(token, from)| Op::ArcwebRenew { token, from })
            .boxed(),
    );
    add(
        OpKind::ArcwebGetUserId,
        1,
        (user(), password(), addr())
            .prop_map(|(user, password, from)| Op::ArcwebGetUserId {
                user,
                password,
                from,
            })
            .boxed(),
    );
    let mut cred_arms: Vec<(u32, BoxedStrategy<ArcCred>)> = vec![
        (4, arc_ref(s).prop_map(ArcCred::Tkn).boxed()),
        (1, any::<u32>().prop_map(ArcCred::UnknownUserId).boxed()),
        (1, Just(ArcCred::Nothing).boxed()),
    ];
    if !s.user_ids.is_empty() {
        cred_arms.push((3, (0..s.user_ids.len()).prop_map(ArcCred::UserId).boxed()));
    }
    add(
        OpKind::ArcwebMap,
        3,
        (Union::new_weighted(cred_arms), addr())
            .prop_map(|(cred, from)| Op::ArcwebMap { cred, from })
            .boxed(),
    );
    let service = prop_oneof![
        4 => Just(Service::Secured),
        2 => Just(Service::Restricted),
        1 => Just(Service::Public),
        2 => Just(Service::Geocode),
    ];
    add(
        OpKind::Secured,
        10,
        (
            service,
            carriers(s),
            addr(),
            proptest::option::weighted(0.4, 0..SENT_REFERERS.len()),
        )
            .prop_map(|(service, carriers, from, referer)| Op::Secured {
                service,
                carriers,
                from,
                referer,
            })
            .boxed(),
    );
    add(
        OpKind::SessionStart,
        3,
        (
            proptest::option::weighted(0.95, tok_ref(s)),
            proptest::option::weighted(0.7, family()),
            seconds(),
            addr(),
        )
            .prop_map(|(token, family, duration, from)| Op::SessionStart {
                token,
                family,
                duration,
                from,
            })
            .boxed(),
    );
    add(
        OpKind::Style,
        3,
        (
            family(),
            proptest::option::weighted(0.95, tok_ref(s)),
            addr(),
        )
            .prop_map(|(family, token, from)| Op::Style {
                family,
                token,
                from,
            })
            .boxed(),
    );
    add(OpKind::Advance, 4, advance(s).prop_map(Op::Advance).boxed());
    add(
        OpKind::SetPassword,
        1,
        user().prop_map(|user| Op::SetPassword { user }).boxed(),
    );
    Union::new_weighted(arms).boxed()
}

/// Whether `op` may follow `s`: every handle exists (and, for carriers, is
/// a Server-path token), and a clock move goes forward. Shrinking relies on
/// this to drop sequences whose handles moved.
pub fn precondition(s: &State, op: &Op) -> bool {
    let tok_ok = |t: &TokRef| match t {
        TokRef::Issued(h) => s
            .tokens
            .get(*h)
            .is_some_and(|t| t.path == TokenPath::Server),
        TokRef::Session(h) => *h < s.sessions.len(),
        TokRef::Unknown(_) | TokRef::Garbage(_) => true,
    };
    let arc_ok = |a: &ArcRef| match a {
        ArcRef::Issued(h) => *h < s.arc_tokens.len(),
        _ => true,
    };
    match op {
        Op::GenerateToken { .. } | Op::ArcwebGetToken { .. } | Op::ArcwebGetUserId { .. } => true,
        Op::SetPassword { .. } => true,
        Op::ArcwebRenew { token, .. } => arc_ok(token),
        Op::ArcwebMap { cred, .. } => match cred {
            ArcCred::Tkn(a) => arc_ok(a),
            ArcCred::UserId(h) => *h < s.user_ids.len(),
            ArcCred::UnknownUserId(_) | ArcCred::Nothing => true,
        },
        Op::Secured { carriers, .. } => {
            let auth_ok = match &carriers.authorization {
                Some(AuthHeader::Bearer(t)) | Some(AuthHeader::BearerLowercase(t)) => tok_ok(t),
                _ => true,
            };
            auth_ok
                && [
                    &carriers.x_esri,
                    &carriers.query,
                    &carriers.body,
                    &carriers.cookie,
                ]
                .into_iter()
                .flatten()
                .all(tok_ok)
        }
        Op::SessionStart { token, .. } | Op::Style { token, .. } => token.iter().all(tok_ok),
        Op::Advance(a) => model::advance_ms(s, a).is_some_and(|ms| ms > 0),
    }
}
