//! Bad input on either leg: garbage, truncated literals, literals that
//! announce more than is sent, a 100 MB literal and an overlong line. None
//! of it crashes the proxy, grows its memory, or puts a partial message in
//! the archive.

use std::time::Duration;

use mailseal::archive::Archive;
use mailseal::config::ImapProxyConfig;
use mailseal::imap::ImapProxy;
use mailseal::shutdown::Shutdown;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::{Raw, archived, setup};
use crate::support::dovecot::{self, Dovecot};

/// A proxy in a child process (this test binary running [`proxy_child`]),
/// so its memory can be measured apart from the other tests.
struct ChildProxy {
    /// The child.
    child: std::process::Child,
    /// Where it listens.
    addr: std::net::SocketAddr,
    /// Lines the child printed after `listening`.
    lines: std::sync::mpsc::Receiver<String>,
}

impl ChildProxy {
    fn start(upstream: std::net::SocketAddr, archive: &std::path::Path) -> ChildProxy {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "imap::abuse::proxy_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("MAILSEAL_TEST_UPSTREAM", upstream.to_string())
            .env("MAILSEAL_TEST_ARCHIVE", archive)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in
                std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let mut proxy = ChildProxy {
            child,
            addr: upstream,
            lines,
        };
        let port = proxy.expect("listening ");
        proxy.addr = format!("127.0.0.1:{port}").parse().unwrap();
        proxy
    }

    /// Waits for a line containing `prefix` (libtest may print its own
    /// text first on the same line); returns what follows it.
    fn expect(&mut self, prefix: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .expect("child proxy went quiet");
            if let Some((_, rest)) = line.split_once(prefix) {
                return rest.trim().to_owned();
            }
        }
    }

    /// (current, peak) resident memory of the child, in bytes.
    fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Ends the child (closing its stdin) and waits for it.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Not a test of its own: the child process of the memory tests. Runs a
/// proxy to `MAILSEAL_TEST_UPSTREAM`, prints `listening PORT` and
/// `archived N` as records arrive, and ends when stdin closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of the memory tests"]
async fn proxy_child() {
    let (Ok(upstream), Ok(dir)) = (
        std::env::var("MAILSEAL_TEST_UPSTREAM"),
        std::env::var("MAILSEAL_TEST_ARCHIVE"),
    ) else {
        return;
    };
    let archive = Archive::open_dir(std::path::Path::new(&dir)).unwrap();
    let config = ImapProxyConfig::for_test(
        "imap-test",
        "127.0.0.1:0".parse().unwrap(),
        upstream.parse().unwrap(),
    );
    let proxy = ImapProxy::bind(config, archive.clone()).await.unwrap();
    println!("listening {}", proxy.local_addr().unwrap().port());
    let shutdown = Shutdown::new();
    tokio::spawn(proxy.serve(shutdown.clone()));
    let mut stdin_closed =
        tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new()));
    let mut seen = 0;
    loop {
        tokio::select! {
            _ = &mut stdin_closed => break,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        let n = archive.reader().summaries().map(|s| s.len()).unwrap_or(0);
        if n != seen {
            seen = n;
            println!("archived {n}");
        }
    }
    shutdown.drain(Duration::from_secs(10)).await;
    let _ = tokio::task::spawn_blocking(move || archive.close()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_truncated_literals_leave_the_proxy_working() {
    let Some(s) = setup(|_, _| {}).await else {
        return;
    };
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let garbage: Vec<u8> = (0..20_000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            b"{}~+\"\\\r\n a1*0123()[]\0\xffLOGIN APPEND"[(seed % 32) as usize]
        })
        .collect();
    let inputs: [&[u8]; 4] = [
        &garbage,
        b"a1 LOGIN alice secret\r\na2 APPEND INBOX {100+}\r\nonly ten b",
        b"a1 APPEND INBOX {5}\r\nnot waiting for the continuation\r\n",
        b"a1 LOGIN {5}\r\n",
    ];
    for input in inputs {
        let (mut c, _) = Raw::connect(s.proxy).await;
        c.send(input).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(c);
    }
    let (mut c, _) = Raw::connect(s.proxy).await;
    c.login().await;
    assert!(c.cmd("n1", "NOOP").await.contains("n1 OK"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        archived(&s.archive).is_empty(),
        "a truncated literal was archived"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_literal_streams_through_in_bounded_memory() {
    if !dovecot::available() {
        return;
    }
    let dovecot = tokio::task::spawn_blocking(|| Dovecot::start(None))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = ChildProxy::start(dovecot.addr(), dir.path());
    let (mut c, _) = Raw::connect(proxy.addr).await;
    c.login().await;
    let mut line = b"x".repeat(998);
    line.extend_from_slice(b"\r\n");
    let chunk: Vec<u8> = line.repeat(64);
    let header = b"Subject: big\r\n\r\n";
    let chunks = 100 * 1024 * 1024 / chunk.len();
    let size = header.len() + chunks * chunk.len();
    let mut hash = Sha256::new();
    hash.update(header);
    let (before, _) = proxy.memory();
    c.send(format!("a1 APPEND INBOX {{{size}+}}\r\n").as_bytes())
        .await;
    c.send(header).await;
    for _ in 0..chunks {
        c.send(&chunk).await;
        hash.update(&chunk);
    }
    c.send(b"\r\n").await;
    let reply = c.until("a1").await;
    assert!(reply.contains("a1 OK"), "{reply}");
    proxy.expect("archived 1");
    let (_, peak) = proxy.memory();
    proxy.stop();
    assert!(
        peak < before + (48 << 20),
        "proxy memory peaked {} MiB above its start",
        (peak - before) >> 20
    );
    let archive = Archive::open_dir(dir.path()).unwrap();
    let summaries = archive.reader().summaries().unwrap();
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].size, size as u64);
    assert_eq!(summaries[0].sha256, hex::encode(hash.finalize()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlong_line_is_passed_on_without_buffering() {
    if !dovecot::available() {
        return;
    }
    let dovecot = tokio::task::spawn_blocking(|| Dovecot::start(None))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let proxy = ChildProxy::start(dovecot.addr(), dir.path());
    let (mut c, _) = Raw::connect(proxy.addr).await;
    c.login().await;
    let (before, _) = proxy.memory();
    let mut long = b"a1 SEARCH TEXT ".to_vec();
    long.extend(std::iter::repeat_n(b'q', 16 << 20));
    long.extend_from_slice(b"\r\n");
    c.send(&long).await;
    let reply = c.line().await;
    assert!(
        reply.contains("BAD") || reply.is_empty() || reply.starts_with('*'),
        "{reply}"
    );
    let (mut again, _) = Raw::connect(proxy.addr).await;
    again.login().await;
    let (_, peak) = proxy.memory();
    proxy.stop();
    assert!(
        peak < before + (12 << 20),
        "proxy memory peaked {} MiB above its start",
        (peak - before) >> 20
    );
}

/// A fake upstream that answers a FETCH with a literal announcing more
/// bytes than it sends, then hangs up.
async fn lying_upstream() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (conn, _) = listener.accept().await.unwrap();
        let mut conn = BufReader::new(conn);
        conn.get_mut()
            .write_all(b"* OK fake ready\r\n")
            .await
            .unwrap();
        let mut line = String::new();
        while conn.read_line(&mut line).await.unwrap_or(0) > 0 {
            let tag = line.split(' ').next().unwrap_or("").to_owned();
            let reply = if line.contains("SELECT") {
                format!("* OK [UIDVALIDITY 9] ok\r\n{tag} OK selected\r\n")
            } else if line.contains("FETCH") {
                "* 1 FETCH (UID 1 BODY[] {1000}\r\nFrom: only a part".to_owned()
            } else {
                format!("{tag} OK done\r\n")
            };
            conn.get_mut().write_all(reply.as_bytes()).await.unwrap();
            if line.contains("FETCH") {
                return;
            }
            line.clear();
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_server_literal_is_not_archived() {
    let upstream = lying_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::open_dir(dir.path()).unwrap();
    let mut config =
        ImapProxyConfig::for_test("imap-test", "127.0.0.1:0".parse().unwrap(), upstream);
    config.complete_partial_fetches = false;
    let proxy = ImapProxy::bind(config, archive.clone()).await.unwrap();
    let addr = proxy.local_addr().unwrap();
    tokio::spawn(proxy.serve(Shutdown::new()));
    let mut c = BufReader::new(TcpStream::connect(addr).await.unwrap());
    let mut seen = Vec::new();
    c.get_mut()
        .write_all(b"a LOGIN u p\r\nb SELECT INBOX\r\nc UID FETCH 1 BODY[]\r\n")
        .await
        .unwrap();
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_to_end(&mut c, &mut seen),
    );
    read.await.expect("proxy did not close the client").unwrap();
    assert!(String::from_utf8_lossy(&seen).contains("From: only a part"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        archived(&archive).is_empty(),
        "a truncated FETCH literal was archived"
    );
}
