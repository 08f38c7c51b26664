//! What the web pages ask of the archive: find messages, open one, stream
//! its bytes, and the figures for the proof panel and status page.
//!
//! [`MailStore`] is the seam between the pages and the storage: the pages
//! never touch segments or indexes. [`super::store::ArchiveMail`] answers
//! from the open archive. Every call blocks (sled, file reads): handlers
//! call it from the blocking pool.

use std::io::Write;

use crate::archive::index::Summary;
use crate::archive::record::{MessageMeta, Record};
use crate::archive::seal::Seal;
use crate::archive::{Archive, ArchiveError, Stats};

use super::role::{MailFacts, Scope};

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The query could not be understood.
    #[error("{0}")]
    Query(String),
    /// The search index cannot answer right now (being reopened, failed).
    #[error("{0}")]
    Unavailable(String),
}

/// The order of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Newest first.
    NewestFirst,
    /// Oldest first.
    OldestFirst,
    /// Best match first.
    Relevance,
}

impl Sort {
    /// Parses the form's `sort` value (newest first by default).
    pub fn parse(s: &str) -> Sort {
        match s {
            "date" => Sort::OldestFirst,
            "relevance" => Sort::Relevance,
            _ => Sort::NewestFirst,
        }
    }

    /// The form's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::NewestFirst => "-date",
            Sort::OldestFirst => "date",
            Sort::Relevance => "relevance",
        }
    }
}

/// One result line.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The listing view of the record.
    pub summary: Summary,
    /// Whether the message has attachments.
    pub attachment: bool,
    /// A text snippet around the match, with the matched spans.
    pub snippet: Option<(String, Vec<(usize, usize)>)>,
}

/// A page of results.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Every match the person may see.
    pub total: usize,
    /// The requested page.
    pub hits: Vec<Hit>,
    /// Where the next page starts (`find_after`); `None` on the last page.
    pub next_cursor: Option<String>,
    /// The last record the search index holds, when the index answered
    /// (records after it are not found yet).
    pub indexed: Option<u64>,
}

/// One message record with what the pages need around it.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The record as stored.
    pub record: Record,
    /// Its chain hash, hex.
    pub hash: String,
    /// Its listing view (parsed headers).
    pub summary: Summary,
}

impl Stored {
    /// The message metadata (always present: only message records are opened).
    pub fn meta(&self) -> Option<&MessageMeta> {
        self.record.message()
    }

    /// Who may see it.
    pub fn facts(&self) -> MailFacts {
        let mut header: Vec<String> = self.summary.headers.to.clone();
        header.extend(self.summary.headers.from.clone());
        self.meta()
            .map(|m| MailFacts::collect(m, &header))
            .unwrap_or_default()
    }
}

/// The storage the pages read.
pub trait MailStore: Send + Sync + 'static {
    /// One page of the messages matching `query` that `scope` allows.
    fn find(
        &self,
        query: &str,
        scope: &Scope,
        sort: Sort,
        offset: usize,
        limit: usize,
    ) -> Result<Found, MailError>;

    /// At most `limit` messages matching `query` that `scope` allows, after
    /// the page that handed out `cursor` (`None`: from the start). For the
    /// JSON API: unlike offsets, a cursor neither repeats nor skips a hit
    /// when new mail arrives between two pages.
    fn find_after(
        &self,
        query: &str,
        scope: &Scope,
        sort: Sort,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Found, MailError>;

    /// Every id matching `query` within `scope`, for exports (at most `cap`).
    fn find_ids(&self, query: &str, scope: &Scope, cap: usize) -> Result<Vec<u64>, MailError>;

    /// The message record `seq`, if it exists and is a message.
    fn open(&self, seq: u64) -> Result<Option<Stored>, MailError>;

    /// Streams the original bytes of content `sha256` (checked against it).
    fn write_content(&self, sha256: &str, out: &mut dyn Write) -> Result<u64, MailError>;

    /// Counts, sizes, chain head and last seal.
    fn stats(&self) -> Result<Stats, MailError>;

    /// The newest record's id (cheap, unlike [`stats`](Self::stats), which
    /// walks every record).
    fn head_seq(&self) -> Result<u64, MailError>;

    /// The newest seal that covers record `seq`, if one does yet.
    fn covering_seal(&self, seq: u64) -> Result<Option<Seal>, MailError>;

    /// The archive itself, for exports.
    fn archive(&self) -> &Archive;
}
