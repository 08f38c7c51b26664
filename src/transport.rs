//! The one connection stream every listener and every upstream connection
//! runs over: a TCP socket (or, in tests, any in-memory stream) that may
//! carry TLS, as the server (a mail client talking to mailseal) or as the
//! client (mailseal talking to the real server), and that turns TLS in
//! place when a protocol says STARTTLS.
//!
//! ```text
//!  SMTP session ──┐                 ┌─ Plain(S) ──TLS handshake──> Tls(server or client)
//!  SMTP upstream ─┤                 │                  │ failed
//!  IMAP legs ─────┼─> Stream<S> ────┤                  v
//!  IMAP upstream ─┤   (+ addresses) └──────────────── Gone (every read/write fails)
//!  IMAP importer ─┘
//! ```
//!
//! Like pingora's `Stream`, it carries what is known about the connection
//! (peer and local address, TLS version and cipher), so a session needs no
//! second channel for them and an upgrade keeps them. The coming POP3
//! proxy, interception listeners (whose original destination is read from
//! the accepted socket) and the web listener reuse it instead of writing
//! their own.
//!
//! The socket type is a parameter (`TcpStream` unless said otherwise), so
//! sessions stay generic over it and `tokio::io::duplex` in tests runs the
//! same code as TCP; a read or write is one `match` and a direct call, with
//! no dynamic dispatch on the hot path.
//!
//! Below the protocols: this module uses [`crate::tls`] and the archive's
//! [`TlsInfo`], nothing above them. Outside tests it is the only module
//! that knows tokio-rustls.

use std::fmt;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::CommonState;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

use crate::archive::record::TlsInfo;

#[cfg(test)]
pub(crate) mod tests;

/// What a [`Stream`] runs over in a session of its own task: a TCP
/// socket, or an in-memory duplex in tests.
pub trait Socket: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Socket for T {}

/// A connection in either direction, plain or TLS.
pub struct Stream<S = TcpStream> {
    /// What the bytes travel through now.
    layer: Layer<S>,
    /// The other end, when the socket has an address (in-memory streams
    /// have none).
    peer: Option<SocketAddr>,
    /// This end; on a TPROXY socket it is the address the client meant.
    local: Option<SocketAddr>,
}

/// What a connection's bytes travel through, in the order it goes.
enum Layer<S> {
    /// No TLS (yet).
    Plain(S),
    /// TLS as server or client (boxed: the rustls state is large, and a
    /// session moves its stream around).
    Tls(Box<TlsStream<S>>),
    /// Taken apart by a TLS handshake that failed or was abandoned.
    Gone,
}

impl Stream {
    /// An accepted or connected TCP socket; its addresses are kept.
    pub fn tcp(tcp: TcpStream) -> Stream {
        Stream {
            peer: tcp.peer_addr().ok(),
            local: tcp.local_addr().ok(),
            layer: Layer::Plain(tcp),
        }
    }

    /// Connects over TCP with Nagle off: mail protocols exchange small,
    /// latency-bound commands and replies.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<Stream> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        Ok(Stream::tcp(tcp))
    }
}

impl<S> Stream<S> {
    /// Any other stream (an in-memory duplex in tests); it has no addresses.
    pub fn new(io: S) -> Stream<S> {
        Stream {
            layer: Layer::Plain(io),
            peer: None,
            local: None,
        }
    }

    /// The other end's address, when known.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// This end's address, when known.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }

    /// True once a TLS handshake succeeded.
    pub fn is_tls(&self) -> bool {
        matches!(self.layer, Layer::Tls(_))
    }

    /// Version and cipher of the TLS layer, once there is one.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        match &self.layer {
            Layer::Tls(tls) => Some(info(tls.get_ref().1)),
            Layer::Plain(_) | Layer::Gone => None,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream<S> {
    /// The TLS handshake as the server (implicit TLS, or after answering
    /// STARTTLS). On failure, or when the future is dropped midway (a
    /// timeout), the stream is gone and the session must end.
    pub async fn accept_tls(&mut self, config: Arc<rustls::ServerConfig>) -> io::Result<TlsInfo> {
        let plain = self.take_plain()?;
        let tls = TlsAcceptor::from(config).accept(plain).await?;
        Ok(self.secured(TlsStream::Server(tls)))
    }

    /// The TLS handshake as the client, checking that the server's
    /// certificate names `name`; failure as in [`Stream::accept_tls`].
    pub async fn connect_tls(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    ) -> io::Result<TlsInfo> {
        let plain = self.take_plain()?;
        let tls = TlsConnector::from(config).connect(name, plain).await?;
        Ok(self.secured(TlsStream::Client(tls)))
    }

    /// The plain stream for a handshake, leaving `Gone` in its place; a
    /// stream that is not plain is refused and left as it was.
    fn take_plain(&mut self) -> io::Result<S> {
        match std::mem::replace(&mut self.layer, Layer::Gone) {
            Layer::Plain(plain) => Ok(plain),
            other => {
                self.layer = other;
                Err(io::Error::other(
                    "TLS requested on a stream that is not plain",
                ))
            }
        }
    }

    fn secured(&mut self, tls: TlsStream<S>) -> TlsInfo {
        let info = info(tls.get_ref().1);
        self.layer = Layer::Tls(Box::new(tls));
        info
    }

    /// Reads one line (through its LF) a byte at a time, so nothing after
    /// it is taken from the stream: the next bytes may be a TLS handshake.
    /// Only for the few lines exchanged before a relay starts.
    pub async fn read_line(&mut self, max: usize) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        loop {
            let mut byte = [0u8];
            if self.read(&mut byte).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            line.push(byte[0]);
            if byte[0] == b'\n' {
                return Ok(line);
            }
            if line.len() >= max {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
        }
    }
}

/// What archive records keep of a handshake; never absent once it is done.
fn info(conn: &CommonState) -> TlsInfo {
    crate::tls::tls_info(conn).unwrap_or_else(|| TlsInfo {
        version: "unknown".to_owned(),
        cipher: "unknown".to_owned(),
    })
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "connection lost in a TLS handshake",
    )
}

impl<S> fmt::Debug for Stream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layer = match self.layer {
            Layer::Plain(_) => "plain",
            Layer::Tls(_) => "tls",
            Layer::Gone => "gone",
        };
        f.debug_struct("Stream")
            .field("layer", &layer)
            .field("peer", &self.peer)
            .field("local", &self.local)
            .finish()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().layer {
            Layer::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Layer::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Layer::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().layer {
            Layer::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Layer::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Layer::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().layer {
            Layer::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Layer::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            Layer::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.layer {
            Layer::Plain(s) => s.is_write_vectored(),
            Layer::Tls(s) => s.is_write_vectored(),
            Layer::Gone => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().layer {
            Layer::Plain(s) => Pin::new(s).poll_flush(cx),
            Layer::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Layer::Gone => Poll::Ready(Err(gone())),
        }
    }

    /// Nothing is left to close on a stream that is gone.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().layer {
            Layer::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Layer::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Layer::Gone => Poll::Ready(Ok(())),
        }
    }
}
