//! The journal receiver against real peers on loopback: swaks, Python's
//! smtplib and a private Postfix with `always_bcc`; Exchange journal report
//! fixtures; network, AUTH and TLS restrictions; every `250` durable.

mod access;
mod load;
mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mailseal::archive::index::Summary;
use mailseal::archive::{Archive, MessageMeta};
use mailseal::config::JournalConfig;
use mailseal::shutdown::Shutdown;

use crate::support::corpus;
use crate::support::smtp::{Postfix, SmtpClient, archived_ids, smtplib_send, swaks};

/// A journal listener on 127.0.0.1 with its own archive.
struct Journal {
    archive: Archive,
    addr: SocketAddr,
    shutdown: Shutdown,
    dir: tempfile::TempDir,
}

impl Journal {
    async fn start(configure: impl FnOnce(&mut JournalConfig, &Path)) -> Journal {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::open_dir(&dir.path().join("archive")).unwrap();
        let mut config = JournalConfig::for_test("journal", "127.0.0.1:0".parse().unwrap());
        configure(&mut config, dir.path());
        let shutdown = Shutdown::new();
        let addr = mailseal::smtp::listener::start_journal(&config, &archive, &shutdown)
            .await
            .unwrap();
        Journal {
            archive,
            addr,
            shutdown,
            dir,
        }
    }

    /// Message records so far.
    fn messages(&self) -> Vec<Summary> {
        let mut all = self.archive.reader().summaries().unwrap();
        all.retain(|s| s.kind == "message");
        all
    }

    /// Waits until at least `n` message records exist.
    async fn wait_for(&self, n: usize) -> Vec<Summary> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found = self.messages();
            if found.len() >= n || Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Record `seq`: metadata, content and evidence bytes.
    fn stored(&self, seq: u64) -> (MessageMeta, Vec<u8>, Option<Vec<u8>>) {
        let reader = self.archive.reader();
        let (record, _) = reader.record(seq).unwrap();
        let meta = record.message().unwrap().clone();
        let read = |sha: &str| {
            let mut bytes = Vec::new();
            reader.write_content(sha, &mut bytes).unwrap();
            bytes
        };
        let content = read(&meta.content.sha256);
        let evidence = meta.evidence.as_ref().map(|e| read(&e.sha256));
        (meta, content, evidence)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.shutdown.token.cancel();
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/journal")
        .join(name);
    std::fs::read(path).unwrap()
}

/// The final reply line of a swaks transcript (`<~  250 ...` or `<-`).
fn swaks_final(stdout: &str) -> String {
    stdout
        .lines()
        .rfind(|l| {
            let reply = l.starts_with("<-") || l.starts_with("<~") || l.starts_with("<**");
            reply && !l.contains("221")
        })
        .unwrap_or_default()
        .to_owned()
}

/// A file for `swaks --data @file`: swaks sends the file and then its own
/// CRLF before the final dot, so the file leaves out the message's last CRLF.
fn swaks_file(journal: &Journal, name: &str, message: &[u8]) -> String {
    let body = message
        .strip_suffix(b"\r\n")
        .expect("message ends with CRLF");
    format!(
        "@{}",
        journal.file(&format!("{name}.swaks"), body).display()
    )
}

fn swaks_ids(out: &std::process::Output) -> Vec<u64> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ids = archived_ids(&swaks_final(&stdout));
    assert!(!ids.is_empty(), "swaks transcript:\n{stdout}");
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn copies_from_swaks_smtplib_and_a_raw_client_are_archived_byte_exact() {
    let journal = Journal::start(|_, _| {}).await;
    for (i, size) in [(1, 800), (2, 100_000), (3, 3_000_000)].into_iter() {
        let message = corpus::message(i, size);
        let path = journal.file(&format!("m{i}.eml"), &message);

        let data = swaks_file(&journal, &format!("m{i}"), &message);
        let args = [
            "--from",
            "postfix@example.com",
            "--to",
            "journal@journal.test",
        ];
        let out = swaks(journal.addr, &[&args[..], &["--data", &data]].concat());
        let ids = swaks_ids(&out);
        let (meta, content, _) = journal.stored(ids[0]);
        assert_eq!(content, message, "swaks, message {i}");
        assert_eq!(meta.mail_from.as_deref(), Some("postfix@example.com"));
        assert_eq!(meta.rcpts[0].address, "journal@journal.test");

        let reply = smtplib_send(
            journal.addr,
            "bcc@example.com",
            "journal@journal.test",
            &path,
        );
        let ids = archived_ids(&reply);
        assert_eq!(ids.len(), 1, "smtplib said {reply}");
        let (meta, content, _) = journal.stored(ids[0]);
        assert_eq!(content, message, "smtplib, message {i}");
        assert_eq!(meta.helo.as_deref(), Some("smtplib.test"));

        let mut client = SmtpClient::connect(journal.addr).await;
        client.expect("220").await;
        client.cmd("EHLO raw.test", "250").await;
        let reply = client
            .send_message("", "journal@journal.test", &message, "250")
            .await;
        let (meta, content, _) = journal.stored(archived_ids(&reply.text())[0]);
        assert_eq!(content, message, "raw client, message {i}");
        assert_eq!(meta.mail_from.as_deref(), Some(""));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn exchange_reports_are_unwrapped_with_their_envelopes() {
    let journal = Journal::start(|_, _| {}).await;
    let cases = [
        ("m365-extended.eml", "m365-extended.inner.eml"),
        (
            "exchange-base64-recipient.eml",
            "exchange-base64-recipient.inner.eml",
        ),
        ("exchange-2003.eml", "exchange-2003.inner.eml"),
    ];
    for (report, inner) in cases {
        let path = journal.file(report, &fixture(report));
        let data = swaks_file(&journal, report, &fixture(report));
        let args = [
            "--from",
            "exchange@example.com",
            "--to",
            "journal@journal.test",
        ];
        let out = swaks(journal.addr, &[&args[..], &["--data", &data]].concat());
        let via_swaks = swaks_ids(&out);
        let reply = smtplib_send(
            journal.addr,
            "exchange@example.com",
            "journal@journal.test",
            &path,
        );
        let via_smtplib = archived_ids(&reply);
        assert_eq!(via_smtplib.len(), 1, "{report}: smtplib said {reply}");
        for seq in [via_swaks[0], via_smtplib[0]] {
            let (meta, content, evidence) = journal.stored(seq);
            assert_eq!(content, fixture(inner), "{report}");
            assert_eq!(evidence, Some(fixture(report)), "{report}");
            let envelope = meta.journal.expect("journal envelope");
            assert!(envelope.malformed.is_none(), "{report}");
            assert!(!envelope.recipients.is_empty(), "{report}");
        }
    }

    let path = journal.file("decrypted.eml", &fixture("m365-decrypted.eml"));
    let reply = smtplib_send(
        journal.addr,
        "exchange@example.com",
        "journal@journal.test",
        &path,
    );
    let ids = archived_ids(&reply);
    assert_eq!(ids.len(), 2, "{reply}");
    assert_eq!(
        journal.stored(ids[0]).1,
        fixture("m365-decrypted.inner.eml")
    );
    let (meta, decrypted, _) = journal.stored(ids[1]);
    assert_eq!(decrypted, fixture("m365-decrypted.decrypted.eml"));
    assert!(meta.journal.unwrap().decrypted_copy);

    let report = fixture("malformed-no-rfc822.eml");
    let path = journal.file("malformed.eml", &report);
    let reply = smtplib_send(
        journal.addr,
        "exchange@example.com",
        "journal@journal.test",
        &path,
    );
    let (meta, content, _) = journal.stored(archived_ids(&reply)[0]);
    assert_eq!(content, report);
    assert!(meta.journal.unwrap().malformed.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn postfix_always_bcc_copies_are_archived_byte_identical() {
    // The normal delivery goes to a second journal (the "next hop"), so the
    // test can compare what Postfix sent to both.
    let next_hop = Journal::start(|c, _| c.name = "next-hop".into()).await;
    let journal = Journal::start(|_, _| {}).await;
    let extra = format!(
        "always_bcc = journal@journal.test\n\
         transport_maps = inline:{{ journal.test=smtp:[127.0.0.1]:{} }}",
        journal.addr.port()
    );
    let postfix = Postfix::start(next_hop.addr, &extra);
    let originals: Vec<Vec<u8>> = (0..5)
        .map(|i| corpus::message(100 + i, 20_000 * (i + 1)))
        .collect();
    let mut client = SmtpClient::connect(postfix.addr).await;
    client.expect("220").await;
    client.cmd("EHLO client.test", "250").await;
    for message in &originals {
        client
            .send_message("sender@example.com", "user@example.org", message, "250")
            .await;
    }
    client.cmd("QUIT", "221").await;

    let copies = journal.wait_for(originals.len()).await;
    let delivered = next_hop.wait_for(originals.len()).await;
    assert_eq!(
        copies.len(),
        originals.len(),
        "postfix log:\n{}",
        postfix.log()
    );
    assert_eq!(
        delivered.len(),
        originals.len(),
        "postfix log:\n{}",
        postfix.log()
    );
    for copy in &copies {
        let (meta, content, _) = journal.stored(copy.seq);
        assert_eq!(meta.rcpts[0].address, "journal@journal.test");
        assert_eq!(meta.mail_from.as_deref(), Some("sender@example.com"));
        // Postfix prepends its Received: header and changes nothing else.
        let original = originals
            .iter()
            .find(|o| content.ends_with(o))
            .expect("original body");
        assert!(content.starts_with(b"Received: "));
        assert!(content.len() > original.len());
        // The next hop got the very same bytes.
        assert!(delivered.iter().any(|d| d.sha256 == copy.sha256));
    }
}
