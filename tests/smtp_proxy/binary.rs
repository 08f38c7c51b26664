//! The real `mailseal run` binary with a generated configuration: a
//! message relayed and archived (then shown, listed and verified with the
//! CLI), and an archive whose disk is full.

use std::net::SocketAddr;

use super::{daemon_config, sha256};
use crate::support::corpus;
use crate::support::daemon::Daemon;
use crate::support::mount::Tmpfs;
use crate::support::sink::Sink;
use crate::support::smtp::smtplib_send;

/// Where `mailseal run` should listen in the binary tests.
fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], crate::support::smtp::free_port()))
}

#[test]
fn the_real_binary_relays_and_archives() {
    let sink = Sink::plain();
    let dir = tempfile::tempdir().unwrap();
    let listen = free_addr();
    let archive = dir.path().join("archive");
    let config = daemon_config(dir.path(), &archive, listen, sink.addr);
    let mut daemon = Daemon::start(&config, listen);
    let message = corpus::message(5, 250_000);
    let path = dir.path().join("m.eml");
    std::fs::write(&path, &message).unwrap();
    let reply = smtplib_send(listen, "a@example.com", "b@example.org", &path);
    assert!(reply.starts_with("250 2.0.0 Ok"), "{reply}");
    assert_eq!(sha256(&sink.wait_for(1)[0].content), sha256(&message));
    daemon.stop();
    let show = daemon.cli(&["show", "1", "--raw"]);
    assert!(show.status.success(), "{show:?}");
    assert_eq!(sha256(&show.stdout), sha256(&message));
    let verify = daemon.cli(&["verify"]);
    assert_eq!(verify.status.code(), Some(0), "{verify:?}");
    let list = daemon.cli(&["list", "--json"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains(r#""source_kind":"smtp-proxy","source_name":"mx""#),
        "{text}"
    );
    // One structured line per message, without the body.
    let log = daemon.log();
    assert!(log.contains("relayed seq=1"), "{log}");
    assert!(log.contains("upstream=250 2.0.0 Ok: queued as 1"), "{log}");
    assert!(
        !log.contains("München") && !log.contains("leading dot"),
        "{log}"
    );
}

/// Sends `message` with smtplib; returns the final reply.
fn send(dir: &std::path::Path, listen: SocketAddr, name: &str, message: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, message).unwrap();
    smtplib_send(listen, "a@example.com", "b@example.org", &path)
}

#[test]
fn a_full_archive_disk_gets_452_and_nothing_reaches_the_upstream() {
    let Some(disk) = Tmpfs::mount("24m") else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let sink = Sink::plain();
    let dir = tempfile::tempdir().unwrap();
    let listen = free_addr();
    let config = daemon_config(dir.path(), &disk.path().join("archive"), listen, sink.addr);
    let mut daemon = Daemon::start(&config, listen);
    let first = corpus::message(1, 100_000);
    let reply = send(dir.path(), listen, "1.eml", &first);
    assert!(reply.starts_with("250 "), "{reply}");

    let filler = disk.fill("filler");
    let doomed = corpus::message(2, 300_000);
    let reply = send(dir.path(), listen, "2.eml", &doomed);
    // RFC 5321's "insufficient system storage": the sender retries.
    assert!(reply.starts_with("452 4.3.1"), "{reply}");
    std::thread::sleep(std::time::Duration::from_millis(800));
    let received = sink.messages();
    assert_eq!(received.len(), 1, "only the archived message went upstream");
    assert_eq!(sha256(&received[0].content), sha256(&first));

    // With space again, the client's retry goes through.
    std::fs::remove_file(filler).unwrap();
    let reply = send(dir.path(), listen, "2.eml", &doomed);
    assert!(reply.starts_with("250 "), "{reply}\n{}", daemon.log());
    assert_eq!(sha256(&sink.wait_for(2)[1].content), sha256(&doomed));
    daemon.stop();
    let verify = daemon.cli(&["verify"]);
    assert_eq!(verify.status.code(), Some(0), "{verify:?}");
}
