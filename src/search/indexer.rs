//! The daemon's background indexer: a thread that follows the archive's
//! head and indexes what was committed, so search never delays a `250` or
//! an upstream `.`.
//!
//! ```text
//!  archive writer ── commit ──> Indexer::notify(seq)   (an atomic store)
//!                                      │
//!  indexer thread: wait ─> read records indexed+1..=head ─> extract ─> add
//!                    ▲        commit every BATCH records or COMMIT_EVERY │
//!                    └──── on any error: drop the index, back off, reopen ┘
//!                          (a deleted or damaged index is rebuilt)
//! ```
//!
//! A full disk makes commits fail; the indexer keeps retrying from the
//! last commit while ingest goes on, and catches up when there is room.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::catchup::index_seq;
use super::direction::LocalDomains;
use super::index::{SearchError, SearchIndex, WriterOptions};
use crate::archive::reader::Reader;

/// Records indexed between two commits at most.
const BATCH: u64 = 5_000;
/// Longest time an indexed record waits for its commit (to be searchable).
const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// How often an idle indexer looks at the archive's head (and whether its
/// index directory is still there). Reading the head is one sled lookup.
const POLL: Duration = Duration::from_millis(250);
/// Back-off after a failure, doubling up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What the indexer reports (health, metrics, `stats`).
#[derive(Debug, Default)]
pub struct Status {
    /// The archive's last committed record, as notified.
    pub head: AtomicU64,
    /// The index's last committed seq.
    pub indexed: AtomicU64,
    /// The last failure, until a commit succeeds again.
    pub error: Mutex<Option<String>>,
    /// Rebuilds started because the index was missing or damaged.
    pub rebuilds: AtomicU64,
    /// The index the thread writes, while it is open: the daemon's
    /// searches read its last commit. `None` while it is being reopened.
    current: RwLock<Option<Arc<SearchIndex>>>,
    /// `mailseal reindex` asked for the index to be rebuilt from the
    /// segments; the thread clears it and indexes everything again.
    rebuild: AtomicBool,
}

impl Status {
    /// The open index, for searching; `None` while the indexer reopens it
    /// after a failure.
    pub fn index(&self) -> Option<Arc<SearchIndex>> {
        self.current.read().ok().and_then(|g| g.clone())
    }

    fn set_index(&self, index: Option<Arc<SearchIndex>>) {
        if let Ok(mut g) = self.current.write() {
            *g = index;
        }
    }

    /// Asks the thread to rebuild the index from the segments (it runs in
    /// the background; `indexed` starts again from 0).
    pub fn request_rebuild(&self) {
        self.rebuild.store(true, Ordering::Relaxed);
    }

    /// The last failure, if the index has not committed since.
    pub fn last_error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|g| g.clone())
    }

    /// Passes the figures on to `/metrics` and `/healthz`.
    fn report(&self) {
        crate::metrics::search_progress(
            self.indexed.load(Ordering::Relaxed),
            self.head.load(Ordering::Relaxed),
            self.last_error().is_some(),
        );
    }

    /// Records the archive has committed that the index has not.
    pub fn lag(&self) -> u64 {
        self.head
            .load(Ordering::Relaxed)
            .saturating_sub(self.indexed.load(Ordering::Relaxed))
    }
}

/// Wakes the thread.
#[derive(Default)]
struct Signal {
    /// Set by notify and stop, cleared by the thread.
    pending: Mutex<bool>,
    /// Wakes the thread.
    cond: Condvar,
}

impl Signal {
    fn raise(&self) {
        if let Ok(mut p) = self.pending.lock() {
            *p = true;
            self.cond.notify_one();
        }
    }

    fn wait(&self, timeout: Duration) {
        if let Ok(p) = self.pending.lock()
            && let Ok((mut p, _)) = self.cond.wait_timeout_while(p, timeout, |p| !*p)
        {
            *p = false;
        }
    }
}

/// Handle to the indexer thread.
pub struct Indexer {
    /// Shared figures.
    status: Arc<Status>,
    /// Wakes the thread.
    signal: Arc<Signal>,
    /// Asks the thread to finish.
    stop: Arc<AtomicBool>,
    /// The thread.
    thread: Option<JoinHandle<()>>,
}

/// What the thread needs.
pub struct Config {
    /// `<archive>/search`.
    pub dir: PathBuf,
    /// The organisation's domains, for `direction:`.
    pub local: LocalDomains,
    /// tantivy writer settings.
    pub writer: WriterOptions,
}

impl Indexer {
    /// Starts the thread; it catches up with `head` (the archive's head at
    /// start) at once.
    pub fn spawn(config: Config, reader: Reader, head: u64) -> std::io::Result<Indexer> {
        let status = Arc::new(Status::default());
        status.head.store(head, Ordering::Relaxed);
        let signal = Arc::new(Signal::default());
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            config,
            reader,
            status: status.clone(),
            signal: signal.clone(),
            stop: stop.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("search-indexer".into())
            .spawn(move || worker.run())?;
        Ok(Indexer {
            status,
            signal,
            stop,
            thread: Some(thread),
        })
    }

    /// Tells the indexer that the archive has committed up to `seq`.
    /// Cheap and never blocks: the archive writer calls it after commits.
    pub fn notify(&self, seq: u64) {
        self.status.head.fetch_max(seq, Ordering::Relaxed);
        self.signal.raise();
    }

    /// Shared figures.
    pub fn status(&self) -> &Arc<Status> {
        &self.status
    }

    /// Commits what is indexed and ends the thread.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.signal.raise();
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("search indexer thread panicked");
        }
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        self.halt();
    }
}

struct Worker {
    config: Config,
    reader: Reader,
    status: Arc<Status>,
    signal: Arc<Signal>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn run(self) {
        let mut backoff = FIRST_BACKOFF;
        while !self.stopping() {
            let result = self.session();
            self.status.set_index(None);
            match result {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "search index failed; reopening it");
                    if let Ok(mut g) = self.status.error.lock() {
                        *g = Some(e.to_string());
                    }
                    // An index that cannot even be opened never reaches the
                    // session's poll: without this the head (and the lag
                    // that `max_lag` bounds) would stay where it was.
                    if let Err(e) = self.poll_head() {
                        tracing::warn!(error = %e, "archive head unreadable");
                    }
                    self.status.report();
                    self.signal.wait(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Opens the index and follows the head until stopped (`Ok`) or a
    /// failure (`Err`: the caller reopens after a pause).
    fn session(&self) -> Result<(), SearchError> {
        let existed = self.config.dir.join("meta.json").exists();
        let index = Arc::new(SearchIndex::open(&self.config.dir, self.config.writer)?);
        if index.created() && existed {
            self.status.rebuilds.fetch_add(1, Ordering::Relaxed);
        }
        // The archive may have been restored from an older copy.
        let head = self.status.head.load(Ordering::Relaxed);
        if index.indexed_seq() > head {
            tracing::warn!(
                indexed = index.indexed_seq(),
                head,
                "search index ahead of the archive; rebuilding it"
            );
            index.clear()?;
        }
        self.status
            .indexed
            .store(index.indexed_seq(), Ordering::Relaxed);
        self.status.set_index(Some(index.clone()));
        loop {
            if self.stopping() {
                return Ok(());
            }
            self.poll_head()?;
            self.status.report();
            if self.status.rebuild.swap(false, Ordering::Relaxed) {
                tracing::info!("search index rebuild requested");
                index.clear()?;
                self.status.indexed.store(0, Ordering::Relaxed);
            }
            if self.status.lag() == 0 {
                // Deleted while idle: no commit would notice, so look.
                if !self.config.dir.join("meta.json").exists() {
                    return Err(SearchError::Archive(
                        "the search index directory disappeared".into(),
                    ));
                }
                self.signal.wait(POLL);
                continue;
            }
            self.catch_up(&index)?;
            if let Ok(mut g) = self.status.error.lock() {
                *g = None;
            }
        }
    }

    /// Learns the archive's head from the archive itself, so the writer
    /// needs no hook: ingest never waits for search.
    fn poll_head(&self) -> Result<(), SearchError> {
        let head = self
            .reader
            .head()
            .map_err(|e| SearchError::Archive(e.to_string()))?;
        self.status.head.fetch_max(head.seq, Ordering::Relaxed);
        Ok(())
    }

    /// Indexes up to the head as known now, committing in batches.
    fn catch_up(&self, index: &SearchIndex) -> Result<(), SearchError> {
        let from = index.indexed_seq();
        let head = self.status.head.load(Ordering::Relaxed);
        let mut raw = Vec::new();
        let mut since_commit = Instant::now();
        for seq in from + 1..=head {
            index_seq(index, &self.reader, seq, &mut raw, &self.config.local)?;
            let last = seq == head;
            if last || seq - index.indexed_seq() >= BATCH || since_commit.elapsed() >= COMMIT_EVERY
            {
                index.commit(seq)?;
                self.status.indexed.store(seq, Ordering::Relaxed);
                self.status.report();
                since_commit = Instant::now();
                if self.stopping() && !last {
                    // Shutdown: what is committed stays; the rest is caught
                    // up after the next start.
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "indexer_tests.rs"]
mod tests;
