//! Input no client should send: a megabyte command line (SMTP and IMAP),
//! NUL bytes in commands and in DATA, invalid UTF-8 in SMTPUTF8 addresses,
//! and an IMAP literal announcing 4 GB.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use crate::imap::Raw;
use crate::support::smtp::SmtpClient;

use super::{Limits, Rig, Row, assert_bounded, assert_exactly, good_message, record};

async fn rig() -> Rig {
    tokio::task::spawn_blocking(|| Rig::start(Limits::default()))
        .await
        .unwrap()
}

/// A session greeted with EHLO.
async fn greeted(addr: SocketAddr) -> SmtpClient {
    let mut client = SmtpClient::connect(addr).await;
    client.expect("220").await;
    client.cmd("EHLO hostile.test", "250").await;
    client
}

/// Sends `message` on an open session; returns the final reply's text.
async fn send_on(client: &mut SmtpClient, message: &[u8]) -> String {
    let reply = client
        .send_message("good@example.com", "rcpt@example.org", message, "250")
        .await;
    reply.text()
}

/// APPENDs `message` to INBOX through the IMAP proxy with a LITERAL+.
async fn append(c: &mut Raw, tag: &str, message: &[u8]) -> String {
    let head = format!("{tag} APPEND INBOX {{{}+}}\r\n", message.len());
    c.send(head.as_bytes()).await;
    c.send(message).await;
    c.send(b"\r\n").await;
    c.until(tag).await
}

/// Reads IMAP lines until the tagged reply of `tag`, a BYE or the end of
/// the stream (60 s at most); returns what was read and whether it closed.
async fn imap_outcome(conn: &mut BufReader<TcpStream>, tag: &str) -> (String, bool) {
    let mut all = String::new();
    loop {
        let mut line = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(60), conn.read_until(b'\n', &mut line));
        match read.await {
            Ok(Ok(0)) | Ok(Err(_)) => return (all, true),
            Err(_) => return (all, false),
            Ok(Ok(_)) => {}
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        all.push_str(&line);
        if line.starts_with(&format!("{tag} ")) || line.starts_with("* BYE") {
            return (all, false);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn megabyte_command_lines_are_refused_and_sessions_recover() {
    let mut rig = rig().await;
    let long = format!("MAIL FROM:<{}@example.com>", "x".repeat(1 << 20));
    let mut expected = Vec::new();
    for (addr, name) in [(rig.journal, "journal"), (rig.proxy, "proxy")] {
        let mut client = greeted(addr).await;
        client.cmd(&long, "500 5.5.2").await;
        client.cmd("NOOP", "250").await;
        let message = good_message(&format!("long-{name}"), 30_000);
        let reply = send_on(&mut client, &message).await;
        assert!(reply.starts_with("250"), "{name}: {reply}");
        expected.push(message);
    }

    // IMAP: the line streams through; Dovecot refuses it or hangs up.
    let tcp = TcpStream::connect(rig.imap).await.unwrap();
    let mut conn = BufReader::new(tcp);
    let mut greeting = String::new();
    conn.read_line(&mut greeting).await.unwrap();
    let line = format!("a1 NOOP {}\r\n", "x".repeat(1 << 20));
    conn.get_mut().write_all(line.as_bytes()).await.unwrap();
    let (said, closed) = imap_outcome(&mut conn, "a1").await;
    assert!(
        closed || said.contains("BAD") || said.contains("* BYE"),
        "IMAP megabyte line got {said:?}"
    );
    let (mut c, _) = Raw::connect(rig.imap).await;
    c.login().await;
    let message = good_message("long-imap", 30_000);
    let reply = append(&mut c, "a2", &message).await;
    assert!(reply.contains("a2 OK"), "{reply}");
    expected.push(message);

    assert_eq!(rig.sink.wait_for(1).len(), 1);
    let peak = assert_bounded(&rig);
    let intact = assert_exactly(&rig.finish(), &expected);
    record(Row {
        scenario: "1 MB command line",
        load: "1 message per listener after the attack, on the same session (SMTP)",
        faults: "a 1 MiB MAIL FROM (journal, proxy) and a 1 MiB IMAP NOOP line",
        acknowledged: expected.len(),
        intact,
        peak_rss: peak,
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_bytes_are_refused_in_commands_and_kept_in_data() {
    let mut rig = rig().await;
    let mut expected = Vec::new();
    for (addr, name) in [(rig.journal, "journal"), (rig.proxy, "proxy")] {
        let mut client = greeted(addr).await;
        client.send(b"MAIL FROM:<a\0b@example.com>\r\n").await;
        client.expect("500 5.5.2").await;
        client.send(b"NOOP \0\r\n").await;
        client.expect("500 5.5.2").await;
        let mut message = good_message(&format!("nul-{name}"), 5_000);
        message.extend_from_slice(b"NUL here:\0, two more:\0\0, end\r\n");
        let reply = send_on(&mut client, &message).await;
        assert!(reply.starts_with("250"), "{name}: {reply}");
        expected.push(message);
    }
    // The upstream got the NUL bytes unchanged too.
    let received = rig.sink.wait_for(1);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].content, expected[1]);
    let peak = assert_bounded(&rig);
    let intact = assert_exactly(&rig.finish(), &expected);
    record(Row {
        scenario: "NUL bytes",
        load: "1 message per SMTP listener on the attacked session",
        faults: "NUL in MAIL FROM and NOOP (refused 500 5.5.2); 3 NULs in DATA (kept)",
        acknowledged: expected.len(),
        intact,
        peak_rss: peak,
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_utf8_addresses_are_refused_with_a_syntax_error() {
    let mut rig = rig().await;
    let mut expected = Vec::new();
    for (addr, name) in [(rig.journal, "journal"), (rig.proxy, "proxy")] {
        let mut client = greeted(addr).await;
        client
            .send(b"MAIL FROM:<\xff\xfe@example.com> SMTPUTF8\r\n")
            .await;
        let reply = client.expect("5").await;
        assert!(reply.code() == 501 || reply.code() == 553, "{reply}");
        client
            .cmd("MAIL FROM:<good@example.com> SMTPUTF8", "250")
            .await;
        client.send(b"RCPT TO:<r\xc3\x28@example.org>\r\n").await;
        let reply = client.expect("5").await;
        assert!(reply.code() == 501 || reply.code() == 553, "{reply}");
        client.cmd("RSET", "250").await;
        let message = good_message(&format!("utf8-{name}"), 5_000);
        let reply = send_on(&mut client, &message).await;
        assert!(reply.starts_with("250"), "{name}: {reply}");
        expected.push(message);
    }
    let received = rig.sink.wait_for(1);
    assert_eq!(received.len(), 1, "an invalid address reached the upstream");
    let peak = assert_bounded(&rig);
    let intact = assert_exactly(&rig.finish(), &expected);
    record(Row {
        scenario: "invalid UTF-8 addresses",
        load: "1 message per SMTP listener on the attacked session",
        faults: "MAIL FROM <0xff 0xfe@...> SMTPUTF8 and RCPT TO with 0xc3 0x28",
        acknowledged: expected.len(),
        intact,
        peak_rss: peak,
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_4_gb_imap_literal_is_refused_before_the_upstream_sees_it() {
    let mut rig = rig().await;
    let (mut c, _) = Raw::connect(rig.imap).await;
    c.login().await;
    // Synchronizing: refused in step, the session goes on.
    let reply = c.cmd("a", "APPEND INBOX {4294967296}").await;
    assert!(reply.starts_with("a NO [TOOBIG]"), "{reply}");
    let message = good_message("literal", 30_000);
    let reply = append(&mut c, "b", &message).await;
    assert!(reply.contains("b OK"), "{reply}");
    // Non-synchronizing: its bytes are already coming, so the session ends.
    let tcp = TcpStream::connect(rig.imap).await.unwrap();
    let mut conn = BufReader::new(tcp);
    let mut greeting = String::new();
    conn.read_line(&mut greeting).await.unwrap();
    let login = format!(
        "l LOGIN {} {}\r\n",
        crate::support::dovecot::USER,
        crate::support::dovecot::PASSWORD
    );
    conn.get_mut().write_all(login.as_bytes()).await.unwrap();
    let (said, _) = imap_outcome(&mut conn, "l").await;
    assert!(said.contains("l OK"), "{said}");
    // One write, so the proxy reads it whole before it hangs up; a reset
    // for unread bytes could otherwise swallow its last words.
    let attack = [&b"c APPEND INBOX {4294967296+}\r\n"[..], &[b'z'; 1024]].concat();
    let _ = conn.get_mut().write_all(&attack).await;
    let (said, _) = imap_outcome(&mut conn, "c").await;
    assert!(said.contains("c BAD [TOOBIG]"), "{said:?}");
    let (rest, closed) = imap_outcome(&mut conn, "c").await;
    assert!(rest.starts_with("* BYE"), "{rest:?}");
    assert!(closed || imap_outcome(&mut conn, "c").await.1, "not closed");

    assert_eq!(rig.dovecot.stored("INBOX"), std::slice::from_ref(&message));
    let peak = assert_bounded(&rig);
    let intact = assert_exactly(&rig.finish(), &[message]);
    record(Row {
        scenario: "4 GB IMAP literal",
        load: "1 APPEND of 30 kB on the attacked session",
        faults: "APPEND {4294967296} and {4294967296+} (max_literal_size 10 MiB)",
        acknowledged: 1,
        intact,
        peak_rss: peak,
    });
}
