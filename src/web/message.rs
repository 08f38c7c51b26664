//! A stored message taken apart for the message page: the header fields
//! people read, the text body, the HTML body (sanitised later, see
//! [`super::sanitize`]) and the attachments.
//!
//! Parsing does no I/O: it works on bytes the handler read from the archive.
//! The archived bytes themselves are never changed; this is only a view.

use mail_parser::{Address, MessageParser, MimeHeaders};

/// Messages larger than this are not parsed for display; the page offers
/// the `.eml` download instead (the bytes stay exact either way).
pub const VIEW_LIMIT: u64 = 32 * 1024 * 1024;

/// One attachment as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Position among the message's attachments, the download link's id.
    pub index: usize,
    /// The file name the sender gave, or a made-up one.
    pub name: String,
    /// `type/subtype`.
    pub mime: String,
    /// Decoded size in bytes.
    pub size: usize,
}

/// What the message page shows.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Header fields in reading order: (name, value).
    pub headers: Vec<(&'static str, String)>,
    /// The first text/plain body (or the HTML body converted to text).
    pub text: Option<String>,
    /// The first text/html body, unsanitised.
    pub html: Option<String>,
    /// Every attachment.
    pub attachments: Vec<Attachment>,
    /// Addresses of the Bcc header, which the index does not keep.
    pub bcc: Vec<String>,
}

fn addresses(a: Option<&Address<'_>>) -> String {
    a.map(|a| {
        a.iter()
            .map(|x| match (x.name(), x.address()) {
                (Some(n), Some(ad)) => format!("{n} <{ad}>"),
                (None, Some(ad)) => ad.to_owned(),
                (Some(n), None) => n.to_owned(),
                (None, None) => String::new(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    })
    .unwrap_or_default()
}

/// Takes `bytes` apart for display.
pub fn view(bytes: &[u8]) -> View {
    let Some(msg) = MessageParser::default().parse(bytes) else {
        return View::default();
    };
    let mut headers = Vec::new();
    let mut push = |name: &'static str, value: String| {
        if !value.is_empty() {
            headers.push((name, value));
        }
    };
    push("From", addresses(msg.from()));
    push("Sender", addresses(msg.sender()));
    push("To", addresses(msg.to()));
    push("Cc", addresses(msg.cc()));
    push("Bcc", addresses(msg.bcc()));
    push("Reply-To", addresses(msg.reply_to()));
    push("Subject", msg.subject().unwrap_or_default().to_owned());
    push(
        "Date",
        msg.date().map(|d| d.to_rfc3339()).unwrap_or_default(),
    );
    push(
        "Message-ID",
        msg.message_id()
            .map(|m| format!("<{m}>"))
            .unwrap_or_default(),
    );
    let bcc = msg
        .bcc()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.address().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default();
    let attachments = msg
        .attachments()
        .enumerate()
        .map(|(index, part)| Attachment {
            index,
            name: part
                .attachment_name()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("attachment-{}", index + 1)),
            mime: part
                .content_type()
                .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("octet-stream")))
                .unwrap_or_else(|| "application/octet-stream".into()),
            size: part.contents().len(),
        })
        .collect();
    View {
        headers,
        text: msg.body_text(0).map(|t| t.into_owned()),
        html: (msg.html_body_count() > 0)
            .then(|| msg.html_part(0))
            .flatten()
            .filter(|p| p.is_text_html())
            .and_then(|p| p.text_contents())
            .map(str::to_owned),
        attachments,
        bcc,
    }
}

/// Attachment `index` of `bytes`: its listing and its decoded bytes.
pub fn attachment(bytes: &[u8], index: usize) -> Option<(Attachment, Vec<u8>)> {
    let msg = MessageParser::default().parse(bytes)?;
    let listed = view(bytes).attachments.into_iter().nth(index)?;
    let part = msg.attachments().nth(index)?;
    Some((listed, part.contents().to_vec()))
}

/// True when `bytes` has at least one attachment.
pub fn has_attachment(bytes: &[u8]) -> bool {
    MessageParser::default()
        .parse(bytes)
        .is_some_and(|m| m.attachment_count() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &[u8] = b"From: Anna <anna@example.com>\r\nTo: bob@example.org\r\n\
        Bcc: eve@example.org\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
        --b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hallo <b>Bob</b></p>\r\n\
        --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\n\
        Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n";

    #[test]
    fn headers_bodies_and_attachments() {
        let v = view(MAIL);
        assert!(
            v.headers
                .contains(&("From", "Anna <anna@example.com>".into()))
        );
        assert!(v.headers.contains(&("Subject", "Grüße".into())));
        assert_eq!(v.bcc, vec!["eve@example.org".to_string()]);
        assert_eq!(v.html.as_deref(), Some("<p>Hallo <b>Bob</b></p>"));
        assert!(v.text.unwrap_or_default().contains("Hallo"));
        assert_eq!(v.attachments.len(), 1);
        assert_eq!(v.attachments[0].name, "r.pdf");
        assert_eq!(v.attachments[0].mime, "application/pdf");
        let (a, bytes) = attachment(MAIL, 0).unwrap();
        assert_eq!(a.size, 5);
        assert_eq!(bytes, b"%PDF-");
        assert!(attachment(MAIL, 1).is_none());
        assert!(has_attachment(MAIL));
    }

    #[test]
    fn junk_gives_an_empty_view_not_a_panic() {
        let v = view(b"\x00\xff\xfe not a mail");
        assert!(v.attachments.is_empty());
        assert!(!has_attachment(b""));
    }
}
