//! The search index on disk (`<archive>/search/`): open or create, add and
//! delete documents, commit with the last indexed sequence number in the
//! commit payload, purge deleted documents for good, rebuild.
//!
//! Like the sled index this is derived data: when it is missing, damaged or
//! of another layout it is created anew and filled from the segments, and
//! nothing about ingest depends on it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::indexer::LogMergePolicy;
use tantivy::schema::Schema;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

use super::document::MessageDoc;
use super::query::ParseError;
use super::schema::{self, Fields, SCHEMA_FORMAT};
use super::tokenizer;

/// Errors of the search index.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// tantivy failed (I/O underneath, a full disk, a damaged file).
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The index directory could not be used.
    #[error("search index directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The query does not parse.
    #[error(transparent)]
    Query(#[from] ParseError),
    /// A cursor that this index did not hand out.
    #[error("invalid cursor")]
    Cursor,
    /// Reading the archive to index it failed.
    #[error("reading the archive for the search index: {0}")]
    Archive(String),
    /// The index writer is gone after an earlier failure (a panic in
    /// another thread); reopening the index recovers.
    #[error("search index writer is unavailable")]
    Poisoned,
}

/// How the index writer works.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Indexing threads inside tantivy.
    pub threads: usize,
    /// Memory for buffered documents, over all threads.
    pub memory_bytes: usize,
}

impl Default for WriterOptions {
    /// One thread: the daemon's other core receives mail.
    fn default() -> Self {
        WriterOptions {
            threads: 1,
            memory_bytes: 64 * 1024 * 1024,
        }
    }
}

/// How often [`SearchIndex::purge_deleted`] tries while background merges
/// hold the segments it wants to rewrite, and how long it waits between.
const PURGE_TRIES: usize = 100;
const PURGE_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// What each commit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Payload {
    /// [`SCHEMA_FORMAT`] of the documents.
    format: u32,
    /// Every message record up to this sequence number is indexed.
    seq: u64,
}

/// An open search index and its only writer.
pub struct SearchIndex {
    /// `<archive>/search`.
    dir: PathBuf,
    /// The tantivy index.
    index: Index,
    /// Field handles.
    fields: Fields,
    /// Searchers over the last commit.
    reader: IndexReader,
    /// The writer; tantivy allows one per index.
    writer: Mutex<IndexWriter<TantivyDocument>>,
    /// Sequence number in the last commit's payload.
    indexed: Mutex<u64>,
    /// A purged record's document was deleted since the last commit.
    purge_pending: std::sync::atomic::AtomicBool,
    /// True when this open created the index (none was there, or the one
    /// there was unusable).
    created: bool,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it when it is missing, and
    /// starting over (empty, indexed up to 0) when it is damaged, of
    /// another layout, or not an index.
    pub fn open(dir: &Path, options: WriterOptions) -> Result<SearchIndex, SearchError> {
        match Self::open_existing(dir, options) {
            Ok(Some(index)) => return Ok(index),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, dir = %dir.display(), "search index unusable; rebuilding it")
            }
        }
        empty_dir(dir)?;
        Self::create(dir, options)
    }

    /// `None` when there is no index (or one of another layout) in `dir`.
    fn open_existing(
        dir: &Path,
        options: WriterOptions,
    ) -> Result<Option<SearchIndex>, SearchError> {
        if !dir.join("meta.json").exists() {
            return Ok(None);
        }
        let index = Index::open_in_dir(dir)?;
        let Some(fields) = schema::matches(&index.schema()) else {
            return Ok(None);
        };
        let payload = payload(&index)?;
        if payload.is_none_or(|p| p.format != SCHEMA_FORMAT) {
            return Ok(None);
        }
        let seq = payload.map_or(0, |p| p.seq);
        Self::with(dir, index, fields, seq, options).map(Some)
    }

    fn create(dir: &Path, options: WriterOptions) -> Result<SearchIndex, SearchError> {
        std::fs::create_dir_all(dir).map_err(|source| SearchError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let (schema, fields): (Schema, Fields) = schema::build();
        let directory = MmapDirectory::open(dir).map_err(|e| SearchError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let index = Index::create(directory, schema, Default::default())?;
        let mut s = Self::with(dir, index, fields, 0, options)?;
        s.created = true;
        // An empty commit writes the payload, so a crash before the first
        // real commit still leaves an index that opens.
        s.commit(0)?;
        Ok(s)
    }

    fn with(
        dir: &Path,
        index: Index,
        fields: Fields,
        seq: u64,
        options: WriterOptions,
    ) -> Result<SearchIndex, SearchError> {
        tokenizer::register(&index);
        let writer = index.writer_with_num_threads(options.threads.max(1), options.memory_bytes)?;
        let mut policy = LogMergePolicy::default();
        // Segments where a tenth of the documents are deleted get merged,
        // so purged messages do not linger in the files for long.
        policy.set_del_docs_ratio_before_merge(0.1);
        writer.set_merge_policy(Box::new(policy));
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            dir: dir.to_path_buf(),
            index,
            fields,
            reader,
            writer: Mutex::new(writer),
            indexed: Mutex::new(seq),
            purge_pending: Default::default(),
            created: false,
        })
    }

    /// Whether this open created the index anew (nothing usable was there).
    pub fn created(&self) -> bool {
        self.created
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Field handles, for queries.
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// A searcher over the last commit.
    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// The underlying tantivy index (snippets need its tokenizers).
    pub fn tantivy(&self) -> &Index {
        &self.index
    }

    /// Every message record up to this sequence number is in the last
    /// commit.
    pub fn indexed_seq(&self) -> u64 {
        self.indexed.lock().map_or(0, |g| *g)
    }

    fn writer(&self) -> Result<MutexGuard<'_, IndexWriter<TantivyDocument>>, SearchError> {
        self.writer.lock().map_err(|_| SearchError::Poisoned)
    }

    /// Adds a message (visible after the next [`commit`](Self::commit)).
    /// A document already indexed for the same record is replaced.
    pub fn add(&self, doc: &MessageDoc) -> Result<(), SearchError> {
        let w = self.writer()?;
        w.delete_term(Term::from_field_u64(self.fields.seq, doc.seq));
        w.add_document(doc.to_document(&self.fields))?;
        Ok(())
    }

    /// Removes a record's document (visible after the next commit; gone
    /// from the files after [`purge_deleted`](Self::purge_deleted)).
    pub fn delete(&self, seq: u64) -> Result<(), SearchError> {
        self.writer()?
            .delete_term(Term::from_field_u64(self.fields.seq, seq));
        Ok(())
    }

    /// Removes a purged record's document; the next [`commit`](Self::commit)
    /// also rewrites the segments that held it, so its words leave the files.
    pub fn delete_purged(&self, seq: u64) -> Result<(), SearchError> {
        self.delete(seq)?;
        self.purge_pending
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Makes everything added so far durable and searchable, recording
    /// that every record up to `seq` is indexed.
    pub fn commit(&self, seq: u64) -> Result<(), SearchError> {
        let mut w = self.writer()?;
        let payload = serde_json::to_string(&Payload {
            format: SCHEMA_FORMAT,
            seq,
        })
        .unwrap_or_default();
        let mut prepared = w.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        drop(w);
        self.reader.reload()?;
        if let Ok(mut g) = self.indexed.lock() {
            *g = seq;
        }
        if self
            .purge_pending
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            self.purge_deleted()?;
        }
        Ok(())
    }

    /// Drops what was added since the last commit (after a failed commit,
    /// for example on a full disk; the caller re-feeds from
    /// [`indexed_seq`](Self::indexed_seq)).
    pub fn rollback(&self) -> Result<(), SearchError> {
        self.writer()?.rollback()?;
        Ok(())
    }

    /// Rewrites every segment that holds deleted documents, so their words
    /// are gone from the files and not only marked deleted, and removes the
    /// old files. Retention calls this after deleting purged messages.
    pub fn purge_deleted(&self) -> Result<(), SearchError> {
        let mut w = self.writer()?;
        for _ in 0..PURGE_TRIES {
            let with_deletes: Vec<_> = self
                .index
                .searchable_segment_metas()?
                .into_iter()
                .filter(|m| m.has_deletes())
                .map(|m| m.id())
                .collect();
            if with_deletes.is_empty() {
                break;
            }
            // A merge (of one segment, too) rewrites the segments without
            // their deleted documents. While the merge policy is already
            // merging one of them, ours is refused: wait for that one.
            match w.merge(&with_deletes).wait() {
                Ok(_) => {}
                Err(tantivy::TantivyError::InvalidArgument(_)) => {
                    std::thread::sleep(PURGE_WAIT);
                }
                Err(e) => return Err(e.into()),
            }
        }
        w.garbage_collect_files().wait()?;
        drop(w);
        self.reader.reload()?;
        Ok(())
    }

    /// Empties the index (indexed up to 0), for a rebuild.
    pub fn clear(&self) -> Result<(), SearchError> {
        self.writer()?.delete_all_documents()?;
        self.commit(0)?;
        self.purge_deleted()
    }

    /// Number of documents in the last commit.
    pub fn num_docs(&self) -> u64 {
        self.searcher().num_docs()
    }
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("dir", &self.dir)
            .field("indexed", &self.indexed_seq())
            .finish_non_exhaustive()
    }
}

/// Removes what is in `dir`, keeping `dir` itself: it may be a mount
/// point (an index on a disk of its own), which cannot be removed.
fn empty_dir(dir: &Path) -> Result<(), SearchError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SearchError::Io { path, source }
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(dir)(e)),
    };
    for entry in entries {
        let path = entry.map_err(io(dir))?.path();
        let removed = if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(io(&path))?;
    }
    Ok(())
}

/// The last commit's payload, if it has one this build understands.
fn payload(index: &Index) -> Result<Option<Payload>, SearchError> {
    let metas = index.load_metas()?;
    Ok(metas
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str::<Payload>(p).ok()))
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
