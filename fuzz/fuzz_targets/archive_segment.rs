//! A damaged archive: the input becomes segment 1 of an archive in a fresh
//! temporary directory, and everything that reads segments runs on it:
//! `verify`, the index scan (`scan::apply_from`, in memory and with tail
//! repair), content decoding, and the CLI's `Reader` over a sled index.
//!
//! Settings (byte 0, bit flags): 1 = put a valid segment header in front;
//! 2 = recompute every frame's CRC, so mutations reach the payload parsers
//! instead of stopping at the checksum; 4 = open a `Reader` (slow: sled);
//! 8 = run the crash-recovery scan that repairs a torn tail.
//! Checked besides "no panic" and "no hang":
//! - `verify` answers (it never fails with an I/O error on a readable dir);
//! - when `verify` finds no problem, the scan and the `Reader` succeed, see
//!   the same records, and every record's content can be read back whole;
//! - after tail repair, `verify` no longer reports a truncated frame.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mailseal::archive::ArchiveOptions;
use mailseal::archive::index::Head;
use mailseal::archive::reader::Reader;
use mailseal::archive::record::RecordBody;
use mailseal::archive::scan::{self, MemoryIndex};
use mailseal::archive::segment::{self, FRAME_OVERHEAD, HEADER_LEN};
use mailseal::archive::verify::{self, Report};
use mailseal_fuzz::settings;

fuzz_target!(|data: &[u8]| {
    let ([flags], body) = settings::<1>(data);
    let mut file = Vec::with_capacity(body.len() + 16);
    if flags & 1 != 0 {
        file.extend_from_slice(&segment::header(1));
    }
    file.extend_from_slice(body);
    if flags & 2 != 0 {
        fix_crcs(&mut file);
    }
    // The harness's own temp files: failing here is the machine, not mailseal.
    let dir = tempfile::tempdir().expect("temp dir");
    let segments = dir.path().join("segments");
    std::fs::create_dir(&segments).expect("segments dir");
    std::fs::write(segments.join(segment::file_name(1)), &file).expect("segment file");

    let report = verify::verify_dir(dir.path(), None).expect("verify failed with an I/O error");
    let mut mem = MemoryIndex::default();
    // No key store: an `E` frame's content stays closed (format 2.3).
    let scanned = scan::apply_from(&segments, &Head::default(), &mut mem, false, None);
    for loc in mem.contents.values() {
        let _ = scan::write_content_at(&segments, loc.at, &mut std::io::sink(), None);
    }
    if report.ok() {
        let head = match scanned {
            Ok(head) => head,
            Err(e) => panic!("verify passed but the scan failed: {e}"),
        };
        assert_eq!(
            mem.summaries.len() as u64,
            report.records,
            "scan and verify disagree"
        );
        assert_eq!(
            head.seq, report.head_seq,
            "scan and verify disagree on the head"
        );
    }
    if flags & 4 != 0 {
        read_all(dir.path(), &report);
    }
    if flags & 8 != 0 {
        let repaired = scan::apply_from(
            &segments,
            &Head::default(),
            &mut MemoryIndex::default(),
            true,
            None,
        );
        if repaired.is_ok() {
            let again = verify::verify_dir(dir.path(), None).expect("verify after repair");
            let torn = again.problems.iter().find(|p| p.kind == "truncated");
            assert!(torn.is_none(), "torn tail left after repair: {torn:?}");
        }
    }
});

/// What the CLI does: list, show and export every record.
fn read_all(dir: &Path, report: &Report) {
    let reader = match Reader::open(&ArchiveOptions::at(dir)) {
        Ok(r) => r,
        Err(e) if report.ok() => panic!("verify passed but the reader failed: {e}"),
        Err(_) => return,
    };
    let _ = (reader.head(), reader.last_seal(), reader.stats());
    let Ok(summaries) = reader.summaries() else {
        assert!(!report.ok(), "verify passed but listing failed");
        return;
    };
    if report.ok() {
        assert_eq!(
            summaries.len() as u64,
            report.records,
            "reader and verify disagree"
        );
    }
    for s in summaries {
        let record = reader.record(s.seq);
        let Ok((record, _)) = record else {
            assert!(
                !report.ok(),
                "verify passed but record {} does not read",
                s.seq
            );
            continue;
        };
        if let RecordBody::Message(m) = &record.body {
            let mut out = Vec::new();
            let got = reader.write_content(&m.content.sha256, &mut out);
            if report.ok() {
                match got {
                    Ok(n) => assert_eq!(n, out.len() as u64),
                    Err(e) => panic!("verify passed but record {} content fails: {e}", s.seq),
                }
            }
        }
    }
}

/// Rewrites each frame's CRC that lies within the file, walking the frames
/// by their declared lengths from the end of the header.
fn fix_crcs(file: &mut [u8]) {
    let mut pos = HEADER_LEN as usize;
    while let Some(head) = file.get(pos..pos + 9) {
        let len = u64::from_be_bytes(head[1..9].try_into().unwrap_or([0xff; 8]));
        let Some(end) = (pos as u64 + FRAME_OVERHEAD).checked_add(len) else {
            return;
        };
        if end > file.len() as u64 {
            return;
        }
        let crc_at = end as usize - 4;
        let crc = crc32fast::hash(&file[pos..crc_at]);
        file[crc_at..crc_at + 4].copy_from_slice(&crc.to_be_bytes());
        pos = end as usize;
    }
}
