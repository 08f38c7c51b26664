//! The soak test's verdict: every acknowledged message is in the archive
//! byte-exact, so is every message an upstream took, the archive holds
//! nothing no client sent, `mailseal verify`, the independent Python
//! verifier and `mailseal stats` agree with what the archive holds. Each
//! check adds figures and problems to a [`Report`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::path::Path;
use std::process::Command;

use super::held::Held;
use super::ledger::{Attempt, Lane, Path as Way, totals};
use super::message::id;
use crate::support::daemon::Daemon;

/// Problems listed in full before the rest are only counted.
const SHOWN: usize = 20;

/// Figures and findings of one run.
#[derive(Debug, Default)]
pub struct Report {
    /// `name value` pairs, printed as `soak: name = value`.
    pub figures: Vec<(String, String)>,
    /// Losses, corruption, disagreements: each fails the test.
    pub problems: Vec<String>,
}

impl Report {
    /// Records a figure.
    pub fn fig(&mut self, name: &str, value: impl Display) {
        self.figures.push((name.to_owned(), value.to_string()));
    }

    /// Prints every figure and the first problems.
    pub fn print(&self) {
        for (name, value) in &self.figures {
            println!("soak: {name} = {value}");
        }
        for p in self.problems.iter().take(SHOWN) {
            println!("soak: PROBLEM {p}");
        }
    }
}

/// Every acknowledged message is archived intact under its way in.
pub fn acknowledged(r: &mut Report, lanes: &[Lane], held: &Held) {
    for (way, t) in totals(lanes) {
        let k = way.source_kind();
        r.fig(
            &format!("{k} clients"),
            lanes.iter().filter(|l| l.path == way).count(),
        );
        r.fig(&format!("{k} messages sent"), t.messages);
        r.fig(&format!("{k} attempts"), t.attempts);
        r.fig(&format!("{k} refused replies"), t.refused);
        r.fig(&format!("{k} failed attempts"), t.failed);
        r.fig(&format!("{k} abandoned"), t.abandoned);
        r.fig(&format!("{k} connect failures"), t.connect_failures);
        r.fig(&format!("{k} acknowledged"), t.acked);
        let mut intact = 0;
        for lane in lanes.iter().filter(|l| l.path == way) {
            for s in lane.sent.iter().filter(|s| s.acked()) {
                if held.intact(&s.sha256, k) {
                    intact += 1;
                    continue;
                }
                let what = format!(
                    "{k}: {} ({} bytes, sha256 {}) acknowledged after {:?} is not in the archive intact",
                    id(s.n),
                    s.size,
                    s.sha256,
                    s.attempts
                );
                r.problems.push(what);
            }
        }
        r.fig(&format!("{k} acknowledged found intact"), intact);
        r.fig(&format!("{k} acknowledged NOT archived"), t.acked - intact);
        r.fig(&format!("{k} why attempts failed"), why(lanes, way));
    }
}

/// How many attempts of `way` ended which way (reply code or error).
fn why(lanes: &[Lane], way: Way) -> String {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let attempts = lanes.iter().filter(|l| l.path == way).flat_map(|l| &l.sent);
    for a in attempts.flat_map(|s| &s.attempts) {
        let key = match a {
            Attempt::Acked => continue,
            Attempt::Refused(text) => text.chars().take(9).collect(),
            Attempt::Failed(error) => error.chars().take(40).collect(),
        };
        *counts.entry(key).or_default() += 1;
    }
    format!("{counts:?}")
}

/// Every message the upstreams took (SHA-256 and size) is one a client
/// sent, and archived.
pub fn upstreams(
    r: &mut Report,
    sent: &BTreeSet<String>,
    held: &Held,
    accepted: &[(String, usize)],
    stored: &[(String, usize)],
) {
    let sides = [
        (Way::SmtpProxy, "sink accepted", accepted),
        (Way::ImapProxy, "dovecot stored", stored),
    ];
    for (way, name, messages) in sides {
        let mut archived = 0;
        for (sha, size) in messages {
            if !sent.contains(sha) {
                let what = format!("{name} {size} bytes (sha256 {sha}) that no client sent");
                r.problems.push(what);
            } else if held.intact(sha, way.source_kind()) {
                archived += 1;
            } else {
                let what = format!("{name} sha256 {sha} ({size} bytes) is not archived");
                r.problems.push(what);
            }
        }
        r.fig(name, messages.len());
        r.fig(&format!("{name} found in archive"), archived);
        let missing = messages.len() - archived;
        r.fig(&format!("{name} NOT archived (or not sent)"), missing);
    }
}

/// Every content the archive holds is one a client sent, whole.
pub fn nothing_foreign(r: &mut Report, sent: &BTreeSet<String>, held: &Held) {
    for (sha, why) in &held.damaged {
        r.problems
            .push(format!("content {sha} does not read back: {why}"));
    }
    for sha in held.by_sha.keys().filter(|s| !sent.contains(*s)) {
        r.problems
            .push(format!("archive holds content {sha} no client sent"));
    }
    r.fig("archive records", held.records);
    r.fig("archive message records", held.messages);
    r.fig("archive distinct contents", held.by_sha.len());
}

/// `mailseal verify`, `mailseal stats --json` and
/// `tests/tools/verify_archive.py` against the stopped daemon's archive.
pub fn tools(r: &mut Report, daemon: &Daemon, archive: &Path, held: &Held) {
    let verify = daemon.cli(&["verify"]);
    let text = String::from_utf8_lossy(&verify.stdout).trim().to_owned();
    r.fig("mailseal verify exit", verify.status.code().unwrap_or(-1));
    r.fig("mailseal verify says", &text);
    if verify.status.code() != Some(0) {
        let err = String::from_utf8_lossy(&verify.stderr);
        r.problems
            .push(format!("mailseal verify failed: {text} {err}"));
    }

    let stats = daemon.cli(&["stats", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap_or_default();
    let counts = (json["records"].as_u64(), json["messages"].as_u64());
    r.fig("mailseal stats records", counts.0.unwrap_or(0));
    if counts != (Some(held.records), Some(held.messages)) {
        r.problems.push(format!(
            "stats says {counts:?} records/messages, the archive holds {}/{}",
            held.records, held.messages
        ));
    }

    let key = daemon.cli(&["key", "show"]);
    let key = String::from_utf8_lossy(&key.stdout);
    let key = key
        .lines()
        .find_map(|l| l.strip_prefix("ed25519 "))
        .unwrap_or("");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/verify_archive.py");
    // With the master key: every content a kill -9 left must decrypt (its
    // key was made durable before its ciphertext).
    let master = archive.join("master.key");
    let out = Command::new("python3")
        .arg(script)
        .arg(archive)
        .arg(key)
        .args(["--master-key".as_ref(), master.as_os_str()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    r.fig("verify_archive.py says", &said);
    let records = said.split(' ').nth(1).and_then(|n| n.parse::<u64>().ok());
    if !out.status.success() || !said.starts_with("ok ") || records != Some(held.records) {
        let err = String::from_utf8_lossy(&out.stderr);
        r.problems.push(format!(
            "verify_archive.py disagrees ({} records held): {said} {err}",
            held.records
        ));
    }
}

/// The daemon never panicked in any life.
pub fn log(r: &mut Report, log: &str) {
    let panics: Vec<&str> = log.lines().filter(|l| l.contains("panicked")).collect();
    r.fig("daemon log lines", log.lines().count());
    for p in panics {
        r.problems.push(format!("daemon log: {p}"));
    }
}
