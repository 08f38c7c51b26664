//! The web interface's side of the audit trail: builds [`AuditEvent`]s from
//! a request and appends them to the archive, waiting until each is
//! durable, so no page is served whose access is not on record.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::archive::audit::{AuditEvent, action};
use crate::archive::{Archive, ArchiveError};

use super::Web;
use super::session::Session;

/// How long a burst of failed logins from one address must have been quiet
/// before its summary is written.
const BURST_QUIET: Duration = Duration::from_secs(60);

/// Where audit records go.
#[derive(Clone)]
pub struct Trail {
    /// The archive the records are chained into.
    archive: Archive,
}

impl Trail {
    /// A trail in `archive`.
    pub fn new(archive: Archive) -> Trail {
        Trail { archive }
    }

    /// Appends `event`; returns once it is durable. Its `records` keep
    /// only ids already in the chain: an audit record names earlier
    /// records only (docs/archive-format.md 2.2), and an id someone typed
    /// or guessed may lie beyond the head (the page's path or the
    /// refusal in `detail` still names it).
    pub async fn record(&self, mut event: AuditEvent) -> Result<u64, ArchiveError> {
        if !event.records.is_empty() {
            let head = self.archive.reader().head()?.seq;
            event.records.retain(|&n| n > 0 && n <= head);
        }
        let action = event.action.clone();
        let appended = self.archive.append_audit(event).await.inspect_err(|e| {
            tracing::error!(error = %e, action, "audit record not written; request refused");
        })?;
        Ok(appended.seq)
    }
}

/// An event done by the person of `session`.
pub fn by(session: &Session, action: &str) -> AuditEvent {
    AuditEvent {
        action: action.to_owned(),
        outcome: "ok".into(),
        via: "web".into(),
        actor: session.user.clone(),
        role: Some(session.role.as_str().to_owned()),
        peer: Some(session.peer.to_string()),
        session: Some(session.tag.clone()),
        ..AuditEvent::default()
    }
}

/// Records that the person of `s` did `act` on record `seq`; false when the
/// record could not be written (and nothing may be served).
pub async fn accessed(web: &Web, s: &Session, act: &str, seq: u64, detail: &str) -> bool {
    let mut event = by(s, act);
    event.records = vec![seq];
    event.detail = Some(detail.to_owned());
    web.trail.record(event).await.is_ok()
}

/// Records a refused look at message `seq` (missing, or outside the
/// person's scope: the two are not told apart); false when the record
/// could not be written.
pub async fn denied(web: &Web, s: &Session, seq: Option<u64>, path: &str) -> bool {
    let mut event = by(s, action::DENIED);
    event.outcome = "denied".into();
    event.records = seq.filter(|&n| n > 0).into_iter().collect();
    event.detail = Some(format!(
        "{}: no such message, or outside the user's mail",
        path.chars().take(200).collect::<String>()
    ));
    web.trail.record(event).await.is_ok()
}

/// An event of someone not logged in (a failed login).
pub fn anonymous(peer: IpAddr, tried: &str, action: &str) -> AuditEvent {
    AuditEvent {
        action: action.to_owned(),
        outcome: "failed".into(),
        via: "web".into(),
        actor: if tried.is_empty() {
            "-".into()
        } else {
            tried.chars().take(128).collect()
        },
        peer: Some(peer.to_string()),
        ..AuditEvent::default()
    }
}

/// Writes the summaries of failed-login bursts until `shutdown`, and all
/// remaining ones then.
pub async fn summarise_failures(web: Arc<Web>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(15));
    loop {
        let quiet = tokio::select! {
            _ = shutdown.cancelled() => Duration::ZERO,
            _ = tick.tick() => BURST_QUIET,
        };
        write_summaries(&web, quiet).await;
        if quiet.is_zero() {
            return;
        }
    }
}

/// Writes the summaries of bursts quiet for `quiet`.
pub async fn write_summaries(web: &Web, quiet: Duration) {
    for s in web.limiter.drain_summaries(quiet) {
        let mut event = anonymous(s.peer, &s.users.join(","), action::LOGIN_FAILURES);
        event.count = Some(s.count);
        event.span = Some([s.first, s.last]);
        event.detail = Some(format!("{} failed logins not recorded one by one", s.count));
        // A failure is logged by `record`; the counts are lost then, which
        // costs a summary, never an answered page.
        let _ = web.trail.record(event).await;
    }
}
