//! Seals: the chain head signed with the appliance's Ed25519 key.
//!
//! The key is created on first open (PKCS#8 PEM, file mode 0600). A seal
//! frame holds JSON naming the head it signs; the signed bytes are
//! [`signed_message`] (version 1) or, since format 2, the signed tree head
//! of [`super::tree_head`], so an auditor can check a seal with any Ed25519
//! implementation and the public key from `mailseal key show`.

use std::io::Write;
use std::path::Path;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// What a seal frame holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// Seal version: absent in version 1, `2` for a signed tree head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Sequence number of the sealed head record (0 for an empty chain);
    /// in version 2 also the size of the Merkle tree.
    pub seq: u64,
    /// Version 2: hex Merkle root of records `1..=seq` (RFC 9162).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// Hex hash of that record.
    pub head_hash: String,
    /// When the seal was made (RFC 3339 UTC).
    pub time: String,
    /// Hex Ed25519 public key that made the signature.
    pub public_key: String,
    /// Hex Ed25519 signature over [`signed_message`].
    pub signature: String,
}

/// Errors with keys and seals.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key file could not be read or written.
    #[error("key file {path}: {reason}")]
    Key {
        /// The key file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// The bytes a seal signs.
pub fn signed_message(seq: u64, head_hash: &str, time: &str) -> Vec<u8> {
    format!("mailseal seal v1\n{seq}\n{head_hash}\n{time}\n").into_bytes()
}

/// Loads the signing key, creating it (mode 0600) when the file is absent.
pub fn load_or_create_key(path: &Path) -> Result<SigningKey, SealError> {
    let err = |reason: String| SealError::Key {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::read_to_string(path) {
        Ok(pem) => SigningKey::from_pkcs8_pem(&pem)
            .map_err(|e| err(format!("not an Ed25519 PKCS#8 key: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            let pem = key
                .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
                .map_err(|e| err(e.to_string()))?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
            }
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(path).map_err(|e| err(e.to_string()))?;
            f.write_all(pem.as_bytes())
                .map_err(|e| err(e.to_string()))?;
            f.sync_all().map_err(|e| err(e.to_string()))?;
            tracing::info!(path = %path.display(), "signing key created");
            Ok(key)
        }
        Err(e) => Err(err(e.to_string())),
    }
}

/// Loads an existing signing key without creating one.
pub fn load_key(path: &Path) -> Result<SigningKey, SealError> {
    let err = |reason: String| SealError::Key {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| err(format!("not an Ed25519 PKCS#8 key: {e}")))
}

/// The public key as PEM (SubjectPublicKeyInfo, readable by `openssl pkey -pubin`).
pub fn public_pem(key: &VerifyingKey) -> String {
    key.to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap_or_default()
}

/// Signs the head.
pub fn make(key: &SigningKey, seq: u64, head: &[u8; 32], time: String) -> Seal {
    let head_hash = hex::encode(head);
    let sig = key.sign(&signed_message(seq, &head_hash, &time));
    Seal {
        version: None,
        seq,
        root: None,
        head_hash,
        time,
        public_key: hex::encode(key.verifying_key().as_bytes()),
        signature: hex::encode(sig.to_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::tree_head::check;

    #[test]
    fn key_is_created_private_and_seals_verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k/seal.key");
        let key = load_or_create_key(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let again = load_or_create_key(&path).unwrap();
        assert_eq!(key.to_bytes(), again.to_bytes());
        let seal = make(&key, 5, &[7; 32], "t".into());
        assert_eq!(check(&seal, Some(&key.verifying_key())), Ok(()));
        let mut bad = seal.clone();
        bad.seq = 6;
        assert!(check(&bad, None).is_err());
        let other = SigningKey::from_bytes(&[1; 32]);
        assert!(check(&seal, Some(&other.verifying_key())).is_err());
        assert!(public_pem(&key.verifying_key()).starts_with("-----BEGIN PUBLIC KEY-----"));
    }
}
