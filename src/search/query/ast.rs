//! What a parsed query means, before it touches an index.

use std::fmt;

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Every part must match.
    And(Vec<Node>),
    /// At least one part must match.
    Or(Vec<Node>),
    /// The part must not match.
    Not(Box<Node>),
    /// Words in the message text (or in one text field).
    Text {
        /// Where to look.
        scope: TextScope,
        /// What to look for.
        text: Text,
    },
    /// An address (or a display name's words) in one address field.
    Address {
        /// Which addresses.
        field: AddressField,
        /// The address, part of it, or name words.
        text: Text,
    },
    /// A whole value of a keyword field.
    Keyword {
        /// Which field.
        field: KeywordField,
        /// The value, normalised as the index stores it.
        value: String,
        /// Match every value starting with `value`.
        prefix: bool,
    },
    /// A numeric range: `lo` inclusive, `hi` exclusive (dates in Unix
    /// seconds, sizes in bytes).
    Range {
        /// Which field.
        field: RangeField,
        /// Lower bound.
        lo: Option<i64>,
        /// Upper bound.
        hi: Option<i64>,
    },
    /// `has:attachment`.
    HasAttachment,
}

/// Where free words and `subject:`/`body:`/… words are looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextScope {
    /// Subject, body, attachments, file names, sender and recipients.
    Any,
    /// `subject:`
    Subject,
    /// `body:`
    Body,
    /// `attachment:` (attachment text and file names)
    Attachment,
    /// `filename:`
    Filename,
}

/// Word, prefix or phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    /// A word (or a run of words joined by punctuation, like `e-mail`),
    /// matching inflected forms too.
    Word(String),
    /// `rech*`: every word starting with this (normalised) prefix.
    Prefix(String),
    /// `"…"`: exactly these words in this order, not stemmed.
    Phrase(String),
}

/// The address fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressField {
    /// `from:`
    From,
    /// `to:`
    To,
    /// `cc:`
    Cc,
    /// `bcc:`
    Bcc,
    /// `rcpt:`
    Rcpt,
    /// `reply-to:`
    ReplyTo,
}

/// The keyword fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeywordField {
    /// `type:`
    Type,
    /// `message-id:`
    MessageId,
    /// `thread:`
    Thread,
    /// `folder:`
    Folder,
    /// `user:`
    User,
    /// `source:`
    Source,
    /// `listener:`
    Listener,
    /// `direction:`
    Direction,
}

/// The range fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeField {
    /// `date:` (Date header, else receive time)
    Date,
    /// `received:`
    Received,
    /// `size:`
    Size,
    /// `attachment-size:` (any attachment)
    AttachmentSize,
}

/// A syntax error, with where it is and what would have been valid there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset into the query.
    pub offset: usize,
    /// Character position (0-based), for people.
    pub position: usize,
    /// What would have been valid there.
    pub expected: String,
    /// What was found instead.
    pub found: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "query error at character {}: expected {}, found {}",
            self.position + 1,
            self.expected,
            self.found
        )
    }
}

impl std::error::Error for ParseError {}
