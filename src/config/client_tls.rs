//! The client leg's TLS, shared by every listener (`[[journal]]`,
//! `[[smtp_proxy]]`, `[[imap_proxy]]`, and the POP3 proxy to come): the keys
//! `tls_cert`, `tls_key` and `tls_mode`, their checks, and the validated
//! [`ClientTls`].
//!
//! serde's `flatten` does not work with `deny_unknown_fields`, so a section
//! declares these keys flat in its own raw struct and hands them over with
//! `raw_client_tls!(self)`; everything after that (pairing, loading, the
//! default mode, which key a problem names) is written here once.

use std::path::PathBuf;
use std::sync::Arc;

use super::problem::{At, Problems};
use super::value::TlsMode;
use crate::tls::{self, TlsError};

/// The certificate chain and key a listener presents to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) belonging to `cert`.
    pub key: PathBuf,
}

impl TlsFiles {
    /// Loads both files into a rustls server configuration.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        tls::server_config(&self.cert, &self.key)
    }
}

/// TLS towards the clients of one listener, validated.
///
/// The default is plain text: no files, mode `none`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    /// Certificate and key, when configured; checked even with mode `none`,
    /// so a broken pair never waits for the day TLS is switched on.
    pub files: Option<TlsFiles>,
    /// STARTTLS, implicit TLS or none; never `Starttls`/`Implicit` without
    /// `files`.
    pub mode: TlsMode,
}

impl Default for ClientTls {
    fn default() -> Self {
        ClientTls {
            files: None,
            mode: TlsMode::None,
        }
    }
}

impl ClientTls {
    /// The rustls server configuration when the mode uses TLS; `None` for
    /// plain text (loaded once per listener).
    pub fn server_config(&self) -> Result<Option<Arc<rustls::ServerConfig>>, TlsError> {
        match (&self.files, self.mode) {
            (Some(files), TlsMode::Starttls | TlsMode::Implicit) => files.server_config().map(Some),
            _ => Ok(None),
        }
    }
}

/// The client-leg keys of one section, as written.
#[derive(Debug, Default)]
pub(crate) struct RawClientTls {
    /// `tls_cert`: certificate chain (PEM).
    pub(crate) cert: Option<PathBuf>,
    /// `tls_key`: private key (PEM).
    pub(crate) key: Option<PathBuf>,
    /// `tls_mode`: default starttls with a certificate, else none.
    pub(crate) mode: Option<TlsMode>,
}

/// Moves a section's flat `tls_cert`, `tls_key` and `tls_mode` fields into a
/// [`RawClientTls`]: the one place that knows which section fields make up
/// the group, so a new listener only declares the keys and calls this.
macro_rules! raw_client_tls {
    ($section:expr) => {
        $crate::config::client_tls::RawClientTls {
            cert: $section.tls_cert,
            key: $section.tls_key,
            mode: $section.tls_mode,
        }
    };
}
pub(crate) use raw_client_tls;

impl RawClientTls {
    /// Checks the group inside the section at `at` (`journal[0]`); problems
    /// name the section's flat keys (`journal[0].tls_key`).
    pub(crate) fn validate(self, p: &mut Problems, at: &At) -> Option<ClientTls> {
        self.validate_with(p, at, false)
    }

    /// Like [`RawClientTls::validate`]; `elsewhere`: certificates come
    /// from another key (an intercepting proxy's `intercept_certificates`
    /// or minting CA), so a TLS mode needs no `tls_cert`.
    pub(crate) fn validate_with(
        self,
        p: &mut Problems,
        at: &At,
        elsewhere: bool,
    ) -> Option<ClientTls> {
        let cert_given = self.cert.is_some() || elsewhere;
        let files = files(p, at, self.cert, self.key);
        let mode = mode(p, at, self.mode, cert_given);
        Some(ClientTls {
            files: files?,
            mode: mode?,
        })
    }
}

/// The certificate and key: both or neither, and loadable.
/// Outer `None` means a problem was recorded.
fn files(
    p: &mut Problems,
    at: &At,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Option<Option<TlsFiles>> {
    let (cert, key) = match (cert, key) {
        (None, None) => return Some(None),
        (Some(_), None) => {
            p.push(at.key("tls_key"), "tls_cert is set, so tls_key is required");
            return None;
        }
        (None, Some(_)) => {
            p.push(
                at.key("tls_cert"),
                "tls_key is set, so tls_cert is required",
            );
            return None;
        }
        (Some(cert), Some(key)) => (cert, key),
    };
    match tls::server_config(&cert, &key) {
        Ok(_) => Some(Some(TlsFiles { cert, key })),
        Err(error) => {
            let blame = match &error {
                TlsError::Read { path, .. }
                | TlsError::NoCertificate { path }
                | TlsError::Pem { path, .. }
                    if *path == cert =>
                {
                    "tls_cert"
                }
                _ => "tls_key",
            };
            p.push(at.key(blame), error.to_string());
            None
        }
    }
}

/// The mode: defaults to STARTTLS when a certificate is configured, and
/// needs one unless it is `none`.
fn mode(p: &mut Problems, at: &At, mode: Option<TlsMode>, cert_given: bool) -> Option<TlsMode> {
    let mode = mode.unwrap_or(if cert_given {
        TlsMode::Starttls
    } else {
        TlsMode::None
    });
    if mode != TlsMode::None && !cert_given {
        p.push(
            at.key("tls_mode"),
            "TLS needs a certificate: set tls_cert and tls_key, or tls_mode = \"none\"",
        );
        return None;
    }
    Some(mode)
}
