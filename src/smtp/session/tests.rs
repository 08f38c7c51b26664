//! Session tests over `tokio::io::duplex` with a recording backend; they
//! read like the protocol: `client.cmd("MAIL FROM:<>", "250")`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;

use super::*;
use crate::archive::{MessageMeta, Spool};
use crate::smtp::auth::decode_plain;
use crate::smtp::backend::{AuthOutcome, AuthStep, Transaction};
use crate::smtp::data::stuff;
use crate::smtp::reply::ReplyParser;

/// What the backend saw.
#[derive(Default)]
struct Log {
    lines: Vec<String>,
    wire: Vec<u8>,
    commits: Vec<(MessageMeta, Vec<u8>)>,
    aborts: usize,
}

/// Answers like a simple local server and records every call.
struct Recorder {
    log: Arc<Mutex<Log>>,
    spool_dir: PathBuf,
}

impl Backend for Recorder {
    async fn greet(&mut self, _conn: &Connection) -> Reply {
        Reply::new(220, "test ESMTP")
    }

    async fn command(&mut self, _conn: &Connection, command: &Command, line: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(line).into_owned();
        self.log.lock().unwrap().lines.push(text);
        match command {
            Command::Ehlo(_) => {
                let caps = [
                    "test",
                    "PIPELINING",
                    "AUTH PLAIN",
                    "CHUNKING",
                    "XCLIENT ADDR",
                ];
                Reply::multiline(250, caps.iter().map(|c| c.as_bytes().to_vec()).collect())
            }
            Command::Rcpt(r) if r.address.starts_with("bad") => {
                Reply::new(550, "5.1.1 no such user")
            }
            // An upstream that went away, as the proxy reports it.
            Command::Rcpt(r) if r.address.starts_with("down") => {
                Reply::new(421, "4.4.2 upstream gone")
            }
            Command::Quit => Reply::new(221, "2.0.0 bye"),
            _ => Reply::new(250, "2.0.0 ok"),
        }
    }

    async fn auth(&mut self, _conn: &Connection, step: AuthStep<'_>) -> AuthOutcome {
        let response = match step {
            AuthStep::Start { initial: None, .. } => {
                let reply = Reply::new(334, "");
                return AuthOutcome { reply, user: None };
            }
            AuthStep::Start {
                initial: Some(i), ..
            } => i.to_owned(),
            AuthStep::Response(r) => String::from_utf8_lossy(r).into_owned(),
        };
        match decode_plain(&response) {
            Ok(c) if c.user == "alice" && c.password == "pw" => AuthOutcome {
                reply: Reply::new(235, "2.7.0 ok"),
                user: Some(c.user),
            },
            _ => AuthOutcome {
                reply: Reply::new(535, "5.7.8 bad credentials"),
                user: None,
            },
        }
    }

    async fn data(&mut self) -> Reply {
        Reply::new(354, "go ahead")
    }

    async fn data_chunk(&mut self, wire: &[u8]) {
        self.log.lock().unwrap().wire.extend_from_slice(wire);
    }

    async fn commit(&mut self, mut tx: Transaction) -> Reply {
        let content = tx.content.to_vec().unwrap();
        self.log.lock().unwrap().commits.push((tx.meta, content));
        Reply::new(250, "2.0.0 committed")
    }

    async fn abort(&mut self) {
        self.log.lock().unwrap().aborts += 1;
    }

    fn spool(&self) -> Spool {
        // Small, so that tests also spill to disk.
        Spool::new(&self.spool_dir, 1024)
    }
}

/// The client end, speaking raw protocol.
struct Client<T> {
    stream: T,
    buf: Vec<u8>,
    parser: ReplyParser,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Client<T> {
    fn new(stream: T) -> Client<T> {
        Client {
            stream,
            buf: Vec::new(),
            parser: ReplyParser::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads one reply and checks that its text starts with `expected`.
    async fn expect(&mut self, expected: &str) -> Reply {
        loop {
            if let Some(reply) = self.parser.next_reply(&mut self.buf).unwrap() {
                let text = reply.text();
                assert!(
                    text.starts_with(expected),
                    "expected {expected}, got {text}"
                );
                return reply;
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed while expecting {expected}");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn cmd(&mut self, line: &str, expected: &str) -> Reply {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.expect(expected).await
    }

    /// True when the server closed the connection.
    async fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 64];
        matches!(self.stream.read(&mut chunk).await, Ok(0) | Err(_))
    }
}

struct Harness {
    client: Client<DuplexStream>,
    log: Arc<Mutex<Log>>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), SessionError>>,
    _dir: tempfile::TempDir,
}

fn config() -> SessionConfig {
    SessionConfig::new("test", SourceKind::Journal)
}

fn start(config: SessionConfig) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let backend = Recorder {
        log: log.clone(),
        spool_dir: dir.path().to_path_buf(),
    };
    let (client, server) = tokio::io::duplex(1 << 16);
    let shutdown = CancellationToken::new();
    let peer = "127.0.0.1:40000".parse().unwrap();
    let session = Session::new(
        crate::transport::Stream::new(server),
        peer,
        backend,
        Arc::new(config),
        shutdown.clone(),
    );
    Harness {
        client: Client::new(client),
        log,
        shutdown,
        task: tokio::spawn(session.run()),
        _dir: dir,
    }
}

async fn greeted(config: SessionConfig) -> Harness {
    let mut h = start(config);
    h.client.expect("220").await;
    h.client.cmd("EHLO client.test", "250").await;
    h
}

#[tokio::test]
async fn a_transaction_is_committed_with_its_envelope() {
    let mut h = greeted(config()).await;
    h.client.cmd("MAIL FROM:<> SIZE=100", "250").await;
    h.client.cmd("RCPT TO:<a@example.com>", "250").await;
    h.client.cmd("RCPT TO:<bad@example.com>", "550 5.1.1").await;
    h.client.cmd("DATA", "354").await;
    let content = b"Subject: x\r\n\r\n.leading dot\r\n8-bit \xe4\r\n".repeat(50);
    let wire = stuff(&content);
    h.client.send(&wire).await;
    h.client.expect("250 2.0.0 committed").await;
    h.client.cmd("QUIT", "221").await;
    assert!(h.task.await.unwrap().is_ok());

    let log = h.log.lock().unwrap();
    assert_eq!(log.commits.len(), 1);
    let (meta, got) = &log.commits[0];
    assert_eq!(got, &content);
    assert_eq!([log.wire.as_slice(), b".\r\n"].concat(), wire);
    assert_eq!(meta.mail_from.as_deref(), Some(""));
    assert_eq!(meta.helo.as_deref(), Some("client.test"));
    assert_eq!(meta.peer.as_deref(), Some("127.0.0.1:40000"));
    assert_eq!(meta.source.name, "test");
    let rcpts: Vec<_> = meta
        .rcpts
        .iter()
        .map(|r| (r.address.as_str(), r.reply.as_deref()))
        .collect();
    assert_eq!(
        rcpts,
        [
            ("a@example.com", Some("250 2.0.0 ok")),
            ("bad@example.com", Some("550 5.1.1 no such user"))
        ]
    );
}

#[tokio::test]
async fn ehlo_is_filtered_and_pipelined_replies_come_in_order() {
    let mut h = start(config());
    h.client.expect("220").await;
    let ehlo = h.client.cmd("EHLO c", "250").await;
    let caps: Vec<String> = ehlo
        .lines()
        .iter()
        .map(|l| String::from_utf8_lossy(l).into())
        .collect();
    assert_eq!(caps, ["test", "PIPELINING", "SIZE 52428800"]);
    let batch =
        b"MAIL FROM:<a@b>\r\nRCPT TO:<bad@x>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n";
    h.client.send(batch).await;
    for code in ["250", "550", "250", "354", "250", "221"] {
        h.client.expect(code).await;
    }
    assert_eq!(h.log.lock().unwrap().commits[0].1, b"x\r\n");
}

#[tokio::test]
async fn commands_out_of_order_are_refused() {
    let mut h = start(config());
    h.client.expect("220").await;
    h.client.cmd("MAIL FROM:<a@b>", "503 5.5.1").await;
    h.client.cmd("HELO c", "250").await;
    h.client.cmd("AUTH PLAIN", "503 5.5.1").await;
    h.client.cmd("RCPT TO:<a@b>", "503 5.5.1").await;
    h.client.cmd("DATA", "503 5.5.1").await;
    h.client.cmd("MAIL FROM:<a@b>", "250").await;
    h.client.cmd("MAIL FROM:<a@b>", "503 5.5.1").await;
    h.client.cmd("DATA", "554 5.5.1").await;
    h.client.cmd("RCPT TO:<bad@b>", "550").await;
    h.client.cmd("DATA", "554 5.5.1").await;
    h.client.cmd("RSET", "250").await;
    h.client.cmd("BDAT 10 LAST", "502").await;
    h.client.cmd("XCLIENT ADDR=192.0.2.1", "550 5.7.1").await;
    h.client.cmd("FOO", "500 5.5.2").await;
    h.client.cmd("MAIL FROM:<a\u{1}b>", "501").await;
    let lines = h.log.lock().unwrap().lines.clone();
    assert!(!lines.iter().any(|l| l.starts_with("XCLIENT")));
}

#[tokio::test]
async fn smuggling_is_refused_and_the_connection_closed() {
    let mut h = greeted(config()).await;
    h.client.cmd("MAIL FROM:<a@b>", "250").await;
    h.client.cmd("RCPT TO:<c@d>", "250").await;
    h.client.cmd("DATA", "354").await;
    let attack = b"Subject: hi\r\n\r\nfirst\n.\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nforged\r\n.\r\n";
    h.client.send(attack).await;
    h.client.expect("554 5.5.2").await;
    assert!(h.client.closed().await);
    let log = h.log.lock().unwrap();
    assert!(log.commits.is_empty());
    assert_eq!(log.aborts, 1);
    assert!(
        !log.wire.windows(2).any(|w| w == b"\n."),
        "forwarded the dot"
    );
    assert!(!log.lines.iter().any(|l| l.contains("evil")));
}

#[tokio::test]
async fn size_limits_are_enforced_and_the_session_goes_on() {
    let mut cfg = config();
    cfg.max_message_size = 1000;
    let mut h = greeted(cfg).await;
    h.client.cmd("MAIL FROM:<a@b> SIZE=1001", "552 5.3.4").await;
    h.client.cmd("MAIL FROM:<a@b> SIZE=1000", "250").await;
    h.client.cmd("RCPT TO:<c@d>", "250").await;
    h.client.cmd("DATA", "354").await;
    h.client.send(&stuff(&b"0123456789\r\n".repeat(200))).await;
    h.client.expect("552 5.3.4").await;
    h.client.cmd("MAIL FROM:<a@b>", "250").await;
    h.client.cmd("RCPT TO:<c@d>", "250").await;
    h.client.cmd("DATA", "354").await;
    h.client.send(&stuff(&b"0123456789\r\n".repeat(80))).await;
    h.client.expect("250").await;
    let log = h.log.lock().unwrap();
    assert_eq!((log.commits.len(), log.aborts), (1, 1));
}

#[tokio::test]
async fn overlong_lines_and_nul_bytes_get_500_and_too_many_errors_close() {
    let mut cfg = config();
    cfg.max_errors = 3;
    let mut h = greeted(cfg).await;
    let long = format!("NOOP {}", "x".repeat(1 << 20));
    h.client.cmd(&long, "500 5.5.2 line too long").await;
    h.client.cmd("NOOP a\0b", "500 5.5.2").await;
    h.client.send(b"NOOP\r\n").await;
    h.client.expect("250").await;
    h.client.send(b"FOO\r\n").await;
    h.client.expect("500").await;
    h.client.expect("421 4.7.0").await;
    assert!(h.client.closed().await);
}

#[tokio::test]
async fn require_tls_refuses_mail_on_a_plain_leg() {
    let mut cfg = config();
    cfg.require_tls = true;
    let mut h = greeted(cfg).await;
    h.client.cmd("MAIL FROM:<a@b>", "530 5.7.0").await;
    h.client.cmd("STARTTLS", "502").await;
    h.client.cmd("AUTH PLAIN AGFsaWNlAHB3", "538 5.7.11").await;
}

#[tokio::test]
async fn plain_auth_when_allowed_records_the_user() {
    let mut cfg = config();
    cfg.allow_plain_auth = true;
    let mut h = greeted(cfg).await;
    h.client.cmd("AUTH PLAIN AGFsaWNlAHdyb25n", "535").await;
    h.client.cmd("AUTH PLAIN", "334").await;
    h.client.cmd("AGFsaWNlAHB3", "235").await;
    h.client.cmd("AUTH PLAIN AGFsaWNlAHB3", "503").await;
    h.client.cmd("MAIL FROM:<a@b>", "250").await;
    h.client.cmd("RCPT TO:<c@d>", "250").await;
    h.client.cmd("DATA", "354").await;
    h.client.send(b"hi\r\n.\r\n").await;
    h.client.expect("250").await;
    let log = h.log.lock().unwrap();
    assert_eq!(log.commits[0].0.auth_user.as_deref(), Some("alice"));
}

#[tokio::test]
async fn shutdown_closes_idle_sessions_and_lets_transactions_finish() {
    let mut idle = greeted(config()).await;
    let mut busy = greeted(config()).await;
    busy.client.cmd("MAIL FROM:<a@b>", "250").await;
    busy.client.cmd("RCPT TO:<c@d>", "250").await;
    busy.client.cmd("DATA", "354").await;
    busy.client.send(b"part one\r\n").await;

    idle.shutdown.cancel();
    busy.shutdown.cancel();
    idle.client.expect("421 4.3.0").await;
    assert!(idle.client.closed().await);

    busy.client.send(b"part two\r\n.\r\n").await;
    busy.client.expect("250").await;
    busy.client.expect("421 4.3.0").await;
    assert_eq!(
        busy.log.lock().unwrap().commits[0].1,
        b"part one\r\npart two\r\n"
    );
}

#[tokio::test]
async fn silent_clients_time_out() {
    let mut cfg = config();
    cfg.command_timeout = Duration::from_millis(200);
    cfg.data_timeout = Duration::from_millis(200);
    let mut h = greeted(cfg.clone()).await;
    h.client.expect("421 4.4.2").await;
    assert!(matches!(h.task.await.unwrap(), Err(SessionError::Timeout)));

    let mut h = greeted(cfg).await;
    h.client.cmd("MAIL FROM:<a@b>", "250").await;
    h.client.cmd("RCPT TO:<c@d>", "250").await;
    h.client.cmd("DATA", "354").await;
    h.client.send(b"half a message").await;
    h.client.expect("421 4.4.2").await;
    assert_eq!(h.log.lock().unwrap().aborts, 1);
}

#[tokio::test]
async fn client_gone_in_data_aborts() {
    let mut h = greeted(config()).await;
    h.client.cmd("MAIL FROM:<a@b>", "250").await;
    h.client.cmd("RCPT TO:<c@d>", "250").await;
    h.client.cmd("DATA", "354").await;
    h.client.send(b"half").await;
    drop(h.client);
    assert!(h.task.await.unwrap().is_ok());
    assert_eq!(h.log.lock().unwrap().aborts, 1);
}

mod deadlines;
mod tls;
