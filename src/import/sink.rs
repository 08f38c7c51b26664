//! [`ImportSink`]: where the IMAP importer's messages and resume questions
//! go. The local [`Archive`] is one sink; the CLI's connection to a running
//! daemon (which owns the archive) is the other, so `mailseal import imap`
//! runs the same code whether or not the daemon runs.
//!
//! Resuming needs two answers per folder (see `import::imap::plan`): the
//! highest UID archived at the folder's UIDVALIDITY, and which of the UIDs
//! at or below it are archived. The second is asked for a whole list at
//! once, so a sink across a socket answers a mailbox in a few round trips.

use futures_util::future::BoxFuture;

use crate::archive::{Appended, Archive, ArchiveError, NewMessage, Spool};

/// Where imported messages go, for importers running on tokio.
pub trait ImportSink: Send + Sync {
    /// A spool for the next message (memory, spilling to a suitable disk).
    fn spool(&self) -> Spool;

    /// Appends a message; resolves once it is durable. The future owns
    /// what it needs, so several appends can be in flight on other tasks.
    fn append(&self, message: NewMessage) -> BoxFuture<'static, Result<Appended, ArchiveError>>;

    /// The highest UID archived from `origin` (`imap://user@host/folder`)
    /// at `uidvalidity`.
    fn imap_highest_uid(
        &self,
        origin: &str,
        uidvalidity: u32,
    ) -> BoxFuture<'_, Result<Option<u32>, ArchiveError>>;

    /// Which of `uids` are archived from `origin` at `uidvalidity`.
    fn imap_archived(
        &self,
        origin: &str,
        uidvalidity: u32,
        uids: Vec<u32>,
    ) -> BoxFuture<'_, Result<Vec<u32>, ArchiveError>>;
}

/// Importers key their records by an empty user and the origin.
const IMPORT_USER: &str = "";

impl ImportSink for Archive {
    fn spool(&self) -> Spool {
        Archive::spool(self)
    }

    fn append(&self, message: NewMessage) -> BoxFuture<'static, Result<Appended, ArchiveError>> {
        let archive = self.clone();
        Box::pin(async move { archive.append(message).await })
    }

    fn imap_highest_uid(
        &self,
        origin: &str,
        uidvalidity: u32,
    ) -> BoxFuture<'_, Result<Option<u32>, ArchiveError>> {
        let found = Archive::imap_highest_uid(self, IMPORT_USER, origin, uidvalidity);
        Box::pin(std::future::ready(found))
    }

    fn imap_archived(
        &self,
        origin: &str,
        uidvalidity: u32,
        uids: Vec<u32>,
    ) -> BoxFuture<'_, Result<Vec<u32>, ArchiveError>> {
        let mut archived = Vec::new();
        for uid in uids {
            match self.imap_message(IMPORT_USER, origin, uidvalidity, uid) {
                Ok(Some(_)) => archived.push(uid),
                Ok(None) => {}
                Err(e) => return Box::pin(std::future::ready(Err(e))),
            }
        }
        Box::pin(std::future::ready(Ok(archived)))
    }
}
