//! The one client of Tessera, shared by the runner, the targets and the
//! fuzzer: [`http`] sends a fully rendered request and reads the answer;
//! [`tls`] holds its TLS settings and explains TLS failures;
//! [`control`] speaks the reference control protocol (`/_tessera/`) on top
//! of it.
//!
//! Plumbing only: this module knows nothing of scenarios, templates,
//! targets or verdicts, and imports no other module of the crate, so every
//! user can depend on it without depending on each other.

pub mod control;
pub mod http;
pub mod tls;

pub use control::Control;
pub use http::{Clients, PreparedRequest, Response, Timeouts, TransportError};
pub use tls::{PeerTls, TlsFailure, TlsOptions};
