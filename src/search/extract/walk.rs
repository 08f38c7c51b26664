//! The walk over a parsed message: its body parts become the body text,
//! every other part an [`Attachment`], and a nested `message/rfc822` part
//! an attachment whose text is the nested message (header lines, then its
//! body) and whose own attachments follow it in the list with `parent`
//! pointing back to it.
//!
//! Text caps are reserved before a buffer is filled and the unused rest
//! given back after, so the text of body and all attachments together
//! never exceeds `max_total_text`, nested messages included.

use mail_parser::{Encoding, Message, MessagePart, MimeHeaders, PartType};

use super::Attachment;
use super::attachment;
use super::headers::HeaderFields;
use super::html;
use super::limits::Limits;
use super::problem::{Problem, ProblemKind};
use super::textbuf::TextBuf;

/// The state of one message's walk.
pub(crate) struct Walker<'a> {
    /// The caps.
    limits: &'a Limits,
    /// Attachments found so far (nested ones included).
    pub(crate) attachments: Vec<Attachment>,
    /// Problems found so far.
    pub(crate) problems: Vec<Problem>,
    /// Parts looked at, against `max_parts`.
    parts: usize,
    /// Text bytes not yet reserved by any buffer.
    total_left: usize,
}

impl<'a> Walker<'a> {
    /// A walk under `limits`.
    pub(crate) fn new(limits: &'a Limits) -> Walker<'a> {
        Walker {
            limits,
            attachments: Vec::new(),
            problems: Vec::new(),
            parts: 0,
            total_left: limits.max_total_text,
        }
    }

    /// A buffer of at most `cap` bytes, reserved from the message total.
    pub(crate) fn reserve(&mut self, cap: usize) -> TextBuf {
        let cap = cap.min(self.total_left);
        self.total_left -= cap;
        TextBuf::new(cap)
    }

    /// Gives back what `buf` did not use, reporting a cut on behalf of
    /// `attachment` (or the message), and returns the text.
    pub(crate) fn release(&mut self, buf: TextBuf, attachment: Option<usize>) -> String {
        self.total_left += buf.room();
        if buf.truncated() {
            self.problem(attachment, ProblemKind::TextTruncated { limit: buf.len() });
        }
        buf.into_string()
    }

    pub(crate) fn problem(&mut self, attachment: Option<usize>, kind: ProblemKind) {
        self.problems.push(Problem { attachment, kind });
    }

    /// Walks `msg`: its body parts into `body`, its other parts into
    /// attachments whose `parent` is `parent`.
    pub(crate) fn message(
        &mut self,
        msg: &Message<'_>,
        depth: usize,
        parent: Option<usize>,
        body: &mut TextBuf,
    ) {
        if msg.parts.iter().any(|p| p.is_encoding_problem) {
            self.problem(parent, ProblemKind::BrokenPart);
        }
        for &id in &msg.text_body {
            match msg.parts.get(id as usize).map(|p| &p.body) {
                Some(PartType::Text(text)) => {
                    body.newline();
                    body.push(text);
                }
                Some(PartType::Html(text)) => {
                    body.newline();
                    html::to_text(text, body);
                }
                _ => {}
            }
        }
        for &id in &msg.attachments {
            let Some(part) = msg.parts.get(id as usize) else {
                continue;
            };
            if matches!(part.body, PartType::Multipart(_)) {
                continue;
            }
            self.parts += 1;
            if self.parts > self.limits.max_parts {
                self.problem(
                    None,
                    ProblemKind::TooManyParts {
                        limit: self.limits.max_parts,
                    },
                );
                return;
            }
            self.attachment(part, depth, parent);
            if self.parts > self.limits.max_parts {
                return;
            }
        }
    }

    /// Records one attachment and extracts its text.
    fn attachment(&mut self, part: &MessagePart<'_>, depth: usize, parent: Option<usize>) {
        let index = self.attachments.len();
        self.attachments.push(Attachment {
            name: part.attachment_name().map(str::to_string),
            mime_type: mime_type(part),
            size: size(part),
            inline: matches!(part.body, PartType::InlineBinary(_)),
            text: String::new(),
            parent,
            message: None,
        });
        let mut buf = self.reserve(self.limits.max_attachment_text);
        let mut kinds = Vec::new();
        match &part.body {
            PartType::Text(text) => {
                buf.push(text);
            }
            PartType::Html(text) => html::to_text(text, &mut buf),
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
                let a = &self.attachments[index];
                attachment::text(
                    bytes,
                    &a.mime_type,
                    a.name.as_deref(),
                    self.limits,
                    &mut buf,
                    &mut kinds,
                );
            }
            PartType::Message(_) if depth + 1 > self.limits.max_depth => {
                kinds.push(ProblemKind::TooDeep {
                    limit: self.limits.max_depth,
                });
            }
            PartType::Message(nested) => {
                let headers = HeaderFields::read(nested);
                headers.render(&mut buf);
                buf.newline();
                self.message(nested, depth + 1, Some(index), &mut buf);
                self.attachments[index].message = Some(Box::new(headers));
            }
            PartType::Multipart(_) => {}
        }
        for kind in kinds {
            self.problem(Some(index), kind);
        }
        self.attachments[index].text = self.release(buf, Some(index));
    }
}

/// The part's type as `type/subtype`, lowercased; parts without one get
/// what MIME says they default to.
fn mime_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None => match part.body {
            PartType::Message(_) => "message/rfc822".into(),
            PartType::Text(_) | PartType::Html(_) => "text/plain".into(),
            _ => "application/octet-stream".into(),
        },
    }
}

/// The part's size in decoded bytes: what a user saving it would get.
fn size(part: &MessagePart<'_>) -> u64 {
    match &part.body {
        // An unencoded nested message is not copied; its bytes are the
        // part's body in the raw message.
        PartType::Message(m) if part.encoding == Encoding::None => {
            u64::from(part.offset_end.saturating_sub(part.offset_body))
                .min(m.raw_message.len() as u64)
        }
        PartType::Message(m) => m.raw_message.len() as u64,
        _ => part.contents().len() as u64,
    }
}
