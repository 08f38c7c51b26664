//! The POP3 proxy, with I/O: a `[[pop3_proxy]]` listener ([`Pop3Proxy`])
//! binds a protocol-neutral [`Listener`] (accept loop, connection limit,
//! one span per connection, shutdown) and runs one [`session`] per client.
//! With `intercept` set, the listener takes the connections nftables hands
//! it, and each goes to its original destination if [`Interceptor::route`]
//! lets it (a refused client gets `-ERR` and is closed).
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

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use crate::archive::Archive;
use crate::config::{Pop3ProxyConfig, TlsMode};
use crate::intercept::{self, Destination, Interceptor, TlsPolicy};
use crate::pop3::reply;
use crate::pop3::upstream::{CONNECT_TIMEOUT, Upstream};
use crate::server::{BindError, Listener};
use crate::shutdown::Shutdown;
use crate::tls::TlsError;
use crate::transport::Stream;
use session::ClientLegTls;

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
    /// The real POP3 server (for an intercepting listener: its TLS
    /// settings, aimed at each connection's destination).
    pub upstream: Arc<Upstream>,
    /// Routes each connection to its original destination, when the
    /// listener intercepts.
    pub interceptor: Option<Interceptor>,
    /// Certificates per destination, for an intercepting listener that
    /// speaks TLS with its clients.
    pub tls_policy: Option<Arc<TlsPolicy>>,
}

impl Settings {
    /// Loads certificates and builds the TLS setups of both legs.
    pub fn new(config: Pop3ProxyConfig, archive: Archive) -> Result<Settings, TlsError> {
        let server_tls = config.tls.server_config()?;
        let upstream = Arc::new(Upstream::new(&config)?);
        let intercept = config.upstream.address.intercept();
        let interceptor = intercept.map(|intercept| Interceptor::new(intercept.clone()));
        let tls_policy =
            match intercept {
                Some(intercept) if config.tls.mode != TlsMode::None => Some(Arc::new(
                    TlsPolicy::new(&config.name, &intercept.tls, config.tls.files.as_ref())?,
                )),
                _ => None,
            };
        Ok(Settings {
            config,
            archive,
            server_tls,
            upstream,
            interceptor,
            tls_policy,
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
        let (name, listen, max) = (&config.name, config.listen, config.max_connections);
        let listener = match &settings.interceptor {
            Some(interceptor) => {
                let tcp = intercept::bind(listen, interceptor.mode())
                    .map_err(|source| BindError::new(name, listen, source))?;
                Listener::from_tcp(name, tcp, max, busy)
            }
            None => Listener::bind(name, listen, max, busy).await?,
        };
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
                let routed = match &settings.interceptor {
                    None => Some((
                        settings.upstream.clone(),
                        ClientLegTls::Config(settings.server_tls.clone()),
                        tcp,
                    )),
                    Some(interceptor) => match interceptor.route(&tcp, peer) {
                        Ok(destination) => intercepted(&settings, destination, tcp).await,
                        Err(_) => {
                            let implicit = settings.config.tls.mode == TlsMode::Implicit;
                            return refuse(tcp, implicit).await;
                        }
                    },
                };
                // None: refused before the handshake, or relayed blind.
                let Some((upstream, tls, tcp)) = routed else {
                    return;
                };
                let client = Stream::tcp(tcp);
                let served = session::serve(settings, upstream, tls, client, peer, token);
                if let Err(error) = served.await {
                    tracing::warn!(%error, "session failed");
                }
            }
        });
    }
}

/// The upstream and client-leg TLS of an intercepted connection: its
/// destination's certificate (implicit TLS decides on the ClientHello's
/// SNI; STLS when the client asks), or `None` once it was refused or
/// relayed blind.
async fn intercepted(
    settings: &Settings,
    destination: Destination,
    tcp: TcpStream,
) -> Option<(Arc<Upstream>, ClientLegTls, TcpStream)> {
    let toward = |name| Arc::new(settings.upstream.toward(destination).named(name));
    let Some(policy) = &settings.tls_policy else {
        let tls = ClientLegTls::Config(settings.server_tls.clone());
        return Some((toward(None), tls, tcp));
    };
    if settings.config.tls.mode != TlsMode::Implicit {
        let name = policy.upstream_name(&destination);
        let tls = ClientLegTls::PerDestination(policy.clone(), destination);
        return Some((toward(name), tls, tcp));
    }
    let (tcp, config, name) = policy
        .implicit(tcp, &destination, CONNECT_TIMEOUT, CONNECT_TIMEOUT)
        .await?;
    Some((toward(name), ClientLegTls::Config(Some(config)), tcp))
}

/// Closes an intercepted connection that may not pass, with `-ERR`
/// unless the port speaks TLS from the first byte. The connection never
/// reached a server, so there is nothing to delete or keep.
async fn refuse(mut tcp: TcpStream, implicit_tls: bool) {
    if !implicit_tls {
        let _ = tcp.write_all(reply::REFUSED).await;
    }
    let _ = tcp.shutdown().await;
}
