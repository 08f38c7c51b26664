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
        // A single part whose text is empty is no body part to the parser,
        // but its header block may hold orphaned body lines.
        let empty_root = msg.text_body.is_empty()
            && !msg.attachments.contains(&0)
            && matches!(
                msg.parts.first().map(|p| &p.body),
                Some(PartType::Text(_) | PartType::Html(_))
            );
        let body_parts: &[u32] = if empty_root { &[0] } else { &msg.text_body };
        for &id in body_parts {
            let Some(part) = msg.parts.get(id as usize) else {
                continue;
            };
            let orphans = orphan_lines(msg, part);
            match &part.body {
                PartType::Text(text) => {
                    body.newline();
                    body.push(&orphans);
                    body.newline();
                    body.push(text);
                }
                PartType::Html(text) => {
                    body.newline();
                    html::to_text(&orphans, body);
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
            inline: is_inline(part),
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

/// Whether the part is shown within the body rather than attached: what
/// the parser calls inline, or a part referenced by Content-ID that is not
/// marked as an attachment (logos and signatures in `multipart/related`).
fn is_inline(part: &MessagePart<'_>) -> bool {
    matches!(part.body, PartType::InlineBinary(_))
        || (part.content_id().is_some()
            && !part
                .content_disposition()
                .is_some_and(|d| d.is_attachment()))
}

/// Lines in the part's header block that are not header fields: body
/// text of a message that lacks the blank line after its header (or has
/// no header at all), which the parser would otherwise drop. A leading
/// mbox `From ` line is not text.
fn orphan_lines(msg: &Message<'_>, part: &MessagePart<'_>) -> String {
    let block = msg
        .raw_message
        .get(part.offset_header as usize..part.offset_body as usize)
        .unwrap_or_default();
    let mut text = Vec::new();
    let mut in_orphan = false;
    for (i, line) in block.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if continuation {
            if in_orphan {
                text.push(b' ');
                text.extend_from_slice(line.trim_ascii());
            }
            continue;
        }
        let mbox_from = i == 0 && line.starts_with(b"From ");
        in_orphan = !(line.is_empty() || is_field(line) || mbox_from);
        if in_orphan {
            if !text.is_empty() {
                text.push(b'\n');
            }
            text.extend_from_slice(line);
        }
    }
    attachment::decode_text(&text).into_owned()
}

/// Whether `line` starts a header field: a name of printable ASCII other
/// than space and colon, then a colon.
fn is_field(line: &[u8]) -> bool {
    match line.iter().position(|&b| b == b':') {
        Some(0) | None => false,
        Some(colon) => line[..colon].iter().all(|&b| b.is_ascii_graphic()),
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
