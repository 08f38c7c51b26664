//! What went wrong while reading a message, kept so that search
//! completeness reports can say what is not indexed and why ("text of
//! attachment 2 not indexed: PDF parser timed out after 5 s").

use std::fmt;

use serde::Serialize;

/// One thing that could not be read, or was cut short, in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The attachment it concerns (an index into
    /// [`super::Extracted::attachments`]), or `None` for the message itself.
    pub attachment: Option<usize>,
    /// What happened.
    pub kind: ProblemKind,
}

/// The kinds of [`Problem`]. Each says what was lost, so none is fatal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProblemKind {
    /// The message has no header block; whatever text it has is the body.
    NoHeaders,
    /// The message contains NUL bytes (they are dropped from the text).
    NulBytes,
    /// A MIME part could not be decoded as declared (bad base64, a missing
    /// boundary, an unparsable nested message); its raw text was used.
    BrokenPart,
    /// So many `message/` or `/digest` markers that the MIME structure was
    /// not parsed; only the headers were read.
    TooManyNestedMessages {
        /// The limit that was hit.
        limit: usize,
    },
    /// More MIME parts than allowed; the rest were skipped.
    TooManyParts {
        /// The limit that was hit.
        limit: usize,
    },
    /// A nested message deeper than allowed; its content was skipped.
    TooDeep {
        /// The limit that was hit.
        limit: usize,
    },
    /// Text was cut at this many bytes (body, attachment or message total).
    TextTruncated {
        /// The limit that was hit.
        limit: usize,
    },
    /// The attachment is larger than the extraction limit; its text was
    /// not extracted.
    TooLarge {
        /// The attachment's decoded size in bytes.
        size: u64,
        /// The limit that was hit.
        limit: usize,
    },
    /// A zip container lists more entries than allowed.
    TooManyEntries {
        /// The limit that was hit.
        limit: usize,
    },
    /// A zip container or PDF unpacks to more bytes than allowed; text was
    /// extracted from what fit (office documents) or from the streams that
    /// fit (PDF).
    UnpackLimit {
        /// The limit that was hit.
        limit: u64,
    },
    /// XML inside an office document nests deeper than allowed; text up to
    /// there was kept.
    XmlTooDeep {
        /// The limit that was hit.
        limit: usize,
    },
    /// The document is damaged: `detail` says how, in our own words (text
    /// from the document or its parser is never quoted, so a problem can be
    /// logged).
    Damaged {
        /// The document format (`pdf`, `docx`, …).
        format: &'static str,
        /// What is wrong, in our own words.
        detail: &'static str,
    },
    /// A document format that carries text but is not read (legacy binary
    /// Office files).
    Unsupported {
        /// The document format (`pdf`, `docx`, …).
        format: &'static str,
    },
    /// The document is encrypted and cannot be read without a password.
    Encrypted {
        /// The document format (`pdf`, `docx`, …).
        format: &'static str,
    },
    /// The PDF parser did not finish in time; its text is missing.
    PdfTimeout {
        /// The time allowed, in seconds.
        seconds: u64,
    },
    /// Too many earlier PDF workers are still stuck; this PDF was skipped.
    PdfBusy {
        /// PDF workers still running past their time.
        stuck: usize,
    },
    /// The PDF parser failed on this file (it panicked or refused it).
    PdfFailed,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.attachment {
            Some(i) => write!(f, "attachment {i}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ProblemKind::*;
        match self {
            NoHeaders => write!(f, "no header block"),
            NulBytes => write!(f, "NUL bytes in the message"),
            BrokenPart => write!(f, "MIME part not decodable as declared; raw text used"),
            TooManyNestedMessages { limit } => write!(
                f,
                "over {limit} nested-message markers: MIME structure not parsed, headers only"
            ),
            TooManyParts { limit } => write!(f, "over {limit} MIME parts: the rest not indexed"),
            TooDeep { limit } => {
                write!(f, "message nested deeper than {limit}: content not indexed")
            }
            TextTruncated { limit } => write!(f, "text cut at {limit} bytes"),
            TooLarge { size, limit } => write!(
                f,
                "{size} bytes, over the {limit}-byte extraction limit: text not indexed"
            ),
            TooManyEntries { limit } => {
                write!(f, "zip lists over {limit} entries: text not indexed")
            }
            UnpackLimit { limit } => write!(f, "unpacks to over {limit} bytes: text incomplete"),
            XmlTooDeep { limit } => write!(f, "XML nested deeper than {limit}: text incomplete"),
            Damaged { format, detail } => write!(f, "damaged {format}: {detail}"),
            Unsupported { format } => write!(f, "{format}: format not read, text not indexed"),
            Encrypted { format } => write!(f, "encrypted {format}: text not indexed"),
            PdfTimeout { seconds } => {
                write!(
                    f,
                    "PDF parser timed out after {seconds} s: text not indexed"
                )
            }
            PdfBusy { stuck } => write!(
                f,
                "{stuck} PDF workers still stuck on earlier files: text not indexed"
            ),
            PdfFailed => write!(f, "PDF parser failed on this file: text not indexed"),
        }
    }
}
