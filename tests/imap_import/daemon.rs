//! `mailseal import imap` while `mailseal run` holds the archive: the CLI
//! runs the IMAP session, and the daemon answers its resume questions and
//! appends every message durably (with a message past the spool's memory
//! limit on both sides of the socket).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::mailbox::{append, archived, by_uid, origin};
use super::{Lab, messages};
use crate::support::daemon::{Daemon, with_control};
use crate::support::smtp::free_port;

#[test]
fn an_import_goes_through_the_running_daemon_and_resumes_from_it() {
    let Some(lab) = Lab::start() else {
        return;
    };
    let sent = messages(0, 60);
    append(&lab.dovecot, "INBOX", &sent);
    // The daemon serves the archive and the socket the import's
    // configuration names (see `Lab::import_command`).
    let archive = lab.archive();
    let config = lab.dir.path().join("daemon.toml");
    let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let text = format!(
        "[archive]\npath = {:?}\n\n[[journal]]\nname = \"journal\"\nlisten = \"{listen}\"\n\n\
         [http]\nenabled = false\n",
        archive.display().to_string()
    );
    std::fs::write(&config, with_control(&archive.with_extension("sock"), text)).unwrap();
    let mut daemon = Daemon::start(&config, listen);

    let out = lab.import(&[]);
    assert!(out.contains("60 fetched, 60 archived"), "{out}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon
        .log()
        .contains("control request cmd=\"import\" uid=0")
    {
        assert!(Instant::now() < deadline, "{}", daemon.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The second run asks the daemon what is archived: nothing is new.
    let out = lab.import(&[]);
    assert!(out.contains("0 fetched, 0 archived"), "{out}");
    daemon.stop();

    let records = by_uid(&archived(&archive), &origin("INBOX"));
    let bytes: Vec<&Vec<u8>> = records.values().collect();
    let expected: Vec<&Vec<u8>> = sent.iter().map(|(m, _)| m).collect();
    assert_eq!(bytes.len(), expected.len());
    assert!(bytes == expected, "archived byte-exact, in UID order");
    lab.verify();
}
