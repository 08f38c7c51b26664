//! The control protocol's frames and messages, without I/O.
//!
//! A frame is an 11-byte prefix, a JSON header and optional raw bytes:
//!
//! ```text
//!  "MS"  version  header length  body length  header (JSON)  body (raw)
//!  2 B   1 B      u32 BE         u32 BE       ≤ 4 MiB        ≤ 1 MiB
//! ```
//!
//! The header says what the frame is (`"type"`); the body carries message
//! content (in `data` frames) and is empty otherwise. [`parse`] takes
//! whatever bytes have arrived and returns a complete frame, "need more",
//! or an error as soon as the prefix shows garbage, another version or an
//! oversize length, so a bad peer costs at most a prefix of reading.
//!
//! A connection carries one [`Request`]; the daemon answers with
//! [`Reply`] frames that end with `done` or `error`. During `import` the
//! client also sends [`Upload`] frames (see `docs/decisions.md`).

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::archive::filter::Filter;
use crate::archive::headers::Headers;
use crate::archive::index::Summary;
use crate::archive::reader::Stats;
use crate::archive::record::{ImportContext, Record};
use crate::archive::seal::Seal;
use crate::proof::{ConsistencyProof, InclusionProof};

/// The first two bytes of every frame.
pub const MAGIC: [u8; 2] = *b"MS";

/// The protocol version this build speaks.
pub const VERSION: u8 = 1;

/// Bytes before the header.
pub const PREFIX_LEN: usize = 11;

/// Largest JSON header (a summary or record with thousands of recipients
/// fits many times over).
pub const MAX_HEADER: usize = 4 * 1024 * 1024;

/// Largest body of one frame.
pub const MAX_BODY: usize = 1024 * 1024;

/// Message content is sent in pieces of this size.
pub const CHUNK: usize = 64 * 1024;

/// What is wrong with bytes or a frame.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The bytes do not start with [`MAGIC`].
    #[error("not a mailseal control frame")]
    NotControl,
    /// Another protocol version.
    #[error("protocol version {0} is not supported (this side speaks version {VERSION})")]
    Version(u8),
    /// The header length exceeds [`MAX_HEADER`].
    #[error("frame header of {0} bytes is over the limit of {MAX_HEADER}")]
    HeaderTooLarge(u64),
    /// The body length exceeds [`MAX_BODY`].
    #[error("frame body of {0} bytes is over the limit of {MAX_BODY}")]
    BodyTooLarge(u64),
    /// The header is not the JSON this side expects here.
    #[error("unexpected frame header: {0}")]
    BadHeader(String),
    /// A frame this side does not expect at this point.
    #[error("unexpected {got} frame, expected {expected}")]
    Unexpected {
        /// What could come here.
        expected: &'static str,
        /// The frame's type.
        got: String,
    },
}

/// One frame: its JSON header and raw body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header's bytes (JSON).
    pub header: Vec<u8>,
    /// Raw bytes (message content), often empty.
    pub body: Vec<u8>,
}

impl Frame {
    /// The header as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, ProtocolError> {
        serde_json::from_slice(&self.header).map_err(|e| ProtocolError::BadHeader(e.to_string()))
    }

    /// The header's `"type"`, for error messages.
    pub fn kind(&self) -> String {
        #[derive(Deserialize)]
        struct Tagged {
            r#type: String,
        }
        serde_json::from_slice::<Tagged>(&self.header)
            .map(|t| t.r#type)
            .unwrap_or_else(|_| "untyped".to_owned())
    }
}

/// Reads one frame from the start of `buf`. `Ok(None)`: more bytes are
/// needed. `Ok(Some((frame, used)))`: `used` bytes made the frame.
pub fn parse(buf: &[u8]) -> Result<Option<(Frame, usize)>, ProtocolError> {
    let magic_seen = buf.len().min(MAGIC.len());
    if buf[..magic_seen] != MAGIC[..magic_seen] {
        return Err(ProtocolError::NotControl);
    }
    if let Some(&version) = buf.get(2)
        && version != VERSION
    {
        return Err(ProtocolError::Version(version));
    }
    if buf.len() < PREFIX_LEN {
        return Ok(None);
    }
    let len_at = |at: usize| u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
    let header_len = len_at(3) as usize;
    let body_len = len_at(7) as usize;
    if header_len > MAX_HEADER {
        return Err(ProtocolError::HeaderTooLarge(header_len as u64));
    }
    if body_len > MAX_BODY {
        return Err(ProtocolError::BodyTooLarge(body_len as u64));
    }
    let total = PREFIX_LEN + header_len + body_len;
    if buf.len() < total {
        return Ok(None);
    }
    let header = buf[PREFIX_LEN..PREFIX_LEN + header_len].to_vec();
    let body = buf[PREFIX_LEN + header_len..total].to_vec();
    Ok(Some((Frame { header, body }, total)))
}

/// Encodes a frame with `header` and `body`.
pub fn encode<T: Serialize>(header: &T, body: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    let json = serde_json::to_vec(header).map_err(|e| ProtocolError::BadHeader(e.to_string()))?;
    if json.len() > MAX_HEADER {
        return Err(ProtocolError::HeaderTooLarge(json.len() as u64));
    }
    if body.len() > MAX_BODY {
        return Err(ProtocolError::BodyTooLarge(body.len() as u64));
    }
    let mut out = Vec::with_capacity(PREFIX_LEN + json.len() + body.len());
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    // Both lengths are below the limits, far under u32::MAX.
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(body);
    Ok(out)
}

/// The first frame of a connection: which archive and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The archive directory the client's configuration names (absolute),
    /// so a daemon serving another archive refuses instead of answering
    /// for the wrong one. `None`: the client could not read its
    /// configuration and takes the archive of whichever daemon answers.
    pub archive: Option<PathBuf>,
    /// What to do.
    pub command: Command,
}

/// The commands the daemon carries out for the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Command {
    /// Summaries of the message records that pass the filter.
    List {
        /// Which records.
        filter: Filter,
    },
    /// One record's metadata.
    Show {
        /// Record id.
        id: u64,
    },
    /// One record's original bytes.
    ShowRaw {
        /// Record id.
        id: u64,
    },
    /// Counts and sizes.
    Stats,
    /// The records and contents of an export.
    Export {
        /// Which records.
        filter: Filter,
        /// Only records that match this search query as well.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<String>,
    },
    /// A page of search hits (`summary` frames, then `search-end`).
    Search {
        /// The query (`docs/search.md`).
        query: String,
        /// Most hits.
        limit: usize,
        /// `date`, `-date` or `relevance`.
        sort: String,
        /// Continue after a page that handed out this cursor.
        cursor: Option<String>,
    },
    /// Compare the search index with the segments; repair when asked.
    SearchCheck {
        /// Index what is missing, delete what is extra.
        repair: bool,
    },
    /// Messages to append, and IMAP resume questions ([`Upload`] frames).
    Import,
    /// Rebuild the index from the segments.
    Reindex,
    /// The audit records (`mailseal audit`), as `record` frames; reading
    /// them is itself recorded.
    Audit {
        /// Only records from this day (`YYYY-MM-DD`) or time on.
        since: Option<String>,
        /// Only records whose actor contains this (case-insensitive).
        user: Option<String>,
    },
    /// Record a change made outside the daemon (`mailseal user`) in the
    /// trail, naming the calling Unix user, before the change is made.
    Note {
        /// The audit action; only `user-change` is taken.
        action: String,
        /// What was changed.
        detail: String,
    },
    /// Proofs of message records in one signed tree head (`prove ID`,
    /// `export --with-proofs`), as `inclusion` frames, answered from the
    /// daemon's tree file. At most [`MAX_PROVE`] records.
    Prove {
        /// The message records, in the order their proofs come.
        seqs: Vec<u64>,
        /// The tree head: the seal of this many records. `None`: the
        /// newest (time-stamped if any) that covers every record asked.
        tree_size: Option<u64>,
    },
    /// `prove --consistency`: the newest tree head extends `old`.
    ProveConsistency {
        /// The seal an auditor kept.
        old: Box<Seal>,
    },
    /// `key rotate-seal`: a new seal key, signed over by the old one.
    RotateSeal,
    /// `key rotate-master`: the key store re-wrapped under a new master
    /// key (format 2.3).
    RotateMaster,
    /// `hold`, `purge`, `retention extend` (format 2.3).
    Lifecycle {
        /// What to do.
        cmd: crate::archive::manage::Lifecycle,
        /// `[retention] key_backup_max_age` in days, for tombstones.
        forget_days: u64,
        /// The web user's password for `purge request` / `purge approve`:
        /// the daemon checks it against its users file.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<Password>,
    },
}

/// A password on its way to the daemon; never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// Most records one `prove` request names (the request stays far below
/// [`MAX_HEADER`]; the client splits larger sets).
pub const MAX_PROVE: usize = 10_000;

impl Command {
    /// The command's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::List { .. } => "list",
            Command::Show { .. } => "show",
            Command::ShowRaw { .. } => "show-raw",
            Command::Stats => "stats",
            Command::Export { .. } => "export",
            Command::Search { .. } => "search",
            Command::SearchCheck { .. } => "search-check",
            Command::Import => "import",
            Command::Reindex => "reindex",
            Command::Audit { .. } => "audit",
            Command::Note { .. } => "note",
            Command::Prove { .. } => "prove",
            Command::ProveConsistency { .. } => "prove-consistency",
            Command::RotateSeal => "rotate-seal",
            Command::RotateMaster => "rotate-master",
            Command::Lifecycle { .. } => "lifecycle",
        }
    }
}

/// Frames from the daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Reply {
    /// One record of a listing.
    Summary {
        /// The record as listings show it.
        summary: Box<Summary>,
    },
    /// `show`: one record with where it is.
    Record {
        /// The record as stored.
        record: Box<Record>,
        /// Its chain hash.
        hash: String,
        /// Header fields derived from its content.
        headers: Box<Headers>,
        /// Segment holding it.
        segment: u32,
        /// Offset of its frame.
        offset: u64,
        /// "purged on …" when the record was purged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        purged: Option<String>,
    },
    /// Export, first: what the manifest names the archive by.
    ExportHead {
        /// Chain head seq.
        head_seq: u64,
        /// Chain head hash, hex.
        head_hash: String,
        /// The newest seal.
        seal: Option<Box<Seal>>,
    },
    /// Export: the next message record; its content follows.
    ExportRecord {
        /// The record as stored.
        record: Box<Record>,
        /// Its chain hash, hex.
        hash: String,
        /// "purged on …" for a purged message record: no content follows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        purged: Option<String>,
    },
    /// A piece of message content, in the body.
    Data,
    /// The content sent since the last record is complete.
    ContentEnd {
        /// Its length.
        size: u64,
    },
    /// `stats`.
    Stats {
        /// The figures.
        stats: Box<Stats>,
    },
    /// An append is durable.
    Appended {
        /// The record's id.
        seq: u64,
        /// Its chain hash, hex.
        hash: String,
        /// The content was already stored.
        deduplicated: bool,
    },
    /// Answer to [`Upload::HighestUid`].
    HighestUid {
        /// The highest UID archived, if any.
        uid: Option<u32>,
    },
    /// Answer to [`Upload::Archived`].
    Archived {
        /// The UIDs asked about that are archived.
        uids: Vec<u32>,
    },
    /// `reindex` finished.
    Reindexed {
        /// Records indexed.
        records: u64,
    },
    /// `search`: after the hits' `summary` frames.
    SearchEnd {
        /// Records that match in all.
        total: u64,
        /// For the next page; `None` on the last.
        next_cursor: Option<String>,
        /// The index's committed sequence number.
        indexed: u64,
        /// The archive's head.
        head: u64,
    },
    /// `search --check`: the comparison (`search::check::CheckReport`
    /// as JSON), and whether it was repaired.
    SearchChecked {
        /// The report.
        report: serde_json::Value,
        /// A repair ran after the check.
        repaired: bool,
    },
    /// `prove`: one record's proof.
    Inclusion {
        /// The proof, as `mailseal prove` prints it.
        proof: Box<InclusionProof>,
    },
    /// `prove --consistency`: the proof.
    Consistency {
        /// The proof, as `mailseal prove --consistency` prints it.
        proof: Box<ConsistencyProof>,
    },
    /// `key rotate-seal` is durable.
    Rotated {
        /// The key-rotation record's seq.
        seq: u64,
        /// The first seal made with the new key.
        seal: Box<Seal>,
    },
    /// `key rotate-master` is durable.
    MasterRotated {
        /// Hex id of the master key before.
        old_id: String,
        /// Hex id of the master key now.
        new_id: String,
        /// Live data keys re-wrapped.
        live: u64,
        /// Destroyed slots carried over as zeros.
        destroyed: u64,
    },
    /// A `hold`, `purge` or `retention extend` answer.
    Lifecycle {
        /// What it did or lists.
        reply: Box<crate::archive::manage::LifecycleReply>,
    },
    /// The command is complete.
    Done,
    /// The command failed; nothing follows.
    Error {
        /// What kind of failure.
        kind: ErrorKind,
        /// For the user.
        message: String,
    },
}

/// Kinds of [`Reply::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The client broke the protocol (garbage, oversize, wrong frame).
    Protocol,
    /// The daemon will not do this (another archive, bad input).
    Refused,
    /// No such record.
    NotFound,
    /// The archive failed (I/O, disk full).
    Archive,
    /// Too many control connections.
    Busy,
    /// The daemon is stopping.
    ShuttingDown,
}

/// Frames from the client during `import`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Upload {
    /// A message to archive; `size` bytes follow in `data` frames.
    Append {
        /// The job or importer name (the record's source name).
        source: String,
        /// The account the message was read from (IMAP imports).
        auth_user: Option<String>,
        /// Where the importer found it.
        import: Box<ImportContext>,
        /// Its length.
        size: u64,
        /// Its SHA-256, hex: the daemon checks what arrived against it.
        sha256: String,
    },
    /// A piece of the message, in the body.
    Data,
    /// The highest UID archived from `origin` at `uidvalidity`.
    HighestUid {
        /// `imap://user@host/folder`.
        origin: String,
        /// The folder's UIDVALIDITY.
        uidvalidity: u32,
    },
    /// Which of `uids` are archived from `origin` at `uidvalidity`.
    Archived {
        /// `imap://user@host/folder`.
        origin: String,
        /// The folder's UIDVALIDITY.
        uidvalidity: u32,
        /// The UIDs asked about.
        uids: Vec<u32>,
    },
    /// Nothing more; the daemon answers `done` after the last answer.
    Finish,
}

#[cfg(test)]
mod tests;
