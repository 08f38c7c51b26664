//! `[[imap_proxy]]`: a transparent IMAP proxy that captures uploaded and
//! fetched messages.

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
use super::smtp_proxy::{DEFAULT_MAX_CONNECTIONS, default_max_connections};
use super::upstream::{Upstream, raw_upstream};
use super::value::{self, HostPort, MIB, TlsMode};
use crate::tls::UpstreamCa;

const DEFAULT_TIMEOUT_IDLE: Duration = Duration::from_secs(30 * 60);
const DEFAULT_CAPTURE_QUEUE: usize = 16;
/// Above the SMTP default (50 MiB), so whatever arrived by mail can still
/// be appended elsewhere, yet far below what a hostile `{4294967296}` asks.
const DEFAULT_MAX_LITERAL_SIZE: u64 = 256 * MIB;

/// `[[imap_proxy]]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawImapProxy {
    /// Listener name.
    #[serde(default)]
    name: Option<String>,
    /// Address clients connect to.
    #[serde(default, deserialize_with = "value::socket_addr")]
    listen: Option<SocketAddr>,
    /// The real IMAP server, `host:port`.
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
    /// Client-leg TLS; default starttls with a certificate, else none.
    #[serde(default)]
    tls_mode: Option<TlsMode>,
    /// Upstream-leg TLS.
    #[serde(default = "default_upstream_tls")]
    upstream_tls: TlsMode,
    /// Roots that verify the upstream: "system" or a PEM file.
    #[serde(default, deserialize_with = "value::upstream_ca")]
    upstream_ca: UpstreamCa,
    /// Skip upstream certificate verification (lab only).
    #[serde(default)]
    upstream_tls_insecure: bool,
    /// Name the upstream certificate must carry; default its host.
    #[serde(default)]
    upstream_tls_name: Option<String>,
    /// APPENDs to these folders are not captured.
    #[serde(default = "default_skip_append_folders")]
    skip_append_folders: Vec<String>,
    /// APPENDs to folders with these special-use flags are not captured.
    #[serde(default = "default_skip_append_special_use")]
    skip_append_special_use: Vec<String>,
    /// Fetch the whole message when a client only fetched part of it.
    #[serde(default = "default_true")]
    complete_partial_fetches: bool,
    /// Silence allowed on either leg (IDLE included).
    #[serde(default = "default_timeout_idle", deserialize_with = "value::duration")]
    timeout_idle: Duration,
    /// Concurrent client connections.
    #[serde(default = "default_max_connections")]
    max_connections: usize,
    /// Archiving nothing for this long degrades `/healthz` (a silent source).
    #[serde(default, deserialize_with = "value::optional_duration")]
    expect_mail_within: Option<Duration>,
    /// Captured messages waiting for the archive, per session.
    #[serde(default = "default_capture_queue")]
    capture_queue: usize,
    /// Largest literal a client may announce, in bytes.
    #[serde(default = "default_max_literal_size")]
    max_literal_size: u64,
}

fn default_upstream_tls() -> TlsMode {
    TlsMode::Implicit
}
fn default_skip_append_folders() -> Vec<String> {
    vec!["Drafts".to_owned()]
}
fn default_skip_append_special_use() -> Vec<String> {
    vec!["\\Drafts".to_owned()]
}
fn default_true() -> bool {
    true
}
fn default_timeout_idle() -> Duration {
    DEFAULT_TIMEOUT_IDLE
}
fn default_capture_queue() -> usize {
    DEFAULT_CAPTURE_QUEUE
}
fn default_max_literal_size() -> u64 {
    DEFAULT_MAX_LITERAL_SIZE
}

/// One `[[imap_proxy]]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapProxyConfig {
    /// Listener name, unique across all listeners and jobs.
    pub name: String,
    /// Address clients connect to.
    pub listen: SocketAddr,
    /// The real IMAP server, and the TLS towards it.
    pub upstream: Upstream<TlsMode>,
    /// TLS towards the clients.
    pub tls: ClientTls,
    /// Folder names whose APPENDs are not captured (drafts change often).
    pub skip_append_folders: Vec<String>,
    /// Special-use flags (`\Drafts`) whose folders' APPENDs are not captured.
    pub skip_append_special_use: Vec<String>,
    /// Fetch the whole message when a client fetched only part of it, so
    /// every message a client reads is archived complete.
    pub complete_partial_fetches: bool,
    /// Silence allowed on either leg, IDLE included.
    pub timeout_idle: Duration,
    /// Concurrent client connections.
    pub max_connections: usize,
    /// No mail archived through this listener for this long is a
    /// problem (`/healthz` degraded, the status page, `/metrics`).
    pub expect_mail_within: Option<Duration>,
    /// Captured messages waiting for the archive per session; when full, the
    /// session waits (backpressure) instead of buffering more.
    pub capture_queue: usize,
    /// Largest literal a client may announce (APPEND message or any other
    /// argument); a larger one is refused before a byte of it is relayed,
    /// so a `{4294967296}` never reaches the upstream.
    pub max_literal_size: u64,
}

impl ImapProxyConfig {
    /// File defaults for a proxy from `listen` to the plain-text `upstream`
    /// (tests): no TLS on either leg.
    pub fn for_test(name: &str, listen: SocketAddr, upstream: SocketAddr) -> ImapProxyConfig {
        ImapProxyConfig {
            name: name.to_owned(),
            listen,
            upstream: Upstream::for_test(upstream, TlsMode::None),
            tls: ClientTls::default(),
            skip_append_folders: default_skip_append_folders(),
            skip_append_special_use: default_skip_append_special_use(),
            complete_partial_fetches: true,
            timeout_idle: DEFAULT_TIMEOUT_IDLE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            expect_mail_within: None,
            capture_queue: DEFAULT_CAPTURE_QUEUE,
            max_literal_size: DEFAULT_MAX_LITERAL_SIZE,
        }
    }
}

impl RawImapProxy {
    /// The name as written, for duplicate checks across sections.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The listen address as written, for conflict checks.
    pub(crate) fn listen(&self) -> Option<SocketAddr> {
        self.listen
    }

    /// Validates one proxy; `at` is its path such as `imap_proxy[0]`.
    pub(crate) fn validate(self, p: &mut Problems, at: &At) -> Option<ImapProxyConfig> {
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
        let folders = at.key("skip_append_folders");
        check::folder_list(p, folders, &self.skip_append_folders, false);
        let flags = at.key("skip_append_special_use");
        check::folder_list(p, flags, &self.skip_append_special_use, true);
        let timeout_idle = check::nonzero(p, at.key("timeout_idle"), self.timeout_idle);
        let max_connections = check::positive(p, at.key("max_connections"), self.max_connections);
        if self.expect_mail_within.is_some_and(|d| d.is_zero()) {
            p.push(at.key("expect_mail_within"), "must be longer than zero");
        }
        let capture_queue = check::positive(p, at.key("capture_queue"), self.capture_queue);
        let max_literal_size =
            check::positive(p, at.key("max_literal_size"), self.max_literal_size);
        Some(ImapProxyConfig {
            name: name?,
            listen: listen?,
            upstream: upstream?,
            tls: tls?,
            skip_append_folders: self.skip_append_folders,
            skip_append_special_use: self.skip_append_special_use,
            complete_partial_fetches: self.complete_partial_fetches,
            timeout_idle: timeout_idle?,
            max_connections: max_connections?,
            expect_mail_within: self.expect_mail_within,
            capture_queue: capture_queue?,
            max_literal_size: max_literal_size?,
        })
    }
}
