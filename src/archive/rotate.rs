//! The seal key file across a rotation.
//!
//! `mailseal key rotate-seal` writes the new key to `<key file>.next`
//! (mode 0600, synced) before the writer appends the key-rotation record,
//! and renames it over the key file once the record is durable. A crash in
//! between leaves the two files, and [`reconcile`] settles them by the
//! chain at the next open: if the chain names the new key, the rename is
//! finished; if not, the rotation never happened and `.next` is removed.

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;

use super::keys::KeyEvent;
use super::seal::{SealError, load_key};

/// Where the next key waits during a rotation.
pub fn next_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}

fn err(path: &Path, reason: impl std::fmt::Display) -> SealError {
    SealError::Key {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn sync_parent(path: &Path) -> Result<(), SealError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        super::segment::sync_dir(dir).map_err(|e| err(path, e))?;
    }
    Ok(())
}

/// Makes the key file agree with the chain, whose rotations are `events`:
/// returns the key that seals now.
pub fn reconcile(
    key_file: &Path,
    loaded: SigningKey,
    events: &[KeyEvent],
) -> Result<SigningKey, SealError> {
    let next = next_path(key_file);
    let loaded_hex = hex::encode(loaded.verifying_key().as_bytes());
    let Some(last) = events.last() else {
        remove_stale(&next)?;
        return Ok(loaded);
    };
    if last.new_key == loaded_hex {
        remove_stale(&next)?;
        return Ok(loaded);
    }
    if next.exists() {
        let candidate = load_key(&next)?;
        if hex::encode(candidate.verifying_key().as_bytes()) == last.new_key {
            std::fs::rename(&next, key_file).map_err(|e| err(key_file, e))?;
            sync_parent(key_file)?;
            tracing::warn!(
                seq = last.seq,
                "finished a seal-key rotation interrupted by a crash"
            );
            return Ok(candidate);
        }
    }
    Err(err(
        key_file,
        format!(
            "holds key {loaded_hex}, but the chain rotated the seal key to {} at record {}; \
             restore that key file",
            last.new_key, last.seq
        ),
    ))
}

fn remove_stale(next: &Path) -> Result<(), SealError> {
    match std::fs::remove_file(next) {
        Ok(()) => {
            tracing::warn!(path = %next.display(), "removed a seal key of a rotation that never happened");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(err(next, e)),
    }
}

/// A fresh key, durable in `<key file>.next` before anything names it.
pub fn prepare(key_file: &Path) -> Result<SigningKey, SealError> {
    let next = next_path(key_file);
    remove_stale(&next)?;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|e| err(&next, e))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&next).map_err(|e| err(&next, e))?;
    f.write_all(pem.as_bytes()).map_err(|e| err(&next, e))?;
    f.sync_all().map_err(|e| err(&next, e))?;
    sync_parent(&next)?;
    Ok(key)
}

/// The rotation record is durable: the new key replaces the old file.
pub fn finish(key_file: &Path) -> Result<(), SealError> {
    std::fs::rename(next_path(key_file), key_file).map_err(|e| err(key_file, e))?;
    sync_parent(key_file)
}

/// The rotation failed: the prepared key is dropped.
pub fn abandon(key_file: &Path) {
    let _ = std::fs::remove_file(next_path(key_file));
}
