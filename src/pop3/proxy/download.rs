//! Downloads: `RETR` streams to the client and into the archive, its
//! terminating `.` held back until the commit is durable; `TOP` is relayed
//! and then completed with an in-band `RETR` (the maildrop is locked per
//! session, and mailseal cannot log in a second time with APOP or SASL),
//! or recorded as headers-only.
//!
//! Each waits for its commit before the session reads the client's next
//! command, so a `DELE` (and the `QUIT` that makes it happen) can only
//! follow a message the archive holds. When a commit fails the session
//! ends without the terminating `.` and without `QUIT`: the client knows
//! the download failed, and the server deletes nothing.

use super::capture::{self, Direction};
use super::session::{Session, SessionError};
use crate::archive::SpooledContent;
use crate::pop3::response::{self, Status};
use crate::transport::Socket;

impl<C: Socket> Session<C> {
    /// `RETR msg`: relayed and archived.
    pub(super) async fn retr(&mut self, line: &[u8], msg: u32) -> Result<(), SessionError> {
        let uidl = self.uidl_of(msg).await?;
        let settings = self.settings.clone();
        let held = capture::archived(
            &settings.archive,
            &self.origin,
            self.user.as_deref(),
            uidl.as_deref(),
        );
        let status = self.ask(line).await?;
        self.send_client(&status).await?;
        if Status::parse(&status) != Status::Ok {
            return Ok(());
        }
        if held || !self.logged_in {
            let end = self.body(true, |_| Ok(())).await?;
            tracing::debug!(msg, uidl, "already archived");
            return self.send_client(end).await;
        }
        let mut spool = settings.archive.spool();
        let end = self.body(true, |content| spool.write(content)).await?;
        self.archive(uidl.as_deref(), Direction::Retr, spool.finish())
            .await?;
        self.send_client(end).await
    }

    /// `TOP msg n`: relayed, then completed or recorded as headers-only.
    pub(super) async fn top(&mut self, line: &[u8], msg: u32) -> Result<(), SessionError> {
        let uidl = self.uidl_of(msg).await?;
        let settings = self.settings.clone();
        let status = self.ask(line).await?;
        self.send_client(&status).await?;
        if Status::parse(&status) != Status::Ok {
            return Ok(());
        }
        let mut spool = settings.archive.spool();
        let end = self.body(true, |content| spool.write(content)).await?;
        self.send_client(end).await?;
        let held = capture::archived(
            &settings.archive,
            &self.origin,
            self.user.as_deref(),
            uidl.as_deref(),
        );
        if held || !self.logged_in {
            return Ok(());
        }
        if settings.config.complete_partial_fetches {
            let retr = format!("RETR {msg}\r\n");
            let status = self.ask(retr.as_bytes()).await?;
            if Status::parse(&status) == Status::Ok {
                let mut whole = settings.archive.spool();
                let _ = self.body(false, |content| whole.write(content)).await?;
                return self
                    .archive(uidl.as_deref(), Direction::ProxyRetr, whole.finish())
                    .await;
            }
            tracing::warn!(
                msg,
                "upstream refused the completing RETR; recording headers only"
            );
        }
        self.archive(uidl.as_deref(), Direction::Top, spool.finish())
            .await
    }

    /// Commits one capture; a failure ends the session.
    async fn archive(
        &mut self,
        uidl: Option<&str>,
        direction: Direction,
        content: SpooledContent,
    ) -> Result<(), SessionError> {
        let archive = &self.settings.archive;
        capture::commit(
            archive,
            &self.origin,
            self.user.as_deref(),
            uidl,
            direction,
            content,
        )
        .await?;
        Ok(())
    }

    /// The `UIDL` of message `msg`: from this session's listings, or asked
    /// in-band (`UIDL msg`) before the download. `None` before login or
    /// when the server has no unique ids.
    async fn uidl_of(&mut self, msg: u32) -> Result<Option<String>, SessionError> {
        if let Some(uid) = self.uidls.get(&msg) {
            return Ok(Some(uid.clone()));
        }
        if !self.logged_in {
            return Ok(None);
        }
        let status = self.ask(format!("UIDL {msg}\r\n").as_bytes()).await?;
        let Some((number, uid)) = response::uidl_reply(&status).filter(|(n, _)| *n == msg) else {
            return Ok(None);
        };
        self.uidls.insert(number, uid.clone());
        Ok(Some(uid))
    }
}
