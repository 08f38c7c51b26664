//! TLS configuration for both legs (rustls).
//!
//! The client leg (mail clients talking to mailseal) gets a
//! [`rustls::ServerConfig`] built from a PEM certificate chain and key; the
//! upstream leg (mailseal talking to the real server) gets a
//! [`rustls::ClientConfig`] trusting the system roots or a PEM CA file
//! ([`UpstreamCa`]).
//! Both use the `ring` provider explicitly, so no process-wide provider has to
//! be installed. `check-config` calls the same loading functions, so a broken
//! certificate is a configuration error, never a runtime surprise.
//!
//! This module takes plain paths and its own types and knows nothing of the
//! configuration file: `config` depends on it, never the other way round.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{CommonState, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::archive::record::TlsInfo;

mod mint;
mod resolve;

pub use mint::MintingCa;
pub use resolve::{Hello, certified_key, client_hello, resolver_config};

/// Which roots verify an upstream server's certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum UpstreamCa {
    /// The operating system's trust store.
    #[default]
    System,
    /// Only the certificates in this PEM file.
    File(PathBuf),
}

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read at all.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file involved.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file holds no `-----BEGIN CERTIFICATE-----` block.
    #[error("{}: no PEM certificate found", path.display())]
    NoCertificate {
        /// The file involved.
        path: PathBuf,
    },
    /// The file holds no PEM private key (PKCS#8, PKCS#1 or SEC1).
    #[error("{}: no PEM private key found", path.display())]
    NoKey {
        /// The file involved.
        path: PathBuf,
    },
    /// A PEM block is malformed.
    #[error("{}: invalid PEM: {reason}", path.display())]
    Pem {
        /// The file involved.
        path: PathBuf,
        /// What the PEM parser said.
        reason: String,
    },
    /// rustls rejected the key or the certificate/key pair.
    #[error("certificate {} with key {}: {source}", cert.display(), key.display())]
    Pair {
        /// The certificate chain file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said (for example a key that does not match).
        source: rustls::Error,
    },
    /// A CA file contains a certificate that is not a usable trust anchor.
    #[error("{}: unusable CA certificate: {source}", path.display())]
    Ca {
        /// The CA file.
        path: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
    /// The operating system's trust store yielded no usable root.
    #[error("no usable root certificates in the system trust store: {0}")]
    SystemRoots(String),
    /// rustls refused the protocol versions (cannot happen with the defaults).
    #[error("TLS configuration: {0}")]
    Config(rustls::Error),
    /// The minting CA (interception) cannot be used as one.
    #[error("{}: {reason}", path.display())]
    MintCa {
        /// The CA certificate file.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// The key belongs to another certificate.
    #[error("{}: the key does not belong to the certificate {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// A certificate could not be minted for a name (interception).
    #[error("cannot mint a certificate for {0}")]
    Mint(String),
}

/// The crypto provider every configuration uses.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a PEM certificate chain (leaf first).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// Reads the first PEM private key of a file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.to_path_buf(),
        },
        other => TlsError::Pem {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    })
}

/// Reads every certificate of a PEM CA file into a root store.
pub fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|source| TlsError::Ca {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(roots)
}

/// The operating system's trust anchors.
fn system_roots() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    for error in &found.errors {
        tracing::warn!(%error, "system trust store: skipped an entry");
    }
    if added == 0 {
        let reason = match found.errors.first() {
            Some(e) => e.to_string(),
            None => "no certificates found".to_owned(),
        };
        return Err(TlsError::SystemRoots(reason));
    }
    Ok(roots)
}

/// Server side of the client leg. TLS 1.2 and 1.3 only (rustls's safe
/// defaults); fails if the key does not belong to the certificate.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = load_certs(cert)?;
    let private_key = load_key(key)?;
    build_server_config(chain, private_key).map_err(|source| TlsError::Pair {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        source,
    })
}

/// Builds the server config from already loaded parts.
fn build_server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// Client side of the upstream leg. `insecure` accepts any certificate (lab
/// use only) and says so loudly in the log.
pub fn client_config(
    ca: &UpstreamCa,
    insecure: bool,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?;
    let config = if insecure {
        tracing::warn!(
            "upstream TLS certificate verification is DISABLED (upstream_tls_insecure): \
             anyone on the path can read and change mail; use only in a lab"
        );
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate { provider }))
            .with_no_client_auth()
    } else {
        let roots = match ca {
            UpstreamCa::System => system_roots()?,
            UpstreamCa::File(path) => load_roots(path)?,
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// Protocol version and cipher suite of an established connection, as kept
/// in archive records (`TLSv1_3`, `TLS13_AES_256_GCM_SHA384`).
pub fn tls_info(conn: &CommonState) -> Option<TlsInfo> {
    let version = conn.protocol_version()?;
    let suite = conn.negotiated_cipher_suite()?.suite();
    Some(TlsInfo {
        version: version
            .as_str()
            .map_or_else(|| format!("{version:?}"), str::to_owned),
        cipher: suite
            .as_str()
            .map_or_else(|| format!("{suite:?}"), str::to_owned),
    })
}

/// Accepts every server certificate but still checks handshake signatures,
/// so the session is at least bound to the certificate the server showed.
#[derive(Debug)]
struct AcceptAnyCertificate {
    /// Supplies the signature algorithms for handshake verification.
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio_rustls::{TlsAcceptor, TlsConnector};

    /// A CA and a `localhost` leaf it signed, written as PEM files.
    struct Pki {
        _dir: tempfile::TempDir,
        ca: PathBuf,
        cert: PathBuf,
        key: PathBuf,
    }

    fn pki() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf_params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };
        Pki {
            ca: write("ca.pem", ca_cert.pem()),
            cert: write("cert.pem", leaf.pem()),
            key: write("key.pem", leaf_key.serialize_pem()),
            _dir: dir,
        }
    }

    /// Runs a handshake over an in-memory pipe; returns both sides' view.
    async fn handshake(
        server: Arc<rustls::ServerConfig>,
        client: Arc<rustls::ClientConfig>,
    ) -> Result<(TlsInfo, TlsInfo), std::io::Error> {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let name = ServerName::try_from("localhost").unwrap();
        let (accepted, connected) = tokio::join!(
            TlsAcceptor::from(server).accept(server_io),
            TlsConnector::from(client).connect(name, client_io)
        );
        let connected = connected?;
        let accepted = accepted?;
        Ok((
            tls_info(accepted.get_ref().1).unwrap(),
            tls_info(connected.get_ref().1).unwrap(),
        ))
    }

    #[tokio::test]
    async fn client_trusting_the_ca_file_completes_a_tls13_handshake() {
        let pki = pki();
        let server = server_config(&pki.cert, &pki.key).unwrap();
        let client = client_config(&UpstreamCa::File(pki.ca.clone()), false).unwrap();
        let (server_view, client_view) = handshake(server, client).await.unwrap();
        assert_eq!(server_view, client_view);
        assert_eq!(server_view.version, "TLSv1_3");
        assert!(server_view.cipher.starts_with("TLS13_"), "{server_view:?}");
    }

    #[tokio::test]
    async fn unknown_certificates_fail_unless_insecure() {
        let pki = pki();
        let stranger = self::pki();
        let server = server_config(&pki.cert, &pki.key).unwrap();
        let strict = client_config(&UpstreamCa::File(stranger.ca.clone()), false).unwrap();
        assert!(handshake(server.clone(), strict).await.is_err());
        let insecure = client_config(&UpstreamCa::File(stranger.ca.clone()), true).unwrap();
        handshake(server, insecure).await.unwrap();
    }

    #[test]
    fn loading_errors_name_the_file_and_the_reason() {
        let pki = pki();
        let other = self::pki();
        let missing = Path::new("/nonexistent/cert.pem");
        assert!(matches!(load_certs(missing), Err(TlsError::Read { .. })));
        let garbage = pki.ca.with_file_name("garbage.pem");
        std::fs::write(&garbage, "hello").unwrap();
        assert!(matches!(
            load_certs(&garbage),
            Err(TlsError::NoCertificate { .. })
        ));
        assert!(matches!(load_key(&pki.cert), Err(TlsError::NoKey { .. })));
        assert!(matches!(
            server_config(&pki.cert, &other.key),
            Err(TlsError::Pair { .. })
        ));
        let error = server_config(missing, &pki.key).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/cert.pem"), "{error}");
    }
}
