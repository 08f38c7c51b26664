//! Holds, purge requests, approvals and tombstones (format 2.3) in
//! hand-built archives, and the tombstone rule: a destroyed key slot is
//! purged only when a tombstone names it.
//!
//! The fixture's records: 1 a message in clear, 2 a message (content M1
//! under slot 0, sealed under slot 1), 3 its outcome (slot 1), 4 a message
//! (content M2 under slot 2, evidence M1, sealed under slot 3); the bodies
//! a test adds are records 5, 6, …

use super::fixture::*;

/// A tombstone of record `of` naming `slots` (JSON), for `reason`.
fn tombstone(of: u64, slots: &str, reason: &str) -> String {
    format!(
        r#"{{"type":"tombstone","of":{of},"slots":{slots},"content":"{}","rule":"letters","keep_until":"2032-12-31","reason":"{reason}","actor":"purge","backups_forget_by":"2033-03-31"}}"#,
        hex::encode(hash(&m2()))
    )
}

fn request(records: &str, actor: &str) -> String {
    format!(
        r#"{{"type":"purge-request","records":{records},"reason":"Art. 17 request","actor":"{actor}"}}"#
    )
}

fn approval(request: u64, actor: &str) -> String {
    format!(r#"{{"type":"purge-approval","request":{request},"actor":"{actor}"}}"#)
}

fn hold(action: &str, records: &str) -> String {
    format!(
        r#"{{"type":"hold","action":"{action}","case":"K-7","reason":"tax audit","query":null,"records":{records},"actor":"anna"}}"#
    )
}

/// The archive with `later` records after record 4 and `destroyed` slots.
fn with(later: &[String], destroyed: &[usize]) -> tempfile::TempDir {
    built(Tweaks {
        later: later.to_vec(),
        destroyed: destroyed.to_vec(),
        ..Tweaks::default()
    })
}

#[test]
fn destroyed_slots_named_by_a_tombstone_count_as_purged() {
    // Record 4's content key (M2, used by no other record) and its record
    // key; M1's key stays, record 2 still uses it.
    let dir = with(&[tombstone(4, "[2,3]", "retention")], &[2, 3]);
    let o = verify(dir.path(), Some(&MASTER));
    assert_eq!(o.problems, Vec::<String>::new());
    assert_eq!((o.purged, o.sealed, o.slots), ((1, 1), (3, 2), (2, 2, 0)));
    let o = verify(dir.path(), None);
    assert_eq!(o.problems, Vec::<String>::new());
    assert_eq!((o.records, o.purged), (5, (0, 0)));
}

#[test]
fn a_destroyed_slot_no_tombstone_names_is_undecryptable() {
    let dir = with(&[], &[2, 3]);
    assert_eq!(verify(dir.path(), None).problems, Vec::<String>::new());
    let o = verify(dir.path(), Some(&MASTER));
    assert_eq!(
        kinds(&o),
        ["undecryptable", "undecryptable"],
        "{:?}",
        o.problems
    );
    for slot in [2, 3] {
        let said = format!("key slot {slot} destroyed without a tombstone");
        assert!(
            o.problems.iter().any(|p| p.contains(&said)),
            "{:?}",
            o.problems
        );
    }
    assert_eq!(o.purged, (0, 0));

    // A tombstone that names only the record key leaves the content unexplained.
    let dir = with(&[tombstone(4, "[3]", "retention")], &[2, 3]);
    let o = verify(dir.path(), Some(&MASTER));
    assert_eq!(kinds(&o), ["undecryptable"], "{:?}", o.problems);
    assert!(
        o.problems[0].contains("key slot 2 destroyed"),
        "{:?}",
        o.problems
    );
}

#[test]
fn a_tombstone_naming_a_live_slot_is_an_incomplete_purge() {
    let dir = with(&[tombstone(4, "[2,3]", "retention")], &[2]);
    assert_eq!(verify(dir.path(), None).problems, Vec::<String>::new());
    let o = verify(dir.path(), Some(&MASTER));
    assert_eq!(kinds(&o), ["purge-incomplete"], "{:?}", o.problems);
    assert!(
        o.problems[0].contains("tombstone 5 names live slot 3"),
        "{:?}",
        o.problems
    );
    // A slot the store does not have at all is damage to the store.
    let dir = with(&[tombstone(4, "[2,3,9]", "retention")], &[2, 3]);
    let o = verify(dir.path(), Some(&MASTER));
    assert_eq!(kinds(&o), ["key-store-damaged"], "{:?}", o.problems);
}

#[test]
fn a_destroyed_slot_nothing_uses_is_counted_not_an_error() {
    let dir = built(Tweaks {
        unused_slot: true,
        destroyed: vec![4],
        ..Tweaks::default()
    });
    let o = verify(dir.path(), Some(&MASTER));
    assert_eq!(o.problems, Vec::<String>::new());
    assert_eq!((o.purged, o.slots), ((0, 0), (4, 1, 0)));
}

#[test]
fn an_early_deletion_needs_another_actors_approval() {
    let own = with(&[request("[4]", "anna"), approval(5, "anna")], &[]);
    let o = verify(own.path(), None);
    assert_eq!(kinds(&o), ["purge-approval-bad"], "{:?}", o.problems);
    assert!(
        o.problems[0].contains("their own request 5"),
        "{:?}",
        o.problems
    );

    let approved = [
        request("[4]", "anna"),
        approval(5, "bert"),
        tombstone(4, "[2,3]", "request 5"),
    ];
    let o = verify(with(&approved, &[2, 3]).path(), Some(&MASTER));
    assert_eq!(o.problems, Vec::<String>::new());
    assert_eq!(o.purged, (1, 1));

    let unapproved = [request("[4]", "anna"), tombstone(4, "[2,3]", "request 5")];
    let o = verify(with(&unapproved, &[]).path(), None);
    assert_eq!(kinds(&o), ["tombstone-bad"], "{:?}", o.problems);
    assert!(o.problems[0].contains("not approved"), "{:?}", o.problems);

    let other = [
        request("[2]", "anna"),
        approval(5, "bert"),
        tombstone(4, "[2,3]", "request 5"),
    ];
    let o = verify(with(&other, &[]).path(), None);
    assert_eq!(kinds(&o), ["tombstone-bad"], "{:?}", o.problems);

    // An approval must name a purge request, not another record.
    let o = verify(with(&[approval(4, "bert")], &[]).path(), None);
    assert_eq!(kinds(&o), ["purge-approval-bad"], "{:?}", o.problems);
}

#[test]
fn a_tombstone_names_one_earlier_message_that_no_case_holds() {
    for (later, said) in [
        (vec![tombstone(3, "[]", "retention")], "no earlier message"),
        (vec![tombstone(6, "[]", "retention")], "no earlier message"),
        (
            vec![
                tombstone(4, "[2]", "retention"),
                tombstone(4, "[3]", "retention"),
            ],
            "already has a tombstone",
        ),
        (
            vec![hold("add", "[2,4]"), tombstone(4, "[2,3]", "retention")],
            "on hold (case K-7)",
        ),
    ] {
        let o = verify(with(&later, &[]).path(), None);
        assert_eq!(kinds(&o), ["tombstone-bad"], "{:?}", o.problems);
        assert!(o.problems[0].contains(said), "{said}: {:?}", o.problems);
    }
    let released = [
        hold("add", "[2,4]"),
        hold("release", "[]"),
        tombstone(4, "[2,3]", "retention"),
    ];
    assert_eq!(
        verify(with(&released, &[2, 3]).path(), Some(&MASTER)).problems,
        Vec::<String>::new()
    );
}

#[test]
fn holds_requests_and_extensions_name_earlier_messages_with_the_documented_fields() {
    let extend = r#"{"type":"retention-extend","records":[2,4],"keep_until":"2040-12-31","reason":"dispute","actor":"anna"}"#;
    let o = verify(with(&[extend.into()], &[]).path(), None);
    assert_eq!(o.problems, Vec::<String>::new());
    for (body, kind) in [
        (extend.replace("[2,4]", "[3]"), "retention-extend-bad"),
        (hold("add", "[5]"), "hold-bad"),
        (request("[1,9]", "anna"), "purge-request-bad"),
        (
            extend.replace(r#","actor""#, r#","by":"x","actor""#),
            "unknown-field",
        ),
        (
            extend.replace(r#","reason":"dispute""#, ""),
            "record-changed",
        ),
        (tombstone(4, "[3,2]", "retention"), "tombstone-bad"),
    ] {
        let o = verify(with(std::slice::from_ref(&body), &[]).path(), None);
        assert_eq!(kinds(&o), [kind], "{body}: {:?}", o.problems);
    }
    let v1 = format!(
        r#"{{"format":1,"seq":5,"time":"t","prev_hash":"{}","body":{}}}"#,
        "0".repeat(64),
        tombstone(4, "[2,3]", "retention")
    );
    let kind = crate::format::record(v1.as_bytes()).err().map(|e| e.0);
    assert_eq!(kind, Some("unknown-field"));
}
