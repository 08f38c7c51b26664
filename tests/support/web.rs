//! The web interface on loopback for tests: an archive with a small corpus
//! (an invoice with a PDF, a journal report with a Bcc recipient, a
//! newsletter with hostile HTML, German mail, mail between others), a users
//! file, and the server running on its own runtime.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mailseal::archive::record::{
    JournalEnvelope, JournalRecipient, MessageMeta, Rcpt, RecordBody, Source, SourceKind,
};
use mailseal::archive::{Archive, NewMessage, SpooledContent};
use mailseal::search::LocalDomains;
use mailseal::search::indexer::{Config as IndexerConfig, Indexer};
use mailseal::web::role::Role;
use mailseal::web::store::ArchiveMail;
use mailseal::web::trail::Trail;
use mailseal::web::users::{LoginMethod, User, Users};
use mailseal::web::{Web, WebSettings};
use tokio_util::sync::CancellationToken;

/// Every test user's password.
pub const PASSWORD: &str = "correct horse battery";

/// The record ids of the corpus.
pub mod ids {
    /// Invoice with a PDF, supplier to anna.buyer.
    pub const INVOICE: u64 = 1;
    /// Journal report: boss to a partner, Bcc eve.
    pub const JOURNAL_BCC: u64 = 2;
    /// Hostile HTML newsletter to eve.
    pub const HOSTILE: u64 = 3;
    /// Carl to Dave: nobody's but theirs.
    pub const OTHERS: u64 = 4;
    /// German mail to eve.
    pub const GERMAN: u64 = 5;
}

/// The running interface.
pub struct WebServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The archive it serves (shared with the server).
    pub archive: Archive,
    /// The archive directory.
    pub dir: tempfile::TempDir,
    /// The users file.
    pub users_file: PathBuf,
    /// Stops the server.
    shutdown: CancellationToken,
    /// The server's runtime thread.
    thread: Option<std::thread::JoinHandle<()>>,
    /// The search indexer the interface searches through.
    indexer: Option<Indexer>,
}

fn meta(kind: SourceKind, from: &str, rcpts: &[&str]) -> MessageMeta {
    MessageMeta {
        source: Source {
            kind,
            name: "test".into(),
        },
        mail_from: Some(from.into()),
        rcpts: rcpts
            .iter()
            .map(|r| Rcpt {
                address: (*r).into(),
                reply: Some("250 2.1.5 Ok".into()),
            })
            .collect(),
        ..Default::default()
    }
}

/// The hostile newsletter; its remote image points at `pixel`.
pub fn hostile_mail(pixel: SocketAddr) -> Vec<u8> {
    format!(
        "From: News <news@evil.example>\r\nTo: eve@corp.example\r\nSubject: Hostile newsletter\r\n\
         Date: Sat, 01 Jun 2024 09:00:00 +0000\r\nMessage-ID: <hostile@evil.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <html><body><h1>Special offer</h1>\
         <script>parent.document.title='pwned'; document.title='pwned';</script>\
         <img src=\"x\" onerror=\"parent.document.body.setAttribute('data-pwned','1');document.body.setAttribute('data-pwned','1')\">\
         <img src=\"http://{pixel}/pixel.png\" width=\"1\" height=\"1\">\
         <p onmouseover=\"alert(1)\">Read more</p></body></html>\r\n"
    )
    .into_bytes()
}

fn corpus(pixel: SocketAddr) -> Vec<NewMessage> {
    let invoice = b"From: Lieferant GmbH <lieferant@supplier.example>\r\n\
        To: anna.buyer@corp.example\r\nSubject: Rechnung 2024-001\r\n\
        Date: Sat, 10 Feb 2024 10:00:00 +0100\r\nMessage-ID: <inv-1@supplier.example>\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
        --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei die Rechnung 2024-001.\r\n\
        --b\r\nContent-Type: application/pdf\r\n\
        Content-Disposition: attachment; filename=\"rechnung-2024-001.pdf\"\r\n\
        Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCg==\r\n--b--\r\n"
        .to_vec();
    let contract = b"From: Boss <boss@corp.example>\r\nTo: partner@supplier.example\r\n\
        Subject: Contract draft\r\nDate: Wed, 01 May 2024 08:30:00 +0000\r\n\
        Message-ID: <contract@corp.example>\r\n\r\nPlease find the framework agreement draft.\r\n"
        .to_vec();
    let others = b"From: carl@corp.example\r\nTo: dave@corp.example\r\nSubject: Lunch\r\n\
        Date: Mon, 03 Jun 2024 12:00:00 +0000\r\n\r\nLunch at noon?\r\n"
        .to_vec();
    let german = "From: Müller <mueller@corp.example>\r\nTo: eve@corp.example\r\n\
        Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen?=\r\n\
        Date: Tue, 04 Jun 2024 07:15:00 +0200\r\nMIME-Version: 1.0\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\r\nViele Grüße aus München.\r\n"
        .as_bytes()
        .to_vec();
    let mut journal = meta(
        SourceKind::Journal,
        "boss@corp.example",
        &["journal@archive.example"],
    );
    journal.journal = Some(JournalEnvelope {
        sender: Some("boss@corp.example".into()),
        recipients: vec![
            JournalRecipient {
                field: "to".into(),
                address: "partner@supplier.example".into(),
                ..Default::default()
            },
            JournalRecipient {
                field: "bcc".into(),
                address: "eve@corp.example".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    });
    let msg = |meta: MessageMeta, bytes: Vec<u8>| NewMessage {
        meta,
        content: SpooledContent::from_bytes(bytes),
        evidence: None,
    };
    vec![
        msg(
            meta(
                SourceKind::SmtpProxy,
                "lieferant@supplier.example",
                &["anna.buyer@corp.example"],
            ),
            invoice,
        ),
        msg(journal, contract),
        msg(
            meta(
                SourceKind::SmtpProxy,
                "news@evil.example",
                &["eve@corp.example"],
            ),
            hostile_mail(pixel),
        ),
        msg(
            meta(
                SourceKind::Journal,
                "carl@corp.example",
                &["dave@corp.example"],
            ),
            others,
        ),
        msg(
            meta(
                SourceKind::Import,
                "mueller@corp.example",
                &["eve@corp.example"],
            ),
            german,
        ),
    ]
}

fn user(name: &str, role: Role, addresses: &[&str]) -> User {
    let mut u = User::new(name, role, LoginMethod::Local);
    u.addresses = addresses.iter().map(|a| (*a).into()).collect();
    u
}

/// The test users: anna (auditor), frieda (auditor, four eyes), otto
/// (admin), eve and mallory (users), dora and dirk (data officers), all
/// with [`PASSWORD`].
pub fn users() -> Users {
    let mut all = Users::default();
    let mut frieda = user("frieda", Role::Auditor, &[]);
    frieda.four_eyes = true;
    for u in [
        user("anna", Role::Auditor, &[]),
        frieda,
        user("otto", Role::Admin, &[]),
        user("eve", Role::User, &["eve@corp.example"]),
        user("mallory", Role::User, &["mallory@corp.example"]),
        user("dora", Role::DataOfficer, &[]),
        user("dirk", Role::DataOfficer, &[]),
    ] {
        let name = u.name.clone();
        all.add(u).unwrap();
        all.set_password(&name, PASSWORD).unwrap();
    }
    all
}

impl WebServer {
    /// Replaces the users file the server reads with `all`. The server
    /// notices the change by the file's mtime, so it is set ahead even
    /// when the write falls in the same second as the last one.
    pub fn replace_users(&self, all: &Users) {
        std::thread::sleep(std::time::Duration::from_millis(20));
        all.save(&self.users_file).unwrap();
        let f = std::fs::File::options()
            .append(true)
            .open(&self.users_file)
            .unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(2))
            .unwrap();
    }

    /// Builds the archive (remote image of the hostile mail at `pixel`),
    /// writes the users, and serves.
    pub fn start(pixel: SocketAddr, settings: impl FnOnce(&mut WebSettings)) -> WebServer {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::open_dir(dir.path()).unwrap();
        for m in corpus(pixel) {
            archive.append_blocking(m).unwrap();
        }
        // Searches go through the full-text index, as in the daemon.
        let head = archive.reader().head().unwrap().seq;
        let indexer = Indexer::spawn(
            IndexerConfig {
                dir: mailseal::search::index_dir(dir.path()),
                local: LocalDomains::new(&["corp.example".to_string()]),
                writer: Default::default(),
            },
            archive.reader(),
            head,
        )
        .unwrap();
        let status = Arc::clone(indexer.status());
        super::wait_until("the index holds the corpus", || {
            (status.indexed.load(std::sync::atomic::Ordering::Relaxed) >= head).then_some(())
        });
        let users_file = dir.path().join("users.toml");
        users().save(&users_file).unwrap();
        let mut s = WebSettings {
            users_file: users_file.clone(),
            ..WebSettings::default()
        };
        settings(&mut s);
        let shutdown = CancellationToken::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let (a2, stop) = (archive.clone(), shutdown.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let store = ArchiveMail::indexed(a2.clone(), status);
                let web = Web::new(s, Arc::new(store), Trail::new(a2));
                mailseal::web::serve(listener, web, stop).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        WebServer {
            addr,
            url: format!("http://{addr}"),
            archive,
            dir,
            users_file,
            shutdown,
            thread: Some(thread),
            indexer: Some(indexer),
        }
    }

    /// The archive's audit records so far: (seq, event).
    pub fn audit(&self) -> Vec<(u64, mailseal::archive::audit::AuditEvent)> {
        let reader = self.archive.reader();
        reader
            .summaries()
            .unwrap()
            .into_iter()
            .filter(|s| s.kind == "audit")
            .map(|s| {
                let (r, _) = reader.record(s.seq).unwrap();
                match r.body {
                    RecordBody::Audit(e) => (r.seq, *e),
                    _ => unreachable!("indexed as audit"),
                }
            })
            .collect()
    }

    /// Waits until an audit record satisfies `pred`.
    pub fn wait_audit(
        &self,
        what: &str,
        pred: impl Fn(&mailseal::archive::audit::AuditEvent) -> bool,
    ) -> mailseal::archive::audit::AuditEvent {
        super::wait_until(what, || {
            self.audit().into_iter().map(|(_, e)| e).find(|e| pred(e))
        })
    }

    /// Purges what is due now, as the daily purge would (`mailseal
    /// purge`); the number of messages deleted.
    pub fn purge_now(&self) -> usize {
        use mailseal::archive::manage::{self, Lifecycle, LifecycleReply};
        let cmd = Lifecycle::Purge {
            dry_run: false,
            actor: "test".into(),
        };
        let today = chrono::Local::now().date_naive();
        match manage::execute(&self.archive, cmd, today, 30).unwrap() {
            LifecycleReply::Purge { done: Some(d), .. } => d.tombstones.len(),
            other => panic!("a purge answered {other:?}"),
        }
    }

    /// The content SHA-256 of message `seq`.
    pub fn content_sha(&self, seq: u64) -> String {
        let (r, _) = self.archive.reader().record(seq).unwrap();
        r.message().unwrap().content.sha256.clone()
    }

    /// Stops the server, seals and closes the archive; returns its directory.
    pub fn stop(mut self) -> tempfile::TempDir {
        self.shutdown.cancel();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        if let Some(i) = self.indexer.take() {
            i.stop();
        }
        self.archive.close().unwrap();
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Where the tests put their screenshots (copied by hand to docs/screenshots).
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots")
}
