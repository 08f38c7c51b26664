//! One proxied POP3 session: the client leg (optionally TLS, implicit or
//! by mailseal's own STLS), the upstream leg, and the relay between them,
//! one command at a time: POP3 is strictly request and response, so one
//! task reads a command, relays it, and relays the answer before it reads
//! the next (a client that pipelines anyway is served in order).
//!
//! Logins (USER/PASS, APOP, AUTH) are relayed; the upstream alone decides.
//! Downloads are in `download`. The session never sends `QUIT` on its own:
//! a session that ends any other way (client gone, timeout, shutdown,
//! archive failure) never reaches the server's UPDATE state, so nothing a
//! client marked deleted is deleted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::Settings;
use super::capture::Origin;
use super::conn::Conn;
use crate::archive::ArchiveError;
use crate::config::TlsMode;
use crate::intercept::{Decision, Destination, TlsPolicy};
use crate::metrics::{self, ErrorKind};
use crate::pop3::command::Command;
use crate::pop3::identity::sasl_user;
use crate::pop3::multiline::Body;
use crate::pop3::response::{self, Status};
use crate::pop3::upstream::{Upstream, UpstreamError};
use crate::pop3::{capability, reply};
use crate::transport::{Socket, Stream};

/// Longest wait for a client's TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest command or SASL line from the client (RFC 2449 allows 255
/// octets for commands; SASL responses are longer).
const MAX_CLIENT_LINE: usize = 16 * 1024;

/// Longest status line from the server (RFC 2449: 512 octets).
const MAX_STATUS_LINE: usize = 16 * 1024;

/// Why a session ended abnormally.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The upstream could not be reached.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The client's TLS handshake failed or timed out.
    #[error("client TLS handshake: {0}")]
    Tls(std::io::Error),
    /// Reading from or writing to the client failed.
    #[error("client: {0}")]
    Client(std::io::Error),
    /// The upstream failed, closed or was silent mid-response.
    #[error("upstream: {0}")]
    UpstreamIo(std::io::Error),
    /// The upstream said something that is not POP3.
    #[error("upstream broke the protocol: {0}")]
    Protocol(String),
    /// A download could not be archived; the client was closed before the
    /// terminating `.`.
    #[error("archive: {0}")]
    Archive(#[from] ArchiveError),
    /// A download could not be spooled for the archive (disk); handled
    /// like an archive failure.
    #[error("spool: {0}")]
    Spool(std::io::Error),
}

/// How one connection's client leg turns to TLS.
pub enum ClientLegTls {
    /// With this configuration, if any: the listener's certificate, or
    /// the one implicit TLS chose for an intercepted destination.
    Config(Option<Arc<rustls::ServerConfig>>),
    /// An intercepted destination's certificate, chosen when the client
    /// asks for STLS (`-ERR` when there is none).
    PerDestination(Arc<TlsPolicy>, Destination),
}

/// A relay between one client and its upstream.
pub(super) struct Session<C> {
    /// The listener's settings.
    pub settings: Arc<Settings>,
    /// How the client leg turns to TLS.
    pub tls: ClientLegTls,
    /// The client leg.
    pub client: Conn<C>,
    /// The upstream leg.
    pub upstream: Conn<TcpStream>,
    /// Listener, peer, TLS and upstream, for records.
    pub origin: Origin,
    /// The name of an accepted `USER`, until `PASS` is answered.
    pub pending_user: Option<String>,
    /// The user the upstream accepted, when the login showed the name.
    pub user: Option<String>,
    /// The upstream accepted a login (TRANSACTION state).
    pub logged_in: bool,
    /// `UIDL` values seen in this session, by message number (stable
    /// within a session, RFC 1939).
    pub uidls: HashMap<u32, String>,
}

/// Serves one client connection until it ends, relaying to `upstream`
/// (the listener's server, or an intercepted connection's destination).
pub async fn serve<C: Socket>(
    settings: Arc<Settings>,
    upstream: Arc<Upstream>,
    tls: ClientLegTls,
    mut client: Stream<C>,
    peer: SocketAddr,
    shutdown: CancellationToken,
) -> Result<(), SessionError> {
    let mut origin = Origin {
        listener: settings.config.name.clone(),
        peer: peer.to_string(),
        tls: None,
        upstream: upstream.address().to_owned(),
        intercepted: upstream.interception(),
    };
    if settings.config.tls.mode == TlsMode::Implicit {
        let ClientLegTls::Config(Some(config)) = &tls else {
            return Err(SessionError::Tls(std::io::Error::other("no certificate")));
        };
        origin.tls = Some(accept_tls(config, &mut client).await?);
    }
    let connected = upstream.connect().await;
    metrics::upstream_contacted(&settings.config.name, connected.is_ok());
    let (upstream, greeting) = match connected {
        Ok(connected) => connected,
        Err(error) => {
            use tokio::io::AsyncWriteExt as _;
            let _ = client.write_all(reply::UPSTREAM_DOWN).await;
            let _ = client.shutdown().await;
            metrics::error(ErrorKind::Upstream);
            return Err(error.into());
        }
    };
    let mut session = Session {
        settings,
        tls,
        client: Conn::new(client),
        upstream: Conn::new(upstream),
        origin,
        pending_user: None,
        user: None,
        logged_in: false,
        uidls: HashMap::new(),
    };
    session.send_client(&greeting).await?;
    let result = session.run(&shutdown).await;
    if let Err(SessionError::Client(_) | SessionError::UpstreamIo(_)) = &result {
        metrics::error(ErrorKind::Io);
    }
    result
}

impl<C: Socket> Session<C> {
    /// Relays commands until the client quits or the session must end.
    async fn run(&mut self, shutdown: &CancellationToken) -> Result<(), SessionError> {
        while let Some(line) = self.next_command(shutdown).await? {
            let command = Command::parse(&line);
            match command {
                Command::Stls => self.stls().await?,
                Command::Capa => self.capa(&line).await?,
                Command::Auth { mechanism, initial } => {
                    self.auth(&line, mechanism, initial).await?
                }
                Command::Retr(msg) => self.retr(&line, msg).await?,
                Command::Top(msg) => self.top(&line, msg).await?,
                Command::Quit => {
                    self.relay(&line, &command).await?;
                    return Ok(());
                }
                _ => self.relay(&line, &command).await?,
            }
        }
        Ok(())
    }

    /// The client's next command line; `None` when the session ends
    /// (client gone, silent past the timeout, daemon stopping).
    async fn next_command(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Result<Option<Vec<u8>>, SessionError> {
        let idle = self.settings.config.timeout_idle;
        let read = tokio::select! {
            read = tokio::time::timeout(idle, self.client.read_line(MAX_CLIENT_LINE)) => read,
            () = shutdown.cancelled() => {
                let _ = self.client.send(reply::SHUTDOWN).await;
                return Ok(None);
            }
        };
        match read {
            Ok(Ok(line)) => Ok(line),
            Ok(Err(error)) if error.kind() == std::io::ErrorKind::InvalidData => {
                let _ = self.client.send(reply::TOO_LONG).await;
                metrics::error(ErrorKind::Protocol);
                Ok(None)
            }
            Ok(Err(error)) => Err(SessionError::Client(error)),
            Err(_) => {
                tracing::info!("client idle too long");
                let _ = self.client.send(reply::TIMEOUT).await;
                metrics::error(ErrorKind::Timeout);
                Ok(None)
            }
        }
    }

    /// Relays a command and its answer (a body too, for the listings),
    /// and follows the login.
    async fn relay(&mut self, line: &[u8], command: &Command) -> Result<(), SessionError> {
        let status = self.ask(line).await?;
        self.send_client(&status).await?;
        let ok = Status::parse(&status) == Status::Ok;
        if ok && command.multiline() {
            let mut listing = Vec::new();
            let keep = matches!(command, Command::Uidl(None));
            let end = self
                .body(true, |content| {
                    if keep {
                        listing.extend_from_slice(content);
                    }
                    Ok(())
                })
                .await?;
            self.send_client(end).await?;
            for entry in listing.split_inclusive(|&b| b == b'\n') {
                if let Some((msg, uid)) = response::uidl_entry(entry) {
                    self.uidls.insert(msg, uid);
                }
            }
        }
        match command {
            Command::User(name) if ok => self.pending_user = Some(name.clone()),
            Command::Pass if ok => {
                let user = self.pending_user.take();
                self.logged_in(user);
            }
            Command::Apop(name) if ok => self.logged_in(Some(name.clone())),
            Command::Uidl(Some(_)) if ok => {
                if let Some((msg, uid)) = response::uidl_reply(&status) {
                    self.uidls.insert(msg, uid);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn logged_in(&mut self, user: Option<String>) {
        tracing::info!(user = user.as_deref(), "logged in");
        self.user = user;
        self.logged_in = true;
    }

    /// mailseal's own STLS on the client leg.
    async fn stls(&mut self) -> Result<(), SessionError> {
        let offered = self.offer_stls();
        if !offered {
            return self.send_client(reply::STLS_NO).await;
        }
        if !self.client.buffered().is_empty() {
            // Bytes sent after STLS in the clear must not count as sent
            // under TLS: refuse and end the session.
            let _ = self.client.send(reply::STLS_PIPELINED).await;
            metrics::error(ErrorKind::Protocol);
            return Err(SessionError::Tls(std::io::Error::other(
                "commands pipelined after STLS",
            )));
        }
        let config = match &self.tls {
            ClientLegTls::Config(Some(config)) => config.clone(),
            ClientLegTls::Config(None) => return self.send_client(reply::STLS_NO).await,
            ClientLegTls::PerDestination(policy, destination) => {
                match policy.at_starttls(destination) {
                    Decision::Terminate { config, .. } => config,
                    Decision::Refuse | Decision::Blind => {
                        return self.send_client(reply::STLS_NO_DESTINATION).await;
                    }
                }
            }
        };
        self.send_client(reply::STLS_GO).await?;
        let info = accept_tls(&config, &mut self.client.stream).await?;
        self.origin.tls = Some(info);
        Ok(())
    }

    /// True while mailseal offers STLS to the client.
    fn offer_stls(&self) -> bool {
        let can = match &self.tls {
            ClientLegTls::Config(config) => config.is_some(),
            ClientLegTls::PerDestination(..) => true,
        };
        self.settings.config.tls.mode == TlsMode::Starttls && can && !self.client.stream.is_tls()
    }

    /// CAPA, its listing filtered.
    async fn capa(&mut self, line: &[u8]) -> Result<(), SessionError> {
        let status = self.ask(line).await?;
        if Status::parse(&status) != Status::Ok {
            return self.send_client(&status).await;
        }
        let mut listing = Vec::new();
        let end = self
            .body(false, |content| {
                listing.extend_from_slice(content);
                Ok(())
            })
            .await?;
        let mut answer = status;
        answer.extend(capability::filter(&listing, self.offer_stls()));
        answer.extend_from_slice(end);
        self.send_client(&answer).await
    }

    /// A SASL exchange, relayed line by line until the server's verdict.
    async fn auth(
        &mut self,
        line: &[u8],
        mechanism: Option<String>,
        initial: Option<String>,
    ) -> Result<(), SessionError> {
        let mut first = initial.map(String::into_bytes);
        let mut status = self.ask(line).await?;
        loop {
            match Status::parse(&status) {
                Status::Continue => {
                    self.send_client(&status).await?;
                    let idle = self.settings.config.timeout_idle;
                    let answer = tokio::time::timeout(idle, self.client.read_line(MAX_CLIENT_LINE))
                        .await
                        .map_err(|_| SessionError::Client(std::io::ErrorKind::TimedOut.into()))?
                        .map_err(SessionError::Client)?
                        .ok_or_else(|| {
                            SessionError::Client(std::io::ErrorKind::UnexpectedEof.into())
                        })?;
                    first.get_or_insert_with(|| answer.clone());
                    status = self.ask(&answer).await?;
                }
                Status::Ok => {
                    self.send_client(&status).await?;
                    match &mechanism {
                        None => {
                            let end = self.body(true, |_| Ok(())).await?;
                            self.send_client(end).await?;
                        }
                        Some(mechanism) => {
                            let user = first.as_deref().and_then(|r| sasl_user(mechanism, r));
                            self.logged_in(user);
                        }
                    }
                    return Ok(());
                }
                Status::Err => return self.send_client(&status).await,
                Status::Invalid => return Err(protocol(&status)),
            }
        }
    }

    /// Sends one line upstream and reads its status line.
    pub async fn ask(&mut self, line: &[u8]) -> Result<Vec<u8>, SessionError> {
        self.upstream
            .send(line)
            .await
            .map_err(SessionError::UpstreamIo)?;
        let status = self.upstream_line().await?;
        if Status::parse(&status) == Status::Invalid {
            return Err(protocol(&status));
        }
        Ok(status)
    }

    /// The upstream's next line, within the idle timeout.
    async fn upstream_line(&mut self) -> Result<Vec<u8>, SessionError> {
        let idle = self.settings.config.timeout_idle;
        tokio::time::timeout(idle, self.upstream.read_line(MAX_STATUS_LINE))
            .await
            .map_err(|_| SessionError::UpstreamIo(std::io::ErrorKind::TimedOut.into()))?
            .map_err(SessionError::UpstreamIo)?
            .ok_or_else(|| SessionError::UpstreamIo(std::io::ErrorKind::UnexpectedEof.into()))
    }

    /// Reads a multi-line body from the upstream up to its terminating
    /// line, relaying it unchanged to the client when `relay` is true
    /// (except the terminating line, which is returned for the caller to
    /// write when it may) and handing the dot-unstuffed content to `keep`.
    pub async fn body(
        &mut self,
        relay: bool,
        mut keep: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<&'static [u8], SessionError> {
        let idle = self.settings.config.timeout_idle;
        let mut framer = Body::new();
        let (mut out, mut content) = (Vec::new(), Vec::new());
        loop {
            if self.upstream.buffered().is_empty() {
                let read = tokio::time::timeout(idle, self.upstream.fill())
                    .await
                    .map_err(|_| SessionError::UpstreamIo(std::io::ErrorKind::TimedOut.into()))?
                    .map_err(SessionError::UpstreamIo)?;
                if read == 0 {
                    return Err(SessionError::UpstreamIo(
                        std::io::ErrorKind::UnexpectedEof.into(),
                    ));
                }
            }
            let used = framer.feed(self.upstream.buffered(), &mut out, &mut content);
            self.upstream.consume(used);
            keep(&content).map_err(SessionError::Spool)?;
            content.clear();
            if relay && !out.is_empty() {
                self.send_client(&out).await?;
            }
            out.clear();
            if framer.is_done() {
                return Ok(framer.terminator());
            }
        }
    }

    /// Writes to the client.
    pub async fn send_client(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        self.client.send(bytes).await.map_err(SessionError::Client)
    }
}

/// The server said something that is not a POP3 status line.
fn protocol(line: &[u8]) -> SessionError {
    metrics::error(ErrorKind::Upstream);
    let shown: String = String::from_utf8_lossy(line).chars().take(80).collect();
    SessionError::Protocol(shown.trim_end().to_owned())
}

/// The client leg's TLS handshake, within [`HANDSHAKE_TIMEOUT`].
async fn accept_tls<C: Socket>(
    config: &Arc<rustls::ServerConfig>,
    client: &mut Stream<C>,
) -> Result<crate::archive::record::TlsInfo, SessionError> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, client.accept_tls(config.clone())).await {
        Ok(Ok(info)) => Ok(info),
        Ok(Err(error)) => {
            metrics::error(ErrorKind::Tls);
            Err(SessionError::Tls(error))
        }
        Err(_) => {
            metrics::error(ErrorKind::Tls);
            Err(SessionError::Tls(std::io::ErrorKind::TimedOut.into()))
        }
    }
}
