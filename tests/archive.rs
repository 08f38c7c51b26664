//! The archive through the library: tamper detection, torn tails, crash
//! safety under SIGKILL, deduplication, concurrent group commit.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use mailseal::archive::reader::Reader;
use mailseal::archive::record::{ImportContext, MessageMeta, Source, SourceKind};
use mailseal::archive::segment::{self, Kind, SegmentReader};
use mailseal::archive::verify;
use mailseal::archive::{Archive, ArchiveOptions, NewMessage, SpooledContent};

use crate::support::corpus;

fn meta(i: usize) -> MessageMeta {
    MessageMeta {
        source: Source {
            kind: SourceKind::Import,
            name: "test".into(),
        },
        import: Some(ImportContext {
            kind: "eml".into(),
            origin: format!("msg{i}"),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn new_message(i: usize, bytes: Vec<u8>) -> NewMessage {
    NewMessage {
        meta: meta(i),
        content: SpooledContent::from_bytes(bytes),
        evidence: None,
    }
}

/// An archive with `n` distinct messages, closed (and so sealed).
fn build(dir: &Path, n: usize) {
    let a = Archive::open_dir(dir).unwrap();
    for i in 1..=n {
        a.append_blocking(new_message(i, corpus::message(i, 2000 + i * 300)))
            .unwrap();
    }
    a.close().unwrap();
}

/// Every frame of segment 1: (kind, offset, payload length, record seq).
fn frames(dir: &Path) -> Vec<(Kind, u64, u64, Option<u64>)> {
    let segs = dir.join("segments");
    let mut r = SegmentReader::open(&segs, 1).unwrap();
    let mut out = Vec::new();
    while let Some(fh) = r.next_header().unwrap() {
        let seq = (fh.kind == Kind::Record).then(|| {
            let p = r.read_payload(&fh).unwrap();
            mailseal::archive::record::Record::decode(&p[32..])
                .unwrap()
                .seq
        });
        out.push((fh.kind, fh.at.offset, fh.len, seq));
    }
    out
}

fn record_frame(dir: &Path, seq: u64) -> (u64, u64) {
    frames(dir)
        .iter()
        .find(|f| f.3 == Some(seq))
        .map(|f| (f.1, f.2))
        .unwrap()
}

fn seg1(dir: &Path) -> PathBuf {
    dir.join("segments").join(segment::file_name(1))
}

fn copy_archive(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("segments")).unwrap();
    for e in std::fs::read_dir(from.join("segments")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join("segments").join(e.file_name())).unwrap();
    }
    std::fs::copy(from.join("seal.key"), to.join("seal.key")).unwrap();
}

fn first_problem(dir: &Path) -> Option<verify::Problem> {
    let key = mailseal::archive::seal::load_key(&dir.join("seal.key"))
        .unwrap()
        .verifying_key();
    verify::verify_dir(dir, Some(&key))
        .unwrap()
        .problems
        .into_iter()
        .next()
}

fn tampered(
    base: &Path,
    name: &str,
    change: impl FnOnce(&Path, Vec<u8>) -> Vec<u8>,
) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    copy_archive(base, t.path());
    let bytes = std::fs::read(seg1(t.path())).unwrap();
    let changed = change(base, bytes);
    std::fs::write(seg1(t.path()), changed).unwrap();
    eprintln!("tampered copy: {name}");
    t
}

#[test]
fn untampered_archive_verifies_and_every_tampering_is_named() {
    let base = tempfile::tempdir().unwrap();
    build(base.path(), 10);
    assert!(
        first_problem(base.path()).is_none(),
        "clean archive must verify"
    );

    // One byte of stored content (record 3's content frame precedes it;
    // an `E` frame, contents being encrypted by default: the ciphertext's
    // hash catches it without any key).
    let t = tampered(base.path(), "content byte", |b, mut bytes| {
        let f = frames(b);
        let i = f.iter().position(|f| f.3 == Some(3)).unwrap();
        let (kind, off, len, _) = f[i - 1];
        assert_eq!(kind, Kind::Encrypted);
        bytes[(off + 9 + len - 5) as usize] ^= 0x01;
        bytes
    });
    let p = first_problem(t.path()).unwrap();
    assert_eq!((p.kind, p.seq), ("content-changed", Some(3)), "{p}");

    // One byte inside record 5's JSON (a digit of its time stamp).
    let t = tampered(base.path(), "record byte", |b, mut bytes| {
        let (off, _) = record_frame(b, 5);
        let json_start = (off + 9 + 32) as usize;
        let pos = json_start
            + bytes[json_start..]
                .windows(7)
                .position(|w| w == b"\"time\":")
                .unwrap()
            + 9;
        bytes[pos] = if bytes[pos] == b'1' { b'2' } else { b'1' };
        bytes
    });
    let p = first_problem(t.path()).unwrap();
    assert_eq!((p.kind, p.seq), ("record-changed", Some(5)), "{p}");

    // Record 4 deleted.
    let t = tampered(base.path(), "record deleted", |b, mut bytes| {
        let (off, len) = record_frame(b, 4);
        bytes.drain(off as usize..(off + 13 + len) as usize);
        bytes
    });
    let p = first_problem(t.path()).unwrap();
    assert_eq!((p.kind, p.seq), ("record-missing", Some(5)), "{p}");
    assert!(p.detail.contains("record 4"), "{p}");

    // Records 6 and 7 swapped.
    let t = tampered(base.path(), "records swapped", |b, bytes| {
        let (o6, l6) = record_frame(b, 6);
        let (o7, l7) = record_frame(b, 7);
        let (o6, e6, o7, e7) = (
            o6 as usize,
            (o6 + 13 + l6) as usize,
            o7 as usize,
            (o7 + 13 + l7) as usize,
        );
        [
            &bytes[..o6],
            &bytes[o7..e7],
            &bytes[e6..o7],
            &bytes[o6..e6],
            &bytes[e7..],
        ]
        .concat()
    });
    let p = first_problem(t.path()).unwrap();
    assert_eq!((p.kind, p.seq), ("order-changed", Some(7)), "{p}");

    // Segment cut in the middle of record 8.
    let t = tampered(base.path(), "truncated", |b, mut bytes| {
        let (off, len) = record_frame(b, 8);
        bytes.truncate((off + len / 2) as usize);
        bytes
    });
    let p = first_problem(t.path()).unwrap();
    assert_eq!(p.kind, "truncated", "{p}");
    assert!(p.detail.contains("after record 7"), "{p}");

    // A seal signed by another key.
    let t = tampered(base.path(), "foreign key", |_, bytes| bytes);
    std::fs::remove_file(t.path().join("seal.key")).unwrap();
    mailseal::archive::seal::load_or_create_key(&t.path().join("seal.key")).unwrap();
    let p = first_problem(t.path()).unwrap();
    assert_eq!(p.kind, "seal-bad", "{p}");
}

#[test]
fn torn_tail_is_moved_aside_and_truncated_on_open() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 3);
    let seg = seg1(dir.path());
    let good_len = std::fs::metadata(&seg).unwrap().len();
    // Half a frame, as a crash mid-append leaves it.
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes.extend_from_slice(&[b'R', 0, 0, 0, 0, 0, 0, 1, 0, b'{', b'"']);
    std::fs::write(&seg, &bytes).unwrap();

    let a = Archive::open_dir(dir.path()).unwrap();
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), good_len);
    let aside = dir
        .path()
        .join("segments")
        .join(format!("{}.torn-{good_len}", segment::file_name(1)));
    assert_eq!(std::fs::read(aside).unwrap().len(), 11);
    let ap = a
        .append_blocking(new_message(4, b"Subject: after\r\n\r\nx\r\n".to_vec()))
        .unwrap();
    assert_eq!(ap.seq, 4);
    a.close().unwrap();
    assert!(first_problem(dir.path()).is_none());
}

#[test]
fn damage_before_the_tail_is_not_truncated_away() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 3);
    let seg = seg1(dir.path());
    let (off, _) = record_frame(dir.path(), 2);
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[off as usize + 20] ^= 0xff;
    std::fs::write(&seg, &bytes).unwrap();
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let err = Archive::open_dir(dir.path())
        .err()
        .expect("open must refuse a damaged middle");
    assert!(err.to_string().contains("verify"), "{err}");
    assert_eq!(
        std::fs::read(&seg).unwrap(),
        bytes,
        "nothing may be cut away"
    );
}

#[test]
fn same_content_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = Archive::open_dir(dir.path()).unwrap();
    let m = corpus::message(1, 50_000);
    let first = a.append_blocking(new_message(1, m.clone())).unwrap();
    let second = a.append_blocking(new_message(2, m.clone())).unwrap();
    assert!(!first.deduplicated && second.deduplicated);
    let st = a.reader().stats().unwrap();
    assert_eq!((st.messages, st.unique_contents), (2, 1));
    assert_eq!(st.message_bytes, 2 * m.len() as u64);
    assert_eq!(st.unique_bytes, m.len() as u64);
    assert!(st.stored_bytes < m.len() as u64, "content is compressed");
    a.close().unwrap();
}

#[test]
fn large_message_streams_through_a_spool_and_reads_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = ArchiveOptions::at(dir.path());
    opts.spool_memory_limit = 64 * 1024;
    let a = Archive::open(&opts).unwrap();
    let big = corpus::message(7, 12 * 1024 * 1024);
    let mut spool = a.spool();
    for chunk in big.chunks(100_000) {
        spool.write(chunk).unwrap();
    }
    let content = spool.finish();
    assert!(content.as_memory().is_none(), "spilled to disk");
    let ap = a
        .append_blocking(NewMessage {
            meta: meta(7),
            content,
            evidence: None,
        })
        .unwrap();
    let mut out = Vec::new();
    let r = a.reader();
    let (rec, _) = r.record(ap.seq).unwrap();
    r.write_content(&rec.message().unwrap().content.sha256, &mut out)
        .unwrap();
    assert!(out == big);
    a.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_are_group_committed_in_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let a = Archive::open_dir(dir.path()).unwrap();
    let mut tasks = Vec::new();
    for w in 0..20 {
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..10 {
                let n = w * 100 + i;
                seqs.push(
                    a.append(new_message(n, corpus::message(n, 5_000)))
                        .await
                        .unwrap()
                        .seq,
                );
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=200).collect::<Vec<u64>>());
    let a2 = a.clone();
    tokio::task::spawn_blocking(move || a2.close())
        .await
        .unwrap()
        .unwrap();
    assert!(first_problem(dir.path()).is_none());
}

/// The child side of the crash test: appends from 4 threads and prints
/// `ack SEQ SHA256` for every acknowledged append.
#[test]
#[ignore = "run by crash_test_kill9 as a child process"]
fn crash_child() {
    let Ok(dir) = std::env::var("MAILSEAL_CRASH_DIR") else {
        return;
    };
    let a = Archive::open_dir(Path::new(&dir)).unwrap();
    let base: usize = std::env::var("MAILSEAL_CRASH_BASE")
        .unwrap()
        .parse()
        .unwrap();
    let out = std::sync::Mutex::new(std::io::stdout());
    std::thread::scope(|s| {
        for t in 0..4 {
            let (a, out) = (&a, &out);
            s.spawn(move || {
                for i in 0.. {
                    let n = base + t * 100_000 + i;
                    let size = if i % 7 == 0 {
                        300_000
                    } else {
                        3_000 + n % 20_000
                    };
                    let m = corpus::message(n, size);
                    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&m));
                    let ap = a.append_blocking(new_message(n, m)).unwrap();
                    use std::io::Write;
                    let mut o = out.lock().unwrap();
                    writeln!(o, "ack {} {sha}", ap.seq).unwrap();
                    o.flush().unwrap();
                }
            });
        }
    });
}

#[test]
fn crash_test_kill9() {
    let dir = tempfile::tempdir().unwrap();
    let iterations: usize = std::env::var("MAILSEAL_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let mut acked: Vec<(u64, String)> = Vec::new();
    let mut rng = 0x9e3779b97f4a7c15u64;
    for it in 0..iterations {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "archive::crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("MAILSEAL_CRASH_DIR", dir.path())
            .env("MAILSEAL_CRASH_BASE", (it * 1_000_000).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
        let wait_ms = 150 + (rng >> 40) % 600;
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| {
                    let mut p = l.split(' ');
                    (p.next() == Some("ack")).then(|| {
                        (
                            p.next().unwrap().parse::<u64>().unwrap(),
                            p.next().unwrap().to_string(),
                        )
                    })
                })
                .collect::<Vec<_>>()
        });
        std::thread::sleep(Duration::from_millis(wait_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        acked.extend(reader.join().unwrap());
    }
    assert!(
        acked.len() > iterations,
        "the child must have acknowledged appends ({})",
        acked.len()
    );
    // Reopen (repairs a torn tail), then everything acknowledged must be there.
    let a = Archive::open_dir(dir.path()).unwrap();
    a.close().unwrap();
    let r = Reader::open(&ArchiveOptions::at(dir.path())).unwrap();
    for (seq, sha) in &acked {
        let s = r
            .summary(*seq)
            .unwrap_or_else(|e| panic!("acknowledged record {seq} lost: {e}"));
        assert_eq!(&s.sha256, sha, "record {seq} holds other content");
        let mut out = Vec::new();
        r.write_content(sha, &mut out).unwrap();
    }
    drop(r);
    assert!(
        first_problem(dir.path()).is_none(),
        "verify after {iterations} kills: {:?}",
        first_problem(dir.path())
    );
}

#[test]
fn independent_python_verifier_agrees_with_the_format_document() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = ArchiveOptions::at(dir.path());
    opts.segment_max_bytes = 4_000; // several segments
    let a = Archive::open(&opts).unwrap();
    for i in 0..12 {
        let mut m = new_message(i, corpus::message(i % 9, 3_000 + i * 500)); // some duplicates
        if i == 3 {
            m.evidence = Some(SpooledContent::from_bytes(
                b"X-MS-Journal-Report:\r\n\r\nreport".to_vec(),
            ));
        }
        a.append_blocking(m).unwrap();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(a.append_outcome(mailseal::archive::Outcome {
        of: 2,
        upstream_reply: "250 2.0.0 Ok: queued".into(),
        result: "accepted".into(),
        sealed: None,
    }))
    .unwrap();
    a.close().unwrap();
    assert!(
        mailseal::archive::segment::list(&dir.path().join("segments"))
            .unwrap()
            .len()
            > 2
    );
    let key = hex::encode(a.public_key().as_bytes());
    let report = verify::verify_dir(dir.path(), Some(&a.public_key())).unwrap();
    assert!(report.ok(), "{:?}", report.problems);

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/verify_archive.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(dir.path())
        .arg(&key)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        text.trim(),
        format!(
            "ok 13 {} 1 13 {}\nencrypted: {} contents, 13 sealed records; decrypted: 0 contents; purged: 0 contents, 0 records",
            report.contents, report.head_hash, report.encrypted
        )
    );

    // And it notices tampering too.
    let seg = dir.path().join("segments").join(segment::file_name(2));
    let mut b = std::fs::read(&seg).unwrap();
    let n = b.len();
    b[n - 30] ^= 1;
    std::fs::write(&seg, b).unwrap();
    let out = Command::new("python3")
        .arg(script)
        .arg(dir.path())
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// Verifying segments fetched one at a time (as `verify --replica` does)
/// finds what verifying the whole directory finds, with only one segment
/// present at any time, and names damage in a segment fetched late.
#[test]
fn verifying_one_fetched_segment_at_a_time_agrees_with_the_whole_directory() {
    let source = tempfile::tempdir().unwrap();
    let mut opts = ArchiveOptions::at(source.path());
    opts.segment_max_bytes = 6_000; // several segments
    let a = Archive::open(&opts).unwrap();
    for i in 0..20 {
        a.append_blocking(new_message(i, corpus::message(i, 2_500 + i * 200)))
            .unwrap();
    }
    a.close().unwrap();
    let key = mailseal::archive::seal::load_key(&source.path().join("seal.key"))
        .unwrap()
        .verifying_key();
    let segments = source.path().join("segments");
    let numbers = segment::list(&segments).unwrap();
    assert!(numbers.len() >= 4, "{numbers:?}");
    let options = verify::TreeOptions::default();

    let fetched = |segments: &Path| {
        let scratch = tempfile::tempdir().unwrap();
        let most = std::cell::Cell::new(0);
        let fetch = |n: u32| {
            let name = segment::file_name(n);
            std::fs::copy(segments.join(&name), scratch.path().join(&name))?;
            most.set(most.get().max(std::fs::read_dir(scratch.path())?.count()));
            Ok(())
        };
        let release = |n: u32| {
            std::fs::remove_file(scratch.path().join(segment::file_name(n))).unwrap();
        };
        let report = verify::verify_fetched(
            scratch.path(),
            &numbers,
            fetch,
            release,
            Some(&key),
            &options,
        )
        .unwrap();
        assert_eq!(most.get(), 1, "one segment at a time");
        report
    };
    let whole = verify::verify_with(&segments, Some(&key), &options).unwrap();
    let one_by_one = fetched(&segments);
    assert!(whole.ok() && one_by_one.ok(), "{:?}", one_by_one.problems);
    assert_eq!(one_by_one.records, whole.records);
    assert_eq!(one_by_one.contents, whole.contents);
    assert_eq!(one_by_one.head_seq, whole.head_seq);

    // A flipped byte in the last segment: both name the same place.
    let last = segments.join(segment::file_name(*numbers.last().unwrap()));
    let mut bytes = std::fs::read(&last).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&last, bytes).unwrap();
    let whole = verify::verify_with(&segments, Some(&key), &options).unwrap();
    let one_by_one = fetched(&segments);
    assert!(!whole.ok());
    let place = |r: &verify::Report| {
        let p = &r.problems[0];
        (p.segment, p.offset, p.kind)
    };
    assert_eq!(place(&one_by_one), place(&whole));
}
