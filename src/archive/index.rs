//! The sled index: derived, rebuildable lookups over the segments.
//!
//! This is the only module that knows sled. Everything here can be thrown
//! away and rebuilt from the segments (`mailseal reindex`); the index records
//! how far into the segments it has applied (`meta/head`), so opening the
//! archive only re-reads what came after.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::headers::Headers;
use super::keys::KeyEvent;
use super::record::{Record, RecordBody, SourceKind};
use super::seal::Seal;
use super::segment::Location;
use super::stamp::TimeStamp;

/// Index layout version; a different stored version triggers a rebuild.
/// Version 2 keeps every seal, time stamp and seal-key rotation; version 3
/// adds holds, purge requests, content references and the lookups each
/// record made (so a purge can take them back); version 4 lists the audit
/// keys by year and no longer names an audit record's actor.
pub const INDEX_FORMAT: u64 = 4;

/// Errors from the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// sled failed.
    #[error("index: {0}")]
    Sled(#[from] sled::Error),
    /// Stored bytes did not parse.
    #[error("index entry damaged: {0}")]
    Damaged(String),
    /// The database is closed: a reopen after an I/O error failed.
    #[error("index closed after an I/O error; it reopens with the next commit")]
    Closed,
    /// Readers kept the database busy, so it could not be reopened yet.
    #[error("index busy; reopen postponed")]
    Busy,
}

/// How far the index has applied the segments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Last applied record's sequence number (0: none).
    pub seq: u64,
    /// Its hash, hex.
    pub hash: String,
    /// Segment of the position below.
    pub segment: u32,
    /// Offset just past the last applied frame.
    pub offset: u64,
}

/// One record as listings show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Record id.
    pub seq: u64,
    /// Record hash, hex.
    pub hash: String,
    /// Receive time.
    pub time: String,
    /// `message` or `outcome`.
    pub kind: String,
    /// The way in, for message records.
    pub source_kind: Option<SourceKind>,
    /// Listener or job name.
    pub source_name: String,
    /// Segment and offset of the record frame.
    pub segment: u32,
    /// Offset of the record frame.
    pub offset: u64,
    /// Envelope sender.
    pub mail_from: Option<String>,
    /// Envelope recipients.
    pub rcpts: Vec<String>,
    /// Every recipient an Exchange journal report names (To, Cc, Bcc,
    /// Recipient, the lists they were expanded from, the addresses they
    /// were forwarded from), lowercase: Bcc copies are found by address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub journal_rcpts: Vec<String>,
    /// The key store slot of the record key sealing the record's personal
    /// fields (format 2.3): outcomes are sealed with it, a purge destroys it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_slot: Option<u64>,
    /// The last day the message must be kept (format 2.3), when retention
    /// rules decided one at capture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_until: Option<chrono::NaiveDate>,
    /// The retention rule that decided `keep_until` at capture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// When a tombstone purged the record (format 2.3): its personal
    /// fields and headers are gone from the summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged: Option<super::lifecycle::Purged>,
    /// Content SHA-256, hex (message records).
    pub sha256: String,
    /// Content size.
    pub size: u64,
    /// Parsed header fields of the content.
    pub headers: Headers,
}

/// A content's place in the segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentLoc {
    /// Where the content frame is.
    pub at: Location,
    /// Original size.
    pub size: u64,
    /// Bytes stored (compressed data, or its ciphertext).
    pub stored: u64,
    /// For an `E` frame: its key slot and ciphertext hash, which every
    /// record referencing the content repeats (format 2.3).
    pub encrypted: Option<EncryptedLoc>,
}

/// Where an encrypted content's key is, and what its ciphertext hashes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptedLoc {
    /// The key store slot of the content's data key.
    pub slot: u64,
    /// SHA-256 of the ciphertext.
    pub cipher_sha256: [u8; 32],
}

/// Handle to the sled database. Clones share one database, which
/// [`Index::reopen`] can replace in place.
#[derive(Clone)]
pub struct Index {
    /// The database directory and the open database.
    shared: Arc<Shared>,
}

struct Shared {
    /// Where the database lives, for [`Index::reopen`].
    dir: PathBuf,
    /// The open database; `None` only while a reopen failed.
    trees: RwLock<Option<Arc<Trees>>>,
}

/// The open database and its trees.
struct Trees {
    db: sled::Db,
    meta: sled::Tree,
    records: sled::Tree,
    contents: sled::Tree,
    by_msgid: sled::Tree,
    by_addr: sled::Tree,
    imap: sled::Tree,
    pop3: sled::Tree,
    /// Legal holds by case (JSON [`lifecycle::HoldState`]).
    holds: sled::Tree,
    /// `seq ‖ case` for every message a case holds now.
    held: sled::Tree,
    /// Early-deletion requests by seq (JSON [`lifecycle::RequestState`]).
    requests: sled::Tree,
    /// `sha256 ‖ seq` for every live message record using a content.
    refs: sled::Tree,
    /// `seq ‖ n` → tree tag ‖ key: the lookups a record added, taken back
    /// when it is purged.
    lookups: sled::Tree,
}

impl Trees {
    fn open(dir: &Path) -> Result<Trees, IndexError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_BYTES)
            .flush_every_ms(Some(1000))
            .open()?;
        Ok(Trees {
            meta: db.open_tree("meta")?,
            records: db.open_tree("records")?,
            contents: db.open_tree("contents")?,
            by_msgid: db.open_tree("by_msgid")?,
            by_addr: db.open_tree("by_addr")?,
            imap: db.open_tree("imap")?,
            pop3: db.open_tree("pop3")?,
            holds: db.open_tree("holds")?,
            held: db.open_tree("held")?,
            requests: db.open_tree("requests")?,
            refs: db.open_tree("refs")?,
            lookups: db.open_tree("lookups")?,
            db,
        })
    }
}

/// sled's page cache. Its default (1 GiB) lets the daemon's memory grow
/// with the archive; lookups touch few pages, so a small cache costs
/// little and keeps the appliance's memory bounded.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// How long [`Index::reopen`] waits for readers to let go of the old
/// database.
const REOPEN_WAIT: Duration = Duration::from_secs(2);

/// The database once no reader holds it (readers hold it only for one
/// lookup or listing), or back again after [`REOPEN_WAIT`].
fn wait_for_readers(mut old: Arc<Trees>) -> Result<Trees, Arc<Trees>> {
    let deadline = Instant::now() + REOPEN_WAIT;
    loop {
        match Arc::try_unwrap(old) {
            Ok(trees) => return Ok(trees),
            Err(shared) if Instant::now() < deadline => {
                old = shared;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(shared) => return Err(shared),
        }
    }
}

fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn parse<T: for<'a> Deserialize<'a>>(bytes: &[u8]) -> Result<T, IndexError> {
    serde_json::from_slice(bytes).map_err(|e| IndexError::Damaged(e.to_string()))
}

impl Index {
    /// Opens (or creates) the index in `dir`.
    pub fn open(dir: &Path) -> Result<Index, IndexError> {
        let trees = Trees::open(dir)?;
        // Only the holder of the database's lock may tidy beside it.
        lifecycle::remove_leftovers(dir).map_err(|e| IndexError::Sled(sled::Error::Io(e)))?;
        let index = Index {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                trees: RwLock::new(Some(Arc::new(trees))),
            }),
        };
        let format = index
            .t()?
            .meta
            .get("format")?
            .map(|v| parse::<u64>(&v))
            .transpose()?;
        if format != Some(INDEX_FORMAT) {
            index.clear()?;
        }
        Ok(index)
    }

    /// The open database.
    fn t(&self) -> Result<Arc<Trees>, IndexError> {
        self.shared
            .trees
            .read()
            .map_err(|_| IndexError::Closed)?
            .clone()
            .ok_or(IndexError::Closed)
    }

    /// Closes the database and opens it again from disk. sled keeps an I/O
    /// error (a full disk) for as long as it is open, and fails every later
    /// write; a fresh open recovers what it had made durable, and the
    /// caller re-applies the segments from [`Index::head`] on.
    pub fn reopen(&self) -> Result<(), IndexError> {
        let mut slot = self.shared.trees.write().map_err(|_| IndexError::Closed)?;
        if let Some(old) = slot.take() {
            match wait_for_readers(old) {
                Ok(trees) => drop(trees),
                Err(shared) => {
                    *slot = Some(shared);
                    return Err(IndexError::Busy);
                }
            }
        }
        *slot = Some(Arc::new(Trees::open(&self.shared.dir)?));
        Ok(())
    }

    /// Drops everything (before a rebuild).
    pub fn clear(&self) -> Result<(), IndexError> {
        let t = self.t()?;
        for tree in [
            &t.meta,
            &t.records,
            &t.contents,
            &t.by_msgid,
            &t.by_addr,
            &t.imap,
            &t.pop3,
            &t.holds,
            &t.held,
            &t.requests,
            &t.refs,
            &t.lookups,
        ] {
            tree.clear()?;
        }
        t.meta.insert("format", json(&INDEX_FORMAT))?;
        t.db.flush()?;
        Ok(())
    }

    /// How far the index has applied the segments.
    pub fn head(&self) -> Result<Head, IndexError> {
        Ok(self
            .t()?
            .meta
            .get("head")?
            .map(|v| parse(&v))
            .transpose()?
            .unwrap_or_default())
    }

    /// Records how far the segments are applied.
    pub fn set_head(&self, head: &Head) -> Result<(), IndexError> {
        self.t()?.meta.insert("head", json(head))?;
        Ok(())
    }

    /// The newest seal seen.
    pub fn last_seal(&self) -> Result<Option<Seal>, IndexError> {
        self.t()?
            .meta
            .get("last_seal")?
            .map(|v| parse(&v))
            .transpose()
    }

    /// Remembers a seal.
    pub fn put_seal(&self, seal: &Seal) -> Result<(), IndexError> {
        let t = self.t()?;
        t.meta.insert("last_seal", json(seal))?;
        t.meta
            .insert(proof_key(SEAL_PREFIX, seal.seq, ""), json(seal))?;
        Ok(())
    }

    /// Every seal, oldest first.
    pub fn seals(&self) -> Result<Vec<Seal>, IndexError> {
        self.t()?
            .meta
            .scan_prefix(SEAL_PREFIX)
            .map(|kv| parse(&kv?.1))
            .collect()
    }

    /// Remembers a time stamp of a seal.
    pub fn put_timestamp(&self, stamp: &TimeStamp) -> Result<(), IndexError> {
        let key = proof_key(STAMP_PREFIX, stamp.seq, &stamp.authority);
        self.t()?.meta.insert(key, json(stamp))?;
        Ok(())
    }

    /// Every time stamp, by seal then authority.
    pub fn timestamps(&self) -> Result<Vec<TimeStamp>, IndexError> {
        self.t()?
            .meta
            .scan_prefix(STAMP_PREFIX)
            .map(|kv| parse(&kv?.1))
            .collect()
    }

    /// Every seal-key rotation, in chain order.
    pub fn key_events(&self) -> Result<Vec<KeyEvent>, IndexError> {
        Ok(self
            .t()?
            .meta
            .get("key_events")?
            .map(|v| parse(&v))
            .transpose()?
            .unwrap_or_default())
    }

    /// The retention rules last chained (`retention-rules` records).
    pub fn retention_rules(&self) -> Result<Option<crate::retention::RuleSet>, IndexError> {
        match self.t()?.meta.get(RULES_KEY)? {
            Some(v) => parse(&v).map(Some),
            None => Ok(None),
        }
    }

    /// Where a content is stored, if it is.
    pub fn content(&self, sha256: &[u8; 32]) -> Result<Option<ContentLoc>, IndexError> {
        let Some(v) = self.t()?.contents.get(sha256)? else {
            return Ok(None);
        };
        if v.len() != 28 && v.len() != 68 {
            return Err(IndexError::Damaged("content location".into()));
        }
        let u = |r: std::ops::Range<usize>| {
            let mut b = [0u8; 8];
            b[8 - r.len()..].copy_from_slice(&v[r]);
            u64::from_be_bytes(b)
        };
        Ok(Some(ContentLoc {
            at: Location {
                segment: u(0..4) as u32,
                offset: u(4..12),
            },
            size: u(12..20),
            stored: u(20..28),
            encrypted: (v.len() == 68).then(|| {
                let mut cipher_sha256 = [0u8; 32];
                cipher_sha256.copy_from_slice(&v[36..68]);
                EncryptedLoc {
                    slot: u(28..36),
                    cipher_sha256,
                }
            }),
        }))
    }

    /// Records a stored content.
    pub fn put_content(&self, sha256: &[u8; 32], loc: ContentLoc) -> Result<(), IndexError> {
        let mut v = Vec::with_capacity(68);
        v.extend_from_slice(&loc.at.segment.to_be_bytes());
        v.extend_from_slice(&loc.at.offset.to_be_bytes());
        v.extend_from_slice(&loc.size.to_be_bytes());
        v.extend_from_slice(&loc.stored.to_be_bytes());
        if let Some(e) = &loc.encrypted {
            v.extend_from_slice(&e.slot.to_be_bytes());
            v.extend_from_slice(&e.cipher_sha256);
        }
        self.t()?.contents.insert(sha256, v)?;
        Ok(())
    }

    /// Indexes one record.
    pub fn put_record(
        &self,
        record: &Record,
        hash: &[u8; 32],
        at: Location,
        headers: Headers,
    ) -> Result<(), IndexError> {
        let t = self.t()?;
        let s = summarize(record, hash, at, headers);
        let mut added = Lookups::new(&t, record.seq);
        match &record.body {
            RecordBody::RetentionRules(r) => {
                t.meta.insert(RULES_KEY, json(r))?;
            }
            RecordBody::KeyRotation(k) => {
                let mut events = self.key_events()?;
                events.retain(|e| e.seq < record.seq);
                events.push(KeyEvent {
                    seq: record.seq,
                    old_key: k.old_key.clone(),
                    new_key: k.new_key.clone(),
                });
                t.meta.insert("key_events", json(&events))?;
            }
            RecordBody::Message(m) => {
                if let Some(imap) = &m.imap
                    && let (Some(v), Some(u)) = (imap.uidvalidity, imap.uid)
                {
                    let user = imap.user.as_deref().unwrap_or("");
                    let mailbox = imap.mailbox.as_deref().unwrap_or("");
                    added.put(
                        Tag::Imap,
                        imap_key(user, mailbox, v, u),
                        &seq_key(record.seq),
                    )?;
                }
                if let Some(import) = &m.import
                    && let (Some(v), Some(u)) = (import.uidvalidity, import.uid)
                {
                    added.put(
                        Tag::Imap,
                        imap_key("", &import.origin, v, u),
                        &seq_key(record.seq),
                    )?;
                }
                if let Some(pop3) = &m.pop3
                    && let Some(uidl) = &pop3.uidl
                    && pop3.direction != "top"
                {
                    let user = pop3.user.as_deref().unwrap_or("");
                    let key = pop3_key(&pop3.upstream, user, uidl);
                    added.put(Tag::Pop3, key, &seq_key(record.seq))?;
                }
                if let Some(id) = m.journal.as_ref().and_then(|j| j.message_id.as_deref()) {
                    let id = id.trim_matches(|c| c == '<' || c == '>');
                    added.put(Tag::MsgId, tagged(id, record.seq), &[])?;
                }
                for c in std::iter::once(&m.content).chain(m.evidence.iter()) {
                    if let Some(sha) = super::chain::parse_hex(&c.sha256) {
                        let mut k = sha.to_vec();
                        k.extend_from_slice(&seq_key(record.seq));
                        added.put(Tag::Ref, k, &[])?;
                    }
                }
            }
            _ => self.put_lifecycle(&t, record)?,
        }
        if let Some(id) = &s.headers.message_id {
            added.put(Tag::MsgId, tagged(id, record.seq), &[])?;
        }
        let mut addrs: Vec<String> = s.headers.to.clone();
        addrs.extend(s.headers.from.clone());
        addrs.extend(s.rcpts.iter().map(|a| a.to_ascii_lowercase()));
        addrs.extend(s.mail_from.iter().map(|a| a.to_ascii_lowercase()));
        addrs.extend(s.journal_rcpts.iter().cloned());
        addrs.sort();
        addrs.dedup();
        for a in addrs.iter().filter(|a| !a.is_empty()) {
            added.put(Tag::Addr, tagged(a, record.seq), &[])?;
        }
        t.records.insert(seq_key(record.seq), json(&s))?;
        Ok(())
    }

    /// The record that holds an IMAP message, if any.
    pub fn imap_message(
        &self,
        user: &str,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
    ) -> Result<Option<u64>, IndexError> {
        Ok(self
            .t()?
            .imap
            .get(imap_key(user, mailbox, uidvalidity, uid))?
            .map(|v| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&v[..8.min(v.len())]);
                u64::from_be_bytes(b)
            }))
    }

    /// The record that holds a whole POP3 message (upstream, user, UIDL),
    /// if any; headers-only `top` records do not count.
    pub fn pop3_message(
        &self,
        upstream: &str,
        user: &str,
        uidl: &str,
    ) -> Result<Option<u64>, IndexError> {
        Ok(self
            .t()?
            .pop3
            .get(pop3_key(upstream, user, uidl))?
            .map(|v| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&v[..8.min(v.len())]);
                u64::from_be_bytes(b)
            }))
    }

    /// Highest UID archived for a mailbox at a UIDVALIDITY.
    pub fn imap_highest_uid(
        &self,
        user: &str,
        mailbox: &str,
        uidvalidity: u32,
    ) -> Result<Option<u32>, IndexError> {
        let lo = imap_key(user, mailbox, uidvalidity, 0);
        let hi = imap_key(user, mailbox, uidvalidity, u32::MAX);
        Ok(self
            .t()?
            .imap
            .range(lo..=hi)
            .next_back()
            .transpose()?
            .map(|(k, _)| {
                let mut b = [0u8; 4];
                b.copy_from_slice(&k[k.len() - 4..]);
                u32::from_be_bytes(b)
            }))
    }

    /// One record's summary.
    pub fn summary(&self, seq: u64) -> Result<Option<Summary>, IndexError> {
        self.t()?
            .records
            .get(seq_key(seq))?
            .map(|v| parse(&v))
            .transpose()
    }

    /// Summaries from record `seq` on, in order.
    pub fn summaries_from(
        &self,
        seq: u64,
    ) -> Result<impl Iterator<Item = Result<Summary, IndexError>> + use<>, IndexError> {
        Ok(self
            .t()?
            .records
            .range(seq_key(seq)..)
            .map(|r| parse(&r?.1)))
    }

    /// All summaries in order.
    pub fn summaries(&self) -> impl Iterator<Item = Result<Summary, IndexError>> + '_ {
        let (iter, failed) = match self.t() {
            Ok(t) => (Some(t.records.iter()), None),
            Err(e) => (None, Some(Err(e))),
        };
        let summaries = iter.into_iter().flatten().map(|r| parse(&r?.1));
        summaries.chain(failed)
    }

    /// Record ids whose Message-ID is `id`.
    pub fn by_message_id(&self, id: &str) -> Result<Vec<u64>, IndexError> {
        scan_tagged(
            &self.t()?.by_msgid,
            id.trim_matches(|c| c == '<' || c == '>'),
        )
    }

    /// Record ids that mention `address` (envelope or headers).
    pub fn by_address(&self, address: &str) -> Result<Vec<u64>, IndexError> {
        scan_tagged(&self.t()?.by_addr, &address.to_ascii_lowercase())
    }

    /// All content locations (stats).
    pub fn contents(&self) -> impl Iterator<Item = Result<ContentLoc, IndexError>> + '_ {
        let (iter, failed) = match self.t() {
            Ok(t) => (Some(t.contents.iter()), None),
            Err(e) => (None, Some(Err(e))),
        };
        let locations = iter.into_iter().flatten().map(move |r| {
            let (k, _) = r?;
            let mut sha = [0u8; 32];
            sha.copy_from_slice(&k[..32.min(k.len())]);
            self.content(&sha)?
                .ok_or_else(|| IndexError::Damaged("content vanished".into()))
        });
        locations.chain(failed)
    }

    /// Forces everything to disk.
    pub fn flush(&self) -> Result<(), IndexError> {
        self.t()?.db.flush()?;
        Ok(())
    }
}

#[path = "index_lifecycle.rs"]
mod lifecycle;
pub use lifecycle::{HoldState, RequestState};
use lifecycle::{Lookups, Tag};

/// The listing view of a record.
pub fn summarize(record: &Record, hash: &[u8; 32], at: Location, headers: Headers) -> Summary {
    let mut s = Summary {
        seq: record.seq,
        hash: hex::encode(hash),
        time: record.time.clone(),
        segment: at.segment,
        offset: at.offset,
        headers,
        ..Summary::default()
    };
    match &record.body {
        RecordBody::Message(m) => {
            s.kind = "message".into();
            s.source_kind = Some(m.source.kind);
            s.source_name = m.source.name.clone();
            s.mail_from = m.mail_from.clone();
            s.rcpts = m.rcpts.iter().map(|r| r.address.clone()).collect();
            if let Some(j) = &m.journal {
                let mut all: Vec<String> = j
                    .recipients
                    .iter()
                    .flat_map(|r| {
                        std::iter::once(&r.address)
                            .chain(&r.expanded)
                            .chain(r.forwarded.iter())
                    })
                    .map(|a| a.to_ascii_lowercase())
                    .collect();
                all.sort();
                all.dedup();
                s.journal_rcpts = all;
            }
            s.sha256 = m.content.sha256.clone();
            s.size = m.content.size;
            s.sealed_slot = m.sealed.as_ref().map(|x| x.slot);
            s.keep_until = m.retention.as_ref().map(|r| r.keep_until);
            s.rule = m.retention.as_ref().map(|r| r.rule.clone());
        }
        RecordBody::Outcome(o) => {
            s.kind = "outcome".into();
            s.source_name = format!("outcome of {}", o.of);
        }
        RecordBody::KeyRotation(k) => {
            s.kind = "key-rotation".into();
            s.source_name = format!("seal key {}", &k.new_key[..16.min(k.new_key.len())]);
        }
        RecordBody::Audit(a) => {
            // Not the actor: the index keeps no name an audit purge would
            // have to take back.
            s.kind = "audit".into();
            s.source_name = a.action.clone();
            s.sealed_slot = a.sealed.as_ref().map(|x| x.slot);
        }
        RecordBody::RetentionRules(r) => {
            s.kind = "retention-rules".into();
            s.source_name = format!("{} retention rules", r.rules.len());
        }
        other => {
            s.kind = other.type_name().into();
            s.source_name = lifecycle::describe(other);
        }
    }
    s
}

/// Key of the last chained retention rules in `meta`.
const RULES_KEY: &[u8] = b"retention_rules";

/// Keys of the kept seals and time stamps in `meta`: prefix, seq, name.
const SEAL_PREFIX: &[u8] = b"seal/";
const STAMP_PREFIX: &[u8] = b"stamp/";

fn proof_key(prefix: &[u8], seq: u64, name: &str) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&seq_key(seq));
    k.extend_from_slice(name.as_bytes());
    k
}

fn tagged(value: &str, seq: u64) -> Vec<u8> {
    let mut k = value.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&seq_key(seq));
    k
}

fn scan_tagged(tree: &sled::Tree, value: &str) -> Result<Vec<u64>, IndexError> {
    let mut prefix = value.as_bytes().to_vec();
    prefix.push(0);
    let mut out = Vec::new();
    for kv in tree.scan_prefix(&prefix) {
        let (k, _) = kv?;
        if k.len() == prefix.len() + 8 {
            let mut b = [0u8; 8];
            b.copy_from_slice(&k[prefix.len()..]);
            out.push(u64::from_be_bytes(b));
        }
    }
    Ok(out)
}

fn pop3_key(upstream: &str, user: &str, uidl: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(upstream.len() + user.len() + uidl.len() + 2);
    k.extend_from_slice(upstream.as_bytes());
    k.push(0);
    k.extend_from_slice(user.as_bytes());
    k.push(0);
    k.extend_from_slice(uidl.as_bytes());
    k
}

fn imap_key(user: &str, mailbox: &str, uidvalidity: u32, uid: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(user.len() + mailbox.len() + 10);
    k.extend_from_slice(user.as_bytes());
    k.push(0);
    k.extend_from_slice(mailbox.as_bytes());
    k.push(0);
    k.extend_from_slice(&uidvalidity.to_be_bytes());
    k.extend_from_slice(&uid.to_be_bytes());
    k
}
