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

use rustls_pki_types::ServerName;
use serde::Deserialize;

use super::problem::{At, Problems};
use super::value::HostPort;
use super::{check, value};
use crate::tls::UpstreamCa;

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
    /// The IMAP server (`host:port`) that checks the mailbox passwords of
    /// users with `login = "imap"`.
    imap_login: Option<HostPort>,
    /// `implicit` (IMAPS, the default) or `none` (plain, loopback only).
    imap_login_tls: Option<LoginTls>,
    /// Roots that verify that server: `"system"` or a PEM file.
    #[serde(default, deserialize_with = "value::upstream_ca")]
    imap_login_ca: UpstreamCa,
    /// The name its certificate must carry; defaults to the host.
    imap_login_tls_name: Option<String>,
}

/// How the web interface reaches the IMAP server that checks passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginTls {
    /// IMAPS (port 993): the password travels only inside TLS.
    Implicit,
    /// Plain IMAP: allowed only to a loopback address.
    None,
}

/// The IMAP server that checks mailbox passwords, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapLoginConfig {
    /// The server.
    pub address: HostPort,
    /// Implicit TLS or (loopback only) none.
    pub tls: LoginTls,
    /// Roots that verify its certificate.
    pub ca: UpstreamCa,
    /// The name its certificate must carry.
    pub server_name: ServerName<'static>,
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
            imap_login: None,
            imap_login_tls: None,
            imap_login_ca: UpstreamCa::System,
            imap_login_tls_name: None,
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
    /// Where `login = "imap"` users' passwords are checked; `None`: nowhere
    /// (such users cannot log in).
    pub imap_login: Option<ImapLoginConfig>,
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
            imap_login: None,
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
        let imap_login = match self.imap_login {
            Some(address) => Some(login_server(
                p,
                &at,
                address,
                self.imap_login_tls.unwrap_or(LoginTls::Implicit),
                self.imap_login_ca,
                self.imap_login_tls_name,
            )?),
            None => {
                if self.imap_login_tls.is_some() || self.imap_login_tls_name.is_some() {
                    p.push(
                        at.key("imap_login"),
                        "imap_login_tls or imap_login_tls_name is set: imap_login (host:port) is needed too",
                    );
                    return None;
                }
                None
            }
        };
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
            imap_login,
        })
    }
}

/// Checks the password server's keys: a plain connection only to loopback
/// (the passwords of every `imap` user cross it), a readable CA, a valid
/// certificate name.
fn login_server(
    p: &mut Problems,
    at: &At,
    address: HostPort,
    tls: LoginTls,
    ca: UpstreamCa,
    tls_name: Option<String>,
) -> Option<ImapLoginConfig> {
    let loopback = address.host == "localhost"
        || address
            .host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if tls == LoginTls::None && !loopback {
        p.push(
            at.key("imap_login_tls"),
            format!(
                "{}:{} is not a loopback address: mailbox passwords go there only over TLS; \
                 use imap_login_tls = \"implicit\" (port 993)",
                address.host, address.port
            ),
        );
        return None;
    }
    let ca = super::upstream::ca(p, at.key("imap_login_ca"), ca);
    let name = super::upstream::server_name(
        p,
        at.key("imap_login_tls_name"),
        tls_name,
        Some(&address.host),
    );
    Some(ImapLoginConfig {
        address,
        tls,
        ca: ca?,
        server_name: name?,
    })
}
