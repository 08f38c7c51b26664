//! `[http]`: the health and Prometheus metrics endpoint.

use std::net::SocketAddr;

use serde::Deserialize;

use super::value;

const DEFAULT_LISTEN: &str = "127.0.0.1:9425";

/// `[http]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    /// Address of the endpoint.
    #[serde(default = "default_listen", deserialize_with = "value::socket_addr")]
    listen: Option<SocketAddr>,
    /// Whether to serve it at all.
    #[serde(default = "default_enabled")]
    enabled: bool,
}

fn default_listen() -> Option<SocketAddr> {
    DEFAULT_LISTEN.parse().ok()
}
fn default_enabled() -> bool {
    true
}

impl Default for RawHttp {
    /// A missing `[http]` section.
    fn default() -> Self {
        RawHttp {
            listen: default_listen(),
            enabled: default_enabled(),
        }
    }
}

/// `[http]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Address serving `/health` and `/metrics`.
    pub listen: SocketAddr,
    /// False turns the endpoint off.
    pub enabled: bool,
}

impl Default for HttpConfig {
    /// Enabled on 127.0.0.1:9425.
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9425)),
            enabled: true,
        }
    }
}

impl RawHttp {
    /// The listen address when the endpoint is on, for conflict checks.
    pub(crate) fn active_listen(&self) -> Option<SocketAddr> {
        self.listen.filter(|_| self.enabled)
    }

    /// Nothing here can be wrong once parsed.
    pub(crate) fn validate(self) -> Option<HttpConfig> {
        Some(HttpConfig {
            listen: self.listen?,
            enabled: self.enabled,
        })
    }
}
