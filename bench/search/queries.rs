//! The query shapes of the search benchmarks and their latency table:
//! each shape runs 200 times warm (varying values, limit 50, newest
//! first) and, with `cold`, five times after dropping the page cache.

use std::time::{Duration, Instant};

use mailseal::search::{SearchIndex, SearchRequest, Sort};

use crate::corpus::Corpus;

/// Makes the j-th query of one shape.
type QueryMaker = Box<dyn Fn(usize) -> String>;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn drop_caches() -> bool {
    std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok()
}

/// Prints the latency table (Markdown) of every shape over `index`, which
/// holds messages 1..=n of `corpus`; `bccs` are Bcc addresses it holds.
pub fn latency_table(index: &SearchIndex, corpus: &Corpus, n: u64, bccs: Vec<String>, cold: bool) {
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
            Box::new(|j| format!("has:attachment type:pdf date:{}", 2017 + j % 8)),
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
}
