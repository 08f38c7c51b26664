//! An `[[imap_proxy]]` listener: binds, accepts, enforces the connection
//! limit and runs one [`session`](super::session) per client, each in its
//! own tracing span, until the shutdown token is cancelled.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use super::reply;
use super::session::{self, Settings};
use crate::archive::Archive;
use crate::config::ImapProxyConfig;
use crate::shutdown::Shutdown;
use crate::tls::TlsError;

/// Why a listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Certificates or CA files could not be loaded.
    #[error("imap_proxy {name}: {source}")]
    Tls {
        /// Listener name.
        name: String,
        /// The cause.
        source: TlsError,
    },
    /// The listen address could not be bound.
    #[error("imap_proxy {name}: cannot listen on {address}: {source}")]
    Bind {
        /// Listener name.
        name: String,
        /// The address.
        address: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// A bound IMAP proxy listener.
pub struct ImapProxy {
    /// The listening socket.
    listener: TcpListener,
    /// What every session shares.
    settings: Arc<Settings>,
    /// One permit per allowed concurrent connection.
    limit: Arc<Semaphore>,
}

impl ImapProxy {
    /// Loads TLS material and binds the listen address.
    pub async fn bind(config: ImapProxyConfig, archive: Archive) -> Result<ImapProxy, ProxyError> {
        let name = config.name.clone();
        let address = config.listen;
        let limit = Arc::new(Semaphore::new(config.max_connections.max(1)));
        let settings = Settings::new(config, archive).map_err(|source| ProxyError::Tls {
            name: name.clone(),
            source,
        })?;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| ProxyError::Bind {
                name,
                address,
                source,
            })?;
        Ok(ImapProxy {
            listener,
            settings: Arc::new(settings),
            limit,
        })
    }

    /// The bound address (the real port when the config said port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts clients until `shutdown.token` is cancelled; sessions run on
    /// `shutdown.tracker`, say `* BYE` at their next response boundary and
    /// let archive commits in flight finish.
    pub async fn serve(self, shutdown: Shutdown) {
        let name = self.settings.config.name.clone();
        tracing::info!(listener = %name, address = ?self.local_addr().ok(), "imap proxy listening");
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = shutdown.token.cancelled() => break,
            };
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off, go on.
                    tracing::warn!(listener = %name, %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let span = tracing::info_span!("imap", listener = %name, %peer);
            let Ok(permit) = self.limit.clone().try_acquire_owned() else {
                tracing::warn!(parent: &span, "connection limit reached; refused");
                shutdown.tracker.spawn(async move {
                    let mut tcp = tcp;
                    let _ = tcp.write_all(reply::BYE_LIMIT).await;
                    let _ = tcp.shutdown().await;
                });
                continue;
            };
            let settings = self.settings.clone();
            let (token, tracker) = (shutdown.token.clone(), shutdown.tracker.clone());
            let session = async move {
                if let Err(error) = session::serve(settings, tcp, peer, token, tracker).await {
                    tracing::warn!(%error, "session failed");
                }
                drop(permit);
            };
            shutdown.tracker.spawn(session.instrument(span));
        }
        tracing::info!(listener = %name, "imap proxy stopped accepting");
    }
}
