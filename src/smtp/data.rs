//! The DATA phase without I/O: wire bytes in, message content and bytes to
//! forward out, and the end of data found exactly.
//!
//! * **End of data** is exactly `CRLF . CRLF` (or `. CRLF` right at the start
//!   of DATA). The CRLF before the dot belongs to the message's last line.
//! * **Content** is dot-unstuffed as RFC 5321 4.5.2 says: a `.` starting a
//!   line (after CRLF) is removed. Bare LF, bare CR elsewhere, 8-bit bytes
//!   and long lines pass untouched.
//! * **Wire** bytes are what a relay forwards upstream: the input verbatim,
//!   without the final `. CRLF` (the relay sends that only once the archive
//!   commit is durable).
//! * **SMTP smuggling**: a `.` right after a bare LF or a bare CR, or a
//!   line-start `.` followed by a bare LF or bare CR, is a place where a
//!   lenient server (Postfix, Exchange, older Sendmail) may see the end of
//!   data and read what follows as a new transaction. The decoder stops
//!   *before* such a dot is emitted, reports [`Step::Smuggling`], and from
//!   then on emits nothing, only looking for the real end so the session can
//!   answer `554 5.5.2` in sync with the client.

use memchr::{memchr, memchr2};

/// Which ambiguous sequence was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Smuggling {
    /// `LF .` where the LF has no CR before it.
    DotAfterBareLf,
    /// `CR .` where the CR has no LF after it.
    DotAfterBareCr,
    /// `CRLF . LF`.
    DotBeforeBareLf,
    /// `CRLF . CR x` with `x` not LF.
    DotBeforeBareCr,
}

impl Smuggling {
    /// Short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Smuggling::DotAfterBareLf => "dot-after-bare-lf",
            Smuggling::DotAfterBareCr => "dot-after-bare-cr",
            Smuggling::DotBeforeBareLf => "dot-before-bare-lf",
            Smuggling::DotBeforeBareCr => "dot-before-bare-cr",
        }
    }
}

/// What one call to [`DataDecoder::ingest`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// All input was consumed; the end of data was not reached.
    More,
    /// A smuggling sequence was found `consumed` bytes into the input. The
    /// output holds only bytes before it; keep feeding until [`Step::End`].
    Smuggling {
        /// Bytes of the input consumed.
        consumed: usize,
        /// What was seen.
        kind: Smuggling,
    },
    /// The end of data ended `consumed` bytes into the input; what follows
    /// belongs to the next command.
    End {
        /// Bytes of the input consumed, the final `. CRLF` included.
        consumed: usize,
    },
}

/// Output buffers of the decoder; the caller drains them after each call.
#[derive(Debug, Default)]
pub struct DataOutput {
    /// Unstuffed message bytes for the archive.
    pub content: Vec<u8>,
    /// Wire bytes to forward upstream verbatim.
    pub wire: Vec<u8>,
}

impl DataOutput {
    fn both(&mut self, bytes: &[u8]) {
        self.content.extend_from_slice(bytes);
        self.wire.extend_from_slice(bytes);
    }

    /// Empties both buffers, keeping their capacity.
    pub fn clear(&mut self) {
        self.content.clear();
        self.wire.clear();
    }
}

/// Where the decoder is in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// After CRLF, or at the start of DATA.
    LineStart,
    /// Inside a line.
    Mid,
    /// After a CR (already emitted); an LF may complete it.
    Cr,
    /// After a bare LF.
    BareLf,
    /// A line-start `.` is held back.
    Dot,
    /// A line-start `. CR` is held back.
    DotCr,
    /// Smuggling was seen; how much of `CRLF . CRLF` has matched since.
    Poisoned(usize),
    /// The end of data was consumed.
    Done,
}

const END: &[u8; 5] = b"\r\n.\r\n";

/// Decodes one DATA phase.
#[derive(Debug)]
pub struct DataDecoder {
    /// Current position in the grammar.
    state: State,
}

impl Default for DataDecoder {
    fn default() -> Self {
        DataDecoder::new()
    }
}

impl DataDecoder {
    /// A decoder positioned right after the client's `DATA` line.
    pub fn new() -> DataDecoder {
        DataDecoder {
            state: State::LineStart,
        }
    }

    /// Consumes `input`, appending to `out`. See [`Step`].
    pub fn ingest(&mut self, input: &[u8], out: &mut DataOutput) -> Step {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Done => return Step::End { consumed: i },
                State::Mid => {
                    let rest = &input[i..];
                    let Some(n) = memchr2(b'\r', b'\n', rest) else {
                        out.both(rest);
                        return Step::More;
                    };
                    out.both(&rest[..=n]);
                    self.state = if rest[n] == b'\r' {
                        State::Cr
                    } else {
                        State::BareLf
                    };
                    i += n + 1;
                }
                State::Poisoned(0) => match memchr(b'\r', &input[i..]) {
                    Some(n) => {
                        self.state = State::Poisoned(1);
                        i += n + 1;
                    }
                    None => return Step::More,
                },
                State::Poisoned(matched) => {
                    let b = input[i];
                    i += 1;
                    self.state = match b {
                        _ if b == END[matched] && matched + 1 == END.len() => State::Done,
                        _ if b == END[matched] => State::Poisoned(matched + 1),
                        b'\r' => State::Poisoned(1),
                        _ => State::Poisoned(0),
                    };
                    if self.state == State::Done {
                        return Step::End { consumed: i };
                    }
                }
                state => {
                    let b = input[i];
                    i += 1;
                    if let Some(step) = self.byte(state, b, i, out) {
                        return step;
                    }
                }
            }
        }
        Step::More
    }

    /// One byte in the states around line starts, CRs and dots.
    fn byte(&mut self, state: State, b: u8, consumed: usize, out: &mut DataOutput) -> Option<Step> {
        use State::*;
        self.state = match (state, b) {
            (LineStart, b'.') => Dot,
            (LineStart | Cr | BareLf, b'\r') => {
                out.both(b"\r");
                Cr
            }
            (Cr, b'\n') => {
                out.both(b"\n");
                LineStart
            }
            (LineStart | BareLf, b'\n') => {
                out.both(b"\n");
                BareLf
            }
            (Cr, b'.') => return Some(self.smuggle(Smuggling::DotAfterBareCr, b, consumed)),
            (BareLf, b'.') => return Some(self.smuggle(Smuggling::DotAfterBareLf, b, consumed)),
            (LineStart | Cr | BareLf, _) => {
                out.both(&[b]);
                Mid
            }
            (Dot, b'\r') => DotCr,
            (Dot, b'\n') => return Some(self.smuggle(Smuggling::DotBeforeBareLf, b, consumed)),
            (Dot, _) => {
                // The leading dot is stuffing: dropped from content, kept on the wire.
                out.content.push(b);
                out.wire.extend_from_slice(&[b'.', b]);
                Mid
            }
            (DotCr, b'\n') => {
                self.state = Done;
                return Some(Step::End { consumed });
            }
            (DotCr, _) => return Some(self.smuggle(Smuggling::DotBeforeBareCr, b, consumed)),
            (Mid | Poisoned(_) | Done, _) => state,
        };
        None
    }

    /// Enters the poisoned state; the offending byte may begin the real end.
    fn smuggle(&mut self, kind: Smuggling, b: u8, consumed: usize) -> Step {
        self.state = State::Poisoned(usize::from(b == b'\r'));
        Step::Smuggling { consumed, kind }
    }
}

/// Dot-stuffs `content` into DATA wire form, terminator included. Content
/// that does not end in CRLF gets one, as every SMTP client does.
pub fn stuff(content: &[u8]) -> Vec<u8> {
    let mut wire = Vec::with_capacity(content.len() + content.len() / 64 + 5);
    let mut line_start = true;
    for (i, &b) in content.iter().enumerate() {
        if line_start && b == b'.' {
            wire.push(b'.');
        }
        wire.push(b);
        line_start = b == b'\n' && i > 0 && content[i - 1] == b'\r';
    }
    if !content.is_empty() && !content.ends_with(b"\r\n") {
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b".\r\n");
    wire
}

#[cfg(test)]
mod tests;
