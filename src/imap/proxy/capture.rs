//! Captured messages on their way from a session to the archive: a bounded
//! queue per session and the task that drains it into [`Archive::append`].
//!
//! Fetched messages are a read path: no client waits for the archive, so
//! the relay hands each to the queue and goes on. Uploads (APPEND) are not:
//! [`archive_upload`] archives them before the client sees the tagged `OK`.
//! A full queue makes the session
//! wait (backpressure, so a slow archive does not cost completeness) for at
//! most [`QUEUE_WAIT`]; past that, and whenever the archive fails, the
//! message is logged loudly as not archived and the relay carries on.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::archive::record::{ImapContext, Interception, MessageMeta, Source, SourceKind, TlsInfo};
use crate::archive::{Archive, NewMessage, SpooledContent};
use crate::metrics::{self, ErrorKind};

/// Longest a session waits for room in a full queue.
pub const QUEUE_WAIT: Duration = Duration::from_secs(30);

/// Which way a captured message crossed the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Uploaded by the client (APPEND).
    Append,
    /// Returned whole by the server (FETCH `BODY[]`, `RFC822`, `BINARY[]`).
    Fetch,
    /// Fetched by the proxy itself to complete a partial fetch.
    ProxyFetch,
}

impl Direction {
    /// The name kept in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Append => "append",
            Direction::Fetch => "fetch",
            Direction::ProxyFetch => "proxy-fetch",
        }
    }
}

/// What is known about the session a capture comes from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The `[[imap_proxy]]` listener name.
    pub listener: String,
    /// The client's address, `ip:port`.
    pub peer: String,
    /// TLS of the client leg, once encrypted.
    pub tls: Option<TlsInfo>,
    /// Where an intercepted connection was headed (`None` otherwise).
    pub intercepted: Option<Interception>,
}

/// Where in the IMAP conversation a message was seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// The logged-in user.
    pub user: Option<String>,
    /// The mailbox, as the client and server spell it.
    pub mailbox: Option<String>,
    /// The mailbox's UIDVALIDITY.
    pub uidvalidity: Option<u32>,
    /// The message's UID.
    pub uid: Option<u32>,
}

/// The sending side of a session's capture queue.
#[derive(Clone)]
pub struct Queue {
    /// Into the draining task.
    tx: mpsc::Sender<(NewMessage, Direction)>,
}

impl Queue {
    /// Starts the task that archives what is queued; it ends when every
    /// `Queue` clone is dropped and the queue is drained. It is tracked, so
    /// a graceful shutdown waits for commits in flight.
    pub fn start(archive: Archive, capacity: usize, tracker: &TaskTracker) -> Queue {
        let (tx, mut rx) = mpsc::channel::<(NewMessage, Direction)>(capacity.max(1));
        let drain = async move {
            while let Some((message, direction)) = rx.recv().await {
                append(&archive, message, direction).await;
            }
        };
        tracker.spawn(drain.in_current_span());
        Queue { tx }
    }

    /// Queues one captured message.
    pub async fn submit(
        &self,
        origin: &Origin,
        place: Place,
        direction: Direction,
        content: SpooledContent,
    ) {
        let message = NewMessage {
            meta: meta(origin, place, direction),
            content,
            evidence: None,
        };
        let message = match self.tx.try_send((message, direction)) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(message)) => message,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!(
                    direction = direction.as_str(),
                    "capture queue closed: message NOT archived"
                );
                return;
            }
        };
        tracing::warn!(
            direction = direction.as_str(),
            "capture queue full; waiting for the archive"
        );
        match tokio::time::timeout(QUEUE_WAIT, self.tx.send(message)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => {
                tracing::error!(
                    direction = direction.as_str(),
                    "archive too slow: message NOT archived"
                )
            }
        }
    }
}

/// Archives an uploaded message now and returns once it is durable (true)
/// or failed (false, logged). An APPEND's tagged `OK` waits for this, the
/// way the SMTP proxy holds back the final `.`: the client is told its
/// upload succeeded only when the archive holds it.
pub async fn archive_upload(
    archive: &Archive,
    origin: &Origin,
    place: Place,
    content: SpooledContent,
) -> bool {
    let message = NewMessage {
        meta: meta(origin, place, Direction::Append),
        content,
        evidence: None,
    };
    append(archive, message, Direction::Append).await
}

/// Appends one capture and logs the result; true when it is durable.
async fn append(archive: &Archive, message: NewMessage, direction: Direction) -> bool {
    let uid = message.meta.imap.as_ref().and_then(|i| i.uid);
    let size = message.content.size;
    let listener = message.meta.source.name.clone();
    match archive.append(message).await {
        Ok(a) => {
            tracing::info!(
                seq = a.seq,
                hash = %hex::encode(a.hash),
                dedup = a.deduplicated,
                direction = direction.as_str(),
                uid,
                size,
                "archived"
            );
            metrics::message_archived(&listener, size);
            true
        }
        Err(error) => {
            tracing::error!(
                %error,
                direction = direction.as_str(),
                uid,
                size,
                "archive failed: message NOT archived"
            );
            metrics::error(ErrorKind::Archive);
            false
        }
    }
}

/// The record metadata of a capture.
fn meta(origin: &Origin, place: Place, direction: Direction) -> MessageMeta {
    MessageMeta {
        source: Source {
            kind: SourceKind::ImapProxy,
            name: origin.listener.clone(),
        },
        peer: Some(origin.peer.clone()),
        tls: origin.tls.clone(),
        auth_user: place.user.clone(),
        intercepted: origin.intercepted.clone(),
        imap: Some(ImapContext {
            user: place.user,
            mailbox: place.mailbox,
            uidvalidity: place.uidvalidity,
            uid: place.uid,
            direction: direction.as_str().to_owned(),
        }),
        ..MessageMeta::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names_the_imap_context() {
        let origin = Origin {
            listener: "imap".into(),
            peer: "127.0.0.1:5".into(),
            tls: None,
            intercepted: None,
        };
        let place = Place {
            user: Some("alice".into()),
            mailbox: Some("INBOX".into()),
            uidvalidity: Some(7),
            uid: Some(3),
        };
        let m = meta(&origin, place, Direction::ProxyFetch);
        assert_eq!(m.source.kind, SourceKind::ImapProxy);
        assert_eq!(m.auth_user.as_deref(), Some("alice"));
        let imap = m.imap.unwrap();
        assert_eq!(
            (imap.uid, imap.direction.as_str()),
            (Some(3), "proxy-fetch")
        );
    }
}
