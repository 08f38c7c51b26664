//! The proof commands with `mailseal run` running: the seal key rotates
//! through the control socket while mail arrives, and every verifier
//! follows the key history; `prove`, `prove --consistency` and `export
//! --with-proofs` are answered by the daemon from its tree file, with the
//! same proof the command line makes on its own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::corpus;
use crate::support::daemon::{Daemon, with_control};
use crate::support::smtp::{free_port, smtplib_send};
use crate::support::verifiers::{all_three, expect, mailseal_verify, python};
use crate::support::wait_until;

/// Sends generated message `i` to the journal; it must be accepted.
fn send(dir: &Path, journal: SocketAddr, i: usize) {
    let p = dir.join(format!("m{i}.eml"));
    std::fs::write(&p, corpus::message(i, 2500)).unwrap();
    let reply = smtplib_send(journal, "a@example.com", "b@example.org", &p);
    assert!(reply.starts_with("250"), "message {i}: {reply}");
}

/// The key `key show` prints, hex.
fn key_of(d: &Daemon) -> String {
    let o = d.cli(&["key", "show"]);
    let t = expect(&o, 0, "key show");
    t.lines()
        .find_map(|l| l.strip_prefix("ed25519 ").map(str::to_owned))
        .unwrap_or_else(|| panic!("key show: {t}"))
}

fn records(d: &Daemon) -> u64 {
    let o = d.cli(&["stats", "--json"]);
    expect(&o, 0, "stats");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["records"].as_u64().unwrap()
}

/// How many `control request` lines for `cmd` the daemon logged (one per
/// request; a failed one is logged again as `control request failed`).
fn requests(d: &Daemon, cmd: &str) -> usize {
    let wanted = format!("control request cmd=\"{cmd}\"");
    d.log().lines().filter(|l| l.contains(&wanted)).count()
}

/// Every segment file, in order.
fn segments(archive: &Path) -> Vec<PathBuf> {
    let mut s: Vec<PathBuf> = std::fs::read_dir(archive.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    s.sort();
    s
}

/// Every seal (seq, public key) and every key-rotation record's seq.
fn seals_and_rotations(archive: &Path) -> (Vec<(u64, String)>, Vec<u64>) {
    let (mut seals, mut rotations) = (Vec::new(), Vec::new());
    for seg in segments(archive) {
        for f in super::forge::read(&seg).1 {
            if f.kind == b'S' {
                let s: serde_json::Value = serde_json::from_slice(&f.payload).unwrap();
                let key = s["public_key"].as_str().unwrap().to_owned();
                seals.push((s["seq"].as_u64().unwrap(), key));
            } else if f.kind == b'R' {
                let r = super::forge::record_json(&f);
                if r["body"]["type"] == "key-rotation" {
                    rotations.push(r["seq"].as_u64().unwrap());
                }
            }
        }
    }
    (seals, rotations)
}

fn json(o: &Output, what: &str) -> serde_json::Value {
    expect(o, 0, what);
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn the_daemon_rotates_the_seal_key_while_mail_arrives_and_proves_from_its_tree() {
    let dir = tempfile::tempdir().unwrap();
    let journal = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let archive = dir.path().join("archive");
    let config = dir.path().join("mailseal.toml");
    // Seals come from the rotation itself and from stopping, never from
    // a timer in the middle of a comparison.
    let text = format!(
        "[archive]\npath = {:?}\nseal_interval = \"1h\"\n\n\
         [[journal]]\nname = \"journal\"\nlisten = \"{journal}\"\n\n[http]\nenabled = false\n",
        archive.display().to_string()
    );
    std::fs::write(&config, with_control(&config, text)).unwrap();
    let mut d = Daemon::start(&config, journal);
    for i in 0..3 {
        send(dir.path(), journal, i);
    }
    let first = key_of(&d);

    // Mail keeps arriving while the daemon rotates the key, and after.
    let inbox = dir.path().to_path_buf();
    let rotated = Arc::new(AtomicBool::new(false));
    let done = rotated.clone();
    let sender = std::thread::spawn(move || {
        let mut i = 10;
        let mut after = 0;
        while after < 2 {
            after += usize::from(done.load(Ordering::SeqCst));
            send(&inbox, journal, i);
            i += 1;
        }
        i - 10
    });
    wait_until("mail arriving", || (records(&d) >= 6).then_some(()));
    let said = expect(&d.cli(&["key", "rotate-seal"]), 0, "rotate-seal");
    rotated.store(true, Ordering::SeqCst);
    let sent = sender.join().unwrap() as u64;
    assert_eq!(requests(&d, "rotate-seal"), 1, "{}", d.log());
    let second = key_of(&d);
    assert_ne!(first, second);
    assert!(said.contains(&second), "{said}");
    assert_eq!(
        records(&d),
        3 + sent + 1,
        "the messages and the rotation record"
    );
    let trusted = dir.path().join("first.hex");
    std::fs::write(&trusted, &first).unwrap();
    expect(
        &d.cli(&["verify", "--public-key", trusted.to_str().unwrap()]),
        0,
        "verify while the daemon runs",
    );
    for i in 30..33 {
        send(dir.path(), journal, i);
    }
    d.stop();

    // Every seal up to the rotation record is the first key's, every one
    // after it the second's; all three verifiers follow the history.
    let (seals, rotations) = seals_and_rotations(&archive);
    assert_eq!(rotations.len(), 1, "{seals:?}");
    let rotated_at = rotations[0];
    let total = 3 + sent + 1 + 3;
    assert!(
        rotated_at > 6 && rotated_at < total - 4,
        "rotated at {rotated_at}"
    );
    for (seq, key) in &seals {
        let want = if *seq < rotated_at { &first } else { &second };
        assert_eq!(key, want, "the seal of {seq} (rotation at {rotated_at})");
    }
    assert!(seals.iter().any(|(s, _)| *s == rotated_at - 1));
    assert!(seals.iter().any(|(s, _)| *s == total), "{seals:?}");
    all_three(&archive, Some(&first), &[], 0, "trusting the first key");
    all_three(&archive, Some(&second), &[], 0, "trusting the second key");

    // The daemon proves from its tree file; the command line on a copy
    // (a tree built in memory) makes the same proof.
    let d = Daemon::start(&config, journal);
    // What an auditor's copy needs: the segments (sled's files change
    // under a running daemon and are not read from a copy).
    let copy = dir.path().join("copy");
    std::fs::create_dir_all(copy.join("segments")).unwrap();
    for seg in segments(&archive) {
        std::fs::copy(&seg, copy.join("segments").join(seg.file_name().unwrap())).unwrap();
    }
    let from_daemon = json(&d.cli(&["prove", "2"]), "prove through the daemon");
    assert_eq!(requests(&d, "prove"), 1, "{}", d.log());
    let offline = json(
        &d.cli(&["--archive", copy.to_str().unwrap(), "prove", "2"]),
        "prove on the copy",
    );
    assert_eq!(from_daemon, offline);
    assert_eq!(from_daemon["tree_head"]["seq"], total);
    assert_eq!(from_daemon["tree_head"]["public_key"], second.as_str());
    assert_eq!(from_daemon["key_history"].as_array().map(Vec::len), Some(1));
    let proof = dir.path().join("2.proof.json");
    std::fs::write(&proof, from_daemon.to_string()).unwrap();
    let p = proof.to_str().unwrap();
    expect(
        &mailseal_verify(&["proof", p, "--public-key", &first]),
        0,
        "mailseal-verify, the daemon's proof",
    );
    expect(
        &python(&["proof", p, "--key", &first]),
        0,
        "python, the daemon's proof",
    );
    // A record that is not a message is refused by the daemon, as offline.
    let o = d.cli(&["prove", &rotated_at.to_string()]);
    let t = expect(&o, 2, "prove of the rotation record");
    assert!(t.contains("is not a message"), "{t}");

    // The newest tree head extends the first key's last seal.
    let kept = dir.path().join("kept.json");
    let (_, frames) = super::forge::read(&segments(&archive)[0]);
    let old = frames.iter().find(|f| f.kind == b'S').unwrap();
    std::fs::write(&kept, &old.payload).unwrap();
    let k = kept.to_str().unwrap();
    let cons = json(
        &d.cli(&["prove", "--consistency", k]),
        "prove --consistency through the daemon",
    );
    assert_eq!(requests(&d, "prove-consistency"), 1, "{}", d.log());
    let cons_file = dir.path().join("cons.json");
    std::fs::write(&cons_file, cons.to_string()).unwrap();
    let c = cons_file.to_str().unwrap();
    expect(
        &mailseal_verify(&["consistency", k, c, "--public-key", &first]),
        0,
        "mailseal-verify consistency",
    );
    expect(&python(&["consistency", k, c]), 0, "python consistency");

    // An export's proofs come from the daemon too, and check out message
    // by message.
    let out = dir.path().join("bundle");
    let o = d.cli(&["export", "--out", out.to_str().unwrap(), "--with-proofs"]);
    expect(&o, 0, "export --with-proofs");
    assert_eq!(requests(&d, "prove"), 3, "{}", d.log());
    assert!(
        !d.log().contains("proving from memory"),
        "the daemon's tree file served every proof: {}",
        d.log()
    );
    let b = out.to_str().unwrap();
    expect(
        &mailseal_verify(&["bundle", b, "--public-key", &first]),
        0,
        "mailseal-verify bundle",
    );
    expect(&python(&["bundle", b, "--key", &first]), 0, "python bundle");
    let bundled: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("2.proof.json")).unwrap()).unwrap();
    assert_eq!(bundled, from_daemon);
}
