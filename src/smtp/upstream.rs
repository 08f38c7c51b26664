//! The SMTP client on the proxy's upstream leg: one connection to the real
//! mail server per proxied client connection.
//!
//! The proxy relays the client's commands with [`Upstream::send_line`] and
//! the upstream's answers with [`Upstream::read_reply`]; every reply keeps
//! its raw bytes so it reaches the client unchanged (multi-line replies and
//! enhanced status codes intact). Commands may be pipelined: send several,
//! then read their replies in order.
//!
//! [`connect`] brings the session to the point where the client's first
//! command can be relayed: TCP, TLS from the first byte (`implicit`), the
//! greeting, and for `starttls` / `starttls-required` mailseal's own EHLO
//! and STARTTLS. After a STARTTLS upgrade the session is back at the
//! greeting stage (RFC 3207), so the client's EHLO that the proxy relays
//! next is the one that counts. Opportunistic `starttls` goes on in plain
//! text when the upstream does not offer STARTTLS or refuses it, but a
//! failed handshake is an error: the connection is unusable after it, and
//! silently retrying in plain text would hide a certificate problem.
//!
//! DATA streams with [`Upstream::send_data_chunk`] (wire bytes, already
//! dot-stuffed); the final `.` is sent only by [`Upstream::finish_data`],
//! once the archive commit is durable. [`Upstream::abort`] drops the
//! connection instead, so the upstream never completes the transaction.

mod attrs;
mod options;
mod wire;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::time::timeout;

pub use attrs::{Capabilities, ClientInfo};
pub use options::{UpstreamOptions, UpstreamTimeouts};
use wire::Wire;

use crate::archive::record::TlsInfo;
use crate::config::SmtpUpstreamTls;
use crate::intercept::Destination;
use crate::smtp::reply::{Reply, ReplyError};
use crate::transport::Stream;

/// Largest upstream reply accepted by default, all lines together.
pub const DEFAULT_MAX_REPLY: usize = 64 * 1024;

/// A reply from the upstream, parsed and exactly as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamReply {
    /// Code, text lines and enhanced status code.
    pub reply: Reply,
    /// The reply's bytes as the upstream sent them, line ends included,
    /// for relaying without any change.
    pub raw: Vec<u8>,
}

impl UpstreamReply {
    /// The reply code.
    pub fn code(&self) -> u16 {
        self.reply.code()
    }
}

/// Why the upstream session failed. All of these end the session; the
/// proxy answers its client with a `4xx`.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// TCP connect failed.
    #[error("cannot connect to the upstream: {0}")]
    Connect(std::io::Error),
    /// The upstream took too long; the text says doing what.
    #[error("upstream timed out {0}")]
    Timeout(&'static str),
    /// Reading or writing failed.
    #[error("upstream connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// The upstream closed the connection.
    #[error("upstream closed the connection")]
    Closed,
    /// The upstream sent something that is no SMTP reply.
    #[error("bad upstream reply: {0}")]
    Reply(#[from] ReplyError),
    /// A reply was larger than the configured maximum.
    #[error("upstream reply longer than {0} bytes")]
    ReplyTooLarge(usize),
    /// The TLS handshake failed (certificate not trusted, name mismatch,
    /// no common protocol).
    #[error("upstream TLS handshake failed: {0}")]
    Tls(std::io::Error),
    /// `starttls-required`, but the upstream does not offer STARTTLS.
    #[error("upstream does not offer STARTTLS, which upstream_tls requires")]
    StarttlsUnavailable,
    /// Bytes followed the upstream's `220` to STARTTLS before the
    /// handshake: an injection attempt (CVE-2011-0411 style).
    #[error("upstream sent data after its STARTTLS reply")]
    StarttlsInjection,
    /// The upstream refused a command mailseal itself depends on.
    #[error("upstream refused {command}: {reply}")]
    Refused {
        /// The command (`STARTTLS`, `XCLIENT`, `XFORWARD`).
        command: &'static str,
        /// What the upstream answered.
        reply: Reply,
    },
    /// A TLS mode was configured without a TLS client configuration.
    #[error("upstream TLS is configured but no TLS client configuration was given")]
    NoTlsConfig,
    /// A line to relay contained CR or LF (it would smuggle a command).
    #[error("command line contains CR or LF")]
    InvalidLine,
}

/// Runs `fut` with a time limit; `doing` says what timed out.
async fn within<T>(
    limit: Duration,
    doing: &'static str,
    fut: impl Future<Output = Result<T, UpstreamError>>,
) -> Result<T, UpstreamError> {
    timeout(limit, fut)
        .await
        .map_err(|_| UpstreamError::Timeout(doing))?
}

/// Connects over TCP and runs [`Upstream::start`].
pub async fn connect(
    addr: impl ToSocketAddrs,
    options: &UpstreamOptions,
) -> Result<Upstream<TcpStream>, UpstreamError> {
    let stream = timeout(options.timeouts.connect, Stream::connect(addr))
        .await
        .map_err(|_| UpstreamError::Timeout("connecting"))?
        .map_err(UpstreamError::Connect)?;
    Upstream::start(stream, options).await
}

/// Connects to an intercepted connection's original destination (from
/// the client's address under TPROXY) and runs [`Upstream::start`].
pub async fn connect_intercepted(
    destination: &Destination,
    options: &UpstreamOptions,
) -> Result<Upstream<TcpStream>, UpstreamError> {
    let stream = timeout(options.timeouts.connect, destination.connect())
        .await
        .map_err(|_| UpstreamError::Timeout("connecting"))?
        .map_err(UpstreamError::Connect)?;
    Upstream::start(stream, options).await
}

/// An SMTP client session with the upstream.
pub struct Upstream<S> {
    /// The connection and its reply reader.
    wire: Wire<S>,
    /// How to talk to the upstream.
    options: UpstreamOptions,
    /// The upstream's greeting, for the proxy to relay.
    greeting: UpstreamReply,
    /// Extensions of the last successful EHLO, reset when a STARTTLS or
    /// XCLIENT takes the session back to the greeting stage.
    capabilities: Option<Capabilities>,
    /// TLS parameters, once the connection is encrypted.
    tls: Option<TlsInfo>,
    /// Message bytes not yet written: small chunks are gathered into one
    /// write of [`DATA_BATCH`] bytes, which saves a system call and a
    /// wake-up of the upstream per chunk.
    pending: Vec<u8>,
}

/// Message bytes gathered before they are written upstream.
const DATA_BATCH: usize = 64 * 1024;

impl<S: AsyncRead + AsyncWrite + Unpin> Upstream<S> {
    /// Starts a session on an open stream: implicit TLS, the greeting, and
    /// for the STARTTLS modes the upgrade. A greeting that is not `2xx` is
    /// returned as is (no STARTTLS tried) for the proxy to relay.
    pub async fn start(
        stream: Stream<S>,
        options: &UpstreamOptions,
    ) -> Result<Upstream<S>, UpstreamError> {
        let mut wire = Wire::new(stream, options.max_reply);
        let implicit = options.tls == SmtpUpstreamTls::Implicit;
        let (greeting, tls) = within(
            options.timeouts.connect,
            "waiting for the greeting",
            async {
                let tls = if implicit {
                    let config = tls_config(options)?;
                    Some(wire.upgrade(config, options.server_name.clone()).await?)
                } else {
                    None
                };
                Ok((wire.read_reply().await?, tls))
            },
        )
        .await?;
        let mut upstream = Upstream {
            wire,
            options: options.clone(),
            greeting,
            capabilities: None,
            tls,
            pending: Vec::new(),
        };
        let starttls = matches!(
            options.tls,
            SmtpUpstreamTls::Starttls | SmtpUpstreamTls::StarttlsRequired
        );
        if starttls && upstream.greeting.reply.is_positive() {
            upstream.negotiate_starttls().await?;
        }
        tracing::debug!(
            code = upstream.greeting.code(),
            tls = upstream.tls.is_some(),
            "upstream session started"
        );
        Ok(upstream)
    }

    /// The greeting the upstream sent when the connection opened.
    pub fn greeting(&self) -> &UpstreamReply {
        &self.greeting
    }

    /// Extensions from the last EHLO in the current TLS state.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.capabilities.as_ref()
    }

    /// Negotiated TLS parameters, when the upstream leg is encrypted.
    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// The upstream's address, when the connection has one.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.wire.peer_addr()
    }

    /// Sends `EHLO name`; a `250` reply updates [`Upstream::capabilities`].
    pub async fn ehlo(&mut self, name: &str) -> Result<UpstreamReply, UpstreamError> {
        let reply = self.command(format!("EHLO {name}").as_bytes()).await?;
        if reply.code() == 250 {
            self.capabilities = Some(Capabilities::parse(&reply.reply));
        }
        Ok(reply)
    }

    /// Sends STARTTLS and, on `220`, runs the handshake. Any other reply is
    /// returned and the session stays plain.
    pub async fn starttls(&mut self) -> Result<UpstreamReply, UpstreamError> {
        let config = tls_config(&self.options)?;
        let reply = self.command(b"STARTTLS").await?;
        if reply.code() != 220 {
            return Ok(reply);
        }
        if self.wire.has_buffered() {
            return Err(UpstreamError::StarttlsInjection);
        }
        let name = self.options.server_name.clone();
        let info = within(
            self.options.timeouts.command,
            "in the TLS handshake",
            self.wire.upgrade(config, name),
        )
        .await?;
        tracing::debug!(version = %info.version, cipher = %info.cipher, "upstream starttls");
        self.tls = Some(info);
        self.capabilities = None;
        Ok(reply)
    }

    /// The EHLO/STARTTLS exchange of the STARTTLS modes.
    async fn negotiate_starttls(&mut self) -> Result<(), UpstreamError> {
        let required = self.options.tls == SmtpUpstreamTls::StarttlsRequired;
        let name = self.options.ehlo_name.clone();
        self.ehlo(&name).await?;
        if !self
            .capabilities
            .as_ref()
            .is_some_and(|c| c.has("STARTTLS"))
        {
            if required {
                return Err(UpstreamError::StarttlsUnavailable);
            }
            tracing::warn!("upstream does not offer STARTTLS; relaying in plain text");
            return Ok(());
        }
        let reply = self.starttls().await?;
        match (reply.code(), required) {
            (220, _) => Ok(()),
            (_, true) => Err(UpstreamError::Refused {
                command: "STARTTLS",
                reply: reply.reply,
            }),
            (_, false) => {
                tracing::warn!(reply = %reply.reply, "upstream refused STARTTLS; relaying in plain text");
                Ok(())
            }
        }
    }

    /// Tells the upstream who the real client is with XCLIENT, then sends
    /// `EHLO ehlo_name` as XCLIENT_README requires (the upstream is back at
    /// the greeting stage) and returns that EHLO reply. `Ok(None)` when the
    /// upstream does not offer XCLIENT. Sends mailseal's own EHLO first if
    /// no capabilities are known yet. Never call it inside a transaction.
    pub async fn xclient(
        &mut self,
        client: &ClientInfo,
        ehlo_name: &str,
    ) -> Result<Option<UpstreamReply>, UpstreamError> {
        let Some(supported) = self.extension_params("XCLIENT").await? else {
            return Ok(None);
        };
        let lines = client.xclient_lines(&supported);
        if lines.is_empty() {
            return Ok(None);
        }
        for line in lines {
            let reply = self.command(line.as_bytes()).await?;
            // 220 per XCLIENT_README; smtp-sink and Postfix before 2.3
            // answer 250 without going back to the greeting stage.
            if !reply.reply.is_positive() {
                return Err(UpstreamError::Refused {
                    command: "XCLIENT",
                    reply: reply.reply,
                });
            }
        }
        self.capabilities = None;
        self.ehlo(ehlo_name).await.map(Some)
    }

    /// Tells the upstream's logs who the real client is with XFORWARD.
    /// The attributes last for one transaction: call it before each MAIL.
    /// `Ok(None)` when the upstream does not offer XFORWARD.
    pub async fn xforward(
        &mut self,
        client: &ClientInfo,
    ) -> Result<Option<UpstreamReply>, UpstreamError> {
        let Some(supported) = self.extension_params("XFORWARD").await? else {
            return Ok(None);
        };
        let mut last = None;
        for line in client.xforward_lines(&supported) {
            let reply = self.command(line.as_bytes()).await?;
            if reply.code() != 250 {
                return Err(UpstreamError::Refused {
                    command: "XFORWARD",
                    reply: reply.reply,
                });
            }
            last = Some(reply);
        }
        Ok(last)
    }

    /// The parameters of an extension, sending mailseal's own EHLO first
    /// when none has been sent in the current state.
    async fn extension_params(
        &mut self,
        keyword: &str,
    ) -> Result<Option<Vec<String>>, UpstreamError> {
        if self.capabilities.is_none() {
            let name = self.options.ehlo_name.clone();
            self.ehlo(&name).await?;
        }
        Ok(self
            .capabilities
            .as_ref()
            .and_then(|c| c.params(keyword))
            .map(<[String]>::to_vec))
    }

    /// Sends one command line; `line` comes without its line end and gets
    /// CRLF. A CR or LF inside it is refused, so nothing can be smuggled.
    pub async fn send_line(&mut self, line: &[u8]) -> Result<(), UpstreamError> {
        if line.iter().any(|&b| b == b'\r' || b == b'\n') {
            return Err(UpstreamError::InvalidLine);
        }
        let wire_line = [line, b"\r\n"].concat();
        let limit = self.options.timeouts.command;
        within(limit, "sending a command", self.wire.write(&wire_line)).await
    }

    /// Reads the next reply (pipelined replies come in command order).
    pub async fn read_reply(&mut self) -> Result<UpstreamReply, UpstreamError> {
        let limit = self.options.timeouts.command;
        within(limit, "waiting for a reply", self.wire.read_reply()).await
    }

    /// Sends a command and reads its reply.
    async fn command(&mut self, line: &[u8]) -> Result<UpstreamReply, UpstreamError> {
        self.send_line(line).await?;
        self.read_reply().await
    }

    /// Sends message bytes after `354`, verbatim: they must already be in
    /// wire form (dot-stuffed, CRLF-terminated last line).
    /// Bytes may wait in a buffer of up to [`DATA_BATCH`] bytes until the
    /// next chunk or [`Upstream::finish_data`].
    pub async fn send_data_chunk(&mut self, bytes: &[u8]) -> Result<(), UpstreamError> {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() < DATA_BATCH {
            return Ok(());
        }
        let limit = self.options.timeouts.data_block;
        let result = within(
            limit,
            "sending message data",
            self.wire.write(&self.pending),
        )
        .await;
        self.pending.clear();
        result
    }

    /// Sends the last buffered bytes and the held-back `.` CRLF that ends
    /// the data, and reads the upstream's final reply.
    pub async fn finish_data(&mut self) -> Result<UpstreamReply, UpstreamError> {
        let timeouts = self.options.timeouts;
        self.pending.extend_from_slice(b".\r\n");
        let sent = within(
            timeouts.data_block,
            "sending the end of data",
            self.wire.write(&self.pending),
        )
        .await;
        self.pending.clear();
        sent?;
        within(
            timeouts.data_end,
            "waiting for the reply to the end of data",
            self.wire.read_reply(),
        )
        .await
    }

    /// Drops the connection without ending the data: the upstream sees the
    /// connection lost before the final `.`, has acknowledged nothing and
    /// discards the transaction, so nothing that is not archived gets
    /// through.
    pub fn abort(self) {
        tracing::debug!("upstream transaction aborted");
        drop(self);
    }

    /// Sends QUIT, reads the reply and closes the connection.
    pub async fn quit(mut self) -> Result<UpstreamReply, UpstreamError> {
        let reply = self.command(b"QUIT").await;
        self.wire.shutdown().await;
        reply
    }
}

/// The TLS client configuration, which every TLS mode needs.
fn tls_config(options: &UpstreamOptions) -> Result<Arc<rustls::ClientConfig>, UpstreamError> {
    options.tls_config.clone().ok_or(UpstreamError::NoTlsConfig)
}

#[cfg(test)]
mod tests;
