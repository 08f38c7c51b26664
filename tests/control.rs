//! The CLI with `mailseal run` running: every command that reads mail or
//! writes to the archive goes through the daemon's control socket (the
//! daemon logs a `control request` with the command and the caller's uid
//! for each), the same commands work on their own once it stops, an
//! auditor's copy (`--archive`) is never written and never reaches the
//! daemon, a user outside the socket's group is told which group to join,
//! and garbage on the socket gets an error frame.

mod copy;
mod hostile;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::support::corpus;
use crate::support::daemon::{self, Daemon};
use crate::support::smtp::free_port;

/// A daemon on a fresh archive, with a journal listener (which start-up
/// waits for) and its own control socket.
struct Lab {
    /// Holds everything.
    dir: tempfile::TempDir,
    /// The configuration file.
    config: PathBuf,
    /// The running daemon (stopped by the tests that need that).
    daemon: Daemon,
    /// Its journal listener, which start-up waits for.
    listen: SocketAddr,
}

impl Lab {
    fn start() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("mailseal.toml");
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let text = format!(
            "[archive]\npath = {:?}\n\n[[journal]]\nname = \"journal\"\nlisten = \"{listen}\"\n\n\
             [http]\nenabled = false\n",
            dir.path().join("archive").display().to_string()
        );
        std::fs::write(&config, daemon::with_control(&config, text)).unwrap();
        let daemon = Daemon::start(&config, listen);
        Lab {
            dir,
            config,
            daemon,
            listen,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn socket(&self) -> PathBuf {
        self.path("control.sock")
    }

    /// `mailseal --config CONFIG args`, daemon or not.
    fn cli(&self, args: &[&str]) -> Output {
        self.daemon.cli(args)
    }

    /// Like [`Lab::cli`], and it must succeed.
    fn ok(&self, args: &[&str]) -> Output {
        let out = self.cli(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        out
    }

    /// How many `control request` lines for `cmd` the daemon logged.
    fn requests(&self, cmd: &str) -> usize {
        let wanted = format!("cmd=\"{cmd}\" uid=0");
        self.daemon
            .log()
            .lines()
            .filter(|l| l.contains("control request") && l.contains(&wanted))
            .count()
    }

    /// Waits until the daemon logged `n` requests for `cmd`.
    fn wait_for_requests(&self, cmd: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.requests(cmd) < n {
            assert!(
                Instant::now() < deadline,
                "{n} control requests for {cmd} expected:\n{}",
                self.daemon.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// stdout and stderr.
fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The name of the Unix user running the tests.
fn whoami() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `list --json` as parsed objects.
fn listed(out: &Output) -> Vec<serde_json::Value> {
    out.stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

/// An `.eml` file, an mbox with two messages and a Maildir with one in
/// `new/` and one in `cur/`: six messages, all different.
fn inputs(dir: &Path) -> (Vec<Vec<u8>>, [PathBuf; 3]) {
    let messages: Vec<Vec<u8>> = (0..6)
        .map(|i| corpus::message(100 + i, 3000 + 997 * i))
        .collect();
    let eml = dir.join("in-1.eml");
    std::fs::write(&eml, &messages[0]).unwrap();
    let eml2 = dir.join("in-2.eml");
    std::fs::write(&eml2, &messages[1]).unwrap();
    let mbox = dir.join("in.mbox");
    let mut text = Vec::new();
    for m in &messages[2..4] {
        text.extend_from_slice(b"From sender@example.com Sat Jan  3 01:05:34 2026\n");
        text.extend_from_slice(m);
        text.extend_from_slice(b"\n");
    }
    std::fs::write(&mbox, text).unwrap();
    let maildir = dir.join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    std::fs::write(maildir.join("new/1.host"), &messages[4]).unwrap();
    std::fs::write(maildir.join("cur/2.host:2,S"), &messages[5]).unwrap();
    (messages, [eml, mbox, maildir])
}

#[test]
fn every_command_goes_through_the_daemon_and_works_without_it() {
    let mut lab = Lab::start();
    let (messages, [eml, mbox, maildir]) = inputs(lab.dir.path());
    let eml2 = lab.path("in-2.eml");
    let p = |p: &Path| p.to_str().unwrap().to_owned();

    lab.ok(&["import", "eml", &p(&eml), &p(&eml2)]);
    lab.ok(&["import", "mbox", &p(&mbox)]);
    let o = lab.ok(&["import", "maildir", &p(&maildir)]);
    assert!(text(&o).contains("2 imported"), "{}", text(&o));
    lab.wait_for_requests("import", 3);

    // Every imported message is listed, with the hash of its bytes.
    let records = listed(&lab.ok(&["list", "--json"]));
    assert_eq!(records.len(), 6, "{records:?}");
    let mut hashes: Vec<String> = records
        .iter()
        .map(|r| r["sha256"].as_str().unwrap().to_owned())
        .collect();
    hashes.sort();
    let mut expected: Vec<String> = messages.iter().map(|m| sha256_hex(m)).collect();
    expected.sort();
    assert_eq!(hashes, expected);
    lab.wait_for_requests("list", 1);

    // show --raw is byte-exact against the archived hash; show names it.
    for record in &records {
        let id = record["seq"].to_string();
        let raw = lab.ok(&["show", &id, "--raw"]).stdout;
        assert_eq!(sha256_hex(&raw), record["sha256"].as_str().unwrap());
        let shown: serde_json::Value =
            serde_json::from_slice(&lab.ok(&["show", &id]).stdout).unwrap();
        assert_eq!(shown["hash"], record["hash"]);
        assert_eq!(
            shown["record"]["body"]["content"]["sha256"],
            record["sha256"]
        );
    }
    lab.wait_for_requests("show-raw", 6);
    lab.wait_for_requests("show", 6);

    let stats: serde_json::Value =
        serde_json::from_slice(&lab.ok(&["stats", "--json"]).stdout).unwrap();
    assert_eq!(stats["messages"], 6);
    assert_eq!(stats["by_source"]["import"]["messages"], 6);
    lab.wait_for_requests("stats", 1);

    let out = lab.path("export");
    lab.ok(&["export", "--out", &p(&out)]);
    check_export(&out, &records);
    lab.wait_for_requests("export", 1);

    // Each read through the daemon is a sealed audit record naming the
    // Unix user, written before the answer: the export's record is the
    // chain head its manifest names. Listing the trail is recorded too.
    let trail = listed(&lab.ok(&["audit", "--json"]));
    let me = whoami();
    let count = |action: &str| {
        trail
            .iter()
            .filter(|r| r["event"]["action"] == action)
            .inspect(|r| {
                assert_eq!(r["event"]["via"], "cli", "{r}");
                assert_eq!(r["event"]["actor"], me.as_str(), "{r}");
            })
            .count()
    };
    let counts = [
        count("search"),
        count("view"),
        count("download"),
        count("export"),
        count("audit-read"),
    ];
    assert_eq!(counts, [1, records.len(), records.len(), 1, 1], "{trail:?}");
    let viewed: Vec<&serde_json::Value> = trail
        .iter()
        .filter(|r| r["event"]["action"] == "view")
        .map(|r| &r["event"]["records"][0])
        .collect();
    assert_eq!(
        viewed,
        records.iter().map(|r| &r["seq"]).collect::<Vec<_>>()
    );
    let export = trail
        .iter()
        .find(|r| r["event"]["action"] == "export")
        .unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["chain_head"]["seq"], export["seq"]);
    let mine = listed(&lab.ok(&["audit", "--json", "--user", &me]));
    assert_eq!(mine.len(), trail.len() + 1);
    assert!(listed(&lab.ok(&["audit", "--json", "--user", "nobody-here"])).is_empty());

    let o = lab.ok(&["reindex"]);
    // The messages, the trail as listed last, and that last listing's own record.
    let held = records.len() + mine.len() + 1;
    assert!(
        text(&o).contains(&format!("index rebuilt: {held} records")),
        "{}",
        text(&o)
    );
    lab.wait_for_requests("reindex", 1);
    // The rebuilt index answers the same.
    assert_eq!(listed(&lab.ok(&["list", "--json"])), records);
    // verify reads the files itself, while the daemon runs too.
    lab.ok(&["verify"]);

    // Stopped: the socket is gone and the same commands read the files.
    lab.daemon.stop();
    assert!(!lab.socket().exists(), "the daemon left its socket behind");
    assert_eq!(listed(&lab.ok(&["list", "--json"])), records);
    for record in &records {
        let raw = lab
            .ok(&["show", &record["seq"].to_string(), "--raw"])
            .stdout;
        assert_eq!(sha256_hex(&raw), record["sha256"].as_str().unwrap());
    }
    let stats: serde_json::Value =
        serde_json::from_slice(&lab.ok(&["stats", "--json"]).stdout).unwrap();
    assert_eq!(stats["messages"], 6);
    let out = lab.path("export-local");
    lab.ok(&["export", "--out", &p(&out)]);
    check_export(&out, &records);
    let o = lab.ok(&["import", "eml", &p(&eml)]);
    assert!(
        text(&o).contains("1 imported (1 already archived)"),
        "{}",
        text(&o)
    );
    // Without the daemon the trail is read from the files, unrecorded.
    let trail = listed(&lab.ok(&["audit", "--json"]));
    assert_eq!(listed(&lab.ok(&["audit", "--json"])).len(), trail.len());
    let o = lab.ok(&["reindex"]);
    let held = 7 + trail.len();
    assert!(
        text(&o).contains(&format!("index rebuilt: {held} records")),
        "{}",
        text(&o)
    );
    assert_eq!(listed(&lab.ok(&["list", "--json"])).len(), 7);
    lab.ok(&["verify"]);
}

/// The export holds every listed record byte-exact, and its manifest and
/// `SHA256SUMS` name the archived hashes.
fn check_export(out: &Path, records: &[serde_json::Value]) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let entries = manifest["messages"].as_array().unwrap();
    assert_eq!(entries.len(), records.len());
    for (entry, record) in entries.iter().zip(records) {
        assert_eq!(entry["seq"], record["seq"]);
        assert_eq!(entry["sha256"], record["sha256"]);
        assert_eq!(entry["record_hash"], record["hash"]);
        let file = std::fs::read(out.join(entry["file"].as_str().unwrap())).unwrap();
        assert_eq!(sha256_hex(&file), record["sha256"].as_str().unwrap());
    }
    // Audit records of the reads may follow the last message.
    let last = records.last().map_or(0, |r| r["seq"].as_u64().unwrap());
    assert!(manifest["chain_head"]["seq"].as_u64().unwrap() >= last);
    let sums = std::process::Command::new("sha256sum")
        .arg("-c")
        .arg("SHA256SUMS")
        .current_dir(out)
        .output()
        .unwrap();
    assert!(sums.status.success(), "{}", text(&sums));
}

#[test]
fn a_killed_daemon_leaves_a_socket_that_the_cli_and_the_next_daemon_see_through() {
    let mut lab = Lab::start();
    let (_, [eml, _, _]) = inputs(lab.dir.path());
    lab.ok(&["import", "eml", eml.to_str().unwrap()]);
    lab.daemon.kill9();
    assert!(lab.socket().exists(), "kill -9 leaves the socket file");
    // Nobody accepts on it: the CLI reads the archive itself.
    let stats: serde_json::Value =
        serde_json::from_slice(&lab.ok(&["stats", "--json"]).stdout).unwrap();
    assert_eq!(stats["messages"], 1);
    // The next daemon replaces the stale socket and serves on it.
    lab.daemon = Daemon::start(&lab.config, lab.listen);
    let stats: serde_json::Value =
        serde_json::from_slice(&lab.ok(&["stats", "--json"]).stdout).unwrap();
    assert_eq!(stats["messages"], 1);
    lab.wait_for_requests("stats", 1);
    assert!(
        lab.daemon.log().contains("removing a stale control socket"),
        "{}",
        lab.daemon.log()
    );
}
