//! How the upstream client is set up: TLS mode and configuration, names,
//! timeouts and limits, converted once from a proxy's configuration.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;

use super::DEFAULT_MAX_REPLY;
use crate::config::{SmtpProxyConfig, SmtpUpstreamTls};

/// How long to wait for the upstream (RFC 5321 4.5.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamTimeouts {
    /// TCP connect, implicit TLS handshake and the greeting.
    pub connect: Duration,
    /// Sending a command and waiting for its reply; also the STARTTLS
    /// handshake.
    pub command: Duration,
    /// Sending one chunk of message data.
    pub data_block: Duration,
    /// Waiting for the reply to the final `.`.
    pub data_end: Duration,
}

impl Default for UpstreamTimeouts {
    fn default() -> Self {
        UpstreamTimeouts {
            connect: Duration::from_secs(30),
            command: Duration::from_secs(5 * 60),
            data_block: Duration::from_secs(3 * 60),
            data_end: Duration::from_secs(10 * 60),
        }
    }
}

/// Everything [`connect`](super::connect) needs besides the address.
#[derive(Debug, Clone)]
pub struct UpstreamOptions {
    /// TLS towards the upstream.
    pub tls: SmtpUpstreamTls,
    /// rustls client configuration ([`crate::tls::client_config`]); needed
    /// for every mode but `none`.
    pub tls_config: Option<Arc<rustls::ClientConfig>>,
    /// The name the upstream's certificate must carry (also sent as SNI).
    pub server_name: ServerName<'static>,
    /// mailseal's own EHLO name, for the EHLO before STARTTLS or XCLIENT.
    pub ehlo_name: String,
    /// Timeouts.
    pub timeouts: UpstreamTimeouts,
    /// Largest reply accepted, all lines together.
    pub max_reply: usize,
}

impl UpstreamOptions {
    /// The options of a configured proxy; `tls_config` comes from
    /// [`crate::config::Upstream::client_config`] (built once per listener).
    pub fn from_config(
        config: &SmtpProxyConfig,
        tls_config: Option<Arc<rustls::ClientConfig>>,
    ) -> UpstreamOptions {
        UpstreamOptions {
            tls: config.upstream.tls,
            tls_config,
            server_name: config.upstream.server_name.clone(),
            ehlo_name: config.hostname.clone(),
            timeouts: UpstreamTimeouts {
                connect: config.timeout_connect,
                command: config.timeout_command,
                data_block: config.timeout_data_block,
                data_end: config.timeout_data_end,
            },
            max_reply: DEFAULT_MAX_REPLY,
        }
    }
}
