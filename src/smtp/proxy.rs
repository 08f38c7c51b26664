//! The transparent SMTP proxy: a per-command relay to the real server that
//! archives every message before the server can accept it.
//!
//! The session is the shared [`Session`]; this module is its [`Backend`].
//! Each client connection gets its own upstream connection ([`leg`]): the
//! upstream's greeting, its replies to every command (multi-line, enhanced
//! codes intact) and its EHLO capabilities (filtered by
//! [`super::ehlo::filter`]; STARTTLS is mailseal's own) reach the client,
//! so recipients, AUTH, size and spam policy stay the upstream's decisions.
//!
//! * **Who the client is** ([`client`]): with `xclient`, XCLIENT goes
//!   before the client's first EHLO/HELO, so the upstream's relay and spam
//!   policy see the real client; with `xforward`, XFORWARD goes before
//!   each MAIL.
//! * **AUTH** lines are relayed verbatim; [`identity`] learns the user
//!   name for the record. AUTH is neither offered nor relayed when the
//!   upstream leg is plain text and leaves the machine, unless
//!   `allow_auth_without_tls` (the session applies the same option to the
//!   client leg).
//! * **DATA** streams upstream as it arrives; the final `.` is sent by
//!   [`commit`] only after the archive commit is durable.
//!
//! * **TLS on intercepted connections** ([`TlsPolicy`]): implicit TLS is
//!   decided once the ClientHello is read (a certificate for the
//!   destination, refused before the handshake completes, or relayed
//!   blind), STARTTLS when the client asks (`454 4.7.0` when refused).
//!
//! Failures: upstream unreachable at connect gives `421 4.4.1`; a lost
//! upstream gives `421 4.4.2` to commands and `451 4.4.2` to a message;
//! an archive failure gives `451 4.3.0` (`452 4.3.1` for a full disk) and
//! the upstream transaction is dropped without its `.`.

mod client;
mod commit;
mod identity;
mod leg;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rustls_pki_types::ServerName;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

use crate::archive::record::SourceKind;
use crate::archive::{Archive, Spool};
use crate::config::{HostPort, SmtpProxyConfig, SmtpUpstreamTls, Target, TlsMode};
use crate::intercept::{Decision, Destination, Interceptor, TlsPolicy};
use crate::metrics::{self, ErrorKind};
use crate::tls::TlsError;

use super::backend::{AuthOutcome, AuthStep, Backend, Connection, Transaction};
use super::command::Command;
use super::connection;
use super::reply::Reply;
use super::session::SessionConfig;
use super::upstream::{UpstreamError, UpstreamOptions};
use commit::Delivery;
use identity::SaslWatch;
use leg::Leg;

/// What every connection of one proxy listener shares.
pub struct ProxyListener {
    /// Limits and TLS policy of the client leg.
    session: Arc<SessionConfig>,
    /// Set for implicit TLS on the client leg (`tls_mode = "implicit"`).
    implicit_tls: Option<Arc<rustls::ServerConfig>>,
    /// `tls_mode = "implicit"`.
    implicit: bool,
    /// What the backends need.
    shared: Arc<Shared>,
}

/// Listener-wide state of the backend.
struct Shared {
    /// The listener's name, for records, logs and metrics.
    name: String,
    /// Where the upstream legs go.
    route: Route,
    /// TLS, names, timeouts of the upstream leg.
    options: UpstreamOptions,
    /// Send XCLIENT when the upstream offers it.
    xclient: bool,
    /// Send XFORWARD before each MAIL when the upstream offers it.
    xforward: bool,
    /// Relay AUTH over a plain-text upstream leg that leaves the machine.
    auth_without_tls: bool,
    /// Where messages go.
    archive: Archive,
    /// Certificates per destination, for an intercepting listener that
    /// speaks TLS with its clients.
    tls_policy: Option<TlsPolicy>,
}

impl ProxyListener {
    /// Prepares a listener from its configuration (loads the client-leg
    /// certificate and the upstream's trust roots).
    pub fn new(config: &SmtpProxyConfig, archive: Archive) -> Result<ProxyListener, TlsError> {
        let implicit = config.tls.mode == TlsMode::Implicit;
        let tls_policy = match config.upstream.address.intercept() {
            Some(intercept) if config.tls.mode != TlsMode::None => Some(TlsPolicy::new(
                &config.name,
                &intercept.tls,
                config.tls.files.as_ref(),
            )?),
            _ => None,
        };
        let tls = match &tls_policy {
            // Offers STARTTLS; each connection's own comes from the policy.
            Some(policy) => Some(policy.offer()?),
            None => config.tls.server_config()?,
        };
        let upstream_tls = match config.upstream.tls {
            SmtpUpstreamTls::None => None,
            _ => Some(config.upstream.client_config()?),
        };
        let mut session = SessionConfig::new(&config.name, SourceKind::SmtpProxy);
        session.max_message_size = config.max_message_size;
        session.command_timeout = config.timeout_command;
        session.data_timeout = config.timeout_data_block;
        session.min_data_rate = config.min_data_rate;
        session.starttls = tls.clone().filter(|_| !implicit);
        session.allow_plain_auth = config.allow_auth_without_tls;
        if config.allow_auth_without_tls {
            warn!(listener = %config.name, "smtp proxy relays AUTH without TLS: passwords may cross the network in plain text");
        }
        Ok(ProxyListener {
            session: Arc::new(session),
            implicit_tls: tls.filter(|_| implicit),
            implicit,
            shared: Arc::new(Shared {
                name: config.name.clone(),
                route: match &config.upstream.address {
                    Target::Fixed(address) => Route::Fixed(address.clone()),
                    Target::Intercepted(intercept) => {
                        Route::Intercept(Interceptor::new(intercept.clone()))
                    }
                },
                options: UpstreamOptions::from_config(config, upstream_tls),
                xclient: config.xclient,
                xforward: config.xforward,
                auth_without_tls: config.allow_auth_without_tls,
                archive,
                tls_policy,
            }),
        })
    }

    /// Serves one accepted connection to its end.
    pub async fn handle(&self, mut tcp: TcpStream, peer: SocketAddr, shutdown: CancellationToken) {
        let mut implicit_tls = self.implicit_tls.clone();
        let upstream = match &self.shared.route {
            Route::Fixed(address) => UpstreamAt::Fixed(address.clone()),
            Route::Intercept(interceptor) => match interceptor.route(&tcp, peer) {
                Ok(destination) => {
                    let Some(policy) = self.shared.tls_policy.as_ref().filter(|_| self.implicit)
                    else {
                        let name = self
                            .shared
                            .tls_policy
                            .as_ref()
                            .and_then(|p| p.upstream_name(&destination));
                        return self
                            .serve(
                                tcp,
                                peer,
                                implicit_tls,
                                UpstreamAt::Intercepted(destination, name),
                                shutdown,
                            )
                            .await;
                    };
                    let (hello, connect) = (
                        self.session.command_timeout,
                        self.shared.options.timeouts.connect,
                    );
                    match policy.implicit(tcp, &destination, hello, connect).await {
                        Some((accepted, config, upstream_name)) => {
                            tcp = accepted;
                            implicit_tls = Some(config);
                            UpstreamAt::Intercepted(destination, upstream_name)
                        }
                        None => return,
                    }
                }
                Err(_) => {
                    // Plain text on an implicit-TLS port would be garbage.
                    if self.implicit_tls.is_none() {
                        let _ = tcp.write_all(REFUSED).await;
                    }
                    let _ = tcp.shutdown().await;
                    return;
                }
            },
        };
        self.serve(tcp, peer, implicit_tls, upstream, shutdown)
            .await;
    }

    async fn serve(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        implicit_tls: Option<Arc<rustls::ServerConfig>>,
        upstream: UpstreamAt,
        shutdown: CancellationToken,
    ) {
        let outcomes = TaskTracker::new();
        let backend = ProxyBackend::new(self.shared.clone(), outcomes.clone(), upstream);
        let config = self.session.clone();
        let tls = implicit_tls.as_ref();
        connection::serve(tcp, peer, tls, backend, config, shutdown).await;
        outcomes.close();
        outcomes.wait().await;
    }
}

/// Where a listener's upstream legs go.
enum Route {
    /// The configured server; its host is resolved at each connect.
    Fixed(HostPort),
    /// Each connection's original destination, when allowed.
    Intercept(Interceptor),
}

/// Where one connection's upstream leg goes.
enum UpstreamAt {
    /// The listener's configured server.
    Fixed(HostPort),
    /// The intercepted connection's original destination, and the name
    /// its certificate must carry when it is not `upstream_tls_name`.
    Intercepted(Destination, Option<ServerName<'static>>),
}

/// What an intercepted SMTP client that may not pass is told before the
/// connection closes: temporary, so mail waits in the client's queue
/// while an admin fixes `intercept_destinations` instead of bouncing.
const REFUSED: &[u8] = b"421 4.7.0 destination not allowed through this gateway\r\n";

/// The backend of one proxied connection.
struct ProxyBackend {
    /// Listener-wide state.
    shared: Arc<Shared>,
    /// The upstream connection.
    leg: Leg,
    /// Where this connection's upstream leg goes.
    upstream: UpstreamAt,
    /// XCLIENT was sent (or is not wanted) on this connection.
    identified: bool,
    /// The AUTH exchange in progress.
    sasl: Option<SaslWatch>,
    /// When the current transaction's MAIL was accepted.
    started: Option<Instant>,
    /// DATA is being streamed upstream.
    in_data: bool,
    /// Why the upstream failed while DATA streamed.
    lost_in_data: Option<String>,
    /// Outcome records being appended; the connection waits for them.
    outcomes: TaskTracker,
}

impl ProxyBackend {
    fn new(shared: Arc<Shared>, outcomes: TaskTracker, upstream: UpstreamAt) -> ProxyBackend {
        ProxyBackend {
            upstream,
            outcomes,
            identified: !shared.xclient,
            shared,
            leg: Leg::new(),
            sasl: None,
            started: None,
            in_data: false,
            lost_in_data: None,
        }
    }

    /// True when AUTH may be offered and relayed on this connection.
    fn auth_allowed(&self) -> bool {
        self.shared.auth_without_tls || self.leg.is_private()
    }
}

impl Backend for ProxyBackend {
    async fn greet(&mut self, _conn: &Connection) -> Reply {
        let shared = &self.shared;
        let (connected, upstream) = match &self.upstream {
            UpstreamAt::Intercepted(destination, name) => {
                let mut options = shared.options.clone();
                if let Some(name) = name {
                    options.server_name = name.clone();
                }
                (
                    self.leg.connect_intercepted(destination, &options).await,
                    destination.to_string(),
                )
            }
            UpstreamAt::Fixed(address) => (
                self.leg
                    .connect(&address.host, address.port, &shared.options)
                    .await,
                address.to_string(),
            ),
        };
        metrics::upstream_contacted(&shared.name, connected.is_ok());
        match connected {
            Ok(greeting) => greeting,
            Err(error) => {
                warn!(%upstream, %error, "upstream-unreachable");
                metrics::error(match error {
                    UpstreamError::Tls(_) => ErrorKind::Tls,
                    _ => ErrorKind::Upstream,
                });
                Reply::new(421, "4.4.1 upstream server not reachable, try again later")
            }
        }
    }

    async fn command(&mut self, conn: &Connection, command: &Command, line: &[u8]) -> Reply {
        match command {
            Command::Ehlo(_) | Command::Helo(_) => self.hello(conn, command, line).await,
            Command::Mail(_) => self.mail(conn, line).await,
            Command::Quit if !self.leg.is_up() => Reply::new(221, "2.0.0 bye"),
            _ => self.leg.relay(line).await,
        }
    }

    async fn auth(&mut self, _conn: &Connection, step: AuthStep<'_>) -> AuthOutcome {
        let line = match step {
            AuthStep::Start {
                mechanism,
                initial,
                line,
            } => {
                if !self.auth_allowed() {
                    let reply = Reply::new(538, "5.7.11 encryption required for authentication");
                    return AuthOutcome { reply, user: None };
                }
                self.sasl = Some(SaslWatch::start(mechanism, initial));
                line
            }
            AuthStep::Response(line) => {
                if let Some(watch) = &mut self.sasl {
                    watch.response(line);
                }
                line
            }
        };
        let reply = self.leg.relay(line).await;
        let user = match reply.code() {
            334 => None,
            235 => self.sasl.take().and_then(|w| w.user().map(str::to_owned)),
            _ => {
                self.sasl = None;
                None
            }
        };
        AuthOutcome { reply, user }
    }

    async fn data(&mut self) -> Reply {
        let reply = self.leg.relay(b"DATA").await;
        self.in_data = reply.code() == 354;
        self.lost_in_data = None;
        reply
    }

    async fn data_chunk(&mut self, wire: &[u8]) {
        if self.lost_in_data.is_some() {
            return;
        }
        if let Err(error) = self.leg.send_data(wire).await {
            self.lost_in_data = Some(error.to_string());
        }
    }

    async fn commit(&mut self, mut transaction: Transaction) -> Reply {
        self.in_data = false;
        if let UpstreamAt::Intercepted(destination, _) = &self.upstream {
            transaction.meta.intercepted = Some(destination.record());
        }
        let delivery = Delivery {
            listener: &self.shared.name,
            started: self.started.take().unwrap_or_else(Instant::now),
            lost_in_data: self.lost_in_data.take(),
        };
        let archive = &self.shared.archive;
        commit::commit(
            archive,
            &self.outcomes,
            &mut self.leg,
            delivery,
            transaction,
        )
        .await
    }

    async fn abort(&mut self) {
        if std::mem::take(&mut self.in_data) {
            self.leg.abort("message not committed");
        }
        self.started = None;
        self.lost_in_data = None;
    }

    fn spool(&self) -> Spool {
        self.shared.archive.spool()
    }

    fn starttls_config(
        &mut self,
        listener: Arc<rustls::ServerConfig>,
    ) -> Result<Arc<rustls::ServerConfig>, Reply> {
        let (Some(policy), UpstreamAt::Intercepted(destination, _)) =
            (&self.shared.tls_policy, &self.upstream)
        else {
            return Ok(listener);
        };
        match policy.at_starttls(destination) {
            Decision::Terminate { config, .. } => Ok(config),
            Decision::Refuse | Decision::Blind => Err(Reply::new(
                454,
                "4.7.0 TLS not available for this destination",
            )),
        }
    }
}
