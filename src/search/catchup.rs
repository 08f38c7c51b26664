//! Feeding the index from the archive: one record at a time
//! ([`index_record`]), and every record the index has not seen yet
//! ([`catch_up`], which a rebuild runs from 0).

use super::SearchIndex;
use super::direction::LocalDomains;
use super::document::MessageDoc;
use super::extract::{self, Limits};
use super::index::SearchError;
use crate::archive::reader::Reader;
use crate::archive::record::{Record, RecordBody};

/// Records indexed between two commits during a catch-up.
pub const BATCH: u64 = 2_000;

/// Adds one record to the index (outcome records have nothing to find and
/// are skipped). `raw` is the message content; when it could not be read
/// the record is still indexed by its envelope and receive time. A
/// tombstone takes its record's document out, and the next commit merges
/// it away from the files ([`SearchIndex::commit`]).
pub fn index_record(
    index: &SearchIndex,
    record: &Record,
    raw: Option<&[u8]>,
    local: &LocalDomains,
) -> Result<bool, SearchError> {
    if let RecordBody::Tombstone(t) = &record.body {
        index.delete_purged(t.of)?;
        return Ok(true);
    }
    let Some(meta) = record.message() else {
        return Ok(false);
    };
    let text = raw
        .map(|r| extract::extract(r, &Limits::default()))
        .unwrap_or_default();
    index.add(&MessageDoc::new(record, meta, text, local))?;
    Ok(true)
}

/// Reads record `seq` and its content from the archive and indexes it. A
/// purged message (its keys destroyed) is not indexed at all.
pub fn index_seq(
    index: &SearchIndex,
    reader: &Reader,
    seq: u64,
    raw: &mut Vec<u8>,
    local: &LocalDomains,
) -> Result<(), SearchError> {
    let archive = |e: crate::archive::ArchiveError| SearchError::Archive(e.to_string());
    let (record, _) = reader.record(seq).map_err(archive)?;
    raw.clear();
    let content = match record.message() {
        Some(meta) => match reader.write_content(&meta.content.sha256, raw) {
            Ok(_) => Some(raw.as_slice()),
            Err(_) if reader.summary(seq).is_ok_and(|s| s.purged.is_some()) => return Ok(()),
            Err(e) => {
                tracing::warn!(seq, error = %e, "content unreadable; indexing the envelope only");
                None
            }
        },
        None => None,
    };
    index_record(index, &record, content, local)?;
    Ok(())
}

/// Indexes every record after [`SearchIndex::indexed_seq`] up to the
/// archive's head, committing every [`BATCH`] records, and calls
/// `progress(done, total)` after each record. Returns the new indexed seq.
pub fn catch_up(
    index: &SearchIndex,
    reader: &Reader,
    local: &LocalDomains,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64, SearchError> {
    let archive = |e: crate::archive::ArchiveError| SearchError::Archive(e.to_string());
    let head = reader.head().map_err(archive)?.seq;
    let from = index.indexed_seq();
    if head <= from {
        return Ok(from);
    }
    let total = head - from;
    let mut raw = Vec::new();
    for seq in from + 1..=head {
        index_seq(index, reader, seq, &mut raw, local)?;
        if (seq - from).is_multiple_of(BATCH) {
            index.commit(seq)?;
        }
        progress(seq - from, total);
    }
    index.commit(head)?;
    Ok(head)
}

/// Empties the index and indexes the whole archive again.
pub fn rebuild(
    index: &SearchIndex,
    reader: &Reader,
    local: &LocalDomains,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64, SearchError> {
    index.clear()?;
    catch_up(index, reader, local, progress)
}
