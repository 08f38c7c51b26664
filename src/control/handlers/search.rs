//! The search commands, answered from the index the daemon's indexer
//! thread keeps: `search` (a page of hits as `summary` frames, like
//! `list`), `search --check` (index against segments, with repair), and
//! the ids `export --query` exports.
//!
//! The index is never bypassed: while the indexer reopens it after a
//! failure the commands are refused with a message to retry, rather than
//! answered by scanning the segments.

use std::sync::Arc;

use tokio::io::AsyncWrite;
use tokio_util::sync::CancellationToken;

use super::{ControlError, produce};
use crate::archive::Archive;
use crate::control::RequestContext;
use crate::control::protocol::Reply;
use crate::control::wire::FrameWriter;
use crate::search::check as completeness;
use crate::search::indexer::Status;
use crate::search::{LocalDomains, SearchIndex, SearchRequest, Sort};

/// What the search handlers need from the daemon: the indexer's shared
/// state (its open index) and the organisation's domains (for repairs).
#[derive(Clone, Debug)]
pub struct SearchService {
    /// The indexer's state.
    pub status: Arc<Status>,
    /// `[archive] local_domains`, for documents indexed by a repair.
    pub local: LocalDomains,
}

impl SearchService {
    /// The open index, or a refusal the CLI shows.
    pub fn index(&self) -> Result<Arc<SearchIndex>, ControlError> {
        self.status.index().ok_or_else(|| {
            ControlError::Refused(format!(
                "the search index is being reopened ({}); try again in a moment",
                self.status
                    .last_error()
                    .unwrap_or_else(|| "starting".to_string())
            ))
        })
    }
}

/// The service, or a refusal when the daemon runs without one.
pub fn service(search: Option<&SearchService>) -> Result<&SearchService, ControlError> {
    search.ok_or_else(|| ControlError::Refused("this daemon has no search index".into()))
}

/// `search`: one `summary` frame per hit, then `search-end`.
pub async fn search<W: AsyncWrite + Unpin>(
    _ctx: &RequestContext,
    archive: &Archive,
    service: &SearchService,
    request: SearchRequest,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
) -> Result<(), ControlError> {
    let index = service.index()?;
    let reader = archive.reader();
    produce(output, token, move |out| {
        let hits = index.search(&request)?;
        for hit in &hits.hits {
            out.send(Reply::Summary {
                summary: Box::new(reader.summary(hit.seq)?),
            })?;
        }
        out.send(Reply::SearchEnd {
            total: hits.total as u64,
            next_cursor: hits.next_cursor,
            indexed: index.indexed_seq(),
            head: reader.head()?.seq,
        })
    })
    .await
}

/// Parses the sort name of a `search` command.
pub fn sort(name: &str) -> Result<Sort, ControlError> {
    Sort::parse(name).ok_or_else(|| {
        ControlError::Refused(format!(
            "unknown sort {name:?}; use date, -date or relevance"
        ))
    })
}

/// `search --check [--repair]`.
pub async fn check<W: AsyncWrite + Unpin>(
    _ctx: &RequestContext,
    archive: &Archive,
    service: &SearchService,
    repair: bool,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
) -> Result<(), ControlError> {
    let index = service.index()?;
    let local = service.local.clone();
    let reader = archive.reader();
    produce(output, token, move |out| {
        let report = completeness::check(&index, &reader)?;
        let repaired = repair && !report.is_clean();
        if repaired {
            completeness::repair(&index, &reader, &report, &local)?;
        }
        out.send(Reply::SearchChecked {
            report: serde_json::to_value(&report)
                .map_err(|e| ControlError::Refused(e.to_string()))?,
            repaired,
        })
    })
    .await
}
