//! `.eml` files: one file is one message, imported byte for byte.
//!
//! A directory imports every `*.eml` file directly inside it (not
//! recursively), in byte order of the file names; a bad file there is
//! reported and skipped, while a single bad file named by the user is an
//! error.
//!
//! What counts as a message ([`check_head`]) is deliberately lenient,
//! because refusing a real message is worse than accepting odd text: the
//! file must not be empty or blank, and its header block (up to the first
//! blank line, at most [`HEAD_LIMIT`] bytes) must be text: no NUL and no C0
//! control bytes other than TAB, LF, FF, CR and ESC (ESC is used by
//! ISO-2022-JP headers). That refuses images, executables, archives, Office
//! files and UTF-16 text, which all carry such bytes within their first
//! bytes. It does not require a `Name: value` first line: RFC 5322 parsers
//! accept header-less text as a message with a body only, and the CPython
//! email test corpus contains one (`msg_19.txt`). The body is not checked,
//! since BINARYMIME bodies may hold any byte.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::{CHUNK, Found, ImportError, Visitor, read_full};
use crate::archive::{Spool, SpooledContent};

/// Bytes at the start of a message that [`check_head`] looks at.
pub const HEAD_LIMIT: usize = 64 * 1024;

/// Imports `path`: one `.eml` file, or every `*.eml` file in a directory.
pub fn read(path: &Path, visitor: &mut dyn Visitor) -> Result<(), ImportError> {
    let meta = std::fs::metadata(path).map_err(|source| ImportError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        visitor.total(meta.len());
        let content = read_file(path, visitor.spool())?;
        visitor.advance(meta.len());
        let found = Found {
            origin: path.to_path_buf(),
            position: None,
            content,
        };
        return visitor.message(found);
    }
    let files = eml_files(path)?;
    visitor.total(files.iter().map(|(_, size)| size).sum());
    for (name, size) in files {
        let file = path.join(&name);
        match read_file(&file, visitor.spool()) {
            Ok(content) => {
                let found = Found {
                    origin: path.to_path_buf(),
                    position: Some(name),
                    content,
                };
                visitor.message(found)?;
            }
            Err(e) if e.is_per_file() => visitor.failure(e.into_failure(&file, None)),
            Err(e) => return Err(e),
        }
        visitor.advance(size);
    }
    Ok(())
}

/// Names and sizes of the `*.eml` files in `dir`, sorted by name.
fn eml_files(dir: &Path) -> Result<Vec<(String, u64)>, ImportError> {
    let unreadable = |source| ImportError::Unreadable {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            // Positions are text in records; a non-UTF-8 name is reported.
            tracing::warn!(dir = %dir.display(), "skipping a file name that is not UTF-8");
            continue;
        };
        let bytes = name.as_bytes();
        let is_eml = bytes.len() > 4 && bytes[bytes.len() - 4..].eq_ignore_ascii_case(b".eml");
        if is_eml && !name.starts_with('.') {
            // A file that cannot be stat'ed is still listed: reading it
            // later reports the problem with its name.
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            files.push((name, size));
        }
    }
    if files.is_empty() {
        return Err(ImportError::NoEmlFiles {
            path: dir.to_path_buf(),
        });
    }
    files.sort();
    Ok(files)
}

/// Reads one message file into `spool`, refusing what is not a message.
pub fn read_file(path: &Path, mut spool: Spool) -> Result<SpooledContent, ImportError> {
    let unreadable = |source| ImportError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(unreadable)?;
    if file.metadata().map_err(unreadable)?.is_dir() {
        return Err(ImportError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    let mut buf = vec![0u8; HEAD_LIMIT.max(CHUNK)];
    let head_len = read_full(&mut file, &mut buf[..HEAD_LIMIT]).map_err(unreadable)?;
    check_head(&buf[..head_len]).map_err(|refusal| refusal.into_error(path))?;
    let spool_error = |source| ImportError::Spool {
        path: path.to_path_buf(),
        source,
    };
    spool.write(&buf[..head_len]).map_err(spool_error)?;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(unreadable(e)),
        };
        spool.write(&buf[..n]).map_err(spool_error)?;
    }
    Ok(spool.finish())
}

/// Why bytes were not taken as a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No bytes at all.
    Empty,
    /// Only whitespace.
    Blank,
    /// A control byte in the header block.
    Binary {
        /// Offset of the byte from the start.
        offset: usize,
        /// The byte.
        byte: u8,
    },
}

impl Refusal {
    /// The error for a file.
    pub fn into_error(self, path: &Path) -> ImportError {
        let path = path.to_path_buf();
        match self {
            Refusal::Empty | Refusal::Blank => ImportError::Empty { path },
            Refusal::Binary { offset, byte } => ImportError::NotMessage {
                path,
                reason: format!("binary data (byte 0x{byte:02x} at offset {offset})"),
            },
        }
    }

    /// The reason as text, for messages inside an mbox.
    pub fn reason(self) -> String {
        match self {
            Refusal::Empty => "the message is empty".into(),
            Refusal::Blank => "the message holds only blank lines".into(),
            Refusal::Binary { offset, byte } => {
                format!("not a mail message: binary data (byte 0x{byte:02x} at offset {offset})")
            }
        }
    }
}

/// Checks the first bytes of a message (see the module doc for the rule).
pub fn check_head(head: &[u8]) -> Result<(), Refusal> {
    if head.is_empty() {
        return Err(Refusal::Empty);
    }
    if head.iter().all(u8::is_ascii_whitespace) {
        return Err(Refusal::Blank);
    }
    let header_end = header_end(head);
    match head[..header_end].iter().position(|&b| is_binary(b)) {
        Some(offset) => Err(Refusal::Binary {
            offset,
            byte: head[offset],
        }),
        None => Ok(()),
    }
}

/// Length of the header block: up to and including the first blank line.
fn header_end(head: &[u8]) -> usize {
    if head.starts_with(b"\n") || head.starts_with(b"\r\n") {
        return 0;
    }
    let lf = memchr::memmem::find(head, b"\n\n").map(|i| i + 2);
    let crlf = memchr::memmem::find(head, b"\n\r\n").map(|i| i + 3);
    match (lf, crlf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(head.len()),
    }
}

/// Control bytes that do not occur in the text of a header block.
fn is_binary(b: u8) -> bool {
    b < 0x20 && !matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | 0x1b)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::import::tests::Collector;
    use sha2::{Digest, Sha256};

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10";
    const ELF: &[u8] = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0";

    #[test]
    fn check_head_accepts_text_and_refuses_binary() {
        assert_eq!(check_head(b"From: a\n\nbody\n"), Ok(()));
        assert_eq!(check_head(b"Subject: x\r\n\r\n\0\x01binary body"), Ok(()));
        assert_eq!(check_head(b"Subject: \x1b$B$3$s\x1b(B\n\n"), Ok(()));
        assert_eq!(check_head(b"just text, no header\n"), Ok(()));
        assert_eq!(check_head(b""), Err(Refusal::Empty));
        assert_eq!(check_head(b" \r\n\n\t"), Err(Refusal::Blank));
        assert_eq!(
            check_head(PNG),
            Err(Refusal::Binary {
                offset: 6,
                byte: 0x1a
            })
        );
        assert_eq!(check_head(ELF), Err(Refusal::Binary { offset: 4, byte: 2 }));
        assert!(
            check_head(b"\xff\xfeF\0r\0o\0m\0:\0").is_err(),
            "UTF-16 text"
        );
        assert!(check_head(b"From: a\nX: \x01\n\nbody").is_err());
    }

    #[test]
    fn imports_the_cpython_email_corpus_unchanged() {
        let Some(dir) = cpython_corpus() else {
            panic!("CPython test_email data not found; install python3 with its test package");
        };
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if !(name.starts_with("msg_") && name.ends_with(".txt")) {
                continue;
            }
            let mut c = Collector::new();
            read(&path, &mut c).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(c.contents(), vec![std::fs::read(&path).unwrap()], "{name}");
            n += 1;
        }
        assert!(n >= 40, "only {n} corpus messages in {}", dir.display());
    }

    /// `Lib/test/test_email/data` of the machine's Python.
    pub(crate) fn cpython_corpus() -> Option<std::path::PathBuf> {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import test, os; print(os.path.dirname(test.__file__))",
            ])
            .output()
            .ok()?;
        let base = String::from_utf8(out.stdout).ok()?;
        let mut candidates = vec![std::path::PathBuf::from(base.trim())];
        for entry in std::fs::read_dir("/usr/lib").ok()?.flatten() {
            if entry.file_name().to_string_lossy().starts_with("python3") {
                candidates.push(entry.path().join("test"));
            }
        }
        candidates
            .into_iter()
            .map(|p| p.join("test_email/data"))
            .find(|p| p.is_dir())
    }

    #[test]
    fn refuses_binary_empty_missing_and_directories_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cases: &[(&str, &[u8], &str)] = &[
            ("logo.png", PNG, "is not a mail message: binary data"),
            ("prog", ELF, "is not a mail message: binary data"),
            ("empty.eml", b"", "is empty"),
            ("blank.eml", b"\n\n", "is empty"),
        ];
        for (name, bytes, expected) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let err = read(&path, &mut Collector::new()).unwrap_err().to_string();
            assert!(
                err.contains(expected) && err.contains(name),
                "{name}: {err}"
            );
        }
        let missing = dir.path().join("missing.eml");
        let err = read(&missing, &mut Collector::new())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot read ") && err.contains("missing.eml"),
            "{err}"
        );
        let result = read_file(dir.path(), Collector::new().spool());
        assert!(matches!(result, Err(ImportError::IsDirectory { .. })));
    }

    #[test]
    fn a_directory_imports_its_eml_files_in_order_and_skips_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.eml"), b"Subject: b\n\nb\n").unwrap();
        std::fs::write(dir.path().join("a.EML"), b"Subject: a\n\na\n").unwrap();
        std::fs::write(dir.path().join("c.eml"), PNG).unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"Subject: no\n\n").unwrap();
        std::fs::write(
            dir.path().join("notiz-\u{20ac}\u{20ac}"),
            b"Subject: no\n\n",
        )
        .unwrap();
        let mut c = Collector::new();
        read(dir.path(), &mut c).unwrap();
        assert_eq!(
            c.contents(),
            vec![b"Subject: a\n\na\n".to_vec(), b"Subject: b\n\nb\n".to_vec()]
        );
        assert_eq!(
            c.positions(),
            vec![Some("a.EML".into()), Some("b.eml".into())]
        );
        assert_eq!(c.failures.len(), 1);
        assert!(
            c.failures[0].to_string().contains("c.eml"),
            "{}",
            c.failures[0]
        );

        let empty = tempfile::tempdir().unwrap();
        let err = read(empty.path(), &mut Collector::new()).unwrap_err();
        assert!(matches!(err, ImportError::NoEmlFiles { .. }), "{err}");
    }

    #[test]
    fn a_50_mb_message_streams_through_a_spilling_spool() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.eml");
        let mut bytes = b"Subject: big\r\n\r\n".to_vec();
        let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n";
        while bytes.len() < 50 * 1024 * 1024 {
            bytes.extend_from_slice(line);
        }
        std::fs::write(&path, &bytes).unwrap();
        let mut c = Collector::new();
        read(&path, &mut c).unwrap();
        let found = &mut c.found[0];
        assert!(
            found.content.as_memory().is_none(),
            "a 50 MB message must spill to disk"
        );
        assert_eq!(found.content.size, bytes.len() as u64);
        assert_eq!(
            found.content.sha256,
            <[u8; 32]>::from(Sha256::digest(&bytes))
        );
    }
}
