//! Master key rotation is crash-safe: a rotation stopped after each of its
//! steps, or torn in the middle of writing one of its files, as if the
//! process had died there; then the store is reopened. Every time, the
//! master key the store names wins, every live key is intact and readable,
//! destroyed slots are still zero, and no `.new` file is left.

use std::fs;
use std::path::PathBuf;

use super::rotate::Step;
use super::tests::{Archive, assert_live, fill};
use super::*;

/// The slots the rotation tests destroy before rotating.
const DESTROYED: [u64; 3] = [3, 7, 11];
/// How many slots they hold.
const SLOTS: u64 = 20;

/// A store of [`SLOTS`] test keys with [`DESTROYED`] destroyed, closed.
/// Returns the master key's id.
fn setup(a: &Archive) -> [u8; 16] {
    let ks = a.open();
    fill(&ks, SLOTS);
    ks.destroy(&DESTROYED).unwrap();
    ks.master_id()
}

fn leftovers(a: &Archive) -> [PathBuf; 2] {
    [
        a.dir().join("keys/store.new"),
        a.dir().join("master.key.new"),
    ]
}

/// Reopens the store and checks what every crash must leave: the key
/// `id` wins, every key is there or still destroyed, nothing `.new`.
fn assert_intact(a: &Archive, id: [u8; 16]) {
    let ks = a.open();
    assert_eq!(ks.master_id(), id, "the wrong master key won");
    assert_eq!(ks.slots(), SLOTS);
    for n in 0..SLOTS {
        if DESTROYED.contains(&n) {
            assert!(matches!(ks.get(n), Ok(SlotState::Destroyed)), "slot {n}");
            assert_eq!(a.slot_bytes(n), vec![0; 96], "slot {n} is not zero");
        } else {
            assert_live(&ks, n);
        }
    }
    for path in leftovers(a) {
        assert!(!path.exists(), "{} is left", path.display());
    }
}

#[test]
fn a_rotation_stopped_after_any_step_leaves_a_store_that_opens_with_every_key() {
    for step in [
        Step::MasterNew,
        Step::StoreNew,
        Step::RenameStore,
        Step::RenameMaster,
    ] {
        let a = Archive::new();
        let old = setup(&a);
        let ks = a.open();
        let rotated = ks.rotate_until(step).unwrap();
        drop(ks);
        let [store_new, master_new] = leftovers(&a);
        let expect = match step {
            Step::MasterNew => (false, true),
            Step::StoreNew => (true, true),
            Step::RenameStore => (false, true),
            Step::RenameMaster => (false, false),
        };
        assert_eq!(
            (store_new.exists(), master_new.exists()),
            expect,
            "{step:?}"
        );
        let winner = if matches!(step, Step::MasterNew | Step::StoreNew) {
            old
        } else {
            rotated.new_id
        };
        assert_intact(&a, winner);
        // The settled store rotates again, and stays whole.
        let again = a.open().rotate_master().unwrap();
        assert_eq!((again.old_id, again.live, again.destroyed), (winner, 17, 3));
        assert_intact(&a, again.new_id);
    }
}

#[test]
fn a_crash_while_a_new_file_was_being_written_leaves_the_old_key() {
    // Torn in step 1: a partial master.key.new.
    let a = Archive::new();
    let old = setup(&a);
    a.open().rotate_until(Step::MasterNew).unwrap();
    let master_new = a.dir().join("master.key.new");
    let text = fs::read(&master_new).unwrap();
    fs::write(&master_new, &text[..30]).unwrap();
    assert_intact(&a, old);

    // Torn in step 2: a partial keys/store.new beside a whole new key.
    let a = Archive::new();
    let old = setup(&a);
    a.open().rotate_until(Step::StoreNew).unwrap();
    let store_new = a.dir().join("keys/store.new");
    let bytes = fs::read(&store_new).unwrap();
    fs::write(&store_new, &bytes[..64 + 5 * 96 + 17]).unwrap();
    assert_intact(&a, old);
}

#[test]
fn a_rotation_rewraps_every_live_slot_and_the_old_master_key_no_longer_opens_the_store() {
    let a = Archive::new();
    let old = setup(&a);
    let before = a.bytes();
    let old_file = fs::read(a.master()).unwrap();
    let ks = a.open();
    let r = ks.rotate_master().unwrap();
    assert_eq!((r.old_id, r.live, r.destroyed), (old, 17, 3));
    assert_ne!(r.new_id, old);
    assert_eq!(ks.master_id(), r.new_id);
    // The handle goes on with the new store: reads, appends, destroys.
    assert_live(&ks, 0);
    assert_eq!(
        ks.add(SlotKind::Record, &super::tests::key(SLOTS)).unwrap(),
        SLOTS
    );
    ks.sync().unwrap();
    ks.destroy(&[0]).unwrap();
    drop(ks);
    let after = a.bytes();
    assert_eq!(after.len(), before.len() + 96);
    for n in 1..SLOTS as usize {
        let (old_slot, new_slot) = (&before[64 + 96 * n..][..96], &after[64 + 96 * n..][..96]);
        if DESTROYED.contains(&(n as u64)) {
            assert_eq!(new_slot, &[0; 96][..]);
        } else {
            assert_eq!(
                old_slot[..16],
                new_slot[..16],
                "slot {n}: state, kind, time"
            );
            assert_ne!(
                old_slot[16..76],
                new_slot[16..76],
                "slot {n} not re-wrapped"
            );
        }
    }
    let new_file = fs::read(a.master()).unwrap();
    assert_ne!(new_file, old_file);
    fs::write(a.master(), &old_file).unwrap();
    let err = a.try_open().err().unwrap();
    assert!(matches!(err, KeyStoreError::WrongMasterKey { .. }), "{err}");
    fs::write(a.master(), &new_file).unwrap();
    let ks = a.open();
    assert!(matches!(ks.get(0), Ok(SlotState::Destroyed)));
    assert_live(&ks, 1);
    assert!(matches!(
        ks.get(SLOTS),
        Ok(SlotState::Live {
            kind: SlotKind::Record,
            ..
        })
    ));
}

#[test]
fn a_slot_that_does_not_unwrap_stops_the_rotation_and_nothing_changes() {
    let a = Archive::new();
    let old = setup(&a);
    a.damage(5, true, |s| s[30] ^= 0x01);
    let before = a.bytes();
    let ks = a.open();
    let err = ks.rotate_master().unwrap_err();
    assert!(matches!(err, KeyStoreError::Slot { slot: 5, .. }), "{err}");
    assert!(err.to_string().contains("nothing changed"), "{err}");
    assert_eq!(ks.master_id(), old);
    assert_live(&ks, 4);
    drop(ks);
    assert_eq!(a.bytes(), before);
    for path in leftovers(&a) {
        assert!(!path.exists(), "{} is left", path.display());
    }
    assert_eq!(a.open().master_id(), old);
}
