//! A stand-in for `search::extract` (text extraction, built on another
//! branch) with the same shape: what the indexer needs from a message's
//! bytes. It decodes headers, text and HTML bodies and names attachments
//! with mail-parser, but extracts no text from PDF or Office files. It goes
//! away when `search::extract` is merged; only [`super::document`] uses it.

use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders};

/// Caps on the work done for one message.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most bytes of body text kept.
    pub max_text_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_text_bytes: 1024 * 1024,
        }
    }
}

/// One mailbox of an address header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name, decoded.
    pub name: Option<String>,
    /// The address.
    pub address: Option<String>,
}

/// One attachment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    /// Its file name, decoded.
    pub name: Option<String>,
    /// Its MIME type, lowercase.
    pub mime_type: String,
    /// Its decoded size in bytes.
    pub size: u64,
    /// Its text, where one could be had.
    pub text: String,
}

/// What the indexer needs from a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// Header From.
    pub from: Vec<Mailbox>,
    /// Header Sender.
    pub sender: Vec<Mailbox>,
    /// Header Reply-To.
    pub reply_to: Vec<Mailbox>,
    /// Header To.
    pub to: Vec<Mailbox>,
    /// Header Cc.
    pub cc: Vec<Mailbox>,
    /// Header Bcc.
    pub bcc: Vec<Mailbox>,
    /// Subject, decoded.
    pub subject: Option<String>,
    /// Date header as Unix seconds.
    pub date: Option<i64>,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// In-Reply-To ids.
    pub in_reply_to: Vec<String>,
    /// References ids.
    pub references: Vec<String>,
    /// Body text (text parts, HTML converted to text).
    pub body: String,
    /// Attachments.
    pub attachments: Vec<Attachment>,
    /// True when the message has at least one attachment.
    pub has_attachment: bool,
}

/// Extracts what the indexer needs; never fails (junk gives little).
pub fn extract(raw: &[u8], limits: Limits) -> Extracted {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Extracted::default();
    };
    let mut out = Extracted {
        from: mailboxes(msg.from()),
        sender: mailboxes(msg.sender()),
        reply_to: mailboxes(msg.reply_to()),
        to: mailboxes(msg.to()),
        cc: mailboxes(msg.cc()),
        bcc: mailboxes(msg.bcc()),
        subject: msg.subject().map(str::to_string),
        date: msg.date().map(|d| d.to_timestamp()),
        message_id: msg.message_id().map(str::to_string),
        in_reply_to: ids(msg.in_reply_to()),
        references: ids(msg.references()),
        ..Default::default()
    };
    out.body = body_text(&msg, limits);
    for part in msg.attachments() {
        let mime_type = part
            .content_type()
            .map(|c| match c.subtype() {
                Some(s) => format!("{}/{}", c.ctype(), s),
                None => c.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into())
            .to_ascii_lowercase();
        let text = match part.message() {
            Some(inner) => body_text(inner, limits),
            None if mime_type.starts_with("text/") => part
                .text_contents()
                .map(|t| cap(t, limits.max_text_bytes).to_string())
                .unwrap_or_default(),
            None => String::new(),
        };
        out.attachments.push(Attachment {
            name: part.attachment_name().map(str::to_string),
            mime_type,
            size: part.len() as u64,
            text,
        });
    }
    out.has_attachment = !out.attachments.is_empty();
    out
}

fn body_text(msg: &Message<'_>, limits: Limits) -> String {
    let mut body = String::new();
    for i in 0..msg.text_body_count() {
        if let Some(t) = msg.body_text(i) {
            if !body.is_empty() {
                body.push('\n');
            }
            body.push_str(&t);
        }
        if body.len() >= limits.max_text_bytes {
            break;
        }
    }
    cap(&body, limits.max_text_bytes).to_string()
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char.
fn cap(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn mailboxes(a: Option<&Address<'_>>) -> Vec<Mailbox> {
    a.map(|a| {
        a.iter()
            .map(|x| Mailbox {
                name: x.name().map(str::to_string),
                address: x.address().map(str::to_string),
            })
            .collect()
    })
    .unwrap_or_default()
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}
