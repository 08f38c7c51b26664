//! Archive format 2.3 against hand-built archives (`fixture`): what the
//! verifier finds without the master key and with it; holds, approvals
//! and tombstones in `purge`; audit records' own retention in `audit`.

mod audit;
mod fixture;
mod purge;

use fixture::*;

use crate::keys::MasterKey;

#[test]
fn a_good_encrypted_archive_verifies_without_and_with_the_master_key() {
    let dir = built(Tweaks::default());
    let o = verify(dir.path(), None);
    assert_eq!(o.problems, Vec::<String>::new());
    assert_eq!((o.records, o.contents, o.seals), (4, 3, 1));
    assert_eq!((o.encrypted.0, o.sealed, o.decrypted), (2, (3, 0), false));
    let o = verify(dir.path(), Some(&MASTER));
    assert_eq!(o.problems, Vec::<String>::new());
    assert!(o.decrypted);
    assert_eq!((o.sealed, o.purged, o.slots), ((3, 3), (0, 0), (4, 0, 0)));
    assert_eq!(o.content_bytes, (m0().len() + 131_072 + m2().len()) as u64);
}

#[test]
fn a_flipped_ciphertext_byte_is_found_without_the_key() {
    let dir = built(Tweaks {
        flip: Some(70_000),
        ..Tweaks::default()
    });
    let o = verify(dir.path(), None);
    assert!(kinds(&o).contains(&"content-changed"), "{:?}", o.problems);
    assert!(
        o.problems[0].contains("ciphertext does not match its hash"),
        "{:?}",
        o.problems
    );
}

#[test]
fn a_record_whose_stored_differs_is_found() {
    let other = hex::encode(hash(b"other ciphertext"));
    let dir = built(Tweaks {
        stored: Some(other),
        ..Tweaks::default()
    });
    let o = verify(dir.path(), None);
    assert_eq!(kinds(&o), ["record-changed"], "{:?}", o.problems);
    assert!(o.problems[0].contains("record 2"), "{:?}", o.problems);
}

#[test]
fn a_record_naming_another_size_than_its_encrypted_frame_is_found() {
    let dir = built(Tweaks {
        longer: true,
        ..Tweaks::default()
    });
    let o = verify(dir.path(), None);
    assert_eq!(kinds(&o), ["record-changed"], "{:?}", o.problems);
    assert!(o.problems[0].contains("size differs"), "{:?}", o.problems);
}

#[test]
fn a_live_slot_nothing_uses_is_counted() {
    let dir = built(Tweaks {
        unused_slot: true,
        ..Tweaks::default()
    });
    let o = verify(dir.path(), Some(&MASTER));
    assert_eq!(o.problems, Vec::<String>::new());
    assert_eq!(o.slots, (5, 0, 1));
}

#[test]
fn a_wrong_master_key_is_refused_by_its_id() {
    let dir = built(Tweaks::default());
    let e = try_verify(dir.path(), Some(&[0x22; 32])).expect_err("refused");
    assert!(e.to_string().contains("wrong master key"), "{e}");
    assert!(
        e.to_string().contains(&hex::encode(master_id(&MASTER))),
        "{e}"
    );
    assert!(MasterKey::parse(b"mailseal master key v1\nABCD\n").is_err());
    assert!(MasterKey::parse(&master_file(&MASTER)[1..]).is_err());
}

#[test]
fn a_flipped_byte_inside_a_chunk_is_undecryptable_with_the_key() {
    let dir = built(Tweaks {
        flip: Some(70_000),
        rehash: true,
        ..Tweaks::default()
    });
    assert_eq!(verify(dir.path(), None).problems, Vec::<String>::new());
    let o = verify(dir.path(), Some(&MASTER));
    assert_eq!(kinds(&o)[0], "undecryptable", "{:?}", o.problems);
    assert!(
        o.problems[0].contains("chunk 1 does not decrypt"),
        "{:?}",
        o.problems
    );
}

#[test]
fn a_ciphertext_cut_at_a_chunk_boundary_is_undecryptable() {
    let dir = built(Tweaks {
        drop_last_chunk: true,
        rehash: true,
        ..Tweaks::default()
    });
    assert_eq!(verify(dir.path(), None).problems, Vec::<String>::new());
    let o = verify(dir.path(), Some(&MASTER));
    assert_eq!(kinds(&o)[0], "undecryptable", "{:?}", o.problems);
}

#[test]
fn sealed_fields_must_be_empty_in_clear_and_open_to_the_documented_fields() {
    let dir = built(Tweaks {
        clear_mail_from: true,
        ..Tweaks::default()
    });
    let o = verify(dir.path(), None);
    assert_eq!(kinds(&o), ["record-changed"], "{:?}", o.problems);
    assert!(
        o.problems[0].contains("`mail_from` is not empty in clear"),
        "{:?}",
        o.problems
    );
    let swapped = PLAIN.replacen(
        r#""peer":"192.0.2.7:4711","helo":"mx.example.org""#,
        r#""helo":"mx.example.org","peer":"192.0.2.7:4711""#,
        1,
    );
    let dir = built(Tweaks {
        sealed_plain: Some(swapped),
        ..Tweaks::default()
    });
    assert_eq!(verify(dir.path(), None).problems, Vec::<String>::new());
    assert_eq!(kinds(&verify(dir.path(), Some(&MASTER))), ["unknown-field"]);
}

#[test]
fn an_encrypted_frame_in_a_version_1_segment_is_damage() {
    let dir = built(Tweaks {
        e_in_v1: true,
        ..Tweaks::default()
    });
    let o = verify(dir.path(), None);
    assert_eq!(kinds(&o)[0], "frame-damaged", "{:?}", o.problems);
}

#[test]
fn a_damaged_slot_is_reported_and_its_content_undecryptable() {
    let dir = built(Tweaks::default());
    let path = dir.path().join("keys/store");
    let mut s = std::fs::read(&path).unwrap();
    // A byte of slot 0's wrapped key, its checksum made to fit.
    s[64 + 40] ^= 1;
    let crc = crc32fast::hash(&s[64..64 + 92]);
    s[64 + 92..64 + 96].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(&path, s).unwrap();
    let o = verify(dir.path(), Some(&MASTER));
    let k = kinds(&o);
    assert!(k.contains(&"undecryptable"), "{:?}", o.problems);
    assert!(k.contains(&"key-store-damaged"), "{:?}", o.problems);
    assert!(
        o.problems
            .iter()
            .any(|p| p.contains("key slot 0 does not unwrap")),
        "{:?}",
        o.problems
    );
}

#[test]
fn sealed_fields_and_retention_rules_belong_to_format_2() {
    let zeros = "0".repeat(64);
    let outcome = |format: u8, extra: &str| {
        format!(
            r#"{{"format":{format},"seq":2,"time":"t","prev_hash":"{zeros}","body":{{"type":"outcome","of":1,"upstream_reply":"","result":"accepted"{extra}}}}}"#
        )
    };
    let sealed = r#","sealed":{"slot":1,"nonce":"000000000000000000000000","data":"AAAA"}"#;
    let kind = |json: String| crate::format::record(json.as_bytes()).err().map(|e| e.0);
    assert_eq!(kind(outcome(2, sealed)), None);
    assert_eq!(kind(outcome(1, sealed)), Some("unknown-field"));
    assert_eq!(kind(outcome(2, ",\"sealed\":null")), None);
    let reply = outcome(2, sealed).replace(r#""upstream_reply":"""#, r#""upstream_reply":"250""#);
    assert_eq!(kind(reply), Some("record-changed"));
    let rules = format!(
        r#"{{"format":2,"seq":1,"time":"t","prev_hash":"{zeros}","body":{{"type":"retention-rules","rules":[]}}}}"#
    );
    assert_eq!(kind(rules.clone()), None);
    assert_eq!(
        kind(rules.replace("\"format\":2", "\"format\":1")),
        Some("unknown-field")
    );
}
