//! The key store's promises on real files: what it creates and with which
//! modes, what it refuses (no store, no master key, the wrong one, a second
//! writer), torn and damaged slots, destroying without leaving a copy, and
//! readers on many threads while one thread appends, destroys and rotates.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use tempfile::TempDir;

use super::*;

/// An archive directory with its master key at the default place.
pub(super) struct Archive {
    /// Removed with the test.
    tmp: TempDir,
}

impl Archive {
    pub(super) fn new() -> Archive {
        Archive {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    pub(super) fn dir(&self) -> &Path {
        self.tmp.path()
    }

    pub(super) fn master(&self) -> PathBuf {
        self.dir().join("master.key")
    }

    pub(super) fn store(&self) -> PathBuf {
        self.dir().join("keys/store")
    }

    pub(super) fn open(&self) -> KeyStore {
        KeyStore::open(self.dir(), &self.master(), true).unwrap()
    }

    pub(super) fn try_open(&self) -> Result<KeyStore, KeyStoreError> {
        KeyStore::open(self.dir(), &self.master(), false)
    }

    pub(super) fn bytes(&self) -> Vec<u8> {
        fs::read(self.store()).unwrap()
    }

    /// Slot `n`'s bytes as they are in the file.
    pub(super) fn slot_bytes(&self, n: u64) -> Vec<u8> {
        let at = 64 + 96 * n as usize;
        self.bytes()[at..at + 96].to_vec()
    }

    /// Rewrites slot `n` with `f` applied to its bytes, and with its CRC
    /// made to match again when `fix_crc`.
    pub(super) fn damage(&self, n: u64, fix_crc: bool, f: impl FnOnce(&mut [u8])) {
        let mut all = self.bytes();
        let at = 64 + 96 * n as usize;
        let slot = &mut all[at..at + 96];
        f(slot);
        if fix_crc {
            let sum = crc32fast::hash(&slot[..92]).to_be_bytes();
            slot[92..].copy_from_slice(&sum);
        }
        fs::write(self.store(), all).unwrap();
    }
}

/// The key slot `i` is given in these tests: different for every slot.
pub(super) fn key(i: u64) -> DataKey {
    DataKey::from_bytes(Sha256::digest(i.to_be_bytes()).into())
}

pub(super) fn kind(i: u64) -> SlotKind {
    if i.is_multiple_of(2) {
        SlotKind::Content
    } else {
        SlotKind::Record
    }
}

/// Asserts slot `n` is live with [`key`]`(n)` and [`kind`]`(n)`.
pub(super) fn assert_live(ks: &KeyStore, n: u64) {
    match ks.get(n) {
        Ok(SlotState::Live {
            key: k, kind: t, ..
        }) => {
            assert_eq!(k.as_bytes(), key(n).as_bytes(), "slot {n}'s key");
            assert_eq!(t, kind(n), "slot {n}'s kind");
        }
        other => panic!("slot {n}: {other:?}"),
    }
}

/// Appends `count` slots with the test keys and syncs.
pub(super) fn fill(ks: &KeyStore, count: u64) {
    for i in 0..count {
        assert_eq!(ks.add(kind(i), &key(i)).unwrap(), ks.slots() - 1);
    }
    ks.sync().unwrap();
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_first_open_makes_a_0600_master_key_a_0700_keys_dir_and_an_empty_store() {
    let a = Archive::new();
    let ks = a.open();
    assert_eq!(mode(&a.master()), 0o600);
    assert_eq!(mode(&a.dir().join("keys")), 0o700);
    assert_eq!(mode(&a.store()), 0o600);
    let text = fs::read_to_string(a.master()).unwrap();
    assert!(text.starts_with("mailseal master key v1\n"), "{text}");
    let bytes = a.bytes();
    assert_eq!(bytes.len(), 64);
    assert_eq!(&bytes[..8], b"MSKEYS01");
    assert_eq!(bytes[16..32], ks.master_id());
    assert_eq!((ks.slots(), ks.len_bytes()), (0, 64));
    assert!(KeyStore::exists(a.dir()));
    let id = ks.master_id();
    drop(ks);
    let again = a.open();
    assert_eq!(again.master_id(), id, "the second open made a new key");
}

#[test]
fn keys_come_back_as_they_went_in_after_a_reopen() {
    let a = Archive::new();
    let ks = a.open();
    fill(&ks, 5);
    assert_eq!(ks.len_bytes(), 64 + 5 * 96);
    drop(ks);
    let ks = a.open();
    assert_eq!(ks.slots(), 5);
    assert_eq!(a.bytes().len() as u64, ks.len_bytes());
    for n in 0..5 {
        assert_live(&ks, n);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    match ks.get(0).unwrap() {
        SlotState::Live { created, .. } => assert!(created + 600 > now && created <= now),
        other => panic!("{other:?}"),
    }
    assert!(matches!(ks.get(5), Ok(SlotState::Missing)));
    assert!(!a.bytes().windows(32).any(|w| w == key(3).as_bytes()));
    assert_eq!(format!("{:?}", key(3)), "DataKey(..)");
}

#[test]
fn without_create_nothing_is_made() {
    let a = Archive::new();
    let err = a.try_open().err().unwrap();
    assert!(matches!(err, KeyStoreError::NoStore { .. }), "{err}");
    assert!(err.to_string().contains("keys/store"), "{err}");
    assert!(!a.master().exists() && !a.dir().join("keys").exists());
    assert!(!KeyStore::exists(a.dir()));
    assert!(matches!(
        SlotFile::open(a.dir()),
        Err(KeyStoreError::NoStore { .. })
    ));
}

#[test]
fn a_store_without_its_master_key_is_refused_and_no_new_key_is_made() {
    let a = Archive::new();
    fill(&a.open(), 2);
    fs::remove_file(a.master()).unwrap();
    let err = KeyStore::open(a.dir(), &a.master(), true).err().unwrap();
    assert!(
        matches!(err, KeyStoreError::MasterKeyMissing { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&a.master().display().to_string()));
    assert!(!a.master().exists(), "a new master key was made");
}

#[test]
fn another_archives_master_key_or_a_malformed_one_is_refused_naming_the_file() {
    let a = Archive::new();
    let b = Archive::new();
    let a_id = a.open().master_id();
    let b_id = b.open().master_id();
    let b_key = fs::read(b.master()).unwrap();
    fs::write(a.master(), &b_key).unwrap();
    let err = a.try_open().err().unwrap();
    let text = err.to_string();
    assert!(
        matches!(err, KeyStoreError::WrongMasterKey { .. }),
        "{text}"
    );
    for part in [
        a.master().display().to_string(),
        hex::encode(a_id),
        hex::encode(b_id),
    ] {
        assert!(text.contains(&part), "{text} lacks {part}");
    }
    assert_eq!(fs::read(a.master()).unwrap(), b_key, "the key file changed");

    fs::write(a.master(), "mailseal master key v1\nnot hex\n").unwrap();
    let err = a.try_open().err().unwrap();
    assert!(matches!(err, KeyStoreError::MasterKey { .. }), "{err}");
    assert!(err.to_string().contains(&a.master().display().to_string()));
}

#[test]
fn a_second_handle_on_the_same_store_is_refused_until_the_first_is_gone() {
    let a = Archive::new();
    let ks = a.open();
    let err = a.try_open().err().unwrap();
    assert!(matches!(err, KeyStoreError::Locked { .. }), "{err}");
    // Reading the slot states needs no lock.
    assert_eq!(SlotFile::open(a.dir()).unwrap().slots(), 0);
    drop(ks);
    a.try_open().unwrap();
}

#[test]
fn an_incomplete_last_slot_is_cut_and_its_number_given_again() {
    let a = Archive::new();
    fill(&a.open(), 3);
    let file = fs::OpenOptions::new().write(true).open(a.store()).unwrap();
    file.set_len(64 + 2 * 96 + 40).unwrap();
    drop(file);
    // A reader without the key sees two slots and leaves the file alone.
    let raw = SlotFile::open(a.dir()).unwrap();
    assert_eq!((raw.slots(), raw.state(2).unwrap()), (2, RawState::Missing));
    assert_eq!(a.bytes().len(), 64 + 2 * 96 + 40);
    let ks = a.open();
    assert_eq!(ks.slots(), 2);
    assert_eq!(a.bytes().len(), 64 + 2 * 96);
    assert!(matches!(ks.get(2), Ok(SlotState::Missing)));
    assert_live(&ks, 0);
    assert_live(&ks, 1);
    assert_eq!(ks.add(kind(2), &key(2)).unwrap(), 2);
    ks.sync().unwrap();
    assert_live(&ks, 2);
}

#[test]
fn a_flipped_bit_in_a_slot_is_an_error_naming_the_slot() {
    let a = Archive::new();
    fill(&a.open(), 3);
    // CRC no longer matches.
    a.damage(1, false, |s| s[40] ^= 0x04);
    let ks = a.open();
    let err = ks.get(1).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, KeyStoreError::Slot { slot: 1, .. }), "{text}");
    assert!(text.contains("slot 1") && text.contains("CRC"), "{text}");
    assert!(text.contains(&a.store().display().to_string()), "{text}");
    let raw = SlotFile::open(a.dir()).unwrap();
    assert!(matches!(
        raw.state(1),
        Err(KeyStoreError::Slot { slot: 1, .. })
    ));
    assert_live(&ks, 0);
    assert_live(&ks, 2);
    drop(ks);
    // CRC made to match again: the tag still catches it.
    a.damage(1, true, |_| {});
    let ks = a.open();
    let text = ks.get(1).unwrap_err().to_string();
    assert!(text.contains("slot 1") && text.contains("unwrap"), "{text}");
    assert!(matches!(raw.state(1), Ok(RawState::Live { .. })));
}

#[test]
fn a_slot_moved_to_another_number_does_not_unwrap() {
    let a = Archive::new();
    fill(&a.open(), 3);
    let slot0 = a.slot_bytes(0);
    a.damage(2, false, |s| s.copy_from_slice(&slot0));
    let ks = a.open();
    assert_live(&ks, 0);
    assert!(matches!(
        ks.get(2),
        Err(KeyStoreError::Slot { slot: 2, .. })
    ));
}

#[test]
fn a_destroyed_key_leaves_no_byte_of_its_wrapped_form_in_the_file() {
    let a = Archive::new();
    let ks = a.open();
    fill(&ks, 5);
    let wrapped: Vec<Vec<u8>> = [1, 3]
        .iter()
        .map(|&n| a.slot_bytes(n)[16..76].to_vec())
        .collect();
    ks.destroy(&[1, 3]).unwrap();
    let bytes = a.bytes();
    assert_eq!(bytes.len(), 64 + 5 * 96, "destroying moved something");
    for w in &wrapped {
        // Not the whole wrapped key, nor any 8 bytes of it.
        assert!(!bytes.windows(8).any(|x| w.windows(8).any(|y| x == y)));
    }
    for n in [1, 3] {
        assert_eq!(a.slot_bytes(n), vec![0; 96]);
        assert!(matches!(ks.get(n), Ok(SlotState::Destroyed)));
    }
    ks.destroy(&[3]).unwrap();
    let err = ks.destroy(&[2, 99]).unwrap_err();
    assert!(matches!(err, KeyStoreError::Slot { slot: 99, .. }), "{err}");
    assert_live(&ks, 2);
    drop(ks);
    let ks = a.open();
    for n in [0, 2, 4] {
        assert_live(&ks, n);
    }
    assert!(matches!(ks.get(1), Ok(SlotState::Destroyed)));
    let raw = SlotFile::open(a.dir()).unwrap();
    assert_eq!(raw.state(3).unwrap(), RawState::Destroyed);
    assert!(matches!(
        raw.state(4).unwrap(),
        RawState::Live {
            kind: SlotKind::Content,
            ..
        }
    ));
    assert_eq!(raw.state(5).unwrap(), RawState::Missing);
    assert_eq!(raw.master_id(), ks.master_id());
}

/// Slots this test destroys while the readers read.
fn doomed(n: u64) -> bool {
    n % 7 == 3
}

#[test]
fn readers_on_many_threads_see_every_key_while_one_thread_appends_destroys_and_rotates() {
    const SLOTS: u64 = 3000;
    let a = Archive::new();
    let ks = Arc::new(a.open());
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..4u64)
        .map(|t| {
            let (ks, done, reads) = (ks.clone(), done.clone(), reads.clone());
            std::thread::spawn(move || {
                let mut step = 0u64;
                while !done.load(Ordering::Acquire) {
                    let count = ks.slots();
                    if count == 0 {
                        continue;
                    }
                    step += 1;
                    // Now the newest slot, now an older one, per thread.
                    let n = if step.is_multiple_of(2) {
                        count - 1
                    } else {
                        (step * 7919 + t * 104_729) % count
                    };
                    match ks.get(n).unwrap() {
                        SlotState::Live {
                            key: k, kind: c, ..
                        } => {
                            assert_eq!(k.as_bytes(), key(n).as_bytes(), "slot {n}");
                            assert_eq!(c, kind(n), "slot {n}");
                        }
                        SlotState::Destroyed => assert!(doomed(n), "slot {n} destroyed"),
                        SlotState::Missing => panic!("slot {n} missing below {count}"),
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut batch = Vec::new();
    for i in 0..SLOTS {
        assert_eq!(ks.add(kind(i), &key(i)).unwrap(), i);
        if doomed(i) {
            batch.push(i);
        }
        if i % 100 == 99 {
            ks.sync().unwrap();
            ks.destroy(&batch).unwrap();
            batch.clear();
        }
        if i == SLOTS / 2 {
            ks.rotate_master().unwrap();
        }
    }
    ks.sync().unwrap();
    done.store(true, Ordering::Release);
    for r in readers {
        r.join().unwrap();
    }
    assert!(reads.load(Ordering::Relaxed) > 0);
    drop(ks);
    let ks = a.open();
    assert_eq!(ks.slots(), SLOTS);
    for n in 0..SLOTS {
        if doomed(n) {
            assert!(matches!(ks.get(n), Ok(SlotState::Destroyed)), "slot {n}");
        } else {
            assert_live(&ks, n);
        }
    }
}
