//! Search benchmark: indexing throughput of a realistic mail mix, index
//! size against raw message bytes, query latency (p50/p99, warm and cold)
//! for a dozen query shapes.
//!
//! `cargo bench --bench search` with options through env:
//! `BENCH_MESSAGES` (default 20000), `BENCH_DIR` (default a temporary
//! directory; the index alone needs about a tenth of the raw bytes, which
//! are generated on the fly and not kept), `BENCH_COLD` (1: drop the page
//! cache before each cold query; needs root), `BENCH_THREADS` (tantivy
//! writer threads, default 1 as in the daemon).
//! The messages come from `corpus.rs` (deterministic). Results go to
//! stdout as Markdown for docs/benchmarks.md.

// A benchmark stops at the first surprise: unwrapping is how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod corpus;

use std::time::{Duration, Instant};

use mailseal::archive::record::{
    ContentRef, JournalEnvelope, JournalRecipient, MessageMeta, Rcpt, Record, RecordBody, Source,
    SourceKind,
};
use mailseal::search::catchup::index_record;
use mailseal::search::index::WriterOptions;
use mailseal::search::{LocalDomains, SearchIndex, SearchRequest, Sort};

/// Makes the j-th query of one shape.
type QueryMaker = Box<dyn Fn(usize) -> String>;

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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn drop_caches() -> bool {
    std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok()
}

fn main() {
    let n = env("BENCH_MESSAGES", 20_000) as u64;
    let threads = env("BENCH_THREADS", 1);
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
        let g = corpus.message(seq);
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

    let people: Vec<String> = (0..50)
        .map(|i| corpus.message(i * 7 + 1).mail_from)
        .collect();
    let shapes: Vec<(&str, QueryMaker)> = vec![
        (
            "common word",
            Box::new(|j| ["rechnung", "invoice", "vertrag", "delivery"][j % 4].to_string()),
        ),
        (
            "two words",
            Box::new(|j| {
                ["angebot frist", "payment reminder", "lieferung termin"][j % 3].to_string()
            }),
        ),
        (
            "phrase",
            Box::new(|j| {
                [
                    "\"bitte prüfen\"",
                    "\"next week\"",
                    "\"freundlichen grüßen\"",
                ][j % 3]
                    .to_string()
            }),
        ),
        (
            "from:address",
            Box::new(move |j| format!("from:{}", people[j % people.len()])),
        ),
        (
            "from:domain",
            Box::new(|j| format!("from:firma{}.de", (j * 37) % 3000)),
        ),
        (
            "rcpt: + word",
            Box::new(|j| format!("rcpt:firma{}.com rechnung", (j * 11) % 3000)),
        ),
        (
            "bcc:",
            Box::new(move |j| format!("bcc:{}", bccs[j % bccs.len().max(1)])),
        ),
        (
            "word + date range",
            Box::new(|j| format!("vertrag date:{}-0{}", 2017 + j % 8, 1 + j % 9)),
        ),
        (
            "attachment filter",
            Box::new(|j| format!("has:attachment type:pdf received:{}", 2017 + j % 8)),
        ),
        ("size:>1M", Box::new(|_| "size:>1M".to_string())),
        (
            "prefix",
            Box::new(|j| ["rechn*", "liefer*", "confirm*"][j % 3].to_string()),
        ),
        (
            "boolean",
            Box::new(|j| format!("(angebot OR offer) -mahnung from:firma{}.de", j % 3000)),
        ),
        (
            "thread",
            Box::new(move |j| format!("thread:t{}@x", (j as u64 * 997) % (n / 4).max(1))),
        ),
        (
            "subject + direction",
            Box::new(|j| {
                [
                    "subject:invoice direction:outbound",
                    "subject:rechnung direction:inbound",
                ][j % 2]
                    .to_string()
            }),
        ),
    ];
    let cold = env("BENCH_COLD", 0) == 1;
    println!();
    println!("| query shape | example | hits | warm p50 | warm p99 | cold p50 | cold max |");
    println!("|---|---|---|---|---|---|---|");
    for (name, make) in &shapes {
        let mut cold_times = Vec::new();
        if cold {
            for j in 0..5 {
                if !drop_caches() {
                    break;
                }
                let req = SearchRequest {
                    query: make(1000 + j),
                    limit: 50,
                    sort: Sort::DateDesc,
                    cursor: None,
                };
                let t = Instant::now();
                index
                    .search(&req)
                    .unwrap_or_else(|e| panic!("{}: {e}", req.query));
                cold_times.push(t.elapsed());
            }
        }
        let mut times = Vec::new();
        let mut hits = 0;
        for j in 0..200 {
            let req = SearchRequest {
                query: make(j),
                limit: 50,
                sort: Sort::DateDesc,
                cursor: None,
            };
            let t = Instant::now();
            let h = index
                .search(&req)
                .unwrap_or_else(|e| panic!("{}: {e}", req.query));
            times.push(t.elapsed());
            hits += h.total;
        }
        times.sort();
        cold_times.sort();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
        println!(
            "| {name} | `{}` | {} | {} | {} | {} | {} |",
            make(0).replace('|', "\\|"),
            hits / 200,
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            if cold_times.is_empty() {
                "-".into()
            } else {
                ms(percentile(&cold_times, 0.5))
            },
            cold_times.last().map_or("-".into(), |d| ms(*d)),
        );
    }
    let t = Instant::now();
    let all = index.all_seqs().unwrap_or_else(|e| panic!("{e}"));
    println!(
        "\nall_seqs (the index side of `search --check`): {} ids in {:.0} ms",
        all.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
}
