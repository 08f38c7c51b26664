//! `[web]`: the web interface's listener, certificate, users file and
//! session time-outs.
//!
//! The interface carries passwords and mail: it is served over TLS, and
//! plain HTTP is allowed only on a loopback address (a reverse proxy on the
//! same host terminating TLS). A non-loopback listener without a
//! certificate is a configuration error, found by `check-config`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::problem::{At, Problems};
use super::{check, value};

/// Where the interface listens by default (loopback: plain HTTP allowed).
const DEFAULT_LISTEN: &str = "127.0.0.1:9426";

/// The users file the daemon reads and `mailseal user` writes.
pub const DEFAULT_USERS_FILE: &str = "/var/lib/mailseal/users.toml";

/// `[web]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWeb {
    /// Whether to serve the interface at all.
    #[serde(default)]
    enabled: bool,
    /// Address of the listener.
    #[serde(default = "default_listen", deserialize_with = "value::socket_addr")]
    listen: Option<SocketAddr>,
    /// Certificate chain (PEM); with `tls_key`, the listener speaks HTTPS.
    tls_cert: Option<PathBuf>,
    /// Private key (PEM).
    tls_key: Option<PathBuf>,
    /// The users file.
    #[serde(default = "default_users_file")]
    users_file: PathBuf,
    /// A session unused this long ends.
    #[serde(default = "default_idle", deserialize_with = "value::duration")]
    session_idle: Duration,
    /// A session ends this long after its login, used or not.
    #[serde(default = "default_absolute", deserialize_with = "value::duration")]
    session_absolute: Duration,
    /// Results per page.
    #[serde(default = "default_page_size")]
    page_size: usize,
    /// Most messages one export may hold.
    #[serde(default = "default_export_max")]
    export_max: usize,
}

fn default_listen() -> Option<SocketAddr> {
    DEFAULT_LISTEN.parse().ok()
}
fn default_users_file() -> PathBuf {
    PathBuf::from(DEFAULT_USERS_FILE)
}
fn default_idle() -> Duration {
    Duration::from_secs(30 * 60)
}
fn default_absolute() -> Duration {
    Duration::from_secs(10 * 3600)
}
fn default_page_size() -> usize {
    50
}
fn default_export_max() -> usize {
    10_000
}

impl Default for RawWeb {
    /// A missing `[web]` section: the interface is off.
    fn default() -> Self {
        RawWeb {
            enabled: false,
            listen: default_listen(),
            tls_cert: None,
            tls_key: None,
            users_file: default_users_file(),
            session_idle: default_idle(),
            session_absolute: default_absolute(),
            page_size: default_page_size(),
            export_max: default_export_max(),
        }
    }
}

/// The certificate and key of an HTTPS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebTls {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
}

/// `[web]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfig {
    /// False: no web interface.
    pub enabled: bool,
    /// The listener's address.
    pub listen: SocketAddr,
    /// `Some`: HTTPS; `None`: plain HTTP, only ever on loopback.
    pub tls: Option<WebTls>,
    /// The users file.
    pub users_file: PathBuf,
    /// Idle time-out of a session.
    pub session_idle: Duration,
    /// Absolute time-out of a session.
    pub session_absolute: Duration,
    /// Results per page.
    pub page_size: usize,
    /// Most messages one export may hold.
    pub export_max: usize,
}

impl Default for WebConfig {
    /// Off; when turned on, plain HTTP on 127.0.0.1:9426.
    fn default() -> Self {
        let raw = RawWeb::default();
        WebConfig {
            enabled: raw.enabled,
            listen: SocketAddr::from(([127, 0, 0, 1], 9426)),
            tls: None,
            users_file: raw.users_file,
            session_idle: raw.session_idle,
            session_absolute: raw.session_absolute,
            page_size: raw.page_size,
            export_max: raw.export_max,
        }
    }
}

impl RawWeb {
    /// The listen address when the interface is on, for conflict checks.
    pub(crate) fn active_listen(&self) -> Option<SocketAddr> {
        self.listen.filter(|_| self.enabled)
    }

    /// Checks the certificate pair, the loopback rule and the limits.
    pub(crate) fn validate(self, p: &mut Problems) -> Option<WebConfig> {
        let at = At::section("web", None);
        let listen = self.listen?;
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => {
                let cert = check::readable_file(p, at.key("tls_cert"), &cert);
                let key = check::readable_file(p, at.key("tls_key"), &key);
                Some(cert.zip(key).map(|(cert, key)| WebTls { cert, key }))
            }
            (None, None) => None,
            (Some(_), None) => {
                p.push(at.key("tls_key"), "tls_cert is set: tls_key is needed too");
                Some(None)
            }
            (None, Some(_)) => {
                p.push(at.key("tls_cert"), "tls_key is set: tls_cert is needed too");
                Some(None)
            }
        };
        if self.enabled && tls.is_none() && !listen.ip().is_loopback() {
            p.push(
                at.key("listen"),
                format!(
                    "{listen} is not a loopback address: the web interface carries passwords and \
                     mail and is served there only over HTTPS; set tls_cert and tls_key, or \
                     listen on 127.0.0.1 behind a TLS-terminating reverse proxy"
                ),
            );
            return None;
        }
        let page_size = check::positive(p, at.key("page_size"), self.page_size);
        let export_max = check::positive(p, at.key("export_max"), self.export_max);
        let idle = check::nonzero(p, at.key("session_idle"), self.session_idle);
        let absolute = check::nonzero(p, at.key("session_absolute"), self.session_absolute);
        Some(WebConfig {
            enabled: self.enabled,
            listen,
            tls: match tls {
                Some(pair) => Some(pair?),
                None => None,
            },
            users_file: self.users_file,
            session_idle: idle?,
            session_absolute: absolute?,
            page_size: page_size?,
            export_max: export_max?,
        })
    }
}
