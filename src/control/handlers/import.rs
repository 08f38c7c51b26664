//! The writing commands: `import` (messages the CLI read from files or an
//! IMAP server, appended durably; IMAP resume questions) and `reindex`.
//!
//! An import session pipelines: the daemon reads the next message while
//! earlier appends wait for their group commit, up to [`MAX_IN_FLIGHT`],
//! and answers `appended` in the order the messages came, each only once
//! its record is durable. A resume question is answered after every
//! append before it, so it sees them.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::ControlError;
use crate::archive::record::{ImportContext, Source, SourceKind};
use crate::archive::{Appended, Archive, ArchiveError, MessageMeta, NewMessage, SpooledContent};
use crate::control::RequestContext;
use crate::control::protocol::{ProtocolError, Reply, Upload};
use crate::control::wire::{FrameReader, FrameWriter};
use crate::import::ImportSink;

/// Appends waiting for their commit per connection; each may hold up to
/// the spool's memory limit.
const MAX_IN_FLIGHT: usize = 32;

/// How long an import client may stay silent (an IMAP server can be slow
/// between folders).
const IDLE: Duration = Duration::from_secs(30 * 60);

/// Longest source name, import kind, origin or position accepted.
const MAX_FIELD: usize = 4096;

/// `reindex`: the writer rebuilds the index between two commits.
pub async fn reindex<W: AsyncWrite + Unpin>(
    _ctx: &RequestContext,
    archive: &Archive,
    output: &mut FrameWriter<W>,
) -> Result<(), ControlError> {
    let records = archive.reindex().await?;
    output.write(&Reply::Reindexed { records }, b"").await?;
    Ok(())
}

/// `import`: appends and resume questions until the client says `finish`.
pub async fn session<R, W>(
    _ctx: &RequestContext,
    archive: &Archive,
    input: &mut FrameReader<R>,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
) -> Result<(), ControlError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut in_flight: VecDeque<JoinHandle<Result<Appended, ArchiveError>>> = VecDeque::new();
    let result = take(archive, input, output, token, &mut in_flight).await;
    // Every append already taken is answered, whatever ended the session:
    // the client counts what is durable.
    settle(&mut in_flight, output).await?;
    result
}

/// Reads uploads until `finish`, starting appends into `in_flight` and
/// answering what completes meanwhile.
async fn take<R, W>(
    archive: &Archive,
    input: &mut FrameReader<R>,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
    in_flight: &mut VecDeque<JoinHandle<Result<Appended, ArchiveError>>>,
) -> Result<(), ControlError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let frame = tokio::select! {
            biased;
            () = token.cancelled() => return Err(ControlError::ShuttingDown),
            done = next_done(in_flight), if !in_flight.is_empty() => {
                in_flight.pop_front();
                answer(output, done).await?;
                continue;
            }
            read = tokio::time::timeout(IDLE, input.read()), if in_flight.len() < MAX_IN_FLIGHT => {
                read.map_err(|_| ControlError::Timeout(IDLE))??
            }
        };
        let Some(frame) = frame else {
            return Err(ControlError::Gone);
        };
        match frame.decode::<Upload>()? {
            Upload::Append {
                source,
                auth_user,
                import,
                size,
                sha256,
            } => {
                let meta = meta(source, auth_user, *import)?;
                let content = receive(archive, input, size, &sha256).await?;
                let archive = archive.clone();
                in_flight.push_back(tokio::spawn(async move {
                    let message = NewMessage {
                        meta,
                        content,
                        evidence: None,
                    };
                    archive.append(message).await
                }));
            }
            Upload::HighestUid {
                origin,
                uidvalidity,
            } => {
                settle(in_flight, output).await?;
                let uid = ImportSink::imap_highest_uid(archive, &origin, uidvalidity).await?;
                output.send(&Reply::HighestUid { uid }, b"").await?;
            }
            Upload::Archived {
                origin,
                uidvalidity,
                uids,
            } => {
                settle(in_flight, output).await?;
                let uids = archive.imap_archived(&origin, uidvalidity, uids).await?;
                output.send(&Reply::Archived { uids }, b"").await?;
            }
            Upload::Finish => return Ok(()),
            Upload::Data => {
                return Err(ProtocolError::Unexpected {
                    expected: "append, highest-uid, archived or finish",
                    got: "data".into(),
                }
                .into());
            }
        }
    }
}

/// The oldest append's outcome (never resolves when none is in flight).
async fn next_done(
    in_flight: &mut VecDeque<JoinHandle<Result<Appended, ArchiveError>>>,
) -> Result<Result<Appended, ArchiveError>, tokio::task::JoinError> {
    match in_flight.front_mut() {
        Some(task) => task.await,
        None => std::future::pending().await,
    }
}

/// Waits for every append in flight and answers each.
async fn settle<W: AsyncWrite + Unpin>(
    in_flight: &mut VecDeque<JoinHandle<Result<Appended, ArchiveError>>>,
    output: &mut FrameWriter<W>,
) -> Result<(), ControlError> {
    while let Some(task) = in_flight.pop_front() {
        answer(output, task.await).await?;
    }
    Ok(())
}

/// Sends the outcome of one append: `appended`, or the error that ends
/// the session.
async fn answer<W: AsyncWrite + Unpin>(
    output: &mut FrameWriter<W>,
    done: Result<Result<Appended, ArchiveError>, tokio::task::JoinError>,
) -> Result<(), ControlError> {
    let appended = done.map_err(|e| ArchiveError::Other(format!("append task: {e}")))??;
    let reply = Reply::Appended {
        seq: appended.seq,
        hash: hex::encode(appended.hash),
        deduplicated: appended.deduplicated,
    };
    output.send(&reply, b"").await?;
    Ok(())
}

/// The record's context. The source is always an import: a client cannot
/// make a message look as if a listener had received it.
fn meta(
    source: String,
    auth_user: Option<String>,
    import: ImportContext,
) -> Result<MessageMeta, ControlError> {
    let name_ok = !source.is_empty()
        && source.len() <= 64
        && source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !name_ok {
        return Err(ControlError::Refused(format!(
            "invalid import source name {source:?}"
        )));
    }
    let long = [
        Some(&import.kind),
        Some(&import.origin),
        import.position.as_ref(),
        auth_user.as_ref(),
    ]
    .into_iter()
    .flatten()
    .any(|f| f.len() > MAX_FIELD);
    if import.kind.is_empty() || long {
        return Err(ControlError::Refused(
            "import context with an empty kind or an overlong field".into(),
        ));
    }
    Ok(MessageMeta {
        source: Source {
            kind: SourceKind::Import,
            name: source,
        },
        auth_user,
        import: Some(import),
        ..Default::default()
    })
}

/// Reads `size` bytes of `data` frames into a spool and checks them
/// against `sha256`.
async fn receive<R: AsyncRead + Unpin>(
    archive: &Archive,
    input: &mut FrameReader<R>,
    size: u64,
    sha256: &str,
) -> Result<SpooledContent, ControlError> {
    let mut spool = archive.spool();
    while spool.len() < size {
        let frame = tokio::time::timeout(IDLE, input.read())
            .await
            .map_err(|_| ControlError::Timeout(IDLE))??
            .ok_or(ControlError::Gone)?;
        match frame.decode::<Upload>()? {
            Upload::Data if spool.len() + frame.body.len() as u64 <= size => {
                spool.write(&frame.body).map_err(|e| {
                    ArchiveError::Other(format!("spooling an imported message: {e}"))
                })?;
            }
            Upload::Data => {
                return Err(ControlError::Refused(format!(
                    "more message bytes than the {size} announced"
                )));
            }
            _ => {
                return Err(ProtocolError::Unexpected {
                    expected: "data",
                    got: frame.kind(),
                }
                .into());
            }
        }
    }
    let content = spool.finish();
    if content.sha256_hex() != sha256.to_ascii_lowercase() {
        return Err(ControlError::Refused(format!(
            "the message arrived with SHA-256 {}, not the {sha256} announced; nothing was archived",
            content.sha256_hex()
        )));
    }
    Ok(content)
}
