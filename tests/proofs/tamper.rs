//! The tamper matrix: every way of changing the archive is found by all
//! three verifiers; rolling back and forking are found with a seal kept
//! from before (a seal mail, a manifest, a proof).

use std::path::{Path, PathBuf};

use super::forge::{self, Frame};
use crate::support::verifiers::{all_three, import, key_hex};

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("segments")).unwrap();
    for e in std::fs::read_dir(from.join("segments")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join("segments").join(e.file_name())).unwrap();
    }
    std::fs::copy(from.join("seal.key"), to.join("seal.key")).unwrap();
    // The key store and its master key belong to the copy: without them
    // the sealed fields of its records cannot be opened.
    std::fs::create_dir_all(to.join("keys")).unwrap();
    std::fs::copy(from.join("keys/store"), to.join("keys/store")).unwrap();
    std::fs::copy(from.join("master.key"), to.join("master.key")).unwrap();
}

fn seg(a: &Path) -> PathBuf {
    a.join("segments/000000000001.seg")
}

/// Index in `frames` of the record frame with seq `n`.
fn record_at(frames: &[Frame], n: u64) -> usize {
    frames
        .iter()
        .position(|f| f.kind == b'R' && forge::record_json(f)["seq"] == n)
        .unwrap()
}

/// The newest seal, saved where an auditor keeps it.
fn keep_newest_seal(a: &Path, to: &Path) -> PathBuf {
    let (_, frames) = forge::read(&seg(a));
    let f = frames.iter().rev().find(|f| f.kind == b'S').unwrap();
    std::fs::write(to, &f.payload).unwrap();
    to.to_path_buf()
}

#[test]
fn every_tampering_is_found_by_all_three_verifiers() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    import(&base, 0..5, 3000);
    let earlier = dir.path().join("earlier");
    copy(&base, &earlier);
    import(&base, 5..10, 3000);
    let key = key_hex(&base);
    let kept = keep_newest_seal(&base, &dir.path().join("kept-seal.json"));
    all_three(&base, Some(&key), &[&kept], 0, "the untouched archive");

    let case = |name: &str, change: &dyn Fn(&Path)| {
        let a = dir.path().join(name);
        copy(&base, &a);
        change(&a);
        a
    };
    let frames_of = |a: &Path| forge::read(&seg(a));

    // Flip one byte of a message's stored content.
    let a = case("flip-content", &|a| {
        let (h, mut f) = frames_of(a);
        let c = f.iter().position(|f| f.kind == b'E').unwrap();
        let mid = f[c].payload.len() - 10;
        f[c].payload[mid] ^= 1;
        forge::write(&seg(a), &h, &f);
    });
    all_three(&a, Some(&key), &[], 1, "a flipped content byte");

    // Flip one byte of a record (its time).
    let a = case("flip-record", &|a| {
        let (h, mut f) = frames_of(a);
        let r = record_at(&f, 4);
        let at = f[r]
            .payload
            .windows(6)
            .position(|w| w == b"\"time\"")
            .unwrap()
            + 9;
        f[r].payload[at] ^= 1;
        forge::write(&seg(a), &h, &f);
    });
    all_three(&a, Some(&key), &[], 1, "a flipped record byte");

    // Delete a record.
    let a = case("delete", &|a| {
        let (h, mut f) = frames_of(a);
        let r = record_at(&f, 7);
        f.remove(r);
        forge::write(&seg(a), &h, &f);
    });
    all_three(&a, Some(&key), &[], 1, "a deleted record");

    // Insert a record (a copy of an existing one).
    let a = case("insert", &|a| {
        let (h, mut f) = frames_of(a);
        let r = record_at(&f, 3);
        let dup = f[r].clone();
        f.insert(r + 1, dup);
        forge::write(&seg(a), &h, &f);
    });
    all_three(&a, Some(&key), &[], 1, "an inserted record");

    // Swap two records.
    let a = case("reorder", &|a| {
        let (h, mut f) = frames_of(a);
        let (x, y) = (record_at(&f, 6), record_at(&f, 7));
        f.swap(x, y);
        forge::write(&seg(a), &h, &f);
    });
    all_three(&a, Some(&key), &[], 1, "two records swapped");

    // Cut inside the last frame.
    let a = case("truncate", &|a| {
        let b = std::fs::read(seg(a)).unwrap();
        std::fs::write(seg(a), &b[..b.len() - 20]).unwrap();
    });
    all_three(&a, Some(&key), &[], 1, "a segment cut inside a frame");

    // Cut cleanly after the first seal: consistent on its own, found by
    // the seal kept later.
    let a = case("truncate-clean", &|a| {
        let (h, f) = frames_of(a);
        let first_seal = f.iter().position(|f| f.kind == b'S').unwrap();
        forge::write(&seg(a), &h, &f[..=first_seal]);
    });
    all_three(&a, Some(&key), &[], 0, "cut after a seal, alone");
    all_three(
        &a,
        Some(&key),
        &[&kept],
        1,
        "cut after a seal, with the kept seal",
    );

    // Replace a record and re-sign everything with another key.
    let forger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let a = case("resign", &|a| {
        forge::rewrite(&seg(a), &forger, |r| {
            if r["seq"] == 3 {
                r["body"]["mail_from"] = "ceo@example.com".into();
                // A forger writes the record in clear (its sealed fields need a key).
                if let Some(b) = r["body"].as_object_mut() {
                    b.remove("sealed");
                }
            }
        });
        let pem = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_pem(
            &forger,
            ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF,
        )
        .unwrap();
        std::fs::write(a.join("seal.key"), pem.as_bytes()).unwrap();
    });
    all_three(&a, None, &[], 0, "re-signed, trusting what it says");
    all_three(&a, Some(&key), &[], 1, "re-signed, with the auditor's key");
    all_three(&a, None, &[&kept], 1, "re-signed, with the kept seal");

    // Rolled back to the earlier state: a real archive, only the kept seal
    // shows records are gone.
    all_three(&earlier, Some(&key), &[], 0, "rolled back, alone");
    all_three(
        &earlier,
        Some(&key),
        &[&kept],
        1,
        "rolled back, with the kept seal",
    );

    // Forked after the first seal with the box's own key: new records in
    // place of the originals, signed by the real key.
    let fork = dir.path().join("fork");
    copy(&earlier, &fork);
    import(&fork, 100..110, 3000);
    all_three(&fork, Some(&key), &[], 0, "forked, alone");
    all_three(&fork, Some(&key), &[&kept], 1, "forked, with the kept seal");
}
