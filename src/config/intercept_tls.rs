//! TLS on intercepted connections: the keys `intercept_certificates`,
//! `intercept_unknown_tls`, `intercept_ca_cert` and `intercept_ca_key` of
//! an intercepting `[[smtp_proxy]]`, `[[imap_proxy]]` or `[[pop3_proxy]]`,
//! their checks, and the validated [`InterceptTls`].
//!
//! An intercepting proxy terminates TLS with the certificate of the
//! server the client meant: an entry of `intercept_certificates` chosen by
//! the name the client asks for (SNI) or by the original destination. What
//! happens for a destination without one is `intercept_unknown_tls`.

use std::path::PathBuf;

use ipnet::IpNet;
use serde::Deserialize;

use super::client_tls::{ClientTls, TlsFiles};
use super::problem::{At, Problems};
use super::value::TlsMode;
use crate::tls::{self, TlsError};

/// What an intercepting proxy does when a client wants TLS towards a
/// destination without a configured certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownTls {
    /// The client gets a temporary error (STARTTLS) or the connection
    /// closes before the handshake completes (implicit TLS); nothing
    /// passes unarchived.
    #[default]
    Refuse,
    /// A certificate for the destination's name, issued on the fly by the
    /// local CA (`intercept_ca_cert`, `intercept_ca_key`).
    Mint,
    /// The connection is relayed blind, unarchived, logged at WARN and
    /// counted in `/metrics`.
    PassUnarchived,
}

/// One entry of `intercept_certificates`, as written and as validated.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterceptCertificate {
    /// Original destinations this certificate belongs to; empty: chosen
    /// by SNI alone.
    #[serde(default)]
    pub destinations: Vec<IpNet>,
    /// Names the server is known by; a client's SNI matching one (exactly,
    /// or `*.example.com` for one label) chooses the entry. The first is
    /// the name the upstream's certificate must carry.
    pub names: Vec<String>,
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key of `cert`.
    pub key: PathBuf,
}

impl InterceptCertificate {
    /// True when the entry is valid for `name` (an SNI).
    pub fn serves(&self, name: &str) -> bool {
        self.names.iter().any(|own| {
            own.eq_ignore_ascii_case(name)
                || own.strip_prefix("*.").is_some_and(|domain| {
                    name.split_once('.')
                        .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(domain))
                })
        })
    }
}

/// True when an intercepting proxy's client-leg TLS is handled without a
/// `tls_cert` of its own: certificates per destination, minting, or a
/// blind relay.
pub(crate) fn handles_client_tls(
    intercepting: bool,
    certificates: Option<&[InterceptCertificate]>,
    unknown: Option<UnknownTls>,
) -> bool {
    intercepting
        && (certificates.is_some_and(|c| !c.is_empty())
            || unknown.is_some_and(|u| u != UnknownTls::Refuse))
}

/// `pass-unarchived` is decided on the ClientHello, before any handshake,
/// so a proxy that has it must speak implicit TLS with its clients.
pub(crate) fn check_blind_needs_implicit(
    p: &mut Problems,
    at: &At,
    intercept_tls: Option<&InterceptTls>,
    client_tls: Option<&ClientTls>,
) {
    let blind = intercept_tls.is_some_and(|t| t.unknown == UnknownTls::PassUnarchived);
    if blind && client_tls.is_some_and(|t| t.mode != TlsMode::Implicit) {
        p.push(
            at.key("intercept_unknown_tls"),
            "pass-unarchived is decided before the handshake, so it needs tls_mode = \"implicit\" (a blind relay after STARTTLS is not built)",
        );
    }
}

/// TLS settings of one intercepting proxy, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterceptTls {
    /// Certificates by destination and name.
    pub certificates: Vec<InterceptCertificate>,
    /// What happens for a destination without a certificate.
    pub unknown: UnknownTls,
    /// The local CA that mints certificates (only with `mint`).
    pub ca: Option<TlsFiles>,
}

/// The TLS keys of an intercepting proxy, as written.
#[derive(Debug, Default)]
pub(crate) struct RawInterceptTls {
    /// `intercept_certificates`.
    pub(crate) certificates: Option<Vec<InterceptCertificate>>,
    /// `intercept_unknown_tls`.
    pub(crate) unknown: Option<UnknownTls>,
    /// `intercept_ca_cert`.
    pub(crate) ca_cert: Option<PathBuf>,
    /// `intercept_ca_key`.
    pub(crate) ca_key: Option<PathBuf>,
}

impl RawInterceptTls {
    /// Names of the keys that were written, for "only with intercept".
    pub(crate) fn given(&self) -> Vec<&'static str> {
        [
            ("intercept_certificates", self.certificates.is_some()),
            ("intercept_unknown_tls", self.unknown.is_some()),
            ("intercept_ca_cert", self.ca_cert.is_some()),
            ("intercept_ca_key", self.ca_key.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect()
    }

    /// Checks the group inside the intercepting proxy at `at`.
    /// `listener_cert`: the proxy also has `tls_cert`, which then serves
    /// every destination without an entry (the single-certificate setup).
    pub(crate) fn validate(
        self,
        p: &mut Problems,
        at: &At,
        listener_cert: bool,
    ) -> Option<InterceptTls> {
        let mut ok = true;
        let certificates = self.certificates.unwrap_or_default();
        for (i, entry) in certificates.iter().enumerate() {
            ok &= check_entry(
                p,
                &format!("{}[{i}]", at.key("intercept_certificates")),
                entry,
            );
        }
        let unknown = self.unknown.unwrap_or_default();
        if self.unknown.is_some() && listener_cert {
            p.push(
                at.key("intercept_unknown_tls"),
                "tls_cert already serves every destination without an entry: remove tls_cert or intercept_unknown_tls",
            );
            ok = false;
        }
        let ca = match (unknown, self.ca_cert, self.ca_key) {
            (UnknownTls::Mint, Some(cert), Some(key)) => match tls::MintingCa::load(&cert, &key) {
                Ok(_) => Some(TlsFiles { cert, key }),
                Err(error) => {
                    let blame = match &error {
                        TlsError::KeyMismatch { .. } => "intercept_ca_key",
                        TlsError::Read { path, .. }
                        | TlsError::Pem { path, .. }
                        | TlsError::NoKey { path }
                            if *path == key =>
                        {
                            "intercept_ca_key"
                        }
                        _ => "intercept_ca_cert",
                    };
                    p.push(at.key(blame), error.to_string());
                    ok = false;
                    None
                }
            },
            (UnknownTls::Mint, cert, _) => {
                let missing = if cert.is_none() {
                    "intercept_ca_cert"
                } else {
                    "intercept_ca_key"
                };
                p.push(
                    at.key(missing),
                    "intercept_unknown_tls = \"mint\" needs the local CA: set intercept_ca_cert and intercept_ca_key",
                );
                ok = false;
                None
            }
            (_, cert, key) => {
                for (name, set) in [
                    ("intercept_ca_cert", cert.is_some()),
                    ("intercept_ca_key", key.is_some()),
                ] {
                    if set {
                        p.push(
                            at.key(name),
                            "only used with intercept_unknown_tls = \"mint\"",
                        );
                        ok = false;
                    }
                }
                None
            }
        };
        ok.then_some(InterceptTls {
            certificates,
            unknown,
            ca,
        })
    }
}

/// One certificate entry: at least one name, every name usable as a
/// certificate name, and a readable pair that belongs together.
fn check_entry(p: &mut Problems, path: &str, entry: &InterceptCertificate) -> bool {
    let mut ok = true;
    if entry.names.is_empty() {
        p.push(
            format!("{path}.names"),
            "list the names the server is known by, such as [\"mail.example.com\"]",
        );
        ok = false;
    }
    for name in &entry.names {
        let bare = name.strip_prefix("*.").unwrap_or(name);
        if rustls_pki_types::ServerName::try_from(bare).is_err() {
            p.push(
                format!("{path}.names"),
                format!("{name:?} is not a valid DNS name or IP address"),
            );
            ok = false;
        }
    }
    if let Err(error) = tls::certified_key(&entry.cert, &entry.key) {
        let blame = match &error {
            TlsError::Read { path, .. }
            | TlsError::NoCertificate { path }
            | TlsError::Pem { path, .. }
                if *path == entry.cert =>
            {
                "cert"
            }
            _ => "key",
        };
        p.push(format!("{path}.{blame}"), error.to_string());
        ok = false;
    }
    ok
}
