//! The master key file and the key store `keys/store` of archive format
//! 2.3, read as docs/archive-format.md lays them out: the master key's id,
//! the store's header, and every slot checked and unwrapped once, before
//! the segments are walked.
//!
//! Only `verify --master-key` reads these files: without the master key
//! nothing in the store can be checked beyond its layout, and the
//! segments alone already show that no stored byte changed.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};

/// The first line of a master key file.
const MASTER_LINE: &str = "mailseal master key v1";
/// The store header's magic.
const STORE_MAGIC: &[u8; 8] = b"MSKEYS01";
/// Header and slot sizes.
const HEADER: usize = 64;
const SLOT: usize = 96;
/// Slot kinds.
pub const CONTENT_KEY: u8 = 1;
pub const RECORD_KEY: u8 = 2;
/// An audit key: seals the personal fields of one calendar year's audit
/// records.
pub const AUDIT_KEY: u8 = 3;

/// The archive's master key, from its file.
#[derive(Clone)]
pub struct MasterKey {
    /// The 32 key bytes: they wrap every slot.
    key: [u8; 32],
    /// First 16 bytes of SHA-256("mailseal master key id\n" || key): the
    /// store's header names the key that wraps it by this.
    pub id: [u8; 16],
}

impl MasterKey {
    /// Parses a master key file: its first line, then 64 lowercase hex
    /// digits, nothing else.
    pub fn parse(bytes: &[u8]) -> Result<MasterKey, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not text".to_string())?;
        let mut lines = text.lines();
        if lines.next() != Some(MASTER_LINE) {
            return Err(format!("does not start with {MASTER_LINE:?}"));
        }
        let hexkey = lines.next().unwrap_or_default();
        let mut key = [0u8; 32];
        if hexkey.len() != 64
            || hexkey.bytes().any(|b| b.is_ascii_uppercase())
            || hex::decode_to_slice(hexkey, &mut key).is_err()
        {
            return Err("its second line is not 64 lowercase hex digits".into());
        }
        if lines.any(|l| !l.is_empty()) {
            return Err("holds more than the key".into());
        }
        let digest = Sha256::new()
            .chain_update(b"mailseal master key id\n")
            .chain_update(key)
            .finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        Ok(MasterKey { key, id })
    }
}

/// One slot of the store, as found.
pub enum Slot {
    /// A live key: its kind and the unwrapped data key.
    Live(u8, [u8; 32]),
    /// 96 zero bytes: the key was destroyed.
    Destroyed,
    /// Neither: why it cannot be used.
    Damaged(String),
}

/// Why a slot gives no key.
pub enum NoKey {
    /// The slot is destroyed: the content or record was purged.
    Destroyed,
    /// Anything else (absent, damaged, of the other kind).
    Unusable(String),
}

/// Why the store could not be read at all.
pub enum StoreError {
    /// The file could not be read, or the master key is not the one that
    /// wraps it: the command cannot run.
    Refused(io::Error),
    /// The header is damaged or of a newer version: (kind, detail).
    Bad(&'static str, String),
}

/// The key store, every slot read.
pub struct KeyStore {
    /// Slot `n` at index `n`; a torn last slot (cut off by the daemon on
    /// its next start, never used by a frame) is not among them.
    pub slots: Vec<Slot>,
}

impl KeyStore {
    /// Reads `path` and unwraps every live slot with `master`.
    pub fn read(path: &Path, master: &MasterKey) -> Result<KeyStore, StoreError> {
        let refused = |e: io::Error| {
            StoreError::Refused(io::Error::new(
                e.kind(),
                format!("key store {}: {e}", path.display()),
            ))
        };
        let mut r = BufReader::with_capacity(1 << 20, File::open(path).map_err(refused)?);
        let mut h = [0u8; HEADER];
        r.read_exact(&mut h)
            .map_err(|_| StoreError::Bad("key-store-damaged", "shorter than its header".into()))?;
        let damaged = |d: &str| StoreError::Bad("key-store-damaged", format!("header: {d}"));
        if &h[..8] != STORE_MAGIC {
            return Err(damaged("not a mailseal key store"));
        }
        if crc32fast::hash(&h[..60]) != u32::from_be_bytes([h[60], h[61], h[62], h[63]]) {
            return Err(damaged("checksum mismatch"));
        }
        let version = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
        if version != 1 {
            return Err(StoreError::Bad(
                "unsupported-version",
                format!("key store version {version} is not known to this verifier"),
            ));
        }
        if u32::from_be_bytes([h[12], h[13], h[14], h[15]]) != SLOT as u32 || h[32..60] != [0; 28] {
            return Err(damaged("slot size or reserved bytes differ from version 1"));
        }
        if h[16..32] != master.id {
            return Err(StoreError::Refused(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "wrong master key: the key store {} is wrapped by the master key with id {}, this key's id is {}",
                    path.display(),
                    hex::encode(&h[16..32]),
                    hex::encode(master.id)
                ),
            )));
        }
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&master.key));
        let mut slots = Vec::new();
        let mut s = [0u8; SLOT];
        loop {
            match read_full(&mut r, &mut s) {
                Ok(true) => slots.push(unwrap(&cipher, slots.len() as u64, &s)),
                Ok(false) => return Ok(KeyStore { slots }),
                Err(e) => return Err(refused(e)),
            }
        }
    }

    /// The data key in slot `n`, which must be of `kind`.
    pub fn key(&self, n: u64, kind: u8) -> Result<&[u8; 32], NoKey> {
        let slot = usize::try_from(n).ok().and_then(|i| self.slots.get(i));
        match slot {
            None => Err(NoKey::Unusable(format!(
                "key slot {n} is not in the key store"
            ))),
            Some(Slot::Destroyed) => Err(NoKey::Destroyed),
            Some(Slot::Damaged(why)) => Err(NoKey::Unusable(format!("key slot {n} {why}"))),
            Some(Slot::Live(k, key)) if *k == kind => Ok(key),
            Some(Slot::Live(k, _)) => Err(NoKey::Unusable(format!(
                "key slot {n} holds a key of kind {k}, not {kind}"
            ))),
        }
    }
}

/// Fills `buf` whole: `Ok(false)` at the end of the file or before a torn
/// last slot.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => return Ok(false),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Checks slot `n`'s layout and unwraps its key.
fn unwrap(master: &ChaCha20Poly1305, n: u64, s: &[u8; SLOT]) -> Slot {
    if s.iter().all(|&b| b == 0) {
        return Slot::Destroyed;
    }
    if crc32fast::hash(&s[..92]) != u32::from_be_bytes([s[92], s[93], s[94], s[95]]) {
        return Slot::Damaged("is damaged: checksum mismatch".into());
    }
    let kind = s[1];
    if s[0] != 1 || !matches!(kind, CONTENT_KEY | RECORD_KEY | AUDIT_KEY) {
        return Slot::Damaged(format!("is damaged: state {} kind {kind}", s[0]));
    }
    if s[2..8] != [0; 6] || s[76..92] != [0; 16] {
        return Slot::Damaged("is damaged: reserved bytes are not zero".into());
    }
    let mut aad = b"mailseal key slot ".to_vec();
    aad.extend_from_slice(&n.to_be_bytes());
    aad.push(kind);
    let payload = Payload {
        msg: &s[28..76],
        aad: &aad,
    };
    match master.decrypt(Nonce::from_slice(&s[16..28]), payload) {
        Ok(k) if k.len() == 32 => {
            let mut key = [0u8; 32];
            key.copy_from_slice(&k);
            Slot::Live(kind, key)
        }
        _ => Slot::Damaged("does not unwrap under the master key".into()),
    }
}

/// Opens a sealed field: ChaCha20-Poly1305 under `key`; `None` when the
/// tag does not check.
pub fn open(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    ChaCha20Poly1305::new(Key::from_slice(key))
        .decrypt(Nonce::from_slice(nonce), Payload { msg: data, aad })
        .ok()
}
