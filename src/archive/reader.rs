//! Read access for the CLI: listings, single records, content, statistics.
//!
//! A [`Reader`] answers from the sled index when it can open it, and from an
//! in-memory scan of the segments when the daemon holds the index (sled
//! allows one process at a time) or when the archive is someone's copy that
//! must not be written to ([`Reader::open_read_only`]: opening sled writes).
//! Both give the same answers; the scan is slower on a large archive.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::index::{ContentLoc, Head, Index, Summary};
use super::keys::KeyEvent;
use super::record::Record;
use super::scan::{self, MemoryIndex, ScanError};
use super::seal::Seal;
use super::segment::{self, SegmentError, SegmentReader};
use super::stamp::TimeStamp;
use super::{ArchiveError, ArchiveOptions};
use crate::keystore::KeyStore;

/// Chain hashes of records in order ([`Reader::hashes_from`]).
pub type Hashes<'a> = Box<dyn Iterator<Item = Result<[u8; 32], ArchiveError>> + 'a>;

/// Read-only view of an archive.
pub struct Reader {
    /// Where the answers come from.
    view: View,
    /// The `segments/` directory.
    segments: PathBuf,
    /// The key store, to open encrypted contents and sealed fields
    /// (format 2.3); `None` for an archive without one, or a reader
    /// without the master key.
    keys: Option<Arc<KeyStore>>,
}

enum View {
    Indexed(Index),
    Memory(Box<MemoryIndex>),
}

/// Figures for `mailseal stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// All records (messages and outcomes).
    pub records: u64,
    /// Message records.
    pub messages: u64,
    /// Messages and bytes per source kind.
    pub by_source: BTreeMap<String, SourceStats>,
    /// Sum of message sizes over all message records.
    pub message_bytes: u64,
    /// Distinct contents stored (messages and evidence).
    pub unique_contents: u64,
    /// Their original size.
    pub unique_bytes: u64,
    /// Their size as stored (after compression).
    pub stored_bytes: u64,
    /// Size of all segment files on disk.
    pub segment_bytes: u64,
    /// Chain head.
    pub head_seq: u64,
    /// Chain head hash.
    pub head_hash: String,
    /// Newest seal.
    pub last_seal: Option<Seal>,
    /// Tree heads, key rotations and time stamps.
    #[serde(default)]
    pub proofs: ProofFigures,
    /// Messages by retention state (format 2.3).
    #[serde(default)]
    pub retention: RetentionFigures,
    /// The key store, when the archive has one.
    #[serde(default)]
    pub key_store: Option<KeyStoreFigures>,
}

/// Messages by retention state, as of today; each message counts once,
/// in the first state that applies: purged, held, purgeable, no rule,
/// live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionFigures {
    /// Still within their keep-until date.
    pub live: SourceStats,
    /// Named by an active legal hold: kept whatever their keep-until.
    #[serde(default)]
    pub held: SourceStats,
    /// Past their keep-until date: a purge would delete them.
    pub purgeable: SourceStats,
    /// Deleted: their keys are destroyed (the bytes are the original
    /// sizes; the unreadable ciphertext stays in the segments).
    #[serde(default)]
    pub purged: SourceStats,
    /// Archived before retention rules were configured: kept for ever
    /// until a rule is given to them.
    pub no_rule: SourceStats,
}

/// The key store's size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyStoreFigures {
    /// Slots (live and destroyed).
    pub slots: u64,
    /// Bytes of `keys/store`.
    pub bytes: u64,
}

/// What `stats` shows about proofs, from the archive alone (the CLI adds
/// the configured authorities that have not stamped anything yet).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofFigures {
    /// Version-2 seals (signed tree heads).
    pub tree_heads: u64,
    /// The newest tree head's root.
    pub tree_root: Option<String>,
    /// The seal key now (hex).
    pub key: String,
    /// Seal-key rotations.
    pub key_rotations: u64,
    /// Tree heads stamped, per authority name.
    pub stamped: BTreeMap<String, u64>,
}

/// Per-source figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStats {
    /// Message records.
    pub messages: u64,
    /// Their content bytes.
    pub bytes: u64,
}

impl Reader {
    pub(super) fn indexed(index: Index, segments: PathBuf, keys: Option<Arc<KeyStore>>) -> Reader {
        Reader {
            view: View::Indexed(index),
            segments,
            keys,
        }
    }

    /// Opens the archive at `options.path` for reading.
    pub fn open(options: &ArchiveOptions) -> Result<Reader, ArchiveError> {
        let segments = options.path.join("segments");
        if !segments.is_dir() {
            return Err(ArchiveError::Other(format!(
                "{} holds no archive (no segments/)",
                options.path.display()
            )));
        }
        let keys = super::keyring::for_reading(&options.path, &options.master_key_file)?;
        match super::recovery::open_index(&options.path) {
            Ok(index) => {
                let mut sink = index.clone();
                let head = index.head()?;
                tolerate_tail(scan::apply_from(
                    &segments,
                    &head,
                    &mut sink,
                    false,
                    keys.as_deref(),
                ))?;
                Ok(Reader {
                    view: View::Indexed(index),
                    segments,
                    keys,
                })
            }
            // The daemon holds the index, or this user may read the
            // segments but not write the index (the `mailseal` group).
            Err(ArchiveError::Locked(_)) | Err(ArchiveError::Index(_)) => {
                tracing::info!("index in use by the daemon; reading the segments directly");
                Reader::scan(segments, keys)
            }
            Err(e) => Err(e),
        }
    }

    /// Opens the archive in `path` without writing anything to it: the
    /// segments are scanned into memory and the index is never opened (an
    /// auditor's copy, `--archive DIR`).
    /// Encrypted contents and sealed fields open only with `master_key`
    /// (the copy's key store is read, never written).
    pub fn open_read_only(
        path: &std::path::Path,
        master_key: Option<&std::path::Path>,
    ) -> Result<Reader, ArchiveError> {
        let segments = path.join("segments");
        if !segments.is_dir() {
            return Err(ArchiveError::Other(format!(
                "{} holds no archive (no segments/)",
                path.display()
            )));
        }
        let keys = match master_key {
            Some(m) => Some(super::keyring::read_only(path, m)?),
            None => None,
        };
        Reader::scan(segments, keys)
    }

    fn scan(segments: PathBuf, keys: Option<Arc<KeyStore>>) -> Result<Reader, ArchiveError> {
        let mut mem = MemoryIndex::default();
        tolerate_tail(scan::apply_from(
            &segments,
            &Head::default(),
            &mut mem,
            false,
            keys.as_deref(),
        ))?;
        Ok(Reader {
            view: View::Memory(Box::new(mem)),
            segments,
            keys,
        })
    }

    /// The key store this reader opens encrypted data with.
    pub fn keys(&self) -> Option<&KeyStore> {
        self.keys.as_deref()
    }

    /// The chain head.
    pub fn head(&self) -> Result<Head, ArchiveError> {
        Ok(match &self.view {
            View::Indexed(i) => i.head()?,
            View::Memory(m) => m.head.clone(),
        })
    }

    /// The newest seal.
    pub fn last_seal(&self) -> Result<Option<Seal>, ArchiveError> {
        Ok(match &self.view {
            View::Indexed(i) => i.last_seal()?,
            View::Memory(m) => m.last_seal.clone(),
        })
    }

    /// Every seal, oldest first.
    pub fn seals(&self) -> Result<Vec<Seal>, ArchiveError> {
        Ok(match &self.view {
            View::Indexed(i) => i.seals()?,
            View::Memory(m) => m.seals.clone(),
        })
    }

    /// Every time stamp of a seal.
    pub fn timestamps(&self) -> Result<Vec<TimeStamp>, ArchiveError> {
        Ok(match &self.view {
            View::Indexed(i) => i.timestamps()?,
            View::Memory(m) => m.timestamps.clone(),
        })
    }

    /// Every seal-key rotation, in chain order.
    pub fn key_events(&self) -> Result<Vec<KeyEvent>, ArchiveError> {
        Ok(match &self.view {
            View::Indexed(i) => i.key_events()?,
            View::Memory(m) => m.key_events.clone(),
        })
    }

    /// The retention rules last chained, if any were.
    pub fn retention_rules(&self) -> Result<Option<crate::retention::RuleSet>, ArchiveError> {
        Ok(match &self.view {
            View::Indexed(i) => i.retention_rules()?,
            View::Memory(m) => m.retention_rules.clone(),
        })
    }

    /// True when this view was read from the segments into memory because
    /// the daemon holds the index.
    pub fn in_memory(&self) -> bool {
        matches!(self.view, View::Memory(_))
    }

    /// The archive's `segments/` directory.
    pub fn segments_dir(&self) -> &std::path::Path {
        &self.segments
    }

    /// Chain hashes of the records from `seq` on, in order.
    pub fn hashes_from(&self, seq: u64) -> Result<Hashes<'_>, ArchiveError> {
        let parse = |s: Summary| {
            super::chain::parse_hex(&s.hash)
                .ok_or_else(|| ArchiveError::Other(format!("record {}: bad hash", s.seq)))
        };
        Ok(match &self.view {
            View::Indexed(i) => Box::new(
                i.summaries_from(seq)?
                    .map(move |s| s.map_err(ArchiveError::from).and_then(parse)),
            ),
            View::Memory(m) => Box::new(
                m.summaries
                    .iter()
                    .skip(seq.saturating_sub(1) as usize)
                    .map(move |s| parse(s.clone())),
            ),
        })
    }

    /// Every record's summary, in chain order.
    pub fn summaries(&self) -> Result<Vec<Summary>, ArchiveError> {
        Ok(match &self.view {
            View::Indexed(i) => i.summaries().collect::<Result<_, _>>()?,
            View::Memory(m) => m.summaries.clone(),
        })
    }

    /// Every record's summary, in chain order, one at a time (the daemon
    /// streams listings without holding them all).
    pub fn iter_summaries(&self) -> Box<dyn Iterator<Item = Result<Summary, ArchiveError>> + '_> {
        match &self.view {
            View::Indexed(i) => Box::new(i.summaries().map(|s| s.map_err(ArchiveError::from))),
            View::Memory(m) => Box::new(m.summaries.iter().cloned().map(Ok)),
        }
    }

    /// One record's summary.
    pub fn summary(&self, seq: u64) -> Result<Summary, ArchiveError> {
        let found = match &self.view {
            View::Indexed(i) => i.summary(seq)?,
            View::Memory(m) => m.summaries.iter().find(|s| s.seq == seq).cloned(),
        };
        found.ok_or(ArchiveError::NoRecord(seq))
    }

    /// One record's stored JSON bytes, exactly, with its hash.
    pub fn record_bytes(&self, seq: u64) -> Result<(Vec<u8>, String), ArchiveError> {
        let s = self.summary(seq)?;
        let mut r = SegmentReader::open(&self.segments, s.segment).map_err(seg_err)?;
        r.seek(s.offset);
        let fh = r
            .next_header()
            .map_err(seg_err)?
            .ok_or(ArchiveError::NoRecord(seq))?;
        let mut payload = r.read_payload(&fh).map_err(seg_err)?;
        if payload.len() < 32 {
            return Err(ArchiveError::Other(format!(
                "record {seq} at {} is too short",
                fh.at
            )));
        }
        Ok((payload.split_off(32), s.hash))
    }

    /// One record as stored, with its hash.
    pub fn record(&self, seq: u64) -> Result<(Record, String), ArchiveError> {
        let s = self.summary(seq)?;
        let mut r = SegmentReader::open(&self.segments, s.segment).map_err(seg_err)?;
        r.seek(s.offset);
        let fh = r
            .next_header()
            .map_err(seg_err)?
            .ok_or(ArchiveError::NoRecord(seq))?;
        let payload = r.read_payload(&fh).map_err(seg_err)?;
        let mut record = payload
            .get(32..)
            .and_then(|b| Record::decode(b).ok())
            .ok_or_else(|| {
                ArchiveError::Other(format!("record {seq} at {} does not parse", fh.at))
            })?;
        super::sealing::open(&mut record, self.keys.as_deref())
            .map_err(|e| ArchiveError::Other(e.to_string()))?;
        Ok((record, s.hash))
    }

    fn content_loc(&self, sha256: &[u8; 32]) -> Result<Option<ContentLoc>, ArchiveError> {
        Ok(match &self.view {
            View::Indexed(i) => i.content(sha256)?,
            View::Memory(m) => m.contents.get(sha256).copied(),
        })
    }

    /// Writes a content's original bytes (checked against its hash).
    pub fn write_content(
        &self,
        sha256_hex: &str,
        out: &mut dyn Write,
    ) -> Result<u64, ArchiveError> {
        let sha = super::chain::parse_hex(sha256_hex)
            .ok_or_else(|| ArchiveError::Other(format!("bad content hash {sha256_hex}")))?;
        let loc = self
            .content_loc(&sha)?
            .ok_or_else(|| ArchiveError::Other(format!("content {sha256_hex} is not stored")))?;
        scan::write_content_at(&self.segments, loc.at, out, self.keys.as_deref()).map_err(seg_err)
    }

    /// Counts and sizes.
    pub fn stats(&self) -> Result<Stats, ArchiveError> {
        let mut st = Stats::default();
        let today = chrono::Utc::now().date_naive();
        let held = match &self.view {
            View::Indexed(i) => i.held_seqs()?,
            View::Memory(_) => Default::default(),
        };
        for s in self.summaries()? {
            st.records += 1;
            if let Some(kind) = s.source_kind {
                st.messages += 1;
                st.message_bytes += s.size;
                let e = st.by_source.entry(kind.as_str().to_string()).or_default();
                e.messages += 1;
                e.bytes += s.size;
                let r = &mut st.retention;
                let state = match s.keep_until {
                    _ if s.purged.is_some() => &mut r.purged,
                    _ if held.contains(&s.seq) => &mut r.held,
                    None => &mut r.no_rule,
                    Some(k) if crate::retention::is_purgeable(k, today) => &mut r.purgeable,
                    Some(_) => &mut r.live,
                };
                state.messages += 1;
                state.bytes += s.size;
            }
        }
        st.key_store = self.keys.as_ref().map(|k| KeyStoreFigures {
            slots: k.slots(),
            bytes: k.len_bytes(),
        });
        let locs: Vec<ContentLoc> = match &self.view {
            View::Indexed(i) => i.contents().collect::<Result<_, _>>()?,
            View::Memory(m) => m.contents.values().copied().collect(),
        };
        for l in locs {
            st.unique_contents += 1;
            st.unique_bytes += l.size;
            st.stored_bytes += l.stored;
        }
        for n in segment::list(&self.segments).map_err(|source| ArchiveError::Io {
            path: self.segments.clone(),
            source,
        })? {
            st.segment_bytes += std::fs::metadata(self.segments.join(segment::file_name(n)))
                .map(|m| m.len())
                .unwrap_or(0);
        }
        let head = self.head()?;
        st.head_seq = head.seq;
        st.head_hash = head.hash;
        st.last_seal = self.last_seal()?;
        st.proofs = self.proof_figures()?;
        Ok(st)
    }

    fn proof_figures(&self) -> Result<ProofFigures, ArchiveError> {
        let heads: Vec<Seal> = self
            .seals()?
            .into_iter()
            .filter(|s| s.version.is_some())
            .collect();
        let events = self.key_events()?;
        let mut stamped: BTreeMap<String, std::collections::BTreeSet<u64>> = BTreeMap::new();
        for t in self.timestamps()? {
            if heads.iter().any(|s| s.seq == t.seq) {
                stamped.entry(t.authority).or_default().insert(t.seq);
            }
        }
        Ok(ProofFigures {
            tree_heads: heads.len() as u64,
            tree_root: heads.last().and_then(|s| s.root.clone()),
            key: events
                .last()
                .map(|e| e.new_key.clone())
                .or_else(|| heads.last().map(|s| s.public_key.clone()))
                .unwrap_or_default(),
            key_rotations: events.len() as u64,
            stamped: stamped
                .into_iter()
                .map(|(name, seqs)| (name, seqs.len() as u64))
                .collect(),
        })
    }
}

fn seg_err(e: SegmentError) -> ArchiveError {
    ArchiveError::Other(e.to_string())
}

/// A reader does not repair; a torn tail just ends what it sees.
fn tolerate_tail(r: Result<Head, ScanError>) -> Result<(), ArchiveError> {
    match r {
        Ok(_) => Ok(()),
        Err(ScanError::Segment(SegmentError::Torn { at, .. })) => {
            tracing::warn!(%at, "incomplete frame at the archive's end (a writer is busy or crashed)");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
