//! `search::extract` on generated and real messages: every charset and
//! transfer encoding, HTML, nested messages, office documents and PDFs,
//! hostile input (bombs, broken MIME, deep nesting) and the CPython email
//! corpus compared with Python's own parser.

mod charsets;
mod corpus;
mod documents;
mod hostile;

use mailseal::search::extract::{Extracted, Limits, ProblemKind, extract};

/// Extracts `raw` under the default limits.
fn ex(raw: &[u8]) -> Extracted {
    extract(raw, &Limits::default())
}

/// The problem kinds of `x`, for assertions.
fn kinds(x: &Extracted) -> Vec<&ProblemKind> {
    x.problems.iter().map(|p| &p.kind).collect()
}

/// The addresses of a mailbox list.
fn addrs(list: &[mailseal::search::extract::Mailbox]) -> Vec<&str> {
    list.iter().filter_map(|m| m.address.as_deref()).collect()
}

/// A header block with the common fields and `extra` lines.
fn head(subject: &str, extra: &str) -> String {
    format!(
        "From: Sender <sender@example.com>\r\nTo: rcpt@example.org\r\n\
         Subject: {subject}\r\nMessage-ID: <t@example.com>\r\n\
         Date: Tue, 5 Mar 2024 10:00:00 +0100\r\n{extra}"
    )
}
