//! Signature checks for certificates and CMS signer infos: which algorithm
//! an identifier names, and verifying with the key of a certificate.
//!
//! Supported: Ed25519, ECDSA on P-256 and P-384 with SHA-256/384/512, and
//! RSA PKCS#1 v1.5 with SHA-256/384/512. SHA-1 signatures and RSA-PSS are
//! refused (weak or not implemented), so a token using them fails instead
//! of passing unchecked.

use der::Encode;
use der::asn1::ObjectIdentifier as Oid;
use sha2::Digest;
use spki::SubjectPublicKeyInfoOwned;

use crate::TspError;

/// Object identifiers used here and in the token checks.
pub mod oid {
    use der::asn1::ObjectIdentifier as Oid;

    /// SHA-1 (only for the ESS signing-certificate attribute of RFC 2634).
    pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
    /// SHA-256.
    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    /// SHA-384.
    pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
    /// SHA-512.
    pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
    /// Ed25519 keys and signatures.
    pub const ED25519: Oid = Oid::new_unwrap("1.3.101.112");
    /// Elliptic-curve public keys.
    pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
    /// The P-256 curve.
    pub const P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
    /// The P-384 curve.
    pub const P384: Oid = Oid::new_unwrap("1.3.132.0.34");
    /// ECDSA with SHA-256.
    pub const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    /// ECDSA with SHA-384.
    pub const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
    /// ECDSA with SHA-512.
    pub const ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
    /// RSA keys (and, in CMS, "PKCS#1 v1.5 with the digest algorithm").
    pub const RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
    /// RSA PKCS#1 v1.5 with SHA-256.
    pub const RSA_SHA256: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
    /// RSA PKCS#1 v1.5 with SHA-384.
    pub const RSA_SHA384: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
    /// RSA PKCS#1 v1.5 with SHA-512.
    pub const RSA_SHA512: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
}

/// A digest algorithm this crate computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Hash {
    /// The algorithm an identifier names; SHA-1 and unknown ones are refused.
    pub fn from_oid(o: &Oid) -> Result<Hash, TspError> {
        match *o {
            oid::SHA256 => Ok(Hash::Sha256),
            oid::SHA384 => Ok(Hash::Sha384),
            oid::SHA512 => Ok(Hash::Sha512),
            _ => Err(TspError::Unsupported(format!("digest algorithm {o}"))),
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Hash::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Hash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// Checks `signature` over `message` with the key in `key`. `algorithm` is
/// the signature algorithm identifier; `digest` is the digest algorithm a
/// CMS signer info names, used when `algorithm` names only the key type
/// (`rsaEncryption`, `id-ecPublicKey`).
pub fn verify(
    key: &SubjectPublicKeyInfoOwned,
    algorithm: &Oid,
    digest: Option<&Oid>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), TspError> {
    let bad = || TspError::Signature;
    let key_bits = key.subject_public_key.as_bytes().ok_or_else(bad)?;
    let hash = |named: Option<Hash>| -> Result<Hash, TspError> {
        match (named, digest) {
            (Some(h), _) => Ok(h),
            (None, Some(d)) => Hash::from_oid(d),
            (None, None) => Err(TspError::Unsupported(format!(
                "signature algorithm {algorithm} without a digest algorithm"
            ))),
        }
    };
    match key.algorithm.oid {
        oid::ED25519 => {
            if *algorithm != oid::ED25519 {
                return Err(TspError::Unsupported(format!(
                    "{algorithm} with an Ed25519 key"
                )));
            }
            let bytes: [u8; 32] = key_bits.try_into().map_err(|_| bad())?;
            let vk = ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
            let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|_| bad())?;
            vk.verify_strict(message, &sig).map_err(|_| bad())
        }
        oid::EC_PUBLIC_KEY => {
            let named = match *algorithm {
                oid::ECDSA_SHA256 => Some(Hash::Sha256),
                oid::ECDSA_SHA384 => Some(Hash::Sha384),
                oid::ECDSA_SHA512 => Some(Hash::Sha512),
                oid::EC_PUBLIC_KEY => None,
                _ => {
                    return Err(TspError::Unsupported(format!("{algorithm} with an EC key")));
                }
            };
            let prehash = hash(named)?.digest(message);
            let curve = key
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<Oid>().ok())
                .ok_or_else(|| TspError::Unsupported("EC key without a named curve".into()))?;
            use ecdsa::signature::hazmat::PrehashVerifier;
            match curve {
                oid::P256 => {
                    let vk =
                        p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bits).map_err(|_| bad())?;
                    let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| bad())?;
                    vk.verify_prehash(&prehash, &sig).map_err(|_| bad())
                }
                oid::P384 => {
                    let vk =
                        p384::ecdsa::VerifyingKey::from_sec1_bytes(key_bits).map_err(|_| bad())?;
                    let sig = p384::ecdsa::Signature::from_der(signature).map_err(|_| bad())?;
                    vk.verify_prehash(&prehash, &sig).map_err(|_| bad())
                }
                other => Err(TspError::Unsupported(format!("EC curve {other}"))),
            }
        }
        oid::RSA => {
            let named = match *algorithm {
                oid::RSA_SHA256 => Some(Hash::Sha256),
                oid::RSA_SHA384 => Some(Hash::Sha384),
                oid::RSA_SHA512 => Some(Hash::Sha512),
                oid::RSA => None,
                _ => {
                    return Err(TspError::Unsupported(format!(
                        "{algorithm} with an RSA key"
                    )));
                }
            };
            let h = hash(named)?;
            let der = key.to_der().map_err(|_| bad())?;
            use rsa::pkcs8::DecodePublicKey;
            let pk = rsa::RsaPublicKey::from_public_key_der(&der).map_err(|_| bad())?;
            let scheme = match h {
                Hash::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                Hash::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                Hash::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
            };
            pk.verify(scheme, &h.digest(message), signature)
                .map_err(|_| bad())
        }
        other => Err(TspError::Unsupported(format!("key type {other}"))),
    }
}
