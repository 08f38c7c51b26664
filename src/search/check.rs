//! Proving the index complete: compare it with the archive (every message
//! record present, nothing extra, nothing stale) and repair what differs.
//! `mailseal search --check` and the `stats` section run this.

use serde::Serialize;

use super::SearchIndex;
use super::catchup::index_record;
use super::direction::LocalDomains;
use super::document::fingerprint;
use super::index::SearchError;
use crate::archive::reader::Reader;

/// How many ids of each kind a report lists (the counts are exact).
const LISTED: usize = 100;

/// What the comparison found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// Message records in the archive.
    pub expected: u64,
    /// Documents in the index.
    pub indexed: u64,
    /// The archive's last record.
    pub head: u64,
    /// The index's committed sequence number.
    pub indexed_seq: u64,
    /// Message records without a document (counted).
    pub missing: u64,
    /// Documents without a message record (counted).
    pub extra: u64,
    /// Documents of another content than their record's (counted).
    pub stale: u64,
    /// Up to a hundred missing, extra and stale ids (`(seq, what)`).
    pub examples: Vec<(u64, &'static str)>,
    /// Every missing or stale id, to re-index.
    #[serde(skip)]
    pub to_index: Vec<u64>,
    /// Every extra id, to delete.
    #[serde(skip)]
    pub to_delete: Vec<u64>,
}

impl CheckReport {
    /// True when index and archive agree (up to the index's committed seq;
    /// records after it are "missing" too, since they must be indexed).
    pub fn is_clean(&self) -> bool {
        self.missing == 0 && self.extra == 0 && self.stale == 0
    }
}

/// Compares the index's `(seq, fingerprint)` pairs with the archive's
/// message records, both ascending by seq. Pure, for tests.
pub fn compare(index: &[(u64, u64)], archive: impl IntoIterator<Item = (u64, u64)>) -> CheckReport {
    let mut r = CheckReport {
        indexed: index.len() as u64,
        ..Default::default()
    };
    let note = |r: &mut CheckReport, seq, what| {
        if r.examples.len() < LISTED {
            r.examples.push((seq, what));
        }
    };
    let mut i = 0;
    for (seq, fp) in archive {
        r.expected += 1;
        while i < index.len() && index[i].0 < seq {
            r.extra += 1;
            r.to_delete.push(index[i].0);
            note(&mut r, index[i].0, "extra");
            i += 1;
        }
        let mut found = false;
        while i < index.len() && index[i].0 == seq {
            if found || index[i].1 != fp {
                r.stale += 1;
                note(&mut r, seq, "stale");
                if !r.to_index.contains(&seq) {
                    r.to_index.push(seq);
                }
            }
            found = true;
            i += 1;
        }
        if !found {
            r.missing += 1;
            r.to_index.push(seq);
            note(&mut r, seq, "missing");
        }
    }
    for &(seq, _) in &index[i..] {
        r.extra += 1;
        r.to_delete.push(seq);
        note(&mut r, seq, "extra");
    }
    r
}

/// Compares the index with the archive behind `reader`.
pub fn check(index: &SearchIndex, reader: &Reader) -> Result<CheckReport, SearchError> {
    let archive = |e: crate::archive::ArchiveError| SearchError::Archive(e.to_string());
    let docs = index.all_docs()?;
    let summaries = reader.summaries().map_err(archive)?;
    let messages = summaries
        .iter()
        .filter(|s| s.source_kind.is_some())
        .map(|s| (s.seq, fingerprint(&s.sha256)));
    let mut report = compare(&docs, messages);
    report.head = reader.head().map_err(archive)?.seq;
    report.indexed_seq = index.indexed_seq();
    Ok(report)
}

/// Indexes what is missing or stale and deletes what is extra, then
/// commits the archive's head as indexed (which also sets back an index
/// that was ahead of the archive, as after restoring an older archive).
pub fn repair(
    index: &SearchIndex,
    reader: &Reader,
    report: &CheckReport,
    local: &LocalDomains,
) -> Result<(), SearchError> {
    let archive = |e: crate::archive::ArchiveError| SearchError::Archive(e.to_string());
    for &seq in &report.to_delete {
        index.delete(seq)?;
    }
    let mut raw = Vec::new();
    for &seq in &report.to_index {
        let (record, _) = reader.record(seq).map_err(archive)?;
        raw.clear();
        let content = record
            .message()
            .and_then(|m| reader.write_content(&m.content.sha256, &mut raw).ok())
            .map(|_| raw.as_slice());
        index_record(index, &record, content, local)?;
    }
    // The check listed every message record up to the head, and all that
    // were not indexed are now.
    index.commit(report.head)?;
    if !report.to_delete.is_empty() {
        index.purge_deleted()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_missing_extra_stale_and_duplicates() {
        let index = [(1, 10), (2, 99), (4, 40), (4, 40), (7, 70), (9, 90)];
        let archive = [(1, 10), (2, 20), (3, 30), (4, 40), (7, 70)];
        let r = compare(&index, archive);
        assert_eq!((r.expected, r.indexed), (5, 6));
        assert_eq!((r.missing, r.extra, r.stale), (1, 1, 2));
        assert_eq!(r.to_index, vec![2, 3, 4]);
        assert_eq!(r.to_delete, vec![9]);
        assert!(!r.is_clean());
        assert!(compare(&[(1, 1)], [(1, 1)]).is_clean());
        let r = compare(&[], [(5, 1)]);
        assert_eq!(r.examples, vec![(5, "missing")]);
    }
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod archive_tests;
