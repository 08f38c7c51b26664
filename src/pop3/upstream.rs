//! Reaching a POP3 server as its client: TCP, implicit TLS or STLS (RFC
//! 2595; certificate checked like every other upstream leg), and the
//! greeting. The stream comes back after the greeting and after the STLS
//! handshake, ready for the relay; the greeting is returned unchanged
//! because an APOP client computes its digest from the timestamp in it.
//! An intercepting proxy reaches each connection's original destination
//! ([`Upstream::toward`]) with the same TLS settings.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::AsyncWriteExt as _;

use super::response::Status;
use crate::archive::record::Interception;
use crate::config::{Pop3ProxyConfig, SmtpUpstreamTls};
use crate::intercept::Destination;
use crate::tls::TlsError;
use crate::transport::Stream;

/// Longest wait for the TCP connection, the TLS handshake and the greeting
/// together.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest greeting or STLS answer accepted (RFC 2449: 512 octets).
const MAX_LINE: usize = 4096;

/// Why the server could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// TCP connect, reading the greeting or talking STLS failed.
    #[error("{address}: {source}")]
    Io {
        /// `host:port`.
        address: String,
        /// The cause.
        source: io::Error,
    },
    /// The server greeted with `-ERR`, or refused STLS when it is required.
    #[error("{address} refused the session: {reply}")]
    Refused {
        /// `host:port`.
        address: String,
        /// What it said (no credentials are involved at this stage).
        reply: String,
    },
    /// The TLS handshake failed (certificate, protocol).
    #[error("TLS to {address}: {source}")]
    Tls {
        /// `host:port`.
        address: String,
        /// The cause.
        source: io::Error,
    },
    /// Nothing happened within [`CONNECT_TIMEOUT`].
    #[error("{address} did not answer within {CONNECT_TIMEOUT:?}")]
    Timeout {
        /// `host:port`.
        address: String,
    },
}

/// Where a POP3 server is and how its connection is secured.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// `host:port`, for connecting, records and logs.
    address: String,
    /// An intercepted connection's original destination, connected to
    /// instead of resolving `address` ([`Upstream::toward`]).
    intercepted: Option<Destination>,
    /// Plain, STLS (opportunistic or required) or implicit TLS.
    mode: SmtpUpstreamTls,
    /// TLS client setup; present whenever the mode may use TLS.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The name the server's certificate must carry (SNI too).
    name: ServerName<'static>,
}

impl Upstream {
    /// The upstream of a `[[pop3_proxy]]`; roots are loaded once, here.
    pub fn new(config: &Pop3ProxyConfig) -> Result<Upstream, TlsError> {
        let leg = &config.upstream;
        let tls = match leg.tls {
            SmtpUpstreamTls::None => None,
            _ => Some(leg.client_config()?),
        };
        Ok(Upstream {
            address: leg.address.to_string(),
            intercepted: None,
            mode: leg.tls,
            tls,
            name: leg.server_name.clone(),
        })
    }

    /// The same server settings (TLS, certificate name) toward an
    /// intercepted connection's original destination.
    pub fn toward(&self, destination: Destination) -> Upstream {
        Upstream {
            address: destination.to_string(),
            intercepted: Some(destination),
            ..self.clone()
        }
    }

    /// The same, checking the server's certificate for `name` (the
    /// intercept certificate entry's) instead of `upstream_tls_name`.
    pub fn named(self, name: Option<ServerName<'static>>) -> Upstream {
        match name {
            Some(name) => Upstream { name, ..self },
            None => self,
        }
    }

    /// `host:port`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The original destination of an intercepted connection, as its
    /// message records name it.
    pub fn interception(&self) -> Option<Interception> {
        self.intercepted.as_ref().map(Destination::record)
    }

    /// Connects, secures the stream as configured and reads the greeting,
    /// within [`CONNECT_TIMEOUT`]; a `-ERR` greeting is refused.
    pub async fn connect(&self) -> Result<(Stream, Vec<u8>), UpstreamError> {
        tokio::time::timeout(CONNECT_TIMEOUT, self.connect_now())
            .await
            .unwrap_or_else(|_| {
                Err(UpstreamError::Timeout {
                    address: self.address.clone(),
                })
            })
    }

    async fn connect_now(&self) -> Result<(Stream, Vec<u8>), UpstreamError> {
        let connected = match &self.intercepted {
            Some(destination) => destination.connect().await,
            None => Stream::connect(self.address.as_str()).await,
        };
        let mut stream = connected.map_err(|e| self.lost(e))?;
        if self.mode == SmtpUpstreamTls::Implicit {
            self.secure(&mut stream).await?;
        }
        let greeting = stream.read_line(MAX_LINE).await.map_err(|e| self.lost(e))?;
        if Status::parse(&greeting) != Status::Ok {
            return Err(self.refused(&greeting));
        }
        if matches!(
            self.mode,
            SmtpUpstreamTls::Starttls | SmtpUpstreamTls::StarttlsRequired
        ) {
            self.stls(&mut stream).await?;
        }
        Ok((stream, greeting))
    }

    /// Sends STLS; on `+OK` the handshake follows. A refusal ends the
    /// connection when STLS is required, and leaves it plain otherwise.
    async fn stls(&self, stream: &mut Stream) -> Result<(), UpstreamError> {
        stream
            .write_all(b"STLS\r\n")
            .await
            .map_err(|e| self.lost(e))?;
        stream.flush().await.map_err(|e| self.lost(e))?;
        let answer = stream.read_line(MAX_LINE).await.map_err(|e| self.lost(e))?;
        match Status::parse(&answer) {
            Status::Ok => self.secure(stream).await,
            _ if self.mode == SmtpUpstreamTls::Starttls => {
                tracing::warn!(upstream = %self.address, "upstream refused STLS; continuing in plain text");
                Ok(())
            }
            _ => Err(self.refused(&answer)),
        }
    }

    /// The TLS handshake, in place.
    async fn secure(&self, stream: &mut Stream) -> Result<(), UpstreamError> {
        let tls_error = |source| UpstreamError::Tls {
            address: self.address.clone(),
            source,
        };
        let Some(config) = &self.tls else {
            return Err(tls_error(io::Error::other("no TLS configuration")));
        };
        stream
            .connect_tls(config.clone(), self.name.clone())
            .await
            .map_err(tls_error)?;
        Ok(())
    }

    fn lost(&self, source: io::Error) -> UpstreamError {
        UpstreamError::Io {
            address: self.address.clone(),
            source,
        }
    }

    fn refused(&self, reply: &[u8]) -> UpstreamError {
        UpstreamError::Refused {
            address: self.address.clone(),
            reply: String::from_utf8_lossy(reply).trim_end().to_owned(),
        }
    }
}
