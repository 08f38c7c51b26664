//! `[[pop3_proxy]]`: a transparent POP3 proxy that archives every message
//! a client downloads, in front of one server or (with `intercept`) on a
//! gateway, in front of each connection's original destination.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::check;
use super::client_tls::{ClientTls, raw_client_tls};
use super::intercept::{DestinationRule, InterceptMode, raw_intercept};
use super::intercept_tls::{
    InterceptCertificate, UnknownTls, check_blind_needs_implicit, handles_client_tls,
};
use super::problem::{At, Problems};
use super::smtp_proxy::{DEFAULT_MAX_CONNECTIONS, SmtpUpstreamTls, default_max_connections};
use super::upstream::{Upstream, raw_upstream};
use super::value::{self, HostPort, TlsMode};
use crate::tls::UpstreamCa;

/// RFC 1939's autologout timer: at least ten minutes.
const DEFAULT_TIMEOUT_IDLE: Duration = Duration::from_secs(10 * 60);

/// `[[pop3_proxy]]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPop3Proxy {
    /// Listener name.
    #[serde(default)]
    name: Option<String>,
    /// Address clients connect to.
    #[serde(default, deserialize_with = "value::socket_addr")]
    listen: Option<SocketAddr>,
    /// The real POP3 server, `host:port`.
    #[serde(default)]
    upstream: Option<HostPort>,
    /// How intercepted connections arrive ("redirect", "tproxy"); absent
    /// for a proxy with a fixed upstream.
    #[serde(default)]
    intercept: Option<InterceptMode>,
    /// Original destinations an intercepting proxy may relay to.
    #[serde(default)]
    intercept_destinations: Option<Vec<DestinationRule>>,
    /// Under TPROXY, connect upstream from the client's own address.
    #[serde(default)]
    intercept_bind_client: Option<bool>,
    /// Client-leg certificates per original destination or SNI.
    #[serde(default)]
    intercept_certificates: Option<Vec<InterceptCertificate>>,
    /// What happens for a destination without a certificate.
    #[serde(default)]
    intercept_unknown_tls: Option<UnknownTls>,
    /// The local CA that mints certificates (`mint`).
    #[serde(default)]
    intercept_ca_cert: Option<PathBuf>,
    /// The local CA's private key.
    #[serde(default)]
    intercept_ca_key: Option<PathBuf>,
    /// Client-leg certificate chain (PEM).
    #[serde(default)]
    tls_cert: Option<PathBuf>,
    /// Client-leg private key (PEM).
    #[serde(default)]
    tls_key: Option<PathBuf>,
    /// Client-leg TLS (STLS or implicit); default starttls with a
    /// certificate, else none.
    #[serde(default)]
    tls_mode: Option<TlsMode>,
    /// Upstream-leg TLS: the same four modes as SMTP's.
    #[serde(default = "default_upstream_tls")]
    upstream_tls: SmtpUpstreamTls,
    /// Roots that verify the upstream: "system" or a PEM file.
    #[serde(default, deserialize_with = "value::upstream_ca")]
    upstream_ca: UpstreamCa,
    /// Skip upstream certificate verification (lab only).
    #[serde(default)]
    upstream_tls_insecure: bool,
    /// Name the upstream certificate must carry; default its host.
    #[serde(default)]
    upstream_tls_name: Option<String>,
    /// Complete a `TOP` with an in-band `RETR`.
    #[serde(default = "default_true")]
    complete_partial_fetches: bool,
    /// Silence allowed on either leg.
    #[serde(default = "default_timeout_idle", deserialize_with = "value::duration")]
    timeout_idle: Duration,
    /// Concurrent client connections.
    #[serde(default = "default_max_connections")]
    max_connections: usize,
}

fn default_upstream_tls() -> SmtpUpstreamTls {
    SmtpUpstreamTls::Starttls
}
fn default_true() -> bool {
    true
}
fn default_timeout_idle() -> Duration {
    DEFAULT_TIMEOUT_IDLE
}

/// A validated `[[pop3_proxy]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop3ProxyConfig {
    /// Unique name (records, logs, metrics).
    pub name: String,
    /// Address clients connect to.
    pub listen: SocketAddr,
    /// The real POP3 server (or, intercepting, each connection's original
    /// destination), and the TLS towards it (`starttls` means STLS).
    pub upstream: Upstream<SmtpUpstreamTls>,
    /// TLS towards the clients (`starttls` means mailseal's own STLS).
    pub tls: ClientTls,
    /// Send `RETR` in-band after a client's `TOP`, so a message a client
    /// only previewed is still archived whole.
    pub complete_partial_fetches: bool,
    /// Silence allowed on either leg before the session ends.
    pub timeout_idle: Duration,
    /// Concurrent client connections.
    pub max_connections: usize,
}

impl Pop3ProxyConfig {
    /// File defaults for a proxy from `listen` to the plain-text `upstream`
    /// (tests): no TLS on either leg.
    pub fn for_test(name: &str, listen: SocketAddr, upstream: SocketAddr) -> Pop3ProxyConfig {
        Pop3ProxyConfig {
            name: name.to_owned(),
            listen,
            upstream: Upstream::for_test(upstream, SmtpUpstreamTls::None),
            tls: ClientTls::default(),
            complete_partial_fetches: true,
            timeout_idle: DEFAULT_TIMEOUT_IDLE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl RawPop3Proxy {
    /// The name as written, for duplicate checks across sections.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The listen address as written, for conflict checks.
    pub(crate) fn listen(&self) -> Option<SocketAddr> {
        self.listen
    }

    /// Validates one proxy; `at` is its path such as `pop3_proxy[0]`.
    pub(crate) fn validate(self, p: &mut Problems, at: &At) -> Option<Pop3ProxyConfig> {
        let name = check::name(p, at, self.name.as_deref());
        let listen = check::required(p, at.key("listen"), self.listen);
        let handled = handles_client_tls(
            self.intercept.is_some(),
            self.intercept_certificates.as_deref(),
            self.intercept_unknown_tls,
        );
        let upstream = raw_upstream!(self).validate_with(p, at, raw_intercept!(self, tls));
        let tls = raw_client_tls!(self).validate_with(p, at, handled);
        let intercept_tls = upstream
            .as_ref()
            .and_then(|u| u.address.intercept())
            .map(|i| &i.tls);
        check_blind_needs_implicit(p, at, intercept_tls, tls.as_ref());
        let timeout_idle = check::nonzero(p, at.key("timeout_idle"), self.timeout_idle);
        let max_connections = check::positive(p, at.key("max_connections"), self.max_connections);
        Some(Pop3ProxyConfig {
            name: name?,
            listen: listen?,
            upstream: upstream?,
            tls: tls?,
            complete_partial_fetches: self.complete_partial_fetches,
            timeout_idle: timeout_idle?,
            max_connections: max_connections?,
        })
    }
}
