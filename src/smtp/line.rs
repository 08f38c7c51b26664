//! Command lines from an SMTP client: framing without I/O.
//!
//! A line ends at LF. `CRLF` is the standard ending; a bare `LF` is accepted
//! as a line end too (as Postfix's `smtpd_forbid_bare_newline = normalize`
//! does), because the line is handed on without its ending and a relay
//! re-terminates it with `CRLF`: client and upstream then see the same line
//! boundaries, which is what matters against command smuggling. A `CR`
//! anywhere else in the line and any `NUL` make the line invalid, since a
//! lenient server might read them as line ends or string ends.
//!
//! Lines longer than the limit are never held whole: once the buffer holds
//! `max` bytes without a line end, the framer drops what it has and keeps
//! dropping until the next `LF`, then reports [`LineError::TooLong`].

use memchr::memchr;

/// Default longest command line, ending included. RFC 5321 allows 512;
/// extensions (DSN, SMTPUTF8, AUTH initial responses) need more.
pub const DEFAULT_MAX_LINE: usize = 4096;

/// Why a line was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The line was longer than the limit; its bytes were discarded.
    #[error("line too long")]
    TooLong,
    /// The line contained a NUL byte.
    #[error("NUL byte in command line")]
    Nul,
    /// The line contained a CR that was not part of its CRLF ending.
    #[error("bare CR in command line")]
    BareCr,
}

/// Splits a client's byte stream into command lines.
#[derive(Debug)]
pub struct LineFramer {
    /// Longest line accepted, ending included.
    max: usize,
    /// True while the bytes of an overlong line are being dropped.
    discarding: bool,
}

impl LineFramer {
    /// A framer accepting lines of up to `max` bytes including the ending.
    pub fn new(max: usize) -> LineFramer {
        LineFramer {
            max: max.max(3),
            discarding: false,
        }
    }

    /// Takes the next line off the front of `buf`, without its ending.
    /// `None` means more bytes are needed; an overlong partial line is then
    /// dropped from `buf` so memory stays bounded.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> Option<Result<Vec<u8>, LineError>> {
        let Some(lf) = memchr(b'\n', buf) else {
            if self.discarding || buf.len() >= self.max {
                self.discarding = true;
                buf.clear();
            }
            return None;
        };
        let mut line: Vec<u8> = buf.drain(..=lf).collect();
        if std::mem::take(&mut self.discarding) || line.len() > self.max {
            return Some(Err(LineError::TooLong));
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if memchr(0, &line).is_some() {
            return Some(Err(LineError::Nul));
        }
        if memchr(b'\r', &line).is_some() {
            return Some(Err(LineError::BareCr));
        }
        Some(Ok(line))
    }

    /// True while an overlong line is being dropped.
    pub fn is_discarding(&self) -> bool {
        self.discarding
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Lines = Vec<Result<Vec<u8>, LineError>>;

    /// Feeds `input` in pieces of `step` bytes; returns lines and the largest
    /// buffer seen.
    fn frame(input: &[u8], max: usize, step: usize) -> (Lines, usize) {
        let mut framer = LineFramer::new(max);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        let mut peak = 0;
        for chunk in input.chunks(step.max(1)) {
            buf.extend_from_slice(chunk);
            peak = peak.max(buf.len());
            while let Some(line) = framer.next_line(&mut buf) {
                out.push(line);
            }
        }
        (out, peak)
    }

    #[test]
    fn lines_at_every_split() {
        let input = b"EHLO a\r\nMAIL FROM:<>\nRCPT TO:<b@c>\r\n\r\nQUIT\r\n";
        let expected: Lines = vec![
            Ok(b"EHLO a".to_vec()),
            Ok(b"MAIL FROM:<>".to_vec()),
            Ok(b"RCPT TO:<b@c>".to_vec()),
            Ok(Vec::new()),
            Ok(b"QUIT".to_vec()),
        ];
        for step in 1..=input.len() {
            assert_eq!(frame(input, 64, step).0, expected, "step {step}");
        }
    }

    #[test]
    fn nul_and_bare_cr_are_rejected() {
        let (lines, _) = frame(b"NOOP a\0b\r\nNOOP a\rb\r\nNOOP\r\r\nNOOP\r\n", 64, 3);
        assert_eq!(
            lines,
            vec![
                Err(LineError::Nul),
                Err(LineError::BareCr),
                Err(LineError::BareCr),
                Ok(b"NOOP".to_vec())
            ]
        );
    }

    #[test]
    fn exact_limit_is_accepted_one_more_is_not() {
        let ok = [vec![b'a'; 8], b"\r\n".to_vec()].concat();
        let long = [vec![b'a'; 9], b"\r\n".to_vec()].concat();
        for step in 1..12 {
            assert_eq!(frame(&ok, 10, step).0, vec![Ok(vec![b'a'; 8])]);
            assert_eq!(frame(&long, 10, step).0, vec![Err(LineError::TooLong)]);
        }
    }

    #[test]
    fn a_megabyte_line_is_never_buffered() {
        let mut input = b"MAIL FROM:<".to_vec();
        input.extend(std::iter::repeat_n(b'x', 1 << 20));
        input.extend_from_slice(b">\r\nNOOP\r\n");
        let (lines, peak) = frame(&input, 512, 4096);
        assert_eq!(lines, vec![Err(LineError::TooLong), Ok(b"NOOP".to_vec())]);
        assert!(peak < 512 + 4096, "buffer grew to {peak}");
    }
}
