//! Proofs in a large tree: builds a tree file of `BENCH_RECORDS` records
//! (default 10,000,000; chain hashes of generated records, no contents),
//! makes the inclusion proof of one message record against a signed tree
//! head, and measures the proof's size and the time to make and to check
//! it (in process, and with `mailseal-verify proof` and the Python
//! verifier as an auditor runs them).
//!
//! `cargo bench --bench proofs` (env: `BENCH_RECORDS`, `BENCH_DIR`, default
//! `target/bench-proofs`). Needs `target/release/mailseal-verify`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use ed25519_dalek::SigningKey;
use mailseal::archive::chain;
use mailseal::archive::merkle::{self, Frontier};
use mailseal::archive::record::{
    ContentRef, MessageMeta, RECORD_FORMAT, Record, RecordBody, Source, SourceKind,
};
use mailseal::archive::tree_file::TreeFile;
use mailseal::archive::tree_head;
use mailseal::proof::{AuditPath, InclusionProof, RecordJson};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n: u64 = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let base = std::env::var("BENCH_DIR").unwrap_or_else(|_| "target/bench-proofs".into());
    let dir = std::path::Path::new(&base);
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let key = SigningKey::from_bytes(&[42; 32]);
    let target = n / 3 + 1;

    // The chain: record `target` is a real message record; the others are
    // stand-ins with distinct hashes (only hashes enter the tree).
    let t = Instant::now();
    let mut file = TreeFile::open(&dir.join("tree")).unwrap();
    let mut frontier = Frontier::default();
    let mut prev = chain::GENESIS;
    let mut record_json = Vec::new();
    let mut batch = Vec::new();
    for seq in 1..=n {
        let json = if seq == target {
            let r = Record {
                format: RECORD_FORMAT,
                seq,
                time: "2026-12-06T10:00:00.000000Z".into(),
                prev_hash: hex::encode(prev),
                body: RecordBody::Message(Box::new(MessageMeta {
                    source: Source {
                        kind: SourceKind::Journal,
                        name: "journal".into(),
                    },
                    mail_from: Some("buchhaltung@example.com".into()),
                    content: ContentRef {
                        sha256: "ab".repeat(32),
                        size: 104_857,
                        stored: None,
                    },
                    ..Default::default()
                })),
            };
            record_json = r.encode();
            record_json.clone()
        } else {
            seq.to_be_bytes().to_vec()
        };
        let hash = chain::link(&prev, &json);
        batch.extend(frontier.push(&hash));
        if batch.len() >= 1 << 16 {
            file.append(&batch).unwrap();
            batch.clear();
        }
        prev = hash;
    }
    file.append(&batch).unwrap();
    file.sync().unwrap();
    let build_secs = t.elapsed().as_secs_f64();
    let root = frontier.root();
    let head = tree_head::make(&key, n, &root, &prev, "2026-12-06T10:05:00.000000Z".into());
    let tree_bytes: u64 = std::fs::read_dir(dir.join("tree"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();

    let mut make = Vec::new();
    let mut path = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        path = merkle::inclusion_proof(&file, target - 1, n).unwrap();
        make.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let leaf_chain = {
        let (p, json) = (
            chain::parse_hex(
                serde_json::from_slice::<serde_json::Value>(&record_json).unwrap()["prev_hash"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap(),
            &record_json,
        );
        chain::link(&p, json)
    };
    let mut check = Vec::new();
    for _ in 0..99 {
        let t = Instant::now();
        let ok =
            merkle::verify_inclusion(target - 1, n, &merkle::leaf_hash(&leaf_chain), &path, &root)
                && mailseal::archive::tree_head::check(&head, Some(&key.verifying_key())).is_ok();
        check.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(ok);
    }
    let proof = InclusionProof {
        mailseal_proof: 1,
        kind: "inclusion".into(),
        archive_id: hex::encode(key.verifying_key().as_bytes()),
        record: RecordJson {
            seq: target,
            json: String::from_utf8(record_json.clone()).unwrap(),
            hash: hex::encode(leaf_chain),
        },
        content: ContentRef {
            sha256: "ab".repeat(32),
            size: 104_857,
            stored: None,
        },
        inclusion: AuditPath {
            leaf_index: target - 1,
            tree_size: n,
            path: path.iter().map(hex::encode).collect(),
        },
        tree_head: head,
        timestamps: Vec::new(),
        key_history: Vec::new(),
    };
    let proof_file = dir.join("proof.json");
    let pretty = serde_json::to_vec_pretty(&proof).unwrap();
    let compact = serde_json::to_vec(&proof).unwrap();
    std::fs::File::create(&proof_file)
        .unwrap()
        .write_all(&pretty)
        .unwrap();

    let standalone = std::path::Path::new("target/release/mailseal-verify");
    let run = |cmd: &mut Command| {
        let t = Instant::now();
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
        t.elapsed().as_secs_f64() * 1e3
    };
    let key_hex = hex::encode(key.verifying_key().as_bytes());
    let mut rust_ms = Vec::new();
    let mut py_ms = Vec::new();
    for _ in 0..5 {
        rust_ms.push(run(Command::new(standalone).args([
            "proof",
            proof_file.to_str().unwrap(),
            "--public-key",
            &key_hex,
        ])));
        py_ms.push(run(Command::new("python3")
            .arg("tests/tools/verify_archive.py")
            .args(["proof", proof_file.to_str().unwrap(), "--key", &key_hex])));
    }
    println!(
        "records: {n}; tree file {:.0} MB built in {build_secs:.1} s",
        tree_bytes as f64 / 1e6
    );
    println!(
        "proof of record {target}: {} path hashes; {} B JSON pretty, {} B compact",
        path.len(),
        pretty.len(),
        compact.len()
    );
    println!(
        "make the audit path (tree file): median {:.0} us; check path + signature in process: median {:.0} us",
        median(make),
        median(check)
    );
    println!(
        "end to end: mailseal-verify proof median {:.1} ms, verify_archive.py proof median {:.1} ms",
        median(rust_ms),
        median(py_ms)
    );
    let _ = std::fs::remove_dir_all(dir);
}
