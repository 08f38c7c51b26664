//! The upstream leg: connecting to the real IMAP server over plain TCP,
//! implicit TLS or STARTTLS (with certificate checking), and reading its
//! greeting. Sessions and the proxy's own completion fetches both use it.

use std::io;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::config::{ImapProxyConfig, TlsMode};
use crate::imap::stream::{BoxIo, read_line};
use crate::tls::TlsError;

/// Longest wait for the TCP connection, the TLS handshake and the greeting.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest greeting or STARTTLS response line accepted.
const MAX_GREETING: usize = 16 * 1024;

/// Tag of the proxy's own STARTTLS command.
const TAG: &str = "mailseal0";

/// Why the upstream could not be reached.
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
    /// Nothing happened within the connect timeout.
    #[error("{address} did not answer within {CONNECT_TIMEOUT:?}")]
    Timeout {
        /// `host:port`.
        address: String,
    },
}

/// How to reach the real IMAP server.
pub struct Upstream {
    /// `host:port`, for connecting and for logs.
    address: String,
    /// Plain, implicit TLS or STARTTLS.
    mode: TlsMode,
    /// TLS client setup, unless the mode is plain.
    connector: Option<TlsConnector>,
    /// The name the server's certificate must carry.
    name: ServerName<'static>,
}

impl Upstream {
    /// The upstream of one `[[imap_proxy]]`.
    pub fn new(config: &ImapProxyConfig) -> Result<Upstream, TlsError> {
        let connector = match config.upstream.tls {
            TlsMode::None => None,
            _ => Some(TlsConnector::from(config.upstream.client_config()?)),
        };
        Ok(Upstream {
            address: config.upstream.address.to_string(),
            mode: config.upstream.tls,
            connector,
            name: config.upstream.server_name.clone(),
        })
    }

    /// `host:port`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// True when the upstream leg starts plain and is upgraded by STARTTLS
    /// (its greeting then lists pre-TLS capabilities).
    pub fn uses_starttls(&self) -> bool {
        self.mode == TlsMode::Starttls
    }

    /// Connects, secures the leg as configured and reads the greeting.
    /// Returns the stream, positioned after the greeting, and the greeting.
    pub async fn connect(&self) -> Result<(BoxIo, Vec<u8>), UpstreamError> {
        tokio::time::timeout(CONNECT_TIMEOUT, self.connect_now())
            .await
            .unwrap_or_else(|_| {
                Err(UpstreamError::Timeout {
                    address: self.address.clone(),
                })
            })
    }

    async fn connect_now(&self) -> Result<(BoxIo, Vec<u8>), UpstreamError> {
        let address = || self.address.clone();
        let tcp = TcpStream::connect(self.address.as_str())
            .await
            .map_err(|source| UpstreamError::Connect {
                address: address(),
                source,
            })?;
        // Commands and responses are small and interactive.
        let _ = tcp.set_nodelay(true);
        let mut io: BoxIo = match self.mode {
            TlsMode::Implicit => self.handshake(Box::new(tcp)).await?,
            _ => Box::new(tcp),
        };
        let greeting =
            read_line(&mut io, MAX_GREETING)
                .await
                .map_err(|source| UpstreamError::Greeting {
                    address: address(),
                    source,
                })?;
        if greeting.starts_with(b"* BYE") {
            return Err(self.refused(&greeting));
        }
        if self.mode == TlsMode::Starttls {
            self.starttls(&mut io).await?;
            io = self.handshake(io).await?;
        }
        Ok((io, greeting))
    }

    /// Sends STARTTLS and waits for its tagged OK.
    async fn starttls(&self, io: &mut BoxIo) -> Result<(), UpstreamError> {
        let failed = |source| UpstreamError::Greeting {
            address: self.address.clone(),
            source,
        };
        io.write_all(format!("{TAG} STARTTLS\r\n").as_bytes())
            .await
            .map_err(failed)?;
        io.flush().await.map_err(failed)?;
        loop {
            let line = read_line(io, MAX_GREETING).await.map_err(failed)?;
            if let Some(rest) = line.strip_prefix(format!("{TAG} ").as_bytes()) {
                if rest.len() >= 2 && rest[..2].eq_ignore_ascii_case(b"OK") {
                    return Ok(());
                }
                return Err(self.refused(&line));
            }
        }
    }

    async fn handshake(&self, io: BoxIo) -> Result<BoxIo, UpstreamError> {
        let Some(connector) = &self.connector else {
            return Ok(io);
        };
        let tls = connector
            .connect(self.name.clone(), io)
            .await
            .map_err(|source| UpstreamError::Tls {
                address: self.address.clone(),
                source,
            })?;
        Ok(Box::new(tls))
    }

    fn refused(&self, reply: &[u8]) -> UpstreamError {
        UpstreamError::Refused {
            address: self.address.clone(),
            reply: String::from_utf8_lossy(reply).trim_end().to_owned(),
        }
    }
}
