//! One SMTP server session over any stream, shared by the journal and the
//! proxy.
//!
//! The session owns the client leg: reading and framing lines, the order of
//! commands (EHLO before MAIL, MAIL before RCPT, an accepted RCPT before
//! DATA), limits (line length, SIZE and actual bytes, recipients, errors,
//! timeouts), STARTTLS, the TLS policy for MAIL and AUTH, the DATA decoder
//! with its smuggling check, spooling, and shutdown. Every decision about
//! mail is the [`Backend`]'s (see [`super::backend`] for the contract).
//!
//! Replies are queued and written when the client's input is used up, so a
//! pipelined group gets its replies in order and in one write. Any `421`
//! (the session's own or the backend's) is the last reply: the session
//! flushes and closes (RFC 5321 3.8), dropping pipelined commands.
//!
//! Timeouts are deadlines per record, not per read (Postfix's
//! `smtpd_per_record_deadline`), so a client trickling one byte at a time
//! cannot hold a connection forever: a whole command line must arrive
//! within `command_timeout`, and DATA gets a time budget of `data_timeout`
//! that each read spends and each byte earns back at `min_data_rate`
//! (Postfix's `smtpd_min_data_rate`), never above `data_timeout`. Shutdown: a
//! session waiting for a command outside a transaction answers
//! `421 4.3.0` and closes; one inside a transaction (MAIL accepted, DATA
//! being received, a commit in flight) carries on until the transaction
//! ends.

mod access;
mod message;
#[cfg(test)]
mod tests;
mod transaction;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout, timeout_at};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::archive::record::{Rcpt, SourceKind};
use crate::config::DEFAULT_MIN_DATA_RATE;
use crate::metrics::{self, ErrorKind};
use crate::transport::Stream;

use super::backend::{Backend, Connection};
use super::command::{Command, CommandError};
use super::ehlo::{self, EhloPolicy};
use super::line::{DEFAULT_MAX_LINE, LineError, LineFramer};
use super::reply::Reply;

/// Limits and policy of one listener, shared by its sessions.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The listener's name, for records and logs.
    pub listener: String,
    /// The way in, for records.
    pub kind: SourceKind,
    /// Longest command line, ending included.
    pub max_line: usize,
    /// Largest message accepted (SIZE= and actual unstuffed bytes).
    pub max_message_size: u64,
    /// Most RCPT commands in one transaction.
    pub max_recipients: usize,
    /// Refused commands before the session is closed with `421`.
    pub max_errors: u32,
    /// How long to wait for a command (RFC 5321 4.5.3.2: 5 minutes).
    pub command_timeout: Duration,
    /// How long to wait for each read during DATA (RFC 5321: 3 minutes);
    /// also the most time a slow sender can have banked.
    pub data_timeout: Duration,
    /// Bytes per second a DATA sender must keep up on average; each byte
    /// buys `1 / min_data_rate` seconds. 0 turns the rate check off.
    pub min_data_rate: u64,
    /// Server TLS for STARTTLS; `None` means STARTTLS is not offered.
    pub starttls: Option<Arc<rustls::ServerConfig>>,
    /// Refuse MAIL with `530` until the client leg is encrypted.
    pub require_tls: bool,
    /// Offer AUTH on an unencrypted client leg (lab use).
    pub allow_plain_auth: bool,
}

impl SessionConfig {
    /// RFC 5321 defaults for a listener, without TLS.
    pub fn new(listener: &str, kind: SourceKind) -> SessionConfig {
        SessionConfig {
            listener: listener.to_owned(),
            kind,
            max_line: DEFAULT_MAX_LINE,
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 1000,
            max_errors: 20,
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(180),
            min_data_rate: DEFAULT_MIN_DATA_RATE,
            starttls: None,
            require_tls: false,
            allow_plain_auth: false,
        }
    }
}

/// Why a session ended abnormally.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Reading from or writing to the client failed.
    #[error("client connection: {0}")]
    Io(#[from] io::Error),
    /// The client sent nothing (or read nothing) for too long.
    #[error("client timed out")]
    Timeout,
    /// The STARTTLS handshake failed.
    #[error("TLS handshake: {0}")]
    Tls(io::Error),
}

/// Whether the session goes on after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

/// What waiting for the next line produced.
enum Input {
    Line(Result<Vec<u8>, LineError>),
    Eof,
    Shutdown,
}

/// The transaction being assembled between MAIL and the end of DATA.
struct Envelope {
    /// The reverse path, `""` for the null sender.
    mail_from: String,
    /// Every RCPT with the reply it got.
    rcpts: Vec<Rcpt>,
    /// How many RCPTs got a 2xx.
    accepted: usize,
}

/// Bytes read from the client in one go.
const READ_SIZE: usize = 64 * 1024;

/// How long a last reply (timeout, shutdown) may take to write.
const LAST_WORDS: Duration = Duration::from_secs(5);

/// One client connection.
pub struct Session<S, B> {
    /// The listener's limits and policy.
    config: Arc<SessionConfig>,
    /// The client stream, upgraded in place by STARTTLS.
    stream: Stream<S>,
    /// Who answers.
    backend: B,
    /// What the backend is told about the client.
    conn: Connection,
    /// Cancelled when the daemon stops.
    shutdown: CancellationToken,
    /// Splits `inbuf` into command lines.
    framer: LineFramer,
    /// Bytes read but not yet consumed (pipelined commands).
    inbuf: Vec<u8>,
    /// Replies queued but not yet written.
    out: Vec<u8>,
    /// Read buffer.
    scratch: Box<[u8]>,
    /// EHLO or HELO succeeded (since the last STARTTLS).
    greeted: bool,
    /// It was EHLO (AUTH needs it).
    esmtp: bool,
    /// The last EHLO reply offered AUTH.
    auth_offered: bool,
    /// The open transaction, after an accepted MAIL.
    tx: Option<Envelope>,
    /// Commands refused so far.
    errors: u32,
    /// A `421` was queued: it is the last reply of this session.
    closing: bool,
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    /// A session on `stream` from `peer`; a stream that is already TLS
    /// (implicit TLS) counts as encrypted from the start.
    pub fn new(
        stream: Stream<S>,
        peer: SocketAddr,
        backend: B,
        config: Arc<SessionConfig>,
        shutdown: CancellationToken,
    ) -> Session<S, B> {
        Session {
            framer: LineFramer::new(config.max_line),
            conn: Connection {
                listener: config.listener.clone(),
                peer,
                helo: None,
                tls: stream.tls_info(),
                auth_user: None,
            },
            config,
            stream,
            backend,
            shutdown,
            inbuf: Vec::new(),
            out: Vec::new(),
            scratch: vec![0; READ_SIZE].into_boxed_slice(),
            greeted: false,
            esmtp: false,
            auth_offered: false,
            tx: None,
            errors: 0,
            closing: false,
        }
    }

    /// Runs the session to its end and closes the stream.
    pub async fn run(mut self) -> Result<(), SessionError> {
        let result = self.serve().await;
        let _ = timeout(LAST_WORDS, self.stream.shutdown()).await;
        result
    }

    async fn serve(&mut self) -> Result<(), SessionError> {
        let greeting = self.backend.greet(&self.conn).await;
        self.queue(&greeting);
        self.flush().await?;
        if !greeting.is_positive() {
            return Ok(());
        }
        loop {
            let line = match self.next_line(true).await? {
                Input::Line(line) => line,
                Input::Eof => {
                    debug!("client closed");
                    return Ok(());
                }
                Input::Shutdown => {
                    info!("shutdown");
                    self.queue(&Reply::new(421, "4.3.0 shutting down"));
                    return self.flush_within(LAST_WORDS).await;
                }
            };
            if self.handle(line).await? == Flow::Close || self.closing {
                return self.flush().await;
            }
        }
    }

    /// The next command line; flushes queued replies before waiting. The
    /// whole line must arrive within `command_timeout` of the first wait.
    async fn next_line(&mut self, may_shut_down: bool) -> Result<Input, SessionError> {
        let mut deadline = None;
        loop {
            if let Some(line) = self.framer.next_line(&mut self.inbuf) {
                return Ok(Input::Line(line));
            }
            self.flush().await?;
            let idle = may_shut_down && self.tx.is_none();
            let deadline =
                *deadline.get_or_insert_with(|| Instant::now() + self.config.command_timeout);
            let read = timeout_at(deadline, self.stream.read(&mut self.scratch));
            let read = tokio::select! {
                biased;
                () = self.shutdown.cancelled(), if idle => None,
                r = read => Some(r),
            };
            let n = match read {
                None => return Ok(Input::Shutdown),
                Some(Ok(r)) => r?,
                Some(Err(_)) => return Err(self.timed_out().await),
            };
            if n == 0 {
                return Ok(Input::Eof);
            }
            self.inbuf.extend_from_slice(&self.scratch[..n]);
        }
    }

    async fn handle(&mut self, line: Result<Vec<u8>, LineError>) -> Result<Flow, SessionError> {
        let parsed = line
            .map_err(CommandError::from)
            .and_then(|l| Command::parse(&l).map(|c| (c, l)));
        let (command, line) = match parsed {
            Ok(parsed) => parsed,
            Err(e) => {
                debug!(error = %e, "bad-command");
                return Ok(self.refuse(e.reply()));
            }
        };
        debug!(verb = command.verb(), "command");
        match &command {
            Command::Ehlo(_) | Command::Helo(_) => self.hello(&command, &line).await,
            Command::StartTls => self.starttls().await,
            Command::Auth { mechanism, initial } => {
                self.auth(mechanism, initial.as_deref(), &line).await
            }
            Command::Mail(mail) => self.mail(mail, &command, &line).await,
            Command::Rcpt(rcpt) => self.rcpt(rcpt, &command, &line).await,
            Command::Data => self.data().await,
            Command::Rset => {
                self.tx = None;
                self.relay(&command, &line).await
            }
            Command::Noop | Command::Vrfy(_) | Command::Expn(_) | Command::Help => {
                self.relay(&command, &line).await
            }
            Command::Quit => {
                self.relay(&command, &line).await?;
                Ok(Flow::Close)
            }
            Command::Bdat => Ok(self.refuse(Reply::new(502, "5.5.1 BDAT not available"))),
            Command::Xclient => Ok(self.refuse(Reply::new(550, "5.7.1 not permitted"))),
            Command::Unknown(_) => Ok(self.refuse(Reply::new(500, "5.5.2 command not recognized"))),
        }
    }

    /// Passes a command to the backend and queues its reply.
    async fn relay(&mut self, command: &Command, line: &[u8]) -> Result<Flow, SessionError> {
        let reply = self.backend.command(&self.conn, command, line).await;
        self.queue(&reply);
        Ok(Flow::Continue)
    }

    async fn hello(&mut self, command: &Command, line: &[u8]) -> Result<Flow, SessionError> {
        let reply = self.backend.command(&self.conn, command, line).await;
        let (Command::Ehlo(domain) | Command::Helo(domain)) = command else {
            return Ok(Flow::Continue);
        };
        if !reply.is_positive() {
            self.queue(&reply);
            return Ok(Flow::Continue);
        }
        self.tx = None;
        self.greeted = true;
        self.conn.helo = Some(domain.clone());
        self.esmtp = matches!(command, Command::Ehlo(_));
        if self.esmtp {
            let shown = ehlo::filter(&reply, &self.ehlo_policy());
            self.auth_offered = ehlo::offers_auth(&shown);
            self.queue(&shown);
        } else {
            self.auth_offered = false;
            self.queue(&reply);
        }
        Ok(Flow::Continue)
    }

    fn ehlo_policy(&self) -> EhloPolicy {
        let tls = self.conn.tls.is_some();
        EhloPolicy {
            offer_starttls: self.config.starttls.is_some() && !tls,
            offer_auth: tls || self.config.allow_plain_auth,
            max_size: self.config.max_message_size,
        }
    }

    /// Queues a refusal and counts it; too many close the session.
    fn refuse(&mut self, reply: Reply) -> Flow {
        self.queue(&reply);
        self.errors += 1;
        if self.errors >= self.config.max_errors {
            warn!(errors = self.errors, "too-many-errors");
            metrics::error(ErrorKind::Protocol);
            self.queue(&Reply::new(421, "4.7.0 too many errors, closing"));
            return Flow::Close;
        }
        Flow::Continue
    }

    fn queue(&mut self, reply: &Reply) {
        self.closing |= reply.code() == 421;
        reply.write_to(&mut self.out);
    }

    async fn flush(&mut self) -> Result<(), SessionError> {
        self.flush_within(self.config.command_timeout).await
    }

    async fn flush_within(&mut self, limit: Duration) -> Result<(), SessionError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let (stream, out) = (&mut self.stream, &self.out);
        let write = async {
            stream.write_all(out).await?;
            stream.flush().await
        };
        timeout(limit, write)
            .await
            .map_err(|_| SessionError::Timeout)??;
        self.out.clear();
        Ok(())
    }

    /// Tells a silent client goodbye; returns the error that ends the session.
    async fn timed_out(&mut self) -> SessionError {
        info!("timeout");
        metrics::error(ErrorKind::Timeout);
        self.queue(&Reply::new(421, "4.4.2 timeout, closing"));
        let _ = self.flush_within(LAST_WORDS).await;
        SessionError::Timeout
    }
}

/// The reply for a message over the size limit.
fn too_big() -> Reply {
    Reply::new(552, "5.3.4 message size exceeds fixed maximum message size")
}
