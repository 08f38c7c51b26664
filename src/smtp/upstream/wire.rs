//! The upstream connection's bytes: a stream that is plain or TLS (and can
//! turn from one into the other), replies read off it with their raw
//! bytes kept, and whole writes. No timeouts here; the client adds them.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use memchr::memchr;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::{UpstreamError, UpstreamReply};
use crate::archive::record::TlsInfo;
use crate::smtp::reply::{MAX_REPLY_LINE, ReplyParser};

/// The stream under the session, before or after TLS.
enum Conn<S> {
    /// Unencrypted.
    Plain(S),
    /// Encrypted (boxed: the rustls state is large).
    Tls(Box<TlsStream<S>>),
    /// Taken apart by a TLS upgrade that failed; unusable.
    Gone,
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "connection lost in a TLS upgrade",
    )
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Conn<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Conn<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// Reads replies and writes commands on one connection.
pub(super) struct Wire<S> {
    /// The connection.
    conn: Conn<S>,
    /// Bytes received that are not yet part of a complete reply line.
    inbuf: Vec<u8>,
    /// The reply being assembled line by line.
    parser: ReplyParser,
    /// The raw bytes of the lines of the reply being assembled.
    raw: Vec<u8>,
    /// Largest reply accepted, all lines together.
    max_reply: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<S> {
    /// A plain connection.
    pub fn new(stream: S, max_reply: usize) -> Wire<S> {
        Wire {
            conn: Conn::Plain(stream),
            inbuf: Vec::new(),
            parser: ReplyParser::new(),
            raw: Vec::new(),
            max_reply,
        }
    }

    /// Reads the next complete reply.
    pub async fn read_reply(&mut self) -> Result<UpstreamReply, UpstreamError> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(reply) = self.take_reply()? {
                return Ok(reply);
            }
            let n = self.conn.read(&mut chunk).await?;
            if n == 0 {
                return Err(UpstreamError::Closed);
            }
            self.inbuf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Hands the buffered complete lines to the parser one at a time, so
    /// the raw bytes of exactly one reply are known when it completes.
    fn take_reply(&mut self) -> Result<Option<UpstreamReply>, UpstreamError> {
        while let Some(lf) = memchr(b'\n', &self.inbuf) {
            let mut line: Vec<u8> = self.inbuf.drain(..=lf).collect();
            self.raw.extend_from_slice(&line);
            if self.raw.len() > self.max_reply {
                return Err(UpstreamError::ReplyTooLarge(self.max_reply));
            }
            if let Some(reply) = self.parser.next_reply(&mut line)? {
                let raw = std::mem::take(&mut self.raw);
                return Ok(Some(UpstreamReply { reply, raw }));
            }
        }
        if self.inbuf.len() > MAX_REPLY_LINE {
            return Err(crate::smtp::reply::ReplyError::TooLong.into());
        }
        Ok(None)
    }

    /// True when bytes arrived that belong to no reply read so far.
    pub fn has_buffered(&self) -> bool {
        !self.inbuf.is_empty()
    }

    /// Writes all of `bytes` and flushes them onto the network.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), UpstreamError> {
        self.conn.write_all(bytes).await?;
        self.conn.flush().await?;
        Ok(())
    }

    /// Runs the TLS handshake on the plain connection (implicit TLS, or
    /// after `220` to STARTTLS) and reports what was negotiated.
    pub async fn upgrade(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<TlsInfo, UpstreamError> {
        let Conn::Plain(stream) = std::mem::replace(&mut self.conn, Conn::Gone) else {
            return Err(UpstreamError::Tls(io::Error::other(
                "connection is not plain text",
            )));
        };
        let tls = TlsConnector::from(config)
            .connect(name, stream)
            .await
            .map_err(UpstreamError::Tls)?;
        let info = crate::tls::tls_info(tls.get_ref().1).unwrap_or(TlsInfo {
            version: "unknown".to_owned(),
            cipher: "unknown".to_owned(),
        });
        self.conn = Conn::Tls(Box::new(tls));
        Ok(info)
    }

    /// Closes the sending side (TLS close_notify, then FIN), ignoring errors:
    /// the session is over either way.
    pub async fn shutdown(&mut self) {
        let _ = self.conn.shutdown().await;
    }
}
