//! The CLI's side of the audit trail: every reading command that reaches
//! the daemon is appended as an `audit` record naming the Unix user (from
//! the socket's peer credentials, which the client cannot forge), durable
//! before the first answer frame; `mailseal audit` lists the records, and
//! `mailseal user` has its changes recorded here before it makes them.

use tokio::io::AsyncWrite;
use tokio_util::sync::CancellationToken;

use super::{ControlError, produce};
use crate::archive::Archive;
use crate::archive::audit::{AuditEvent, action};
use crate::archive::headers::Headers;
use crate::archive::record::RecordBody;
use crate::control::RequestContext;
use crate::control::protocol::Reply;
use crate::control::wire::FrameWriter;

/// An event done by the caller of `ctx`.
pub fn by(ctx: &RequestContext, action: &str) -> AuditEvent {
    AuditEvent {
        action: action.to_owned(),
        outcome: "ok".into(),
        via: "cli".into(),
        actor: ctx.peer.name(),
        peer: Some(format!("uid {}", ctx.peer.uid)),
        detail: Some(format!("mailseal {}", ctx.command)),
        ..AuditEvent::default()
    }
}

/// Appends `event` and waits until it is durable; a trail that cannot be
/// written refuses the command instead of answering unrecorded.
pub async fn record(archive: &Archive, event: AuditEvent) -> Result<(), ControlError> {
    archive.append_audit(event).await.map(|_| ()).map_err(|e| {
        tracing::error!(error = %e, "audit record not written; command refused");
        ControlError::from(e)
    })
}

/// `mailseal audit`: a record of the reading, then the matching audit
/// records (oldest first) as `record` frames.
pub async fn list<W: AsyncWrite + Unpin>(
    ctx: &RequestContext,
    archive: &Archive,
    since: Option<String>,
    user: Option<String>,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
) -> Result<(), ControlError> {
    let mut event = by(ctx, action::AUDIT_READ);
    let asked: Vec<String> = [("since", &since), ("user", &user)]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    event.query = (!asked.is_empty()).then(|| asked.join(" "));
    record(archive, event).await?;
    let reader = archive.reader();
    let user = user.map(|u| u.to_lowercase());
    produce(output, token, move |out| {
        for summary in reader.iter_summaries() {
            let summary = summary?;
            if summary.kind != "audit" {
                continue;
            }
            if since.as_deref().is_some_and(|s| summary.time.as_str() < s) {
                continue;
            }
            let (record, hash) = reader.record(summary.seq)?;
            let RecordBody::Audit(e) = &record.body else {
                continue;
            };
            if user
                .as_deref()
                .is_some_and(|u| !e.actor.to_lowercase().contains(u))
            {
                continue;
            }
            out.send(Reply::Record {
                record: Box::new(record),
                hash,
                headers: Box::new(Headers::default()),
                segment: summary.segment,
                offset: summary.offset,
                purged: None,
            })?;
        }
        Ok(())
    })
    .await
}

/// `mailseal user ...` while the daemon runs: the change is recorded,
/// naming the caller, before the CLI writes the users file.
pub async fn note(
    ctx: &RequestContext,
    archive: &Archive,
    what: &str,
    detail: String,
) -> Result<(), ControlError> {
    if what != action::USER_CHANGE {
        return Err(ControlError::Refused(format!(
            "only {} can be noted in the audit trail, not {what:?}",
            action::USER_CHANGE
        )));
    }
    let mut event = by(ctx, action::USER_CHANGE);
    event.detail = Some(detail.chars().take(1000).collect());
    record(archive, event).await
}
