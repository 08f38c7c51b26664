//! Message bytes on their way into the archive.
//!
//! A [`Spool`] collects one message as it arrives (from SMTP DATA, an IMAP
//! literal or a file), hashing it on the fly, and moves it from memory to an
//! anonymous temporary file once it grows past a threshold, so memory per
//! connection stays bounded whatever the message size.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Default size above which a spool moves to disk.
pub const DEFAULT_MEMORY_LIMIT: usize = 1024 * 1024;

/// A message being received.
pub struct Spool {
    /// Running hash of everything written so far.
    hasher: Sha256,
    /// Bytes written so far.
    size: u64,
    /// Where the bytes live.
    storage: Storage,
    /// Size at which memory storage spills to a file.
    memory_limit: usize,
    /// Directory for the spill file.
    dir: PathBuf,
}

enum Storage {
    Memory(Vec<u8>),
    File(File),
}

/// A complete message, ready for [`crate::archive::Archive::append`].
pub struct SpooledContent {
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// Length of the bytes.
    pub size: u64,
    storage: Storage,
}

impl Spool {
    /// A spool that spills to `dir` past `memory_limit` bytes.
    pub fn new(dir: &Path, memory_limit: usize) -> Spool {
        Spool {
            hasher: Sha256::new(),
            size: 0,
            storage: Storage::Memory(Vec::new()),
            memory_limit,
            dir: dir.to_path_buf(),
        }
    }

    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        match &mut self.storage {
            Storage::Memory(buf) if buf.len() + bytes.len() <= self.memory_limit => {
                buf.extend_from_slice(bytes);
            }
            Storage::Memory(buf) => {
                let mut file = tempfile::tempfile_in(&self.dir)?;
                file.write_all(buf)?;
                file.write_all(bytes)?;
                self.storage = Storage::File(file);
            }
            Storage::File(file) => file.write_all(bytes)?,
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Ends the message.
    pub fn finish(self) -> SpooledContent {
        SpooledContent {
            sha256: self.hasher.finalize().into(),
            size: self.size,
            storage: self.storage,
        }
    }
}

impl SpooledContent {
    /// Content held in memory (importers, tests).
    pub fn from_bytes(bytes: Vec<u8>) -> SpooledContent {
        SpooledContent {
            sha256: Sha256::digest(&bytes).into(),
            size: bytes.len() as u64,
            storage: Storage::Memory(bytes),
        }
    }

    /// Lowercase hex of the hash.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// A reader over the bytes from the start.
    pub fn reader(&mut self) -> io::Result<Box<dyn Read + Send + '_>> {
        match &mut self.storage {
            Storage::Memory(buf) => Ok(Box::new(&buf[..])),
            Storage::File(file) => {
                file.seek(SeekFrom::Start(0))?;
                Ok(Box::new(io::BufReader::with_capacity(256 * 1024, file)))
            }
        }
    }

    /// The bytes, when they are held in memory.
    pub fn as_memory(&self) -> Option<&[u8]> {
        match &self.storage {
            Storage::Memory(buf) => Some(buf),
            Storage::File(_) => None,
        }
    }

    /// Reads everything into memory (tests and small contents only).
    pub fn to_vec(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.size as usize);
        self.reader()?.read_to_end(&mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_to_disk_and_keeps_bytes_and_hash() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::new(dir.path(), 10);
        spool.write(b"hello ").unwrap();
        assert!(spool.finish().as_memory().is_some());

        let mut spool = Spool::new(dir.path(), 10);
        for _ in 0..100 {
            spool.write(b"0123456789").unwrap();
        }
        let mut content = spool.finish();
        assert!(content.as_memory().is_none());
        let bytes = content.to_vec().unwrap();
        assert_eq!(bytes, b"0123456789".repeat(100));
        assert_eq!(content.sha256, <[u8; 32]>::from(Sha256::digest(&bytes)));
        assert_eq!(content.size, 1000);
    }
}
