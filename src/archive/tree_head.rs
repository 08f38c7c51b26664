//! Seal version 2: the signed tree head.
//!
//! A version-2 seal signs the size of the Merkle tree (= the sealed
//! record's seq), its root, the chain head hash, the time and the key, so
//! one signature vouches for the chain and for every inclusion and
//! consistency proof against that root. The signed bytes (ASCII, each line
//! ending in `\n`) start with a domain line of their own, so a version-1
//! signature can never pass for a tree head or the other way round:
//!
//! ```text
//! mailseal tree head v2
//! <seq>
//! <root hex>
//! <head_hash hex>
//! <time>
//! <public key hex>
//! ```
//!
//! RFC 3161 time stamps stamp SHA-256 of exactly these bytes ([`imprint`]).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::seal::{Seal, signed_message};

/// The seal version this build writes.
pub const SEAL_VERSION: u32 = 2;

/// The bytes a version-2 seal signs.
pub fn signed_bytes_v2(seq: u64, root: &str, head_hash: &str, time: &str, key: &str) -> Vec<u8> {
    format!("mailseal tree head v2\n{seq}\n{root}\n{head_hash}\n{time}\n{key}\n").into_bytes()
}

/// The bytes `seal` signs, by its version; why not, for an unknown one.
pub fn signed_bytes(seal: &Seal) -> Result<Vec<u8>, String> {
    match (seal.version, &seal.root) {
        (None, None) => Ok(signed_message(seal.seq, &seal.head_hash, &seal.time)),
        (Some(2), Some(root)) => Ok(signed_bytes_v2(
            seal.seq,
            root,
            &seal.head_hash,
            &seal.time,
            &seal.public_key,
        )),
        (Some(2), None) => Err("version-2 seal without a root".into()),
        (None, Some(_)) => Err("version-1 seal with a root".into()),
        (Some(v), _) => Err(format!("unsupported seal version {v}")),
    }
}

/// Checks a seal's signature against `trusted` (or, when `None`, against
/// the key the seal names). Returns a reason on failure.
pub fn check(seal: &Seal, trusted: Option<&VerifyingKey>) -> Result<(), String> {
    let mut pk = [0u8; 32];
    hex::decode_to_slice(&seal.public_key, &mut pk)
        .map_err(|_| "public key is not hex".to_string())?;
    let named = VerifyingKey::from_bytes(&pk).map_err(|_| "public key is invalid".to_string())?;
    if let Some(t) = trusted
        && t != &named
    {
        return Err("sealed by a different key than the trusted one".into());
    }
    let mut sig = [0u8; 64];
    hex::decode_to_slice(&seal.signature, &mut sig)
        .map_err(|_| "signature is not hex".to_string())?;
    named
        .verify(&signed_bytes(seal)?, &Signature::from_bytes(&sig))
        .map_err(|_| "signature does not match".to_string())
}

/// The message imprint a time-stamp authority stamps for `seal`.
pub fn imprint(seal: &Seal) -> Result<[u8; 32], String> {
    Ok(Sha256::digest(signed_bytes(seal)?).into())
}

/// Signs the tree head: `seq` records, Merkle `root`, chain `head`.
pub fn make(key: &SigningKey, seq: u64, root: &[u8; 32], head: &[u8; 32], time: String) -> Seal {
    let root = hex::encode(root);
    let head_hash = hex::encode(head);
    let public_key = hex::encode(key.verifying_key().as_bytes());
    let sig = key.sign(&signed_bytes_v2(seq, &root, &head_hash, &time, &public_key));
    Seal {
        version: Some(SEAL_VERSION),
        seq,
        root: Some(root),
        head_hash,
        time,
        public_key,
        signature: hex::encode(sig.to_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_heads_verify_and_cannot_pass_as_version_1() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let s = make(
            &key,
            4,
            &[1; 32],
            &[2; 32],
            "2026-01-01T00:00:00.000000Z".into(),
        );
        assert_eq!(check(&s, Some(&key.verifying_key())), Ok(()));
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.starts_with(r#"{"version":2,"seq":4,"root":"0101"#),
            "{json}"
        );
        let mut v1 = s.clone();
        v1.version = None;
        v1.root = None;
        assert!(check(&v1, None).is_err());
        let mut other_root = s.clone();
        other_root.root = Some("00".repeat(32));
        assert!(check(&other_root, None).is_err());
        let mut v3 = s.clone();
        v3.version = Some(3);
        assert!(
            check(&v3, None)
                .unwrap_err()
                .contains("unsupported seal version")
        );
        assert_ne!(imprint(&s), imprint(&other_root));
    }
}
