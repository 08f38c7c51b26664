//! Text extraction benchmark: `search::extract` on one core over realistic
//! messages, reported as messages/s and MB/s of raw message per kind and
//! for a mix, as Markdown rows for docs/benchmarks.md.
//!
//! `cargo bench --bench extract` (env `BENCH_SECONDS`, default 3, per kind;
//! `BENCH_ONLY=pdf` runs only the kinds whose name contains that word, for
//! profiling).
//!
//! Kinds: a 10 kB text mail (UTF-8, German and English), 8bit and
//! quoted-printable;
//! an HTML newsletter (multipart/alternative, 8 kB text and 30 kB HTML); a
//! mail with a 200 kB PDF (an invoice: 3 pages, 7.5 kB of text, and a
//! scanned-letterhead image that makes up most of its size);
//! a mail with a 40 kB DOCX. The mix is 60 % text (half of it
//! quoted-printable), 20 % HTML, 10 % PDF, 10 % DOCX: a fifth of the mail
//! carries an attachment.

// A benchmark stops at the first surprise: unwrapping is how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/docs.rs"]
mod docs;

use std::hint::black_box;
use std::time::{Duration, Instant};

use docs::{Part, multipart};
use mailseal::search::extract::{Limits, extract};

const WORDS: &[&str] = &[
    "Rechnung",
    "Lieferung",
    "invoice",
    "order",
    "Bestellung",
    "Müller",
    "Grüße",
    "contract",
    "Vertrag",
    "meeting",
    "Besprechung",
    "the",
    "der",
    "die",
    "und",
    "and",
    "please",
    "bitte",
    "attached",
    "anbei",
    "Zahlung",
    "payment",
    "März",
    "quarter",
    "Straße",
    "delivery",
    "für",
    "with",
    "mit",
    "Angebot",
    "offer",
    "regarding",
    "bezüglich",
    "Kunde",
    "customer",
    "2024",
];

/// Deterministic prose of about `len` bytes, in lines of about 70.
fn prose(len: usize, seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut s = String::with_capacity(len + 80);
    let mut line = 0;
    while s.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let w = WORDS[(x % WORDS.len() as u64) as usize];
        s.push_str(w);
        line += w.len() + 1;
        if line > 70 {
            s.push_str(".\n");
            line = 0;
        } else {
            s.push(' ');
        }
    }
    s
}

fn head(i: u64, subject: &str) -> String {
    format!(
        "Return-Path: <s{i}@example.com>\r\nReceived: from mx.example.com (mx.example.com [192.0.2.1])\r\n\
         \tby mail.example.org with ESMTPS id abc{i}; Tue, 5 Mar 2024 10:00:00 +0100\r\n\
         From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <s{i}@example.com>\r\n\
         To: Einkauf <einkauf@example.org>, b{i}@example.org\r\nCc: c{i}@example.net\r\n\
         Subject: {subject} {i}\r\nMessage-ID: <bench{i}@example.com>\r\n\
         In-Reply-To: <prev{i}@example.com>\r\nReferences: <root{i}@example.com> <prev{i}@example.com>\r\n\
         Date: Tue, 5 Mar 2024 10:00:00 +0100\r\n"
    )
}

fn text_mail(i: u64, cte: &str) -> Vec<u8> {
    let body = prose(10_000 - 700, i);
    let mut m = format!(
        "{}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: {cte}\r\n\r\n",
        head(i, "Bestellung")
    )
    .into_bytes();
    if cte == "8bit" {
        m.extend_from_slice(body.replace('\n', "\r\n").as_bytes());
    } else {
        m.extend_from_slice(docs::quoted_printable(body.as_bytes()).as_bytes());
    }
    m
}

fn text_8bit(i: u64) -> Vec<u8> {
    text_mail(i, "8bit")
}

fn text_qp(i: u64) -> Vec<u8> {
    text_mail(i, "quoted-printable")
}

fn html_mail(i: u64) -> Vec<u8> {
    let text = prose(8_000, i);
    let mut html = String::from(
        "<html><head><style>td{font:12px Arial}</style></head><body><table width=\"600\">",
    );
    for para in text.split(".\n") {
        html.push_str(&format!(
            "<tr><td class=\"c\" style=\"padding:4px;color:#333\"><p>{para}.</p></td></tr>"
        ));
    }
    html.push_str("</table></body></html>");
    multipart(
        &head(i, "Newsletter"),
        "alternative",
        &[Part::text("plain", &text), Part::text("html", &html)],
    )
}

fn pdf_mail(i: u64) -> Vec<u8> {
    let pages: Vec<String> = (0..3).map(|p| prose(2_500, i * 100 + p)).collect();
    let pages: Vec<&str> = pages.iter().map(String::as_str).collect();
    let pdf = docs::pdf(&pages, 180_000);
    multipart(
        &head(i, "Rechnung"),
        "mixed",
        &[
            Part::text("plain", &prose(1_500, i)),
            Part::attachment("application/pdf", &format!("rechnung-{i}.pdf"), &pdf),
        ],
    )
}

fn docx_mail(i: u64) -> Vec<u8> {
    let paras: Vec<String> = (0..60).map(|p| prose(600, i * 100 + p)).collect();
    let paras: Vec<&str> = paras.iter().map(String::as_str).collect();
    let docx = docs::docx(&paras);
    multipart(
        &head(i, "Vertrag"),
        "mixed",
        &[
            Part::text("plain", &prose(1_500, i)),
            Part::attachment(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "vertrag.docx",
                &docx,
            ),
        ],
    )
}

/// Builds message `i` of a kind.
type Maker = fn(u64) -> Vec<u8>;

/// Extracts `messages` round-robin for `seconds`; returns (messages/s,
/// MB/s, mean bytes per message).
fn run(messages: &[Vec<u8>], seconds: Duration) -> (f64, f64, usize) {
    let limits = Limits::default();
    for m in messages {
        black_box(extract(m, &limits));
    }
    let (mut n, mut bytes) = (0usize, 0usize);
    let start = Instant::now();
    while start.elapsed() < seconds {
        for m in messages {
            black_box(extract(black_box(m), &limits));
            n += 1;
            bytes += m.len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    (n as f64 / secs, bytes as f64 / secs / 1e6, bytes / n.max(1))
}

fn main() {
    let secs = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let seconds = Duration::from_secs(secs);
    let kinds: [(&str, Maker); 5] = [
        ("text 10 kB, 8bit", text_8bit),
        ("text 10 kB, quoted-printable", text_qp),
        ("HTML newsletter", html_mail),
        ("200 kB PDF attached", pdf_mail),
        ("40 kB DOCX attached", docx_mail),
    ];
    let only = std::env::var("BENCH_ONLY").ok();
    let mut sets = Vec::new();
    println!("| message | size | msg/s (1 core) | MB/s | µs/msg |");
    println!("|---|---|---|---|---|");
    for (name, make) in kinds {
        let set: Vec<Vec<u8>> = (0..20).map(make).collect();
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            sets.push(set);
            continue;
        }
        let (rate, mbs, size) = run(&set, seconds);
        println!(
            "| {name} | {:.0} kB | {rate:.0} | {mbs:.1} | {:.0} |",
            size as f64 / 1000.0,
            1e6 / rate
        );
        sets.push(set);
    }
    if only.is_some() {
        return;
    }
    let mut mix = Vec::new();
    for i in 0..20 {
        for k in 0..3 {
            mix.push(sets[0][(i * 3 + k) % 20].clone());
            mix.push(sets[1][(i * 3 + k) % 20].clone());
        }
        mix.push(sets[2][i].clone());
        mix.push(sets[2][(i + 10) % 20].clone());
        mix.push(sets[3][i].clone());
        mix.push(sets[4][i].clone());
    }
    let (rate, mbs, size) = run(&mix, seconds * 2);
    println!(
        "| mix 30/30/20/10/10 | {:.0} kB | {rate:.0} | {mbs:.1} | {:.0} |",
        size as f64 / 1000.0,
        1e6 / rate
    );
}
