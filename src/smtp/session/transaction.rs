//! MAIL, RCPT and DATA: the order of a mail transaction, its limits, and
//! the envelope recorded with the message.

use tokio::io::{AsyncRead, AsyncWrite};
use tracing::info;

use crate::archive::record::Rcpt;
use crate::metrics::{self, ErrorKind};
use crate::smtp::backend::Backend;
use crate::smtp::command::Command;
use crate::smtp::envelope::{MailFrom, RcptTo};
use crate::smtp::reply::Reply;

use super::{Envelope, Flow, Session, SessionError, too_big};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(super) async fn mail(
        &mut self,
        mail: &MailFrom,
        command: &Command,
        line: &[u8],
    ) -> Result<Flow, SessionError> {
        if !self.greeted {
            return Ok(self.refuse(Reply::new(503, "5.5.1 send HELO or EHLO first")));
        }
        if self.config.require_tls && self.conn.tls.is_none() {
            info!("tls-required");
            metrics::error(ErrorKind::Refused);
            let reply = Reply::new(530, "5.7.0 must issue a STARTTLS command first");
            return Ok(self.refuse(reply));
        }
        if self.tx.is_some() {
            return Ok(self.refuse(Reply::new(503, "5.5.1 nested MAIL command")));
        }
        if mail.size.is_some_and(|s| s > self.config.max_message_size) {
            self.queue(&too_big());
            return Ok(Flow::Continue);
        }
        let reply = self.backend.command(&self.conn, command, line).await;
        if reply.is_positive() {
            self.tx = Some(Envelope {
                mail_from: mail.address.clone(),
                rcpts: Vec::new(),
                accepted: 0,
            });
        }
        self.queue(&reply);
        Ok(Flow::Continue)
    }

    pub(super) async fn rcpt(
        &mut self,
        rcpt: &RcptTo,
        command: &Command,
        line: &[u8],
    ) -> Result<Flow, SessionError> {
        let Some(tx) = &self.tx else {
            return Ok(self.refuse(Reply::new(503, "5.5.1 need MAIL command")));
        };
        if tx.rcpts.len() >= self.config.max_recipients {
            self.queue(&Reply::new(452, "4.5.3 too many recipients"));
            return Ok(Flow::Continue);
        }
        let reply = self.backend.command(&self.conn, command, line).await;
        if let Some(tx) = &mut self.tx {
            tx.accepted += usize::from(reply.is_positive());
            tx.rcpts.push(Rcpt {
                address: rcpt.address.clone(),
                reply: Some(reply.text()),
            });
        }
        self.queue(&reply);
        Ok(Flow::Continue)
    }

    pub(super) async fn data(&mut self) -> Result<Flow, SessionError> {
        let Some(tx) = &self.tx else {
            return Ok(self.refuse(Reply::new(503, "5.5.1 need MAIL command")));
        };
        if tx.accepted == 0 {
            return Ok(self.refuse(Reply::new(554, "5.5.1 no valid recipients")));
        }
        let reply = self.backend.data().await;
        self.queue(&reply);
        if reply.code() != 354 {
            return Ok(Flow::Continue);
        }
        self.flush().await?;
        self.receive().await
    }
}
