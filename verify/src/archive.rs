//! `mailseal-verify archive DIR`: every byte of a copy of the archive.
//!
//! One pass over the segments in order: frame layout and CRC, every
//! record's hash and link, its fields against its format, the key history,
//! every seal (signature, key, chain hash, tree root), and every time
//! stamp (its seal, and its token when CA certificates are given).
//! Contents are decoded and hashed on worker threads while the main
//! thread walks on (`content`); encrypted ones are decrypted there and
//! sealed record fields opened here when the master key is given (`keys`,
//! `sealed`). Seals an auditor kept are compared with the tree at their
//! size at the end.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::{Mutex, mpsc};

use sha2::{Digest, Sha256};

use crate::Hash;
use crate::content::{self, Checked, Job};
use crate::format::{self, Seal, Stamp};
use crate::keys::{KeyStore, MasterKey, StoreError};
use crate::merkle::Edge;

mod audit;
mod encrypted;
mod purge;
mod seals;

/// What to check beyond the archive itself.
#[derive(Default)]
pub struct Options {
    /// The public key the auditor trusts (the first key, or a later one).
    pub trusted: Option<String>,
    /// Seals kept from earlier.
    pub kept: Vec<Seal>,
    /// CA certificates of time-stamp authorities.
    pub tsa: Option<mailseal_tsp::Trust>,
    /// The master key (`--master-key`): decrypt every content and open
    /// every sealed field.
    pub master: Option<MasterKey>,
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
    /// Encrypted content frames (`E`) checked, and their ciphertext bytes.
    pub encrypted: (u64, u64),
    /// Whether contents were decrypted and sealed fields opened: a master
    /// key was given and the key store read.
    pub decrypted: bool,
    /// Records with sealed personal fields, and of those opened.
    pub sealed: (u64, u64),
    /// Contents and message records whose key slot is destroyed and named
    /// by a tombstone (a destroyed slot no tombstone names is a problem).
    pub purged: (u64, u64),
    /// Audit records whose audit key is destroyed and named by an
    /// `audit-purge` (one no `audit-purge` names is a problem).
    pub purged_audit: u64,
    /// Key slots: live, destroyed, and live but used by no frame or record
    /// (a batch that never reached the segments).
    pub slots: (u64, u64, u64),
    /// Problems, in walk order.
    pub problems: Vec<String>,
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
    /// Per content hash, (ciphertext hash, length) of its `E` frames: what
    /// a record's `stored` must name.
    encrypted: HashMap<Hash, Vec<(Hash, u64)>>,
    /// The key store, with `--master-key`.
    store: Option<&'o KeyStore>,
    /// Key slots a record uses (contents' slots come from the workers).
    used: Vec<bool>,
    /// Every seal with where it is, the records before it, their last hash and root.
    seals: Vec<(String, Seal, u64, Hash, Hash)>,
    /// Every time-stamp frame with where it is.
    stamps: Vec<(String, Stamp)>,
    /// Holds, purge requests and tombstones so far, and what destroyed
    /// key slots made unreadable: the tombstone rule is decided at the end.
    life: purge::Lifecycle,
    /// Audit keys, `audit_years` and audit purges so far.
    audit: audit::AuditLife,
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
    let mut store_problem = None;
    let store = match &opts.master {
        None => None,
        Some(m) => match KeyStore::read(&dir.join("keys").join("store"), m) {
            Ok(s) => Some(s),
            Err(StoreError::Refused(e)) => return Err(e),
            Err(StoreError::Bad(kind, why)) => {
                store_problem = Some(format!("keys/store: {kind}: {why}"));
                None
            }
        },
    };
    let mut w = Walk {
        opts,
        out: Outcome::default(),
        prev: [0; 32],
        edge: Edge::default(),
        want: opts.kept.iter().map(|s| s.seq).collect(),
        at_size: HashMap::new(),
        keys: Vec::new(),
        claimed: HashSet::new(),
        encrypted: HashMap::new(),
        store: store.as_ref(),
        used: vec![false; store.as_ref().map_or(0, |s| s.slots.len())],
        seals: Vec::new(),
        stamps: Vec::new(),
        life: purge::Lifecycle::default(),
        audit: audit::AuditLife::default(),
    };
    w.out.decrypted = store.is_some();
    w.out.problems.extend(store_problem);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(workers * 2);
    let job_rx = Mutex::new(job_rx);
    let (res_tx, res_rx) = mpsc::channel::<Checked>();
    let keys = store.as_ref();
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
                    let _ = res_tx.send(content::check(&job, keys));
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
    for mut c in res_rx {
        w.out.contents += 1;
        w.out.content_bytes += c.size;
        if c.encrypted {
            w.out.encrypted.0 += 1;
            w.out.encrypted.1 += c.cipher_bytes;
        }
        w.content_key_destroyed(c.destroyed.take(), c.slot, c.sha);
        w.use_slot(c.slot);
        match (c.sha, c.problem) {
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
    w.slots();
    w.purges();
    w.audit_purges();
    w.finish();
    Ok(w.out)
}

impl Walk<'_> {
    /// Marks a key slot as used by a frame or record.
    fn use_slot(&mut self, slot: Option<u64>) {
        if let Some(u) =
            slot.and_then(|n| usize::try_from(n).ok().and_then(|i| self.used.get_mut(i)))
        {
            *u = true;
        }
    }

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
                        let _ = jobs.send(Job {
                            at,
                            kind: b'C',
                            payload,
                        });
                    }
                    (b'E', 2) => {
                        if payload.len() >= content::E_HEAD {
                            let mut h = [0u8; 32];
                            h.copy_from_slice(&payload[..32]);
                            self.claimed.insert(h);
                            let mut ct = [0u8; 32];
                            ct.copy_from_slice(&payload[50..82]);
                            let size =
                                u64::from_be_bytes(payload[32..40].try_into().unwrap_or_default());
                            self.encrypted.entry(h).or_default().push((ct, size));
                            let slot =
                                u64::from_be_bytes(payload[42..50].try_into().unwrap_or_default());
                            self.not_audit_key(slot, None);
                        }
                        let _ = jobs.send(Job {
                            at,
                            kind: b'E',
                            payload,
                        });
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
            Ok(mut info) => {
                self.walked(info.message);
                if info.seq != expected || info.prev != self.prev {
                    let detail =
                        format!("record {} stands where record {expected} belongs", info.seq);
                    self.problem(at, "order-changed", detail);
                }
                for c in &info.contents {
                    if !self.claimed.contains(&c.sha) {
                        let detail = format!(
                            "record {}: content {} is not in the archive",
                            info.seq,
                            hex::encode(c.sha)
                        );
                        self.problem(at, "content-missing", detail);
                    } else if let Some(why) = self.stored_differs(c) {
                        let detail =
                            format!("record {}: content {}: {why}", info.seq, hex::encode(c.sha));
                        self.problem(at, "record-changed", detail);
                    }
                }
                if let Some((kind, s)) = &info.sealed {
                    self.sealed(at, info.seq, kind, s);
                }
                if let Some(a) = info.audit.take() {
                    self.audit_step(at, info.seq, a);
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
                if let Some(step) = info.step.take() {
                    self.step(at, info.seq, step);
                }
            }
            Err((kind, detail)) => {
                self.walked(false);
                self.problem(at, kind, format!("record {expected}: {detail}"))
            }
        }
        self.prev = hash;
        self.edge.push(&hash);
        self.out.head_seq = expected;
        if self.want.contains(&expected) {
            self.at_size.insert(expected, (hash, self.edge.root()));
        }
    }
}
