//! Opening the key store for the archive (format 2.3): for the writer,
//! which creates it with encryption on, and for readers, which never write
//! it.

use std::path::Path;
use std::sync::Arc;

use super::{ArchiveError, ArchiveOptions};
use crate::keystore::KeyStore;

fn key_error(e: crate::keystore::KeyStoreError) -> ArchiveError {
    ArchiveError::Other(e.to_string())
}

/// The key store the writer uses: created (with its master key) on the
/// first start with `encrypt` on; opened whenever it exists, so contents
/// encrypted earlier stay readable after `encrypt` is turned off.
pub fn for_writing(options: &ArchiveOptions) -> Result<Option<Arc<KeyStore>>, ArchiveError> {
    if !options.encrypt && !KeyStore::exists(&options.path) {
        return Ok(None);
    }
    KeyStore::open(&options.path, &options.master_key_file, options.encrypt)
        .map(|k| Some(Arc::new(k)))
        .map_err(key_error)
}

/// The key store for a reader on the box (the CLI, beside the daemon):
/// opened read-only when it exists. A user who may read the segments but
/// not the master key reads without it: encrypted contents and sealed
/// fields then say so instead of failing the whole command.
pub fn for_reading(
    path: &Path,
    master_key_file: &Path,
) -> Result<Option<Arc<KeyStore>>, ArchiveError> {
    if !KeyStore::exists(path) {
        return Ok(None);
    }
    match std::fs::File::open(master_key_file) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            tracing::info!(
                file = %master_key_file.display(),
                "master key not readable: encrypted contents stay closed"
            );
            Ok(None)
        }
        _ => read_only(path, master_key_file).map(Some),
    }
}

/// The key store of the archive in `path`, opened read-only with the
/// master key in `master_key_file`.
pub fn read_only(path: &Path, master_key_file: &Path) -> Result<Arc<KeyStore>, ArchiveError> {
    KeyStore::open_read_only(path, master_key_file)
        .map(Arc::new)
        .map_err(key_error)
}
