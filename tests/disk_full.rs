//! The archive on a filesystem that fills up: appends fail cleanly with
//! `DiskFull`, nothing acknowledged is lost, nothing half-written stays,
//! and appends succeed again once space is freed.
//!
//! The test mounts a size-limited tmpfs of its own (root only; CI runs as
//! root). Where tmpfs cannot be mounted it falls back to a loop-mounted
//! ext4 image. Either is unmounted by a guard, whatever the test does.

use std::path::{Path, PathBuf};
use std::process::Command;

use mailseal::archive::index::Head;
use mailseal::archive::record::{ImportContext, MessageMeta, Source, SourceKind};
use mailseal::archive::scan::{self, MemoryIndex};
use mailseal::archive::verify;
use mailseal::archive::{Archive, ArchiveError, ArchiveOptions, NewMessage, SpooledContent};

use crate::support::corpus;

/// Size of the filesystem the archive lives on.
const FS_SIZE: &str = "24M";
/// Bytes of the filler file written first and deleted to free space.
const FILLER: usize = 4 << 20;
/// Bytes of each message (stored uncompressed, so the disk fills fast).
const MESSAGE: usize = 64 << 10;

/// A filesystem mounted for one test; unmounted on drop.
struct Mount {
    /// The mount point.
    dir: PathBuf,
    /// Keeps the directory holding the mount point (and any image) alive.
    _tmp: tempfile::TempDir,
}

impl Mount {
    /// Mounts a tmpfs of `size`, or a loop ext4 image of that size;
    /// `None` when not running as root.
    fn new(size: &str) -> Option<Mount> {
        if !is_root() {
            return None;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("mnt");
        std::fs::create_dir(&dir).unwrap();
        let opts = format!("size={size}");
        if run("mount", &["-t", "tmpfs", "-o", &opts, "tmpfs", path(&dir)]) {
            return Some(Mount { dir, _tmp: tmp });
        }
        let image = tmp.path().join("fs.img");
        let made = run("truncate", &["-s", size, path(&image)])
            && run("mkfs.ext4", &["-q", "-F", path(&image)])
            && run("mount", &["-o", "loop", path(&image), path(&dir)]);
        assert!(
            made,
            "as root, neither tmpfs nor a loop ext4 image could be mounted"
        );
        Some(Mount { dir, _tmp: tmp })
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if !run("umount", &[path(&self.dir)]) {
            // Something still holds a file open: detach now, free later.
            run("umount", &["-l", path(&self.dir)]);
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn run(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn message(i: usize) -> NewMessage {
    NewMessage {
        meta: MessageMeta {
            source: Source {
                kind: SourceKind::Import,
                name: "disk-full".into(),
            },
            import: Some(ImportContext {
                kind: "eml".into(),
                origin: format!("msg{i}"),
                ..Default::default()
            }),
            ..Default::default()
        },
        content: SpooledContent::from_bytes(corpus::message(i, MESSAGE)),
        evidence: None,
    }
}

/// Appends message after message until one fails; returns the
/// acknowledged (seq, content sha256) pairs and the error.
fn fill(archive: &Archive, next: &mut usize) -> (Vec<(u64, String)>, ArchiveError) {
    let mut acked = Vec::new();
    loop {
        *next += 1;
        let msg = message(*next);
        let sha = msg.content.sha256_hex();
        match archive.append_blocking(msg) {
            Ok(a) => acked.push((a.seq, sha)),
            Err(e) => return (acked, e),
        }
        assert!(*next < 10_000, "the filesystem never filled");
    }
}

/// The segments alone hold every acknowledged record with its content,
/// and `verify` finds nothing wrong.
fn assert_intact(archive_dir: &Path, acked: &[(u64, String)]) {
    let report = verify::verify_dir(archive_dir, None).unwrap();
    assert!(report.ok(), "verify: {:?}", report.problems);
    let segments = archive_dir.join("segments");
    // Contents are encrypted (the default): read them with the key store.
    let keys =
        mailseal::keystore::KeyStore::open_read_only(archive_dir, &archive_dir.join("master.key"))
            .unwrap();
    let mut mem = MemoryIndex::default();
    scan::apply_from(&segments, &Head::default(), &mut mem, false, Some(&keys)).unwrap();
    assert_eq!(mem.summaries.len() as u64, report.records);
    assert_eq!(
        report.records,
        acked.len() as u64,
        "records that were never acknowledged, or acknowledged ones lost"
    );
    for (seq, sha) in acked {
        let s = mem
            .summaries
            .iter()
            .find(|s| s.seq == *seq)
            .unwrap_or_else(|| panic!("acknowledged record {seq} is missing"));
        assert_eq!(&s.sha256, sha, "record {seq} names other content");
        let loc = mem.contents[&mailseal::archive::chain::parse_hex(sha).unwrap()];
        let mut out = Vec::new();
        scan::write_content_at(&segments, loc.at, &mut out, Some(&keys)).unwrap();
        assert!(out.len() >= MESSAGE, "record {seq}: {} bytes", out.len());
    }
}

/// An archive that filled its disk and got space back: appends failed
/// with `DiskFull` while full and worked again afterwards.
struct Refilled {
    /// How the archive was opened.
    options: ArchiveOptions,
    /// The open archive.
    archive: Archive,
    /// Every acknowledged (seq, content sha256), in order.
    acked: Vec<(u64, String)>,
    /// The number of the next test message.
    next: usize,
    /// The filesystem; declared last so it is unmounted after the archive
    /// has closed its files.
    mount: Mount,
}

/// Fills the disk, checks the failures, frees space and appends again.
fn fill_and_free() -> Option<Refilled> {
    let Some(mount) = Mount::new(FS_SIZE) else {
        eprintln!("SKIPPED: mounting a test filesystem needs root");
        return None;
    };
    let filler = mount.dir.join("filler");
    std::fs::write(&filler, vec![0x5a; FILLER]).unwrap();
    let mut options = ArchiveOptions::at(&mount.dir.join("archive"));
    options.compression_level = 0;
    let archive = Archive::open(&options).unwrap();

    let mut next = 0;
    let (mut acked, err) = fill(&archive, &mut next);
    assert!(acked.len() > 10, "only {} appends fit", acked.len());
    assert!(
        matches!(err, ArchiveError::DiskFull),
        "a full disk gave {err:?}, not DiskFull"
    );
    // Still full: more appends fail the same way, and nothing is torn.
    for _ in 0..3 {
        next += 1;
        let e = archive.append_blocking(message(next)).unwrap_err();
        assert!(matches!(e, ArchiveError::DiskFull), "then {e:?}");
    }
    assert_intact(&options.path, &acked);
    // Stay full past the index's background flush (every second), as a
    // real full disk does.
    std::thread::sleep(std::time::Duration::from_millis(2500));

    std::fs::remove_file(&filler).unwrap();
    for _ in 0..5 {
        next += 1;
        let msg = message(next);
        let sha = msg.content.sha256_hex();
        let a = archive
            .append_blocking(msg)
            .expect("append after space was freed");
        acked.push((a.seq, sha));
    }
    assert_intact(&options.path, &acked);
    let seqs: Vec<u64> = acked.iter().map(|a| a.0).collect();
    let expected: Vec<u64> = (1..=acked.len() as u64).collect();
    assert_eq!(seqs, expected, "sequence numbers skipped or repeated");
    Some(Refilled {
        options,
        archive,
        acked,
        next,
        mount,
    })
}

#[test]
fn a_full_disk_refuses_appends_cleanly_and_recovers_when_space_is_freed() {
    let Some(r) = fill_and_free() else { return };
    let Refilled {
        options,
        archive,
        mut acked,
        mut next,
        mount,
    } = r;
    // A restart finds the same archive, brings its index up to date, and
    // can append and seal.
    archive.close().unwrap();
    drop(archive);
    let archive = Archive::open(&options).unwrap();
    next += 1;
    let msg = message(next);
    let sha = msg.content.sha256_hex();
    let a = archive.append_blocking(msg).unwrap();
    acked.push((a.seq, sha));
    let listed = archive.reader().summaries().unwrap();
    assert_eq!(listed.len(), acked.len(), "index lost or invented records");
    archive.close().unwrap();
    drop(archive);
    assert_intact(&options.path, &acked);
    drop(mount);
}

#[test]
fn the_live_index_keeps_up_after_a_full_disk() {
    let Some(r) = fill_and_free() else { return };
    // The index (sled) shares the disk. Appends made after space came back
    // must be in it without a restart: the daemon's dedup checks, IMAP UID
    // checkpoints and live readers ask the index.
    let listed = r.archive.reader().summaries().unwrap();
    assert_eq!(
        listed.len(),
        r.acked.len(),
        "live index lost records after the disk was full"
    );
    for (_, sha) in &r.acked[r.acked.len() - 5..] {
        let sha = mailseal::archive::chain::parse_hex(sha).unwrap();
        assert!(r.archive.has_content(&sha).unwrap(), "content not indexed");
    }
    r.archive.close().unwrap();
}
