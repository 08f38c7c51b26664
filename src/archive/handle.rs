//! [`Archive`]: the handle every way in appends through.
//!
//! Opening creates the directories and the signing key, opens the index,
//! applies whatever the segments hold beyond the index's head (repairing a
//! torn tail), and starts the writer thread. Appends compress and parse
//! headers on the caller's side (a blocking-pool thread for async callers),
//! so the writer thread only writes, syncs and indexes.

use std::io::Read;
use std::path::PathBuf;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::SystemTime;

use ed25519_dalek::VerifyingKey;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::headers::{self, HEADER_SCAN_LIMIT, Headers};
use super::index::{Head, Index};
use super::keys::KeyHistory;
use super::reader::Reader;
use super::record::{Outcome, RecordBody};
use super::recovery::{catch_up, open_index};
use super::seal::{self, Seal};
use super::spool::{Spool, SpooledContent};
use super::stamp::TimeStamp;
use super::tree_file::{TREE_DIR, Tree};
use super::writer::{ContentIn, Request, Writer};
use super::{Appended, ArchiveError, ArchiveOptions, NewMessage, content, segment};

/// Requests that may wait for the writer before appenders block.
const QUEUE: usize = 1024;

/// Largest in-memory message that [`Archive::append`] prepares on the
/// calling task; zstd takes about 0.1 ms for 256 KiB.
const INLINE_PREPARE: usize = 256 * 1024;

/// Where the writer's answer to an append arrives.
type AppendReply = oneshot::Receiver<Result<Appended, ArchiveError>>;

/// Handle to an open archive. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct Archive {
    inner: Arc<Inner>,
}

struct Inner {
    /// How the archive was opened.
    options: ArchiveOptions,
    /// The `segments/` directory.
    segments: PathBuf,
    /// Derived lookups (dedup checks happen before compression).
    index: Index,
    /// The key store (format 2.3), when the archive has one.
    data_keys: Option<Arc<crate::keystore::KeyStore>>,
    /// Keys already durable, handed to new contents and message records.
    reserve: Option<Arc<crate::keystore::Reserve>>,
    /// The seal key now and its history (marks of returned seal mails,
    /// the archive id).
    keys: RwLock<(VerifyingKey, KeyHistory)>,
    /// The newest seal's seq, for the time-stamp and seal-mail services.
    sealed: tokio::sync::watch::Sender<u64>,
    /// The writer's queue; `None` after close.
    tx: Mutex<Option<SyncSender<Request>>>,
    /// The writer thread, joined at close.
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Destroys the keys of every tombstone the index applied without being
/// able to (a crash between the tombstone and its keys, then a read-only
/// catch-up by a command that cannot write the key store).
fn complete_purges(
    index: &super::index::Index,
    segments: &std::path::Path,
    keys: Option<&Arc<crate::keystore::KeyStore>>,
) -> Result<(), ArchiveError> {
    let pending = index.purge_pending()?;
    if pending.is_empty() {
        return Ok(());
    }
    let reader = Reader::indexed(index.clone(), segments.to_path_buf(), keys.cloned());
    for seq in pending {
        let (record, _) = reader.record(seq)?;
        if let Some(slots) = record.body.destroys() {
            let n = super::lifecycle::complete(slots, keys.map(|k| k.as_ref()))
                .map_err(|e| ArchiveError::Other(format!("completing tombstone {seq}: {e}")))?;
            if n > 0 {
                tracing::warn!(
                    tombstone = seq,
                    slots = n,
                    "an interrupted purge was completed"
                );
            }
        }
        index.purge_done(seq)?;
    }
    Ok(())
}

fn io_err(path: &std::path::Path) -> impl Fn(std::io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Archive {
    /// Opens (or creates) an archive.
    pub fn open(options: &ArchiveOptions) -> Result<Archive, ArchiveError> {
        Archive::open_with(options, false)
    }

    /// Opens an archive after dropping its index, which is then rebuilt from
    /// the segments (`mailseal reindex`).
    pub fn open_reindexing(options: &ArchiveOptions) -> Result<Archive, ArchiveError> {
        Archive::open_with(options, true)
    }

    fn open_with(options: &ArchiveOptions, rebuild: bool) -> Result<Archive, ArchiveError> {
        let segments = options.path.join("segments");
        std::fs::create_dir_all(&segments).map_err(io_err(&segments))?;
        std::fs::create_dir_all(&options.spool_dir).map_err(io_err(&options.spool_dir))?;
        let key = seal::load_or_create_key(&options.key_file)?;
        let keys = super::keyring::for_writing(options)?;
        let reserve = (keys.clone()).map(|k| Arc::new(crate::keystore::Reserve::new(k)));
        let index = open_index(&options.path)?;
        if rebuild {
            index.clear()?;
        }
        let head = catch_up(&segments, &index, keys.as_deref())?;
        complete_purges(&index, &segments, keys.as_ref())?;
        // A rule may never lose years or disappear: refuse before anything
        // is written under rules that would keep less.
        let rules_changed = match &options.retention {
            Some(rules) => super::keep::check_rules(rules, index.retention_rules()?.as_ref())?,
            None => false,
        };
        let events = index.key_events()?;
        let key = super::rotate::reconcile(&options.key_file, key, &events)?;
        let mut seg = head.segment.max(1);
        let older = segment::version_of(&segments, seg).map_err(io_err(&segments))?;
        if older.is_some_and(|v| v < segment::SEGMENT_FORMAT) {
            // Never a newer frame in an older segment: it is closed.
            tracing::info!(segment = seg, "closing a segment of an older format");
            seg += 1;
        }
        let (file, offset) = segment::open_for_append(&segments, seg).map_err(io_err(&segments))?;
        let tree_dir = options.path.join(TREE_DIR);
        let tree = Tree::open(&tree_dir, head.seq, |from| {
            let it = index.summaries_from(from).map_err(std::io::Error::other)?;
            Ok(it.map(|s| {
                let s = s.map_err(std::io::Error::other)?;
                super::chain::parse_hex(&s.hash)
                    .ok_or_else(|| std::io::Error::other(format!("record {}: bad hash", s.seq)))
            }))
        })
        .map_err(io_err(&tree_dir))?;
        let last_seal = index.last_seal()?;
        report_open(&head, last_seal.as_ref());
        let mut history = KeyHistory::from_events(events);
        if history.first.is_none() {
            history.first = index.seals()?.first().map(|s| s.public_key.clone());
        }
        let sealed_seq = last_seal.as_ref().map(|s| s.seq);
        let writer = Writer {
            dir: segments.clone(),
            file,
            segment: seg,
            offset,
            head_seq: head.seq,
            head_hash: super::chain::parse_hex(&head.hash).unwrap_or(super::chain::GENESIS),
            sealed_seq,
            moved: sealed_seq != Some(head.seq),
            tree,
            index: index.clone(),
            key: key.clone(),
            max_segment: options.segment_max_bytes,
            index_stale: false,
            keys: keys.clone(),
            reserve: reserve.clone(),
            audit_key: None,
        };
        let (tx, rx) = sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("archive-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(io_err(&segments))?;
        tracing::info!(path = %options.path.display(), seq = head.seq, segment = seg, "archive open");
        let archive = Archive {
            inner: Arc::new(Inner {
                options: options.clone(),
                segments,
                index,
                data_keys: keys,
                reserve,
                keys: RwLock::new((key.verifying_key(), history)),
                sealed: tokio::sync::watch::Sender::new(sealed_seq.unwrap_or(0)),
                tx: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
            }),
        };
        if let (true, Some(rules)) = (rules_changed, &options.retention) {
            let body = RecordBody::RetentionRules(rules.recorded());
            let appended = archive.append_body_blocking(body)?;
            tracing::info!(seq = appended.seq, "retention rules recorded");
        }
        Ok(archive)
    }

    /// Opens an archive in `dir` with default settings (tests).
    pub fn open_dir(dir: &std::path::Path) -> Result<Archive, ArchiveError> {
        Archive::open(&ArchiveOptions::at(dir))
    }

    /// The options the archive was opened with.
    pub fn options(&self) -> &ArchiveOptions {
        &self.inner.options
    }

    /// A spool configured for this archive (spill directory, memory limit).
    pub fn spool(&self) -> Spool {
        Spool::new(
            &self.inner.options.spool_dir,
            self.inner.options.spool_memory_limit,
        )
    }

    /// The seal key's public half.
    pub fn public_key(&self) -> VerifyingKey {
        self.keys().0
    }

    /// The seal key now and the key history.
    pub fn keys(&self) -> (VerifyingKey, KeyHistory) {
        match self.inner.keys.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The archive's id (its first seal key, hex), which marks its seal
    /// mails.
    pub fn archive_id(&self) -> String {
        let (key, history) = self.keys();
        history.archive_id(&key)
    }

    /// True when `head` is marked as one of this archive's seal mails.
    fn is_own_seal_mail(&self, head: &[u8]) -> bool {
        let (key, history) = self.keys();
        let mut keys: Vec<VerifyingKey> = history
            .keys()
            .iter()
            .filter_map(|k| super::keys::parse_key(k))
            .collect();
        keys.push(key);
        super::mark::is_marked(head, &history.archive_id(&key), &keys)
    }

    /// Watches the newest seal's seq (changes on every new seal).
    pub fn seals_watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.sealed.subscribe()
    }

    /// Stores a checked time stamp of a seal; returns once durable.
    pub async fn append_timestamp(&self, stamp: TimeStamp) -> Result<(), ArchiveError> {
        let (reply, rx) = oneshot::channel();
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.send(Request::TimeStamp { stamp, reply }))
            .await
            .map_err(|_| ArchiveError::Closed)??;
        rx.await.map_err(|_| ArchiveError::Closed)?
    }

    /// Rotates the seal key (`mailseal key rotate-seal`): seals with the
    /// old key, appends the key-rotation record signed by both, seals with
    /// the new key and replaces the key file. Blocking.
    pub fn rotate_key_blocking(&self) -> Result<(super::Appended, Seal), ArchiveError> {
        let key_file = self.inner.options.key_file.clone();
        let new_key = super::rotate::prepare(&key_file)?;
        let (reply, rx) = oneshot::channel();
        let request = Request::RotateKey {
            new_key: Box::new(new_key.clone()),
            reply,
        };
        let result = self
            .send(request)
            .and_then(|()| rx.blocking_recv().map_err(|_| ArchiveError::Closed)?);
        let (appended, seal) = match result {
            Ok(r) => r,
            Err(e) => {
                super::rotate::abandon(&key_file);
                return Err(e);
            }
        };
        super::rotate::finish(&key_file)?;
        if let Ok(mut k) = self.inner.keys.write() {
            let old = hex::encode(k.0.as_bytes());
            k.1.first.get_or_insert(old.clone());
            k.1.events.push(super::keys::KeyEvent {
                seq: appended.seq,
                old_key: old,
                new_key: seal.public_key.clone(),
            });
            k.0 = new_key.verifying_key();
        }
        self.inner.sealed.send_replace(seal.seq);
        tracing::info!(seq = appended.seq, key = %seal.public_key, "seal key rotated");
        Ok((appended, seal))
    }

    /// Re-wraps every data key under a new master key (`key rotate-master`).
    /// Appends wait on the key store meanwhile; contents are untouched.
    pub fn rotate_master_blocking(&self) -> Result<crate::keystore::Rotated, ArchiveError> {
        let keys = self.inner.data_keys.as_ref().ok_or_else(|| {
            ArchiveError::Other(
                "this archive has no key store (encryption was never on): nothing to rotate".into(),
            )
        })?;
        let r = keys
            .rotate_master()
            .map_err(|e| ArchiveError::Other(e.to_string()))?;
        tracing::info!(
            old = %hex::encode(r.old_id),
            new = %hex::encode(r.new_id),
            live = r.live,
            "master key rotated"
        );
        Ok(r)
    }

    /// Purges message records and audit years (see [`Request::Purge`]);
    /// blocking, for the CLI, the control socket and the daily job.
    pub fn purge_blocking(
        &self,
        items: Vec<super::purge::Due>,
        audit: Vec<super::purge::AuditDue>,
        actor: &str,
        forget_by: chrono::NaiveDate,
    ) -> Result<super::purge::Purged, ArchiveError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Purge {
            items,
            audit,
            actor: actor.to_string(),
            forget_by,
            reply,
        })?;
        rx.blocking_recv().map_err(|_| ArchiveError::Closed)?
    }

    /// The live index (holds, requests and purge plans read it).
    pub fn index(&self) -> &super::index::Index {
        &self.inner.index
    }

    /// Read access through the live index.
    pub fn reader(&self) -> Reader {
        Reader::indexed(
            self.inner.index.clone(),
            self.inner.segments.clone(),
            self.inner.data_keys.clone(),
        )
    }

    /// Appends a message; returns once it is durable (fsync'd).
    ///
    /// A small message held in memory is hashed, compressed and queued on
    /// the calling task: that takes tens of microseconds, less than handing
    /// it to the blocking pool and back. A larger one, or one the writer's
    /// full queue would block, goes through the blocking pool.
    pub async fn append(&self, msg: NewMessage) -> Result<Appended, ArchiveError> {
        let inline = msg
            .content
            .as_memory()
            .is_some_and(|b| b.len() <= INLINE_PREPARE)
            && msg.evidence.is_none();
        let rx = if inline {
            let (request, rx) = self.request(msg)?;
            match self.try_send(request)? {
                None => rx,
                Some(request) => self.send_blocking(request, rx).await?,
            }
        } else {
            let this = self.clone();
            tokio::task::spawn_blocking(move || this.submit(msg))
                .await
                .map_err(|_| ArchiveError::Closed)??
        };
        rx.await.map_err(|_| ArchiveError::Closed)?
    }

    /// Blocking variant for the CLI (must not run inside a tokio runtime).
    pub fn append_blocking(&self, msg: NewMessage) -> Result<Appended, ArchiveError> {
        self.submit(msg)?
            .blocking_recv()
            .map_err(|_| ArchiveError::Closed)?
    }

    /// Appends an outcome record (the upstream's final reply for record `of`).
    pub async fn append_outcome(&self, outcome: Outcome) -> Result<Appended, ArchiveError> {
        let (reply, rx) = oneshot::channel();
        let rx = match self.try_send(Request::Outcome { outcome, reply })? {
            None => rx,
            Some(request) => self.send_blocking(request, rx).await?,
        };
        rx.await.map_err(|_| ArchiveError::Closed)?
    }

    /// Appends a record of another body (retention rules, holds,
    /// tombstones); blocking, for the CLI and for `open`.
    pub fn append_body_blocking(&self, body: RecordBody) -> Result<Appended, ArchiveError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Record {
            body: Box::new(body),
            reply,
        })?;
        rx.blocking_recv().map_err(|_| ArchiveError::Closed)?
    }

    /// Appends an audit record; returns once it is durable, so the caller
    /// may serve what the record describes only afterwards.
    pub async fn append_audit(
        &self,
        event: super::audit::AuditEvent,
    ) -> Result<Appended, ArchiveError> {
        let (reply, rx) = oneshot::channel();
        let request = Request::Audit {
            event: Box::new(event),
            reply,
        };
        let rx = match self.try_send(request)? {
            None => rx,
            Some(request) => self.send_blocking(request, rx).await?,
        };
        rx.await.map_err(|_| ArchiveError::Closed)?
    }

    /// Queues `request` without blocking; gives it back when the queue is
    /// full.
    fn try_send(&self, request: Request) -> Result<Option<Request>, ArchiveError> {
        match self.sender()?.try_send(request) {
            Ok(()) => Ok(None),
            Err(TrySendError::Full(request)) => Ok(Some(request)),
            Err(TrySendError::Disconnected(_)) => Err(ArchiveError::Closed),
        }
    }

    /// Queues `request` from the blocking pool (the queue is full, so the
    /// send waits for the writer) and passes `rx` through.
    async fn send_blocking<T: Send + 'static>(
        &self,
        request: Request,
        rx: T,
    ) -> Result<T, ArchiveError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.send(request))
            .await
            .map_err(|_| ArchiveError::Closed)??;
        Ok(rx)
    }

    /// Seals the chain head now (when it moved since the last seal).
    pub async fn seal(&self) -> Result<Option<Seal>, ArchiveError> {
        let (reply, rx) = oneshot::channel();
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.send(Request::Seal { reply }))
            .await
            .map_err(|_| ArchiveError::Closed)??;
        let sealed = rx.await.map_err(|_| ArchiveError::Closed)??;
        if let Some(s) = &sealed {
            self.inner.sealed.send_replace(s.seq);
        }
        Ok(sealed)
    }

    /// Drops the index and rebuilds it from the segments while the archive
    /// stays open; appends wait until it is done. Returns the number of
    /// records indexed.
    pub async fn reindex(&self) -> Result<u64, ArchiveError> {
        let (reply, rx) = oneshot::channel();
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.send(Request::Reindex { reply }))
            .await
            .map_err(|_| ArchiveError::Closed)??;
        rx.await.map_err(|_| ArchiveError::Closed)?
    }

    /// Seals every `seal_interval` until `token` is cancelled.
    pub async fn seal_periodically(&self, token: CancellationToken) {
        let mut tick = tokio::time::interval(self.inner.options.seal_interval);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tick.tick() => match self.seal().await {
                    Ok(Some(s)) => tracing::info!(seq = s.seq, head = %s.head_hash, "sealed"),
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "seal failed"),
                },
            }
        }
    }

    /// Seals the head, stops the writer and waits for it (clean shutdown).
    /// Blocking; call from outside the runtime or via `spawn_blocking`.
    pub fn close(&self) -> Result<Option<Seal>, ArchiveError> {
        let sealed = match self.send_seal_blocking() {
            Ok(s) => s,
            Err(ArchiveError::Closed) => None,
            Err(e) => return Err(e),
        };
        if let Ok(mut tx) = self.inner.tx.lock() {
            tx.take();
        }
        let thread = self.inner.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread
            && t.join().is_err()
        {
            tracing::error!("archive writer thread panicked");
        }
        if let Some(s) = &sealed {
            tracing::info!(seq = s.seq, head = %s.head_hash, "sealed at close");
        }
        Ok(sealed)
    }

    fn send_seal_blocking(&self) -> Result<Option<Seal>, ArchiveError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Seal { reply })?;
        rx.blocking_recv().map_err(|_| ArchiveError::Closed)?
    }

    fn sender(&self) -> Result<SyncSender<Request>, ArchiveError> {
        self.inner
            .tx
            .lock()
            .map_err(|_| ArchiveError::Closed)?
            .clone()
            .ok_or(ArchiveError::Closed)
    }

    fn send(&self, req: Request) -> Result<(), ArchiveError> {
        self.sender()?.send(req).map_err(|_| ArchiveError::Closed)
    }

    fn submit(&self, msg: NewMessage) -> Result<AppendReply, ArchiveError> {
        let (request, rx) = self.request(msg)?;
        self.send(request)?;
        Ok(rx)
    }

    /// Hashes, parses and compresses a message into the writer's request.
    fn request(&self, msg: NewMessage) -> Result<(Request, AppendReply), ArchiveError> {
        let NewMessage {
            mut meta,
            mut content,
            evidence,
        } = msg;
        let (headers, quiet) = header_fields(&mut content, |head| {
            super::mark::has_mark_field(head) && self.is_own_seal_mail(head)
        });
        if let Some(rules) = &self.inner.options.retention {
            meta.retention = Some(super::keep::decide(
                rules,
                &meta,
                &headers,
                chrono::Utc::now(),
            ));
        }
        let content = self.prepare(content)?;
        let evidence = evidence.map(|e| self.prepare(e)).transpose()?;
        let (reply, rx) = oneshot::channel();
        let request = Request::Message {
            meta: Box::new(meta),
            content,
            evidence,
            headers,
            quiet,
            reply,
        };
        Ok((request, rx))
    }

    fn prepare(&self, c: SpooledContent) -> Result<ContentIn, ArchiveError> {
        if self.inner.index.content(&c.sha256)?.is_some() {
            return Ok(ContentIn::Known {
                sha256: c.sha256,
                size: c.size,
            });
        }
        let dir = &self.inner.options.spool_dir;
        let key = match (&self.inner.reserve, self.inner.options.encrypt) {
            (Some(r), true) => Some(r.take(crate::keystore::SlotKind::Content)?),
            _ => None,
        };
        content::prepare(c, self.inner.options.compression_level, dir, key)
            .map(ContentIn::New)
            .map_err(io_err(dir))
    }

    /// The record holding an IMAP message (user, mailbox, UIDVALIDITY, UID).
    pub fn imap_message(
        &self,
        user: &str,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
    ) -> Result<Option<u64>, ArchiveError> {
        Ok(self
            .inner
            .index
            .imap_message(user, mailbox, uidvalidity, uid)?)
    }

    /// Highest UID archived for a mailbox at a UIDVALIDITY (importers and
    /// the IMAP proxy). Importers key by `("", origin)`.
    pub fn imap_highest_uid(
        &self,
        user: &str,
        mailbox: &str,
        uidvalidity: u32,
    ) -> Result<Option<u32>, ArchiveError> {
        Ok(self
            .inner
            .index
            .imap_highest_uid(user, mailbox, uidvalidity)?)
    }

    /// The record holding a whole POP3 message (upstream `host:port`,
    /// user, UIDL), if any.
    pub fn pop3_message(
        &self,
        upstream: &str,
        user: &str,
        uidl: &str,
    ) -> Result<Option<u64>, ArchiveError> {
        Ok(self.inner.index.pop3_message(upstream, user, uidl)?)
    }

    /// True when a content with this hash is stored.
    pub fn has_content(&self, sha256: &[u8; 32]) -> Result<bool, ArchiveError> {
        Ok(self.inner.index.content(sha256)?.is_some())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Last handle gone without close(): stop the writer so the process
        // can exit; everything acknowledged is already durable.
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}

/// Tells monitoring ([`crate::metrics`]) what opening found: the archive
/// takes commits, its chain length, and its newest seal, which is current
/// when it covers the head (so restarting an idle archive does not report a
/// late seal).
fn report_open(head: &Head, last_seal: Option<&Seal>) {
    crate::metrics::archive_writable(true);
    if let Some(seal) = last_seal {
        let at = chrono::DateTime::parse_from_rfc3339(&seal.time)
            .map_or_else(|_| SystemTime::now(), SystemTime::from);
        crate::metrics::sealed(at, seal.seq);
        if seal.seq == head.seq {
            crate::metrics::seal_current(SystemTime::now());
        }
    }
    crate::metrics::set_chain_length(head.seq);
}

/// The parsed header fields, and whether `is_seal_mail` recognises the
/// message as one of the archive's own seal mails.
fn header_fields(
    content: &mut SpooledContent,
    is_seal_mail: impl Fn(&[u8]) -> bool,
) -> (Headers, bool) {
    if let Some(bytes) = content.as_memory() {
        let head = &bytes[..bytes.len().min(HEADER_SCAN_LIMIT)];
        return (headers::parse(bytes), is_seal_mail(head));
    }
    let mut head = Vec::with_capacity(HEADER_SCAN_LIMIT);
    match content.reader() {
        Ok(r) => {
            let _ = r.take(HEADER_SCAN_LIMIT as u64).read_to_end(&mut head);
            (headers::parse(&head), is_seal_mail(&head))
        }
        Err(_) => (Headers::default(), false),
    }
}
