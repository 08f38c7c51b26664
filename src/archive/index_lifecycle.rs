//! The index's part of holds, purge requests and tombstones (format 2.3),
//! and the compaction that makes a purge reach sled's files.
//!
//! Every lookup a message record adds (address, Message-ID, IMAP and POP3
//! keys, content reference) is listed under the record in `lookups`, so a
//! tombstone takes all of them back without scanning the trees.

use serde::{Deserialize, Serialize};

use super::{Index, IndexError, Trees, json, parse, seq_key};
use crate::archive::lifecycle::{HoldAction, Purged};
use crate::archive::record::{Record, RecordBody};

/// Set in `meta` while a purged record's old values may linger in sled's
/// files: the next purge compacts even when nothing else is due.
const COMPACT_PENDING: &[u8] = b"compact_pending";

/// Prefix of the tombstones in `meta` whose keys may still be live.
const PURGE_PENDING: &[u8] = b"purge_pending/";

/// Prefix of the audit keys in `meta`: year (4 bytes) and slot (8 bytes),
/// big-endian; taken back when their year is purged.
const AUDIT_KEY: &[u8] = b"audit_key/";

fn audit_key_key(year: i32, slot: u64) -> Vec<u8> {
    let mut k = AUDIT_KEY.to_vec();
    k.extend_from_slice(&year.to_be_bytes());
    k.extend_from_slice(&slot.to_be_bytes());
    k
}

fn pending_key(seq: u64) -> Vec<u8> {
    let mut k = PURGE_PENDING.to_vec();
    k.extend_from_slice(&seq_key(seq));
    k
}

/// The tree a lookup went into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    Addr = 1,
    MsgId = 2,
    Imap = 3,
    Pop3 = 4,
    Ref = 5,
}

impl Tag {
    fn from_byte(b: u8) -> Option<Tag> {
        Some(match b {
            1 => Tag::Addr,
            2 => Tag::MsgId,
            3 => Tag::Imap,
            4 => Tag::Pop3,
            5 => Tag::Ref,
            _ => return None,
        })
    }

    fn tree(self, t: &Trees) -> &sled::Tree {
        match self {
            Tag::Addr => &t.by_addr,
            Tag::MsgId => &t.by_msgid,
            Tag::Imap => &t.imap,
            Tag::Pop3 => &t.pop3,
            Tag::Ref => &t.refs,
        }
    }
}

/// Adds a record's lookups and lists each under the record.
pub(super) struct Lookups<'a> {
    t: &'a Trees,
    seq: u64,
    n: u32,
}

impl<'a> Lookups<'a> {
    pub(super) fn new(t: &'a Trees, seq: u64) -> Lookups<'a> {
        Lookups { t, seq, n: 0 }
    }

    pub(super) fn put(&mut self, tag: Tag, key: Vec<u8>, value: &[u8]) -> Result<(), IndexError> {
        tag.tree(self.t).insert(&key, value)?;
        let mut at = seq_key(self.seq).to_vec();
        at.extend_from_slice(&self.n.to_be_bytes());
        let mut entry = Vec::with_capacity(key.len() + 1);
        entry.push(tag as u8);
        entry.extend_from_slice(&key);
        self.t.lookups.insert(at, entry)?;
        self.n += 1;
        Ok(())
    }
}

/// A legal hold case as the index keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldState {
    /// The case id.
    pub case: String,
    /// The latest reason given.
    pub reason: String,
    /// The queries that chose records, in order.
    pub queries: Vec<String>,
    /// Every record the case ever held.
    pub records: Vec<u64>,
    /// Who placed it first.
    pub actor: String,
    /// The first `hold` record of the case.
    pub placed: u64,
    /// The `hold` record that released it, while it is released.
    pub released: Option<u64>,
}

/// An early-deletion request as the index keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestState {
    /// The `purge-request` record.
    pub seq: u64,
    /// When it was made.
    pub time: String,
    /// The records it asks to delete.
    pub records: Vec<u64>,
    /// Why.
    pub reason: String,
    /// Who asked.
    pub actor: String,
    /// The approval record and its actor, once approved.
    pub approved: Option<(u64, String)>,
}

/// A short description of a lifecycle record for listings.
pub(super) fn describe(body: &RecordBody) -> String {
    match body {
        RecordBody::Hold(h) => match h.action {
            HoldAction::Add => format!(
                "hold {} on {} records by {}",
                h.case,
                h.records.len(),
                h.actor
            ),
            HoldAction::Release => format!("hold {} released by {}", h.case, h.actor),
        },
        RecordBody::PurgeRequest(r) => {
            format!(
                "purge request for {} records by {}",
                r.records.len(),
                r.actor
            )
        }
        RecordBody::PurgeApproval(a) => format!("approval of request {} by {}", a.request, a.actor),
        RecordBody::Tombstone(t) => format!("tombstone of {} ({})", t.of, t.reason),
        RecordBody::AuditPurge(a) => format!("audit records of {} purged", a.year),
        RecordBody::RetentionExtend(e) => format!(
            "{} records kept until {} by {}",
            e.records.len(),
            e.keep_until,
            e.actor
        ),
        other => other.type_name().to_string(),
    }
}

fn held_key(seq: u64, case: &str) -> Vec<u8> {
    let mut k = seq_key(seq).to_vec();
    k.extend_from_slice(case.as_bytes());
    k
}

impl Index {
    /// Applies a hold, request, approval, extension, tombstone, audit key
    /// or audit purge.
    pub(super) fn put_lifecycle(&self, t: &Trees, record: &Record) -> Result<(), IndexError> {
        match &record.body {
            RecordBody::Hold(h) => {
                let mut state = match t.holds.get(h.case.as_bytes())? {
                    Some(v) => parse::<HoldState>(&v)?,
                    None => HoldState {
                        case: h.case.clone(),
                        actor: h.actor.clone(),
                        placed: record.seq,
                        ..HoldState::default()
                    },
                };
                state.reason = h.reason.clone();
                match h.action {
                    HoldAction::Add => {
                        state.released = None;
                        state.queries.extend(h.query.clone());
                        for &seq in &h.records {
                            if !state.records.contains(&seq) {
                                state.records.push(seq);
                            }
                        }
                        for &seq in &state.records {
                            t.held.insert(held_key(seq, &h.case), &[])?;
                        }
                    }
                    HoldAction::Release => {
                        state.released = Some(record.seq);
                        for &seq in &state.records {
                            t.held.remove(held_key(seq, &h.case))?;
                        }
                    }
                }
                t.holds.insert(h.case.as_bytes(), json(&state))?;
            }
            RecordBody::PurgeRequest(r) => {
                let state = RequestState {
                    seq: record.seq,
                    time: record.time.clone(),
                    records: r.records.clone(),
                    reason: r.reason.clone(),
                    actor: r.actor.clone(),
                    approved: None,
                };
                t.requests.insert(seq_key(record.seq), json(&state))?;
            }
            RecordBody::PurgeApproval(a) => {
                if let Some(v) = t.requests.get(seq_key(a.request))? {
                    let mut state: RequestState = parse(&v)?;
                    state.approved = Some((record.seq, a.actor.clone()));
                    t.requests.insert(seq_key(a.request), json(&state))?;
                }
            }
            RecordBody::RetentionExtend(e) => {
                for &seq in &e.records {
                    if let Some(mut s) = self.summary(seq)? {
                        s.keep_until =
                            Some(s.keep_until.map_or(e.keep_until, |k| k.max(e.keep_until)));
                        t.records.insert(seq_key(seq), json(&s))?;
                    }
                }
            }
            RecordBody::Audit(a) => {
                if let (Some(sealed), Some(year)) = (
                    &a.sealed,
                    record.time.get(..4).and_then(|y| y.parse::<i32>().ok()),
                ) {
                    t.meta.insert(audit_key_key(year, sealed.slot), &[])?;
                }
            }
            RecordBody::AuditPurge(p) => {
                for &slot in &p.slots {
                    t.meta.remove(audit_key_key(p.year, slot))?;
                }
                t.meta.insert(pending_key(record.seq), &[])?;
            }
            RecordBody::Tombstone(stone) => {
                // Take back every lookup the record added, and the content
                // locations whose key died with it (a later message with
                // the same content stores it again under a new key).
                let mut gone = Vec::new();
                for kv in t.lookups.scan_prefix(seq_key(stone.of)) {
                    let (at, entry) = kv?;
                    if let Some((&tag, key)) = entry.split_first()
                        && let Some(tag) = Tag::from_byte(tag)
                    {
                        tag.tree(t).remove(key)?;
                        if tag == Tag::Ref && key.len() == 40 {
                            let mut sha = [0u8; 32];
                            sha.copy_from_slice(&key[..32]);
                            gone.push(sha);
                        }
                    }
                    t.lookups.remove(at)?;
                }
                for sha in gone {
                    if let Some(loc) = self.content(&sha)?
                        && loc.encrypted.is_some_and(|e| stone.slots.contains(&e.slot))
                    {
                        t.contents.remove(sha)?;
                    }
                }
                for kv in t.held.scan_prefix(seq_key(stone.of)) {
                    t.held.remove(kv?.0)?;
                }
                t.meta.insert(COMPACT_PENDING, &[1])?;
                // Until the writer confirms the keys are destroyed (a
                // read-only catch-up cannot destroy them).
                t.meta.insert(pending_key(record.seq), &[])?;
                if let Some(mut s) = self.summary(stone.of)? {
                    s.mail_from = None;
                    s.rcpts.clear();
                    s.journal_rcpts.clear();
                    s.headers = Default::default();
                    s.purged = Some(Purged {
                        tombstone: record.seq,
                        on: record.time.clone(),
                        rule: stone.rule.clone(),
                        reason: stone.reason.clone(),
                    });
                    t.records.insert(seq_key(stone.of), json(&s))?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Every hold case, active or released, by case id.
    pub fn holds(&self) -> Result<Vec<HoldState>, IndexError> {
        self.t()?.holds.iter().map(|kv| parse(&kv?.1)).collect()
    }

    /// The cases holding a record now.
    pub fn held_by(&self, seq: u64) -> Result<Vec<String>, IndexError> {
        let t = self.t()?;
        let mut cases = Vec::new();
        for kv in t.held.scan_prefix(seq_key(seq)) {
            let (k, _) = kv?;
            cases.push(String::from_utf8_lossy(&k[8..]).into_owned());
        }
        Ok(cases)
    }

    /// Every record some case holds now (for counting; [`Index::held_by`]
    /// names the cases of one).
    pub fn held_seqs(&self) -> Result<std::collections::HashSet<u64>, IndexError> {
        let mut out = std::collections::HashSet::new();
        for kv in self.t()?.held.iter() {
            let (k, _) = kv?;
            if let Some(b) = k.get(..8) {
                let mut seq = [0u8; 8];
                seq.copy_from_slice(b);
                out.insert(u64::from_be_bytes(seq));
            }
        }
        Ok(out)
    }

    /// Every early-deletion request, oldest first.
    pub fn requests(&self) -> Result<Vec<RequestState>, IndexError> {
        self.t()?.requests.iter().map(|kv| parse(&kv?.1)).collect()
    }

    /// One early-deletion request.
    pub fn request(&self, seq: u64) -> Result<Option<RequestState>, IndexError> {
        self.t()?
            .requests
            .get(seq_key(seq))?
            .map(|v| parse(&v))
            .transpose()
    }

    /// The contents (message and evidence) a live message record uses.
    pub fn content_refs(&self, seq: u64) -> Result<Vec<[u8; 32]>, IndexError> {
        let t = self.t()?;
        let mut out = Vec::new();
        for kv in t.lookups.scan_prefix(seq_key(seq)) {
            let (_, entry) = kv?;
            if entry.len() == 41 && entry[0] == Tag::Ref as u8 {
                let mut sha = [0u8; 32];
                sha.copy_from_slice(&entry[1..33]);
                out.push(sha);
            }
        }
        Ok(out)
    }

    /// Whether a live message record other than those in `except` uses
    /// the content.
    pub fn content_used(
        &self,
        sha256: &[u8; 32],
        except: &std::collections::HashSet<u64>,
    ) -> Result<bool, IndexError> {
        for kv in self.t()?.refs.scan_prefix(sha256) {
            let (k, _) = kv?;
            if k.len() == 40 {
                let mut b = [0u8; 8];
                b.copy_from_slice(&k[32..]);
                if !except.contains(&u64::from_be_bytes(b)) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Tombstones applied whose keys may still be live (the archive's
    /// open for writing completes them).
    pub fn purge_pending(&self) -> Result<Vec<u64>, IndexError> {
        let mut out = Vec::new();
        for kv in self.t()?.meta.scan_prefix(PURGE_PENDING) {
            let (k, _) = kv?;
            if k.len() == PURGE_PENDING.len() + 8 {
                let mut b = [0u8; 8];
                b.copy_from_slice(&k[PURGE_PENDING.len()..]);
                out.push(u64::from_be_bytes(b));
            }
        }
        Ok(out)
    }

    /// The audit keys not yet purged, by calendar year, slots ascending.
    pub fn audit_keys(&self) -> Result<std::collections::BTreeMap<i32, Vec<u64>>, IndexError> {
        let mut out: std::collections::BTreeMap<i32, Vec<u64>> = Default::default();
        for kv in self.t()?.meta.scan_prefix(AUDIT_KEY) {
            let (k, _) = kv?;
            let rest = &k[AUDIT_KEY.len()..];
            if let (Some(y), Some(s)) = (rest.get(..4), rest.get(4..12)) {
                let mut year = [0u8; 4];
                year.copy_from_slice(y);
                let mut slot = [0u8; 8];
                slot.copy_from_slice(s);
                out.entry(i32::from_be_bytes(year))
                    .or_default()
                    .push(u64::from_be_bytes(slot));
            }
        }
        Ok(out)
    }

    /// Tombstone `seq`'s keys are destroyed.
    pub fn purge_done(&self, seq: u64) -> Result<(), IndexError> {
        self.t()?.meta.remove(pending_key(seq))?;
        Ok(())
    }

    /// Whether a tombstone was applied since the last compaction.
    pub fn compact_pending(&self) -> Result<bool, IndexError> {
        Ok(self.t()?.meta.contains_key(COMPACT_PENDING)?)
    }

    /// Rewrites the database into a fresh directory and swaps it in. sled
    /// is log-structured: a removed or overwritten value stays in its files
    /// until the space is reused, so after a purge the only way to be sure
    /// no purged address is left is a copy of what is live. A crash in
    /// between leaves at worst no index, which the next open rebuilds.
    pub fn compact(&self) -> Result<(), IndexError> {
        let dir = self.shared.dir.clone();
        let fresh = dir.with_extension("compact");
        let old = dir.with_extension("old");
        let io = |e: std::io::Error| IndexError::Sled(sled::Error::Io(e));
        remove_dir(&fresh).map_err(io)?;
        let mut slot = self.shared.trees.write().map_err(|_| IndexError::Closed)?;
        let Some(current) = slot.take() else {
            return Err(IndexError::Closed);
        };
        let current = match super::wait_for_readers(current) {
            Ok(trees) => trees,
            Err(shared) => {
                *slot = Some(shared);
                return Err(IndexError::Busy);
            }
        };
        let copied = (|| -> Result<(), IndexError> {
            let db = sled::Config::new().path(&fresh).open()?;
            db.import(current.db.export());
            db.open_tree("meta")?.remove(COMPACT_PENDING)?;
            db.flush()?;
            Ok(())
        })();
        if let Err(e) = copied {
            *slot = Some(std::sync::Arc::new(current));
            return Err(e);
        }
        drop(current);
        std::fs::rename(&dir, &old).map_err(io)?;
        std::fs::rename(&fresh, &dir).map_err(io)?;
        remove_dir(&old).map_err(io)?;
        sync_dir(dir.parent()).map_err(io)?;
        *slot = Some(std::sync::Arc::new(Trees::open(&dir)?));
        Ok(())
    }
}

/// Removes what an interrupted [`Index::compact`] left beside the index.
pub(super) fn remove_leftovers(dir: &std::path::Path) -> std::io::Result<()> {
    remove_dir(&dir.with_extension("compact"))?;
    remove_dir(&dir.with_extension("old"))
}

fn remove_dir(dir: &std::path::Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn sync_dir(dir: Option<&std::path::Path>) -> std::io::Result<()> {
    match dir {
        Some(d) => std::fs::File::open(d)?.sync_all(),
        None => Ok(()),
    }
}
