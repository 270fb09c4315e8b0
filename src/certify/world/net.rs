//! One port, both schemes: a listener that looks at the first byte of each
//! connection and completes a TLS handshake when it is one (0x16), else
//! serves plain HTTP. Clients that upgrade a URL to `https` (CL-12) or
//! downgrade one reach the same listener, and the journal records which
//! scheme each request used. Handshakes run off the accept path.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

use crate::reference::tls::ServerTls;

/// A connection that does not show its first byte (or finish its
/// handshake) within this is dropped.
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS records start with this content type (handshake).
const TLS_HANDSHAKE: u8 = 0x16;

/// A plain or a TLS connection.
#[derive(Debug)]
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Who is on the other end, and over which scheme (the listener's `Addr`
/// and the request's `ConnectInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnMeta {
    pub peer: SocketAddr,
    pub https: bool,
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, DualListener>>
    for ConnMeta
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, DualListener>) -> Self {
        *stream.remote_addr()
    }
}

/// Accepts plain and (with a certificate) TLS connections on one port.
#[derive(Debug)]
pub struct DualListener {
    rx: mpsc::Receiver<(Conn, ConnMeta)>,
    local: ConnMeta,
    task: tokio::task::AbortHandle,
}

impl DualListener {
    /// Starts accepting on `tcp`; without `tls` every connection is plain.
    pub fn new(tcp: TcpListener, tls: Option<ServerTls>) -> io::Result<DualListener> {
        let local = tcp.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::spawn(accept_loop(tcp, tls, tx));
        Ok(DualListener {
            rx,
            local: ConnMeta {
                peer: local,
                https: false,
            },
            task: task.abort_handle(),
        })
    }
}

impl Drop for DualListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(tcp: TcpListener, tls: Option<ServerTls>, tx: mpsc::Sender<(Conn, ConnMeta)>) {
    loop {
        let (stream, peer) = match tcp.accept().await {
            Ok(x) => x,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let tls = tls.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let setup = async {
                let Some(tls) = tls else {
                    return Some((Conn::Plain(stream), false));
                };
                let mut first = [0u8; 1];
                let n = stream.peek(&mut first).await.ok()?;
                if n == 1 && first[0] == TLS_HANDSHAKE {
                    // A failed handshake (an untrusting client) is the
                    // client's business: the connection just closes.
                    let s = tls.accept(stream).await.ok()?;
                    Some((Conn::Tls(Box::new(s)), true))
                } else {
                    Some((Conn::Plain(stream), false))
                }
            };
            if let Ok(Some((conn, https))) = tokio::time::timeout(FIRST_BYTE_TIMEOUT, setup).await {
                let _ = tx.send((conn, ConnMeta { peer, https })).await;
            }
        });
    }
}

impl axum::serve::Listener for DualListener {
    type Io = Conn;
    type Addr = ConnMeta;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
