//! A mailbox with nested, non-ASCII and special-use folders: what is
//! imported, byte for byte, and what a second and a third run do.

use std::collections::BTreeMap;

use super::mailbox::{self, Snapshot, append, archived, by_uid, create, origin, snapshot};
use super::{Lab, messages};

/// Folders imported by default, and how many messages each gets.
const FOLDERS: [(&str, usize); 5] = [
    ("INBOX", 150),
    ("Projects/2024", 60),
    ("Projects/2024/Q1", 20),
    ("Geschäft", 20),
    ("Sent", 20),
];

/// Fills the folders (plus 10 drafts); message 0 of INBOX is also stored in
/// `Projects/2024/Q1`, so one content is a duplicate.
fn fill(lab: &Lab) {
    for folder in ["Projects/2024", "Projects/2024/Q1", "Geschäft"] {
        create(&lab.dovecot, folder);
    }
    let mut first = 0;
    for (folder, n) in FOLDERS {
        let mut batch = messages(first, n);
        if folder == "Projects/2024/Q1" {
            batch[0] = messages(0, 1).remove(0);
        }
        append(&lab.dovecot, folder, &batch);
        first += 1000;
    }
    append(&lab.dovecot, "Drafts", &messages(9000, 10));
}

/// The server's messages as the archive should hold them.
fn expected(s: &Snapshot) -> BTreeMap<(u32, u32), Vec<u8>> {
    s.messages
        .iter()
        .map(|(uid, (_, bytes))| ((s.uidvalidity, *uid), bytes.clone()))
        .collect()
}

/// UID to flags.
fn flags(s: &Snapshot) -> BTreeMap<u32, Vec<String>> {
    s.messages
        .iter()
        .map(|(uid, (flags, _))| (*uid, flags.clone()))
        .collect()
}

#[test]
fn imports_every_folder_byte_exact_and_leaves_flags_alone() {
    let Some(lab) = Lab::start() else { return };
    fill(&lab);
    let before: Vec<Snapshot> = FOLDERS
        .iter()
        .map(|(f, _)| snapshot(&lab.dovecot, f))
        .collect();
    let drafts = snapshot(&lab.dovecot, "Drafts");
    assert!(
        before[0]
            .messages
            .values()
            .any(|(f, _)| f.contains(&"\\Seen".to_owned())),
        "some messages are seen"
    );

    let out = lab.import(&[]);
    assert!(
        out.contains("5 folders, 270 fetched, 270 archived (1 already stored)"),
        "{out}"
    );
    let records = archived(&lab.archive());
    assert_eq!(records.len(), 270);
    for ((folder, n), snap) in FOLDERS.iter().zip(&before) {
        let got = by_uid(&records, &origin(folder));
        assert_eq!(got.len(), *n, "{folder}");
        assert!(
            got == expected(snap),
            "{folder}: archived bytes differ from Dovecot's"
        );
    }
    assert!(
        by_uid(&records, &origin("Drafts")).is_empty(),
        "\\Drafts is skipped"
    );
    assert!(records.iter().all(|r| r.context.kind == "imap"));

    // EXAMINE and BODY.PEEK[] left every flag (and every byte) as it was.
    for ((folder, _), snap) in FOLDERS.iter().zip(&before) {
        let now = snapshot(&lab.dovecot, folder);
        assert_eq!(flags(&now), flags(snap), "{folder}: flags changed");
        assert!(&now == snap, "{folder} changed");
    }

    // A second run finds nothing new.
    let out = lab.import(&[]);
    assert!(out.contains("0 fetched, 0 archived"), "{out}");

    // New messages: exactly those are imported.
    append(&lab.dovecot, "INBOX", &messages(20_000, 7));
    append(&lab.dovecot, "Geschäft", &messages(21_000, 3));
    let out = lab.import(&[]);
    assert!(
        out.contains("10 fetched, 10 archived (0 already stored)"),
        "{out}"
    );
    let records = archived(&lab.archive());
    for folder in ["INBOX", "Geschäft"] {
        let got = by_uid(&records, &origin(folder));
        assert!(got == expected(&snapshot(&lab.dovecot, folder)), "{folder}");
    }

    // Special-use folders on request.
    let out = lab.import(&["--include-special-use"]);
    assert!(out.contains("10 fetched, 10 archived"), "{out}");
    let records = archived(&lab.archive());
    assert!(by_uid(&records, &origin("Drafts")) == expected(&drafts));
    assert_eq!(records.len(), 290);
    lab.verify();
}

#[test]
fn folder_patterns_pick_folders_by_their_decoded_names() {
    let Some(lab) = Lab::start() else { return };
    let folders = [
        "Projects",
        "Projects/2024",
        "Projects/2024/Q1",
        "Geschäft",
        "Geschäftlich",
    ];
    for (i, folder) in folders.into_iter().enumerate() {
        create(&lab.dovecot, folder);
        append(&lab.dovecot, folder, &messages(30_000 + i * 10, 2));
    }
    append(&lab.dovecot, "INBOX", &messages(50_000, 2));
    let folders_of = |extra: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        let out = lab.import_command_to(dir.path(), extra).output().unwrap();
        assert!(out.status.success(), "{}", super::text(&out));
        let mut names: Vec<String> = mailbox::archived(dir.path())
            .iter()
            .map(|r| {
                r.context
                    .origin
                    .rsplit_once("127.0.0.1/")
                    .unwrap()
                    .1
                    .to_owned()
            })
            .collect();
        names.dedup();
        names.sort();
        names.dedup();
        names
    };
    assert_eq!(folders_of(&["--folder", "Projects/%"]), ["Projects/2024"]);
    assert_eq!(
        folders_of(&["--folder", "Projects/*", "--exclude", "*/Q1"]),
        ["Projects/2024"]
    );
    assert_eq!(folders_of(&["--folder", "Gesch*ft"]), ["Geschäft"]);
    assert_eq!(
        folders_of(&["--folder", "inbox", "--folder", "*lich"]),
        ["Geschäftlich", "INBOX"]
    );
}

#[test]
fn large_messages_come_in_slices_byte_exact_in_bounded_memory() {
    let Some(lab) = Lab::start() else { return };
    // 48 MiB exactly (a whole number of slices) and 17 MB; random bytes in
    // base64 lines, as attachments are.
    let big = |len: usize, seed: u64| {
        let mut m = format!("From: big@example.com\r\nSubject: big {seed}\r\n\r\n").into_bytes();
        let mut n = seed;
        while m.len() < len {
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let line: String = (0..76)
                .map(|k| (b'A' + ((n >> (k % 58)) as u8 % 26)) as char)
                .collect();
            m.extend_from_slice(line.as_bytes());
            m.extend_from_slice(b"\r\n");
        }
        m.truncate(len);
        m
    };
    append(
        &lab.dovecot,
        "INBOX",
        &[(big(48 << 20, 1), ""), (big(17_000_000, 2), "\\Seen")],
    );
    let server = snapshot(&lab.dovecot, "INBOX");
    // The same command importing nothing shows the baseline (a debug build
    // and sled take tens of MB before the first message).
    let empty = lab.dir.path().join("empty");
    let (baseline, _) = peak_rss(lab.import_command_to(&empty, &["--folder", "none"]));
    let (peak, out) = peak_rss(lab.import_command(&[]));
    assert!(out.contains("2 fetched, 2 archived"), "{out}");
    let got = by_uid(&archived(&lab.archive()), &origin("INBOX"));
    assert!(
        got == expected(&server),
        "large messages archived byte-exact"
    );
    if let (Some(baseline), Some(peak)) = (baseline, peak) {
        assert!(
            peak < baseline + 24 * 1024,
            "peak RSS {peak} kB (baseline {baseline} kB) for a 48 MiB message"
        );
    }
}

/// Runs `command` under `/usr/bin/time` when it exists: peak RSS in kB and
/// the output; the command must succeed.
fn peak_rss(command: std::process::Command) -> (Option<u64>, String) {
    let time = std::path::Path::new("/usr/bin/time");
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut run = command;
    if time.exists() {
        let mut timed = std::process::Command::new(time);
        timed.arg("-f").arg("%M").arg("-o").arg(report.path());
        timed.arg(run.get_program()).args(run.get_args());
        timed.env_remove("MAILSEAL_CONFIG");
        run = timed;
    }
    let out = run.output().unwrap();
    assert!(out.status.success(), "{}", super::text(&out));
    let kb = std::fs::read_to_string(report.path())
        .ok()
        .and_then(|t| t.trim().parse().ok());
    (kb, super::text(&out))
}
