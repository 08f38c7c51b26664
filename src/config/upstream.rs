//! The upstream leg, shared by every proxy (`[[smtp_proxy]]`,
//! `[[imap_proxy]]`, `[[pop3_proxy]]`): the keys `upstream`,
//! `upstream_tls`, `upstream_ca`, `upstream_tls_insecure` and
//! `upstream_tls_name`, their checks, and the validated [`Upstream`]. Its
//! [`Target`] is either the fixed `upstream` or, for an intercepting proxy,
//! each connection's original destination ([`super::intercept`]).
//!
//! serde's `flatten` does not work with `deny_unknown_fields`, so a proxy
//! declares these keys flat in its own raw struct (with its protocol's TLS
//! modes and default) and hands them over with `raw_upstream!(self)`;
//! everything after that is written here once. The CA and server-name checks also serve
//! `[[imap_import]]`, whose keys for the same ideas are older and differ.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use rustls_pki_types::ServerName;

use super::check;
use super::intercept::{Intercept, RawIntercept};
use super::problem::{At, Problems};
use super::value::{HostPort, TlsMode};
use crate::tls::{self, TlsError, UpstreamCa};

/// The real server behind a proxy and how mailseal reaches it, validated.
/// `M` is the protocol's set of TLS modes ([`super::SmtpUpstreamTls`],
/// [`super::TlsMode`] for IMAP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream<M> {
    /// Where the leg goes: a fixed server, or where each intercepted
    /// connection was headed.
    pub address: Target,
    /// TLS towards the server.
    pub tls: M,
    /// Roots that verify the server's certificate.
    pub ca: UpstreamCa,
    /// Accept any certificate (lab only; logged loudly).
    pub insecure: bool,
    /// Name the server's certificate must carry (SNI too).
    pub server_name: ServerName<'static>,
}

/// Where a proxy's upstream leg goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `upstream = "host:port"`; the host is resolved at connect time.
    Fixed(HostPort),
    /// `intercept`: the original destination of each connection, when
    /// the allow-list lets it through.
    Intercepted(Intercept),
}

impl Target {
    /// The fixed server, unless the proxy intercepts.
    pub fn fixed(&self) -> Option<&HostPort> {
        match self {
            Target::Fixed(address) => Some(address),
            Target::Intercepted(_) => None,
        }
    }

    /// The interception settings, when the proxy intercepts.
    pub fn intercept(&self) -> Option<&Intercept> {
        match self {
            Target::Fixed(_) => None,
            Target::Intercepted(intercept) => Some(intercept),
        }
    }
}

/// `host:port`, or `original destination` for an intercepting proxy (logs).
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Fixed(address) => address.fmt(f),
            Target::Intercepted(_) => f.write_str("original destination"),
        }
    }
}

/// Whether a protocol's upstream TLS mode encrypts at all: an intercepting
/// proxy that encrypts must be told which certificate name to expect.
pub trait LegTls {
    /// True for the plain-text mode.
    fn is_plain(&self) -> bool;
}

impl<M> Upstream<M> {
    /// The server at `address` with `tls`, verified against the system
    /// roots by its IP (tests).
    pub fn for_test(address: SocketAddr, tls: M) -> Upstream<M> {
        Upstream {
            address: Target::Fixed(HostPort {
                host: address.ip().to_string(),
                port: address.port(),
            }),
            tls,
            ca: UpstreamCa::System,
            insecure: false,
            server_name: ServerName::IpAddress(address.ip().into()),
        }
    }

    /// The rustls client configuration for this leg (built once per
    /// listener).
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        tls::client_config(&self.ca, self.insecure)
    }
}

impl LegTls for TlsMode {
    fn is_plain(&self) -> bool {
        *self == TlsMode::None
    }
}

/// The upstream keys of one proxy, as written.
#[derive(Debug)]
pub(crate) struct RawUpstream<M> {
    /// `upstream`: the real server, `host:port`.
    pub(crate) address: Option<HostPort>,
    /// `upstream_tls`: the protocol's mode, already defaulted by serde.
    pub(crate) tls: M,
    /// `upstream_ca`: "system" or a PEM file.
    pub(crate) ca: UpstreamCa,
    /// `upstream_tls_insecure`: skip certificate verification.
    pub(crate) insecure: bool,
    /// `upstream_tls_name`: default the host of `upstream`.
    pub(crate) name: Option<String>,
}

/// Moves a proxy's flat `upstream`, `upstream_tls`, `upstream_ca`,
/// `upstream_tls_insecure` and `upstream_tls_name` fields into a
/// [`RawUpstream`]: the one place that knows which section fields make up
/// the group, so a new proxy only declares the keys and calls this.
macro_rules! raw_upstream {
    ($section:expr) => {
        $crate::config::upstream::RawUpstream {
            address: $section.upstream,
            tls: $section.upstream_tls,
            ca: $section.upstream_ca,
            insecure: $section.upstream_tls_insecure,
            name: $section.upstream_tls_name,
        }
    };
}
pub(crate) use raw_upstream;

impl<M> RawUpstream<M> {
    /// Checks the group inside the proxy at `at` (`smtp_proxy[0]`); problems
    /// name the proxy's flat keys (`smtp_proxy[0].upstream_ca`).
    pub(crate) fn validate(self, p: &mut Problems, at: &At) -> Option<Upstream<M>> {
        let address = check::required(p, at.key("upstream"), self.address);
        let ca = ca(p, at.key("upstream_ca"), self.ca);
        let host = address.as_ref().map(|a| a.host.as_str());
        let server_name = server_name(p, at.key("upstream_tls_name"), self.name, host);
        Some(Upstream {
            address: Target::Fixed(address?),
            tls: self.tls,
            ca: ca?,
            insecure: self.insecure,
            server_name: server_name?,
        })
    }
}

impl<M: LegTls> RawUpstream<M> {
    /// Like [`RawUpstream::validate`] for a proxy that may intercept: with
    /// `intercept` set, `upstream` must be absent, and an encrypted leg
    /// needs `upstream_tls_name` (the destination is only an address).
    pub(crate) fn validate_with(
        self,
        p: &mut Problems,
        at: &At,
        intercept: RawIntercept,
    ) -> Option<Upstream<M>> {
        if intercept.mode.is_none() {
            let stray = intercept.validate(p, at);
            let fixed = self.validate(p, at);
            return stray.and(fixed);
        }
        let intercept = intercept.validate(p, at).flatten();
        if self.address.is_some() {
            p.push(
                at.key("upstream"),
                "an intercepting proxy relays to each connection's original destination: remove upstream",
            );
            return None;
        }
        let ca = ca(p, at.key("upstream_ca"), self.ca);
        let name = match self.name {
            None if self.tls.is_plain() => Some(None),
            None => {
                p.push(
                    at.key("upstream_tls_name"),
                    "an intercepting proxy with upstream TLS needs the name the destination's certificate carries (or upstream_tls = \"none\")",
                );
                None
            }
            Some(name) => server_name(p, at.key("upstream_tls_name"), Some(name), None).map(Some),
        };
        // A plain leg never checks a name; the unspecified address stands
        // in so the type needs no `Option`.
        let unused = ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into());
        Some(Upstream {
            address: Target::Intercepted(intercept?),
            tls: self.tls,
            ca: ca?,
            insecure: self.insecure,
            server_name: name?.unwrap_or(unused),
        })
    }
}

/// A CA file must hold at least one usable certificate.
pub(crate) fn ca(p: &mut Problems, path: String, ca: UpstreamCa) -> Option<UpstreamCa> {
    if let UpstreamCa::File(file) = &ca
        && let Err(error) = tls::load_roots(file)
    {
        p.push(path, error.to_string());
        return None;
    }
    Some(ca)
}

/// The name the server's certificate must carry; defaults to its host.
pub(crate) fn server_name(
    p: &mut Problems,
    path: String,
    raw: Option<String>,
    host: Option<&str>,
) -> Option<ServerName<'static>> {
    let name = match raw {
        Some(name) => name,
        None => host?.to_owned(),
    };
    match ServerName::try_from(name.clone()) {
        Ok(server_name) => Some(server_name),
        Err(_) => {
            p.push(
                path,
                format!("{name:?} is not a valid DNS name or IP address"),
            );
            None
        }
    }
}
