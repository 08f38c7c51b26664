//! The header fields search needs, read from a parsed message: addresses
//! (lowercased, with display names), subject, date in UTC, and the ids that
//! link a thread. Used for the message itself and for every nested
//! `message/rfc822` part.

use chrono::{DateTime, Utc};
use mail_parser::{Address, HeaderName, HeaderValue, Message};
use serde::Serialize;

use super::textbuf::TextBuf;

/// One mailbox of an address header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Mailbox {
    /// The address, lowercased; `None` when the header named someone
    /// without an address (`To: undisclosed-recipients:;` members, a bare
    /// name).
    pub address: Option<String>,
    /// The display name, RFC 2047 decoded, so "Müller" finds
    /// `=?iso-8859-1?q?M=FCller?= <m@x>`.
    pub name: Option<String>,
}

/// The header fields of one message that search indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HeaderFields {
    /// Every `From` mailbox (all `From` fields, in order).
    pub from: Vec<Mailbox>,
    /// Every `To` mailbox; groups are flattened to their members.
    pub to: Vec<Mailbox>,
    /// Every `Cc` mailbox.
    pub cc: Vec<Mailbox>,
    /// Every `Bcc` mailbox (present in sent copies and journal reports).
    pub bcc: Vec<Mailbox>,
    /// Every `Reply-To` mailbox.
    pub reply_to: Vec<Mailbox>,
    /// Every `Sender` mailbox (who sent on behalf of `From`).
    pub sender: Vec<Mailbox>,
    /// `Subject`, RFC 2047 decoded, in whatever charset it came in.
    pub subject: Option<String>,
    /// `Date`, converted to UTC; `None` when missing or not a valid date.
    pub date: Option<DateTime<Utc>>,
    /// `Message-ID` without angle brackets.
    pub message_id: Option<String>,
    /// `In-Reply-To` ids without angle brackets: a reply's parent.
    pub in_reply_to: Vec<String>,
    /// `References` ids without angle brackets, oldest first: the thread.
    pub references: Vec<String>,
}

impl HeaderFields {
    /// Reads the fields of `msg`'s top-level header.
    pub(crate) fn read(msg: &Message<'_>) -> HeaderFields {
        if msg.parts.is_empty() {
            return HeaderFields::default();
        }
        let mailboxes = |name: HeaderName<'static>| -> Vec<Mailbox> {
            let mut out = Vec::new();
            for value in msg.header_values(name) {
                if let HeaderValue::Address(a) = value {
                    push_mailboxes(a, &mut out);
                }
            }
            out
        };
        HeaderFields {
            from: mailboxes(HeaderName::From),
            to: mailboxes(HeaderName::To),
            cc: mailboxes(HeaderName::Cc),
            bcc: mailboxes(HeaderName::Bcc),
            reply_to: mailboxes(HeaderName::ReplyTo),
            sender: mailboxes(HeaderName::Sender),
            subject: msg.subject().map(clean),
            date: msg
                .date()
                .filter(|d| d.is_valid())
                .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0)),
            message_id: msg.message_id().map(str::to_string),
            in_reply_to: ids(msg.in_reply_to()),
            references: ids(msg.references()),
        }
    }

    /// Writes the fields as header lines ("From: Name <a@b>"), so that the
    /// text of a nested message carries its addresses and subject.
    pub(crate) fn render(&self, out: &mut TextBuf) {
        let lines: [(&str, &[Mailbox]); 5] = [
            ("From", &self.from),
            ("Sender", &self.sender),
            ("To", &self.to),
            ("Cc", &self.cc),
            ("Bcc", &self.bcc),
        ];
        for (label, list) in lines {
            if list.is_empty() {
                continue;
            }
            out.push(label);
            out.push(":");
            for (i, m) in list.iter().enumerate() {
                out.push(if i == 0 { " " } else { ", " });
                if let Some(name) = &m.name {
                    out.push(name);
                    out.push(" ");
                }
                if let Some(addr) = &m.address {
                    out.push("<");
                    out.push(addr);
                    out.push(">");
                }
            }
            out.newline();
        }
        if let Some(date) = self.date {
            out.push("Date: ");
            out.push(&date.to_rfc3339());
            out.newline();
        }
        if let Some(subject) = &self.subject {
            out.push("Subject: ");
            out.push(subject);
            out.newline();
        }
    }
}

/// Appends the mailboxes of `a`, groups flattened.
fn push_mailboxes(a: &Address<'_>, out: &mut Vec<Mailbox>) {
    for addr in a.iter() {
        let address = addr
            .address()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase);
        let name = addr
            .name()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(clean);
        if address.is_some() || name.is_some() {
            out.push(Mailbox { address, name });
        }
    }
}

/// A header text without control characters (a NUL or an escape in a
/// subject is junk to search, and breaks single-line displays).
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The message ids of an `In-Reply-To` or `References` value.
fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![id.to_string()],
        HeaderValue::TextList(list) => list.iter().map(|id| id.to_string()).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &[u8]) -> HeaderFields {
        let msg = mail_parser::MessageParser::default().parse(raw);
        HeaderFields::read(&msg.unwrap_or_default())
    }

    #[test]
    fn reads_every_address_field_lowercased_with_names() {
        let h = read(
            b"From: =?iso-8859-1?q?J=FCrgen_M=FCller?= <J.Mueller@Example.COM>\r\n\
              Sender: Assistant <assist@example.com>\r\n\
              To: a@x.org, Team: b@y.org, C <c@z.org>;\r\nTo: second@x.org\r\n\
              Cc: undisclosed-recipients:;\r\nBcc: hidden@x.org\r\n\
              Reply-To: replies@example.com\r\nSubject: hi\r\n\r\nbody",
        );
        assert_eq!(
            h.from,
            vec![Mailbox {
                address: Some("j.mueller@example.com".into()),
                name: Some("Jürgen Müller".into())
            }]
        );
        let to: Vec<_> = h.to.iter().filter_map(|m| m.address.as_deref()).collect();
        assert_eq!(to, ["a@x.org", "b@y.org", "c@z.org", "second@x.org"]);
        assert!(h.cc.is_empty());
        assert_eq!(h.bcc[0].address.as_deref(), Some("hidden@x.org"));
        assert_eq!(
            h.reply_to[0].address.as_deref(),
            Some("replies@example.com")
        );
        assert_eq!(h.sender[0].name.as_deref(), Some("Assistant"));
    }

    #[test]
    fn reads_thread_ids_and_date_in_utc() {
        let h = read(
            b"Message-ID: <m3@x>\r\nIn-Reply-To: <m2@x>\r\n\
              References: <m1@x> <m2@x>\r\nDate: Mon, 1 Jan 2024 01:30:00 +0200\r\n\r\n",
        );
        assert_eq!(h.message_id.as_deref(), Some("m3@x"));
        assert_eq!(h.in_reply_to, ["m2@x"]);
        assert_eq!(h.references, ["m1@x", "m2@x"]);
        assert_eq!(
            h.date.map(|d| d.to_rfc3339()).as_deref(),
            Some("2023-12-31T23:30:00+00:00")
        );
        assert_eq!(read(b"Date: yesterday\r\n\r\n").date, None);
    }
}
