//! The reading commands, answered from the daemon's live index: `list`,
//! `show` (metadata or raw bytes), `stats` and `export` (records and
//! contents; the CLI writes the files).
//!
//! Each handler but `stats` (figures, no mail) first appends an `audit`
//! record naming `ctx.peer` and what is read, and answers only once it is
//! durable.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::io::AsyncWrite;
use tokio_util::sync::CancellationToken;

use super::audit::{by, record};
use super::{ControlError, produce};
use crate::archive::Archive;
use crate::archive::audit::action;
use crate::archive::filter::Filter;
use crate::control::RequestContext;
use crate::control::protocol::Reply;
use crate::control::wire::FrameWriter;
use crate::search::SearchIndex;

/// `list`: one `summary` frame per message record that passes `filter`.
pub async fn list<W: AsyncWrite + Unpin>(
    ctx: &RequestContext,
    archive: &Archive,
    filter: Filter,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
) -> Result<(), ControlError> {
    let mut event = by(ctx, action::SEARCH);
    event.query = Some(described(&filter));
    record(archive, event).await?;
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
    ctx: &RequestContext,
    archive: &Archive,
    id: u64,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
) -> Result<(), ControlError> {
    let mut event = by(ctx, action::VIEW);
    event.records = vec![id];
    record(archive, event).await?;
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
            purged: summary.purged.as_ref().map(|p| p.describe()),
        })
    })
    .await
}

/// `show ID --raw`: the message's original bytes.
pub async fn show_raw<W: AsyncWrite + Unpin>(
    ctx: &RequestContext,
    archive: &Archive,
    id: u64,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
) -> Result<(), ControlError> {
    let mut event = by(ctx, action::DOWNLOAD);
    event.records = vec![id];
    record(archive, event).await?;
    let reader = archive.reader();
    produce(output, token, move |out| {
        let (record, _) = reader.record(id)?;
        let message = record.message().ok_or_else(|| {
            ControlError::Refused(format!(
                "record {id} is an outcome record and holds no message"
            ))
        })?;
        if let Some(p) = reader.summary(id)?.purged {
            return Err(ControlError::Refused(format!(
                "record {id} was {}",
                p.describe()
            )));
        }
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
    ctx: &RequestContext,
    archive: &Archive,
    filter: Filter,
    query: Option<(String, Arc<SearchIndex>)>,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
) -> Result<(), ControlError> {
    let mut event = by(ctx, action::EXPORT);
    event.query = Some(described(&filter));
    record(archive, event).await?;
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
            let purged = summary.purged.as_ref().map(|p| p.describe());
            let content = record
                .message()
                .filter(|_| purged.is_none())
                .map(|m| m.content.sha256.clone());
            out.send(Reply::ExportRecord {
                record: Box::new(record),
                hash,
                purged,
            })?;
            if let Some(sha256) = content {
                out.content(&reader, &sha256)?;
            }
        }
        Ok(())
    })
    .await
}

/// The filter as the audit record shows it: the criteria given, as JSON.
fn described(filter: &Filter) -> String {
    let Ok(serde_json::Value::Object(mut map)) = serde_json::to_value(filter) else {
        return String::new();
    };
    map.retain(|_, v| !(v.is_null() || v.as_array().is_some_and(Vec::is_empty)));
    serde_json::Value::Object(map).to_string()
}
