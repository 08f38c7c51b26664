//! Encryption of contents and of a record's personal fields
//! (archive format 2.3).
//!
//! Every content is sealed with its own random 256-bit data key and every
//! message record's personal fields with a record key of their own, both
//! ChaCha20-Poly1305. Destroying a key in the key store
//! ([`crate::keystore`]) is how a message is deleted: the segments, which are
//! never rewritten, then hold only ciphertext nobody can open.
//!
//! The chunks of a content go through *ring*'s ChaCha20-Poly1305 (RFC 8439,
//! assembly for the CPU at hand), more than twice as fast as the portable
//! implementation on the ingest path; the few bytes of sealed fields and
//! key wrapping use RustCrypto's, as does the standalone verifier, so two
//! independent implementations must agree on every content (a test here
//! checks they do).
//!
//! A content is cut into chunks of [`CHUNK`] bytes, so neither side needs the
//! whole message in memory. A data key seals exactly one content, so the
//! chunk number is a safe nonce; the last chunk (shorter than [`CHUNK`],
//! possibly empty) is marked in its associated data, so cutting chunks off
//! the end is detected. This module does no file handling beyond the
//! streams it is given.

use std::io::{self, Read, Write};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Plaintext bytes per chunk of an encrypted content.
pub const CHUNK: usize = 65_536;
/// Bytes an AEAD tag adds to each chunk.
pub const TAG: usize = 16;
/// The cipher byte of an `E` frame: ChaCha20-Poly1305 in [`CHUNK`]s.
pub const CIPHER_CHACHA_CHUNKED: u8 = 1;
/// Bytes of the `E` head the chunks authenticate (hash, size, codec, cipher).
pub const AAD_HEAD_LEN: usize = 42;

fn cipher(key: &[u8; 32]) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(Key::from_slice(key))
}

/// The cipher of a content's chunks.
struct Chunks(ring::aead::LessSafeKey);

impl Chunks {
    fn new(key: &[u8; 32]) -> io::Result<Chunks> {
        ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, key)
            .map(|k| Chunks(ring::aead::LessSafeKey::new(k)))
            .map_err(|_| io::Error::other("the data key was refused by the cipher"))
    }

    /// Seals `buf[..len]` in place and appends the tag (`buf` has room).
    fn seal(&self, i: u64, aad: &[u8], buf: &mut [u8], len: usize) -> io::Result<usize> {
        let tag = self
            .0
            .seal_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(chunk_nonce(i)),
                ring::aead::Aad::from(aad),
                &mut buf[..len],
            )
            .map_err(|_| io::Error::other("encryption failed"))?;
        buf[len..len + TAG].copy_from_slice(tag.as_ref());
        Ok(len + TAG)
    }

    /// Opens a sealed chunk in place; the plaintext is the returned slice.
    fn open<'b>(&self, i: u64, aad: &[u8], sealed: &'b mut [u8]) -> io::Result<&'b [u8]> {
        self.0
            .open_in_place(
                ring::aead::Nonce::assume_unique_for_key(chunk_nonce(i)),
                ring::aead::Aad::from(aad),
                sealed,
            )
            .map(|plain| &*plain)
            .map_err(|_| refused(&format!("chunk {i} does not authenticate")))
    }
}

fn chunk_nonce(i: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&i.to_be_bytes());
    n
}

fn chunk_aad(head: &[u8; AAD_HEAD_LEN], last: bool) -> [u8; AAD_HEAD_LEN + 1] {
    let mut aad = [0u8; AAD_HEAD_LEN + 1];
    aad[..AAD_HEAD_LEN].copy_from_slice(head);
    aad[AAD_HEAD_LEN] = u8::from(last);
    aad
}

fn refused(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// What [`encrypt`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sealed {
    /// SHA-256 of the ciphertext, as the `E` head and the record name it.
    pub sha256: [u8; 32],
    /// Length of the ciphertext.
    pub len: u64,
}

/// Reads the `len` bytes of `input` and writes them to `out` sealed in
/// chunks; `input` holding fewer or more bytes is an error.
pub fn encrypt(
    key: &[u8; 32],
    head: &[u8; AAD_HEAD_LEN],
    len: u64,
    input: &mut impl Read,
    out: &mut impl Write,
) -> io::Result<Sealed> {
    let c = Chunks::new(key)?;
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    // The plaintext is sealed where it lies. The buffer is not wiped: the
    // caller's copy of the plaintext is not either, and wiping 64 kB a
    // byte at a time cost as much as the cipher.
    let mut buf = vec![0u8; chunk_len(len) + TAG];
    let mut rest = len;
    let mut i = 0u64;
    loop {
        // A full chunk is never the last one: the last is always shorter
        // (possibly empty), so a reader knows where the content ends.
        let n = chunk_len(rest);
        let last = n < CHUNK;
        input.read_exact(&mut buf[..n])?;
        let sealed = c.seal(i, &chunk_aad(head, last), &mut buf, n)?;
        hasher.update(&buf[..sealed]);
        out.write_all(&buf[..sealed])?;
        written += sealed as u64;
        rest -= n as u64;
        if last {
            if input.read(&mut [0u8; 1])? != 0 {
                return Err(io::Error::other("content longer than its size"));
            }
            return Ok(Sealed {
                sha256: hasher.finalize().into(),
                len: written,
            });
        }
        i += 1;
    }
}

/// Plaintext bytes of the next chunk when `rest` bytes are left.
fn chunk_len(rest: u64) -> usize {
    usize::try_from(rest).map_or(CHUNK, |r| r.min(CHUNK))
}

/// Opens `len` bytes of chunks from `input` into `out`; every tag must
/// check and the last chunk must be where `len` says.
pub fn decrypt(
    key: &[u8; 32],
    head: &[u8; AAD_HEAD_LEN],
    len: u64,
    input: &mut impl Read,
    out: &mut dyn Write,
) -> io::Result<()> {
    let c = Chunks::new(key)?;
    let mut rest = len;
    // Not wiped, like the caller's copy of the plaintext (see `encrypt`).
    let mut buf = vec![0u8; usize::try_from(len).map_or(CHUNK + TAG, |l| l.min(CHUNK + TAG))];
    let mut i = 0u64;
    loop {
        let last = rest < (CHUNK + TAG) as u64;
        let take = if last { rest as usize } else { CHUNK + TAG };
        if take < TAG {
            return Err(refused("encrypted content ends inside a chunk"));
        }
        input.read_exact(&mut buf[..take])?;
        let plain = c.open(i, &chunk_aad(head, last), &mut buf[..take])?;
        out.write_all(plain)?;
        rest -= take as u64;
        if last {
            return Ok(());
        }
        i += 1;
    }
}

/// Hashes `len` ciphertext bytes from `input` (verification without the key).
pub fn hash_ciphertext(len: u64, input: &mut impl Read) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let copied = io::copy(&mut input.take(len), &mut HashSink(&mut hasher))?;
    if copied != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "ciphertext shorter than its frame says",
        ));
    }
    Ok(hasher.finalize().into())
}

struct HashSink<'a>(&'a mut Sha256);

impl Write for HashSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Fields sealed under a key of the key store (format 2.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedFields {
    /// The key store slot holding the key (a record key).
    pub slot: u64,
    /// Lowercase hex of the 12-byte nonce.
    pub nonce: String,
    /// Base64 of the ciphertext and its tag.
    pub data: String,
}

/// The associated data that binds sealed fields to their record.
fn fields_aad(seq: u64) -> Vec<u8> {
    format!("mailseal record {seq}").into_bytes()
}

/// Seals `plain` (a record's personal fields as JSON) for record `seq`:
/// returns the random nonce and the ciphertext with its tag.
pub fn seal_fields(key: &[u8; 32], seq: u64, plain: &[u8]) -> io::Result<([u8; 12], Vec<u8>)> {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher(key)
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: &fields_aad(seq),
            },
        )
        .map_err(|_| io::Error::other("encryption failed"))?;
    Ok((nonce, sealed))
}

/// Opens fields sealed by [`seal_fields`] for record `seq`.
pub fn open_fields(
    key: &[u8; 32],
    seq: u64,
    nonce: &[u8; 12],
    sealed: &[u8],
) -> io::Result<Zeroizing<Vec<u8>>> {
    cipher(key)
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: &fields_aad(seq),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| {
            refused(&format!(
                "sealed fields of record {seq} do not authenticate"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh random 256-bit key (the archive's come from the key store).
    fn random_key() -> Zeroizing<[u8; 32]> {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut k[..]);
        k
    }

    fn round_trip(n: usize) {
        let key = random_key();
        let head = [7u8; AAD_HEAD_LEN];
        let plain: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        let mut ct = Vec::new();
        let s = encrypt(&key, &head, n as u64, &mut &plain[..], &mut ct).unwrap();
        assert_eq!(s.len, ct.len() as u64);
        assert_eq!(ct.len(), n + TAG * (n / CHUNK + 1));
        assert_eq!(s.sha256, <[u8; 32]>::from(Sha256::digest(&ct)));
        assert_eq!(hash_ciphertext(s.len, &mut &ct[..]).unwrap(), s.sha256);
        let mut back = Vec::new();
        decrypt(&key, &head, s.len, &mut &ct[..], &mut back).unwrap();
        assert_eq!(back, plain);
    }

    #[test]
    fn contents_of_every_chunk_boundary_round_trip() {
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17] {
            round_trip(n);
        }
    }

    #[test]
    fn a_content_shorter_or_longer_than_its_size_is_refused() {
        let key = random_key();
        let head = [7u8; AAD_HEAD_LEN];
        let plain = vec![5u8; CHUNK + 10];
        for len in [CHUNK as u64 + 11, CHUNK as u64 + 9, CHUNK as u64, 0] {
            let r = encrypt(&key, &head, len, &mut &plain[..], &mut Vec::new());
            assert!(r.is_err(), "size {len}");
        }
    }

    #[test]
    fn tampering_truncation_and_a_wrong_key_are_refused() {
        let key = random_key();
        let head = [1u8; AAD_HEAD_LEN];
        let plain = vec![9u8; 2 * CHUNK + 5];
        let mut ct = Vec::new();
        encrypt(&key, &head, plain.len() as u64, &mut &plain[..], &mut ct).unwrap();
        let open = |key: &[u8; 32], head: &[u8; AAD_HEAD_LEN], ct: &[u8]| {
            decrypt(key, head, ct.len() as u64, &mut &ct[..], &mut Vec::new())
        };
        assert!(open(&key, &head, &ct).is_ok());
        let mut flipped = ct.clone();
        flipped[CHUNK + 3] ^= 1;
        assert!(open(&key, &head, &flipped).is_err());
        // Dropping the last chunk makes a full chunk the last: refused.
        assert!(open(&key, &head, &ct[..2 * (CHUNK + TAG)]).is_err());
        assert!(open(&random_key(), &head, &ct).is_err());
        let mut other = head;
        other[40] = 0;
        assert!(open(&key, &other, &ct).is_err());
    }

    /// The chunks are sealed by *ring*; RustCrypto's implementation (the
    /// one the standalone verifier uses) must open them, and seal the same.
    #[test]
    fn ring_and_rustcrypto_agree_on_every_chunk() {
        let key = random_key();
        let head = [3u8; AAD_HEAD_LEN];
        let plain: Vec<u8> = (0..2 * CHUNK + 99).map(|i| (i % 241) as u8).collect();
        let mut ct = Vec::new();
        encrypt(&key, &head, plain.len() as u64, &mut &plain[..], &mut ct).unwrap();
        let rc = cipher(&key);
        let mut back = Vec::new();
        for (i, chunk) in ct.chunks(CHUNK + TAG).enumerate() {
            let last = chunk.len() < CHUNK + TAG;
            let nonce = chunk_nonce(i as u64);
            let aad = chunk_aad(&head, last);
            let opened = rc
                .decrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: chunk,
                        aad: &aad,
                    },
                )
                .unwrap();
            let again = rc
                .encrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: &opened,
                        aad: &aad,
                    },
                )
                .unwrap();
            assert_eq!(again, chunk);
            back.extend_from_slice(&opened);
        }
        assert_eq!(back, plain);
    }

    #[test]
    fn sealed_fields_are_bound_to_their_record() {
        let key = random_key();
        let (nonce, ct) = seal_fields(&key, 5, b"{\"peer\":\"1.2.3.4\"}").unwrap();
        assert_eq!(
            &open_fields(&key, 5, &nonce, &ct).unwrap()[..],
            b"{\"peer\":\"1.2.3.4\"}"
        );
        assert!(open_fields(&key, 6, &nonce, &ct).is_err());
        assert!(open_fields(&random_key(), 5, &nonce, &ct).is_err());
    }
}
