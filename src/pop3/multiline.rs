//! The body of a multi-line POP3 response (RFC 1939 section 3), framed
//! without I/O: bytes in, the bytes to relay and the dot-unstuffed content
//! out, until the terminating `.` line.
//!
//! The relayed bytes are the server's bytes unchanged, except that the
//! terminating line is held back: [`Body::feed`] never emits it, and the
//! session writes [`Body::terminator`] itself once the archive commit is
//! durable. A `.` at the start of a line is held until the next byte tells
//! whether it ends the body or is a stuffed dot, so however the bytes are
//! split no part of the terminator reaches the client early.

/// Where in the body the framer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line.
    LineStart,
    /// A line started with `.` (held back).
    Dot,
    /// A line started with `.\r` (held back).
    DotCr,
    /// Inside a line.
    Mid,
    /// The terminating line was read.
    Done,
}

/// One multi-line body being framed.
#[derive(Debug, Clone)]
pub struct Body {
    /// Where the framer is.
    state: State,
    /// The terminating line as the server wrote it (`.\r\n`, or `.\n` from
    /// a lenient server), once read.
    terminator: &'static [u8],
}

impl Default for Body {
    fn default() -> Self {
        Body::new()
    }
}

impl Body {
    /// A body whose first byte is the start of a line (the status line
    /// was read).
    pub fn new() -> Body {
        Body {
            state: State::LineStart,
            terminator: b".\r\n",
        }
    }

    /// True once the terminating line was read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The terminating line, to write when the session lets it through.
    pub fn terminator(&self) -> &'static [u8] {
        self.terminator
    }

    /// Frames `input`: what to relay is appended to `relay`, the content
    /// with stuffed dots removed to `content`. Returns how many bytes of
    /// `input` belong to the body (the rest follow the terminating line).
    pub fn feed(&mut self, input: &[u8], relay: &mut Vec<u8>, content: &mut Vec<u8>) -> usize {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Done => break,
                State::Mid => match input[i..].iter().position(|&b| b == b'\n') {
                    Some(at) => {
                        let line = &input[i..i + at + 1];
                        relay.extend_from_slice(line);
                        content.extend_from_slice(line);
                        i += at + 1;
                        self.state = State::LineStart;
                    }
                    None => {
                        relay.extend_from_slice(&input[i..]);
                        content.extend_from_slice(&input[i..]);
                        i = input.len();
                    }
                },
                State::LineStart if input[i] == b'.' => {
                    self.state = State::Dot;
                    i += 1;
                }
                State::LineStart => self.state = State::Mid,
                State::Dot => match input[i] {
                    b'\r' => {
                        self.state = State::DotCr;
                        i += 1;
                    }
                    b'\n' => {
                        self.terminator = b".\n";
                        self.state = State::Done;
                        i += 1;
                    }
                    _ => {
                        // A stuffed dot: relayed, not part of the content.
                        relay.push(b'.');
                        self.state = State::Mid;
                    }
                },
                State::DotCr => {
                    if input[i] == b'\n' {
                        self.terminator = b".\r\n";
                        self.state = State::Done;
                        i += 1;
                    } else {
                        relay.extend_from_slice(b".\r");
                        content.push(b'\r');
                        self.state = State::Mid;
                    }
                }
            }
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames `wire` split into pieces of `step` bytes.
    fn frame(wire: &[u8], step: usize) -> (Vec<u8>, Vec<u8>, usize, bool) {
        let mut body = Body::new();
        let (mut relay, mut content, mut used) = (Vec::new(), Vec::new(), 0);
        for piece in wire.chunks(step) {
            let n = body.feed(piece, &mut relay, &mut content);
            used += n;
            if n < piece.len() || body.is_done() {
                break;
            }
        }
        (relay, content, used, body.is_done())
    }

    #[test]
    fn unstuffs_content_and_relays_all_but_the_terminator_at_any_split() {
        let wire = b"From: a\r\n\r\n..dot line\r\n..\r\n...\r\nlast\r\n.\r\nNEXT";
        let body_len = wire.len() - 4;
        for step in 1..=wire.len() {
            let (relay, content, used, done) = frame(wire, step);
            assert!(done, "step {step}");
            assert_eq!(used, body_len, "step {step}");
            assert_eq!(relay, &wire[..body_len - 3], "step {step}");
            assert_eq!(
                content, b"From: a\r\n\r\n.dot line\r\n.\r\n..\r\nlast\r\n",
                "step {step}"
            );
        }
    }

    #[test]
    fn eight_bit_and_long_lines_pass_unchanged() {
        let mut wire = b"Subject: \xe4\xf6\xfc\r\n\r\n".to_vec();
        wire.extend(vec![b'x'; 100_000]);
        wire.extend(b"\r\n.\r\n");
        let (relay, content, _, done) = frame(&wire, 4096);
        assert!(done);
        assert_eq!(relay, &wire[..wire.len() - 3]);
        assert_eq!(content, &wire[..wire.len() - 3]);
    }

    #[test]
    fn an_empty_body_and_a_bare_lf_terminator() {
        let (relay, content, used, done) = frame(b".\r\n", 1);
        assert!(done && relay.is_empty() && content.is_empty() && used == 3);
        let mut body = Body::new();
        let (mut r, mut c) = (Vec::new(), Vec::new());
        assert_eq!(body.feed(b"a\n.\n", &mut r, &mut c), 4);
        assert_eq!(body.terminator(), b".\n");
        assert_eq!((r.as_slice(), c.as_slice()), (&b"a\n"[..], &b"a\n"[..]));
    }

    #[test]
    fn dot_cr_without_lf_is_content() {
        let (relay, content, _, done) = frame(b".\rx\r\n.\r\n", 1);
        assert!(done);
        assert_eq!(relay, b".\rx\r\n");
        assert_eq!(content, b"\rx\r\n");
    }

    #[test]
    fn an_unterminated_body_is_not_done() {
        let (relay, _, _, done) = frame(b"line\r\n.", 3);
        assert!(!done);
        assert_eq!(relay, b"line\r\n", "the held dot is not relayed");
    }
}
