//! Faults between mailseal and the server, injected by a small TCP relay:
//! a connection that drops in the middle of a FETCH (resumed, nothing lost
//! or repeated), and one message whose response never parses (skipped,
//! reported with folder and UID, fetched by a later run).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::mailbox::{append, archived, by_uid, origin, snapshot};
use super::{Lab, messages, text};

/// What the relay does to the server's bytes.
#[derive(Clone, Copy)]
enum Fault {
    /// Closes the first connection after this many bytes from the server.
    DropFirstAfter(usize),
    /// Garbles the FETCH response of this UID on every connection.
    Garble(u32),
}

/// Relays 127.0.0.1:(returned port) to `server`, injecting `fault`.
fn relay(server: SocketAddr, fault: Fault) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let n = connections.fetch_add(1, Ordering::SeqCst);
            let upstream = TcpStream::connect(server).unwrap();
            let (c2, u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            std::thread::spawn(move || pipe(c2, u2, Filter::default()));
            let mut filter = Filter::default();
            match fault {
                Fault::DropFirstAfter(bytes) if n == 0 => filter.limit = Some(bytes),
                Fault::DropFirstAfter(_) => {}
                Fault::Garble(uid) => filter.pattern = format!("UID {uid} BODY[] {{").into_bytes(),
            }
            std::thread::spawn(move || pipe(upstream, client, filter));
        }
    });
    port
}

/// Copies `from` to `to` through `filter` until either side closes or the
/// filter cuts the connection.
fn pipe(mut from: TcpStream, mut to: TcpStream, mut filter: Filter) {
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let (out, go_on) = filter.apply(&buf[..n]);
        if to.write_all(&out).is_err() || !go_on {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// Rewrites one direction of a connection.
#[derive(Default)]
struct Filter {
    /// Every occurrence gets an `x` after it (`{123}` becomes `{x123}`).
    pattern: Vec<u8>,
    /// The start of a possible occurrence, held back until more arrives.
    carry: Vec<u8>,
    /// Bytes passed so far.
    total: usize,
    /// Bytes after which the connection is cut.
    limit: Option<usize>,
}

impl Filter {
    /// The bytes to send for `input`, and whether to go on afterwards.
    fn apply(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut data = std::mem::take(&mut self.carry);
        data.extend_from_slice(input);
        if !self.pattern.is_empty() {
            let p = self.pattern.len();
            let mut i = 0;
            while let Some(at) = data[i..].windows(p).position(|w| w == self.pattern) {
                data.insert(i + at + p, b'x');
                i += at + p + 1;
            }
            // Hold back a tail that may be the start of the next occurrence.
            let keep = (1..p).rev().find(|k| data.ends_with(&self.pattern[..*k]));
            if let Some(k) = keep {
                self.carry = data.split_off(data.len() - k);
            }
        }
        self.total += data.len();
        match self.limit {
            Some(limit) if self.total > limit => {
                data.truncate(data.len() - (self.total - limit));
                (data, false)
            }
            _ => (data, true),
        }
    }
}

#[test]
fn a_connection_lost_mid_fetch_is_resumed() {
    let Some(lab) = Lab::start() else { return };
    append(&lab.dovecot, "INBOX", &messages(0, 120));
    let server = snapshot(&lab.dovecot, "INBOX");
    let port = relay(lab.dovecot.addr(), Fault::DropFirstAfter(1_500_000));
    let out = lab
        .import_command_via(&lab.archive(), port, &["--batch-size", "500"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("fetch broke off; resuming"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("120 fetched, 120 archived"),
        "{}",
        text(&out)
    );
    let got = by_uid(&archived(&lab.archive()), &origin("INBOX"));
    assert_eq!(got.len(), 120);
    for (uid, (_, bytes)) in &server.messages {
        assert!(
            got.get(&(server.uidvalidity, *uid)) == Some(bytes),
            "UID {uid}"
        );
    }
}

#[test]
fn a_message_that_never_parses_is_reported_and_fetched_later() {
    let Some(lab) = Lab::start() else { return };
    append(&lab.dovecot, "INBOX", &messages(0, 20));
    let port = relay(lab.dovecot.addr(), Fault::Garble(5));
    let out = lab
        .import_command_via(&lab.archive(), port, &[])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("19 fetched, 19 archived"), "{t}");
    assert!(
        t.contains("not imported: imap://alice@127.0.0.1/INBOX message UID 5"),
        "{t}"
    );
    assert!(
        t.contains("1 messages or folders could not be imported"),
        "{t}"
    );
    assert!(t.contains("did not parse"), "{t}");
    assert!(!t.contains("leading dot"), "no message bytes in logs: {t}");

    // Without the fault, the next run fetches exactly the one missing
    // message, although higher UIDs are archived already.
    let out = lab.import(&[]);
    assert!(out.contains("1 fetched, 1 archived"), "{out}");
    let server = snapshot(&lab.dovecot, "INBOX");
    let got = by_uid(&archived(&lab.archive()), &origin("INBOX"));
    assert_eq!(got.len(), 20);
    assert!(got.get(&(server.uidvalidity, 5)) == Some(&server.messages[&5].1));
}

#[test]
fn an_unreadable_folder_is_reported_and_the_others_imported() {
    use std::os::unix::fs::PermissionsExt as _;
    let Some(lab) = Lab::start() else { return };
    super::mailbox::create(&lab.dovecot, "Locked");
    append(&lab.dovecot, "Locked", &messages(0, 2));
    append(&lab.dovecot, "INBOX", &messages(10, 3));
    let locked = lab.dovecot.maildir("Locked");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = lab.import_command(&[]).output().unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o777)).unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("3 fetched, 3 archived"), "{t}");
    assert!(
        t.contains("imap://alice@127.0.0.1/Locked: folder not imported"),
        "{t}"
    );
    // Readable again: the next run takes it.
    assert!(lab.import(&[]).contains("2 fetched, 2 archived"));
}
