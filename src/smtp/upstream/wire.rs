//! The upstream connection's bytes: replies read off its
//! [`Stream`] (plain or TLS, upgraded in place) with their raw bytes kept,
//! and whole writes. No timeouts here; the client adds them.

use std::sync::Arc;

use memchr::memchr;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{UpstreamError, UpstreamReply};
use crate::archive::record::TlsInfo;
use crate::smtp::reply::{MAX_REPLY_LINE, ReplyParser};
use crate::transport::Stream;

/// Reads replies and writes commands on one connection.
pub(super) struct Wire<S> {
    /// The connection.
    conn: Stream<S>,
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
    /// Replies read off `conn`.
    pub fn new(conn: Stream<S>, max_reply: usize) -> Wire<S> {
        Wire {
            conn,
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
        self.conn
            .connect_tls(config, name)
            .await
            .map_err(UpstreamError::Tls)
    }

    /// The upstream's address, when the connection has one.
    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.conn.peer_addr()
    }

    /// Closes the sending side (TLS close_notify, then FIN), ignoring errors:
    /// the session is over either way.
    pub async fn shutdown(&mut self) {
        let _ = self.conn.shutdown().await;
    }
}
