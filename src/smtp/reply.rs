//! SMTP replies: the value type, its wire form, and an incremental parser
//! for replies read from an upstream server.
//!
//! A [`Reply`] keeps each line's text as bytes, exactly as received, so a
//! relayed multi-line reply (with its enhanced status code) reaches the
//! client intact even when a server puts 8-bit text into it. Replies that
//! mailseal makes itself are built with [`Reply::new`] and always carry an
//! enhanced status code.

use memchr::memchr;

/// Longest reply line accepted from an upstream (RFC 5321 says 512; real
/// servers send longer EHLO lines, so leave room).
pub const MAX_REPLY_LINE: usize = 4096;

/// Most lines one upstream reply may have.
pub const MAX_REPLY_LINES: usize = 256;

/// One SMTP reply: a code and one or more text lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code, the same on every line.
    code: u16,
    /// The text of each line after the code and its separator, without CRLF.
    lines: Vec<Vec<u8>>,
    /// The last line had a space after its code. Only an empty last line
    /// can lack it (`250\r\n` against smtp-sink's `250 \r\n`); kept so a
    /// relayed reply is byte-identical.
    spaced: bool,
}

impl Reply {
    /// A single-line reply; `text` should start with the enhanced status
    /// code (`Reply::new(250, "2.0.0 Ok")`).
    pub fn new(code: u16, text: impl Into<String>) -> Reply {
        Reply {
            code,
            lines: vec![text.into().into_bytes()],
            spaced: true,
        }
    }

    /// The reply when the archive cannot take a message, so nothing is
    /// acknowledged and the sender retries: `452 4.3.1` when its disk is
    /// full (RFC 5321's "insufficient system storage", RFC 3463's "mail
    /// system full"), else `451 4.3.0`.
    pub fn archive_unavailable(disk_full: bool) -> Reply {
        if disk_full {
            Reply::new(
                452,
                "4.3.1 archive storage full, message not accepted; try again later",
            )
        } else {
            Reply::new(
                451,
                "4.3.0 archive temporarily unavailable, try again later",
            )
        }
    }

    /// A reply of several lines (EHLO). An empty list gives one empty line.
    pub fn multiline(code: u16, lines: Vec<Vec<u8>>) -> Reply {
        let lines = if lines.is_empty() {
            vec![Vec::new()]
        } else {
            lines
        };
        Reply {
            code,
            lines,
            spaced: true,
        }
    }

    /// The reply code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The text lines, without code and separator.
    pub fn lines(&self) -> &[Vec<u8>] {
        &self.lines
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx: the server waits for more (354 after DATA, 334 during AUTH).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 4xx.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The enhanced status code (RFC 3463) at the start of the first line.
    pub fn enhanced(&self) -> Option<(u8, u16, u16)> {
        let first = self.lines.first()?;
        let token = first.split(|&b| b == b' ').next()?;
        let text = std::str::from_utf8(token).ok()?;
        let mut parts = text.split('.');
        let class: u8 = parts.next()?.parse().ok()?;
        let subject: u16 = parts.next()?.parse().ok()?;
        let detail: u16 = parts.next()?.parse().ok()?;
        let valid = parts.next().is_none() && matches!(class, 2 | 4 | 5);
        valid.then_some((class, subject, detail))
    }

    /// Appends the wire form (`250-a\r\n250 b\r\n`) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            out.extend_from_slice(self.code.to_string().as_bytes());
            if i == last {
                if self.spaced || !line.is_empty() {
                    out.push(b' ');
                }
            } else {
                out.push(b'-');
            }
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The wire form.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    /// The reply as one line of text for records and logs
    /// (`250 2.0.0 Ok`; lines of a multi-line reply joined by ` / `).
    pub fn text(&self) -> String {
        let lines: Vec<String> = self
            .lines
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        format!("{} {}", self.code, lines.join(" / "))
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

/// Why an upstream reply could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// A line, or the number of lines, exceeded the limits.
    #[error("upstream reply too long")]
    TooLong,
    /// A line did not start with a valid three-digit code and separator.
    #[error("malformed upstream reply line")]
    Malformed,
    /// The lines of a multi-line reply carried different codes.
    #[error("upstream reply lines carry different codes")]
    MixedCodes,
}

/// Reads replies off a byte buffer as they arrive.
#[derive(Debug, Default)]
pub struct ReplyParser {
    /// Lines of the reply being assembled (all continuation lines so far).
    lines: Vec<Vec<u8>>,
    /// The code of the reply being assembled.
    code: Option<u16>,
}

impl ReplyParser {
    /// A parser with no partial reply.
    pub fn new() -> ReplyParser {
        ReplyParser::default()
    }

    /// Takes complete lines off the front of `buf` and returns a reply once
    /// its last line (`250 ...`) arrived; `Ok(None)` means more bytes are
    /// needed. A bare LF is accepted as a line end here: this is the client
    /// side, where leniency towards the server cannot split a message.
    pub fn next_reply(&mut self, buf: &mut Vec<u8>) -> Result<Option<Reply>, ReplyError> {
        loop {
            let Some(lf) = memchr(b'\n', buf) else {
                if buf.len() > MAX_REPLY_LINE {
                    return Err(ReplyError::TooLong);
                }
                return Ok(None);
            };
            if lf + 1 > MAX_REPLY_LINE {
                return Err(ReplyError::TooLong);
            }
            let mut line: Vec<u8> = buf.drain(..=lf).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let (code, last, text) = split_reply_line(&line)?;
            let spaced = line.get(3) == Some(&b' ');
            if self.code.is_some_and(|c| c != code) {
                return Err(ReplyError::MixedCodes);
            }
            self.code = Some(code);
            self.lines.push(text.to_vec());
            if last {
                self.code = None;
                return Ok(Some(Reply {
                    code,
                    lines: std::mem::take(&mut self.lines),
                    spaced,
                }));
            }
            if self.lines.len() >= MAX_REPLY_LINES {
                return Err(ReplyError::TooLong);
            }
        }
    }
}

/// Splits `250-text` into (250, false, "text").
fn split_reply_line(line: &[u8]) -> Result<(u16, bool, &[u8]), ReplyError> {
    let digits = line.get(..3).ok_or(ReplyError::Malformed)?;
    let valid = matches!(digits[0], b'2'..=b'5')
        && matches!(digits[1], b'0'..=b'5')
        && digits[2].is_ascii_digit();
    if !valid {
        return Err(ReplyError::Malformed);
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    match line.get(3) {
        None => Ok((code, true, &[])),
        Some(b' ') => Ok((code, true, &line[4..])),
        Some(b'-') => Ok((code, false, &line[4..])),
        Some(_) => Err(ReplyError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8], split: usize) -> Result<Vec<Reply>, ReplyError> {
        let mut parser = ReplyParser::new();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for chunk in [&input[..split], &input[split..]] {
            buf.extend_from_slice(chunk);
            while let Some(r) = parser.next_reply(&mut buf)? {
                out.push(r);
            }
        }
        assert!(buf.is_empty(), "leftover {buf:?}");
        Ok(out)
    }

    #[test]
    fn multiline_reply_round_trips_at_every_split() {
        let wire =
            b"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n354 go\r\n";
        for split in 0..=wire.len() {
            let replies = parse_all(wire, split).unwrap();
            assert_eq!(replies.len(), 2);
            assert_eq!(replies[0].code(), 250);
            assert_eq!(replies[0].lines().len(), 4);
            assert_eq!(replies[1].code(), 354);
            let mut again = replies[0].to_wire();
            replies[1].write_to(&mut again);
            assert_eq!(again, wire);
        }
    }

    #[test]
    fn enhanced_codes_and_classes() {
        let r = Reply::new(550, "5.1.1 <x@y>: Recipient address rejected");
        assert_eq!(r.enhanced(), Some((5, 1, 1)));
        assert!(r.is_permanent() && !r.is_transient());
        assert_eq!(
            r.to_wire(),
            b"550 5.1.1 <x@y>: Recipient address rejected\r\n"
        );
        assert_eq!(Reply::new(250, "Ok").enhanced(), None);
        assert_eq!(Reply::new(250, "1.2.3 x").enhanced(), None);
        assert_eq!(Reply::multiline(220, vec![]).to_wire(), b"220 \r\n");
        // RFC 4954: an empty challenge is `334 ` with its space.
        assert_eq!(Reply::new(334, "").to_wire(), b"334 \r\n");
    }

    #[test]
    fn bare_code_line_and_bare_lf_are_accepted() {
        let replies = parse_all(b"250\n221 bye\r\n", 2).unwrap();
        assert_eq!(replies[0].lines(), &[Vec::<u8>::new()]);
        assert_eq!(replies[0].to_wire(), b"250\r\n");
        let spaced = parse_all(b"250-a\r\n250 \r\n", 0).unwrap();
        assert_eq!(spaced[0].to_wire(), b"250-a\r\n250 \r\n");
        assert_eq!(replies[1].text(), "221 bye");
    }

    #[test]
    fn bad_replies_are_errors() {
        assert_eq!(parse_all(b"25x ok\r\n", 0), Err(ReplyError::Malformed));
        assert_eq!(parse_all(b"250_ok\r\n", 0), Err(ReplyError::Malformed));
        assert_eq!(parse_all(b"hello\r\n", 0), Err(ReplyError::Malformed));
        assert_eq!(parse_all(b"699 x\r\n", 0), Err(ReplyError::Malformed));
        assert_eq!(
            parse_all(b"250-a\r\n251 b\r\n", 0),
            Err(ReplyError::MixedCodes)
        );
        let long = [b"250 ".as_slice(), &[b'a'; MAX_REPLY_LINE]].concat();
        assert_eq!(parse_all(&long, 10), Err(ReplyError::TooLong));
        let many = b"250-a\r\n".repeat(MAX_REPLY_LINES + 1);
        assert_eq!(parse_all(&many, 0), Err(ReplyError::TooLong));
    }
}
