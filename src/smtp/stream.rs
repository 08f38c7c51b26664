//! The client connection of a session: plain, or TLS after STARTTLS.
//!
//! STARTTLS changes the stream's type in the middle of a session; wrapping
//! both forms in one enum keeps [`super::session::Session`] a single type
//! over any `AsyncRead + AsyncWrite` stream (TCP, implicit TLS, or
//! `tokio::io::duplex` in tests).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::archive::record::TlsInfo;

/// A stream that may have been upgraded to TLS.
pub enum MaybeTls<S> {
    /// Before STARTTLS (or without it).
    Plain(S),
    /// After a successful STARTTLS handshake.
    Tls(Box<TlsStream<S>>),
    /// Only during an upgrade, or after a failed handshake.
    Gone,
}

impl<S: AsyncRead + AsyncWrite + Unpin> MaybeTls<S> {
    /// Runs the TLS handshake on a plain stream. On failure the stream is
    /// gone and the session must end.
    pub async fn upgrade(&mut self, config: Arc<rustls::ServerConfig>) -> io::Result<TlsInfo> {
        let MaybeTls::Plain(plain) = std::mem::replace(self, MaybeTls::Gone) else {
            return Err(io::Error::other("STARTTLS on a stream that is not plain"));
        };
        let tls = TlsAcceptor::from(config).accept(plain).await?;
        let info = crate::tls::tls_info(tls.get_ref().1).unwrap_or_else(|| TlsInfo {
            version: "unknown".into(),
            cipher: "unknown".into(),
        });
        *self = MaybeTls::Tls(Box::new(tls));
        Ok(info)
    }

    /// True after STARTTLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, MaybeTls::Tls(_))
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection closed")
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTls<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            MaybeTls::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTls<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            MaybeTls::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            MaybeTls::Gone => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            MaybeTls::Gone => Poll::Ready(Ok(())),
        }
    }
}
