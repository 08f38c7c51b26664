//! Audit records' own retention (format 2.3) in hand-built archives:
//! sealed audit fields, `audit_years` in `retention-rules`, and
//! `audit-purge` with the rule that a destroyed audit key is purged only
//! when an `audit-purge` names it.
//!
//! Records 1–4 are the fixture's (messages and an outcome under slots
//! 0–3); slots 4 and 5 are audit keys. `year2020` adds: 5 retention rules
//! with `audit_years` 5, 6 and 7 audit records of 2020 sealed under slot
//! 4, 8 one of 2021 under slot 5; a test's own bodies follow as 9, 10, …

use super::fixture::*;

/// The audit keys in slots 4 and 5.
const AUDIT_KEYS: [[u8; 32]; 2] = [[0xc4; 32], [0xc5; 32]];

/// What a sealed audit record of the web interface holds.
const FIELDS: &str = r#"{"actor":"anna","peer":"192.0.2.10","session":"3f9a1c0b7d2e","query":null,"detail":"message page"}"#;

/// An audit record `seq` with `actor` in clear, sealed under `slot`
/// holding `plain`.
fn audit_with(seq: u64, slot: usize, actor: &str, plain: &str) -> String {
    let key = AUDIT_KEYS
        .get(slot.wrapping_sub(4))
        .unwrap_or(&KEYS[slot % 4].1);
    format!(
        r#"{{"type":"audit","action":"view","outcome":"ok","via":"web","actor":"{actor}","role":"auditor","peer":null,"session":null,"query":null,"records":[2],"detail":null,"count":null,"span":null,{}}}"#,
        sealed_with(slot, key, seq, plain)
    )
}

fn audit(seq: u64, slot: usize) -> String {
    audit_with(seq, slot, "", FIELDS)
}

fn rules(audit_years: u64) -> String {
    format!(r#"{{"type":"retention-rules","rules":[],"audit_years":{audit_years}}}"#)
}

/// An `audit-purge` of `year` under `audit_years`, its `keep_until` as
/// the format computes it.
fn purge(year: u64, slots: &str, audit_years: u64) -> String {
    purge_until(
        year,
        slots,
        audit_years,
        &format!("{}-12-31", year + audit_years),
    )
}

fn purge_until(year: u64, slots: &str, audit_years: u64, keep_until: &str) -> String {
    format!(
        r#"{{"type":"audit-purge","year":{year},"slots":{slots},"audit_years":{audit_years},"keep_until":"{keep_until}","actor":"purge","backups_forget_by":"2027-03-08"}}"#
    )
}

/// The archive with records 5–8 of `year2020`, then `later`, the
/// `destroyed` slots, and times changed by seq.
fn year2020(later: &[String], destroyed: &[usize], times: &[(u64, &str)]) -> tempfile::TempDir {
    let mut all = vec![rules(5), audit(6, 4), audit(7, 4), audit(8, 5)];
    all.extend_from_slice(later);
    let mut t = vec![
        (6, "2020-03-01T09:00:00.000000Z".to_owned()),
        (7, "2020-12-31T23:59:59.999999Z".to_owned()),
        (8, "2021-01-01T00:00:00.000000Z".to_owned()),
    ];
    t.extend(times.iter().map(|(n, s)| (*n, (*s).to_owned())));
    built(Tweaks {
        later: all,
        destroyed: destroyed.to_vec(),
        extra_slots: AUDIT_KEYS.iter().map(|k| (3, *k)).collect(),
        times: t,
        ..Tweaks::default()
    })
}

#[test]
fn sealed_audit_records_verify_without_and_with_the_master_key() {
    let dir = year2020(&[], &[], &[]);
    let o = verify(dir.path(), None);
    assert_eq!(o.problems, Vec::<String>::new());
    assert_eq!((o.records, o.sealed), (8, (6, 0)));
    let o = verify(dir.path(), Some(&MASTER));
    assert_eq!(o.problems, Vec::<String>::new());
    assert_eq!((o.sealed, o.purged_audit, o.slots), ((6, 6), 0, (6, 0, 0)));
}

#[test]
fn sealed_audit_fields_are_empty_in_clear_and_open_to_the_five_fields() {
    // Record 9 is of 2021, like record 8 under slot 5.
    let in_2021 = [(9, "2021-05-01T00:00:00.000000Z")];
    // The actor in clear as well: seen without the key.
    let dir = year2020(&[audit_with(9, 5, "anna", FIELDS)], &[], &in_2021);
    let o = verify(dir.path(), None);
    assert_eq!(kinds(&o), ["record-changed"], "{:?}", o.problems);
    assert!(
        o.problems[0].contains("`actor` is not empty in clear"),
        "{:?}",
        o.problems
    );
    let peer = audit(9, 5).replace(r#""peer":null"#, r#""peer":"192.0.2.10""#);
    let o = verify(year2020(&[peer], &[], &in_2021).path(), None);
    assert_eq!(kinds(&o), ["record-changed"], "{:?}", o.problems);

    // What only the key shows: the fields out of order, an empty actor,
    // a sixth field, and a record key instead of an audit key.
    let swapped = FIELDS.replace(
        r#""actor":"anna","peer":"192.0.2.10""#,
        r#""peer":"192.0.2.10","actor":"anna""#,
    );
    let empty = FIELDS.replace(r#""anna""#, r#""""#);
    let more = FIELDS.replace(r#"{"actor""#, r#"{"role":"auditor","actor""#);
    for (body, kind, said) in [
        (
            audit_with(9, 5, "", &swapped),
            "unknown-field",
            "not [\"actor\"",
        ),
        (audit_with(9, 5, "", &empty), "record-changed", "`actor`"),
        (audit_with(9, 5, "", &more), "unknown-field", "\"role\""),
        (audit(9, 3), "undecryptable", "kind 2, not 3"),
    ] {
        let dir = year2020(std::slice::from_ref(&body), &[], &in_2021);
        assert_eq!(
            verify(dir.path(), None).problems,
            Vec::<String>::new(),
            "{body}"
        );
        let o = verify(dir.path(), Some(&MASTER));
        assert_eq!(kinds(&o), [kind], "{body}: {:?}", o.problems);
        assert!(o.problems[0].contains(said), "{said}: {:?}", o.problems);
    }
}

#[test]
fn an_audit_purge_after_keep_until_with_its_slot_destroyed_counts_as_purged() {
    let dir = year2020(&[purge(2020, "[4]", 5)], &[4], &[]);
    let o = verify(dir.path(), None);
    assert_eq!(o.problems, Vec::<String>::new());
    assert_eq!(o.purged_audit, 0);
    let o = verify(dir.path(), Some(&MASTER));
    assert_eq!(o.problems, Vec::<String>::new());
    assert_eq!((o.sealed, o.purged_audit, o.purged), ((6, 4), 2, (0, 0)));
    assert_eq!(o.slots, (5, 1, 0));
}

#[test]
fn a_destroyed_audit_key_no_audit_purge_names_is_undecryptable() {
    let dir = year2020(&[], &[4], &[]);
    assert_eq!(verify(dir.path(), None).problems, Vec::<String>::new());
    let o = verify(dir.path(), Some(&MASTER));
    assert_eq!(
        kinds(&o),
        ["undecryptable", "undecryptable"],
        "{:?}",
        o.problems
    );
    assert!(
        o.problems[0].contains("key slot 4 destroyed without an audit-purge"),
        "{:?}",
        o.problems
    );
    assert_eq!(o.purged_audit, 0);

    // A tombstone does not stand for an audit-purge.
    let tomb = format!(
        r#"{{"type":"tombstone","of":4,"slots":[2,3,4],"content":"{}","rule":"letters","keep_until":"2032-12-31","reason":"retention","actor":"purge","backups_forget_by":"2033-03-31"}}"#,
        hex::encode(hash(&m2()))
    );
    let dir = year2020(&[tomb], &[2, 3, 4], &[]);
    let o = verify(dir.path(), Some(&MASTER));
    assert_eq!(
        kinds(&o),
        ["undecryptable", "undecryptable"],
        "{:?}",
        o.problems
    );
    assert_eq!((o.purged, o.purged_audit), ((1, 1), 0));
}

#[test]
fn an_audit_purge_naming_a_live_slot_is_an_incomplete_purge() {
    let dir = year2020(&[purge(2020, "[4]", 5)], &[], &[]);
    assert_eq!(verify(dir.path(), None).problems, Vec::<String>::new());
    let o = verify(dir.path(), Some(&MASTER));
    assert_eq!(kinds(&o), ["purge-incomplete"], "{:?}", o.problems);
    assert!(
        o.problems[0].contains("audit-purge 9 names live slot 4"),
        "{:?}",
        o.problems
    );
    // A slot the store does not have is damage to the store.
    let dir = year2020(&[purge(2020, "[4,9]", 5)], &[4], &[]);
    let o = verify(dir.path(), Some(&MASTER));
    assert_eq!(kinds(&o), ["key-store-damaged"], "{:?}", o.problems);
}

#[test]
fn an_audit_purge_keeps_to_keep_until() {
    let late = "2026-01-01T00:00:00.000000Z";
    for (body, time, said) in [
        (
            purge_until(2020, "[4]", 5, "2024-12-31"),
            late,
            "is not year 2020",
        ),
        (
            purge_until(2020, "[4]", 5, "2025-12-30"),
            late,
            "is not year 2020",
        ),
        (
            purge(2020, "[4]", 5),
            "2025-12-31T23:59:59.999999Z",
            "not after keep_until",
        ),
        (
            purge(2020, "[4]", 5),
            "2025-06-01T00:00:00.000000Z",
            "not after keep_until",
        ),
    ] {
        let dir = year2020(std::slice::from_ref(&body), &[4], &[(9, time)]);
        let o = verify(dir.path(), None);
        assert_eq!(
            kinds(&o),
            ["audit-purge-bad"],
            "{body} at {time}: {:?}",
            o.problems
        );
        assert!(o.problems[0].contains(said), "{said}: {:?}", o.problems);
    }
    // The first day after keep_until is in time.
    let dir = year2020(&[purge(2020, "[4]", 5)], &[4], &[(9, late)]);
    assert_eq!(
        verify(dir.path(), Some(&MASTER)).problems,
        Vec::<String>::new()
    );
}

#[test]
fn audit_years_never_shrink() {
    let dir = year2020(&[rules(5), rules(7), rules(6)], &[], &[]);
    let o = verify(dir.path(), None);
    assert_eq!(kinds(&o), ["retention-rules-bad"], "{:?}", o.problems);
    assert!(
        o.problems[0].contains("record 11 records audit_years 6, fewer than 7 in record 10"),
        "{:?}",
        o.problems
    );
    // Rules from before audit records were sealed record no period.
    let old = r#"{"type":"retention-rules","rules":[]}"#.to_owned();
    let dir = year2020(&[old, purge(2020, "[4]", 5)], &[4], &[]);
    assert_eq!(
        verify(dir.path(), Some(&MASTER)).problems,
        Vec::<String>::new()
    );

    // A purge applies at least the period last recorded.
    let dir = year2020(&[purge(2020, "[4]", 4)], &[4], &[]);
    let o = verify(dir.path(), None);
    assert_eq!(kinds(&o), ["audit-purge-bad"], "{:?}", o.problems);
    assert!(
        o.problems[0].contains("applies audit_years 4, fewer than 5 in record 5"),
        "{:?}",
        o.problems
    );
    let negative = rules(5).replace(":5}", ":-5}");
    let o = verify(year2020(&[negative], &[], &[]).path(), None);
    assert_eq!(kinds(&o), ["record-changed"], "{:?}", o.problems);
}

#[test]
fn an_audit_key_serves_one_year_and_is_purged_once() {
    // Record 9 of 2021 under 2020's key.
    let dir = year2020(&[audit(9, 4)], &[], &[(9, "2021-06-01T00:00:00.000000Z")]);
    let o = verify(dir.path(), None);
    assert_eq!(kinds(&o), ["audit-bad"], "{:?}", o.problems);
    assert!(
        o.problems[0].contains("record 9 of 2021 is sealed under audit key slot 4"),
        "{:?}",
        o.problems
    );
    // The same year again is fine.
    let dir = year2020(&[audit(9, 4)], &[], &[(9, "2020-06-01T00:00:00.000000Z")]);
    assert_eq!(
        verify(dir.path(), Some(&MASTER)).problems,
        Vec::<String>::new()
    );

    for (later, said) in [
        (
            vec![purge(2020, "[4]", 5), purge(2020, "[4]", 5)],
            "audit-purge 10 names slot 4, which audit-purge 9 named",
        ),
        (
            vec![purge(2020, "[4,5]", 5)],
            "names slot 5, the audit key of record 8 of 2021",
        ),
        (
            vec![purge(2020, "[2,4]", 5)],
            "names slot 2, a content's key",
        ),
        (
            vec![purge(2020, "[3,4]", 5)],
            "names slot 3, the key of record 4",
        ),
    ] {
        let o = verify(year2020(&later, &[2, 3, 4, 5], &[]).path(), None);
        assert_eq!(
            kinds(&o),
            ["audit-purge-bad"],
            "{later:?}: {:?}",
            o.problems
        );
        assert!(o.problems[0].contains(said), "{said}: {:?}", o.problems);
    }
    // With the key store: a live key of another kind is no audit key.
    let o = verify(
        year2020(&[purge(2020, "[0,4]", 5)], &[4], &[]).path(),
        Some(&MASTER),
    );
    assert!(
        o.problems.iter().any(
            |p| p.contains("audit-purge-bad: audit-purge 9 names live slot 0, a key of kind 1")
        ),
        "{:?}",
        o.problems
    );
}

#[test]
fn audit_purges_and_sealed_audit_records_belong_to_format_2() {
    let zeros = "0".repeat(64);
    let record = |format: u8, time: &str, body: &str| {
        format!(
            r#"{{"format":{format},"seq":9,"time":"{time}","prev_hash":"{zeros}","body":{body}}}"#
        )
    };
    let kind = |json: String| crate::format::record(json.as_bytes()).err().map(|e| e.0);
    let late = "2026-12-08T10:00:00.000000Z";
    assert_eq!(kind(record(2, late, &purge(2020, "[4]", 5))), None);
    assert_eq!(
        kind(record(1, late, &purge(2020, "[4]", 5))),
        Some("unknown-field")
    );
    assert_eq!(kind(record(2, late, &audit(9, 4))), None);
    assert_eq!(kind(record(1, late, &audit(9, 4))), Some("unknown-field"));
    // A sealed audit record needs a time to tell its year.
    assert_eq!(kind(record(2, "t", &audit(9, 4))), Some("record-changed"));
    assert_eq!(kind(record(2, late, &rules(3))), None);
    let extra = purge(2020, "[4]", 5).replace(r#""actor""#, r#""case":"K","actor""#);
    assert_eq!(kind(record(2, late, &extra)), Some("unknown-field"));
}
