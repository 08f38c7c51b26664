//! What someone with root on the box could do to the segment files:
//! rewrite frames, recompute every hash and tree root, and re-sign every
//! seal with a key of their own. Time stamps cannot be forged, so they are
//! dropped.

use std::path::Path;

use ed25519_dalek::SigningKey;
use mailseal::archive::chain;
use mailseal::archive::merkle::Frontier;
use mailseal::archive::seal::Seal;
use mailseal::archive::tree_head;

/// One frame of a segment.
#[derive(Clone)]
pub struct Frame {
    /// `C`, `R`, `S` or `T`.
    pub kind: u8,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// The header and frames of a segment file.
pub fn read(seg: &Path) -> ([u8; 16], Vec<Frame>) {
    let b = std::fs::read(seg).unwrap();
    let mut head = [0u8; 16];
    head.copy_from_slice(&b[..16]);
    let mut frames = Vec::new();
    let mut pos = 16;
    while pos < b.len() {
        let len = u64::from_be_bytes(b[pos + 1..pos + 9].try_into().unwrap()) as usize;
        frames.push(Frame {
            kind: b[pos],
            payload: b[pos + 9..pos + 9 + len].to_vec(),
        });
        pos += 13 + len;
    }
    (head, frames)
}

/// Writes frames with correct CRCs.
pub fn write(seg: &Path, head: &[u8; 16], frames: &[Frame]) {
    let mut out = head.to_vec();
    for f in frames {
        let start = out.len();
        out.push(f.kind);
        out.extend_from_slice(&(f.payload.len() as u64).to_be_bytes());
        out.extend_from_slice(&f.payload);
        let crc = crc32fast::hash(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    std::fs::write(seg, out).unwrap();
}

/// The record JSON of a record frame.
pub fn record_json(f: &Frame) -> serde_json::Value {
    serde_json::from_slice(&f.payload[32..]).unwrap()
}

/// Rewrites `seg` with `edit` applied to record JSONs, then makes every
/// hash, link, root and seal consistent again under `key`.
pub fn rewrite(seg: &Path, key: &SigningKey, edit: impl Fn(&mut serde_json::Value)) {
    let (head, frames) = read(seg);
    let mut prev = chain::GENESIS;
    let mut tree = Frontier::default();
    let mut out = Vec::new();
    for f in frames {
        match f.kind {
            b'R' => {
                let mut v = record_json(&f);
                edit(&mut v);
                v["prev_hash"] = serde_json::Value::String(hex::encode(prev));
                let json = serde_json::to_vec(&v).unwrap();
                let hash = chain::link(&prev, &json);
                tree.push(&hash);
                prev = hash;
                out.push(Frame {
                    kind: b'R',
                    payload: [hash.to_vec(), json].concat(),
                });
            }
            b'S' => {
                let old: Seal = serde_json::from_slice(&f.payload).unwrap();
                let s = tree_head::make(key, tree.size(), &tree.root(), &prev, old.time);
                out.push(Frame {
                    kind: b'S',
                    payload: serde_json::to_vec(&s).unwrap(),
                });
            }
            b'T' => {}
            _ => out.push(f),
        }
    }
    write(seg, &head, &out);
}
