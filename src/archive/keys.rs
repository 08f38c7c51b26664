//! Seal-key history: the `key-rotation` record and following it.
//!
//! `mailseal key rotate-seal` makes a new Ed25519 key. The writer appends a
//! `key-rotation` record naming the old and the new public key, signed by
//! both over [`signed_bytes`] (which binds the record's place in the
//! chain), and from then on seals with the new key. An auditor who holds
//! the first public key follows the rotations in the chain: each one is
//! signed by the key current before it, and every seal must be made by
//! the key current at the record it seals.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The body of a `key-rotation` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotation {
    /// Hex public key sealing until this record.
    pub old_key: String,
    /// Hex public key sealing from this record on.
    pub new_key: String,
    /// Hex Ed25519 signature by the old key over [`signed_bytes`].
    pub old_signature: String,
    /// Hex Ed25519 signature by the new key over the same bytes: the new
    /// key's holder took part.
    pub new_signature: String,
}

/// The bytes both keys sign (ASCII, each line ending in `\n`): a domain
/// line, then the record's seq, its `prev_hash`, the old and the new key.
pub fn signed_bytes(seq: u64, prev_hash: &str, old_key: &str, new_key: &str) -> Vec<u8> {
    format!("mailseal key rotation v2\n{seq}\n{prev_hash}\n{old_key}\n{new_key}\n").into_bytes()
}

/// The body for record `seq` (whose predecessor's hash is `prev_hash`).
pub fn rotation(old: &SigningKey, new: &SigningKey, seq: u64, prev_hash: &str) -> KeyRotation {
    let old_key = hex::encode(old.verifying_key().as_bytes());
    let new_key = hex::encode(new.verifying_key().as_bytes());
    let msg = signed_bytes(seq, prev_hash, &old_key, &new_key);
    KeyRotation {
        old_signature: hex::encode(old.sign(&msg).to_bytes()),
        new_signature: hex::encode(new.sign(&msg).to_bytes()),
        old_key,
        new_key,
    }
}

/// Parses a hex Ed25519 public key.
pub fn parse_key(hex_key: &str) -> Option<VerifyingKey> {
    let mut b = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut b).ok()?;
    VerifyingKey::from_bytes(&b).ok()
}

fn check_sig(key: &str, msg: &[u8], sig: &str) -> bool {
    let mut s = [0u8; 64];
    parse_key(key).is_some_and(|k| {
        hex::decode_to_slice(sig, &mut s).is_ok()
            && k.verify(msg, &Signature::from_bytes(&s)).is_ok()
    })
}

/// Checks a rotation record's signatures (`seq` and `prev_hash` from its
/// record). Returns why it fails.
pub fn check(r: &KeyRotation, seq: u64, prev_hash: &str) -> Result<(), String> {
    let msg = signed_bytes(seq, prev_hash, &r.old_key, &r.new_key);
    if !check_sig(&r.old_key, &msg, &r.old_signature) {
        return Err("not signed by the old key".into());
    }
    if !check_sig(&r.new_key, &msg, &r.new_signature) {
        return Err("not signed by the new key".into());
    }
    Ok(())
}

/// One entry of the key history, as the index keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEvent {
    /// The `key-rotation` record.
    pub seq: u64,
    /// The key before it.
    pub old_key: String,
    /// The key from it on.
    pub new_key: String,
}

/// Which key sealed when: follows rotations in chain order.
#[derive(Debug, Clone, Default)]
pub struct KeyHistory {
    /// The first key, once known (first seal or first rotation).
    pub first: Option<String>,
    /// Rotations in order.
    pub events: Vec<KeyEvent>,
}

impl KeyHistory {
    /// The history from the index's list of rotations.
    pub fn from_events(events: Vec<KeyEvent>) -> KeyHistory {
        KeyHistory {
            first: events.first().map(|e| e.old_key.clone()),
            events,
        }
    }

    /// The key current after record `seq` (rotations at or before it
    /// applied); `None` before any key is known.
    pub fn key_at(&self, seq: u64) -> Option<&str> {
        self.events
            .iter()
            .rev()
            .find(|e| e.seq <= seq)
            .map(|e| e.new_key.as_str())
            .or(self.first.as_deref())
    }

    /// Every key in order, first to current.
    pub fn keys(&self) -> Vec<&str> {
        self.first
            .iter()
            .map(String::as_str)
            .chain(self.events.iter().map(|e| e.new_key.as_str()))
            .collect()
    }

    /// The archive's id: its first public key, or `key` when it never
    /// rotated and has no seal yet.
    pub fn archive_id(&self, key: &VerifyingKey) -> String {
        self.first
            .clone()
            .unwrap_or_else(|| hex::encode(key.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotations_are_signed_by_both_keys_and_bound_to_their_place() {
        let old = SigningKey::from_bytes(&[1; 32]);
        let new = SigningKey::from_bytes(&[2; 32]);
        let r = rotation(&old, &new, 9, &"ab".repeat(32));
        assert_eq!(check(&r, 9, &"ab".repeat(32)), Ok(()));
        assert!(check(&r, 10, &"ab".repeat(32)).is_err());
        assert!(check(&r, 9, &"cd".repeat(32)).is_err());
        let mut forged = rotation(&new, &new, 9, &"ab".repeat(32));
        forged.old_key = r.old_key.clone();
        assert!(check(&forged, 9, &"ab".repeat(32)).is_err());
        let mut h = KeyHistory::from_events(vec![KeyEvent {
            seq: 9,
            old_key: r.old_key.clone(),
            new_key: r.new_key.clone(),
        }]);
        assert_eq!(h.key_at(8), Some(r.old_key.as_str()));
        assert_eq!(h.key_at(9), Some(r.new_key.as_str()));
        assert_eq!(h.keys().len(), 2);
        h.events.clear();
        assert_eq!(h.key_at(100), Some(r.old_key.as_str()));
    }
}
