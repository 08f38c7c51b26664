//! Inline interception, for every proxy: the listening socket nftables
//! hands connections to, where each connection was headed, whether it may
//! go there, and the upstream socket that takes it there.
//!
//! ```text
//!  client ──> gateway (nftables redirect / tproxy) ──> proxy listener
//!                                                         │ Interceptor::route
//!                       original destination  <───────────┘  (allow-list, loop check)
//!                                │
//!                  Destination::connect (from the client's address under TPROXY)
//!                                v
//!                          the real server
//! ```
//!
//! A proxy with `intercept` set binds through [`bind`], asks
//! [`Interceptor::route`] for each accepted socket, and connects its
//! upstream leg with [`Destination::connect`]; a refused connection gets
//! its protocol's refusal and is closed. Nothing here knows a protocol:
//! the SMTP, IMAP and POP3 proxies use it the same way.
//!
//! TLS on an intercepted connection ([`TlsPolicy`]) is terminated with
//! the certificate that belongs to its destination, minted by a local CA,
//! refused, or relayed blind ([`relay_blind`]), as the listener says.
//!
//! The socket options come from socket2 (`SO_ORIGINAL_DST`,
//! `IP6T_SO_ORIGINAL_DST`, `IP_TRANSPARENT`, `IPV6_TRANSPARENT`); this
//! module has no `unsafe` of its own.

pub mod host;
mod original;
#[cfg(test)]
mod tests;
mod tls;

pub use tls::{Decision, TlsPolicy, peek_sni, relay_blind};

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};

use socket2::SockRef;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::archive::record::Interception;
use crate::config::{Intercept, InterceptMode};
use crate::metrics::{self, ErrorKind};
use crate::transport::Stream;

/// Pending connections the kernel keeps for a listener (tokio's default).
const BACKLOG: u32 = 1024;

/// Why an intercepted connection is not relayed.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The original destination could not be read (no connection-tracking
    /// entry: the connection was not redirected).
    #[error("original destination unknown: {0}")]
    Unknown(io::Error),
    /// The destination is outside `intercept_destinations`.
    #[error("destination {0} is not in intercept_destinations")]
    NotAllowed(SocketAddr),
    /// The destination is this machine: relaying would reach mailseal (or
    /// another local service) through itself.
    #[error("destination {0} is this machine (loop)")]
    Loop(SocketAddr),
}

/// Where one intercepted connection's upstream leg goes, and from where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destination {
    /// The address the client connected to.
    pub addr: SocketAddr,
    /// The client's address, to connect from (TPROXY with
    /// `intercept_bind_client`); `None` connects from the gateway's own.
    pub source: Option<IpAddr>,
    /// How the connection was handed to mailseal, for the record.
    pub mode: InterceptMode,
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.addr.fmt(f)
    }
}

impl Destination {
    /// What a message record says about this interception.
    pub fn record(&self) -> Interception {
        Interception {
            mode: match self.mode {
                InterceptMode::Redirect => "redirect",
                InterceptMode::Tproxy => "tproxy",
            }
            .to_owned(),
            destination: self.addr.to_string(),
            from_client: self.source.is_some(),
        }
    }

    /// Connects to the destination (from the client's address when set),
    /// with Nagle off like every other upstream connection.
    pub async fn connect(&self) -> io::Result<Stream> {
        let socket = match self.addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        if let Some(source) = self.source {
            transparent(&SockRef::from(&socket), self.addr)?;
            socket.bind(SocketAddr::new(source, 0))?;
        }
        let tcp = socket.connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        Ok(Stream::tcp(tcp))
    }
}

/// Binds a proxy's listening socket: transparent under TPROXY, so the
/// kernel delivers connections for foreign addresses to it.
pub fn bind(addr: SocketAddr, mode: InterceptMode) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    if mode == InterceptMode::Tproxy {
        transparent(&SockRef::from(&socket), addr)?;
    }
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// `IP_TRANSPARENT` or `IPV6_TRANSPARENT`, as the address family needs
/// (`CAP_NET_ADMIN`).
fn transparent(socket: &SockRef<'_>, addr: SocketAddr) -> io::Result<()> {
    match addr {
        SocketAddr::V4(_) => socket.set_ip_transparent_v4(true),
        SocketAddr::V6(_) => socket.set_ip_transparent_v6(true),
    }
}

/// The interception policy of one listener.
#[derive(Debug, Clone)]
pub struct Interceptor {
    /// Mode, allow-list and whether to connect from the client's address.
    config: Intercept,
}

impl Interceptor {
    /// The policy of a configured listener.
    pub fn new(config: Intercept) -> Interceptor {
        Interceptor { config }
    }

    /// How connections reach the listener ([`bind`] needs it).
    pub fn mode(&self) -> InterceptMode {
        self.config.mode
    }

    /// Where an accepted connection from `peer` was headed, if it may go
    /// there; a refusal is logged (with the reason) and counted here, so
    /// the caller only answers in its protocol and closes.
    pub fn route(&self, tcp: &TcpStream, peer: SocketAddr) -> Result<Destination, Refusal> {
        let routed = self.check(tcp, peer);
        match &routed {
            Ok(destination) => tracing::info!(%destination, "intercepted"),
            Err(refusal) => {
                metrics::error(ErrorKind::Refused);
                tracing::warn!(%refusal, "intercept-refused");
            }
        }
        routed
    }

    fn check(&self, tcp: &TcpStream, peer: SocketAddr) -> Result<Destination, Refusal> {
        let addr = match self.config.mode {
            InterceptMode::Redirect => original::redirected(tcp),
            InterceptMode::Tproxy => original::tproxied(tcp),
        }
        .map_err(Refusal::Unknown)?;
        if original::is_this_machine(addr.ip()) {
            return Err(Refusal::Loop(addr));
        }
        if !self.config.allows(addr) {
            return Err(Refusal::NotAllowed(addr));
        }
        let source = self.config.bind_client.then(|| peer.ip().to_canonical());
        Ok(Destination {
            addr,
            source,
            mode: self.config.mode,
        })
    }
}
