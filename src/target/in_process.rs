//! Starting the in-process reference server of `--target reference`: the
//! runner starts one per scenario instance (own clock, own state, the
//! scenario's knobs), the fuzzer one per run. The one place outside
//! `reference` that starts a server, so control and deviations are applied
//! the same way for every user.
//!
//! Over TLS (`--target reference --tls`) every server of the process uses
//! one certificate, made on first use ([`certificate`]), which the target's
//! clients trust.

use std::sync::OnceLock;

use crate::knobs::Knobs;
use crate::reference::tls::ServerTls;
use crate::reference::{self, Config, Deviation, ServerOptions, Variants};

/// The certificate of every in-process server over TLS (made once: key
/// generation is not free, and the clients trust this one).
pub fn certificate() -> Result<&'static ServerTls, String> {
    static CERT: OnceLock<Result<ServerTls, String>> = OnceLock::new();
    CERT.get_or_init(|| ServerTls::self_signed(&[]).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(Clone::clone)
}

/// A running in-process reference server on a free loopback port, with the
/// control API on. Dropping it stops the server too, without waiting.
#[derive(Debug)]
pub struct Server {
    handle: reference::Handle,
    base_url: String,
}

/// The server could not start (no free port, say): an error verdict or an
/// infrastructure error for the caller, never a panic.
#[derive(Debug, thiserror::Error)]
#[error("the reference server did not start: {0}")]
pub struct StartError(#[from] pub std::io::Error);

impl Server {
    /// Starts the built-in fixture with `knobs`, `deviations` and
    /// `variants`; with `tls`, the server speaks HTTPS with [`certificate`]
    /// on `https://127.0.0.1:PORT`.
    pub async fn start(
        knobs: &Knobs,
        deviations: &[Deviation],
        variants: &Variants,
        tls: bool,
    ) -> Result<Server, StartError> {
        let opts = ServerOptions {
            config: Config {
                knobs: knobs.clone(),
                ..Config::default()
            },
            control: true,
            deviations: deviations.to_vec(),
            variants: variants.clone(),
        };
        let listen = ([127, 0, 0, 1], 0).into();
        let (handle, scheme) = if tls {
            let cert = certificate().map_err(std::io::Error::other)?;
            (reference::spawn_tls(opts, listen, cert).await?, "https")
        } else {
            (reference::spawn(opts, listen).await?, "http")
        };
        let base_url = format!("{scheme}://{}", handle.addr);
        Ok(Server { handle, base_url })
    }

    /// `http(s)://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(self) {
        self.handle.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Clients, Control, Timeouts};

    #[tokio::test]
    async fn a_started_server_answers_the_control_api_until_stopped() {
        let knobs = Config::default().knobs;
        let server = Server::start(&knobs, &[], &Variants::default(), false)
            .await
            .unwrap();
        let clients = Clients::new(Timeouts::new(std::time::Duration::from_secs(5)));
        let control = Control {
            clients: &clients,
            base_url: server.base_url(),
        };
        assert_eq!(control.probe().await, Ok(true));
        let base = server.base_url().to_owned();
        server.stop().await;
        let fresh = Clients::new(Timeouts::new(std::time::Duration::from_secs(5)));
        let control = Control {
            clients: &fresh,
            base_url: &base,
        };
        assert!(control.probe().await.is_err());
    }
}
