//! Rotating the master key (`mailseal key rotate-master`), and settling at
//! open a rotation that a crash interrupted.
//!
//! A rotation re-wraps every live slot under a new master key; it never
//! touches a content. Its steps, each synced with its directory before
//! the next begins:
//!
//! 1. [`Step::MasterNew`]: the new key to `<master key file>.new`;
//! 2. [`Step::StoreNew`]: `keys/store.new`, every slot at its own number
//!    wrapped by the new key (destroyed slots stay zeros), read back and
//!    compared with the store;
//! 3. [`Step::RenameStore`]: `store.new` over `store`; from here on the
//!    store names the new key;
//! 4. [`Step::RenameMaster`]: `<master key file>.new` over the key file.
//!
//! So at every moment a file holds the key the store's header names: the
//! key file until step 3, `.new` from step 3 until step 4. [`settle`] lets
//! that key win: it removes the `.new` files of a rotation that did not
//! reach step 3 and finishes step 4 of one that did. A destroyed slot is
//! zero in the old store and in the new one, so whichever wins, it stays
//! destroyed.

use std::fs::{self, File};
use std::io::{BufWriter, Write};

use rand::rngs::{OsRng, StdRng};
use rand::{RngCore, SeedableRng};

use super::disk::{exists, io_err, remove_if_present, sync_dir, sync_parent};
use super::file::{self, Paths, slot_err};
use super::master::{MasterKey, id_hex};
use super::slot::{self, Slot, SlotBytes};
use super::{KeyStoreError, Rotated};

/// One step of a rotation, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The new master key is in `<master key file>.new`.
    MasterNew,
    /// `keys/store.new` holds every slot wrapped by the new key.
    StoreNew,
    /// `keys/store` is the new store.
    RenameStore,
    /// The master key file holds the new key: the rotation is complete.
    RenameMaster,
}

/// The steps in the order they run.
const STEPS: [Step; 4] = [
    Step::MasterNew,
    Step::StoreNew,
    Step::RenameStore,
    Step::RenameMaster,
];

/// Re-wraps the `slots` slots of `store` (wrapped by `old`) under `new`,
/// step by step. `stop_after` ends the run after that step as if the
/// process had died there (tests only; `None` runs every step).
///
/// A failure before step 3 removes the `.new` files again: the old store
/// and key stand. The caller learns from the store's header which key
/// wraps it after a failure in step 3 or 4.
pub fn rotate(
    paths: &Paths,
    store: &File,
    slots: u64,
    old: &MasterKey,
    new: &MasterKey,
    stop_after: Option<Step>,
) -> Result<Rotated, KeyStoreError> {
    let mut rotated = Rotated {
        old_id: old.id(),
        new_id: new.id(),
        live: 0,
        destroyed: 0,
    };
    for step in STEPS {
        match step {
            Step::MasterNew => new
                .write(&paths.master_new)
                .inspect_err(|_| discard(paths))?,
            Step::StoreNew => {
                (rotated.live, rotated.destroyed) = write_store_new(paths, store, slots, old, new)
                    .inspect_err(|_| discard(paths))?;
            }
            Step::RenameStore => {
                fs::rename(&paths.store_new, &paths.store)
                    .map_err(io_err(&paths.store))
                    .inspect_err(|_| discard(paths))?;
                sync_dir(&paths.dir)?;
            }
            Step::RenameMaster => {
                fs::rename(&paths.master_new, &paths.master).map_err(io_err(&paths.master))?;
                sync_parent(&paths.master)?;
            }
        }
        if stop_after == Some(step) {
            break;
        }
    }
    Ok(rotated)
}

/// Removes the `.new` files of a rotation that failed before step 3. Best
/// effort: what it leaves, [`settle`] removes at the next open.
fn discard(paths: &Paths) {
    for path in [&paths.store_new, &paths.master_new] {
        if let Err(e) = remove_if_present(path) {
            tracing::warn!(error = %e, "could not remove a file of an abandoned rotation");
        }
    }
}

/// Writes step 2's `keys/store.new`, syncs it and checks it; returns how
/// many slots were live and destroyed.
fn write_store_new(
    paths: &Paths,
    store: &File,
    slots: u64,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<(u64, u64), KeyStoreError> {
    let path = &paths.store_new;
    let out = file::create(path, &new.id())?;
    let (old_c, new_c) = (old.cipher(), new.cipher());
    // One seed from the OS, then a CSPRNG: a million nonces need not be a
    // million system calls.
    let mut rng = StdRng::from_rng(OsRng).map_err(|e| KeyStoreError::MasterKey {
        path: paths.master_new.display().to_string(),
        reason: format!("no random bytes from the operating system: {e}"),
    })?;
    let (mut live, mut destroyed) = (0, 0);
    let mut w = BufWriter::with_capacity(1 << 16, &out);
    for n in 0..slots {
        let b = file::read_slot(store, &paths.store, n)?;
        let bytes: SlotBytes = match decode(paths, n, &b)? {
            Slot::Destroyed => {
                destroyed += 1;
                b
            }
            Slot::Live(wrapped) => {
                let key = wrapped
                    .open(n, &old_c)
                    .map_err(|r| not_rewrapped(paths, n, &r))?;
                let mut nonce = [0u8; 12];
                rng.fill_bytes(&mut nonce);
                live += 1;
                slot::seal(n, wrapped.kind, wrapped.created, &nonce, &key, &new_c)
                    .map_err(|r| not_rewrapped(paths, n, &r))?
            }
        };
        w.write_all(&bytes).map_err(io_err(path))?;
    }
    w.flush().map_err(io_err(path))?;
    drop(w);
    out.sync_all().map_err(io_err(path))?;
    sync_dir(&paths.dir)?;
    compare(paths, store, slots, old, new)?;
    Ok((live, destroyed))
}

fn decode(paths: &Paths, n: u64, b: &SlotBytes) -> Result<Slot, KeyStoreError> {
    slot::decode(b).map_err(|r| not_rewrapped(paths, n, &r))
}

fn not_rewrapped(paths: &Paths, n: u64, reason: &str) -> KeyStoreError {
    slot_err(
        &paths.store,
        n,
        format!("{reason}; the rotation was abandoned and nothing changed"),
    )
}

/// Reads `store.new` back and checks that every slot holds what the store
/// holds: the same key, kind and time, or zeros where the store has zeros.
fn compare(
    paths: &Paths,
    store: &File,
    slots: u64,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<(), KeyStoreError> {
    let written = file::open_ro(&paths.store_new)?;
    let (old_c, new_c) = (old.cipher(), new.cipher());
    let differs = |n| {
        slot_err(
            &paths.store_new,
            n,
            "does not hold what the store holds; the rotation was abandoned and nothing changed",
        )
    };
    if written.master_id != new.id() || written.slots != slots {
        return Err(KeyStoreError::Header {
            path: paths.store_new.display().to_string(),
            reason: format!(
                "names master key {} with {} slots, not {} with {slots}; the rotation was \
                 abandoned and nothing changed",
                id_hex(&written.master_id),
                written.slots,
                id_hex(&new.id())
            ),
        });
    }
    for n in 0..slots {
        let a = decode(paths, n, &file::read_slot(store, &paths.store, n)?)?;
        let b = file::read_slot(&written.file, &paths.store_new, n)?;
        let same = match (a, slot::decode(&b)) {
            (Slot::Destroyed, Ok(Slot::Destroyed)) => true,
            (Slot::Live(a), Ok(Slot::Live(b))) => {
                let ka = a.open(n, &old_c).map_err(|r| not_rewrapped(paths, n, &r))?;
                b.open(n, &new_c).is_ok_and(|kb| {
                    kb.as_bytes() == ka.as_bytes() && (b.kind, b.created) == (a.kind, a.created)
                })
            }
            _ => false,
        };
        if !same {
            return Err(differs(n));
        }
    }
    Ok(())
}

/// Decides at open which master key wraps the store and clears what an
/// interrupted rotation (or creation) left: the key the store's header
/// names wins; the other file is removed, or renamed into place when it is
/// the winner. Never makes a key.
pub fn settle(paths: &Paths) -> Result<MasterKey, KeyStoreError> {
    let named = file::read_master_id(&paths.store)?;
    if !exists(&paths.master)? {
        return Err(KeyStoreError::MasterKeyMissing {
            store: paths.store.display().to_string(),
            master: paths.master.display().to_string(),
        });
    }
    let current = MasterKey::read(&paths.master)?;
    if current.id() == named {
        let store_new = remove_if_present(&paths.store_new)?;
        if store_new {
            sync_dir(&paths.dir)?;
        }
        let master_new = remove_if_present(&paths.master_new)?;
        if master_new {
            sync_parent(&paths.master_new)?;
        }
        if store_new || master_new {
            tracing::warn!(
                master_id = id_hex(&named),
                "discarded a master key rotation that a crash interrupted; the old master key stays"
            );
        }
        return Ok(current);
    }
    if exists(&paths.master_new)? {
        // A torn `.new` (a crash in step 1) cannot be the winner: the
        // store names the new key only after step 1 was synced.
        if let Ok(next) = MasterKey::read(&paths.master_new)
            && next.id() == named
        {
            if remove_if_present(&paths.store_new)? {
                sync_dir(&paths.dir)?;
            }
            fs::rename(&paths.master_new, &paths.master).map_err(io_err(&paths.master))?;
            sync_parent(&paths.master)?;
            tracing::warn!(
                master_id = id_hex(&named),
                "finished a master key rotation that a crash interrupted"
            );
            return Ok(next);
        }
    }
    Err(KeyStoreError::WrongMasterKey {
        master: paths.master.display().to_string(),
        store: paths.store.display().to_string(),
        found: id_hex(&current.id()),
        expected: id_hex(&named),
    })
}
