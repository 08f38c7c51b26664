//! Search under ingest: the daemon's indexer against journal ingest at
//! full speed. Starts `mailseal run` with a `[[journal]]` listener, feeds
//! it the realistic corpus (`corpus.rs`, each message wrapped in an
//! Exchange/Microsoft 365 journal report so Bcc recipients reach the
//! index) over `BENCH_SESSIONS` SMTP connections, samples `/healthz`
//! (search lag) and the daemon's RSS every second, then reports ingest and
//! indexing rates, the largest lag, the index size against the raw bytes,
//! `mailseal search --check`'s time, the daemon's RSS with the index open,
//! and, after stopping the daemon, the latency table of `queries.rs` over
//! the index the daemon built.
//!
//! `cargo bench --bench search_ingest` with options through env:
//! `BENCH_MESSAGES` (default 20000), `BENCH_SESSIONS` (default 8),
//! `BENCH_KIND` (`mix`, the default, or `text100k`: all-text 100 kB mail),
//! `BENCH_DIR` (the archive's parent; default a new directory under
//! /var/tmp; about 15 kB of archive per message of the mix),
//! `BENCH_KEEP=1` (keep it, for `bench/web_load.sh` with
//! `WEB_LOAD_ARCHIVE`), `BENCH_COLD=1` (cold queries; root),
//! `MAILSEAL_BIN` (default target/release/mailseal, which must be built).

// A benchmark stops at the first surprise: unwrapping is how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../tests/support/docs.rs"]
mod docs;

mod corpus;
#[path = "../support/daemon.rs"]
mod daemon;
mod queries;
#[path = "../support/smtp_client.rs"]
mod smtp_client;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailseal::search::SearchIndex;
use mailseal::search::index::WriterOptions;

use daemon::{Daemon, env, tree_bytes};

/// `VmRSS` and `VmHWM` of a process, in kB.
fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `(indexed_seq, head_seq, lag)` from `/healthz`.
fn search_progress(daemon: &Daemon) -> Option<(u64, u64, u64)> {
    let v: serde_json::Value = serde_json::from_str(&daemon.get("/healthz")?).ok()?;
    let s = v.get("search")?;
    Some((
        s.get("indexed_seq")?.as_u64()?,
        s.get("head_seq")?.as_u64()?,
        s.get("lag")?.as_u64()?,
    ))
}

/// Message `i` as Exchange journals it: a report naming the envelope
/// (Sender, To, Cc, Bcc) with the original attached.
fn journal_report(g: &corpus::Generated, i: u64) -> Vec<u8> {
    let b = format!("_journal_{i:x}_");
    let mut envelope = format!("Sender: {}\r\n", g.mail_from);
    for (k, r) in g.rcpts.iter().enumerate() {
        envelope.push_str(&format!("{}: {r}\r\n", if k == 0 { "To" } else { "Cc" }));
    }
    if let Some(bcc) = &g.bcc {
        envelope.push_str(&format!("Bcc: {bcc}\r\n"));
    }
    let mut out = format!(
        "From: Microsoft Outlook <journal-agent@{d}>\r\nTo: <journal@archive.{d}>\r\n\
         Subject: journal report {i}\r\nMessage-ID: <j{i}@journal.{d}>\r\nX-MS-Journal-Report:\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n\
         --{b}\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n\r\n{envelope}\r\n\
         --{b}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n",
        d = corpus::LOCAL_DOMAIN
    )
    .into_bytes();
    out.extend_from_slice(&g.raw);
    out.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    out
}

fn main() {
    let n = env("BENCH_MESSAGES", 20_000) as u64;
    let sessions = env("BENCH_SESSIONS", 8);
    let text100k = std::env::var("BENCH_KIND").is_ok_and(|k| k == "text100k");
    let bin = std::env::var("MAILSEAL_BIN").unwrap_or_else(|_| "target/release/mailseal".into());
    let parent = std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into());
    let dir = tempfile::Builder::new()
        .prefix("mailseal-search-ingest.")
        .tempdir_in(&parent)
        .unwrap();
    let keep = env("BENCH_KEEP", 0) == 1;
    let mut daemon = Daemon::start(&bin, dir.path(), "exchange", "");
    let journal = daemon.journal;
    let pid = daemon.child.id();

    let corpus = Arc::new(corpus::Corpus::new(42));
    let next = Arc::new(AtomicU64::new(1));
    let raw_bytes = Arc::new(AtomicU64::new(0));
    let sizes = Arc::new(Mutex::new(Vec::with_capacity(n as usize)));
    let bccs = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let senders: Vec<_> = (0..sessions)
        .map(|_| {
            let (corpus, next, raw_bytes, sizes, bccs) = (
                corpus.clone(),
                next.clone(),
                raw_bytes.clone(),
                sizes.clone(),
                bccs.clone(),
            );
            std::thread::spawn(move || {
                let mut conn = smtp_client::Smtp::connect(journal);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i > n {
                        break;
                    }
                    let g = if text100k {
                        corpus.text_message(i, 100_000)
                    } else {
                        corpus.message(i)
                    };
                    raw_bytes.fetch_add(g.raw.len() as u64, Ordering::Relaxed);
                    sizes.lock().unwrap().push(g.raw.len());
                    if let Some(b) = &g.bcc {
                        let mut bccs = bccs.lock().unwrap();
                        if bccs.len() < 100 {
                            bccs.push(b.clone());
                        }
                    }
                    conn.send(&journal_report(&g, i), i);
                }
                conn.quit();
            })
        })
        .collect();

    // Sample until every sender is done and the index holds every record.
    let mut max_lag = 0;
    let mut peak_rss = 0;
    let mut ingest_time = None;
    let mut last_print = Instant::now();
    let mut samples = Vec::new();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let sent = (next.load(Ordering::Relaxed) - 1).min(n);
        let (now_rss, _) = rss(pid);
        peak_rss = peak_rss.max(now_rss);
        let progress = search_progress(&daemon);
        if let Some((indexed, head, lag)) = progress {
            max_lag = max_lag.max(lag);
            samples.push((started.elapsed().as_secs(), head, indexed, lag, now_rss));
            if last_print.elapsed() > Duration::from_secs(30) {
                last_print = Instant::now();
                eprintln!(
                    "{:>5} s: {head} archived, {indexed} indexed, lag {lag}, RSS {} MB",
                    started.elapsed().as_secs(),
                    now_rss / 1024
                );
            }
        }
        if ingest_time.is_none() && senders.iter().all(|s| s.is_finished()) {
            ingest_time = Some(started.elapsed());
            eprintln!("ingest done: {sent} messages");
        }
        if ingest_time.is_some()
            && progress.is_some_and(|(indexed, _, lag)| lag == 0 && indexed >= n)
        {
            break;
        }
    }
    let indexed_time = started.elapsed();
    for s in senders {
        s.join().unwrap();
    }
    let ingest_time = ingest_time.unwrap_or(indexed_time);
    std::thread::sleep(Duration::from_secs(5));
    let (idle_rss, hwm) = rss(pid);
    let (check_time, check_out) = daemon.cli(&["search", "--check"]);
    let index_dir = dir.path().join("archive").join("search");
    let index_bytes = tree_bytes(&index_dir);
    let archive_bytes = tree_bytes(&dir.path().join("archive"));
    let raw = raw_bytes.load(Ordering::Relaxed);
    let mut sizes = std::mem::take(&mut *sizes.lock().unwrap());
    sizes.sort_unstable();
    daemon.stop();

    println!(
        "{n} {} messages over {sessions} journal sessions, {:.2} GB raw, median {:.1} kB",
        if text100k { "all-text 100 kB" } else { "mixed" },
        raw as f64 / 1e9,
        sizes[sizes.len() / 2] as f64 / 1e3
    );
    println!();
    println!(
        "| ingest msg/s (durable 250) | indexed msg/s (until lag 0) | largest lag | lag 0 after ingest | index bytes | index/raw | archive bytes | peak RSS | RSS idle, index open |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {:.0} | {:.0} | {max_lag} | {:.1} s | {:.2} GB | {:.3} | {:.2} GB | {} MB | {} MB |",
        n as f64 / ingest_time.as_secs_f64(),
        n as f64 / indexed_time.as_secs_f64(),
        (indexed_time - ingest_time).as_secs_f64(),
        index_bytes as f64 / 1e9,
        index_bytes as f64 / raw as f64,
        archive_bytes as f64 / 1e9,
        peak_rss.max(hwm) / 1024,
        idle_rss / 1024,
    );
    println!();
    println!(
        "`mailseal search --check` through the daemon: {:.1} s ({})",
        check_time.as_secs_f64(),
        check_out.lines().next().unwrap_or("").trim()
    );
    println!();
    println!("Lag over time (seconds since the first message: archived, indexed, lag, RSS):");
    let step = (samples.len() / 12).max(1);
    for (t, head, indexed, lag, rss) in samples.iter().step_by(step) {
        println!(
            "- {t} s: {head} archived, {indexed} indexed, lag {lag}, {} MB",
            rss / 1024
        );
    }

    if !text100k {
        let index = SearchIndex::open(
            &index_dir,
            WriterOptions {
                threads: 1,
                memory_bytes: 64 * 1024 * 1024,
            },
        )
        .unwrap_or_else(|e| panic!("open the daemon's index: {e}"));
        println!();
        let bccs = std::mem::take(&mut *bccs.lock().unwrap());
        queries::latency_table(&index, &corpus, n, bccs, env("BENCH_COLD", 0) == 1);
    }
    if keep {
        let kept = dir.keep();
        println!("\nkept: {}", kept.join("archive").display());
    }
}
