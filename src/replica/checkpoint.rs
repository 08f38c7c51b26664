//! The replication checkpoint: how far one replica has verified uploads,
//! kept in `<archive>/replica/<name>.json` so a restart resumes there
//! instead of uploading again. Written atomically (temporary file, fsync,
//! rename, fsync of the folder): after a crash it holds either the old or
//! the new position, never a torn one, and the old one only means some
//! objects are found present (same checksum) and counted as done.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where one replica stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Segment of the next byte to upload.
    pub segment: u32,
    /// Offset of the next byte to upload in that segment: every byte
    /// before it is in the bucket, verified (whole segment or chunks).
    pub offset: u64,
    /// The last record in the bucket (0: none).
    pub seq: u64,
    /// Public keys (hex) uploaded so far.
    pub keys: Vec<String>,
    /// Objects uploaded (and verified) by this gateway so far.
    pub objects: u64,
    /// Bytes of those objects.
    pub bytes: u64,
}

impl Default for Checkpoint {
    fn default() -> Checkpoint {
        Checkpoint {
            segment: 1,
            offset: 0,
            seq: 0,
            keys: Vec::new(),
            objects: 0,
            bytes: 0,
        }
    }
}

/// The checkpoint file of replica `name` in `archive`.
pub fn path(archive: &Path, name: &str) -> PathBuf {
    archive.join("replica").join(format!("{name}.json"))
}

impl Checkpoint {
    /// Reads the checkpoint; a missing file is the start.
    pub fn load(path: &Path) -> std::io::Result<Checkpoint> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Checkpoint::default()),
            Err(e) => Err(e),
        }
    }

    /// Writes the checkpoint atomically and durably.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_default() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path(), "off-site");
        assert_eq!(Checkpoint::load(&p).unwrap(), Checkpoint::default());
        let c = Checkpoint {
            segment: 3,
            offset: 4096,
            seq: 17,
            keys: vec!["ab".into()],
            objects: 9,
            bytes: 12345,
        };
        c.save(&p).unwrap();
        assert_eq!(Checkpoint::load(&p).unwrap(), c);
        std::fs::write(&p, b"{broken").unwrap();
        assert!(Checkpoint::load(&p).is_err());
    }
}
