//! The local control socket: how the CLI reaches a running daemon.
//!
//! `mailseal run` owns the archive writer and the sled index, which allows
//! one process. So every CLI command that reads mail or writes to the
//! archive is carried out by the daemon when one runs, through a Unix
//! socket (`[control] socket`, mode 0660, group `mailseal-admin`):
//!
//! ```text
//!  mailseal list/show/stats/export ─┐                    ┌─ handlers::read ──> Archive::reader (index)
//!  mailseal import eml|mbox|maildir ┼─ client ══ socket ═╡
//!  mailseal import imap (sink)  ────┤  (frames)   server ├─ handlers::import ─> Archive::append (durable)
//!  mailseal reindex ────────────────┤          + session ├─ reindex ─────────> Archive::reindex
//!  mailseal prove, key rotate-seal ─┘                    └─ handlers::prove ─> proof::Prover (tree file),
//!                                                                              Archive::rotate_key_blocking
//! ```
//!
//! Without I/O: `protocol` (frames and messages). With I/O: `wire`
//! (frames over any tokio stream), `session` (one connection on the
//! daemon's side), `handlers` (one per command), `server` (the socket, the
//! accept loop, `SO_PEERCRED` through `peer`), `client` and `remote` (the
//! CLI's side, and the [`crate::import::ImportSink`] it offers importers).
//!
//! Every handler receives a [`RequestContext`] naming the calling Unix
//! user. The audit trail (a sealed `audit` record per read) is written from
//! there: one call per handler, before it answers.
//!
//! Nothing but `cli` uses this module; it uses `archive`, `proof`,
//! `import`, `search` and `config`.

pub mod client;
mod error;
mod handlers;
pub mod peer;
pub mod protocol;
pub mod remote;
mod server;
mod session;
pub mod wire;

use std::time::Duration;

pub use client::{Client, ClientError};
pub use handlers::SearchService;
pub use server::{ControlServer, SetupError};

use crate::archive::ArchiveError;
use crate::search::SearchError;
use peer::Peer;
use protocol::{ErrorKind, ProtocolError};
use wire::WireError;

/// Who asked for what, handed to every handler.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The calling process and its Unix user (from `SO_PEERCRED`).
    pub peer: Peer,
    /// The command's name (`list`, `show`, …).
    pub command: &'static str,
    /// The web interface's users file, against which `purge request` and
    /// `purge approve` check who is asking (`None`: those are refused).
    pub users_file: Option<std::path::PathBuf>,
}

/// Why the daemon could not carry out a control request.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Reading or writing frames failed.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The client sent a frame that does not fit.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The archive refused or failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The daemon will not do this.
    #[error("{0}")]
    Refused(String),
    /// The search index failed, or the query is not valid.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// The client was silent for too long.
    #[error("nothing received for {} s", .0.as_secs())]
    Timeout(Duration),
    /// The daemon is stopping.
    #[error("the daemon is shutting down")]
    ShuttingDown,
    /// The client went away; nobody is left to answer.
    #[error("the client closed the connection")]
    Gone,
}

impl ControlError {
    /// The kind of error frame the client gets.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ControlError::Wire(_) | ControlError::Protocol(_) | ControlError::Timeout(_) => {
                ErrorKind::Protocol
            }
            ControlError::Archive(ArchiveError::NoRecord(_)) => ErrorKind::NotFound,
            ControlError::Archive(_) => ErrorKind::Archive,
            ControlError::Refused(_) => ErrorKind::Refused,
            ControlError::Search(SearchError::Query(_) | SearchError::Cursor) => ErrorKind::Refused,
            ControlError::Search(_) => ErrorKind::Archive,
            ControlError::ShuttingDown | ControlError::Gone => ErrorKind::ShuttingDown,
        }
    }
}

#[cfg(test)]
mod tests;
