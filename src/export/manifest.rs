//! The export's manifest (`manifest.json`) and `SHA256SUMS`.
//!
//! Decision: one JSON document rather than JSON Lines, because auditors'
//! tools (jq, any JSON library) read it whole; it is still written as a
//! stream, one message per line inside the `messages` array, so memory does
//! not grow with the export and `grep` works on it. A manifest cut short by
//! an interrupted export is not valid JSON, so it cannot pass for complete.
//!
//! `SHA256SUMS` is in the format of `sha256sum` (`<hex>  <file>`), so
//! `sha256sum -c SHA256SUMS` in the export directory checks every file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ExportError;

/// Version of the manifest layout.
pub const MANIFEST_FORMAT: u32 = 1;

/// What the manifest says about the whole export.
#[derive(Debug, Serialize)]
pub struct ManifestHeader<'a> {
    /// Layout version of this file.
    pub manifest_format: u32,
    /// The program and version that wrote it.
    pub generator: &'a str,
    /// When the export ran (RFC 3339 UTC).
    pub created: String,
    /// `eml` or `mbox`.
    pub export_format: &'a str,
    /// The archive's chain head when the export ran, so every record hash
    /// below can be tied to the chain.
    pub chain_head: Option<ChainHeadJson>,
    /// The latest seal (signed chain head), as the archive describes it.
    pub seal: Option<&'a serde_json::Value>,
}

/// A chain head in the manifest.
#[derive(Debug, Serialize)]
pub struct ChainHeadJson {
    /// Sequence number of the last record.
    pub seq: u64,
    /// Its chain hash, lowercase hex.
    pub hash: String,
}

/// One exported message in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestEntry {
    /// The record's sequence number (its id).
    pub seq: u64,
    /// The record's chain hash, lowercase hex.
    pub record_hash: String,
    /// SHA-256 of the original message bytes, lowercase hex.
    pub sha256: String,
    /// Length of the original message bytes.
    pub size: u64,
    /// When the archive received it (RFC 3339 UTC).
    pub received: String,
    /// The file holding it, relative to the export directory.
    pub file: String,
    /// mbox only: byte offset of its `From ` line in `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// mbox only: false when the message does not end with a newline, so
    /// the mbox holds it with one added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mbox_exact: Option<bool>,
}

/// Totals at the end of the manifest.
#[derive(Debug, Serialize)]
struct Totals {
    /// Messages exported.
    messages: u64,
    /// Sum of their original sizes.
    bytes: u64,
    /// Message records that were purged (format 2.3): no file, only why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    purged: Vec<PurgedEntry>,
}

/// A purged message record the export passed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurgedEntry {
    /// The record's id.
    pub seq: u64,
    /// "purged on DATE under rule R".
    pub purged: String,
}

/// `manifest.json`, written as the export goes.
pub struct ManifestWriter {
    /// Its path, for errors.
    path: PathBuf,
    /// The open file.
    out: BufWriter<File>,
    /// Entries written so far.
    messages: u64,
    /// Sum of their sizes.
    bytes: u64,
    /// Purged records passed over.
    purged: Vec<PurgedEntry>,
}

impl ManifestWriter {
    /// Creates `dir/manifest.json` and writes everything before the entries.
    pub fn create(dir: &Path, header: &ManifestHeader<'_>) -> Result<ManifestWriter, ExportError> {
        let path = dir.join("manifest.json");
        let out = BufWriter::new(create_new(&path)?);
        let mut manifest = ManifestWriter {
            path,
            out,
            messages: 0,
            bytes: 0,
            purged: Vec::new(),
        };
        let head = serde_json::to_string(header).map_err(|e| manifest.error(e.into()))?;
        // Reopen the object to append the array after the header fields.
        let head = head.strip_suffix('}').unwrap_or(&head);
        manifest.write(format!("{head},\"messages\":[").as_bytes())?;
        Ok(manifest)
    }

    /// Adds one message.
    pub fn entry(&mut self, entry: &ManifestEntry) -> Result<(), ExportError> {
        let line = serde_json::to_string(entry).map_err(|e| self.error(e.into()))?;
        let sep = if self.messages == 0 { "\n" } else { ",\n" };
        self.write(format!("{sep}{line}").as_bytes())?;
        self.messages += 1;
        self.bytes += entry.size;
        Ok(())
    }

    /// Notes a purged message record (listed in the totals).
    pub fn purged(&mut self, entry: PurgedEntry) {
        self.purged.push(entry);
    }

    /// Closes the array, writes the totals and syncs the file.
    pub fn finish(mut self) -> Result<(), ExportError> {
        let totals = Totals {
            messages: self.messages,
            bytes: self.bytes,
            purged: std::mem::take(&mut self.purged),
        };
        let totals = serde_json::to_string(&totals).map_err(|e| self.error(e.into()))?;
        self.write(format!("\n],\"totals\":{totals}}}\n").as_bytes())?;
        finish_file(self.out, &self.path)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), ExportError> {
        self.out.write_all(bytes).map_err(|e| self.error(e))
    }

    fn error(&self, source: std::io::Error) -> ExportError {
        ExportError::Output {
            path: self.path.clone(),
            source,
        }
    }
}

/// `SHA256SUMS`, written as the export goes.
pub struct SumsWriter {
    /// Its path, for errors.
    path: PathBuf,
    /// The open file.
    out: BufWriter<File>,
}

impl SumsWriter {
    /// Creates `dir/SHA256SUMS`.
    pub fn create(dir: &Path) -> Result<SumsWriter, ExportError> {
        let path = dir.join("SHA256SUMS");
        let out = BufWriter::new(create_new(&path)?);
        Ok(SumsWriter { path, out })
    }

    /// Adds the line for one file (names are ours: no spaces, no newlines).
    pub fn line(&mut self, sha256_hex: &str, file: &str) -> Result<(), ExportError> {
        writeln!(self.out, "{sha256_hex}  {file}").map_err(|source| ExportError::Output {
            path: self.path.clone(),
            source,
        })
    }

    /// Flushes and syncs the file.
    pub fn finish(self) -> Result<(), ExportError> {
        finish_file(self.out, &self.path)
    }
}

/// Creates a file that must not exist yet: an export never overwrites.
pub fn create_new(path: &Path) -> Result<File, ExportError> {
    File::create_new(path).map_err(|source| ExportError::Output {
        path: path.to_path_buf(),
        source,
    })
}

/// Flushes and fsyncs a finished output file.
pub fn finish_file(out: BufWriter<File>, path: &Path) -> Result<(), ExportError> {
    let error = |source| ExportError::Output {
        path: path.to_path_buf(),
        source,
    };
    let file = out.into_inner().map_err(|e| error(e.into_error()))?;
    file.sync_all().map_err(error)
}
