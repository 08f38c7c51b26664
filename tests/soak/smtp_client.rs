//! A blocking SMTP client for the soak test that never panics: every
//! failure becomes an [`Attempt`] so the client can count it and go on.
//! Used for both the SMTP proxy and the journal listener.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use mailseal::smtp::data::stuff;
use mailseal::smtp::reply::{Reply, ReplyParser};

use super::client::{Job, Session};
use super::ledger::Attempt;

/// Longest wait for one reply. Generous: the machine is loaded and the
/// final reply waits for an fsync.
const REPLY_WAIT: Duration = Duration::from_secs(120);

/// One SMTP connection.
pub struct Smtp {
    /// The connection.
    stream: TcpStream,
    /// Bytes read but not parsed yet.
    buf: Vec<u8>,
    /// Splits the bytes into replies.
    parser: ReplyParser,
}

impl Smtp {
    fn reply(&mut self) -> Result<Reply, String> {
        loop {
            match self.parser.next_reply(&mut self.buf) {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(e) => return Err(format!("bad reply: {e}")),
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err("connection closed".into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// Sends `line` and reads the reply, which must have class `class`
    /// (2 or 3); another reply is a refusal.
    fn step(&mut self, line: &str, class: u16) -> Result<(), Attempt> {
        let sent = self.stream.write_all(format!("{line}\r\n").as_bytes());
        sent.map_err(|e| Attempt::Failed(e.to_string()))?;
        self.expect(class)
    }

    fn expect(&mut self, class: u16) -> Result<(), Attempt> {
        let reply = self.reply().map_err(Attempt::Failed)?;
        match reply.code() / 100 == class {
            true => Ok(()),
            false => Err(Attempt::Refused(reply.text())),
        }
    }

    fn transaction(&mut self, content: &[u8]) -> Result<(), Attempt> {
        self.step("MAIL FROM:<soak@example.com>", 2)?;
        self.step("RCPT TO:<rcpt@example.org>", 2)?;
        self.step("DATA", 3)?;
        let sent = self.stream.write_all(&stuff(content));
        sent.map_err(|e| Attempt::Failed(e.to_string()))?;
        self.expect(2)
    }
}

impl Session for Smtp {
    fn open(job: &Job<'_>) -> Result<Smtp, String> {
        let stream = TcpStream::connect_timeout(&job.addr, Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(REPLY_WAIT)).ok();
        stream.set_write_timeout(Some(REPLY_WAIT)).ok();
        let mut smtp = Smtp {
            stream,
            buf: Vec::new(),
            parser: ReplyParser::new(),
        };
        smtp.expect(2).map_err(|e| format!("greeting: {e:?}"))?;
        smtp.step("EHLO soak.test", 2)
            .map_err(|e| format!("EHLO: {e:?}"))?;
        Ok(smtp)
    }

    fn send(&mut self, content: &[u8]) -> Attempt {
        match self.transaction(content) {
            Ok(()) => Attempt::Acked,
            Err(a) => a,
        }
    }

    fn close(mut self) {
        let _ = self.step("QUIT", 2);
    }
}
