//! Completing a proxied message: archive first, then the held-back `.`,
//! then the upstream's final reply, kept as an outcome record.
//!
//! The order is the archive's promise: nothing reaches the upstream's
//! queue that is not durable here. What the client gets:
//!
//! | what happened                        | client gets          | archive keeps               |
//! |--------------------------------------|----------------------|-----------------------------|
//! | archive commit failed                | `451 4.3.0` (`452 4.3.1`: disk full), no `.` | nothing      |
//! | upstream lost during DATA            | `451 4.4.2`          | message, outcome `failed`   |
//! | upstream lost after `.`, no reply    | `451 4.4.2`          | message, outcome `failed`   |
//! | upstream answered                    | that reply, verbatim | message, outcome with reply |
//!
//! The outcome record is appended after the client's reply is decided and
//! without holding it up (a second fsync per message would cost the client
//! latency for a record that only amends a durable one); the connection's
//! task waits for it before it ends, and so does a graceful shutdown.
//! A failed outcome append is only logged: the message itself is durable
//! and the upstream has decided, so changing the client's answer would
//! either lose the upstream's rejection or make the client send it twice.

use std::time::Instant;

use tokio_util::task::TaskTracker;
use tracing::{error, info};

use crate::archive::{Archive, ArchiveError, NewMessage, Outcome};
use crate::metrics::{self, ErrorKind};
use crate::smtp::backend::Transaction;
use crate::smtp::reply::Reply;

use super::leg::Leg;

/// What the proxy knows about a message besides its content.
pub(super) struct Delivery<'a> {
    /// The listener's name, for metrics (the connection's span names it
    /// in the log).
    pub listener: &'a str,
    /// When MAIL was accepted, for the log's duration.
    pub started: Instant,
    /// Why the upstream leg failed while the data streamed, if it did.
    pub lost_in_data: Option<String>,
}

/// The reply when the upstream failed before answering the message.
fn upstream_failed() -> Reply {
    Reply::new(
        451,
        "4.4.2 upstream connection failed, message not accepted; try again later",
    )
}

/// Archives the transaction, then completes it upstream; returns the
/// client's reply.
pub(super) async fn commit(
    archive: &Archive,
    outcomes: &TaskTracker,
    leg: &mut Leg,
    delivery: Delivery<'_>,
    tx: Transaction,
) -> Reply {
    let Transaction { meta, content } = tx;
    let size = content.size;
    let from = meta.mail_from.clone().unwrap_or_default();
    let rcpts = meta.rcpts.len();
    let message = NewMessage {
        meta,
        content,
        evidence: None,
    };
    let seq = match archive.append(message).await {
        Ok(done) => done.seq,
        Err(error) => {
            error!(%error, "archive-failed");
            metrics::error(ErrorKind::Archive);
            leg.abort("archive commit failed");
            return Reply::archive_unavailable(matches!(error, ArchiveError::DiskFull));
        }
    };
    metrics::message_archived(delivery.listener, size);
    let (reply, outcome) = complete(leg, delivery.lost_in_data).await;
    if let Some(code) = outcome.code {
        metrics::upstream_reply(delivery.listener, code);
    }
    let upstream = outcome.text.clone();
    let record = Outcome {
        of: seq,
        upstream_reply: outcome.text,
        result: outcome.result.to_owned(),
        sealed: None,
    };
    // The client's answer does not wait for this second fsync; the
    // connection's task waits for it before it ends (and so does shutdown).
    let archive = archive.clone();
    outcomes.spawn(async move {
        if let Err(error) = archive.append_outcome(record).await {
            error!(%error, seq, "outcome-not-archived");
            metrics::error(ErrorKind::Archive);
        }
    });
    let ms = delivery.started.elapsed().as_millis() as u64;
    info!(
        seq,
        %from,
        rcpts,
        size,
        %upstream,
        ms,
        "relayed"
    );
    reply
}

/// What the upstream made of the message.
struct Finished {
    /// Its final reply code, when it gave one.
    code: Option<u16>,
    /// Its final reply as text, or what went wrong.
    text: String,
    /// `accepted`, `deferred`, `rejected` or `failed`.
    result: &'static str,
}

/// Sends the `.` (unless the leg already failed) and reads the verdict.
async fn complete(leg: &mut Leg, lost_in_data: Option<String>) -> (Reply, Finished) {
    if let Some(why) = lost_in_data {
        let finished = Finished {
            code: None,
            text: format!("no reply: upstream lost during DATA: {why}"),
            result: "failed",
        };
        return (upstream_failed(), finished);
    }
    match leg.finish_data().await {
        Ok(reply) if reply.is_positive() || reply.is_transient() || reply.is_permanent() => {
            let result = if reply.is_positive() {
                "accepted"
            } else if reply.is_transient() {
                "deferred"
            } else {
                "rejected"
            };
            let finished = Finished {
                code: Some(reply.code()),
                text: reply.text(),
                result,
            };
            (reply, finished)
        }
        Ok(odd) => {
            leg.abort("unexpected reply to the end of data");
            let finished = Finished {
                code: Some(odd.code()),
                text: format!("unexpected reply to the end of data: {}", odd.text()),
                result: "failed",
            };
            (upstream_failed(), finished)
        }
        Err(error) => {
            let finished = Finished {
                code: None,
                text: format!("no reply to the end of data: {error}"),
                result: "failed",
            };
            (upstream_failed(), finished)
        }
    }
}
