//! The two places where the proxy adds to the client's dialogue: telling
//! the upstream who the real client is, and showing the client only what
//! it may use.
//!
//! * **XCLIENT** (Postfix XCLIENT_README), once, before the client's first
//!   EHLO/HELO is relayed: address, port, HELO and protocol, so the
//!   upstream's relay and spam policy apply to the client, not to
//!   mailseal. When the upstream offers XCLIENT but refuses it, the client
//!   gets `421` instead of being relayed under mailseal's address, which
//!   is often a trusted network upstream.
//! * **XFORWARD** before each MAIL (its attributes last one transaction),
//!   pipelined with the MAIL when the upstream offers PIPELINING. It only
//!   feeds the upstream's logs, so a refusal is logged, not fatal.
//! * **AUTH** is removed from the EHLO reply when it may not cross the
//!   upstream leg ([`ProxyBackend::auth_allowed`]).

use std::time::Instant;

use tracing::{debug, warn};

use crate::smtp::backend::Connection;
use crate::smtp::command::Command;
use crate::smtp::reply::Reply;
use crate::smtp::upstream::ClientInfo;

use super::ProxyBackend;
use super::leg::lost_reply;

impl ProxyBackend {
    /// The real client, as XCLIENT and XFORWARD describe it.
    fn client_info(conn: &Connection, helo: Option<&str>, esmtp: bool) -> ClientInfo {
        ClientInfo {
            addr: Some(conn.peer.ip()),
            port: Some(conn.peer.port()),
            name: None,
            helo: helo.or(conn.helo.as_deref()).map(str::to_owned),
            proto: Some(if esmtp { "ESMTP" } else { "SMTP" }.to_owned()),
            login: None,
        }
    }

    /// EHLO or HELO: XCLIENT first (once), then the client's own line.
    pub(super) async fn hello(
        &mut self,
        conn: &Connection,
        command: &Command,
        line: &[u8],
    ) -> Reply {
        let (Command::Ehlo(domain) | Command::Helo(domain)) = command else {
            return self.leg.relay(line).await;
        };
        let esmtp = matches!(command, Command::Ehlo(_));
        if !self.identified {
            self.identified = true;
            let client = Self::client_info(conn, Some(domain), esmtp);
            match self
                .leg
                .identify(&client, &self.shared.options.ehlo_name)
                .await
            {
                Ok(true) => debug!("xclient"),
                Ok(false) => {
                    warn!("upstream does not offer XCLIENT; it sees mailseal as the client")
                }
                Err(error) => {
                    // Going on would let the upstream apply its policy for
                    // mailseal's address (often a trusted network) to the
                    // client: refuse instead.
                    warn!(%error, "xclient-failed");
                    self.leg.abort("XCLIENT failed");
                    return Reply::new(421, "4.3.0 service not available, closing");
                }
            }
        }
        let reply = self.leg.relay(line).await;
        if esmtp {
            self.leg.learn(&reply);
            if !self.auth_allowed() {
                return without_auth(&reply);
            }
        }
        reply
    }

    /// MAIL, preceded by XFORWARD when configured and offered.
    pub(super) async fn mail(&mut self, conn: &Connection, line: &[u8]) -> Reply {
        let caps = self.leg.capabilities();
        let xforward = caps
            .filter(|_| self.shared.xforward)
            .and_then(|c| c.params("XFORWARD"))
            .map(|params| Self::client_info(conn, None, true).xforward_lines(params))
            .unwrap_or_default();
        let pipelining = caps.is_some_and(|c| c.has("PIPELINING"));
        let reply = if xforward.is_empty() {
            self.leg.relay(line).await
        } else if pipelining {
            let mut lines: Vec<&[u8]> = xforward.iter().map(|l| l.as_bytes()).collect();
            lines.push(line);
            match self.leg.exchange_pipelined(&lines).await {
                Ok(mut replies) => {
                    let mail = replies.pop().unwrap_or_else(lost_reply);
                    check_xforward(&replies);
                    mail
                }
                Err(_) => lost_reply(),
            }
        } else {
            let mut replies = Vec::new();
            for xf in &xforward {
                match self.leg.exchange(xf.as_bytes()).await {
                    Ok(reply) => replies.push(reply),
                    Err(_) => return lost_reply(),
                }
            }
            check_xforward(&replies);
            self.leg.relay(line).await
        };
        if reply.is_positive() {
            self.started = Some(Instant::now());
        }
        reply
    }
}

/// XFORWARD only feeds the upstream's logs: a refusal is worth a warning,
/// not a refused message.
fn check_xforward(replies: &[Reply]) {
    if let Some(refusal) = replies.iter().find(|r| r.code() != 250) {
        warn!(reply = %refusal, "xforward-refused");
    }
}

/// An EHLO reply without its AUTH lines.
pub(super) fn without_auth(reply: &Reply) -> Reply {
    if reply.code() != 250 {
        return reply.clone();
    }
    let lines = reply
        .lines()
        .iter()
        .enumerate()
        .filter(|(i, l)| *i == 0 || !is_auth_line(l))
        .map(|(_, l)| l.clone())
        .collect();
    Reply::multiline(250, lines)
}

/// `AUTH mechanisms` or the old `AUTH=mechanisms` form.
fn is_auth_line(line: &[u8]) -> bool {
    let keyword = line
        .split(|&b| b == b' ' || b == b'=')
        .next()
        .unwrap_or_default();
    keyword.eq_ignore_ascii_case(b"AUTH")
}
