//! HTTPS for the reference server (`tessera serve --tls`, `--target
//! reference --tls`): a certificate made at start with rcgen, or a given
//! PEM pair; a listener that completes TLS handshakes off the accept path
//! (so one slow or non-TLS client never holds up the others); and the
//! [`Https`] marker that makes advertised URLs use `https`.
//!
//! The private key stays in memory: it is never written or printed (only
//! the certificate is, by `--tls-cert-out`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A handshake that does not finish within this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Request extension: this request came over TLS (advertised URLs use
/// `https`).
#[derive(Debug, Clone, Copy)]
pub struct Https;

/// Why the server's TLS cannot be set up. Messages name files, never
/// quote them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsSetupError {
    #[error("the certificate could not be generated: {0}")]
    Generate(String),
    #[error("{file}: {what}")]
    Pem { file: String, what: String },
    #[error("the certificate and key cannot be used together: {0}")]
    Config(String),
}

/// The server's certificate and key, ready to accept connections.
#[derive(Clone)]
pub struct ServerTls {
    cert_pem: String,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

/// The names every generated certificate carries.
pub const DEFAULT_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

impl ServerTls {
    /// A fresh self-signed certificate (ECDSA P-256) for `localhost`,
    /// `127.0.0.1` and `extra_names` (host names or IP addresses), valid
    /// from yesterday for a year.
    pub fn self_signed(extra_names: &[String]) -> Result<ServerTls, TlsSetupError> {
        let gen_err = |e: rcgen::Error| TlsSetupError::Generate(e.to_string());
        let mut names: Vec<String> = DEFAULT_NAMES.iter().map(|s| s.to_string()).collect();
        for n in extra_names {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
        let mut params = rcgen::CertificateParams::new(names).map_err(gen_err)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Tessera reference (self-signed)");
        let today = jiff::tz::Offset::UTC
            .to_datetime(jiff::Timestamp::now())
            .date();
        let from = today.yesterday().unwrap_or(today);
        let until = today
            .checked_add(jiff::Span::new().years(1))
            .unwrap_or(today);
        params.not_before =
            rcgen::date_time_ymd(i32::from(from.year()), from.month() as u8, from.day() as u8);
        params.not_after = rcgen::date_time_ymd(
            i32::from(until.year()),
            until.month() as u8,
            until.day() as u8,
        );
        let key = rcgen::KeyPair::generate().map_err(gen_err)?;
        let cert = params.self_signed(&key).map_err(gen_err)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Self::build(cert.pem(), vec![cert.der().clone()], key_der)
    }

    /// A given certificate (chain) and private key, both PEM; `cert_file`
    /// and `key_file` name them in errors.
    pub fn from_pem(
        cert_file: &str,
        cert_pem: &[u8],
        key_file: &str,
        key_pem: &[u8],
    ) -> Result<ServerTls, TlsSetupError> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| TlsSetupError::Pem {
                file: cert_file.to_owned(),
                what: format!("not a PEM certificate: {e}"),
            })?;
        if chain.is_empty() {
            return Err(TlsSetupError::Pem {
                file: cert_file.to_owned(),
                what: "no PEM certificate found (expected `-----BEGIN CERTIFICATE-----`)".into(),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsSetupError::Pem {
            file: key_file.to_owned(),
            what: format!("no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
        })?;
        let text = String::from_utf8_lossy(cert_pem).into_owned();
        Self::build(text, chain, key)
    }

    fn build(
        cert_pem: String,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<ServerTls, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsSetupError::Config(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            cert_pem,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// The certificate (chain) in PEM: what a client should trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Completes the server side of one TLS handshake (client
    /// certification sniffs each connection and serves both schemes on one
    /// port).
    pub async fn accept(&self, tcp: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        self.acceptor.accept(tcp).await
    }

    /// A listener on `tcp` that hands out finished TLS connections.
    pub fn listen(&self, tcp: TcpListener) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let acceptor = self.acceptor.clone();
        let task = tokio::spawn(accept_loop(tcp, acceptor, tx));
        Ok(TlsListener {
            rx,
            local,
            task: task.abort_handle(),
        })
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let (stream, peer) = match tcp.accept().await {
            Ok(x) => x,
            Err(_) => {
                // Out of file descriptors and the like: back off, go on.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            // A failed handshake (a plain-HTTP client, an untrusting one)
            // is the client's business: its connection is closed, nothing
            // else happens.
            if let Ok(Ok(tls)) =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
            {
                let _ = tx.send((tls, peer)).await;
            }
        });
    }
}

/// Finished TLS connections for `axum::serve`. Dropping it stops
/// accepting.
#[derive(Debug)]
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    task: tokio::task::AbortHandle,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            // The accept loop ended (aborted): no more connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificates_name_localhost_and_the_extra_names() {
        let t = ServerTls::self_signed(&["gis.test".to_owned()]).unwrap();
        let der = CertificateDer::from_pem_slice(t.cert_pem().as_bytes()).unwrap();
        let text = String::from_utf8_lossy(&der);
        assert!(text.contains("localhost"));
        assert!(text.contains("gis.test"));
        assert!(!t.cert_pem().contains("PRIVATE KEY"));
    }

    #[test]
    fn bad_pem_names_the_file() {
        let e = ServerTls::from_pem("c.pem", b"nothing", "k.pem", b"nothing").unwrap_err();
        assert!(e.to_string().starts_with("c.pem: "), "{e}");
        let good = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let e =
            ServerTls::from_pem("c.pem", good.cert.pem().as_bytes(), "k.pem", b"x").unwrap_err();
        assert!(e.to_string().starts_with("k.pem: "), "{e}");
        let ok = ServerTls::from_pem(
            "c.pem",
            good.cert.pem().as_bytes(),
            "k.pem",
            good.signing_key.serialize_pem().as_bytes(),
        );
        assert!(ok.is_ok());
    }
}
