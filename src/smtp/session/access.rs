//! STARTTLS and AUTH on the client leg: the commands that change who the
//! session is talking to, and what it forgets when they succeed.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::timeout;
use tracing::{info, warn};

use crate::metrics::{self, ErrorKind};
use crate::smtp::backend::{AuthStep, Backend};
use crate::smtp::command::CommandError;
use crate::smtp::reply::Reply;

use super::{Flow, Input, Session, SessionError};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(super) async fn starttls(&mut self) -> Result<Flow, SessionError> {
        let available = self
            .config
            .starttls
            .clone()
            .filter(|_| self.conn.tls.is_none());
        let Some(tls_config) = available else {
            return Ok(self.refuse(Reply::new(502, "5.5.1 STARTTLS not available")));
        };
        let tls_config = match self.backend.starttls_config(tls_config) {
            Ok(config) => config,
            Err(reply) => return Ok(self.refuse(reply)),
        };
        if !self.inbuf.is_empty() {
            // Plain-text bytes sent after STARTTLS must not be taken as
            // commands of the encrypted session (CVE-2011-0411).
            warn!(bytes = self.inbuf.len(), "starttls-pipelined");
            self.inbuf.clear();
        }
        self.queue(&Reply::new(220, "2.0.0 ready to start TLS"));
        self.flush().await?;
        let handshake = timeout(
            self.config.command_timeout,
            self.stream.accept_tls(tls_config),
        );
        let info = match handshake.await {
            Err(_) => return Err(SessionError::Timeout),
            Ok(Err(e)) => {
                metrics::error(ErrorKind::Tls);
                return Err(SessionError::Tls(e));
            }
            Ok(Ok(info)) => info,
        };
        info!(version = %info.version, cipher = %info.cipher, "starttls");
        // RFC 3207 4.2: forget everything learned before the handshake.
        self.conn.tls = Some(info);
        self.conn.helo = None;
        self.conn.auth_user = None;
        self.greeted = false;
        self.esmtp = false;
        self.auth_offered = false;
        self.tx = None;
        Ok(Flow::Continue)
    }

    pub(super) async fn auth(
        &mut self,
        mechanism: &str,
        initial: Option<&str>,
        line: &[u8],
    ) -> Result<Flow, SessionError> {
        let refusal = if !self.esmtp {
            Some(Reply::new(503, "5.5.1 send EHLO first"))
        } else if self.conn.auth_user.is_some() {
            Some(Reply::new(503, "5.5.1 already authenticated"))
        } else if self.tx.is_some() {
            Some(Reply::new(503, "5.5.1 not during a mail transaction"))
        } else if self.conn.tls.is_none() && !self.config.allow_plain_auth {
            Some(Reply::new(
                538,
                "5.7.11 encryption required for authentication",
            ))
        } else if !self.auth_offered {
            Some(Reply::new(503, "5.5.1 authentication not enabled"))
        } else {
            None
        };
        if let Some(reply) = refusal {
            return Ok(self.refuse(reply));
        }
        let start = AuthStep::Start {
            mechanism,
            initial,
            line,
        };
        let mut outcome = self.backend.auth(&self.conn, start).await;
        while outcome.reply.code() == 334 {
            self.queue(&outcome.reply);
            let response = match self.next_line(false).await? {
                Input::Line(Ok(response)) => response,
                Input::Line(Err(e)) => {
                    self.backend
                        .auth(&self.conn, AuthStep::Response(b"*"))
                        .await;
                    return Ok(self.refuse(CommandError::from(e).reply()));
                }
                Input::Eof | Input::Shutdown => return Ok(Flow::Close),
            };
            outcome = self
                .backend
                .auth(&self.conn, AuthStep::Response(&response))
                .await;
        }
        if outcome.reply.code() == 235 {
            info!(user = outcome.user.as_deref().unwrap_or(""), "auth");
            self.conn.auth_user = outcome.user;
            self.queue(&outcome.reply);
            return Ok(Flow::Continue);
        }
        warn!(code = outcome.reply.code(), "auth-failed");
        metrics::error(ErrorKind::Refused);
        Ok(self.refuse(outcome.reply))
    }
}
