//! Self-contained proofs: one record in a signed tree head (`mailseal
//! prove ID`, export `--with-proofs`), and a newer tree head extending an
//! older seal (`mailseal prove --consistency OLD_SEAL`).
//!
//! A proof carries everything a verifier needs besides the auditor's
//! public key and the time-stamp authority's CA certificate: the record's
//! stored JSON and hash, the audit path, the signed tree head, its time
//! stamps, and every key-rotation record up to the tree head with its own
//! audit path (so the key that signed the head can be followed from the
//! first key). Each proof is checked against its tree head before it is
//! handed out; one that fails means the tree file is damaged.
//!
//! The JSON layout is documented in docs/verification.md; `json.rs`
//! holds the types.

mod json;
pub mod source;

pub use json::{AuditPath, ConsistencyProof, HistoryEntry, InclusionProof, RecordJson};

use crate::archive::ArchiveError;
use crate::archive::chain::parse_hex;
use crate::archive::merkle::{self, NodeSource};
use crate::archive::reader::Reader;
use crate::archive::record::Record;
use crate::archive::seal::Seal;
use crate::archive::stamp::TimeStamp;
use crate::archive::tree_head;

/// The version of the proof layout.
pub const PROOF_FORMAT: u32 = 1;

/// Why no proof could be made.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// Reading the archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The record is not a message, or not sealed by a tree head yet.
    #[error("{0}")]
    Unprovable(String),
    /// The tree did not give a proof that verifies: it is damaged.
    #[error("the Merkle tree gave a proof that does not verify ({0}); run `mailseal reindex`")]
    Damaged(String),
}

/// Makes proofs from an archive's records, seals and tree.
pub struct Prover<'a, S: NodeSource> {
    /// Records, seals and time stamps.
    reader: &'a Reader,
    /// The Merkle tree's nodes.
    tree: S,
    /// Every seal, oldest first.
    seals: Vec<Seal>,
    /// Every time stamp.
    stamps: Vec<TimeStamp>,
    /// Seqs of the key-rotation records.
    rotations: Vec<u64>,
    /// The archive's id (its first seal key).
    archive_id: String,
}

impl<'a, S: NodeSource> Prover<'a, S>
where
    S::Error: std::fmt::Display,
{
    /// A prover over `reader`'s archive with its tree `tree`.
    pub fn new(reader: &'a Reader, tree: S) -> Result<Self, ProofError> {
        let seals = reader.seals()?;
        let events = reader.key_events()?;
        let archive_id = events
            .first()
            .map(|e| e.old_key.clone())
            .or_else(|| seals.first().map(|s| s.public_key.clone()))
            .unwrap_or_default();
        Ok(Prover {
            reader,
            tree,
            stamps: reader.timestamps()?,
            rotations: events.iter().map(|e| e.seq).collect(),
            seals,
            archive_id,
        })
    }

    /// The tree head a proof of record `seq` uses: the newest version-2
    /// seal covering it that has a time stamp, else the newest covering it.
    pub fn head_for(&self, seq: u64) -> Result<&Seal, ProofError> {
        let covering = || {
            self.seals
                .iter()
                .rev()
                .filter(move |s| s.version == Some(2) && s.seq >= seq)
        };
        covering()
            .find(|s| self.stamps_of(s).next().is_some())
            .or_else(|| covering().next())
            .ok_or_else(|| {
                ProofError::Unprovable(format!(
                    "record {seq} is not sealed by a tree head yet (the daemon seals at \
                     archive.seal_interval and at shutdown)"
                ))
            })
    }

    /// The newest version-2 seal of `size` records: the tree head the
    /// first proofs of a set used, for the rest of the set.
    pub fn head_of_size(&self, size: u64) -> Option<&Seal> {
        self.seals
            .iter()
            .rev()
            .find(|s| s.version == Some(2) && s.seq == size)
    }

    /// The newest version-2 seal.
    pub fn newest_head(&self) -> Option<&Seal> {
        self.seals.iter().rev().find(|s| s.version == Some(2))
    }

    fn stamps_of<'s>(&'s self, head: &'s Seal) -> impl Iterator<Item = &'s TimeStamp> + 's {
        let imprint = tree_head::imprint(head).map(hex::encode).ok();
        self.stamps
            .iter()
            .filter(move |t| t.seq == head.seq && Some(&t.imprint) == imprint.as_ref())
    }

    fn path(&self, seq: u64, size: u64) -> Result<Vec<[u8; 32]>, ProofError> {
        merkle::inclusion_proof(&self.tree, seq - 1, size)
            .map_err(|e| ProofError::Damaged(e.to_string()))
    }

    fn record_json(&self, seq: u64) -> Result<(RecordJson, Record), ProofError> {
        let (bytes, hash) = self.reader.record_bytes(seq)?;
        let json = String::from_utf8(bytes)
            .map_err(|_| ProofError::Unprovable(format!("record {seq} is not UTF-8")))?;
        let record = Record::decode(json.as_bytes())
            .map_err(|e| ProofError::Unprovable(format!("record {seq}: {e}")))?;
        Ok((RecordJson { seq, json, hash }, record))
    }

    /// The key-rotation records up to `size`, each with its audit path.
    fn history(&self, size: u64, root: &[u8; 32]) -> Result<Vec<HistoryEntry>, ProofError> {
        let mut out = Vec::new();
        for &seq in self.rotations.iter().filter(|&&s| s <= size) {
            let (r, _) = self.record_json(seq)?;
            let path = self.checked_path(seq, size, &r.hash, root)?;
            out.push(HistoryEntry {
                json: r.json,
                hash: r.hash,
                path,
            });
        }
        Ok(out)
    }

    /// The audit path of record `seq` in the tree of `size`, checked
    /// against `root`.
    fn checked_path(
        &self,
        seq: u64,
        size: u64,
        hash: &str,
        root: &[u8; 32],
    ) -> Result<Vec<String>, ProofError> {
        let path = self.path(seq, size)?;
        let leaf = merkle::leaf_hash(&parse_hex(hash).unwrap_or_default());
        if !merkle::verify_inclusion(seq - 1, size, &leaf, &path, root) {
            return Err(ProofError::Damaged(format!("audit path of record {seq}")));
        }
        Ok(path.iter().map(hex::encode).collect())
    }

    /// The proof that message record `seq` is in `head`.
    pub fn inclusion(&self, seq: u64, head: &Seal) -> Result<InclusionProof, ProofError> {
        let (record, parsed) = self.record_json(seq)?;
        let Some(meta) = parsed.message() else {
            return Err(ProofError::Unprovable(format!(
                "record {seq} is not a message"
            )));
        };
        let root = head_root(head)?;
        if head.seq < seq {
            return Err(ProofError::Unprovable(format!(
                "the tree head of {} records does not cover record {seq}",
                head.seq
            )));
        }
        let path = self.checked_path(seq, head.seq, &record.hash, &root)?;
        Ok(InclusionProof {
            mailseal_proof: PROOF_FORMAT,
            kind: "inclusion".into(),
            archive_id: self.archive_id.clone(),
            content: meta.content.clone(),
            record,
            inclusion: AuditPath {
                leaf_index: seq - 1,
                tree_size: head.seq,
                path,
            },
            key_history: self.history(head.seq, &root)?,
            timestamps: self.stamps_of(head).cloned().collect(),
            tree_head: head.clone(),
        })
    }

    /// The proof that `new` extends the seal `old` an auditor kept. For a
    /// version-1 `old`, `path` is the audit path of its head record in
    /// `new` (its chain hash commits to everything before it).
    pub fn consistency(&self, old: &Seal, new: &Seal) -> Result<ConsistencyProof, ProofError> {
        let root = head_root(new)?;
        if old.seq > new.seq {
            return Err(ProofError::Unprovable(format!(
                "the seal of {} records is newer than the archive's tree head of {}",
                old.seq, new.seq
            )));
        }
        let path = match (&old.root, old.seq) {
            (_, 0) => Vec::new(),
            (Some(old_root), _) => {
                let proof = merkle::consistency_proof(&self.tree, old.seq, new.seq)
                    .map_err(|e| ProofError::Damaged(e.to_string()))?;
                let old_root = parse_hex(old_root).unwrap_or_default();
                if !merkle::verify_consistency(old.seq, new.seq, &old_root, &root, &proof) {
                    return Err(ProofError::Unprovable(format!(
                        "this archive does not extend the seal of {} records: it was rewritten \
                         or the seal is from another archive",
                        old.seq
                    )));
                }
                proof.iter().map(hex::encode).collect()
            }
            (None, seq) => self
                .checked_path(seq, new.seq, &old.head_hash, &root)
                .map_err(|_| {
                    ProofError::Unprovable(format!(
                        "this archive's record {seq} is not the one the seal names"
                    ))
                })?,
        };
        Ok(ConsistencyProof {
            mailseal_proof: PROOF_FORMAT,
            kind: "consistency".into(),
            archive_id: self.archive_id.clone(),
            old: old.clone(),
            path,
            key_history: self.history(new.seq, &root)?,
            timestamps: self.stamps_of(new).cloned().collect(),
            new: new.clone(),
        })
    }
}

fn head_root(head: &Seal) -> Result<[u8; 32], ProofError> {
    head.root
        .as_deref()
        .and_then(parse_hex)
        .ok_or_else(|| ProofError::Unprovable("the tree head has no root (version-1 seal)".into()))
}
