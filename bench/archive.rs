//! Archive benchmark: durable appends per second, verify speed against
//! `sha256sum`, bytes on disk against raw bytes.
//!
//! `cargo bench --bench archive` (options through env: `BENCH_MESSAGES`,
//! default 5000; `BENCH_WRITERS`, default 20; `BENCH_SIZE`, default 100000;
//! `BENCH_DIR`, default a temporary directory on the same disk as `target/`).
//! Results go to stdout as a Markdown table row for docs/benchmarks.md.

// A benchmark and a test harness stop at the first surprise: unwrapping is
// how they say so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use base64::Engine;
use mailseal::archive::record::{MessageMeta, Source, SourceKind};
use mailseal::archive::{Archive, ArchiveOptions, NewMessage, SpooledContent, verify};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A realistic ~`size`-byte message: headers, a text part and a base64
/// attachment of incompressible bytes (like a PDF or JPEG).
fn message(i: usize, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Sender {i} <s{i}@example.com>\r\nTo: r{i}@example.org\r\nSubject: Invoice {i}\r\n\
         Message-ID: <bench{i}@example.com>\r\nDate: Sun, 29 Nov 2026 06:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n\
         --b{i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    .into_bytes();
    for k in 0..(size / 20 / 60) {
        m.extend_from_slice(
            format!("Line {k} of the letter about order {i}, please find attached.\r\n").as_bytes(),
        );
    }
    m.extend_from_slice(
        format!(
            "--b{i}\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        )
        .as_bytes(),
    );
    let mut x = (i as u64).wrapping_mul(0x9e3779b97f4a7c15) | 1;
    let raw_len = (size.saturating_sub(m.len() + 40)) * 3 / 4;
    let raw: Vec<u8> = (0..raw_len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
    for line in b64.as_bytes().chunks(76) {
        m.extend_from_slice(line);
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(format!("--b{i}--\r\n").as_bytes());
    m
}

fn main() {
    let n = env("BENCH_MESSAGES", 5000);
    let writers = env("BENCH_WRITERS", 20);
    let size = env("BENCH_SIZE", 100_000);
    let base = std::env::var("BENCH_DIR").unwrap_or_else(|_| "target/bench-archive".into());
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let dir = std::path::Path::new(&base);
    let arch = dir.join("archive");

    eprintln!("generating {n} messages of ~{size} bytes");
    let msgs: Vec<Vec<u8>> = (0..n).map(|i| message(i, size)).collect();
    let raw_bytes: u64 = msgs.iter().map(|m| m.len() as u64).sum();
    {
        let mut f = std::fs::File::create(dir.join("raw.bin")).unwrap();
        for m in &msgs {
            f.write_all(m).unwrap();
        }
        f.sync_all().unwrap();
    }

    let archive = Archive::open(&ArchiveOptions::at(&arch)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let msgs = std::sync::Arc::new(msgs);
    let started = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for w in 0..writers {
            let (archive, msgs) = (archive.clone(), msgs.clone());
            tasks.push(tokio::spawn(async move {
                for i in (w..msgs.len()).step_by(writers) {
                    let meta = MessageMeta {
                        source: Source {
                            kind: SourceKind::Journal,
                            name: "bench".into(),
                        },
                        ..Default::default()
                    };
                    let content = SpooledContent::from_bytes(msgs[i].clone());
                    archive
                        .append(NewMessage {
                            meta,
                            content,
                            evidence: None,
                        })
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let append_secs = started.elapsed().as_secs_f64();
    archive.close().unwrap();
    drop(archive);

    // Drop caches is not available everywhere; read both once to warm them equally.
    let seg_bytes: u64 = std::fs::read_dir(arch.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let _ = Command::new("cat")
        .arg(dir.join("raw.bin"))
        .stdout(std::process::Stdio::null())
        .status();
    let t = Instant::now();
    let sum = Command::new("sha256sum")
        .arg(dir.join("raw.bin"))
        .output()
        .unwrap();
    assert!(sum.status.success());
    let sha_secs = t.elapsed().as_secs_f64();
    let _ = verify::verify_dir(&arch, None).unwrap();
    let t = Instant::now();
    let report = verify::verify_dir(&arch, None).unwrap();
    let verify_secs = t.elapsed().as_secs_f64();
    assert!(report.ok(), "{:?}", report.problems.first());

    let mb = raw_bytes as f64 / 1e6;
    println!("messages: {n} x ~{size} B from {writers} writers, {mb:.0} MB raw");
    println!(
        "appends/s (durable): {:.0}  ({:.1} MB/s)",
        n as f64 / append_secs,
        mb / append_secs
    );
    println!(
        "sha256sum: {:.0} MB/s; verify: {:.0} MB/s; ratio {:.2}",
        mb / sha_secs,
        mb / verify_secs,
        sha_secs / verify_secs
    );
    println!(
        "on disk: {seg_bytes} B segments for {raw_bytes} B raw: {:.3}",
        seg_bytes as f64 / raw_bytes as f64
    );
    let _ = std::fs::remove_dir_all(&base);
}
