//! The command line as an admin or auditor uses it: exit codes, import and
//! export round trips, bad input.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{corpus, daemon};

/// Runs the CLI on `archive`: commands that write name it in a
/// configuration (`--archive` opens a copy read-only), the others use
/// `--archive`.
fn mailseal(archive: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailseal"));
    if matches!(args.first(), Some(&"import" | &"reindex")) {
        command.arg("--config").arg(daemon::archive_config(archive));
    } else {
        command.arg("--archive").arg(archive);
    }
    command
        .args(args)
        .env_remove("MAILSEAL_CONFIG")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn import_show_raw_and_verify_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("arch");
    let msgs: Vec<_> = (0..5)
        .map(|i| {
            let p = dir.path().join(format!("m{i}.eml"));
            std::fs::write(&p, corpus::message(i, 4000)).unwrap();
            p
        })
        .collect();
    let mut args = vec!["import", "eml"];
    args.extend(msgs.iter().map(|p| p.to_str().unwrap()));
    let o = mailseal(&arch, &args);
    assert!(o.status.success(), "{}", text(&o));

    for (i, p) in msgs.iter().enumerate() {
        let o = mailseal(&arch, &["show", &(i + 1).to_string(), "--raw"]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            o.stdout == std::fs::read(p).unwrap(),
            "show --raw is byte-exact"
        );
    }
    let o = mailseal(&arch, &["verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Flip one byte somewhere in the middle of the segment: exit 1.
    let seg = arch.join("segments/000000000001.seg");
    let mut b = std::fs::read(&seg).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x20;
    std::fs::write(&seg, b).unwrap();
    let o = mailseal(&arch, &["verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("FAILED: first broken place: "),
        "{}",
        text(&o)
    );

    let o = mailseal(&dir.path().join("nothing-here"), &["verify"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn stats_shows_deduplication() {
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("arch");
    let p = dir.path().join("m.eml");
    std::fs::write(&p, corpus::message(1, 30_000)).unwrap();
    for _ in 0..2 {
        let o = mailseal(&arch, &["import", "eml", p.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = mailseal(&arch, &["stats", "--json"]);
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["messages"], 2);
    assert_eq!(st["unique_contents"], 1);
    assert_eq!(
        st["message_bytes"].as_u64().unwrap(),
        2 * st["unique_bytes"].as_u64().unwrap()
    );
}

fn head(arch: &Path) -> (u64, String) {
    let o = mailseal(arch, &["stats", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    (
        st["head_seq"].as_u64().unwrap(),
        st["head_hash"].as_str().unwrap().to_string(),
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes))
}

#[test]
fn cpython_corpus_round_trips_byte_exact_through_import_and_export() {
    let corpus = corpus::cpython_messages();
    assert!(
        corpus.len() >= 40,
        "the CPython email test corpus must be installed (libpython3-testsuite)"
    );
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("arch");
    let mut args = vec!["import".to_string(), "eml".to_string()];
    args.extend(corpus.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = mailseal(&arch, &args);
    assert!(o.status.success(), "{}", text(&o));

    let out = dir.path().join("out");
    let o = mailseal(
        &arch,
        &["export", "--out", out.to_str().unwrap(), "--format", "eml"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = mailseal(&arch, &["list", "--json"]);
    let listed: Vec<serde_json::Value> = o
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(listed.len(), corpus.len());
    for (i, original) in corpus.iter().enumerate() {
        let seq = i + 1;
        let exported = std::fs::read(out.join(format!("{seq}.eml"))).unwrap();
        assert!(
            exported == std::fs::read(original).unwrap(),
            "{} differs after export",
            original.display()
        );
        assert_eq!(listed[i]["seq"], seq);
        assert_eq!(
            listed[i]["sha256"].as_str().unwrap(),
            sha256_hex(&exported),
            "record hash of {}",
            original.display()
        );
    }
    // The standard tool agrees with the manifest.
    let o = Command::new("sha256sum")
        .arg("-c")
        .arg("SHA256SUMS")
        .current_dir(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["chain_head"]["seq"], corpus.len());

    // mbox export and re-import give back the same contents (all but the
    // one message that has no final newline, which mbox cannot keep exact).
    let mbox_out = dir.path().join("mbox");
    let o = mailseal(
        &arch,
        &[
            "export",
            "--out",
            mbox_out.to_str().unwrap(),
            "--format",
            "mbox",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let arch2 = dir.path().join("arch2");
    let o = mailseal(
        &arch2,
        &[
            "import",
            "mbox",
            mbox_out.join("messages.mbox").to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = mailseal(&arch2, &["list", "--json"]);
    let relisted: Vec<serde_json::Value> = o
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(relisted.len(), corpus.len());
    let same = listed
        .iter()
        .zip(&relisted)
        .filter(|(a, b)| a["sha256"] == b["sha256"])
        .count();
    let no_final_newline = corpus
        .iter()
        .filter(|p| !std::fs::read(p).unwrap().ends_with(b"\n"))
        .count();
    assert_eq!(same, corpus.len() - no_final_newline);
}

#[test]
fn bad_input_gets_a_clear_error_and_leaves_the_archive_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("arch");
    let good = dir.path().join("good.eml");
    std::fs::write(&good, corpus::message(1, 2000)).unwrap();
    assert!(
        mailseal(&arch, &["import", "eml", good.to_str().unwrap()])
            .status
            .success()
    );
    let before = head(&arch);

    let png = dir.path().join("picture.eml");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00").unwrap();
    let empty = dir.path().join("empty.eml");
    std::fs::write(&empty, b"").unwrap();
    let truncated = dir.path().join("cut.mbox");
    std::fs::write(&truncated, b"From a@b Sun Nov 29 06:00:00 2026\nSubject: one\n\nbody\n\nFrom a@b Sun Nov 29 06:00:01 2026\nSubject: two\n\nbo").unwrap();
    let missing = dir.path().join("no-such-file.eml");
    let cases: Vec<(&str, &Path, &str)> = vec![
        ("eml", &png, "picture.eml"),
        ("eml", &empty, "empty.eml"),
        ("eml", &missing, "no-such-file.eml"),
        ("mbox", &truncated, "cut.mbox"),
    ];
    for (kind, path, name) in cases {
        let o = mailseal(&arch, &["import", kind, path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(
            text(&o).contains(name),
            "error must name the file: {}",
            text(&o)
        );
    }
    // The complete first message of the truncated mbox was imported; the cut one was not.
    let after = head(&arch);
    assert_eq!(after.0, before.0 + 1);
    let o = mailseal(&arch, &["show", &after.0.to_string(), "--raw"]);
    assert_eq!(o.stdout, b"Subject: one\n\nbody\n");

    // A 50 MB message imports and reads back exactly.
    let big = dir.path().join("big.eml");
    let bytes = corpus::message(2, 50 * 1024 * 1024);
    std::fs::write(&big, &bytes).unwrap();
    let o = mailseal(&arch, &["import", "eml", big.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = mailseal(&arch, &["show", &(after.0 + 1).to_string(), "--raw"]);
    assert!(o.stdout == bytes);
    assert_eq!(mailseal(&arch, &["verify"]).status.code(), Some(0));
}

#[test]
fn check_config_lists_every_problem_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("broken.toml");
    std::fs::write(
        &cfg,
        "[archive]\npath = \"./data\"\nseal_interval = \"five minutes\"\nfrobnicate = 1\n\n\
         [[journal]]\nname = \"j\"\nlisten = \"127.0.0.1:notaport\"\n\
         tls_cert = \"/nonexistent/cert.pem\"\ntls_key = \"/nonexistent/key.pem\"\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_mailseal"))
        .args(["check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    for key in [
        "archive.seal_interval",
        "frobnicate",
        "journal[0].listen",
        "journal[0].tls_cert",
    ] {
        assert!(t.contains(key), "missing problem for {key}:\n{t}");
    }
    let ok = Command::new(env!("CARGO_BIN_EXE_mailseal"))
        .args([
            "check-config",
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/mailseal.toml"),
        ])
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    // `run` refuses a broken config with exit 2 too (systemd must not restart-loop).
    let o = Command::new(env!("CARGO_BIN_EXE_mailseal"))
        .args(["run", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// Runs `mailseal --archive ARCH user --users-file FILE ARGS` with `stdin`.
fn user_cmd(archive: &Path, users: &Path, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailseal"));
    cmd.arg("--archive")
        .arg(archive)
        .arg("user")
        .arg("--users-file")
        .arg(users)
        .args(args)
        .env_remove("MAILSEAL_CONFIG");
    crate::support::process::output_with_stdin(&mut cmd, stdin)
}

#[test]
fn user_changes_are_audit_records_before_they_take_effect() {
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("arch");
    let users = dir.path().join("users.toml");
    let o = user_cmd(
        &arch,
        &users,
        &[
            "add",
            "anna",
            "--role",
            "auditor",
            "--domain",
            "Corp.Example",
            "--four-eyes",
        ],
        "correct horse battery\n",
    );
    assert!(o.status.success(), "{}", text(&o));
    let file = std::fs::read_to_string(&users).unwrap();
    assert!(
        file.contains("$argon2id$") && !file.contains("horse"),
        "{file}"
    );
    assert!(file.contains("corp.example") && file.contains("four_eyes = true"));

    let o = user_cmd(&arch, &users, &["add", "bob", "--role", "nobody"], "x\n");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = user_cmd(
        &arch,
        &users,
        &["add", "anna", "--role", "user"],
        "another password\n",
    );
    assert_eq!(o.status.code(), Some(2), "a second anna: {}", text(&o));
    let o = user_cmd(&arch, &users, &["passwd", "anna"], "short\n");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = user_cmd(&arch, &users, &["disable", "anna"], "");
    assert!(o.status.success(), "{}", text(&o));
    let o = user_cmd(&arch, &users, &["list"], "");
    assert!(
        text(&o).contains("anna\tauditor\tlocal\tdisabled"),
        "{}",
        text(&o)
    );

    // Two changes, two audit records naming the Unix user; the chain verifies.
    let o = mailseal(&arch, &["verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let archive = mailseal::archive::Archive::open_dir(&arch).unwrap();
    let reader = archive.reader();
    let audits: Vec<_> = reader
        .summaries()
        .unwrap()
        .into_iter()
        .filter(|s| s.kind == "audit")
        .map(|s| reader.record(s.seq).unwrap().0)
        .collect();
    archive.close().unwrap();
    assert_eq!(audits.len(), 2);
    for (r, want) in audits
        .iter()
        .zip(["added anna as auditor", "disabled anna"])
    {
        assert_eq!(r.format, 2);
        let mailseal::archive::record::RecordBody::Audit(e) = &r.body else {
            panic!("not an audit body");
        };
        assert_eq!((e.action.as_str(), e.via.as_str()), ("user-change", "cli"));
        assert!(e.actor.contains("uid "), "{}", e.actor);
        assert!(e.detail.as_deref().unwrap().starts_with(want));
    }
    let o = mailseal(&arch, &["verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
