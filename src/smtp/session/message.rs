//! The DATA phase of a session: decode, count, spool, stream to the backend,
//! then commit or abort.
//!
//! Wire bytes reach the backend as they arrive, but only while nothing is
//! wrong: after smuggling, the size limit or a spool failure the decoder
//! keeps running (to find the real end and stay in sync with the client)
//! and its output is dropped.
//!
//! Each read waits at most the time left in the sender's budget (see
//! [`data_budget`]), so a sender trickling bytes runs out of time.

use tracing::{info, warn};

use crate::archive::record::Source;
use crate::archive::{MessageMeta, Spool};
use crate::metrics::{self, ErrorKind};
use crate::smtp::backend::{Backend, Transaction};
use crate::smtp::data::{DataDecoder, DataOutput, Smuggling, Step};
use crate::smtp::reply::Reply;

use super::{Envelope, Flow, Session, SessionError, too_big};

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::{Instant, timeout};

/// State of one message being received.
struct Receiver {
    /// Finds the end, unstuffs, spots smuggling.
    decoder: DataDecoder,
    /// The decoder's output of the current chunk.
    out: DataOutput,
    /// Where the content goes.
    spool: Spool,
    /// Unstuffed bytes seen so far.
    size: u64,
    /// The listener's size limit.
    max: u64,
    /// The content grew past `max`.
    oversized: bool,
    /// The first smuggling sequence seen.
    smuggling: Option<Smuggling>,
    /// Writing to the spool failed.
    spool_failed: bool,
    /// ... because the disk is full.
    spool_full: bool,
}

impl Receiver {
    fn failed(&self) -> bool {
        self.oversized || self.smuggling.is_some() || self.spool_failed
    }

    /// Spools and forwards the decoder's output, unless something failed.
    async fn accept<B: Backend>(&mut self, backend: &mut B) {
        if !self.failed() {
            self.size += self.out.content.len() as u64;
            if self.size > self.max {
                self.oversized = true;
            } else if let Err(error) = self.spool.write(&self.out.content) {
                warn!(%error, "spool-failed");
                self.spool_failed = true;
                self.spool_full = error.kind() == std::io::ErrorKind::StorageFull;
            } else if !self.out.wire.is_empty() {
                backend.data_chunk(&self.out.wire).await;
            }
        }
        self.out.clear();
    }

    /// Feeds `bytes`; returns the offset just past the end of data.
    async fn feed<B: Backend>(&mut self, backend: &mut B, bytes: &[u8]) -> Option<usize> {
        let mut pos = 0;
        while pos < bytes.len() {
            match self.decoder.ingest(&bytes[pos..], &mut self.out) {
                Step::More => {
                    self.accept(backend).await;
                    return None;
                }
                Step::Smuggling { consumed, kind } => {
                    // Bytes before the ambiguous dot are not worth sending
                    // into a transaction that will be aborted.
                    self.out.clear();
                    self.smuggling.get_or_insert(kind);
                    pos += consumed;
                }
                Step::End { consumed } => {
                    self.accept(backend).await;
                    return Some(pos + consumed);
                }
            }
        }
        None
    }
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    /// Receives the message after `354` and answers it.
    pub(super) async fn receive(&mut self) -> Result<Flow, SessionError> {
        let mut rx = Receiver {
            decoder: DataDecoder::new(),
            out: DataOutput::default(),
            spool: self.backend.spool(),
            size: 0,
            max: self.config.max_message_size,
            oversized: false,
            smuggling: None,
            spool_failed: false,
            spool_full: false,
        };
        let pipelined = std::mem::take(&mut self.inbuf);
        let mut end = rx.feed(&mut self.backend, &pipelined).await;
        if let Some(at) = end {
            self.inbuf.extend_from_slice(&pipelined[at..]);
        }
        let mut budget = self.config.data_timeout;
        while end.is_none() {
            let started = Instant::now();
            let read = timeout(budget, self.stream.read(&mut self.scratch));
            let n = match read.await {
                Err(_) => {
                    self.backend.abort().await;
                    return Err(self.timed_out().await);
                }
                Ok(Err(e)) => {
                    self.backend.abort().await;
                    return Err(e.into());
                }
                Ok(Ok(0)) => {
                    info!(bytes = rx.size, "client-gone-in-data");
                    self.backend.abort().await;
                    return Ok(Flow::Close);
                }
                Ok(Ok(n)) => n,
            };
            budget = data_budget(budget, started.elapsed(), n, &self.config);
            end = rx.feed(&mut self.backend, &self.scratch[..n]).await;
            if let Some(at) = end {
                self.inbuf.extend_from_slice(&self.scratch[at..n]);
            }
        }
        self.finish(rx).await
    }

    /// The end of data was read: commit, or abort with the reason's reply.
    async fn finish(&mut self, rx: Receiver) -> Result<Flow, SessionError> {
        let Some(envelope) = self.tx.take() else {
            self.backend.abort().await;
            return Ok(Flow::Continue);
        };
        if let Some(kind) = rx.smuggling {
            warn!(kind = kind.as_str(), "smuggling");
            metrics::error(ErrorKind::Protocol);
            self.backend.abort().await;
            let reply = Reply::new(554, "5.5.2 bare CR or LF next to a dot in DATA; closing");
            self.queue(&reply);
            return Ok(Flow::Close);
        }
        if rx.oversized {
            info!(bytes = rx.size, limit = rx.max, "too-big");
            self.backend.abort().await;
            self.queue(&too_big());
            return Ok(Flow::Continue);
        }
        if rx.spool_failed {
            metrics::error(ErrorKind::Archive);
            self.backend.abort().await;
            self.queue(&Reply::archive_unavailable(rx.spool_full));
            return Ok(Flow::Continue);
        }
        let transaction = Transaction {
            meta: self.meta(envelope),
            content: rx.spool.finish(),
        };
        let reply = self.backend.commit(transaction).await;
        self.queue(&reply);
        Ok(Flow::Continue)
    }

    /// The record's context: who sent what to whom, over which connection.
    fn meta(&self, envelope: Envelope) -> MessageMeta {
        MessageMeta {
            source: Source {
                kind: self.config.kind,
                name: self.config.listener.clone(),
            },
            peer: Some(self.conn.peer.to_string()),
            helo: self.conn.helo.clone(),
            tls: self.conn.tls.clone(),
            auth_user: self.conn.auth_user.clone(),
            mail_from: Some(envelope.mail_from),
            rcpts: envelope.rcpts,
            ..MessageMeta::default()
        }
    }
}

/// The time a DATA sender has left after a read of `bytes` that took
/// `elapsed`: the wait is spent, each byte earns `1 / min_data_rate`
/// seconds, and no more than `data_timeout` can be banked. A sender slower
/// than `min_data_rate` on average therefore reaches zero; a faster one
/// always has the full `data_timeout` for its next read.
pub(super) fn data_budget(
    budget: Duration,
    elapsed: Duration,
    bytes: usize,
    config: &super::SessionConfig,
) -> Duration {
    if config.min_data_rate == 0 {
        return config.data_timeout;
    }
    let earned = Duration::from_secs_f64(bytes as f64 / config.min_data_rate as f64);
    budget
        .saturating_sub(elapsed)
        .saturating_add(earned)
        .min(config.data_timeout)
}
