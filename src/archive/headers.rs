//! Header fields derived from a message for the index and listings.
//!
//! Derived data is never part of the chain: it is recomputed from the
//! content whenever the index is rebuilt.

use serde::{Deserialize, Serialize};

/// How many leading bytes of a message are parsed for its headers.
pub const HEADER_SCAN_LIMIT: usize = 64 * 1024;

/// The parsed header fields the index keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headers {
    /// First `From` address.
    pub from: Option<String>,
    /// `To` and `Cc` addresses.
    pub to: Vec<String>,
    /// `Subject`, decoded.
    pub subject: Option<String>,
    /// `Date`, RFC 3339.
    pub date: Option<String>,
    /// `Message-ID` without angle brackets.
    pub message_id: Option<String>,
}

/// Parses the header block at the start of `bytes`.
pub fn parse(bytes: &[u8]) -> Headers {
    let head = &bytes[..bytes.len().min(HEADER_SCAN_LIMIT)];
    let Some(msg) = mail_parser::MessageParser::default().parse_headers(head) else {
        return Headers::default();
    };
    let addrs = |a: Option<&mail_parser::Address<'_>>| -> Vec<String> {
        a.map(|a| {
            a.iter()
                .filter_map(|x| x.address().map(str::to_ascii_lowercase))
                .collect()
        })
        .unwrap_or_default()
    };
    let mut to = addrs(msg.to());
    to.extend(addrs(msg.cc()));
    Headers {
        from: addrs(msg.from()).into_iter().next(),
        to,
        subject: msg.subject().map(str::to_string),
        date: msg.date().map(|d| d.to_rfc3339()),
        message_id: msg.message_id().map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_fields() {
        let h = parse(
            b"From: A <A@Example.com>\r\nTo: b@x.org, c@y.org\r\nCc: d@z.org\r\n\
              Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <id@x>\r\n\
              Date: Sun, 29 Nov 2026 06:00:00 +0000\r\n\r\nbody",
        );
        assert_eq!(h.from.as_deref(), Some("a@example.com"));
        assert_eq!(h.to, vec!["b@x.org", "c@y.org", "d@z.org"]);
        assert_eq!(h.subject.as_deref(), Some("Grüße"));
        assert_eq!(h.message_id.as_deref(), Some("id@x"));
        assert!(h.date.unwrap().starts_with("2026-11-29T06:00:00"));
        assert_eq!(parse(b"\x00\x01junk"), Headers::default());
    }
}
