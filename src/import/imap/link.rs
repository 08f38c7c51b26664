//! The import's connection to the server, re-established when it breaks.
//!
//! A [`Link`] opens a session on first use, remembers which folder is
//! examined (and at which UIDVALIDITY), and is told when a command failed so
//! the next use reconnects. Transient failures (connection lost, timeouts)
//! are retried with exponential backoff; a refused login or a bad
//! certificate is not, since repeating it only risks a lockout.

use std::time::Duration;

use futures_util::TryStreamExt as _;
use tokio_util::sync::CancellationToken;

use super::ImapImportError;
use super::connection::{Server, Session};
use super::folders::{Folder, attribute_texts};
use super::secret::Secret;

/// Longest wait for any one command or response.
pub const IO_TIMEOUT: Duration = Duration::from_secs(120);

/// Attempts at opening a session before the run gives up.
const OPEN_ATTEMPTS: u32 = 3;

/// Attempts at a listing, search or size query before the run gives up.
const COMMAND_ATTEMPTS: u32 = 4;

/// The examined folder: what FETCHes apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Examined {
    /// The folder's UIDVALIDITY.
    pub uidvalidity: u32,
    /// Messages in it.
    pub exists: u32,
}

/// A session that reconnects on demand.
pub struct Link<'a> {
    /// Where to connect.
    server: &'a Server,
    /// Login name.
    user: &'a str,
    /// Password or token.
    secret: &'a Secret,
    /// Stops waiting between retries.
    cancel: &'a CancellationToken,
    /// The open session, if any.
    session: Option<Session>,
    /// Wire name and UIDVALIDITY of the folder examined on `session`.
    examined: Option<(String, u32)>,
}

impl<'a> Link<'a> {
    /// A link that connects on first use.
    pub fn new(
        server: &'a Server,
        user: &'a str,
        secret: &'a Secret,
        cancel: &'a CancellationToken,
    ) -> Link<'a> {
        Link {
            server,
            user,
            secret,
            cancel,
            session: None,
            examined: None,
        }
    }

    /// `host:port`, for errors.
    pub fn address(&self) -> &str {
        self.server.address()
    }

    /// The open session, connecting (with retries) if there is none.
    pub async fn session(&mut self) -> Result<&mut Session, ImapImportError> {
        if self.session.is_none() {
            let mut attempt = 0;
            let session = loop {
                match self.server.open(self.user, self.secret).await {
                    Ok(s) => break s,
                    Err(e) if e.is_transient() && attempt + 1 < OPEN_ATTEMPTS => {
                        attempt += 1;
                        tracing::warn!(error = %e, attempt, "cannot open the IMAP session; retrying");
                        self.pause(attempt).await?;
                    }
                    Err(e) => return Err(e),
                }
            };
            self.examined = None;
            self.session = Some(session);
        }
        self.session
            .as_mut()
            .ok_or_else(|| ImapImportError::Connection {
                address: self.server.address().to_owned(),
                detail: "no session".into(),
            })
    }

    /// Forgets the session after a failed command; the next use reconnects.
    pub fn broken(&mut self) {
        self.session = None;
        self.examined = None;
    }

    /// Waits before retry `attempt` (1 s, 2 s, 4 s ... at most 30 s); an
    /// error when the import is cancelled meanwhile.
    pub async fn pause(&mut self, attempt: u32) -> Result<(), ImapImportError> {
        let delay = Duration::from_secs(1u64 << attempt.saturating_sub(1).min(5))
            .min(Duration::from_secs(30));
        tokio::select! {
            _ = tokio::time::sleep(delay) => Ok(()),
            _ = self.cancel.cancelled() => Err(ImapImportError::Cancelled),
        }
    }

    /// True while a session is open. After an error, false means the error
    /// came from opening the session, which was already retried.
    pub fn is_open(&self) -> bool {
        self.session.is_some()
    }

    /// Decides about a failed command: after a transient failure on an open
    /// session (and fewer than [`COMMAND_ATTEMPTS`] attempts) the session is
    /// dropped, the backoff waited and `Ok` returned so the caller tries
    /// again; otherwise the error comes back.
    pub async fn recover(
        &mut self,
        error: ImapImportError,
        attempt: &mut u32,
    ) -> Result<(), ImapImportError> {
        if !error.is_transient() || !self.is_open() || *attempt + 1 >= COMMAND_ATTEMPTS {
            return Err(error);
        }
        *attempt += 1;
        tracing::warn!(%error, attempt = *attempt, "IMAP command failed; reconnecting");
        self.broken();
        self.pause(*attempt).await
    }

    /// Every mailbox of the account, with special-use flags merged in from
    /// `LIST ... RETURN (SPECIAL-USE)` when the server supports it.
    pub async fn folders(&mut self) -> Result<Vec<Folder>, ImapImportError> {
        let address = self.address().to_owned();
        let session = self.session().await?;
        let caps = timed(&address, "CAPABILITY", session.capabilities()).await?;
        let special = caps.has_str("SPECIAL-USE") && caps.has_str("LIST-EXTENDED");
        let mut folders: Vec<Folder> = list(&address, session, "\"*\"")
            .await?
            .iter()
            .map(Folder::from_name)
            .collect();
        if special {
            for name in list(&address, session, "\"*\" RETURN (SPECIAL-USE)").await? {
                if let Some(f) = folders.iter_mut().find(|f| f.wire == name.name()) {
                    f.add_attributes(&attribute_texts(&name));
                }
            }
        }
        Ok(folders)
    }

    /// EXAMINEs `folder` (read-only: no flag, not even `\Recent`, changes).
    pub async fn examine(&mut self, folder: &Folder) -> Result<Examined, ImapImportError> {
        let address = self.address().to_owned();
        let session = self.session().await?;
        let mailbox = timed(&address, "EXAMINE", session.examine(&folder.wire)).await?;
        let uidvalidity = mailbox
            .uid_validity
            .ok_or_else(|| ImapImportError::Command {
                address: address.clone(),
                command: "EXAMINE".into(),
                reply: format!("no UIDVALIDITY for {}", folder.name),
            })?;
        self.examined = Some((folder.wire.clone(), uidvalidity));
        Ok(Examined {
            uidvalidity,
            exists: mailbox.exists,
        })
    }

    /// The session with `folder` examined at `uidvalidity`; an error when
    /// the folder's UIDVALIDITY changed (its UIDs mean other messages now).
    pub async fn examined(
        &mut self,
        folder: &Folder,
        uidvalidity: u32,
    ) -> Result<&mut Session, ImapImportError> {
        let current = self.examined.as_ref().map(|(w, v)| (w.as_str(), *v));
        if current != Some((folder.wire.as_str(), uidvalidity)) {
            let now = self.examine(folder).await?;
            if now.uidvalidity != uidvalidity {
                return Err(ImapImportError::UidValidityChanged {
                    folder: folder.name.clone(),
                });
            }
        }
        self.session().await
    }

    /// Logs out politely (errors do not matter any more).
    pub async fn logout(mut self) {
        if let Some(mut s) = self.session.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), s.logout()).await;
        }
    }
}

/// Runs one command with the I/O deadline, mapping its errors.
pub async fn timed<T>(
    address: &str,
    command: &str,
    fut: impl Future<Output = async_imap::error::Result<T>>,
) -> Result<T, ImapImportError> {
    match tokio::time::timeout(IO_TIMEOUT, fut).await {
        Ok(r) => r.map_err(|e| ImapImportError::from_imap(address, command, e)),
        Err(_) => Err(ImapImportError::Timeout {
            address: address.to_owned(),
            secs: IO_TIMEOUT.as_secs(),
        }),
    }
}

async fn list(
    address: &str,
    session: &mut Session,
    pattern: &str,
) -> Result<Vec<async_imap::types::Name>, ImapImportError> {
    let listing = async {
        session
            .list(Some(""), Some(pattern))
            .await?
            .try_collect::<Vec<_>>()
            .await
    };
    timed(address, "LIST", listing).await
}
