//! The proptest strategies that draw [`Op`]s, and the precondition that
//! keeps a drawn (or shrunk) sequence playable.
//!
//! Strategies read the current model state (which handles exist) and the
//! target's knobs (boundary values such as `max_expiration_minutes`); they
//! must not read anything else, so one seed gives one sequence. Numbers
//! fixed by rule text (ArcWeb's `tout`, session durations) are the reference
//! server's own constants.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};

use crate::knobs::Knobs;
use crate::reference::{StyleFamily, arcweb, basemap};

use super::model::{self, State};
use super::ops::*;

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

/// A minutes knob as the `i64` the rules' constants use (a value too large
/// for it is as good as unlimited).
fn knob(minutes: u64) -> i64 {
    i64::try_from(minutes).unwrap_or(i64::MAX)
}

/// The boundary values of LT-1..LT-4 for a path's knobs, plus random ones.
fn minutes(short: i64, max: i64) -> BoxedStrategy<Minutes> {
    prop_oneof![
        4 => Just(Minutes::Omitted),
        1 => Just(Minutes::Empty),
        1 => Just(Minutes::Value(0)),
        1 => Just(Minutes::Value(-1)),
        1 => Just(Minutes::Value(1)),
        1 => Just(Minutes::Value(short)),
        2 => Just(Minutes::Value(max)),
        2 => Just(Minutes::Value(max.saturating_add(1))),
        1 => Just(Minutes::Value(1_000_000_000)),
        1 => proptest::sample::select(NON_NUMERIC).prop_map(Minutes::Text),
        4 => (1..=max.saturating_mul(2)).prop_map(Minutes::Value),
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
    // To an edge (expiry, session end) of an existing handle, one ms either side.
    let mut to_edge = |handles: usize, weight: u32, edge: fn(Handle, i8) -> Advance| {
        if handles > 0 {
            arms.push((
                weight,
                (0..handles, offset())
                    .prop_map(move |(h, o)| edge(h, o))
                    .boxed(),
            ));
        }
    };
    to_edge(s.tokens.len(), 4, |handle, offset| Advance::ToTokenExpiry {
        handle,
        offset,
    });
    to_edge(s.arc_tokens.len(), 2, |handle, offset| {
        Advance::ToArcwebExpiry { handle, offset }
    });
    to_edge(s.sessions.len(), 2, |handle, offset| {
        Advance::ToSessionEnd { handle, offset }
    });
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
    let max = basemap::MAX_DURATION_S;
    let min = basemap::MIN_DURATION_S;
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

fn family() -> BoxedStrategy<StyleFamily> {
    prop_oneof![Just(StyleFamily::Arcgis), Just(StyleFamily::Open)].boxed()
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
    let server = minutes(
        knob(knobs.short_lived_minutes),
        knob(knobs.max_expiration_minutes),
    );
    let portal = minutes(
        knob(knobs.portal_short_lived_minutes),
        knob(knobs.portal_max_expiration_minutes),
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
    let tout = minutes(arcweb::DEFAULT_TOUT_MINUTES, arcweb::MAX_TOUT_MINUTES)
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
