//! Choosing what a purge deletes, and what it did.
//!
//! A message record is due when its keep-until has passed (the day after
//! it) or a data officer approved a request to delete it early; it is
//! skipped, and listed with the reason, while a legal hold names it or its
//! bytes are stored in clear (those cannot be deleted without rewriting a
//! segment). The writer checks each again when it writes the tombstones.
//!
//! A calendar year of audit records is due the day after its end plus
//! `audit_years` (as recorded in the last `retention-rules`): its audit
//! keys are destroyed under one `audit-purge` record. Audit records written
//! in clear (before they were sealed) are counted and stay.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::index::{Index, IndexError};
use super::refusal::Obstacle;

/// A message record to purge, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Due {
    /// The message record.
    pub of: u64,
    /// `retention`, or `request N`.
    pub reason: String,
}

/// A message record a purge leaves, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The message record.
    pub of: u64,
    /// Why it stays.
    pub why: String,
}

/// A year of audit records past its keep-until: its audit keys go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDue {
    /// The calendar year of the records.
    pub year: i32,
    /// Its audit keys.
    pub slots: Vec<u64>,
    /// The period applied.
    pub audit_years: u32,
    /// `year + audit_years`-12-31.
    pub keep_until: NaiveDate,
}

/// What a purge would delete (`purge --dry-run`) or is about to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The day the plan was made for.
    pub today: Option<NaiveDate>,
    /// Records to purge.
    pub due: Vec<Due>,
    /// Records past keep-until (or requested) that stay, with the reason.
    pub skipped: Vec<Skipped>,
    /// Live message records not yet due.
    pub kept: u64,
    /// Years of audit records past their keep-until.
    #[serde(default)]
    pub audit: Vec<AuditDue>,
    /// Audit records past their keep-until that stay because they were
    /// written in clear (before audit records were sealed).
    #[serde(default)]
    pub audit_in_clear: u64,
}

/// What a purge did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purged {
    /// `(purged record, its tombstone)` pairs.
    pub tombstones: Vec<(u64, u64)>,
    /// Records the writer left after all (a hold that arrived meanwhile).
    pub skipped: Vec<Skipped>,
    /// `(year, audit purge record)` pairs.
    #[serde(default)]
    pub audit: Vec<(i32, u64)>,
    /// Key slots destroyed.
    pub slots: u64,
    /// Set when the index could not be compacted afterwards (the purged
    /// addresses may linger in its files until the next purge succeeds).
    pub compaction_error: Option<String>,
}

/// Why a record cannot be purged now, if it cannot: held, already purged,
/// not a message, or stored in clear.
pub fn obstacle(index: &Index, of: u64) -> Result<Option<Obstacle>, IndexError> {
    let Some(s) = index.summary(of)? else {
        return Ok(Some(Obstacle::NoRecord));
    };
    if s.kind != "message" {
        return Ok(Some(Obstacle::NotMessage { of, kind: s.kind }));
    }
    if let Some(p) = s.purged {
        return Ok(Some(Obstacle::Purged(p)));
    }
    let cases = index.held_by(of)?;
    if !cases.is_empty() {
        return Ok(Some(Obstacle::Held { cases }));
    }
    if s.sealed_slot.is_none() {
        return Ok(Some(Obstacle::Clear));
    }
    for sha in index.content_refs(of)? {
        if let Some(loc) = index.content(&sha)?
            && loc.encrypted.is_none()
        {
            return Ok(Some(Obstacle::Clear));
        }
    }
    Ok(None)
}

/// What a purge on `today` deletes: every live message record whose
/// keep-until is before `today`, and every record of an approved request.
pub fn plan(index: &Index, today: NaiveDate) -> Result<Plan, IndexError> {
    let mut plan = Plan {
        today: Some(today),
        ..Plan::default()
    };
    let mut requested: std::collections::BTreeMap<u64, u64> = Default::default();
    for r in index.requests()? {
        if r.approved.is_some() {
            for of in r.records {
                requested.entry(of).or_insert(r.seq);
            }
        }
    }
    let audit_years = index.retention_rules()?.and_then(|r| r.audit_years);
    let audit_until = |year: i32| {
        let years = audit_years?;
        let last = year.checked_add(i32::try_from(years).ok()?)?;
        NaiveDate::from_ymd_opt(last, 12, 31)
    };
    if audit_years.is_some() {
        for (year, slots) in index.audit_keys()? {
            if let Some(keep_until) = audit_until(year).filter(|k| *k < today) {
                plan.audit.push(AuditDue {
                    year,
                    slots,
                    audit_years: audit_years.unwrap_or_default(),
                    keep_until,
                });
            }
        }
    }
    for s in index.summaries() {
        let s = s?;
        if s.kind == "audit" && s.sealed_slot.is_none() {
            let year = s.time.get(..4).and_then(|y| y.parse().ok());
            if year.and_then(audit_until).is_some_and(|k| k < today) {
                plan.audit_in_clear += 1;
            }
            continue;
        }
        if s.kind != "message" || s.purged.is_some() {
            continue;
        }
        let reason = match (requested.get(&s.seq), s.keep_until) {
            (Some(req), _) => format!("request {req}"),
            (None, Some(k)) if k < today => "retention".to_string(),
            _ => {
                plan.kept += 1;
                continue;
            }
        };
        match obstacle(index, s.seq)? {
            None => plan.due.push(Due { of: s.seq, reason }),
            Some(why) => plan.skipped.push(Skipped {
                of: s.seq,
                why: why.to_string(),
            }),
        }
    }
    Ok(plan)
}
