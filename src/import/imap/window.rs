//! Appends in flight while the next messages are fetched.
//!
//! Every append returns only when its message is durable, and the archive
//! group-commits concurrent appends under one fsync; awaiting each append
//! before fetching the next message would cost one fsync per message. So a
//! bounded window of appends runs concurrently: at most [`MAX_MESSAGES`]
//! messages, and at most [`MAX_HELD`] bytes of them held in memory (spooled
//! messages that spilled to disk cost no memory here).
//!
//! Concurrent appends may become durable out of UID order. That is safe
//! because resuming checks every UID at or below the highest archived one
//! individually (see [`super::plan`]).

use tokio::task::JoinSet;

use super::{ImapImportError, ImapProgress};
use crate::archive::record::ImportContext;
use crate::archive::{Appended, ArchiveError, NewMessage};
use crate::import::{ImportSink, ImportSummary};

/// Most appends in flight.
const MAX_MESSAGES: usize = 32;

/// Most message bytes held in memory by appends in flight.
const MAX_HELD: u64 = 16 * 1024 * 1024;

/// A fetched message on its way into the archive.
pub struct Pending {
    /// Where it came from (for progress and the summary).
    pub context: ImportContext,
    /// The record to append.
    pub message: NewMessage,
}

/// What one append task reports.
struct Finished {
    /// Where the message came from.
    context: ImportContext,
    /// Its size.
    size: u64,
    /// Bytes it held in memory while in flight.
    held: u64,
    /// The archive's answer.
    result: Result<Appended, ArchiveError>,
}

/// The appends in flight.
pub struct Window {
    /// One task per append.
    tasks: JoinSet<Finished>,
    /// Bytes in memory across `tasks`.
    held: u64,
}

impl Window {
    /// An empty window.
    pub fn new() -> Window {
        Window {
            tasks: JoinSet::new(),
            held: 0,
        }
    }

    /// Starts an append, first waiting for room in the window.
    pub async fn push(
        &mut self,
        archive: &dyn ImportSink,
        pending: Pending,
        progress: &dyn ImapProgress,
        summary: &mut ImportSummary,
    ) -> Result<(), ImapImportError> {
        let size = pending.message.content.size;
        let held = if pending.message.content.as_memory().is_some() {
            size
        } else {
            0
        };
        while !self.tasks.is_empty()
            && (self.tasks.len() >= MAX_MESSAGES || self.held + held > MAX_HELD)
        {
            self.finish_one(progress, summary).await?;
        }
        self.held += held;
        let job = pending.message.meta.source.name.clone();
        let append = archive.append(pending.message);
        self.tasks.spawn(async move {
            let result = append.await;
            if result.is_ok() {
                crate::metrics::message_archived(&job, size);
            }
            Finished {
                context: pending.context,
                size,
                held,
                result,
            }
        });
        Ok(())
    }

    /// Waits for every append in flight; the first error is returned after
    /// all have finished (the others may well have succeeded).
    pub async fn drain(
        &mut self,
        progress: &dyn ImapProgress,
        summary: &mut ImportSummary,
    ) -> Result<(), ImapImportError> {
        let mut first = Ok(());
        while !self.tasks.is_empty() {
            let r = self.finish_one(progress, summary).await;
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    async fn finish_one(
        &mut self,
        progress: &dyn ImapProgress,
        summary: &mut ImportSummary,
    ) -> Result<(), ImapImportError> {
        let finished = match self.tasks.join_next().await {
            None => return Ok(()),
            Some(Ok(f)) => f,
            Some(Err(e)) => return Err(ArchiveError::Other(format!("append task: {e}")).into()),
        };
        self.held = self.held.saturating_sub(finished.held);
        let appended = finished.result?;
        summary.imported += 1;
        summary.duplicates += u64::from(appended.deduplicated);
        summary.bytes += finished.size;
        progress.appended(&finished.context, &appended);
        Ok(())
    }
}
