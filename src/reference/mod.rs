//! The reference server: Tessera's embedded default target and its oracle made
//! executable. It implements every rule of `semantics.md` for the profiles
//! `arcgis-token`, `arcweb-2006` and `basemap-sessions`, statefully, on the
//! reference paths of `crate::scenario::endpoints`, plus the minimal Portal and the
//! federated root that official clients need ("Client compatibility").
//!
//! Time and randomness are injected ([`clock`], [`tokens::Entropy`]); with
//! control on, the server runs on a virtual clock that only the control API
//! moves ([`control`]). Named [`Deviation`]s switch on deliberate rule
//! violations, named [`Variants`] the other conforming behaviours of the
//! VARIANT rules. Use [`spawn`] for a real socket, [`router`] for in-process
//! tests (`oneshot` + `MockConnectInfo`).
//!
//! Layout: `router.rs` dispatches; `params.rs` parses a request once;
//! `auth.rs` checks a presented token; `arcgis.rs`, `portal.rs`, `arcweb.rs`,
//! `basemap.rs` hold one family each; `errors.rs` the bodies and status
//! conventions; `state.rs` the shared state; `tokens.rs` generation and
//! storage; `config.rs` the fixture; `tls.rs` HTTPS ([`spawn_tls`]). This module must not grow logic of its own.

pub mod arcgis;
pub mod arcweb;
pub mod auth;
pub mod basemap;
pub mod clock;
pub mod config;
pub mod control;
pub mod deviations;
pub mod errors;
pub mod params;
pub mod portal;
pub mod router;
pub mod state;
pub mod tls;
pub mod tokens;
pub mod variants;

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;

pub use clock::{Clock, OffsetClock, SystemClock, VirtualClock};
pub use config::{
    ApiKeyConfig, BASEMAP_PRIVILEGE, Config, ServiceConfig, StyleConfig, StyleFamily, UserConfig,
};
pub use deviations::Deviation;
pub use router::router;
pub use state::AppState;
pub use tokens::{AccessToken, Entropy, OsEntropy, SeededEntropy};
pub use variants::{VariantError, Variants};

/// How to start a server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    pub config: Config,
    /// Serve `/_tessera/` and run on a virtual clock.
    pub control: bool,
    pub deviations: Vec<Deviation>,
    /// The variant of each VARIANT rule (default: the reference's own).
    pub variants: Variants,
}

/// A running server. Dropping it stops the server too (without waiting).
#[derive(Debug)]
pub struct Handle {
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Handle {
    /// Stops the server and waits for it to finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Starts a server on `listen` (port 0 picks a free one). Cheap: one socket,
/// one task, no per-instance precomputation.
pub async fn spawn(opts: ServerOptions, listen: SocketAddr) -> std::io::Result<Handle> {
    spawn_state(AppState::new(opts), listen).await
}

/// Like [`spawn`] with a prepared state (a given clock or randomness).
pub async fn spawn_state(state: AppState, listen: SocketAddr) -> std::io::Result<Handle> {
    serve_on(state, listen, None).await
}

/// Like [`spawn`], speaking HTTPS with `tls`'s certificate; advertised
/// URLs use `https`.
pub async fn spawn_tls(
    opts: ServerOptions,
    listen: SocketAddr,
    tls: &tls::ServerTls,
) -> std::io::Result<Handle> {
    serve_on(AppState::new(opts), listen, Some(tls)).await
}

/// Like [`spawn_tls`] with a prepared state (a skewed clock).
pub async fn spawn_state_tls(
    state: AppState,
    listen: SocketAddr,
    tls: &tls::ServerTls,
) -> std::io::Result<Handle> {
    serve_on(state, listen, Some(tls)).await
}

async fn serve_on(
    state: AppState,
    listen: SocketAddr,
    tls: Option<&tls::ServerTls>,
) -> std::io::Result<Handle> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async move {
        let _ = stopped.await;
    };
    let task = match tls {
        None => {
            let app = router::Connections::new(state, false);
            tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await;
            })
        }
        Some(tls) => {
            let app = router::Connections::new(state, true);
            let listener = tls.listen(listener)?;
            tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await;
            })
        }
    };
    Ok(Handle { addr, stop, task })
}
