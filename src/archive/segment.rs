//! Segment files: the archive's source of truth.
//!
//! A segment is `segments/NNNNNNNNNNNN.seg`: a 16-byte header followed by
//! frames. Each frame is `kind (1) | payload length (u64 BE) | payload |
//! CRC-32 (u32 BE) over kind, length and payload`. The CRC only tells a torn
//! write (power loss mid-append) from a complete frame; integrity against
//! tampering comes from the SHA-256 hashes inside the payloads and the chain.
//! The exact layout is in `docs/archive-format.md`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// First 8 bytes of every segment file.
pub const MAGIC: &[u8; 8] = b"MAILSEAL";
/// Segment format version written by this build. Version 2 adds the
/// time-stamp frame (`T`); version-1 segments stay readable.
pub const SEGMENT_FORMAT: u32 = 2;
/// The oldest segment version this build reads.
pub const OLDEST_SEGMENT_FORMAT: u32 = 1;
/// Size of the segment header.
pub const HEADER_LEN: u64 = 16;
/// Bytes of a frame around its payload (kind, length, CRC).
pub const FRAME_OVERHEAD: u64 = 13;
/// Largest payload a reader accepts; protects against absurd lengths in a
/// corrupted file (a single message is far smaller).
pub const MAX_PAYLOAD: u64 = 1 << 40;

/// Frame kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Message content: `sha256 | size u64 | codec u8 | data`.
    Content,
    /// A chain record: `hash | record JSON`.
    Record,
    /// A signed chain head: seal JSON.
    Seal,
    /// An RFC 3161 time stamp of a seal (segment version 2).
    TimeStamp,
    /// Encrypted message content (segment version 2, format 2.3):
    /// `sha256 | size u64 | codec u8 | cipher u8 | slot u64 |
    /// ciphertext sha256 | ciphertext`.
    Encrypted,
}

impl Kind {
    /// The byte on disk.
    pub fn byte(self) -> u8 {
        match self {
            Kind::Content => b'C',
            Kind::Record => b'R',
            Kind::Seal => b'S',
            Kind::TimeStamp => b'T',
            Kind::Encrypted => b'E',
        }
    }

    /// The kind a byte names in a segment of `version`.
    fn from_byte(b: u8, version: u32) -> Option<Kind> {
        match b {
            b'C' => Some(Kind::Content),
            b'R' => Some(Kind::Record),
            b'S' => Some(Kind::Seal),
            b'T' if version >= 2 => Some(Kind::TimeStamp),
            b'E' if version >= 2 => Some(Kind::Encrypted),
            _ => None,
        }
    }
}

/// Where a frame lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Segment number.
    pub segment: u32,
    /// Offset of the frame's first byte in the segment file.
    pub offset: u64,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "segment {} offset {}", self.segment, self.offset)
    }
}

/// A frame header as read from disk.
#[derive(Debug, Clone, Copy)]
pub struct FrameHeader {
    /// What the payload holds.
    pub kind: Kind,
    /// Where the frame starts.
    pub at: Location,
    /// Payload length.
    pub len: u64,
}

impl FrameHeader {
    /// Offset of the payload's first byte.
    pub fn payload_offset(&self) -> u64 {
        self.at.offset + 9
    }

    /// Offset just past the frame.
    pub fn end(&self) -> u64 {
        self.at.offset + FRAME_OVERHEAD + self.len
    }
}

/// Problems a reader finds in a segment.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The segment file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The header is not a mailseal segment header.
    #[error("{path}: not a mailseal segment (bad header)")]
    BadHeader {
        /// The segment file.
        path: PathBuf,
    },
    /// The segment was written by a newer mailseal.
    #[error(
        "{path}: segment format version {version} is newer than this mailseal reads ({SEGMENT_FORMAT})"
    )]
    UnsupportedVersion {
        /// The segment file.
        path: PathBuf,
        /// The version in its header.
        version: u32,
    },
    /// A frame is incomplete at the end of the file.
    #[error("{at}: incomplete frame at end of segment ({have} of {need} bytes)")]
    Torn {
        /// Where the frame starts.
        at: Location,
        /// Bytes present from the frame start to the end of the file.
        have: u64,
        /// Bytes the frame needs.
        need: u64,
    },
    /// The content is encrypted and its key was destroyed: the message
    /// was purged (format 2.3).
    #[error("{at}: content purged (its key was destroyed)")]
    Purged {
        /// Where the content frame starts.
        at: Location,
    },
    /// The content is encrypted and no key store is at hand (a copy of the
    /// archive without the master key).
    #[error("{at}: content encrypted and no master key given")]
    Locked {
        /// Where the content frame starts.
        at: Location,
    },
    /// A frame's bytes are damaged.
    #[error("{at}: damaged frame ({what})")]
    Damaged {
        /// Where the frame starts.
        at: Location,
        /// What is wrong.
        what: String,
    },
}

/// File name of segment `n`.
pub fn file_name(n: u32) -> String {
    format!("{n:012}.seg")
}

/// Segment numbers present in `dir`, ascending.
pub fn list(dir: &Path) -> io::Result<Vec<u32>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(num) = name.strip_suffix(".seg")
            && num.len() == 12
            && let Ok(n) = num.parse::<u32>()
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The 16-byte header of segment `n` as this build writes it.
pub fn header(n: u32) -> [u8; 16] {
    header_of(n, SEGMENT_FORMAT)
}

/// The 16-byte header of segment `n` in format `version`.
pub fn header_of(n: u32, version: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&version.to_be_bytes());
    h[12..16].copy_from_slice(&n.to_be_bytes());
    h
}

/// The format version of segment `n` in `dir` (its header), or `None`
/// when the file is absent or too short to have a header.
pub fn version_of(dir: &Path, n: u32) -> io::Result<Option<u32>> {
    let mut h = [0u8; 16];
    match File::open(dir.join(file_name(n))) {
        Ok(mut f) => match f.read_exact(&mut h) {
            Ok(()) => Ok(Some(u32::from_be_bytes([h[8], h[9], h[10], h[11]]))),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Encodes a frame's leading bytes (kind and length).
pub fn frame_head(kind: Kind, len: u64) -> [u8; 9] {
    let mut h = [0u8; 9];
    h[0] = kind.byte();
    h[1..].copy_from_slice(&len.to_be_bytes());
    h
}

/// Reads frames of one segment in order.
pub struct SegmentReader {
    file: File,
    path: PathBuf,
    number: u32,
    /// The segment's format version (from its header).
    version: u32,
    pos: u64,
    len: u64,
}

impl SegmentReader {
    /// Opens segment `n` in `dir` and checks its header.
    pub fn open(dir: &Path, n: u32) -> Result<SegmentReader, SegmentError> {
        let path = dir.join(file_name(n));
        let io_err = |source| SegmentError::Io {
            path: path.clone(),
            source,
        };
        let mut file = File::open(&path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        let mut h = [0u8; 16];
        if len < HEADER_LEN || file.read_exact(&mut h).is_err() {
            return Err(SegmentError::BadHeader { path });
        }
        let version = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
        if version > SEGMENT_FORMAT && h == header_of(n, version) {
            return Err(SegmentError::UnsupportedVersion { path, version });
        }
        if version < OLDEST_SEGMENT_FORMAT || h != header_of(n, version) {
            return Err(SegmentError::BadHeader { path });
        }
        Ok(SegmentReader {
            file,
            path,
            number: n,
            version,
            pos: HEADER_LEN,
            len,
        })
    }

    /// The segment's format version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The segment's file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The segment number.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The file length when opened.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the segment holds no frames.
    pub fn is_empty(&self) -> bool {
        self.len <= HEADER_LEN
    }

    /// Offset of the next frame.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Continues reading at `offset` (a frame boundary from the index).
    pub fn seek(&mut self, offset: u64) {
        self.pos = offset;
    }

    fn io(&self, source: io::Error) -> SegmentError {
        SegmentError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Reads the next frame header, leaving the payload unread.
    /// `Ok(None)` at the clean end of the segment.
    pub fn next_header(&mut self) -> Result<Option<FrameHeader>, SegmentError> {
        if self.pos == self.len {
            return Ok(None);
        }
        let at = Location {
            segment: self.number,
            offset: self.pos,
        };
        let have = self.len.saturating_sub(self.pos);
        if have < FRAME_OVERHEAD {
            return Err(SegmentError::Torn {
                at,
                have,
                need: FRAME_OVERHEAD,
            });
        }
        let mut h = [0u8; 9];
        self.file
            .seek(SeekFrom::Start(self.pos))
            .map_err(|e| self.io(e))?;
        self.file.read_exact(&mut h).map_err(|e| self.io(e))?;
        let Some(kind) = Kind::from_byte(h[0], self.version) else {
            return Err(SegmentError::Damaged {
                at,
                what: format!("unknown frame kind 0x{:02x}", h[0]),
            });
        };
        let mut lb = [0u8; 8];
        lb.copy_from_slice(&h[1..]);
        let len = u64::from_be_bytes(lb);
        if len > MAX_PAYLOAD {
            return Err(SegmentError::Damaged {
                at,
                what: format!("payload length {len} is absurd"),
            });
        }
        let need = FRAME_OVERHEAD + len;
        if have < need {
            return Err(SegmentError::Torn { at, have, need });
        }
        let fh = FrameHeader { kind, at, len };
        self.pos = fh.end();
        Ok(Some(fh))
    }

    /// Reads a frame's whole payload and checks its CRC.
    pub fn read_payload(&mut self, fh: &FrameHeader) -> Result<Vec<u8>, SegmentError> {
        let len = usize::try_from(fh.len).map_err(|_| SegmentError::Damaged {
            at: fh.at,
            what: "payload too large".into(),
        })?;
        let mut buf = vec![0u8; len];
        self.file
            .seek(SeekFrom::Start(fh.payload_offset()))
            .map_err(|e| self.io(e))?;
        self.file.read_exact(&mut buf).map_err(|e| self.io(e))?;
        let mut crc = [0u8; 4];
        self.file.read_exact(&mut crc).map_err(|e| self.io(e))?;
        let mut h = crc32fast::Hasher::new();
        h.update(&frame_head(fh.kind, fh.len));
        h.update(&buf);
        if h.finalize() != u32::from_be_bytes(crc) {
            return Err(SegmentError::Damaged {
                at: fh.at,
                what: "frame checksum mismatch".into(),
            });
        }
        Ok(buf)
    }

    /// A reader over a frame's payload that checks the CRC when fully read.
    pub fn payload_reader(&mut self, fh: &FrameHeader) -> Result<PayloadReader<'_>, SegmentError> {
        self.file
            .seek(SeekFrom::Start(fh.payload_offset()))
            .map_err(|e| self.io(e))?;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&frame_head(fh.kind, fh.len));
        Ok(PayloadReader {
            inner: io::BufReader::with_capacity(256 * 1024, &mut self.file),
            left: fh.len,
            crc,
            at: fh.at,
        })
    }
}

/// Streams one payload; after the last byte, [`PayloadReader::finish`]
/// checks the frame CRC.
pub struct PayloadReader<'a> {
    inner: io::BufReader<&'a mut File>,
    left: u64,
    crc: crc32fast::Hasher,
    at: Location,
}

impl Read for PayloadReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "segment ends inside a frame",
            ));
        }
        self.crc.update(&buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

impl PayloadReader<'_> {
    /// Reads what is left and checks the frame CRC.
    pub fn finish(mut self) -> Result<(), SegmentError> {
        let at = self.at;
        let damaged = |what: String| SegmentError::Damaged { at, what };
        io::copy(&mut self, &mut io::sink()).map_err(|e| damaged(e.to_string()))?;
        let mut crc = [0u8; 4];
        self.inner
            .read_exact(&mut crc)
            .map_err(|e| damaged(e.to_string()))?;
        if self.crc.clone().finalize() != u32::from_be_bytes(crc) {
            return Err(damaged("frame checksum mismatch".into()));
        }
        Ok(())
    }
}

/// Opens segment `n` for appending, creating it with its header if new.
/// Returns the file and its length.
pub fn open_for_append(dir: &Path, n: u32) -> io::Result<(File, u64)> {
    let path = dir.join(file_name(n));
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    let mut len = file.metadata()?.len();
    if len == 0 {
        use std::io::Write;
        file.write_all(&header(n))?;
        file.sync_all()?;
        sync_dir(dir)?;
        len = HEADER_LEN;
    }
    file.seek(SeekFrom::Start(len))?;
    Ok((file, len))
}

/// Makes a directory entry change (new or renamed file) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
