//! Who answers an SMTP session: the [`Backend`] trait.
//!
//! [`super::session::Session`] owns the client side (framing, TLS, the
//! order of commands, limits, the DATA decoder, spooling, shutdown) and asks
//! a backend for every answer that is a decision about mail:
//!
//! * the **journal** ([`super::journal`]) answers locally: it checks the peer
//!   and AUTH, accepts every recipient and archives on commit;
//! * the **proxy** relays: [`Backend::command`] gets the parsed command *and*
//!   the client's line, forwards the line (re-terminated with CRLF) to the
//!   upstream and returns the upstream's reply. The session calls the
//!   backend once per command, in order, and queues the replies in that
//!   order, flushing only when the client's pipelined input is used up, so
//!   PIPELINING keeps its order and its batching on the client leg.
//!
//! DATA is a small transaction (after maddy): [`Backend::data`] opens it
//! (the proxy sends `DATA` upstream and returns its `354`);
//! [`Backend::data_chunk`] receives the wire bytes as they arrive (the proxy
//! streams them upstream at once; they never contain the final `.`); then
//! exactly one of [`Backend::commit`] (with the unstuffed, spooled content
//! and the envelope) or [`Backend::abort`] (smuggling, size limit, client
//! gone, spool failure). `commit` decides the client's reply: the journal
//! archives and answers `250 ... archived as <id>`; the proxy archives
//! first, and only once `Archive::append` has returned sends the held-back
//! `.` upstream and relays the upstream's final reply; if the archive fails
//! it aborts the upstream transaction (it never sends the `.`) and answers
//! `451 4.3.0` (`452 4.3.1` for a full disk). `abort` must leave the
//! upstream without a completed message.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::archive::record::TlsInfo;
use crate::archive::{MessageMeta, Spool, SpooledContent};

use super::command::Command;
use super::reply::Reply;

/// What the session knows about its client, kept current for the backend.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The listener's configured name.
    pub listener: String,
    /// The client's address.
    pub peer: SocketAddr,
    /// The EHLO/HELO name, once given (cleared by STARTTLS).
    pub helo: Option<String>,
    /// TLS of the client leg, once established.
    pub tls: Option<TlsInfo>,
    /// The authenticated user, after a successful AUTH.
    pub auth_user: Option<String>,
}

/// One step of an AUTH exchange.
#[derive(Debug, Clone, Copy)]
pub enum AuthStep<'a> {
    /// The `AUTH` command.
    Start {
        /// The mechanism, uppercased.
        mechanism: &'a str,
        /// The initial response, if the client sent one.
        initial: Option<&'a str>,
        /// The client's line, for relaying.
        line: &'a [u8],
    },
    /// A response line after a `334` challenge (`*` cancels).
    Response(&'a [u8]),
}

/// The answer to one AUTH step.
#[derive(Debug, Clone)]
pub struct AuthOutcome {
    /// The reply; `334` continues the exchange, `235` ends it successfully.
    pub reply: Reply,
    /// The user name to record, known once the reply is `235`.
    pub user: Option<String>,
}

/// A received message, ready to be committed.
pub struct Transaction {
    /// The envelope and connection context, `content` not yet filled in.
    pub meta: MessageMeta,
    /// The unstuffed message bytes.
    pub content: SpooledContent,
}

/// Answers the commands of one session (one backend per connection).
pub trait Backend: Send {
    /// The greeting (`220`), or a refusal (`554`, `421`) that ends the
    /// session.
    fn greet(&mut self, conn: &Connection) -> impl Future<Output = Reply> + Send;

    /// EHLO, HELO, MAIL, RCPT, RSET, NOOP, VRFY, EXPN, HELP and QUIT, after
    /// the session checked their order and limits. `line` is the client's
    /// line without its ending. An EHLO reply is filtered by
    /// [`super::ehlo::filter`] afterwards.
    fn command(
        &mut self,
        conn: &Connection,
        command: &Command,
        line: &[u8],
    ) -> impl Future<Output = Reply> + Send;

    /// One step of AUTH; the session checked TLS policy and order.
    fn auth(
        &mut self,
        conn: &Connection,
        step: AuthStep<'_>,
    ) -> impl Future<Output = AuthOutcome> + Send;

    /// `DATA` with at least one accepted recipient: `354` to go on.
    fn data(&mut self) -> impl Future<Output = Reply> + Send;

    /// Wire bytes of the message as they arrive, never the final `.`.
    fn data_chunk(&mut self, wire: &[u8]) -> impl Future<Output = ()> + Send;

    /// The whole message arrived: archive it (and, for a relay, complete the
    /// upstream transaction after the archive commit); returns the reply.
    fn commit(&mut self, transaction: Transaction) -> impl Future<Output = Reply> + Send;

    /// The message will not be committed; the session sends its own reply.
    fn abort(&mut self) -> impl Future<Output = ()> + Send;

    /// Where the session spools the content of the next message.
    fn spool(&self) -> Spool;

    /// The TLS configuration for the client's STARTTLS: the listener's
    /// own (`listener`) unless this connection needs another (an
    /// intercepted connection's destination has its own certificate);
    /// `Err` refuses STARTTLS with that reply.
    fn starttls_config(
        &mut self,
        listener: Arc<rustls::ServerConfig>,
    ) -> Result<Arc<rustls::ServerConfig>, Reply> {
        Ok(listener)
    }
}
