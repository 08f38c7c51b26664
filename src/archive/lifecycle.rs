//! What happens to an archived message after capture (format 2.3): legal
//! holds, longer retention, early-deletion requests and their approval,
//! and tombstones. Each step is a chained record; these are their bodies.
//!
//! ```text
//!  hold add ──────────────> held: purge skips it, whatever its keep-until
//!  hold release ──────────> not held (unless another case holds it)
//!  retention-extend ──────> keep-until moves later, never earlier
//!  purge-request ─> purge-approval (another user, data-officer)
//!                         └──> early tombstone
//!  keep-until passed ─────────> tombstone ─> its key slots destroyed
//! ```
//!
//! A tombstone is made durable before its slots are destroyed; applying a
//! tombstone ([`complete`]) destroys whatever of its slots is still live,
//! so the archive finishes an interrupted purge when it is next opened.

use serde::{Deserialize, Serialize};

use crate::keystore::{KeyStore, KeyStoreError, SlotState};

/// A legal hold placed or released (body `hold`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hold {
    /// `add` or `release`.
    pub action: HoldAction,
    /// The case the hold belongs to (a litigation or audit reference).
    pub case: String,
    /// Why, in the words of whoever placed or released it.
    pub reason: String,
    /// The search that chose the records, when one did.
    pub query: Option<String>,
    /// The message records held; empty for a release, which releases the
    /// whole case.
    pub records: Vec<u64>,
    /// Who placed or released it.
    pub actor: String,
}

/// Whether a hold record places or releases a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HoldAction {
    /// The records named are held from now on.
    Add,
    /// The case's hold ends.
    Release,
}

/// A request to delete messages before their keep-until (body
/// `purge-request`), which another user must approve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// The message records to delete.
    pub records: Vec<u64>,
    /// Why (for example a GDPR erasure request with no retention duty).
    pub reason: String,
    /// Who asked.
    pub actor: String,
}

/// The approval of a [`PurgeRequest`] (body `purge-approval`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeApproval {
    /// The request's seq.
    pub request: u64,
    /// Who approved: a data officer, never the requester.
    pub actor: String,
}

/// A message record deleted (body `tombstone`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tombstone {
    /// The purged message record.
    pub of: u64,
    /// The key slots destroyed, ascending: the record key, and the data
    /// key of each content no other live record references.
    pub slots: Vec<u64>,
    /// The message content's SHA-256 (hex) when its key is among `slots`.
    pub content: Option<String>,
    /// The retention rule the record had.
    pub rule: Option<String>,
    /// Its keep-until (extensions included).
    pub keep_until: Option<chrono::NaiveDate>,
    /// `retention`, or `request N` for an approved early deletion.
    pub reason: String,
    /// Who ran the purge.
    pub actor: String,
    /// After this day no copy of the destroyed keys may exist (the purge
    /// date plus `[retention] key_backup_max_age`).
    pub backups_forget_by: chrono::NaiveDate,
}

/// A calendar year of audit records past its keep-until: its audit keys
/// are destroyed, so the records' personal fields are gone (body
/// `audit-purge`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditPurge {
    /// The calendar year (UTC) of the audit records.
    pub year: i32,
    /// The audit keys destroyed, ascending.
    pub slots: Vec<u64>,
    /// The period applied, `[retention] audit_years`.
    pub audit_years: u32,
    /// `year + audit_years`-12-31: the last day the records were kept.
    pub keep_until: chrono::NaiveDate,
    /// Who ran the purge.
    pub actor: String,
    /// After this day no copy of the destroyed keys may exist.
    pub backups_forget_by: chrono::NaiveDate,
}

/// Longer retention for records already archived (body
/// `retention-extend`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionExtend {
    /// The message records.
    pub records: Vec<u64>,
    /// Their new last day; a record already kept longer keeps its date.
    pub keep_until: chrono::NaiveDate,
    /// Why.
    pub reason: String,
    /// Who extended it.
    pub actor: String,
}

/// What the index keeps of a purged record, so `show`, `export` and
/// search can say what happened instead of failing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purged {
    /// The tombstone's seq.
    pub tombstone: u64,
    /// When the tombstone was written (RFC 3339).
    pub on: String,
    /// The retention rule the record had.
    pub rule: Option<String>,
    /// `retention` or `request N`.
    pub reason: String,
}

impl Purged {
    /// "purged on DATE under rule R" (or "… on request N").
    pub fn describe(&self) -> String {
        let day = self.on.get(..10).unwrap_or(&self.on);
        match (&self.rule, self.reason.as_str()) {
            (_, r) if r.starts_with("request") => format!("purged on {day} ({r})"),
            (Some(rule), _) => format!("purged on {day} under rule {rule}"),
            (None, r) => format!("purged on {day} ({r})"),
        }
    }
}

/// Destroys whatever of `slots` (a tombstone's, or several tombstones')
/// is still live, with one sync. Nothing to do without a writable key
/// store: a read-only copy never forgets a key, and an archive without one
/// has nothing encrypted to destroy.
pub fn complete(slots: &[u64], keys: Option<&KeyStore>) -> Result<usize, KeyStoreError> {
    let Some(keys) = keys.filter(|k| !k.is_read_only()) else {
        return Ok(0);
    };
    let mut live = Vec::with_capacity(slots.len());
    for &n in slots {
        if n < keys.slots() && !matches!(keys.get(n)?, SlotState::Destroyed) {
            live.push(n);
        }
    }
    if !live.is_empty() {
        keys.destroy(&live)?;
        tracing::info!(slots = live.len(), "purged keys destroyed");
    }
    Ok(live.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_purge_is_described_by_its_rule_or_its_request() {
        let mut p = Purged {
            tombstone: 9,
            on: "2033-01-02T03:04:05.000000Z".into(),
            rule: Some("letters".into()),
            reason: "retention".into(),
        };
        assert_eq!(p.describe(), "purged on 2033-01-02 under rule letters");
        p.reason = "request 7".into();
        assert_eq!(p.describe(), "purged on 2033-01-02 (request 7)");
    }

    #[test]
    fn bodies_have_the_documented_json_shape() {
        let h = Hold {
            action: HoldAction::Release,
            case: "K-1".into(),
            reason: "closed".into(),
            query: None,
            records: vec![],
            actor: "anna".into(),
        };
        let j = serde_json::to_string(&h).unwrap_or_default();
        assert_eq!(
            j,
            r#"{"action":"release","case":"K-1","reason":"closed","query":null,"records":[],"actor":"anna"}"#
        );
        let bad = r#"{"of":1,"slots":[],"content":null,"rule":null,"keep_until":null,"reason":"retention","actor":"x","backups_forget_by":"2030-01-01","extra":1}"#;
        assert!(serde_json::from_str::<Tombstone>(bad).is_err());
    }
}
