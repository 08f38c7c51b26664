//! Documents and messages built in code for the extraction tests and the
//! extraction benchmark (which includes this file by path): a minimal PDF
//! writer, DOCX/XLSX/PPTX/ODT/ODS through the zip crate, and MIME
//! assembly with base64 and quoted-printable.

#![allow(dead_code)]

use std::io::{Cursor, Write};

use base64::Engine;
use zip::write::SimpleFileOptions;

/// A PDF with one page per entry of `pages` (lines separated by `\n`, set
/// in Helvetica with WinAnsi encoding, so Latin-1 text round-trips), its
/// content streams deflated. With `image_bytes > 0` the first page also
/// draws an image of that many incompressible bytes, as scanned letterheads
/// and logos make real PDFs big.
pub fn pdf(pages: &[&str], image_bytes: usize) -> Vec<u8> {
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let n = pages.len();
    // 1 catalog, 2 page tree, 3 font, 4 image, then page i at 5 + 2i and
    // its content at 6 + 2i.
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 5 + 2 * i)).collect();
    objects.push(format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")).into_bytes());
    objects.push(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
    );
    let image = noise(image_bytes.max(1), 7);
    let mut img = format!(
        "<< /Type /XObject /Subtype /Image /Width {} /Height 1 /ColorSpace /DeviceGray \
         /BitsPerComponent 8 /Length {} >>\nstream\n",
        image.len(),
        image.len()
    )
    .into_bytes();
    img.extend_from_slice(&image);
    img.extend_from_slice(b"\nendstream");
    objects.push(img);
    for (i, text) in pages.iter().enumerate() {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {} 0 R \
                 /Resources << /Font << /F1 3 0 R >> /XObject << /Im1 4 0 R >> >> >>",
                6 + 2 * i
            )
            .into_bytes(),
        );
        let mut content = Vec::new();
        if i == 0 && image_bytes > 0 {
            content.extend_from_slice(b"q 100 0 0 20 72 50 cm /Im1 Do Q\n");
        }
        content.extend_from_slice(b"BT /F1 11 Tf 14 TL 72 780 Td\n");
        for line in text.lines() {
            content.push(b'(');
            for c in line.chars() {
                let b = u8::try_from(u32::from(c)).unwrap_or(b'?');
                if matches!(b, b'(' | b')' | b'\\') {
                    content.push(b'\\');
                }
                content.push(b);
            }
            content.extend_from_slice(b") Tj T*\n");
        }
        content.extend_from_slice(b"ET\n");
        let packed = deflate(&content);
        let mut obj = format!(
            "<< /Length {} /Filter /FlateDecode >>\nstream\n",
            packed.len()
        )
        .into_bytes();
        obj.extend_from_slice(&packed);
        obj.extend_from_slice(b"\nendstream");
        objects.push(obj);
    }
    assemble_pdf(&objects)
}

/// Writes `objects` (numbered from 1, object 1 the catalog) as a PDF file
/// with a correct cross-reference table.
pub fn assemble_pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// zlib-compresses `data` (PDF's FlateDecode).
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("write to memory");
    e.finish().expect("write to memory")
}

/// Deterministic incompressible bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A zip of `(name, content)` entries, deflated.
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, content) in entries {
        w.start_file(*name, opts).expect("zip entry");
        w.write_all(content).expect("write to memory");
    }
    w.finish().expect("zip to memory").into_inner()
}

/// Escapes text for XML character data.
pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

const CONTENT_TYPES: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#;

/// A DOCX whose body has one paragraph per entry.
pub fn docx(paragraphs: &[&str]) -> Vec<u8> {
    let body: String = paragraphs
        .iter()
        .map(|p| {
            format!(
                "<w:p><w:r><w:t xml:space=\"preserve\">{}</w:t></w:r></w:p>",
                xml_escape(p)
            )
        })
        .collect();
    let doc = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
    );
    zip(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        ("word/document.xml", doc.as_bytes()),
    ])
}

/// An XLSX with one sheet named `sheet`: a row of string cells (shared
/// strings) and a row of numbers.
pub fn xlsx(sheet: &str, strings: &[&str], numbers: &[f64]) -> Vec<u8> {
    let workbook = format!(
        r#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="{}" sheetId="1"/></sheets></workbook>"#,
        xml_escape(sheet)
    );
    let shared: String = strings
        .iter()
        .map(|s| format!("<si><t>{}</t></si>", xml_escape(s)))
        .collect();
    let shared = format!(
        r#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{shared}</sst>"#
    );
    let row1: String = (0..strings.len())
        .map(|i| format!(r#"<c t="s"><v>{i}</v></c>"#))
        .collect();
    let row2: String = numbers
        .iter()
        .map(|n| format!("<c><v>{n}</v></c>"))
        .collect();
    let sheet_xml = format!(
        r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row>{row1}</row><row>{row2}</row></sheetData></worksheet>"#
    );
    zip(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        ("xl/workbook.xml", workbook.as_bytes()),
        ("xl/sharedStrings.xml", shared.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet_xml.as_bytes()),
    ])
}

/// A PPTX with one slide per entry.
pub fn pptx(slides: &[&str]) -> Vec<u8> {
    let mut entries: Vec<(String, Vec<u8>)> = vec![
        ("[Content_Types].xml".into(), CONTENT_TYPES.to_vec()),
        (
            "ppt/presentation.xml".into(),
            b"<p:presentation xmlns:p=\"p\"/>".to_vec(),
        ),
    ];
    for (i, text) in slides.iter().enumerate() {
        let xml = format!(
            r#"<p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>{}</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#,
            xml_escape(text)
        );
        entries.push((format!("ppt/slides/slide{}.xml", i + 1), xml.into_bytes()));
    }
    let refs: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_slice()))
        .collect();
    zip(&refs)
}

/// An OpenDocument file of type `mimetype` whose `office:body` is `body`.
pub fn odf(mimetype: &str, body: &str) -> Vec<u8> {
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"><office:body>{body}</office:body></office:document-content>"#
    );
    zip(&[
        ("mimetype", mimetype.as_bytes()),
        ("META-INF/manifest.xml", b"<manifest/>"),
        ("content.xml", content.as_bytes()),
    ])
}

/// Base64 in lines of 76, as MIME writes it.
pub fn base64_lines(data: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(b64.len() + b64.len() / 38);
    for line in b64.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push_str("\r\n");
    }
    out
}

/// Quoted-printable (RFC 2045) of `data`, soft-wrapped at 76.
pub fn quoted_printable(data: &[u8]) -> String {
    let mut out = String::new();
    let mut line = 0;
    for &b in data {
        let piece = match b {
            b'\n' => {
                out.push_str("\r\n");
                line = 0;
                continue;
            }
            b'\r' => continue,
            b'=' | 0x80..=0xff | 0..=0x1f => format!("={b:02X}"),
            _ => (b as char).to_string(),
        };
        if line + piece.len() > 75 {
            out.push_str("=\r\n");
            line = 0;
        }
        line += piece.len();
        out.push_str(&piece);
    }
    out
}

/// A part of a multipart body: its header lines and its (encoded) body.
pub struct Part {
    pub headers: String,
    pub body: Vec<u8>,
}

impl Part {
    /// An attachment `name` of `mime_type`, base64-encoded.
    pub fn attachment(mime_type: &str, name: &str, data: &[u8]) -> Part {
        Part {
            headers: format!(
                "Content-Type: {mime_type}; name=\"{name}\"\r\n\
                 Content-Disposition: attachment; filename=\"{name}\"\r\n\
                 Content-Transfer-Encoding: base64\r\n"
            ),
            body: base64_lines(data).into_bytes(),
        }
    }

    /// A text part in UTF-8, quoted-printable.
    pub fn text(subtype: &str, text: &str) -> Part {
        Part {
            headers: format!(
                "Content-Type: text/{subtype}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
            ),
            body: quoted_printable(text.as_bytes()).into_bytes(),
        }
    }
}

/// A message with `headers` (lines with CRLF) and a `multipart/subtype`
/// body of `parts`.
pub fn multipart(headers: &str, subtype: &str, parts: &[Part]) -> Vec<u8> {
    let boundary = "=_b0undary_42";
    let mut m = format!(
        "{headers}MIME-Version: 1.0\r\nContent-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n\
         This is a multi-part message in MIME format.\r\n"
    )
    .into_bytes();
    for p in parts {
        m.extend_from_slice(format!("--{boundary}\r\n{}\r\n", p.headers).as_bytes());
        m.extend_from_slice(&p.body);
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    m
}
