//! What time stamps alone show about a rolled-back or forked archive, with
//! nothing kept outside it (no old seal): a fork that keeps the archive's
//! stored time stamps is found by all three verifiers, because the stamps
//! name tree heads the forked archive no longer has; a fork that drops them
//! and a clean rollback are not (docs/verification.md says so, and what a
//! kept seal adds).

use std::net::SocketAddr;
use std::path::Path;

use super::forge::{self, Frame};
use crate::support::corpus;
use crate::support::daemon::{Daemon, with_control};
use crate::support::smtp::{free_port, smtplib_send};
use crate::support::tsa::Tsa;
use crate::support::verifiers::{all_three, expect, mailseal, mailseal_verify, python, text};
use crate::support::wait_until;

fn send(dir: &Path, journal: SocketAddr, i: usize) {
    let p = dir.join(format!("m{i}.eml"));
    std::fs::write(&p, corpus::message(i, 2000)).unwrap();
    let reply = smtplib_send(journal, "a@example.com", "b@example.org", &p);
    assert!(reply.starts_with("250"), "{reply}");
}

/// Waits until the newest seal covers `seq` and every tree head is stamped.
fn stamped_up_to(d: &Daemon, seq: u64) {
    wait_until(&format!("every tree head up to {seq} stamped"), || {
        let o = d.cli(&["stats", "--json"]);
        let s: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
        let local = s["proofs"]["timestamps"].as_array()?.first()?.clone();
        (s["last_seal"]["seq"] == seq && local["unstamped"] == 0).then_some(())
    });
}

fn seal_seq(f: &Frame) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(&f.payload).unwrap();
    v["seq"].as_u64().unwrap()
}

/// The three verifiers with the authority's CA: each exits with `code`.
fn with_ca(a: &Path, ca: &Path, code: i32, what: &str) -> String {
    let (a, ca) = (a.to_str().unwrap(), ca.to_str().unwrap());
    expect(
        &mailseal(Path::new(a), &["verify", "--tsa-ca", ca]),
        code,
        &format!("{what}: mailseal verify"),
    );
    expect(
        &python(&["archive", a, "--tsa-ca", ca]),
        code,
        &format!("{what}: python"),
    );
    let o = mailseal_verify(&["archive", a, "--tsa-ca", ca]);
    expect(&o, code, &format!("{what}: mailseal-verify"))
}

#[test]
fn stored_time_stamps_show_a_fork_that_keeps_them_but_not_a_clean_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let tsa = Tsa::start();
    let journal = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let archive = dir.path().join("archive");
    let config = dir.path().join("mailseal.toml");
    let text_cfg = format!(
        "[archive]\npath = {:?}\nseal_interval = \"1s\"\n\n\
         [[journal]]\nname = \"journal\"\nlisten = \"{journal}\"\n\n\
         [[timestamp]]\nname = \"local\"\nurl = \"{}\"\nca_file = {:?}\nretry = \"1s\"\n\n\
         [http]\nenabled = false\n",
        archive.display().to_string(),
        tsa.url,
        tsa.ca().display().to_string(),
    );
    std::fs::write(&config, with_control(&config, text_cfg)).unwrap();
    let mut d = Daemon::start(&config, journal);
    for i in 0..3 {
        send(dir.path(), journal, i);
    }
    stamped_up_to(&d, 3);
    for i in 3..6 {
        send(dir.path(), journal, i);
    }
    stamped_up_to(&d, 6);
    d.stop();
    let ca = tsa.ca();
    let key = crate::support::verifiers::key_hex(&archive);
    with_ca(&archive, &ca, 0, "the stamped archive");

    let seg = Path::new("segments").join("000000000001.seg");
    let (head, frames) = forge::read(&archive.join(&seg));
    let stamps: Vec<Frame> = frames.iter().filter(|f| f.kind == b'T').cloned().collect();
    assert!(
        stamps.iter().any(|f| seal_seq(f) <= 3) && stamps.iter().any(|f| seal_seq(f) == 6),
        "tree heads of 3 and 6 stamped"
    );
    let pem = std::fs::read_to_string(archive.join("seal.key")).unwrap();
    let box_key: ed25519_dalek::SigningKey =
        ed25519_dalek::pkcs8::DecodePrivateKey::from_pkcs8_pem(&pem).unwrap();
    let copy = |name: &str| {
        let a = dir.path().join(name);
        std::fs::create_dir_all(a.join("segments")).unwrap();
        std::fs::copy(archive.join(&seg), a.join(&seg)).unwrap();
        std::fs::copy(archive.join("seal.key"), a.join("seal.key")).unwrap();
        a
    };

    // Forked after the tree head of 3 with the box's own key: records from
    // 4 on rewritten, every hash, root and seal made consistent again. The
    // stored time stamps are kept: those of tree heads from 4 on stamp
    // heads the fork does not have, and nothing kept outside is needed.
    let fork = copy("fork-kept-stamps");
    forge::rewrite(&fork.join(&seg), &box_key, |r| {
        if r["seq"] == 5 {
            r["body"]["mail_from"] = "ceo@example.com".into();
            // A forger writes the record in clear (its sealed fields need a key).
            if let Some(b) = r["body"].as_object_mut() {
                b.remove("sealed");
            }
        }
    });
    let (h, mut forged) = forge::read(&fork.join(&seg));
    forged.extend(stamps.iter().cloned());
    forge::write(&fork.join(&seg), &h, &forged);
    all_three(&fork, Some(&key), &[], 1, "forked, its stored stamps kept");
    let said = text(&mailseal_verify(&["archive", fork.to_str().unwrap()]));
    assert!(said.contains("stamps no seal of this archive"), "{said}");
    let said = with_ca(&fork, &ca, 1, "forked, stamps kept, with the CA");
    assert!(said.contains("timestamp-bad"), "{said}");

    // The same fork without the stamps: consistent on its own. Time stamps
    // inside a copy cannot show what its owner removed with them.
    let fork = copy("fork-no-stamps");
    forge::rewrite(&fork.join(&seg), &box_key, |r| {
        if r["seq"] == 5 {
            r["body"]["mail_from"] = "ceo@example.com".into();
            // A forger writes the record in clear (its sealed fields need a key).
            if let Some(b) = r["body"].as_object_mut() {
                b.remove("sealed");
            }
        }
    });
    all_three(&fork, Some(&key), &[], 0, "forked, stamps dropped");

    // Rolled back cleanly to the stamped tree head of 3 (its stamps kept):
    // a true earlier state whose stamps are all true; nothing in it shows
    // that more existed.
    let back = copy("rolled-back");
    let sealed3 = frames
        .iter()
        .rposition(|f| f.kind == b'S' && seal_seq(f) == 3)
        .unwrap();
    let mut kept: Vec<Frame> = frames[..=sealed3]
        .iter()
        .filter(|f| f.kind != b'T')
        .cloned()
        .collect();
    kept.extend(stamps.iter().filter(|f| seal_seq(f) <= 3).cloned());
    forge::write(&back.join(&seg), &head, &kept);
    let said = with_ca(&back, &ca, 0, "rolled back, stamps of what is left");
    assert!(!said.contains(" 0 time stamps (0 checked)"), "{said}");
}
