//! The proxy backend inside a real session: the client over an in-memory
//! pipe, the upstream a scripted server on loopback, so the exact lines
//! mailseal sends upstream (XCLIENT, XFORWARD, AUTH) can be checked.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::client::without_auth;
use super::*;
use crate::smtp::session::Session;

/// One step of the scripted upstream.
enum Step {
    /// Send these bytes.
    Send(&'static str),
    /// Read one line and check it (without CRLF).
    Expect(&'static str),
}
use Step::{Expect, Send};

/// Starts an upstream that plays `script`, then reports what else the
/// proxy sent before closing.
async fn upstream(script: Vec<Step>) -> (SocketAddr, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut io = BufReader::new(tcp);
        for step in script {
            match step {
                Send(text) => io.get_mut().write_all(text.as_bytes()).await.unwrap(),
                Expect(line) => {
                    let mut got = String::new();
                    io.read_line(&mut got).await.unwrap();
                    assert_eq!(got, format!("{line}\r\n"));
                }
            }
        }
        let mut rest = String::new();
        let _ = io.read_to_string(&mut rest).await;
        rest
    });
    (addr, task)
}

/// A session with the proxy backend for a client at 203.0.113.5, in front
/// of `upstream`; returns the client's end of the pipe.
async fn session(
    upstream: SocketAddr,
    configure: impl FnOnce(&mut SmtpProxyConfig),
) -> (DuplexStream, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::open_dir(dir.path()).unwrap();
    let listen = "127.0.0.1:0".parse().unwrap();
    let mut config = SmtpProxyConfig::for_test("unit", listen, upstream);
    config.upstream.tls = SmtpUpstreamTls::None;
    configure(&mut config);
    let listener = ProxyListener::new(&config, archive).unwrap();
    let backend = ProxyBackend::new(
        listener.shared.clone(),
        TaskTracker::new(),
        UpstreamAt::Fixed(HostPort {
            host: upstream.ip().to_string(),
            port: upstream.port(),
        }),
    );
    let (client, server) = tokio::io::duplex(64 * 1024);
    let peer = "203.0.113.5:40000".parse().unwrap();
    let token = CancellationToken::new();
    let session = Session::new(
        crate::transport::Stream::new(server),
        peer,
        backend,
        Arc::clone(&listener.session),
        token,
    );
    tokio::spawn(session.run());
    (client, dir)
}

/// Writes `send` and reads until the replies end with `until`.
async fn talk(client: &mut DuplexStream, send: &str, until: &str) -> String {
    client.write_all(send.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).ends_with(until) {
        let read = tokio::time::timeout(Duration::from_secs(10), client.read(&mut buf));
        let n = read.await.expect("reply timed out").unwrap();
        assert!(n > 0, "closed; got {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

const GREETING: &str = "220 up.test ESMTP\r\n";

#[tokio::test]
async fn a_refused_greeting_is_relayed_and_ends_the_session() {
    let (addr, _up) = upstream(vec![Send("554 5.7.1 go away\r\n")]).await;
    let (mut client, _dir) = session(addr, |_| {}).await;
    let got = talk(&mut client, "", "\r\n").await;
    assert_eq!(got, "554 5.7.1 go away\r\n");
}

#[tokio::test]
async fn xclient_names_the_real_client_before_its_own_ehlo() {
    let (addr, up) = upstream(vec![
        Send(GREETING),
        Expect("EHLO mailseal.test"),
        Send("250-up.test\r\n250-PIPELINING\r\n250 XCLIENT NAME ADDR PORT PROTO HELO\r\n"),
        Expect("XCLIENT NAME=[UNAVAILABLE] ADDR=203.0.113.5 PORT=40000 HELO=client.example PROTO=ESMTP"),
        Send(GREETING),
        Expect("EHLO client.example"),
        Send("250-up.test\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n"),
        Expect("QUIT"),
        Send("221 2.0.0 bye\r\n"),
    ])
    .await;
    let (mut client, _dir) = session(addr, |c| c.xclient = true).await;
    talk(&mut client, "", GREETING).await;
    let ehlo = talk(
        &mut client,
        "EHLO client.example\r\n",
        "\r\n250 SIZE 52428800\r\n",
    )
    .await;
    assert!(!ehlo.contains("XCLIENT"), "{ehlo}");
    talk(&mut client, "QUIT\r\n", "221 2.0.0 bye\r\n").await;
    assert_eq!(up.await.unwrap(), "");
}

#[tokio::test]
async fn a_refused_xclient_closes_instead_of_relaying_as_mailseal() {
    let (addr, up) = upstream(vec![
        Send(GREETING),
        Expect("EHLO mailseal.test"),
        Send("250-up.test\r\n250 XCLIENT ADDR\r\n"),
        Expect("XCLIENT ADDR=203.0.113.5"),
        Send("550 5.7.0 insufficient authorization\r\n"),
    ])
    .await;
    let (mut client, _dir) = session(addr, |c| c.xclient = true).await;
    talk(&mut client, "", GREETING).await;
    let got = talk(&mut client, "EHLO client.example\r\n", "\r\n").await;
    assert_eq!(got, "421 4.3.0 service not available, closing\r\n");
    // The client's EHLO never reached the upstream.
    assert_eq!(up.await.unwrap(), "");
}

#[tokio::test]
async fn xforward_is_pipelined_with_each_mail() {
    let (addr, up) = upstream(vec![
        Send(GREETING),
        Expect("EHLO client.example"),
        Send("250-up.test\r\n250-PIPELINING\r\n250 XFORWARD NAME ADDR PROTO HELO SOURCE\r\n"),
        Expect("XFORWARD NAME=[UNAVAILABLE] ADDR=203.0.113.5 HELO=client.example PROTO=ESMTP SOURCE=REMOTE"),
        Expect("MAIL FROM:<a@example.com>"),
        Send("250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n"),
    ])
    .await;
    let (mut client, _dir) = session(addr, |c| c.xforward = true).await;
    talk(&mut client, "", GREETING).await;
    talk(&mut client, "EHLO client.example\r\n", "\r\n").await;
    let got = talk(&mut client, "MAIL FROM:<a@example.com>\r\n", "\r\n").await;
    assert_eq!(got, "250 2.1.0 Ok\r\n");
    drop(client);
    assert_eq!(up.await.unwrap(), "");
}

#[tokio::test]
async fn auth_lines_and_challenges_are_relayed_verbatim() {
    let (addr, up) = upstream(vec![
        Send(GREETING),
        Expect("EHLO client.example"),
        Send("250-up.test\r\n250 AUTH LOGIN PLAIN\r\n"),
        Expect("AUTH LOGIN"),
        Send("334 VXNlciBOYW1lAA==\r\n"),
        Expect("Y2Fyb2w="),
        Send("334 UGFzc3dvcmQA\r\n"),
        Expect("cHc="),
        Send("235 2.7.0 Authentication successful\r\n"),
    ])
    .await;
    let (mut client, _dir) = session(addr, |c| c.allow_auth_without_tls = true).await;
    talk(&mut client, "", GREETING).await;
    let ehlo = talk(&mut client, "EHLO client.example\r\n", "\r\n").await;
    assert!(ehlo.contains("AUTH LOGIN PLAIN"), "{ehlo}");
    talk(&mut client, "AUTH LOGIN\r\n", "334 VXNlciBOYW1lAA==\r\n").await;
    talk(&mut client, "Y2Fyb2w=\r\n", "334 UGFzc3dvcmQA\r\n").await;
    talk(
        &mut client,
        "cHc=\r\n",
        "235 2.7.0 Authentication successful\r\n",
    )
    .await;
    drop(client);
    assert_eq!(up.await.unwrap(), "");
}

#[test]
fn without_auth_drops_only_auth_lines() {
    let lines = ["up.test", "AUTH PLAIN", "auth=LOGIN", "SIZE 10", "AUTHX"];
    let reply = Reply::multiline(250, lines.iter().map(|l| l.as_bytes().to_vec()).collect());
    let kept = without_auth(&reply);
    let kept: Vec<&[u8]> = kept.lines().iter().map(Vec::as_slice).collect();
    assert_eq!(kept, [&b"up.test"[..], b"SIZE 10", b"AUTHX"]);
    let refused = Reply::new(550, "5.7.1 no");
    assert_eq!(without_auth(&refused), refused);
}
