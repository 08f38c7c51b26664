//! [`ArchiveMail`]: the [`MailStore`] over the open archive. Its `find`
//! scans every record (see [`super::scan`]) until the full-text index
//! answers instead.

use std::io::Write;

use crate::archive::seal::Seal;
use crate::archive::{Archive, ArchiveError, Stats};

use super::mail::{Found, MailError, MailStore, Sort, Stored};
use super::role::Scope;

/// The store over the open archive.
#[derive(Clone)]
pub struct ArchiveMail {
    /// The daemon's archive.
    archive: Archive,
}

impl ArchiveMail {
    /// A store reading `archive`.
    pub fn new(archive: Archive) -> ArchiveMail {
        ArchiveMail { archive }
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
        let mut all = super::scan::matching(self, query, scope)?;
        match sort {
            Sort::OldestFirst => all.sort_by(|a, b| a.0.summary.time.cmp(&b.0.summary.time)),
            Sort::NewestFirst => all.sort_by(|a, b| b.0.summary.time.cmp(&a.0.summary.time)),
            Sort::Relevance => all.sort_by_key(|h| std::cmp::Reverse(h.1)),
        }
        let total = all.len();
        let hits = all
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(h, _)| h)
            .collect();
        Ok(Found { total, hits })
    }

    fn find_ids(&self, query: &str, scope: &Scope, cap: usize) -> Result<Vec<u64>, MailError> {
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

    fn covering_seal(&self, seq: u64) -> Result<Option<Seal>, MailError> {
        Ok(self.archive.reader().last_seal()?.filter(|s| s.seq >= seq))
    }

    fn archive(&self) -> &Archive {
        &self.archive
    }
}
