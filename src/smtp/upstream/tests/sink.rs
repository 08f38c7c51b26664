//! The upstream client against Postfix's `smtp-sink` on loopback.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::process::{Child, Command};

use super::*;

/// A running `smtp-sink`, killed when dropped.
struct Sink {
    /// The process.
    _child: Child,
    /// Where it listens.
    addr: std::net::SocketAddr,
}

/// `smtp-sink` from PATH or Postfix's usual place.
fn sink_binary() -> Option<PathBuf> {
    let from_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("smtp-sink"));
    from_path
        .chain([PathBuf::from("/usr/sbin/smtp-sink")])
        .find(|p| p.is_file())
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    })
}

impl Sink {
    /// Starts smtp-sink on a free loopback port and waits until it
    /// accepts; `None` (with a note) when smtp-sink is not installed.
    async fn start(extra: &[&str]) -> Option<Sink> {
        let Some(binary) = sink_binary() else {
            eprintln!("SKIPPED: smtp-sink not installed (apt-get install postfix)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        let mut command = Command::new(binary);
        if running_as_root() {
            command.args(["-u", "nobody"]);
        }
        let child = command
            .args(extra)
            .args([&addr.to_string(), "100"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Some(Sink {
                    _child: child,
                    addr,
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("smtp-sink did not start listening on {addr}");
    }
}

#[tokio::test]
async fn a_whole_transaction_with_pipelining() {
    let Some(sink) = Sink::start(&[]).await else {
        return;
    };
    let mut up = connect(sink.addr, &plain_options()).await.unwrap();
    assert_eq!(up.greeting().code(), 220);
    let ehlo = up.ehlo("client.example").await.unwrap();
    assert_eq!(ehlo.code(), 250);
    assert_eq!(
        ehlo.raw,
        ehlo.reply.to_wire(),
        "smtp-sink ends lines with CRLF"
    );
    let caps = up.capabilities().unwrap();
    assert!(caps.has("PIPELINING") && caps.has("8BITMIME"), "{caps:?}");

    for line in [
        "MAIL FROM:<> SIZE=100 BODY=8BITMIME",
        "RCPT TO:<a@example.com>",
        "RCPT TO:<b@example.com> NOTIFY=NEVER",
        "DATA",
    ] {
        up.send_line(line.as_bytes()).await.unwrap();
    }
    for expected in [250, 250, 250, 354] {
        assert_eq!(up.read_reply().await.unwrap().code(), expected);
    }
    let message = "Subject: caf\u{e9}\r\n\r\n..leading dot\r\n".repeat(1000);
    for chunk in message.as_bytes().chunks(4000) {
        up.send_data_chunk(chunk).await.unwrap();
    }
    assert_eq!(up.finish_data().await.unwrap().code(), 250);
    up.send_line(b"RSET").await.unwrap();
    assert_eq!(up.read_reply().await.unwrap().code(), 250);
    assert_eq!(up.quit().await.unwrap().code(), 221);
}

#[tokio::test]
async fn xclient_and_xforward_against_smtp_sink() {
    let Some(sink) = Sink::start(&[]).await else {
        return;
    };
    let mut up = connect(sink.addr, &plain_options()).await.unwrap();
    let client = ClientInfo {
        addr: Some("2001:db8::77".parse().unwrap()),
        port: Some(50123),
        name: Some("client.example".into()),
        helo: Some("laptop.example".into()),
        proto: Some("ESMTP".into()),
        login: None,
    };
    let ehlo = up.xclient(&client, "laptop.example").await.unwrap();
    assert_eq!(ehlo.map(|r| r.code()), Some(250));
    let forwarded = up.xforward(&client).await.unwrap();
    assert_eq!(forwarded.map(|r| r.code()), Some(250));
    up.send_line(b"MAIL FROM:<a@example.com>").await.unwrap();
    assert_eq!(up.read_reply().await.unwrap().code(), 250);
    assert_eq!(up.quit().await.unwrap().code(), 221);

    // -C and -F turn both extensions off: nothing is sent, nothing fails.
    let Some(plain) = Sink::start(&["-C", "-F"]).await else {
        return;
    };
    let mut up = connect(plain.addr, &plain_options()).await.unwrap();
    assert_eq!(up.xclient(&client, "laptop.example").await.unwrap(), None);
    assert_eq!(up.xforward(&client).await.unwrap(), None);
    assert_eq!(up.quit().await.unwrap().code(), 221);
}

#[tokio::test]
async fn starttls_modes_against_a_server_without_tls() {
    let Some(sink) = Sink::start(&[]).await else {
        return;
    };
    let mut options = plain_options();
    options.tls_config = Some(crate::tls::client_config(&UpstreamCa::System, true).unwrap());
    options.tls = SmtpUpstreamTls::Starttls;
    let up = connect(sink.addr, &options).await.unwrap();
    assert!(up.tls_info().is_none());
    assert!(up.capabilities().is_some_and(|c| !c.has("STARTTLS")));
    options.tls = SmtpUpstreamTls::StarttlsRequired;
    let err = connect(sink.addr, &options).await.err().unwrap();
    assert!(matches!(err, UpstreamError::StarttlsUnavailable), "{err}");
}
