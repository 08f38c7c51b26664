//! Hostile clients against the real `mailseal run`: a journal listener
//! (STARTTLS, plus an implicit-TLS twin), an SMTP proxy in front of an
//! aiosmtpd sink and an IMAP proxy in front of a private Dovecot, all with
//! short timeouts. Each scenario attacks one session while a well-behaved
//! client sends mail at the same time, then stops the daemon (it must exit
//! 0), runs `mailseal verify` and checks that the archive holds exactly the
//! well-behaved messages, byte for byte: nothing partial, nothing lost.
//!
//! With `MAILSEAL_HOSTILE_ROWS=FILE` set, every scenario appends a row for
//! docs/reliability.md (load, faults, messages, peak RSS) to FILE.

// Slow senders, idle clients, the connection limit, a dead upstream.
mod slow;
// 10,000 connections opened and closed at once.
mod flood;
// Megabyte command lines, NUL bytes, invalid UTF-8, a 4 GB IMAP literal.
mod input;
// 2 GB of DATA against the size limit.
mod big;
// Old TLS versions, wrong upstream certificates, missing certificate files.
mod tls;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mailseal::archive::{Archive, MessageMeta};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::certs::TestCerts;
use crate::support::corpus;
use crate::support::daemon::Daemon;
use crate::support::dovecot::Dovecot;
use crate::support::process;
use crate::support::sink::Sink;
use crate::support::smtp::{SmtpClient, archived_ids, free_port};

/// The peak RSS every scenario must stay below (docs/reliability.md).
pub const RSS_BOUND: u64 = 256 << 20;

/// What a rig's daemon is configured with.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `timeout_command`, `timeout_data_block` and `timeout_idle`.
    pub timeout: &'static str,
    /// `max_connections` of every listener.
    pub max_connections: usize,
    /// `max_message_size` of the SMTP listeners.
    pub max_message_size: u64,
    /// `max_literal_size` of the IMAP proxy.
    pub max_literal_size: u64,
    /// `min_data_rate` of the SMTP listeners.
    pub min_data_rate: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: "3s",
            max_connections: 50,
            max_message_size: 10 << 20,
            max_literal_size: 10 << 20,
            min_data_rate: 500,
        }
    }
}

/// The daemon with every way in, and its peers.
pub struct Rig {
    /// The daemon (killed on drop; [`Rig::finish`] stops it cleanly).
    pub daemon: Daemon,
    /// The proxy's upstream: keeps exactly what it received.
    pub sink: Sink,
    /// The IMAP proxy's upstream.
    pub dovecot: Dovecot,
    /// The journal listener (plain, STARTTLS offered).
    pub journal: SocketAddr,
    /// The implicit-TLS journal listener.
    pub journal_tls: SocketAddr,
    /// The SMTP proxy listener.
    pub proxy: SocketAddr,
    /// The IMAP proxy listener.
    pub imap: SocketAddr,
    /// The archive directory.
    archive: PathBuf,
    /// Holds configuration, certificates and the archive.
    _dir: tempfile::TempDir,
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

impl Rig {
    /// Starts the peers and `mailseal run` with `limits`.
    pub fn start(limits: Limits) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let certs = TestCerts::new(dir.path());
        let sink = Sink::plain();
        let dovecot = Dovecot::start(None);
        let (journal, journal_tls, proxy, imap) = (loopback(), loopback(), loopback(), loopback());
        let archive = dir.path().join("archive");
        let Limits {
            timeout: t,
            max_connections: conns,
            max_message_size: size,
            max_literal_size: literal,
            min_data_rate: rate,
        } = limits;
        let tls = format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
            certs.cert.display(),
            certs.key.display()
        );
        let smtp = format!(
            "hostname = \"mailseal.test\"\nmax_message_size = {size}\n\
             max_connections = {conns}\ntimeout_command = \"{t}\"\ntimeout_data_block = \"{t}\"\n\
             min_data_rate = {rate}\n"
        );
        let text = format!(
            "[archive]\npath = \"{archive}\"\nseal_interval = \"1h\"\n\n\
             [[journal]]\nname = \"journal\"\nlisten = \"{journal}\"\n{smtp}{tls}\
             tls_mode = \"starttls\"\n\n\
             [[journal]]\nname = \"journal-tls\"\nlisten = \"{journal_tls}\"\n{smtp}{tls}\
             tls_mode = \"implicit\"\n\n\
             [[smtp_proxy]]\nname = \"mx\"\nlisten = \"{proxy}\"\nupstream = \"{up}\"\n{smtp}\
             upstream_tls = \"none\"\ntimeout_connect = \"10s\"\n\n\
             [[imap_proxy]]\nname = \"imap\"\nlisten = \"{imap}\"\nupstream = \"{dove}\"\n\
             upstream_tls = \"none\"\ntimeout_idle = \"{t}\"\nmax_connections = {conns}\n\
             max_literal_size = {literal}\n\n\
             [http]\nenabled = false\n",
            archive = archive.display(),
            up = sink.addr,
            dove = dovecot.addr(),
        );
        let config = dir.path().join("mailseal.toml");
        std::fs::write(&config, crate::support::daemon::with_control(&config, text)).unwrap();
        let daemon = Daemon::start(&config, journal);
        Rig {
            daemon,
            sink,
            dovecot,
            journal,
            journal_tls,
            proxy,
            imap,
            archive,
            _dir: dir,
        }
    }

    /// The daemon's peak resident memory so far.
    pub fn peak_rss(&self) -> u64 {
        process::peak_rss(self.daemon.pid())
    }

    /// Stops the daemon (exit 0 after a graceful drain), checks that
    /// `mailseal verify` passes and returns every archived message.
    pub fn finish(&mut self) -> Vec<(MessageMeta, Vec<u8>)> {
        self.daemon.stop();
        let verify = self.daemon.cli(&["verify"]);
        assert_eq!(verify.status.code(), Some(0), "verify: {verify:?}");
        let log = self.daemon.log();
        assert!(!log.contains("panicked"), "the daemon panicked:\n{log}");
        crate::imap::archived(&Archive::open_dir(&self.archive).unwrap())
    }
}

/// Checks that the archive holds exactly `expected` (in any order), each
/// byte-exact; returns how many were found intact.
pub fn assert_exactly(archived: &[(MessageMeta, Vec<u8>)], expected: &[Vec<u8>]) -> usize {
    let mut contents: Vec<&Vec<u8>> = archived.iter().map(|(_, c)| c).collect();
    contents.sort();
    let mut wanted: Vec<&Vec<u8>> = expected.iter().collect();
    wanted.sort();
    assert_eq!(
        contents.len(),
        wanted.len(),
        "archived {} messages, expected {}",
        contents.len(),
        wanted.len()
    );
    assert!(
        contents == wanted,
        "archived content differs from what was sent"
    );
    contents.len()
}

/// A well-behaved message, unique per `tag`.
pub fn good_message(tag: &str, size: usize) -> Vec<u8> {
    let mut message = format!("X-Tag: well-behaved {tag}\r\n").into_bytes();
    message.extend_from_slice(&corpus::message(tag.len(), size));
    message
}

/// Sends `message` over SMTP to `addr` the way a patient MTA does (a busy
/// `421` greeting is retried); returns the final reply's text.
pub async fn send_good(addr: SocketAddr, message: &[u8]) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut client = loop {
        let mut client = SmtpClient::connect(addr).await;
        let greeting = client.expect("").await;
        if greeting.code() == 220 {
            break client;
        }
        assert!(Instant::now() < deadline, "never greeted: {greeting}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    client.cmd("EHLO good.test", "250").await;
    let reply = client
        .send_message("good@example.com", "rcpt@example.org", message, "250")
        .await;
    client.cmd("QUIT", "221").await;
    reply.text()
}

/// Sends `message` through the journal and checks it got a record id.
pub async fn send_good_journal(addr: SocketAddr, message: &[u8]) {
    let reply = send_good(addr, message).await;
    assert_eq!(archived_ids(&reply).len(), 1, "{reply}");
}

/// Writes `payload` one byte every `gap` on a connection that already
/// went through `client`'s dialogue, until the server closes it; returns
/// everything the server said after that point and whether it closed.
pub async fn trickle(client: SmtpClient, payload: &[u8], gap: Duration) -> (String, bool) {
    let (stream, buffered) = client.into_parts();
    let (mut read, mut write) = stream.into_split();
    let reader = tokio::spawn(async move {
        let mut seen = buffered;
        let mut chunk = [0u8; 4096];
        loop {
            let n = tokio::time::timeout(Duration::from_secs(120), read.read(&mut chunk)).await;
            match n {
                Ok(Ok(0)) | Ok(Err(_)) => return (seen, true),
                Ok(Ok(n)) => seen.extend_from_slice(&chunk[..n]),
                Err(_) => return (seen, false),
            }
        }
    });
    for b in payload {
        if reader.is_finished() || write.write_all(&[*b]).await.is_err() {
            break;
        }
        tokio::time::sleep(gap).await;
    }
    let (seen, closed) = reader.await.unwrap();
    (String::from_utf8_lossy(&seen).into_owned(), closed)
}

/// Reads from `stream` until it closes (or 60 s pass); returns the text.
pub async fn read_to_close(stream: &mut TcpStream) -> (String, bool) {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut seen));
    let closed = matches!(read.await, Ok(Ok(_)) | Ok(Err(_)));
    (String::from_utf8_lossy(&seen).into_owned(), closed)
}

/// One row of the reliability table.
pub struct Row<'a> {
    /// Scenario name.
    pub scenario: &'a str,
    /// The load around the attack.
    pub load: &'a str,
    /// What was injected.
    pub faults: &'a str,
    /// Well-behaved messages acknowledged with `250` (or IMAP `OK`).
    pub acknowledged: usize,
    /// Of those, found byte-exact in the archive.
    pub intact: usize,
    /// The daemon's peak RSS.
    pub peak_rss: u64,
}

/// Appends `row` to `$MAILSEAL_HOSTILE_ROWS` when set; `finish` already
/// required `verify` to pass.
pub fn record(row: Row<'_>) {
    let Some(path) = std::env::var_os("MAILSEAL_HOSTILE_ROWS") else {
        return;
    };
    let line = format!(
        "| {} | {} | {} | {} | {} | verify ok, daemon exit 0 | {} MiB |\n",
        row.scenario,
        row.load,
        row.faults,
        row.acknowledged,
        row.intact,
        row.peak_rss >> 20
    );
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(Path::new(&path))
        .unwrap();
    file.write_all(line.as_bytes()).unwrap();
}

/// Fails unless the peak RSS stayed below [`RSS_BOUND`].
pub fn assert_bounded(rig: &Rig) -> u64 {
    let peak = rig.peak_rss();
    assert!(peak > 0, "no VmHWM for the daemon");
    assert!(
        peak < RSS_BOUND,
        "daemon peak RSS {} MiB, bound {} MiB",
        peak >> 20,
        RSS_BOUND >> 20
    );
    peak
}
