//! Checking a presented token: which carrier wins (HP-2/HP-3), whether the
//! token is alive (LT-5, SL-4), still matches its user's password (LT-9),
//! matches its binding (IP-2, IP-3) and was issued for this server root. What
//! the caller does with a valid principal (permissions, session scope) is the
//! caller's business.

use std::sync::Arc;

use super::deviations::Deviation;
use super::params::{Ctx, carriers, referer_matches};
use super::state::{AppState, Inner};
use super::tokens::{Audience, Binding, BindingRef, Found, Kind, TokenKey};
use crate::reference::config::StyleFamily;

/// Why a request is not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// 499: no token at all.
    Required,
    /// 498: unknown, expired, wrongly bound or foreign token.
    Invalid,
}

/// Who a valid token speaks for.
#[derive(Debug, Clone)]
pub enum Principal {
    User {
        /// Store key of the token (SL-8 counts sessions per access token).
        key: TokenKey,
        /// The token's user (shared with the account: no copy a request).
        user: Arc<str>,
        /// The token's expiry when it was checked.
        expires_ms: i64,
        /// The API key's own privileges, else the user's (shared).
        privileges: Arc<[String]>,
    },
    Session {
        family: StyleFamily,
        parent_key: TokenKey,
        parent_user: String,
    },
}

/// LT-5: valid iff `now < expires` (deviations aside).
pub fn alive(st: &AppState, now: i64, expires: i64) -> bool {
    if st.dev(Deviation::AcceptExpiredTokens) {
        return true;
    }
    if st.dev(Deviation::ValidAtExpiryInstant) {
        return now <= expires;
    }
    now < expires
}

/// IP-2 / IP-3.
pub fn binding_ok(st: &AppState, ctx: &Ctx, b: &Binding) -> bool {
    binding_ref_ok(st, ctx, b.as_ref())
}

/// [`binding_ok`] on a borrowed binding.
pub fn binding_ref_ok(st: &AppState, ctx: &Ctx, b: BindingRef<'_>) -> bool {
    match b {
        BindingRef::None => true,
        BindingRef::Ip(ip) => st.dev(Deviation::IgnoreIpBinding) || ctx.client_ip == ip,
        BindingRef::Referer(r) => {
            st.dev(Deviation::IgnoreRefererBinding) || referer_matches(r, ctx.referer())
        }
    }
}

/// Finds the winning carrier and checks it (HP-2, HP-3, HP-7).
pub fn authenticate(
    st: &AppState,
    inner: &mut Inner,
    ctx: &Ctx,
    accept: &[Audience],
) -> Result<Principal, Denial> {
    let list = carriers(st, ctx, "token");
    if list.is_empty() {
        return Err(if st.dev(Deviation::MissingTokenAs498) {
            Denial::Invalid
        } else {
            Denial::Required
        });
    }
    let fallback = st.dev(Deviation::FallbackToLowerCarrier);
    let mut result = Err(Denial::Invalid);
    for &(_, t) in list.iter() {
        result = check_token(st, inner, ctx, t, accept);
        if result.is_ok() || !fallback {
            break;
        }
    }
    result
}

/// Checks one token.
pub fn check_token(
    st: &AppState,
    inner: &mut Inner,
    ctx: &Ctx,
    token_text: &str,
    accept: &[Audience],
) -> Result<Principal, Denial> {
    let now = ctx.now;
    let Some((key, found)) = inner.store.lookup_ref(token_text) else {
        return Err(Denial::Invalid);
    };
    let owned;
    let a = match found {
        Found::Access(a) => a,
        Found::Other(Kind::Access(t)) => {
            owned = t;
            owned.as_ref()
        }
        Found::Other(Kind::Session(s)) => {
            // SL-4: a session lives until its own endTime, whatever its parent does.
            if now >= s.end_ms
                || (st.dev(Deviation::SessionEndsWithParent) && now >= s.parent_expires_ms)
            {
                return Err(Denial::Invalid);
            }
            return Ok(Principal::Session {
                family: s.family,
                parent_key: s.parent_key,
                parent_user: s.parent_user,
            });
        }
        Found::Other(Kind::ArcWeb(_) | Kind::UserId(_)) => return Err(Denial::Invalid),
    };
    if !alive(st, now, a.expires_ms) {
        return Err(Denial::Invalid);
    }
    let Some(acct) = inner.account(a.user) else {
        return Err(Denial::Invalid);
    };
    // LT-9: a password change retires earlier tokens (API keys excepted).
    if a.audience != Audience::Any
        && a.epoch != acct.epoch
        && !st.dev(Deviation::PasswordChangeKeepsTokens)
    {
        return Err(Denial::Invalid);
    }
    if !binding_ref_ok(st, ctx, a.binding) {
        return Err(Denial::Invalid);
    }
    if a.audience != Audience::Any && !accept.contains(&a.audience) {
        return Err(Denial::Invalid);
    }
    let privileges = match a.privileges {
        Some(p) => Arc::from(p),
        None => acct.privileges.clone(),
    };
    let user = acct.name.clone();
    let expires_ms = a.expires_ms;
    if st.dev(Deviation::SlidingExpiry) {
        inner.store.update(token_text, |k| {
            if let Kind::Access(a) = k {
                // The deviation: each use restarts the lifetime (breaks LT-6).
                let life = a.expires_ms.saturating_sub(a.issued_ms);
                a.issued_ms = now;
                a.expires_ms = now.saturating_add(life);
            }
        });
    }
    Ok(Principal::User {
        key,
        user,
        expires_ms,
        privileges,
    })
}
