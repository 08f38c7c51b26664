//! Search benchmark: indexing throughput of a realistic mail mix, index
//! size against raw message bytes, query latency (p50/p99, warm and cold)
//! for a dozen query shapes.
//!
//! `cargo bench --bench search` with options through env:
//! `BENCH_MESSAGES` (default 20000), `BENCH_DIR` (default a temporary
//! directory; the index alone needs about a tenth of the raw bytes, which
//! are generated on the fly and not kept), `BENCH_COLD` (1: drop the page
//! cache before each cold query; needs root), `BENCH_KIND=text100k`
//! (all-text 100 kB mail instead of the mix), `BENCH_THREADS` (tantivy
//! writer threads, default 1 as in the daemon). `cargo bench --bench
//! search_ingest` measures the daemon's indexer under journal ingest.
//! The messages come from `corpus.rs` (deterministic). Results go to
//! stdout as Markdown for docs/benchmarks.md.

// A benchmark stops at the first surprise: unwrapping is how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../tests/support/docs.rs"]
mod docs;

mod corpus;
mod queries;

use std::time::{Duration, Instant};

use mailseal::archive::record::{
    ContentRef, JournalEnvelope, JournalRecipient, MessageMeta, Rcpt, Record, RecordBody, Source,
    SourceKind,
};
use mailseal::search::catchup::index_record;
use mailseal::search::index::WriterOptions;
use mailseal::search::{LocalDomains, SearchIndex};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn record(seq: u64, g: &corpus::Generated) -> Record {
    let mut recipients: Vec<JournalRecipient> = g
        .rcpts
        .iter()
        .map(|r| JournalRecipient {
            field: "to".into(),
            address: r.clone(),
            ..Default::default()
        })
        .collect();
    recipients.extend(g.bcc.iter().map(|b| JournalRecipient {
        field: "bcc".into(),
        address: b.clone(),
        ..Default::default()
    }));
    let meta = MessageMeta {
        source: Source {
            kind: SourceKind::Journal,
            name: "exchange".into(),
        },
        mail_from: Some("journal@example.com".into()),
        rcpts: vec![Rcpt {
            address: "archive@example.com".into(),
            reply: None,
        }],
        journal: Some(JournalEnvelope {
            sender: Some(g.mail_from.clone()),
            recipients,
            ..Default::default()
        }),
        content: ContentRef {
            sha256: String::new(),
            size: g.raw.len() as u64,
            stored: None,
        },
        ..Default::default()
    };
    let time = chrono::DateTime::from_timestamp(g.received, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default();
    Record {
        format: 1,
        seq,
        time,
        prev_hash: String::new(),
        body: RecordBody::Message(Box::new(meta)),
    }
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let n = env("BENCH_MESSAGES", 20_000) as u64;
    let threads = env("BENCH_THREADS", 1);
    let text100k = std::env::var("BENCH_KIND").is_ok_and(|k| k == "text100k");
    let tmp = tempfile::tempdir_in("target").unwrap_or_else(|e| panic!("tempdir: {e}"));
    let dir = std::env::var("BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().to_path_buf())
        .join("search");
    let _ = std::fs::remove_dir_all(&dir);
    let options = WriterOptions {
        threads,
        memory_bytes: 64 * 1024 * 1024 * threads.max(1),
    };
    let index = SearchIndex::open(&dir, options).unwrap_or_else(|e| panic!("open: {e}"));
    let local = LocalDomains::new([corpus::LOCAL_DOMAIN]);
    let corpus = corpus::Corpus::new(42);

    let mut raw_bytes = 0u64;
    let mut sizes = Vec::with_capacity(n as usize);
    let mut gen_time = Duration::ZERO;
    let mut bccs = Vec::new();
    let started = Instant::now();
    for seq in 1..=n {
        let t = Instant::now();
        let g = if text100k {
            corpus.text_message(seq, 100_000)
        } else {
            corpus.message(seq)
        };
        gen_time += t.elapsed();
        raw_bytes += g.raw.len() as u64;
        if bccs.len() < 100 {
            bccs.extend(g.bcc.clone());
        }
        sizes.push(g.raw.len());
        let r = record(seq, &g);
        index_record(&index, &r, Some(&g.raw), &local).unwrap_or_else(|e| panic!("index: {e}"));
        if seq % 10_000 == 0 {
            index.commit(seq).unwrap_or_else(|e| panic!("commit: {e}"));
            eprintln!(
                "{seq} indexed, {:.0} msg/s",
                seq as f64 / (started.elapsed() - gen_time).as_secs_f64()
            );
        }
    }
    index.commit(n).unwrap_or_else(|e| panic!("commit: {e}"));
    let index_time = started.elapsed() - gen_time;
    drop(index);
    std::thread::sleep(Duration::from_secs(2));
    let index = SearchIndex::open(&dir, options).unwrap_or_else(|e| panic!("reopen: {e}"));
    let index_bytes = dir_bytes(&dir);
    sizes.sort_unstable();
    println!(
        "| messages | raw bytes | median size | index bytes | index/raw | indexing msg/s | MB/s of raw |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {n} | {:.2} GB | {:.1} kB | {:.1} MB | {:.3} | {:.0} | {:.1} |",
        raw_bytes as f64 / 1e9,
        sizes[sizes.len() / 2] as f64 / 1e3,
        index_bytes as f64 / 1e6,
        index_bytes as f64 / raw_bytes as f64,
        n as f64 / index_time.as_secs_f64(),
        raw_bytes as f64 / 1e6 / index_time.as_secs_f64(),
    );

    queries::latency_table(&index, &corpus, n, bccs, env("BENCH_COLD", 0) == 1);
    let t = Instant::now();
    let all = index.all_seqs().unwrap_or_else(|e| panic!("{e}"));
    println!(
        "\nall_seqs (the index side of `search --check`): {} ids in {:.0} ms",
        all.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
}
