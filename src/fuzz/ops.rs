//! The operations a fuzz run plays: plain data, drawn by `strategy`,
//! predicted by `model`, planned by `plan`. It imports neither.
//!
//! Every issued secret (token, ArcWeb token, user ID, session token) is named
//! by a *handle*: its index in the model's list of that kind. Operations never
//! hold secret values, so a sequence can be printed, shrunk and replayed, and
//! a handle that stops existing after a shrink is caught by a precondition.

use crate::reference::StyleFamily;

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
        family: Option<StyleFamily>,
        duration: Seconds,
        from: Addr,
    },
    Style {
        family: StyleFamily,
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
