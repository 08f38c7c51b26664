//! `search::extract`: one archived message to its searchable document, on
//! any bytes. Setting byte 0: even, the rest is a raw message; odd, the
//! rest is an attachment's content, wrapped (base64) into a message as a
//! PDF, an office document (zip), HTML, text or a nested message, by byte
//! 1, so the fuzzer reaches the document parsers without learning MIME.
//! Small limits make every cap reachable.
//!
//! Checked besides "no panic, no hang, no stack overflow":
//! - no text exceeds its cap: body, each attachment, the message total;
//! - no more attachments than `max_parts`;
//! - every `parent` points to an earlier `message/rfc822` attachment, and
//!   every problem to an existing attachment;
//! - `has_attachment` says whether a non-inline attachment exists;
//! - text holds no control characters but tab, newline and carriage
//!   return; addresses are lowercase;
//! - `local_direction` classifies the extracted addresses.
#![no_main]

use std::time::Duration;

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use mailseal::search::extract::{Limits, extract, local_direction};
use mailseal_fuzz::settings;

const TYPES: [&str; 6] = [
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "text/html",
    "text/plain; charset=shift_jis",
    "message/rfc822",
    "application/octet-stream",
];

fuzz_target!(|data: &[u8]| {
    let ([mode, kind], rest) = settings::<2>(data);
    let raw = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        wrap(TYPES[usize::from(kind) % TYPES.len()], rest)
    };
    let limits = Limits {
        max_parts: 50,
        max_depth: 4,
        max_nested_markers: 200,
        max_body_text: 64 << 10,
        max_attachment_text: 32 << 10,
        max_total_text: 128 << 10,
        max_attachment_input: 4 << 20,
        max_zip_entries: 100,
        max_unpacked: 4 << 20,
        max_xml_depth: 64,
        pdf_timeout: Duration::from_secs(2),
        max_stuck_pdf_workers: 2,
    };
    let x = extract(&raw, &limits);

    assert!(x.body.len() <= limits.max_body_text);
    assert!(x.attachments.len() <= limits.max_parts);
    let total: usize = x.body.len() + x.attachments.iter().map(|a| a.text.len()).sum::<usize>();
    assert!(total <= limits.max_total_text, "total text {total}");
    for (i, a) in x.attachments.iter().enumerate() {
        assert!(a.text.len() <= limits.max_attachment_text);
        if let Some(p) = a.parent {
            assert!(p < i, "parent after child");
            assert_eq!(x.attachments[p].mime_type, "message/rfc822");
            assert!(x.attachments[p].message.is_some());
        }
        assert!(!has_controls(&a.text));
    }
    assert!(!has_controls(&x.body));
    for p in &x.problems {
        if let Some(i) = p.attachment {
            assert!(i < x.attachments.len(), "problem for a missing attachment");
        }
        assert!(!p.to_string().is_empty());
    }
    assert_eq!(x.has_attachment, x.attachments.iter().any(|a| !a.inline));
    let h = &x.headers;
    let all = h.from.iter().chain(&h.to).chain(&h.cc).chain(&h.bcc).chain(&h.reply_to).chain(&h.sender);
    let addresses: Vec<&str> = all.filter_map(|m| m.address.as_deref()).collect();
    for a in &addresses {
        assert_eq!(*a, a.to_lowercase());
    }
    let sender = addresses.first().copied();
    let _ = local_direction(&["example.com"], sender, addresses.iter().skip(1));
});

/// A message carrying `content` as its one attachment of `mime_type`.
fn wrap(mime_type: &str, content: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(content);
    let mut m = format!(
        "From: Fuzz <fuzz@example.com>\r\nTo: t@example.org\r\nSubject: fuzz\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nbody\r\n\
         --b\r\nContent-Type: {mime_type}\r\nContent-Disposition: attachment; filename=\"f\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n"
    )
    .into_bytes();
    for line in b64.as_bytes().chunks(76) {
        m.extend_from_slice(line);
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(b"--b--\r\n");
    m
}

/// Control characters the extractor promises to have removed.
fn has_controls(s: &str) -> bool {
    s.bytes().any(|b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7f)
}
