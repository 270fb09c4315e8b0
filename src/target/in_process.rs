//! Starting the in-process reference server of `--target reference`: the
//! runner starts one per scenario instance (own clock, own state, the
//! scenario's knobs), the fuzzer one per run. The one place outside
//! `reference` that starts a server, so control and deviations are applied
//! the same way for every user.

use crate::knobs::Knobs;
use crate::reference::{self, Config, Deviation, ServerOptions, Variants};

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
    /// Starts the built-in fixture with `knobs`, `deviations` and `variants`.
    pub async fn start(
        knobs: &Knobs,
        deviations: &[Deviation],
        variants: &Variants,
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
        let handle = reference::spawn(opts, ([127, 0, 0, 1], 0).into()).await?;
        let base_url = format!("http://{}", handle.addr);
        Ok(Server { handle, base_url })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
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
        let server = Server::start(&knobs, &[], &Variants::default())
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
