//! Inputs the fuzz targets (`fuzz/`) found to break an invariant, kept as
//! regular tests so `cargo test` fails until the bug is fixed and catches
//! it if it comes back. Each test names its target and what it found.

use std::path::Path;

use mailseal::archive::reader::Reader;
use mailseal::archive::record::{ImportContext, MessageMeta, Source, SourceKind};
use mailseal::archive::segment::{self, Kind, SegmentReader};
use mailseal::archive::verify;
use mailseal::archive::{Archive, ArchiveOptions, NewMessage, SpooledContent};

const MESSAGE: &[u8] =
    b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nshort body\r\n";

/// A closed archive holding `MESSAGE`; returns its content hash.
fn one_message(dir: &Path) -> String {
    let archive = Archive::open_dir(dir).unwrap();
    let content = SpooledContent::from_bytes(MESSAGE.to_vec());
    let sha = content.sha256_hex();
    let meta = MessageMeta {
        source: Source {
            kind: SourceKind::Import,
            name: "fuzz".into(),
        },
        import: Some(ImportContext {
            kind: "eml".into(),
            origin: "m.eml".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    archive
        .append_blocking(NewMessage {
            meta,
            content,
            evidence: None,
        })
        .unwrap();
    archive.close().unwrap();
    sha
}

/// Appends to segment 1 a copy of its first content frame with one data
/// byte flipped and a valid CRC: a damaged second copy of a stored content
/// (the writer stores a content twice when its index lookup fails, e.g.
/// after a full disk; bit rot or tampering then hits one copy).
fn append_damaged_copy(dir: &Path) {
    let segments = dir.join("segments");
    let mut r = SegmentReader::open(&segments, 1).unwrap();
    let fh = loop {
        let fh = r.next_header().unwrap().expect("a content frame");
        if matches!(fh.kind, Kind::Content | Kind::Encrypted) {
            break fh;
        }
    };
    let mut payload = r.read_payload(&fh).unwrap();
    // The data starts after sha256 (32), size (8) and codec (1); an
    // encrypted content's ciphertext after cipher, slot and its hash too.
    let data = if fh.kind == Kind::Encrypted { 82 } else { 41 };
    payload[data] ^= 0x01;
    let mut frame = segment::frame_head(fh.kind, fh.len).to_vec();
    frame.extend_from_slice(&payload);
    let crc = crc32fast::hash(&frame);
    frame.extend_from_slice(&crc.to_be_bytes());
    let path = segments.join(segment::file_name(1));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&frame);
    std::fs::write(&path, bytes).unwrap();
}

/// Target `archive_segment`: "verify passed but record 1 content fails".
/// A damaged content frame whose hash another, intact frame also carries
/// is not reported by `verify` (its hash counts as good), so the archive
/// verifies clean while the index points at the damaged copy.
#[test]
fn verify_reports_a_damaged_second_copy_of_a_content() {
    let dir = tempfile::tempdir().unwrap();
    one_message(dir.path());
    append_damaged_copy(dir.path());
    let report = verify::verify_dir(dir.path(), None).unwrap();
    assert!(
        !report.ok(),
        "a damaged content frame went unreported: {report:?}"
    );
}

/// Same input: the message must stay readable from its intact copy
/// (`show --raw`, `export`), instead of failing on the damaged one after
/// writing its altered bytes.
#[test]
fn a_damaged_second_copy_does_not_hide_the_intact_one() {
    let dir = tempfile::tempdir().unwrap();
    let sha = one_message(dir.path());
    append_damaged_copy(dir.path());
    let reader = Reader::open(&ArchiveOptions::at(dir.path())).unwrap();
    let mut out = Vec::new();
    let read = reader.write_content(&sha, &mut out);
    assert!(read.is_ok(), "content unreadable: {read:?}");
    assert_eq!(out, MESSAGE);
}

/// Target `archive_segment`: "attempt to subtract with overflow" in
/// `verify` (debug builds; release builds wrapped silently). A record frame
/// numbered 0, with a valid CRC, is reported as changed and out of place,
/// never a crash. The fuzzer's input is kept in
/// `fuzz/corpus/archive_segment/regression-seq-zero`.
#[test]
fn a_record_numbered_zero_is_reported_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    one_message(dir.path());
    let segments = dir.path().join("segments");
    let mut r = SegmentReader::open(&segments, 1).unwrap();
    let mut at = segment::HEADER_LEN;
    let (fh, at) = loop {
        let fh = r.next_header().unwrap().expect("a record frame");
        if fh.kind == Kind::Record {
            break (fh, at);
        }
        r.read_payload(&fh).unwrap();
        at += segment::FRAME_OVERHEAD + fh.len;
    };
    let payload = r.read_payload(&fh).unwrap();
    let json = String::from_utf8(payload[32..].to_vec()).unwrap();
    assert!(json.contains("\"seq\":1,"), "{json}");
    let mut frame = segment::frame_head(Kind::Record, fh.len).to_vec();
    frame.extend_from_slice(&payload[..32]);
    frame.extend_from_slice(json.replacen("\"seq\":1,", "\"seq\":0,", 1).as_bytes());
    let crc = crc32fast::hash(&frame);
    frame.extend_from_slice(&crc.to_be_bytes());
    let path = segments.join(segment::file_name(1));
    let mut bytes = std::fs::read(&path).unwrap();
    let start = at as usize;
    bytes[start..start + frame.len()].copy_from_slice(&frame);
    std::fs::write(&path, bytes).unwrap();

    let report = verify::verify_dir(dir.path(), None).unwrap();
    let found = format!("{report:?}");
    assert!(!report.ok(), "record 0 went unreported: {found}");
    assert!(found.contains("record-changed"), "{found}");
}
