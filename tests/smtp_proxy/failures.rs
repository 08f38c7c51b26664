//! When things go wrong the client gets a `4xx` (or a protocol error) and
//! nothing reaches the upstream that is not in the archive: upstream down
//! or killed mid-DATA, archive or spool failing, smuggling, overlong lines.

use std::time::Duration;

use mailseal::archive::{Archive, ArchiveOptions};
use mailseal::config::SmtpProxyConfig;
use mailseal::shutdown::Shutdown;
use mailseal::smtp::data::stuff;

use super::{Proxy, sha256, swaks_final};
use crate::support::corpus;
use crate::support::sink::Sink;
use crate::support::smtp::{SmtpClient, free_port, swaks};

/// Connects, greets and opens a transaction up to `354`.
async fn into_data(proxy: &Proxy) -> SmtpClient {
    let mut client = SmtpClient::connect(proxy.addr).await;
    client.expect("220").await;
    client.cmd("EHLO raw.test", "250").await;
    client.cmd("MAIL FROM:<a@example.com>", "250").await;
    client.cmd("RCPT TO:<b@example.org>", "250").await;
    client.cmd("DATA", "354").await;
    client
}

/// Gives a dropped upstream transaction time to show up if it would.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(800)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_down_at_connect_gives_421() {
    let nobody = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let proxy = Proxy::start(nobody, |_, _| {}).await;
    let mut client = SmtpClient::connect(proxy.addr).await;
    client.expect("421 4.4.1").await;
    assert!(client.closed().await);
    let out = swaks(proxy.addr, &["--to", "b@example.org"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("421 4.4.1"),
        "{out:?}"
    );
    assert!(proxy.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_killed_mid_data_gives_4xx_and_the_attempt_is_archived() {
    let mut sink = Sink::plain();
    let proxy = Proxy::start(sink.addr, |_, _| {}).await;
    let message = corpus::message(3, 400_000);
    let wire = stuff(&message);
    let (first, rest) = wire.split_at(100_000);
    let mut client = into_data(&proxy).await;
    client.send(first).await;
    settle().await;
    sink.kill();
    // `stuff` ended the data with its `.` line.
    client.send(rest).await;
    client.expect("451 4.4.2").await;
    // The upstream is gone for good: the client is told to reconnect.
    client.cmd("MAIL FROM:<a@example.com>", "421 4.4.2").await;

    let (seq, meta, content) = proxy.latest();
    assert_eq!(sha256(&content), sha256(&message));
    assert_eq!(meta.rcpts[0].reply.as_deref(), Some("250 2.1.5 Ok"));
    let outcome = proxy.outcome_of(seq).await;
    assert_eq!(outcome.result, "failed");
    assert!(
        outcome.upstream_reply.starts_with("no reply"),
        "{outcome:?}"
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_archive_gets_451_and_the_upstream_never_completes() {
    let sink = Sink::plain();
    let proxy = Proxy::start(sink.addr, |_, _| {}).await;
    let mut client = into_data(&proxy).await;
    // The archive stops (as on a dead disk) while the message streams.
    let archive = proxy.archive.clone();
    tokio::task::spawn_blocking(move || archive.close())
        .await
        .unwrap()
        .unwrap();
    client
        .send(b"Subject: doomed\r\n\r\nnot archived, not delivered\r\n.\r\n")
        .await;
    client.expect("451 4.3.0").await;
    settle().await;
    assert!(
        sink.messages().is_empty(),
        "upstream got an unarchived message"
    );
}

/// A proxy whose archive spools past 64 KiB into `spool_dir`, which has
/// become a regular file: spilling fails.
async fn proxy_with_broken_spool(sink: &Sink) -> (Proxy, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = ArchiveOptions::at(&dir.path().join("archive"));
    options.spool_memory_limit = 64 * 1024;
    options.spool_dir = dir.path().join("spool");
    let archive = Archive::open(&options).unwrap();
    std::fs::remove_dir(&options.spool_dir).unwrap();
    std::fs::write(&options.spool_dir, b"").unwrap();
    let listen = "127.0.0.1:0".parse().unwrap();
    let mut config = SmtpProxyConfig::for_test("proxy", listen, sink.addr);
    config.upstream.tls = mailseal::config::SmtpUpstreamTls::None;
    let shutdown = Shutdown::new();
    let addr = mailseal::smtp::listener::start_proxy(&config, &archive, &shutdown)
        .await
        .unwrap();
    let proxy = Proxy {
        archive,
        addr,
        shutdown,
        dir: tempfile::tempdir().unwrap(),
    };
    (proxy, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spool_failure_gets_451_and_the_upstream_never_completes() {
    let sink = Sink::plain();
    let (proxy, _dir) = proxy_with_broken_spool(&sink).await;
    let mut client = into_data(&proxy).await;
    client.send(&stuff(&corpus::message(4, 300_000))).await;
    client.expect("451 4.3.0").await;
    settle().await;
    assert!(sink.messages().is_empty());
    assert!(proxy.messages().is_empty());
    // Small messages stay in memory and still go through, on a new
    // connection (the aborted upstream transaction took the old one).
    let mut client = SmtpClient::connect(proxy.addr).await;
    client.expect("220").await;
    client.cmd("EHLO raw.test", "250").await;
    client
        .send_message(
            "a@example.com",
            "b@example.org",
            b"Subject: s\r\n\r\nsmall\r\n",
            "250",
        )
        .await;
    assert_eq!(sink.wait_for(1).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn smuggling_attempts_are_refused_and_never_split_a_message() {
    let sink = Sink::plain();
    let proxy = Proxy::start(sink.addr, |_, _| {}).await;
    let smuggled = "MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n\
                    Subject: smuggled\r\n\r\nevil\r\n";
    for ending in ["\n.\r\n", "\n.\n", "\r\n.\n", "\r.\r\n", "\r\n.\r"] {
        let mut client = into_data(&proxy).await;
        let data = format!("Subject: innocent\r\n\r\nhello{ending}{smuggled}.\r\n");
        client.send(data.as_bytes()).await;
        client.expect("554 5.5.2").await;
        assert!(client.closed().await, "{ending:?}: session should close");
    }
    settle().await;
    assert!(sink.messages().is_empty(), "upstream got a message");
    assert!(proxy.messages().is_empty(), "archive got a message");
}

#[tokio::test(flavor = "multi_thread")]
async fn overlong_command_lines_are_refused_and_the_session_stays_in_step() {
    let sink = Sink::plain();
    let proxy = Proxy::start(sink.addr, |_, _| {}).await;
    let mut client = SmtpClient::connect(proxy.addr).await;
    client.expect("220").await;
    client.cmd("EHLO raw.test", "250").await;
    let long = format!("MAIL FROM:<{}@example.com>", "a".repeat(5000));
    client.cmd(&long, "500 5.5.2").await;
    let long = format!("NOOP {}\r\nRCPT TO:<x@example.org>", "n".repeat(20_000));
    client.cmd(&long, "500 5.5.2").await;
    client.expect("503").await;
    client
        .send_message(
            "a@example.com",
            "b@example.org",
            b"Subject: after\r\n\r\nok\r\n",
            "250",
        )
        .await;
    client.cmd("QUIT", "221").await;
    let received = sink.wait_for(1);
    settle().await;
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(received[0].content, b"Subject: after\r\n\r\nok\r\n");
    assert_eq!(proxy.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_closes_idle_sessions_with_421() {
    let sink = Sink::plain();
    let proxy = Proxy::start(sink.addr, |_, _| {}).await;
    let mut client = SmtpClient::connect(proxy.addr).await;
    client.expect("220").await;
    client.cmd("EHLO raw.test", "250").await;
    proxy.shutdown.token.cancel();
    client.expect("421 4.3.0").await;
    assert!(client.closed().await);
    let out = swaks(proxy.addr, &["--to", "b@example.org"]);
    assert!(!swaks_final(&out).contains("250"), "{out:?}");
}
