//! `/metrics` and `/healthz` of the real `mailseal run` binary under real
//! traffic: a journal listener and an SMTP proxy in front of an aiosmtpd
//! upstream, messages sent with smtplib. Every counter must move by exactly
//! what was sent, the chain length must match `mailseal stats`, and health
//! must follow the seals and what real sessions saw of the upstream.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::support::corpus;
use crate::support::daemon::Daemon;
use crate::support::mount::Tmpfs;
use crate::support::sink::Sink;
use crate::support::smtp::{free_port, smtplib_send};
use crate::support::{WAIT, wait_for_log, wait_until};

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Where each listener of the test daemon is.
struct Addrs {
    journal: SocketAddr,
    proxy: SocketAddr,
    http: SocketAddr,
}

/// A config with a journal listener `journal`, a proxy `mx` in front of
/// `upstream`, `/healthz` + `/metrics` on `addrs.http`, and a one-second
/// seal interval so a seal happens during the test. The archive is
/// `archive` under `dir`.
fn write_config(dir: &Path, addrs: &Addrs, upstream: SocketAddr) -> PathBuf {
    write_config_at(dir, &dir.join("archive"), addrs, upstream)
}

fn write_config_at(dir: &Path, archive: &Path, addrs: &Addrs, upstream: SocketAddr) -> PathBuf {
    let config = dir.join("mailseal.toml");
    let text = format!(
        "[archive]\npath = \"{archive}\"\nseal_interval = \"1s\"\n\n\
         [[journal]]\nname = \"journal\"\nlisten = \"{journal}\"\n\n\
         [[smtp_proxy]]\nname = \"mx\"\nlisten = \"{proxy}\"\nupstream = \"{upstream}\"\n\
         hostname = \"mailseal.test\"\nupstream_tls = \"none\"\n\n\
         [http]\nlisten = \"{http}\"\n",
        archive = archive.display(),
        journal = addrs.journal,
        proxy = addrs.proxy,
        http = addrs.http,
    );
    std::fs::write(&config, crate::support::daemon::with_control(&config, text)).unwrap();
    config
}

/// One HTTP/1.1 GET; returns status code and body.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: mailseal\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    (code, body.to_owned())
}

/// One scrape of `/metrics`.
struct Scrape(String);

impl Scrape {
    fn take(http: SocketAddr) -> Scrape {
        let (code, body) = get(http, "/metrics");
        assert_eq!(code, 200, "{body}");
        Scrape(body)
    }

    /// The sample of `series` (name and labels exactly as exported); a
    /// series not exported yet counts as 0.
    fn value(&self, series: &str) -> f64 {
        self.0
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .map_or(0.0, |v| v.parse().unwrap())
    }
}

/// `/healthz` as JSON, with its status code.
fn health(http: SocketAddr) -> (u16, Value) {
    let (code, body) = get(http, "/healthz");
    (code, serde_json::from_str(&body).unwrap())
}

/// The `/healthz` entry of upstream `name`.
fn upstream<'a>(health: &'a Value, name: &str) -> &'a Value {
    let all = health["upstreams"].as_array().unwrap();
    all.iter()
        .find(|u| u["name"] == name)
        .unwrap_or(&Value::Null)
}

/// Sends `message` with smtplib; returns the final reply.
fn send(dir: &Path, to: SocketAddr, name: &str, message: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, message).unwrap();
    smtplib_send(to, "a@example.com", "b@example.org", &path)
}

/// `mailseal stats --json` (the CLI reads the segments while the daemon
/// holds the index).
fn stats(daemon: &Daemon) -> Value {
    let out = daemon.cli(&["stats", "--json"]);
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64
}

const JOURNAL_MESSAGES: &str = "mailseal_messages_archived_total{listener=\"journal\"}";
const JOURNAL_BYTES: &str = "mailseal_bytes_archived_total{listener=\"journal\"}";
const MX_MESSAGES: &str = "mailseal_messages_archived_total{listener=\"mx\"}";
const MX_BYTES: &str = "mailseal_bytes_archived_total{listener=\"mx\"}";
const MX_2XX: &str = "mailseal_upstream_replies_total{listener=\"mx\",class=\"2xx\"}";
const COMMITS: &str = "mailseal_archive_commit_seconds_count";
const FSYNCS: &str = "mailseal_archive_fsync_batch_messages_count";
const FSYNCED: &str = "mailseal_archive_fsync_batch_messages_sum";
const CHAIN: &str = "mailseal_chain_length_records";
const LAST_SEAL: &str = "mailseal_last_seal_timestamp_seconds";
const OPEN_JOURNAL: &str = "mailseal_connections_open{listener=\"journal\"}";
const OPEN_MX: &str = "mailseal_connections_open{listener=\"mx\"}";
const MX_REACHABLE: &str = "mailseal_upstream_reachable{listener=\"mx\"}";
const UPSTREAM_ERRORS: &str = "mailseal_errors_total{kind=\"upstream\"}";
const WRITABLE: &str = "mailseal_archive_writable";

fn free_addrs() -> Addrs {
    Addrs {
        journal: loopback(free_port()),
        proxy: loopback(free_port()),
        http: loopback(free_port()),
    }
}

#[test]
fn counters_and_health_follow_real_traffic() {
    let mut sink = Sink::plain();
    let dir = tempfile::tempdir().unwrap();
    let addrs = free_addrs();
    let config = write_config(dir.path(), &addrs, sink.addr);
    let mut daemon = Daemon::start(&config, addrs.proxy);
    let http = addrs.http;

    let (code, h) = health(http);
    assert_eq!((code, &h["status"]), (200, &"ok".into()), "{h}");
    assert_eq!(h["archive_writable"], true, "{h}");
    assert_eq!(
        upstream(&h, "mx")["reachable"],
        Value::Null,
        "no session yet: {h}"
    );
    let before = Scrape::take(http);

    // Three copies to the journal, two messages through the proxy; every
    // proxied message adds an outcome record after the client's reply.
    let mut journal_bytes = 0;
    for (i, size) in [2_000, 30_000, 300_000].into_iter().enumerate() {
        let message = corpus::message(i, size);
        journal_bytes += message.len();
        let reply = send(dir.path(), addrs.journal, "j.eml", &message);
        assert!(reply.starts_with("250 2.0.0 Ok: archived as"), "{reply}");
    }
    let mut proxy_bytes = 0;
    for (i, size) in [5_000, 120_000].into_iter().enumerate() {
        let message = corpus::message(10 + i, size);
        proxy_bytes += message.len();
        let reply = send(dir.path(), addrs.proxy, "p.eml", &message);
        assert!(reply.starts_with("250"), "{reply}");
    }
    let sent_at = unix_now();
    let records = 3 + 2 * 2;
    let after = wait_until("the outcome records and closed sessions", || {
        let s = Scrape::take(http);
        let settled = s.value(CHAIN) == before.value(CHAIN) + records as f64
            && s.value(OPEN_JOURNAL) == 0.0
            && s.value(OPEN_MX) == 0.0;
        settled.then_some(s)
    });
    let moved = |series: &str| after.value(series) - before.value(series);
    assert_eq!(moved(JOURNAL_MESSAGES), 3.0);
    assert_eq!(moved(JOURNAL_BYTES), journal_bytes as f64);
    assert_eq!(moved(MX_MESSAGES), 2.0);
    assert_eq!(moved(MX_BYTES), proxy_bytes as f64);
    assert_eq!(moved(MX_2XX), 2.0);
    // One latency sample per durable record; every record in some fsync.
    assert_eq!(moved(COMMITS), records as f64);
    assert_eq!(moved(FSYNCED), records as f64);
    let fsyncs = moved(FSYNCS);
    assert!((1.0..=records as f64).contains(&fsyncs), "{fsyncs} fsyncs");

    assert_eq!(stats(&daemon)["records"].as_f64(), Some(after.value(CHAIN)));

    // The one-second sealer seals the new head (after the last reply), and
    // the gauge and health agree.
    wait_until("a seal of the new head", || {
        let st = stats(&daemon);
        let head_sealed = st["last_seal"]["seq"] == st["head_seq"];
        let gauge = Scrape::take(http).value(LAST_SEAL);
        (head_sealed && gauge >= sent_at.floor()).then_some(())
    });
    let h = wait_until("ok with the upstream reachable", || {
        let (code, h) = health(http);
        (code == 200 && h["status"] == "ok").then_some(h)
    });
    assert_eq!(h["archive_writable"], true, "{h}");
    assert_eq!(h["seal_overdue"], false, "{h}");
    assert!(h["last_seal_age_seconds"].is_u64(), "{h}");
    assert_eq!(upstream(&h, "mx")["reachable"], true, "{h}");
    assert_eq!(after.value(MX_REACHABLE), 1.0);

    // One structured line per message, with the fields the admin greps.
    // The daemon logs them after answering, so wait until all five are in.
    fn lines(log: &str, event: &str, listener: &str) -> Vec<String> {
        let wanted = format!(": {event} seq=");
        let tag = format!("listener={listener} ");
        let found = log
            .lines()
            .filter(|l| l.contains(&wanted) && l.contains(&tag));
        found.map(str::to_owned).collect()
    }
    let log = wait_for_log(
        "five message lines",
        || daemon.log(),
        |log| {
            lines(log, "archived", "journal").len() >= 3 && lines(log, "relayed", "mx").len() >= 2
        },
    );
    let journal_lines = lines(&log, "archived", "journal");
    let proxy_lines = lines(&log, "relayed", "mx");
    assert_eq!((journal_lines.len(), proxy_lines.len()), (3, 2), "{log}");
    for line in journal_lines.iter().chain(&proxy_lines) {
        for field in [
            "peer=127.0.0.1:",
            "from=a@example.com",
            "rcpts=1",
            "size=",
            "ms=",
        ] {
            assert!(line.contains(field), "{field} missing: {line}");
        }
    }
    assert!(
        proxy_lines.iter().all(|l| l.contains("upstream=250")),
        "{log}"
    );

    // SIGHUP reloads and does not stop the daemon.
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &daemon.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    wait_until("the reload to be logged", || {
        daemon.log().contains("reloaded").then_some(())
    });
    assert_eq!(health(http).0, 200, "still serving after SIGHUP");

    // The upstream dies; the next real session finds out, and so does health.
    sink.kill();
    let reply = send(
        dir.path(),
        addrs.proxy,
        "p.eml",
        &corpus::message(20, 1_000),
    );
    assert!(!reply.starts_with("250"), "{reply}");
    let h = wait_until("degraded with the upstream unreachable", || {
        let (code, h) = health(http);
        (code == 200 && h["status"] == "degraded").then_some(h)
    });
    assert_eq!(upstream(&h, "mx")["reachable"], false, "{h}");
    assert_eq!(h["archive_writable"], true, "{h}");
    let down = Scrape::take(http);
    assert_eq!(down.value(MX_REACHABLE), 0.0);
    assert_eq!(
        down.value(UPSTREAM_ERRORS) - after.value(UPSTREAM_ERRORS),
        1.0
    );
    assert_eq!(down.value(MX_MESSAGES), after.value(MX_MESSAGES));
    daemon.stop();
}

#[test]
fn a_full_archive_disk_fails_health_until_a_commit_succeeds_again() {
    let Some(disk) = Tmpfs::mount("24m") else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let sink = Sink::plain();
    let dir = tempfile::tempdir().unwrap();
    let addrs = free_addrs();
    let archive = disk.path().join("archive");
    let config = write_config_at(dir.path(), &archive, &addrs, sink.addr);
    let mut daemon = Daemon::start(&config, addrs.journal);
    let http = addrs.http;
    let message = corpus::message(40, 300_000);
    let filler = disk.fill("filler");
    let reply = send(dir.path(), addrs.journal, "full.eml", &message);
    assert!(reply.starts_with("452 4.3.1"), "{reply}");
    // The writer reports its state beside the reply, not before it.
    let h = wait_until("health to fail", || {
        let (code, h) = health(http);
        (code == 503).then_some(h)
    });
    assert_eq!(h["status"], "fail", "{h}");
    assert_eq!(h["archive_writable"], false, "{h}");
    assert_eq!(Scrape::take(http).value(WRITABLE), 0.0);

    // With space again, the client's retry commits and health recovers.
    std::fs::remove_file(filler).unwrap();
    let reply = send(dir.path(), addrs.journal, "full.eml", &message);
    assert!(reply.starts_with("250"), "{reply}\n{}", daemon.log());
    let h = wait_until("health to recover", || {
        let (code, h) = health(http);
        (code == 200).then_some(h)
    });
    assert_eq!(h["archive_writable"], true, "{h}");
    assert_eq!(Scrape::take(http).value(WRITABLE), 1.0);
    daemon.stop();
}

/// Sends one message with imaplib through the proxy at `port`: APPEND to
/// INBOX, then a whole FETCH of UID 1.
const APPEND_AND_FETCH: &str = r#"
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
typ, _ = m.append('INBOX', None, None, open(sys.argv[4], 'rb').read())
m.select('INBOX')
typ, data = m.uid('FETCH', '1', '(BODY[])')
print(typ, len([d for d in data if isinstance(d, tuple)]))
m.logout()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_captures_count_under_their_listener() {
    use crate::imap::{message, python, seed, setup_with, wait_archived};
    use crate::support::dovecot::{self, Dovecot, PASSWORD, USER};
    if !dovecot::available() {
        return;
    }
    let dovecot = tokio::task::spawn_blocking(|| Dovecot::start(None))
        .await
        .unwrap();
    // A listener name of this test's own: the registry is process-wide.
    let s = setup_with(dovecot, |c, _| c.name = "metrics-imap".into()).await;
    let (seeded, new) = (message(30, 40_000), message(31, 7_000));
    seed(&s.dovecot, std::slice::from_ref(&seeded)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.eml");
    std::fs::write(&path, &new).unwrap();
    let args = [s.proxy.port().to_string(), USER.into(), PASSWORD.into()];
    let file = path.display().to_string();
    let out = python(APPEND_AND_FETCH, &[&args[..], &[file]].concat()).await;
    assert_eq!(out.trim(), "OK 1");
    assert_eq!(wait_archived(&s.archive, 2).await.len(), 2);
    let listener = "{listener=\"metrics-imap\"}";
    // The capture counts a message once its append returns, which is just
    // after the record shows in the archive.
    let counted = format!("mailseal_messages_archived_total{listener} 2");
    let deadline = std::time::Instant::now() + WAIT;
    while !mailseal::metrics::render().unwrap().contains(&counted)
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let text = mailseal::metrics::render().unwrap();
    let scrape = Scrape(text);
    let series = |name: &str| scrape.value(&format!("mailseal_{name}{listener}"));
    assert_eq!(series("messages_archived_total"), 2.0, "{}", scrape.0);
    let bytes = (seeded.len() + new.len()) as f64;
    assert_eq!(series("bytes_archived_total"), bytes, "{}", scrape.0);
    assert_eq!(series("upstream_reachable"), 1.0, "{}", scrape.0);
    s.shutdown.token.cancel();
}
