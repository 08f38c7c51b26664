//! The replicator of one `[[replica]]`: a task in `mailseal run` that
//! follows the archive's durable head and uploads what the bucket lacks.
//!
//! The head (segment and offset past the last frame made durable) comes
//! from the index, which the writer updates after each `fdatasync`; bytes
//! past it are never read, so nothing a crash could cut off (the torn tail
//! of an open segment) ever reaches the bucket. A pass walks from the
//! checkpoint to the head: a segment before the head's segment is closed
//! and goes up whole; the head's segment goes up as one chunk of the bytes
//! since the checkpoint. Seals and time stamps found in those bytes go up
//! as objects of their own (and the seals' keys as key objects), before
//! the checkpoint moves past them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::checkpoint::{self, Checkpoint};
use super::layout;
use super::upload::{self, Done, Source};
use super::{ReplicaError, S3};
use crate::archive::Archive;
use crate::archive::seal::{self, Seal};
use crate::archive::segment::{self, Kind, SegmentReader};
use crate::archive::stamp::TimeStamp;
use crate::config::ReplicaConfig;
use crate::metrics::ReplicaProgress;

/// How often the lag is measured between uploads.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// First wait after a failed pass (doubles, up to `MAX_RETRY`).
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Longest wait between attempts while the bucket fails.
const MAX_RETRY: Duration = Duration::from_secs(60);

/// One replica's state in the daemon.
pub struct Replicator {
    /// The `[[replica]]` block.
    config: ReplicaConfig,
    /// The bucket.
    s3: S3,
    /// The archive (its head and key; segments are read as files).
    archive: Archive,
    /// `<archive>/segments`.
    segments: PathBuf,
    /// The checkpoint file.
    checkpoint_path: PathBuf,
    /// Where the bucket stands.
    checkpoint: Checkpoint,
    /// Since when the bucket has been behind the head (`None`: caught up).
    behind_since: Option<Instant>,
    /// The last failure, shown until a pass succeeds.
    last_error: Option<String>,
}

/// Just the record number of a record frame's JSON.
#[derive(Deserialize)]
struct SeqOnly {
    /// The record's seq.
    seq: u64,
}

impl Replicator {
    /// Reads the checkpoint and makes the bucket's client.
    pub fn new(config: ReplicaConfig, archive: Archive) -> Result<Replicator, ReplicaError> {
        let s3 = super::client(&config)?;
        let dir = archive.options().path.clone();
        let checkpoint_path = checkpoint::path(&dir, &config.name);
        let checkpoint = Checkpoint::load(&checkpoint_path)?;
        Ok(Replicator {
            config,
            s3,
            segments: dir.join("segments"),
            archive,
            checkpoint_path,
            checkpoint,
            behind_since: None,
            last_error: None,
        })
    }

    /// Runs until `token` is cancelled: a pass at start, at every seal, at
    /// every `interval`, and (with back-off) after a failure.
    pub async fn run(mut self, token: CancellationToken) {
        let mut seals = self.archive.seals_watch();
        let mut upload_at = tokio::time::Instant::now();
        let mut retry = FIRST_RETRY;
        let mut status = tokio::time::interval(STATUS_EVERY);
        let mut seals_open = true;
        tracing::info!(replica = %self.config.name, bucket = %self.config.bucket,
            prefix = %self.config.prefix, "replication started");
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                _ = tokio::time::sleep_until(upload_at) => {
                    // A pass cut short loses nothing: the checkpoint only
                    // moves past objects already verified in the bucket.
                    let result = tokio::select! {
                        () = token.cancelled() => return,
                        result = self.pass() => result,
                    };
                    match result {
                        Ok(()) => {
                            retry = FIRST_RETRY;
                            self.last_error = None;
                            upload_at = tokio::time::Instant::now() + self.config.interval;
                        }
                        Err(error) => {
                            tracing::warn!(replica = %self.config.name, %error, "replication pass failed");
                            self.last_error = Some(error.to_string());
                            upload_at = tokio::time::Instant::now() + retry;
                            retry = (retry * 2).min(MAX_RETRY);
                        }
                    }
                    self.report();
                }
                changed = seals.changed(), if seals_open => match changed {
                    Ok(()) if self.last_error.is_none() => upload_at = tokio::time::Instant::now(),
                    Ok(()) => {}
                    Err(_) => seals_open = false,
                },
                _ = status.tick() => self.report(),
            }
        }
    }

    /// Uploads everything between the checkpoint and the durable head.
    pub async fn pass(&mut self) -> Result<(), ReplicaError> {
        let head = self
            .archive
            .reader()
            .head()
            .map_err(|e| ReplicaError::Local(e.to_string()))?;
        self.ensure_key(&hex::encode(self.archive.public_key().as_bytes()))
            .await?;
        while self.checkpoint.segment < head.segment
            || (self.checkpoint.segment == head.segment && self.checkpoint.offset < head.offset)
        {
            let n = self.checkpoint.segment;
            let path = self.segments.join(segment::file_name(n));
            let closed = n < head.segment;
            let end = if closed {
                std::fs::metadata(&path)?.len()
            } else {
                head.offset
            };
            let start = self.checkpoint.offset;
            let found = scan(&self.segments, n, start, end).await?;
            if closed {
                let key = layout::segment(&self.config.prefix, n);
                let source = Source::File {
                    path: path.clone(),
                    offset: 0,
                    len: end,
                };
                self.put(&key, source).await?;
            } else {
                self.put_chunk(n, &path, start, end).await?;
            }
            for (offset, payload) in found.timestamps {
                let t: TimeStamp = serde_json::from_slice(&payload).map_err(|e| {
                    ReplicaError::Local(format!("time stamp in segment {n} at {offset}: {e}"))
                })?;
                let key = layout::timestamp(&self.config.prefix, t.seq, n, offset);
                self.put(&key, Source::Bytes(payload)).await?;
            }
            for (offset, payload) in found.seals {
                let s: Seal = serde_json::from_slice(&payload).map_err(|e| {
                    ReplicaError::Local(format!("seal in segment {n} at {offset}: {e}"))
                })?;
                self.ensure_key(&s.public_key).await?;
                let key = layout::seal(&self.config.prefix, s.seq, n, offset);
                self.put(&key, Source::Bytes(payload)).await?;
            }
            self.checkpoint.seq = found.last_seq.unwrap_or(self.checkpoint.seq);
            if closed {
                self.checkpoint.segment = n + 1;
                self.checkpoint.offset = 0;
            } else {
                self.checkpoint.offset = end;
            }
            self.checkpoint.save(&self.checkpoint_path)?;
        }
        Ok(())
    }

    /// Uploads bytes `start..end` of the open segment `n` as chunks. A
    /// chunk from `start` already in the bucket (an upload the checkpoint
    /// missed before a crash) is checked against the segment and counted.
    async fn put_chunk(
        &mut self,
        n: u32,
        path: &Path,
        mut start: u64,
        end: u64,
    ) -> Result<(), ReplicaError> {
        let prefix = layout::chunks_from(&self.config.prefix, n, start);
        let mut found = self.s3.list(&prefix).await?;
        found.sort_by_key(|l| std::cmp::Reverse(l.size));
        if let Some(there) = found.first() {
            let Some(layout::Object::Chunk { end: e, .. }) =
                layout::parse(&self.config.prefix, &there.key)
            else {
                return Err(ReplicaError::Conflict {
                    key: there.key.clone(),
                    detail: "not a chunk name mailseal writes".to_owned(),
                });
            };
            if e > end {
                return Err(ReplicaError::Conflict {
                    key: there.key.clone(),
                    detail: format!(
                        "the bucket holds bytes up to {e}, the archive's durable end is {end}"
                    ),
                });
            }
            let local = upload::sha256_of(path, start, e - start).await?;
            let info = self.s3.head(&there.key).await?;
            if info.as_ref().and_then(|i| i.sha256.as_deref()) != Some(local.as_str()) {
                return Err(ReplicaError::Conflict {
                    key: there.key.clone(),
                    detail: "its bytes differ from the archive's".to_owned(),
                });
            }
            start = e;
        }
        if start < end {
            let key = layout::chunk(&self.config.prefix, n, start, end);
            let source = Source::File {
                path: path.to_path_buf(),
                offset: start,
                len: end - start,
            };
            self.put(&key, source).await?;
        }
        Ok(())
    }

    async fn ensure_key(&mut self, hex_key: &str) -> Result<(), ReplicaError> {
        if self.checkpoint.keys.iter().any(|k| k == hex_key) {
            return Ok(());
        }
        let Some(key) = crate::archive::keys::parse_key(hex_key) else {
            return Err(ReplicaError::Local(format!(
                "unreadable public key {hex_key}"
            )));
        };
        let name = layout::key(&self.config.prefix, hex_key);
        self.put(&name, Source::Bytes(seal::public_pem(&key).into_bytes()))
            .await?;
        self.checkpoint.keys.push(hex_key.to_owned());
        self.checkpoint.save(&self.checkpoint_path)?;
        Ok(())
    }

    async fn put(&mut self, key: &str, source: Source) -> Result<(), ReplicaError> {
        let len = match &source {
            Source::File { len, .. } => *len,
            Source::Bytes(b) => b.len() as u64,
        };
        let lock = self.config.object_lock.header().map(|mode| {
            let until =
                chrono::Utc::now() + chrono::Duration::days(i64::from(self.config.retain_days));
            (mode, until.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        });
        let done = upload::ensure(&self.s3, key, source, lock).await?;
        tracing::debug!(replica = %self.config.name, key, len, ?done, "object replicated");
        if done == Done::Uploaded {
            self.checkpoint.objects += 1;
            self.checkpoint.bytes += len;
        }
        Ok(())
    }

    /// Measures the lag and hands it to `/metrics` and `/healthz`.
    fn report(&mut self) {
        let Ok(head) = self.archive.reader().head() else {
            return;
        };
        let c = &self.checkpoint;
        let lag_bytes = if c.segment > head.segment {
            0
        } else if c.segment == head.segment {
            head.offset.saturating_sub(c.offset)
        } else {
            let mut bytes = 0u64;
            for n in c.segment..head.segment {
                let len = std::fs::metadata(self.segments.join(segment::file_name(n)))
                    .map(|m| m.len())
                    .unwrap_or(0);
                bytes += if n == c.segment {
                    len.saturating_sub(c.offset)
                } else {
                    len
                };
            }
            bytes + head.offset
        };
        let behind = lag_bytes > 0;
        if !behind {
            self.behind_since = None;
        } else if self.behind_since.is_none() {
            self.behind_since = Some(Instant::now());
        }
        let lag_seconds = self.behind_since.map_or(0, |t| t.elapsed().as_secs());
        crate::metrics::replica_progress(
            &self.config.name,
            &ReplicaProgress {
                replicated_seq: c.seq,
                head_seq: head.seq,
                lag_bytes,
                lag_seconds,
                max_lag: self.config.max_lag,
                objects: c.objects,
                bytes: c.bytes,
                error: self.last_error.clone(),
            },
        );
    }
}

/// What a byte range of a segment holds that replication cares about.
struct Found {
    /// Seal frames: offset and payload.
    seals: Vec<(u64, Vec<u8>)>,
    /// Time-stamp frames: offset and payload.
    timestamps: Vec<(u64, Vec<u8>)>,
    /// The seq of the range's last record.
    last_seq: Option<u64>,
}

/// Reads the frames of segment `n` between `start` (a frame boundary, or 0
/// for the segment's start) and `end`.
async fn scan(dir: &Path, n: u32, start: u64, end: u64) -> Result<Found, ReplicaError> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || -> Result<Found, ReplicaError> {
        let local = |e: segment::SegmentError| ReplicaError::Local(e.to_string());
        let mut r = SegmentReader::open(&dir, n).map_err(local)?;
        if start > r.position() {
            r.seek(start);
        }
        let mut found = Found {
            seals: Vec::new(),
            timestamps: Vec::new(),
            last_seq: None,
        };
        while r.position() < end {
            let Some(fh) = r.next_header().map_err(local)? else {
                break;
            };
            match fh.kind {
                Kind::Seal => found
                    .seals
                    .push((fh.at.offset, r.read_payload(&fh).map_err(local)?)),
                Kind::TimeStamp => found
                    .timestamps
                    .push((fh.at.offset, r.read_payload(&fh).map_err(local)?)),
                Kind::Record => {
                    let payload = r.read_payload(&fh).map_err(local)?;
                    if let Some(json) = payload.get(32..)
                        && let Ok(s) = serde_json::from_slice::<SeqOnly>(json)
                    {
                        found.last_seq = Some(s.seq);
                    }
                }
                _ => {}
            }
        }
        Ok(found)
    })
    .await
    .map_err(|e| ReplicaError::Local(e.to_string()))?
}
