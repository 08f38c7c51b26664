//! Listeners, accept loops and connection limits.
//!
//! [`start`] binds every configured listener before serving any, so a
//! port that cannot be bound stops the daemon at start with an error that
//! names the listener. Each accept loop runs on the shutdown tracker and
//! stops accepting when the token is cancelled; each connection runs as its
//! own task on the tracker, in a `tracing` span carrying the listener name
//! and the peer, holding one permit of the listener's connection limit.
//! A client over the limit gets the protocol's refusal (SMTP:
//! `421 4.7.0`) and is closed without a session.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use crate::archive::Archive;
use crate::config::{Config, JournalConfig, SmtpProxyConfig, TlsMode};
use crate::imap::proxy::{ImapProxy, ProxyError};
use crate::metrics::{self, ErrorKind};
use crate::shutdown::Shutdown;
use crate::smtp::journal::JournalListener;
use crate::smtp::proxy::ProxyListener;
use crate::tls::TlsError;

/// What an SMTP client over the connection limit is told.
pub const SMTP_BUSY: &[u8] = b"421 4.7.0 too many connections, try again later\r\n";

/// How long writing the over-limit refusal may take.
const BUSY_WRITE: Duration = Duration::from_secs(5);

/// Why listeners could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("listener {name}: cannot listen on {addr}: {source}")]
    Bind {
        /// The listener's name.
        name: String,
        /// The configured address.
        addr: SocketAddr,
        /// The cause.
        source: io::Error,
    },
    /// The listener's certificate or key could not be loaded.
    #[error("listener {name}: {source}")]
    Tls {
        /// The listener's name.
        name: String,
        /// The cause.
        source: TlsError,
    },
    /// An IMAP proxy listener could not start.
    #[error(transparent)]
    Imap(#[from] ProxyError),
    /// A configured kind of listener is not available in this build.
    #[error("listener {name}: {kind} listeners are not available in this build")]
    Unavailable {
        /// The listener's name.
        name: String,
        /// The section, for example `smtp_proxy`.
        kind: &'static str,
    },
}

/// A bound listening socket with its connection limit.
pub struct Listener {
    /// The listener's configured name, for logs and metrics.
    name: String,
    /// The socket.
    tcp: TcpListener,
    /// One permit per allowed concurrent connection.
    limit: Arc<Semaphore>,
    /// The configured limit, for the log.
    max_connections: usize,
    /// Written to a client over the limit before closing; `None` on
    /// implicit-TLS ports, where plain text would be garbage.
    busy: Option<&'static [u8]>,
}

impl Listener {
    /// Binds `addr` for listener `name`.
    pub async fn bind(
        name: &str,
        addr: SocketAddr,
        max_connections: usize,
        busy: Option<&'static [u8]>,
    ) -> Result<Listener, ServerError> {
        let tcp = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind {
                name: name.to_owned(),
                addr,
                source,
            })?;
        Ok(Listener {
            name: name.to_owned(),
            tcp,
            limit: Arc::new(Semaphore::new(max_connections.max(1))),
            max_connections,
            busy,
        })
    }

    /// The bound address (the real port when the config said port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Starts the accept loop on the shutdown tracker; `handler` serves
    /// one connection.
    pub fn serve<H, F>(self, shutdown: &Shutdown, handler: H)
    where
        H: Fn(TcpStream, SocketAddr) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let shutdown_handles = shutdown.clone();
        shutdown
            .tracker
            .spawn(self.accept_loop(shutdown_handles, handler));
    }

    async fn accept_loop<H, F>(self, shutdown: Shutdown, handler: H)
    where
        H: Fn(TcpStream, SocketAddr) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        info!(listener = %self.name, addr = ?self.local_addr().ok(), "listening");
        loop {
            let accepted = tokio::select! {
                biased;
                () = shutdown.token.cancelled() => break,
                accepted = self.tcp.accept() => accepted,
            };
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off, go on.
                    warn!(listener = %self.name, %error, "accept-failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let span = info_span!("conn", listener = %self.name, %peer);
            match self.limit.clone().try_acquire_owned() {
                Ok(permit) => {
                    let name = self.name.clone();
                    let session = handler(tcp, peer);
                    let task = async move {
                        let _open = metrics::connection_opened(&name);
                        session.await;
                        drop(permit);
                    };
                    shutdown.tracker.spawn(task.instrument(span));
                }
                Err(_) => {
                    warn!(parent: &span, limit = self.max_connections, "connection-limit");
                    metrics::error(ErrorKind::Refused);
                    shutdown.tracker.spawn(refuse(tcp, self.busy));
                }
            }
        }
        info!(listener = %self.name, "stopped accepting");
    }
}

/// Tells a client over the limit to come back later, then closes.
async fn refuse(mut tcp: TcpStream, busy: Option<&'static [u8]>) {
    if let Some(reply) = busy {
        let _ = timeout(BUSY_WRITE, tcp.write_all(reply)).await;
    }
    let _ = timeout(BUSY_WRITE, tcp.shutdown()).await;
}

/// Binds every configured listener, then starts their accept loops.
pub async fn start(
    config: &Config,
    archive: &Archive,
    shutdown: &Shutdown,
) -> Result<(), ServerError> {
    let mut proxies = Vec::with_capacity(config.smtp_proxy.len());
    for proxy in &config.smtp_proxy {
        proxies.push(bind_smtp_proxy(proxy, archive).await?);
    }
    let mut journals = Vec::with_capacity(config.journal.len());
    for journal in &config.journal {
        journals.push(bind_journal(journal, archive).await?);
    }
    let mut imap = Vec::with_capacity(config.imap_proxy.len());
    for proxy in &config.imap_proxy {
        imap.push(ImapProxy::bind(proxy.clone(), archive.clone()).await?);
    }
    for (listener, proxy) in proxies {
        serve_smtp(listener, proxy, shutdown);
    }
    for (listener, journal) in journals {
        serve_smtp(listener, journal, shutdown);
    }
    for proxy in imap {
        shutdown.tracker.spawn(proxy.serve(shutdown.clone()));
    }
    Ok(())
}

/// A per-connection SMTP handler: the journal or the proxy.
trait SmtpService: Send + Sync + 'static {
    /// Serves one accepted connection until it ends or `shutdown` fires.
    fn handle(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        shutdown: CancellationToken,
    ) -> impl Future<Output = ()> + Send;
}

impl SmtpService for JournalListener {
    fn handle(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        shutdown: CancellationToken,
    ) -> impl Future<Output = ()> + Send {
        JournalListener::handle(self, tcp, peer, shutdown)
    }
}

impl SmtpService for ProxyListener {
    fn handle(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        shutdown: CancellationToken,
    ) -> impl Future<Output = ()> + Send {
        ProxyListener::handle(self, tcp, peer, shutdown)
    }
}

/// Binds and starts one journal listener; returns its bound address.
pub async fn start_journal(
    config: &JournalConfig,
    archive: &Archive,
    shutdown: &Shutdown,
) -> Result<SocketAddr, ServerError> {
    let (listener, journal) = bind_journal(config, archive).await?;
    let addr = bound_addr(&listener, &config.name, config.listen)?;
    serve_smtp(listener, journal, shutdown);
    Ok(addr)
}

/// Binds and starts one SMTP proxy listener; returns its bound address.
pub async fn start_smtp_proxy(
    config: &SmtpProxyConfig,
    archive: &Archive,
    shutdown: &Shutdown,
) -> Result<SocketAddr, ServerError> {
    let (listener, proxy) = bind_smtp_proxy(config, archive).await?;
    let addr = bound_addr(&listener, &config.name, config.listen)?;
    serve_smtp(listener, proxy, shutdown);
    Ok(addr)
}

// Built once at start-up; its size does not matter.
#[allow(clippy::result_large_err)]
fn bound_addr(
    listener: &Listener,
    name: &str,
    listen: SocketAddr,
) -> Result<SocketAddr, ServerError> {
    listener.local_addr().map_err(|source| ServerError::Bind {
        name: name.to_string(),
        addr: listen,
        source,
    })
}

/// Binds an SMTP port; implicit-TLS ports refuse busy clients by closing.
async fn bind_smtp(
    name: &str,
    listen: SocketAddr,
    max_connections: usize,
    tls_mode: TlsMode,
) -> Result<Listener, ServerError> {
    let busy = (tls_mode != TlsMode::Implicit).then_some(SMTP_BUSY);
    Listener::bind(name, listen, max_connections, busy).await
}

async fn bind_journal(
    config: &JournalConfig,
    archive: &Archive,
) -> Result<(Listener, Arc<JournalListener>), ServerError> {
    let journal =
        JournalListener::new(config, archive.clone()).map_err(|source| ServerError::Tls {
            name: config.name.clone(),
            source,
        })?;
    let listener = bind_smtp(
        &config.name,
        config.listen,
        config.max_connections,
        config.tls.mode,
    )
    .await?;
    Ok((listener, Arc::new(journal)))
}

async fn bind_smtp_proxy(
    config: &SmtpProxyConfig,
    archive: &Archive,
) -> Result<(Listener, Arc<ProxyListener>), ServerError> {
    let proxy = ProxyListener::new(config, archive.clone()).map_err(|source| ServerError::Tls {
        name: config.name.clone(),
        source,
    })?;
    let listener = bind_smtp(
        &config.name,
        config.listen,
        config.max_connections,
        config.tls.mode,
    )
    .await?;
    Ok((listener, Arc::new(proxy)))
}

fn serve_smtp<S: SmtpService>(listener: Listener, service: Arc<S>, shutdown: &Shutdown) {
    let token = shutdown.token.clone();
    listener.serve(shutdown, move |tcp, peer| {
        let service = service.clone();
        let token = token.clone();
        async move { service.handle(tcp, peer, token).await }
    });
}
