//! `mailseal import imap` and scheduled `[[imap_import]]` jobs against a
//! real Dovecot on loopback, filled and read back with Python's imaplib:
//! every message archived byte-exact exactly once, flags untouched, resume
//! after kill -9, UIDVALIDITY changes, failures with exit code 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::corpus;
use crate::support::dovecot::{self, Dovecot, USER};

#[path = "support/imap_mailbox.rs"]
pub mod mailbox;

#[path = "support/dovecot_oauth2.rs"]
pub mod dovecot_oauth2;

// Folders, special-use, patterns, byte-exact content, unchanged flags,
// incremental runs.
mod folders;
// kill -9 in the middle of an import, and UIDVALIDITY changes.
mod resume;
// Wrong password, unreachable server, TLS failures; TLS and STARTTLS imports.
mod errors;
// A connection dropped mid-FETCH, a response that never parses.
mod faults;
// AUTHENTICATE XOAUTH2 against a Dovecot that takes only bearer tokens.
mod oauth2;
// Jobs inside `mailseal run` and through the library scheduler.
mod schedule;
// `mailseal import imap` through a running daemon's control socket.
mod daemon;

/// A Dovecot, an archive directory and a password file.
pub struct Lab {
    /// The server.
    pub dovecot: Dovecot,
    /// Holds the archive and the password file.
    pub dir: tempfile::TempDir,
}

impl Lab {
    /// Starts Dovecot (`None` when it is not installed).
    pub fn start() -> Option<Lab> {
        Lab::start_with(None)
    }

    /// Starts Dovecot, with implicit TLS when given a certificate and key.
    pub fn start_with(tls: Option<(&Path, &Path)>) -> Option<Lab> {
        if !dovecot::available() {
            return None;
        }
        let dovecot = Dovecot::start(tls);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), format!("{}\n", dovecot::PASSWORD)).unwrap();
        Some(Lab { dovecot, dir })
    }

    /// The archive directory.
    pub fn archive(&self) -> PathBuf {
        self.dir.path().join("archive")
    }

    /// The password file.
    pub fn password_file(&self) -> PathBuf {
        self.dir.path().join("pw")
    }

    /// The import command for the plain port with the right password.
    pub fn import_command(&self, extra: &[&str]) -> Command {
        self.import_command_to(&self.archive(), extra)
    }

    /// The same, into the archive at `archive`.
    pub fn import_command_to(&self, archive: &Path, extra: &[&str]) -> Command {
        self.import_command_via(archive, self.dovecot.port, extra)
    }

    /// The same, through `port` (a relay in front of the server).
    pub fn import_command_via(&self, archive: &Path, port: u16, extra: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mailseal"));
        c.env_remove("MAILSEAL_CONFIG")
            .arg("--config")
            .arg(crate::support::daemon::archive_config(archive))
            .args(["import", "imap", "--host", "127.0.0.1", "--tls", "none"])
            .args(["--port", &port.to_string(), "--user", USER])
            .arg("--password-file")
            .arg(self.password_file())
            .args(extra);
        c
    }

    /// Runs an import and checks it succeeded; returns its stdout.
    pub fn import(&self, extra: &[&str]) -> String {
        let out = self.import_command(extra).output().unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            text(&out),
            self.dovecot.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `mailseal --archive ARCHIVE args`.
    pub fn mailseal(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mailseal"))
            .env_remove("MAILSEAL_CONFIG")
            .arg("--archive")
            .arg(self.archive())
            .args(args)
            .output()
            .unwrap()
    }

    /// `mailseal verify` passes.
    pub fn verify(&self) {
        let out = self.mailseal(&["verify"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
}

/// stdout and stderr of a finished command.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `n` messages starting at corpus number `first`, sizes cycling from 600
/// bytes to 120 kB, every 50th one 1.5 MB (past the spool's memory limit);
/// flags vary: some `\Seen`, some `\Flagged \Answered`, most none.
pub fn messages(first: usize, n: usize) -> Vec<(Vec<u8>, &'static str)> {
    (first..first + n)
        .map(|i| {
            let size = match i % 50 {
                49 => 1_500_000,
                k => 600 + (k * 2_437) % 120_000,
            };
            let flags = match i % 7 {
                0 => "\\Seen",
                3 => "\\Flagged \\Answered",
                _ => "",
            };
            (corpus::message(i, size), flags)
        })
        .collect()
}
