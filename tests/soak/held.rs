//! What the archive holds after the run, read through the library
//! (`mailseal::archive::reader`) with the daemon stopped: every message
//! record's source and content hash, and whether each content reads back
//! with the bytes its hash names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use mailseal::archive::ArchiveOptions;
use mailseal::archive::reader::Reader;

use super::message::sha256;

/// The archive's messages by content.
#[derive(Debug, Default)]
pub struct Held {
    /// Records of any kind (messages and upstream outcomes).
    pub records: u64,
    /// Message records.
    pub messages: u64,
    /// Message records purged (their contents are not read).
    pub purged: u64,
    /// Content SHA-256 to the source kinds of the records naming it.
    pub by_sha: BTreeMap<String, BTreeSet<String>>,
    /// Contents whose bytes did not read back to their hash (with why).
    pub damaged: BTreeMap<String, String>,
}

impl Held {
    /// True when a record of `kind` holds `sha` and its bytes are intact.
    pub fn intact(&self, sha: &str, kind: &str) -> bool {
        let named = self.by_sha.get(sha).is_some_and(|k| k.contains(kind));
        named && !self.damaged.contains_key(sha)
    }
}

/// Reads every record and every content of the archive in `dir`.
pub fn read(dir: &Path) -> Held {
    let reader = Reader::open(&ArchiveOptions::at(dir)).unwrap();
    let mut held = Held::default();
    for s in reader.summaries().unwrap() {
        held.records += 1;
        let Some(kind) = s.source_kind else {
            continue;
        };
        held.messages += 1;
        if s.purged.is_some() {
            held.purged += 1;
            continue;
        }
        let kinds = held.by_sha.entry(s.sha256.clone()).or_default();
        kinds.insert(kind.as_str().to_owned());
    }
    for sha in held.by_sha.keys() {
        let mut bytes = Vec::new();
        let problem = match reader.write_content(sha, &mut bytes) {
            Err(e) => Some(e.to_string()),
            Ok(_) if sha256(&bytes) != *sha => Some(format!("{} bytes, other hash", bytes.len())),
            Ok(_) => None,
        };
        if let Some(p) = problem {
            held.damaged.insert(sha.clone(), p);
        }
    }
    held
}
