//! The writer's purge: tombstones and audit purges chained and synced,
//! then their keys destroyed (in [`Writer::apply`]), then the index
//! compacted.

use std::collections::HashSet;

use tokio::sync::oneshot;

use super::super::lifecycle::{AuditPurge, Tombstone};
use super::super::purge::{AuditDue, Due, Purged, Skipped, obstacle};
use super::super::record::RecordBody;
use super::{ArchiveError, Request, Writer};

/// Tombstones written and synced together (one key store sync each).
const CHUNK: usize = 1_000;

impl Writer {
    /// Purges `items` (see [`Request::Purge`]).
    pub(super) fn purge(
        &mut self,
        items: Vec<Due>,
        audit: Vec<AuditDue>,
        actor: &str,
        forget_by: chrono::NaiveDate,
    ) -> Result<Purged, ArchiveError> {
        let mut done = Purged::default();
        // Checked again here: a hold may have arrived since the plan.
        let mut due = Vec::with_capacity(items.len());
        for d in items {
            match obstacle(&self.index, d.of)? {
                None => due.push(d),
                Some(why) => done.skipped.push(Skipped {
                    of: d.of,
                    why: why.to_string(),
                }),
            }
        }
        let except: HashSet<u64> = due.iter().map(|d| d.of).collect();
        let mut destroyed: HashSet<u64> = HashSet::new();
        for chunk in due.chunks(CHUNK) {
            let mut answers = Vec::with_capacity(chunk.len());
            let mut requests = Vec::with_capacity(chunk.len());
            for d in chunk {
                let stone = self.tombstone(d, actor, forget_by, &except, &mut destroyed)?;
                done.slots += stone.slots.len() as u64;
                let (reply, rx) = oneshot::channel();
                requests.push(Request::Record {
                    body: Box::new(RecordBody::Tombstone(stone)),
                    reply,
                });
                answers.push((d.of, rx));
            }
            self.commit(requests);
            for (of, mut rx) in answers {
                match rx.try_recv() {
                    Ok(Ok(appended)) => done.tombstones.push((of, appended.seq)),
                    Ok(Err(e)) => return Err(e),
                    Err(_) => {
                        return Err(ArchiveError::Other("the purge batch got no answer".into()));
                    }
                }
            }
            if self.index_stale {
                return Err(ArchiveError::Other(
                    "the index failed during the purge; it is caught up and the purge completes at the next open".into(),
                ));
            }
        }
        self.purge_audit(audit, actor, forget_by, &mut done)?;
        if (!done.tombstones.is_empty() || self.index.compact_pending()?)
            && let Err(e) = self.index.compact()
        {
            tracing::error!(error = %e, "index compaction after purge failed");
            done.compaction_error = Some(e.to_string());
        }
        Ok(done)
    }

    /// Chains an audit purge for each due year whose keys the index still
    /// lists (another purge may have come first); its keys die when it is
    /// applied.
    fn purge_audit(
        &mut self,
        audit: Vec<AuditDue>,
        actor: &str,
        forget_by: chrono::NaiveDate,
        done: &mut Purged,
    ) -> Result<(), ArchiveError> {
        let listed = self.index.audit_keys()?;
        let mut answers = Vec::new();
        let mut requests = Vec::new();
        for due in audit {
            let Some(known) = listed.get(&due.year) else {
                continue;
            };
            let slots: Vec<u64> = due
                .slots
                .iter()
                .copied()
                .filter(|s| known.contains(s))
                .collect();
            if slots.is_empty() {
                continue;
            }
            done.slots += slots.len() as u64;
            let (reply, rx) = oneshot::channel();
            requests.push(Request::Record {
                body: Box::new(RecordBody::AuditPurge(AuditPurge {
                    year: due.year,
                    slots,
                    audit_years: due.audit_years,
                    keep_until: due.keep_until,
                    actor: actor.to_string(),
                    backups_forget_by: forget_by,
                })),
                reply,
            });
            answers.push((due.year, rx));
        }
        if requests.is_empty() {
            return Ok(());
        }
        // The year being written is never due, but the cache must not
        // outlive a key that dies.
        self.audit_key = None;
        self.commit(requests);
        for (year, mut rx) in answers {
            match rx.try_recv() {
                Ok(Ok(appended)) => done.audit.push((year, appended.seq)),
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(ArchiveError::Other("the audit purge got no answer".into()));
                }
            }
        }
        Ok(())
    }

    /// The tombstone for one due record: its record key, and the key of
    /// each content no record outside this purge still uses.
    fn tombstone(
        &self,
        d: &Due,
        actor: &str,
        forget_by: chrono::NaiveDate,
        except: &HashSet<u64>,
        destroyed: &mut HashSet<u64>,
    ) -> Result<Tombstone, ArchiveError> {
        let s = self
            .index
            .summary(d.of)?
            .ok_or(ArchiveError::NoRecord(d.of))?;
        let mut slots: Vec<u64> = s.sealed_slot.into_iter().collect();
        let mut content = None;
        for sha in self.index.content_refs(d.of)? {
            let Some(e) = self.index.content(&sha)?.and_then(|l| l.encrypted) else {
                continue;
            };
            if destroyed.contains(&e.slot) || self.index.content_used(&sha, except)? {
                continue;
            }
            destroyed.insert(e.slot);
            slots.push(e.slot);
            if hex::encode(sha) == s.sha256 {
                content = Some(s.sha256.clone());
            }
        }
        slots.sort_unstable();
        slots.dedup();
        Ok(Tombstone {
            of: d.of,
            slots,
            content,
            rule: s.rule.clone(),
            keep_until: s.keep_until,
            reason: d.reason.clone(),
            actor: actor.to_string(),
            backups_forget_by: forget_by,
        })
    }
}
