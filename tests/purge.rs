//! Deletion that keeps the archive provable (issue 15): `mailseal purge`
//! destroys the keys of what is past its keep-until and not held, chains a
//! tombstone, and takes the message out of the sled and search indexes, so
//! no file under the archive directory still holds its text, its addresses
//! or its keys, while all three verifiers pass with and without the master
//! key. Holds keep mail; early deletion needs a data officer other than
//! the requester; kill -9 in the middle of a purge loses nothing that
//! should stay and leaves no key half destroyed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::daemon::{Daemon, with_control};
use crate::support::files::holding;
use crate::support::smtp::{free_port, smtplib_send};
use crate::support::verifiers::{all_verifiers_pass, expect, live_keys, mailseal_with, text};

const RULES: &str = "[retention]\npurge = \"off\"\nkey_backup_max_age = \"14d\"\n\
                     [[retention.rule]]\nname = \"letters\"\nyears = 6\n";

/// A message dated in 2013: kept until the end of 2019, so due now.
fn old_message(n: u32) -> String {
    format!(
        "From: Ilse <ilse{n}@example.com>\r\nTo: Gustav <gustav{n}@example.org>\r\n\
         Date: Fri, 01 Mar 2013 08:00:00 +0100\r\nSubject: Quartalsbilanz{n} vertraulich\r\n\
         Message-ID: <old-{n}@example.com>\r\n\r\nZebracorn{n} bitte pruefen.\r\n"
    )
}

fn config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("mailseal.toml");
    let http = if extra.contains("[http]") {
        ""
    } else {
        "[http]\nenabled = false\n"
    };
    let text = format!(
        "[archive]\npath = {:?}\n[web]\nusers_file = {:?}\n{http}{extra}\n{RULES}",
        dir.join("archive").display().to_string(),
        dir.join("users.toml").display().to_string(),
    );
    std::fs::write(&path, with_control(&path, text)).unwrap();
    path
}

fn mailseal(config: &Path, args: &[&str]) -> Output {
    mailseal_with(config, args)
}

/// `mailseal ARGS` with `stdin` on standard input (a password).
fn mailseal_in(config: &Path, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailseal"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("MAILSEAL_CONFIG");
    crate::support::process::output_with_stdin(&mut cmd, &format!("{stdin}\n"))
}

fn import(config: &Path, dir: &Path, messages: &[(String, String)]) {
    let mut paths = Vec::new();
    for (name, text) in messages {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        paths.push(p.display().to_string());
    }
    let mut args = vec!["import", "eml"];
    args.extend(paths.iter().map(String::as_str));
    expect(&mailseal(config, &args), 0, "import");
}

fn show(config: &Path, id: u64) -> serde_json::Value {
    let o = mailseal(config, &["show", &id.to_string()]);
    expect(&o, 0, "show");
    let t = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("show printed no JSON ({e}): {t}"))
}

/// Every live key of the key store, unwrapped with the master key.
#[test]
fn a_purge_leaves_no_trace_of_the_message_keeps_held_mail_and_every_verifier_passes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let archive = dir.path().join("archive");
    import(
        &cfg,
        dir.path(),
        &[
            ("old1.eml".into(), old_message(1)),
            ("old2.eml".into(), old_message(2)),
            (
                "new.eml".into(),
                "From: neu@example.com\r\nTo: x@example.org\r\nDate: Mon, 01 Dec 2025 08:00:00 +0100\r\n\
                 Subject: neu\r\n\r\nnoch lange aufzubewahren\r\n"
                    .into(),
            ),
        ],
    );
    // Record 1 is the rules; 2 and 3 are due, 4 is kept until 2031.
    let hold = mailseal(
        &cfg,
        &[
            "hold",
            "add",
            "--case",
            "BP-2026-7",
            "--reason",
            "Betriebspruefung",
            "--query",
            "Quartalsbilanz2",
        ],
    );
    expect(&hold, 0, "hold add --query");
    let holds = expect(&mailseal(&cfg, &["hold", "list", "--json"]), 0, "hold list");
    assert!(
        holds.contains("\"records\":[3]") && holds.contains("BP-2026-7"),
        "{holds}"
    );

    // Before: the index knows the message, and the search index finds it.
    let found = expect(&mailseal(&cfg, &["search", "Zebracorn1"]), 0, "search");
    assert!(found.contains("Quartalsbilanz1"), "{found}");
    assert!(
        !holding(&archive, b"ilse1@example.com").is_empty(),
        "the test would prove nothing"
    );
    let shown = show(&cfg, 2);
    let record_slot = shown["record"]["body"]["sealed"]["slot"].as_u64().unwrap();
    let keys_before = live_keys(&archive);

    let dry = expect(
        &mailseal(&cfg, &["purge", "--dry-run"]),
        0,
        "purge --dry-run",
    );
    assert!(dry.contains("due\t2\tretention"), "{dry}");
    assert!(dry.contains("kept\t3\theld (case BP-2026-7)"), "{dry}");
    assert!(dry.contains("1 due, 1 kept, 1 not yet due"), "{dry}");
    expect(
        &mailseal(&cfg, &["verify"]),
        0,
        "nothing changed by the dry run",
    );

    let done = expect(&mailseal(&cfg, &["purge"]), 0, "purge");
    assert!(done.contains("1 purged (2 keys destroyed)"), "{done}");

    // The tombstone names what went, and why.
    let tomb = show(&cfg, 6);
    let body = &tomb["record"]["body"];
    assert_eq!(body["type"], "tombstone", "{tomb}");
    assert_eq!(body["of"], 2);
    assert_eq!(body["rule"], "letters");
    assert_eq!(body["keep_until"], "2019-12-31");
    assert_eq!(body["reason"], "retention");
    let slots: Vec<u64> = body["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect();
    assert!(slots.contains(&record_slot) && slots.len() == 2, "{tomb}");

    // Nothing under the archive directory holds its text, its addresses
    // or its keys (raw or in hex); the key store lost them for good.
    for secret in [
        "Zebracorn1",
        "Quartalsbilanz1",
        "ilse1@example.com",
        "gustav1@example.org",
        "old-1@example.com",
    ] {
        let left = holding(&archive, secret.as_bytes());
        assert!(left.is_empty(), "{secret} is still in {left:?}");
    }
    let store = mailseal::keystore::KeyStore::open_read_only(&archive, &archive.join("master.key"))
        .unwrap();
    for &n in &slots {
        assert!(matches!(
            store.get(n).unwrap(),
            mailseal::keystore::SlotState::Destroyed
        ));
    }
    let purged_keys: Vec<[u8; 32]> = keys_before
        .iter()
        .filter(|(n, _)| slots.contains(n))
        .map(|(_, k)| *k)
        .collect();
    assert_eq!(purged_keys.len(), 2, "both keys were live before");
    for key in &purged_keys {
        assert!(
            holding(&archive, key).is_empty(),
            "a destroyed key is still on disk"
        );
        assert!(holding(&archive, hex::encode(key).as_bytes()).is_empty());
    }

    let stats = expect(&mailseal(&cfg, &["stats"]), 0, "stats");
    assert!(
        stats.contains("1 live") && stats.contains("1 held") && stats.contains("1 purged"),
        "{stats}"
    );
    let list = expect(&mailseal(&cfg, &["list"]), 0, "list");
    assert!(list.contains("(purged on"), "{list}");

    // The held message and the young one are untouched.
    let held = mailseal(&cfg, &["show", "3", "--raw"]);
    assert_eq!(expect(&held, 0, "show --raw of held mail"), old_message(2));

    // show, export and search say what happened.
    let purged = show(&cfg, 2);
    assert_eq!(
        purged["purged"],
        format!("purged on {} under rule letters", today())
    );
    assert!(purged["record"]["body"]["mail_from"].is_null());
    let raw = mailseal(&cfg, &["show", "2", "--raw"]);
    assert_ne!(raw.status.code(), Some(0));
    assert!(text(&raw).contains("purged on"), "{}", text(&raw));
    let out = dir.path().join("export");
    let e = expect(
        &mailseal(&cfg, &["export", "--out", out.to_str().unwrap()]),
        0,
        "export",
    );
    assert!(e.contains("1 purged"), "{e}");
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"seq\":2,\"purged\":\"purged on"),
        "{manifest}"
    );
    assert!(!out.join("2.eml").exists() && out.join("3.eml").exists());
    let none = expect(
        &mailseal(&cfg, &["search", "Zebracorn1"]),
        0,
        "search after purge",
    );
    assert!(!none.contains("Quartalsbilanz1"), "{none}");

    let p = all_verifiers_pass(&cfg, &archive);
    assert!(p.contains("purged: 1 contents, 1 records"), "{p}");

    // Retention is lengthened as a chained record, never shortened.
    let extend = |until: &str| {
        mailseal(
            &cfg,
            &[
                "retention",
                "extend",
                "--id",
                "4",
                "--until",
                until,
                "--reason",
                "Vertrag",
            ],
        )
    };
    expect(&extend("2040-12-31"), 0, "retention extend");
    let listed = expect(&mailseal(&cfg, &["list", "--json"]), 0, "list");
    assert!(listed.contains("\"keep_until\":\"2040-12-31\""), "{listed}");
    let shorter = extend("2035-12-31");
    assert_ne!(shorter.status.code(), Some(0));
    assert!(
        text(&shorter).contains("never shortens"),
        "{}",
        text(&shorter)
    );
    let of_purged = mailseal(
        &cfg,
        &[
            "retention",
            "extend",
            "--id",
            "2",
            "--until",
            "2050-12-31",
            "--reason",
            "x",
        ],
    );
    assert_ne!(of_purged.status.code(), Some(0));

    // Released, the held message goes with the next purge.
    expect(
        &mailseal(
            &cfg,
            &[
                "hold",
                "release",
                "--case",
                "BP-2026-7",
                "--reason",
                "abgeschlossen",
            ],
        ),
        0,
        "hold release",
    );
    let done = expect(&mailseal(&cfg, &["purge"]), 0, "purge after release");
    assert!(done.contains("1 purged"), "{done}");
    // (The hold record keeps its query, the case's own words; not the
    // message's body or addresses.)
    for secret in ["Zebracorn2", "ilse2@example.com", "gustav2@example.org"] {
        let left = holding(&archive, secret.as_bytes());
        assert!(left.is_empty(), "{secret} is still in {left:?}");
    }
    let p = all_verifiers_pass(&cfg, &archive);
    assert!(p.contains("purged: 2 contents, 2 records"), "{p}");
    let dry = expect(&mailseal(&cfg, &["purge", "--dry-run"]), 0, "dry run");
    assert!(
        dry.contains("0 due, 0 kept, 1 not yet due"),
        "extended: {dry}"
    );
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

#[test]
fn a_content_two_messages_share_keeps_its_key_until_the_last_one_goes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let archive = dir.path().join("archive");
    import(&cfg, dir.path(), &[("a.eml".into(), old_message(5))]);
    // The same bytes again, from another folder: deduplicated.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    import(&cfg, &other, &[("a.eml".into(), old_message(5))]);
    let first = show(&cfg, 2);
    let second = show(&cfg, 3);
    assert_eq!(
        first["record"]["body"]["content"]["stored"], second["record"]["body"]["content"]["stored"],
        "one stored content"
    );
    expect(
        &mailseal(
            &cfg,
            &["hold", "add", "--case", "K", "--reason", "r", "--id", "3"],
        ),
        0,
        "hold",
    );
    let done = expect(&mailseal(&cfg, &["purge"]), 0, "purge");
    assert!(
        done.contains("1 purged (1 keys destroyed)"),
        "only the record key: {done}"
    );
    let raw = mailseal(&cfg, &["show", "3", "--raw"]);
    assert_eq!(expect(&raw, 0, "the other message"), old_message(5));
    all_verifiers_pass(&cfg, &archive);
    expect(
        &mailseal(&cfg, &["hold", "release", "--case", "K", "--reason", "r"]),
        0,
        "release",
    );
    let done = expect(&mailseal(&cfg, &["purge"]), 0, "purge");
    assert!(
        done.contains("1 purged (2 keys destroyed)"),
        "now the content key: {done}"
    );
    assert!(holding(&archive, b"Zebracorn5").is_empty());
    all_verifiers_pass(&cfg, &archive);
}

#[test]
fn an_early_deletion_needs_a_data_officer_other_than_the_requester() {
    let dir = tempfile::tempdir().unwrap();
    let journal: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let cfg = config(
        dir.path(),
        &format!(
            "[[journal]]\nname = \"j\"\nlisten = \"{journal}\"\n[http]\nlisten = \"{http}\"\n"
        ),
    );
    let archive = dir.path().join("archive");
    for (name, role, pw) in [
        ("alice", "auditor", "alice-secret-1"),
        ("bob", "data-officer", "bob-secret-12"),
        ("carol", "data-officer", "carol-secret-1"),
    ] {
        expect(
            &mailseal_in(&cfg, &["user", "add", name, "--role", role], pw),
            0,
            "user add",
        );
    }
    let mut daemon = Daemon::start(&cfg, journal);
    let eml = dir.path().join("m.eml");
    std::fs::write(&eml, old_message(7).replace("2013", "2026")).unwrap();
    assert!(
        smtplib_send(journal, "ilse7@example.com", "gustav7@example.org", &eml).starts_with("250")
    );
    // Live mail: kept until the end of 2032, so nothing is due. (The
    // users' audit records come before it in the chain.)
    let listed = expect(&daemon.cli(&["list", "--json"]), 0, "list");
    let id = listed
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["kind"] == "message")
        .and_then(|v| v["seq"].as_u64())
        .expect("the message is listed")
        .to_string();
    let dry = expect(&daemon.cli(&["purge", "--dry-run"]), 0, "dry run");
    assert!(dry.contains("0 due, 0 kept, 1 not yet due"), "{dry}");

    let req = mailseal_in(
        &cfg,
        &[
            "purge",
            "request",
            "--id",
            &id,
            "--reason",
            "DSGVO Art. 17",
            "--as",
            "alice",
        ],
        "alice-secret-1",
    );
    let t = expect(&req, 0, "purge request");
    let request: u64 = t.trim().rsplit(' ').next().unwrap().parse().unwrap();
    // A wrong password, the requester, and an auditor cannot approve.
    let wrong = mailseal_in(
        &cfg,
        &["purge", "approve", &request.to_string(), "--as", "bob"],
        "nope-nope-nope",
    );
    assert_ne!(wrong.status.code(), Some(0), "{}", text(&wrong));
    let own = mailseal_in(
        &cfg,
        &["purge", "approve", &request.to_string(), "--as", "alice"],
        "alice-secret-1",
    );
    assert_ne!(own.status.code(), Some(0), "{}", text(&own));
    assert!(text(&own).contains("needs data-officer"), "{}", text(&own));
    let carols = mailseal_in(
        &cfg,
        &[
            "purge", "request", "--id", &id, "--reason", "selbst", "--as", "carol",
        ],
        "carol-secret-1",
    );
    let t = expect(&carols, 0, "carol's request");
    let carols: u64 = t.trim().rsplit(' ').next().unwrap().parse().unwrap();
    // Names are matched without case at login: CAROL is carol.
    let self_approval = mailseal_in(
        &cfg,
        &["purge", "approve", &carols.to_string(), "--as", "CAROL"],
        "carol-secret-1",
    );
    assert_ne!(self_approval.status.code(), Some(0));
    assert!(
        text(&self_approval).contains("cannot approve it"),
        "{}",
        text(&self_approval)
    );
    let dry = expect(&daemon.cli(&["purge", "--dry-run"]), 0, "dry run");
    assert!(dry.contains("0 due"), "not before approval: {dry}");

    let ok = mailseal_in(
        &cfg,
        &["purge", "approve", &request.to_string(), "--as", "bob"],
        "bob-secret-12",
    );
    expect(&ok, 0, "bob approves");
    let listed = expect(&daemon.cli(&["purge", "requests"]), 0, "requests");
    assert!(listed.contains("approved by bob"), "{listed}");
    let done = expect(&daemon.cli(&["purge"]), 0, "purge through the daemon");
    assert!(
        done.contains(&format!("purged\t{id}\trequest {request}")),
        "{done}"
    );
    // The daemon's indexer takes it out of the search index.
    let mut gone = false;
    for _ in 0..50 {
        let s = expect(&daemon.cli(&["search", "Zebracorn7"]), 0, "search");
        if !s.contains("Quartalsbilanz7") {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(gone, "the search index still finds the purged message");
    let metrics = crate::support::http::request(http, "GET", "/metrics", &[], b"");
    let metrics = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(
        metrics.contains("mailseal_purged_messages_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("mailseal_purge_failed 0"), "{metrics}");
    daemon.stop();
    for secret in ["Zebracorn7", "ilse7@example.com", "gustav7@example.org"] {
        let left = holding(&archive, secret.as_bytes());
        assert!(left.is_empty(), "{secret} is still in {left:?}");
    }
    let p = all_verifiers_pass(&cfg, &archive);
    assert!(p.contains("purged: 1 contents, 1 records"), "{p}");
}

#[test]
fn kill_9_during_a_purge_loses_nothing_that_should_stay_and_no_key_is_half_destroyed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let archive = dir.path().join("archive");
    let mut batch: Vec<(String, String)> = (0..1500)
        .map(|n| (format!("o{n}.eml"), old_message(1000 + n)))
        .collect();
    batch.extend((0..40).map(|n| {
        (
            format!("n{n}.eml"),
            format!("From: neu{n}@example.com\r\nTo: x@example.org\r\nDate: Mon, 01 Dec 2025 08:00:00 +0100\r\nSubject: bleibt {n}\r\n\r\nbleibt\r\n"),
        )
    }));
    import(&cfg, dir.path(), &batch);
    let mut kills = 0;
    let mut delay = 10;
    loop {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mailseal"))
            .arg("--config")
            .arg(&cfg)
            .arg("purge")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let finished = child.try_wait().unwrap().is_some();
        if finished {
            break;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        delay += 40;
        // Whatever the kill interrupted, the key store is whole (every
        // slot's CRC checks) and the next open for writing completes any
        // tombstone whose keys were not yet destroyed.
        expect(
            &mailseal(&cfg, &["purge", "--dry-run"]),
            0,
            "open after kill -9",
        );
        expect(&mailseal(&cfg, &["verify"]), 0, "verify after kill -9");
    }
    assert!(kills > 0, "the purge was never interrupted");
    let dry = expect(
        &mailseal(&cfg, &["purge", "--dry-run"]),
        0,
        "after the purges",
    );
    assert!(dry.contains("0 due, 0 kept, 40 not yet due"), "{dry}");
    // Every message that should stay still decrypts (verify with the key
    // reads every live content), and each purged one went exactly once.
    let p = all_verifiers_pass(&cfg, &archive);
    assert!(p.contains("purged: 1500 contents, 1500 records"), "{p}");
    assert!(p.contains("decrypted: 40 contents"), "{p}");
}

#[test]
fn keys_a_restored_key_store_brings_back_are_destroyed_again_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let archive = dir.path().join("archive");
    import(&cfg, dir.path(), &[("a.eml".into(), old_message(9))]);
    let before = std::fs::read(archive.join("keys/store")).unwrap();
    expect(&mailseal(&cfg, &["purge"]), 0, "purge");
    all_verifiers_pass(&cfg, &archive);

    // A key store backup from before the purge is put back, and the index
    // is gone: a reading command rebuilds it, but cannot destroy keys.
    std::fs::write(archive.join("keys/store"), &before).unwrap();
    std::fs::remove_dir_all(archive.join("index")).unwrap();
    expect(&mailseal(&cfg, &["list"]), 0, "list");
    let v = mailseal(&cfg, &["verify"]);
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    assert!(text(&v).contains("purge-incomplete"), "{}", text(&v));
    // The next open for writing destroys them again.
    expect(
        &mailseal(&cfg, &["purge", "--dry-run"]),
        0,
        "open for writing",
    );
    all_verifiers_pass(&cfg, &archive);

    // The same after `reindex`, as docs/operations.md's restore runs it.
    std::fs::write(archive.join("keys/store"), &before).unwrap();
    expect(&mailseal(&cfg, &["reindex"]), 0, "reindex");
    all_verifiers_pass(&cfg, &archive);
}
