//! One archived message in, the searchable document out: no I/O, no
//! failure. [`extract`] reads the header fields search needs, the body text
//! (text/plain and HTML, every charset and transfer encoding decoded), and
//! every attachment's name, type, size and text (PDF, DOCX/XLSX/PPTX,
//! ODT/ODS/ODP, plain text, CSV, HTML). Whatever cannot be read becomes a
//! [`Problem`] next to whatever could: a message of binary junk still
//! yields an [`Extracted`] (the indexer adds the record's envelope and
//! receive time, which never depend on the content).
//!
//! ```text
//!  raw bytes ─> guard: NUL bytes, nested-message markers
//!            ─> mail-parser (MIME, RFC 2047/2231, charsets, QP/base64)
//!            ─> headers::HeaderFields           (top-level header)
//!            ─> walk: text_body parts ─> body  (html: html5gum tokenizer)
//!                     other parts ────> attachments ─> attachment::text
//!                                          pdf (worker thread, deadline)
//!                                          zipdoc (OOXML, ODF) ─> xmltext
//!                     message/rfc822 ─> attachment holding the nested message
//! ```
//!
//! **Nested messages.** A `message/rfc822` part (a forward as attachment,
//! a bounce's original) is an [`Attachment`] of type `message/rfc822`
//! whose `message` holds the nested header fields and whose `text` is the
//! nested message as a reader sees it: its From/To/Cc/Date/Subject lines,
//! then its body. Its own attachments follow it in
//! [`Extracted::attachments`] with `parent` set to its index. So free-text
//! and `attachment:` searches find words of a forwarded message, while the
//! outer message's `from:`/`to:` fields stay those of the outer message
//! (the indexer may add the nested addresses to a field of their own).
//!
//! Every cap (text sizes, parts, nesting, zip bombs, PDF time) is in
//! [`Limits`]; a cap that is hit is a [`Problem`].

mod attachment;
mod direction;
mod headers;
mod html;
mod limits;
mod pdf;
mod problem;
mod textbuf;
mod walk;
mod xmltext;
mod zipdoc;

use std::sync::LazyLock;

use mail_parser::MessageParser;
use serde::Serialize;

pub use direction::{Direction, is_local, local_direction};
pub use headers::{HeaderFields, Mailbox};
pub use limits::Limits;
pub use pdf::stuck_workers as stuck_pdf_workers;
pub use problem::{Problem, ProblemKind};

/// The searchable content of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Extracted {
    /// The message's own header fields (not those of nested messages).
    pub headers: HeaderFields,
    /// The body text: the message's text/plain parts, and its HTML parts
    /// converted to text where no plain alternative exists, separated by
    /// newlines. Control characters are replaced by spaces.
    pub body: String,
    /// Every part that is not body text, in message order, nested
    /// messages' parts right after the nested message (see the module
    /// doc).
    pub attachments: Vec<Attachment>,
    /// Whether the message has an attachment a reader would call one: any
    /// attachment that is not an inline image shown in the body.
    pub has_attachment: bool,
    /// What could not be read or was cut short; empty for a well-formed
    /// message within the limits.
    pub problems: Vec<Problem>,
}

/// One attachment (or non-body part) of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Attachment {
    /// The file name (Content-Disposition `filename`, else Content-Type
    /// `name`), RFC 2231 and RFC 2047 decoded.
    pub name: Option<String>,
    /// The declared type, `type/subtype` lowercased, without parameters.
    pub mime_type: String,
    /// Size in bytes after transfer decoding (base64, quoted-printable);
    /// for a text part, of its text in UTF-8.
    pub size: u64,
    /// An inline image or other media shown within the body
    /// (`multipart/related`); it does not make `has_attachment` true.
    pub inline: bool,
    /// The extracted text (empty for formats without text, or when a
    /// [`Problem`] says why not).
    pub text: String,
    /// The index of the `message/rfc822` attachment this part belongs to;
    /// `None` for parts of the message itself.
    pub parent: Option<usize>,
    /// For a `message/rfc822` attachment: the nested message's header
    /// fields.
    pub message: Option<Box<HeaderFields>>,
}

/// The MIME parser, built once (it holds a table of header parsers).
static PARSER: LazyLock<MessageParser> = LazyLock::new(MessageParser::default);

/// Turns one raw message into its searchable document, within `limits`.
/// Never fails and never panics on any input; see the module doc.
pub fn extract(raw: &[u8], limits: &Limits) -> Extracted {
    let mut walker = walk::Walker::new(limits);
    if memchr::memchr(0, raw).is_some() {
        walker.problem(None, ProblemKind::NulBytes);
    }
    let markers = nested_markers(raw, limits.max_nested_markers);
    if markers > limits.max_nested_markers {
        walker.problem(
            None,
            ProblemKind::TooManyNestedMessages {
                limit: limits.max_nested_markers,
            },
        );
        let headers = pdf::contained(|| PARSER.parse_headers(raw).map(|m| HeaderFields::read(&m)))
            .flatten()
            .unwrap_or_default();
        return finish(headers, String::new(), walker);
    }
    let mut body = walker.reserve(limits.max_body_text);
    let headers = match pdf::contained(|| PARSER.parse(raw)).flatten() {
        Some(msg) if !msg.parts.is_empty() => {
            if msg.headers().is_empty() {
                walker.problem(None, ProblemKind::NoHeaders);
            }
            walker.message(&msg, 0, None, &mut body);
            HeaderFields::read(&msg)
        }
        _ => {
            walker.problem(None, ProblemKind::NoHeaders);
            if attachment::looks_textual(&raw[..raw.len().min(4096)]) {
                body.push(&attachment::decode_text(raw));
            }
            HeaderFields::default()
        }
    };
    let body = walker.release(body, None);
    finish(headers, body, walker)
}

fn finish(headers: HeaderFields, body: String, walker: walk::Walker<'_>) -> Extracted {
    let has_attachment = walker.attachments.iter().any(|a| !a.inline);
    Extracted {
        headers,
        body,
        attachments: walker.attachments,
        has_attachment,
        problems: walker.problems,
    }
}

/// Counts `message/` and `/digest` (any case) in `raw`, stopping past
/// `limit`: each can open a nested message, which the MIME parser nests
/// recursively (see [`Limits::max_nested_markers`]). Both contain a `/`,
/// which is rare in text, so only the slashes are looked at.
fn nested_markers(raw: &[u8], limit: usize) -> usize {
    let mut count = 0;
    for i in memchr::memchr_iter(b'/', raw) {
        let message = i >= 7 && raw[i - 7..i].eq_ignore_ascii_case(b"message");
        let digest = raw
            .get(i + 1..i + 7)
            .is_some_and(|d| d.eq_ignore_ascii_case(b"digest"));
        if message || digest {
            count += 1;
            if count > limit {
                break;
            }
        }
    }
    count
}
