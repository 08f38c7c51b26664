//! Tests of the import pipeline, and the [`Collector`] the format tests use.

use super::*;

/// A [`Visitor`] that keeps everything, spooling to a temporary directory.
pub(crate) struct Collector {
    /// Holds spilled spools.
    dir: tempfile::TempDir,
    /// Messages in the order they were found.
    pub found: Vec<Found>,
    /// Failures in the order they were reported.
    pub failures: Vec<ImportFailure>,
    /// Sum of `advance` calls.
    pub advanced: u64,
    /// The last `total` call.
    pub total: Option<u64>,
}

impl Collector {
    pub fn new() -> Collector {
        Collector {
            dir: tempfile::tempdir().unwrap(),
            found: Vec::new(),
            failures: Vec::new(),
            advanced: 0,
            total: None,
        }
    }

    pub fn contents(&mut self) -> Vec<Vec<u8>> {
        self.found
            .iter_mut()
            .map(|f| f.content.to_vec().unwrap())
            .collect()
    }

    pub fn positions(&self) -> Vec<Option<String>> {
        self.found.iter().map(|f| f.position.clone()).collect()
    }
}

impl Visitor for Collector {
    fn spool(&mut self) -> Spool {
        Spool::new(self.dir.path(), 1024 * 1024)
    }

    fn total(&mut self, bytes: u64) {
        self.total = Some(bytes);
    }

    fn advance(&mut self, bytes: u64) {
        self.advanced += bytes;
    }

    fn message(&mut self, found: Found) -> Result<(), ImportError> {
        self.found.push(found);
        Ok(())
    }

    fn failure(&mut self, failure: ImportFailure) {
        self.failures.push(failure);
    }
}

/// An [`Appender`] that keeps metadata, dedups by hash, and can fail.
struct FakeArchive {
    /// Spool directory.
    dir: tempfile::TempDir,
    /// Appended messages: metadata and content hash.
    appended: std::sync::Mutex<Vec<(MessageMeta, [u8; 32])>>,
    /// Refuse appends after this many.
    fail_after: usize,
}

impl Appender for FakeArchive {
    fn spool(&self) -> Spool {
        Spool::new(self.dir.path(), 64)
    }

    fn append(&self, message: NewMessage) -> Result<Appended, ArchiveError> {
        let mut appended = self.appended.lock().unwrap();
        if appended.len() == self.fail_after {
            return Err(ArchiveError::DiskFull);
        }
        let sha = message.content.sha256;
        let deduplicated = appended.iter().any(|(_, s)| *s == sha);
        appended.push((message.meta, sha));
        Ok(Appended {
            seq: appended.len() as u64,
            hash: [0; 32],
            deduplicated,
        })
    }
}

fn fake(fail_after: usize) -> FakeArchive {
    FakeArchive {
        dir: tempfile::tempdir().unwrap(),
        appended: Default::default(),
        fail_after,
    }
}

const MBOX: &[u8] =
    b"From a\nA: 1\n\nFrom b\nB: 2\n\nFrom c\nA: 1\n\nFrom d\n\0\n\nFrom e\nE: 5\n\n";

#[test]
fn import_counts_duplicates_and_failures_and_records_the_context() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.mbox");
    std::fs::write(&path, MBOX).unwrap();
    let target = fake(usize::MAX);
    let summary = import_into(&target, ImportKind::Mbox, &path, &NoProgress).unwrap();
    assert_eq!(
        (summary.imported, summary.duplicates, summary.bytes),
        (4, 1, 20)
    );
    assert_eq!(summary.failed.len(), 1);
    assert_eq!(summary.failed[0].position.as_deref(), Some("4"));
    let appended = target.appended.lock().unwrap();
    let (meta, _) = &appended[1];
    assert_eq!(
        meta.source,
        Source {
            kind: SourceKind::Import,
            name: "mbox".into()
        }
    );
    let context = meta.import.as_ref().unwrap();
    assert_eq!(
        (context.kind.as_str(), context.position.as_deref()),
        ("mbox", Some("2"))
    );
    assert_eq!(context.origin, path.display().to_string());
}

#[test]
fn an_archive_error_stops_the_import_naming_file_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.mbox");
    std::fs::write(&path, MBOX).unwrap();
    let target = fake(2);
    let err = import_into(&target, ImportKind::Mbox, &path, &NoProgress).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("in.mbox (message 3) failed: archive disk full"),
        "{text}"
    );
    assert_eq!(
        target.appended.lock().unwrap().len(),
        2,
        "nothing after the error"
    );
}

#[test]
fn relative_paths_are_recorded_absolute() {
    let target = fake(usize::MAX);
    let path = Path::new("Cargo.toml");
    let summary = import_into(&target, ImportKind::Eml, path, &NoProgress);
    let absolute = std::env::current_dir().unwrap().join(path);
    // Cargo.toml is text, so it passes the (lenient) message check.
    assert_eq!(summary.unwrap().imported, 1);
    let appended = target.appended.lock().unwrap();
    let context = appended[0].0.import.as_ref().unwrap();
    assert_eq!(context.origin, absolute.display().to_string());
}

/// Copies the CPython corpus into `dir` as `.eml` files; returns the bytes
/// in file-name order.
fn corpus_as_eml(dir: &Path) -> Vec<Vec<u8>> {
    let corpus = super::eml::tests::cpython_corpus().expect("CPython test_email data");
    let mut names: Vec<String> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("msg_") && n.ends_with(".txt"))
        .collect();
    names.sort();
    std::fs::create_dir_all(dir).unwrap();
    names
        .iter()
        .map(|n| {
            let bytes = std::fs::read(corpus.join(n)).unwrap();
            std::fs::write(dir.join(n.replace(".txt", ".eml")), &bytes).unwrap();
            bytes
        })
        .collect()
}

#[test]
fn corpus_round_trips_through_the_real_archive() {
    use crate::export::{ExportFormat, ExportOptions, NoExportProgress, export};
    let work = tempfile::tempdir().unwrap();
    let originals = corpus_as_eml(&work.path().join("eml"));
    let n = originals.len() as u64;
    let archive = Archive::open_dir(&work.path().join("archive")).unwrap();
    let eml = work.path().join("eml");
    let first = import_path(&archive, ImportKind::Eml, &eml, &NoProgress).unwrap();
    assert_eq!(
        (first.imported, first.duplicates, first.failed.len()),
        (n, 0, 0)
    );
    let again = import_path(&archive, ImportKind::Eml, &eml, &NoProgress).unwrap();
    assert_eq!(
        (again.imported, again.duplicates),
        (n, n),
        "same content is deduplicated"
    );

    // Bad inputs fail, naming the file, and leave the chain as it was.
    let head = archive.reader().head().unwrap();
    std::fs::write(
        work.path().join("logo.png"),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
    )
    .unwrap();
    std::fs::write(work.path().join("empty.mbox"), b"").unwrap();
    let bad = [
        (ImportKind::Eml, "logo.png"),
        (ImportKind::Mbox, "logo.png"),
        (ImportKind::Mbox, "empty.mbox"),
        (ImportKind::Maildir, "eml"),
        (ImportKind::Eml, "missing.eml"),
    ];
    for (kind, name) in bad {
        let err = import_path(&archive, kind, &work.path().join(name), &NoProgress).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
        assert_eq!(
            archive.reader().head().unwrap(),
            head,
            "{name} changed the archive"
        );
    }

    let reader = archive.reader();
    let records = reader.summaries().unwrap().into_iter().map(|s| {
        let (record, hash) = reader.record(s.seq)?;
        Ok::<_, ArchiveError>((record, crate::archive::chain::parse_hex(&hash).unwrap()))
    });
    let out = work.path().join("export");
    let options = ExportOptions {
        out: out.clone(),
        format: ExportFormat::Eml,
        chain_head: None,
        seal: None,
    };
    let summary = export(records, &reader, &options, &NoExportProgress).unwrap();
    assert_eq!(summary.messages, 2 * n);
    for (i, original) in originals.iter().enumerate() {
        let exported = std::fs::read(out.join(format!("{}.eml", i + 1))).unwrap();
        assert_eq!(&exported, original, "record {}", i + 1);
    }
    let status = std::process::Command::new("sha256sum")
        .args(["--quiet", "-c", "SHA256SUMS"])
        .current_dir(&out)
        .status()
        .unwrap();
    assert!(status.success());
    archive.close().unwrap();
    let report = crate::archive::verify::verify_dir(&work.path().join("archive"), None).unwrap();
    assert!(report.ok(), "{report:?}");
}
