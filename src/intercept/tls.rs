//! TLS on intercepted connections: which certificate the client leg
//! presents for a destination, and what happens when there is none.
//!
//! ```text
//!  implicit TLS (465, 993, 995): peek the ClientHello ── TlsPolicy::at_hello(destination, SNI)
//!  STARTTLS / STLS:  the client asks ───────────────────── TlsPolicy::at_starttls(destination)
//!                                                │
//!          Terminate (an entry by SNI or address, tls_cert, or minted) │ Refuse │ Blind
//! ```
//!
//! A certificate entry is chosen by the name the client asks for (SNI)
//! when one matches (and the destination is one of the entry's, if it
//! lists any), else by the original destination's address; then the
//! listener's own `tls_cert` if it has one; then `intercept_unknown_tls`.
//! The handshake itself picks through [`ForDestination`], a rustls
//! [`ResolvesServerCert`] bound to one connection's destination, so
//! STARTTLS, whose SNI arrives only after the decision, uses the same
//! choice as implicit TLS.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use super::Destination;
use crate::config::{InterceptCertificate, InterceptTls, TlsFiles, UnknownTls};
use crate::metrics;
use crate::tls::{self, Hello, MintingCa, TlsError};

/// Largest ClientHello read before deciding (they are a few kB at most).
const MAX_HELLO: usize = 16 * 1024;

/// What to do with a client that wants TLS towards a destination.
pub enum Decision {
    /// Terminate TLS with `config`; the upstream leg checks
    /// `upstream_name` (`None`: the listener's `upstream_tls_name`).
    Terminate {
        /// Server configuration bound to this connection's destination.
        config: Arc<rustls::ServerConfig>,
        /// The name the real server's certificate must carry.
        upstream_name: Option<ServerName<'static>>,
    },
    /// No certificate for this destination: refuse; nothing passes.
    Refuse,
    /// Relay the connection blind (`pass-unarchived`).
    Blind,
}

/// One certificate entry, loaded.
struct Entry {
    /// The entry as configured (destinations and names).
    config: InterceptCertificate,
    /// Its certificate chain and key.
    key: Arc<CertifiedKey>,
    /// The first name that is no wildcard: what the upstream must carry.
    upstream_name: Option<ServerName<'static>>,
}

/// What happens for a destination without a certificate, loaded.
enum Unknown {
    /// `refuse`.
    Refuse,
    /// `mint`, with the local CA.
    Mint(Box<MintingCa>),
    /// `pass-unarchived`.
    Blind,
}

/// How one certificate is found for a destination and name.
enum Pick<'a> {
    /// A configured entry.
    Entry(&'a Entry),
    /// The listener's `tls_cert`.
    Fallback(&'a Arc<CertifiedKey>),
    /// None configured; `intercept_unknown_tls` decides.
    Unknown,
}

/// The TLS policy of one intercepting listener.
pub struct TlsPolicy {
    /// Shared with every connection's [`ForDestination`].
    inner: Arc<Inner>,
}

/// The loaded policy.
struct Inner {
    /// The listener's name, for logs and metrics.
    listener: String,
    /// Certificates per destination and name.
    entries: Vec<Entry>,
    /// The listener's own `tls_cert`, serving every other destination.
    fallback: Option<Arc<CertifiedKey>>,
    /// What happens otherwise.
    unknown: Unknown,
}

impl TlsPolicy {
    /// Loads the certificates (and the minting CA) of a listener;
    /// `fallback` is its `tls_cert`, if any.
    pub fn new(
        listener: &str,
        config: &InterceptTls,
        fallback: Option<&TlsFiles>,
    ) -> Result<TlsPolicy, TlsError> {
        let mut entries = Vec::new();
        for entry in &config.certificates {
            let upstream_name = entry
                .names
                .iter()
                .find(|name| !name.starts_with("*."))
                .and_then(|name| ServerName::try_from(name.clone()).ok());
            entries.push(Entry {
                key: tls::certified_key(&entry.cert, &entry.key)?,
                config: entry.clone(),
                upstream_name,
            });
        }
        let fallback = match fallback {
            Some(files) => Some(tls::certified_key(&files.cert, &files.key)?),
            None => None,
        };
        let unknown = match (config.unknown, &config.ca) {
            (UnknownTls::Mint, Some(ca)) => {
                Unknown::Mint(Box::new(MintingCa::load(&ca.cert, &ca.key)?))
            }
            (UnknownTls::PassUnarchived, _) => Unknown::Blind,
            _ => Unknown::Refuse,
        };
        let inner = Inner {
            listener: listener.to_owned(),
            entries,
            fallback,
            unknown,
        };
        Ok(TlsPolicy {
            inner: Arc::new(inner),
        })
    }

    /// A configuration that stands for the listener's STARTTLS offer;
    /// each connection's own comes from [`TlsPolicy::at_starttls`].
    pub fn offer(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        tls::resolver_config(Arc::new(ForDestination {
            inner: self.inner.clone(),
            destination: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        }))
    }

    /// The configuration that picks the certificate for `destination`
    /// during the handshake, without deciding first (the IMAP proxy's
    /// STARTTLS: a destination without one fails the handshake).
    pub fn for_destination(
        &self,
        destination: &Destination,
    ) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        tls::resolver_config(Arc::new(ForDestination {
            inner: self.inner.clone(),
            destination: destination.addr.ip(),
        }))
    }

    /// The decision for implicit TLS, once the ClientHello is read.
    pub fn at_hello(&self, destination: &Destination, sni: Option<&str>) -> Decision {
        let ip = destination.addr.ip();
        let upstream_name = match self.inner.pick(ip, sni) {
            Pick::Entry(entry) => entry.upstream_name.clone(),
            Pick::Fallback(_) => None,
            Pick::Unknown => match self.inner.unknown {
                Unknown::Mint(_) => sni.and_then(|n| ServerName::try_from(n.to_owned()).ok()),
                Unknown::Refuse => return self.refuse(destination, sni),
                Unknown::Blind => return self.blind(destination, sni),
            },
        };
        self.terminate(destination, upstream_name)
    }

    /// Implicit TLS on an intercepted connection, from its first byte:
    /// peeks the ClientHello (waiting at most `hello`) and decides. `Some`
    /// with the configuration for the handshake and the name the upstream
    /// leg checks; `None` once the connection was refused before the
    /// handshake (or sent no TLS) or relayed blind to its end (`connect`
    /// bounds reaching the destination).
    pub async fn implicit(
        &self,
        tcp: TcpStream,
        destination: &Destination,
        hello: Duration,
        connect: Duration,
    ) -> Option<(
        TcpStream,
        Arc<rustls::ServerConfig>,
        Option<ServerName<'static>>,
    )> {
        let sni = match peek_sni(&tcp, hello).await {
            Ok(sni) => sni,
            Err(error) => {
                metrics::error(metrics::ErrorKind::Tls);
                tracing::info!(%error, "tls-failed");
                return None;
            }
        };
        match self.at_hello(destination, sni.as_deref()) {
            Decision::Terminate {
                config,
                upstream_name,
            } => Some((tcp, config, upstream_name)),
            // Closed before the handshake completes.
            Decision::Refuse => None,
            Decision::Blind => {
                relay_blind(tcp, destination, connect).await;
                None
            }
        }
    }

    /// The decision when a client asks for STARTTLS (its SNI comes only
    /// with the handshake): terminate when some certificate could serve
    /// the destination.
    pub fn at_starttls(&self, destination: &Destination) -> Decision {
        let ip = destination.addr.ip();
        let by_name_only = self
            .inner
            .entries
            .iter()
            .any(|e| e.config.destinations.is_empty());
        match self.inner.pick(ip, None) {
            Pick::Entry(entry) => return self.terminate(destination, entry.upstream_name.clone()),
            Pick::Fallback(_) => return self.terminate(destination, None),
            Pick::Unknown if by_name_only => return self.terminate(destination, None),
            Pick::Unknown => {}
        }
        match self.inner.unknown {
            Unknown::Mint(_) => self.terminate(destination, None),
            // A blind relay after a STARTTLS the session has answered is
            // not possible (the validation keeps it to implicit TLS).
            Unknown::Refuse | Unknown::Blind => self.refuse(destination, None),
        }
    }

    /// The name the upstream leg checks when it connects before the
    /// client's TLS (STARTTLS): the entry for the destination's address.
    pub fn upstream_name(&self, destination: &Destination) -> Option<ServerName<'static>> {
        match self.inner.pick(destination.addr.ip(), None) {
            Pick::Entry(entry) => entry.upstream_name.clone(),
            _ => None,
        }
    }

    fn terminate(
        &self,
        destination: &Destination,
        upstream_name: Option<ServerName<'static>>,
    ) -> Decision {
        let resolver = ForDestination {
            inner: self.inner.clone(),
            destination: destination.addr.ip(),
        };
        match tls::resolver_config(Arc::new(resolver)) {
            Ok(config) => Decision::Terminate {
                config,
                upstream_name,
            },
            Err(error) => {
                tracing::warn!(%destination, %error, "intercept-tls-refused");
                Decision::Refuse
            }
        }
    }

    fn refuse(&self, destination: &Destination, sni: Option<&str>) -> Decision {
        metrics::error(metrics::ErrorKind::Tls);
        tracing::warn!(%destination, sni, "intercept-tls-refused: no certificate for this destination");
        Decision::Refuse
    }

    fn blind(&self, destination: &Destination, sni: Option<&str>) -> Decision {
        metrics::intercept_unarchived(&self.inner.listener);
        tracing::warn!(
            %destination, sni,
            "intercept-unarchived: no certificate for this destination, relaying blind; NOTHING of this connection is archived"
        );
        Decision::Blind
    }
}

impl Inner {
    fn pick(&self, ip: IpAddr, sni: Option<&str>) -> Pick<'_> {
        let listed = |e: &&Entry| e.config.destinations.iter().any(|net| net.contains(&ip));
        let by_name = sni.and_then(|name| {
            self.entries
                .iter()
                .find(|e| e.config.serves(name) && (e.config.destinations.is_empty() || listed(e)))
        });
        if let Some(entry) = by_name.or_else(|| self.entries.iter().find(listed)) {
            return Pick::Entry(entry);
        }
        match &self.fallback {
            Some(key) => Pick::Fallback(key),
            None => Pick::Unknown,
        }
    }
}

/// Picks the certificate of one connection during its handshake.
#[derive(Debug)]
struct ForDestination {
    /// The listener's policy.
    inner: Arc<Inner>,
    /// Where the connection was headed.
    destination: IpAddr,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for ForDestination {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = hello.server_name();
        match self.inner.pick(self.destination, sni) {
            Pick::Entry(entry) => Some(entry.key.clone()),
            Pick::Fallback(key) => Some(key.clone()),
            Pick::Unknown => {
                let Unknown::Mint(ca) = &self.inner.unknown else {
                    tracing::warn!(destination = %self.destination, sni, "intercept-tls-refused: no certificate for this name");
                    return None;
                };
                // Without SNI the destination's address is the only name
                // mailseal knows for certain.
                let name = sni.map_or_else(|| self.destination.to_string(), str::to_owned);
                match ca.certified_key(&name) {
                    Ok(key) => {
                        tracing::info!(destination = %self.destination, %name, "intercept-minted");
                        Some(key)
                    }
                    Err(error) => {
                        tracing::warn!(%error, "intercept-tls-refused");
                        None
                    }
                }
            }
        }
    }
}

/// The name in an intercepted client's ClientHello, read without taking
/// the bytes off the socket (the handshake, or a blind relay, still gets
/// them). `Err` for a client that sends no TLS within `limit`.
pub async fn peek_sni(tcp: &TcpStream, limit: Duration) -> io::Result<Option<String>> {
    let mut buf = vec![0; MAX_HELLO];
    let read = async {
        loop {
            let n = tcp.peek(&mut buf).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            match tls::client_hello(&buf[..n]) {
                Hello::Complete(name) => return Ok(name),
                Hello::NotTls(reason) => {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, reason));
                }
                Hello::Incomplete if n == buf.len() => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "ClientHello too large",
                    ));
                }
                // peek returns at once while bytes wait; give the rest
                // of the hello time to arrive.
                Hello::Incomplete => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    };
    tokio::time::timeout(limit, read)
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
}

/// Relays an intercepted connection blind to its destination, both
/// directions, until either side closes (`pass-unarchived`).
pub async fn relay_blind(mut client: TcpStream, destination: &Destination, connect: Duration) {
    let upstream = match tokio::time::timeout(connect, destination.connect()).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::warn!(%destination, %error, "upstream-unreachable");
            return;
        }
        Err(_) => {
            tracing::warn!(%destination, "upstream-unreachable: timed out");
            return;
        }
    };
    let mut upstream = upstream;
    match tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        Ok((up, down)) => tracing::warn!(%destination, up, down, "intercept-unarchived: closed"),
        Err(error) => tracing::warn!(%destination, %error, "intercept-unarchived: closed"),
    }
}
