//! The byte streams a session runs over: plain TCP, TLS on either leg, or an
//! in-memory duplex in tests, all behind one boxed type so STARTTLS can swap
//! a plain stream for an encrypted one mid-session.

use std::fmt::Debug;
use std::io;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite};

/// Anything a session can talk over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Debug {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Io for T {}

/// A boxed [`Io`].
pub type BoxIo = Box<dyn Io>;

/// Reads one line (through its LF) a byte at a time, so nothing after it is
/// taken from the stream (the next bytes may be a TLS handshake). Only for
/// the few lines exchanged before the relay starts.
pub async fn read_line(io: &mut BoxIo, max: usize) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    loop {
        let mut byte = [0u8];
        if io.read(&mut byte).await? == 0 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt as _;

    #[tokio::test]
    async fn read_line_stops_at_the_line_end() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut a: BoxIo = Box::new(a);
        b.write_all(b"* OK hi\r\nrest").await.unwrap();
        assert_eq!(read_line(&mut a, 100).await.unwrap(), b"* OK hi\r\n");
        let mut rest = [0u8; 4];
        a.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"rest");
        b.write_all(b"0123456789").await.unwrap();
        assert!(read_line(&mut a, 5).await.is_err());
    }
}
