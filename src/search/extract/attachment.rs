//! Text of one attachment's decoded bytes, by what the bytes are rather
//! than what the sender declared (PDFs arrive as `application/octet-stream`
//! every day): PDF, zip-based office documents, HTML, and plain text or CSV
//! in any common charset. Images, audio and other binaries give no text,
//! which is not a problem; formats that should have text but are not read
//! (legacy binary Office files) say so.

use super::limits::Limits;
use super::problem::ProblemKind;
use super::textbuf::TextBuf;
use super::{html, pdf, zipdoc};

/// How an attachment's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Pdf,
    Zip,
    Html,
    Text,
    /// An OLE compound file: .doc/.xls/.ppt, or an encrypted OOXML file.
    Compound,
    /// No text to be had (images, archives of other kinds, ...).
    Binary,
}

/// Appends the text of the attachment `bytes` (declared as `mime_type`,
/// lowercased, and named `name`) to `out`.
pub(crate) fn text(
    bytes: &[u8],
    mime_type: &str,
    name: Option<&str>,
    limits: &Limits,
    out: &mut TextBuf,
    problems: &mut Vec<ProblemKind>,
) {
    let format = format(bytes, mime_type, name);
    if format == Format::Binary {
        return;
    }
    if out.room() == 0 {
        // The message's text budget is spent: do not parse for nothing.
        out.mark_truncated();
        return;
    }
    if bytes.len() > limits.max_attachment_input {
        problems.push(ProblemKind::TooLarge {
            size: bytes.len() as u64,
            limit: limits.max_attachment_input,
        });
        return;
    }
    match format {
        Format::Pdf => pdf::text(bytes, limits, out, problems),
        Format::Zip => zipdoc::text(bytes, limits, out, problems),
        Format::Html => html::to_text(&decode_text(bytes), out),
        Format::Text => {
            out.push(&decode_text(bytes));
        }
        Format::Compound => problems.push(ProblemKind::Unsupported {
            format: "OLE compound file (legacy Office or encrypted document)",
        }),
        Format::Binary => {}
    }
}

/// What the bytes are: magic numbers first, then the declared type, then
/// the file name's extension.
fn format(bytes: &[u8], mime_type: &str, name: Option<&str>) -> Format {
    let head = &bytes[..bytes.len().min(1024)];
    if memchr::memmem::find(head, b"%PDF-").is_some() {
        return Format::Pdf;
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Format::Zip;
    }
    if bytes.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        return Format::Compound;
    }
    let ext = name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let (top, sub) = mime_type.split_once('/').unwrap_or((mime_type, ""));
    if sub == "html" || sub == "xhtml+xml" || ext == "html" || ext == "htm" {
        return Format::Html;
    }
    // message/delivery-status, disposition-notification, external-body:
    // header-like text, the useful part of a bounce.
    let textual_type = top == "text"
        || top == "message"
        || matches!(
            sub,
            "csv" | "json" | "xml" | "x-yaml" | "yaml" | "rtf" | "x-log"
        )
        || sub.ends_with("+xml")
        || sub.ends_with("+json");
    let textual_ext = matches!(
        ext.as_str(),
        "txt"
            | "text"
            | "csv"
            | "tsv"
            | "md"
            | "log"
            | "json"
            | "xml"
            | "yaml"
            | "yml"
            | "ini"
            | "cfg"
            | "conf"
            | "ics"
            | "vcf"
            | "eml"
            | "rtf"
            | "sql"
            | "edi"
    );
    // An unknown type with a text extension is trusted only when the bytes
    // agree, so that a binary named `.txt` does not fill the index.
    if textual_type || (textual_ext && looks_textual(head)) {
        Format::Text
    } else {
        Format::Binary
    }
}

/// Whether `head` is mostly text: no NUL (unless UTF-16) and few control
/// bytes.
pub(crate) fn looks_textual(head: &[u8]) -> bool {
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        return true;
    }
    let controls = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c))
        .count();
    controls * 20 <= head.len()
}

/// Decodes text of unknown charset: a BOM decides, then UTF-8 if valid,
/// otherwise Windows-1252 (which every ISO-8859-1 text also decodes as).
pub(crate) fn decode_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        return enc.decode_without_bom_handling(&bytes[bom..]).0;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.into(),
        Err(_) => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_beats_the_declared_type() {
        let f = |b: &[u8], t: &str, n: Option<&str>| format(b, t, n);
        assert_eq!(
            f(b"%PDF-1.4\n", "application/octet-stream", None),
            Format::Pdf
        );
        assert_eq!(
            f(b"PK\x03\x04rest", "application/pdf", Some("a.pdf")),
            Format::Zip
        );
        assert_eq!(
            f(b"a;b\n1;2\n", "application/octet-stream", Some("x.CSV")),
            Format::Text
        );
        assert_eq!(
            f(
                b"\x00\x01\x02\x03\x04",
                "application/octet-stream",
                Some("x.txt")
            ),
            Format::Binary
        );
        assert_eq!(f(b"<p>x", "text/html", None), Format::Html);
        assert_eq!(f(b"\x89PNG", "image/png", Some("a.png")), Format::Binary);
    }

    #[test]
    fn decodes_boms_utf8_and_falls_back_to_windows_1252() {
        assert_eq!(decode_text(b"\xEF\xBB\xBFGr\xC3\xBC\xC3\x9Fe"), "Grüße");
        assert_eq!(decode_text(b"\xFF\xFEG\x00r\x00\xFC\x00"), "Grü");
        assert_eq!(decode_text(b"Gr\xFC\xDFe \x80 5"), "Grüße € 5");
    }
}
