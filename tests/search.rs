//! Search through the real daemon: mail arrives on the journal listener
//! from Python's smtplib, the daemon's indexer makes it searchable, and
//! `mailseal search`/`export --query`/`search --check` answer through the
//! control socket. A Bcc recipient named only in an Exchange journal
//! report is found; after kill -9 and a deleted index directory the
//! index catches up and the check is clean; without a daemon the CLI
//! opens the index itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::daemon::{self, Daemon};
use crate::support::dovecot::free_port;
use crate::support::smtp::smtplib_send;
use crate::support::wait_until;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Setup {
    /// Keeps the files.
    _dir: tempfile::TempDir,
    /// The configuration.
    config: PathBuf,
    /// The archive.
    archive: PathBuf,
    /// The journal listener.
    journal: SocketAddr,
    /// Where messages to send are written.
    files: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let journal: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.path().join("mailseal.toml");
    let body = format!(
        "[archive]\npath = {:?}\nlocal_domains = [\"contoso.com\"]\n\n\
         [[journal]]\nname = \"journal\"\nlisten = \"{journal}\"\n\n\
         [http]\nenabled = false\n",
        archive.display().to_string()
    );
    std::fs::write(&config, daemon::with_control(&config, body)).unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    Setup {
        config,
        archive,
        journal,
        files,
        _dir: dir,
    }
}

impl Setup {
    /// Sends `message` with smtplib and checks the 250.
    fn send(&self, name: &str, message: &[u8]) {
        let path = self.files.join(name);
        std::fs::write(&path, message).unwrap();
        let reply = smtplib_send(
            self.journal,
            "exchange@contoso.com",
            "journal@archive.test",
            &path,
        );
        assert!(reply.starts_with("250"), "{name}: {reply}");
    }

    fn cli(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_mailseal"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("MAILSEAL_CONFIG")
            .output()
            .unwrap()
    }

    /// Record ids `search --json QUERY` prints (oldest first).
    fn search(&self, query: &str) -> Vec<u64> {
        let o = self.cli(&[
            "search", "--json", "--sort", "date", "--limit", "1000", query,
        ]);
        assert!(o.status.success(), "search {query}: {}", text(&o));
        ids(&o)
    }

    /// Waits until `query` finds `want` records.
    fn wait_found(&self, query: &str, want: usize) -> Vec<u64> {
        // Refused while the indexer (re)opens the index at start: retried.
        wait_until(&format!("{want} hits for {query}"), || {
            let o = self.cli(&[
                "search", "--json", "--sort", "date", "--limit", "1000", query,
            ]);
            let found = ids(&o);
            (o.status.success() && found.len() == want).then_some(found)
        })
    }
}

fn ids(o: &Output) -> Vec<u64> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["seq"].as_u64().unwrap()
        })
        .collect()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/journal")
            .join(name),
    )
    .unwrap()
}

fn plain(i: usize, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Jörg Müller <joerg@fabrikam.com>\r\nTo: bob@contoso.com\r\n\
         Subject: {subject}\r\nMessage-ID: <m{i}@fabrikam.com>\r\n\
         Date: Mon, 6 Jan 2025 10:00:0{} +0000\r\n\r\n{body}\r\n",
        i % 10
    )
    .into_bytes()
}

#[test]
fn daemon_search_finds_journal_bcc_and_survives_kill9_and_a_deleted_index() {
    let s = setup();
    let log = s.config.with_extension("log");
    let mut d = Daemon::start_logged(&s.config, &[s.journal], &log);
    let socket = s.config.with_file_name("control.sock");
    wait_until("the control socket", || {
        std::os::unix::net::UnixStream::connect(&socket).ok()
    });

    s.send("report.eml", &fixture("m365-extended.eml"));
    for i in 0..5 {
        s.send(
            &format!("m{i}.eml"),
            &plain(i, "Rechnungen 2025", "Bitte zahlen"),
        );
    }
    // Binary junk without a header: found by envelope and receive time.
    s.send("junk.eml", b"\x01\x02garbage \xff\xfe no header here\r\n");

    // Indexing follows the 250s on its own thread: wait for all seven,
    // the junk among them, found by their receive time alone.
    let all = s.wait_found("received:2020..2100", 7);
    let bcc = s.search("bcc:legal@contoso.com");
    assert_eq!(bcc.len(), 1, "{bcc:?}");
    assert_eq!(s.search("rcpt:legal@contoso.com"), bcc);
    let o = s.cli(&["list", "--json", "--to", "legal@contoso.com"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(ids(&o), bcc, "list --to finds the journal Bcc");

    // Stemming and umlauts through the daemon.
    let invoices = s.search("rechnung");
    assert_eq!(invoices.len(), 5, "{invoices:?}");
    assert_eq!(s.search("from:mueller"), invoices);
    assert_eq!(s.search("source:journal"), all);

    // export --query through the daemon.
    let out = s.files.join("export");
    let o = s.cli(&[
        "export",
        "--out",
        out.to_str().unwrap(),
        "--query",
        "bcc:legal@contoso.com",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let emls: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .collect();
    assert_eq!(emls.len(), 1);
    // The archive keeps the report's message (the report is its evidence).
    assert!(
        std::fs::read(emls[0].path()).unwrap() == fixture("m365-extended.inner.eml"),
        "export --query wrote the journaled message byte-exact"
    );

    // A syntax error names the position.
    let o = s.cli(&["search", "from:(a"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    let o = s.cli(&["search", "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // kill -9 while mail keeps coming; then the index directory goes.
    for i in 10..30 {
        s.send(&format!("k{i}.eml"), &plain(i, "Angebot", "Preisliste"));
    }
    d.kill9();
    std::fs::remove_dir_all(s.archive.join("search")).unwrap();
    let _d = Daemon::start_logged(&s.config, &[s.journal], &log);
    let socket2 = s.config.with_file_name("control.sock");
    wait_until("the control socket", || {
        std::os::unix::net::UnixStream::connect(&socket2).ok()
    });
    s.send("after.eml", &plain(31, "Angebot", "nach dem Neustart"));
    s.wait_found("angebot", 21);
    let o = s.cli(&["search", "--check", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["clean"], true, "{v}");
    assert_eq!(v["report"]["expected"], 28, "{v}");
}

#[test]
fn without_a_daemon_the_cli_builds_and_uses_the_index() {
    let s = setup();
    let eml = s.files.join("a.eml");
    std::fs::write(&eml, plain(1, "Invoices for March", "see attached")).unwrap();
    let o = s.cli(&["import", "eml", eml.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(s.search("invoice"), vec![1]);
    assert!(s.archive.join("search/meta.json").exists());
    // Mail imported later is caught up on the next search.
    let eml = s.files.join("b.eml");
    std::fs::write(&eml, plain(2, "Invoice April", "x")).unwrap();
    let o = s.cli(&["import", "eml", eml.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(s.search("subject:invoice"), vec![1, 2]);
    // Extra documents (an index ahead of a restored archive) are found by
    // the check; reindex rebuilds the search index too.
    let o = s.cli(&["reindex"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("search index rebuilt"), "{}", text(&o));
    let o = s.cli(&["search", "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
