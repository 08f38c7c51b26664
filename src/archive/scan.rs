//! Walking the segments to (re)build derived state.
//!
//! Opening the archive applies every frame after the index's head to the
//! index; `reindex` does it from the start; read-only commands that cannot
//! open the index (the daemon holds it) apply everything to an in-memory
//! [`MemoryIndex`]. All three use [`apply_from`] with a different [`Sink`].
//! A torn frame at the very end of the last segment is the trace of a crash
//! mid-append: it was never acknowledged, so it is moved aside to a
//! `.torn-OFFSET` file and the segment is truncated to the last whole frame.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

use super::content;
use super::headers::{self, HEADER_SCAN_LIMIT, Headers};
use super::index::{ContentLoc, EncryptedLoc, Head, Index, IndexError, Summary};
use super::keys::KeyEvent;
use super::record::{Record, RecordBody};
use super::seal::Seal;
use super::sealing;
use super::segment::{self, Kind, Location, SegmentError, SegmentReader};
use super::stamp::TimeStamp;
use crate::keystore::{KeyStore, SlotState};

/// Receives frames in chain order.
pub trait Sink {
    /// Where a content already applied lives.
    fn content_loc(&self, sha256: &[u8; 32]) -> Option<ContentLoc>;
    /// A content frame.
    fn content(&mut self, sha256: [u8; 32], loc: ContentLoc) -> Result<(), IndexError>;
    /// A record frame, with the headers of its content.
    fn record(
        &mut self,
        record: &Record,
        hash: &[u8; 32],
        at: Location,
        headers: Headers,
    ) -> Result<(), IndexError>;
    /// A seal frame.
    fn seal(&mut self, seal: Seal) -> Result<(), IndexError>;
    /// A time-stamp frame (segment version 2).
    fn timestamp(&mut self, stamp: TimeStamp) -> Result<(), IndexError>;
    /// Progress marker after each frame.
    fn head(&mut self, head: &Head) -> Result<(), IndexError>;
}

/// Errors while scanning.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A segment is damaged somewhere other than its tail.
    #[error("{0} (run `mailseal verify` for details)")]
    Segment(#[from] SegmentError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A record frame does not parse.
    #[error("{at}: record does not parse: {reason}")]
    BadRecord {
        /// Where.
        at: Location,
        /// Why.
        reason: String,
    },
    /// Segment directory problems.
    #[error("segments: {0}")]
    Io(#[from] io::Error),
    /// A tombstone's or audit purge's keys could not be destroyed.
    #[error("completing the purge that record {of} chained: {source}")]
    Purge {
        /// The tombstone or audit purge.
        of: u64,
        /// Why.
        source: Box<crate::keystore::KeyStoreError>,
    },
}

/// Applies every frame after `from` to `sink`. When `repair_tail` is set, a
/// torn last frame of the last segment is moved aside and truncated away.
/// Returns the new head.
pub fn apply_from(
    dir: &Path,
    from: &Head,
    sink: &mut dyn Sink,
    repair_tail: bool,
    keys: Option<&KeyStore>,
) -> Result<Head, ScanError> {
    let segments = segment::list(dir)?;
    let mut head = from.clone();
    let mut prev = super::chain::parse_hex(&head.hash).unwrap_or(super::chain::GENESIS);
    let last = segments.last().copied();
    for &n in segments.iter().filter(|&&n| n >= from.segment) {
        let mut r = SegmentReader::open(dir, n)?;
        if n == from.segment && from.offset > 0 {
            r.seek(from.offset);
        }
        loop {
            let fh = match r.next_header() {
                Ok(Some(fh)) => fh,
                Ok(None) => break,
                Err(SegmentError::Torn { at, have, need }) if repair_tail && Some(n) == last => {
                    repair(
                        dir,
                        n,
                        at.offset,
                        r.len(),
                        format!("{have} of {need} bytes"),
                    )?;
                    break;
                }
                Err(e) => return Err(e.into()),
            };
            match fh.kind {
                Kind::Content | Kind::Encrypted => {
                    let mut p = r.payload_reader(&fh)?;
                    let damaged = |e: io::Error| SegmentError::Damaged {
                        at: fh.at,
                        what: e.to_string(),
                    };
                    let (h, encrypted, head_len) = if fh.kind == Kind::Encrypted {
                        let (h, e) = content::read_encrypted_head(&mut p).map_err(damaged)?;
                        let loc = EncryptedLoc {
                            slot: e.slot,
                            cipher_sha256: e.cipher_sha256,
                        };
                        (h, Some(loc), content::ENCRYPTED_HEAD_LEN)
                    } else {
                        let h = content::read_head(&mut p).map_err(damaged)?;
                        (h, None, content::CONTENT_HEAD_LEN)
                    };
                    let checked = p.finish();
                    if let Err(e) = checked {
                        if repair_tail && Some(n) == last && fh.end() == r.len() {
                            repair(dir, n, fh.at.offset, r.len(), e.to_string())?;
                            break;
                        }
                        return Err(e.into());
                    }
                    let stored = fh.len - head_len;
                    // The first copy of a content is the one records use; a
                    // later duplicate (written while the index was down) must
                    // not replace it.
                    if sink.content_loc(&h.sha256).is_none() {
                        let loc = ContentLoc {
                            at: fh.at,
                            size: h.size,
                            stored,
                            encrypted,
                        };
                        sink.content(h.sha256, loc)?;
                    }
                }
                Kind::Record | Kind::Seal | Kind::TimeStamp => {
                    let payload = match r.read_payload(&fh) {
                        Ok(p) => p,
                        Err(e) if repair_tail && Some(n) == last && fh.end() == r.len() => {
                            repair(dir, n, fh.at.offset, r.len(), e.to_string())?;
                            break;
                        }
                        Err(e) => return Err(e.into()),
                    };
                    let bad_json = |e: serde_json::Error| ScanError::BadRecord {
                        at: fh.at,
                        reason: e.to_string(),
                    };
                    if fh.kind == Kind::Seal {
                        let seal: Seal = serde_json::from_slice(&payload).map_err(bad_json)?;
                        sink.seal(seal)?;
                    } else if fh.kind == Kind::TimeStamp {
                        let stamp: TimeStamp =
                            serde_json::from_slice(&payload).map_err(bad_json)?;
                        sink.timestamp(stamp)?;
                    } else {
                        let bad = |reason: String| ScanError::BadRecord { at: fh.at, reason };
                        if payload.len() < 32 {
                            return Err(bad("too short".into()));
                        }
                        let mut record =
                            Record::decode(&payload[32..]).map_err(|e| bad(e.to_string()))?;
                        let hash = super::chain::link(&prev, &payload[32..]);
                        // Fields whose key is destroyed (purged) or out of
                        // reach (a copy without the master key) stay empty.
                        sealing::open(&mut record, keys).map_err(|e| bad(e.to_string()))?;
                        let headers = match &record.body {
                            RecordBody::Message(m) => super::chain::parse_hex(&m.content.sha256)
                                .and_then(|sha| sink.content_loc(&sha))
                                .map(|loc| read_headers(dir, loc, keys))
                                .unwrap_or_default(),
                            _ => Headers::default(),
                        };
                        // A tombstone's keys die before the index learns of
                        // it: this completes a purge a crash interrupted.
                        if let Some(slots) = record.body.destroys() {
                            super::lifecycle::complete(slots, keys).map_err(|source| {
                                ScanError::Purge {
                                    of: record.seq,
                                    source: Box::new(source),
                                }
                            })?;
                        }
                        sink.record(&record, &hash, fh.at, headers)?;
                        prev = hash;
                        head.seq = record.seq;
                        head.hash = hex::encode(hash);
                    }
                }
            }
            head.segment = n;
            head.offset = fh.end();
            sink.head(&head)?;
        }
        if head.segment < n {
            head.segment = n;
            head.offset = segment::HEADER_LEN;
        }
    }
    Ok(head)
}

/// Moves the torn tail of segment `n` aside and truncates the segment.
fn repair(dir: &Path, n: u32, offset: u64, len: u64, what: String) -> Result<(), ScanError> {
    let path = dir.join(segment::file_name(n));
    let aside = dir.join(format!("{}.torn-{offset}", segment::file_name(n)));
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(&path)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut out = std::fs::File::create(&aside)?;
        io::copy(&mut Read::by_ref(&mut f).take(len - offset), &mut out)?;
        out.sync_all()?;
    }
    let f = std::fs::OpenOptions::new().write(true).open(&path)?;
    f.set_len(offset)?;
    f.sync_all()?;
    segment::sync_dir(dir)?;
    tracing::warn!(
        segment = n, offset, bytes = len - offset, reason = %what, kept = %aside.display(),
        "torn write at end of segment: truncated to the last complete frame"
    );
    Ok(())
}

/// Decodes the first bytes of a content and parses its headers.
pub fn read_headers(dir: &Path, loc: ContentLoc, keys: Option<&KeyStore>) -> Headers {
    let mut buf = Limited(Vec::with_capacity(8192));
    // The limit ends decoding early with an error on purpose; what was read is used.
    let _ = write_content_at(dir, loc.at, &mut buf, keys);
    headers::parse(&buf.0)
}

struct Limited(Vec<u8>);

impl Write for Limited {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = HEADER_SCAN_LIMIT - self.0.len();
        if room == 0 {
            return Err(io::Error::other("enough"));
        }
        let n = room.min(buf.len());
        self.0.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes the original bytes of the content frame at `at` to `out` and
/// checks them against the frame's SHA-256. An encrypted content needs
/// `keys`; one whose key was destroyed is [`SegmentError::Purged`].
pub fn write_content_at(
    dir: &Path,
    at: Location,
    out: &mut dyn Write,
    keys: Option<&KeyStore>,
) -> Result<u64, SegmentError> {
    let mut r = SegmentReader::open(dir, at.segment)?;
    r.seek(at.offset);
    let damaged = |what: String| SegmentError::Damaged { at, what };
    let fh = r
        .next_header()?
        .ok_or_else(|| damaged("no frame here".into()))?;
    let mut p = r.payload_reader(&fh)?;
    let (head, got) = match fh.kind {
        Kind::Content => {
            let head = content::read_head(&mut p).map_err(|e| damaged(e.to_string()))?;
            let got = content::decode(&head, &mut p, out).map_err(|e| damaged(e.to_string()))?;
            (head, got)
        }
        Kind::Encrypted => {
            let (head, enc) =
                content::read_encrypted_head(&mut p).map_err(|e| damaged(e.to_string()))?;
            let keys = keys.ok_or(SegmentError::Locked { at })?;
            let key = match keys.get(enc.slot) {
                Ok(SlotState::Live { key, .. }) => key,
                Ok(SlotState::Destroyed) => return Err(SegmentError::Purged { at }),
                Ok(SlotState::Missing) => {
                    return Err(damaged(format!(
                        "key slot {} is not in the key store",
                        enc.slot
                    )));
                }
                Err(e) => return Err(damaged(e.to_string())),
            };
            let len = fh.len - content::ENCRYPTED_HEAD_LEN;
            let got = content::decode_encrypted(&head, &enc, key.as_bytes(), len, &mut p, out)
                .map_err(|e| damaged(e.to_string()))?;
            (head, got)
        }
        _ => return Err(damaged("not a content frame".into())),
    };
    p.finish()?;
    if got.sha256 != head.sha256 || got.size != head.size {
        return Err(damaged("content does not match its SHA-256".into()));
    }
    Ok(got.size)
}

impl Sink for Index {
    fn content_loc(&self, sha256: &[u8; 32]) -> Option<ContentLoc> {
        self.content(sha256).ok().flatten()
    }
    fn content(&mut self, sha256: [u8; 32], loc: ContentLoc) -> Result<(), IndexError> {
        self.put_content(&sha256, loc)
    }
    fn record(
        &mut self,
        record: &Record,
        hash: &[u8; 32],
        at: Location,
        headers: Headers,
    ) -> Result<(), IndexError> {
        self.put_record(record, hash, at, headers)
    }
    fn seal(&mut self, seal: Seal) -> Result<(), IndexError> {
        self.put_seal(&seal)
    }
    fn timestamp(&mut self, stamp: TimeStamp) -> Result<(), IndexError> {
        self.put_timestamp(&stamp)
    }
    fn head(&mut self, head: &Head) -> Result<(), IndexError> {
        self.set_head(head)
    }
}

/// The index's answers, built in memory from a full scan (used when the
/// daemon holds the sled index).
#[derive(Default)]
pub struct MemoryIndex {
    /// Summaries by seq.
    pub summaries: Vec<Summary>,
    /// Contents by hash.
    pub contents: HashMap<[u8; 32], ContentLoc>,
    /// Newest seal.
    pub last_seal: Option<Seal>,
    /// Every seal, oldest first.
    pub seals: Vec<Seal>,
    /// Every time stamp.
    pub timestamps: Vec<TimeStamp>,
    /// Seal-key rotations.
    pub key_events: Vec<KeyEvent>,
    /// The retention rules last chained.
    pub retention_rules: Option<crate::retention::RuleSet>,
    /// Chain head.
    pub head: Head,
}

impl Sink for MemoryIndex {
    fn content_loc(&self, sha256: &[u8; 32]) -> Option<ContentLoc> {
        self.contents.get(sha256).copied()
    }
    fn content(&mut self, sha256: [u8; 32], loc: ContentLoc) -> Result<(), IndexError> {
        self.contents.insert(sha256, loc);
        Ok(())
    }
    fn record(
        &mut self,
        record: &Record,
        hash: &[u8; 32],
        at: Location,
        headers: Headers,
    ) -> Result<(), IndexError> {
        if let RecordBody::RetentionRules(r) = &record.body {
            self.retention_rules = Some(r.clone());
        }
        if let RecordBody::Tombstone(t) = &record.body
            && let Ok(i) = self.summaries.binary_search_by_key(&t.of, |s| s.seq)
            && let Some(s) = self.summaries.get_mut(i)
        {
            if let Some(sha) = super::chain::parse_hex(&s.sha256)
                && self
                    .contents
                    .get(&sha)
                    .and_then(|l| l.encrypted)
                    .is_some_and(|e| t.slots.contains(&e.slot))
            {
                self.contents.remove(&sha);
            }
            s.mail_from = None;
            s.rcpts.clear();
            s.journal_rcpts.clear();
            s.headers = Headers::default();
            s.purged = Some(super::lifecycle::Purged {
                tombstone: record.seq,
                on: record.time.clone(),
                rule: t.rule.clone(),
                reason: t.reason.clone(),
            });
        }
        if let RecordBody::KeyRotation(k) = &record.body {
            self.key_events.push(KeyEvent {
                seq: record.seq,
                old_key: k.old_key.clone(),
                new_key: k.new_key.clone(),
            });
        }
        self.summaries
            .push(super::index::summarize(record, hash, at, headers));
        Ok(())
    }
    fn seal(&mut self, seal: Seal) -> Result<(), IndexError> {
        self.seals.push(seal.clone());
        self.last_seal = Some(seal);
        Ok(())
    }
    fn timestamp(&mut self, stamp: TimeStamp) -> Result<(), IndexError> {
        self.timestamps.push(stamp);
        Ok(())
    }
    fn head(&mut self, head: &Head) -> Result<(), IndexError> {
        self.head = head.clone();
        Ok(())
    }
}
