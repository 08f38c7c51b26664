//! SMTP client input before DATA: the command-line framer
//! (`smtp::line`), the command parser (`smtp::command`, `smtp::envelope`)
//! and SASL PLAIN/LOGIN responses (`smtp::auth`).
//!
//! Settings: byte 0 picks the line limit, byte 1 how the rest is cut into
//! pieces. Checked besides "no panic":
//! - framing is the same whole and in pieces, and the framer's buffer never
//!   holds a full limit's worth without a line end (memory stays bounded);
//! - every line handed on fits the limit and carries no NUL and no CR;
//! - a parsed path obeys the documented limits (length, no control
//!   characters), a parsed EHLO/HELO domain is one token;
//! - every refusal maps to a well-formed 5xx reply that parses back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailseal::smtp::auth::{self, SaslServer, SaslStep};
use mailseal::smtp::command::{Command, CommandError};
use mailseal::smtp::envelope::MAX_PATH;
use mailseal::smtp::line::{LineError, LineFramer};
use mailseal::smtp::reply::{Reply, ReplyParser};
use mailseal_fuzz::{pieces, settings};

type Lines = Vec<Result<Vec<u8>, LineError>>;

fuzz_target!(|data: &[u8]| {
    let ([limit, seed], input) = settings::<2>(data);
    let max = usize::from(limit) * 4 + 3;
    let whole = frame(&[input], max);
    assert_eq!(
        whole,
        frame(&pieces(input, seed), max),
        "framing depends on read sizes"
    );
    for line in &whole {
        match line {
            Ok(line) => {
                assert!(
                    line.len() < max,
                    "line of {} bytes passed a limit of {max}",
                    line.len()
                );
                assert!(
                    !line.contains(&0) && !line.contains(&b'\r'),
                    "NUL or CR passed the framer"
                );
                command(line);
                sasl(line);
            }
            Err(e) => refusal(&CommandError::from(*e).reply()),
        }
    }
});

/// Frames `chunks` in order, checking the buffer bound after each step.
fn frame(chunks: &[&[u8]], max: usize) -> Lines {
    let mut framer = LineFramer::new(max);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(line) = framer.next_line(&mut buf) {
            out.push(line);
        }
        assert!(
            buf.len() < max,
            "framer holds {} bytes with a limit of {max}",
            buf.len()
        );
    }
    out
}

fn command(line: &[u8]) {
    match Command::parse(line) {
        Ok(cmd) => {
            let _ = cmd.verb();
            match cmd {
                Command::Mail(m) => address(&m.address),
                Command::Rcpt(r) => {
                    assert!(!r.address.is_empty(), "empty RCPT path accepted");
                    address(&r.address);
                }
                Command::Ehlo(d) | Command::Helo(d) => {
                    assert!(
                        !d.is_empty() && d.len() <= 255 && !d.contains(' '),
                        "domain {d:?}"
                    );
                }
                _ => {}
            }
        }
        Err(e) => refusal(&e.reply()),
    }
}

fn address(a: &str) {
    assert!(a.len() <= MAX_PATH, "path of {} bytes accepted", a.len());
    assert!(
        !a.chars().any(char::is_control),
        "control character in path {a:?}"
    );
}

/// A refusal is one 5xx line that an SMTP client can read back.
fn refusal(reply: &Reply) {
    assert!(reply.is_permanent(), "refusal {reply}");
    let mut wire = reply.to_wire();
    let parsed = ReplyParser::new().next_reply(&mut wire);
    assert_eq!(parsed.as_ref().ok().and_then(Option::as_ref), Some(reply));
    assert!(wire.is_empty());
}

/// The line as a SASL response (during AUTH every line is one).
fn sasl(line: &[u8]) {
    let Ok(text) = std::str::from_utf8(line) else {
        return;
    };
    let _ = auth::decode_text(text);
    if let Ok(c) = auth::decode_plain(text) {
        assert!(!c.user.is_empty());
        // The Debug form is what could reach a log: it must hide the password.
        assert!(format!("{c:?}").contains("<hidden>"));
    }
    for mechanism in ["PLAIN", "LOGIN"] {
        let mut step = SaslServer::start(mechanism, Some(text));
        // LOGIN takes two more lines; feed this one again.
        for _ in 0..2 {
            match step {
                Ok((server, SaslStep::Challenge(reply))) => {
                    assert_eq!(reply.code(), 334);
                    step = server.next(text);
                }
                Ok((_, SaslStep::Done(_))) => break,
                Err(e) => {
                    let code = e.reply().code();
                    assert!((500..600).contains(&code));
                    break;
                }
            }
        }
    }
}
