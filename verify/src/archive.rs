//! `mailseal-verify archive DIR`: every byte of a copy of the archive.
//!
//! One pass over the segments in order: frame layout and CRC, every
//! record's hash and link, its fields against its format, the key history,
//! every seal (signature, key, chain hash, tree root), and every time
//! stamp (its seal, and its token when CA certificates are given).
//! Contents are decoded and hashed on worker threads while the main
//! thread walks on. Seals an auditor kept are compared with the tree at
//! their size at the end.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::{Mutex, mpsc};

use sha2::{Digest, Sha256};

use crate::Hash;
use crate::format::{self, Seal, Stamp};
use crate::merkle::Edge;

/// What to check beyond the archive itself.
#[derive(Default)]
pub struct Options {
    /// The public key the auditor trusts (the first key, or a later one).
    pub trusted: Option<String>,
    /// Seals kept from earlier.
    pub kept: Vec<Seal>,
    /// CA certificates of time-stamp authorities.
    pub tsa: Option<mailseal_tsp::Trust>,
}

/// What was found.
#[derive(Default, Debug)]
pub struct Outcome {
    /// Records checked.
    pub records: u64,
    /// Content frames checked.
    pub contents: u64,
    /// Their decoded bytes.
    pub content_bytes: u64,
    /// Bytes of segment files read.
    pub segment_bytes: u64,
    /// Seals checked.
    pub seals: u64,
    /// Last record.
    pub head_seq: u64,
    /// Its hash.
    pub head_hash: String,
    /// Merkle root over all records.
    pub root: String,
    /// Key rotations followed.
    pub rotations: u64,
    /// Time stamps found, and of those checked against a CA.
    pub stamps: (u64, u64),
    /// Problems, in walk order.
    pub problems: Vec<String>,
}

struct Job {
    /// Where the frame is, for messages.
    at: String,
    /// The content frame's payload.
    payload: Vec<u8>,
}

struct Walk<'o> {
    /// What to check beyond the archive.
    opts: &'o Options,
    /// What was found so far.
    out: Outcome,
    /// The last record's hash: the next one's predecessor.
    prev: Hash,
    /// The Merkle tree over the records so far.
    edge: Edge,
    /// Hashes and roots at the sizes seals and kept seals need.
    want: HashSet<u64>,
    /// (chain hash, root) at the sizes in `want`.
    at_size: HashMap<u64, (Hash, Hash)>,
    /// The seal keys in order, first to current.
    keys: Vec<String>,
    /// Content hashes the content frames claim.
    claimed: HashSet<Hash>,
    /// Every seal with where it is, the records before it, their last hash and root.
    seals: Vec<(String, Seal, u64, Hash, Hash)>,
    /// Every time-stamp frame with where it is.
    stamps: Vec<(String, Stamp)>,
}

/// Verifies the archive in `dir` (holding `segments/`).
pub fn verify(dir: &Path, opts: &Options) -> io::Result<Outcome> {
    let segdir = dir.join("segments");
    let mut numbers: Vec<u32> = std::fs::read_dir(&segdir)?
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let n = name.strip_suffix(".seg")?;
            (n.len() == 12).then(|| n.parse().ok())?
        })
        .collect();
    numbers.sort_unstable();
    let mut w = Walk {
        opts,
        out: Outcome::default(),
        prev: [0; 32],
        edge: Edge::default(),
        want: opts.kept.iter().map(|s| s.seq).collect(),
        at_size: HashMap::new(),
        keys: Vec::new(),
        claimed: HashSet::new(),
        seals: Vec::new(),
        stamps: Vec::new(),
    };
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(workers * 2);
    let job_rx = Mutex::new(job_rx);
    let (res_tx, res_rx) = mpsc::channel::<(Option<Hash>, u64, Option<String>)>();
    let walked = std::thread::scope(|s| {
        for _ in 0..workers {
            let res_tx = res_tx.clone();
            let job_rx = &job_rx;
            s.spawn(move || {
                while let Ok(job) = job_rx
                    .lock()
                    .map_err(|_| ())
                    .and_then(|r| r.recv().map_err(|_| ()))
                {
                    let _ = res_tx.send(check_content(&job));
                }
            });
        }
        drop(res_tx);
        let r = w.segments(&segdir, &numbers, &job_tx);
        drop(job_tx);
        r
    });
    walked?;
    let mut good = HashSet::new();
    for (sha, size, err) in res_rx {
        w.out.contents += 1;
        w.out.content_bytes += size;
        match (sha, err) {
            (Some(h), None) => {
                good.insert(h);
            }
            (_, Some(e)) => w.out.problems.push(e),
            (None, None) => {}
        }
    }
    for h in &w.claimed {
        if !good.contains(h) {
            w.out.problems.push(format!(
                "content-changed: content {} is damaged",
                hex::encode(h)
            ));
        }
    }
    w.finish();
    Ok(w.out)
}

/// Decodes and hashes one content payload.
fn check_content(job: &Job) -> (Option<Hash>, u64, Option<String>) {
    let p = &job.payload;
    if p.len() < 41 {
        return (
            None,
            0,
            Some(format!("{}: content-changed: too short", job.at)),
        );
    }
    let mut claimed = [0u8; 32];
    claimed.copy_from_slice(&p[..32]);
    let size = u64::from_be_bytes(p[32..40].try_into().unwrap_or_default());
    let mut h = Sha256::new();
    let got = match p[40] {
        0 => {
            h.update(&p[41..]);
            Ok((p.len() - 41) as u64)
        }
        1 => zstd::stream::read::Decoder::new(&p[41..]).and_then(|mut d| {
            let mut buf = vec![0u8; 256 * 1024];
            let mut n = 0u64;
            loop {
                let k = d.read(&mut buf)?;
                if k == 0 {
                    return Ok(n);
                }
                n += k as u64;
                if n > size {
                    return Err(io::Error::other("longer than its size"));
                }
                h.update(&buf[..k]);
            }
        }),
        c => Err(io::Error::other(format!("unknown codec {c}"))),
    };
    match got {
        Ok(n) if n == size && <[u8; 32]>::from(h.finalize()) == claimed => (Some(claimed), n, None),
        Ok(n) => (
            None,
            n,
            Some(format!(
                "{}: content-changed: bytes do not match the content's SHA-256",
                job.at
            )),
        ),
        Err(e) => (None, 0, Some(format!("{}: content-changed: {e}", job.at))),
    }
}

impl Walk<'_> {
    fn problem(&mut self, at: &str, kind: &str, detail: impl std::fmt::Display) {
        if self.out.problems.len() < 100 {
            self.out.problems.push(format!("{at}: {kind}: {detail}"));
        }
    }

    fn segments(
        &mut self,
        dir: &Path,
        numbers: &[u32],
        jobs: &mpsc::SyncSender<Job>,
    ) -> io::Result<()> {
        for (i, &n) in numbers.iter().enumerate() {
            if n as usize != i + 1 {
                self.problem(
                    &format!("segment {}", i + 1),
                    "segment-missing",
                    "a segment is missing",
                );
                return Ok(());
            }
            let file = File::open(dir.join(format!("{n:012}.seg")))?;
            let len = file.metadata()?.len();
            self.out.segment_bytes += len;
            let mut r = BufReader::with_capacity(1 << 20, file);
            let mut head = [0u8; 16];
            if len < 16 || r.read_exact(&mut head).is_err() || &head[..8] != b"MAILSEAL" {
                self.problem(&format!("segment {n}"), "frame-damaged", "bad header");
                return Ok(());
            }
            let version = u32::from_be_bytes([head[8], head[9], head[10], head[11]]);
            if u32::from_be_bytes([head[12], head[13], head[14], head[15]]) != n {
                self.problem(
                    &format!("segment {n}"),
                    "frame-damaged",
                    "header names another segment",
                );
                return Ok(());
            }
            if version == 0 || version > 2 {
                let detail = format!("segment version {version} is newer than this verifier");
                self.problem(&format!("segment {n}"), "unsupported-version", detail);
                return Ok(());
            }
            let mut pos = 16u64;
            while pos < len {
                let at = format!("segment {n} offset {pos}");
                let mut fh = [0u8; 9];
                let torn = len - pos < 13 || r.read_exact(&mut fh).is_err() || {
                    let plen = u64::from_be_bytes(fh[1..9].try_into().unwrap_or_default());
                    plen > len - pos - 13
                };
                if torn {
                    let detail = format!(
                        "segment ends inside a frame after record {}",
                        self.out.head_seq
                    );
                    self.problem(&at, "truncated", detail);
                    return Ok(());
                }
                let plen = u64::from_be_bytes(fh[1..9].try_into().unwrap_or_default());
                let mut payload = vec![0u8; plen as usize];
                let mut crc = [0u8; 4];
                r.read_exact(&mut payload)?;
                r.read_exact(&mut crc)?;
                let mut c = crc32fast::Hasher::new();
                c.update(&fh);
                c.update(&payload);
                if c.finalize() != u32::from_be_bytes(crc) {
                    self.problem(&at, "frame-damaged", "frame checksum mismatch");
                }
                pos += 13 + plen;
                match (fh[0], version) {
                    (b'C', _) => {
                        if payload.len() >= 32 {
                            let mut h = [0u8; 32];
                            h.copy_from_slice(&payload[..32]);
                            self.claimed.insert(h);
                        }
                        let _ = jobs.send(Job { at, payload });
                    }
                    (b'R', _) => self.record(&at, &payload),
                    (b'S', _) => self.seal(&at, &payload),
                    (b'T', 2) => match serde_json::from_slice::<Stamp>(&payload) {
                        Ok(s) => self.stamps.push((at, s)),
                        Err(e) => self.problem(&at, "timestamp-bad", e),
                    },
                    (k, v) => {
                        let detail =
                            format!("frame kind 0x{k:02x} is not defined for segment version {v}");
                        self.problem(&at, "frame-damaged", detail);
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    fn record(&mut self, at: &str, payload: &[u8]) {
        self.out.records += 1;
        let expected = self.out.head_seq + 1;
        if payload.len() < 32 {
            self.problem(at, "record-changed", "record frame too short");
            return;
        }
        let (stored, json) = payload.split_at(32);
        let mut hash = [0u8; 32];
        hash.copy_from_slice(stored);
        let computed: Hash = Sha256::new()
            .chain_update(self.prev)
            .chain_update(json)
            .finalize()
            .into();
        if computed != hash {
            self.problem(
                at,
                "chain-broken",
                format!("record {expected}: bytes or link do not match its hash"),
            );
        }
        match format::record(json) {
            Ok(info) => {
                if info.seq != expected || info.prev != self.prev {
                    let detail =
                        format!("record {} stands where record {expected} belongs", info.seq);
                    self.problem(at, "order-changed", detail);
                }
                for (sha, _) in &info.contents {
                    if !self.claimed.contains(sha) {
                        let detail = format!(
                            "record {}: content {} is not in the archive",
                            info.seq,
                            hex::encode(sha)
                        );
                        self.problem(at, "content-missing", detail);
                    }
                }
                if let Some((old, new)) = info.rotation {
                    self.out.rotations += 1;
                    match self.keys.last() {
                        Some(k) if *k != old => {
                            let detail = format!(
                                "record {}: rotates from a key that was not sealing",
                                info.seq
                            );
                            self.problem(at, "key-rotation-bad", detail)
                        }
                        Some(_) => {}
                        None => self.keys.push(old),
                    }
                    self.keys.push(new);
                }
            }
            Err((kind, detail)) => self.problem(at, kind, format!("record {expected}: {detail}")),
        }
        self.prev = hash;
        self.edge.push(&hash);
        self.out.head_seq = expected;
        if self.want.contains(&expected) {
            self.at_size.insert(expected, (hash, self.edge.root()));
        }
    }

    fn seal(&mut self, at: &str, payload: &[u8]) {
        self.out.seals += 1;
        let seal: Seal = match serde_json::from_slice(payload) {
            Ok(s) => s,
            Err(e) => return self.problem(at, "seal-bad", e),
        };
        if let Err(why) = seal.check() {
            let kind = if why.contains("newer") {
                "unsupported-version"
            } else {
                "seal-bad"
            };
            return self.problem(at, kind, format!("seal of {}: {why}", seal.seq));
        }
        match self.keys.last() {
            None => self.keys.push(seal.public_key.clone()),
            Some(k) if *k != seal.public_key => {
                let detail = format!(
                    "seal of {} made by {}, not the chain's seal key {k}",
                    seal.seq, seal.public_key
                );
                self.problem(at, "seal-bad", detail);
            }
            Some(_) => {}
        }
        let (size, root) = (self.edge.size, self.edge.root());
        self.seals
            .push((at.to_owned(), seal, size, self.prev, root));
    }

    fn finish(&mut self) {
        self.out.head_hash = hex::encode(self.prev);
        self.out.root = hex::encode(self.edge.root());
        let seals = std::mem::take(&mut self.seals);
        let mut imprints = HashMap::new();
        for (at, s, size, hash, root) in &seals {
            if s.seq != *size || (s.seq > 0 && s.head_hash != hex::encode(hash)) {
                let detail = format!(
                    "seal of {} does not seal the chain before it (record {size})",
                    s.seq
                );
                self.problem(at, "seal-bad", detail);
            } else if s.root_hash().is_some_and(|r| r != *root) {
                self.problem(
                    at,
                    "seal-bad",
                    format!("seal of {}: tree root differs from the chain", s.seq),
                );
            }
            if let Some(i) = s.imprint() {
                imprints.insert(i, s.clone());
            }
        }
        if let Some(t) = &self.opts.trusted
            && !seals.is_empty()
            && !self.keys.contains(t)
        {
            self.problem(
                "archive",
                "seal-bad",
                "no seal key of this archive is the trusted key",
            );
        }
        for (at, st) in std::mem::take(&mut self.stamps) {
            self.out.stamps.0 += 1;
            let imprint = format::hex32(&st.imprint);
            let Some(seal) = imprint.and_then(|i| imprints.get(&i)) else {
                self.problem(
                    &at,
                    "timestamp-bad",
                    format!("stamps no seal of this archive (seal {})", st.seq),
                );
                continue;
            };
            if seal.seq != st.seq {
                self.problem(&at, "timestamp-bad", "names another seal than it stamps");
            }
            if let (Some(trust), Some(i)) = (&self.opts.tsa, imprint) {
                match crate::stamp_check(&st, &i, seal, trust) {
                    Ok(()) => self.out.stamps.1 += 1,
                    Err(e) => self.problem(&at, "timestamp-bad", e),
                }
            }
        }
        for kept in &self.opts.kept {
            if let Some((kind, why)) = self.kept(kept) {
                self.problem(&format!("kept seal of {}", kept.seq), kind, why);
            }
        }
    }

    fn kept(&self, kept: &Seal) -> Option<(&'static str, String)> {
        if let Err(why) = kept.check() {
            return Some(("kept-seal-bad", why));
        }
        if !self.keys.contains(&kept.public_key) {
            return Some((
                "kept-seal-bad",
                "made by a key this archive's history does not contain".into(),
            ));
        }
        if kept.seq > self.out.head_seq {
            return Some((
                "rolled-back",
                format!(
                    "the archive ends at record {}: records were removed",
                    self.out.head_seq
                ),
            ));
        }
        if kept.seq == 0 {
            return None;
        }
        let (hash, root) = self.at_size.get(&kept.seq)?;
        let same = match kept.root_hash() {
            Some(r) => r == *root,
            None => kept.head_hash == hex::encode(hash),
        };
        (!same).then(|| {
            (
                "forked",
                format!(
                    "records 1..{} differ from what it sealed: rewritten after it",
                    kept.seq
                ),
            )
        })
    }
}
