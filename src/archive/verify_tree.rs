//! The format-2 checks of `mailseal verify`: the Merkle tree behind every
//! version-2 seal, the seal-key history, time-stamp frames, seals an
//! auditor kept, and records of a format this build does not know.
//!
//! [`super::verify`] walks the segments and calls these hooks in file
//! order; this module never reads a file itself.

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::keys;
use super::merkle::{Frontier, Hash};
use super::record::{NEWEST_RECORD_FORMAT, Record, RecordBody};
use super::seal::Seal;
use super::segment::Location;
use super::stamp::TimeStamp;
use super::tree_head;

/// One thing found wrong.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// Where it was found.
    pub segment: u32,
    /// Offset of the frame.
    pub offset: u64,
    /// The record concerned, when known.
    pub seq: Option<u64>,
    /// Short category: `content-changed`, `record-changed`, `record-missing`,
    /// `order-changed`, `record-inserted`, `chain-broken`, `seal-bad`,
    /// `frame-damaged`, `truncated`, `segment-missing`, `content-missing`;
    /// format 2 adds `unsupported-version`, `unknown-field`,
    /// `key-rotation-bad`, `timestamp-bad`, and for seals an auditor kept
    /// `kept-seal-bad`, `rolled-back`, `forked`.
    pub kind: &'static str,
    /// Human explanation.
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seq {
            Some(seq) => write!(
                f,
                "record {seq} (segment {} offset {}): {}: {}",
                self.segment, self.offset, self.kind, self.detail
            ),
            None => write!(
                f,
                "segment {} offset {}: {}: {}",
                self.segment, self.offset, self.kind, self.detail
            ),
        }
    }
}

/// What verification needs besides the segments.
#[derive(Default)]
pub struct TreeOptions {
    /// The key store opened with the master key: encrypted contents and
    /// sealed fields are then decrypted and checked (format 2.3).
    pub keys: Option<std::sync::Arc<crate::keystore::KeyStore>>,
    /// Seals an auditor kept from earlier (a seal mail, a manifest): the
    /// archive must still contain what they sealed.
    pub kept: Vec<Seal>,
    /// CA certificates of the time-stamp authorities, when given; without
    /// them tokens are matched to their seals but not checked.
    pub tsa: Option<mailseal_tsp::Trust>,
}

/// A seal as found in the walk.
struct SealSeen {
    /// Where the seal frame is.
    at: Location,
    /// The seal as stored.
    seal: Seal,
    /// Records before the seal frame, and the tree root over them.
    size: u64,
    /// The tree root over the records before the frame.
    root: Hash,
}

/// Counts for the report.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TreeFigures {
    /// Root of the Merkle tree over all records.
    pub root: String,
    /// Seal-key rotations followed.
    pub key_rotations: u64,
    /// Time-stamp frames found.
    pub timestamps: u64,
    /// Of those, tokens checked against a configured authority CA.
    pub timestamps_checked: u64,
    /// Seals an auditor kept, checked against the archive.
    pub kept_seals: u64,
}

/// State of the format-2 checks during a walk.
#[derive(Default)]
pub struct TreeCheck {
    /// The tree's right edge over the records so far, in file order.
    frontier: Frontier,
    /// Every key that sealed, first to current.
    keys: Vec<String>,
    /// Every seal found, for the checks that need the whole walk.
    seals: Vec<SealSeen>,
    /// Every time-stamp frame found.
    stamps: Vec<(Location, TimeStamp)>,
    /// Sizes the kept seals need: size -> (root, chain head hash).
    wanted: HashMap<u64, Option<(Hash, Hash)>>,
    /// Problems found here.
    pub problems: Vec<Problem>,
    /// Figures for the report.
    pub figures: TreeFigures,
}

fn problem(at: Location, seq: Option<u64>, kind: &'static str, detail: String) -> Problem {
    Problem {
        segment: at.segment,
        offset: at.offset,
        seq,
        kind,
        detail,
    }
}

impl TreeCheck {
    /// A check that will also compare the archive with `kept` seals.
    pub fn new(options: &TreeOptions) -> TreeCheck {
        let mut t = TreeCheck::default();
        for k in &options.kept {
            t.wanted.insert(k.seq, None);
        }
        t
    }

    /// The next record's stored chain hash, in file order.
    pub fn push(&mut self, hash: &Hash) {
        self.frontier.push(hash);
        let size = self.frontier.size();
        if let Some(slot) = self.wanted.get_mut(&size) {
            *slot = Some((self.frontier.root(), *hash));
        }
    }

    /// A record that parsed (its hash already checked by the caller).
    pub fn record(&mut self, at: Location, r: &Record) {
        if r.format > NEWEST_RECORD_FORMAT || r.format == 0 {
            let detail = format!("record format {} is not known to this mailseal", r.format);
            self.problems
                .push(problem(at, Some(r.seq), "unsupported-version", detail));
        } else if r.body.since_format() > r.format {
            let detail = format!(
                "a {} body is not defined for record format {}",
                r.body.type_name(),
                r.format
            );
            self.problems
                .push(problem(at, Some(r.seq), "unknown-field", detail));
        }
        if let RecordBody::KeyRotation(k) = &r.body {
            self.figures.key_rotations += 1;
            if let Err(why) = keys::check(k, r.seq, &r.prev_hash) {
                self.problems
                    .push(problem(at, Some(r.seq), "key-rotation-bad", why));
            }
            match self.keys.last() {
                Some(current) if current != &k.old_key => self.problems.push(problem(
                    at,
                    Some(r.seq),
                    "key-rotation-bad",
                    format!(
                        "rotates from key {} but key {current} was sealing",
                        k.old_key
                    ),
                )),
                Some(_) => {}
                None => self.keys.push(k.old_key.clone()),
            }
            self.keys.push(k.new_key.clone());
        }
    }

    /// A seal frame.
    pub fn seal(&mut self, at: Location, seal: Seal) {
        match self.keys.last() {
            None => self.keys.push(seal.public_key.clone()),
            Some(current) if current != &seal.public_key => self.problems.push(problem(
                at,
                Some(seal.seq),
                "seal-bad",
                format!(
                    "sealed by key {} but the chain's seal key there is {current}",
                    seal.public_key
                ),
            )),
            Some(_) => {}
        }
        self.seals.push(SealSeen {
            at,
            size: self.frontier.size(),
            root: self.frontier.root(),
            seal,
        });
    }

    /// A time-stamp frame.
    pub fn timestamp(&mut self, at: Location, stamp: TimeStamp) {
        self.figures.timestamps += 1;
        self.stamps.push((at, stamp));
    }

    /// Checks a seal's signature, and that a trusted key is in the history.
    pub fn check_signature(&self, s: &Seal, trusted: Option<&VerifyingKey>) -> Result<(), String> {
        tree_head::check(s, None)?;
        match trusted {
            Some(t) if !self.keys.contains(&hex::encode(t.as_bytes())) => {
                Err("sealed by a different key than the trusted one".into())
            }
            _ => Ok(()),
        }
    }

    /// Everything that needs the whole walk.
    pub fn finish(&mut self, head: u64, trusted: Option<&VerifyingKey>, options: &TreeOptions) {
        self.figures.root = hex::encode(self.frontier.root());
        let mut imprints: HashMap<[u8; 32], &Seal> = HashMap::new();
        for s in &self.seals {
            // A newer seal version is reported by the signature check.
            if s.seal.version.is_some_and(|v| v > tree_head::SEAL_VERSION) {
                continue;
            }
            if let (Some(root), true) = (&s.seal.root, s.size == s.seal.seq)
                && root != &hex::encode(s.root)
            {
                self.problems.push(problem(
                    s.at,
                    Some(s.seal.seq),
                    "seal-bad",
                    "sealed tree root differs from the tree over the chain".into(),
                ));
            }
            if let Ok(i) = tree_head::imprint(&s.seal) {
                imprints.insert(i, &s.seal);
            }
        }
        for (at, st) in &self.stamps {
            let imprint = super::chain::parse_hex(&st.imprint);
            let Some(sealed) = imprint.and_then(|i| imprints.get(&i)) else {
                let detail = format!("stamps no seal of this archive (seal {})", st.seq);
                self.problems
                    .push(problem(*at, Some(st.seq), "timestamp-bad", detail));
                continue;
            };
            if sealed.seq != st.seq {
                let detail = format!("names seal {} but stamps seal {}", st.seq, sealed.seq);
                self.problems
                    .push(problem(*at, Some(st.seq), "timestamp-bad", detail));
            }
            let (Some(trust), Some(token), Some(imprint)) = (&options.tsa, st.token_der(), imprint)
            else {
                continue;
            };
            match mailseal_tsp::check_token(&token, &imprint, None, trust) {
                Ok(stamp) => {
                    self.figures.timestamps_checked += 1;
                    if let Some(why) = stamped_before_sealed(stamp.gen_time.as_secs(), sealed) {
                        self.problems
                            .push(problem(*at, Some(st.seq), "timestamp-bad", why));
                    }
                }
                Err(e) => {
                    self.problems
                        .push(problem(*at, Some(st.seq), "timestamp-bad", e.to_string()))
                }
            }
        }
        for kept in &options.kept {
            self.figures.kept_seals += 1;
            if let Some(why) = self.check_kept(kept, head, trusted) {
                let at = Location {
                    segment: 0,
                    offset: 0,
                };
                self.problems
                    .push(problem(at, Some(kept.seq), why.0, why.1));
            }
        }
    }

    /// A seal an auditor kept: signed by a key of this archive, and the
    /// archive still holds exactly what it sealed.
    fn check_kept(
        &self,
        kept: &Seal,
        head: u64,
        trusted: Option<&VerifyingKey>,
    ) -> Option<(&'static str, String)> {
        if let Err(why) = self.check_signature(kept, trusted) {
            return Some(("kept-seal-bad", format!("the seal you kept: {why}")));
        }
        if !self.keys.contains(&kept.public_key) {
            return Some((
                "kept-seal-bad",
                "the seal you kept was made by a key this archive's history does not contain"
                    .into(),
            ));
        }
        if kept.seq > head {
            return Some((
                "rolled-back",
                format!(
                    "the archive ends at record {head}, before record {} of a seal you kept: \
                     records were removed (rolled back)",
                    kept.seq
                ),
            ));
        }
        let Some(Some((root, hash))) = self.wanted.get(&kept.seq) else {
            return (kept.seq != 0).then(|| ("rolled-back", "record not reached".to_string()));
        };
        let differs = match &kept.root {
            Some(r) => r != &hex::encode(root),
            None => kept.head_hash != hex::encode(hash),
        };
        differs.then(|| {
            (
                "forked",
                format!(
                    "records 1..{} differ from what a seal you kept signed: \
                     the archive was rewritten (forked) after that seal",
                    kept.seq
                ),
            )
        })
    }
}

/// A token stamped before its seal was made (beyond five minutes of clock
/// difference) contradicts the seal's time.
fn stamped_before_sealed(gen_time: u64, seal: &Seal) -> Option<String> {
    let sealed = chrono::DateTime::parse_from_rfc3339(&seal.time).ok()?;
    let sealed = u64::try_from(sealed.timestamp()).ok()?;
    (gen_time + 300 < sealed).then(|| {
        format!(
            "stamped at {gen_time} (Unix time), before the seal's own time {}",
            seal.time
        )
    })
}

/// Names what is wrong with record bytes that do not parse as any record
/// this build knows: when their hash still checks out, the record is
/// intact but of a newer format or with a field not defined for its
/// format (reported, never guessed at); otherwise it was changed.
pub fn unparsed(bytes: &[u8], stored: &Hash, error: &serde_json::Error) -> (&'static str, String) {
    let value: Option<serde_json::Value> = serde_json::from_slice(bytes).ok();
    let prev = value
        .as_ref()
        .and_then(|v| v.get("prev_hash")?.as_str())
        .and_then(super::chain::parse_hex);
    let format = value.as_ref().and_then(|v| v.get("format")?.as_u64());
    match (prev, format) {
        (Some(p), Some(f)) if &super::chain::link(&p, bytes) == stored => {
            if f > u64::from(NEWEST_RECORD_FORMAT) {
                (
                    "unsupported-version",
                    format!("record format {f} is newer than this mailseal knows"),
                )
            } else {
                (
                    "unknown-field",
                    format!("record of format {f} holds what that format does not define: {error}"),
                )
            }
        }
        _ => ("record-changed", format!("record does not parse: {error}")),
    }
}
