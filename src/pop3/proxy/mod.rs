//! The POP3 proxy, with I/O: a `[[pop3_proxy]]` listener ([`Pop3Proxy`])
//! binds a protocol-neutral [`Listener`] (accept loop, connection limit,
//! one span per connection, shutdown) and runs one [`session`] per client.
//!
//! A session connects to the real server through
//! [`crate::pop3::upstream`] and relays one command at a time over two
//! `conn` legs; downloads go through `download` to `capture` and the
//! archive.
//!
//! Each module uses only those to its right (and the protocol pieces):
//!
//! ```text
//!  proxy ─> session ─> download ─> capture ─> archive
//!              └──────────┴──> conn ─> transport::Stream
//! ```

pub mod capture;
mod conn;
mod download;
pub mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::archive::Archive;
use crate::config::{Pop3ProxyConfig, TlsMode};
use crate::pop3::reply;
use crate::pop3::upstream::Upstream;
use crate::server::{BindError, Listener};
use crate::shutdown::Shutdown;
use crate::tls::TlsError;
use crate::transport::Stream;

/// Why a listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Certificates or CA files could not be loaded.
    #[error("pop3_proxy {name}: {source}")]
    Tls {
        /// Listener name.
        name: String,
        /// The cause.
        source: TlsError,
    },
    /// The listen address could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
}

/// Everything the sessions of one listener share.
pub struct Settings {
    /// The listener's configuration.
    pub config: Pop3ProxyConfig,
    /// Where downloads go.
    pub archive: Archive,
    /// Client-leg TLS, when a certificate is configured.
    pub server_tls: Option<Arc<rustls::ServerConfig>>,
    /// The real POP3 server.
    pub upstream: Upstream,
}

impl Settings {
    /// Loads certificates and builds the TLS setups of both legs.
    pub fn new(config: Pop3ProxyConfig, archive: Archive) -> Result<Settings, TlsError> {
        let server_tls = config.tls.server_config()?;
        let upstream = Upstream::new(&config)?;
        Ok(Settings {
            config,
            archive,
            server_tls,
            upstream,
        })
    }
}

/// A bound POP3 proxy listener, not yet accepting.
pub struct Pop3Proxy {
    /// The socket, its connection limit and accept loop.
    listener: Listener,
    /// What every session shares.
    settings: Arc<Settings>,
}

impl Pop3Proxy {
    /// Loads TLS material and binds the listen address.
    pub async fn bind(
        config: &Pop3ProxyConfig,
        archive: &Archive,
    ) -> Result<Pop3Proxy, ProxyError> {
        let settings =
            Settings::new(config.clone(), archive.clone()).map_err(|source| ProxyError::Tls {
                name: config.name.clone(),
                source,
            })?;
        // Plain text on an implicit-TLS port would be garbage to the client.
        let busy = (config.tls.mode != TlsMode::Implicit).then_some(reply::BUSY);
        let listener =
            Listener::bind(&config.name, config.listen, config.max_connections, busy).await?;
        Ok(Pop3Proxy {
            listener,
            settings: Arc::new(settings),
        })
    }

    /// The bound address (the real port when the config said port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts accepting on the shutdown tracker; sessions end at their next
    /// command boundary when the token is cancelled.
    pub fn serve(self, shutdown: &Shutdown) {
        let settings = self.settings;
        let token = shutdown.token.clone();
        self.listener.serve(shutdown, move |tcp, peer| {
            let settings = settings.clone();
            let token = token.clone();
            async move {
                if let Err(error) = session::serve(settings, Stream::tcp(tcp), peer, token).await {
                    tracing::warn!(%error, "session failed");
                }
            }
        });
    }
}
