//! Clients that take their time: one byte a second in a command and in
//! DATA, silence past the idle timeout, every connection slot held, and an
//! upstream that dies under a session.

use std::time::Duration;

use crate::imap::Raw;
use crate::support::smtp::SmtpClient;

use super::{
    Limits, Rig, Row, assert_bounded, assert_exactly, good_message, read_to_close, record,
    send_good, send_good_journal, trickle,
};

const SECOND: Duration = Duration::from_secs(1);

/// A session greeted with EHLO.
async fn greeted(addr: std::net::SocketAddr) -> SmtpClient {
    let mut client = SmtpClient::connect(addr).await;
    client.expect("220").await;
    client.cmd("EHLO slow.test", "250").await;
    client
}

#[tokio::test(flavor = "multi_thread")]
async fn one_byte_a_second_runs_out_of_time() {
    let mut rig = tokio::task::spawn_blocking(|| Rig::start(Limits::default()))
        .await
        .unwrap();
    // A command line at one byte a second, on the journal.
    let command = async {
        let client = greeted(rig.journal).await;
        trickle(client, &[b'M'; 120], SECOND).await
    };
    // A message at one byte a second, through the proxy.
    let data = async {
        let mut client = greeted(rig.proxy).await;
        client.cmd("MAIL FROM:<slow@example.com>", "250").await;
        client.cmd("RCPT TO:<rcpt@example.org>", "250").await;
        client.cmd("DATA", "354").await;
        let message = format!("Subject: slow\r\n\r\n{}\r\n.\r\n", "s".repeat(120));
        trickle(client, message.as_bytes(), SECOND).await
    };
    let (good_j, good_p) = (
        good_message("slow-j", 50_000),
        good_message("slow-p", 50_000),
    );
    let good = async {
        send_good_journal(rig.journal, &good_j).await;
        let reply = send_good(rig.proxy, &good_p).await;
        assert!(reply.starts_with("250"), "{reply}");
    };
    let ((said_c, closed_c), (said_d, closed_d), ()) = tokio::join!(command, data, good);
    assert!(
        said_c.contains("421 4.4.2"),
        "command trickle got {said_c:?}"
    );
    assert!(said_d.contains("421 4.4.2"), "DATA trickle got {said_d:?}");
    assert!(closed_c && closed_d, "mailseal kept a trickling client");

    let received = rig.sink.wait_for(1);
    let peak = assert_bounded(&rig);
    let archived = rig.finish();
    assert_eq!(
        received.len(),
        1,
        "the trickled message reached the upstream"
    );
    assert_eq!(received[0].content, good_p);
    let intact = assert_exactly(&archived, &[good_j, good_p]);
    record(Row {
        scenario: "slow sender (1 byte/s)",
        load: "1 journal + 1 proxy message of 50 kB alongside",
        faults: "a command line and a DATA body at 1 byte/s (timeouts 3 s)",
        acknowledged: 2,
        intact,
        peak_rss: peak,
    });
}

/// With `min_data_rate = 0` only the time between two reads counts: a
/// message sent in small pieces over twice `timeout_data_block` is taken.
#[tokio::test(flavor = "multi_thread")]
async fn min_data_rate_zero_lets_a_slow_but_steady_sender_finish() {
    let limits = Limits {
        min_data_rate: 0,
        ..Limits::default()
    };
    let mut rig = tokio::task::spawn_blocking(move || Rig::start(limits))
        .await
        .unwrap();
    let mut client = greeted(rig.proxy).await;
    client.cmd("MAIL FROM:<steady@example.com>", "250").await;
    client.cmd("RCPT TO:<rcpt@example.org>", "250").await;
    client.cmd("DATA", "354").await;
    let body = "Subject: steady\r\n\r\nsix seconds\r\n";
    let (said, _) = trickle(
        client,
        format!("{body}.\r\nQUIT\r\n").as_bytes(),
        Duration::from_millis(150),
    )
    .await;
    assert!(
        said.contains("250 "),
        "a steady sender was cut off: {said:?}"
    );
    assert!(!said.contains("421"), "{said:?}");
    let received = rig.sink.wait_for(1);
    assert_eq!(received[0].content, body.as_bytes());
    let archived = rig.finish();
    assert_exactly(&archived, &[body.as_bytes().to_vec()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_clients_are_logged_out() {
    let mut rig = tokio::task::spawn_blocking(|| Rig::start(Limits::default()))
        .await
        .unwrap();
    let smtp = async {
        let mut client = greeted(rig.journal).await;
        client.expect("421 4.4.2").await;
        assert!(client.closed().await, "idle SMTP client not closed");
    };
    let imap = async {
        let (mut c, _) = Raw::connect(rig.imap).await;
        c.login().await;
        let bye = c.line().await;
        assert!(bye.starts_with("* BYE Autologout"), "{bye}");
        assert_eq!(c.line().await, "", "idle IMAP client not closed");
    };
    let message = good_message("idle", 20_000);
    tokio::join!(smtp, imap, send_good_journal(rig.journal, &message));
    let peak = assert_bounded(&rig);
    let intact = assert_exactly(&rig.finish(), &[message]);
    record(Row {
        scenario: "idle past the timeout",
        load: "1 journal message alongside",
        faults: "SMTP and IMAP sessions silent past the 3 s timeout",
        acknowledged: 1,
        intact,
        peak_rss: peak,
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn every_slot_held_the_next_client_is_refused_then_served() {
    let limits = Limits {
        timeout: "60s",
        max_connections: 8,
        ..Limits::default()
    };
    let mut rig = tokio::task::spawn_blocking(move || Rig::start(limits))
        .await
        .unwrap();
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut client = SmtpClient::connect(rig.journal).await;
        client.expect("220").await;
        held.push(client);
    }
    let mut refused = SmtpClient::connect(rig.journal).await;
    refused.expect("421 4.7.0").await;
    assert!(refused.closed().await);
    let mut imap_held = Vec::new();
    for _ in 0..8 {
        imap_held.push(Raw::connect(rig.imap).await);
    }
    let mut over = tokio::net::TcpStream::connect(rig.imap).await.unwrap();
    let (said, closed) = read_to_close(&mut over).await;
    assert!(said.starts_with("* BYE too many connections"), "{said}");
    assert!(closed);
    // Another listener has its own slots.
    let through_proxy = good_message("limit-p", 20_000);
    let reply = send_good(rig.proxy, &through_proxy).await;
    assert!(reply.starts_with("250"), "{reply}");
    // Once the holders go, the journal serves again.
    drop(held);
    drop(imap_held);
    let after = good_message("limit-j", 20_000);
    send_good_journal(rig.journal, &after).await;
    let (mut c, greeting) = Raw::connect(rig.imap).await;
    assert!(greeting.starts_with("* OK"), "{greeting}");
    c.login().await;

    let peak = assert_bounded(&rig);
    let intact = assert_exactly(&rig.finish(), &[through_proxy, after]);
    record(Row {
        scenario: "connection limit",
        load: "8 idle SMTP + 8 idle IMAP sessions (max_connections = 8)",
        faults: "a 9th connection on each listener",
        acknowledged: 2,
        intact,
        peak_rss: peak,
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_upstream_gets_421_and_mailseal_closes() {
    let mut rig = tokio::task::spawn_blocking(|| Rig::start(Limits::default()))
        .await
        .unwrap();
    let mut client = greeted(rig.proxy).await;
    rig.sink.kill();
    // Pipelined: after the 421 nothing more may be read or answered.
    client
        .send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nNOOP\r\n")
        .await;
    let (stream, buffered) = client.into_parts();
    let mut stream = stream;
    let (said, closed) = read_to_close(&mut stream).await;
    let said = format!("{}{said}", String::from_utf8_lossy(&buffered));
    assert!(said.starts_with("421 4.4.2"), "{said}");
    assert_eq!(said.matches("\r\n").count(), 1, "replies after 421: {said}");
    assert!(closed, "mailseal kept the session open after 421");

    let message = good_message("dead-upstream", 20_000);
    send_good_journal(rig.journal, &message).await;
    let peak = assert_bounded(&rig);
    let intact = assert_exactly(&rig.finish(), &[message]);
    record(Row {
        scenario: "upstream killed",
        load: "1 journal message alongside",
        faults: "aiosmtpd SIGKILLed under an open proxy session, 3 pipelined commands",
        acknowledged: 1,
        intact,
        peak_rss: peak,
    });
}
