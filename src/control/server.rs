//! The daemon's side of the control socket: binding it (stale sockets,
//! mode, group), the accept loop on the daemon's shutdown token and
//! tracker, and a connection limit. Each connection becomes a
//! [`super::session`] in its own task and `tracing` span.

use std::io;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tracing::{Instrument, field};

use super::handlers::SearchService;
use super::peer::{self, Peer};
use super::protocol::{ErrorKind, Reply};
use super::session;
use super::wire::FrameWriter;
use crate::archive::Archive;
use crate::config::ControlConfig;
use crate::shutdown::Shutdown;

/// Control connections served at once; more are told `busy`.
const MAX_CONNECTIONS: usize = 32;

/// The socket's mode: owner and group read and write (connecting needs
/// write permission), nobody else anything.
const SOCKET_MODE: u32 = 0o660;

/// Why the control socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The socket's directory is missing and cannot be created.
    #[error("cannot create the directory of control socket {path}: {source}")]
    Directory {
        /// The socket.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Another process already serves the socket.
    #[error("control socket {path} is served by another process (a second mailseal run?)")]
    InUse {
        /// The socket.
        path: PathBuf,
    },
    /// Something that is not a socket is in the way.
    #[error("{path} exists and is not a socket; remove it or choose another [control] socket")]
    NotSocket {
        /// The path.
        path: PathBuf,
    },
    /// Binding or setting the mode failed.
    #[error("cannot listen on control socket {path}: {source}")]
    Bind {
        /// The socket.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// A bound control socket.
pub struct ControlServer {
    /// The listening socket.
    listener: UnixListener,
    /// Its path, removed when the daemon stops.
    path: PathBuf,
    /// The archive directory the daemon serves, absolute, to check
    /// requests against.
    serves: PathBuf,
    /// The web users file, for the four-eyes commands.
    users_file: Option<PathBuf>,
}

impl ControlServer {
    /// Binds `config.socket` (mode 0660, group `config.group` where
    /// possible) for `archive`.
    pub fn bind(
        config: &ControlConfig,
        archive: &Archive,
        users_file: Option<PathBuf>,
    ) -> Result<ControlServer, SetupError> {
        let path = config.socket.clone();
        prepare(&path)?;
        let bind_err = |source| SetupError::Bind {
            path: path.clone(),
            source,
        };
        let listener = UnixListener::bind(&path).map_err(bind_err)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(SOCKET_MODE))
            .map_err(bind_err)?;
        give_group(&path, &config.group);
        let serves = session::absolute(&archive.options().path);
        tracing::info!(socket = %path.display(), group = %config.group, "control socket");
        Ok(ControlServer {
            listener,
            path,
            serves,
            users_file,
        })
    }

    /// Serves connections on the shutdown tracker until the token is
    /// cancelled; then removes the socket file. `search` answers the
    /// search commands (`None`: they are refused).
    pub fn serve(self, archive: Archive, search: Option<SearchService>, shutdown: &Shutdown) {
        let shutdown = shutdown.clone();
        let tracker = shutdown.tracker.clone();
        tracker.spawn(async move {
            let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
            let serves = Arc::new(self.serves.clone());
            let users_file = Arc::new(self.users_file.clone());
            loop {
                let stream = tokio::select! {
                    () = shutdown.token.cancelled() => break,
                    accepted = self.listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(e) => {
                            tracing::warn!(error = %e, "control accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                };
                let Ok(permit) = limit.clone().try_acquire_owned() else {
                    shutdown.tracker.spawn(refuse_busy(stream));
                    continue;
                };
                let (archive, serves) = (archive.clone(), serves.clone());
                let users_file = users_file.clone();
                let search = search.clone();
                let token = shutdown.token.clone();
                shutdown.tracker.spawn(async move {
                    let peer = match Peer::of(&stream).await {
                        Ok(peer) => peer,
                        Err(e) => {
                            tracing::warn!(error = %e, "control connection without peer credentials");
                            return;
                        }
                    };
                    let span = tracing::info_span!(
                        "control",
                        uid = peer.uid,
                        user = %peer.name(),
                        pid = peer.pid,
                        cmd = field::Empty,
                    );
                    session::serve(
                        stream,
                        peer,
                        archive,
                        search,
                        &serves,
                        (*users_file).as_deref(),
                        token,
                    )
                        .instrument(span)
                        .await;
                    drop(permit);
                });
            }
            // Dropping the server removes the socket file.
            drop(self);
        });
    }
}

impl Drop for ControlServer {
    /// A stopped daemon leaves no socket behind, so the CLI knows at once
    /// that nobody listens.
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(error = %e, socket = %self.path.display(), "could not remove the control socket");
        }
    }
}

/// Makes room for the socket: creates its directory, removes a socket
/// nobody serves any more (left by a crash), refuses anything else.
fn prepare(path: &Path) -> Result<(), SetupError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(|source| SetupError::Directory {
                path: path.to_path_buf(),
                source,
            })?;
    }
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
        return Err(SetupError::NotSocket {
            path: path.to_path_buf(),
        });
    }
    // Only a refused connection proves that nobody serves the socket.
    match std::os::unix::net::UnixStream::connect(path) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(socket = %path.display(), "removing a stale control socket");
            std::fs::remove_file(path).map_err(|source| SetupError::Bind {
                path: path.to_path_buf(),
                source,
            })
        }
        Ok(_) => Err(SetupError::InUse {
            path: path.to_path_buf(),
        }),
        Err(source) => Err(SetupError::Bind {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Gives the socket `group`. Under systemd the socket's directory is
/// setgid `mailseal-admin`, so the socket already has it and no `chown`
/// (which the unit's system call filter forbids) is needed.
fn give_group(path: &Path, group: &str) {
    let Some(gid) = peer::group_id(group) else {
        tracing::warn!(group, socket = %path.display(), "control socket group does not exist; only the daemon's own group and root can use the socket");
        return;
    };
    if std::fs::metadata(path).is_ok_and(|m| m.gid() == gid) {
        return;
    }
    if let Err(e) = std::os::unix::fs::chown(path, None, Some(gid)) {
        tracing::warn!(group, error = %e, socket = %path.display(), "cannot give the control socket its group; only the daemon's own group and root can use it");
    }
}

/// Tells a client over the connection limit, then closes.
async fn refuse_busy(stream: UnixStream) {
    let mut out = FrameWriter::new(stream);
    let busy = Reply::Error {
        kind: ErrorKind::Busy,
        message: format!(
            "the daemon serves {MAX_CONNECTIONS} control connections already; try again"
        ),
    };
    let sent = tokio::time::timeout(std::time::Duration::from_secs(5), out.send(&busy, b"")).await;
    if !matches!(sent, Ok(Ok(()))) {
        tracing::debug!("busy control client did not take the refusal");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_socket_is_replaced_and_a_live_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/control.sock");
        prepare(&path).unwrap();
        assert!(path.parent().unwrap().is_dir(), "the directory is created");

        let live = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert!(matches!(prepare(&path), Err(SetupError::InUse { .. })));
        // A crashed daemon leaves the file; nobody accepts on it any more.
        drop(live);
        assert!(path.exists());
        prepare(&path).unwrap();
        assert!(!path.exists());

        std::fs::write(&path, "not a socket").unwrap();
        assert!(matches!(prepare(&path), Err(SetupError::NotSocket { .. })));
        assert!(path.exists(), "a file that is not a socket is left alone");
    }
}
