//! Bringing the index back in line with the segments: opening sled (and
//! telling a lock held by the daemon apart) and applying whatever the
//! segments hold beyond the index's durable head.
//!
//! Used when the archive opens ([`super::handle`]), when the writer reopens
//! a failed index ([`super::writer`]) and when a reader opens the index
//! ([`super::reader`]); it lives apart from all three so none of them
//! depends on another for it.

use std::path::Path;

use super::index::{Head, Index, IndexError};
use super::{ArchiveError, scan, segment};
use crate::keystore::KeyStore;

/// Opens the sled index, telling a lock held by another process apart.
pub(super) fn open_index(path: &Path) -> Result<Index, ArchiveError> {
    let dir = path.join("index");
    Index::open(&dir).map_err(|e| match &e {
        IndexError::Sled(sled::Error::Io(io))
            if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock") =>
        {
            ArchiveError::Locked(path.display().to_string())
        }
        _ => ArchiveError::Index(e),
    })
}

/// Brings the index up to the segments' end; returns the chain head.
pub(super) fn catch_up(
    segments: &Path,
    index: &Index,
    keys: Option<&KeyStore>,
) -> Result<Head, ArchiveError> {
    let mut head = index.head()?;
    let valid = head.segment == 0
        || std::fs::metadata(segments.join(segment::file_name(head.segment)))
            .map(|m| m.len() >= head.offset)
            .unwrap_or(false);
    if !valid {
        tracing::warn!("index is ahead of the segments; rebuilding it");
        index.clear()?;
        head = Head::default();
    }
    let mut sink = index.clone();
    let before = head.seq;
    let head = scan::apply_from(segments, &head, &mut sink, true, keys)?;
    if head.seq > before {
        tracing::info!(
            from = before,
            to = head.seq,
            "index caught up with the segments"
        );
    }
    index.flush()?;
    Ok(head)
}
