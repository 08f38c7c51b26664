//! [`KeyStore`]: the handle the archive appends, reads and destroys data
//! keys through, shared by the writer thread and every reader.
//!
//! Readers take the slot count (published only after a slot is fully
//! written) and `pread` below it, so they never wait for an append. A
//! destroy holds the file exclusively while it zeroes, so no reader sees a
//! half-zeroed slot, and a rotation holds it exclusively only to swap in
//! the new file and key. Everything that writes is serialised by one
//! mutex, which also keeps the count of slots stable during a rotation.
//! A flock on `keys/` keeps a second process from writing the store.

use std::fs::{self, File, TryLockError};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use chacha20poly1305::ChaCha20Poly1305;
use rand::RngCore;
use rand::rngs::OsRng;

use super::disk::{exists, io_err, sync_dir, sync_parent};
use super::file::{self, Paths, slot_err, store_path};
use super::master::{MasterKey, id_hex};
use super::rotate::{self, Step};
use super::slot::{self, HEADER_LEN, SLOT_LEN, Slot};
use super::{DataKey, KeyStoreError, Rotated, SlotKind, SlotState};

/// The data keys of one archive, wrapped under its master key.
pub struct KeyStore {
    /// The store's files, for rotation and for messages.
    paths: Paths,
    /// The store file and the key that wraps it; a rotation replaces both.
    open: RwLock<Open>,
    /// Serialises add, sync, destroy and rotation.
    writer: Mutex<Writer>,
    /// Slots readers may read: each one below is completely written.
    slots: AtomicU64,
    /// The flock on `keys/`, held while the handle lives; `None` for a
    /// read-only handle, which never writes.
    _lock: Option<File>,
}

/// The store file and its master key.
struct Open {
    /// `keys/store`, read with pread and written with pwrite.
    file: File,
    /// The key the store's header names.
    master: MasterKey,
    /// Its cipher, made once rather than per slot.
    cipher: ChaCha20Poly1305,
}

impl Open {
    fn new(file: File, master: MasterKey) -> Open {
        let cipher = master.cipher();
        Open {
            file,
            master,
            cipher,
        }
    }
}

/// What the writer keeps between calls.
struct Writer {
    /// Something was written since the last fdatasync.
    dirty: bool,
    /// Set when a rotation failed after the store was renamed and the
    /// handle could not follow it: writing to the old file would lose
    /// keys, so every write is refused until a restart settles it.
    broken: Option<String>,
}

impl KeyStore {
    /// Opens `<archive_dir>/keys/store` with the master key at
    /// `master_key_file`.
    ///
    /// With `create`, a missing store is made (with `keys/`, mode 0700),
    /// under the existing master key file or, when there is none, a new one
    /// (mode 0600). The archive passes `create` only when it holds no
    /// encrypted content, since a new store starts again at slot 0. A store
    /// without its master key, or with another master key, is an error
    /// naming the file. A rotation a crash interrupted is finished or
    /// discarded, and an incomplete last slot is cut off.
    pub fn open(
        archive_dir: &Path,
        master_key_file: &Path,
        create: bool,
    ) -> Result<KeyStore, KeyStoreError> {
        let paths = Paths::new(archive_dir, master_key_file);
        let no_store = || KeyStoreError::NoStore {
            path: paths.store.display().to_string(),
        };
        if !exists(&paths.dir)? {
            if !create {
                return Err(no_store());
            }
            paths.make_dir()?;
        }
        let lock = lock(&paths)?;
        if !exists(&paths.store)? {
            if !create {
                return Err(no_store());
            }
            create_store(&paths)?;
        }
        let master = rotate::settle(&paths)?;
        let store = file::open_rw(&paths.store)?;
        KeyStore::assemble(paths, store, master, Some(lock))
    }

    /// A handle on an opened store, once its header names `master`; one
    /// without a lock is read-only and refuses every write.
    fn assemble(
        paths: Paths,
        store: file::StoreFile,
        master: MasterKey,
        lock: Option<File>,
    ) -> Result<KeyStore, KeyStoreError> {
        if store.master_id != master.id() {
            return Err(KeyStoreError::WrongMasterKey {
                master: paths.master.display().to_string(),
                store: paths.store.display().to_string(),
                found: id_hex(&master.id()),
                expected: id_hex(&store.master_id),
            });
        }
        let broken = lock.is_none().then(|| "opened read-only".to_string());
        Ok(KeyStore {
            slots: AtomicU64::new(store.slots),
            open: RwLock::new(Open::new(store.file, master)),
            writer: Mutex::new(Writer {
                dirty: false,
                broken,
            }),
            paths,
            _lock: lock,
        })
    }

    /// Opens the store read-only, beside a daemon that writes it or on
    /// someone's copy: no lock, no repair, nothing written; a rotation in
    /// progress is not settled (the key the header names must be given).
    /// Every write through the handle is refused.
    pub fn open_read_only(
        archive_dir: &Path,
        master_key_file: &Path,
    ) -> Result<KeyStore, KeyStoreError> {
        let paths = Paths::new(archive_dir, master_key_file);
        let store = file::open_ro(&paths.store)?;
        let master = MasterKey::read(&paths.master)?;
        KeyStore::assemble(paths, store, master, None)
    }

    /// Whether the handle was opened read-only (and refuses every write).
    pub fn is_read_only(&self) -> bool {
        self._lock.is_none()
    }

    /// Whether the archive in `archive_dir` has a key store.
    pub fn exists(archive_dir: &Path) -> bool {
        store_path(archive_dir).exists()
    }

    /// The store file, for messages.
    pub fn path(&self) -> &Path {
        &self.paths.store
    }

    /// Appends a slot holding `key` and returns its number. It is not
    /// durable until [`KeyStore::sync`]: nothing may be written under the
    /// key before that.
    pub fn add(&self, kind: SlotKind, key: &DataKey) -> Result<u64, KeyStoreError> {
        let mut w = self.lock_writer()?;
        let open = self.read_open();
        let n = self.slots.load(Ordering::Acquire);
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut nonce = [0u8; 12];
        OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|e| slot_err(&self.paths.store, n, format!("no random nonce: {e}")))?;
        let bytes = slot::seal(n, kind, created, &nonce, key, &open.cipher)
            .map_err(|r| slot_err(&self.paths.store, n, r))?;
        w.dirty = true;
        file::write_slot(&open.file, &self.paths.store, n, &bytes)?;
        self.slots.store(n + 1, Ordering::Release);
        Ok(n)
    }

    /// Makes every slot appended so far durable (`fdatasync`, only when
    /// something was appended or destroyed since the last one).
    pub fn sync(&self) -> Result<(), KeyStoreError> {
        let mut w = self.lock_writer()?;
        if w.dirty {
            self.read_open()
                .file
                .sync_data()
                .map_err(io_err(&self.paths.store))?;
            w.dirty = false;
        }
        Ok(())
    }

    /// Slot `n`, its key unwrapped. A damaged slot, or one that does not
    /// unwrap, is an error naming it.
    pub fn get(&self, n: u64) -> Result<SlotState, KeyStoreError> {
        if n >= self.slots.load(Ordering::Acquire) {
            return Ok(SlotState::Missing);
        }
        let open = self.read_open();
        let b = file::read_slot(&open.file, &self.paths.store, n)?;
        match slot::decode(&b).map_err(|r| slot_err(&self.paths.store, n, r))? {
            Slot::Destroyed => Ok(SlotState::Destroyed),
            Slot::Live(w) => Ok(SlotState::Live {
                key: w
                    .open(n, &open.cipher)
                    .map_err(|r| slot_err(&self.paths.store, n, r))?,
                kind: w.kind,
                created: w.created,
            }),
        }
    }

    /// Destroys `slots`: each is overwritten with zeros in place, then the
    /// file is synced once. Destroying a destroyed slot does nothing more;
    /// a slot beyond the end is an error, and then nothing is destroyed.
    pub fn destroy(&self, slots: &[u64]) -> Result<(), KeyStoreError> {
        let mut w = self.lock_writer()?;
        let count = self.slots.load(Ordering::Acquire);
        if let Some(&n) = slots.iter().find(|&&n| n >= count) {
            return Err(slot_err(
                &self.paths.store,
                n,
                format!("cannot be destroyed: the store has {count} slots"),
            ));
        }
        let zeros = [0u8; SLOT_LEN as usize];
        {
            let open = self.open.write().unwrap_or_else(PoisonError::into_inner);
            w.dirty = true;
            for &n in slots {
                file::write_slot(&open.file, &self.paths.store, n, &zeros)?;
            }
        }
        self.read_open()
            .file
            .sync_data()
            .map_err(io_err(&self.paths.store))?;
        w.dirty = false;
        Ok(())
    }

    /// Re-wraps every live slot under a new master key, crash-safe (the
    /// steps are in [`rotate`]). Contents are not touched. Appends wait
    /// until it is done; reads go on.
    pub fn rotate_master(&self) -> Result<Rotated, KeyStoreError> {
        self.rotate(None)
    }

    /// A rotation that stops after `step` as if the process died there;
    /// the caller drops the handle next, like a killed process.
    #[cfg(test)]
    pub(crate) fn rotate_until(&self, step: Step) -> Result<Rotated, KeyStoreError> {
        self.rotate(Some(step))
    }

    fn rotate(&self, stop_after: Option<Step>) -> Result<Rotated, KeyStoreError> {
        let mut w = self.lock_writer()?;
        let new = MasterKey::generate().map_err(|reason| KeyStoreError::MasterKey {
            path: self.paths.master.display().to_string(),
            reason,
        })?;
        let slots = self.slots.load(Ordering::Acquire);
        let result = {
            let open = self.read_open();
            rotate::rotate(
                &self.paths,
                &open.file,
                slots,
                &open.master,
                &new,
                stop_after,
            )
        };
        if stop_after.is_some() {
            return result;
        }
        // Whatever failed, the store's header says which key wraps it now;
        // the handle follows it, or refuses to write if it cannot.
        let followed = file::read_master_id(&self.paths.store).and_then(|id| {
            if id == new.id() {
                let store = file::open_rw(&self.paths.store)?;
                *self.open.write().unwrap_or_else(PoisonError::into_inner) =
                    Open::new(store.file, new);
                w.dirty = false;
            }
            Ok(())
        });
        if let Err(e) = followed {
            w.broken = Some(e.to_string());
            return Err(e);
        }
        result
    }

    /// How many slots the store holds (live and destroyed).
    pub fn slots(&self) -> u64 {
        self.slots.load(Ordering::Acquire)
    }

    /// The id of the master key that wraps the store.
    pub fn master_id(&self) -> [u8; 16] {
        self.read_open().master.id()
    }

    /// The store file's length.
    pub fn len_bytes(&self) -> u64 {
        HEADER_LEN + SLOT_LEN * self.slots()
    }

    fn read_open(&self) -> RwLockReadGuard<'_, Open> {
        self.open.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writer's lock, unless the handle may not write any more.
    fn lock_writer(&self) -> Result<MutexGuard<'_, Writer>, KeyStoreError> {
        let w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        match &w.broken {
            None => Ok(w),
            Some(reason) => Err(KeyStoreError::Stale {
                path: self.paths.store.display().to_string(),
                reason: reason.clone(),
            }),
        }
    }
}

/// Locks `keys/` for this process (flock, released when the file closes).
fn lock(paths: &Paths) -> Result<File, KeyStoreError> {
    let dir = File::open(&paths.dir).map_err(io_err(&paths.dir))?;
    match dir.try_lock() {
        Ok(()) => Ok(dir),
        Err(TryLockError::WouldBlock) => Err(KeyStoreError::Locked {
            path: paths.store.display().to_string(),
        }),
        Err(TryLockError::Error(e)) => Err(io_err(&paths.dir)(e)),
    }
}

/// Makes an empty store under the master key file, making the key first
/// when there is none. Each file is written as `.new`, synced and renamed,
/// so a crash leaves either no file or a whole one (and a key without a
/// store is simply used by the next attempt).
fn create_store(paths: &Paths) -> Result<(), KeyStoreError> {
    let master = if exists(&paths.master)? {
        tracing::info!(
            master = %paths.master.display(),
            "making a key store for the existing master key"
        );
        MasterKey::read(&paths.master)?
    } else {
        let key = MasterKey::generate().map_err(|reason| KeyStoreError::MasterKey {
            path: paths.master.display().to_string(),
            reason,
        })?;
        key.write(&paths.master_new)?;
        rename(&paths.master_new, &paths.master)?;
        sync_parent(&paths.master)?;
        tracing::info!(
            master = %paths.master.display(),
            master_id = id_hex(&key.id()),
            "made a new master key: back it up now (docs/keys.md)"
        );
        key
    };
    let store = file::create(&paths.store_new, &master.id())?;
    store.sync_all().map_err(io_err(&paths.store_new))?;
    rename(&paths.store_new, &paths.store)?;
    sync_dir(&paths.dir)
}

fn rename(from: &Path, to: &Path) -> Result<(), KeyStoreError> {
    fs::rename(from, to).map_err(io_err(to))
}
