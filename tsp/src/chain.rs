//! The TSA's certificate: its purpose (EKU timeStamping, critical, alone),
//! its validity at the time it stamped, and a chain of signatures up to a
//! configured CA certificate.
//!
//! Not checked (documented in docs/verification.md): revocation (CRL,
//! OCSP), name constraints and policy constraints of intermediate CAs,
//! and path length limits beyond a fixed depth.

use std::time::Duration;

use der::asn1::ObjectIdentifier as Oid;
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};

use crate::{TspError, sig};

/// id-kp-timeStamping.
const TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
/// Extension: extended key usage.
const EXT_EKU: Oid = Oid::new_unwrap("2.5.29.37");
/// Extension: key usage.
const EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
/// Extension: basic constraints.
const EXT_BASIC: Oid = Oid::new_unwrap("2.5.29.19");

/// Most certificates between the TSA's and a trusted CA.
const MAX_DEPTH: usize = 6;

/// Certificates a token may chain to.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// The configured CA certificates.
    anchors: Vec<Certificate>,
}

impl Trust {
    /// Trust the certificates in `pem` (one or more PEM blocks).
    pub fn from_pem(pem: &[u8]) -> Result<Trust, TspError> {
        let anchors = Certificate::load_pem_chain(pem)
            .map_err(|e| TspError::Malformed(format!("CA certificate file: {e}")))?;
        if anchors.is_empty() {
            return Err(TspError::Malformed("no certificate in the CA file".into()));
        }
        Ok(Trust { anchors })
    }

    /// Adds the certificates of another trust set.
    pub fn extend(&mut self, other: Trust) {
        self.anchors.extend(other.anchors);
    }

    /// True when no CA is configured.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Checks that `signer` may stamp at `at` (seconds since the Unix
    /// epoch) and chains to a trusted CA through `pool`. Returns the
    /// subject of the CA that anchors it.
    pub fn check_signer(
        &self,
        signer: &Certificate,
        pool: &[Certificate],
        at: Duration,
    ) -> Result<String, TspError> {
        check_tsa_purpose(signer)?;
        let mut current = signer.clone();
        for _ in 0..MAX_DEPTH {
            valid_at(&current, at)?;
            if let Some(anchor) = self.anchors.iter().find(|a| same_cert(a, &current)) {
                return Ok(anchor.tbs_certificate.subject.to_string());
            }
            let issuer_name = &current.tbs_certificate.issuer;
            // A trusted CA that signed it ends the chain; otherwise an
            // intermediate from the token climbs one step.
            for anchor in self
                .anchors
                .iter()
                .filter(|a| &a.tbs_certificate.subject == issuer_name)
            {
                if signed_by(&current, anchor).is_ok() {
                    is_ca(anchor)?;
                    valid_at(anchor, at)?;
                    return Ok(anchor.tbs_certificate.subject.to_string());
                }
            }
            let next = pool
                .iter()
                .filter(|c| &c.tbs_certificate.subject == issuer_name && !same_cert(c, &current))
                .find(|c| signed_by(&current, c).is_ok())
                .ok_or_else(|| {
                    TspError::Untrusted(format!(
                        "no trusted CA signed the certificate of {}",
                        current.tbs_certificate.subject
                    ))
                })?;
            is_ca(next)?;
            current = next.clone();
        }
        Err(TspError::Untrusted("certificate chain too long".into()))
    }
}

fn same_cert(a: &Certificate, b: &Certificate) -> bool {
    a.to_der().ok() == b.to_der().ok()
}

/// Checks the certificate's signature with `issuer`'s key.
fn signed_by(cert: &Certificate, issuer: &Certificate) -> Result<(), TspError> {
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|e| TspError::Malformed(e.to_string()))?;
    let sig = cert.signature.as_bytes().ok_or(TspError::Signature)?;
    sig::verify(
        &issuer.tbs_certificate.subject_public_key_info,
        &cert.signature_algorithm.oid,
        None,
        &tbs,
        sig,
    )
}

fn valid_at(cert: &Certificate, at: Duration) -> Result<(), TspError> {
    let v = &cert.tbs_certificate.validity;
    if at < v.not_before.to_unix_duration() || at > v.not_after.to_unix_duration() {
        return Err(TspError::Untrusted(format!(
            "certificate of {} is not valid at the time stamped",
            cert.tbs_certificate.subject
        )));
    }
    Ok(())
}

/// The extension with `id`, its value and criticality.
fn extension<'a>(cert: &'a Certificate, id: &Oid) -> Option<(&'a [u8], bool)> {
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| &e.extn_id == id)
        .map(|e| (e.extn_value.as_bytes(), e.critical))
}

fn is_ca(cert: &Certificate) -> Result<(), TspError> {
    let ok = extension(cert, &EXT_BASIC)
        .and_then(|(v, _)| BasicConstraints::from_der(v).ok())
        .is_some_and(|b| b.ca);
    if ok {
        Ok(())
    } else {
        Err(TspError::Untrusted(format!(
            "{} signs certificates but is not a CA",
            cert.tbs_certificate.subject
        )))
    }
}

/// RFC 3161 2.3: the TSA's certificate has exactly one extended key usage,
/// timeStamping, in a critical extension; a key usage, if present, allows
/// signatures.
fn check_tsa_purpose(cert: &Certificate) -> Result<(), TspError> {
    let who = cert.tbs_certificate.subject.to_string();
    let (value, critical) = extension(cert, &EXT_EKU).ok_or_else(|| {
        TspError::Untrusted(format!("certificate of {who} has no extended key usage"))
    })?;
    let eku = ExtendedKeyUsage::from_der(value)
        .map_err(|e| TspError::Malformed(format!("extended key usage: {e}")))?;
    if !critical || eku.0 != [TIME_STAMPING] {
        return Err(TspError::Untrusted(format!(
            "certificate of {who} is not for time stamping only (critical EKU timeStamping)"
        )));
    }
    if let Some((value, _)) = extension(cert, &EXT_KEY_USAGE) {
        let ku = KeyUsage::from_der(value)
            .map_err(|e| TspError::Malformed(format!("key usage: {e}")))?;
        if !(ku.0.contains(KeyUsages::DigitalSignature) || ku.0.contains(KeyUsages::NonRepudiation))
        {
            return Err(TspError::Untrusted(format!(
                "certificate of {who} may not sign (key usage)"
            )));
        }
    }
    Ok(())
}
