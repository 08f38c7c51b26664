//! The store file on disk: where it and its companions live, creating one,
//! opening one (header checked, an incomplete last slot cut), reading and
//! writing whole slots at their offsets; and [`SlotFile`], the slots'
//! states without the master key.
//!
//! Slots are read with `pread` and written with `pwrite` at their own
//! offsets, so readers on many threads share one file handle with the
//! writer and never move a cursor under each other.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::disk::{exists, io_err, remove_if_present, sync_parent};
use super::master::new_path;
use super::slot::{self, HEADER_LEN, SLOT_LEN, Slot, SlotBytes};
use super::{KeyStoreError, RawState};

/// Every file of one key store and its master key.
pub struct Paths {
    /// `<archive>/keys`, mode 0700: holds the store; synced when a name
    /// in it changes; locked while a [`super::KeyStore`] has it open.
    pub dir: PathBuf,
    /// `keys/store`.
    pub store: PathBuf,
    /// `keys/store.new`: the next store during a rotation or a creation.
    pub store_new: PathBuf,
    /// The master key file (configured; anywhere).
    pub master: PathBuf,
    /// `<master key file>.new`: the next master key during a rotation.
    pub master_new: PathBuf,
}

impl Paths {
    /// The files of the store under `archive_dir` with its master key at
    /// `master`.
    pub fn new(archive_dir: &Path, master: &Path) -> Paths {
        let store = store_path(archive_dir);
        Paths {
            dir: archive_dir.join("keys"),
            store_new: new_path(&store),
            store,
            master: master.to_path_buf(),
            master_new: new_path(master),
        }
    }

    /// Creates `keys/` (mode 0700) if it is not there, durably.
    pub fn make_dir(&self) -> Result<(), KeyStoreError> {
        if exists(&self.dir)? {
            return Ok(());
        }
        DirBuilder::new()
            .mode(0o700)
            .create(&self.dir)
            .map_err(io_err(&self.dir))?;
        sync_parent(&self.dir)
    }
}

/// Where the key store of the archive in `archive_dir` is.
pub fn store_path(archive_dir: &Path) -> PathBuf {
    archive_dir.join("keys").join("store")
}

/// The error for `path`'s header.
fn header_err(path: &Path, reason: String) -> KeyStoreError {
    KeyStoreError::Header {
        path: path.display().to_string(),
        reason,
    }
}

/// The error for slot `n` of the store at `path`.
pub fn slot_err(path: &Path, n: u64, reason: impl Into<String>) -> KeyStoreError {
    KeyStoreError::Slot {
        path: path.display().to_string(),
        slot: n,
        reason: reason.into(),
    }
}

/// An open store file whose header was checked.
pub struct StoreFile {
    /// The file, shared by readers (pread) and the writer (pwrite).
    pub file: File,
    /// The master key the header names.
    pub master_id: [u8; 16],
    /// Whole slots in the file when it was opened.
    pub slots: u64,
}

/// Reads the master key id the store's header names.
pub fn read_master_id(path: &Path) -> Result<[u8; 16], KeyStoreError> {
    let file = File::open(path).map_err(io_err(path))?;
    Ok(check(file, path, false)?.master_id)
}

/// Opens the store for reading and writing. An incomplete last slot, the
/// trace of a crash in the middle of an append that was never synced and so
/// never used, is cut off.
pub fn open_rw(path: &Path) -> Result<StoreFile, KeyStoreError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err(path))?;
    check(file, path, true)
}

/// Opens the store read-only: an incomplete last slot is left alone and
/// not counted.
pub fn open_ro(path: &Path) -> Result<StoreFile, KeyStoreError> {
    let file = File::open(path).map_err(io_err(path))?;
    check(file, path, false)
}

fn check(file: File, path: &Path, cut: bool) -> Result<StoreFile, KeyStoreError> {
    let len = file.metadata().map_err(io_err(path))?.len();
    if len < HEADER_LEN {
        return Err(header_err(
            path,
            format!("only {len} bytes, shorter than its {HEADER_LEN}-byte header"),
        ));
    }
    let mut h = [0u8; HEADER_LEN as usize];
    file.read_exact_at(&mut h, 0).map_err(io_err(path))?;
    let master_id = slot::read_header(&h).map_err(|r| header_err(path, r))?;
    let slots = (len - HEADER_LEN) / SLOT_LEN;
    let rest = (len - HEADER_LEN) % SLOT_LEN;
    if rest != 0 && cut {
        // No copy is kept aside (unlike a torn segment frame): these bytes
        // may hold part of a wrapped key, and the store must be able to
        // forget keys.
        file.set_len(slot::offset(slots)).map_err(io_err(path))?;
        file.sync_data().map_err(io_err(path))?;
        tracing::warn!(
            path = %path.display(),
            slot = slots,
            bytes = rest,
            "cut an incomplete last slot off the key store (a crash during an append)"
        );
    }
    Ok(StoreFile {
        file,
        master_id,
        slots,
    })
}

/// Creates `path` (removing a leftover of that name first), mode 0600,
/// with the header for `master_id`; the caller appends slots and syncs.
pub fn create(path: &Path, master_id: &[u8; 16]) -> Result<File, KeyStoreError> {
    remove_if_present(path)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))?;
    file.write_all(&slot::header(master_id))
        .map_err(io_err(path))?;
    Ok(file)
}

/// Slot `n`'s bytes.
pub fn read_slot(file: &File, path: &Path, n: u64) -> Result<SlotBytes, KeyStoreError> {
    let mut b = [0u8; SLOT_LEN as usize];
    file.read_exact_at(&mut b, slot::offset(n))
        .map_err(io_err(path))?;
    Ok(b)
}

/// Writes slot `n`'s bytes in place (not synced).
pub fn write_slot(file: &File, path: &Path, n: u64, b: &SlotBytes) -> Result<(), KeyStoreError> {
    file.write_all_at(b, slot::offset(n)).map_err(io_err(path))
}

/// The slots of a key store, read without the master key: for `verify`
/// without the key, and `stats`. It never changes the file.
pub struct SlotFile {
    /// The store, for messages.
    path: PathBuf,
    /// The store file and what it held when opened.
    store: StoreFile,
}

impl SlotFile {
    /// Opens the key store of the archive in `archive_dir`. It sees the
    /// slots the file held at this moment.
    pub fn open(archive_dir: &Path) -> Result<SlotFile, KeyStoreError> {
        let path = store_path(archive_dir);
        if !exists(&path)? {
            return Err(KeyStoreError::NoStore {
                path: path.display().to_string(),
            });
        }
        let store = open_ro(&path)?;
        Ok(SlotFile { path, store })
    }

    /// Slot `n`'s state and kind; a damaged slot is an error naming it.
    pub fn state(&self, n: u64) -> Result<RawState, KeyStoreError> {
        if n >= self.store.slots {
            return Ok(RawState::Missing);
        }
        let b = read_slot(&self.store.file, &self.path, n)?;
        match slot::decode(&b).map_err(|r| slot_err(&self.path, n, r))? {
            Slot::Destroyed => Ok(RawState::Destroyed),
            Slot::Live(w) => Ok(RawState::Live {
                kind: w.kind,
                created: w.created,
            }),
        }
    }

    /// How many slots the store holds (live and destroyed).
    pub fn slots(&self) -> u64 {
        self.store.slots
    }

    /// The id of the master key that wraps the slots.
    pub fn master_id(&self) -> [u8; 16] {
        self.store.master_id
    }
}
