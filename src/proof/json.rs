//! The proof files' JSON (layout in docs/verification.md).

use serde::{Deserialize, Serialize};

use crate::archive::record::ContentRef;
use crate::archive::seal::Seal;
use crate::archive::stamp::TimeStamp;

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordJson {
    /// The record's seq.
    pub seq: u64,
    /// Its stored JSON, exactly (as a string: UTF-8 encoding it gives the
    /// hashed bytes).
    pub json: String,
    /// Its hex chain hash: SHA-256(prev_hash bytes || json).
    pub hash: String,
}

/// An audit path (RFC 9162 2.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditPath {
    /// The leaf: seq - 1.
    pub leaf_index: u64,
    /// The tree size: the tree head's seq.
    pub tree_size: u64,
    /// Hex sibling hashes, nearest the leaf first.
    pub path: Vec<String>,
}

/// A key-rotation record with its audit path in the same tree head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    /// The record's stored JSON.
    pub json: String,
    /// Its hex chain hash.
    pub hash: String,
    /// Its audit path in the tree head of the proof.
    pub path: Vec<String>,
}

/// `mailseal prove ID`: one message record in a signed tree head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// Layout version: 1.
    pub mailseal_proof: u32,
    /// `inclusion`.
    pub kind: String,
    /// The archive's id: its first seal key, hex.
    pub archive_id: String,
    /// The record.
    pub record: RecordJson,
    /// The message it names (copied from the record for readers; the
    /// verifier compares the two).
    pub content: ContentRef,
    /// The record's audit path.
    pub inclusion: AuditPath,
    /// The signed tree head (seal version 2).
    pub tree_head: Seal,
    /// Time stamps of the tree head.
    pub timestamps: Vec<TimeStamp>,
    /// Every key-rotation record up to the tree head.
    pub key_history: Vec<HistoryEntry>,
}

/// `mailseal prove --consistency OLD_SEAL`: a newer tree head extends a
/// seal kept earlier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// Layout version: 1.
    pub mailseal_proof: u32,
    /// `consistency`.
    pub kind: String,
    /// The archive's id.
    pub archive_id: String,
    /// The seal kept earlier.
    pub old: Seal,
    /// The archive's tree head now.
    pub new: Seal,
    /// Old version 2: the consistency proof (RFC 9162 2.1.4). Old version
    /// 1: the audit path of the old head record in the new tree.
    pub path: Vec<String>,
    /// Time stamps of the new tree head.
    pub timestamps: Vec<TimeStamp>,
    /// Every key-rotation record up to the new tree head.
    pub key_history: Vec<HistoryEntry>,
}
