//! Frames over a byte stream: [`FrameReader`] and [`FrameWriter`], generic
//! over tokio's `AsyncRead`/`AsyncWrite` so the daemon's sessions and the
//! client run the same code on a Unix socket and, in tests, on
//! `tokio::io::duplex`.

use std::io;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};

use super::protocol::{self, Frame, ProtocolError};

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The socket failed.
    #[error("control socket: {0}")]
    Io(#[from] io::Error),
    /// The peer sent something that is not a valid frame.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The peer closed the connection in the middle of a frame.
    #[error("the connection closed in the middle of a frame")]
    Truncated,
}

/// Reads frames from `R`.
pub struct FrameReader<R> {
    /// The stream.
    inner: R,
    /// Bytes read but not yet parsed.
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Frames from `inner`.
    pub fn new(inner: R) -> FrameReader<R> {
        FrameReader {
            inner,
            buf: Vec::with_capacity(protocol::CHUNK + protocol::PREFIX_LEN),
        }
    }

    /// The next frame; `None` when the peer closed between frames.
    pub async fn read(&mut self) -> Result<Option<Frame>, WireError> {
        loop {
            if let Some((frame, used)) = protocol::parse(&self.buf)? {
                self.buf.drain(..used);
                return Ok(Some(frame));
            }
            // `parse` refused oversize lengths, so the buffer stays bounded.
            if self.inner.read_buf(&mut self.buf).await? == 0 {
                return match self.buf.is_empty() {
                    true => Ok(None),
                    false => Err(WireError::Truncated),
                };
            }
        }
    }
}

/// Writes frames to `W`, buffered: [`FrameWriter::flush`] before waiting
/// for the peer.
pub struct FrameWriter<W: AsyncWrite> {
    /// The buffered stream.
    inner: BufWriter<W>,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// Frames to `inner`.
    pub fn new(inner: W) -> FrameWriter<W> {
        FrameWriter {
            inner: BufWriter::with_capacity(256 * 1024, inner),
        }
    }

    /// Queues one frame.
    pub async fn write<T: Serialize>(&mut self, header: &T, body: &[u8]) -> Result<(), WireError> {
        let bytes = protocol::encode(header, body)?;
        self.inner.write_all(&bytes).await?;
        Ok(())
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> Result<(), WireError> {
        self.inner.flush().await?;
        Ok(())
    }

    /// Queues one frame and sends everything.
    pub async fn send<T: Serialize>(&mut self, header: &T, body: &[u8]) -> Result<(), WireError> {
        self.write(header, body).await?;
        self.flush().await
    }

    /// Flushes and shuts the write side down.
    pub async fn shutdown(&mut self) -> Result<(), WireError> {
        self.inner.shutdown().await?;
        Ok(())
    }
}
