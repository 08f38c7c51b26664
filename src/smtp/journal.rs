//! The journal receiver: an SMTP server that only archives.
//!
//! Exchange and Microsoft 365 journal rules, Postfix `always_bcc` and any
//! server that can send a copy deliver here. The session is the shared
//! [`Session`]; this module is its [`Backend`]: it lets in only allowed
//! peers (networks at connect; when AUTH users are configured, MAIL also
//! needs a successful AUTH), accepts every recipient, and on commit archives
//! the message before answering `250 2.0.0 Ok: archived as <id>` (`451
//! 4.3.0` when the archive fails, `452 4.3.1` when its disk is full, so the
//! sender retries).
//!
//! Exchange envelope journal reports are unwrapped by
//! [`super::journal_report`]: each original message inside becomes a record
//! with the report's envelope as metadata and the whole report as evidence.
//! A report that cannot be unwrapped is archived whole, marked malformed.
//! Anything else (a Postfix BCC copy) is archived as received, with the SMTP
//! envelope.

mod commit;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock};

use ipnet::IpNet;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::archive::record::SourceKind;
use crate::archive::{Archive, Spool};
use crate::config::{AuthUser, JournalConfig, TlsMode, verify_password};
use crate::metrics::{self, ErrorKind};
use crate::tls::TlsError;

use super::auth::{SaslServer, SaslStep};
use super::backend::{AuthOutcome, AuthStep, Backend, Connection, Transaction};
use super::command::Command;
use super::connection;
use super::reply::Reply;
use super::session::SessionConfig;

/// What every connection of one journal listener shares.
pub struct JournalListener {
    /// Limits and TLS policy of the session.
    session: Arc<SessionConfig>,
    /// Set for implicit TLS (`tls_mode = "implicit"`).
    implicit_tls: Option<Arc<rustls::ServerConfig>>,
    /// What the backend needs.
    shared: Arc<Shared>,
}

/// Listener-wide state of the backend.
struct Shared {
    /// The listener's name, for records, logs and metrics.
    name: String,
    /// Name in greetings.
    hostname: String,
    /// Peers allowed to deliver.
    allowed: Vec<IpNet>,
    /// AUTH users; empty means AUTH is neither offered nor required.
    users: Vec<AuthUser>,
    /// Where messages go.
    archive: Archive,
}

impl JournalListener {
    /// Prepares a listener from its configuration (loads TLS files).
    pub fn new(config: &JournalConfig, archive: Archive) -> Result<JournalListener, TlsError> {
        let tls = config.tls.server_config()?;
        let implicit = config.tls.mode == TlsMode::Implicit;
        let mut session = SessionConfig::new(&config.name, SourceKind::Journal);
        session.max_message_size = config.max_message_size;
        session.command_timeout = config.timeout_command;
        session.data_timeout = config.timeout_data_block;
        session.min_data_rate = config.min_data_rate;
        session.require_tls = config.require_tls;
        session.starttls = tls.clone().filter(|_| !implicit);
        // Without any TLS configured, AUTH can only happen in plain text;
        // the operator chose that by configuring users without a certificate.
        session.allow_plain_auth = tls.is_none();
        if tls.is_none() && !config.auth_users.is_empty() {
            warn!(listener = %config.name, "journal AUTH without TLS: passwords cross the network in plain text");
        }
        Ok(JournalListener {
            session: Arc::new(session),
            implicit_tls: tls.filter(|_| implicit),
            shared: Arc::new(Shared {
                name: config.name.clone(),
                hostname: config.hostname.clone(),
                allowed: config.allowed_networks.clone(),
                users: config.auth_users.clone(),
                archive,
            }),
        })
    }

    /// Serves one accepted connection to its end.
    pub async fn handle(&self, tcp: TcpStream, peer: SocketAddr, shutdown: CancellationToken) {
        let backend = JournalBackend {
            shared: self.shared.clone(),
            sasl: None,
        };
        // No plain-text refusal is possible on a TLS port: drop disallowed
        // peers before spending a handshake on them.
        if self.implicit_tls.is_some() && !self.shared.allows(peer.ip()) {
            refused(peer);
            return;
        }
        let config = self.session.clone();
        let tls = self.implicit_tls.as_ref();
        connection::serve(tcp, peer, tls, backend, config, shutdown).await;
    }
}

impl Shared {
    fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allowed.iter().any(|net| net.contains(&ip))
    }
}

fn refused(peer: SocketAddr) {
    warn!(%peer, "refused-network");
    metrics::error(ErrorKind::Refused);
}

/// The backend of one journal connection.
struct JournalBackend {
    /// Listener-wide state.
    shared: Arc<Shared>,
    /// The AUTH exchange in progress.
    sasl: Option<SaslServer>,
}

/// A hash to verify against for unknown users, so a failed login takes
/// as long whether or not the user exists.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| crate::config::hash_password("mailseal-dummy").unwrap_or_default());

impl JournalBackend {
    fn ehlo(&self) -> Reply {
        let mut caps = vec![
            self.shared.hostname.clone(),
            "PIPELINING".into(),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            "ENHANCEDSTATUSCODES".into(),
        ];
        if !self.shared.users.is_empty() {
            caps.push("AUTH PLAIN LOGIN".into());
        }
        Reply::multiline(250, caps.into_iter().map(String::into_bytes).collect())
    }

    /// Checks a password off the async threads (Argon2 is slow on purpose).
    async fn verify(&self, user: &str, password: &str) -> bool {
        let hash = self.shared.users.iter().find(|u| u.user == user);
        let known = hash.is_some();
        let hash = hash.map_or_else(|| DUMMY_HASH.clone(), |u| u.password_hash.clone());
        let password = password.to_owned();
        let check = tokio::task::spawn_blocking(move || verify_password(&hash, &password));
        known && check.await.unwrap_or(false)
    }

    fn auth_failed() -> AuthOutcome {
        AuthOutcome {
            reply: Reply::new(535, "5.7.8 authentication credentials invalid"),
            user: None,
        }
    }
}

impl Backend for JournalBackend {
    async fn greet(&mut self, conn: &Connection) -> Reply {
        if !self.shared.allows(conn.peer.ip()) {
            refused(conn.peer);
            return Reply::new(554, "5.7.1 access denied");
        }
        Reply::new(
            220,
            format!("{} ESMTP mailseal journal", self.shared.hostname),
        )
    }

    async fn command(&mut self, conn: &Connection, command: &Command, _line: &[u8]) -> Reply {
        match command {
            Command::Ehlo(_) => self.ehlo(),
            Command::Helo(_) => Reply::new(250, self.shared.hostname.clone()),
            Command::Mail(_) if !self.shared.users.is_empty() && conn.auth_user.is_none() => {
                warn!(peer = %conn.peer, "auth-required");
                metrics::error(ErrorKind::Refused);
                Reply::new(530, "5.7.0 authentication required")
            }
            Command::Mail(m) => match m.unknown_params().next() {
                Some(p) => Reply::new(555, format!("5.5.4 unsupported parameter {}", p.keyword)),
                None => Reply::new(250, "2.1.0 Ok"),
            },
            Command::Rcpt(r) => match r.unknown_params().next() {
                Some(p) => Reply::new(555, format!("5.5.4 unsupported parameter {}", p.keyword)),
                None => Reply::new(250, "2.1.5 Ok"),
            },
            Command::Vrfy(_) => Reply::new(252, "2.5.0 cannot VRFY"),
            Command::Expn(_) => Reply::new(502, "5.5.1 EXPN not available"),
            Command::Help => Reply::new(214, "2.0.0 mailseal journal receiver"),
            Command::Quit => Reply::new(221, "2.0.0 bye"),
            _ => Reply::new(250, "2.0.0 Ok"),
        }
    }

    async fn auth(&mut self, _conn: &Connection, step: AuthStep<'_>) -> AuthOutcome {
        let next = match step {
            AuthStep::Start {
                mechanism, initial, ..
            } => SaslServer::start(mechanism, initial),
            AuthStep::Response(line) => match self.sasl.take() {
                Some(server) => server.next(&String::from_utf8_lossy(line)),
                None => return Self::auth_failed(),
            },
        };
        match next {
            Err(e) => AuthOutcome {
                reply: e.reply(),
                user: None,
            },
            Ok((server, SaslStep::Challenge(reply))) => {
                self.sasl = Some(server);
                AuthOutcome { reply, user: None }
            }
            Ok((_, SaslStep::Done(credentials))) => {
                if credentials.authzid.is_some()
                    || !self.verify(&credentials.user, &credentials.password).await
                {
                    return Self::auth_failed();
                }
                AuthOutcome {
                    reply: Reply::new(235, "2.7.0 authentication successful"),
                    user: Some(credentials.user),
                }
            }
        }
    }

    async fn data(&mut self) -> Reply {
        Reply::new(354, "end data with <CR><LF>.<CR><LF>")
    }

    async fn data_chunk(&mut self, _wire: &[u8]) {
        // Only the spooled content matters here: nothing is relayed.
    }

    async fn commit(&mut self, transaction: Transaction) -> Reply {
        commit::archive(&self.shared.archive, &self.shared.name, transaction).await
    }

    async fn abort(&mut self) {}

    fn spool(&self) -> Spool {
        self.shared.archive.spool()
    }
}
