//! `mailseal verify`: recompute everything from the segments alone.
//!
//! Checks, in order of the segments: every frame's bytes, every content's
//! SHA-256 (decoded on worker threads, one per core, so verification keeps
//! up with `sha256sum`), every record's hash and link to its predecessor,
//! sequence numbers without gaps or reordering, every record's content
//! reference, and every seal's signature and head. It never uses the index,
//! so a tampered or lost index cannot hide anything.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::mpsc;

use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::chain::{self, GENESIS};
use super::record::{Record, RecordBody};
use super::seal::Seal;
use super::segment::{self, Kind, Location, SegmentError, SegmentReader};
use super::stamp::TimeStamp;
use super::verify_tree::{self, TreeCheck, TreeFigures};
use crate::keystore::KeyStore;

pub use super::verify_tree::{Problem, TreeOptions};

/// How many problems are collected before verification stops early.
const MAX_PROBLEMS: usize = 100;
/// Recent record hashes kept to check seals against.
const RECENT: u64 = 4096;

/// What verification found.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Records checked.
    pub records: u64,
    /// Contents checked.
    pub contents: u64,
    /// Original bytes of the contents checked.
    pub content_bytes: u64,
    /// Seals checked.
    pub seals: u64,
    /// The newest valid seal's sequence number.
    pub sealed_seq: Option<u64>,
    /// The last record's sequence number.
    pub head_seq: u64,
    /// The last record's hash.
    pub head_hash: String,
    /// Problems, first broken place first.
    pub problems: Vec<Problem>,
    /// The Merkle tree, key history and time stamps (format 2).
    pub tree: TreeFigures,
    /// Encrypted contents (`E` frames) among `contents` (format 2.3).
    pub encrypted: u64,
    /// True when the master key was at hand: encrypted contents and
    /// sealed fields were decrypted and checked, not only hashed.
    pub decrypted: bool,
    /// Contents whose key is destroyed (purged).
    pub purged_contents: u64,
    /// Records whose sealed fields' key is destroyed (purged).
    pub purged_records: u64,
    /// Audit records whose audit key is destroyed (their year was purged).
    pub purged_audit: u64,
}

impl Report {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the archive whose segments are in `segments`, trusting seals
/// made by `trusted` (when given).
pub fn verify(segments: &Path, trusted: Option<&VerifyingKey>) -> std::io::Result<Report> {
    verify_with(segments, trusted, &TreeOptions::default())
}

/// [`verify`], also checking time-stamp tokens and seals kept outside.
pub fn verify_with(
    segments: &Path,
    trusted: Option<&VerifyingKey>,
    options: &TreeOptions,
) -> std::io::Result<Report> {
    let numbers = segment::list(segments)?;
    verify_fetched(segments, &numbers, |_| Ok(()), |_| {}, trusted, options)
}

/// [`verify_with`] over segments that arrive one at a time: `fetch(n)`
/// puts segment `n` into `dir` before it is read, and `release(n)` is
/// called once every frame of it has been checked (to remove it), so a
/// copy kept elsewhere (`verify --replica`) needs the space of one segment
/// at a time. A `fetch` error stops the walk and is returned.
pub fn verify_fetched(
    dir: &Path,
    numbers: &[u32],
    mut fetch: impl FnMut(u32) -> std::io::Result<()>,
    mut release: impl FnMut(u32),
    trusted: Option<&VerifyingKey>,
    options: &TreeOptions,
) -> std::io::Result<Report> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let mut walk = Walk {
        report: Report::default(),
        tree: TreeCheck::new(options),
        keys: options.keys.clone(),
        ..Walk::default()
    };
    walk.report.decrypted = options.keys.is_some();
    let mut want = 1;
    for &n in numbers {
        if n != want {
            let at = Location {
                segment: want,
                offset: 0,
            };
            let detail = format!("segment {want} is missing (next is {n})");
            walk.problem(at, None, "segment-missing", detail);
        }
        want = n + 1;
        fetch(n)?;
        let go_on = walk.segment_and_contents(dir, n, workers);
        release(n);
        if !go_on {
            break;
        }
    }
    walk.finish();
    walk.check_seals(trusted);
    walk.tree.finish(walk.report.head_seq, trusted, options);
    for p in std::mem::take(&mut walk.tree.problems) {
        walk.problem(
            Location {
                segment: p.segment,
                offset: p.offset,
            },
            p.seq,
            p.kind,
            p.detail,
        );
    }
    walk.report.tree = std::mem::take(&mut walk.tree.figures);
    let mut report = walk.report;
    report.problems.sort_by_key(|p| (p.segment, p.offset));
    Ok(report)
}

struct ContentResult {
    at: Location,
    /// The hash the frame claims, when its head was readable.
    claimed: Option<[u8; 32]>,
    size: u64,
    error: Option<String>,
    /// For an `E` frame: its ciphertext hash.
    cipher: Option<[u8; 32]>,
    /// For an `E` frame: its key is destroyed.
    purged: bool,
    /// For an `E` frame: its key slot.
    slot: Option<u64>,
}

fn check_content(dir: &Path, at: Location, kind: Kind, keys: Option<&KeyStore>) -> ContentResult {
    if kind == Kind::Encrypted {
        let c = super::verify_crypt::check(dir, at, keys);
        return ContentResult {
            at,
            claimed: c.claimed,
            size: c.size,
            error: c.error,
            cipher: c.cipher,
            purged: c.purged,
            slot: c.slot,
        };
    }
    let mut claimed = None;
    let mut sink = std::io::sink();
    let result = (|| -> Result<u64, SegmentError> {
        let mut r = SegmentReader::open(dir, at.segment)?;
        r.seek(at.offset);
        let damaged = |what: String| SegmentError::Damaged { at, what };
        let fh = r
            .next_header()?
            .ok_or_else(|| damaged("frame vanished".into()))?;
        let mut p = r.payload_reader(&fh)?;
        let head = super::content::read_head(&mut p).map_err(|e| damaged(e.to_string()))?;
        claimed = Some(head.sha256);
        let got = super::content::decode(&head, &mut p, &mut sink)
            .map_err(|e| damaged(format!("content does not decode: {e}")))?;
        if got.sha256 != head.sha256 || got.size != head.size {
            return Err(damaged("bytes do not match the content's SHA-256".into()));
        }
        p.finish()?;
        Ok(got.size)
    })();
    match result {
        Ok(size) => ContentResult {
            at,
            claimed,
            size,
            error: None,
            cipher: None,
            purged: false,
            slot: None,
        },
        Err(e) => ContentResult {
            at,
            claimed,
            size: 0,
            error: Some(e.to_string()),
            cipher: None,
            purged: false,
            slot: None,
        },
    }
}

/// A message record's reference to a content.
struct ContentUse {
    /// Where the record is.
    at: Location,
    /// The record.
    seq: u64,
    /// The content's SHA-256.
    sha: [u8; 32],
    /// The ciphertext hash the record names (format 2.3).
    stored: Option<[u8; 32]>,
}

#[derive(Default)]
struct Walk {
    report: Report,
    expected_seq: u64,
    /// Every seq seen (to tell a gap from a reordering).
    seen_seqs: HashSet<u64>,
    /// Seqs out of place, checked once all records are known.
    misplaced: Vec<(Location, u64, u64)>,
    /// Contents found good, and where bad ones were.
    good: HashSet<[u8; 32]>,
    bad: HashMap<[u8; 32], String>,
    /// Every damaged content frame (location, claimed hash, why).
    damaged_copies: Vec<(Location, [u8; 32], String)>,
    /// Every content a message record references.
    refs: Vec<ContentUse>,
    /// The ciphertext hash of every good encrypted content.
    ciphers: HashMap<[u8; 32], [u8; 32]>,
    /// Encrypted contents whose key is destroyed.
    purged: HashSet<[u8; 32]>,
    /// Every destroyed key something uses (where, which record, slot):
    /// purged if a tombstone names the slot, else an error.
    /// The last field: whether an audit record uses it (an audit key,
    /// explained only by an audit purge; any other key only by a
    /// tombstone).
    destroyed: Vec<(Location, Option<u64>, u64, bool)>,
    /// Every slot a tombstone names.
    tombstoned: HashSet<u64>,
    /// Every slot an audit purge names.
    audit_purged: HashSet<u64>,
    /// The key store, to decrypt contents and sealed fields.
    keys: Option<std::sync::Arc<KeyStore>>,
    seals: Vec<(Location, Seal)>,
    /// Stored hashes of the most recent records, by seq.
    recent: HashMap<u64, [u8; 32]>,
    /// Tree, key history and time stamps.
    tree: TreeCheck,
}

impl Walk {
    fn problem(&mut self, at: Location, seq: Option<u64>, kind: &'static str, detail: String) {
        if self.report.problems.len() < MAX_PROBLEMS {
            self.report.problems.push(Problem {
                segment: at.segment,
                offset: at.offset,
                seq,
                kind,
                detail,
            });
        }
    }

    /// Walks segment `n` while `workers` threads check its content
    /// frames, and takes their results; false when the walk must stop
    /// (an unsupported version, or too many problems).
    fn segment_and_contents(&mut self, dir: &Path, n: u32, workers: usize) -> bool {
        let (job_tx, job_rx) = mpsc::sync_channel::<(Location, Kind)>(workers * 4);
        let keys = self.keys.clone();
        let job_rx = std::sync::Mutex::new(job_rx);
        let (res_tx, res_rx) = mpsc::channel::<ContentResult>();
        let go_on = std::thread::scope(|s| {
            for _ in 0..workers {
                let res_tx = res_tx.clone();
                let job_rx = &job_rx;
                let keys = keys.as_deref();
                s.spawn(move || {
                    loop {
                        let job = match job_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok((at, kind)) = job else { return };
                        let _ = res_tx.send(check_content(dir, at, kind, keys));
                    }
                });
            }
            drop(res_tx);
            let go_on = self.segment(dir, n, &job_tx);
            drop(job_tx);
            go_on
        });
        for r in res_rx {
            self.content_result(r);
        }
        go_on && self.report.problems.len() < MAX_PROBLEMS
    }

    /// Walks segment `n`, sending its content frames to `jobs`; false
    /// when the walk must stop.
    fn segment(&mut self, dir: &Path, n: u32, jobs: &mpsc::SyncSender<(Location, Kind)>) -> bool {
        let mut r = match SegmentReader::open(dir, n) {
            Ok(r) => r,
            Err(e) => {
                let at = Location {
                    segment: n,
                    offset: 0,
                };
                if let SegmentError::UnsupportedVersion { .. } = e {
                    // Skipping it would hide records: stop here.
                    self.problem(at, None, "unsupported-version", e.to_string());
                    return false;
                }
                self.problem(at, None, "frame-damaged", e.to_string());
                return true;
            }
        };
        loop {
            match r.next_header() {
                Ok(None) => break,
                Ok(Some(fh)) => match fh.kind {
                    Kind::Content | Kind::Encrypted => {
                        let _ = jobs.send((fh.at, fh.kind));
                    }
                    Kind::Record | Kind::Seal | Kind::TimeStamp => match r.read_payload(&fh) {
                        Ok(p) => self.frame(fh.kind, fh.at, &p, None),
                        Err(SegmentError::Damaged { .. }) => {
                            // Look at the bytes anyway to say what changed.
                            let p = raw_payload(dir, &fh);
                            self.frame(fh.kind, fh.at, &p, Some("frame checksum mismatch"));
                        }
                        Err(e) => self.problem(fh.at, None, "frame-damaged", e.to_string()),
                    },
                },
                Err(SegmentError::Torn { at, have, need }) => {
                    let after = self.report.head_seq;
                    self.problem(at, None, "truncated", format!("segment ends inside a frame ({have} of {need} bytes) after record {after}"));
                    break;
                }
                Err(e) => {
                    let at = Location {
                        segment: n,
                        offset: r.position(),
                    };
                    self.problem(
                        at,
                        None,
                        "frame-damaged",
                        format!("{e}; the rest of this segment cannot be read"),
                    );
                    break;
                }
            }
            if self.report.problems.len() >= MAX_PROBLEMS {
                return false;
            }
        }
        true
    }

    fn frame(&mut self, kind: Kind, at: Location, payload: &[u8], crc: Option<&str>) {
        if kind == Kind::Seal {
            match serde_json::from_slice::<Seal>(payload) {
                Ok(s) => {
                    self.tree.seal(at, s.clone());
                    self.seals.push((at, s))
                }
                Err(e) => self.problem(at, None, "seal-bad", format!("seal does not parse: {e}")),
            }
            return;
        }
        if kind == Kind::TimeStamp {
            match serde_json::from_slice::<TimeStamp>(payload) {
                Ok(t) => self.tree.timestamp(at, t),
                Err(e) => {
                    let detail = format!("time stamp does not parse: {e}");
                    self.problem(at, None, "timestamp-bad", detail)
                }
            }
            return;
        }
        self.report.records += 1;
        let expected = self.expected_seq + 1;
        let (Some(stored), Some(bytes)) = (payload.get(..32), payload.get(32..)) else {
            self.problem(
                at,
                Some(expected),
                "record-changed",
                "record frame too short".into(),
            );
            return;
        };
        let mut stored_hash = [0u8; 32];
        stored_hash.copy_from_slice(stored);
        let record = match Record::decode(bytes) {
            Ok(r) => r,
            Err(e) => {
                let (kind, detail) = verify_tree::unparsed(bytes, &stored_hash, &e);
                self.problem(at, Some(expected), kind, detail);
                self.advance(expected, stored_hash);
                return;
            }
        };
        self.tree.record(at, &record);
        let seq = record.seq;
        if record.format < record.body.since_format() {
            self.problem(
                at,
                Some(seq),
                "unknown-field",
                format!(
                    "a record of format {} cannot hold this body (format {} or later)",
                    record.format,
                    record.body.since_format()
                ),
            );
        }
        if chain::link(
            &chain::parse_hex(&record.prev_hash).unwrap_or(GENESIS),
            bytes,
        ) != stored_hash
        {
            self.problem(
                at,
                Some(seq),
                "record-changed",
                "record bytes do not match the record's hash".into(),
            );
        } else if let Some(c) = crc {
            self.problem(at, Some(seq), "frame-damaged", c.into());
        }
        if seq != expected {
            self.misplaced.push((at, seq, expected));
        }
        // Records count from 1; a record numbered 0 has no predecessor to
        // check (it is reported as out of place above).
        let pred = match seq {
            0 => None,
            1 => Some(GENESIS),
            _ => self.recent.get(&(seq - 1)).copied(),
        };
        if let Some(pred) = pred
            && record.prev_hash != hex::encode(pred)
        {
            let before = seq.saturating_sub(1);
            self.problem(at, Some(seq), "chain-broken", format!("does not link to record {before}: a record before it was changed, removed or inserted"));
        }
        if !self.seen_seqs.insert(seq) {
            self.problem(
                at,
                Some(seq),
                "record-inserted",
                format!("a second record with number {seq}"),
            );
        }
        self.sealed_fields(at, &record);
        if let Some(slots) = record.body.destroys() {
            self.tombstone(at, record.seq, slots);
            match record.body {
                RecordBody::AuditPurge(_) => self.audit_purged.extend(slots.iter().copied()),
                _ => self.tombstoned.extend(slots.iter().copied()),
            }
        }
        if let RecordBody::AuditPurge(p) = &record.body
            && let Some(why) = audit_purge_problem(p, &record.time)
        {
            self.problem(at, Some(seq), "purge-early", why);
        }
        if let RecordBody::Message(m) = &record.body {
            for c in std::iter::once(&m.content).chain(m.evidence.iter()) {
                let stored = c.stored.as_deref().and_then(chain::parse_hex);
                if c.stored.is_some() && stored.is_none() {
                    let detail = "ciphertext hash is not hex".to_string();
                    self.problem(at, Some(seq), "record-changed", detail);
                }
                match chain::parse_hex(&c.sha256) {
                    Some(sha) => self.refs.push(ContentUse {
                        at,
                        seq,
                        sha,
                        stored,
                    }),
                    None => self.problem(
                        at,
                        Some(seq),
                        "record-changed",
                        "content hash is not hex".into(),
                    ),
                }
            }
        }
        self.advance(seq, stored_hash);
    }

    /// A tombstone's or audit purge's slots: with the master key each must
    /// be destroyed (else the purge is incomplete: opening the archive
    /// completes it).
    fn tombstone(&mut self, at: Location, seq: u64, slots: &[u64]) {
        let Some(keys) = self.keys.clone() else {
            return;
        };
        for &slot in slots {
            if !matches!(keys.get(slot), Ok(crate::keystore::SlotState::Destroyed)) {
                self.problem(
                    at,
                    Some(seq),
                    "purge-incomplete",
                    format!("record {seq} names key slot {slot} as destroyed, but it is not (opening the archive for writing completes the purge)"),
                );
            }
        }
    }

    /// With the master key, a record's sealed fields must open; a record
    /// whose key is destroyed is counted as purged, if a tombstone says so
    /// (checked in [`Walk::finish`]).
    fn sealed_fields(&mut self, at: Location, record: &Record) {
        if super::sealing::record_slot(record).is_none() || self.keys.is_none() {
            return;
        }
        let mut opened = record.clone();
        match super::sealing::open(&mut opened, self.keys.as_deref()) {
            Ok(super::sealing::Opened::KeyDestroyed) => {
                if let Some(slot) = super::sealing::record_slot(record) {
                    let audit = matches!(record.body, RecordBody::Audit(_));
                    self.destroyed.push((at, Some(record.seq), slot, audit));
                }
                match record.body {
                    RecordBody::Message(_) => self.report.purged_records += 1,
                    RecordBody::Audit(_) => self.report.purged_audit += 1,
                    _ => {}
                }
            }
            Ok(_) => {}
            Err(e) => self.problem(at, Some(record.seq), "undecryptable", e.to_string()),
        }
    }

    fn advance(&mut self, seq: u64, hash: [u8; 32]) {
        self.tree.push(&hash);
        self.expected_seq = self.expected_seq.max(seq);
        self.report.head_seq = self.expected_seq;
        if seq == self.expected_seq {
            self.report.head_hash = hex::encode(hash);
        }
        self.recent.insert(seq, hash);
        if let Some(old) = seq.checked_sub(RECENT) {
            self.recent.remove(&old);
        }
    }

    fn content_result(&mut self, r: ContentResult) {
        self.report.contents += 1;
        self.report.content_bytes += r.size;
        if r.cipher.is_some() {
            self.report.encrypted += 1;
        }
        match (r.claimed, r.error) {
            (Some(sha), None) => {
                if let Some(c) = r.cipher {
                    self.ciphers.entry(sha).or_insert(c);
                }
                if r.purged {
                    self.report.purged_contents += 1;
                    self.purged.insert(sha);
                    if let Some(slot) = r.slot {
                        self.destroyed.push((r.at, None, slot, false));
                    }
                }
                self.good.insert(sha);
            }
            (Some(sha), Some(e)) => {
                self.bad.insert(sha, format!("{e} at {}", r.at));
                self.damaged_copies.push((r.at, sha, e));
            }
            (None, Some(e)) => self.problem(r.at, None, "frame-damaged", e),
            (None, None) => {}
        }
    }

    fn finish(&mut self) {
        let destroyed = std::mem::take(&mut self.destroyed);
        for (at, seq, slot, audit) in destroyed {
            let explained = if audit {
                &self.audit_purged
            } else {
                &self.tombstoned
            };
            if !explained.contains(&slot) {
                self.problem(
                    at,
                    seq,
                    "undecryptable",
                    format!(
                        "key slot {slot} is destroyed, but no {} names it",
                        if audit { "audit purge" } else { "tombstone" }
                    ),
                );
            }
        }
        let misplaced = std::mem::take(&mut self.misplaced);
        for (at, seq, expected) in misplaced {
            if seq < expected || self.seen_seqs.contains(&expected) {
                self.problem(
                    at,
                    Some(seq),
                    "order-changed",
                    format!("record {seq} stands where record {expected} belongs"),
                );
            } else {
                self.problem(
                    at,
                    Some(seq),
                    "record-missing",
                    format!("record {expected} is missing before record {seq}"),
                );
            }
        }
        // A damaged frame is damage even when an intact copy of the same
        // content exists elsewhere (records then still read the good one).
        let copies = std::mem::take(&mut self.damaged_copies);
        for (at, sha, e) in copies {
            if self.good.contains(&sha) {
                let detail = format!("a stored copy of content {} changed: {e}", hex::encode(sha));
                self.problem(at, None, "content-changed", detail);
            }
        }
        let refs = std::mem::take(&mut self.refs);
        for ContentUse {
            at,
            seq,
            sha,
            stored,
        } in refs
        {
            if let Some(stored) = stored
                && self.good.contains(&sha)
                && self.ciphers.get(&sha) != Some(&stored)
            {
                let detail = format!(
                    "the record names ciphertext {} but content {} holds other bytes",
                    hex::encode(stored),
                    hex::encode(sha)
                );
                self.problem(at, Some(seq), "record-changed", detail);
            }
            if self.good.contains(&sha) {
                continue;
            }
            let detail = match self.bad.get(&sha) {
                Some(why) => format!("content {} changed: {why}", hex::encode(sha)),
                None => format!("content {} is not in the archive", hex::encode(sha)),
            };
            let kind = if self.bad.contains_key(&sha) {
                "content-changed"
            } else {
                "content-missing"
            };
            self.problem(at, Some(seq), kind, detail);
        }
    }

    fn check_seals(&mut self, trusted: Option<&VerifyingKey>) {
        let seals = std::mem::take(&mut self.seals);
        for (at, s) in seals {
            self.report.seals += 1;
            if let Err(why) = self.tree.check_signature(&s, trusted) {
                let kind = if why.starts_with("unsupported seal version") {
                    "unsupported-version"
                } else {
                    "seal-bad"
                };
                self.problem(at, Some(s.seq), kind, why);
                continue;
            }
            let known = self.recent.get(&s.seq).map(hex::encode);
            let matches = s.seq == 0 || known.as_deref() == Some(s.head_hash.as_str());
            let covered_by_recent = known.is_some();
            if s.seq > self.report.head_seq {
                self.problem(
                    at,
                    Some(s.seq),
                    "record-missing",
                    format!(
                        "sealed head is record {} but the chain ends at {}",
                        s.seq, self.report.head_seq
                    ),
                );
            } else if covered_by_recent && !matches {
                self.problem(
                    at,
                    Some(s.seq),
                    "seal-bad",
                    "sealed head hash differs from the chain".into(),
                );
            } else {
                self.report.sealed_seq = Some(self.report.sealed_seq.unwrap_or(0).max(s.seq));
            }
        }
    }
}

/// The payload bytes of a frame, without checking its CRC.
fn raw_payload(dir: &Path, fh: &segment::FrameHeader) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut buf = Vec::new();
    if let Ok(mut f) = std::fs::File::open(dir.join(segment::file_name(fh.at.segment)))
        && f.seek(SeekFrom::Start(fh.payload_offset())).is_ok()
    {
        let _ = f.take(fh.len).read_to_end(&mut buf);
    }
    buf
}

/// Verifies the archive in `archive_path` (its `segments/` directory).
pub fn verify_dir(archive_path: &Path, trusted: Option<&VerifyingKey>) -> std::io::Result<Report> {
    verify(&archive_path.join("segments"), trusted)
}

/// Why an audit purge deleted too early, if it did: its keep-until must be
/// the end of its year plus its period, and it must come after that day.
fn audit_purge_problem(p: &super::lifecycle::AuditPurge, time: &str) -> Option<String> {
    let expected = i32::try_from(p.audit_years)
        .ok()
        .and_then(|years| p.year.checked_add(years))
        .and_then(|y| chrono::NaiveDate::from_ymd_opt(y, 12, 31));
    if expected != Some(p.keep_until) {
        return Some(format!(
            "audit purge of {} keeps until {}, not the end of {} plus {} years",
            p.year, p.keep_until, p.year, p.audit_years
        ));
    }
    let day = time
        .get(..10)
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    match day {
        Some(d) if d > p.keep_until => None,
        _ => Some(format!(
            "audit purge of {} at {time} comes before its keep-until {}",
            p.year, p.keep_until
        )),
    }
}

#[cfg(test)]
mod audit_purge_tests {
    use super::*;
    use crate::archive::lifecycle::AuditPurge;

    #[test]
    fn an_audit_purge_must_keep_its_period_and_come_after_it() {
        let p = AuditPurge {
            year: 2026,
            slots: vec![4],
            audit_years: 10,
            keep_until: chrono::NaiveDate::from_ymd_opt(2036, 12, 31).unwrap(),
            actor: "root".into(),
            backups_forget_by: chrono::NaiveDate::from_ymd_opt(2037, 3, 1).unwrap(),
        };
        assert_eq!(audit_purge_problem(&p, "2037-01-01T02:30:00.000000Z"), None);
        let early = audit_purge_problem(&p, "2036-12-31T23:59:59.000000Z").unwrap();
        assert!(early.contains("comes before"), "{early}");
        let short = AuditPurge {
            audit_years: 9,
            ..p.clone()
        };
        assert!(audit_purge_problem(&short, "2037-01-01T00:00:00Z").is_some());
        let forged = AuditPurge {
            audit_years: u32::MAX,
            ..p
        };
        assert!(audit_purge_problem(&forged, "2037-01-01T00:00:00Z").is_some());
    }
}
