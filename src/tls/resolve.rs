//! Server certificates chosen per connection (interception): loading a
//! certificate and key into a rustls [`CertifiedKey`], a server
//! configuration around any [`ResolvesServerCert`], and reading the name
//! a client asks for (SNI) from its ClientHello before any handshake, so
//! the caller can still decide not to terminate TLS at all.

use std::path::Path;
use std::sync::Arc;

use rustls::InconsistentKeys;
use rustls::server::{Acceptor, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::{TlsError, load_certs, load_key, provider};

/// A certificate chain and its key, checked to belong together.
pub fn certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = load_certs(cert)?;
    let private_key = load_key(key)?;
    let pair = |source| TlsError::Pair {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        source,
    };
    let checked = |error| match error {
        rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => TlsError::KeyMismatch {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
        },
        other => pair(other),
    };
    let certified = CertifiedKey::from_der(chain, private_key, &provider()).map_err(checked)?;
    // from_der lets a key whose public half it cannot see pass.
    certified.keys_match().map_err(checked)?;
    Ok(Arc::new(certified))
}

/// A server configuration whose certificate `resolver` picks per
/// handshake (TLS 1.2 and 1.3, as [`super::server_config`]).
pub fn resolver_config(
    resolver: Arc<dyn ResolvesServerCert>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    Ok(Arc::new(config))
}

/// What the first bytes of a connection say about its ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hello {
    /// A whole ClientHello; the name the client asked for, if any.
    Complete(Option<String>),
    /// The ClientHello goes on in bytes not yet received.
    Incomplete,
    /// Not a TLS ClientHello.
    NotTls(String),
}

/// Reads a ClientHello from the bytes a client sent first (for example
/// peeked from the socket, so they are still there for the handshake).
pub fn client_hello(bytes: &[u8]) -> Hello {
    let mut acceptor = Acceptor::default();
    let mut rest = bytes;
    while !rest.is_empty() {
        match acceptor.read_tls(&mut rest) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) => return Hello::NotTls(error.to_string()),
        }
    }
    match acceptor.accept() {
        Ok(Some(accepted)) => {
            let name = accepted.client_hello().server_name().map(str::to_owned);
            Hello::Complete(name)
        }
        Ok(None) => Hello::Incomplete,
        Err((error, _alert)) => Hello::NotTls(error.to_string()),
    }
}
