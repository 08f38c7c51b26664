//! The SMTP ports: a `[[journal]]` or `[[smtp_proxy]]` listener binds a
//! protocol-neutral [`Listener`] (accept loop, connection limit, one span
//! per connection) and hands every accepted connection to its
//! [`JournalListener`] or [`ProxyListener`].
//!
//! Binding and serving are two steps, so the daemon binds every port before
//! it serves any: a port that cannot be bound, or a certificate that cannot
//! be loaded, stops it at start with an error naming the listener.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::journal::JournalListener;
use super::proxy::ProxyListener;
use crate::archive::Archive;
use crate::config::{JournalConfig, SmtpProxyConfig, TlsMode};
use crate::intercept;
use crate::server::{BindError, Listener};
use crate::shutdown::Shutdown;
use crate::tls::TlsError;

/// What an SMTP client over the connection limit is told.
pub const BUSY: &[u8] = b"421 4.7.0 too many connections, try again later\r\n";

/// Why an SMTP listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenerError {
    /// The listen address could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// The listener's certificate or key could not be loaded.
    #[error("listener {name}: {source}")]
    Tls {
        /// The listener's name.
        name: String,
        /// The cause.
        source: TlsError,
    },
}

/// What serves the connections of one port.
enum Service {
    /// A `[[journal]]` listener: archives locally.
    Journal(JournalListener),
    /// An `[[smtp_proxy]]` listener: relays to its upstream.
    Proxy(ProxyListener),
}

impl Service {
    /// Serves one accepted connection until it ends or `shutdown` fires.
    async fn handle(&self, tcp: TcpStream, peer: SocketAddr, shutdown: CancellationToken) {
        match self {
            Service::Journal(journal) => journal.handle(tcp, peer, shutdown).await,
            Service::Proxy(proxy) => proxy.handle(tcp, peer, shutdown).await,
        }
    }
}

/// A bound SMTP port with what serves it, not yet accepting.
pub struct SmtpListener {
    /// The socket, its connection limit and accept loop.
    listener: Listener,
    /// Shared by every connection's task.
    service: Arc<Service>,
}

impl SmtpListener {
    /// Loads a journal listener's TLS files and binds its port.
    pub async fn journal(
        config: &JournalConfig,
        archive: &Archive,
    ) -> Result<SmtpListener, ListenerError> {
        let journal = JournalListener::new(config, archive.clone())
            .map_err(|source| tls_error(&config.name, source))?;
        let listener = bind(
            &config.name,
            config.listen,
            config.max_connections,
            config.tls.mode,
        )
        .await?;
        Ok(SmtpListener {
            listener,
            service: Arc::new(Service::Journal(journal)),
        })
    }

    /// Loads an SMTP proxy's TLS files and trust roots and binds its port.
    pub async fn proxy(
        config: &SmtpProxyConfig,
        archive: &Archive,
    ) -> Result<SmtpListener, ListenerError> {
        let proxy = ProxyListener::new(config, archive.clone())
            .map_err(|source| tls_error(&config.name, source))?;
        let listener = match config.upstream.address.intercept() {
            Some(intercept) => {
                let tcp = intercept::bind(config.listen, intercept.mode)
                    .map_err(|source| BindError::new(&config.name, config.listen, source))?;
                let busy = (config.tls.mode != TlsMode::Implicit).then_some(BUSY);
                Listener::from_tcp(&config.name, tcp, config.max_connections, busy)
            }
            None => {
                bind(
                    &config.name,
                    config.listen,
                    config.max_connections,
                    config.tls.mode,
                )
                .await?
            }
        };
        Ok(SmtpListener {
            listener,
            service: Arc::new(Service::Proxy(proxy)),
        })
    }

    /// The bound address (the real port when the config said port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts accepting on the shutdown tracker.
    pub fn serve(self, shutdown: &Shutdown) {
        let service = self.service;
        let token = shutdown.token.clone();
        self.listener.serve(shutdown, move |tcp, peer| {
            let service = service.clone();
            let token = token.clone();
            async move { service.handle(tcp, peer, token).await }
        });
    }
}

/// Binds and starts one journal listener; returns its bound address.
pub async fn start_journal(
    config: &JournalConfig,
    archive: &Archive,
    shutdown: &Shutdown,
) -> Result<SocketAddr, ListenerError> {
    let listener = SmtpListener::journal(config, archive).await?;
    start(listener, &config.name, config.listen, shutdown)
}

/// Binds and starts one SMTP proxy listener; returns its bound address.
pub async fn start_proxy(
    config: &SmtpProxyConfig,
    archive: &Archive,
    shutdown: &Shutdown,
) -> Result<SocketAddr, ListenerError> {
    let listener = SmtpListener::proxy(config, archive).await?;
    start(listener, &config.name, config.listen, shutdown)
}

// Called once per listener at start-up; the error's size does not matter.
#[allow(clippy::result_large_err)]
fn start(
    listener: SmtpListener,
    name: &str,
    listen: SocketAddr,
    shutdown: &Shutdown,
) -> Result<SocketAddr, ListenerError> {
    let addr = listener
        .local_addr()
        .map_err(|source| BindError::new(name, listen, source))?;
    listener.serve(shutdown);
    Ok(addr)
}

/// Binds an SMTP port; implicit-TLS ports refuse busy clients by closing,
/// since a plain-text reply there would be garbage to the client.
async fn bind(
    name: &str,
    listen: SocketAddr,
    max_connections: usize,
    tls_mode: TlsMode,
) -> Result<Listener, BindError> {
    let busy = (tls_mode != TlsMode::Implicit).then_some(BUSY);
    Listener::bind(name, listen, max_connections, busy).await
}

fn tls_error(name: &str, source: TlsError) -> ListenerError {
    ListenerError::Tls {
        name: name.to_owned(),
        source,
    }
}
