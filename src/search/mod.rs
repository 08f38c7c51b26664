//! Full-text search over the archive (issue 13). `extract` turns one
//! archived message into the document the index stores: header fields,
//! body text, attachments and their text, and what could not be read.

pub mod extract;
