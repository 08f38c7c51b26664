//! Encryption at rest (archive format 2.3), end to end: mail journaled by
//! Python's smtplib into a running daemon is stored as `E` frames and
//! sealed record fields, so the segments hold neither its text nor the
//! addresses; `show` reads it back through the key store; all three
//! verifiers pass without the master key (hashes only) and with it
//! (everything decrypted).

use std::net::SocketAddr;
use std::path::Path;

use crate::support::daemon::{Daemon, with_control};
use crate::support::files::{contains, every_file};
use crate::support::smtp::{free_port, smtplib_send};
use crate::support::verifiers::{expect, mailseal_verify, python, text};

/// A phrase and addresses that must never be readable in the segments.
const PHRASE: &str = "Quartalsbilanz Nordwerk vertraulich";
const SENDER: &str = "ilse.vertraulich@example.com";
const RCPT: &str = "gustav.geheim@example.org";

fn message() -> String {
    format!(
        "From: Ilse <{SENDER}>\r\nTo: Gustav <{RCPT}>\r\nSubject: {PHRASE}\r\n\
         Message-ID: <enc-1@example.com>\r\nDate: Mon, 07 Dec 2026 09:00:00 +0100\r\n\r\n\
         {PHRASE}: bitte bis Freitag pruefen.\r\n"
    )
}

fn start(dir: &Path, extra_archive: &str) -> (Daemon, SocketAddr, std::path::PathBuf) {
    let archive = dir.join("archive");
    let journal: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.join("mailseal.toml");
    let text = format!(
        "[archive]\npath = {:?}\n{extra_archive}\n[[journal]]\nname = \"j\"\nlisten = \"{journal}\"\n\
         [http]\nenabled = false\n",
        archive.display().to_string()
    );
    std::fs::write(&config, with_control(&config, text)).unwrap();
    (Daemon::start(&config, journal), journal, archive)
}

#[test]
fn journaled_mail_is_stored_encrypted_and_verifies_with_and_without_the_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let (mut daemon, journal, archive) = start(dir.path(), "");
    let eml = dir.path().join("m.eml");
    std::fs::write(&eml, message()).unwrap();
    let reply = smtplib_send(journal, SENDER, RCPT, &eml);
    assert!(reply.starts_with("250"), "{reply}");

    // Read back through the daemon and its key store: byte for byte.
    let raw = daemon.cli(&["show", "1", "--raw"]);
    expect(&raw, 0, "show --raw");
    assert_eq!(raw.stdout, message().as_bytes());
    let shown = expect(&daemon.cli(&["show", "1"]), 0, "show");
    assert!(shown.contains(SENDER) && shown.contains(RCPT), "{shown}");
    daemon.stop();

    // No segment holds the text, a header or an address in clear.
    for seg in every_file(&archive.join("segments")) {
        for secret in [PHRASE, SENDER, RCPT, "enc-1@example.com"] {
            assert!(
                !contains(&seg.1, secret.as_bytes()),
                "{secret} readable in {}",
                seg.0.display()
            );
        }
    }
    assert!(archive.join("keys/store").is_file() && archive.join("master.key").is_file());

    let master = archive.join("master.key");
    let master = master.to_str().unwrap();
    let a = archive.to_str().unwrap();
    let config = dir.path().join("mailseal.toml");
    let config = config.to_str().unwrap();
    let mailseal = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mailseal"))
            .args(["--config", config])
            .args(args)
            .output()
            .unwrap()
    };
    let ours = expect(&mailseal(&["verify"]), 0, "mailseal verify");
    assert!(ours.contains("decrypted"), "{ours}");
    let p = expect(&python(&["archive", a]), 0, "python without the master key");
    // The message record and the two audit records of the CLI's reads
    // through the daemon above.
    assert!(
        p.contains("encrypted: 1 contents, 3 sealed records; decrypted: 0"),
        "{p}"
    );
    let p = expect(
        &python(&["archive", a, "--master-key", master]),
        0,
        "python with the master key",
    );
    assert!(p.contains("decrypted: 1 contents"), "{p}");
    let s = mailseal_verify(&["archive", a]);
    assert_eq!(s.status.code(), Some(0), "mailseal-verify: {}", text(&s));
    let s = mailseal_verify(&["archive", a, "--master-key", master]);
    assert_eq!(
        s.status.code(),
        Some(0),
        "mailseal-verify --master-key: {}",
        text(&s)
    );

    // A flipped ciphertext byte is caught without any key.
    // (The frame's CRC is recomputed: only the hashes may catch it.)
    let seg = archive.join("segments/000000000001.seg");
    let (head, mut frames) = crate::proofs::forge::read(&seg);
    let e = frames
        .iter_mut()
        .find(|f| f.kind == b'E')
        .expect("an E frame");
    e.payload[82 + 5] ^= 0x40;
    crate::proofs::forge::write(&seg, &head, &frames);
    let p = python(&["archive", a]);
    assert_eq!(p.status.code(), Some(1), "{}", text(&p));
    let v = mailseal(&["verify"]);
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
}

#[test]
fn with_encryption_off_new_contents_are_stored_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let (mut daemon, journal, archive) = start(dir.path(), "encrypt = false");
    let eml = dir.path().join("m.eml");
    std::fs::write(&eml, message()).unwrap();
    assert!(smtplib_send(journal, SENDER, RCPT, &eml).starts_with("250"));
    daemon.stop();
    let seg = std::fs::read(archive.join("segments/000000000001.seg")).unwrap();
    assert!(contains(&seg, RCPT.as_bytes()));
    assert!(!archive.join("keys").exists() && !archive.join("master.key").exists());
    let p = expect(
        &python(&["archive", archive.to_str().unwrap()]),
        0,
        "python",
    );
    assert!(!p.contains("encrypted:"), "{p}");
}

#[test]
fn the_master_key_rotates_through_the_running_daemon_and_every_message_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let (mut daemon, journal, archive) = start(dir.path(), "");
    let eml = dir.path().join("m.eml");
    std::fs::write(&eml, message()).unwrap();
    assert!(smtplib_send(journal, SENDER, RCPT, &eml).starts_with("250"));
    let old_master = std::fs::read(archive.join("master.key")).unwrap();
    let old_store = std::fs::read(archive.join("keys/store")).unwrap();

    let o = daemon.cli(&["key", "rotate-master"]);
    let t = expect(&o, 0, "key rotate-master");
    assert!(t.contains("2 data keys re-wrapped"), "{t}");
    let new_master = std::fs::read(archive.join("master.key")).unwrap();
    assert_ne!(new_master, old_master);
    assert_ne!(
        std::fs::read(archive.join("keys/store")).unwrap(),
        old_store
    );
    assert!(!archive.join("master.key.new").exists() && !archive.join("keys/store.new").exists());

    // Mail before and after the rotation reads back; nothing was re-encrypted.
    let before: Vec<u8> = std::fs::read(archive.join("segments/000000000001.seg")).unwrap();
    assert!(smtplib_send(journal, SENDER, RCPT, &eml).starts_with("250"));
    for id in ["1", "2"] {
        let raw = daemon.cli(&["show", id, "--raw"]);
        expect(&raw, 0, "show --raw after the rotation");
        assert_eq!(raw.stdout, message().as_bytes(), "record {id}");
    }
    daemon.stop();
    let after = std::fs::read(archive.join("segments/000000000001.seg")).unwrap();
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "segments are never rewritten"
    );

    // The old master key no longer opens the store; the new one opens all.
    let a = archive.to_str().unwrap();
    let old = dir.path().join("old.key");
    std::fs::write(&old, &old_master).unwrap();
    let p = python(&["archive", a, "--master-key", old.to_str().unwrap()]);
    assert_eq!(p.status.code(), Some(1), "{}", text(&p));
    let master = archive.join("master.key");
    let p = expect(
        &python(&["archive", a, "--master-key", master.to_str().unwrap()]),
        0,
        "python with the new master key",
    );
    assert!(p.contains("decrypted: 1 contents"), "{p}");
}
