//! Full-text search over the archive: a tantivy index derived from the
//! segments (like the sled index, rebuildable at any time) and the query
//! language that searches it.
//!
//! ```text
//!  without I/O                         with I/O
//!  analysis   words, normalisation,    index      open/create <archive>/search,
//!             stems, address terms                add, commit (seq in payload),
//!  tokenizer  analysis as tantivy                 delete + purge, rebuild
//!             tokenizers               searcher   run a query: sort, limit,
//!  schema     fields of a document                cursor, total
//!  direction  inbound/outbound/…       highlight  snippets from re-extracted text
//!  document   record + text → document catchup    feed records from the archive
//!                                      check      index vs segments, repair
//!                                      indexer    the daemon's thread that follows
//!                                                 the archive head
//!  query/     lexer, parser, AST,
//!             value (dates, sizes),
//!             compile (AST → tantivy)
//!  extract/   raw message → header fields, body,
//!             attachments and their text (PDF, Office)
//! ```
//!
//! Only this module knows tantivy. The index stores almost nothing: hits
//! are record ids (`seq`), and listings read their columns from the sled
//! summaries.

pub mod analysis;
pub mod catchup;
pub mod check;
pub mod direction;
pub mod document;
pub mod extract;
pub mod highlight;
pub mod index;
pub mod indexer;
pub mod query;
pub mod schema;
pub mod searcher;
pub mod tokenizer;

pub use direction::{Direction, LocalDomains};

/// Where the search index of the archive in `archive` lives.
pub fn index_dir(archive: &std::path::Path) -> std::path::PathBuf {
    archive.join("search")
}
pub use index::{SearchError, SearchIndex};
pub use searcher::{Hit, Hits, SearchRequest, Sort};
