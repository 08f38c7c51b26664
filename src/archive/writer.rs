//! The single writer thread: group commit of appends and seals.
//!
//! Appenders send requests over a channel and wait on a oneshot. The thread
//! takes everything that is waiting (up to a limit), writes the frames, calls
//! `fdatasync` once, updates the index and only then answers every request
//! of the batch. If a write or the sync fails (disk full, I/O error), the
//! segment is truncated back to where the batch began, every request of the
//! batch gets the error, and the next batch starts from a clean tail.
//!
//! The writer is what knows when records become durable, so it reports the
//! group commit, the chain length, seals and failed or recovered commits to
//! [`crate::metrics`] (which also feeds `/healthz`).
//!
//! It also keeps the Merkle tree ([`super::tree_file::Tree`]) in step with
//! the chain, so a seal signs the tree head of everything before it, and
//! it makes the key-rotation record and the time-stamp frames.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant, SystemTime};

use ed25519_dalek::SigningKey;
use tokio::sync::oneshot;

use super::chain;
use super::content::Prepared;
use super::headers::Headers;
use super::index::{ContentLoc, EncryptedLoc, Head, Index};
use super::keys;
use super::record::{ContentRef, MessageMeta, Outcome, RECORD_FORMAT, Record, RecordBody};
use super::seal::Seal;
use super::sealing;
use super::segment::{self, FRAME_OVERHEAD, Kind, Location};
use super::stamp::TimeStamp;
use super::tree_file::Tree;
use super::tree_head;
use super::{Appended, ArchiveError};
use crate::keystore::{DataKey, KeyStore, SlotKind, SlotState};
use crate::metrics;

/// Most requests handled in one batch.
const MAX_BATCH: usize = 256;

/// How long a batch of outcome records alone waits for company. Nobody
/// waits on an outcome's fsync (the client already has its reply), so
/// under load it rides along with the next message's sync instead of
/// costing one of its own.
const OUTCOME_WAIT: Duration = Duration::from_millis(20);

/// Moves what is waiting in `rx` into `batch`, up to [`MAX_BATCH`].
fn drain(rx: &Receiver<Request>, batch: &mut Vec<Request>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(r) => batch.push(r),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
        }
    }
}

/// A content for the writer: new bytes, or a hash already stored.
pub enum ContentIn {
    /// Compressed and ready.
    New(Prepared),
    /// Already in the archive (checked by the appender; the writer checks again).
    Known {
        /// Hash of the stored content.
        sha256: [u8; 32],
        /// Its original size.
        size: u64,
    },
}

impl ContentIn {
    fn sha256(&self) -> [u8; 32] {
        match self {
            ContentIn::New(p) => p.sha256,
            ContentIn::Known { sha256, .. } => *sha256,
        }
    }

    fn size(&self) -> u64 {
        match self {
            ContentIn::New(p) => p.size,
            ContentIn::Known { size, .. } => *size,
        }
    }
}

/// What appenders ask of the writer.
// Each request moves once through the channel; boxing the big variant would
// only add an allocation per message.
#[allow(clippy::large_enum_variant)]
pub enum Request {
    /// Append a message record (and its content, unless stored).
    Message {
        /// Context of the message.
        meta: Box<MessageMeta>,
        /// The message bytes.
        content: ContentIn,
        /// Evidence bytes, if any.
        evidence: Option<ContentIn>,
        /// Parsed headers for the index.
        headers: Headers,
        /// A seal mail of this archive that came back (journaling): it is
        /// archived and sealed with the next seal, but does not by itself
        /// call for one (else every mailed seal would cause the next).
        quiet: bool,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Appended, ArchiveError>>,
    },
    /// Append an outcome record.
    Outcome {
        /// The outcome.
        outcome: Outcome,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Appended, ArchiveError>>,
    },
    /// Append an audit record.
    Audit {
        /// What happened.
        event: Box<super::audit::AuditEvent>,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Appended, ArchiveError>>,
    },
    /// Append a record of another body (retention rules, and later holds
    /// and tombstones).
    Record {
        /// What the record says.
        body: Box<RecordBody>,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Appended, ArchiveError>>,
    },
    /// Seal the chain head, if it moved since the last seal.
    Seal {
        /// Where the answer goes: the new seal, or `None` when nothing changed.
        reply: oneshot::Sender<Result<Option<Seal>, ArchiveError>>,
    },
    /// Store a time stamp of a seal (a `T` frame).
    TimeStamp {
        /// The checked token and what it stamps.
        stamp: TimeStamp,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<(), ArchiveError>>,
    },
    /// Seal with the current key, append a key-rotation record signed by
    /// it and by `new_key`, and seal again with `new_key`, which seals
    /// from then on.
    RotateKey {
        /// The next seal key.
        new_key: Box<SigningKey>,
        /// Where the answer goes: the rotation record and the first seal
        /// made with the new key.
        reply: oneshot::Sender<Result<(Appended, Seal), ArchiveError>>,
    },
    /// Purge message records and audit years: chain a tombstone for each
    /// record and an audit purge for each year, destroy their keys, take
    /// the records out of the index and compact the index. Runs between
    /// batches, like a rebuild, so no message of the same batch can start
    /// using a content whose key the purge destroys.
    Purge {
        /// What to purge, and why.
        items: Vec<super::purge::Due>,
        /// The years of audit records to purge.
        audit: Vec<super::purge::AuditDue>,
        /// Who runs the purge.
        actor: String,
        /// `backups_forget_by` of every tombstone.
        forget_by: chrono::NaiveDate,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<super::purge::Purged, ArchiveError>>,
    },
    /// Drop the index and rebuild it from the segments (`mailseal reindex`
    /// while the daemon runs). Appends wait in the queue meanwhile.
    Reindex {
        /// Where the answer goes: the number of records indexed.
        reply: oneshot::Sender<Result<u64, ArchiveError>>,
    },
}

/// The writer's state.
pub struct Writer {
    /// The `segments/` directory.
    pub dir: PathBuf,
    /// The open tail segment.
    pub file: File,
    /// Its number.
    pub segment: u32,
    /// Its committed length.
    pub offset: u64,
    /// Seq of the chain head.
    pub head_seq: u64,
    /// Hash of the chain head.
    pub head_hash: [u8; 32],
    /// Seq covered by the newest seal.
    pub sealed_seq: Option<u64>,
    /// A record that calls for a seal was written since the newest seal
    /// (returned seal mails do not).
    pub moved: bool,
    /// The Merkle tree over the chain.
    pub tree: Tree,
    /// Derived lookups.
    pub index: Index,
    /// Seal signing key.
    pub key: SigningKey,
    /// Rotation size.
    pub max_segment: u64,
    /// An index update failed (sled keeps an I/O error such as a full disk
    /// until it is reopened): the index is reopened and caught up with the
    /// segments after the next durable commit.
    pub index_stale: bool,
    /// The key store, when new contents and personal fields are encrypted
    /// (format 2.3).
    pub keys: Option<std::sync::Arc<KeyStore>>,
    /// Keys already durable in that store; message records take theirs here.
    pub reserve: Option<std::sync::Arc<crate::keystore::Reserve>>,
    /// The audit key of the year audit records are being written in.
    pub audit_key: Option<AuditKey>,
}

/// The key that seals one calendar year's audit records (format 2.3): a
/// year's records die together when their keep-until has passed.
pub struct AuditKey {
    /// The calendar year (UTC) of the records' `time`.
    pub year: i32,
    /// Its slot in the key store.
    pub slot: u64,
    /// The key.
    pub key: DataKey,
}

/// The keys a batch's messages use, stored and synced before any of the
/// batch's frames is written: a key always exists before its ciphertext.
#[derive(Default)]
struct BatchKeys {
    /// The record key (slot and key) of each message request, by its
    /// position in the batch.
    records: HashMap<usize, (u64, DataKey)>,
    /// Every slot added, destroyed again if the batch fails.
    added: Vec<u64>,
}

/// Index updates that wait for the batch's sync.
enum Staged {
    Content([u8; 32], ContentLoc),
    Record(Box<Record>, [u8; 32], Location, Headers),
    Seal(Seal),
    TimeStamp(TimeStamp),
}

enum Answer {
    Appended(oneshot::Sender<Result<Appended, ArchiveError>>, Appended),
    Sealed(
        oneshot::Sender<Result<Option<Seal>, ArchiveError>>,
        Option<Seal>,
    ),
    Stamped(oneshot::Sender<Result<(), ArchiveError>>),
    Rotated(
        oneshot::Sender<Result<(Appended, Seal), ArchiveError>>,
        Appended,
        Seal,
    ),
}

/// The writer's state before a batch, restored when the batch fails.
struct Mark {
    segment: u32,
    offset: u64,
    head_seq: u64,
    head_hash: [u8; 32],
    sealed_seq: Option<u64>,
    moved: bool,
    key: SigningKey,
}

impl Writer {
    /// Runs until every sender is gone.
    pub fn run(mut self, rx: Receiver<Request>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            drain(&rx, &mut batch);
            if batch.iter().all(|r| matches!(r, Request::Outcome { .. }))
                && let Ok(next) = rx.recv_timeout(OUTCOME_WAIT)
            {
                batch.push(next);
                drain(&rx, &mut batch);
            }
            // A rebuild runs between batches, after what came before it is
            // durable and indexed.
            let (between, batch): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .partition(|r| matches!(r, Request::Reindex { .. } | Request::Purge { .. }));
            if !batch.is_empty() {
                self.commit(batch);
            }
            for request in between {
                match request {
                    Request::Reindex { reply } => drop(reply.send(self.rebuild_index())),
                    Request::Purge {
                        items,
                        audit,
                        actor,
                        forget_by,
                        reply,
                    } => drop(reply.send(self.purge(items, audit, &actor, forget_by))),
                    other => fail(other, ArchiveError::Other("misrouted request".into())),
                }
            }
        }
        if let Err(e) = self.index.flush() {
            tracing::error!(error = %e, "index flush at close failed");
        }
        self.tree.close();
    }

    fn commit(&mut self, batch: Vec<Request>) {
        let started = Instant::now();
        let n = batch.len();
        let saved = Mark {
            segment: self.segment,
            offset: self.offset,
            head_seq: self.head_seq,
            head_hash: self.head_hash,
            sealed_seq: self.sealed_seq,
            moved: self.moved,
            key: self.key.clone(),
        };
        let mut replies = Vec::with_capacity(n);
        let mut staged = Vec::new();
        let mut keys = BatchKeys::default();
        let result = match self.store_keys(&batch, &mut keys) {
            Err(e) => Err((classify(e), batch)),
            Ok(()) => self
                .write_batch(batch, &mut keys, &mut replies, &mut staged)
                .and_then(|()| self.file.sync_data().map_err(|e| (classify(e), Vec::new()))),
        };
        match result {
            Ok(()) => {
                self.tree.commit();
                let records = staged
                    .iter()
                    .filter(|s| matches!(s, Staged::Record(..)))
                    .count();
                if !self.index_stale
                    && let Err(e) = self.apply(staged)
                {
                    tracing::error!(error = %e, "index update failed; reopening it");
                    self.index_stale = true;
                }
                if self.index_stale {
                    self.recover_index();
                }
                report_commit(records, started.elapsed(), self.head_seq);
                for a in replies {
                    match a {
                        Answer::Appended(tx, ap) => drop(tx.send(Ok(ap))),
                        Answer::Sealed(tx, s) => {
                            report_seal(s.as_ref());
                            drop(tx.send(Ok(s)))
                        }
                        Answer::Stamped(tx) => drop(tx.send(Ok(()))),
                        Answer::Rotated(tx, ap, s) => {
                            report_seal(Some(&s));
                            drop(tx.send(Ok((ap, s))))
                        }
                    }
                }
                tracing::debug!(
                    batch = n,
                    micros = started.elapsed().as_micros() as u64,
                    "committed"
                );
            }
            Err((err, unsent)) => {
                tracing::error!(error = %err, batch = n, "archive commit failed; batch rolled back");
                metrics::archive_writable(false);
                self.rollback(saved);
                if let (Some(store), false) = (&self.keys, keys.added.is_empty())
                    && let Err(e) = store.destroy(&keys.added)
                {
                    tracing::error!(error = %e, "could not destroy the keys of a failed batch");
                }
                let msg = err.to_string();
                let again = |e: &ArchiveError| match e {
                    ArchiveError::DiskFull => ArchiveError::DiskFull,
                    _ => ArchiveError::Other(msg.clone()),
                };
                for a in replies {
                    match a {
                        Answer::Appended(tx, _) => drop(tx.send(Err(again(&err)))),
                        Answer::Sealed(tx, _) => drop(tx.send(Err(again(&err)))),
                        Answer::Stamped(tx) => drop(tx.send(Err(again(&err)))),
                        Answer::Rotated(tx, ..) => drop(tx.send(Err(again(&err)))),
                    }
                }
                for r in unsent {
                    fail(r, again(&err));
                }
            }
        }
    }

    fn rollback(&mut self, saved: Mark) {
        let Mark {
            segment,
            offset,
            head_seq: seq,
            head_hash: hash,
            sealed_seq: sealed,
            moved,
            key,
        } = saved;
        self.tree.rollback();
        self.moved = moved;
        self.key = key;
        if segment != self.segment {
            // The batch rotated: drop the new, unsynced segment.
            let path = self.dir.join(segment::file_name(self.segment));
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::error!(error = %e, path = %path.display(), "could not remove segment of failed batch");
            }
            match segment::open_for_append(&self.dir, segment) {
                Ok((f, _)) => self.file = f,
                Err(e) => {
                    tracing::error!(error = %e, "could not reopen segment after failed batch")
                }
            }
        }
        self.segment = segment;
        self.offset = offset;
        self.head_seq = seq;
        self.head_hash = hash;
        self.sealed_seq = sealed;
        let truncated = self
            .file
            .set_len(offset)
            .and_then(|()| self.file.seek(SeekFrom::Start(offset)).map(drop));
        if let Err(e) = truncated.and_then(|()| self.file.sync_data()) {
            tracing::error!(error = %e, "could not truncate segment after failed batch");
        }
    }

    /// Takes a record key for each of the batch's messages from the reserve
    /// and notes the slots of its new contents' keys; all of them are
    /// durable already, so the batch's own sync is the segment's alone.
    fn store_keys(&mut self, batch: &[Request], keys: &mut BatchKeys) -> io::Result<()> {
        let Some(reserve) = self.reserve.clone() else {
            return Ok(());
        };
        for (i, req) in batch.iter().enumerate() {
            let Request::Message {
                content, evidence, ..
            } = req
            else {
                continue;
            };
            for c in std::iter::once(content).chain(evidence.iter()) {
                let ContentIn::New(p) = c else { continue };
                let Some(e) = &p.encrypted else { continue };
                // Destroyed again if the batch fails, like the record keys.
                keys.added.push(e.slot);
            }
            let (slot, key) = reserve.take(SlotKind::Record).map_err(io::Error::other)?;
            keys.added.push(slot);
            keys.records.insert(i, (slot, key));
        }
        Ok(())
    }

    /// Writes all frames of the batch; on error returns the requests that
    /// were not yet handled so they can be answered.
    fn write_batch(
        &mut self,
        batch: Vec<Request>,
        keys: &mut BatchKeys,
        replies: &mut Vec<Answer>,
        staged: &mut Vec<Staged>,
    ) -> Result<(), (ArchiveError, Vec<Request>)> {
        if self.offset >= self.max_segment
            && let Err(e) = self.rotate()
        {
            return Err((classify(e), batch));
        }
        let mut new_contents: HashMap<[u8; 32], ContentLoc> = HashMap::new();
        let file = match self.file.try_clone() {
            Ok(f) => f,
            Err(e) => return Err((classify(e), batch)),
        };
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut pos = self.offset;
        let mut iter = batch.into_iter().enumerate();
        while let Some((i, req)) = iter.next() {
            let step = (|| -> io::Result<()> {
                match req {
                    Request::Message {
                        meta,
                        content,
                        evidence,
                        headers,
                        quiet,
                        reply,
                    } => {
                        self.moved |= !quiet;
                        let mut meta = *meta;
                        let mut dedup = true;
                        let mut refs = Vec::with_capacity(2);
                        for c in std::iter::once(content).chain(evidence) {
                            let sha = c.sha256();
                            let size = c.size();
                            let known = match new_contents.get(&sha) {
                                Some(loc) => Some(*loc),
                                None => self.index.content(&sha).ok().flatten(),
                            };
                            let loc = match (known, c) {
                                (Some(loc), _) => loc,
                                (None, ContentIn::New(mut p)) => {
                                    let loc =
                                        write_content(&mut out, &mut pos, self.segment, &mut p)?;
                                    new_contents.insert(sha, loc);
                                    staged.push(Staged::Content(sha, loc));
                                    dedup = false;
                                    loc
                                }
                                (None, ContentIn::Known { .. }) => {
                                    return Err(io::Error::other(
                                        "content vanished from the index before it was written",
                                    ));
                                }
                            };
                            refs.push(ContentRef {
                                sha256: hex::encode(sha),
                                size,
                                stored: loc.encrypted.map(|e| hex::encode(e.cipher_sha256)),
                            });
                        }
                        let mut refs = refs.into_iter();
                        meta.content = refs.next().unwrap_or_default();
                        meta.evidence = refs.next();
                        let record_key = keys.records.remove(&i);
                        let (record, hash, at) = self.write_record(
                            &mut out,
                            &mut pos,
                            RecordBody::Message(Box::new(meta)),
                            record_key.as_ref().map(|(slot, key)| (*slot, key)),
                        )?;
                        replies.push(Answer::Appended(
                            reply,
                            Appended {
                                seq: record.seq,
                                hash,
                                deduplicated: dedup,
                            },
                        ));
                        staged.push(Staged::Record(Box::new(record), hash, at, headers));
                    }
                    Request::Outcome { outcome, reply } => {
                        self.moved = true;
                        let key = self.message_key(outcome.of);
                        let (record, hash, at) = self.write_record(
                            &mut out,
                            &mut pos,
                            RecordBody::Outcome(outcome),
                            key.as_ref().map(|(slot, key)| (*slot, key)),
                        )?;
                        appended(replies, staged, reply, record, hash, at);
                    }
                    Request::Record { body, reply } => {
                        self.moved = true;
                        let (record, hash, at) =
                            self.write_record(&mut out, &mut pos, *body, None)?;
                        appended(replies, staged, reply, record, hash, at);
                    }
                    Request::Audit { event, reply } => {
                        let (record, hash, at) =
                            self.write_record(&mut out, &mut pos, RecordBody::Audit(event), None)?;
                        appended(replies, staged, reply, record, hash, at);
                    }
                    // `run` takes rebuilds and purges out of every batch.
                    Request::Reindex { reply } => drop(reply.send(Err(ArchiveError::Other(
                        "a reindex request reached a write batch".into(),
                    )))),
                    Request::Purge { reply, .. } => drop(reply.send(Err(ArchiveError::Other(
                        "a purge request reached a write batch".into(),
                    )))),
                    Request::Seal { reply } => {
                        if self.sealed_seq == Some(self.head_seq) || !self.moved {
                            replies.push(Answer::Sealed(reply, None));
                        } else {
                            let s = self.write_seal(&mut out, &mut pos, staged)?;
                            replies.push(Answer::Sealed(reply, Some(s)));
                        }
                    }
                    Request::TimeStamp { stamp, reply } => {
                        let payload = serde_json::to_vec(&stamp).map_err(io::Error::other)?;
                        write_frame(&mut out, &mut pos, Kind::TimeStamp, &[&payload])?;
                        staged.push(Staged::TimeStamp(stamp));
                        replies.push(Answer::Stamped(reply));
                    }
                    Request::RotateKey { new_key, reply } => {
                        if self.sealed_seq != Some(self.head_seq) {
                            self.write_seal(&mut out, &mut pos, staged)?;
                        }
                        let body = keys::rotation(
                            &self.key,
                            &new_key,
                            self.head_seq + 1,
                            &hex::encode(self.head_hash),
                        );
                        let (record, hash, at) = self.write_record(
                            &mut out,
                            &mut pos,
                            RecordBody::KeyRotation(body),
                            None,
                        )?;
                        self.key = *new_key;
                        let appended = stage(staged, record, hash, at);
                        let s = self.write_seal(&mut out, &mut pos, staged)?;
                        replies.push(Answer::Rotated(reply, appended, s));
                    }
                }
                Ok(())
            })();
            if let Err(e) = step {
                return Err((classify(e), iter.map(|(_, r)| r).collect()));
            }
        }
        out.flush().map_err(|e| (classify(e), Vec::new()))?;
        drop(out);
        self.offset = pos;
        Ok(())
    }

    /// Writes a seal (signed tree head) of the head with the current key.
    fn write_seal(
        &mut self,
        out: &mut impl Write,
        pos: &mut u64,
        staged: &mut Vec<Staged>,
    ) -> io::Result<Seal> {
        let root = self.tree.root();
        let s = tree_head::make(&self.key, self.head_seq, &root, &self.head_hash, now());
        let payload = serde_json::to_vec(&s).map_err(io::Error::other)?;
        write_frame(out, pos, Kind::Seal, &[&payload])?;
        self.sealed_seq = Some(self.head_seq);
        self.moved = false;
        staged.push(Staged::Seal(s.clone()));
        Ok(s)
    }

    /// Writes a record. With `sealing` (a record key and its slot), the
    /// personal fields of a message or outcome are stored sealed; the
    /// record returned for the index keeps them in clear.
    fn write_record(
        &mut self,
        out: &mut impl Write,
        pos: &mut u64,
        body: RecordBody,
        sealing: Option<(u64, &DataKey)>,
    ) -> io::Result<(Record, [u8; 32], Location)> {
        let record = Record {
            format: RECORD_FORMAT.max(body.since_format()),
            seq: self.head_seq + 1,
            time: now(),
            prev_hash: hex::encode(self.head_hash),
            body,
        };
        let stored_body = match (&record.body, sealing) {
            (RecordBody::Message(m), Some((slot, key))) => Some(RecordBody::Message(Box::new(
                sealing::seal_message(m, key.as_bytes(), slot, record.seq)?,
            ))),
            (RecordBody::Outcome(o), Some((slot, key))) => Some(RecordBody::Outcome(
                sealing::seal_outcome(o, key.as_bytes(), slot, record.seq)?,
            )),
            (RecordBody::Audit(a), _) if self.keys.is_some() => {
                let audit = self.audit_key(&record.time)?;
                Some(RecordBody::Audit(Box::new(sealing::seal_audit(
                    a,
                    audit.key.as_bytes(),
                    audit.slot,
                    record.seq,
                )?)))
            }
            _ => None,
        };
        let mut record = record;
        let bytes = match stored_body {
            Some(body) => {
                // The index's copy keeps the fields in clear and says where
                // they are sealed, as a reader's opened record does.
                match (&mut record.body, &body) {
                    (RecordBody::Message(m), RecordBody::Message(s)) => m.sealed = s.sealed.clone(),
                    (RecordBody::Outcome(o), RecordBody::Outcome(s)) => o.sealed = s.sealed.clone(),
                    (RecordBody::Audit(a), RecordBody::Audit(s)) => a.sealed = s.sealed.clone(),
                    _ => {}
                }
                Record {
                    body,
                    ..record.clone()
                }
                .encode()
            }
            None => record.encode(),
        };
        let hash = chain::link(&self.head_hash, &bytes);
        let at = Location {
            segment: self.segment,
            offset: *pos,
        };
        write_frame(out, pos, Kind::Record, &[&hash, &bytes])?;
        self.head_seq = record.seq;
        self.head_hash = hash;
        self.tree.push(&hash);
        Ok((record, hash, at))
    }

    /// The record key of message record `seq`, when its fields are sealed
    /// and its key still exists (an outcome is sealed with it).
    /// The audit key for a record written at `time` (RFC 3339): the one
    /// in use, the year's newest live one in the index (after a restart),
    /// or a new one, stored and synced before the record that uses it is
    /// written.
    fn audit_key(&mut self, time: &str) -> io::Result<&AuditKey> {
        let year: i32 = time
            .get(..4)
            .and_then(|y| y.parse().ok())
            .ok_or_else(|| io::Error::other(format!("record time {time:?} has no year")))?;
        let store = self
            .keys
            .clone()
            .ok_or_else(|| io::Error::other("no key store for the audit key"))?;
        if self.audit_key.as_ref().is_none_or(|k| k.year != year) {
            let known = self
                .index
                .audit_keys()
                .map_err(io::Error::other)?
                .remove(&year)
                .and_then(|slots| slots.last().copied());
            let live = known.and_then(|slot| match store.get(slot) {
                Ok(SlotState::Live {
                    key,
                    kind: SlotKind::Audit,
                    ..
                }) => Some(AuditKey { year, slot, key }),
                _ => None,
            });
            let audit = match live {
                Some(k) => k,
                None => {
                    let key = DataKey::generate();
                    let slot = store
                        .add(SlotKind::Audit, &key)
                        .and_then(|slot| store.sync().map(|()| slot))
                        .map_err(io::Error::other)?;
                    tracing::info!(year, slot, "new audit key");
                    AuditKey { year, slot, key }
                }
            };
            self.audit_key = Some(audit);
        }
        self.audit_key
            .as_ref()
            .ok_or_else(|| io::Error::other("no audit key"))
    }

    fn message_key(&self, seq: u64) -> Option<(u64, DataKey)> {
        let store = self.keys.as_ref()?;
        let slot = self.index.summary(seq).ok().flatten()?.sealed_slot?;
        match store.get(slot) {
            Ok(SlotState::Live { key, .. }) => Some((slot, key)),
            _ => None,
        }
    }

    fn rotate(&mut self) -> io::Result<()> {
        let next = self.segment + 1;
        let (file, len) = segment::open_for_append(&self.dir, next)?;
        tracing::info!(segment = next, "new segment");
        self.file = file;
        self.segment = next;
        self.offset = len;
        Ok(())
    }

    /// Reopens the index and re-applies the segments it missed. The
    /// segments are the truth, so nothing is lost while the index lags; it
    /// only answers lookups late.
    fn recover_index(&mut self) {
        let recovered = self
            .index
            .reopen()
            .map_err(ArchiveError::from)
            .and_then(|()| super::recovery::catch_up(&self.dir, &self.index, self.keys.as_deref()));
        match recovered {
            Ok(head) => {
                tracing::info!(seq = head.seq, "index reopened and caught up");
                self.index_stale = false;
            }
            Err(e) => {
                tracing::error!(error = %e, "index still failing; retrying after the next commit")
            }
        }
    }

    /// Clears the index and applies every segment again; returns the
    /// number of records. A failure leaves the index stale, so the next
    /// commit reopens it and catches up.
    fn rebuild_index(&mut self) -> Result<u64, ArchiveError> {
        let started = Instant::now();
        let rebuilt = self
            .index
            .clear()
            .map_err(ArchiveError::from)
            .and_then(|()| super::recovery::catch_up(&self.dir, &self.index, self.keys.as_deref()));
        match rebuilt {
            Ok(head) => {
                self.index_stale = false;
                let millis = started.elapsed().as_millis() as u64;
                tracing::info!(records = head.seq, millis, "index rebuilt");
                Ok(head.seq)
            }
            Err(e) => {
                tracing::error!(error = %e, "index rebuild failed; retrying after the next commit");
                self.index_stale = true;
                Err(e)
            }
        }
    }

    fn apply(&mut self, staged: Vec<Staged>) -> Result<(), super::index::IndexError> {
        // Tombstones' keys die before the index forgets their records (the
        // tombstones are already durable), all with one sync.
        let doomed: Vec<u64> = staged
            .iter()
            .filter_map(|s| match s {
                Staged::Record(r, ..) => r.body.destroys(),
                _ => None,
            })
            .flatten()
            .copied()
            .collect();
        super::lifecycle::complete(&doomed, self.keys.as_deref()).map_err(|e| {
            super::index::IndexError::Damaged(format!("destroying purged keys: {e}"))
        })?;
        for s in staged {
            match s {
                Staged::Content(sha, loc) => self.index.put_content(&sha, loc)?,
                Staged::Record(r, hash, at, headers) => {
                    self.index.put_record(&r, &hash, at, headers)?;
                    if r.body.destroys().is_some() {
                        self.index.purge_done(r.seq)?;
                    }
                }
                Staged::Seal(s) => self.index.put_seal(&s)?,
                Staged::TimeStamp(t) => self.index.put_timestamp(&t)?,
            }
        }
        self.index.set_head(&Head {
            seq: self.head_seq,
            hash: hex::encode(self.head_hash),
            segment: self.segment,
            offset: self.offset,
        })
    }
}

#[path = "writer_purge.rs"]
mod purge;

/// Answers an append of a record without content once the batch is
/// durable, and stages it for the index.
fn appended(
    replies: &mut Vec<Answer>,
    staged: &mut Vec<Staged>,
    reply: oneshot::Sender<Result<Appended, ArchiveError>>,
    record: Record,
    hash: [u8; 32],
    at: Location,
) {
    let appended = stage(staged, record, hash, at);
    replies.push(Answer::Appended(reply, appended));
}

/// Stages a record without content for the index; returns its answer.
fn stage(staged: &mut Vec<Staged>, record: Record, hash: [u8; 32], at: Location) -> Appended {
    let appended = Appended {
        seq: record.seq,
        hash,
        deduplicated: false,
    };
    staged.push(Staged::Record(
        Box::new(record),
        hash,
        at,
        Headers::default(),
    ));
    appended
}

/// Current time in the records' format.
pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

fn write_frame(out: &mut impl Write, pos: &mut u64, kind: Kind, parts: &[&[u8]]) -> io::Result<()> {
    let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
    let head = segment::frame_head(kind, len);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    out.write_all(&head)?;
    for p in parts {
        crc.update(p);
        out.write_all(p)?;
    }
    out.write_all(&crc.finalize().to_be_bytes())?;
    *pos += FRAME_OVERHEAD + len;
    Ok(())
}

/// Writes a content frame: `E` when the content was encrypted (its key
/// is in `slot`), else `C`.
fn write_content(
    out: &mut impl Write,
    pos: &mut u64,
    seg: u32,
    p: &mut Prepared,
) -> io::Result<ContentLoc> {
    let at = Location {
        segment: seg,
        offset: *pos,
    };
    let (kind, ch, encrypted): (Kind, Vec<u8>, _) = match (&p.encrypted, p.encrypted_head()) {
        (Some(e), Some(head)) => (
            Kind::Encrypted,
            head.to_vec(),
            Some(EncryptedLoc {
                slot: e.slot,
                cipher_sha256: e.cipher_sha256,
            }),
        ),
        _ => (Kind::Content, p.head().to_vec(), None),
    };
    let len = ch.len() as u64 + p.data_len();
    let head = segment::frame_head(kind, len);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    out.write_all(&head)?;
    crc.update(&ch);
    out.write_all(&ch)?;
    p.write_data(out, &mut crc)?;
    out.write_all(&crc.finalize().to_be_bytes())?;
    *pos += FRAME_OVERHEAD + len;
    Ok(ContentLoc {
        at,
        size: p.size,
        stored: p.data_len(),
        encrypted,
    })
}

/// Tells monitoring about a durable batch: `records` records took `took`
/// from the writer taking the batch until durable and indexed (the wait in
/// the queue before is not included), and the chain is `chain_length` long.
fn report_commit(records: usize, took: Duration, chain_length: u64) {
    if records > 0 {
        metrics::fsync_batch(records);
        for _ in 0..records {
            metrics::commit_latency(took);
        }
    }
    metrics::set_chain_length(chain_length);
    metrics::archive_writable(true);
}

/// Tells monitoring about a durable seal, or that the newest seal already
/// covered the head when one was asked for.
fn report_seal(seal: Option<&Seal>) {
    match seal {
        Some(s) => metrics::sealed(SystemTime::now(), s.seq),
        None => metrics::seal_current(SystemTime::now()),
    }
}

fn classify(e: io::Error) -> ArchiveError {
    if e.kind() == io::ErrorKind::StorageFull || e.kind() == io::ErrorKind::QuotaExceeded {
        ArchiveError::DiskFull
    } else {
        ArchiveError::Other(format!("segment write: {e}"))
    }
}

fn fail(r: Request, err: ArchiveError) {
    match r {
        Request::Message { reply, .. }
        | Request::Outcome { reply, .. }
        | Request::Record { reply, .. }
        | Request::Audit { reply, .. } => drop(reply.send(Err(err))),
        Request::Seal { reply } => drop(reply.send(Err(err))),
        Request::TimeStamp { reply, .. } => drop(reply.send(Err(err))),
        Request::RotateKey { reply, .. } => drop(reply.send(Err(err))),
        Request::Reindex { reply } => drop(reply.send(Err(err))),
        Request::Purge { reply, .. } => drop(reply.send(Err(err))),
    }
}
