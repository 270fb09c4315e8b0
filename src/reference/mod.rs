//! The reference server (STUB: the interface other modules build against;
//! the "Reference server" work replaces the bodies, keeping these names).

use std::net::SocketAddr;

use crate::knobs::Knobs;

/// Accounts, services and knobs of a reference server.
#[derive(Debug, Clone)]
pub struct Config {
    pub knobs: Knobs,
    pub users: Vec<UserConfig>,
}

impl Default for Config {
    /// The built-in fixture of semantics.md ("Reference fixture").
    fn default() -> Self {
        Config {
            knobs: Knobs::default(),
            users: vec![
                UserConfig {
                    name: "alice".into(),
                    password: "alice-secret-1".into(),
                },
                UserConfig {
                    name: "bob".into(),
                    password: "bob-secret-2".into(),
                },
            ],
        }
    }
}

/// One account.
#[derive(Debug, Clone)]
pub struct UserConfig {
    pub name: String,
    pub password: String,
}

/// A deliberate rule violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Deviation {
    AcceptExpiredTokens,
}

impl Deviation {
    pub const ALL: &'static [Deviation] = &[Deviation::AcceptExpiredTokens];

    pub fn name(self) -> &'static str {
        "accept-expired-tokens"
    }

    pub fn rules(self) -> &'static [&'static str] {
        &["LT-5"]
    }

    pub fn description(self) -> &'static str {
        "expired tokens are accepted"
    }
}

impl std::str::FromStr for Deviation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Deviation::ALL
            .iter()
            .copied()
            .find(|d| d.name() == s)
            .ok_or_else(|| format!("unknown deviation `{s}`"))
    }
}

/// How to start a server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    pub config: Config,
    /// Serve `/_tessera/` and run on a virtual clock.
    pub control: bool,
    pub deviations: Vec<Deviation>,
}

/// A running server.
#[derive(Debug)]
pub struct Handle {
    pub addr: SocketAddr,
}

impl Handle {
    /// Stops the server and waits for it to finish.
    pub async fn shutdown(self) {}
}

/// Starts a server on `listen` (port 0 picks a free one).
pub async fn spawn(_opts: ServerOptions, _listen: SocketAddr) -> std::io::Result<Handle> {
    Err(std::io::Error::other("reference server not built yet"))
}
