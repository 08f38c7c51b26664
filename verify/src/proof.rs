//! `mailseal-verify proof FILE`, `bundle DIR` and `consistency OLD NEW`:
//! proofs checked with only the auditor's public key (and the time-stamp
//! authority's CA certificate).

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Hash;
use crate::format::{self, Seal, Stamp};
use crate::merkle;

/// A record as a proof carries it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordJson {
    /// The record's seq.
    seq: u64,
    /// Its stored JSON.
    json: String,
    /// Its chain hash, hex.
    hash: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditPath {
    /// The leaf: seq - 1.
    leaf_index: u64,
    /// The tree head's size.
    tree_size: u64,
    /// Hex hashes of the path.
    path: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryEntry {
    /// Its stored JSON.
    json: String,
    /// Its chain hash, hex.
    hash: String,
    /// Hex hashes of the path.
    path: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Content {
    /// The message's SHA-256, hex.
    sha256: String,
    /// The message's length.
    size: u64,
    /// For an encrypted content (format 2.3), the SHA-256 of its
    /// ciphertext, as the record names it; the record is what is proven.
    #[serde(default)]
    #[allow(dead_code)]
    stored: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Inclusion {
    /// Layout version: 1.
    mailseal_proof: u32,
    /// `inclusion` or `consistency`.
    kind: String,
    /// The archive's first seal key, hex.
    archive_id: String,
    /// The proven record.
    record: RecordJson,
    /// The message the record names.
    content: Content,
    /// The record's audit path.
    inclusion: AuditPath,
    /// The signed tree head.
    tree_head: Seal,
    /// The tree head's time stamps.
    timestamps: Vec<Stamp>,
    /// Every key rotation up to the tree head.
    key_history: Vec<HistoryEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Consistency {
    /// Layout version: 1.
    mailseal_proof: u32,
    /// `inclusion` or `consistency`.
    kind: String,
    /// The archive's first seal key, hex.
    #[allow(dead_code)]
    archive_id: String,
    /// The seal kept earlier.
    old: Seal,
    /// The newer tree head.
    new: Seal,
    /// Hex hashes of the path.
    path: Vec<String>,
    /// The tree head's time stamps.
    timestamps: Vec<Stamp>,
    /// Every key rotation up to the tree head.
    key_history: Vec<HistoryEntry>,
}

/// What a checked proof says.
#[derive(Debug)]
pub struct Proven {
    /// The record proven (inclusion), or the old seal's size (consistency).
    pub seq: u64,
    /// The tree head's size.
    pub size: u64,
    /// Time stamps checked against a CA.
    pub stamps_checked: u64,
    /// False when no trusted key was given and the archive id was taken
    /// as the first key.
    pub anchored: bool,
}

fn path(p: &[String]) -> Result<Vec<Hash>, String> {
    p.iter()
        .map(|h| format::hex32(h).ok_or_else(|| format!("{h:?} is not a hash")))
        .collect()
}

/// The hash of a record's stored JSON: SHA-256(prev_hash || json).
fn record_hash(json: &str) -> Result<(Hash, Value), String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("record JSON: {e}"))?;
    let prev = v
        .get("prev_hash")
        .and_then(Value::as_str)
        .and_then(format::hex32)
        .ok_or("record without prev_hash")?;
    let h = Sha256::new()
        .chain_update(prev)
        .chain_update(json.as_bytes())
        .finalize()
        .into();
    Ok((h, v))
}

/// Follows the key rotations (each proven in the tree with `root`) from
/// `start` and returns the key that seals after them.
fn follow(
    start: Option<&str>,
    history: &[HistoryEntry],
    size: u64,
    root: &Hash,
) -> Result<Option<String>, String> {
    let mut keys: Vec<String> = Vec::new();
    for e in history {
        let (h, v) = record_hash(&e.json)?;
        if hex::encode(h) != e.hash {
            return Err("a key-history record does not match its hash".into());
        }
        let info =
            format::record(e.json.as_bytes()).map_err(|(k, d)| format!("key history: {k}: {d}"))?;
        let (old, new) = info
            .rotation
            .ok_or("a key-history record is not a key rotation")?;
        if !merkle::inclusion_ok(info.seq - 1, size, &merkle::leaf(&h), &path(&e.path)?, root) {
            return Err(format!(
                "key rotation {} is not in the signed tree",
                info.seq
            ));
        }
        match keys.last() {
            None => keys.push(old),
            Some(k) if *k != old => return Err("the key history has a gap".into()),
            Some(_) => {}
        }
        keys.push(new);
        let _ = v;
    }
    match (start, keys.last()) {
        (s, None) => Ok(s.map(str::to_owned)),
        (Some(s), Some(_)) if !keys.iter().any(|k| k == s) => {
            Err("the trusted key is not in the archive's key history".into())
        }
        (_, Some(last)) => Ok(Some(last.clone())),
    }
}

/// Checks a signed tree head, its key and its time stamps.
fn head(
    head: &Seal,
    history: &[HistoryEntry],
    start: Option<&str>,
    stamps: &[Stamp],
    tsa: Option<&mailseal_tsp::Trust>,
) -> Result<(Hash, u64), String> {
    head.check().map_err(|e| format!("tree head: {e}"))?;
    let root = head
        .root_hash()
        .filter(|_| head.version == Some(2))
        .ok_or("the tree head is not a version-2 seal")?;
    if let Some(k) = follow(start, history, head.seq, &root)?
        && k != head.public_key
    {
        return Err(format!(
            "the tree head is signed by {}, not by the key the history leads to ({k})",
            head.public_key
        ));
    }
    let mut checked = 0;
    for st in stamps {
        let imprint = head.imprint().ok_or("tree head")?;
        if st.seq != head.seq || format::hex32(&st.imprint) != Some(imprint) {
            return Err("a time stamp stamps something else than the tree head".into());
        }
        if let Some(trust) = tsa {
            crate::stamp_check(st, &imprint, head, trust)?;
            checked += 1;
        }
    }
    Ok((root, checked))
}

/// Checks an inclusion proof document; with `message`, also that its bytes
/// are the proven record's content.
pub fn inclusion(
    doc: &[u8],
    trusted: Option<&str>,
    tsa: Option<&mailseal_tsp::Trust>,
    message: Option<&[u8]>,
) -> Result<Proven, String> {
    let p: Inclusion =
        serde_json::from_slice(doc).map_err(|e| format!("not a mailseal proof: {e}"))?;
    if p.mailseal_proof != 1 || p.kind != "inclusion" {
        return Err("not a mailseal inclusion proof (version 1)".into());
    }
    let start = trusted.or(Some(p.archive_id.as_str()));
    let (root, checked) = head(&p.tree_head, &p.key_history, start, &p.timestamps, tsa)?;
    let (h, v) = record_hash(&p.record.json)?;
    if hex::encode(h) != p.record.hash || v.get("seq").and_then(Value::as_u64) != Some(p.record.seq)
    {
        return Err(format!(
            "record {}: its bytes do not match its hash",
            p.record.seq
        ));
    }
    let info = format::record(p.record.json.as_bytes()).map_err(|(k, d)| format!("{k}: {d}"))?;
    let a = &p.inclusion;
    if a.leaf_index + 1 != p.record.seq || a.tree_size != p.tree_head.seq {
        return Err("the audit path is for another leaf or tree".into());
    }
    if !merkle::inclusion_ok(
        a.leaf_index,
        a.tree_size,
        &merkle::leaf(&h),
        &path(&a.path)?,
        &root,
    ) {
        return Err(format!("record {} is not in the signed tree", p.record.seq));
    }
    let named = format::hex32(&p.content.sha256).map(|s| (s, p.content.size));
    if info.contents.first().map(|c| (c.sha, c.size)) != named {
        return Err("the content named does not match the record".into());
    }
    if let (Some(bytes), Some((sha, size))) = (message, named)
        && (<[u8; 32]>::from(Sha256::digest(bytes)) != sha || bytes.len() as u64 != size)
    {
        return Err(format!("the message differs from record {}", p.record.seq));
    }
    Ok(Proven {
        seq: p.record.seq,
        size: a.tree_size,
        stamps_checked: checked,
        anchored: trusted.is_some(),
    })
}

/// Reads kept seals: one seal, or `{"seals": [...]}` (a seal mail's
/// attachment).
pub fn kept_seals(doc: &[u8]) -> Result<Vec<Seal>, String> {
    let v: Value = serde_json::from_slice(doc).map_err(|e| format!("not JSON: {e}"))?;
    let seals = match v.get("seals") {
        Some(list) => serde_json::from_value(list.clone()),
        None => serde_json::from_value(v).map(|s| vec![s]),
    };
    seals.map_err(|e| format!("not a mailseal seal: {e}"))
}

/// Checks that the consistency proof `doc` shows its new tree head
/// extends `old`.
pub fn consistency(
    old: &Seal,
    doc: &[u8],
    trusted: Option<&str>,
    tsa: Option<&mailseal_tsp::Trust>,
) -> Result<Proven, String> {
    old.check().map_err(|e| format!("old seal: {e}"))?;
    let p: Consistency =
        serde_json::from_slice(doc).map_err(|e| format!("not a mailseal proof: {e}"))?;
    if p.mailseal_proof != 1 || p.kind != "consistency" {
        return Err("not a mailseal consistency proof (version 1)".into());
    }
    if p.old != *old {
        return Err("the proof is for another old seal".into());
    }
    let start = trusted.or(Some(old.public_key.as_str()));
    let (root, checked) = head(&p.new, &p.key_history, start, &p.timestamps, tsa)?;
    let proof = path(&p.path)?;
    let ok = match (old.root_hash(), old.seq) {
        (_, 0) => proof.is_empty(),
        (Some(old_root), _) => merkle::consistency_ok(old.seq, p.new.seq, &old_root, &root, &proof),
        (None, seq) => format::hex32(&old.head_hash).is_some_and(|h| {
            merkle::inclusion_ok(seq - 1, p.new.seq, &merkle::leaf(&h), &proof, &root)
        }),
    };
    if !ok {
        return Err(format!(
            "the tree of {} records does not extend the seal of {}: the archive was rewritten or forked",
            p.new.seq, old.seq
        ));
    }
    Ok(Proven {
        seq: old.seq,
        size: p.new.seq,
        stamps_checked: checked,
        anchored: trusted.is_some(),
    })
}

/// Checks an export bundle: every message in its manifest has its file and
/// a proof of it.
pub fn bundle(
    dir: &Path,
    trusted: Option<&str>,
    tsa: Option<&mailseal_tsp::Trust>,
) -> Result<(u64, u64), String> {
    let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| format!("{name}: {e}"));
    let manifest: Value = serde_json::from_slice(&read("manifest.json")?)
        .map_err(|e| format!("manifest.json: {e}"))?;
    let messages = manifest
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("manifest.json lists no messages")?;
    let (mut n, mut checked) = (0, 0);
    for m in messages {
        let seq = m
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or("manifest entry without seq")?;
        let file = m
            .get("file")
            .and_then(Value::as_str)
            .ok_or("manifest entry without file")?;
        if file.contains('/') || file.contains('\\') || file.starts_with('.') {
            return Err(format!("manifest names a file outside the bundle: {file}"));
        }
        let proof = read(&format!("{seq}.proof.json"))?;
        let record_hash = serde_json::from_slice::<Value>(&proof)
            .ok()
            .and_then(|v| Some(v.get("record")?.get("hash")?.as_str()?.to_owned()));
        if record_hash.as_deref() != m.get("record_hash").and_then(Value::as_str) {
            return Err(format!(
                "message {seq}: the proof and the manifest name different records"
            ));
        }
        let p = inclusion(&proof, trusted, tsa, Some(&read(file)?))
            .map_err(|e| format!("message {seq}: {e}"))?;
        n += 1;
        checked += p.stamps_checked;
    }
    Ok((n, checked))
}
