//! One control connection on the daemon's side: read the request (with a
//! deadline), check that it means this daemon's archive, log it with the
//! caller, hand it to its handler, and end with `done` or an `error` frame.
//! Generic over the stream, so tests drive it over `tokio::io::duplex`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use super::handlers;
use super::handlers::SearchService;
use super::peer::Peer;
use super::protocol::{Reply, Request};
use super::wire::{FrameReader, FrameWriter};
use super::{ControlError, RequestContext};
use crate::archive::Archive;

/// How long a client may take to send its request.
const REQUEST_WAIT: Duration = Duration::from_secs(30);

/// `path` made absolute (and canonical where it exists), for comparing
/// the archive a request names with the one the daemon serves.
pub fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Serves one connection from `peer` until its command is done.
pub async fn serve<S>(
    stream: S,
    peer: Peer,
    archive: Archive,
    search: Option<SearchService>,
    serves: &Path,
    users_file: Option<&Path>,
    token: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (read, write) = tokio::io::split(stream);
    let mut input = FrameReader::new(read);
    let mut output = FrameWriter::new(write);
    let result = match read_request(&mut input, &token).await {
        Ok(None) => return,
        Ok(Some(request)) => {
            let ctx = RequestContext {
                peer,
                command: request.command.name(),
                users_file: users_file.map(Path::to_path_buf),
            };
            tracing::Span::current().record("cmd", ctx.command);
            tracing::info!(
                cmd = ctx.command,
                uid = ctx.peer.uid,
                user = %ctx.peer.name(),
                "control request"
            );
            match check_archive(&request, serves) {
                Ok(()) => {
                    let command = request.command;
                    let search = search.as_ref();
                    handlers::handle(
                        &ctx,
                        &archive,
                        search,
                        command,
                        &mut input,
                        &mut output,
                        &token,
                    )
                    .await
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    let last = match result {
        Ok(()) => Reply::Done,
        Err(ControlError::Gone) => return,
        Err(e) => {
            tracing::warn!(error = %e, "control request failed");
            Reply::Error {
                kind: e.kind(),
                message: e.to_string(),
            }
        }
    };
    // The client may have gone; there is nobody left to tell then.
    if output.send(&last, b"").await.is_ok() {
        let _ = output.shutdown().await;
    }
}

/// The request frame; `None` when the client closed without one.
async fn read_request<R>(
    input: &mut FrameReader<R>,
    token: &CancellationToken,
) -> Result<Option<Request>, ControlError>
where
    R: AsyncRead + Unpin,
{
    let frame = tokio::select! {
        () = token.cancelled() => return Err(ControlError::ShuttingDown),
        read = tokio::time::timeout(REQUEST_WAIT, input.read()) => {
            read.map_err(|_| ControlError::Timeout(REQUEST_WAIT))??
        }
    };
    match frame {
        None => Ok(None),
        Some(frame) => Ok(Some(frame.decode::<Request>()?)),
    }
}

/// Refuses a request for another archive than the one this daemon serves.
fn check_archive(request: &Request, serves: &Path) -> Result<(), ControlError> {
    match &request.archive {
        Some(named) if absolute(named) != serves => Err(ControlError::Refused(format!(
            "this daemon serves the archive in {}, not {}; check [control] socket in the configuration",
            serves.display(),
            named.display()
        ))),
        _ => Ok(()),
    }
}
