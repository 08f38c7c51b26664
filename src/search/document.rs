//! One message record as the index sees it: [`MessageDoc`] gathers what is
//! searchable from the record (envelope, journal report, IMAP context,
//! source) and from the extracted message text, and turns into a tantivy
//! document.

use std::collections::BTreeSet;

use tantivy::TantivyDocument;
use tantivy::schema::Field;

use super::analysis;
use super::direction::{Direction, LocalDomains};
use super::extract::{Attachment, Extracted, Mailbox};
use super::schema::Fields;
use crate::archive::record::{MessageMeta, Record};

/// Everything indexed for one message record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageDoc {
    /// Record id.
    pub seq: u64,
    /// Receive time, Unix seconds.
    pub received: i64,
    /// Date header, Unix seconds; the receive time when there is none.
    pub date: i64,
    /// Message size in bytes.
    pub size: u64,
    /// [`fingerprint`] of the content's SHA-256.
    pub content: u64,
    /// Source kind.
    pub source: String,
    /// Listener or job name.
    pub listener: String,
    /// IMAP and SMTP AUTH users.
    pub users: Vec<String>,
    /// IMAP folders.
    pub folders: Vec<String>,
    /// Sender addresses and display names.
    pub from: Vec<String>,
    /// To recipients (header and journal).
    pub to: Vec<String>,
    /// Cc recipients (header and journal).
    pub cc: Vec<String>,
    /// Bcc recipients (header and journal).
    pub bcc: Vec<String>,
    /// Every recipient anywhere.
    pub rcpt: Vec<String>,
    /// Reply-To addresses and names.
    pub reply_to: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Body text.
    pub body: String,
    /// Attachments (inline images too: their names and types are
    /// searchable).
    pub attachments: Vec<Attachment>,
    /// Whether a reader would say the message has an attachment (inline
    /// images do not count).
    pub has_attachment: bool,
    /// Message-ID.
    pub message_id: Option<String>,
    /// Message-ID, In-Reply-To and References.
    pub thread: Vec<String>,
    /// Direction, when local domains are configured.
    pub direction: Option<Direction>,
}

/// The first 8 bytes of a hex SHA-256 as a number (0 for junk).
pub fn fingerprint(sha256_hex: &str) -> u64 {
    sha256_hex
        .get(..16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0)
}

/// Parses a record time (RFC 3339) to Unix seconds.
pub fn unix_seconds(rfc3339: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp())
}

fn push_mailboxes(out: &mut Vec<String>, boxes: &[Mailbox]) {
    for m in boxes {
        out.extend(m.address.iter().cloned());
        out.extend(m.name.iter().cloned());
    }
}

/// `(user, folder)` of an IMAP import origin `imap://user@host/folder`.
fn imap_origin(origin: &str) -> Option<(String, String)> {
    let rest = origin.strip_prefix("imap://")?;
    let (account, folder) = rest.split_once('/')?;
    let (user, _host) = account.rsplit_once('@')?;
    Some((percent_decode(user), folder.to_string()))
}

fn percent_decode(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl MessageDoc {
    /// Gathers the searchable parts of a message record and its content.
    pub fn new(
        record: &Record,
        meta: &MessageMeta,
        text: Extracted,
        local: &LocalDomains,
    ) -> MessageDoc {
        let received = unix_seconds(&record.time).unwrap_or(0);
        let mut d = MessageDoc {
            seq: record.seq,
            received,
            date: text.headers.date.map(|d| d.timestamp()).unwrap_or(received),
            size: meta.content.size,
            content: fingerprint(&meta.content.sha256),
            source: meta.source.kind.as_str().to_string(),
            listener: meta.source.name.clone(),
            subject: text.headers.subject.clone().unwrap_or_default(),
            message_id: text.headers.message_id.clone(),
            ..Default::default()
        };
        push_mailboxes(&mut d.from, &text.headers.from);
        push_mailboxes(&mut d.from, &text.headers.sender);
        d.from
            .extend(meta.mail_from.iter().filter(|s| !s.is_empty()).cloned());
        push_mailboxes(&mut d.to, &text.headers.to);
        push_mailboxes(&mut d.cc, &text.headers.cc);
        push_mailboxes(&mut d.bcc, &text.headers.bcc);
        push_mailboxes(&mut d.reply_to, &text.headers.reply_to);
        for field in [&d.to, &d.cc, &d.bcc] {
            d.rcpt.extend(field.iter().cloned());
        }
        d.rcpt.extend(meta.rcpts.iter().map(|r| r.address.clone()));
        if let Some(j) = &meta.journal {
            d.from.extend(j.sender.iter().cloned());
            d.from.extend(j.on_behalf_of.iter().cloned());
            for r in &j.recipients {
                let mut all = vec![r.address.clone()];
                all.extend(r.expanded.iter().cloned());
                all.extend(r.forwarded.iter().cloned());
                match r.field.to_ascii_lowercase().as_str() {
                    "to" => d.to.extend(all.iter().cloned()),
                    "cc" => d.cc.extend(all.iter().cloned()),
                    "bcc" => d.bcc.extend(all.iter().cloned()),
                    _ => {}
                }
                d.rcpt.extend(all);
            }
        }
        if let Some(imap) = &meta.imap {
            d.users.extend(imap.user.iter().cloned());
            d.folders.extend(imap.mailbox.iter().cloned());
        }
        if let Some((user, folder)) = meta.import.as_ref().and_then(|i| imap_origin(&i.origin)) {
            d.users.push(user);
            d.folders.push(folder);
        }
        d.users.extend(meta.auth_user.iter().cloned());
        d.thread = text.headers.message_id.iter().cloned().collect();
        d.thread.extend(text.headers.in_reply_to.iter().cloned());
        d.thread.extend(text.headers.references.iter().cloned());
        d.direction = direction(meta, &text, local);
        d.body = text.body;
        d.attachments = text.attachments;
        d.has_attachment = text.has_attachment;
        d
    }

    /// The tantivy document.
    pub fn to_document(&self, f: &Fields) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.seq, self.seq);
        doc.add_u64(f.content, self.content);
        doc.add_date(f.date, tantivy::DateTime::from_timestamp_secs(self.date));
        doc.add_date(
            f.received,
            tantivy::DateTime::from_timestamp_secs(self.received),
        );
        doc.add_u64(f.size, self.size);
        add_text(&mut doc, [f.subject, f.subject_stem], &self.subject);
        add_text(&mut doc, [f.body, f.body_stem], &self.body);
        let mut types = BTreeSet::new();
        for a in &self.attachments {
            doc.add_u64(f.attachment_size, a.size);
            add_text(&mut doc, [f.attachment, f.attachment_stem], &a.text);
            if let Some(name) = &a.name {
                add_text(&mut doc, [f.filename, f.attachment_stem], name);
            }
            types.extend(analysis::type_terms(&a.mime_type, a.name.as_deref()));
        }
        add_terms(&mut doc, f.attachment_type, types);
        for (field, values) in [
            (f.from, &self.from),
            (f.to, &self.to),
            (f.cc, &self.cc),
            (f.bcc, &self.bcc),
            (f.rcpt, &self.rcpt),
            (f.reply_to, &self.reply_to),
        ] {
            add_terms(
                &mut doc,
                field,
                values.iter().flat_map(|v| analysis::address_terms(v)),
            );
        }
        let keywords = |values: &[String]| -> Vec<String> {
            values.iter().map(|v| analysis::keyword(v)).collect()
        };
        let folded = |values: &[String]| -> Vec<String> {
            values
                .iter()
                .map(|v| analysis::normalize(v.trim()))
                .collect()
        };
        add_terms(&mut doc, f.message_id, keywords(self.message_id.as_slice()));
        add_terms(&mut doc, f.thread, keywords(&self.thread));
        add_terms(&mut doc, f.folder, folded(&self.folders));
        add_terms(&mut doc, f.user, folded(&self.users));
        add_terms(&mut doc, f.source, [self.source.clone()]);
        add_terms(&mut doc, f.listener, [analysis::keyword(&self.listener)]);
        add_terms(
            &mut doc,
            f.direction,
            self.direction.map(|d| d.as_str().to_string()),
        );
        if self.has_attachment {
            add_terms(&mut doc, f.has, ["attachment".to_string()]);
        }
        doc
    }
}

fn add_text(doc: &mut TantivyDocument, fields: [Field; 2], text: &str) {
    if !text.is_empty() {
        for f in fields {
            doc.add_text(f, text);
        }
    }
}

/// Adds each distinct non-empty term once.
fn add_terms(doc: &mut TantivyDocument, field: Field, terms: impl IntoIterator<Item = String>) {
    let set: BTreeSet<String> = terms.into_iter().filter(|t| !t.is_empty()).collect();
    for t in set {
        doc.add_text(field, t);
    }
}

/// Sender: the journal report's, the envelope's, else the header From;
/// recipients: the journal report's, the envelope's, else the headers'.
fn direction(meta: &MessageMeta, text: &Extracted, local: &LocalDomains) -> Option<Direction> {
    let header_from = text.headers.from.iter().find_map(|m| m.address.as_deref());
    let sender = meta
        .journal
        .as_ref()
        .and_then(|j| j.sender.as_deref())
        .or(meta.mail_from.as_deref().filter(|s| !s.is_empty()))
        .or(header_from);
    // A journal record's envelope names the journal mailbox; the report
    // names the real recipients.
    let mut rcpts: Vec<&str> = match &meta.journal {
        Some(j) if !j.recipients.is_empty() => {
            j.recipients.iter().map(|r| r.address.as_str()).collect()
        }
        _ => meta.rcpts.iter().map(|r| r.address.as_str()).collect(),
    };
    if rcpts.is_empty() {
        let h = &text.headers;
        for m in h.to.iter().chain(&h.cc).chain(&h.bcc) {
            rcpts.extend(m.address.as_deref());
        }
    }
    local.direction(sender, rcpts)
}

#[cfg(test)]
#[path = "document_tests.rs"]
pub(crate) mod tests;
