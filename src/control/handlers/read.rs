//! The reading commands, answered from the daemon's live index: `list`,
//! `show` (metadata or raw bytes), `stats` and `export` (records and
//! contents; the CLI writes the files).
//!
//! The audit trail of reads (next round) is one call at the top of each
//! handler, naming `ctx.peer` and what was read.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::io::AsyncWrite;
use tokio_util::sync::CancellationToken;

use super::{ControlError, produce};
use crate::archive::Archive;
use crate::archive::filter::Filter;
use crate::control::RequestContext;
use crate::control::protocol::Reply;
use crate::control::wire::FrameWriter;
use crate::search::SearchIndex;

/// `list`: one `summary` frame per message record that passes `filter`.
pub async fn list<W: AsyncWrite + Unpin>(
    _ctx: &RequestContext,
    archive: &Archive,
    filter: Filter,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
) -> Result<(), ControlError> {
    let reader = archive.reader();
    produce(output, token, move |out| {
        for summary in reader.iter_summaries() {
            let summary = summary?;
            if filter.selects(&summary) {
                out.send(Reply::Summary {
                    summary: Box::new(summary),
                })?;
            }
        }
        Ok(())
    })
    .await
}

/// `show ID`: the record, its hash, headers and place.
pub async fn show<W: AsyncWrite + Unpin>(
    _ctx: &RequestContext,
    archive: &Archive,
    id: u64,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
) -> Result<(), ControlError> {
    let reader = archive.reader();
    produce(output, token, move |out| {
        let (record, hash) = reader.record(id)?;
        let summary = reader.summary(id)?;
        out.send(Reply::Record {
            record: Box::new(record),
            hash,
            headers: Box::new(summary.headers),
            segment: summary.segment,
            offset: summary.offset,
        })
    })
    .await
}

/// `show ID --raw`: the message's original bytes.
pub async fn show_raw<W: AsyncWrite + Unpin>(
    _ctx: &RequestContext,
    archive: &Archive,
    id: u64,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
) -> Result<(), ControlError> {
    let reader = archive.reader();
    produce(output, token, move |out| {
        let (record, _) = reader.record(id)?;
        let message = record.message().ok_or_else(|| {
            ControlError::Refused(format!(
                "record {id} is an outcome record and holds no message"
            ))
        })?;
        out.content(&reader, &message.content.sha256)
    })
    .await
}

/// `stats`.
pub async fn stats<W: AsyncWrite + Unpin>(
    _ctx: &RequestContext,
    archive: &Archive,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
) -> Result<(), ControlError> {
    let reader = archive.reader();
    produce(output, token, move |out| {
        out.send(Reply::Stats {
            stats: Box::new(reader.stats()?),
        })
    })
    .await
}

/// `export`: the chain head and newest seal, then each message record that
/// passes `filter` followed by its content. Records appended while the
/// export runs are left out, so the manifest's chain head covers them all.
pub async fn export<W: AsyncWrite + Unpin>(
    _ctx: &RequestContext,
    archive: &Archive,
    filter: Filter,
    query: Option<(String, Arc<SearchIndex>)>,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
) -> Result<(), ControlError> {
    let reader = archive.reader();
    produce(output, token, move |out| {
        // `export --query`: the index says which; the filter narrows.
        let only: Option<BTreeSet<u64>> = match &query {
            Some((q, index)) => Some(index.matching(q)?.into_iter().collect()),
            None => None,
        };
        let head = reader.head()?;
        out.send(Reply::ExportHead {
            head_seq: head.seq,
            head_hash: head.hash,
            seal: reader.last_seal()?.map(Box::new),
        })?;
        for summary in reader.iter_summaries() {
            let summary = summary?;
            if summary.seq > head.seq {
                break;
            }
            if !filter.selects(&summary) || only.as_ref().is_some_and(|o| !o.contains(&summary.seq))
            {
                continue;
            }
            let (record, hash) = reader.record(summary.seq)?;
            let content = record.message().map(|m| m.content.sha256.clone());
            out.send(Reply::ExportRecord {
                record: Box::new(record),
                hash,
            })?;
            if let Some(sha256) = content {
                out.content(&reader, &sha256)?;
            }
        }
        Ok(())
    })
    .await
}
