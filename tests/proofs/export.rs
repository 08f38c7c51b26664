//! An export with proofs: each message checks out on its own with the
//! public key, in both standalone verifiers; a changed message or proof
//! does not; the archive proves it extends a seal kept earlier.

use std::path::Path;

use crate::support::verifiers::{expect, import, key_hex, mailseal, mailseal_verify, python};

/// The first seal frame of the archive, as JSON.
fn first_seal(a: &Path) -> serde_json::Value {
    let (_, frames) = super::forge::read(&a.join("segments/000000000001.seg"));
    let f = frames.iter().find(|f| f.kind == b'S').unwrap();
    serde_json::from_slice(&f.payload).unwrap()
}

/// A change to a proof document.
type Edit = Box<dyn Fn(&mut serde_json::Value)>;

fn both(args_rust: &[&str], args_py: &[&str], code: i32, what: &str) {
    expect(
        &mailseal_verify(args_rust),
        code,
        &format!("{what}: mailseal-verify"),
    );
    expect(
        &python(args_py),
        code,
        &format!("{what}: verify_archive.py"),
    );
}

#[test]
fn exported_messages_carry_proofs_that_fail_when_anything_changes() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    import(&a, 0..6, 5000);
    let kept = dir.path().join("kept.json");
    std::fs::write(&kept, first_seal(&a).to_string()).unwrap();
    import(&a, 6..9, 5000);
    let key = key_hex(&a);
    let out = dir.path().join("bundle");
    let o = mailseal(
        &a,
        &["export", "--out", out.to_str().unwrap(), "--with-proofs"],
    );
    expect(&o, 0, "export --with-proofs");
    let b = out.to_str().unwrap();
    both(
        &["bundle", b, "--public-key", &key],
        &["bundle", b, "--key", &key],
        0,
        "the bundle",
    );
    for seq in 1..=9 {
        let p = out.join(format!("{seq}.proof.json"));
        let e = out.join(format!("{seq}.eml"));
        let (p, e) = (p.to_str().unwrap(), e.to_str().unwrap());
        both(
            &["proof", p, "--message", e, "--public-key", &key],
            &["proof", p, "--eml", e, "--key", &key],
            0,
            &format!("proof of {seq}"),
        );
    }

    // One changed byte in a message.
    let eml = out.join("4.eml");
    let original = std::fs::read(&eml).unwrap();
    let mut changed = original.clone();
    changed[100] ^= 1;
    std::fs::write(&eml, &changed).unwrap();
    both(
        &["bundle", b, "--public-key", &key],
        &["bundle", b, "--key", &key],
        1,
        "a changed message",
    );
    std::fs::write(&eml, &original).unwrap();

    // Changed proofs: the path, the record, the tree head, the key.
    let proof_file = out.join("4.proof.json");
    let p = proof_file.to_str().unwrap();
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&proof_file).unwrap()).unwrap();
    let edits: Vec<(&str, Edit)> = vec![
        (
            "an audit path hash",
            Box::new(|d| {
                let h = d["inclusion"]["path"][0].as_str().unwrap().to_owned();
                let flipped = format!("{}{}", if h.starts_with('0') { "1" } else { "0" }, &h[1..]);
                d["inclusion"]["path"][0] = flipped.into();
            }),
        ),
        (
            "the record",
            Box::new(|d| {
                let j = d["record"]["json"]
                    .as_str()
                    .unwrap()
                    .replace("import", "imp0rt");
                d["record"]["json"] = j.into();
            }),
        ),
        (
            "the tree head's root",
            Box::new(|d| d["tree_head"]["root"] = "00".repeat(32).into()),
        ),
        (
            "the leaf index",
            Box::new(|d| d["inclusion"]["leaf_index"] = 2.into()),
        ),
        (
            "the content hash",
            Box::new(|d| d["content"]["sha256"] = "ab".repeat(32).into()),
        ),
    ];
    for (what, edit) in edits {
        let mut d = doc.clone();
        edit(&mut d);
        std::fs::write(&proof_file, d.to_string()).unwrap();
        both(
            &["proof", p, "--public-key", &key],
            &["proof", p, "--key", &key],
            1,
            &format!("a proof with a changed {what}"),
        );
    }
    std::fs::write(&proof_file, doc.to_string()).unwrap();
    both(
        &["proof", p, "--public-key", &"22".repeat(32)],
        &["proof", p, "--key", &"22".repeat(32)],
        1,
        "another public key",
    );

    // The archive extends the seal kept after the first import.
    let cons = dir.path().join("cons.json");
    let o = mailseal(&a, &["prove", "--consistency", kept.to_str().unwrap()]);
    expect(&o, 0, "prove --consistency");
    std::fs::write(&cons, &o.stdout).unwrap();
    let (k, c) = (kept.to_str().unwrap(), cons.to_str().unwrap());
    both(
        &["consistency", k, c],
        &["consistency", k, c],
        0,
        "consistency",
    );
    let mut forged: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cons).unwrap()).unwrap();
    forged["path"][0] = "00".repeat(32).into();
    std::fs::write(&cons, forged.to_string()).unwrap();
    both(
        &["consistency", k, c],
        &["consistency", k, c],
        1,
        "a forged consistency proof",
    );
}
