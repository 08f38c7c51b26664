//! [`RemoteSink`]: the importers' [`ImportSink`] when a daemon runs. The
//! CLI reads the files or runs the IMAP session; every message and resume
//! question goes to the daemon over one `import` connection.
//!
//! Requests are written in order under a lock, each registering where its
//! answer goes; one task reads the daemon's answers, which come in the
//! same order, and hands each to the oldest waiter. So several appends can
//! be in flight (the IMAP importer keeps a window of them) and share the
//! daemon's group commits, and each resolves only once it is durable.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;

use super::error::ClientError;
use super::protocol::{CHUNK, Reply, Upload};
use super::wire::{FrameReader, FrameWriter, WireError};
use crate::archive::chain::parse_hex;
use crate::archive::{Appended, ArchiveError, NewMessage, Spool};
use crate::import::{Appender, ImportSink};

/// UIDs per `archived` question (keeps each header far below the limit).
const UIDS_PER_QUESTION: usize = 20_000;

/// Where one answer goes.
type Waiter = oneshot::Sender<Result<Reply, String>>;

/// The answers still owed, oldest first.
type Waiting = Arc<Mutex<VecDeque<Waiter>>>;

/// An import connection to the daemon.
#[derive(Clone)]
pub struct RemoteSink {
    /// Shared by clones (the IMAP importer's append tasks).
    inner: Arc<Inner>,
}

struct Inner {
    /// Frames to the daemon; the lock keeps each request's frames together
    /// and in the order of `waiting`.
    output: tokio::sync::Mutex<FrameWriter<OwnedWriteHalf>>,
    /// Answers still owed, oldest first.
    waiting: Waiting,
}

impl RemoteSink {
    /// Starts the task that reads the daemon's answers.
    pub(super) fn start(
        input: FrameReader<OwnedReadHalf>,
        output: FrameWriter<OwnedWriteHalf>,
    ) -> RemoteSink {
        let waiting: Waiting = Arc::default();
        tokio::spawn(read_answers(input, waiting.clone()));
        RemoteSink {
            inner: Arc::new(Inner {
                output: tokio::sync::Mutex::new(output),
                waiting,
            }),
        }
    }

    /// Ends the import: the daemon answers `done` once every message sent
    /// is answered.
    pub async fn finish(&self) -> Result<(), ClientError> {
        match self.inner.ask(Upload::Finish, None).await {
            Ok(Reply::Done) => Ok(()),
            Ok(other) => Err(ClientError::Unexpected(format!("{other:?}"))),
            Err(message) => Err(ClientError::Daemon {
                kind: super::protocol::ErrorKind::Archive,
                message,
            }),
        }
    }
}

impl Inner {
    /// Sends `upload` (and `content`'s bytes as `data` frames) and waits
    /// for its answer.
    async fn ask(
        &self,
        upload: Upload,
        content: Option<&mut crate::archive::SpooledContent>,
    ) -> Result<Reply, String> {
        let (tx, rx) = oneshot::channel();
        {
            let mut output = self.output.lock().await;
            if let Ok(mut waiting) = self.waiting.lock() {
                waiting.push_back(tx);
            }
            // When sending fails the daemon has ended the session; its
            // error frame (or the closed connection) reaches every waiter.
            if let Err(e) = send(&mut output, &upload, content).await {
                tracing::debug!(error = %e, "sending to the daemon failed");
            }
        }
        rx.await
            .map_err(|_| "the daemon closed the import connection".to_owned())?
    }
}

/// Writes one request and flushes.
async fn send(
    output: &mut FrameWriter<OwnedWriteHalf>,
    upload: &Upload,
    content: Option<&mut crate::archive::SpooledContent>,
) -> Result<(), WireError> {
    output.write(upload, b"").await?;
    if let Some(content) = content {
        let mut reader = content.reader()?;
        let mut chunk = vec![0; CHUNK];
        loop {
            let n = reader.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            output.write(&Upload::Data, &chunk[..n]).await?;
        }
    }
    output.flush().await
}

/// Hands each answer to the oldest waiter; an error frame or a closed
/// connection fails every waiter.
async fn read_answers(mut input: FrameReader<OwnedReadHalf>, waiting: Waiting) {
    let failure = loop {
        let reply = match input.read().await {
            Ok(Some(frame)) => match frame.decode::<Reply>() {
                Ok(reply) => reply,
                Err(e) => break e.to_string(),
            },
            Ok(None) => break "the daemon closed the import connection".to_owned(),
            Err(e) => break e.to_string(),
        };
        if let Reply::Error { message, .. } = reply {
            break message;
        }
        let next = waiting.lock().ok().and_then(|mut w| w.pop_front());
        match next {
            Some(waiter) => drop(waiter.send(Ok(reply))),
            None => break "the daemon sent an answer nobody asked for".to_owned(),
        }
    };
    if let Ok(mut waiting) = waiting.lock() {
        for waiter in waiting.drain(..) {
            drop(waiter.send(Err(failure.clone())));
        }
    }
}

impl ImportSink for RemoteSink {
    fn spool(&self) -> Spool {
        // The daemon's spool directory is not the CLI user's to write.
        Spool::new(
            &std::env::temp_dir(),
            crate::archive::spool::DEFAULT_MEMORY_LIMIT,
        )
    }

    fn append(&self, message: NewMessage) -> BoxFuture<'static, Result<Appended, ArchiveError>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let NewMessage {
                meta, mut content, ..
            } = message;
            let import = meta
                .import
                .ok_or_else(|| ArchiveError::Other("an import without its context".into()))?;
            let upload = Upload::Append {
                source: meta.source.name,
                auth_user: meta.auth_user,
                import: Box::new(import),
                size: content.size,
                sha256: content.sha256_hex(),
            };
            match inner.ask(upload, Some(&mut content)).await {
                Ok(Reply::Appended {
                    seq,
                    hash,
                    deduplicated,
                }) => Ok(Appended {
                    seq,
                    hash: parse_hex(&hash).ok_or_else(|| {
                        ArchiveError::Other(format!("the daemon named record {seq} by {hash:?}"))
                    })?,
                    deduplicated,
                }),
                Ok(other) => Err(ArchiveError::Other(format!(
                    "the daemon answered an append with {other:?}"
                ))),
                Err(message) => Err(ArchiveError::Other(message)),
            }
        })
    }

    fn imap_highest_uid(
        &self,
        origin: &str,
        uidvalidity: u32,
    ) -> BoxFuture<'_, Result<Option<u32>, ArchiveError>> {
        let upload = Upload::HighestUid {
            origin: origin.to_owned(),
            uidvalidity,
        };
        Box::pin(async move {
            match self.inner.ask(upload, None).await {
                Ok(Reply::HighestUid { uid }) => Ok(uid),
                Ok(other) => Err(ArchiveError::Other(format!("unexpected answer {other:?}"))),
                Err(message) => Err(ArchiveError::Other(message)),
            }
        })
    }

    fn imap_archived(
        &self,
        origin: &str,
        uidvalidity: u32,
        uids: Vec<u32>,
    ) -> BoxFuture<'_, Result<Vec<u32>, ArchiveError>> {
        let origin = origin.to_owned();
        Box::pin(async move {
            let mut archived = Vec::new();
            for chunk in uids.chunks(UIDS_PER_QUESTION) {
                let upload = Upload::Archived {
                    origin: origin.clone(),
                    uidvalidity,
                    uids: chunk.to_vec(),
                };
                match self.inner.ask(upload, None).await {
                    Ok(Reply::Archived { uids }) => archived.extend(uids),
                    Ok(other) => {
                        return Err(ArchiveError::Other(format!("unexpected answer {other:?}")));
                    }
                    Err(message) => return Err(ArchiveError::Other(message)),
                }
            }
            Ok(archived)
        })
    }
}

/// File imports (which are not async) through a [`RemoteSink`], on the
/// runtime that carries its connection.
pub struct BlockingSink<'a> {
    /// The connection.
    pub sink: &'a RemoteSink,
    /// The runtime it runs on (the caller is outside it).
    pub runtime: &'a tokio::runtime::Runtime,
}

impl Appender for BlockingSink<'_> {
    fn spool(&self) -> Spool {
        ImportSink::spool(self.sink)
    }

    fn append(&self, message: NewMessage) -> Result<Appended, ArchiveError> {
        self.runtime
            .block_on(ImportSink::append(self.sink, message))
    }
}
