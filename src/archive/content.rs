//! Content frames: message bytes, compressed, named by their SHA-256.
//!
//! Payload: `sha256 (32) | original size (u64 BE) | codec (u8) | data`.
//! Codec 0 stores the bytes as they are, codec 1 is one zstd frame. A content
//! is compressed before it reaches the writer thread, so compression runs on
//! every core while the writer only writes and syncs.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::spool::SpooledContent;

/// Bytes before the data in a content payload.
pub const CONTENT_HEAD_LEN: u64 = 41;
/// Stored as is.
pub const CODEC_STORED: u8 = 0;
/// One zstd frame.
pub const CODEC_ZSTD: u8 = 1;

/// A content ready to be written.
pub struct Prepared {
    /// SHA-256 of the original bytes.
    pub sha256: [u8; 32],
    /// Length of the original bytes.
    pub size: u64,
    /// How `data` encodes them.
    pub codec: u8,
    /// The encoded bytes.
    pub data: Data,
}

/// Encoded bytes, in memory or in a temporary file.
pub enum Data {
    /// Small contents.
    Memory(Vec<u8>),
    /// Large contents: the file and its length.
    File(File, u64),
}

impl Prepared {
    /// Length of the encoded data.
    pub fn data_len(&self) -> u64 {
        match &self.data {
            Data::Memory(v) => v.len() as u64,
            Data::File(_, len) => *len,
        }
    }

    /// The payload's first bytes.
    pub fn head(&self) -> [u8; CONTENT_HEAD_LEN as usize] {
        let mut h = [0u8; CONTENT_HEAD_LEN as usize];
        h[..32].copy_from_slice(&self.sha256);
        h[32..40].copy_from_slice(&self.size.to_be_bytes());
        h[40] = self.codec;
        h
    }

    /// Writes the data to `out`, feeding the CRC as it goes.
    pub fn write_data(
        &mut self,
        out: &mut impl Write,
        crc: &mut crc32fast::Hasher,
    ) -> io::Result<()> {
        match &mut self.data {
            Data::Memory(v) => {
                crc.update(v);
                out.write_all(v)
            }
            Data::File(f, _) => {
                f.seek(SeekFrom::Start(0))?;
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        return Ok(());
                    }
                    crc.update(&buf[..n]);
                    out.write_all(&buf[..n])?;
                }
            }
        }
    }
}

/// Compresses a spooled content (level 0 = store).
pub fn prepare(mut content: SpooledContent, level: i32, tmp_dir: &Path) -> io::Result<Prepared> {
    let sha256 = content.sha256;
    let size = content.size;
    if level == 0 {
        return Ok(match content.as_memory() {
            Some(bytes) => Prepared {
                sha256,
                size,
                codec: CODEC_STORED,
                data: Data::Memory(bytes.to_vec()),
            },
            None => {
                let mut f = tempfile::tempfile_in(tmp_dir)?;
                io::copy(&mut content.reader()?, &mut f)?;
                Prepared {
                    sha256,
                    size,
                    codec: CODEC_STORED,
                    data: Data::File(f, size),
                }
            }
        });
    }
    if let Some(bytes) = content.as_memory() {
        let packed = compress(bytes, level)?;
        return Ok(if (packed.len() as u64) < size {
            Prepared {
                sha256,
                size,
                codec: CODEC_ZSTD,
                data: Data::Memory(packed),
            }
        } else {
            Prepared {
                sha256,
                size,
                codec: CODEC_STORED,
                data: Data::Memory(bytes.to_vec()),
            }
        });
    }
    let mut packed = tempfile::tempfile_in(tmp_dir)?;
    {
        let mut enc = zstd::stream::write::Encoder::new(&mut packed, level)?;
        io::copy(&mut content.reader()?, &mut enc)?;
        enc.finish()?;
    }
    let packed_len = packed.stream_position()?;
    if packed_len < size {
        return Ok(Prepared {
            sha256,
            size,
            codec: CODEC_ZSTD,
            data: Data::File(packed, packed_len),
        });
    }
    let mut raw = tempfile::tempfile_in(tmp_dir)?;
    io::copy(&mut content.reader()?, &mut raw)?;
    Ok(Prepared {
        sha256,
        size,
        codec: CODEC_STORED,
        data: Data::File(raw, size),
    })
}

thread_local! {
    /// This thread's zstd context and its level. Building a context and
    /// clearing its tables costs about as much as compressing a 100 kB
    /// message, so every thread that compresses keeps one.
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { RefCell::new(None) };
}

/// One zstd frame of `bytes` at `level`, with the thread's reused context.
fn compress(bytes: &[u8], level: i32) -> io::Result<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let compressor = match &mut *slot {
            Some((l, c)) if *l == level => c,
            _ => &mut slot.insert((level, zstd::bulk::Compressor::new(level)?)).1,
        };
        compressor.compress(bytes)
    })
}

/// A content payload's head, parsed.
#[derive(Debug, Clone, Copy)]
pub struct ContentHead {
    /// The SHA-256 the frame claims for its original bytes.
    pub sha256: [u8; 32],
    /// The original length.
    pub size: u64,
    /// The codec byte.
    pub codec: u8,
}

/// Reads a payload head.
pub fn read_head(r: &mut impl Read) -> io::Result<ContentHead> {
    let mut h = [0u8; CONTENT_HEAD_LEN as usize];
    r.read_exact(&mut h)?;
    let mut sha256 = [0u8; 32];
    sha256.copy_from_slice(&h[..32]);
    let mut sz = [0u8; 8];
    sz.copy_from_slice(&h[32..40]);
    Ok(ContentHead {
        sha256,
        size: u64::from_be_bytes(sz),
        codec: h[40],
    })
}

/// What decoding found.
pub struct Decoded {
    /// SHA-256 of the decoded bytes.
    pub sha256: [u8; 32],
    /// Number of decoded bytes.
    pub size: u64,
}

/// Decodes the data that follows a head into `out`, hashing it.
pub fn decode<W: Write + ?Sized>(
    head: &ContentHead,
    data: &mut impl Read,
    out: &mut W,
) -> io::Result<Decoded> {
    let mut hashing = HashingWriter {
        inner: out,
        hasher: Sha256::new(),
        size: 0,
    };
    match head.codec {
        CODEC_STORED => {
            io::copy(data, &mut hashing)?;
        }
        CODEC_ZSTD => {
            let mut dec = zstd::stream::read::Decoder::new(data)?;
            io::copy(&mut dec, &mut hashing)?;
        }
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unknown content codec {other}"),
            ));
        }
    }
    Ok(Decoded {
        sha256: hashing.hasher.finalize().into(),
        size: hashing.size,
    })
}

struct HashingWriter<'a, W: Write + ?Sized> {
    inner: &'a mut W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write + ?Sized> Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
