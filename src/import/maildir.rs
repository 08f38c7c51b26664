//! Maildir folders: one file per message in `cur/` and `new/`.
//!
//! The root is the INBOX; Maildir++ sub-folders are the directories
//! `.Name` (hierarchy as `.Name.Sub`) directly under the root that have a
//! `cur/` or `new/` of their own. `tmp/` holds deliveries in progress and
//! is never read; file names starting with `.` are skipped.
//!
//! Order is deterministic: the INBOX first, then sub-folders by name; in a
//! folder, `cur/` and `new/` files merged by file name (names start with
//! the delivery time, so this is delivery order). The position recorded for
//! a message is its path relative to the root (`cur/NAME`,
//! `.Sent/new/NAME`), which names both the folder and the file. Nested
//! layouts without dots (Dovecot `LAYOUT=fs`) are not walked.

use std::path::{Path, PathBuf};

use super::eml::read_file;
use super::{Found, ImportError, Visitor};

/// One message file found in the Maildir.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    /// Sort key 1: folder (`""` for the INBOX, else `.Name`).
    folder: String,
    /// Sort key 2: the file name.
    name: String,
    /// Sort key 3: `cur` or `new`.
    sub: &'static str,
    /// Its size, for the progress total.
    size: u64,
}

impl Entry {
    /// The position recorded for the message: its path below the root.
    fn position(&self) -> String {
        if self.folder.is_empty() {
            format!("{}/{}", self.sub, self.name)
        } else {
            format!("{}/{}/{}", self.folder, self.sub, self.name)
        }
    }
}

/// Imports every message of the Maildir at `root`.
pub fn read(root: &Path, visitor: &mut dyn Visitor) -> Result<(), ImportError> {
    let unreadable = |source| ImportError::Unreadable {
        path: root.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(root).map_err(unreadable)?;
    if !meta.is_dir() || !is_maildir(root) {
        return Err(ImportError::NotMaildir {
            path: root.to_path_buf(),
        });
    }
    let mut entries = Vec::new();
    list_folder(root, "", &mut entries)?;
    for folder in sub_folders(root)? {
        list_folder(&root.join(&folder), &folder, &mut entries)?;
    }
    entries.sort();
    visitor.total(entries.iter().map(|e| e.size).sum());
    for entry in entries {
        let position = entry.position();
        let file = root.join(&position);
        match read_file(&file, visitor.spool()) {
            Ok(content) => {
                let origin = root.to_path_buf();
                visitor.message(Found {
                    origin,
                    position: Some(position),
                    content,
                })?;
            }
            Err(e) if e.is_per_file() => visitor.failure(e.into_failure(&file, None)),
            Err(e) => return Err(e),
        }
        visitor.advance(entry.size);
    }
    Ok(())
}

/// True when `dir` has a `cur/` or `new/` directory.
fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() || dir.join("new").is_dir()
}

/// Names (`.Name`) of the Maildir++ sub-folders of `root`, sorted.
fn sub_folders(root: &Path) -> Result<Vec<String>, ImportError> {
    let mut folders = Vec::new();
    for (name, path) in list_dir(root)? {
        if name.len() > 1 && name.starts_with('.') && name != ".." && is_maildir(&path) {
            folders.push(name);
        }
    }
    folders.sort();
    Ok(folders)
}

/// Adds the message files of one folder's `cur/` and `new/` to `entries`.
fn list_folder(dir: &Path, folder: &str, entries: &mut Vec<Entry>) -> Result<(), ImportError> {
    for sub in ["cur", "new"] {
        let sub_dir = dir.join(sub);
        if !sub_dir.is_dir() {
            continue;
        }
        for (name, path) in list_dir(&sub_dir)? {
            if name.starts_with('.') {
                continue;
            }
            // A file that cannot be stat'ed is still listed: reading it
            // later reports the problem with its name.
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            entries.push(Entry {
                folder: folder.to_owned(),
                name,
                sub,
                size,
            });
        }
    }
    Ok(())
}

/// UTF-8 names and paths of the entries of `dir`.
fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>, ImportError> {
    let unreadable = |source| ImportError::Unreadable {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        match entry.file_name().into_string() {
            Ok(name) => out.push((name, entry.path())),
            // Positions are text in records; Maildir names are ASCII.
            Err(_) => tracing::warn!(dir = %dir.display(), "skipping a name that is not UTF-8"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::tests::Collector;

    fn put(root: &Path, rel: &str, bytes: &[u8]) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn walks_inbox_then_sub_folders_in_a_fixed_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        put(root, "cur/1700000002.M1P1.h:2,S", b"Subject: 2\n\n2\n");
        put(root, "new/1700000001.M1P1.h", b"Subject: 1\n\n1\n");
        put(root, "new/1700000003.M1P1.h", b"Subject: 3\n\n3\n");
        put(root, "tmp/1700000004.M1P1.h", b"Subject: tmp\n\n");
        put(root, "cur/.hidden", b"Subject: hidden\n\n");
        put(
            root,
            ".Sent/cur/1600000000.M1P1.h:2,S",
            b"Subject: sent\n\n",
        );
        put(
            root,
            ".Archive.2020/new/1500000000.M1P1.h",
            b"Subject: old\n\n",
        );
        put(root, ".NotAFolder/readme", b"x");
        put(root, "dovecot-uidlist", b"3 V1 N4\n");
        let mut c = Collector::new();
        read(root, &mut c).unwrap();
        let positions: Vec<_> = c.positions().into_iter().map(Option::unwrap).collect();
        assert_eq!(
            positions,
            [
                "new/1700000001.M1P1.h",
                "cur/1700000002.M1P1.h:2,S",
                "new/1700000003.M1P1.h",
                ".Archive.2020/new/1500000000.M1P1.h",
                ".Sent/cur/1600000000.M1P1.h:2,S",
            ]
        );
        assert_eq!(c.contents()[3], b"Subject: old\n\n");
        assert!(c.found.iter().all(|f| f.origin == root));
        assert!(c.failures.is_empty());
        assert_eq!(c.total, Some(c.advanced));
    }

    #[test]
    fn bad_files_are_reported_by_name_and_the_rest_imported() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        put(root, "cur/1", b"Subject: ok\n\n");
        put(root, "cur/2", b"");
        put(root, "new/3", b"\x7fELF\x02\x01\x01\0\0");
        std::fs::create_dir_all(root.join("cur/4")).unwrap();
        let mut c = Collector::new();
        read(root, &mut c).unwrap();
        assert_eq!(c.contents(), vec![b"Subject: ok\n\n".to_vec()]);
        let failures: Vec<_> = c.failures.iter().map(|f| f.to_string()).collect();
        assert_eq!(failures.len(), 3, "{failures:?}");
        assert!(failures[0].contains("cur/2") && failures[0].contains("is empty"));
        assert!(failures[1].contains("new/3") && failures[1].contains("binary data"));
        assert!(failures[2].contains("cur/4") && failures[2].contains("is a directory"));
    }

    #[test]
    fn refuses_what_is_not_a_maildir() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(dir.path(), &mut Collector::new()).unwrap_err();
        assert!(matches!(err, ImportError::NotMaildir { .. }), "{err}");
        let file = dir.path().join("mbox");
        std::fs::write(&file, b"From x\n").unwrap();
        let err = read(&file, &mut Collector::new()).unwrap_err();
        assert!(err.to_string().contains("mbox is not a Maildir"), "{err}");
        let err = read(&dir.path().join("missing"), &mut Collector::new()).unwrap_err();
        assert!(err.to_string().starts_with("cannot read "), "{err}");
    }

    #[test]
    fn an_empty_maildir_imports_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cur")).unwrap();
        let mut c = Collector::new();
        read(dir.path(), &mut c).unwrap();
        assert!(c.found.is_empty() && c.failures.is_empty());
    }
}
