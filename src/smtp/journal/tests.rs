//! The journal backend in a session over `tokio::io::duplex`, with a real
//! archive in a temporary directory.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::archive::MessageMeta;
use crate::archive::record::Record;
use crate::config::{JournalConfig, hash_password};
use crate::smtp::data::stuff;
use crate::smtp::reply::ReplyParser;
use crate::smtp::session::Session;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/journal/",
            $name
        ))
    };
}

struct Client {
    stream: DuplexStream,
    buf: Vec<u8>,
    parser: ReplyParser,
}

impl Client {
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
            assert!(n > 0, "closed while expecting {expected}");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn cmd(&mut self, line: &str, expected: &str) -> Reply {
        let bytes = format!("{line}\r\n");
        self.stream.write_all(bytes.as_bytes()).await.unwrap();
        self.expect(expected).await
    }

    /// Sends a message through DATA; returns the final reply.
    async fn send_message(&mut self, content: &[u8], expected: &str) -> Reply {
        self.cmd("MAIL FROM:<postfix@example.com>", "250").await;
        self.cmd("RCPT TO:<journal@journal.test>", "250").await;
        self.cmd("DATA", "354").await;
        self.stream.write_all(&stuff(content)).await.unwrap();
        self.expect(expected).await
    }
}

struct Setup {
    archive: Archive,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::open_dir(dir.path()).unwrap();
        Setup { archive, _dir: dir }
    }

    fn connect(&self, config: &JournalConfig, peer: &str) -> Client {
        let listener = JournalListener::new(config, self.archive.clone()).unwrap();
        let backend = JournalBackend {
            shared: listener.shared.clone(),
            sasl: None,
        };
        let (client, server) = tokio::io::duplex(1 << 16);
        let peer: SocketAddr = peer.parse().unwrap();
        let session = Session::new(
            crate::transport::Stream::new(server),
            peer,
            backend,
            listener.session.clone(),
            CancellationToken::new(),
        );
        tokio::spawn(session.run());
        Client {
            stream: client,
            buf: Vec::new(),
            parser: ReplyParser::new(),
        }
    }

    /// The record and content with id `seq`, read back from the archive.
    fn stored(&self, seq: u64) -> (MessageMeta, Vec<u8>, Option<Vec<u8>>) {
        let reader = self.archive.reader();
        let (record, _hash): (Record, String) = reader.record(seq).unwrap();
        let meta = record.message().unwrap().clone();
        let mut content = Vec::new();
        reader
            .write_content(&meta.content.sha256, &mut content)
            .unwrap();
        let evidence = meta.evidence.as_ref().map(|e| {
            let mut bytes = Vec::new();
            reader.write_content(&e.sha256, &mut bytes).unwrap();
            bytes
        });
        (meta, content, evidence)
    }
}

fn config() -> JournalConfig {
    JournalConfig::for_test("journal-test", "127.0.0.1:0".parse().unwrap())
}

fn seq_of(reply: &Reply) -> u64 {
    let text = reply.text();
    let id = text.rsplit(' ').next().unwrap();
    id.parse().unwrap()
}

#[tokio::test]
async fn a_plain_copy_is_archived_as_received_with_its_envelope() {
    let setup = Setup::new();
    let mut client = setup.connect(&config(), "127.0.0.1:5000");
    client.expect("220 mailseal.test").await;
    client.cmd("EHLO postfix.test", "250").await;
    let content = b"From: a@example.com\r\nSubject: hi\r\n\r\n.dot\r\n\xe4\r\n".to_vec();
    let reply = client
        .send_message(&content, "250 2.0.0 Ok: archived as ")
        .await;
    let (meta, stored, evidence) = setup.stored(seq_of(&reply));
    assert_eq!(stored, content);
    assert_eq!(evidence, None);
    assert_eq!(meta.source.name, "journal-test");
    assert_eq!(meta.mail_from.as_deref(), Some("postfix@example.com"));
    assert_eq!(meta.rcpts[0].address, "journal@journal.test");
    assert_eq!(meta.helo.as_deref(), Some("postfix.test"));
    assert_eq!(meta.journal, None);
}

#[tokio::test]
async fn a_large_plain_copy_stays_byte_exact() {
    let setup = Setup::new();
    let mut client = setup.connect(&config(), "127.0.0.1:5000");
    client.expect("220").await;
    client.cmd("EHLO postfix.test", "250").await;
    let mut content = b"Subject: big\r\n\r\n".to_vec();
    while content.len() < 3 << 20 {
        content.extend_from_slice(b".line with a leading dot and some text\r\n");
    }
    let reply = client.send_message(&content, "250 2.0.0").await;
    assert_eq!(setup.stored(seq_of(&reply)).1, content);
}

#[tokio::test]
async fn an_exchange_report_is_unwrapped_and_kept_as_evidence() {
    let setup = Setup::new();
    let mut client = setup.connect(&config(), "127.0.0.1:5000");
    client.expect("220").await;
    client.cmd("EHLO exchange.test", "250").await;
    let report = fixture!("m365-extended.eml");
    let reply = client
        .send_message(report, "250 2.0.0 Ok: archived as ")
        .await;
    let (meta, stored, evidence) = setup.stored(seq_of(&reply));
    assert_eq!(stored, fixture!("m365-extended.inner.eml"));
    assert_eq!(evidence.as_deref(), Some(&report[..]));
    let journal = meta.journal.unwrap();
    assert!(!journal.recipients.is_empty());
    assert_eq!(journal.malformed, None);
}

#[tokio::test]
async fn a_decrypted_copy_becomes_a_second_record() {
    let setup = Setup::new();
    let mut client = setup.connect(&config(), "127.0.0.1:5000");
    client.expect("220").await;
    client.cmd("EHLO exchange.test", "250").await;
    let reply = client
        .send_message(fixture!("m365-decrypted.eml"), "250 2.0.0")
        .await;
    let text = reply.text();
    let (_, list) = text.split_once("archived as ").unwrap();
    let ids: Vec<u64> = list.split(' ').filter_map(|w| w.parse().ok()).collect();
    assert_eq!(ids.len(), 2, "{text}");
    let (first, inner, _) = setup.stored(ids[0]);
    let (second, decrypted, _) = setup.stored(ids[1]);
    assert_eq!(inner, fixture!("m365-decrypted.inner.eml"));
    assert_eq!(decrypted, fixture!("m365-decrypted.decrypted.eml"));
    assert!(!first.journal.unwrap().decrypted_copy);
    assert!(second.journal.unwrap().decrypted_copy);
}

#[tokio::test]
async fn a_malformed_report_is_archived_whole_and_marked() {
    let setup = Setup::new();
    let mut client = setup.connect(&config(), "127.0.0.1:5000");
    client.expect("220").await;
    client.cmd("EHLO exchange.test", "250").await;
    let report = fixture!("malformed-no-rfc822.eml");
    let reply = client.send_message(report, "250 2.0.0").await;
    let (meta, stored, _) = setup.stored(seq_of(&reply));
    assert_eq!(stored, report);
    assert!(meta.journal.unwrap().malformed.is_some());
}

#[tokio::test]
async fn peers_outside_the_allowed_networks_are_refused() {
    let setup = Setup::new();
    let mut cfg = config();
    cfg.allowed_networks = vec![
        "127.0.0.1/32".parse().unwrap(),
        "2001:db8::/32".parse().unwrap(),
    ];
    let mut client = setup.connect(&cfg, "127.0.0.2:5000");
    client.expect("554 5.7.1").await;
    let mut client = setup.connect(&cfg, "[::ffff:127.0.0.1]:5000");
    client.expect("220").await;
    let mut client = setup.connect(&cfg, "[2001:db8::1]:5000");
    client.expect("220").await;
}

#[tokio::test]
async fn auth_users_must_authenticate_before_mail() {
    let setup = Setup::new();
    let mut cfg = config();
    cfg.auth_users = vec![crate::config::AuthUser {
        user: "exchange".into(),
        password_hash: hash_password("s3cret").unwrap(),
    }];
    let mut client = setup.connect(&cfg, "127.0.0.1:5000");
    client.expect("220").await;
    let ehlo = client.cmd("EHLO exchange.test", "250").await;
    assert!(ehlo.text().contains("AUTH PLAIN LOGIN"));
    client.cmd("MAIL FROM:<a@b>", "530 5.7.0").await;
    // "\0exchange\0wrong" and "\0nobody\0s3cret"
    client
        .cmd("AUTH PLAIN AGV4Y2hhbmdlAHdyb25n", "535 5.7.8")
        .await;
    client
        .cmd("AUTH PLAIN AG5vYm9keQBzM2NyZXQ=", "535 5.7.8")
        .await;
    client.cmd("AUTH LOGIN", "334 VXNlcm5hbWU6").await;
    client.cmd("ZXhjaGFuZ2U=", "334 UGFzc3dvcmQ6").await;
    client.cmd("czNjcmV0", "235 2.7.0").await;
    let reply = client
        .send_message(b"Subject: x\r\n\r\nbody\r\n", "250 2.0.0")
        .await;
    let (meta, _, _) = setup.stored(seq_of(&reply));
    assert_eq!(meta.auth_user.as_deref(), Some("exchange"));
}

#[tokio::test]
async fn unknown_parameters_are_refused() {
    let setup = Setup::new();
    let mut client = setup.connect(&config(), "127.0.0.1:5000");
    client.expect("220").await;
    client.cmd("EHLO x", "250").await;
    client.cmd("MAIL FROM:<a@b> XFOO=1", "555 5.5.4").await;
    client
        .cmd("MAIL FROM:<a@b> BODY=8BITMIME SMTPUTF8 SIZE=10", "250")
        .await;
    client.cmd("RCPT TO:<c@d> XBAR", "555 5.5.4").await;
    client
        .cmd("RCPT TO:<c@d> NOTIFY=NEVER ORCPT=rfc822;c@d", "250")
        .await;
}

#[tokio::test]
async fn archive_failure_answers_451() {
    let setup = Setup::new();
    let mut client = setup.connect(&config(), "127.0.0.1:5000");
    client.expect("220").await;
    client.cmd("EHLO x", "250").await;
    let archive = setup.archive.clone();
    tokio::task::spawn_blocking(move || archive.close())
        .await
        .unwrap()
        .unwrap();
    client
        .send_message(b"Subject: x\r\n\r\nbody\r\n", "451 4.3.0")
        .await;
    client.cmd("QUIT", "221").await;
}
