//! Shared server state: configuration, the injected clock and randomness, the
//! deviations and variants switched on, and the mutable part (accounts with their current
//! passwords, the token store) behind one mutex. Handlers never hold the lock
//! across an `await`; there are no awaits in them at all.
//!
//! Taking the lock also runs the store's purge when the injected clock says
//! one is due, so memory held by long-ended tokens, sessions and retired
//! user IDs goes back as soon as the clock moves past them and a request
//! arrives: no background task, and tests on a virtual clock see it happen.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};

use super::clock::{Clock, SystemClock, VirtualClock};
use super::config::Config;
use super::deviations::Deviation;
use super::tokens::{Audience, Binding, Entropy, Kind, OsEntropy, Store};
use super::variants::Variants;
use super::{AccessToken, ServerOptions};
use crate::knobs::Knobs;

/// One account as the server currently knows it.
#[derive(Debug, Clone)]
pub struct Account {
    /// Shared with every checked request's principal (no copy a request).
    pub name: Arc<str>,
    pub password: String,
    /// Bumped by every password change; tokens remember the value (LT-9).
    pub epoch: u64,
    pub privileges: Arc<[String]>,
}

/// The mutable part.
#[derive(Debug)]
pub struct Inner {
    pub entropy: Box<dyn Entropy>,
    pub store: Store,
    pub accounts: Vec<Account>,
}

#[derive(Debug)]
struct Shared {
    config: Config,
    deviations: u64,
    variants: Variants,
    /// The knobs in force: the config's, until `/_tessera/knobs` sets others.
    knobs: RwLock<Arc<Knobs>>,
    clock: Arc<dyn Clock>,
    virtual_clock: Option<Arc<VirtualClock>>,
    control: bool,
    /// Set once by client certification (`crate::certify`); unset, the
    /// reference behaves as it always has.
    client_mode: OnceLock<ClientMode>,
    inner: Mutex<Inner>,
}

/// Client mode (issue 15): the reference serves each role of a
/// certification case on its own origin, so a server named by origin alone
/// (ArcGIS API for Python's exchange sends `serverURL=scheme://host:port`)
/// is known by that origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientMode {
    /// `(host:port, root prefix)` of each server listener (`/arcgis`,
    /// `/federated`).
    pub servers: Vec<(String, String)>,
}

impl ClientMode {
    /// The path a token exchange's `serverUrl` names: its own path, or the
    /// server root of its origin when it has none; `""` (no server this
    /// reference serves) for any other origin.
    pub fn server_path(&self, server_url: &str) -> String {
        let Ok(u) = url::Url::parse(server_url) else {
            return String::new();
        };
        let authority = match (u.host_str(), u.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{}:{p}", h.to_ascii_lowercase()),
            _ => return String::new(),
        };
        let Some((_, root)) = self.servers.iter().find(|(a, _)| *a == authority) else {
            return String::new();
        };
        match u.path() {
            "" | "/" => root.clone(),
            p => p.to_owned(),
        }
    }
}

/// Cheap to clone; what the router's handlers share.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state `spawn` uses: OS randomness; a virtual clock with control on,
    /// else the system clock.
    pub fn new(opts: ServerOptions) -> AppState {
        if opts.control {
            Self::with_virtual_clock(opts, Arc::new(VirtualClock::new()), Box::new(OsEntropy))
        } else {
            Self::build(opts, Arc::new(SystemClock), None, Box::new(OsEntropy))
        }
    }

    /// A state on a given virtual clock and randomness (tests, the runner).
    /// The control API is served only if `opts.control` is set.
    pub fn with_virtual_clock(
        opts: ServerOptions,
        clock: Arc<VirtualClock>,
        entropy: Box<dyn Entropy>,
    ) -> AppState {
        let c: Arc<dyn Clock> = clock.clone();
        Self::build(opts, c, Some(clock), entropy)
    }

    /// A state on any clock (no control API possible without a virtual clock).
    pub fn with_clock(
        opts: ServerOptions,
        clock: Arc<dyn Clock>,
        entropy: Box<dyn Entropy>,
    ) -> AppState {
        Self::build(opts, clock, None, entropy)
    }

    fn build(
        opts: ServerOptions,
        clock: Arc<dyn Clock>,
        virtual_clock: Option<Arc<VirtualClock>>,
        entropy: Box<dyn Entropy>,
    ) -> AppState {
        let deviations = opts.deviations.iter().fold(0, |m, d| m | d.bit());
        let mut inner = Inner {
            entropy,
            store: Store::default(),
            accounts: Vec::new(),
        };
        fill(&mut inner, &opts.config, clock.now_ms());
        let knobs = opts.config.knobs.clone();
        AppState(Arc::new(Shared {
            config: opts.config,
            deviations,
            variants: opts.variants,
            knobs: RwLock::new(Arc::new(knobs)),
            clock,
            virtual_clock,
            control: opts.control,
            client_mode: OnceLock::new(),
            inner: Mutex::new(inner),
        }))
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The knobs in force now (the config's unless the control API set others).
    pub fn knobs(&self) -> Arc<Knobs> {
        self.0
            .knobs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Puts `k` in force (control API); `reset` restores the config's.
    pub fn set_knobs(&self, k: Knobs) {
        *self.0.knobs.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(k);
    }

    /// Is deviation `d` switched on?
    pub fn dev(&self, d: Deviation) -> bool {
        self.0.deviations & d.bit() != 0
    }

    /// The variant in force for each VARIANT rule.
    pub fn variants(&self) -> &Variants {
        &self.0.variants
    }

    pub fn now_ms(&self) -> i64 {
        self.0.clock.now_ms()
    }

    /// Switches client mode on (once; later calls are ignored).
    pub fn set_client_mode(&self, mode: ClientMode) {
        let _ = self.0.client_mode.set(mode);
    }

    pub fn client_mode(&self) -> Option<&ClientMode> {
        self.0.client_mode.get()
    }

    /// The virtual clock, when the control API is on.
    pub fn control_clock(&self) -> Option<&VirtualClock> {
        if self.0.control {
            self.0.virtual_clock.as_deref()
        } else {
            None
        }
    }

    /// The mutable part; purges the store first when a purge is due.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.lock_at(self.now_ms())
    }

    /// Like [`lock`](Self::lock) at `now`, a time the caller already read
    /// from this state's clock (a request's `Ctx::now`): one clock read a
    /// request.
    pub fn lock_at(&self, now: i64) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the store half-written
        // in a way that matters more than serving on; recover the guard.
        let mut inner = self.0.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.store.purge_due(now) {
            inner.purge(now, self.dev(Deviation::PasswordChangeKeepsTokens));
        }
        inner
    }

    /// Forgets every token, user ID and session and restores the configured
    /// passwords and knobs; the clock is left alone.
    pub fn reset(&self) {
        self.set_knobs(self.0.config.knobs.clone());
        let now = self.now_ms();
        let mut inner = self.lock();
        inner.store = Store::default();
        inner.accounts.clear();
        fill(&mut inner, &self.0.config, now);
    }
}

fn fill(inner: &mut Inner, config: &Config, now: i64) {
    inner.accounts = config
        .users
        .iter()
        .map(|u| Account {
            name: u.name.as_str().into(),
            password: u.password.clone(),
            epoch: 0,
            privileges: u.privileges.as_slice().into(),
        })
        .collect();
    for k in &config.api_keys {
        let kind = Kind::Access(AccessToken {
            user: k.user.clone(),
            epoch: 0,
            issued_ms: now,
            expires_ms: i64::MAX,
            binding: Binding::None,
            audience: Audience::Any,
            privileges: Some(k.privileges.clone()),
        });
        inner.store.insert(&k.key, kind, now);
    }
}

impl Inner {
    pub fn account(&self, name: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| *a.name == *name)
    }

    /// Drops long-ended entries and, unless retired IDs still work
    /// (`keep_retired`), the ArcWeb user IDs a password change retired (LT-9).
    pub fn purge(&mut self, now_ms: i64, keep_retired: bool) {
        self.store.purge(now_ms);
        if !keep_retired {
            let accounts = &self.accounts;
            self.store.retain_user_ids(|user, epoch| {
                accounts
                    .iter()
                    .any(|a| *a.name == *user && a.epoch == epoch)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::SeededEntropy;
    use super::super::tokens::{
        ARCWEB_TOKEN_BYTES, PURGE_GRACE_MS, PURGE_INTERVAL_MS, TOKEN_BYTES, UserId, new_token,
    };
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    #[test]
    fn taking_the_lock_purges_once_the_clock_passes_expiry_and_grace() {
        let clock = Arc::new(VirtualClock::at(T0));
        let st = AppState::with_virtual_clock(
            ServerOptions::default(),
            clock.clone(),
            Box::new(SeededEntropy::new(9)),
        );
        let start = st.lock().store.len();
        let id = {
            let mut inner = st.lock();
            for _ in 0..2000 {
                let t = new_token(inner.entropy.as_mut(), "", TOKEN_BYTES);
                let kind = Kind::Access(AccessToken {
                    user: "alice".into(),
                    epoch: 0,
                    issued_ms: T0,
                    expires_ms: T0 + 60_000,
                    binding: Binding::None,
                    audience: Audience::Server,
                    privileges: None,
                });
                inner.store.insert(&t, kind, T0);
            }
            let id = new_token(inner.entropy.as_mut(), "", ARCWEB_TOKEN_BYTES);
            let kind = Kind::UserId(UserId {
                user: "alice".into(),
                epoch: 0,
                issued_ms: T0,
            });
            inner.store.insert(&id, kind, T0);
            id
        };
        assert_eq!(st.lock().store.len(), start + 2001);
        // Expired but within the grace: kept.
        clock.advance(60_000 + PURGE_GRACE_MS - 1).unwrap();
        assert_eq!(st.lock().store.len(), start + 2001);
        clock.advance(PURGE_INTERVAL_MS).unwrap();
        let inner = st.lock();
        assert_eq!(inner.store.len(), start + 1, "only the user ID stays");
        assert!(inner.store.capacity() < 100, "{}", inner.store.capacity());
        drop(inner);
        // A password change retires the user ID; the next due purge drops it.
        st.lock().accounts[0].epoch += 1;
        assert!(st.lock().store.get(&id).is_some());
        clock.advance(PURGE_INTERVAL_MS).unwrap();
        assert!(st.lock().store.get(&id).is_none());
        assert_eq!(st.lock().store.len(), start);
    }
}
