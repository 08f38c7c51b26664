//! `systemctl reload` (SIGHUP) on the real binary: the listeners are
//! replaced from the re-read file while a transaction in progress finishes
//! on the settings it started with; a file that does not check out is
//! refused and the running listeners stay; a section read only at start is
//! named as needing a restart.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use crate::smtp_proxy::sha256;
use crate::support::corpus;
use crate::support::daemon::{Daemon, with_control};
use crate::support::sink::Sink;
use crate::support::smtp::{SmtpClient, free_port, smtplib_send};
use crate::support::wait_for_log;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// An SMTP proxy on `listen` to `upstream`, plus `extra` TOML.
fn write_config(
    path: &Path,
    archive: &Path,
    listen: SocketAddr,
    upstream: SocketAddr,
    extra: &str,
) {
    let text = format!(
        "[archive]\npath = \"{}\"\n\n\
         [[smtp_proxy]]\nname = \"mx\"\nlisten = \"{listen}\"\nupstream = \"{upstream}\"\n\
         hostname = \"mailseal.test\"\nupstream_tls = \"none\"\n\n{extra}\n\
         [http]\nenabled = false\n",
        archive.display()
    );
    std::fs::write(path, with_control(path, text)).unwrap();
}

fn hangup(daemon: &Daemon) {
    let pid = daemon.pid().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_replaces_the_listeners_and_a_transaction_in_progress_finishes() {
    let (old_upstream, new_upstream) = (Sink::plain(), Sink::plain());
    let dir = tempfile::tempdir().unwrap();
    let (config, archive) = (dir.path().join("mailseal.toml"), dir.path().join("archive"));
    let listen = addr(free_port());
    write_config(&config, &archive, listen, old_upstream.addr, "");
    let mut daemon = Daemon::start(&config, listen);

    // A transaction in progress: DATA begun, the final dot not yet sent.
    let first = corpus::message(31, 60_000);
    let mut open = SmtpClient::connect(listen).await;
    open.expect("220").await;
    open.cmd("EHLO client.test", "250").await;
    open.cmd("MAIL FROM:<a@example.com>", "250").await;
    open.cmd("RCPT TO:<b@example.org>", "250").await;
    open.cmd("DATA", "354").await;
    // `stuff` ends the data with the final dot.
    let stuffed = mailseal::smtp::data::stuff(&first);
    let (head, tail) = stuffed.split_at(stuffed.len() / 2);
    open.send(head).await;

    // New upstream, and a journal listener added.
    let journal = addr(free_port());
    let extra = format!("[[journal]]\nname = \"j\"\nlisten = \"{journal}\"\n");
    write_config(&config, &archive, listen, new_upstream.addr, &extra);
    hangup(&daemon);
    wait_for_log("reloaded", || daemon.log(), |l| l.contains("reloaded"));

    // The session that began before the reload ends on its own upstream.
    open.send(tail).await;
    open.expect("250").await;
    open.cmd("QUIT", "221").await;
    assert_eq!(sha256(&old_upstream.wait_for(1)[0].content), sha256(&first));

    // New connections get the new settings: the new upstream, the journal.
    let second = corpus::message(32, 20_000);
    let path = dir.path().join("2.eml");
    std::fs::write(&path, &second).unwrap();
    let reply = smtplib_send(listen, "a@example.com", "b@example.org", &path);
    assert!(reply.starts_with("250 "), "{reply}\n{}", daemon.log());
    assert_eq!(
        sha256(&new_upstream.wait_for(1)[0].content),
        sha256(&second)
    );
    let reply = smtplib_send(journal, "j@example.com", "archive@example.org", &path);
    assert!(reply.contains("archived as"), "{reply}");

    // A file that does not check out: refused, the running listeners stay.
    std::fs::write(&config, "[[smtp_proxy]]\nname = 1\n").unwrap();
    hangup(&daemon);
    wait_for_log("refusal", || daemon.log(), |l| l.contains("reload refused"));
    let reply = smtplib_send(listen, "a@example.com", "b@example.org", &path);
    assert!(reply.starts_with("250 "), "{reply}\n{}", daemon.log());
    assert_eq!(new_upstream.wait_for(2).len(), 2);

    // A section read only at start is named, and the listeners reload.
    let moved = dir.path().join("elsewhere");
    write_config(&config, &moved, listen, new_upstream.addr, &extra);
    hangup(&daemon);
    wait_for_log(
        "restart note",
        || daemon.log(),
        |l| l.contains("section=\"archive\"") || l.contains("section=archive"),
    );
    wait_for_log(
        "second reload",
        || daemon.log(),
        |l| l.matches("reloaded").count() >= 2,
    );
    let reply = smtplib_send(listen, "a@example.com", "b@example.org", &path);
    assert!(reply.starts_with("250 "), "{reply}\n{}", daemon.log());

    daemon.stop();
    assert!(!moved.exists(), "the archive moved without a restart");
    // Everything went to the running archive, whole and verified.
    let verify = crate::support::verifiers::mailseal(&archive, &["verify"]);
    assert_eq!(verify.status.code(), Some(0), "{verify:?}");
    let list = crate::support::verifiers::mailseal(&archive, &["list", "--json"]);
    let messages = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter(|l| l.contains(r#""kind":"message""#))
        .count();
    assert_eq!(messages, 5, "{}", String::from_utf8_lossy(&list.stdout));
}
