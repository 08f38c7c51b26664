//! Attachment text: PDF (a reportlab file with an embedded subset font and
//! one from the minimal writer), DOCX, XLSX, PPTX, ODT, ODS, CSV, plain text
//! and HTML; detection by content when the declared type lies; nested
//! `message/rfc822` parts and inline images.

use super::{addrs, ex, head, kinds};
use crate::support::docs::{self, Part, multipart};

/// The committed reportlab PDF (see tests/fixtures/search/make_pdf.py).
fn reportlab_pdf() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/search/reportlab.pdf"
    ))
    .expect("fixture tests/fixtures/search/reportlab.pdf")
}

/// Collapses white space, since PDF layout decides where lines break.
fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn pdf_text_with_embedded_and_standard_fonts() {
    let m = multipart(
        &head("Rechnung", ""),
        "mixed",
        &[
            Part::text("plain", "Anbei die Rechnung."),
            Part::attachment("application/pdf", "rechnung.pdf", &reportlab_pdf()),
        ],
    );
    let x = ex(&m);
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    let a = &x.attachments[0];
    assert_eq!(
        (a.name.as_deref(), a.mime_type.as_str()),
        (Some("rechnung.pdf"), "application/pdf")
    );
    assert_eq!(a.size, reportlab_pdf().len() as u64);
    let text = words(&a.text);
    for expected in [
        "Rechnung Nr. 4711 für Müller GmbH",
        "Lieferschein vom 3. März 2024, Straße 12",
        "Total amount due: 1,234.56 EUR",
        "Invoice reference ACME-2024-0815",
    ] {
        assert!(text.contains(expected), "{expected:?} not in {text:?}");
    }
}

#[test]
fn pdf_sent_as_octet_stream_is_found_by_its_content() {
    let pdf = docs::pdf(
        &[
            "Angebot für Öl und Gas\nZweite Zeile (mit Klammern)",
            "Seite zwei",
        ],
        50_000,
    );
    let x = ex(&multipart(
        &head("Angebot", ""),
        "mixed",
        &[Part::attachment(
            "application/octet-stream",
            "scan0001",
            &pdf,
        )],
    ));
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    assert_eq!(
        words(&x.attachments[0].text),
        "Angebot für Öl und Gas Zweite Zeile (mit Klammern) Seite zwei"
    );
}

#[test]
fn office_documents_give_their_text() {
    let docx = docs::docx(&[
        "Vertrag über Lieferung",
        "Laufzeit: 24 Monate & Verlängerung",
    ]);
    let xlsx = docs::xlsx("Umsätze 2024", &["Kunde", "Müller AG"], &[4711.0, 12.5]);
    let pptx = docs::pptx(&["Quartalszahlen Q1", "Ausblick Q2"]);
    let odt = docs::odf(
        "application/vnd.oasis.opendocument.text",
        "<office:text><text:h>Protokoll</text:h><text:p>Anwesend:<text:s/>Frau<text:tab/>Schmidt</text:p></office:text>",
    );
    let ods = docs::odf(
        "application/vnd.oasis.opendocument.spreadsheet",
        "<office:spreadsheet><table:table><table:table-row><table:table-cell><text:p>Artikel</text:p></table:table-cell>\
         <table:table-cell><text:p>Preis</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet>",
    );
    let ooxml = "application/vnd.openxmlformats-officedocument";
    let m = multipart(
        &head("Unterlagen", ""),
        "mixed",
        &[
            Part::attachment(
                &format!("{ooxml}.wordprocessingml.document"),
                "vertrag.docx",
                &docx,
            ),
            Part::attachment(
                &format!("{ooxml}.spreadsheetml.sheet"),
                "umsatz.xlsx",
                &xlsx,
            ),
            Part::attachment(
                &format!("{ooxml}.presentationml.presentation"),
                "q1.pptx",
                &pptx,
            ),
            Part::attachment(
                "application/vnd.oasis.opendocument.text",
                "protokoll.odt",
                &odt,
            ),
            // A spreadsheet declared as a generic binary: found by content.
            Part::attachment("application/octet-stream", "preise.ods", &ods),
        ],
    );
    let x = ex(&m);
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    let texts: Vec<&str> = x.attachments.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Vertrag über Lieferung\nLaufzeit: 24 Monate & Verlängerung",
            "Umsätze 2024\nKunde\nMüller AG\n4711 12.5",
            "Quartalszahlen Q1\nAusblick Q2",
            "Protokoll\nAnwesend: Frau Schmidt",
            "Artikel\nPreis",
        ]
    );
    assert_eq!(x.attachments[0].size, docx.len() as u64);
}

#[test]
fn text_csv_and_html_attachments_in_any_charset() {
    let (csv, _, _) = encoding_rs::WINDOWS_1252.encode("Name;Betrag\nMüller;12,50 €\n");
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("見積書");
    let parts = [
        // No charset and a generic type: decoded as Windows-1252 because it
        // is not UTF-8.
        Part::attachment("application/octet-stream", "export.csv", &csv),
        Part {
            headers: "Content-Type: text/plain; charset=shift_jis; name=\"memo.txt\"\r\n\
                      Content-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n"
                .into(),
            body: docs::base64_lines(&sjis).into_bytes(),
        },
        Part::attachment(
            "text/html",
            "page.html",
            "<p>Hallo <b>Welt</b></p>".as_bytes(),
        ),
    ];
    let x = ex(&multipart(&head("Export", ""), "mixed", &parts));
    let texts: Vec<&str> = x.attachments.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(
        texts,
        ["Name;Betrag\nMüller;12,50 €", "見積書", "Hallo Welt"]
    );
    assert_eq!(x.attachments[0].size, csv.len() as u64);
    assert!(kinds(&x).is_empty());
}

#[test]
fn nested_messages_are_attachments_holding_the_nested_message() {
    let inner_pdf = docs::pdf(&["Lieferschein 0815"], 0);
    let inner = multipart(
        "From: Lieferant <Info@Supplier.example>\r\nTo: einkauf@example.com\r\n\
         Subject: =?utf-8?q?Lieferschein_f=C3=BCr_Mai?=\r\nMessage-ID: <inner@supplier.example>\r\n\
         Date: Wed, 1 May 2024 08:00:00 +0000\r\n",
        "mixed",
        &[
            Part::text("plain", "Ware ist unterwegs."),
            Part::attachment("application/pdf", "lieferschein.pdf", &inner_pdf),
        ],
    );
    let outer = multipart(
        &head("Fwd: Lieferschein", ""),
        "mixed",
        &[
            Part::text("plain", "Siehe unten."),
            Part {
                headers: "Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"fwd.eml\"\r\n".into(),
                body: inner.clone(),
            },
        ],
    );
    let x = ex(&outer);
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    assert_eq!(x.body, "Siehe unten.");
    assert_eq!(addrs(&x.headers.from), ["sender@example.com"]);
    assert_eq!(x.attachments.len(), 2);
    let (msg, pdf) = (&x.attachments[0], &x.attachments[1]);
    assert_eq!(
        (msg.mime_type.as_str(), msg.name.as_deref(), msg.parent),
        ("message/rfc822", Some("fwd.eml"), None)
    );
    let nested = msg.message.as_deref().expect("nested header fields");
    assert_eq!(addrs(&nested.from), ["info@supplier.example"]);
    assert_eq!(nested.message_id.as_deref(), Some("inner@supplier.example"));
    assert!(
        msg.text.contains("From: Lieferant <info@supplier.example>"),
        "{}",
        msg.text
    );
    assert!(msg.text.contains("Subject: Lieferschein für Mai"));
    assert!(msg.text.ends_with("Ware ist unterwegs."));
    assert!(msg.size as usize >= inner.len() - 2 && msg.size as usize <= inner.len());
    assert_eq!(
        (pdf.parent, pdf.name.as_deref()),
        (Some(0), Some("lieferschein.pdf"))
    );
    assert_eq!(pdf.text.trim(), "Lieferschein 0815");
    assert!(x.has_attachment);
}

#[test]
fn inline_images_are_listed_but_are_not_attachments() {
    let m = multipart(
        &head("Newsletter", ""),
        "related",
        &[
            Part::text("html", "<p>Logo: <img src=\"cid:logo\"></p>"),
            Part {
                headers: "Content-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n".into(),
                body: docs::base64_lines(b"\x89PNG\r\n\x1a\nfake").into_bytes(),
            },
        ],
    );
    let x = ex(&m);
    assert_eq!(x.body, "Logo:");
    assert_eq!(x.attachments.len(), 1);
    assert!(x.attachments[0].inline);
    assert_eq!(x.attachments[0].mime_type, "image/png");
    assert!(x.attachments[0].text.is_empty());
    assert!(!x.has_attachment);
}
