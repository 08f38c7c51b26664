//! The key store: one data key per stored content and per sealed record,
//! wrapped under the archive's master key (`docs/archive-format.md`, 2.3,
//! "Master key" and "Key store"; `docs/keys.md` for admins).
//!
//! Deleting a message destroys its keys: their slots are overwritten with
//! zeros in place, so the encrypted bytes become unreadable in every copy
//! of the segments while the segments themselves are never rewritten. A
//! frame or record names its key by slot number for ever, so slots are only
//! appended and destroyed, never moved.
//!
//! ```text
//!  master   the master key file: read, create, its id
//!  slot     header and slot bytes, wrapping and unwrapping (no I/O)
//!  file     the store file: create, open (header, torn tail), slot I/O; SlotFile
//!  reserve  keys appended and synced ahead of use, handed out one by one
//!  rotate   master key rotation, and settling one a crash interrupted
//!  store    KeyStore, the synchronised handle the archive writes and reads through
//! ```
//!
//! Nothing here uses the archive; the archive uses this.

mod disk;
mod file;
mod master;
mod reserve;
mod rotate;
mod slot;
mod store;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_rotate;

use std::fmt;

use rand::RngCore;
use rand::rngs::OsRng;
use zeroize::Zeroizing;

pub use file::{SlotFile, store_path};
pub use reserve::Reserve;
pub use store::KeyStore;

/// A 32-byte data key: encrypts one content, or one record's personal
/// fields. Its bytes are wiped when it is dropped and never printed.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// A fresh random key from the operating system.
    pub fn generate() -> DataKey {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut *key);
        DataKey(key)
    }

    /// Takes `b` as a key. The caller's own copy of `b` is not wiped.
    pub fn from_bytes(b: [u8; 32]) -> DataKey {
        DataKey(Zeroizing::new(b))
    }

    /// The key's bytes, for the cipher that uses it.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// What a slot's key encrypts (the slot's kind byte).
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    /// The key of one content (`E` frame).
    Content = 1,
    /// The key of one message record's sealed personal fields.
    Record = 2,
    /// The key of one calendar year's audit records' sealed fields.
    Audit = 3,
}

impl SlotKind {
    /// The kind a slot's kind byte names, if any.
    pub fn from_byte(b: u8) -> Option<SlotKind> {
        match b {
            1 => Some(SlotKind::Content),
            2 => Some(SlotKind::Record),
            3 => Some(SlotKind::Audit),
            _ => None,
        }
    }
}

/// A slot as the archive sees it, key unwrapped.
#[derive(Debug)]
pub enum SlotState {
    /// The key is there.
    Live {
        /// The unwrapped data key.
        key: DataKey,
        /// What it encrypts.
        kind: SlotKind,
        /// When the slot was appended, Unix seconds.
        created: u64,
    },
    /// The slot was zeroed: its key is gone for good.
    Destroyed,
    /// Beyond the end of the store: no such slot was ever made durable.
    Missing,
}

/// A slot as seen without the master key (`verify` without the key,
/// `stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawState {
    /// A whole slot with a valid CRC; its key was not unwrapped.
    Live {
        /// What its key encrypts.
        kind: SlotKind,
        /// When the slot was appended, Unix seconds.
        created: u64,
    },
    /// The slot was zeroed.
    Destroyed,
    /// Beyond the end of the store.
    Missing,
}

/// What a master key rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotated {
    /// Id of the master key that wrapped the store before.
    pub old_id: [u8; 16],
    /// Id of the master key that wraps it now.
    pub new_id: [u8; 16],
    /// Live slots re-wrapped under the new key.
    pub live: u64,
    /// Destroyed slots, carried over as zeros.
    pub destroyed: u64,
}

/// Why the key store could not do what was asked. Every message names the
/// file, and a slot's problem names the slot.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// Reading, writing, syncing or renaming a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The master key file is unreadable or not in the documented format.
    #[error("master key file {path}: {reason}")]
    MasterKey {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key store exists but its master key file does not.
    #[error(
        "key store {store} exists but its master key file {master} does not: restore the \
         master key from its backup (mailseal never makes a new master key for an existing \
         key store)"
    )]
    MasterKeyMissing {
        /// The store.
        store: String,
        /// The master key file that should be there.
        master: String,
    },
    /// The master key file holds a different key than the one the store's
    /// header names.
    #[error(
        "master key file {master} holds master key {found}, but key store {store} is wrapped \
         by master key {expected}: use the master key file that belongs to this archive"
    )]
    WrongMasterKey {
        /// The master key file.
        master: String,
        /// The store.
        store: String,
        /// Hex id of the key in the file.
        found: String,
        /// Hex id the store's header names.
        expected: String,
    },
    /// There is no store and it was not to be created.
    #[error("key store {path} does not exist")]
    NoStore {
        /// Where it would be.
        path: String,
    },
    /// The store's header is not a valid header.
    #[error("key store {path}: {reason}")]
    Header {
        /// The store.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// One slot is damaged, does not unwrap, or does not exist.
    #[error("key store {path}: slot {slot}: {reason}")]
    Slot {
        /// The store.
        path: String,
        /// The slot's number.
        slot: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A rotation failed after the store was renamed, and this handle
    /// could not switch to the new store: it refuses to write.
    #[error(
        "key store {path}: a master key rotation could not be followed ({reason}); restart \
         mailseal before anything is written"
    )]
    Stale {
        /// The store.
        path: String,
        /// Why the handle could not follow.
        reason: String,
    },
    /// Another process has the store open for writing.
    #[error("key store {path} is in use by another process (is `mailseal run` active?)")]
    Locked {
        /// The store.
        path: String,
    },
}

impl KeyStoreError {
    /// True when the failure was a full disk, which the archive reports
    /// the way it reports its own (a temporary refusal, not damage).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, KeyStoreError::Io { source, .. }
            if source.kind() == std::io::ErrorKind::StorageFull)
    }
}
