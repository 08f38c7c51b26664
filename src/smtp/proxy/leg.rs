//! The upstream leg of one proxied connection: the session with the real
//! server, what it advertised, and what happens when it fails.
//!
//! Any failure on the leg (I/O, timeout, a reply that is no SMTP) loses it
//! for good: after a timeout the replies could arrive out of step with the
//! commands, and mid-DATA the only way to end a transaction without
//! completing it is to drop the connection. The client is then told
//! `421 4.4.2` for every further command (`451 4.4.2` for a message, see
//! [`super::commit`]) and reconnects; mailseal cannot quietly reconnect
//! for it, because an AUTH it relayed cannot be replayed.

use std::net::{IpAddr, SocketAddr};

use tokio::net::TcpStream;
use tracing::warn;

use crate::intercept::Destination;
use crate::metrics::{self, ErrorKind};
use crate::smtp::reply::Reply;
use crate::smtp::upstream::{
    self, Capabilities, ClientInfo, Upstream, UpstreamError, UpstreamOptions,
};

/// The connection to the upstream and what is known about it.
pub(super) struct Leg {
    /// The session, until it fails or is aborted.
    upstream: Option<Upstream<TcpStream>>,
    /// The upstream's address, once connected.
    peer: Option<SocketAddr>,
    /// Extensions of the upstream's last EHLO reply (relayed or our own).
    caps: Option<Capabilities>,
}

/// The reply to a command once the upstream is gone.
pub(super) fn lost_reply() -> Reply {
    Reply::new(421, "4.4.2 upstream connection lost, closing")
}

impl Leg {
    /// A leg not yet connected.
    pub fn new() -> Leg {
        Leg {
            upstream: None,
            peer: None,
            caps: None,
        }
    }

    /// Connects (TCP, TLS, greeting, STARTTLS) and returns the greeting.
    pub async fn connect(
        &mut self,
        host: &str,
        port: u16,
        options: &UpstreamOptions,
    ) -> Result<Reply, UpstreamError> {
        let upstream = upstream::connect((host, port), options).await?;
        self.peer = upstream.peer_addr();
        let greeting = upstream.greeting().reply.clone();
        self.upstream = Some(upstream);
        Ok(greeting)
    }

    /// Connects to an intercepted connection's original destination, like
    /// [`Leg::connect`].
    pub async fn connect_intercepted(
        &mut self,
        destination: &Destination,
        options: &UpstreamOptions,
    ) -> Result<Reply, UpstreamError> {
        let upstream = upstream::connect_intercepted(destination, options).await?;
        self.peer = upstream.peer_addr();
        let greeting = upstream.greeting().reply.clone();
        self.upstream = Some(upstream);
        Ok(greeting)
    }

    /// True while the upstream session is usable.
    pub fn is_up(&self) -> bool {
        self.upstream.is_some()
    }

    /// True when AUTH may cross this leg: it is encrypted, or it never
    /// leaves the machine.
    pub fn is_private(&self) -> bool {
        let tls = self
            .upstream
            .as_ref()
            .is_some_and(|u| u.tls_info().is_some());
        tls || self.peer.is_some_and(|p| is_loopback(p.ip()))
    }

    /// The upstream's last advertised extensions.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.caps.as_ref()
    }

    /// Relays one command line and returns the upstream's reply, or
    /// [`lost_reply`] when the leg is (or just got) lost.
    pub async fn relay(&mut self, line: &[u8]) -> Reply {
        match self.exchange(line).await {
            Ok(reply) => reply,
            Err(_) => lost_reply(),
        }
    }

    /// Sends one line and reads its reply; a failure loses the leg.
    pub async fn exchange(&mut self, line: &[u8]) -> Result<Reply, UpstreamError> {
        let upstream = self.usable()?;
        let result = match upstream.send_line(line).await {
            Ok(()) => upstream.read_reply().await,
            Err(e) => Err(e),
        };
        self.settle(result).map(|r| r.reply)
    }

    /// Sends several lines at once (PIPELINING), then reads their replies
    /// in order.
    pub async fn exchange_pipelined(
        &mut self,
        lines: &[&[u8]],
    ) -> Result<Vec<Reply>, UpstreamError> {
        let upstream = self.usable()?;
        let result = async {
            for line in lines {
                upstream.send_line(line).await?;
            }
            let mut replies = Vec::with_capacity(lines.len());
            for _ in lines {
                replies.push(upstream.read_reply().await?.reply);
            }
            Ok(replies)
        };
        let result = result.await;
        self.settle(result)
    }

    /// Remembers the extensions of a `250` EHLO reply.
    pub fn learn(&mut self, ehlo: &Reply) {
        if ehlo.code() == 250 {
            self.caps = Some(Capabilities::parse(ehlo));
        }
    }

    /// Tells the upstream who the real client is (XCLIENT), sending
    /// mailseal's own EHLO first to learn whether it may. `Ok(false)` when
    /// the upstream does not offer XCLIENT. The upstream is back at the
    /// greeting stage afterwards, ready for the client's own EHLO.
    pub async fn identify(
        &mut self,
        client: &ClientInfo,
        ehlo_name: &str,
    ) -> Result<bool, UpstreamError> {
        if self.caps.is_none() {
            let ehlo = self
                .exchange(format!("EHLO {ehlo_name}").as_bytes())
                .await?;
            self.learn(&ehlo);
        }
        let supported = self.caps.as_ref().and_then(|c| c.params("XCLIENT"));
        let Some(params) = supported.map(<[String]>::to_vec) else {
            return Ok(false);
        };
        for line in client.xclient_lines(&params) {
            let reply = self.exchange(line.as_bytes()).await?;
            // 220 per XCLIENT_README; some servers answer 250.
            if !reply.is_positive() {
                self.lose("XCLIENT refused");
                return Err(UpstreamError::Refused {
                    command: "XCLIENT",
                    reply,
                });
            }
        }
        self.caps = None;
        Ok(true)
    }

    /// Streams message bytes (wire form) after `354`.
    pub async fn send_data(&mut self, wire: &[u8]) -> Result<(), UpstreamError> {
        let upstream = self.usable()?;
        let result = upstream.send_data_chunk(wire).await;
        self.settle(result)
    }

    /// Sends the held-back final `.` and reads the upstream's final reply.
    pub async fn finish_data(&mut self) -> Result<Reply, UpstreamError> {
        let upstream = self.usable()?;
        let result = upstream.finish_data().await;
        self.settle(result).map(|r| r.reply)
    }

    /// Drops the connection so an open transaction is never completed.
    pub fn abort(&mut self, why: &str) {
        if let Some(upstream) = self.upstream.take() {
            tracing::info!(why, "upstream-aborted");
            upstream.abort();
        }
    }

    fn usable(&mut self) -> Result<&mut Upstream<TcpStream>, UpstreamError> {
        self.upstream.as_mut().ok_or(UpstreamError::Closed)
    }

    /// Loses the leg when `result` is a failure.
    fn settle<T>(&mut self, result: Result<T, UpstreamError>) -> Result<T, UpstreamError> {
        if let Err(error) = &result {
            self.lose(&error.to_string());
        }
        result
    }

    fn lose(&mut self, why: &str) {
        if self.upstream.take().is_some() {
            warn!(error = why, "upstream-lost");
            metrics::error(ErrorKind::Upstream);
        }
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}
