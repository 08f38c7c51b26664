//! The POP3 proxy against Dovecot's POP3 server on loopback, with real
//! clients (Python's poplib, fetchmail) and raw protocol bytes: what a
//! client downloads crosses the proxy unchanged and is in the archive,
//! byte-exact, before the client sees the terminating `.`.

use std::net::SocketAddr;
use std::time::Duration;

use mailseal::archive::Archive;
use mailseal::archive::record::{MessageMeta, Pop3Context};
use mailseal::config::Pop3ProxyConfig;
use mailseal::pop3::Pop3Proxy;
use mailseal::shutdown::Shutdown;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use crate::support::dovecot::{self, Dovecot, PASSWORD, USER};

// Clients through the proxy: poplib, logins (USER, APOP, AUTH), CAPA.
mod relay;
// What the archive holds: byte-exact RETR, UIDL, dedup, TOP completion.
mod capture;
// STLS and implicit TLS on both legs.
mod tls;
// fetchmail, a dying upstream, a failing archive, kill -9 of the daemon.
mod failures;

/// A Dovecot POP3 server, an archive and the proxy in front of them.
pub struct Setup {
    /// The upstream.
    pub server: Dovecot,
    /// The archive the proxy writes to.
    pub archive: Archive,
    /// Where the proxy listens.
    pub proxy: SocketAddr,
    /// Stops the proxy.
    pub shutdown: Shutdown,
    /// Keeps the archive directory.
    _dir: tempfile::TempDir,
}

/// Starts Dovecot (`None` when not installed) holding `messages` and a
/// proxy configured by `adjust` in front of it.
pub async fn setup(
    messages: &[Vec<u8>],
    adjust: impl FnOnce(&mut Pop3ProxyConfig, &Dovecot),
) -> Option<Setup> {
    if !dovecot::pop3_available() {
        return None;
    }
    let server = tokio::task::spawn_blocking(|| Dovecot::pop3(None))
        .await
        .unwrap();
    server.deliver(messages);
    Some(setup_with(server, adjust).await)
}

/// A proxy in front of an already started server.
pub async fn setup_with(
    server: Dovecot,
    adjust: impl FnOnce(&mut Pop3ProxyConfig, &Dovecot),
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::open_dir(dir.path()).unwrap();
    let mut config = Pop3ProxyConfig::for_test(
        "pop3-test",
        "127.0.0.1:0".parse().unwrap(),
        server.pop3_addr(),
    );
    adjust(&mut config, &server);
    let proxy = Pop3Proxy::bind(&config, &archive).await.unwrap();
    let addr = proxy.local_addr().unwrap();
    let shutdown = Shutdown::new();
    proxy.serve(&shutdown);
    Setup {
        server,
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

/// The POP3 context of an archived message.
pub fn pop3(meta: &MessageMeta) -> &Pop3Context {
    meta.pop3.as_ref().expect("a POP3 record")
}

/// `message` as a POP3 server keeps it: CRLF line ends, ending in CRLF.
pub fn crlf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 40);
    for (i, &b) in message.iter().enumerate() {
        if b == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Messages with what makes POP3 framing hard: dot-leading lines (and a
/// line that is only a dot), 8-bit text, a long line, CRLF.
pub fn awkward() -> Vec<Vec<u8>> {
    let mut long = b"Subject: long line\r\n\r\n".to_vec();
    long.extend(vec![b'y'; 70_000]);
    long.extend_from_slice(b"\r\n");
    vec![
        b"Subject: dots\r\n\r\n.\r\n..\r\n.x\r\n...\r\nend\r\n".to_vec(),
        b"Subject: 8bit \xe4\xf6\xfc\r\nContent-Type: text/plain; charset=latin1\r\n\r\nGr\xfc\xdfe\r\n\xff\xfe\x80\r\n".to_vec(),
        long,
        crate::support::corpus::message(7, 20_000),
    ]
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

/// A raw POP3 connection that speaks lines and reads multi-line bodies.
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

    /// Connects and logs in with USER/PASS.
    pub async fn login(addr: SocketAddr) -> Raw {
        let (mut raw, greeting) = Raw::connect(addr).await;
        assert!(greeting.starts_with("+OK"), "{greeting}");
        assert!(raw.cmd(&format!("USER {USER}")).await.starts_with("+OK"));
        let pass = raw.cmd(&format!("PASS {PASSWORD}")).await;
        assert!(pass.starts_with("+OK"), "{pass}");
        raw
    }

    /// Sends bytes as they are.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.conn.get_mut().write_all(bytes).await.unwrap();
    }

    /// Reads one line (empty at end of stream).
    pub async fn line(&mut self) -> String {
        String::from_utf8_lossy(&self.line_bytes().await).into_owned()
    }

    async fn line_bytes(&mut self) -> Vec<u8> {
        let mut buf = Vec::new();
        tokio::time::timeout(
            Duration::from_secs(30),
            self.conn.read_until(b'\n', &mut buf),
        )
        .await
        .expect("no line within 30 s")
        .unwrap();
        buf
    }

    /// Sends a command and returns its status line.
    pub async fn cmd(&mut self, command: &str) -> String {
        self.send(format!("{command}\r\n").as_bytes()).await;
        self.line().await
    }

    /// Reads a multi-line body: the raw bytes through the terminating
    /// line, and the content with stuffed dots removed. `None` when the
    /// connection ended before the terminating line.
    pub async fn body(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        let (mut raw, mut content) = (Vec::new(), Vec::new());
        loop {
            let line = self.line_bytes().await;
            if line.is_empty() {
                return None;
            }
            raw.extend_from_slice(&line);
            if line == b".\r\n" {
                return Some((raw, content));
            }
            let unstuffed = if line.starts_with(b".") {
                &line[1..]
            } else {
                &line[..]
            };
            content.extend_from_slice(unstuffed);
        }
    }

    /// `RETR n`: the message's content, or `None` if the connection ended
    /// before the terminating line.
    pub async fn retr(&mut self, n: usize) -> Option<Vec<u8>> {
        let status = self.cmd(&format!("RETR {n}")).await;
        assert!(status.starts_with("+OK"), "RETR {n}: {status}");
        self.body().await.map(|(_, content)| content)
    }

    /// Reads whatever is left until the peer closes.
    pub async fn rest(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(30), self.conn.read_to_end(&mut rest)).await;
        rest
    }
}
