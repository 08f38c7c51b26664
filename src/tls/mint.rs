//! A local CA that issues server certificates on the fly, for intercepted
//! destinations without a configured certificate
//! (`intercept_unknown_tls = "mint"`).
//!
//! The CA is the admin's own (`intercept_ca_cert`, `intercept_ca_key`);
//! the company's mail server trusts it. A minted certificate names one
//! host (a DNS name or an IP address), is valid from yesterday for 90
//! days, carries a fresh ECDSA P-256 key, and is cached per name for 30
//! days. Its issuer must be byte-for-byte the CA's subject, so the CA's
//! subject is read from the certificate file (x509-cert) and rebuilt for
//! rcgen; a subject that rcgen cannot rebuild exactly is refused when
//! the CA is loaded, never discovered as a broken chain later.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Datelike as _, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, IsCa, KeyPair,
};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use x509_cert::der::oid::AssociatedOid as _;
use x509_cert::der::{Decode as _, Encode as _, Tag, Tagged as _};
use x509_cert::ext::pkix::BasicConstraints as CaConstraints;

use super::{TlsError, load_certs, provider, read};

/// Days a minted certificate is valid (from yesterday, for clock skew).
const VALID_DAYS: i64 = 90;
/// A cached certificate older than this is minted anew.
const REMINT_AFTER: Duration = Duration::from_secs(30 * 24 * 3600);
/// Names kept in the cache; when full it starts over.
const CACHE_NAMES: usize = 10_000;

/// The local CA, loaded and checked, with its cache of minted certificates.
pub struct MintingCa {
    /// The CA's subject and key identity, as rcgen signs with them.
    issuer: rcgen::Certificate,
    /// The CA's private key.
    key: KeyPair,
    /// Minted certificates by name, with when they were minted.
    cache: Mutex<HashMap<String, (Instant, Arc<CertifiedKey>)>>,
}

impl fmt::Debug for MintingCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintingCa").finish_non_exhaustive()
    }
}

fn invalid(path: &Path, reason: impl Into<String>) -> TlsError {
    TlsError::MintCa {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

impl MintingCa {
    /// Loads the CA certificate and key; fails when the key does not
    /// belong to the certificate, the certificate is no CA, or its subject
    /// cannot be reproduced exactly.
    pub fn load(cert: &Path, key: &Path) -> Result<MintingCa, TlsError> {
        let chain = load_certs(cert)?;
        let der = &chain[0];
        let parsed = x509_cert::Certificate::from_der(der.as_ref())
            .map_err(|e| invalid(cert, format!("not an X.509 certificate: {e}")))?;
        let tbs = &parsed.tbs_certificate;
        let is_ca = tbs.extensions.iter().flatten().any(|ext| {
            ext.extn_id == CaConstraints::OID
                && CaConstraints::from_der(ext.extn_value.as_bytes()).is_ok_and(|bc| bc.ca)
        });
        if !is_ca {
            return Err(invalid(
                cert,
                "not a CA certificate (basicConstraints cA is not set)",
            ));
        }
        let key_pem = String::from_utf8(read(key)?).map_err(|_| TlsError::NoKey {
            path: key.to_path_buf(),
        })?;
        let key_pair = KeyPair::from_pem(&key_pem).map_err(|e| TlsError::Pem {
            path: key.to_path_buf(),
            reason: e.to_string(),
        })?;
        let spki = tbs
            .subject_public_key_info
            .to_der()
            .map_err(|e| invalid(cert, e.to_string()))?;
        if spki != key_pair.public_key_der() {
            return Err(TlsError::KeyMismatch {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            });
        }
        let mut params = CertificateParams::default();
        params.distinguished_name = subject(&tbs.subject).map_err(|e| invalid(cert, e))?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer = params
            .self_signed(&key_pair)
            .map_err(|e| invalid(cert, e.to_string()))?;
        let rebuilt = x509_cert::Certificate::from_der(issuer.der())
            .map_err(|e| invalid(cert, e.to_string()))?;
        if rebuilt.tbs_certificate.subject != tbs.subject {
            return Err(invalid(
                cert,
                "the CA's subject cannot be reproduced for minting (use a CA whose subject has one attribute per RDN, in UTF8String, PrintableString or IA5String)",
            ));
        }
        Ok(MintingCa {
            issuer,
            key: key_pair,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The certificate for `name` (a DNS name or an IP address), from the
    /// cache or minted now.
    pub fn certified_key(&self, name: &str) -> Result<Arc<CertifiedKey>, TlsError> {
        let name = name.to_ascii_lowercase();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((minted, key)) = cache.get(&name)
            && minted.elapsed() < REMINT_AFTER
        {
            return Ok(key.clone());
        }
        let key = Arc::new(self.mint(&name)?);
        if cache.len() >= CACHE_NAMES {
            cache.clear();
        }
        cache.insert(name, (Instant::now(), key.clone()));
        Ok(key)
    }

    fn mint(&self, name: &str) -> Result<CertifiedKey, TlsError> {
        let fail = |e: &dyn fmt::Display| TlsError::Mint(format!("{name}: {e}"));
        let mut params = CertificateParams::new(vec![name.to_owned()]).map_err(|e| fail(&e))?;
        params.distinguished_name.push(DnType::CommonName, name);
        let yesterday = Utc::now() - chrono::Duration::days(1);
        let until = yesterday + chrono::Duration::days(VALID_DAYS);
        let ymd = |d: chrono::DateTime<Utc>| {
            // Months and days always fit a u8.
            rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
        };
        params.not_before = ymd(yesterday);
        params.not_after = ymd(until);
        let leaf_key = KeyPair::generate().map_err(|e| fail(&e))?;
        let leaf = params
            .signed_by(&leaf_key, &self.issuer, &self.key)
            .map_err(|e| fail(&e))?;
        let chain = vec![CertificateDer::from(leaf.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        CertifiedKey::from_der(chain, key, &provider()).map_err(|e| fail(&e))
    }
}

/// The CA's subject as rcgen builds names: one attribute per RDN, in
/// the order of the certificate.
fn subject(name: &x509_cert::name::Name) -> Result<DistinguishedName, String> {
    let mut dn = DistinguishedName::new();
    for rdn in name.0.iter() {
        let [atv] = rdn.0.as_slice() else {
            return Err("the CA's subject has a multi-valued RDN".into());
        };
        let arcs: Vec<u64> = atv.oid.arcs().map(u64::from).collect();
        let text = || {
            std::str::from_utf8(atv.value.value())
                .map(str::to_owned)
                .map_err(|_| "the CA's subject is not text".to_owned())
        };
        let value = match atv.value.tag() {
            Tag::Utf8String => DnValue::Utf8String(text()?),
            Tag::PrintableString => DnValue::PrintableString(
                text()?
                    .try_into()
                    .map_err(|e: rcgen::Error| e.to_string())?,
            ),
            Tag::Ia5String => DnValue::Ia5String(
                text()?
                    .try_into()
                    .map_err(|e: rcgen::Error| e.to_string())?,
            ),
            other => {
                return Err(format!(
                    "the CA's subject uses {other}, which cannot be minted"
                ));
            }
        };
        dn.push(DnType::from_oid(&arcs), value);
    }
    Ok(dn)
}
