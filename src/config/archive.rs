//! The `[archive]` section: where the sealed archive lives and how it is
//! written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::check;
use super::problem::{At, Problems};
use super::value::{self, MIB};

const DEFAULT_PATH: &str = "./data";
const DEFAULT_COMPRESSION_LEVEL: i32 = 3;
const DEFAULT_SEAL_INTERVAL: Duration = Duration::from_secs(5 * 60);
const DEFAULT_SEGMENT_MAX_BYTES: u64 = 1024 * MIB;
const DEFAULT_SPOOL_MEMORY_LIMIT: usize = MIB as usize;

/// How message content is compressed in segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// zstd at `compression_level`.
    Zstd,
    /// Stored as received.
    None,
}

/// `[archive]` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawArchive {
    /// Directory of segments, index and seals.
    #[serde(default = "default_path")]
    path: PathBuf,
    /// Ed25519 sealing key; default `<path>/seal.key`.
    #[serde(default)]
    key_file: Option<PathBuf>,
    /// Encrypt every new content and record's personal fields, each under
    /// a key of its own (format 2.3); default on.
    #[serde(default = "default_encrypt")]
    encrypt: bool,
    /// The master key that wraps the data keys; default `<path>/master.key`.
    #[serde(default)]
    master_key_file: Option<PathBuf>,
    /// `zstd` or `none`.
    #[serde(default = "default_compression")]
    compression: Compression,
    /// zstd level.
    #[serde(default = "default_compression_level")]
    compression_level: i32,
    /// How often the chain head is sealed.
    #[serde(
        default = "default_seal_interval",
        deserialize_with = "value::duration"
    )]
    seal_interval: Duration,
    /// Size at which a segment file is closed, in bytes.
    #[serde(default = "default_segment_max_bytes")]
    segment_max_bytes: u64,
    /// Bytes of one message held in memory before spilling to disk.
    #[serde(default = "default_spool_memory_limit")]
    spool_memory_limit: usize,
    /// Directory for spilled messages; default `<path>/spool`.
    #[serde(default)]
    spool_dir: Option<PathBuf>,
    /// The organisation's own mail domains (search `direction:`, web,
    /// retention).
    #[serde(default)]
    local_domains: Vec<String>,
}

fn default_path() -> PathBuf {
    PathBuf::from(DEFAULT_PATH)
}
fn default_encrypt() -> bool {
    true
}

fn default_compression() -> Compression {
    Compression::Zstd
}
fn default_compression_level() -> i32 {
    DEFAULT_COMPRESSION_LEVEL
}
fn default_seal_interval() -> Duration {
    DEFAULT_SEAL_INTERVAL
}
fn default_segment_max_bytes() -> u64 {
    DEFAULT_SEGMENT_MAX_BYTES
}
fn default_spool_memory_limit() -> usize {
    DEFAULT_SPOOL_MEMORY_LIMIT
}

impl Default for RawArchive {
    /// A missing `[archive]` section: every field at its default.
    fn default() -> Self {
        RawArchive {
            path: default_path(),
            key_file: None,
            encrypt: default_encrypt(),
            master_key_file: None,
            compression: default_compression(),
            compression_level: default_compression_level(),
            seal_interval: default_seal_interval(),
            segment_max_bytes: default_segment_max_bytes(),
            spool_memory_limit: default_spool_memory_limit(),
            spool_dir: None,
            local_domains: Vec::new(),
        }
    }
}

/// The `[archive]` section, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveConfig {
    /// Directory holding segments, index and seals.
    pub path: PathBuf,
    /// The appliance's Ed25519 sealing key (created on first start).
    pub key_file: PathBuf,
    /// New contents and personal record fields are encrypted (format 2.3).
    pub encrypt: bool,
    /// The master key wrapping the key store's data keys.
    pub master_key_file: PathBuf,
    /// How message content is compressed in segments.
    pub compression: Compression,
    /// zstd level when `compression` is zstd.
    pub compression_level: i32,
    /// How often the chain head is sealed.
    pub seal_interval: Duration,
    /// A segment file is closed and a new one started past this size.
    pub segment_max_bytes: u64,
    /// Bytes of one message kept in memory before it spills to disk.
    pub spool_memory_limit: usize,
    /// Where spilled messages are written.
    pub spool_dir: PathBuf,
    /// The organisation's own mail domains, lowercase, without a trailing
    /// dot; their subdomains count too. Messages are inbound, outbound or
    /// internal relative to them.
    pub local_domains: Vec<String>,
}

impl ArchiveConfig {
    /// Defaults for an archive at `path` (tests and tools).
    pub fn at(path: &Path) -> ArchiveConfig {
        ArchiveConfig {
            path: path.to_path_buf(),
            key_file: path.join("seal.key"),
            encrypt: true,
            master_key_file: path.join("master.key"),
            compression: Compression::Zstd,
            compression_level: DEFAULT_COMPRESSION_LEVEL,
            seal_interval: DEFAULT_SEAL_INTERVAL,
            segment_max_bytes: DEFAULT_SEGMENT_MAX_BYTES,
            spool_memory_limit: DEFAULT_SPOOL_MEMORY_LIMIT,
            spool_dir: path.join("spool"),
            local_domains: Vec::new(),
        }
    }
}

impl RawArchive {
    /// Validates and fills path-derived defaults.
    pub(crate) fn validate(self, p: &mut Problems) -> Option<ArchiveConfig> {
        let at = At::section("archive", None);
        if self.path.as_os_str().is_empty() {
            p.push(at.key("path"), "must not be empty");
        }
        let levels = zstd::compression_level_range();
        let level_ok =
            self.compression == Compression::None || levels.contains(&self.compression_level);
        if !level_ok {
            p.push(
                at.key("compression_level"),
                format!(
                    "zstd level {} is outside {}..={}",
                    self.compression_level,
                    levels.start(),
                    levels.end()
                ),
            );
        }
        let seal_interval = check::nonzero(p, at.key("seal_interval"), self.seal_interval);
        let segment_max_bytes =
            check::positive(p, at.key("segment_max_bytes"), self.segment_max_bytes);
        let spool_memory_limit =
            check::positive(p, at.key("spool_memory_limit"), self.spool_memory_limit);
        let mut local_domains = Vec::new();
        let mut bad = Vec::new();
        for d in &self.local_domains {
            let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
            let valid = !d.is_empty()
                && d.split('.').all(|label| {
                    !label.is_empty()
                        && !label.starts_with('-')
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if valid {
                local_domains.push(d);
            } else {
                bad.push(format!("{d:?}"));
            }
        }
        if !bad.is_empty() {
            p.push(
                at.key("local_domains"),
                format!(
                    "not domain names (like \"example.com\"): {}",
                    bad.join(", ")
                ),
            );
        }
        if self.path.as_os_str().is_empty() || !level_ok {
            return None;
        }
        Some(ArchiveConfig {
            key_file: self.key_file.unwrap_or_else(|| self.path.join("seal.key")),
            encrypt: self.encrypt,
            master_key_file: self
                .master_key_file
                .unwrap_or_else(|| self.path.join("master.key")),
            spool_dir: self.spool_dir.unwrap_or_else(|| self.path.join("spool")),
            path: self.path,
            compression: self.compression,
            compression_level: self.compression_level,
            seal_interval: seal_interval?,
            segment_max_bytes: segment_max_bytes?,
            spool_memory_limit: spool_memory_limit?,
            local_domains,
        })
    }
}
