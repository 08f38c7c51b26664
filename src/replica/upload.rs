//! One object up, verified, never over something else: hash the bytes,
//! HEAD the name, PUT only when nothing is there, HEAD again and compare
//! size, ETag (MD5) and the SHA-256 kept in the metadata.

use std::path::{Path, PathBuf};

use md5::Digest as _;

use super::ReplicaError;
use super::s3::{PutHeaders, S3};

/// The bytes of one object.
pub enum Source {
    /// `len` bytes of a file from `offset` (segments, chunks).
    File {
        /// The segment file.
        path: PathBuf,
        /// First byte.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
    /// Bytes in memory (seals, keys).
    Bytes(Vec<u8>),
}

impl Source {
    fn len(&self) -> u64 {
        match self {
            Source::File { len, .. } => *len,
            Source::Bytes(b) => b.len() as u64,
        }
    }
}

/// MD5 and SHA-256 of a byte range of a file.
pub fn hash_file(path: &Path, offset: u64, len: u64) -> std::io::Result<([u8; 16], [u8; 32])> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut md5 = md5::Md5::new();
    let mut sha = sha2::Sha256::new();
    let mut left = len;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        f.read_exact(&mut buf[..n])?;
        md5.update(&buf[..n]);
        sha.update(&buf[..n]);
        left -= n as u64;
    }
    Ok((md5.finalize().into(), sha.finalize().into()))
}

fn hash_bytes(b: &[u8]) -> ([u8; 16], [u8; 32]) {
    (md5::Md5::digest(b).into(), sha2::Sha256::digest(b).into())
}

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Uploaded now, and verified.
    Uploaded,
    /// Already there with the same bytes (an upload before a restart).
    Present,
}

/// Puts `source` at `key` unless the same bytes are there already; an
/// object with other bytes under the name is an error and stays as it is.
pub async fn ensure(
    s3: &S3,
    key: &str,
    source: Source,
    lock: Option<(&'static str, String)>,
) -> Result<Done, ReplicaError> {
    let len = source.len();
    let (md5, sha256) = match &source {
        Source::File { path, offset, len } => {
            let (path, offset, len) = (path.clone(), *offset, *len);
            tokio::task::spawn_blocking(move || hash_file(&path, offset, len))
                .await
                .map_err(|e| ReplicaError::Local(e.to_string()))??
        }
        Source::Bytes(b) => hash_bytes(b),
    };
    let sha_hex = hex::encode(sha256);
    if let Some(there) = s3.head(key).await? {
        if there.size == len && there.sha256.as_deref() == Some(sha_hex.as_str()) {
            return Ok(Done::Present);
        }
        return Err(ReplicaError::Conflict {
            key: key.to_owned(),
            detail: format!(
                "the bucket holds {} bytes (sha256 {}), the archive {len} bytes (sha256 {sha_hex})",
                there.size,
                there.sha256.as_deref().unwrap_or("unknown")
            ),
        });
    }
    let headers = PutHeaders { md5, sha256, lock };
    match source {
        Source::File { path, offset, len } => {
            s3.put_file(key, &path, offset, len, &headers).await?
        }
        Source::Bytes(b) => s3.put_bytes(key, b, &headers).await?,
    }
    let Some(got) = s3.head(key).await? else {
        return Err(ReplicaError::Verify {
            key: key.to_owned(),
            detail: "not found right after its upload".to_owned(),
        });
    };
    let md5_hex = hex::encode(md5);
    if got.size != len || got.etag != md5_hex || got.sha256.as_deref() != Some(sha_hex.as_str()) {
        return Err(ReplicaError::Verify {
            key: key.to_owned(),
            detail: format!(
                "uploaded {len} bytes md5 {md5_hex}, the bucket reports {} bytes etag {}",
                got.size, got.etag
            ),
        });
    }
    Ok(Done::Uploaded)
}

/// The SHA-256 hex of a file range (to compare with an object found in
/// the bucket).
pub async fn sha256_of(path: &Path, offset: u64, len: u64) -> Result<String, ReplicaError> {
    let path = path.to_path_buf();
    let (_, sha) = tokio::task::spawn_blocking(move || hash_file(&path, offset, len))
        .await
        .map_err(|e| ReplicaError::Local(e.to_string()))??;
    Ok(hex::encode(sha))
}
