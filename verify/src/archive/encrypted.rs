//! The archive walk's checks of format 2.3: records' `stored` against
//! the `E` frames, sealed personal fields, and the key store's slots.

use super::Walk;
use super::purge::{Counts, Destroyed};
use crate::format::ContentRef;
use crate::keys::Slot;
use crate::sealed::{self, Opened, Sealed};

impl Walk<'_> {
    /// Why a content reference's `stored` names no `E` frame of its
    /// content, or one of another length.
    pub(super) fn stored_differs(&self, c: &ContentRef) -> Option<&'static str> {
        let frames = self.encrypted.get(&c.sha);
        let stored = c.stored?;
        match frames.and_then(|f| f.iter().find(|(ct, _)| *ct == stored)) {
            None if frames.is_none() => {
                Some("`stored` names a ciphertext, but the content is not encrypted")
            }
            None => Some("`stored` differs from the ciphertext hash of its encrypted frame"),
            Some((_, size)) if *size != c.size => {
                Some("its size differs from its encrypted frame's")
            }
            Some(_) => None,
        }
    }

    /// Counts a record's sealed fields; opens them with the key store.
    pub(super) fn sealed(&mut self, at: &str, seq: u64, kind: &str, s: &Sealed) {
        self.out.sealed.0 += 1;
        if kind != "audit" {
            self.not_audit_key(s.slot, Some(seq));
        }
        let Some(store) = self.store else { return };
        self.use_slot(Some(s.slot));
        match sealed::open(store, seq, kind, s) {
            Ok(Opened::Open) => self.out.sealed.1 += 1,
            Ok(Opened::Purged) => self.destroyed(Destroyed {
                at: at.to_owned(),
                what: format!("sealed fields of record {seq}"),
                slot: s.slot,
                counts: match kind {
                    "message" => Counts::Message,
                    "audit" => Counts::Audit,
                    _ => Counts::Outcome,
                },
            }),
            Err((k, why)) => self.problem(at, k, format!("record {seq}: {why}")),
        }
    }

    /// Counts the key store's slots, and reports damaged ones.
    pub(super) fn slots(&mut self) {
        let Some(store) = self.store else { return };
        for (n, slot) in store.slots.iter().enumerate() {
            match slot {
                Slot::Live(..) => {
                    self.out.slots.0 += 1;
                    self.out.slots.2 += u64::from(!self.used[n]);
                }
                Slot::Destroyed => self.out.slots.1 += 1,
                Slot::Damaged(why) => {
                    let detail = format!("key slot {n} {why}");
                    self.problem("keys/store", "key-store-damaged", detail);
                }
            }
        }
    }
}
