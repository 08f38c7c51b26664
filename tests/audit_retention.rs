//! The audit records' own retention (issue 15): who changed or looked at
//! what, from where and with which search is sealed under a key per
//! calendar year, so no file under the archive directory names them; once
//! the year is past `audit_years`, `mailseal purge` destroys that key and
//! chains an `audit-purge` record, and every verifier still passes with
//! and without the master key.
//!
//! The records of an earlier year are written by the real binary under
//! libfaketime (`faketime`, installed by `.ci/install-deps`): `mailseal
//! user add` without a daemon writes its own `user-change` audit record.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::files::holding;
use crate::support::verifiers::{all_verifiers_pass, expect, live_keys, mailseal_with, text};

const PASSWORD: &str = "correct horse battery";

/// Names only the sealed `detail` of an audit record carries.
const PAST: [&str; 2] = ["erika.mustermann", "hans.beispiel"];
const NOW: &str = "karla.gegenwart";

fn config(dir: &Path, audit_years: u32) -> PathBuf {
    let path = dir.join("mailseal.toml");
    let text = format!(
        "[archive]\npath = {:?}\n[web]\nusers_file = {:?}\n[http]\nenabled = false\n\
         [retention]\npurge = \"off\"\naudit_years = {audit_years}\n\
         [[retention.rule]]\nname = \"letters\"\nyears = 6\n",
        dir.join("archive").display().to_string(),
        dir.join("users.toml").display().to_string(),
    );
    let text = crate::support::daemon::with_control(&path, text);
    std::fs::write(&path, text).unwrap();
    path
}

/// `mailseal user add NAME` (password on stdin), at `at` when given (a
/// libfaketime start time: the clock runs on from there).
fn add_user(config: &Path, name: &str, at: Option<&str>) -> Output {
    let mut cmd = match at {
        Some(at) => {
            let mut c = Command::new("faketime");
            c.arg("-f").arg(format!("@{at}"));
            c.arg(env!("CARGO_BIN_EXE_mailseal"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_mailseal")),
    };
    cmd.arg("--config")
        .arg(config)
        .args(["user", "add", name, "--role", "auditor"])
        .env_remove("MAILSEAL_CONFIG");
    crate::support::process::output_with_stdin(&mut cmd, &format!("{PASSWORD}\n"))
}

fn live_slots(archive: &Path) -> Vec<u64> {
    live_keys(archive).into_iter().map(|(n, _)| n).collect()
}

#[test]
fn audit_records_name_nobody_in_clear_and_lose_their_names_when_their_year_is_purged() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 2);
    let archive = dir.path().join("archive");
    expect(
        &add_user(&cfg, PAST[0], Some("2023-03-01 10:00:00")),
        0,
        "user add in 2023",
    );
    let after_first = live_slots(&archive);
    expect(
        &add_user(&cfg, PAST[1], Some("2023-11-20 16:30:00")),
        0,
        "user add in 2023",
    );
    assert_eq!(
        live_slots(&archive),
        after_first,
        "the second record of 2023 uses the year's key"
    );
    expect(&add_user(&cfg, NOW, None), 0, "user add now");
    let before_purge_slots = live_slots(&archive);
    assert_eq!(
        before_purge_slots.len(),
        after_first.len() + 1,
        "a key for this year"
    );

    // Sealed: `mailseal audit` reads them, no file holds them in clear.
    let listed = expect(&mailseal_with(&cfg, &["audit"]), 0, "audit");
    for name in PAST.iter().chain([&NOW]) {
        assert!(listed.contains(name), "{name} missing from {listed}");
        assert!(
            holding(&archive, name.as_bytes()).is_empty(),
            "{name} readable in {:?}",
            holding(&archive, name.as_bytes())
        );
    }
    all_verifiers_pass(&cfg, &archive);

    // Past 2023 + 2 years: the year of 2023 is due, this year is not.
    let dry = expect(&mailseal_with(&cfg, &["purge", "--dry-run"]), 0, "dry run");
    assert!(
        dry.contains("due\taudit 2023\tkept until 2025-12-31 (2 years)"),
        "{dry}"
    );
    assert!(!dry.contains("audit 2026"), "{dry}");
    assert_eq!(
        live_slots(&archive),
        before_purge_slots,
        "a dry run destroys nothing"
    );
    let store = archive.join("keys").join("store");
    let before_purge = std::fs::read(&store).unwrap();
    let year_key = live_keys(&archive)
        .into_iter()
        .find(|(n, _)| *n == after_first[after_first.len() - 1])
        .unwrap()
        .1;
    let done = expect(&mailseal_with(&cfg, &["purge"]), 0, "purge");
    assert!(done.contains("purged\taudit 2023"), "{done}");

    // The 2023 key is gone, the names with it; what happened stays.
    let after: Vec<u64> = live_slots(&archive);
    let gone: Vec<&u64> = before_purge_slots
        .iter()
        .filter(|s| !after.contains(s))
        .collect();
    assert_eq!(gone.len(), 1, "exactly the 2023 audit key: {gone:?}");
    assert!(holding(&archive, &year_key).is_empty());
    assert!(holding(&archive, hex::encode(year_key).as_bytes()).is_empty());
    let listed = expect(&mailseal_with(&cfg, &["audit"]), 0, "audit");
    for name in PAST {
        assert!(!listed.contains(name), "{name} still listed: {listed}");
    }
    assert!(
        listed.contains(NOW),
        "this year's record keeps its names: {listed}"
    );
    let purged: Vec<&str> = listed.lines().filter(|l| l.contains("(purged)")).collect();
    assert_eq!(purged.len(), 2, "{listed}");
    assert!(purged.iter().all(|l| l.contains("user-change")), "{listed}");
    let py = all_verifiers_pass(&cfg, &archive);
    assert!(py.contains("purged"), "{py}");
    let verify = expect(&mailseal_with(&cfg, &["verify"]), 0, "verify");
    assert!(
        verify.contains("personal fields of 2 audit records"),
        "{verify}"
    );
    let again = expect(&mailseal_with(&cfg, &["purge"]), 0, "purge again");
    assert!(!again.contains("audit 2023"), "purged once: {again}");

    // A key store restored from before the purge brings the 2023 key back.
    // A reading command rebuilds the lost index but cannot destroy keys;
    // verify says the purge is incomplete, and the next open for writing
    // destroys the key again.
    std::fs::write(&store, &before_purge).unwrap();
    assert!(live_slots(&archive).contains(gone[0]));
    std::fs::remove_dir_all(archive.join("index")).unwrap();
    expect(&mailseal_with(&cfg, &["list"]), 0, "list");
    let o = mailseal_with(&cfg, &["verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("purge-incomplete"), "{}", text(&o));
    expect(
        &mailseal_with(&cfg, &["purge", "--dry-run"]),
        0,
        "open for writing",
    );
    assert!(!live_slots(&archive).contains(gone[0]), "destroyed again");
    all_verifiers_pass(&cfg, &archive);
}

#[test]
fn audit_years_can_grow_but_never_shrink() {
    let dir = tempfile::tempdir().unwrap();
    expect(
        &add_user(&config(dir.path(), 8), "anna", None),
        0,
        "8 years",
    );
    expect(
        &add_user(&config(dir.path(), 9), "bert", None),
        0,
        "9 years",
    );
    let cfg = config(dir.path(), 7);
    for args in [&["check-config"][..], &["purge", "--dry-run"]] {
        let o = mailseal_with(&cfg, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            text(&o).contains("audit_years would go from 9 to 7"),
            "{args:?}: {}",
            text(&o)
        );
    }
    let o = add_user(&cfg, "carl", None);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
}
