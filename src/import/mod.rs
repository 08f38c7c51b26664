//! Importers: `.eml` files, mbox files, Maildir folders and IMAP servers.
//!
//! Each format module reads its input as a stream and hands every message to
//! a [`Visitor`] as a [`Found`] (origin, position, spooled bytes), or reports
//! an [`ImportFailure`] for a message it cannot take and goes on. Problems
//! with the input as a whole (unreadable, empty, wrong format) and archive
//! errors end the import with an [`ImportError`]. [`import_path`] ties a
//! format reader to the archive: it appends every message with
//! `append_blocking` and counts what happened; [`import_into`] does the
//! same for any [`Appender`] (the CLI's connection to a running daemon is
//! one). [`ImportSink`] is where the IMAP importer, which runs on tokio,
//! sends its messages and resume questions.
//!
//! [`imap`] reads from a server instead of a file: it reports through the
//! same [`Progress`] and counts into the same [`ImportSummary`], but fetches
//! and appends with its own pipeline (see its module).
//!
//! Memory stays bounded whatever the message size: readers feed fixed-size
//! chunks into a [`Spool`], which moves large messages to disk.
//!
//! The archive is append-only, so no error here can change what is already
//! archived; an import that stopped half-way can be re-run, and content
//! already stored is deduplicated by the archive.

pub mod eml;
pub mod imap;
pub mod maildir;
pub mod mbox;
pub mod sink;

use std::path::{Path, PathBuf};

use crate::archive::record::{ImportContext, Source, SourceKind};
use crate::archive::{
    Appended, Archive, ArchiveError, MessageMeta, NewMessage, Spool, SpooledContent,
};
pub use sink::ImportSink;

/// Size of the read buffers of all importers.
const CHUNK: usize = 64 * 1024;

/// The file formats that can be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// One message per file; a directory imports every `*.eml` in it.
    Eml,
    /// An mbox file (mboxrd quoting assumed).
    Mbox,
    /// A Maildir with optional Maildir++ sub-folders.
    Maildir,
}

impl ImportKind {
    /// The name used in records (`import.kind`, `source.name`) and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Eml => "eml",
            ImportKind::Mbox => "mbox",
            ImportKind::Maildir => "maildir",
        }
    }
}

/// Why an import stopped. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The path cannot be opened, listed or read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file was expected.
    #[error("{path} is a directory, not a file")]
    IsDirectory {
        /// The path involved.
        path: PathBuf,
    },
    /// The file has no bytes (or only blank lines).
    #[error("{path} is empty")]
    Empty {
        /// The path involved.
        path: PathBuf,
    },
    /// The bytes are not a mail message (binary data).
    #[error("{path} is not a mail message: {reason}")]
    NotMessage {
        /// The path involved.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },
    /// An mbox must start with a `From ` line.
    #[error("{path} is not an mbox file: it does not start with a \"From \" line")]
    NotMbox {
        /// The path involved.
        path: PathBuf,
    },
    /// A Maildir has `cur/` or `new/`.
    #[error("{path} is not a Maildir: it has no cur/ or new/ directory")]
    NotMaildir {
        /// The path involved.
        path: PathBuf,
    },
    /// A directory given to the eml importer holds no `*.eml` file.
    #[error("{path} holds no *.eml files")]
    NoEmlFiles {
        /// The path involved.
        path: PathBuf,
    },
    /// The spool (temporary storage) failed, e.g. its disk is full.
    #[error("cannot spool a message from {path}: {source}")]
    Spool {
        /// The file being imported.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The archive refused an append; nothing more is imported.
    #[error("archiving {path}{} failed: {source}", position_suffix(.position))]
    Archive {
        /// The file being imported.
        path: PathBuf,
        /// Where in it.
        position: Option<String>,
        /// The cause.
        source: ArchiveError,
    },
}

impl ImportError {
    /// True when the error concerns one message file, so a directory import
    /// (eml directory, Maildir) records it and goes on with the next file.
    pub fn is_per_file(&self) -> bool {
        matches!(
            self,
            ImportError::Unreadable { .. }
                | ImportError::IsDirectory { .. }
                | ImportError::Empty { .. }
                | ImportError::NotMessage { .. }
        )
    }

    /// The error as a failure of one message, for directory imports.
    fn into_failure(self, path: &Path, position: Option<String>) -> ImportFailure {
        ImportFailure {
            path: path.to_path_buf(),
            position,
            reason: self.to_string(),
        }
    }
}

fn position_suffix(position: &Option<String>) -> String {
    position
        .as_ref()
        .map(|p| format!(" (message {p})"))
        .unwrap_or_default()
}

/// A message that was not imported; the import went on without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFailure {
    /// The file holding the message.
    pub path: PathBuf,
    /// Where in the file (mbox message number), if the file holds several.
    pub position: Option<String>,
    /// What is wrong, for the user.
    pub reason: String,
}

impl std::fmt::Display for ImportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.position {
            Some(p) => write!(f, "{} message {}: {}", self.path.display(), p, self.reason),
            None => write!(f, "{}", self.reason),
        }
    }
}

/// One message a format reader found.
pub struct Found {
    /// The path the user named (file, eml directory or Maildir root).
    pub origin: PathBuf,
    /// Where inside the origin: mbox message number, Maildir path relative
    /// to the root (`cur/NAME`, `.Folder/new/NAME`), eml file name in a
    /// directory; `None` for a single `.eml` file.
    pub position: Option<String>,
    /// The message bytes, unchanged (mbox: unquoted, framing removed).
    pub content: SpooledContent,
}

/// Receives what a format reader finds, in input order.
pub trait Visitor {
    /// A fresh spool for the next message.
    fn spool(&mut self) -> Spool;
    /// Total input bytes, when known up front.
    fn total(&mut self, _bytes: u64) {}
    /// `bytes` more input bytes were consumed.
    fn advance(&mut self, _bytes: u64) {}
    /// A complete message. An error ends the import.
    fn message(&mut self, found: Found) -> Result<(), ImportError>;
    /// A message that cannot be imported; the import goes on.
    fn failure(&mut self, failure: ImportFailure);
}

/// Reports import progress; the CLI draws a bar, tests use [`NoProgress`].
pub trait Progress {
    /// Total input bytes, when known up front.
    fn total(&self, _bytes: u64) {}
    /// `bytes` more input bytes were consumed.
    fn advance(&self, _bytes: u64) {}
    /// A message was appended to the archive.
    fn appended(&self, _context: &ImportContext, _appended: &Appended) {}
    /// A message was not imported.
    fn failed(&self, _failure: &ImportFailure) {}
}

/// A [`Progress`] that reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// Messages appended to the archive (records written), duplicates included.
    pub imported: u64,
    /// Of `imported`, those whose content the archive already held.
    pub duplicates: u64,
    /// Bytes of message content appended.
    pub bytes: u64,
    /// Messages that were not imported, with the reason.
    pub failed: Vec<ImportFailure>,
}

/// Where imported messages go: the archive, or a fake in tests.
pub trait Appender {
    /// A spool configured for the target.
    fn spool(&self) -> Spool;
    /// Appends durably.
    fn append(&self, message: NewMessage) -> Result<Appended, ArchiveError>;
}

impl Appender for Archive {
    fn spool(&self) -> Spool {
        Archive::spool(self)
    }

    fn append(&self, message: NewMessage) -> Result<Appended, ArchiveError> {
        self.append_blocking(message)
    }
}

/// Imports everything at `path` into the archive.
pub fn import_path(
    archive: &Archive,
    kind: ImportKind,
    path: &Path,
    progress: &dyn Progress,
) -> Result<ImportSummary, ImportError> {
    import_into(archive, kind, path, progress)
}

/// Imports everything at `path` into any [`Appender`].
pub fn import_into(
    target: &dyn Appender,
    kind: ImportKind,
    path: &Path,
    progress: &dyn Progress,
) -> Result<ImportSummary, ImportError> {
    let mut importer = Importer {
        target,
        progress,
        kind,
        summary: ImportSummary::default(),
    };
    read(kind, path, &mut importer)?;
    let s = &importer.summary;
    tracing::info!(
        kind = kind.as_str(),
        imported = s.imported,
        duplicates = s.duplicates,
        failed = s.failed.len(),
        "import finished"
    );
    Ok(importer.summary)
}

/// Runs the reader of `kind` on `path`.
pub fn read(kind: ImportKind, path: &Path, visitor: &mut dyn Visitor) -> Result<(), ImportError> {
    // Records name the origin absolutely so they stay meaningful later;
    // `absolute` keeps symlinks as the user named them.
    let origin = std::path::absolute(path).map_err(|source| ImportError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    match kind {
        ImportKind::Eml => eml::read(&origin, visitor),
        ImportKind::Mbox => mbox::read(&origin, visitor),
        ImportKind::Maildir => maildir::read(&origin, visitor),
    }
}

/// The [`Visitor`] that appends to an [`Appender`] and keeps the counts.
struct Importer<'a> {
    /// Where messages go.
    target: &'a dyn Appender,
    /// Where progress is reported.
    progress: &'a dyn Progress,
    /// Recorded in every record's import context.
    kind: ImportKind,
    /// Counts so far.
    summary: ImportSummary,
}

impl Visitor for Importer<'_> {
    fn spool(&mut self) -> Spool {
        self.target.spool()
    }

    fn total(&mut self, bytes: u64) {
        self.progress.total(bytes);
    }

    fn advance(&mut self, bytes: u64) {
        self.progress.advance(bytes);
    }

    fn message(&mut self, found: Found) -> Result<(), ImportError> {
        let context = ImportContext {
            kind: self.kind.as_str().into(),
            origin: found.origin.display().to_string(),
            position: found.position.clone(),
            uidvalidity: None,
            uid: None,
        };
        let size = found.content.size;
        let meta = MessageMeta {
            source: Source {
                kind: SourceKind::Import,
                name: self.kind.as_str().into(),
            },
            import: Some(context.clone()),
            ..Default::default()
        };
        let message = NewMessage {
            meta,
            content: found.content,
            evidence: None,
        };
        let appended = self
            .target
            .append(message)
            .map_err(|source| ImportError::Archive {
                path: found.origin,
                position: found.position,
                source,
            })?;
        self.summary.imported += 1;
        self.summary.duplicates += u64::from(appended.deduplicated);
        self.summary.bytes += size;
        self.progress.appended(&context, &appended);
        Ok(())
    }

    fn failure(&mut self, failure: ImportFailure) {
        tracing::warn!(
            path = %failure.path.display(),
            position = failure.position.as_deref(),
            reason = %failure.reason,
            "message not imported"
        );
        self.progress.failed(&failure);
        self.summary.failed.push(failure);
    }
}

/// Fills `buf` from `reader` as far as the input allows; returns the length.
fn read_full(reader: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
pub(crate) mod tests;
