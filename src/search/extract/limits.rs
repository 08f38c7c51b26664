//! The caps on the work [`super::extract`] does for one message, so that a
//! hostile message (a zip bomb, a PDF that loops, a million MIME parts)
//! costs a bounded amount of time and memory. Every cap that is hit shows
//! up as a [`super::Problem`], never as an error or a panic.

use std::time::Duration;

/// How much work extracting one message may cost.
///
/// The defaults keep a typical message far below every cap while bounding a
/// hostile one to a few tens of MiB of memory and (outside PDF) time linear
/// in the message size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// MIME parts looked at per message, nested messages included; the rest
    /// are skipped. Default 1,000: mail with more parts is machine-made.
    pub max_parts: usize,
    /// How deep `message/rfc822` parts nest before their content is skipped.
    /// Default 8: a forward of a forward of a forward still gets indexed.
    pub max_depth: usize,
    /// Occurrences of `message/` and `/digest` in the raw message above which
    /// the MIME structure is not parsed at all (only the headers are). The
    /// MIME parser nests such parts recursively and overflows its thread's
    /// stack somewhere above 20,000 levels on a 2 MiB stack; 1,000 keeps a
    /// wide margin and no real message comes near it.
    pub max_nested_markers: usize,
    /// Bytes of body text (text and HTML parts) kept per message. Default
    /// 2 MiB, several books' worth.
    pub max_body_text: usize,
    /// Bytes of text kept per attachment. Default 1 MiB.
    pub max_attachment_text: usize,
    /// Bytes of text kept per message over body and all attachments.
    /// Default 8 MiB.
    pub max_total_text: usize,
    /// Decoded size above which an attachment's text is not extracted (its
    /// name, type and size still are). Default 32 MiB.
    pub max_attachment_input: usize,
    /// Entries a zip container (DOCX, XLSX, PPTX, ODT, ODS) may list.
    /// Default 5,000; values of 65,535 and above act as 65,534.
    pub max_zip_entries: usize,
    /// Bytes a container may unpack to: the zip entries read from an office
    /// document, or all streams of a PDF. Default 64 MiB: zip and PDF bombs
    /// stop here.
    pub max_unpacked: u64,
    /// Element nesting depth of the XML inside office documents. Default
    /// 256; real documents stay below 30.
    pub max_xml_depth: usize,
    /// Time one PDF may take. The parser runs on a worker thread; after this
    /// the caller goes on without its text. Default 5 s.
    pub pdf_timeout: Duration,
    /// PDF workers that overran `pdf_timeout` and may still be running
    /// (a thread cannot be killed). While this many are stuck, PDF text is
    /// not extracted, so hostile PDFs can burn at most this many cores.
    /// Default 2.
    pub max_stuck_pdf_workers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_parts: 1_000,
            max_depth: 8,
            max_nested_markers: 1_000,
            max_body_text: 2 << 20,
            max_attachment_text: 1 << 20,
            max_total_text: 8 << 20,
            max_attachment_input: 32 << 20,
            max_zip_entries: 5_000,
            max_unpacked: 64 << 20,
            max_xml_depth: 256,
            pdf_timeout: Duration::from_secs(5),
            max_stuck_pdf_workers: 2,
        }
    }
}
