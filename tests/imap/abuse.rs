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

use super::{Raw, archived, setup, wait_archived};

/// Resident memory of this test process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_truncated_literals_leave_the_proxy_working() {
    let Some(s) = setup(|_, _| {}).await else { return };
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
    assert!(archived(&s.archive).is_empty(), "a truncated literal was archived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_literal_streams_through_in_bounded_memory() {
    let Some(s) = setup(|_, _| {}).await else { return };
    let (mut c, _) = Raw::connect(s.proxy).await;
    c.login().await;
    let mut line = b"x".repeat(998);
    line.extend_from_slice(b"\r\n");
    let chunk: Vec<u8> = line.repeat(64);
    let header = b"Subject: big\r\n\r\n";
    let chunks = 100 * 1024 * 1024 / chunk.len();
    let size = header.len() + chunks * chunk.len();
    let mut hash = Sha256::new();
    hash.update(header);
    let before = rss();
    c.send(format!("a1 APPEND INBOX {{{size}+}}\r\n").as_bytes()).await;
    c.send(header).await;
    for _ in 0..chunks {
        c.send(&chunk).await;
        hash.update(&chunk);
    }
    c.send(b"\r\n").await;
    let reply = c.until("a1").await;
    assert!(reply.contains("a1 OK"), "{reply}");
    let grown = rss().saturating_sub(before);
    assert!(grown < 48 << 20, "memory grew by {} MiB for a 100 MB literal", grown >> 20);
    wait_archived(&s.archive, 1).await;
    let summaries = s.archive.reader().summaries().unwrap();
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].size, size as u64);
    assert_eq!(summaries[0].sha256, hex::encode(hash.finalize()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlong_line_is_passed_on_without_buffering() {
    let Some(s) = setup(|_, _| {}).await else { return };
    let (mut c, _) = Raw::connect(s.proxy).await;
    c.login().await;
    let before = rss();
    let mut long = b"a1 SEARCH TEXT ".to_vec();
    long.extend(std::iter::repeat_n(b'q', 4 << 20));
    long.extend_from_slice(b"\r\n");
    c.send(&long).await;
    let reply = c.line().await;
    assert!(reply.contains("BAD") || reply.is_empty() || reply.starts_with('*'), "{reply}");
    assert!(rss().saturating_sub(before) < 24 << 20, "memory grew with the line");
    let (mut again, _) = Raw::connect(s.proxy).await;
    again.login().await;
}

/// A fake upstream that answers a FETCH with a literal announcing more
/// bytes than it sends, then hangs up.
async fn lying_upstream() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (conn, _) = listener.accept().await.unwrap();
        let mut conn = BufReader::new(conn);
        conn.get_mut().write_all(b"* OK fake ready\r\n").await.unwrap();
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
    let mut config = ImapProxyConfig::for_test("imap-test", "127.0.0.1:0".parse().unwrap(), upstream);
    config.complete_partial_fetches = false;
    let proxy = ImapProxy::bind(config, archive.clone()).await.unwrap();
    let addr = proxy.local_addr().unwrap();
    tokio::spawn(proxy.serve(Shutdown::new()));
    let mut c = BufReader::new(TcpStream::connect(addr).await.unwrap());
    let mut seen = Vec::new();
    c.get_mut().write_all(b"a LOGIN u p\r\nb SELECT INBOX\r\nc UID FETCH 1 BODY[]\r\n").await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(10), tokio::io::AsyncReadExt::read_to_end(&mut c, &mut seen));
    read.await.expect("proxy did not close the client").unwrap();
    assert!(String::from_utf8_lossy(&seen).contains("From: only a part"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(archived(&archive).is_empty(), "a truncated FETCH literal was archived");
}
