//! The sealed archive: the one place that stores messages.
//!
//! Segments (`segment`) are the truth; the index (`index`, sled) is derived
//! and rebuildable. All appends go through one writer thread (`writer`) that
//! group-commits: one `fdatasync` for every batch of concurrent appends.

pub mod audit;
pub mod chain;
pub mod content;
pub mod crypt;
pub mod filter;
mod handle;
pub mod headers;
pub mod index;
mod keep;
mod keyring;
pub mod keys;
pub mod lifecycle;
pub mod manage;
pub mod mark;
pub mod merkle;
pub mod purge;
pub mod reader;
pub mod record;
mod recovery;
pub mod refusal;
mod rotate;
pub mod scan;
pub mod seal;
pub mod sealing;
pub mod segment;
pub mod spool;
pub mod stamp;
pub mod tree_file;
pub mod tree_head;
pub mod verify;
mod verify_crypt;
mod verify_tree;
mod writer;

use std::path::Path;

pub use handle::Archive;
pub use reader::Stats;
pub use record::{MessageMeta, Outcome};
pub use spool::{Spool, SpooledContent};

/// Errors of the archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Reading or writing archive files failed.
    #[error("archive I/O on {path}: {source}")]
    Io {
        /// The file involved.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The filesystem holding the archive is full.
    #[error("archive disk full")]
    DiskFull,
    /// The archive is shutting down or its writer stopped.
    #[error("archive writer is not running")]
    Closed,
    /// The index could not be opened or updated (a full disk under the
    /// index becomes [`ArchiveError::DiskFull`], see the `From` below).
    #[error(transparent)]
    Index(index::IndexError),
    /// Scanning the segments failed.
    #[error(transparent)]
    Scan(#[from] scan::ScanError),
    /// The signing key.
    #[error(transparent)]
    Key(#[from] seal::SealError),
    /// Another process holds the archive open.
    #[error("archive {0} is in use by another process (is `mailseal run` active?)")]
    Locked(String),
    /// No record with this id.
    #[error("no record {0}")]
    NoRecord(u64),
    /// A hold, request, approval, extension or purge was refused (nothing
    /// was written).
    #[error("refused: {0}")]
    Refused(Box<refusal::Refusal>),
    /// Anything else, with a reason for the log.
    #[error("{0}")]
    Other(String),
}

impl From<index::IndexError> for ArchiveError {
    /// sled reports a full disk (when it writes, and on every call after a
    /// background flush failed for lack of space) as an I/O error; callers
    /// must see the same `DiskFull` the segment writer reports, so the log
    /// and the caller say the disk is full, not that the index failed.
    fn from(e: index::IndexError) -> ArchiveError {
        match &e {
            index::IndexError::Sled(sled::Error::Io(io))
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
                ) =>
            {
                ArchiveError::DiskFull
            }
            _ => ArchiveError::Index(e),
        }
    }
}

impl From<crate::keystore::KeyStoreError> for ArchiveError {
    /// A key that cannot be made durable for lack of space is a full disk,
    /// like a segment that cannot grow.
    fn from(e: crate::keystore::KeyStoreError) -> ArchiveError {
        match &e {
            crate::keystore::KeyStoreError::Io { source, .. }
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
                ) =>
            {
                ArchiveError::DiskFull
            }
            _ => ArchiveError::Other(format!("key store: {e}")),
        }
    }
}

/// What a durable append returns.
#[derive(Debug, Clone)]
pub struct Appended {
    /// The record's sequence number: its id for users.
    pub seq: u64,
    /// The record's chain hash.
    pub hash: [u8; 32],
    /// True when the content was already stored and only referenced.
    pub deduplicated: bool,
}

/// A message to archive.
pub struct NewMessage {
    /// Context; `content` and `evidence` are filled in by the archive.
    pub meta: MessageMeta,
    /// The message bytes.
    pub content: SpooledContent,
    /// Extra bytes kept as evidence (the whole journal report).
    pub evidence: Option<SpooledContent>,
}

/// How to open an archive (the config's `[archive]`, in typed form).
#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    /// Directory holding `segments/`, `index/` and `spool/`.
    pub path: std::path::PathBuf,
    /// Ed25519 signing key (created on first open, mode 0600).
    pub key_file: std::path::PathBuf,
    /// Encrypt new contents and personal record fields (format 2.3).
    pub encrypt: bool,
    /// The master key wrapping the key store's data keys (created with the
    /// key store, mode 0600).
    pub master_key_file: std::path::PathBuf,
    /// zstd level; 0 stores contents uncompressed.
    pub compression_level: i32,
    /// How often the chain head is sealed.
    pub seal_interval: std::time::Duration,
    /// A segment file is closed and a new one started past this size.
    pub segment_max_bytes: u64,
    /// Bytes of one message kept in memory before spilling to disk.
    pub spool_memory_limit: usize,
    /// Where spilled messages go (same filesystem as the archive).
    pub spool_dir: std::path::PathBuf,
    /// The retention rules decided at capture (format 2.3); `None`:
    /// retention is off and records carry no keep-until date.
    pub retention: Option<std::sync::Arc<crate::retention::Rules>>,
}

impl ArchiveOptions {
    /// Defaults for an archive in `path`.
    pub fn at(path: &Path) -> ArchiveOptions {
        ArchiveOptions {
            path: path.to_path_buf(),
            key_file: path.join("seal.key"),
            encrypt: true,
            master_key_file: path.join("master.key"),
            compression_level: 3,
            seal_interval: std::time::Duration::from_secs(300),
            segment_max_bytes: 1 << 30,
            spool_memory_limit: spool::DEFAULT_MEMORY_LIMIT,
            spool_dir: path.join("spool"),
            retention: None,
        }
    }
}
