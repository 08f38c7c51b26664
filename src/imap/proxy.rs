//! The IMAP proxy, with I/O: an `[[imap_proxy]]` listener ([`ImapProxy`])
//! binds, accepts, enforces the connection limit and runs one [`session`]
//! per client, each in its own tracing span, until the shutdown token is
//! cancelled.
//!
//! A session connects to the real server through
//! [`crate::imap::upstream`] and relays both directions at once: the client
//! leg (`client_leg`: commands, STARTTLS, APPEND literals) and the server
//! leg (`server_leg`: responses, capability lists, FETCH literals, the
//! proxy's own lines). What the legs share lives in [`shared`], below both,
//! so neither leg depends on the session or on the other leg. Whole
//! messages go through [`capture`] to the archive; partial fetches are
//! completed by the [`completer`] over its own upstream connection.
//!
//! Each module uses only those to its right (and the protocol pieces):
//!
//! ```text
//!  proxy ─> session ─> client_leg, server_leg ─> shared ─> completer ─> capture
//! ```

pub mod capture;
mod client_leg;
pub mod completer;
mod server_leg;
pub mod session;
pub mod shared;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use crate::archive::Archive;
use crate::config::{ImapProxyConfig, TlsMode};
use crate::imap::reply;
use crate::intercept::{self, Destination, Interceptor, TlsPolicy};
use crate::shutdown::Shutdown;
use crate::tls::TlsError;
use crate::transport::Stream;

use crate::imap::upstream::Upstream;
use shared::Settings;

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
    /// Routes each connection to its original destination, when the
    /// listener intercepts.
    interceptor: Option<Interceptor>,
    /// Certificates per destination, for an intercepting listener that
    /// speaks TLS with its clients.
    tls_policy: Option<Arc<TlsPolicy>>,
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
        let interceptor = settings
            .config
            .upstream
            .address
            .intercept()
            .map(|intercept| Interceptor::new(intercept.clone()));
        let intercept = settings.config.upstream.address.intercept();
        let tls_policy = match intercept {
            Some(intercept) if settings.config.tls.mode != TlsMode::None => {
                let files = settings.config.tls.files.as_ref();
                let policy = TlsPolicy::new(&settings.config.name, &intercept.tls, files);
                let policy = policy.map_err(|source| ProxyError::Tls {
                    name: name.clone(),
                    source,
                })?;
                Some(Arc::new(policy))
            }
            _ => None,
        };
        let bound = match &interceptor {
            Some(interceptor) => intercept::bind(address, interceptor.mode()),
            None => TcpListener::bind(address).await,
        };
        let listener = bound.map_err(|source| ProxyError::Bind {
            name,
            address,
            source,
        })?;
        Ok(ImapProxy {
            listener,
            interceptor,
            tls_policy,
            settings: Arc::new(settings),
            limit,
        })
    }

    /// The bound address (the real port when the config said port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts clients until `shutdown.accepting` is cancelled (a stop or
    /// a reload); sessions run on
    /// `shutdown.tracker`, say `* BYE` at their next response boundary and
    /// let archive commits in flight finish.
    pub async fn serve(self, shutdown: Shutdown) {
        let name = self.settings.config.name.clone();
        tracing::info!(listener = %name, address = ?self.local_addr().ok(), "imap proxy listening");
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = shutdown.accepting.cancelled() => break,
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
            let destination = match &self.interceptor {
                None => None,
                Some(interceptor) => match span.in_scope(|| interceptor.route(&tcp, peer)) {
                    Ok(destination) => Some(destination),
                    Err(_) => {
                        let implicit = self.settings.config.tls.mode == TlsMode::Implicit;
                        shutdown.tracker.spawn(refuse(tcp, implicit));
                        continue;
                    }
                },
            };
            let settings = self.settings.clone();
            let policy = self.tls_policy.clone();
            let (token, tracker) = (shutdown.token.clone(), shutdown.tracker.clone());
            let session = async move {
                let routed = match destination {
                    None => Some((settings.upstream.clone(), settings.server_tls.clone(), tcp)),
                    Some(destination) => intercepted(&settings, policy, destination, tcp).await,
                };
                // None: refused before the handshake, or relayed blind.
                let Some((upstream, server_tls, tcp)) = routed else {
                    drop(permit);
                    return;
                };
                let client = Stream::tcp(tcp);
                let served =
                    session::serve_to(settings, upstream, server_tls, client, peer, token, tracker);
                if let Err(error) = served.await {
                    tracing::warn!(%error, "session failed");
                }
                drop(permit);
            };
            shutdown.tracker.spawn(session.instrument(span));
        }
        tracing::info!(listener = %name, "imap proxy stopped accepting");
    }
}

/// The server and client-leg TLS of an intercepted connection: its
/// destination's certificate (implicit TLS decides on the ClientHello's
/// SNI; STARTTLS picks during the handshake), or `None` once it was
/// refused or relayed blind.
async fn intercepted(
    settings: &Settings,
    policy: Option<Arc<TlsPolicy>>,
    destination: Destination,
    tcp: TcpStream,
) -> Option<(Arc<Upstream>, Option<Arc<rustls::ServerConfig>>, TcpStream)> {
    let toward = |name| Some(Arc::new(settings.upstream.toward(destination).named(name)));
    let Some(policy) = policy else {
        return Some((toward(None)?, settings.server_tls.clone(), tcp));
    };
    if settings.config.tls.mode != TlsMode::Implicit {
        let name = policy.upstream_name(&destination);
        let server_tls = policy.for_destination(&destination).ok();
        return Some((toward(name)?, server_tls, tcp));
    }
    let (tcp, config, name) = policy
        .implicit(tcp, &destination, BLIND_CONNECT, BLIND_CONNECT)
        .await?;
    Some((toward(name)?, Some(config), tcp))
}

/// Connecting to an intercepted destination for a blind relay, and
/// waiting for an intercepted client's ClientHello.
const BLIND_CONNECT: Duration = Duration::from_secs(30);

/// Closes an intercepted connection that may not pass, with a `* BYE`
/// unless the port speaks TLS from the first byte.
async fn refuse(mut tcp: TcpStream, implicit_tls: bool) {
    if !implicit_tls {
        let _ = tcp.write_all(reply::BYE_REFUSED).await;
    }
    let _ = tcp.shutdown().await;
}
