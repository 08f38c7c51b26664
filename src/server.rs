//! Listening sockets, accept loops and connection limits: what every
//! protocol's listener shares. Nothing here knows a protocol; a protocol
//! binds a [`Listener`] and gives it a handler for one connection (SMTP:
//! [`crate::smtp::listener`]).
//!
//! Each accept loop runs on its generation's `acceptors` and stops
//! accepting when `accepting` is cancelled (a stop or a reload), dropping
//! its socket; each connection runs as its own task on the daemon's
//! tracker, in a `tracing` span carrying the listener name and the peer,
//! holding one permit of the listener's connection limit and counted in
//! `mailseal_connections_open`. A client over the limit gets the refusal
//! its protocol gave at bind time (SMTP: `421 4.7.0`) and is closed without
//! a session.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::timeout;
use tracing::{Instrument, info, info_span, warn};

use crate::metrics::{self, ErrorKind};
use crate::shutdown::Shutdown;

/// How long writing the over-limit refusal may take.
const BUSY_WRITE: Duration = Duration::from_secs(5);

/// A listen address could not be bound (in use, no permission).
#[derive(Debug, thiserror::Error)]
#[error("listener {name}: cannot listen on {addr}: {source}")]
pub struct BindError {
    /// The listener's name.
    name: String,
    /// The configured address.
    addr: SocketAddr,
    /// What the OS said.
    source: io::Error,
}

impl BindError {
    /// Listener `name` could not use `addr`.
    pub fn new(name: &str, addr: SocketAddr, source: io::Error) -> BindError {
        BindError {
            name: name.to_owned(),
            addr,
            source,
        }
    }
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
    ) -> Result<Listener, BindError> {
        let tcp = TcpListener::bind(addr)
            .await
            .map_err(|source| BindError::new(name, addr, source))?;
        Ok(Listener::from_tcp(name, tcp, max_connections, busy))
    }

    /// A listener on a socket bound elsewhere (an intercepting proxy's
    /// transparent socket, [`crate::intercept::bind`]).
    pub fn from_tcp(
        name: &str,
        tcp: TcpListener,
        max_connections: usize,
        busy: Option<&'static [u8]>,
    ) -> Listener {
        Listener {
            name: name.to_owned(),
            tcp,
            limit: Arc::new(Semaphore::new(max_connections.max(1))),
            max_connections,
            busy,
        }
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
            .acceptors
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
                () = shutdown.accepting.cancelled() => break,
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
