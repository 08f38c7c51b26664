//! Hostile and broken input: every cap in `Limits` is hit and reported as
//! a problem, nothing panics, nothing hangs, nothing overflows a stack.

use std::time::Duration;

use mailseal::search::extract::{Limits, ProblemKind, extract, stuck_pdf_workers};

use super::{ex, head, kinds};
use crate::support::docs::{self, Part, multipart};

/// A message with one attachment.
fn with_attachment(mime_type: &str, name: &str, data: &[u8]) -> Vec<u8> {
    multipart(
        &head("att", ""),
        "mixed",
        &[Part::attachment(mime_type, name, data)],
    )
}

/// The problem kinds of the first attachment.
fn attachment_kinds(x: &mailseal::search::extract::Extracted) -> Vec<&ProblemKind> {
    x.problems
        .iter()
        .filter(|p| p.attachment == Some(0))
        .map(|p| &p.kind)
        .collect()
}

#[test]
fn broken_mime_keeps_what_can_be_read() {
    // No closing boundary, a part with invalid base64, a multipart without
    // a boundary parameter inside.
    let raw = format!(
        "{}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nFirst part survives.\r\n\
         --b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64 at all!!!\r\n\
         --b\r\nContent-Type: multipart/alternative\r\n\r\nNo boundary here.\r\n",
        head("broken", "")
    );
    let x = ex(raw.as_bytes());
    assert!(x.body.contains("First part survives."), "{:?}", x.body);
    assert!(
        kinds(&x).contains(&&ProblemKind::BrokenPart),
        "{:?}",
        x.problems
    );
    assert_eq!(x.headers.subject.as_deref(), Some("broken"));
}

#[test]
fn nul_bytes_are_reported_and_kept_out_of_the_text() {
    let raw = format!("{}\r\nbefore\0after\r\n", head("nul\0subject", ""));
    let x = ex(raw.as_bytes());
    assert!(kinds(&x).contains(&&ProblemKind::NulBytes));
    assert_eq!(x.body, "before after");
    assert_eq!(x.headers.subject.as_deref(), Some("nul subject"));
}

#[test]
fn messages_without_headers_or_made_of_junk_still_yield_a_document() {
    let x = ex(b"just a line of text\r\nand another one\r\n");
    assert!(
        kinds(&x).contains(&&ProblemKind::NoHeaders),
        "{:?}",
        x.problems
    );
    assert!(x.body.contains("and another one"), "{:?}", x.body);
    assert_eq!(x.headers, Default::default());

    for seed in 0..20 {
        let junk = docs::noise(10_000 + seed as usize * 997, seed);
        let x = ex(&junk);
        assert!(x.body.len() <= Limits::default().max_body_text);
    }
    let x = ex(b"");
    assert!(x.body.is_empty() && x.attachments.is_empty());
}

#[test]
fn deep_multipart_trees_and_nested_messages_are_bounded() {
    // 5,000 nested multiparts: the parser is iterative, the text is found.
    let mut raw = head("deep", "MIME-Version: 1.0\r\n").into_bytes();
    for i in 0..5_000 {
        raw.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n")
                .as_bytes(),
        );
    }
    raw.extend_from_slice(b"Content-Type: text/plain\r\n\r\ndeepest text\r\n");
    for i in (0..5_000).rev() {
        raw.extend_from_slice(format!("--b{i}--\r\n").as_bytes());
    }
    assert!(ex(&raw).body.contains("deepest text"));

    // Nested messages deeper than max_depth: the first levels are read.
    let nested = |levels: usize| {
        let mut m = Vec::new();
        for level in 0..levels {
            m.extend_from_slice(
                format!("Subject: level {level}\r\nContent-Type: message/rfc822\r\n\r\n")
                    .as_bytes(),
            );
        }
        m.extend_from_slice(b"Subject: innermost\r\n\r\nhello\r\n");
        m
    };
    let limits = Limits::default();
    let x = ex(&nested(limits.max_depth + 5));
    assert!(
        kinds(&x).contains(&&ProblemKind::TooDeep {
            limit: limits.max_depth
        }),
        "{:?}",
        x.problems
    );
    assert_eq!(x.attachments.len(), limits.max_depth + 1);
    assert!(x.attachments[0].text.contains("Subject: level 1"));

    // Far more nesting than any stack holds: only the headers are parsed.
    let x = ex(&nested(30_000));
    assert_eq!(
        kinds(&x),
        [&ProblemKind::TooManyNestedMessages {
            limit: limits.max_nested_markers
        }]
    );
    assert_eq!(x.headers.subject.as_deref(), Some("level 0"));
}

#[test]
fn text_part_and_attachment_caps_are_reported() {
    let limits = Limits {
        max_body_text: 1_000,
        max_attachment_text: 500,
        max_total_text: 3_000,
        max_attachment_input: 100_000,
        max_parts: 20,
        ..Limits::default()
    };
    let long = "Wort ".repeat(1_000);
    let mut parts = vec![Part::text("plain", &long)];
    for i in 0..30 {
        parts.push(Part::attachment(
            "text/plain",
            &format!("t{i}.txt"),
            long.as_bytes(),
        ));
    }
    parts.push(Part::attachment(
        "application/pdf",
        "big.pdf",
        &docs::pdf(&["x"], 200_000),
    ));
    let x = extract(&multipart(&head("caps", ""), "mixed", &parts), &limits);
    assert!(x.body.len() <= 1_000 && x.body.starts_with("Wort Wort"));
    assert!(kinds(&x).contains(&&ProblemKind::TextTruncated { limit: 1_000 }));
    assert_eq!(x.attachments.len(), 20);
    assert!(kinds(&x).contains(&&ProblemKind::TooManyParts { limit: 20 }));
    let total: usize = x.body.len() + x.attachments.iter().map(|a| a.text.len()).sum::<usize>();
    assert!(total <= 3_000, "{total}");
    assert!(x.attachments.iter().all(|a| a.text.len() <= 500));
    // The budget runs out: later attachments get no text, and say so.
    assert!(x.attachments[19].text.is_empty());

    let big = docs::pdf(&["too big to read"], 200_000);
    let x = extract(
        &with_attachment("application/pdf", "big.pdf", &big),
        &limits,
    );
    assert_eq!(
        attachment_kinds(&x),
        [&ProblemKind::TooLarge {
            size: big.len() as u64,
            limit: 100_000
        }]
    );
    assert_eq!(x.attachments[0].size, big.len() as u64);
}

#[test]
fn zip_bombs_and_zip_tricks_stop_at_their_caps() {
    let limits = Limits {
        max_unpacked: 1 << 20,
        max_zip_entries: 10,
        max_xml_depth: 64,
        ..Limits::default()
    };
    // 8 MiB of document text packed into a few kB.
    let text = format!("<w:p><w:r><w:t>{}</w:t></w:r></w:p>", "A".repeat(8 << 20));
    let bomb = docs::zip(&[(
        "word/document.xml",
        format!("<w:document><w:body>{text}</w:body></w:document>").as_bytes(),
    )]);
    assert!(bomb.len() < 100_000);
    let x = extract(
        &with_attachment("application/octet-stream", "bomb.docx", &bomb),
        &limits,
    );
    assert!(
        attachment_kinds(&x).contains(&&ProblemKind::UnpackLimit { limit: 1 << 20 }),
        "{:?}",
        x.problems
    );
    assert!(x.attachments[0].text.len() <= limits.max_attachment_text);

    let names: Vec<String> = (0..11).map(|i| format!("f{i}.txt")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let x = extract(
        &with_attachment("application/zip", "many.zip", &docs::zip(&entries)),
        &limits,
    );
    assert_eq!(
        attachment_kinds(&x),
        [&ProblemKind::TooManyEntries { limit: 10 }]
    );

    // A plain zip within the caps lists its file names.
    let x = extract(
        &with_attachment("application/zip", "few.zip", &docs::zip(&entries[..3])),
        &limits,
    );
    assert_eq!(x.attachments[0].text, "f0.txt\nf1.txt\nf2.txt");

    let deep = format!(
        "<w:document>{}<w:t>lost</w:t></w:document>",
        "<w:x>".repeat(100)
    );
    let x = extract(
        &with_attachment(
            "application/octet-stream",
            "deep.docx",
            &docs::zip(&[("word/document.xml", deep.as_bytes())]),
        ),
        &limits,
    );
    assert_eq!(
        attachment_kinds(&x),
        [&ProblemKind::XmlTooDeep { limit: 64 }]
    );

    let x = ex(&with_attachment(
        "application/zip",
        "junk.zip",
        b"PK\x03\x04 this is not a zip",
    ));
    assert!(
        matches!(attachment_kinds(&x)[..], [ProblemKind::Damaged { .. }]),
        "{:?}",
        x.problems
    );
}

/// A PDF of `objects` (object 1 the catalog, 2 the page tree) whose only
/// page (object 3) draws with `resources`.
fn pdf_with(resources: &str, content: &[u8], extra: &[Vec<u8>]) -> Vec<u8> {
    let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    stream.extend_from_slice(content);
    stream.extend_from_slice(b"\nendstream");
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Contents 4 0 R /Resources {resources} >>").into_bytes(),
        stream,
    ];
    objects.extend_from_slice(extra);
    docs::assemble_pdf(&objects)
}

#[test]
fn pdf_traps_are_refused_before_they_crash_or_hang() {
    // A form XObject that draws itself (pdf-extract would recurse until
    // the stack overflows and the process aborts).
    let form = b"<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] /Length 8 >>\nstream\n/Fm1 Do\nendstream".to_vec();
    let pdf = pdf_with("<< /XObject << /Fm1 5 0 R >> >>", b"/Fm1 Do", &[form]);
    let x = ex(&with_attachment("application/pdf", "loop.pdf", &pdf));
    assert_eq!(
        attachment_kinds(&x),
        [&ProblemKind::Damaged {
            format: "PDF",
            detail: "form XObject draws itself"
        }]
    );

    // A page tree that contains itself.
    let looped = docs::assemble_pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [2 0 R 2 0 R] /Count 2 >>".to_vec(),
    ]);
    let x = ex(&with_attachment("application/pdf", "tree.pdf", &looped));
    assert!(
        matches!(
            attachment_kinds(&x)[..],
            [ProblemKind::Damaged { format: "PDF", .. }]
        ),
        "{:?}",
        x.problems
    );

    // Junk after a PDF header, and a truncated PDF.
    for junk in [
        b"%PDF-1.7\n\x00\x01 garbage garbage".to_vec(),
        docs::pdf(&["cut"], 0)[..300].to_vec(),
    ] {
        let x = ex(&with_attachment("application/pdf", "junk.pdf", &junk));
        assert!(
            matches!(
                attachment_kinds(&x)[..],
                [ProblemKind::Damaged { .. } | ProblemKind::PdfFailed]
            ),
            "{:?}",
            x.problems
        );
    }
}

#[test]
fn pdf_decompression_bombs_stop_at_the_unpack_cap() {
    let limits = Limits {
        max_unpacked: 1 << 20,
        ..Limits::default()
    };
    let packed = docs::deflate(&b"BT /F1 1 Tf (a) Tj ET\n".repeat(200_000));
    let mut bomb_stream = format!(
        "<< /Length {} /Filter /FlateDecode >>\nstream\n",
        packed.len()
    )
    .into_bytes();
    bomb_stream.extend_from_slice(&packed);
    bomb_stream.extend_from_slice(b"\nendstream");
    let mut pdf = pdf_with("<< >>", b"", &[bomb_stream]);
    // Point the page at the bomb (object 5) instead of its empty content.
    let at = memchr::memmem::find(&pdf, b"/Contents 4 0 R").expect("contents ref");
    pdf[at..at + 15].copy_from_slice(b"/Contents 5 0 R");
    let x = extract(
        &with_attachment("application/pdf", "bomb.pdf", &pdf),
        &limits,
    );
    assert!(
        attachment_kinds(&x).contains(&&ProblemKind::UnpackLimit { limit: 1 << 20 }),
        "{:?}",
        x.problems
    );
}

#[test]
fn a_pdf_over_its_time_budget_is_abandoned_and_its_worker_accounted() {
    let pdf = docs::pdf(&["slow"; 50], 0);
    let limits = Limits {
        pdf_timeout: Duration::ZERO,
        max_stuck_pdf_workers: 1_000,
        ..Limits::default()
    };
    let x = extract(
        &with_attachment("application/pdf", "slow.pdf", &pdf),
        &limits,
    );
    assert_eq!(
        attachment_kinds(&x),
        [&ProblemKind::PdfTimeout { seconds: 0 }]
    );
    // The abandoned worker finishes on its own and is no longer counted.
    crate::support::wait_until("the abandoned PDF worker to finish", || {
        (stuck_pdf_workers() == 0).then_some(())
    });

    let busy = Limits {
        max_stuck_pdf_workers: 0,
        ..Limits::default()
    };
    let x = extract(&with_attachment("application/pdf", "any.pdf", &pdf), &busy);
    assert_eq!(attachment_kinds(&x), [&ProblemKind::PdfBusy { stuck: 0 }]);
}
