//! Content frames, checked on worker threads: `C` (decode, hash) and the
//! encrypted `E` of format 2.3 (its ciphertext against the hash in its
//! head; with the key store also every chunk's tag, then decode and hash).

use std::io::{self, Read};

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use sha2::{Digest, Sha256};

use crate::Hash;
use crate::keys::{self, KeyStore, NoKey};

/// The head of an `E` payload: bytes 0–81.
pub const E_HEAD: usize = 82;
/// Plaintext bytes per chunk, and the tag after each.
const CHUNK: usize = 65_536;
const TAG: usize = 16;

/// One content frame to check.
pub struct Job {
    /// Where the frame is, for messages.
    pub at: String,
    /// `C` or `E`.
    pub kind: u8,
    /// The frame's payload.
    pub payload: Vec<u8>,
}

/// What a worker found.
#[derive(Default)]
pub struct Checked {
    /// The content's SHA-256 when its frame checked out as far as the
    /// keys allow (a purged one included).
    pub sha: Option<Hash>,
    /// Bytes decoded and hashed.
    pub size: u64,
    /// Ciphertext bytes hashed (`E`).
    pub cipher_bytes: u64,
    /// What is wrong, with its place.
    pub problem: Option<String>,
    /// An `E` frame.
    pub encrypted: bool,
    /// An `E` frame whose key slot is destroyed: where it is. It is
    /// purged when a tombstone names the slot, else undecryptable; the
    /// tombstone usually comes later, so the walk decides at its end.
    pub destroyed: Option<String>,
    /// The `E` frame's key slot, to count slots no frame uses.
    pub slot: Option<u64>,
}

/// Checks one content frame; `store` is given with `--master-key`.
pub fn check(job: &Job, store: Option<&KeyStore>) -> Checked {
    let p = &job.payload;
    let head = if job.kind == b'E' { E_HEAD } else { 41 };
    let mut c = Checked {
        encrypted: job.kind == b'E',
        ..Checked::default()
    };
    let fail = |mut c: Checked, kind: &str, why: &dyn std::fmt::Display| {
        c.problem = Some(format!("{}: {kind}: {why}", job.at));
        c
    };
    if p.len() < head {
        return fail(c, "content-changed", &"too short");
    }
    let mut claimed = [0u8; 32];
    claimed.copy_from_slice(&p[..32]);
    let size = u64::from_be_bytes(p[32..40].try_into().unwrap_or_default());
    let codec = p[40];
    if job.kind == b'C' {
        return match decode(codec, size, &p[41..]) {
            Ok((h, n)) if n == size && h == claimed => Checked {
                sha: Some(claimed),
                size: n,
                ..c
            },
            Ok((_, n)) => fail(Checked { size: n, ..c }, "content-changed", &MISMATCH),
            Err(e) => fail(c, "content-changed", &e),
        };
    }
    let slot = u64::from_be_bytes(p[42..50].try_into().unwrap_or_default());
    c.slot = Some(slot);
    c.cipher_bytes = (p.len() - E_HEAD) as u64;
    let cipher = &p[E_HEAD..];
    if <[u8; 32]>::from(Sha256::digest(cipher)) != p[50..82] {
        return fail(c, "content-changed", &"ciphertext does not match its hash");
    }
    let Some(store) = store else {
        c.sha = Some(claimed);
        return c;
    };
    if p[41] != 1 {
        let why = format!("cipher {} is not known to this verifier", p[41]);
        return fail(c, "unsupported-version", &why);
    }
    let key = match store.key(slot, keys::CONTENT_KEY) {
        Ok(k) => k,
        Err(NoKey::Destroyed) => {
            c.destroyed = Some(job.at.clone());
            c.sha = Some(claimed);
            return c;
        }
        Err(NoKey::Unusable(why)) => return fail(c, "undecryptable", &why),
    };
    let mut plain = Chunks::new(key, &p[..42], cipher);
    let decoded = decode(codec, size, &mut plain);
    // Every tag is checked, also after the end of a zstd frame.
    let rest = io::copy(&mut plain, &mut io::sink());
    if let Some(why) = plain.failed {
        return fail(c, "undecryptable", &why);
    }
    match (decoded, rest) {
        (Ok((h, n)), Ok(0)) if n == size && h == claimed => Checked {
            sha: Some(claimed),
            size: n,
            ..c
        },
        (Ok((_, n)), Ok(0)) => fail(Checked { size: n, ..c }, "content-changed", &MISMATCH),
        (Ok(_), _) => fail(c, "content-changed", &"bytes after the encoded content"),
        (Err(e), _) => fail(c, "content-changed", &e),
    }
}

const MISMATCH: &str = "bytes do not match the content's SHA-256";

/// Decodes `encoded` by `codec` and hashes it: (SHA-256, length). Stops
/// once the bytes run past `size`.
fn decode<'r>(codec: u8, size: u64, encoded: impl Read + 'r) -> io::Result<(Hash, u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    let mut r: Box<dyn Read + 'r> = match codec {
        0 => Box::new(encoded),
        1 => Box::new(zstd::stream::read::Decoder::new(encoded)?),
        c => return Err(io::Error::other(format!("unknown codec {c}"))),
    };
    loop {
        let k = r.read(&mut buf)?;
        if k == 0 {
            return Ok((h.finalize().into(), n));
        }
        n += k as u64;
        if n > size {
            return Err(io::Error::other("longer than its size"));
        }
        h.update(&buf[..k]);
    }
}

/// The plaintext of an `E` ciphertext, chunk by chunk: chunk `i` has nonce
/// `i` (12 bytes big-endian) and AAD = head bytes 0–41 || 1 for the last
/// chunk, else 0. The last chunk is shorter than 65,536 bytes (possibly
/// empty), so a ciphertext cut at a chunk boundary fails.
struct Chunks<'a> {
    /// The content's data key.
    cipher: ChaCha20Poly1305,
    /// Head bytes 0–41 and the last-chunk byte.
    aad: [u8; 43],
    /// Ciphertext not yet opened.
    rest: &'a [u8],
    /// The next chunk's number.
    i: u64,
    /// The opened chunk, and how much of it was read.
    buf: Vec<u8>,
    pos: usize,
    /// The last chunk was opened.
    done: bool,
    /// Why a chunk did not open: set before the error is returned, since a
    /// decoder reading through us may replace the error with its own.
    failed: Option<String>,
}

impl<'a> Chunks<'a> {
    fn new(key: &[u8; 32], head: &[u8], cipher: &'a [u8]) -> Self {
        let mut aad = [0u8; 43];
        aad[..42].copy_from_slice(head);
        Chunks {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
            aad,
            rest: cipher,
            i: 0,
            buf: Vec::with_capacity(CHUNK),
            pos: 0,
            done: false,
            failed: None,
        }
    }

    fn next_chunk(&mut self) -> Result<(), String> {
        let last = self.rest.len() < CHUNK + TAG;
        if self.rest.len() < TAG {
            return Err(format!("ciphertext ends inside chunk {}", self.i));
        }
        let take = if last { self.rest.len() } else { CHUNK + TAG };
        let (chunk, rest) = self.rest.split_at(take);
        let (data, tag) = chunk.split_at(take - TAG);
        self.aad[42] = u8::from(last);
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&self.i.to_be_bytes());
        self.buf.clear();
        self.buf.extend_from_slice(data);
        self.cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                &self.aad,
                &mut self.buf,
                Tag::from_slice(tag),
            )
            .map_err(|_| format!("chunk {} does not decrypt: its tag fails", self.i))?;
        self.rest = rest;
        self.pos = 0;
        self.i += 1;
        self.done = last;
        Ok(())
    }
}

impl Read for Chunks<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.done || self.failed.is_some() {
                return match &self.failed {
                    Some(why) => Err(io::Error::other(why.clone())),
                    None => Ok(0),
                };
            }
            if let Err(why) = self.next_chunk() {
                self.failed = Some(why.clone());
                return Err(io::Error::other(why));
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
