//! The server's POP3 status lines and the listings the proxy reads from
//! them, without I/O: `+OK`, `-ERR`, a SASL continuation `+ `, and the
//! `msg uid` lines of `UIDL`.

/// What a server's status line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `+OK`.
    Ok,
    /// `-ERR`.
    Err,
    /// `+ ` (or a bare `+`): a SASL challenge; the client answers with a
    /// line.
    Continue,
    /// Anything else: the server broke the protocol.
    Invalid,
}

impl Status {
    /// Reads the start of a status line.
    pub fn parse(line: &[u8]) -> Status {
        let upper = |n: usize| line.get(..n).map(|s| s.to_ascii_uppercase());
        let word_ends = |n: usize| matches!(line.get(n), None | Some(b' ' | b'\r' | b'\n'));
        if upper(3).as_deref() == Some(b"+OK") && word_ends(3) {
            Status::Ok
        } else if upper(4).as_deref() == Some(b"-ERR") && word_ends(4) {
            Status::Err
        } else if line.first() == Some(&b'+') && word_ends(1) {
            Status::Continue
        } else {
            Status::Invalid
        }
    }
}

/// Reads `msg uid` (a `UIDL` listing line, or the rest of a single `+OK`
/// after the status word). RFC 1939: the uid is 1 to 70 characters
/// 0x21-0x7E.
pub fn uidl_entry(text: &[u8]) -> Option<(u32, String)> {
    let text = std::str::from_utf8(text).ok()?;
    let mut words = text.trim_end_matches(['\r', '\n']).split(' ');
    let msg = words.next()?.parse::<u32>().ok()?;
    let uid = words.next()?;
    let valid = (1..=70).contains(&uid.len()) && uid.bytes().all(|b| (0x21..=0x7e).contains(&b));
    valid.then(|| (msg, uid.to_owned()))
}

/// The `msg uid` of a single-line `+OK msg uid` answer to `UIDL msg`.
pub fn uidl_reply(line: &[u8]) -> Option<(u32, String)> {
    let rest = line.get(3..)?.strip_prefix(b" ")?;
    uidl_entry(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_must_stand_alone() {
        assert_eq!(Status::parse(b"+OK Dovecot ready.\r\n"), Status::Ok);
        assert_eq!(Status::parse(b"+ok\r\n"), Status::Ok);
        assert_eq!(Status::parse(b"-ERR [AUTH] nope\r\n"), Status::Err);
        assert_eq!(Status::parse(b"+ \r\n"), Status::Continue);
        assert_eq!(Status::parse(b"+\r\n"), Status::Continue);
        assert_eq!(Status::parse(b"+OKAY\r\n"), Status::Invalid);
        assert_eq!(Status::parse(b"* OK imap\r\n"), Status::Invalid);
        assert_eq!(Status::parse(b""), Status::Invalid);
    }

    #[test]
    fn uidl_lines() {
        assert_eq!(
            uidl_entry(b"1 whqtswO00WBw418f9t5JxYwZ\r\n"),
            Some((1, "whqtswO00WBw418f9t5JxYwZ".into()))
        );
        assert_eq!(
            uidl_reply(b"+OK 2 QhdPYR:00WBw1Ph7x7\r\n"),
            Some((2, "QhdPYR:00WBw1Ph7x7".into()))
        );
        assert_eq!(
            uidl_entry(b"1 has space\r\n").map(|e| e.1),
            Some("has".into())
        );
        assert_eq!(uidl_entry(b"x abc\r\n"), None);
        assert_eq!(uidl_entry(b"1 \r\n"), None);
        assert_eq!(uidl_entry(&[b'1', b' ', 0x7f]), None);
        let long = format!("1 {}", "a".repeat(71));
        assert_eq!(uidl_entry(long.as_bytes()), None);
        assert_eq!(uidl_reply(b"+OK\r\n"), None);
    }
}
