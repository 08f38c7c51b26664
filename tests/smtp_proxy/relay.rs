//! Byte-exact relaying: a corpus sent by a raw client, smtplib and swaks
//! reaches the upstream and the archive unchanged; the upstream's replies
//! and decisions reach the client unchanged and are recorded.

use super::{Proxy, sha256, swaks_data, swaks_final};
use crate::support::corpus;
use crate::support::sink::Sink;
use crate::support::smtp::{SmtpClient, smtplib_send, swaks};

/// Messages with the properties that break relays.
fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let head = "From: a@example.com\r\nTo: b@example.org\r\nSubject: corpus\r\n\r\n";
    let mut eight_bit = head.as_bytes().to_vec();
    eight_bit.extend_from_slice("Grüße, ½ € – ünïcödé\r\n".as_bytes());
    eight_bit.extend_from_slice(b"latin-1: \xe4\xf6\xfc\xdf \xff\x80\x81\r\n");
    let mut long = head.as_bytes().to_vec();
    for len in [998, 999, 5000, 200_000] {
        long.extend(std::iter::repeat_n(b'x', len));
        long.extend_from_slice(b"\r\n");
    }
    let dots = format!("{head}.\r\n..\r\n.leading\r\n...\r\nmiddle . dot\r\n. \r\n..\r\n");
    let bare = format!("{head}bare LF\nin the middle\nof lines\r\nbare CR\rhere\r\nend\r\n");
    vec![
        ("8bit", eight_bit),
        ("long-lines", long),
        ("dots", dots.into_bytes()),
        ("bare-lf-cr", bare.into_bytes()),
        ("multi-megabyte", corpus::message(7, 6_000_000)),
    ]
}

/// Checks the newest record and the upstream's newest message against
/// what the client sent.
fn assert_same(proxy: &Proxy, sink: &Sink, n: usize, name: &str, sent: &[u8]) {
    let (_, meta, archived) = proxy.latest();
    let received = sink.wait_for(n);
    assert_eq!(received.len(), n, "{name}: upstream message count");
    let upstream = &received[n - 1].content;
    assert_eq!(sha256(&archived), sha256(sent), "{name}: archived content");
    assert_eq!(sha256(upstream), sha256(sent), "{name}: upstream content");
    assert_eq!(meta.content.sha256, sha256(sent), "{name}: record hash");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corpus_reaches_upstream_and_archive_byte_exact() {
    let sink = Sink::plain();
    let proxy = Proxy::start(sink.addr, |_, _| {}).await;
    let mut n = 0;
    for (name, message) in corpus() {
        let mut client = SmtpClient::connect(proxy.addr).await;
        client.expect("220 sink.test").await;
        client.cmd("EHLO raw.test", "250").await;
        client
            .send_message("a@example.com", "b@example.org", &message, "250 2.0.0 Ok")
            .await;
        client.cmd("QUIT", "221").await;
        n += 1;
        assert_same(&proxy, &sink, n, name, &message);

        let path = proxy.file(&format!("{name}.eml"), &message);
        let reply = smtplib_send(proxy.addr, "a@example.com", "b@example.org", &path);
        assert!(reply.starts_with("250 2.0.0 Ok"), "smtplib: {reply}");
        n += 1;
        assert_same(&proxy, &sink, n, name, &message);

        // swaks turns bare LF and CR into CRLF; it only gets CRLF messages.
        if name != "bare-lf-cr" {
            let data = swaks_data(&proxy, &format!("{name}.swaks"), &message);
            let args = [
                "--from",
                "a@example.com",
                "--to",
                "b@example.org",
                "--helo",
                "swaks.test",
            ];
            let out = swaks(proxy.addr, &[&args[..], &["--data", &data]].concat());
            assert!(swaks_final(&out).contains("250 2.0.0 Ok"), "{out:?}");
            n += 1;
            assert_same(&proxy, &sink, n, name, &message);
        }
    }
    let (_, meta, _) = proxy.latest();
    assert_eq!(meta.source.name, "proxy");
    assert_eq!(meta.helo.as_deref(), Some("swaks.test"));
    assert_eq!(proxy.messages().len(), n);
}

#[tokio::test(flavor = "multi_thread")]
async fn greeting_ehlo_and_envelope_parameters_pass_through() {
    let sink = Sink::plain();
    let proxy = Proxy::start(sink.addr, |_, _| {}).await;
    let mut client = SmtpClient::connect(proxy.addr).await;
    let greeting = client.expect("220 ").await;
    assert!(greeting.text().starts_with("220 sink.test"), "{greeting}");
    let ehlo = client.cmd("EHLO raw.test", "250").await;
    let lines: Vec<String> = ehlo
        .lines()
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    assert_eq!(lines[0], "sink.test");
    for cap in ["8BITMIME", "SMTPUTF8", "HELP"] {
        assert!(lines.iter().any(|l| l == cap), "{cap} missing: {lines:?}");
    }
    assert!(lines.iter().any(|l| l.starts_with("SIZE ")), "{lines:?}");
    assert!(!lines.iter().any(|l| l == "STARTTLS"), "{lines:?}");
    client.cmd("NOOP", "250").await;
    client.cmd("RSET", "250").await;
    client
        .cmd("MAIL FROM:<> SIZE=1000 BODY=8BITMIME SMTPUTF8", "250")
        .await;
    client.cmd("RCPT TO:<dst@exämple.org>", "250").await;
    client.cmd("DATA", "354").await;
    client
        .send(b"Subject: null sender\r\n\r\nbody\r\n.\r\n")
        .await;
    client.expect("250 2.0.0 Ok: queued as 1").await;
    client.cmd("QUIT", "221").await;
    let received = sink.wait_for(1);
    let meta = &received[0].meta;
    assert_eq!(meta["mail_from"], "<>");
    assert_eq!(
        meta["mail_options"],
        serde_json::json!(["SIZE=1000", "BODY=8BITMIME", "SMTPUTF8"])
    );
    assert_eq!(meta["rcpt_tos"], serde_json::json!(["dst@exämple.org"]));
    assert_eq!(meta["helo"], "raw.test");
    let (_, stored, _) = proxy.latest();
    assert_eq!(stored.mail_from.as_deref(), Some(""));
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_rejections_reach_the_client_and_are_recorded() {
    let sink = Sink::plain();
    let proxy = Proxy::start(sink.addr, |_, _| {}).await;
    let mut client = SmtpClient::connect(proxy.addr).await;
    client.expect("220").await;
    client.cmd("EHLO raw.test", "250").await;
    client.cmd("MAIL FROM:<a@example.com>", "250").await;
    let refused = client.cmd("RCPT TO:<reject-me@example.org>", "550").await;
    assert_eq!(
        refused.to_wire(),
        b"550 5.1.1 <reject-me@example.org>: Recipient address rejected: User unknown\r\n"
    );
    client.cmd("RCPT TO:<ok@example.org>", "250 2.1.5 Ok").await;
    client.cmd("DATA", "354").await;
    client
        .send(b"Subject: refused\r\nX-Sink-Reject: yes\r\n\r\nbody\r\n.\r\n")
        .await;
    let reply = client.expect("550").await;
    assert_eq!(reply.text(), "550 5.7.1 Message content rejected by sink");

    // The attempt is archived with every recipient's answer, and the
    // upstream's final reply is recorded next to it.
    let (seq, meta, content) = proxy.latest();
    assert!(content.ends_with(b"X-Sink-Reject: yes\r\n\r\nbody\r\n"));
    let rcpts: Vec<(&str, &str)> = meta
        .rcpts
        .iter()
        .map(|r| (r.address.as_str(), r.reply.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        rcpts,
        [
            (
                "reject-me@example.org",
                "550 5.1.1 <reject-me@example.org>: Recipient address rejected: User unknown"
            ),
            ("ok@example.org", "250 2.1.5 Ok"),
        ]
    );
    let outcome = proxy.outcome_of(seq).await;
    assert_eq!(outcome.result, "rejected");
    assert_eq!(
        outcome.upstream_reply,
        "550 5.7.1 Message content rejected by sink"
    );

    // The session goes on: the next message is accepted.
    client
        .send_message(
            "a@example.com",
            "ok@example.org",
            b"Subject: ok\r\n\r\nfine\r\n",
            "250",
        )
        .await;
    let (seq, _, _) = proxy.latest();
    let outcome = proxy.outcome_of(seq).await;
    assert_eq!(outcome.result, "accepted");
    assert_eq!(outcome.upstream_reply, "250 2.0.0 Ok: queued as 1");
    assert_eq!(sink.wait_for(1).len(), 1);
}
