//! Clients talking through the proxy: the session is Dovecot's, except for
//! what the proxy must change (COMPRESS, STARTTLS) and its own limits.

use std::time::Duration;

use super::{Raw, message, python, seed, setup, wait_archived};
use crate::support::dovecot::{PASSWORD, USER};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imaplib_session_sees_dovecot_without_compress() {
    let Some(s) = setup(|_, _| {}).await else {
        return;
    };
    let script = r#"
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
print('greeting', ' '.join(m.capabilities))
m.login(sys.argv[2], sys.argv[3])
typ, caps = m.capability()
print('caps', caps[0].decode())
typ, boxes = m.list()
print('list', typ, len(boxes))
typ, data = m.select('INBOX')
print('select', typ)
m.logout()
"#;
    let out = python(
        script,
        &[s.proxy.port().to_string(), USER.into(), PASSWORD.into()],
    )
    .await;
    let caps = out.lines().find(|l| l.starts_with("caps ")).unwrap();
    assert!(caps.contains("IDLE") && caps.contains("UIDPLUS"), "{out}");
    assert!(
        !caps.contains("COMPRESS"),
        "COMPRESS must be removed: {out}"
    );
    assert!(
        !out.lines().next().unwrap().contains("STARTTLS"),
        "no STARTTLS without a certificate: {out}"
    );
    assert!(
        out.contains("list OK 3") && out.contains("select OK"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compress_is_refused_and_the_session_goes_on() {
    let Some(s) = setup(|_, _| {}).await else {
        return;
    };
    let (mut c, greeting) = Raw::connect(s.proxy).await;
    assert!(greeting.starts_with("* OK"), "{greeting}");
    c.login().await;
    let caps = c.cmd("c0", "CAPABILITY").await;
    assert!(!caps.contains("COMPRESS"), "{caps}");
    let reply = c.cmd("c1", "COMPRESS DEFLATE").await;
    assert!(reply.starts_with("c1 NO"), "{reply}");
    let reply = c.cmd("c2", "NOOP").await;
    assert!(reply.contains("c2 OK"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_synchronizing_literal_keeps_the_stream_in_sync() {
    let Some(s) = setup(|_, _| {}).await else {
        return;
    };
    let (mut c, _) = Raw::connect(s.proxy).await;
    c.login().await;
    c.send(b"a1 APPEND Nope {5}\r\n").await;
    let reply = c.line().await;
    assert!(
        reply.starts_with("a1 NO"),
        "expected a refusal, got {reply}"
    );
    // The literal never comes: the next bytes are a command again.
    let reply = c.cmd("n1", "NOOP").await;
    assert!(reply.contains("n1 OK"), "{reply}");
    c.send(b"a2 APPEND INBOX {7}\r\n").await;
    assert!(c.line().await.starts_with('+'));
    c.send(b"hello\r\n\r\n").await;
    let reply = c.until("a2").await;
    assert!(reply.contains("a2 OK"), "{reply}");
    // A non-synchronizing literal the server refuses after reading it.
    c.send(b"a3 APPEND Nope {8+}\r\nrefused\n\r\n").await;
    let reply = c.until("a3").await;
    assert!(reply.contains("a3 NO"), "{reply}");
    wait_archived(&s.archive, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let archived = super::archived(&s.archive);
    assert_eq!(archived.len(), 1, "a refused APPEND was archived");
    assert_eq!(archived[0].1, b"hello\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_lasts_as_long_as_the_client_wants_but_silence_does_not() {
    let Some(s) = setup(|c, _| c.timeout_idle = Duration::from_secs(1)).await else {
        return;
    };
    let (mut c, _) = Raw::connect(s.proxy).await;
    c.login().await;
    c.cmd("s1", "SELECT INBOX").await;
    c.send(b"i1 IDLE\r\n").await;
    assert!(c.line().await.starts_with('+'));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    seed(&s.dovecot, &[message(1, 300)]).await;
    let mut seen = String::new();
    while !seen.contains("EXISTS") {
        seen = c.line().await;
        assert!(!seen.is_empty(), "connection closed during IDLE");
    }
    c.send(b"DONE\r\n").await;
    let reply = c.until("i1").await;
    assert!(reply.contains("i1 OK"), "{reply}");
    // Now silent past the timeout: the proxy logs the client out.
    let bye = c.line().await;
    assert!(bye.starts_with("* BYE"), "{bye}");
    assert_eq!(c.line().await, "", "connection not closed after BYE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_refused() {
    let Some(s) = setup(|c, _| c.max_connections = 1).await else {
        return;
    };
    let (mut first, greeting) = Raw::connect(s.proxy).await;
    assert!(greeting.starts_with("* OK"), "{greeting}");
    let (_, refused) = Raw::connect(s.proxy).await;
    assert!(refused.starts_with("* BYE"), "{refused}");
    first.login().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_says_bye_between_responses() {
    let Some(s) = setup(|_, _| {}).await else {
        return;
    };
    let (mut c, _) = Raw::connect(s.proxy).await;
    c.login().await;
    s.shutdown.token.cancel();
    let bye = c.line().await;
    assert!(bye.starts_with("* BYE"), "{bye}");
    s.shutdown.tracker.close();
    tokio::time::timeout(Duration::from_secs(10), s.shutdown.tracker.wait())
        .await
        .expect("sessions did not end");
}
