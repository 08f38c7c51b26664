//! Archiving one message the journal received: unwrap a journal report if
//! it is one, append every resulting record durably, and build the reply.
//!
//! Only journal reports are read into memory whole (the report parser
//! needs them in one piece). A spooled message on disk is first checked by
//! its header block alone, so plain copies of any size stay on disk.

use std::io::{self, Read};
use std::time::Instant;

use memchr::memmem;

use tracing::{error, info, warn};

use crate::archive::record::JournalEnvelope;
use crate::archive::{Archive, ArchiveError, MessageMeta, NewMessage, SpooledContent};
use crate::metrics::{self, ErrorKind};
use crate::smtp::backend::Transaction;
use crate::smtp::journal_report::{self, JournalParse, malformed_envelope};
use crate::smtp::reply::Reply;

/// How much of a spilled message is read to find its header block.
const HEAD_PEEK: usize = 64 * 1024;

/// What a received message turned out to be.
enum Received {
    /// A plain copy: archived as received.
    Plain(SpooledContent),
    /// A journal report: its messages and the whole report as evidence.
    Report {
        /// The report as received.
        evidence: SpooledContent,
        /// Each original message with the report's envelope.
        messages: Vec<(Vec<u8>, JournalEnvelope)>,
    },
    /// Claims to be a report but cannot be unwrapped.
    Malformed {
        /// The report as received; archived as the content.
        content: SpooledContent,
        /// Why, for the record and the log.
        reason: String,
    },
}

/// Archives the transaction; the reply says where, or asks for a retry.
pub(super) async fn archive(archive: &Archive, listener: &str, tx: Transaction) -> Reply {
    let started = Instant::now();
    let Transaction { meta, content } = tx;
    let from = meta.mail_from.clone().unwrap_or_default();
    let received = if content.as_memory().is_some() {
        classify(content)
    } else {
        tokio::task::spawn_blocking(move || classify(content))
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e)))
    };
    let messages = match received {
        Ok(received) => to_records(meta, received),
        Err(error) => Err(error),
    };
    let messages = match messages {
        Ok(messages) => messages,
        Err(error) => {
            error!(%error, "spool-read-failed");
            return Reply::archive_unavailable(false);
        }
    };
    let mut ids = Vec::with_capacity(messages.len());
    for message in messages {
        let size = message.content.size;
        let rcpts = message.meta.rcpts.len();
        match archive.append(message).await {
            Ok(done) => {
                let hash = hex::encode(done.hash);
                let dedup = done.deduplicated;
                // The connection's span adds listener and peer; `ms` is
                // the time from the end of DATA until durable.
                let ms = started.elapsed().as_millis() as u64;
                info!(seq = done.seq, %hash, %from, rcpts, size, dedup, ms, "archived");
                metrics::message_archived(listener, size);
                ids.push(done.seq.to_string());
            }
            Err(error) => {
                error!(%error, "archive-failed");
                metrics::error(ErrorKind::Archive);
                return Reply::archive_unavailable(matches!(error, ArchiveError::DiskFull));
            }
        }
    }
    Reply::new(250, format!("2.0.0 Ok: archived as {}", ids.join(" and ")))
}

/// Decides what the content is; blocking reads when it is on disk.
fn classify(mut content: SpooledContent) -> io::Result<Received> {
    let parsed = match content.as_memory() {
        Some(bytes) => journal_report::parse(bytes),
        None => {
            let mut head = Vec::with_capacity(HEAD_PEEK);
            content
                .reader()?
                .take(HEAD_PEEK as u64)
                .read_to_end(&mut head)?;
            if !has_report_marker(&head) {
                return Ok(Received::Plain(content));
            }
            journal_report::parse(&content.to_vec()?)
        }
    };
    Ok(match parsed {
        JournalParse::NotAReport => Received::Plain(content),
        JournalParse::Report(report) => {
            info!(version = report.version.as_str(), "journal-report");
            Received::Report {
                evidence: content,
                messages: report.into_messages(),
            }
        }
        JournalParse::Malformed { reason } => {
            warn!(%reason, "journal-report-malformed");
            Received::Malformed { content, reason }
        }
    })
}

/// The records to append, in order.
fn to_records(meta: MessageMeta, received: Received) -> io::Result<Vec<NewMessage>> {
    match received {
        Received::Plain(content) => Ok(vec![NewMessage {
            meta,
            content,
            evidence: None,
        }]),
        Received::Malformed { content, reason } => Ok(vec![NewMessage {
            meta: MessageMeta {
                journal: Some(malformed_envelope(&reason)),
                ..meta
            },
            content,
            evidence: None,
        }]),
        Received::Report {
            mut evidence,
            messages,
        } => {
            // A second message (Microsoft 365's decrypted copy) needs its own
            // evidence value; the archive stores the bytes once either way.
            let copy = if messages.len() > 1 {
                Some(evidence.to_vec()?)
            } else {
                None
            };
            let mut evidence = Some(evidence);
            let records = messages
                .into_iter()
                .map(|(inner, envelope)| NewMessage {
                    meta: MessageMeta {
                        journal: Some(envelope),
                        ..meta.clone()
                    },
                    content: SpooledContent::from_bytes(inner),
                    evidence: evidence
                        .take()
                        .or_else(|| copy.clone().map(SpooledContent::from_bytes)),
                })
                .collect();
            Ok(records)
        }
    }
}

/// True when the header block names a journal report marker (the report
/// parser decides for sure; this only avoids reading plain copies whole).
fn has_report_marker(head: &[u8]) -> bool {
    let end = memmem::find(head, b"\r\n\r\n")
        .or_else(|| memmem::find(head, b"\n\n"))
        .unwrap_or(head.len());
    let lower = head[..end].to_ascii_lowercase();
    let markers: [&[u8]; 3] = [
        b"x-ms-journal-report:",
        b"content-identifier:",
        b"content-identifer:",
    ];
    lower
        .split(|&b| b == b'\n')
        .any(|line| markers.iter().any(|m| line.starts_with(m)))
}
