//! The command line as an admin or auditor uses it: exit codes, import and
//! export round trips, bad input.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::corpus;

fn mailseal(archive: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailseal"))
        .arg("--archive")
        .arg(archive)
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
