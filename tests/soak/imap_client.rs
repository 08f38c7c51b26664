//! A blocking IMAP client for the soak test that only logs in and
//! APPENDs, and never panics: every failure becomes an [`Attempt`].

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use super::client::{Job, Session};
use super::ledger::Attempt;
use crate::support::dovecot::{PASSWORD, USER};

/// Longest wait for one response line.
const LINE_WAIT: Duration = Duration::from_secs(120);

/// One IMAP connection, logged in.
pub struct Imap {
    /// The connection, buffered for line reads.
    conn: BufReader<TcpStream>,
    /// Numbers the tags.
    tags: u64,
}

impl Imap {
    fn line(&mut self) -> Result<String, String> {
        let mut buf = Vec::new();
        match self.conn.read_until(b'\n', &mut buf) {
            Ok(0) => Err("connection closed".into()),
            Ok(_) => Ok(String::from_utf8_lossy(&buf).into_owned()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Attempt> {
        let sent = self.conn.get_mut().write_all(bytes);
        sent.map_err(|e| Attempt::Failed(e.to_string()))
    }

    /// Reads through the tagged response of `tag`; `OK` is fine, anything
    /// else a refusal.
    fn tagged(&mut self, tag: &str, first: Option<String>) -> Result<(), Attempt> {
        let mut line = first;
        loop {
            let l = match line.take() {
                Some(l) => l,
                None => self.line().map_err(Attempt::Failed)?,
            };
            if let Some(rest) = l.strip_prefix(&format!("{tag} ")) {
                return match rest.starts_with("OK") {
                    true => Ok(()),
                    false => Err(Attempt::Refused(l.trim_end().to_owned())),
                };
            }
        }
    }

    fn tag(&mut self) -> String {
        self.tags += 1;
        format!("s{}", self.tags)
    }

    fn append(&mut self, content: &[u8]) -> Result<(), Attempt> {
        let tag = self.tag();
        self.write(format!("{tag} APPEND INBOX {{{}}}\r\n", content.len()).as_bytes())?;
        let answer = self.line().map_err(Attempt::Failed)?;
        if !answer.starts_with('+') {
            return self.tagged(&tag, Some(answer));
        }
        self.write(content)?;
        self.write(b"\r\n")?;
        self.tagged(&tag, None)
    }
}

impl Session for Imap {
    fn open(job: &Job<'_>) -> Result<Imap, String> {
        let stream = TcpStream::connect_timeout(&job.addr, Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(LINE_WAIT)).ok();
        stream.set_write_timeout(Some(LINE_WAIT)).ok();
        let mut imap = Imap {
            conn: BufReader::new(stream),
            tags: 0,
        };
        let greeting = imap.line()?;
        if !greeting.starts_with("* OK") {
            return Err(format!("greeting: {greeting}"));
        }
        let tag = imap.tag();
        imap.write(format!("{tag} LOGIN {USER} {PASSWORD}\r\n").as_bytes())
            .and_then(|()| imap.tagged(&tag, None))
            .map_err(|e| format!("LOGIN: {e:?}"))?;
        Ok(imap)
    }

    fn send(&mut self, content: &[u8]) -> Attempt {
        match self.append(content) {
            Ok(()) => Attempt::Acked,
            Err(a) => a,
        }
    }

    fn close(mut self) {
        let tag = self.tag();
        let _ = self
            .write(format!("{tag} LOGOUT\r\n").as_bytes())
            .and_then(|()| self.tagged(&tag, None));
    }
}
