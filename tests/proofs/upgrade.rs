//! A version-1 archive written by round 1 keeps verifying, is continued in
//! version-2 segments, and its old seals stay usable; the seal key rotates
//! and verifiers follow it from the first key.

use std::path::Path;

use crate::support::verifiers::{
    all_three, expect, import, key_hex, mailseal, mailseal_verify, python, text,
};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/archive-v1");
const V1_KEY: &str = "6afa0d6d3351a0b0617a4c678e565295e83c12845ceb906b935715d6d75fdf34";

fn fixture_copy(to: &Path) {
    std::fs::create_dir_all(to.join("segments")).unwrap();
    for f in ["segments/000000000001.seg", "seal.key"] {
        std::fs::copy(Path::new(FIXTURE).join(f), to.join(f)).unwrap();
    }
}

/// The last seal frame of a segment, as JSON.
fn last_seal(seg: &Path) -> serde_json::Value {
    let (_, frames) = super::forge::read(seg);
    let f = frames.iter().rev().find(|f| f.kind == b'S').unwrap();
    serde_json::from_slice(&f.payload).unwrap()
}

#[test]
fn a_version_1_archive_verifies_is_continued_in_version_2_and_its_seals_still_count() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    fixture_copy(&a);
    let seg1 = a.join("segments/000000000001.seg");
    let v1_bytes = std::fs::read(&seg1).unwrap();
    all_three(&a, Some(V1_KEY), &[], 0, "the version-1 fixture");
    let kept = dir.path().join("v1-seal.json");
    let v1_seal = last_seal(&seg1);
    assert!(v1_seal.get("version").is_none(), "{v1_seal}");
    std::fs::write(&kept, v1_seal.to_string()).unwrap();

    import(&a, 100..103, 3000);
    assert_eq!(
        std::fs::read(&seg1).unwrap(),
        v1_bytes,
        "segment 1 is never rewritten"
    );
    let seg2 = std::fs::read(a.join("segments/000000000002.seg")).unwrap();
    assert_eq!(
        &seg2[8..12],
        &2u32.to_be_bytes(),
        "new segments are version 2"
    );
    // The new contents are encrypted (format 2.3), in the upgraded archive too.
    let (_, frames) = super::forge::read(&a.join("segments/000000000002.seg"));
    assert_eq!(frames.iter().filter(|f| f.kind == b'E').count(), 3);
    assert!(frames.iter().all(|f| f.kind != b'C'));
    let master = a.join("master.key");
    let p = expect(
        &python(&[
            "archive",
            a.to_str().unwrap(),
            "--master-key",
            master.to_str().unwrap(),
        ]),
        0,
        "python, decrypting the upgraded archive",
    );
    assert!(p.contains("decrypted: 3 contents"), "{p}");
    let seal = last_seal(&a.join("segments/000000000002.seg"));
    assert_eq!(seal["version"], 2);
    assert_eq!(seal["seq"], 7);
    all_three(
        &a,
        Some(V1_KEY),
        &[&kept],
        0,
        "the upgraded archive with its old seal",
    );
    let said = expect(&python(&[a.to_str().unwrap(), V1_KEY]), 0, "python");
    assert!(said.starts_with("ok 7 6 3 7 "), "{said}");

    // A record from the version-1 part is proven in the version-2 tree.
    let proof = dir.path().join("2.proof.json");
    let o = mailseal(&a, &["prove", "2"]);
    std::fs::write(&proof, &o.stdout).unwrap();
    expect(&o, 0, "prove 2");
    let p = proof.to_str().unwrap();
    expect(
        &mailseal_verify(&["proof", p, "--public-key", V1_KEY]),
        0,
        "mailseal-verify proof",
    );
    expect(&python(&["proof", p, "--key", V1_KEY]), 0, "python proof");

    // The archive extends the version-1 seal an auditor kept.
    let cons = dir.path().join("cons.json");
    let o = mailseal(&a, &["prove", "--consistency", kept.to_str().unwrap()]);
    expect(&o, 0, "prove --consistency");
    std::fs::write(&cons, &o.stdout).unwrap();
    let (k, c) = (kept.to_str().unwrap(), cons.to_str().unwrap());
    expect(
        &mailseal_verify(&["consistency", k, c]),
        0,
        "mailseal-verify consistency",
    );
    expect(
        &mailseal_verify(&["consistency", k, a.to_str().unwrap()]),
        0,
        "against the archive",
    );
    expect(&python(&["consistency", k, c]), 0, "python consistency");
}

#[test]
fn a_rotated_seal_key_is_followed_from_the_first_key() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    import(&a, 0..3, 2000);
    let first = key_hex(&a);
    let o = mailseal(&a, &["key", "rotate-seal"]);
    let said = expect(&o, 0, "rotate-seal");
    let second = key_hex(&a);
    assert_ne!(first, second);
    assert!(said.contains(&second), "{said}");
    import(&a, 3..5, 2000);
    all_three(&a, Some(&first), &[], 0, "trusting the first key");
    all_three(&a, Some(&second), &[], 0, "trusting the second key");
    let stranger = "11".repeat(32);
    all_three(&a, Some(&stranger), &[], 1, "trusting an unrelated key");

    // A message sealed after the rotation is proven with the history.
    let proof = dir.path().join("6.proof.json");
    let o = mailseal(&a, &["prove", "6"]);
    expect(&o, 0, "prove 6");
    std::fs::write(&proof, &o.stdout).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        doc["key_history"].as_array().map(Vec::len),
        Some(1),
        "{doc}"
    );
    assert_eq!(doc["tree_head"]["public_key"], second.as_str());
    let p = proof.to_str().unwrap();
    expect(
        &mailseal_verify(&["proof", p, "--public-key", &first]),
        0,
        "standalone, first key",
    );
    expect(
        &python(&["proof", p, "--key", &first]),
        0,
        "python, first key",
    );
    let t = text(&mailseal_verify(&["proof", p, "--public-key", &stranger]));
    assert!(t.contains("not in the archive's key history"), "{t}");
    expect(
        &python(&["proof", p, "--key", &stranger]),
        1,
        "python, unrelated key",
    );

    // Without the history the new key leads nowhere.
    let mut cut = doc.clone();
    cut["key_history"] = serde_json::json!([]);
    std::fs::write(&proof, cut.to_string()).unwrap();
    expect(
        &mailseal_verify(&["proof", p, "--public-key", &first]),
        1,
        "history removed",
    );
    expect(
        &python(&["proof", p, "--key", &first]),
        1,
        "python, history removed",
    );
}
