//! The archive walk's checks of audit records' own retention (format
//! 2.3).
//!
//! Along the walk, without any key: an audit key serves the audit records
//! of one calendar year; `audit_years` in `retention-rules` never shrinks,
//! and an `audit-purge` applies at least the last one recorded; no two
//! `audit-purge` records name the same slot. At the end of the walk,
//! without a key: every slot an `audit-purge` names is no key a content or
//! a message record uses, and seals no audit record of another year than
//! the purge's. With the key store, at the end: a destroyed audit key is
//! purged only when an `audit-purge` names it (in `purge`, beside the
//! tombstone rule), and every slot an `audit-purge` names is a destroyed
//! audit key.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use super::Walk;
use crate::audit::AuditStep;
use crate::keys::{AUDIT_KEY, Slot};

/// What the walk remembers of audit keys and purges.
#[derive(Default)]
pub(super) struct AuditLife {
    /// Per audit key slot: the year of its sealed audit records, and the
    /// first of them.
    years: HashMap<u64, (u64, u64)>,
    /// The last `audit_years` recorded by `retention-rules` (the largest:
    /// it may not shrink), and that record.
    audit_years: Option<(u64, u64)>,
    /// Slots `audit-purge` records name, with the first naming each.
    pub(super) slots: HashMap<u64, Named>,
    /// Slots of contents (`None`) and of sealed message records and
    /// outcomes (`Some(seq)`): record and content keys, no audit keys.
    others: HashMap<u64, Option<u64>>,
}

/// An `audit-purge` naming a slot.
pub(super) struct Named {
    /// Its seq.
    seq: u64,
    /// The year it purges.
    year: u64,
    /// Where it is.
    at: String,
}

impl Walk<'_> {
    /// Notes that a content (`None`) or a message record or outcome
    /// (`Some(seq)`) uses key `slot`: it is no audit key.
    pub(super) fn not_audit_key(&mut self, slot: u64, user: Option<u64>) {
        self.audit.others.entry(slot).or_insert(user);
    }

    /// Checks a sealed audit record, `retention-rules` or `audit-purge`
    /// against the records before it, and remembers it.
    pub(super) fn audit_step(&mut self, at: &str, seq: u64, step: AuditStep) {
        match step {
            AuditStep::Sealed { slot, year } => match self.audit.years.entry(slot) {
                Entry::Vacant(v) => {
                    v.insert((year, seq));
                }
                Entry::Occupied(o) if o.get().0 != year => {
                    let (first_year, first) = *o.get();
                    let detail = format!(
                        "record {seq} of {year} is sealed under audit key slot {slot}, which sealed record {first} of {first_year}: a key serves one year"
                    );
                    self.problem(at, "audit-bad", detail);
                }
                Entry::Occupied(_) => {}
            },
            AuditStep::Rules(None) => {}
            AuditStep::Rules(Some(n)) => match self.audit.audit_years {
                Some((last, by)) if n < last => {
                    let detail = format!(
                        "record {seq} records audit_years {n}, fewer than {last} in record {by}"
                    );
                    self.problem(at, "retention-rules-bad", detail);
                }
                _ => self.audit.audit_years = Some((n, seq)),
            },
            AuditStep::Purge {
                year,
                slots,
                audit_years,
            } => {
                if let Some((last, by)) = self.audit.audit_years
                    && audit_years < last
                {
                    let detail = format!(
                        "audit-purge {seq} applies audit_years {audit_years}, fewer than {last} in record {by}"
                    );
                    self.problem(at, "audit-purge-bad", detail);
                }
                for slot in slots {
                    if let Some(first) = self.audit.slots.get(&slot) {
                        let detail = format!(
                            "audit-purge {seq} names slot {slot}, which audit-purge {} named",
                            first.seq
                        );
                        self.problem(at, "audit-purge-bad", detail);
                        continue;
                    }
                    let named = Named {
                        seq,
                        year,
                        at: at.to_owned(),
                    };
                    self.audit.slots.insert(slot, named);
                }
            }
        }
    }

    /// What needs the whole chain: the slots `audit-purge` records name
    /// against the keys the records use; with the key store, against it.
    /// Runs after `purges`, which needs the named slots.
    pub(super) fn audit_purges(&mut self) {
        let mut named: Vec<(u64, Named)> = self.audit.slots.drain().collect();
        named.sort_unstable_by_key(|(slot, n)| (n.seq, *slot));
        for (slot, n) in &named {
            let why = match (self.audit.others.get(slot), self.audit.years.get(slot)) {
                (Some(None), _) => Some("a content's key".to_owned()),
                (Some(Some(r)), _) => Some(format!("the key of record {r}")),
                (None, Some((y, r))) if *y != n.year => {
                    Some(format!("the audit key of record {r} of {y}"))
                }
                _ => None,
            };
            if let Some(why) = why {
                let detail = format!(
                    "audit-purge {} of year {} names slot {slot}, {why}",
                    n.seq, n.year
                );
                self.problem(&n.at, "audit-purge-bad", detail);
            }
        }
        let Some(store) = self.store else { return };
        for (slot, n) in &named {
            let state = usize::try_from(*slot).ok().and_then(|i| store.slots.get(i));
            let (kind, detail) = match state {
                Some(Slot::Destroyed) => continue,
                Some(Slot::Live(k, _)) if *k != AUDIT_KEY => (
                    "audit-purge-bad",
                    format!(
                        "audit-purge {} names live slot {slot}, a key of kind {k}, not an audit key",
                        n.seq
                    ),
                ),
                Some(_) => (
                    "purge-incomplete",
                    format!("audit-purge {} names live slot {slot}", n.seq),
                ),
                None => (
                    "key-store-damaged",
                    format!(
                        "audit-purge {} names key slot {slot}, which is not in the key store",
                        n.seq
                    ),
                ),
            };
            self.problem(&n.at, kind, detail);
        }
    }
}
