//! [`ArchiveMail`]: the [`MailStore`] over the open archive. In the daemon
//! its searches go to the full-text index ([`super::indexed`]); only a
//! store without an index (the indexer could not start, or a test that
//! builds the interface without one) looks at every record
//! ([`super::scan`]).

use std::io::Write;
use std::sync::Arc;

use crate::archive::seal::Seal;
use crate::archive::{Archive, ArchiveError, Stats};
use crate::search::indexer::Status;

use super::indexed;
use super::mail::{Found, MailError, MailStore, Sort, Stored};
use super::role::Scope;

/// The store over the open archive.
#[derive(Clone)]
pub struct ArchiveMail {
    /// The daemon's archive.
    archive: Archive,
    /// The search indexer's state, whose open index answers searches.
    index: Option<Arc<Status>>,
}

impl ArchiveMail {
    /// A store reading `archive` that finds mail by scanning it.
    pub fn new(archive: Archive) -> ArchiveMail {
        ArchiveMail {
            archive,
            index: None,
        }
    }

    /// A store reading `archive` that finds mail through the index the
    /// indexer behind `status` keeps.
    pub fn indexed(archive: Archive, status: Arc<Status>) -> ArchiveMail {
        ArchiveMail {
            archive,
            index: Some(status),
        }
    }

    /// The scan's page: every match, sorted, cut at `offset`.
    fn scan(
        &self,
        query: &str,
        scope: &Scope,
        sort: Sort,
        offset: usize,
        limit: usize,
    ) -> Result<Found, MailError> {
        let mut all = super::scan::matching(self, query, scope)?;
        match sort {
            Sort::OldestFirst => all.sort_by(|a, b| a.0.summary.time.cmp(&b.0.summary.time)),
            Sort::NewestFirst => all.sort_by(|a, b| b.0.summary.time.cmp(&a.0.summary.time)),
            Sort::Relevance => all.sort_by_key(|h| std::cmp::Reverse(h.1)),
        }
        let total = all.len();
        let next = offset.saturating_add(limit);
        let hits = all
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(h, _)| h)
            .collect();
        Ok(Found {
            total,
            hits,
            next_cursor: (next < total).then(|| next.to_string()),
            indexed: None,
        })
    }
}

impl MailStore for ArchiveMail {
    fn find(
        &self,
        query: &str,
        scope: &Scope,
        sort: Sort,
        offset: usize,
        limit: usize,
    ) -> Result<Found, MailError> {
        match &self.index {
            Some(status) => indexed::find(self, status, query, scope, sort, offset, limit),
            None => self.scan(query, scope, sort, offset, limit),
        }
    }

    fn find_after(
        &self,
        query: &str,
        scope: &Scope,
        sort: Sort,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Found, MailError> {
        match &self.index {
            Some(status) => indexed::find_after(self, status, query, scope, sort, cursor, limit),
            None => {
                // Without an index a cursor is just the offset of the next page.
                let offset = match cursor {
                    Some(c) => c.parse().map_err(|_| {
                        MailError::Query("the cursor is not valid for this search".into())
                    })?,
                    None => 0,
                };
                self.scan(query, scope, sort, offset, limit)
            }
        }
    }

    fn find_ids(&self, query: &str, scope: &Scope, cap: usize) -> Result<Vec<u64>, MailError> {
        if let Some(status) = &self.index {
            return indexed::find_ids(self, status, query, scope, cap);
        }
        let mut ids: Vec<u64> = super::scan::matching(self, query, scope)?
            .into_iter()
            .map(|(h, _)| h.summary.seq)
            .collect();
        ids.sort_unstable();
        ids.truncate(cap);
        Ok(ids)
    }

    fn open(&self, seq: u64) -> Result<Option<Stored>, MailError> {
        let reader = self.archive.reader();
        let summary = match reader.summary(seq) {
            Ok(s) => s,
            Err(ArchiveError::NoRecord(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if summary.source_kind.is_none() {
            return Ok(None);
        }
        let (record, hash) = reader.record(seq)?;
        Ok(Some(Stored {
            record,
            hash,
            summary,
        }))
    }

    fn write_content(&self, sha256: &str, out: &mut dyn Write) -> Result<u64, MailError> {
        Ok(self.archive.reader().write_content(sha256, out)?)
    }

    fn stats(&self) -> Result<Stats, MailError> {
        Ok(self.archive.reader().stats()?)
    }

    fn head_seq(&self) -> Result<u64, MailError> {
        Ok(self.archive.reader().head()?.seq)
    }

    fn covering_seal(&self, seq: u64) -> Result<Option<Seal>, MailError> {
        Ok(self.archive.reader().last_seal()?.filter(|s| s.seq >= seq))
    }

    fn archive(&self) -> &Archive {
        &self.archive
    }
}
