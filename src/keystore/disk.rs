//! The few file-system moves every file of the key store needs to be
//! crash-safe: naming the path in an error, syncing a directory after a
//! name in it changed, removing a leftover.

use std::fs::{self, File};
use std::io;
use std::path::Path;

use super::KeyStoreError;

/// Turns an I/O error on `path` into the store's error naming it.
pub fn io_err(path: &Path) -> impl FnOnce(io::Error) -> KeyStoreError + '_ {
    move |source| KeyStoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Makes a change of the names in `dir` (a new, renamed or removed file)
/// durable.
pub fn sync_dir(dir: &Path) -> Result<(), KeyStoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// [`sync_dir`] on the directory that holds `path`.
pub fn sync_parent(path: &Path) -> Result<(), KeyStoreError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}

/// Removes `path` if it is there; true if it was. The caller syncs the
/// directory when the removal must be durable.
pub fn remove_if_present(path: &Path) -> Result<bool, KeyStoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Whether `path` exists; an error other than "not there" (a directory
/// without permission) is reported rather than taken for absence.
pub fn exists(path: &Path) -> Result<bool, KeyStoreError> {
    path.try_exists().map_err(io_err(path))
}
