//! Content frames: message bytes, compressed, named by their SHA-256.
//!
//! `C` payload: `sha256 (32) | original size (u64 BE) | codec (u8) | data`.
//! Codec 0 stores the bytes as they are, codec 1 is one zstd frame. A content
//! is compressed (and, for an `E` frame, encrypted with its own data key,
//! [`super::crypt`]) before it reaches the writer thread, so that work runs
//! on every core while the writer only writes and syncs.
//!
//! `E` payload (format 2.3): the same 41 bytes, then `cipher (u8) | key slot
//! (u64 BE) | SHA-256 of the ciphertext (32) | ciphertext`.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::spool::SpooledContent;
use crate::keystore::DataKey;

/// Bytes before the data in a content payload.
pub const CONTENT_HEAD_LEN: u64 = 41;
/// Bytes before the ciphertext in an encrypted content payload.
pub const ENCRYPTED_HEAD_LEN: u64 = 82;
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
    /// The encoded bytes (encrypted when `encrypted` is set).
    pub data: Data,
    /// The data key and the ciphertext's hash, for an `E` frame.
    pub encrypted: Option<Encrypted>,
}

/// How a prepared content was encrypted.
pub struct Encrypted {
    /// The key store slot of the content's own data key (already durable:
    /// [`crate::keystore::Reserve`]).
    pub slot: u64,
    /// SHA-256 of the ciphertext.
    pub cipher_sha256: [u8; 32],
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
        plain_head(&self.sha256, self.size, self.codec)
    }

    /// The first bytes of the `E` payload, when the content is encrypted.
    pub fn encrypted_head(&self) -> Option<[u8; ENCRYPTED_HEAD_LEN as usize]> {
        let e = self.encrypted.as_ref()?;
        let mut h = [0u8; ENCRYPTED_HEAD_LEN as usize];
        h[..42].copy_from_slice(&aad_head(&self.head()));
        h[42..50].copy_from_slice(&e.slot.to_be_bytes());
        h[50..82].copy_from_slice(&e.cipher_sha256);
        Some(h)
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

/// Compresses a spooled content (level 0 = store) and, when a `key` (a
/// durable key store slot and its key) is given, seals it with that key.
pub fn prepare(
    content: SpooledContent,
    level: i32,
    tmp_dir: &Path,
    key: Option<(u64, DataKey)>,
) -> io::Result<Prepared> {
    let p = compress_content(content, level, tmp_dir)?;
    match key {
        Some((slot, key)) => seal(p, tmp_dir, slot, key.as_bytes()),
        None => Ok(p),
    }
}

/// Encrypts the encoded data of `p` with the data key in `slot`.
fn seal(mut p: Prepared, tmp_dir: &Path, slot: u64, key: &[u8; 32]) -> io::Result<Prepared> {
    let aad = aad_head(&p.head());
    let (data, sealed) = match &mut p.data {
        Data::Memory(v) => {
            let mut out = Vec::with_capacity(
                v.len() + super::crypt::TAG * (v.len() / super::crypt::CHUNK + 1),
            );
            let sealed = super::crypt::encrypt(key, &aad, v.len() as u64, &mut &v[..], &mut out)?;
            (Data::Memory(out), sealed)
        }
        Data::File(f, len) => {
            f.seek(SeekFrom::Start(0))?;
            let mut out = io::BufWriter::new(tempfile::tempfile_in(tmp_dir)?);
            let sealed =
                super::crypt::encrypt(key, &aad, *len, &mut io::BufReader::new(&*f), &mut out)?;
            let file = out.into_inner().map_err(|e| e.into_error())?;
            (Data::File(file, sealed.len), sealed)
        }
    };
    p.data = data;
    p.encrypted = Some(Encrypted {
        slot,
        cipher_sha256: sealed.sha256,
    });
    Ok(p)
}

fn plain_head(sha256: &[u8; 32], size: u64, codec: u8) -> [u8; CONTENT_HEAD_LEN as usize] {
    let mut h = [0u8; CONTENT_HEAD_LEN as usize];
    h[..32].copy_from_slice(sha256);
    h[32..40].copy_from_slice(&size.to_be_bytes());
    h[40] = codec;
    h
}

/// The `E` head bytes the chunks authenticate: the plain head and the cipher.
fn aad_head(plain: &[u8; CONTENT_HEAD_LEN as usize]) -> [u8; super::crypt::AAD_HEAD_LEN] {
    let mut h = [0u8; super::crypt::AAD_HEAD_LEN];
    h[..41].copy_from_slice(plain);
    h[41] = super::crypt::CIPHER_CHACHA_CHUNKED;
    h
}

/// Compresses a spooled content (level 0 = store).
fn compress_content(
    mut content: SpooledContent,
    level: i32,
    tmp_dir: &Path,
) -> io::Result<Prepared> {
    let sha256 = content.sha256;
    let size = content.size;
    if level == 0 {
        return Ok(match content.as_memory() {
            Some(bytes) => Prepared {
                sha256,
                size,
                codec: CODEC_STORED,
                data: Data::Memory(bytes.to_vec()),
                encrypted: None,
            },
            None => {
                let mut f = tempfile::tempfile_in(tmp_dir)?;
                io::copy(&mut content.reader()?, &mut f)?;
                Prepared {
                    sha256,
                    size,
                    codec: CODEC_STORED,
                    data: Data::File(f, size),
                    encrypted: None,
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
                encrypted: None,
            }
        } else {
            Prepared {
                sha256,
                size,
                codec: CODEC_STORED,
                data: Data::Memory(bytes.to_vec()),
                encrypted: None,
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
            encrypted: None,
        });
    }
    let mut raw = tempfile::tempfile_in(tmp_dir)?;
    io::copy(&mut content.reader()?, &mut raw)?;
    Ok(Prepared {
        sha256,
        size,
        codec: CODEC_STORED,
        data: Data::File(raw, size),
        encrypted: None,
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

/// The fields an `E` payload adds to the plain head.
#[derive(Debug, Clone, Copy)]
pub struct EncryptedHead {
    /// The cipher byte.
    pub cipher: u8,
    /// The key store slot of the content's data key.
    pub slot: u64,
    /// SHA-256 of the ciphertext that follows.
    pub cipher_sha256: [u8; 32],
}

/// Reads an `E` payload's head.
pub fn read_encrypted_head(r: &mut impl Read) -> io::Result<(ContentHead, EncryptedHead)> {
    let head = read_head(r)?;
    let mut rest = [0u8; (ENCRYPTED_HEAD_LEN - CONTENT_HEAD_LEN) as usize];
    r.read_exact(&mut rest)?;
    let mut slot = [0u8; 8];
    slot.copy_from_slice(&rest[1..9]);
    let mut cipher_sha256 = [0u8; 32];
    cipher_sha256.copy_from_slice(&rest[9..41]);
    Ok((
        head,
        EncryptedHead {
            cipher: rest[0],
            slot: u64::from_be_bytes(slot),
            cipher_sha256,
        },
    ))
}

/// Decrypts `len` bytes of ciphertext that follow an `E` head with the
/// content's data key, decodes them into `out` and hashes the result.
pub fn decode_encrypted<W: Write + ?Sized>(
    head: &ContentHead,
    enc: &EncryptedHead,
    key: &[u8; 32],
    len: u64,
    data: &mut impl Read,
    out: &mut W,
) -> io::Result<Decoded> {
    if enc.cipher != super::crypt::CIPHER_CHACHA_CHUNKED {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unknown content cipher {}", enc.cipher),
        ));
    }
    let aad = aad_head(&plain_head(&head.sha256, head.size, head.codec));
    let mut hashing = HashingWriter {
        inner: out,
        hasher: Sha256::new(),
        size: 0,
    };
    match head.codec {
        CODEC_STORED => super::crypt::decrypt(key, &aad, len, data, &mut hashing)?,
        CODEC_ZSTD => {
            let mut dec = zstd::stream::write::Decoder::new(&mut hashing)?;
            super::crypt::decrypt(key, &aad, len, data, &mut dec)?;
            dec.flush()?;
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
