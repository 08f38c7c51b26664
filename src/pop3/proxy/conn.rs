//! One leg of a POP3 session with its read buffer: lines for commands and
//! status lines, raw chunks for multi-line bodies. The buffer is visible,
//! so the session can tell whether a client sent anything after `STLS`
//! before the handshake (command injection) and refuse it.

use std::io;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::transport::{Socket, Stream};

/// How much one read asks the socket for.
const CHUNK: usize = 64 * 1024;

/// A stream and the bytes read from it but not yet used.
pub(super) struct Conn<S> {
    /// The leg.
    pub stream: Stream<S>,
    /// Bytes read ahead.
    buf: Vec<u8>,
    /// Where the unused bytes of `buf` start.
    pos: usize,
}

impl<S: Socket> Conn<S> {
    /// A leg with nothing read yet.
    pub fn new(stream: Stream<S>) -> Conn<S> {
        Conn {
            stream,
            buf: Vec::with_capacity(CHUNK),
            pos: 0,
        }
    }

    /// The bytes read ahead and not yet used.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Marks `n` buffered bytes as used.
    pub fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
    }

    /// Reads more from the stream; 0 means the peer closed. Cancel-safe
    /// (a timeout may drop it): bytes land in the buffer only once read.
    pub async fn fill(&mut self) -> io::Result<usize> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(CHUNK);
        self.stream.read_buf(&mut self.buf).await
    }

    /// The next line through its LF; `None` when the peer closed between
    /// lines. A line longer than `max` is an `InvalidData` error.
    pub async fn read_line(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        loop {
            let buffered = self.buffered();
            if let Some(at) = memchr::memchr(b'\n', buffered) {
                let line = buffered[..=at].to_vec();
                self.consume(at + 1);
                return Ok(Some(line));
            }
            if buffered.len() > max {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            if self.fill().await? == 0 {
                if self.buffered().is_empty() {
                    return Ok(None);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed mid-line",
                ));
            }
        }
    }

    /// Writes `bytes` and flushes (a TLS layer holds what is not flushed).
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }
}
