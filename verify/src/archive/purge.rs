//! The archive walk's checks of holds, purge requests, approvals and
//! tombstones (format 2.3), and the tombstone rule.
//!
//! Along the walk, without any key: every record these bodies name is an
//! earlier message record; an approval names an earlier request by
//! another actor; a tombstone names a message no tombstone named before,
//! that no case holds, and for an early deletion a request that names it
//! and was approved. With the key store, at the end: a content or sealed
//! field whose key slot is destroyed is purged only when some tombstone
//! (usually a later record) names the slot, else it is undecryptable; and
//! every slot a tombstone names must be destroyed. A destroyed audit key
//! is held to the `audit-purge` records the same way (`audit`).

use std::collections::{HashMap, HashSet};

use super::Walk;
use crate::keys::Slot;
use crate::lifecycle::Step;

/// What the walk remembers of these bodies.
#[derive(Default)]
pub(super) struct Lifecycle {
    /// Per record walked (index `seq - 1`): whether it is a message, the
    /// only kind of record the bodies may name.
    messages: Vec<bool>,
    /// Purge requests by seq: their actor, records, and whether approved.
    requests: HashMap<u64, Request>,
    /// Cases on hold, with the records each holds.
    holds: HashMap<String, HashSet<u64>>,
    /// Message records a tombstone names.
    tombstoned: HashSet<u64>,
    /// Key slots tombstones name, with the first tombstone naming each
    /// and where it is.
    slots: HashMap<u64, (u64, String)>,
    /// Contents and sealed fields whose key slot is destroyed.
    destroyed: Vec<Destroyed>,
}

/// A `purge-request` as far as approvals and tombstones need it.
struct Request {
    /// Who asked: may not approve.
    actor: String,
    /// The message records it asks to delete.
    records: HashSet<u64>,
    /// Whether another actor approved it.
    approved: bool,
}

/// What a destroyed key slot made unreadable.
pub(super) struct Destroyed {
    /// Where: the `E` frame, or the record.
    pub(super) at: String,
    /// What, for the message: `content …`, `record N`.
    pub(super) what: String,
    /// The destroyed slot.
    pub(super) slot: u64,
    /// Which purged count it adds to.
    pub(super) counts: Counts,
}

/// The report counts purged contents and purged message records; an
/// outcome sealed under its message's key is not a record of its own.
pub(super) enum Counts {
    /// An `E` frame.
    Content,
    /// A message record's sealed fields.
    Message,
    /// An outcome's sealed field.
    Outcome,
    /// An audit record's sealed fields: purged under an `audit-purge`,
    /// not a tombstone.
    Audit,
}

impl Walk<'_> {
    /// Notes that record `seq` (the one walked next) is or is not a message.
    pub(super) fn walked(&mut self, message: bool) {
        self.life.messages.push(message);
    }

    /// Notes a content or sealed field whose key slot is destroyed.
    pub(super) fn destroyed(&mut self, d: Destroyed) {
        self.life.destroyed.push(d);
    }

    /// Notes an `E` frame (at `at`, when its key slot is destroyed).
    pub(super) fn content_key_destroyed(
        &mut self,
        at: Option<String>,
        slot: Option<u64>,
        sha: Option<crate::Hash>,
    ) {
        if let (Some(at), Some(slot)) = (at, slot) {
            let what = format!("content {}", sha.map(hex::encode).unwrap_or_default());
            self.destroyed(Destroyed {
                at,
                what,
                slot,
                counts: Counts::Content,
            });
        }
    }

    /// Whether `n` is a message record before `seq`.
    fn earlier_message(&self, n: u64, seq: u64) -> bool {
        n < seq
            && usize::try_from(n - 1)
                .ok()
                .and_then(|i| self.life.messages.get(i))
                .is_some_and(|m| *m)
    }

    /// Checks what a hold, extension, request, approval or tombstone says
    /// against the records before it, and remembers it.
    pub(super) fn step(&mut self, at: &str, seq: u64, step: Step) {
        let names = match &step {
            Step::Hold { records, .. } | Step::Extend(records) | Step::Request { records, .. } => {
                records.clone()
            }
            _ => Vec::new(),
        };
        let kind = match &step {
            Step::Hold { .. } => "hold-bad",
            Step::Extend(_) => "retention-extend-bad",
            _ => "purge-request-bad",
        };
        if let Some(n) = names.iter().find(|&&n| !self.earlier_message(n, seq)) {
            let detail = format!("record {seq} names record {n}, which is no earlier message");
            self.problem(at, kind, detail);
        }
        match step {
            Step::Hold {
                add: true,
                case,
                records,
            } => self.life.holds.entry(case).or_default().extend(records),
            Step::Hold {
                add: false, case, ..
            } => {
                self.life.holds.remove(&case);
            }
            Step::Extend(_) => {}
            Step::Request { records, actor } => {
                let r = Request {
                    actor,
                    records: records.into_iter().collect(),
                    approved: false,
                };
                self.life.requests.insert(seq, r);
            }
            Step::Approval { request, actor } => self.approval(at, seq, request, &actor),
            Step::Tombstone { of, slots, request } => {
                self.tombstone(at, seq, of, request);
                for slot in slots {
                    self.life.slots.entry(slot).or_insert((seq, at.to_owned()));
                }
            }
        }
    }

    fn approval(&mut self, at: &str, seq: u64, request: u64, actor: &str) {
        let why = match self.life.requests.get_mut(&request) {
            Some(r) if r.actor == actor => {
                format!("record {seq}: {actor} approves their own request {request}")
            }
            Some(r) => {
                r.approved = true;
                return;
            }
            None => {
                format!("record {seq} approves record {request}, which is no earlier purge request")
            }
        };
        self.problem(at, "purge-approval-bad", why);
    }

    fn tombstone(&mut self, at: &str, seq: u64, of: u64, request: Option<u64>) {
        let mut why = Vec::new();
        if !self.earlier_message(of, seq) {
            why.push(format!("names record {of}, which is no earlier message"));
        }
        if !self.life.tombstoned.insert(of) {
            why.push(format!("record {of} already has a tombstone"));
        }
        let mut cases: Vec<&String> = (self.life.holds.iter())
            .filter(|(_, held)| held.contains(&of))
            .map(|(case, _)| case)
            .collect();
        cases.sort();
        if let Some(case) = cases.first() {
            why.push(format!("record {of} is on hold (case {case})"));
        }
        if let Some(n) = request {
            match self.life.requests.get(&n) {
                None => why.push(format!("request {n} is no earlier purge request")),
                Some(r) if !r.records.contains(&of) => {
                    why.push(format!("request {n} does not name record {of}"))
                }
                Some(r) if !r.approved => why.push(format!("request {n} was not approved")),
                Some(_) => {}
            }
        }
        for w in why {
            self.problem(at, "tombstone-bad", format!("tombstone {seq}: {w}"));
        }
    }

    /// The tombstone rule, with the key store, once every tombstone is
    /// known: destroyed slots are purged only under a tombstone, and a
    /// tombstone's slots are destroyed.
    pub(super) fn purges(&mut self) {
        let Some(store) = self.store else { return };
        for d in std::mem::take(&mut self.life.destroyed) {
            let (named, by) = match d.counts {
                Counts::Audit => (self.audit.slots.contains_key(&d.slot), "an audit-purge"),
                _ => (self.life.slots.contains_key(&d.slot), "a tombstone"),
            };
            if !named {
                let detail = format!("{}: key slot {} destroyed without {by}", d.what, d.slot);
                self.problem(&d.at, "undecryptable", detail);
                continue;
            }
            match d.counts {
                Counts::Content => self.out.purged.0 += 1,
                Counts::Message => self.out.purged.1 += 1,
                Counts::Audit => self.out.purged_audit += 1,
                Counts::Outcome => {}
            }
        }
        let mut named: Vec<(u64, (u64, String))> = self.life.slots.drain().collect();
        named.sort_unstable();
        for (slot, (seq, at)) in named {
            let state = usize::try_from(slot).ok().and_then(|i| store.slots.get(i));
            match state {
                Some(Slot::Destroyed) => {}
                Some(_) => self.problem(
                    &at,
                    "purge-incomplete",
                    format!("tombstone {seq} names live slot {slot}"),
                ),
                None => self.problem(
                    &at,
                    "key-store-damaged",
                    format!("tombstone {seq} names key slot {slot}, which is not in the key store"),
                ),
            }
        }
    }
}
