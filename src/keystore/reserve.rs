//! Keys made durable ahead of use.
//!
//! Every new content and every message record needs a key in the store
//! before any frame under it is written, and the store must be synced for
//! that: one more `fdatasync` per batch of mail, beside the segment's. A
//! [`Reserve`] instead appends a block of keys of a kind at a time, syncs
//! once and hands them out one by one, so most batches find their keys
//! already durable. Blocks start at one key and double with each refill up
//! to [`BLOCK`], so a command that archives one message adds one key of
//! each kind and a busy daemon syncs the store once per 128 messages. A key
//! added but never used (the rest of the last block when the process ends,
//! a content that turned out to be known, a batch that failed) stays a live
//! slot no frame names, which the format allows and `verify` counts.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::{DataKey, KeyStore, KeyStoreError, SlotKind};

/// The most keys appended and synced at a time, per kind (96 bytes of
/// store each).
pub const BLOCK: usize = 128;

/// Durable keys not yet handed out, for contents and for message records.
pub struct Reserve {
    store: Arc<KeyStore>,
    ready: Mutex<Ready>,
}

#[derive(Default)]
struct Ready {
    content: Queue,
    record: Queue,
}

/// The keys of one kind ready to be handed out, and how many the last
/// refill added.
#[derive(Default)]
struct Queue {
    keys: VecDeque<(u64, DataKey)>,
    block: usize,
}

impl Reserve {
    /// An empty reserve on `store`; the first [`Reserve::take`] fills it.
    pub fn new(store: Arc<KeyStore>) -> Reserve {
        Reserve {
            store,
            ready: Mutex::new(Ready::default()),
        }
    }

    /// A key of `kind` that is already durable in the store, and its slot.
    /// Audit keys (one a year) are not reserved: one is added and synced.
    pub fn take(&self, kind: SlotKind) -> Result<(u64, DataKey), KeyStoreError> {
        let mut ready = self.ready.lock().unwrap_or_else(|e| e.into_inner());
        let queue = match kind {
            SlotKind::Content => &mut ready.content,
            SlotKind::Record => &mut ready.record,
            SlotKind::Audit => {
                drop(ready);
                return self.fresh(kind, 0).map(|(key, _)| key);
            }
        };
        if let Some(key) = queue.keys.pop_front() {
            return Ok(key);
        }
        let block = (queue.block * 2).clamp(1, BLOCK);
        let (key, rest) = self.fresh(kind, block - 1)?;
        queue.keys = rest;
        queue.block = block;
        Ok(key)
    }

    /// Appends one fresh key of `kind` and `more` after it, and syncs the
    /// store.
    #[allow(clippy::type_complexity)]
    fn fresh(
        &self,
        kind: SlotKind,
        more: usize,
    ) -> Result<((u64, DataKey), VecDeque<(u64, DataKey)>), KeyStoreError> {
        let add = || -> Result<(u64, DataKey), KeyStoreError> {
            let key = DataKey::generate();
            Ok((self.store.add(kind, &key)?, key))
        };
        let first = add()?;
        let rest = (0..more).map(|_| add()).collect::<Result<_, _>>()?;
        self.store.sync()?;
        Ok((first, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::SlotState;
    use crate::keystore::tests::Archive;

    #[test]
    fn keys_come_from_blocks_of_their_kind_and_are_in_the_store() {
        let a = Archive::new();
        let store = Arc::new(a.open());
        let reserve = Reserve::new(Arc::clone(&store));
        let mut taken = Vec::new();
        // One message adds one key of each kind.
        for (kind, slots) in [(SlotKind::Content, 1), (SlotKind::Record, 2)] {
            taken.push((kind, reserve.take(kind).unwrap()));
            assert_eq!(store.slots(), slots);
        }
        // Then each refill doubles, up to BLOCK.
        let mut refills = Vec::new();
        for _ in 0..300 {
            let before = store.slots();
            taken.push((SlotKind::Content, reserve.take(SlotKind::Content).unwrap()));
            if store.slots() > before {
                refills.push(store.slots() - before);
            }
        }
        assert_eq!(refills, [2, 4, 8, 16, 32, 64, 128, 128]);
        let before = store.slots();
        taken.push((SlotKind::Audit, reserve.take(SlotKind::Audit).unwrap()));
        assert_eq!(store.slots(), before + 1);
        let mut slots: Vec<u64> = taken.iter().map(|(_, (slot, _))| *slot).collect();
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), taken.len(), "a slot was handed out twice");
        drop((reserve, store));
        let store = a.open();
        for (kind, (slot, key)) in &taken {
            match store.get(*slot).unwrap() {
                SlotState::Live {
                    key: k,
                    kind: found,
                    ..
                } => {
                    assert_eq!((found, k.as_bytes()), (*kind, key.as_bytes()));
                }
                other => panic!("slot {slot}: {other:?}"),
            }
        }
    }
}
