//! [`ClientError`]: why the daemon could not carry out a command for the
//! CLI. Its own module because both the request client and the import
//! connection ([`super::remote`]) report it.

use std::io;
use std::path::PathBuf;

use super::protocol::ErrorKind;
use super::wire::WireError;

/// Why the daemon could not carry out a command for the CLI.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket: no daemon runs.
    #[error("no mailseal daemon listens on {}", .0.display())]
    NoDaemon(PathBuf),
    /// The socket exists but this user may not connect.
    #[error(
        "permission denied on the control socket {}: the daemon is running and carries out \
         this command for members of group {group}; join it (usermod -aG {group} USER, then \
         log in again) or run as root",
        socket.display()
    )]
    PermissionDenied {
        /// The socket.
        socket: PathBuf,
        /// The group that may use it.
        group: String,
    },
    /// Connecting failed otherwise.
    #[error("cannot connect to the control socket {}: {source}", socket.display())]
    Connect {
        /// The socket.
        socket: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Reading or writing frames failed.
    #[error("talking to the daemon: {0}")]
    Wire(#[from] WireError),
    /// The daemon refused or failed; its message is for the user.
    #[error("{message}")]
    Daemon {
        /// What kind of failure.
        kind: ErrorKind,
        /// The daemon's words.
        message: String,
    },
    /// The daemon broke the protocol.
    #[error("the daemon answered with an unexpected {0} frame")]
    Unexpected(String),
    /// The connection ended before the answer did.
    #[error("the daemon closed the connection before the command was complete")]
    Closed,
    /// Writing what the daemon sent failed (a closed pipe, a full disk).
    #[error("writing the output failed")]
    Output(#[source] io::Error),
}
