//! Off-box copies: the archive's segments, seals and public keys in S3
//! buckets with Object Lock (`[[replica]]`), and the way back from them.
//!
//! The replicator (`replicator`) runs in `mailseal run` behind the archive:
//! it reads the segment files up to the durable head the index reports and
//! never touches the writer, so ingest never waits for it. Closed segments
//! go up whole, the open segment's new bytes as immutable numbered chunks
//! (at every seal and at `interval`), seals and keys as their own objects
//! (`layout`). Every upload is verified (`upload`) and recorded in a local
//! checkpoint (`checkpoint`); nothing in a bucket is ever deleted or
//! overwritten. `restore` rebuilds an archive directory from a bucket
//! alone; `verify --replica` verifies such a rebuild with the one verifier
//! (`archive::verify`).
//!
//! Layers: uses `archive`, `config`, `metrics`, `tls`; used by `cli`.

pub mod checkpoint;
pub mod layout;
mod listing;
pub mod replicator;
pub mod restore;
pub mod s3;
pub mod upload;
mod xml;

use crate::config::ReplicaConfig;

pub use s3::{S3, S3Error};

/// Errors of replication and restore.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// The bucket refused or could not be reached.
    #[error(transparent)]
    S3(#[from] S3Error),
    /// An object with other bytes already has the name mailseal needs; it
    /// is left as it is and replication stops there.
    #[error("{key} already exists with different content: {detail}")]
    Conflict {
        /// The object.
        key: String,
        /// Sizes and checksums of both sides.
        detail: String,
    },
    /// The bucket does not report what was uploaded.
    #[error("{key} failed verification after upload: {detail}")]
    Verify {
        /// The object.
        key: String,
        /// What differed.
        detail: String,
    },
    /// Reading the archive or writing the checkpoint failed.
    #[error("{0}")]
    Local(String),
    /// The bucket's objects do not make a complete archive.
    #[error("{0}")]
    Incomplete(String),
}

impl From<std::io::Error> for ReplicaError {
    fn from(e: std::io::Error) -> ReplicaError {
        ReplicaError::Local(e.to_string())
    }
}

/// The access key and secret for `config`: `ACCESS_KEY:SECRET` from the
/// credentials file, else `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
pub fn credentials(config: &ReplicaConfig) -> Result<(String, String), ReplicaError> {
    let (key, secret) = match &config.credentials_file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| ReplicaError::Local(format!("{}: {e}", f.display())))?;
            let line = text.lines().next().unwrap_or_default().trim();
            let (k, s) = line.split_once(':').ok_or_else(|| {
                ReplicaError::Local(format!(
                    "{}: expected ACCESS_KEY:SECRET on the first line",
                    f.display()
                ))
            })?;
            (k.to_owned(), s.to_owned())
        }
        None => (
            std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default(),
            std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
        ),
    };
    if key.is_empty() || secret.is_empty() {
        return Err(ReplicaError::Local(format!(
            "replica {}: no credentials (credentials_file, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
            config.name
        )));
    }
    Ok((key, secret))
}

/// A client for the replica's bucket.
pub fn client(config: &ReplicaConfig) -> Result<S3, ReplicaError> {
    Ok(S3::new(
        &config.endpoint,
        &config.region,
        &config.bucket,
        config.path_style,
        config.ca_file.as_deref(),
        credentials(config)?,
    )?)
}
