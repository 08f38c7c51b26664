//! `[[smtp_proxy]]`: a transparent SMTP proxy in front of a real server.

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
use super::upstream::{LegTls, Upstream, raw_upstream};
use super::value::{self, HostPort, MIB, TlsMode};
use crate::tls::UpstreamCa;

pub(crate) const DEFAULT_MAX_MESSAGE_SIZE: u64 = 50 * MIB;
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 200;
const DEFAULT_TIMEOUT_CONNECT: Duration = Duration::from_secs(30);
pub(crate) const DEFAULT_TIMEOUT_COMMAND: Duration = Duration::from_secs(5 * 60);
pub(crate) const DEFAULT_TIMEOUT_DATA_BLOCK: Duration = Duration::from_secs(3 * 60);
const DEFAULT_TIMEOUT_DATA_END: Duration = Duration::from_secs(10 * 60);

/// TLS towards the upstream SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmtpUpstreamTls {
    /// Plain text only.
    None,
    /// STARTTLS when the server offers it, plain text otherwise.
    Starttls,
    /// STARTTLS, and refuse to relay if the server does not offer it.
    StarttlsRequired,
    /// TLS from the first byte (port 465).
    Implicit,
}

impl LegTls for SmtpUpstreamTls {
    fn is_plain(&self) -> bool {
        *self == SmtpUpstreamTls::None
    }
}

/// `[[smtp_proxy]]` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSmtpProxy {
    /// Listener name (records, logs, metrics).
    #[serde(default)]
    name: Option<String>,
    /// Address clients connect to.
    #[serde(default, deserialize_with = "value::socket_addr")]
    listen: Option<SocketAddr>,
    /// The real server, `host:port`.
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
    /// Name in mailseal's own replies; default the machine's hostname.
    #[serde(default)]
    hostname: Option<String>,
    /// Client-leg certificate chain (PEM).
    #[serde(default)]
    tls_cert: Option<PathBuf>,
    /// Client-leg private key (PEM).
    #[serde(default)]
    tls_key: Option<PathBuf>,
    /// Client-leg TLS; default starttls with a certificate, else none.
    #[serde(default)]
    tls_mode: Option<TlsMode>,
    /// Upstream-leg TLS.
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
    /// Relay AUTH from clients on an unencrypted client leg.
    #[serde(default)]
    allow_auth_without_tls: bool,
    /// Tell the upstream the real client with XCLIENT.
    #[serde(default)]
    xclient: bool,
    /// Tell the upstream the real client with XFORWARD.
    #[serde(default)]
    xforward: bool,
    /// Largest message accepted, in bytes.
    #[serde(default = "default_max_message_size")]
    max_message_size: u64,
    /// Concurrent client connections.
    #[serde(default = "default_max_connections")]
    max_connections: usize,
    /// Archiving nothing for this long degrades `/healthz` (a silent source).
    #[serde(default, deserialize_with = "value::optional_duration")]
    expect_mail_within: Option<Duration>,
    /// Connecting to the upstream (and its greeting).
    #[serde(
        default = "default_timeout_connect",
        deserialize_with = "value::duration"
    )]
    timeout_connect: Duration,
    /// Waiting for a command or a reply (RFC 5321 4.5.3.2).
    #[serde(
        default = "default_timeout_command",
        deserialize_with = "value::duration"
    )]
    timeout_command: Duration,
    /// Between two chunks of DATA.
    #[serde(
        default = "default_timeout_data_block",
        deserialize_with = "value::duration"
    )]
    timeout_data_block: Duration,
    /// Bytes per second a DATA sender must average (0: no minimum).
    #[serde(default = "default_min_data_rate")]
    min_data_rate: u64,
    /// Waiting for the reply to the final `.`.
    #[serde(
        default = "default_timeout_data_end",
        deserialize_with = "value::duration"
    )]
    timeout_data_end: Duration,
}

fn default_upstream_tls() -> SmtpUpstreamTls {
    SmtpUpstreamTls::Starttls
}
pub(crate) fn default_max_message_size() -> u64 {
    DEFAULT_MAX_MESSAGE_SIZE
}
pub(crate) fn default_max_connections() -> usize {
    DEFAULT_MAX_CONNECTIONS
}
fn default_timeout_connect() -> Duration {
    DEFAULT_TIMEOUT_CONNECT
}
pub(crate) fn default_timeout_command() -> Duration {
    DEFAULT_TIMEOUT_COMMAND
}
/// Postfix's `smtpd_min_data_rate` default: slower than 4 kbit/s on
/// average is not a mail server, it is an attack on connection slots.
pub const DEFAULT_MIN_DATA_RATE: u64 = 500;

pub(crate) fn default_min_data_rate() -> u64 {
    DEFAULT_MIN_DATA_RATE
}

pub(crate) fn default_timeout_data_block() -> Duration {
    DEFAULT_TIMEOUT_DATA_BLOCK
}
fn default_timeout_data_end() -> Duration {
    DEFAULT_TIMEOUT_DATA_END
}

/// One `[[smtp_proxy]]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpProxyConfig {
    /// Listener name, unique across all listeners and jobs.
    pub name: String,
    /// Address clients connect to.
    pub listen: SocketAddr,
    /// The real server every command is relayed to, and the TLS towards it.
    pub upstream: Upstream<SmtpUpstreamTls>,
    /// Name used in mailseal's own replies (greeting, errors).
    pub hostname: String,
    /// TLS towards the clients.
    pub tls: ClientTls,
    /// Relay AUTH even when the client leg is not encrypted.
    pub allow_auth_without_tls: bool,
    /// Send XCLIENT so the upstream sees the real client.
    pub xclient: bool,
    /// Send XFORWARD so the upstream logs the real client.
    pub xforward: bool,
    /// Largest message accepted, in bytes.
    pub max_message_size: u64,
    /// Concurrent client connections; more are refused with 421.
    pub max_connections: usize,
    /// No mail archived through this listener for this long is a
    /// problem (`/healthz` degraded, the status page, `/metrics`).
    pub expect_mail_within: Option<Duration>,
    /// Connecting to the upstream, including its greeting.
    pub timeout_connect: Duration,
    /// Waiting for a command from the client or a reply from the upstream.
    pub timeout_command: Duration,
    /// Between two reads of DATA.
    pub timeout_data_block: Duration,
    /// Bytes per second a DATA sender must average; 0 turns it off.
    pub min_data_rate: u64,
    /// Waiting for the upstream's reply to the final `.`.
    pub timeout_data_end: Duration,
}

impl SmtpProxyConfig {
    /// File defaults for a proxy from `listen` to the plain-text `upstream`
    /// (tests): no client-leg TLS, hostname `mailseal.test`.
    pub fn for_test(name: &str, listen: SocketAddr, upstream: SocketAddr) -> SmtpProxyConfig {
        SmtpProxyConfig {
            name: name.to_owned(),
            listen,
            upstream: Upstream::for_test(upstream, default_upstream_tls()),
            hostname: "mailseal.test".to_owned(),
            tls: ClientTls::default(),
            allow_auth_without_tls: false,
            xclient: false,
            xforward: false,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            expect_mail_within: None,
            timeout_connect: DEFAULT_TIMEOUT_CONNECT,
            timeout_command: DEFAULT_TIMEOUT_COMMAND,
            timeout_data_block: DEFAULT_TIMEOUT_DATA_BLOCK,
            min_data_rate: DEFAULT_MIN_DATA_RATE,
            timeout_data_end: DEFAULT_TIMEOUT_DATA_END,
        }
    }
}

impl RawSmtpProxy {
    /// The name as written, for duplicate checks across sections.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The listen address as written, for conflict checks.
    pub(crate) fn listen(&self) -> Option<SocketAddr> {
        self.listen
    }

    /// Validates one proxy; `at` is its path such as `smtp_proxy[1]`.
    pub(crate) fn validate(self, p: &mut Problems, at: &At) -> Option<SmtpProxyConfig> {
        let name = check::name(p, at, self.name.as_deref());
        let listen = check::required(p, at.key("listen"), self.listen);
        let handled = handles_client_tls(
            self.intercept.is_some(),
            self.intercept_certificates.as_deref(),
            self.intercept_unknown_tls,
        );
        let upstream = raw_upstream!(self).validate_with(p, at, raw_intercept!(self, tls));
        let hostname = check::hostname(p, at.key("hostname"), self.hostname);
        let tls = raw_client_tls!(self).validate_with(p, at, handled);
        let intercept_tls = upstream
            .as_ref()
            .and_then(|u| u.address.intercept())
            .map(|i| &i.tls);
        check_blind_needs_implicit(p, at, intercept_tls, tls.as_ref());
        let max_message_size =
            check::positive(p, at.key("max_message_size"), self.max_message_size);
        let max_connections = check::positive(p, at.key("max_connections"), self.max_connections);
        if self.expect_mail_within.is_some_and(|d| d.is_zero()) {
            p.push(at.key("expect_mail_within"), "must be longer than zero");
        }
        let timeout_connect = check::nonzero(p, at.key("timeout_connect"), self.timeout_connect);
        let timeout_command = check::nonzero(p, at.key("timeout_command"), self.timeout_command);
        let timeout_data_block =
            check::nonzero(p, at.key("timeout_data_block"), self.timeout_data_block);
        let timeout_data_end = check::nonzero(p, at.key("timeout_data_end"), self.timeout_data_end);
        Some(SmtpProxyConfig {
            name: name?,
            listen: listen?,
            upstream: upstream?,
            hostname: hostname?,
            tls: tls?,
            allow_auth_without_tls: self.allow_auth_without_tls,
            xclient: self.xclient,
            xforward: self.xforward,
            max_message_size: max_message_size?,
            max_connections: max_connections?,
            expect_mail_within: self.expect_mail_within,
            timeout_connect: timeout_connect?,
            timeout_command: timeout_command?,
            timeout_data_block: timeout_data_block?,
            min_data_rate: self.min_data_rate,
            timeout_data_end: timeout_data_end?,
        })
    }
}
