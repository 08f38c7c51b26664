//! The IMAP proxy against a real Dovecot on loopback, with real clients
//! (Python's imaplib, mbsync) and raw protocol bytes: what crosses the
//! proxy is relayed unchanged and archived byte-exact with its context.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mailseal::archive::Archive;
use mailseal::archive::record::{ImapContext, MessageMeta};
use mailseal::config::ImapProxyConfig;
use mailseal::imap::ImapProxy;
use mailseal::shutdown::Shutdown;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use crate::support::dovecot::{self, Dovecot, PASSWORD, USER};

// Clients talking through the proxy: imaplib, raw commands, IDLE, limits.
mod relay;
// What the archive holds afterwards: APPEND, FETCH, completion, skips.
mod capture;
// mbsync syncing a mailbox through the proxy.
mod mbsync;
// TLS on the client leg (STARTTLS, implicit) and to the upstream.
mod tls;
// Garbage, truncated and oversized input.
mod abuse;

/// A Dovecot, an archive and the proxy in front of them.
pub struct Setup {
    /// The upstream.
    pub dovecot: Dovecot,
    /// The archive the proxy writes to.
    pub archive: Archive,
    /// Where the proxy listens.
    pub proxy: SocketAddr,
    /// Stops the proxy.
    pub shutdown: Shutdown,
    /// Keeps the archive directory.
    _dir: tempfile::TempDir,
}

/// Starts Dovecot (`None` when not installed) and a proxy configured by
/// `adjust` in front of it.
pub async fn setup(adjust: impl FnOnce(&mut ImapProxyConfig, &Dovecot)) -> Option<Setup> {
    if !dovecot::available() {
        return None;
    }
    let dovecot = tokio::task::spawn_blocking(|| Dovecot::start(None))
        .await
        .unwrap();
    Some(setup_with(dovecot, adjust).await)
}

/// A proxy in front of an already started Dovecot.
pub async fn setup_with(
    dovecot: Dovecot,
    adjust: impl FnOnce(&mut ImapProxyConfig, &Dovecot),
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::open_dir(dir.path()).unwrap();
    let mut config =
        ImapProxyConfig::for_test("imap-test", "127.0.0.1:0".parse().unwrap(), dovecot.addr());
    adjust(&mut config, &dovecot);
    let proxy = ImapProxy::bind(config, archive.clone()).await.unwrap();
    let addr = proxy.local_addr().unwrap();
    let shutdown = Shutdown::new();
    tokio::spawn(proxy.serve(shutdown.clone()));
    Setup {
        dovecot,
        archive,
        proxy: addr,
        shutdown,
        _dir: dir,
    }
}

/// Every archived message: its metadata and its bytes.
pub fn archived(archive: &Archive) -> Vec<(MessageMeta, Vec<u8>)> {
    let reader = archive.reader();
    let mut out = Vec::new();
    for summary in reader.summaries().unwrap() {
        let (record, _) = reader.record(summary.seq).unwrap();
        let Some(meta) = record.message().cloned() else {
            continue;
        };
        let mut bytes = Vec::new();
        reader
            .write_content(&meta.content.sha256, &mut bytes)
            .unwrap();
        out.push((meta, bytes));
    }
    out
}

/// Waits until the archive holds at least `n` messages.
pub async fn wait_archived(archive: &Archive, n: usize) -> Vec<(MessageMeta, Vec<u8>)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = archived(archive);
        if found.len() >= n || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The IMAP context of an archived message.
pub fn imap(meta: &MessageMeta) -> &ImapContext {
    meta.imap.as_ref().expect("an IMAP record")
}

/// Runs a Python script with `args`; returns its stdout, failing the test
/// with its stderr if it fails.
pub async fn python(script: &str, args: &[String]) -> String {
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Puts `messages` straight into Dovecot's INBOX (not through the proxy).
pub async fn seed(dovecot: &Dovecot, messages: &[Vec<u8>]) {
    let dir = tempfile::tempdir().unwrap();
    for (i, m) in messages.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i:05}")), m).unwrap();
    }
    let script = r#"
import imaplib, os, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
for name in sorted(os.listdir(sys.argv[4])):
    typ, _ = m.append('INBOX', None, None, open(os.path.join(sys.argv[4], name), 'rb').read())
    assert typ == 'OK'
m.logout()
"#;
    let args = [
        dovecot.port.to_string(),
        USER.into(),
        PASSWORD.into(),
        dir.path().display().to_string(),
    ];
    python(script, &args).await;
}

/// A raw IMAP connection that speaks lines and reads up to tagged replies.
pub struct Raw {
    /// The connection, buffered for line reads.
    conn: BufReader<TcpStream>,
}

impl Raw {
    /// Connects and reads the greeting.
    pub async fn connect(addr: SocketAddr) -> (Raw, String) {
        let mut raw = Raw {
            conn: BufReader::new(TcpStream::connect(addr).await.unwrap()),
        };
        let greeting = raw.line().await;
        (raw, greeting)
    }

    /// Sends bytes as they are.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.conn.get_mut().write_all(bytes).await.unwrap();
    }

    /// Reads one line (empty at end of stream).
    pub async fn line(&mut self) -> String {
        let mut buf = Vec::new();
        tokio::time::timeout(
            Duration::from_secs(20),
            self.conn.read_until(b'\n', &mut buf),
        )
        .await
        .expect("no line within 20 s")
        .unwrap();
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Sends `tag command` and returns everything up to the tagged reply
    /// (which is the last line).
    pub async fn cmd(&mut self, tag: &str, command: &str) -> String {
        self.send(format!("{tag} {command}\r\n").as_bytes()).await;
        self.until(tag).await
    }

    /// Reads lines through the one starting with `tag `.
    pub async fn until(&mut self, tag: &str) -> String {
        let mut all = String::new();
        loop {
            let line = self.line().await;
            assert!(!line.is_empty(), "connection closed; got so far:\n{all}");
            all.push_str(&line);
            if line.starts_with(&format!("{tag} ")) {
                return all;
            }
        }
    }

    /// Logs in as the test user.
    pub async fn login(&mut self) {
        let reply = self.cmd("l1", &format!("LOGIN {USER} {PASSWORD}")).await;
        assert!(reply.contains("l1 OK"), "{reply}");
    }
}

/// A test message of about `size` bytes.
pub fn message(i: usize, size: usize) -> Vec<u8> {
    crate::support::corpus::message(i, size)
}
