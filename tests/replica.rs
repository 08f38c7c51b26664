//! Replication to a real Ceph RGW (S3 with Object Lock) on loopback, the
//! shared cluster of `support::ceph`: mail in through the journal listener
//! of `mailseal run`, up to the bucket, the local archive wiped, back with
//! `restore --from-replica`; Object Lock refusing deletes with the
//! gateway's own credentials; tampering found by `verify --replica`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mailseal::replica::checkpoint::{self, Checkpoint};

use crate::support::ceph::{self, Ceph, block_on};
use crate::support::daemon::Daemon;
use crate::support::smtp::{SmtpClient, archived_ids, free_port};
use crate::support::tsa::Tsa;
use crate::support::{corpus, wait_until};

/// A `mailseal run` with a journal listener and one `[[replica]]`.
struct Gateway {
    daemon: Daemon,
    config: PathBuf,
    archive: PathBuf,
    journal: SocketAddr,
    /// `/healthz` and `/metrics`.
    http: SocketAddr,
    /// Every message sent: record id and bytes.
    sent: Vec<(u64, Vec<u8>)>,
}

/// `[[replica]]` settings a test varies.
struct Replica<'a> {
    bucket: &'a str,
    prefix: &'a str,
    lock: &'a str,
    /// Behind for longer than this, `/healthz` says degraded.
    max_lag: &'a str,
}

impl<'a> Replica<'a> {
    /// Prefix `gw1`, degraded after five minutes behind.
    fn new(bucket: &'a str, lock: &'a str) -> Replica<'a> {
        Replica {
            bucket,
            prefix: "gw1",
            lock,
            max_lag: "5m",
        }
    }
}

fn write_config(
    dir: &Path,
    ceph: &Ceph,
    r: &Replica<'_>,
    archive_extra: &str,
) -> (PathBuf, SocketAddr, SocketAddr) {
    let journal = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = dir.join("mailseal.toml");
    let text = format!(
        "[archive]\npath = {archive:?}\nseal_interval = \"1s\"\nsegment_max_bytes = 65536\n{archive_extra}\n\
         [[journal]]\nname = \"journal\"\nlisten = \"{journal}\"\n\n\
         [http]\nlisten = \"{http}\"\n\n\
         [[replica]]\nname = \"offsite\"\nendpoint = \"{endpoint}\"\nbucket = \"{bucket}\"\n\
         prefix = \"{prefix}\"\ncredentials_file = {creds:?}\nobject_lock = \"{lock}\"\n\
         retain_days = 1\ninterval = \"1s\"\nmax_lag = \"{max_lag}\"\n",
        archive = dir.join("archive").display().to_string(),
        endpoint = ceph.endpoint,
        bucket = r.bucket,
        prefix = r.prefix,
        creds = ceph.credentials_file(dir).display().to_string(),
        lock = r.lock,
        max_lag = r.max_lag,
    );
    std::fs::write(&config, crate::support::daemon::with_control(&config, text)).unwrap();
    (config, journal, http)
}

impl Gateway {
    fn start(dir: &Path, ceph: &Ceph, r: &Replica<'_>, archive_extra: &str) -> Gateway {
        let (config, journal, http) = write_config(dir, ceph, r, archive_extra);
        let daemon = Daemon::start(&config, journal);
        Gateway {
            daemon,
            config,
            archive: dir.join("archive"),
            journal,
            http,
            sent: Vec::new(),
        }
    }

    /// Sends messages `from..to` (sizes from 200 bytes to ~40 KiB, so
    /// segments close and chunks of the open one go up) through the journal.
    fn send(&mut self, from: usize, to: usize) {
        let addr = self.journal;
        let sent = block_on(async move {
            let mut c = SmtpClient::connect(addr).await;
            c.expect("220").await;
            c.cmd("EHLO test.example", "250").await;
            let mut sent = Vec::new();
            for i in from..to {
                let m = corpus::message(i, 200 + (i * 7919) % 40_000);
                let reply = c
                    .send_message("a@example.com", "b@example.org", &m, "250")
                    .await;
                let ids = archived_ids(&reply.text());
                assert_eq!(ids.len(), 1, "{}", reply.text());
                sent.push((ids[0], m));
            }
            c.cmd("QUIT", "221").await;
            sent
        });
        self.sent.extend(sent);
    }

    /// Waits until the checkpoint holds the last message sent.
    fn wait_replicated(&self) -> Checkpoint {
        let last = self.sent.iter().map(|(id, _)| *id).max().unwrap_or(0);
        let path = checkpoint::path(&self.archive, "offsite");
        wait_until("the bucket to hold every message", || {
            Checkpoint::load(&path).ok().filter(|c| c.seq >= last)
        })
    }

    fn cli(&self, args: &[&str]) -> Output {
        self.daemon.cli(args)
    }
}

fn mailseal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailseal"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn journal_replicate_wipe_restore_byte_exact() {
    let ceph = ceph::cluster();
    ceph.bucket("restore-a", true);
    let dir = tempfile::tempdir().unwrap();
    let r = Replica::new("restore-a", "compliance");
    // Seals are time-stamped, and the stamps go up as objects of their own.
    let tsa = Tsa::start();
    let stamping = format!(
        "[[timestamp]]\nname = \"local\"\nurl = \"{}\"\nca_file = \"{}\"\nretry = \"1s\"\n",
        tsa.url,
        tsa.ca().display()
    );
    let mut gw = Gateway::start(dir.path(), ceph, &r, &stamping);
    gw.send(0, 40);
    let c = gw.wait_replicated();
    assert!(c.segment > 2, "segments closed and went up whole: {c:?}");
    let stamps = wait_until("time-stamp objects in the bucket", || {
        let listed = block_on(ceph.s3("restore-a").list("gw1/timestamps/")).unwrap();
        (!listed.is_empty()).then_some(listed)
    });
    for o in &stamps {
        let body = block_on(ceph.s3("restore-a").get(&o.key)).unwrap();
        let stamp: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let seq = stamp["seq"].as_u64().unwrap();
        assert!(
            o.key.starts_with(&format!("gw1/timestamps/{seq:020}-")),
            "{}",
            o.key
        );
        assert_eq!(stamp["authority"], "local");
    }
    // /metrics and /healthz show the replica caught up.
    wait_until("replica lag 0 in /metrics", || {
        let m = crate::support::http::request(gw.http, "GET", "/metrics", &[], b"").text();
        m.contains("mailseal_replica_lag_bytes{replica=\"offsite\"} 0")
            .then_some(())
    });
    let m = crate::support::http::request(gw.http, "GET", "/metrics", &[], b"").text();
    let last = gw.sent.iter().map(|(id, _)| *id).max().unwrap();
    assert!(
        m.contains("mailseal_replica_lag_records{replica=\"offsite\"} 0"),
        "{m}"
    );
    assert!(
        m.contains("mailseal_replica_failing{replica=\"offsite\"} 0"),
        "{m}"
    );
    assert!(
        m.contains(&format!(
            "mailseal_replica_replicated_seq{{replica=\"offsite\"}} {last}"
        )),
        "{m}"
    );
    let health = crate::support::http::request(gw.http, "GET", "/healthz", &[], b"").text();
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["replicas"][0]["name"], "offsite", "{health}");
    assert_eq!(health["replicas"][0]["lagging"], false, "{health}");
    let stats = gw.cli(&["stats"]);
    assert!(
        text(&stats).contains("replica offsite:"),
        "{}",
        text(&stats)
    );
    gw.daemon.stop();

    // The admin's key backup: the seal key never goes to the bucket, nor
    // do the key store and master key (they must be able to forget).
    let key_backup = dir.path().join("seal.key.backup");
    std::fs::copy(gw.archive.join("seal.key"), &key_backup).unwrap();
    let keys_backup = backup_keys(&gw.archive, dir.path());
    std::fs::remove_dir_all(&gw.archive).unwrap();

    let restored = dir.path().join("restored");
    let config = gw.config.to_str().unwrap();
    let out = mailseal(&[
        "--config",
        config,
        "restore",
        "--from-replica",
        restored.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    restore_keys(&keys_backup, &restored);

    // Every message byte-exact from the restored copy (read-only, no index).
    let archive = restored.to_str().unwrap();
    for (id, bytes) in &gw.sent {
        let out = mailseal(&["--archive", archive, "show", &id.to_string(), "--raw"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(out.stdout == *bytes, "record {id} differs after restore");
    }
    // Verified against the public key that came from the bucket.
    let keys: Vec<_> = std::fs::read_dir(restored.join("public-keys"))
        .unwrap()
        .collect();
    assert_eq!(keys.len(), 1);
    let key = keys[0].as_ref().unwrap().path();
    let out = mailseal(&[
        "--archive",
        archive,
        "verify",
        "--public-key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("ok: {} records", gw.sent.len())),
        "{}",
        text(&out)
    );

    // With the key back from its backup, the archive opens for writing:
    // the index is rebuilt from the restored segments.
    std::fs::copy(&key_backup, restored.join("seal.key")).unwrap();
    let restored_config = crate::support::daemon::archive_config(&restored);
    let rc = restored_config.to_str().unwrap();
    let out = mailseal(&["--config", rc, "reindex"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = mailseal(&["--config", rc, "list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listed = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(listed, gw.sent.len(), "{}", text(&out));
    let out = mailseal(&["--config", rc, "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // And the bucket verifies without any local copy, its time stamps
    // checked against the authority's CA.
    let out = mailseal(&[
        "--config",
        config,
        "verify",
        "--replica",
        "--public-key",
        key.to_str().unwrap(),
        "--tsa-ca",
        tsa.ca().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("gw1: ok: "), "{}", text(&out));
}

#[test]
fn object_lock_refuses_delete_and_keeps_versions() {
    let ceph = ceph::cluster();
    let s3 = ceph.bucket("locked-b", true);
    let dir = tempfile::tempdir().unwrap();
    let r = Replica::new("locked-b", "compliance");
    let mut gw = Gateway::start(dir.path(), ceph, &r, "");
    gw.send(0, 5);
    gw.wait_replicated();
    gw.daemon.stop();

    let versions = block_on(s3.list_versions("gw1/")).unwrap();
    assert!(versions.len() >= 3, "{versions:?}");
    for v in &versions {
        let info = block_on(s3.head(&v.key)).unwrap().unwrap();
        assert_eq!(info.lock_mode.as_deref(), Some("COMPLIANCE"), "{}", v.key);
        let version = v.version.as_deref().unwrap();
        let err = block_on(s3.delete(&v.key, Some(version))).unwrap_err();
        assert_eq!(
            err.status(),
            Some(403),
            "deleting {} {version}: {err}",
            v.key
        );
    }
    // "Overwriting": a PUT under the same name adds a version; the locked
    // one stays, byte for byte.
    let target = &versions[0];
    let before = block_on(s3.get_version(&target.key, target.version.as_deref())).unwrap();
    let h = mailseal::replica::s3::PutHeaders {
        md5: md5_of(b"forged"),
        sha256: [0; 32],
        lock: None,
    };
    block_on(s3.put_bytes(&target.key, b"forged".to_vec(), &h)).unwrap();
    block_on(s3.delete(&target.key, None)).unwrap();
    let after = block_on(s3.get_version(&target.key, target.version.as_deref())).unwrap();
    assert_eq!(before, after);
    let still = block_on(s3.list_versions("gw1/")).unwrap();
    for v in &versions {
        assert!(still.contains(v), "{} {:?} is gone", v.key, v.version);
    }
}

fn md5_of(b: &[u8]) -> [u8; 16] {
    use md5::Digest as _;
    md5::Md5::digest(b).into()
}

#[test]
fn tampered_object_without_lock_is_found_by_verify_replica() {
    let ceph = ceph::cluster();
    let s3 = ceph.bucket("plain-c", false);
    let dir = tempfile::tempdir().unwrap();
    let r = Replica::new("plain-c", "none");
    // Unencrypted, so that the test can find message 3's bytes in an object.
    let mut gw = Gateway::start(
        dir.path(),
        ceph,
        &r,
        "compression = \"none\"\nencrypt = false\n",
    );
    gw.send(0, 12);
    gw.wait_replicated();
    gw.daemon.stop();
    let config = gw.config.to_str().unwrap().to_owned();
    let out = mailseal(&["--config", &config, "verify", "--replica"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Change one letter of message 3's subject in the object that holds it.
    let needle = b"Subject: test message 3\r\n";
    let objects = block_on(s3.list("gw1/")).unwrap();
    let mut changed = false;
    for o in objects
        .iter()
        .filter(|o| !o.key.contains("/seals/") && !o.key.contains("/keys/"))
    {
        let mut bytes = block_on(s3.get(&o.key)).unwrap();
        if let Some(at) = bytes.windows(needle.len()).position(|w| w == needle) {
            bytes[at + 9] = b's';
            let h = mailseal::replica::s3::PutHeaders {
                md5: md5_of(&bytes),
                sha256: [0; 32],
                lock: None,
            };
            block_on(s3.put_bytes(&o.key, bytes, &h)).unwrap();
            changed = true;
        }
    }
    assert!(changed, "no object held message 3");
    let out = mailseal(&["--config", &config, "verify", "--replica"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("gw1: FAILED"), "{}", text(&out));
}

#[test]
fn kill9_and_radosgw_restart_leave_no_gap() {
    let ceph = ceph::cluster();
    ceph.bucket("crash-d", true);
    let dir = tempfile::tempdir().unwrap();
    let r = Replica {
        max_lag: "2s",
        ..Replica::new("crash-d", "compliance")
    };
    let mut gw = Gateway::start(dir.path(), ceph, &r, "");
    gw.send(0, 30);
    // Killed while the first uploads run (no drain, no seal at exit).
    gw.daemon.kill9();
    gw.daemon = Daemon::start(&gw.config, gw.journal);
    gw.send(30, 45);
    // radosgw down while mail keeps coming: ingest does not wait for it,
    // and once the bucket is behind for longer than max_lag, /healthz says
    // degraded and names the error.
    let health = |gw: &Gateway| -> serde_json::Value {
        let text = crate::support::http::request(gw.http, "GET", "/healthz", &[], b"").text();
        serde_json::from_str(&text).unwrap()
    };
    ceph.restart_gateway(|| {
        gw.send(45, 60);
        wait_until("/healthz degraded by the replica", || {
            let h = health(&gw);
            let r = &h["replicas"][0];
            (h["status"] == "degraded" && r["lagging"] == true && r["error"].is_string())
                .then_some(())
        });
    });
    gw.send(60, 70);
    gw.wait_replicated();
    wait_until("replica lag 0 after the outage", || {
        let m = crate::support::http::request(gw.http, "GET", "/metrics", &[], b"").text();
        m.contains("mailseal_replica_lag_bytes{replica=\"offsite\"} 0")
            .then_some(())
    });
    wait_until("/healthz ok again", || {
        let h = health(&gw);
        (h["status"] == "ok" && h["replicas"][0]["lagging"] == false).then_some(())
    });
    gw.daemon.stop();
    let keys_backup = backup_keys(&gw.archive, dir.path());
    // Restore joins every segment without a gap, every extra chunk agrees
    // with the rest (restore refuses otherwise), and the chain verifies.
    let restored = dir.path().join("restored");
    let config = gw.config.to_str().unwrap();
    let out = mailseal(&[
        "--config",
        config,
        "restore",
        "--from-replica",
        restored.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    restore_keys(&keys_backup, &restored);
    let archive = restored.to_str().unwrap();
    let out = mailseal(&["--archive", archive, "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for (id, bytes) in &gw.sent {
        let out = mailseal(&["--archive", archive, "show", &id.to_string(), "--raw"]);
        assert!(out.stdout == *bytes, "record {id} differs after restore");
    }
}

#[test]
fn two_gateways_one_bucket_verify_all() {
    let ceph = ceph::cluster();
    ceph.bucket("shared-e", true);
    let mut gateways = Vec::new();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    for (dir, prefix) in dirs.iter().zip(["fra", "ams"]) {
        let r = Replica {
            prefix,
            ..Replica::new("shared-e", "compliance")
        };
        let mut gw = Gateway::start(dir.path(), ceph, &r, "");
        gw.send(0, 8);
        gateways.push(gw);
    }
    for gw in &mut gateways {
        gw.wait_replicated();
        gw.daemon.stop();
    }
    let config = gateways[0].config.to_str().unwrap();
    let out = mailseal(&["--config", config, "verify", "--replica", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains(": ok: ")).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("ams: ok: 8 records"), "{stdout}");
    assert!(lines[1].starts_with("fra: ok: 8 records"), "{stdout}");
}

/// The admin's backup of the key store and master key (`docs/keys.md`):
/// they are not replicated to the bucket, whose objects cannot be deleted,
/// because a purge must be able to forget keys.
fn backup_keys(archive: &Path, dir: &Path) -> PathBuf {
    let backup = dir.join("keys-backup");
    std::fs::create_dir_all(&backup).unwrap();
    std::fs::copy(archive.join("keys/store"), backup.join("store")).unwrap();
    std::fs::copy(archive.join("master.key"), backup.join("master.key")).unwrap();
    backup
}

/// Puts the key backup into a restored archive.
fn restore_keys(backup: &Path, archive: &Path) {
    std::fs::create_dir_all(archive.join("keys")).unwrap();
    std::fs::copy(backup.join("store"), archive.join("keys/store")).unwrap();
    std::fs::copy(backup.join("master.key"), archive.join("master.key")).unwrap();
}
