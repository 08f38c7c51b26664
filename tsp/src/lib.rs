//! RFC 3161 time stamps for mailseal: the request sent for a tree head, the
//! checks of the authority's answer, and the checks of a stored token.
//!
//! A token is checked completely: it is CMS SignedData over a TSTInfo whose
//! message imprint is the SHA-256 mailseal asked for (and the nonce, when
//! the answer is fresh); one signer, with the content-type and
//! message-digest attributes and an ESS signing-certificate attribute that
//! names the signer's certificate; the signature over the signed
//! attributes; the signer's certificate for time stamping only (critical
//! EKU), valid at the stamped time, and signed up a chain to a configured
//! CA. ASN.1 is parsed by the RustCrypto crates (`der`, `cms`,
//! `x509-cert`, `x509-tsp`); what this crate does not check is listed in
//! docs/verification.md.

mod chain;
pub mod sig;

use std::time::Duration;

use cms::content_info::ContentInfo;
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier, SignerInfo};
use der::asn1::{Any, AnyRef, Int, ObjectIdentifier as Oid, OctetString, SetOfVec};
use der::{Decode, Encode, Reader, Sequence, SliceReader, Tagged};
use x509_cert::Certificate;
use x509_cert::spki::AlgorithmIdentifier;
use x509_tsp::{MessageImprint, TimeStampReq, TspVersion, TstInfo};

pub use chain::Trust;
use sig::{Hash, oid};

/// CMS content type signedData.
const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
/// Content type of a TSTInfo.
const TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// Signed attribute: content type.
const ATTR_CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
/// Signed attribute: message digest.
const ATTR_MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
/// Signed attribute: ESS signing certificate (SHA-1 hashes, RFC 2634).
const ATTR_SIGNING_CERT: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.12");
/// Signed attribute: ESS signing certificate v2 (RFC 5035).
const ATTR_SIGNING_CERT_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// Extension: subject key identifier.
const EXT_SKI: Oid = Oid::new_unwrap("2.5.29.14");

/// Why a time stamp was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TspError {
    /// The bytes are not what RFC 3161 describes.
    Malformed(String),
    /// The authority did not grant the request.
    Refused(String),
    /// The token stamps something else (imprint or nonce differ).
    Mismatch(String),
    /// A signature does not verify.
    Signature,
    /// The signer's certificate is not trusted for time stamping.
    Untrusted(String),
    /// An algorithm this crate does not check.
    Unsupported(String),
}

impl std::fmt::Display for TspError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TspError::Malformed(m) => write!(f, "malformed time stamp: {m}"),
            TspError::Refused(m) => write!(f, "time-stamp authority refused: {m}"),
            TspError::Mismatch(m) => write!(f, "time stamp does not match: {m}"),
            TspError::Signature => write!(f, "time-stamp signature does not verify"),
            TspError::Untrusted(m) => write!(f, "time stamp not trusted: {m}"),
            TspError::Unsupported(m) => write!(f, "time stamp uses unsupported {m}"),
        }
    }
}

impl std::error::Error for TspError {}

fn malformed(e: impl std::fmt::Display) -> TspError {
    TspError::Malformed(e.to_string())
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// When the authority stamped, since the Unix epoch.
    pub gen_time: Duration,
    /// The token's serial number, hex.
    pub serial: String,
    /// The authority's policy.
    pub policy: String,
    /// Subject of the certificate that signed.
    pub signer: String,
    /// Subject of the configured CA the signer chains to.
    pub anchor: String,
}

/// The DER TimeStampReq for a SHA-256 `imprint`, with `nonce` (its first
/// byte must be 1..=0x7f so the INTEGER is positive and minimal) and a
/// request for the signer's certificate.
pub fn request(imprint: &[u8; 32], nonce: &[u8]) -> Result<Vec<u8>, TspError> {
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifier {
                oid: oid::SHA256,
                parameters: Some(Any::null()),
            },
            hashed_message: OctetString::new(imprint.to_vec()).map_err(malformed)?,
        },
        req_policy: None,
        nonce: Some(Int::new(nonce).map_err(malformed)?),
        cert_req: true,
        extensions: None,
    };
    req.to_der().map_err(malformed)
}

/// Takes a TimeStampResp apart: the token's exact bytes when the status is
/// granted (or granted with modifications), else the authority's reason.
pub fn token_of_response(resp: &[u8]) -> Result<Vec<u8>, TspError> {
    let outer = AnyRef::from_der(resp).map_err(malformed)?;
    if outer.tag() != der::Tag::Sequence {
        return Err(TspError::Malformed("response is not a SEQUENCE".into()));
    }
    let inner = outer.value();
    let mut r = SliceReader::new(inner).map_err(malformed)?;
    let status = cmpv2_status(&mut r)?;
    if status.0 > 1 {
        return Err(TspError::Refused(format!(
            "status {}{}",
            status.0,
            status.1.map(|t| format!(" ({t})")).unwrap_or_default()
        )));
    }
    let at = usize::try_from(r.position()).map_err(malformed)?;
    let token = inner.get(at..).unwrap_or_default();
    if token.is_empty() {
        return Err(TspError::Malformed("granted, but no token".into()));
    }
    ContentInfo::from_der(token).map_err(malformed)?;
    Ok(token.to_vec())
}

/// PKIStatusInfo ::= SEQUENCE { status, statusString OPTIONAL, failInfo OPTIONAL }
#[derive(Sequence)]
struct StatusInfo<'a> {
    /// PKIStatus: 0 granted, 1 granted with modifications, 2.. refused.
    status: u8,
    /// The authority's explanation.
    #[asn1(optional = "true")]
    text: Option<Vec<der::asn1::Utf8StringRef<'a>>>,
    /// Why it failed, as flags.
    #[asn1(optional = "true")]
    fail_info: Option<der::asn1::BitStringRef<'a>>,
}

/// The status number and its first free text.
fn cmpv2_status(r: &mut SliceReader<'_>) -> Result<(u8, Option<String>), TspError> {
    let info: StatusInfo<'_> = r.decode().map_err(malformed)?;
    let text = info
        .text
        .and_then(|t| t.first().map(|s| s.as_str().to_owned()));
    Ok((info.status, text))
}

/// Checks a stored or fresh token: it stamps `imprint` (and `nonce`, when
/// given), is signed as RFC 3161 and RFC 5652 require, and its signer
/// chains to `trust`.
pub fn check_token(
    token: &[u8],
    imprint: &[u8; 32],
    nonce: Option<&[u8]>,
    trust: &Trust,
) -> Result<Stamp, TspError> {
    let info = ContentInfo::from_der(token).map_err(malformed)?;
    if info.content_type != SIGNED_DATA {
        return Err(TspError::Malformed("token is not CMS SignedData".into()));
    }
    let sd = SignedParts::parse(&info.content.to_der().map_err(malformed)?)?;
    if sd.encap.econtent_type != TST_INFO {
        return Err(TspError::Malformed("token does not hold a TSTInfo".into()));
    }
    let econtent = sd
        .encap
        .econtent
        .as_ref()
        .ok_or_else(|| TspError::Malformed("token has no TSTInfo".into()))?;
    let tst_der = OctetString::from_der(&econtent.to_der().map_err(malformed)?)
        .map_err(malformed)?
        .into_bytes();
    let tst = TstInfo::from_der(&tst_der).map_err(malformed)?;
    if tst.message_imprint.hash_algorithm.oid != oid::SHA256
        || tst.message_imprint.hashed_message.as_bytes() != imprint
    {
        return Err(TspError::Mismatch(
            "the token stamps another message imprint".into(),
        ));
    }
    if let Some(n) = nonce
        && tst.nonce.as_ref().map(|t| t.as_bytes()) != Some(n)
    {
        return Err(TspError::Mismatch(
            "the token's nonce differs from the request's".into(),
        ));
    }
    let [signer] = sd.signers.as_slice() else {
        return Err(TspError::Malformed(format!(
            "{} signers instead of one",
            sd.signers.len()
        )));
    };
    let pool = sd.certificates;
    let cert = pool
        .iter()
        .find(|c| identifies(&signer.sid, c))
        .ok_or_else(|| {
            TspError::Untrusted("the signer's certificate is not in the token".into())
        })?;
    check_signed_attrs(signer, &tst_der, cert)?;
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| TspError::Malformed("no signed attributes".into()))?
        .to_der()
        .map_err(malformed)?;
    sig::verify(
        &cert.tbs_certificate.subject_public_key_info,
        &signer.signature_algorithm.oid,
        Some(&signer.digest_alg.oid),
        &attrs,
        signer.signature.as_bytes(),
    )?;
    let gen_time = tst.gen_time.to_unix_duration();
    let anchor = trust.check_signer(cert, &pool, gen_time)?;
    Ok(Stamp {
        gen_time,
        serial: hex(tst.serial_number.as_bytes()),
        policy: tst.policy.to_string(),
        signer: cert.tbs_certificate.subject.to_string(),
        anchor,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The parts of a SignedData that matter here. Parsed element by element
/// rather than with `cms::SignedData`, whose SET OF decoding refuses a
/// certificate set holding the same certificate twice, which OpenSSL
/// sends when its configured chain repeats the signer's certificate.
struct SignedParts {
    /// The encapsulated TSTInfo.
    encap: EncapsulatedContentInfo,
    /// Every certificate in the token, duplicates included.
    certificates: Vec<Certificate>,
    /// The signer infos.
    signers: Vec<SignerInfo>,
}

impl SignedParts {
    fn parse(der: &[u8]) -> Result<SignedParts, TspError> {
        let outer = AnyRef::from_der(der).map_err(malformed)?;
        let mut r = SliceReader::new(outer.value()).map_err(malformed)?;
        let version: u8 = r.decode().map_err(malformed)?;
        if version != 1 && version != 3 {
            return Err(TspError::Malformed(format!("SignedData version {version}")));
        }
        let digests: SetOfVec<x509_cert::spki::AlgorithmIdentifierOwned> =
            r.decode().map_err(malformed)?;
        let encap: EncapsulatedContentInfo = r.decode().map_err(malformed)?;
        let mut certificates = Vec::new();
        let mut signers = Vec::new();
        while !r.is_finished() {
            let next: AnyRef<'_> = r.decode().map_err(malformed)?;
            match next.tag() {
                der::Tag::ContextSpecific { number, .. } if number.value() == 0 => {
                    let mut c = SliceReader::new(next.value()).map_err(malformed)?;
                    while !c.is_finished() {
                        let one: AnyRef<'_> = c.decode().map_err(malformed)?;
                        // Other certificate formats ([1]..[3]) are skipped.
                        if one.tag() == der::Tag::Sequence {
                            let bytes = one.to_der().map_err(malformed)?;
                            certificates.push(Certificate::from_der(&bytes).map_err(malformed)?);
                        }
                    }
                }
                der::Tag::ContextSpecific { .. } => {}
                der::Tag::Set => {
                    let mut s = SliceReader::new(next.value()).map_err(malformed)?;
                    while !s.is_finished() {
                        signers.push(s.decode::<SignerInfo>().map_err(malformed)?);
                    }
                }
                other => {
                    return Err(TspError::Malformed(format!(
                        "unexpected {other} in SignedData"
                    )));
                }
            }
        }
        // The digest algorithms are not signed: they must at least name
        // the one each signer used.
        if signers
            .iter()
            .any(|si| !digests.iter().any(|d| d.oid == si.digest_alg.oid))
        {
            return Err(TspError::Malformed(
                "a signer's digest algorithm is not listed".into(),
            ));
        }
        Ok(SignedParts {
            encap,
            certificates,
            signers,
        })
    }
}

/// True when `sid` names `cert`.
fn identifies(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(is) => {
            is.issuer == cert.tbs_certificate.issuer
                && is.serial_number == cert.tbs_certificate.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == EXT_SKI)
            .and_then(|e| OctetString::from_der(e.extn_value.as_bytes()).ok())
            .is_some_and(|v| v.as_bytes() == ski.0.as_bytes()),
    }
}

/// The one value of the signed attribute `id`.
fn attr<'a>(attrs: &'a SetOfVec<x509_cert::attr::Attribute>, id: &Oid) -> Option<&'a Any> {
    let a = attrs.iter().find(|a| &a.oid == id)?;
    match a.values.as_slice() {
        [v] => Some(v),
        _ => None,
    }
}

/// RFC 5652 5.3 and RFC 3161 2.4.2: content type, message digest, and the
/// ESS attribute naming the signer's certificate.
fn check_signed_attrs(
    signer: &SignerInfo,
    tst_der: &[u8],
    cert: &Certificate,
) -> Result<(), TspError> {
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| TspError::Malformed("no signed attributes".into()))?;
    let ct = attr(attrs, &ATTR_CONTENT_TYPE)
        .and_then(|v| v.decode_as::<Oid>().ok())
        .ok_or_else(|| TspError::Malformed("no content-type attribute".into()))?;
    if ct != TST_INFO {
        return Err(TspError::Malformed(
            "content-type attribute is not TSTInfo".into(),
        ));
    }
    let digest = attr(attrs, &ATTR_MESSAGE_DIGEST)
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .ok_or_else(|| TspError::Malformed("no message-digest attribute".into()))?;
    let h = Hash::from_oid(&signer.digest_alg.oid)?;
    if digest.as_bytes() != h.digest(tst_der).as_slice() {
        return Err(TspError::Signature);
    }
    let cert_der = cert.to_der().map_err(malformed)?;
    if let Some(v) = attr(attrs, &ATTR_SIGNING_CERT_V2) {
        let sc: SigningCertificate<EssCertIdV2> = v.decode_as().map_err(malformed)?;
        let first = sc
            .certs
            .first()
            .ok_or_else(|| TspError::Malformed("empty signing-certificate-v2".into()))?;
        let alg = first.hash_algorithm.as_ref().map_or(oid::SHA256, |a| a.oid);
        if first.cert_hash.as_bytes() != Hash::from_oid(&alg)?.digest(&cert_der).as_slice() {
            return Err(TspError::Untrusted(
                "signing-certificate-v2 names another certificate".into(),
            ));
        }
        return Ok(());
    }
    if let Some(v) = attr(attrs, &ATTR_SIGNING_CERT) {
        let sc: SigningCertificate<EssCertId> = v.decode_as().map_err(malformed)?;
        let first = sc
            .certs
            .first()
            .ok_or_else(|| TspError::Malformed("empty signing-certificate".into()))?;
        use sha1::Digest;
        if first.cert_hash.as_bytes() != sha1::Sha1::digest(&cert_der).as_slice() {
            return Err(TspError::Untrusted(
                "signing-certificate names another certificate".into(),
            ));
        }
        return Ok(());
    }
    Err(TspError::Malformed(
        "no ESS signing-certificate attribute".into(),
    ))
}

/// SigningCertificate(V2) ::= SEQUENCE { certs SEQUENCE OF ESSCertID(v2), policies OPTIONAL }
#[derive(Sequence)]
struct SigningCertificate<T: for<'a> Decode<'a> + Encode> {
    /// The signing certificate first.
    certs: Vec<T>,
    /// Not used.
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

/// ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash, issuerSerial OPTIONAL }
#[derive(Sequence)]
struct EssCertIdV2 {
    /// Absent: SHA-256.
    #[asn1(optional = "true")]
    hash_algorithm: Option<x509_cert::spki::AlgorithmIdentifierOwned>,
    /// Hash of the signer's certificate.
    cert_hash: OctetString,
    /// Not used (the hash names the certificate).
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

/// ESSCertID ::= SEQUENCE { certHash (SHA-1), issuerSerial OPTIONAL }
#[derive(Sequence)]
struct EssCertId {
    /// Hash of the signer's certificate.
    cert_hash: OctetString,
    /// Not used (the hash names the certificate).
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

#[cfg(test)]
mod tests;
