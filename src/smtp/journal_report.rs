//! Exchange / Microsoft 365 envelope journal reports: recognizing one and
//! unwrapping the original message, byte-exact, with its envelope. No I/O.
//!
//! A journal report is a `multipart/mixed` message whose text part lists
//! the original's envelope (sender, every recipient including Bcc and
//! distribution-list members) and whose `message/rfc822` part holds the
//! original message unaltered. Exchange 2007 and later (Microsoft 365 too)
//! mark it with an `X-MS-Journal-Report:` header (usually empty); Exchange
//! 2003 with `Content-Identifier: ExJournalReport`, which Exchange itself
//! also accepts misspelled as `Content-Identifer` (the detection order and
//! both spellings follow Exchange's own `EnvelopeJournalUtility`).
//!
//! Microsoft 365 "journal report decryption" (`JournalReportDecryptionEnabled`,
//! on by default) does not send a separate report: its decryption agent
//! appends a second `message/rfc822` attachment, the decrypted copy, to the
//! same report after the protected original (and stamps the report with
//! `X-MS-Exchange-Organization-JournalReportDecryption-Processed: true`, an
//! organization header that does not survive leaving Exchange, so it is not
//! relied on). Sources: Exchange's `JournalReportDecryptionAgent`
//! (`Attachments.Add(null, "message/rfc822")`), Microsoft's "Understanding
//! Journal Report Decryption" (Exchange 2010 SP2) and petri.com's "How
//! Exchange Online Processes Journal Reports for Protected Email" (the
//! report "has two attachments: one is the original (encrypted) message,
//! the second is the decrypted copy"). Both are returned; the second is
//! marked with `decrypted_copy`.
//!
//! The inner message is the part's body from the end of its header block to
//! the line break before the next boundary delimiter (RFC 2046: that line
//! break belongs to the delimiter), base64- or quoted-printable-decoded when
//! the part says so. Nothing inside it is parsed.

mod fields;
mod mime;

use crate::archive::record::JournalEnvelope;
use mime::{ContentType, Field, SplitError};

/// Which Exchange generation wrote the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportVersion {
    /// `Content-Identifier: ExJournalReport`, with a `Recipients:` block.
    Exchange2003,
    /// `X-MS-Journal-Report`: Exchange 2007 and later, Microsoft 365.
    Exchange2007,
}

impl ReportVersion {
    /// Short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportVersion::Exchange2003 => "exchange-2003",
            ReportVersion::Exchange2007 => "exchange-2007",
        }
    }
}

/// What [`parse`] made of a message received by the journal listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalParse {
    /// No journal report marker: a plain copy (Postfix BCC and the like),
    /// archived as received.
    NotAReport,
    /// A well-formed report.
    Report(JournalReport),
    /// Claims to be a report but cannot be unwrapped; the caller archives
    /// the whole message as received, marked with
    /// [`malformed_envelope`]`(reason)`.
    Malformed {
        /// What is wrong, for the record and the log.
        reason: String,
    },
}

/// An unwrapped journal report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalReport {
    /// Which marker the report carried.
    pub version: ReportVersion,
    /// The original message, byte-exact (the first `message/rfc822` part).
    pub inner: Vec<u8>,
    /// Microsoft 365's decrypted copy of a protected original (the second
    /// `message/rfc822` part), when the report carries one.
    pub decrypted: Option<Vec<u8>>,
    /// The envelope from the report text, with `decrypted_copy` false.
    pub envelope: JournalEnvelope,
}

impl JournalReport {
    /// The messages to archive, one record each, with their envelopes: the
    /// original first, then the decrypted copy marked `decrypted_copy`.
    pub fn into_messages(self) -> Vec<(Vec<u8>, JournalEnvelope)> {
        let mut out = Vec::with_capacity(2);
        if let Some(decrypted) = self.decrypted {
            let marked = JournalEnvelope {
                decrypted_copy: true,
                ..self.envelope.clone()
            };
            out.push((self.inner, self.envelope));
            out.push((decrypted, marked));
        } else {
            out.push((self.inner, self.envelope));
        }
        out
    }
}

/// The envelope recorded for a report that could not be unwrapped.
pub fn malformed_envelope(reason: &str) -> JournalEnvelope {
    JournalEnvelope {
        malformed: Some(reason.to_owned()),
        ..Default::default()
    }
}

/// Recognizes and unwraps a journal report. Only the top-level header
/// block is consulted for the marker.
pub fn parse(message: &[u8]) -> JournalParse {
    let (head, body_start) = mime::split_entity(message);
    let headers = mime::parse_headers(head);
    let Some(version) = detect(&headers) else {
        return JournalParse::NotAReport;
    };
    match unwrap(&message[body_start..], &headers, version) {
        Ok(report) => JournalParse::Report(report),
        Err(reason) => JournalParse::Malformed { reason },
    }
}

/// The report marker, checked in Exchange's own order.
fn detect(headers: &[Field]) -> Option<ReportVersion> {
    let exjournal = |f: &Field| {
        (f.name == "content-identifier" || f.name == "content-identifer")
            && f.value.eq_ignore_ascii_case(b"exjournalreport")
    };
    if headers.iter().any(exjournal) {
        Some(ReportVersion::Exchange2003)
    } else if mime::header(headers, "x-ms-journal-report").is_some() {
        Some(ReportVersion::Exchange2007)
    } else {
        None
    }
}

/// One top-level part of the report.
struct Part<'m> {
    /// Its header fields.
    fields: Vec<Field>,
    /// Its Content-Type.
    content_type: ContentType,
    /// Its body, still transfer-encoded.
    body: &'m [u8],
}

impl Part<'_> {
    fn is_message(&self) -> bool {
        // message/global is RFC 6532's SMTPUTF8 form of message/rfc822.
        matches!(
            self.content_type.mime.as_str(),
            "message/rfc822" | "message/global"
        )
    }

    fn decoded(&self) -> Result<Vec<u8>, String> {
        let encoding = mime::header(&self.fields, "content-transfer-encoding");
        mime::decode_transfer(encoding, self.body).map(|b| b.into_owned())
    }

    /// The part as text, or `None` for parts that are no report text.
    fn text(&self) -> Option<String> {
        let html = match self.content_type.mime.as_str() {
            "text/plain" => false,
            "text/html" => true,
            _ => return None,
        };
        let bytes = self.decoded().ok()?;
        let text = mime::decode_charset(&bytes, self.content_type.param("charset"));
        Some(if html {
            fields::html_to_text(&text)
        } else {
            text
        })
    }
}

fn unwrap(body: &[u8], headers: &[Field], version: ReportVersion) -> Result<JournalReport, String> {
    let content_type = ContentType::of(headers);
    if !content_type.mime.starts_with("multipart/") {
        return Err(format!("report is {}, not multipart", content_type.mime));
    }
    let boundary = content_type
        .param("boundary")
        .filter(|b| !b.is_empty())
        .ok_or("multipart report without a boundary")?;
    let ranges = mime::split_multipart(body, boundary.as_bytes()).map_err(|e| match e {
        SplitError::NoParts => format!("no part delimited by boundary {boundary:?}"),
        SplitError::Unclosed => "report is truncated: its closing boundary is missing".to_owned(),
    })?;
    let parts: Vec<Part<'_>> = ranges
        .into_iter()
        .map(|range| {
            let entity = &body[range];
            let (head, start) = mime::split_entity(entity);
            let fields = mime::parse_headers(head);
            let content_type = ContentType::of(&fields);
            Part {
                fields,
                content_type,
                body: &entity[start..],
            }
        })
        .collect();

    let mut messages = parts.iter().filter(|p| p.is_message());
    let Some(original) = messages.next() else {
        let found: Vec<&str> = parts.iter().map(|p| p.content_type.mime.as_str()).collect();
        return Err(format!(
            "no message/rfc822 part (parts: {})",
            found.join(", ")
        ));
    };
    let inner = original
        .decoded()
        .map_err(|e| format!("message/rfc822 part: {e}"))?;
    if inner.is_empty() {
        return Err("message/rfc822 part is empty".to_owned());
    }
    let decrypted = match messages.next() {
        Some(part) => Some(part.decoded().map_err(|e| format!("decrypted copy: {e}"))?),
        None => None,
    };
    let envelope = report_envelope(&parts).ok_or(
        "no journal report fields (Sender, Message-Id, To/Cc/Bcc/Recipient) in any text part",
    )?;
    Ok(JournalReport {
        version,
        inner,
        decrypted,
        envelope,
    })
}

/// The envelope from the first text part that has report fields; plain
/// text is preferred over HTML.
fn report_envelope(parts: &[Part<'_>]) -> Option<JournalEnvelope> {
    let plain = parts.iter().filter(|p| p.content_type.mime == "text/plain");
    let html = parts.iter().filter(|p| p.content_type.mime == "text/html");
    plain
        .chain(html)
        .filter_map(|p| p.text())
        .map(|text| fields::parse_fields(&text))
        .find(fields::has_fields)
}

#[cfg(test)]
mod tests;
