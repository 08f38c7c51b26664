//! Audit records' own retention (archive format 2.3), each record read
//! alone: the UTC year of a sealed `audit` record (its personal fields are
//! checked in `sealed`), the `audit_years` a `retention-rules` body
//! records, and the `audit-purge` body with its `keep_until`. What these
//! records say about each other (an audit key serves one year,
//! `audit_years` never shrinks, a slot is purged once) is checked along
//! the walk (`archive::audit`); the purged slots are held against the key
//! store once the walk is over.

use serde_json::{Map, Value};

use crate::lifecycle::Fields;

/// `audit-purge`: the audit keys of one calendar year were destroyed.
pub const PURGE: &[&str] = &[
    "type",
    "year",
    "slots",
    "audit_years",
    "keep_until",
    "actor",
    "backups_forget_by",
];

/// What the walk needs of a sealed audit record, a `retention-rules` or
/// an `audit-purge`.
#[derive(Debug, PartialEq, Eq)]
pub enum AuditStep {
    /// A sealed `audit` record.
    Sealed {
        /// Its audit key's slot.
        slot: u64,
        /// The UTC year of its `time`: a key serves one year only.
        year: u64,
    },
    /// `retention-rules`: its `audit_years`, when it records one.
    Rules(Option<u64>),
    /// `audit-purge`, its `keep_until` already checked.
    Purge {
        /// The year whose audit records lost their personal fields.
        year: u64,
        /// The audit keys destroyed, ascending.
        slots: Vec<u64>,
        /// The period applied: at least the one last recorded.
        audit_years: u64,
    },
}

/// (problem kind, detail).
type Bad = (&'static str, String);

/// The UTC year of a record's `time` (RFC 3339 UTC, as mailseal writes it).
pub fn year(time: &str) -> Option<u64> {
    crate::format::unix_seconds(time)?;
    time.get(..4)?.parse().ok()
}

/// The values section 2.2 asks of an `audit` body of record `seq`:
/// `action`, `outcome` and `via` are non-empty strings, and so is `actor`
/// unless the record is sealed (its actor is checked when opened);
/// `records` are record numbers before `seq` (an access can only concern
/// what was archived before it).
pub fn values(body: &Map<String, Value>, seq: u64) -> Result<(), Bad> {
    let sealed = body.get("sealed").is_some_and(|s| !s.is_null());
    let named: &[&str] = if sealed {
        &["action", "outcome", "via"]
    } else {
        &["action", "outcome", "via", "actor"]
    };
    for name in named {
        if body
            .get(*name)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err((
                "record-changed",
                format!("audit `{name}` is not a non-empty string"),
            ));
        }
    }
    let records = body
        .get("records")
        .and_then(Value::as_array)
        .ok_or(("record-changed", "audit `records` is not a list".into()))?;
    for r in records {
        match r.as_u64() {
            Some(n) if n > 0 && n < seq => {}
            Some(n) if n >= seq => {
                return Err((
                    "record-changed",
                    format!("audit names record {n}, which comes after it"),
                ));
            }
            _ => {
                return Err((
                    "record-changed",
                    format!("audit `records` holds {r}, not a record number"),
                ));
            }
        }
    }
    Ok(())
}

/// Reads `audit_years` of a `retention-rules` body: absent in rules
/// written before audit records were sealed, else a whole number.
pub fn rules(body: &Map<String, Value>) -> Result<AuditStep, Bad> {
    match body.get("audit_years") {
        None => Ok(AuditStep::Rules(None)),
        Some(v) => v.as_u64().map(|n| AuditStep::Rules(Some(n))).ok_or((
            "record-changed",
            "`audit_years` of a retention-rules body is not a whole number of years".into(),
        )),
    }
}

/// Reads an `audit-purge` body of a record made at `time`: its fields and
/// their types, `keep_until` = `year+audit_years`-12-31, and a `time`
/// after that day.
pub fn purge(body: &Map<String, Value>, time: &str) -> Result<AuditStep, Bad> {
    if let Some(missing) = PURGE.iter().find(|n| !body.contains_key(**n)) {
        return Err((
            "record-changed",
            format!("an audit-purge body without `{missing}`"),
        ));
    }
    let f = Fields {
        kind: "audit-purge",
        body,
    };
    let number = |name: &str, what: &str| f.value(name).as_u64().ok_or_else(|| f.shape(name, what));
    let year = number("year", "a year")?;
    let audit_years = number("audit_years", "a whole number of years")?;
    let slots = f.slots()?;
    f.date("keep_until")?;
    f.date("backups_forget_by")?;
    f.actor()?;
    let keep_until = f.text("keep_until")?;
    let due = year
        .checked_add(audit_years)
        .map(|y| format!("{y:04}-12-31"));
    if due.as_deref() != Some(keep_until.as_str()) {
        let why = format!(
            "keep_until {keep_until} is not year {year} + audit_years {audit_years}, December 31"
        );
        return Err(f.bad(why));
    }
    let day = time
        .get(..10)
        .filter(|_| crate::format::unix_seconds(time).is_some())
        .ok_or_else(|| f.bad(format!("its time {time:?} is not an RFC 3339 UTC time")))?;
    if day <= keep_until.as_str() {
        let why = format!("made on {day}, not after keep_until {keep_until}");
        return Err(f.bad(why));
    }
    Ok(AuditStep::Purge {
        year,
        slots,
        audit_years,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    const PURGED: &str = r#"{"type":"audit-purge","year":2020,"slots":[5,7],"audit_years":6,"keep_until":"2026-12-31","actor":"purge","backups_forget_by":"2027-03-31"}"#;
    const LATER: &str = "2027-01-01T00:00:00.000001Z";

    fn kind(json: &str, time: &str) -> Option<&'static str> {
        purge(&body(json), time).err().map(|e| e.0)
    }

    #[test]
    fn an_audit_purge_reads_its_fields() {
        assert_eq!(
            purge(&body(PURGED), LATER),
            Ok(AuditStep::Purge {
                year: 2020,
                slots: vec![5, 7],
                audit_years: 6
            })
        );
        assert_eq!(year(LATER), Some(2027));
        assert_eq!(year("t"), None);
        assert_eq!(
            rules(&body(
                r#"{"type":"retention-rules","rules":[],"audit_years":0}"#
            )),
            Ok(AuditStep::Rules(Some(0)))
        );
        assert_eq!(
            rules(&body(r#"{"type":"retention-rules","rules":[]}"#)),
            Ok(AuditStep::Rules(None))
        );
        let minus = r#"{"type":"retention-rules","rules":[],"audit_years":-1}"#;
        assert_eq!(
            rules(&body(minus)).err().map(|e| e.0),
            Some("record-changed")
        );
    }

    #[test]
    fn keep_until_and_the_purge_day_are_held_to_the_period() {
        let cases = [
            (
                PURGED.replace("2026-12-31", "2025-12-31"),
                LATER,
                "audit-purge-bad",
            ),
            (
                PURGED.replace("2026-12-31", "2026-12-30"),
                LATER,
                "audit-purge-bad",
            ),
            (
                PURGED.replace(r#""year":2020"#, r#""year":2021"#),
                LATER,
                "audit-purge-bad",
            ),
            (
                PURGED.into(),
                "2026-12-31T23:59:59.999999Z",
                "audit-purge-bad",
            ),
            (PURGED.into(), "t", "audit-purge-bad"),
            (PURGED.replace("[5,7]", "[7,5]"), LATER, "audit-purge-bad"),
            (
                PURGED.replace(r#""year":2020"#, r#""year":"2020""#),
                LATER,
                "record-changed",
            ),
            (
                PURGED.replace(r#","actor":"purge""#, ""),
                LATER,
                "record-changed",
            ),
            (
                PURGED.replace(r#""actor":"purge""#, r#""actor":"""#),
                LATER,
                "record-changed",
            ),
        ];
        for (json, time, want) in cases {
            assert_eq!(kind(&json, time), Some(want), "{json} at {time}");
        }
    }

    #[test]
    fn audit_values_follow_section_2_2() {
        let body = |v: serde_json::Value| v.as_object().cloned().unwrap();
        let ok = body(
            serde_json::json!({"action":"view","outcome":"ok","via":"web",
            "actor":"anna","records":[3]}),
        );
        assert!(values(&ok, 9).is_ok());
        let mut later = ok.clone();
        later.insert("records".into(), serde_json::json!([9]));
        assert!(values(&later, 9).unwrap_err().1.contains("comes after"));
        let mut zero = ok.clone();
        zero.insert("records".into(), serde_json::json!([0]));
        assert!(values(&zero, 9).is_err());
        let mut nobody = ok.clone();
        nobody.insert("actor".into(), serde_json::json!(""));
        assert!(values(&nobody, 9).unwrap_err().1.contains("actor"));
        let mut sealed = nobody.clone();
        sealed.insert("sealed".into(), serde_json::json!({"slot":1}));
        assert!(
            values(&sealed, 9).is_ok(),
            "a sealed actor is checked when opened"
        );
        let mut no_action = ok;
        no_action.insert("action".into(), serde_json::json!(""));
        assert!(values(&no_action, 9).unwrap_err().1.contains("action"));
    }
}
