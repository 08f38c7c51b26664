//! Interrupted imports and changed UIDVALIDITY: every message ends up
//! archived exactly once.

use std::path::Path;
use std::time::{Duration, Instant};

use super::mailbox::{append, archived, by_uid, create, delete, origin, snapshot};
use super::{Lab, messages, text};

/// Bytes in the archive's segment files.
fn segment_bytes(archive: &Path) -> u64 {
    std::fs::read_dir(archive.join("segments"))
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Starts an import and SIGKILLs it once the segments have grown past
/// `bytes`; returns false when it finished first.
fn kill_after(lab: &Lab, bytes: u64) -> bool {
    let start = segment_bytes(&lab.archive());
    let mut child = lab
        .import_command(&["--batch-size", "25"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if segment_bytes(&lab.archive()) >= start + bytes {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        assert!(Instant::now() < deadline, "import made no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn killed_imports_resume_without_losing_or_repeating_messages() {
    let Some(lab) = Lab::start() else { return };
    // 600 messages of about 60 kB (the 1.5 MB ones left out to keep it quick).
    let batch: Vec<_> = messages(0, 600)
        .into_iter()
        .map(|(m, f)| (m[..m.len().min(60_000)].to_vec(), f))
        .collect();
    append(&lab.dovecot, "INBOX", &batch);
    let server = snapshot(&lab.dovecot, "INBOX");

    let mut partial = Vec::new();
    for bytes in [1_000_000, 3_000_000, 3_000_000] {
        if kill_after(&lab, bytes) {
            partial.push(archived(&lab.archive()).len());
        }
    }
    eprintln!("archived when killed: {partial:?}");
    assert!(
        partial.first().is_some_and(|n| *n > 0 && *n < 600),
        "the first import was killed half-way: {partial:?}"
    );

    let out = lab.import(&[]);
    let records = archived(&lab.archive());
    let got = by_uid(&records, &origin("INBOX"));
    assert_eq!(records.len(), 600, "{out} after kills at {partial:?}");
    for (uid, (_, bytes)) in &server.messages {
        assert!(
            got.get(&(server.uidvalidity, *uid)) == Some(bytes),
            "UID {uid} missing or different"
        );
    }
    lab.verify();
    assert!(lab.import(&[]).contains("0 fetched"));
}

#[test]
fn a_recreated_folder_is_rescanned_and_its_contents_deduplicated() {
    let Some(lab) = Lab::start() else { return };
    create(&lab.dovecot, "Work");
    append(&lab.dovecot, "Work", &messages(5_000, 30));
    let first = snapshot(&lab.dovecot, "Work");
    assert!(lab.import(&[]).contains("30 archived"));

    // Deleting and re-creating gives the folder a new UIDVALIDITY: its UIDs
    // now name other messages.
    delete(&lab.dovecot, "Work");
    create(&lab.dovecot, "Work");
    let mut again = messages(5_000, 30);
    again.reverse();
    again.extend(messages(5_030, 5));
    append(&lab.dovecot, "Work", &again);
    let second = snapshot(&lab.dovecot, "Work");
    assert_ne!(first.uidvalidity, second.uidvalidity);

    let out = lab.import(&[]);
    assert!(
        out.contains("35 fetched, 35 archived (30 already stored)"),
        "{out}"
    );
    let got = by_uid(&archived(&lab.archive()), &origin("Work"));
    assert_eq!(got.len(), 65, "old records stay, every new UID once");
    for snap in [&first, &second] {
        for (uid, (_, bytes)) in &snap.messages {
            assert!(
                got.get(&(snap.uidvalidity, *uid)) == Some(bytes),
                "UID {uid}"
            );
        }
    }
    assert!(lab.import(&[]).contains("0 fetched"));
    let out = lab.mailseal(&["stats"]);
    assert!(out.status.success(), "{}", text(&out));
    lab.verify();
}
