//! `verify` of encrypted contents (format 2.3), at the two levels the
//! format document promises: without the master key, the ciphertext must
//! hash to what its frame and every record referencing it say; with it,
//! every chunk must authenticate and the plaintext must hash to the
//! content's SHA-256.

use std::path::Path;

use super::content;
use super::segment::{Location, SegmentError, SegmentReader};
use crate::keystore::{KeyStore, SlotState};

/// What checking one `E` frame found.
pub struct Checked {
    /// The SHA-256 the frame claims for the plaintext.
    pub claimed: Option<[u8; 32]>,
    /// The ciphertext hash the frame claims (and the ciphertext has, when
    /// `error` is `None`).
    pub cipher: Option<[u8; 32]>,
    /// Original bytes checked (0 when not decrypted).
    pub size: u64,
    /// The key is destroyed: the content was purged (if a tombstone says
    /// so).
    pub purged: bool,
    /// The frame's key slot.
    pub slot: Option<u64>,
    /// What is wrong.
    pub error: Option<String>,
}

/// Checks the `E` frame at `at`; decrypts only with `keys`.
pub fn check(dir: &Path, at: Location, keys: Option<&KeyStore>) -> Checked {
    let mut out = Checked {
        claimed: None,
        cipher: None,
        size: 0,
        purged: false,
        slot: None,
        error: None,
    };
    let result = (|| -> Result<(), SegmentError> {
        let damaged = |what: String| SegmentError::Damaged { at, what };
        let mut r = SegmentReader::open(dir, at.segment)?;
        r.seek(at.offset);
        let fh = r
            .next_header()?
            .ok_or_else(|| damaged("frame vanished".into()))?;
        let len = fh.len.saturating_sub(content::ENCRYPTED_HEAD_LEN);
        let mut p = r.payload_reader(&fh)?;
        let (head, enc) =
            content::read_encrypted_head(&mut p).map_err(|e| damaged(e.to_string()))?;
        out.claimed = Some(head.sha256);
        out.cipher = Some(enc.cipher_sha256);
        out.slot = Some(enc.slot);
        let key = match keys.map(|k| k.get(enc.slot)) {
            None => None,
            Some(Ok(SlotState::Live { key, .. })) => Some(key),
            Some(Ok(SlotState::Destroyed)) => {
                out.purged = true;
                None
            }
            Some(Ok(SlotState::Missing)) => {
                return Err(damaged(format!(
                    "undecryptable: key slot {} is not in the key store",
                    enc.slot
                )));
            }
            Some(Err(e)) => return Err(damaged(format!("undecryptable: {e}"))),
        };
        match key {
            // Without a key, the ciphertext's hash is all there is to check.
            None => {
                let got = super::crypt::hash_ciphertext(len, &mut p)
                    .map_err(|e| damaged(e.to_string()))?;
                if got != enc.cipher_sha256 {
                    return Err(damaged("ciphertext does not match its SHA-256".into()));
                }
            }
            Some(key) => {
                let mut hashing = CipherHash {
                    inner: &mut p,
                    hasher: <sha2::Sha256 as sha2::Digest>::new(),
                };
                let got = content::decode_encrypted(
                    &head,
                    &enc,
                    key.as_bytes(),
                    len,
                    &mut hashing,
                    &mut std::io::sink(),
                )
                .map_err(|e| damaged(format!("undecryptable: {e}")))?;
                let cipher: [u8; 32] = sha2::Digest::finalize(hashing.hasher).into();
                if cipher != enc.cipher_sha256 {
                    return Err(damaged("ciphertext does not match its SHA-256".into()));
                }
                if got.sha256 != head.sha256 || got.size != head.size {
                    return Err(damaged(
                        "decrypted bytes do not match the content's SHA-256".into(),
                    ));
                }
                out.size = got.size;
            }
        }
        p.finish()?;
        Ok(())
    })();
    if let Err(e) = result {
        out.error = Some(e.to_string());
    }
    out
}

/// Hashes the ciphertext as the decryption reads it, so it is read once.
struct CipherHash<'a, R> {
    inner: &'a mut R,
    hasher: sha2::Sha256,
}

impl<R: std::io::Read> std::io::Read for CipherHash<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        Ok(n)
    }
}
