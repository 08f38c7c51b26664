//! One handler per command. Each receives the [`RequestContext`] (who
//! asks), the archive, and the connection; it writes its answer frames and
//! returns, and the session ends the answer with `done` or `error`.
//!
//! The archive's read side is blocking (sled, segment files), so read
//! handlers run on the blocking pool and pass frames through a bounded
//! channel ([`produce`]): a slow client slows the producer instead of
//! filling memory, and a client that goes away stops it.

mod audit;
mod import;
mod prove;
mod read;
mod search;

pub use search::SearchService;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::protocol::{CHUNK, Command, Reply};
use super::wire::{FrameReader, FrameWriter};
use super::{ControlError, RequestContext};
use crate::archive::Archive;
use crate::archive::reader::Reader;

/// Frames a producer may run ahead of the socket.
const AHEAD: usize = 64;

/// Carries out `command` for `ctx`.
pub async fn handle<R, W>(
    ctx: &RequestContext,
    archive: &Archive,
    search: Option<&SearchService>,
    command: Command,
    input: &mut FrameReader<R>,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
) -> Result<(), ControlError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    match command {
        Command::List { filter } => read::list(ctx, archive, filter, output, token).await,
        Command::Show { id } => read::show(ctx, archive, id, output, token).await,
        Command::ShowRaw { id } => read::show_raw(ctx, archive, id, output, token).await,
        Command::Stats => read::stats(ctx, archive, output, token).await,
        Command::Export { filter, query } => {
            let only = match query {
                Some(q) => Some((q, search::service(search)?.index()?)),
                None => None,
            };
            read::export(ctx, archive, filter, only, output, token).await
        }
        Command::Search {
            query,
            limit,
            sort,
            cursor,
        } => {
            let request = crate::search::SearchRequest {
                query,
                limit,
                sort: search::sort(&sort)?,
                cursor,
            };
            let service = search::service(search)?;
            search::search(ctx, archive, service, request, output, token).await
        }
        Command::SearchCheck { repair } => {
            let service = search::service(search)?;
            search::check(ctx, archive, service, repair, output, token).await
        }
        Command::Import => import::session(ctx, archive, input, output, token).await,
        Command::Reindex => {
            if let Some(s) = search {
                s.status.request_rebuild();
            }
            import::reindex(ctx, archive, output).await
        }
        Command::Audit { since, user } => {
            audit::list(ctx, archive, since, user, output, token).await
        }
        Command::Note { action, detail } => audit::note(ctx, archive, &action, detail).await,
        Command::Prove { seqs, tree_size } => {
            prove::prove(ctx, archive, seqs, tree_size, output, token).await
        }
        Command::ProveConsistency { old } => prove::consistency(archive, *old, output, token).await,
        Command::RotateSeal => prove::rotate_seal(ctx, archive, output).await,
        Command::RotateMaster => prove::rotate_master(ctx, archive, output).await,
        Command::Lifecycle {
            cmd,
            forget_days,
            password,
        } => prove::lifecycle(ctx, archive, cmd, forget_days, password, output).await,
    }
}

/// A frame from a producer.
type Item = Result<(Reply, Vec<u8>), ControlError>;

/// The producer's end of the channel.
pub struct Emitter {
    /// Where frames go.
    tx: mpsc::Sender<Item>,
}

impl Emitter {
    /// Sends one frame; fails once the client is gone.
    pub fn send(&self, reply: Reply) -> Result<(), ControlError> {
        self.send_with(reply, Vec::new())
    }

    fn send_with(&self, reply: Reply, body: Vec<u8>) -> Result<(), ControlError> {
        self.tx
            .blocking_send(Ok((reply, body)))
            .map_err(|_| ControlError::Gone)
    }

    /// Sends the original bytes of content `sha256` (hex) as `data` frames
    /// and a closing `content-end`.
    pub fn content(&self, reader: &Reader, sha256: &str) -> Result<(), ControlError> {
        let mut out = Chunks {
            emitter: self,
            buf: Vec::with_capacity(CHUNK),
        };
        let written = reader.write_content(sha256, &mut out);
        let flushed = std::io::Write::flush(&mut out);
        match (written, flushed) {
            (Ok(size), Ok(())) => self.send(Reply::ContentEnd { size }),
            (Err(e), _) => Err(e.into()),
            (_, Err(_)) => Err(ControlError::Gone),
        }
    }
}

/// An `io::Write` that turns bytes into `data` frames of [`CHUNK`] bytes.
struct Chunks<'a> {
    /// Where frames go.
    emitter: &'a Emitter,
    /// Bytes not yet sent.
    buf: Vec<u8>,
}

impl std::io::Write for Chunks<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = bytes.len().min(room);
        self.buf.extend_from_slice(&bytes[..n]);
        if self.buf.len() == CHUNK {
            self.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.emitter
            .send_with(Reply::Data, chunk)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

/// Runs `work` on the blocking pool and writes what it emits to `output`
/// until it is done, it fails, the client goes away or the daemon stops.
pub async fn produce<W, F>(
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
    work: F,
) -> Result<(), ControlError>
where
    W: AsyncWrite + Unpin,
    F: FnOnce(&Emitter) -> Result<(), ControlError> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel(AHEAD);
    tokio::task::spawn_blocking(move || {
        let emitter = Emitter { tx };
        if let Err(e) = work(&emitter) {
            // Nobody listens any more when the error is that the client left.
            let _ = emitter.tx.blocking_send(Err(e));
        }
    });
    loop {
        let item = tokio::select! {
            () = token.cancelled() => return Err(ControlError::ShuttingDown),
            item = rx.recv() => item,
        };
        match item {
            None => return Ok(()),
            Some(Ok((reply, body))) => {
                let written = tokio::select! {
                    () = token.cancelled() => return Err(ControlError::ShuttingDown),
                    written = output.write(&reply, &body) => written,
                };
                written.map_err(|_| ControlError::Gone)?;
            }
            Some(Err(e)) => return Err(e),
        }
    }
}
