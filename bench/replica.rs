//! Replication to S3 Object Lock against a real single-node Ceph RGW:
//! journal ingest at full speed (BENCH_SESSIONS connections sending the
//! realistic mail of the search benchmark's corpus, whose attachments do
//! not compress away as generated filler would) with and without a
//! `[[replica]]`, alternating, then the replica's throughput, the lag it
//! holds while ingest runs, how long it takes to catch up, and `mailseal
//! restore --from-replica` speed from the bucket (the restored archive
//! must verify).
//!
//! `cargo build --release && cargo bench --bench replica` with options
//! through env: `BENCH_MESSAGES` (default 50000), `BENCH_SESSIONS`
//! (default 8), `BENCH_ROUNDS` (default 3),
//! `BENCH_INTERVAL` (the replica's upload interval, default "10s"),
//! `BENCH_DIR` (default /var/tmp; the Ceph cluster's sparse bluestore
//! file holds every round's bucket, about 1.1 times the raw mail of all
//! rounds, plus two archives at a time), `MAILSEAL_BIN` (default
//! target/release/mailseal). Needs root and the Ceph packages
//! (`.ci/install-deps`). The cluster is the recipe of
//! `tests/support/ceph/` (bluestore, no manager), stopped at the end.

// A benchmark stops at the first surprise: unwrapping is how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use daemon::{Daemon, env, free_port, tree_bytes};
use mailseal::replica::S3;

#[path = "../tests/support/docs.rs"]
mod docs;
// Only the messages are used here, not their envelopes.
#[allow(dead_code)]
#[path = "search/corpus.rs"]
mod corpus;
#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/smtp_client.rs"]
mod smtp_client;

const ACCESS_KEY: &str = "MAILSEALTESTACCESS01";
const SECRET_KEY: &str = "mailsealtestsecretkey0000000000000000000";

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The cluster, stopped (and its folder removed) when dropped.
struct Ceph {
    dir: PathBuf,
    endpoint: String,
}

impl Ceph {
    fn start(parent: &Path) -> Ceph {
        let dir = parent.join(format!("mailseal-bench-ceph-{}", std::process::id()));
        let port = free_port().to_string();
        let out = Command::new("tests/support/ceph/ceph-up.sh")
            .env("CEPH_DIR", &dir)
            .env("WITH_MGR", "0")
            .env("OBJECTSTORE", "bluestore")
            // Sparse; every round's bucket stays (Object Lock).
            .env("BLOCK_SIZE", (32u64 << 30).to_string())
            .env("MON_V2", free_port().to_string())
            .env("MON_V1", free_port().to_string())
            .env("RGW_PORT", &port)
            .output()
            .unwrap();
        let ceph = Ceph {
            dir,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        assert!(
            out.status.success(),
            "ceph-up.sh: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ceph
    }

    fn s3(&self, bucket: &str) -> S3 {
        S3::new(
            &self.endpoint,
            "us-east-1",
            bucket,
            true,
            None,
            (ACCESS_KEY.to_owned(), SECRET_KEY.to_owned()),
        )
        .unwrap()
    }
}

impl Drop for Ceph {
    fn drop(&mut self) {
        let _ = Command::new("tests/support/ceph/ceph-down.sh")
            .env("CEPH_DIR", &self.dir)
            .output();
    }
}

/// `mailseal run` with a journal listener and, optionally, a replica.
fn start(bin: &str, dir: &Path, replica: Option<(&Ceph, &str)>) -> Daemon {
    let mut extra = String::new();
    if let Some((ceph, bucket)) = replica {
        let creds = dir.join("replica.secret");
        std::fs::write(&creds, format!("{ACCESS_KEY}:{SECRET_KEY}\n")).unwrap();
        let interval = std::env::var("BENCH_INTERVAL").unwrap_or_else(|_| "10s".into());
        extra = format!(
            "[[replica]]\nname = \"offsite\"\nendpoint = \"{}\"\nbucket = \"{bucket}\"\n\
             prefix = \"gw1\"\ncredentials_file = \"{}\"\nobject_lock = \"compliance\"\n\
             retain_days = 1\ninterval = \"{interval}\"\n",
            ceph.endpoint,
            creds.display()
        );
    }
    Daemon::start(bin, dir, "bench", &extra)
}

/// `(lag_records, lag_bytes)` of the replica from `/metrics`.
fn replica_lag(daemon: &Daemon) -> Option<(u64, u64)> {
    let text = daemon.get("/metrics")?;
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l.contains("replica=\"offsite\""))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u64)
    };
    Some((
        value("mailseal_replica_lag_records")?,
        value("mailseal_replica_lag_bytes")?,
    ))
}

struct Round {
    /// Raw mail sent.
    raw_bytes: u64,
    with_replica: bool,
    ingest: f64,
    /// Ingest start until the bucket held every record.
    caught_up: f64,
    lag_records: Vec<u64>,
    lag_bytes: Vec<u64>,
    restore_secs: f64,
    restored_bytes: u64,
}

fn round(bin: &str, parent: &Path, corpus: &corpus::Corpus, ceph: Option<(&Ceph, &str)>) -> Round {
    let (n, sessions) = (
        env("BENCH_MESSAGES", 50_000) as u64,
        env("BENCH_SESSIONS", 8),
    );
    let dir = tempfile::Builder::new()
        .prefix("mailseal-bench-replica.")
        .tempdir_in(parent)
        .unwrap();
    let daemon = start(bin, dir.path(), ceph);
    let started = Instant::now();
    let next = AtomicU64::new(1);
    let raw = AtomicU64::new(0);
    let mut lag_records = Vec::new();
    let mut lag_bytes = Vec::new();
    let port = daemon.journal;
    let ingest = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..sessions)
            .map(|_| {
                scope.spawn(|| {
                    let mut smtp = smtp_client::Smtp::connect(port);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i > n {
                            break;
                        }
                        let message = corpus.message(i).raw;
                        raw.fetch_add(message.len() as u64, Ordering::Relaxed);
                        smtp.send(&message, i);
                    }
                    smtp.quit();
                })
            })
            .collect();
        loop {
            if senders.iter().all(|s| s.is_finished()) {
                break started.elapsed().as_secs_f64();
            }
            if ceph.is_some()
                && let Some((records, bytes)) = replica_lag(&daemon)
            {
                lag_records.push(records);
                lag_bytes.push(bytes);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    let caught_up = if ceph.is_some() {
        let deadline = Instant::now() + Duration::from_secs(1800);
        loop {
            if replica_lag(&daemon).is_some_and(|(r, b)| r == 0 && b == 0) {
                break started.elapsed().as_secs_f64();
            }
            assert!(Instant::now() < deadline, "the replica did not catch up");
            std::thread::sleep(Duration::from_millis(200));
        }
    } else {
        ingest
    };
    let mut daemon = daemon;
    daemon.stop();
    let (mut restore_secs, mut restored_bytes) = (0.0, 0);
    if ceph.is_some() {
        let into = dir.path().join("restored");
        let (took, _) = daemon.cli(&["restore", "--from-replica", into.to_str().unwrap()]);
        restore_secs = took.as_secs_f64();
        restored_bytes = tree_bytes(&into.join("segments"));
        // The seal written at shutdown goes up at the next start, so the
        // bucket may lack only that; the restored archive must verify.
        let verified = Command::new(bin)
            .arg("--archive")
            .arg(&into)
            .arg("verify")
            .output()
            .unwrap();
        assert!(
            verified.status.success(),
            "verify of the restored archive: {}",
            String::from_utf8_lossy(&verified.stdout)
        );
    }
    Round {
        raw_bytes: raw.load(Ordering::Relaxed),
        with_replica: ceph.is_some(),
        ingest: n as f64 / ingest,
        caught_up,
        lag_records,
        lag_bytes,
        restore_secs,
        restored_bytes,
    }
}

fn main() {
    let bin = std::env::var("MAILSEAL_BIN").unwrap_or_else(|_| "target/release/mailseal".into());
    let parent = PathBuf::from(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into()));
    let rounds = env("BENCH_ROUNDS", 3);
    let n = env("BENCH_MESSAGES", 50_000);
    let corpus = corpus::Corpus::new(42);
    eprintln!("starting Ceph (bluestore, no manager) ...");
    let ceph = Ceph::start(&parent);
    let mut results = Vec::new();
    for r in 0..rounds {
        // A then B, then B then A: neither always runs on a warmer disk.
        let order = if r % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for with in order {
            let bucket = format!("bench-{r}");
            if with {
                block_on(ceph.s3(&bucket).create_bucket(true)).unwrap();
            }
            let result = round(
                &bin,
                &parent,
                &corpus,
                with.then_some((&ceph, bucket.as_str())),
            );
            eprintln!(
                "round {r} {}: {:.0} msg/s ingest",
                if with { "with replica" } else { "plain" },
                result.ingest
            );
            results.push(result);
        }
    }

    let raw_mb = results[0].raw_bytes as f64 / 1e6;
    println!(
        "{n} messages ({raw_mb:.0} MB of raw mail) through the journal listener, {} sessions, {rounds} rounds alternating\n",
        env("BENCH_SESSIONS", 8)
    );
    println!(
        "| round | ingest msg/s, no replica | ingest msg/s, with replica | bucket caught up after | replication MB/s | msg/s | lag records p50 / max | lag MB p50 / max | restore | restore MB/s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let (mut plain, mut with, mut repl, mut restore) = (vec![], vec![], vec![], vec![]);
    for (r, pair) in results.chunks(2).enumerate() {
        let a = pair.iter().find(|x| !x.with_replica).unwrap();
        let b = pair.iter().find(|x| x.with_replica).unwrap();
        let mut lr = b.lag_records.clone();
        let mut lb: Vec<f64> = b.lag_bytes.iter().map(|v| *v as f64 / 1e6).collect();
        lr.sort_unstable();
        let (lr50, lrmax) = (
            lr.get(lr.len() / 2).copied().unwrap_or(0),
            lr.last().copied().unwrap_or(0),
        );
        let lbmax = lb.iter().copied().fold(0.0, f64::max);
        let lb50 = if lb.is_empty() { 0.0 } else { median(&mut lb) };
        let mbs = b.restored_bytes as f64 / 1e6 / b.caught_up;
        let restore_mbs = b.restored_bytes as f64 / 1e6 / b.restore_secs;
        println!(
            "| {r} | {:.0} | {:.0} | {:.1} s | {mbs:.0} | {:.0} | {lr50} / {lrmax} | {lb50:.0} / {lbmax:.0} | {:.1} s | {restore_mbs:.0} |",
            a.ingest,
            b.ingest,
            b.caught_up,
            n as f64 / b.caught_up,
            b.restore_secs,
        );
        plain.push(a.ingest);
        with.push(b.ingest);
        repl.push(mbs);
        restore.push(restore_mbs);
    }
    println!(
        "\nmedians: ingest {:.0} msg/s without a replica, {:.0} with ({:.2}x); replication {:.0} MB/s of segment bytes; restore {:.0} MB/s of segment bytes",
        median(&mut plain),
        median(&mut with),
        median(&mut with.clone()) / median(&mut plain.clone()),
        median(&mut repl),
        median(&mut restore),
    );
}
