//! Reaching an IMAP server as its client: TCP, implicit TLS or STARTTLS
//! (certificate checked), and the greeting. The proxy's upstream leg (its
//! sessions and their completion fetches) and the importer both connect
//! through here; the stream comes back positioned after the greeting, and
//! after the STARTTLS handshake, so the relay or async-imap takes over.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::AsyncWriteExt as _;

use crate::archive::record::Interception;
use crate::config::TlsMode;
use crate::intercept::Destination;
use crate::tls::TlsError;
use crate::transport::Stream;

/// Longest wait for the TCP connection, the TLS handshake and the greeting
/// together.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest greeting or STARTTLS response line accepted.
const MAX_LINE: usize = 16 * 1024;

/// Tag of mailseal's own STARTTLS command (sent before anyone else talks).
const TAG: &str = "mailseal0";

/// Why the server could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// TCP connect failed.
    #[error("connect to {address}: {source}")]
    Connect {
        /// `host:port`.
        address: String,
        /// The cause.
        source: io::Error,
    },
    /// Reading the greeting or talking STARTTLS failed.
    #[error("greeting from {address}: {source}")]
    Greeting {
        /// `host:port`.
        address: String,
        /// The cause.
        source: io::Error,
    },
    /// The server refused STARTTLS or said goodbye.
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

/// Where an IMAP server is and how its connection is secured.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// `host:port`, for connecting, errors and logs.
    address: String,
    /// An intercepted connection's original destination, connected to
    /// instead of resolving `address` ([`Upstream::toward`]).
    intercepted: Option<Destination>,
    /// Plain, implicit TLS or STARTTLS.
    mode: TlsMode,
    /// TLS client setup; present whenever the mode uses TLS.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The name the server's certificate must carry (SNI too).
    name: ServerName<'static>,
}

impl Upstream {
    /// The server at `address` (`host:port`), reached as `mode` says;
    /// `client_config` is built (roots loaded) only when the mode uses TLS.
    pub fn new(
        address: String,
        mode: TlsMode,
        name: ServerName<'static>,
        client_config: impl FnOnce() -> Result<Arc<rustls::ClientConfig>, TlsError>,
    ) -> Result<Upstream, TlsError> {
        let tls = match mode {
            TlsMode::None => None,
            TlsMode::Implicit | TlsMode::Starttls => Some(client_config()?),
        };
        Ok(Upstream {
            address,
            intercepted: None,
            mode,
            tls,
            name,
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

    /// The same, checking the server's certificate for `name` when one
    /// is given (an intercepted destination's certificate entry).
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

    /// True when the connection starts plain and is upgraded by STARTTLS
    /// (its greeting then lists pre-TLS capabilities).
    pub fn uses_starttls(&self) -> bool {
        self.mode == TlsMode::Starttls
    }

    /// Connects, secures the stream as configured and reads the greeting,
    /// within [`CONNECT_TIMEOUT`]. A `* BYE` greeting is refused; any other
    /// is returned for the caller to judge or relay.
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
        let mut stream = connected.map_err(|source| UpstreamError::Connect {
            address: self.address.clone(),
            source,
        })?;
        if self.mode == TlsMode::Implicit {
            self.secure(&mut stream).await?;
        }
        let greeting = stream.read_line(MAX_LINE).await.map_err(|e| self.lost(e))?;
        if starts_with_ignore_case(&greeting, b"* BYE") {
            return Err(self.refused(&greeting));
        }
        if self.mode == TlsMode::Starttls {
            self.starttls(&mut stream).await?;
            self.secure(&mut stream).await?;
        }
        Ok((stream, greeting))
    }

    /// Sends STARTTLS and waits for its tagged OK.
    async fn starttls(&self, stream: &mut Stream) -> Result<(), UpstreamError> {
        let command = format!("{TAG} STARTTLS\r\n");
        stream
            .write_all(command.as_bytes())
            .await
            .map_err(|e| self.lost(e))?;
        stream.flush().await.map_err(|e| self.lost(e))?;
        let tagged = format!("{TAG} ");
        loop {
            let line = stream.read_line(MAX_LINE).await.map_err(|e| self.lost(e))?;
            if let Some(rest) = line.strip_prefix(tagged.as_bytes()) {
                if starts_with_ignore_case(rest, b"OK") {
                    return Ok(());
                }
                return Err(self.refused(&line));
            }
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
        UpstreamError::Greeting {
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

/// True when `line` starts with `prefix`, ASCII case aside.
pub fn starts_with_ignore_case(line: &[u8], prefix: &[u8]) -> bool {
    line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix)
}
