//! Postfix as the upstream: a private instance that trusts mailseal's
//! XCLIENT and so applies its relay policy to the real client, smtp-sink
//! under pipelined smtp-source load, and smtp-source into the byte-exact
//! sink.

use std::collections::BTreeMap;

use super::{Proxy, sha256};
use crate::support::postfix_tools::{SmtpSink, smtp_source};
use crate::support::sink::Sink;
use crate::support::smtp::{Postfix, SmtpClient};
use crate::support::wait_for_log;

/// Postfix relaying to `sink`, trusting XCLIENT/XFORWARD from loopback,
/// and treating only 127.0.0.1 (mailseal) as its own network.
fn postfix(sink: &Sink) -> Postfix {
    Postfix::start(
        sink.addr,
        "smtpd_authorized_xclient_hosts = 127.0.0.0/8\n\
         smtpd_authorized_xforward_hosts = 127.0.0.0/8\n\
         mynetworks = 127.0.0.1/32\n",
    )
}

/// A client from 127.0.0.2 asks to relay to a foreign domain.
async fn relay_attempt(proxy: &Proxy) -> (SmtpClient, String) {
    let from: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let mut client = SmtpClient::connect_from(from, proxy.addr).await;
    client.expect("220").await;
    client.cmd("EHLO client.example", "250").await;
    client.cmd("MAIL FROM:<a@example.com>", "250").await;
    let reply = client.cmd("RCPT TO:<x@elsewhere.example>", "").await;
    (client, reply.text())
}

#[tokio::test(flavor = "multi_thread")]
async fn xclient_makes_postfix_apply_its_policy_to_the_real_client() {
    let sink = Sink::plain();
    let postfix = postfix(&sink);

    // Without XCLIENT Postfix sees mailseal (127.0.0.1, in mynetworks)
    // and relays for anyone behind it.
    let open = Proxy::start(postfix.addr, |_, _| {}).await;
    let (mut client, reply) = relay_attempt(&open).await;
    assert!(reply.starts_with("250"), "{reply}");
    client.cmd("QUIT", "221").await;

    // With XCLIENT it sees 127.0.0.2 and refuses to relay.
    let proxy = Proxy::start(postfix.addr, |c, _| c.xclient = true).await;
    let (mut client, reply) = relay_attempt(&proxy).await;
    assert_eq!(
        reply,
        "454 4.7.1 <x@elsewhere.example>: Relay access denied",
        "{}",
        postfix.log()
    );
    client.cmd("QUIT", "221").await;
    // postlogd writes the session's lines on its own schedule.
    let log = wait_for_log(
        "the XCLIENT session",
        || postfix.log(),
        |log| log.contains("[127.0.0.2]") && log.contains("helo=<client.example>"),
    );
    assert!(log.contains("[127.0.0.2]"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn xforward_tells_postfix_the_real_client_for_each_message() {
    let sink = Sink::plain();
    let postfix = postfix(&sink);
    let proxy = Proxy::start(postfix.addr, |c, _| c.xforward = true).await;
    let from: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let mut client = SmtpClient::connect_from(from, proxy.addr).await;
    client.expect("220").await;
    client.cmd("EHLO client.example", "250").await;
    for i in 0..2 {
        let body = format!("Subject: xforward {i}\r\n\r\nbody\r\n");
        client
            .send_message("a@example.com", "b@example.org", body.as_bytes(), "250")
            .await;
    }
    client.cmd("QUIT", "221").await;
    sink.wait_for(2);
    let forwarded = |log: &str| log.matches("orig_client=unknown[127.0.0.2]").count();
    let log = wait_for_log(
        "both XFORWARD messages",
        || postfix.log(),
        |log| forwarded(log) >= 2,
    );
    assert_eq!(forwarded(&log), 2, "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn pipelined_replies_keep_their_order_through_smtp_sink() {
    let upstream = SmtpSink::start();
    let proxy = Proxy::start(upstream.addr, |_, _| {}).await;
    let mut client = SmtpClient::connect(proxy.addr).await;
    client.expect("220").await;
    let ehlo = client.cmd("EHLO raw.test", "250").await;
    assert!(ehlo.text().contains("PIPELINING"), "{ehlo}");
    client
        .send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n")
        .await;
    for expected in ["250", "250", "250", "354"] {
        client.expect(expected).await;
    }
    client
        .send(b"Subject: pipelined\r\n\r\nbody\r\n.\r\nRSET\r\nNOOP\r\n")
        .await;
    for expected in ["250", "250", "250"] {
        client.expect(expected).await;
    }
    client.cmd("QUIT", "221").await;
    let (_, meta, _) = proxy.latest();
    assert_eq!(meta.rcpts.len(), 2);

    let out = smtp_source(proxy.addr, 10, 300, 20_000);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(proxy.messages().len(), 301);
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_source_load_reaches_the_upstream_as_archived() {
    let sink = Sink::plain();
    let proxy = Proxy::start(sink.addr, |_, _| {}).await;
    let out = smtp_source(proxy.addr, 4, 40, 50_000);
    assert!(out.status.success(), "{out:?}");
    let received = sink.wait_for(40);
    assert_eq!(received.len(), 40);
    let mut upstream: BTreeMap<String, usize> = BTreeMap::new();
    for m in &received {
        *upstream.entry(sha256(&m.content)).or_default() += 1;
    }
    let mut archived: BTreeMap<String, usize> = BTreeMap::new();
    for s in proxy.messages() {
        *archived.entry(s.sha256.clone()).or_default() += 1;
    }
    assert_eq!(archived, upstream);
}
