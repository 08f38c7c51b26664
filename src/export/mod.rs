//! Byte-exact export as `.eml` files or mbox, with a manifest.
//!
//! The output is a directory (new, or empty) holding:
//! - `eml`: one `<seq>.eml` per message record, exactly the stored bytes;
//! - `mbox`: `messages.mbox` in mboxrd format (see [`mbox`]);
//! - `manifest.json`: per message the record seq, record hash, content
//!   SHA-256, size, receive time, file (and mbox offset), plus the chain
//!   head and the latest seal when the caller gives them (see [`manifest`]);
//! - `SHA256SUMS`: `sha256sum -c` input for every `.eml` file, or for
//!   `messages.mbox`.
//!
//! Every message's bytes are hashed on their way out and must match the
//! record's content hash and size, so an export never hands over bytes the
//! chain does not vouch for. Content is streamed from the archive through a
//! [`ContentSource`]; nothing holds a whole message in memory. Single
//! `.eml` files are not fsync'd (an interrupted export is simply redone;
//! `SHA256SUMS` finds a damaged file); the mbox, manifest and sums are.

pub mod manifest;
pub mod mbox;

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::archive::chain::parse_hex;
use crate::archive::record::Record;
pub use manifest::ManifestEntry;
use manifest::{ChainHeadJson, ManifestHeader, ManifestWriter, SumsWriter, create_new};

/// The name of the mbox file in an mbox export.
pub const MBOX_FILE: &str = "messages.mbox";

/// Where message bytes come from: the archive, or a map in tests.
pub trait ContentSource {
    /// Writes the original bytes of the content `sha256` to `out`; returns
    /// their length. Errors of `out` must be passed on unchanged.
    fn write_content(&self, sha256: &[u8; 32], out: &mut dyn Write) -> io::Result<u64>;

    /// "purged on …" when message record `seq` was purged: the export
    /// lists it in the manifest instead of failing.
    fn purged(&self, _seq: u64) -> Option<String> {
        None
    }
}

impl ContentSource for crate::archive::reader::Reader {
    fn write_content(&self, sha256: &[u8; 32], out: &mut dyn Write) -> io::Result<u64> {
        // The inherent method, which checks the bytes against their hash.
        crate::archive::reader::Reader::write_content(self, &hex::encode(sha256), out)
            .map_err(io::Error::other)
    }

    fn purged(&self, seq: u64) -> Option<String> {
        self.summary(seq).ok()?.purged.map(|p| p.describe())
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One `<seq>.eml` file per message.
    Eml,
    /// One mboxrd file.
    Mbox,
}

impl ExportFormat {
    /// The name used on the command line and in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Eml => "eml",
            ExportFormat::Mbox => "mbox",
        }
    }
}

/// The archive's chain head, for the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// Sequence number of the last record.
    pub seq: u64,
    /// Its chain hash.
    pub hash: [u8; 32],
}

/// What to export where.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Output directory; created if missing, refused if not empty.
    pub out: PathBuf,
    /// `.eml` files or mbox.
    pub format: ExportFormat,
    /// Chain head to record in the manifest.
    pub chain_head: Option<ChainHead>,
    /// Latest seal to record in the manifest, as the archive serializes it.
    pub seal: Option<serde_json::Value>,
}

/// Reports export progress; the CLI draws a bar.
pub trait ExportProgress {
    /// One message was written.
    fn exported(&self, _entry: &ManifestEntry) {}
}

/// An [`ExportProgress`] that reports nothing.
pub struct NoExportProgress;

impl ExportProgress for NoExportProgress {}

/// What an export did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Messages written.
    pub messages: u64,
    /// Sum of their original sizes.
    pub bytes: u64,
    /// Records that are not messages (outcomes) and were passed over.
    pub skipped: u64,
    /// mbox only: messages without a final newline, stored with one added.
    pub inexact: u64,
    /// Message records that were purged (listed in the manifest's totals).
    pub purged: u64,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The output directory already holds files.
    #[error("{path} is not empty; export into a new or empty directory")]
    OutputNotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// Creating or writing an output file failed.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Reading the records failed.
    #[error("reading the archive's records failed: {0}")]
    Records(Box<dyn std::error::Error + Send + Sync>),
    /// Reading one record's content failed.
    #[error("reading the content of record {seq} failed: {source}")]
    Content {
        /// The record.
        seq: u64,
        /// The cause.
        source: io::Error,
    },
    /// The bytes read do not match the record: the archive is damaged.
    #[error(
        "record {seq}: the content read has SHA-256 {actual} ({actual_size} bytes) but the \
         record says {expected} ({expected_size} bytes); run `mailseal verify`"
    )]
    Mismatch {
        /// The record.
        seq: u64,
        /// Hash in the record.
        expected: String,
        /// Size in the record.
        expected_size: u64,
        /// Hash of the bytes read.
        actual: String,
        /// Length of the bytes read.
        actual_size: u64,
    },
    /// The record's content reference cannot be parsed.
    #[error("record {seq} names its content by an invalid hash {sha256:?}")]
    BadRecord {
        /// The record.
        seq: u64,
        /// The hash as stored.
        sha256: String,
    },
}

/// Exports every message record of `records` into `options.out`.
pub fn export<I, E>(
    records: I,
    source: &dyn ContentSource,
    options: &ExportOptions,
    progress: &dyn ExportProgress,
) -> Result<ExportSummary, ExportError>
where
    I: IntoIterator<Item = Result<(Record, [u8; 32]), E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    prepare_dir(&options.out)?;
    let header = ManifestHeader {
        manifest_format: manifest::MANIFEST_FORMAT,
        generator: concat!("mailseal ", env!("CARGO_PKG_VERSION")),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        export_format: options.format.as_str(),
        chain_head: options.chain_head.map(|h| ChainHeadJson {
            seq: h.seq,
            hash: hex::encode(h.hash),
        }),
        seal: options.seal.as_ref(),
    };
    let mut manifest = ManifestWriter::create(&options.out, &header)?;
    let mut sums = SumsWriter::create(&options.out)?;
    let mut mbox = match options.format {
        ExportFormat::Eml => None,
        ExportFormat::Mbox => Some(mbox::MboxOut::create(&options.out.join(MBOX_FILE))?),
    };
    let mut summary = ExportSummary::default();
    for record in records {
        let (record, hash) = record.map_err(|e| ExportError::Records(e.into()))?;
        let Some(item) = Item::from_record(&record, hash)? else {
            summary.skipped += 1;
            continue;
        };
        if let Some(purged) = source.purged(item.seq) {
            summary.purged += 1;
            manifest.purged(manifest::PurgedEntry {
                seq: item.seq,
                purged,
            });
            continue;
        }
        let entry = match &mut mbox {
            None => write_eml(&options.out, &item, source)?,
            Some(mbox) => mbox.append(&item, source)?,
        };
        if mbox.is_none() {
            sums.line(&entry.sha256, &entry.file)?;
        }
        summary.messages += 1;
        summary.bytes += entry.size;
        summary.inexact += u64::from(entry.mbox_exact == Some(false));
        manifest.entry(&entry)?;
        progress.exported(&entry);
    }
    if let Some(mbox) = mbox {
        sums.line(&mbox.finish()?, MBOX_FILE)?;
    }
    manifest.finish()?;
    sums.finish()?;
    tracing::info!(
        messages = summary.messages,
        bytes = summary.bytes,
        format = options.format.as_str(),
        "exported"
    );
    Ok(summary)
}

/// Creates the output directory, or checks that it is empty.
fn prepare_dir(dir: &Path) -> Result<(), ExportError> {
    let error = |source| ExportError::Output {
        path: dir.to_path_buf(),
        source,
    };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            Some(_) => Err(ExportError::OutputNotEmpty {
                path: dir.to_path_buf(),
            }),
            None => Ok(()),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(error)
        }
        Err(e) => Err(error(e)),
    }
}

/// What the export needs of a message record.
struct Item {
    /// The record's id.
    seq: u64,
    /// The record's chain hash.
    record_hash: [u8; 32],
    /// The content's hash.
    sha256: [u8; 32],
    /// The content's length.
    size: u64,
    /// When the archive received it.
    received: String,
    /// The envelope sender, for the mbox separator line.
    mail_from: Option<String>,
}

impl Item {
    /// The item for a message record; `None` for other records.
    fn from_record(record: &Record, record_hash: [u8; 32]) -> Result<Option<Item>, ExportError> {
        let Some(meta) = record.message() else {
            return Ok(None);
        };
        let sha256 = parse_hex(&meta.content.sha256).ok_or_else(|| ExportError::BadRecord {
            seq: record.seq,
            sha256: meta.content.sha256.clone(),
        })?;
        Ok(Some(Item {
            seq: record.seq,
            record_hash,
            sha256,
            size: meta.content.size,
            received: record.time.clone(),
            mail_from: meta.mail_from.clone(),
        }))
    }

    /// Its manifest entry, for `file`.
    fn entry(&self, file: String) -> ManifestEntry {
        ManifestEntry {
            seq: self.seq,
            record_hash: hex::encode(self.record_hash),
            sha256: hex::encode(self.sha256),
            size: self.size,
            received: self.received.clone(),
            file,
            offset: None,
            mbox_exact: None,
        }
    }
}

/// Writes `<seq>.eml`.
fn write_eml(
    dir: &Path,
    item: &Item,
    source: &dyn ContentSource,
) -> Result<ManifestEntry, ExportError> {
    let file = format!("{}.eml", item.seq);
    let path = dir.join(&file);
    let mut out = BufWriter::new(create_new(&path)?);
    let copied = copy_verified(source, item, &mut out, &path).and_then(|()| {
        out.flush().map_err(|source| ExportError::Output {
            path: path.clone(),
            source,
        })
    });
    if copied.is_err() {
        // Leave no file behind whose bytes the record does not vouch for.
        drop(out);
        let _ = std::fs::remove_file(&path);
    }
    copied?;
    Ok(item.entry(file))
}

/// Streams the item's content to `out`, checking hash and size on the way.
fn copy_verified(
    source: &dyn ContentSource,
    item: &Item,
    out: &mut dyn Write,
    out_path: &Path,
) -> Result<(), ExportError> {
    let mut hashing = Hashing {
        inner: out,
        hasher: Sha256::new(),
        size: 0,
        output_failed: false,
    };
    if let Err(e) = source.write_content(&item.sha256, &mut hashing) {
        return Err(if hashing.output_failed {
            ExportError::Output {
                path: out_path.to_path_buf(),
                source: e,
            }
        } else {
            ExportError::Content {
                seq: item.seq,
                source: e,
            }
        });
    }
    let actual: [u8; 32] = hashing.hasher.finalize().into();
    if actual != item.sha256 || hashing.size != item.size {
        return Err(ExportError::Mismatch {
            seq: item.seq,
            expected: hex::encode(item.sha256),
            expected_size: item.size,
            actual: hex::encode(actual),
            actual_size: hashing.size,
        });
    }
    Ok(())
}

/// Hashes and counts what passes through, noting failures of the output.
struct Hashing<'a> {
    /// Where the bytes go.
    inner: &'a mut dyn Write,
    /// SHA-256 of the bytes so far.
    hasher: Sha256,
    /// Bytes so far.
    size: u64,
    /// Set when `inner` failed, to blame the output and not the archive.
    output_failed: bool,
}

impl Write for Hashing<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self
            .inner
            .write(buf)
            .inspect_err(|_| self.output_failed = true)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner
            .flush()
            .inspect_err(|_| self.output_failed = true)
    }
}

#[cfg(test)]
mod tests;
