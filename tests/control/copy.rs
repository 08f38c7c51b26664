//! `--archive DIR` on a copy while the daemon runs: the reading commands
//! work from the copy's files, nothing reaches the daemon, commands that
//! would write are refused, and not one byte of the copy changes.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Lab, inputs, listed, sha256_hex, text};

/// Every file under `dir` with the hash of its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path.clone());
            }
            let key = path.strip_prefix(dir).unwrap().display().to_string();
            let value = match path.is_file() {
                true => sha256_hex(&std::fs::read(&path).unwrap()),
                false => "dir".to_owned(),
            };
            files.insert(key, value);
        }
    }
    files
}

#[test]
fn a_copy_is_read_without_the_daemon_and_never_written() {
    let lab = Lab::start();
    let (_, [eml, mbox, _]) = inputs(lab.dir.path());
    lab.ok(&["import", "eml", eml.to_str().unwrap()]);
    lab.ok(&["import", "mbox", mbox.to_str().unwrap()]);
    let records = listed(&lab.ok(&["list", "--json"]));
    assert_eq!(records.len(), 3);

    // The auditor's copy, taken while the daemon is idle.
    let copy = lab.path("copy");
    let cp = std::process::Command::new("cp")
        .arg("-a")
        .arg(lab.path("archive"))
        .arg(&copy)
        .output()
        .unwrap();
    assert!(cp.status.success(), "{}", text(&cp));
    let before = snapshot(&copy);
    let asked = |cmd| lab.requests(cmd);
    let counts: Vec<usize> = ["list", "show", "show-raw", "stats", "export"]
        .into_iter()
        .map(asked)
        .collect();

    // The daemon's own configuration is given too: --archive still never
    // uses its socket.
    let on_copy = |args: &[&str]| {
        let mut all = vec!["--archive", copy.to_str().unwrap()];
        all.extend_from_slice(args);
        lab.cli(&all)
    };
    let o = on_copy(&["list", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(listed(&o), records);
    for record in &records {
        let o = on_copy(&["show", &record["seq"].to_string(), "--raw"]);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(sha256_hex(&o.stdout), record["sha256"].as_str().unwrap());
    }
    let o = on_copy(&["show", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = on_copy(&["stats", "--json"]);
    let stats: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(stats["messages"], 3, "{}", text(&o));
    let out = lab.path("audit-export");
    let o = on_copy(&["export", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    super::check_export(&out, &records);
    let o = on_copy(&["verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    for write in [
        vec!["import", "eml", eml.to_str().unwrap()],
        vec!["reindex"],
    ] {
        let o = on_copy(&write);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("read-only"), "{}", text(&o));
    }

    assert_eq!(snapshot(&copy), before, "the copy changed");
    // Every request the daemon logged was logged before its answer, so
    // none can still be on its way: the copy's commands never reached it.
    let after: Vec<usize> = ["list", "show", "show-raw", "stats", "export"]
        .into_iter()
        .map(asked)
        .collect();
    assert_eq!(after, counts, "{}", lab.daemon.log());
    assert_eq!(listed(&lab.ok(&["list", "--json"])), records);
}
