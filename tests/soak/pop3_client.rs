//! A blocking POP3 client for the soak test that never panics: every
//! failure becomes an [`Attempt`]. Each client has a maildrop of its own
//! (user `pop<lane>`); to "send" a message it delivers the message into
//! that maildrop as a file, logs in through the proxy, downloads
//! everything there with `RETR`, deletes it and quits. A message counts as
//! acknowledged when the client got its terminating `.` with the bytes
//! intact: the proxy promises the archive held it by then.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::client::{Job, Session};
use super::ledger::Attempt;
use super::message::sha256;
use crate::support::dovecot::PASSWORD;

/// Longest wait for one line.
const LINE_WAIT: Duration = Duration::from_secs(120);

/// The POP3 user of a soak client (its maildrop is its own).
pub fn user(lane: usize) -> String {
    format!("pop{lane}")
}

/// One POP3 client: its maildrop and, between messages, a connection
/// that has read the greeting.
pub struct Pop3 {
    /// The proxy.
    addr: SocketAddr,
    /// The user.
    user: String,
    /// The user's Maildir, where messages are delivered.
    maildir: PathBuf,
    /// A connection past the greeting, not logged in yet.
    conn: Option<BufReader<TcpStream>>,
}

/// Connects and reads a `+OK` greeting.
fn connect(addr: SocketAddr) -> Result<BufReader<TcpStream>, String> {
    let stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(LINE_WAIT)).ok();
    stream.set_write_timeout(Some(LINE_WAIT)).ok();
    let mut conn = BufReader::new(stream);
    let greeting = line(&mut conn).map_err(|e| format!("greeting: {e}"))?;
    if !greeting.starts_with(b"+OK") {
        return Err(format!("greeting: {}", String::from_utf8_lossy(&greeting)));
    }
    Ok(conn)
}

fn line(conn: &mut BufReader<TcpStream>) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    match conn.read_until(b'\n', &mut buf) {
        Ok(0) => Err("connection closed".into()),
        Ok(_) if !buf.ends_with(b"\n") => Err("connection closed mid-line".into()),
        Ok(_) => Ok(buf),
        Err(e) => Err(e.to_string()),
    }
}

/// Sends a command and reads its status line; `-ERR` is a refusal.
fn cmd(conn: &mut BufReader<TcpStream>, command: &str) -> Result<String, Attempt> {
    let sent = conn
        .get_mut()
        .write_all(format!("{command}\r\n").as_bytes());
    sent.map_err(|e| Attempt::Failed(e.to_string()))?;
    let status = line(conn).map_err(Attempt::Failed)?;
    let status = String::from_utf8_lossy(&status).trim_end().to_owned();
    match status.starts_with("+OK") {
        true => Ok(status),
        false => Err(Attempt::Refused(status)),
    }
}

/// Reads a multi-line body through its terminating `.`, dot-unstuffed.
fn body(conn: &mut BufReader<TcpStream>) -> Result<Vec<u8>, Attempt> {
    let mut content = Vec::new();
    loop {
        let l = line(conn).map_err(|e| Attempt::Failed(format!("mid-RETR: {e}")))?;
        if l == b".\r\n" {
            return Ok(content);
        }
        content.extend_from_slice(l.strip_prefix(b".").unwrap_or(&l));
    }
}

impl Pop3 {
    /// Puts `content` into the maildrop unless an earlier attempt did
    /// (tmp/ then new/, so Dovecot never sees half a file).
    fn deliver(&self, content: &[u8]) -> Result<(), Attempt> {
        let name = sha256(content);
        let present = ["new", "cur"].iter().any(|sub| {
            std::fs::read_dir(self.maildir.join(sub)).is_ok_and(|mut entries| {
                entries.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with(&name)))
            })
        });
        if present {
            return Ok(());
        }
        let failed = |e: std::io::Error| Attempt::Failed(format!("deliver: {e}"));
        let tmp = self.maildir.join("tmp").join(&name);
        std::fs::write(&tmp, content).map_err(failed)?;
        set_readable(&tmp).map_err(failed)?;
        std::fs::rename(&tmp, self.maildir.join("new").join(&name)).map_err(failed)
    }

    /// Logs in, downloads every message, deletes them and quits; true
    /// when `content` was among the downloads, intact.
    fn fetch(&mut self, content: &[u8]) -> Result<bool, Attempt> {
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => connect(self.addr).map_err(Attempt::Failed)?,
        };
        cmd(&mut conn, &format!("USER {}", self.user))?;
        cmd(&mut conn, &format!("PASS {PASSWORD}"))?;
        let stat = cmd(&mut conn, "STAT")?;
        let count: usize = (stat.split(' ').nth(1))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| Attempt::Refused(stat.clone()))?;
        let mut got = false;
        for n in 1..=count {
            cmd(&mut conn, &format!("RETR {n}"))?;
            got |= body(&mut conn)? == content;
        }
        // The download is complete: what follows only tidies the maildrop
        // (a failure leaves the messages for the next login).
        let tidied = (1..=count).try_for_each(|n| cmd(&mut conn, &format!("DELE {n}")).map(drop));
        if tidied.is_ok() {
            let _ = cmd(&mut conn, "QUIT");
        }
        Ok(got)
    }
}

impl Session for Pop3 {
    fn open(job: &Job<'_>) -> Result<Pop3, String> {
        let user = user(job.lane);
        Ok(Pop3 {
            addr: job.addr,
            maildir: job.dovecot.inbox_of(&user),
            user,
            conn: Some(connect(job.addr)?),
        })
    }

    fn send(&mut self, content: &[u8]) -> Attempt {
        if let Err(failed) = self.deliver(content) {
            return failed;
        }
        match self.fetch(content) {
            Ok(true) => Attempt::Acked,
            Ok(false) => Attempt::Failed("not in the maildrop".into()),
            Err(attempt) => attempt,
        }
    }

    fn close(self) {
        if let Some(mut conn) = self.conn {
            let _ = cmd(&mut conn, "QUIT");
        }
    }
}

/// Dovecot runs as nobody; the file is the test's.
fn set_readable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
}
