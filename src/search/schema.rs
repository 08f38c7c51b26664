//! The tantivy schema: one document per message record.
//!
//! Nothing is stored but what tantivy needs to find a record again: the
//! archive is the store. Hits carry the record's `seq` (a fast field), and
//! listings take their columns from the sled summaries; snippets are cut
//! from the message text extracted again on demand. That keeps the index
//! far below a quarter of the raw message bytes.

use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, Field, INDEXED, IndexRecordOption, NumericOptions,
    Schema, TextFieldIndexing, TextOptions,
};

use super::tokenizer;

/// Layout version of the index; a different one in an existing index's
/// commit payload means the index is rebuilt.
pub const SCHEMA_FORMAT: u32 = 1;

/// Handles of every field, resolved once.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// The record's sequence number: its id, the key for deletes.
    pub seq: Field,
    /// The first 8 bytes of the content's SHA-256, so the check against
    /// the segments can tell a stale document from a current one.
    pub content: Field,
    /// The Date header in seconds, or the receive time when the message
    /// has no valid Date (so every message sorts somewhere).
    pub date: Field,
    /// When the archive received the record.
    pub received: Field,
    /// Message size in bytes.
    pub size: Field,
    /// Every attachment's size in bytes.
    pub attachment_size: Field,
    /// Subject words, with positions for phrases.
    pub subject: Field,
    /// Body words (text parts and HTML converted to text).
    pub body: Field,
    /// Words of the attachments' text.
    pub attachment: Field,
    /// Words of the attachments' file names.
    pub filename: Field,
    /// Stems of the subject.
    pub subject_stem: Field,
    /// Stems of the body.
    pub body_stem: Field,
    /// Stems of the attachments' text and names.
    pub attachment_stem: Field,
    /// Senders: header From and Sender, envelope sender, journal Sender and
    /// On-Behalf-Of (address terms and display-name words).
    pub from: Field,
    /// Header To and journal To recipients (with their lists and forwards).
    pub to: Field,
    /// Header Cc and journal Cc recipients.
    pub cc: Field,
    /// Header Bcc and journal Bcc recipients.
    pub bcc: Field,
    /// Every recipient: envelope, headers, journal (To/Cc/Bcc/Recipient,
    /// Expanded lists, Forwarded).
    pub rcpt: Field,
    /// Header Reply-To.
    pub reply_to: Field,
    /// MIME types, subtypes and file extensions of attachments.
    pub attachment_type: Field,
    /// The Message-ID.
    pub message_id: Field,
    /// The Message-ID, In-Reply-To and References: a thread lookup finds
    /// every message that is or names the given id.
    pub thread: Field,
    /// IMAP folder (proxy and import).
    pub folder: Field,
    /// IMAP user, SMTP AUTH user.
    pub user: Field,
    /// Source kind (`journal`, `smtp-proxy`, `imap-proxy`, `import`).
    pub source: Field,
    /// Listener or import job name.
    pub listener: Field,
    /// `inbound`, `outbound`, `internal` or `external`.
    pub direction: Field,
    /// Flags such as `attachment` for `has:`.
    pub has: Field,
}

/// The schema and its fields.
pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |tokenizer: &str, option| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(option),
        )
    };
    let words = text(tokenizer::TEXT, IndexRecordOption::WithFreqsAndPositions);
    let stems = text(tokenizer::STEM, IndexRecordOption::WithFreqs);
    // Keywords and address terms are computed by `analysis` before they
    // reach tantivy; one value is one term, and no scoring needs norms.
    let keyword = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    );
    let date = DateOptions::default()
        .set_indexed()
        .set_fast()
        .set_precision(DateTimePrecision::Seconds);
    let fields = Fields {
        seq: b.add_u64_field("seq", INDEXED | FAST),
        content: b.add_u64_field("content", FAST),
        date: b.add_date_field("date", date.clone()),
        received: b.add_date_field("received", date),
        size: b.add_u64_field("size", INDEXED | FAST),
        attachment_size: b
            .add_u64_field("attachment_size", NumericOptions::default().set_indexed()),
        subject: b.add_text_field("subject", words.clone()),
        body: b.add_text_field("body", words.clone()),
        attachment: b.add_text_field("attachment", words.clone()),
        filename: b.add_text_field("filename", words),
        subject_stem: b.add_text_field("subject_stem", stems.clone()),
        body_stem: b.add_text_field("body_stem", stems.clone()),
        attachment_stem: b.add_text_field("attachment_stem", stems),
        from: b.add_text_field("from", keyword.clone()),
        to: b.add_text_field("to", keyword.clone()),
        cc: b.add_text_field("cc", keyword.clone()),
        bcc: b.add_text_field("bcc", keyword.clone()),
        rcpt: b.add_text_field("rcpt", keyword.clone()),
        reply_to: b.add_text_field("reply_to", keyword.clone()),
        attachment_type: b.add_text_field("attachment_type", keyword.clone()),
        message_id: b.add_text_field("message_id", keyword.clone()),
        thread: b.add_text_field("thread", keyword.clone()),
        folder: b.add_text_field("folder", keyword.clone()),
        user: b.add_text_field("user", keyword.clone()),
        source: b.add_text_field("source", keyword.clone()),
        listener: b.add_text_field("listener", keyword.clone()),
        direction: b.add_text_field("direction", keyword.clone()),
        has: b.add_text_field("has", keyword),
    };
    (b.build(), fields)
}

/// The fields of an existing index, which must have been built by
/// [`build`] (same names, same options).
pub fn matches(schema: &Schema) -> Option<Fields> {
    let (ours, fields) = build();
    (ours == *schema).then_some(fields)
}
