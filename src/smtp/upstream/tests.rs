//! The upstream client against scripted peers (raw protocol bytes, TLS
//! with rcgen certificates) and, in `sink`, against Postfix's smtp-sink.

mod sink;

use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::*;
use crate::tls::UpstreamCa;

/// Options for a plain-text upstream with short timeouts.
fn plain_options() -> UpstreamOptions {
    UpstreamOptions {
        tls: SmtpUpstreamTls::None,
        tls_config: None,
        server_name: ServerName::try_from("localhost").unwrap(),
        ehlo_name: "mailseal.test".to_owned(),
        timeouts: UpstreamTimeouts {
            connect: Duration::from_secs(5),
            command: Duration::from_secs(5),
            data_block: Duration::from_secs(5),
            data_end: Duration::from_secs(5),
        },
        max_reply: DEFAULT_MAX_REPLY,
    }
}

/// The server side of a scripted conversation.
struct Peer<S> {
    /// The stream, buffered for line reads.
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Peer<S> {
    fn new(stream: S) -> Peer<S> {
        Peer {
            io: BufReader::new(stream),
        }
    }

    async fn send(&mut self, text: &str) {
        self.io.write_all(text.as_bytes()).await.unwrap();
        self.io.flush().await.unwrap();
    }

    /// Reads one line and checks it, CRLF included.
    async fn expect(&mut self, line: &str) {
        let mut got = String::new();
        self.io.read_line(&mut got).await.unwrap();
        assert_eq!(got, format!("{line}\r\n"));
    }

    /// Everything until the client closes.
    async fn rest(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        self.io.read_to_end(&mut rest).await.unwrap_or_default();
        rest
    }

    fn into_inner(self) -> S {
        assert!(self.io.buffer().is_empty(), "unread bytes before TLS");
        self.io.into_inner()
    }
}

/// A client and a scripted peer over an in-memory pipe.
fn pipe() -> (
    Stream<tokio::io::DuplexStream>,
    Peer<tokio::io::DuplexStream>,
) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    (Stream::new(client), Peer::new(server))
}

#[tokio::test]
async fn greeting_and_replies_keep_their_raw_bytes() {
    let (client, mut peer) = pipe();
    let server = tokio::spawn(async move {
        peer.send("220-mx.test ESMTP\r\n220 second line\n").await;
        peer.expect("EHLO client.example").await;
        peer.send("250-mx.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n")
            .await;
        peer.expect("MAIL FROM:<>").await;
        peer.expect("RCPT TO:<nobody@mx.test>").await;
        peer.send("250 2.1.0 Ok\r\n550 5.1.1 <nobody@mx.test>: Recipient address rejected\r\n")
            .await;
        peer.rest().await
    });
    let mut up = Upstream::start(client, &plain_options()).await.unwrap();
    assert_eq!(up.greeting().raw, b"220-mx.test ESMTP\r\n220 second line\n");
    assert_eq!(up.greeting().reply.lines().len(), 2);
    let ehlo = up.ehlo("client.example").await.unwrap();
    assert!(up.capabilities().unwrap().has("PIPELINING"));
    assert_eq!(
        ehlo.raw,
        b"250-mx.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n"
    );
    // Pipelined: both commands go out before either reply is read.
    up.send_line(b"MAIL FROM:<>").await.unwrap();
    up.send_line(b"RCPT TO:<nobody@mx.test>").await.unwrap();
    assert_eq!(up.read_reply().await.unwrap().code(), 250);
    let rejected = up.read_reply().await.unwrap();
    assert_eq!(rejected.reply.enhanced(), Some((5, 1, 1)));
    assert_eq!(
        rejected.raw,
        b"550 5.1.1 <nobody@mx.test>: Recipient address rejected\r\n"
    );
    assert!(matches!(
        up.send_line(b"RSET\r\nDATA").await,
        Err(UpstreamError::InvalidLine)
    ));
    assert!(matches!(
        up.send_line(b"NOOP\n").await,
        Err(UpstreamError::InvalidLine)
    ));
    drop(up);
    assert_eq!(server.await.unwrap(), b"");
}

#[tokio::test]
async fn limits_timeouts_and_garbage() {
    let (client, mut peer) = pipe();
    let mut options = plain_options();
    options.max_reply = 100;
    tokio::spawn(async move {
        peer.send(&"220-filler filler filler filler\r\n".repeat(5))
            .await;
        peer.rest().await
    });
    let err = Upstream::start(client, &options).await.err().unwrap();
    assert!(matches!(err, UpstreamError::ReplyTooLarge(100)), "{err}");

    let (client, mut peer) = pipe();
    options.timeouts.connect = Duration::from_millis(100);
    tokio::spawn(async move { peer.rest().await });
    let err = Upstream::start(client, &options).await.err().unwrap();
    assert!(
        matches!(err, UpstreamError::Timeout("waiting for the greeting")),
        "{err}"
    );

    let (client, mut peer) = pipe();
    tokio::spawn(async move { peer.send("HTTP/1.1 400 Bad Request\r\n").await });
    let err = Upstream::start(client, &plain_options())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, UpstreamError::Reply(ReplyError::Malformed)),
        "{err}"
    );

    let (client, mut peer) = pipe();
    tokio::spawn(async move { peer.send("220 hi\r\n").await });
    let mut up = Upstream::start(client, &plain_options()).await.unwrap();
    assert!(matches!(up.read_reply().await, Err(UpstreamError::Closed)));
}

#[tokio::test]
async fn data_is_held_at_the_final_dot_and_abort_never_sends_it() {
    let (client, mut peer) = pipe();
    let server = tokio::spawn(async move {
        peer.send("220 mx\r\n").await;
        peer.expect("DATA").await;
        peer.send("354 go\r\n").await;
        peer.rest().await
    });
    let mut up = Upstream::start(client, &plain_options()).await.unwrap();
    up.send_line(b"DATA").await.unwrap();
    assert_eq!(up.read_reply().await.unwrap().code(), 354);
    // Small chunks are gathered; once a batch is full it goes out.
    let mut streamed = b"Subject: x\r\n\r\n..stuffed\r\n".to_vec();
    up.send_data_chunk(&streamed).await.unwrap();
    let line = [&[b'a'; 998][..], b"\r\n"].concat();
    while streamed.len() < DATA_BATCH {
        up.send_data_chunk(&line).await.unwrap();
        streamed.extend_from_slice(&line);
    }
    // This one waits in the buffer and dies with the connection.
    up.send_data_chunk(b"unsent\r\n").await.unwrap();
    up.abort();
    assert_eq!(server.await.unwrap(), streamed);

    let (client, mut peer) = pipe();
    tokio::spawn(async move {
        peer.send("220 mx\r\n").await;
        peer.expect("body").await;
        peer.expect(".").await;
        peer.send("250 2.0.0 Ok: queued as ABC\r\n").await;
        peer.expect("QUIT").await;
        peer.send("221 2.0.0 Bye\r\n").await;
    });
    let mut up = Upstream::start(client, &plain_options()).await.unwrap();
    up.send_data_chunk(b"body\r\n").await.unwrap();
    assert_eq!(
        up.finish_data().await.unwrap().reply.text(),
        "250 2.0.0 Ok: queued as ABC"
    );
    assert_eq!(up.quit().await.unwrap().code(), 221);
}

#[tokio::test]
async fn xclient_resets_to_greeting_and_re_ehlos() {
    let (client, mut peer) = pipe();
    let server = tokio::spawn(async move {
        peer.send("220 mx\r\n").await;
        peer.expect("EHLO mailseal.test").await;
        peer.send(
            "250-mx\r\n250-XCLIENT NAME ADDR HELO\r\n250 XFORWARD NAME ADDR PROTO HELO SOURCE\r\n",
        )
        .await;
        peer.expect("XCLIENT NAME=client.example ADDR=192.0.2.77 HELO=laptop")
            .await;
        peer.send("220 mx ESMTP\r\n").await;
        peer.expect("EHLO laptop").await;
        peer.send("250-mx\r\n250 XFORWARD NAME ADDR PROTO HELO SOURCE\r\n")
            .await;
        peer.expect(
            "XFORWARD NAME=client.example ADDR=192.0.2.77 HELO=laptop PROTO=ESMTP SOURCE=REMOTE",
        )
        .await;
        peer.send("250 2.0.0 Ok\r\n").await;
        peer.expect("XCLIENT ADDR=192.0.2.78").await;
        peer.send("550 5.7.0 Error: insufficient authorization\r\n")
            .await;
        peer.rest().await
    });
    let mut up = Upstream::start(client, &plain_options()).await.unwrap();
    let info = ClientInfo {
        addr: Some("192.0.2.77".parse().unwrap()),
        name: Some("client.example".into()),
        helo: Some("laptop".into()),
        proto: Some("ESMTP".into()),
        ..Default::default()
    };
    let ehlo = up.xclient(&info, "laptop").await.unwrap().unwrap();
    assert_eq!(ehlo.code(), 250);
    assert!(!up.capabilities().unwrap().has("XCLIENT"));
    assert_eq!(up.xforward(&info).await.unwrap().unwrap().code(), 250);
    // XCLIENT is no longer offered: nothing is sent.
    assert_eq!(up.xclient(&info, "laptop").await.unwrap(), None);
    // A refusal is an error the proxy can log and act on.
    up.capabilities = Some(Capabilities::parse(&Reply::multiline(
        250,
        vec![b"mx".to_vec(), b"XCLIENT ADDR".to_vec()],
    )));
    let other = ClientInfo {
        addr: Some("192.0.2.78".parse().unwrap()),
        ..Default::default()
    };
    let err = up.xclient(&other, "laptop").await.err().unwrap();
    assert!(
        matches!(
            err,
            UpstreamError::Refused {
                command: "XCLIENT",
                ..
            }
        ),
        "{err}"
    );
    drop(up);
    assert_eq!(server.await.unwrap(), b"");
}

#[tokio::test]
async fn starttls_modes_without_tls_on_offer() {
    let script = |offer: &'static str, answer: &'static str| {
        let (client, mut peer) = pipe();
        tokio::spawn(async move {
            peer.send("220 mx\r\n").await;
            peer.expect("EHLO mailseal.test").await;
            peer.send(offer).await;
            if !answer.is_empty() {
                peer.expect("STARTTLS").await;
                peer.send(answer).await;
            }
            peer.rest().await
        });
        client
    };
    let mut options = plain_options();
    options.tls_config = Some(crate::tls::client_config(&UpstreamCa::System, true).unwrap());
    options.tls = SmtpUpstreamTls::Starttls;
    let up = Upstream::start(script("250 mx\r\n", ""), &options)
        .await
        .unwrap();
    assert!(up.tls_info().is_none() && up.capabilities().is_some());
    let up = Upstream::start(
        script(
            "250-mx\r\n250 STARTTLS\r\n",
            "454 4.7.0 TLS not available\r\n",
        ),
        &options,
    );
    assert!(up.await.unwrap().tls_info().is_none());

    options.tls = SmtpUpstreamTls::StarttlsRequired;
    let err = Upstream::start(script("250 mx\r\n", ""), &options)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, UpstreamError::StarttlsUnavailable), "{err}");
    let refused = script(
        "250-mx\r\n250 STARTTLS\r\n",
        "454 4.7.0 TLS not available\r\n",
    );
    let err = Upstream::start(refused, &options).await.err().unwrap();
    assert!(
        matches!(
            err,
            UpstreamError::Refused {
                command: "STARTTLS",
                ..
            }
        ),
        "{err}"
    );
    // Bytes after the 220 would be read as if they came over TLS.
    let injected = script(
        "250-mx\r\n250 STARTTLS\r\n",
        "220 go ahead\r\n250 injected\r\n",
    );
    let err = Upstream::start(injected, &options).await.err().unwrap();
    assert!(matches!(err, UpstreamError::StarttlsInjection), "{err}");

    options.tls_config = None;
    let err = Upstream::start(script("250-mx\r\n250 STARTTLS\r\n", ""), &options)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, UpstreamError::NoTlsConfig), "{err}");
}

/// A CA, a server certificate for `localhost` signed by it, and files.
struct Pki {
    /// Holds the PEM files.
    dir: tempfile::TempDir,
    /// The server side's configuration.
    server: Arc<rustls::ServerConfig>,
}

impl Pki {
    fn new() -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        static SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("mailseal test CA {serial}"),
        );
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        let server =
            crate::tls::server_config(&dir.path().join("cert.pem"), &dir.path().join("key.pem"))
                .unwrap();
        Pki { dir, server }
    }

    /// Client options trusting this CA only (or anything, if `insecure`).
    fn options(&self, tls: SmtpUpstreamTls, insecure: bool) -> UpstreamOptions {
        let ca = UpstreamCa::File(self.dir.path().join("ca.pem"));
        UpstreamOptions {
            tls,
            tls_config: Some(crate::tls::client_config(&ca, insecure).unwrap()),
            ..plain_options()
        }
    }
}

/// A loopback server that speaks TLS (implicit, or after STARTTLS), then
/// greets or answers EHLO and QUIT. Returns its address.
async fn tls_server(pki: &Pki, implicit: bool) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server.clone());
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let tcp = if implicit {
            tcp
        } else {
            let mut peer = Peer::new(tcp);
            peer.send("220 plain\r\n").await;
            peer.expect("EHLO mailseal.test").await;
            peer.send("250-mx\r\n250 STARTTLS\r\n").await;
            peer.expect("STARTTLS").await;
            peer.send("220 2.0.0 Ready to start TLS\r\n").await;
            peer.into_inner()
        };
        let Ok(tls) = acceptor.accept(tcp).await else {
            return;
        };
        let mut peer = Peer::new(tls);
        if implicit {
            peer.send("220 tls from the start\r\n").await;
        }
        peer.expect("EHLO client.example").await;
        peer.send("250-mx\r\n250 PIPELINING\r\n").await;
        peer.expect("QUIT").await;
        peer.send("221 bye\r\n").await;
    });
    addr
}

#[tokio::test]
async fn starttls_and_implicit_tls_with_a_trusted_ca() {
    let pki = Pki::new();
    for (mode, implicit) in [
        (SmtpUpstreamTls::Starttls, false),
        (SmtpUpstreamTls::StarttlsRequired, false),
        (SmtpUpstreamTls::Implicit, true),
    ] {
        let addr = tls_server(&pki, implicit).await;
        let mut up = connect(addr, &pki.options(mode, false)).await.unwrap();
        let info = up.tls_info().unwrap();
        assert!(info.version.starts_with("TLSv1_"), "{info:?}");
        assert_eq!(up.capabilities(), None, "EHLO must be repeated after TLS");
        assert_eq!(up.ehlo("client.example").await.unwrap().code(), 250);
        assert_eq!(up.quit().await.unwrap().code(), 221);
    }
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_unless_insecure() {
    let pki = Pki::new();
    let other = Pki::new();
    for (mode, implicit) in [
        (SmtpUpstreamTls::Starttls, false),
        (SmtpUpstreamTls::Implicit, true),
    ] {
        let addr = tls_server(&pki, implicit).await;
        let err = connect(addr, &other.options(mode, false))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, UpstreamError::Tls(_)), "{err}");
        assert!(err.to_string().contains("UnknownIssuer"), "{err}");

        let addr = tls_server(&pki, implicit).await;
        let mut up = connect(addr, &other.options(mode, true)).await.unwrap();
        assert!(up.tls_info().is_some());
        assert_eq!(up.ehlo("client.example").await.unwrap().code(), 250);
    }
    let err = connect("127.0.0.1:1", &plain_options())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, UpstreamError::Connect(_)), "{err}");
}
