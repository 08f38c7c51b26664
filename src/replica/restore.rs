//! Back from the bucket: rebuild an archive directory from one gateway's
//! objects alone (`mailseal restore --from-replica DIR`), and the listing
//! and the segment-by-segment download that `verify --replica` works from.
//!
//! A segment comes from its whole object when there is one, else from its
//! chunks joined from byte 0 without a gap. Every other chunk (a chunk of
//! a segment that later went up whole, or one uploaded again after a
//! crash with more bytes) must agree byte for byte with the rebuilt
//! segment: a chunk that does not is reported, never silently dropped.

use std::collections::BTreeMap;
use std::path::Path;

use super::layout::{self, Object};
use super::s3::S3;
use super::{ReplicaError, upload};
use crate::archive::segment;

/// One gateway's objects in the bucket, by what they are.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Closed segments: number -> object.
    pub segments: BTreeMap<u32, String>,
    /// Chunks: segment -> (start, end, object).
    pub chunks: BTreeMap<u32, Vec<(u64, u64, String)>>,
    /// Public keys: hex -> object.
    pub keys: BTreeMap<String, String>,
    /// Seal objects.
    pub seals: u64,
    /// Time-stamp objects.
    pub timestamps: u64,
    /// Names under the prefix that mailseal does not write.
    pub unknown: Vec<String>,
}

/// What a restore wrote.
#[derive(Debug, Default)]
pub struct Restored {
    /// Segment files written.
    pub segments: u32,
    /// Of those, joined from chunks.
    pub joined: u32,
    /// Bytes written.
    pub bytes: u64,
    /// Public keys written to `public-keys/`.
    pub keys: usize,
    /// Seal objects in the bucket.
    pub seals: u64,
}

/// Lists the objects under `prefix`.
pub async fn inventory(s3: &S3, prefix: &str) -> Result<Inventory, ReplicaError> {
    let mut inv = Inventory::default();
    for o in s3.list(&layout::folder(prefix)).await? {
        match layout::parse(prefix, &o.key) {
            Some(Object::Segment(n)) => {
                inv.segments.insert(n, o.key);
            }
            Some(Object::Chunk {
                segment,
                start,
                end,
            }) => inv
                .chunks
                .entry(segment)
                .or_default()
                .push((start, end, o.key)),
            Some(Object::Seal { .. }) => inv.seals += 1,
            Some(Object::TimeStamp { .. }) => inv.timestamps += 1,
            Some(Object::Key(k)) => {
                inv.keys.insert(k, o.key);
            }
            None => inv.unknown.push(o.key),
        }
    }
    Ok(inv)
}

/// The prefixes under which gateways wrote into the bucket (`--all`).
pub async fn gateways(s3: &S3) -> Result<Vec<String>, ReplicaError> {
    let mut out: Vec<String> = Vec::new();
    for o in s3.list("").await? {
        let prefix = ["segments/", "chunks/", "seals/", "timestamps/", "keys/"]
            .iter()
            .find_map(|kind| {
                if o.key.starts_with(kind) {
                    Some(String::new())
                } else {
                    o.key
                        .find(&format!("/{kind}"))
                        .map(|i| o.key[..i].to_owned())
                }
            });
        if let Some(p) = prefix
            && layout::parse(&p, &o.key).is_some()
            && !out.contains(&p)
        {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Rebuilds the archive of `prefix` in `dest` (which must be empty or
/// absent): `segments/` and `public-keys/<hex>.pem`.
pub async fn restore(s3: &S3, prefix: &str, dest: &Path) -> Result<Restored, ReplicaError> {
    if dest.exists() && std::fs::read_dir(dest)?.next().is_some() {
        return Err(ReplicaError::Local(format!(
            "{} is not empty; restore writes only into an empty or new directory",
            dest.display()
        )));
    }
    let inv = inventory(s3, prefix).await?;
    let last = last_segment(&inv, prefix)?;
    let dir = dest.join("segments");
    std::fs::create_dir_all(&dir)?;
    let mut done = Restored {
        seals: inv.seals,
        ..Restored::default()
    };
    for n in 1..=last {
        let (bytes, joined) = fetch_segment(s3, prefix, &inv, n, &dir).await?;
        done.bytes += bytes;
        done.joined += u32::from(joined);
        done.segments += 1;
    }
    segment::sync_dir(&dir)?;
    let keys = dest.join("public-keys");
    std::fs::create_dir_all(&keys)?;
    for (hex_key, object) in &inv.keys {
        let pem = s3.get(object).await?;
        std::fs::write(keys.join(format!("{hex_key}.pem")), pem)?;
        done.keys += 1;
    }
    Ok(done)
}

/// The newest segment number in the bucket (whole or as chunks).
pub fn last_segment(inv: &Inventory, prefix: &str) -> Result<u32, ReplicaError> {
    inv.segments
        .keys()
        .chain(inv.chunks.keys())
        .max()
        .copied()
        .ok_or_else(|| {
            ReplicaError::Incomplete(format!(
                "no segments or chunks under {:?}",
                layout::folder(prefix)
            ))
        })
}

/// Writes segment `n` into `dir` from its whole object, else from its
/// chunks, and checks that every other chunk of it agrees; returns the
/// bytes written and whether it was joined from chunks.
pub async fn fetch_segment(
    s3: &S3,
    prefix: &str,
    inv: &Inventory,
    n: u32,
    dir: &Path,
) -> Result<(u64, bool), ReplicaError> {
    let path = dir.join(segment::file_name(n));
    let chunks = inv.chunks.get(&n).map(Vec::as_slice).unwrap_or_default();
    let (bytes, used) = if let Some(key) = inv.segments.get(&n) {
        (fetch(s3, key, &path).await?, None)
    } else if chunks.is_empty() {
        return Err(ReplicaError::Incomplete(format!(
            "segment {n} is missing from the bucket (neither {} nor chunks of it)",
            layout::segment(prefix, n)
        )));
    } else {
        let (bytes, used) = join(s3, prefix, n, chunks, &path).await?;
        (bytes, Some(used))
    };
    for (start, end, key) in chunks {
        if used.as_ref().is_some_and(|u: &Vec<String>| u.contains(key)) {
            continue;
        }
        agree(s3, key, &path, *start, *end).await?;
    }
    Ok((bytes, used.is_some()))
}

/// Downloads one object into a new file, durably.
async fn fetch(s3: &S3, key: &str, path: &Path) -> Result<u64, ReplicaError> {
    let mut f = tokio::fs::File::create(path).await?;
    let n = s3.get_into(key, &mut f).await?;
    f.sync_all().await?;
    Ok(n)
}

/// Joins segment `n` from its chunks, from byte 0 without a gap, taking
/// the longest chunk at each position; returns the bytes and the chunks used.
async fn join(
    s3: &S3,
    prefix: &str,
    n: u32,
    chunks: &[(u64, u64, String)],
    path: &Path,
) -> Result<(u64, Vec<String>), ReplicaError> {
    let mut f = tokio::fs::File::create(path).await?;
    let mut pos = 0u64;
    let mut used = Vec::new();
    loop {
        let next = chunks
            .iter()
            .filter(|(s, _, _)| *s == pos)
            .max_by_key(|(_, e, _)| *e);
        let Some((_, end, key)) = next else {
            if let Some((s, _, _)) = chunks
                .iter()
                .filter(|(s, _, _)| *s > pos)
                .min_by_key(|c| c.0)
            {
                return Err(ReplicaError::Incomplete(format!(
                    "segment {n}: bytes {pos}..{s} are missing (no chunk under {} starts at {pos})",
                    layout::folder(prefix)
                )));
            }
            break;
        };
        let got = s3.get_into(key, &mut f).await?;
        if got != end - pos {
            return Err(ReplicaError::Incomplete(format!(
                "{key}: {got} bytes, its name says {}",
                end - pos
            )));
        }
        used.push(key.clone());
        pos = *end;
    }
    f.sync_all().await?;
    Ok((pos, used))
}

/// A chunk not used for the rebuild must hold the same bytes as the
/// rebuilt segment at its place.
async fn agree(s3: &S3, key: &str, path: &Path, start: u64, end: u64) -> Result<(), ReplicaError> {
    let len = std::fs::metadata(path)?.len();
    if end > len {
        return Err(ReplicaError::Incomplete(format!(
            "{key} reaches byte {end}, past the segment's end {len}"
        )));
    }
    let chunk = s3.get(key).await?;
    let ours = upload::sha256_of(path, start, end - start).await?;
    let theirs = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&chunk));
    if ours != theirs || chunk.len() as u64 != end - start {
        return Err(ReplicaError::Incomplete(format!(
            "{key} differs from the segment's bytes {start}..{end}: a chunk verify cannot explain"
        )));
    }
    Ok(())
}

/// A scratch directory for `verify --replica` (removed when dropped):
/// it holds one segment at a time.
pub fn scratch() -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("mailseal-replica-")
        .tempdir()
}
