//! The literal-aware IMAP framer: splits one direction of a session into
//! lines and literals, with no I/O of its own.
//!
//! A command or response is a sequence of line fragments, each ending in
//! CRLF; a fragment that ends in a literal announcement (`{n}`, `{n+}`,
//! `~{n}`) is followed by exactly `n` bytes of literal data and then by the
//! next fragment of the same command or response. The framer reports the
//! fragments (bounded by `max_line`) and streams literal data as borrowed
//! chunks of the caller's input, so a 4 GB literal never sits in memory.
//!
//! A client's synchronizing literal is sent only after the server answers
//! `+`; a tagged `NO`/`BAD` instead ends the command and the literal never
//! comes. The client-side framer therefore stops at such an announcement
//! until [`Framer::server_said`] tells it which answer the server gave, so
//! both directions stay in step with the server's own view.

use super::head::Head;
pub use super::head::Side;

/// Default cap on one line fragment, CRLF included (Dovecot's own limit).
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// How many trailing bytes of an overlong line are kept to spot a literal
/// announcement at its end (`~{18446744073709551615+}` fits).
const TAIL: usize = 32;

/// A literal announced at the end of a line fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Literal {
    /// Announced length in bytes.
    pub size: u64,
    /// `~{n}`: a BINARY literal (may contain NUL).
    pub binary: bool,
    /// A client literal that waits for the server's `+` (`{n}` rather than
    /// `{n+}`). Server literals are never synchronizing.
    pub sync: bool,
}

/// One complete line fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The bytes to relay, line ending included. Empty for an overlong line,
    /// whose bytes went out as [`Event::LineTooLong`] and [`Event::LineRest`].
    pub raw: Vec<u8>,
    /// The command or response this fragment belongs to.
    pub head: Head,
    /// True when this fragment follows a literal of the same command.
    pub continued: bool,
    /// The literal this fragment announces at its end.
    pub literal: Option<Literal>,
    /// The fragment was longer than the cap; `raw` is empty.
    pub overlong: bool,
    /// Length of the text before the literal announcement and line ending.
    text_len: usize,
}

impl Line {
    /// The fragment's text without the literal announcement and line ending.
    pub fn text(&self) -> &[u8] {
        &self.raw[..self.text_len]
    }

    /// True when this fragment ends its command or response.
    pub fn is_last(&self) -> bool {
        self.literal.is_none()
    }
}

/// The start of a literal's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralStart {
    /// The command or response the literal belongs to.
    pub head: Head,
    /// What was announced.
    pub literal: Literal,
    /// Position among the literals of this command or response, from 0.
    pub index: u32,
}

/// What the framer observed.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A complete line fragment.
    Line(Line),
    /// A line outgrew the cap: these are its first bytes (to relay); the rest
    /// follows as [`Event::LineRest`] and a final [`Event::Line`] with
    /// `overlong` set.
    LineTooLong(Vec<u8>),
    /// More bytes of an overlong line, passed through unseen.
    LineRest(&'a [u8]),
    /// A literal's data begins.
    LiteralStart(LiteralStart),
    /// A chunk of literal data, in order.
    LiteralData(&'a [u8]),
    /// The literal's last byte was seen.
    LiteralEnd,
}

/// How the server answered a pending synchronizing literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `+`: the literal follows.
    Continue,
    /// A tagged response: the command is over, the literal never comes.
    Refused,
}

/// Where in the stream the framer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a line fragment into `buf`.
    Line,
    /// Passing the rest of an overlong line through.
    Overflow,
    /// The overlong line ended; its closing [`Event::Line`] is due.
    OverflowEnd,
    /// A client's synchronizing literal waits for the server's answer.
    AwaitAnswer,
    /// A literal was announced; its [`Event::LiteralStart`] is due.
    LiteralDue,
    /// Inside literal data.
    Literal { remaining: u64 },
}

/// Quote tracking over a fragment, so `"{5}"` is text, not a literal.
#[derive(Debug, Clone, Copy, Default)]
struct Quotes {
    /// Inside a quoted string.
    open: bool,
    /// The previous byte was a backslash inside a quoted string.
    escape: bool,
}

impl Quotes {
    fn scan(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.escape {
                self.escape = false;
            } else if self.open {
                match b {
                    b'\\' => self.escape = true,
                    b'"' => self.open = false,
                    _ => {}
                }
            } else if b == b'"' {
                self.open = true;
            }
        }
    }
}

/// The framer of one direction.
#[derive(Debug)]
pub struct Framer {
    /// Which peer sends the bytes this framer sees.
    side: Side,
    /// Cap on one line fragment, line ending included.
    max_line: usize,
    /// Where in the stream we are.
    state: State,
    /// The fragment being collected (at most `max_line` bytes).
    buf: Vec<u8>,
    /// The last bytes of an overlong line, to find its literal announcement.
    tail: Vec<u8>,
    /// Quote state of the current fragment.
    quotes: Quotes,
    /// Head of the command or response in progress (set after its first
    /// fragment, cleared when it ends).
    head: Option<Head>,
    /// The literal announced by the last fragment.
    literal: Option<Literal>,
    /// Literals seen so far in the current command or response.
    index: u32,
    /// The fragment being collected follows a literal.
    continued: bool,
}

impl Framer {
    /// A framer for the bytes `side` sends, capping fragments at `max_line`.
    pub fn new(side: Side, max_line: usize) -> Framer {
        Framer {
            side,
            max_line: max_line.max(TAIL),
            state: State::Line,
            buf: Vec::new(),
            tail: Vec::new(),
            quotes: Quotes::default(),
            head: None,
            literal: None,
            index: 0,
            continued: false,
        }
    }

    /// The next event from `input`, advancing it past the bytes consumed.
    ///
    /// `None` means the framer needs more input, or (with input left) that
    /// it waits for [`Framer::server_said`] to settle a synchronizing literal.
    pub fn next<'a>(&mut self, input: &mut &'a [u8]) -> Option<Event<'a>> {
        match self.state {
            State::AwaitAnswer => None,
            State::LiteralDue => Some(self.start_literal()),
            State::Literal { remaining } => self.literal_data(input, remaining),
            State::Line => self.line(input),
            State::Overflow => self.overflow(input),
            State::OverflowEnd => Some(Event::Line(self.finish_line(Vec::new(), true))),
        }
    }

    /// Tells a client-side framer what the server sent (the head of each
    /// server line that starts a response). Settles a pending synchronizing
    /// literal: `+` lets it through, the command's tagged response ends it.
    pub fn server_said(&mut self, head: &Head) -> Option<Answer> {
        if self.state != State::AwaitAnswer {
            return None;
        }
        match head {
            Head::Continuation => {
                self.state = State::LiteralDue;
                Some(Answer::Continue)
            }
            Head::Tagged { tag, .. }
                if Some(tag.as_str()) == self.head.as_ref().and_then(Head::tag) =>
            {
                self.end_message();
                Some(Answer::Refused)
            }
            _ => None,
        }
    }

    /// The proxy itself refused a pending synchronizing literal (too
    /// large): the command is over, as if the server had said `NO`.
    pub fn refuse_literal(&mut self) {
        if self.state == State::AwaitAnswer {
            self.end_message();
        }
    }

    /// The tag of the command whose synchronizing literal awaits an answer.
    pub fn awaiting_answer(&self) -> Option<&str> {
        match self.state {
            State::AwaitAnswer => self.head.as_ref().and_then(Head::tag),
            _ => None,
        }
    }

    /// True between commands or responses: nothing partial has been seen, so
    /// a line of the proxy's own may be inserted here.
    pub fn at_boundary(&self) -> bool {
        self.state == State::Line && self.buf.is_empty() && self.head.is_none()
    }

    /// True inside literal data (an end of stream here truncates it).
    pub fn in_literal(&self) -> bool {
        matches!(self.state, State::Literal { .. } | State::LiteralDue)
    }

    fn start_literal(&mut self) -> Event<'static> {
        let literal = self.literal.take().unwrap_or(Literal {
            size: 0,
            binary: false,
            sync: false,
        });
        let start = LiteralStart {
            head: self.head.clone().unwrap_or(Head::Tagged {
                tag: String::new(),
                status: String::new(),
            }),
            literal,
            index: self.index,
        };
        self.index += 1;
        self.state = State::Literal {
            remaining: literal.size,
        };
        Event::LiteralStart(start)
    }

    fn literal_data<'a>(&mut self, input: &mut &'a [u8], remaining: u64) -> Option<Event<'a>> {
        if remaining == 0 {
            self.state = State::Line;
            self.continued = true;
            return Some(Event::LiteralEnd);
        }
        if input.is_empty() {
            return None;
        }
        let n = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(input.len());
        let (chunk, rest) = input.split_at(n);
        *input = rest;
        self.state = State::Literal {
            remaining: remaining - n as u64,
        };
        Some(Event::LiteralData(chunk))
    }

    fn line<'a>(&mut self, input: &mut &'a [u8]) -> Option<Event<'a>> {
        if input.is_empty() {
            return None;
        }
        let room = self.max_line - self.buf.len();
        let window = &input[..input.len().min(room)];
        if let Some(lf) = memchr::memchr(b'\n', window) {
            let (part, rest) = input.split_at(lf + 1);
            *input = rest;
            self.quotes.scan(part);
            self.buf.extend_from_slice(part);
            let raw = std::mem::take(&mut self.buf);
            return Some(Event::Line(self.finish_line(raw, false)));
        }
        let (part, rest) = input.split_at(window.len());
        *input = rest;
        self.quotes.scan(part);
        self.buf.extend_from_slice(part);
        if self.buf.len() < self.max_line {
            return None;
        }
        // Over the cap: remember the head and the tail, hand the bytes on.
        if self.head.is_none() {
            self.head = Some(Head::parse(self.side, &self.buf));
        }
        self.keep_tail(&[]);
        self.state = State::Overflow;
        Some(Event::LineTooLong(std::mem::take(&mut self.buf)))
    }

    fn overflow<'a>(&mut self, input: &mut &'a [u8]) -> Option<Event<'a>> {
        if input.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', input).map_or(input.len(), |lf| lf + 1);
        let (part, rest) = input.split_at(end);
        *input = rest;
        self.quotes.scan(part);
        self.keep_tail(part);
        if part.ends_with(b"\n") {
            self.state = State::OverflowEnd;
        }
        Some(Event::LineRest(part))
    }

    /// Keeps the last [`TAIL`] bytes of `buf`/`tail` followed by `more`.
    fn keep_tail(&mut self, more: &[u8]) {
        if self.tail.is_empty() {
            let from = self.buf.len().saturating_sub(TAIL);
            self.tail.extend_from_slice(&self.buf[from..]);
        }
        self.tail.extend_from_slice(more);
        let excess = self.tail.len().saturating_sub(TAIL);
        self.tail.drain(..excess);
    }

    /// Builds the event for a finished fragment (`raw`, or the kept tail of
    /// an overlong one) and moves to the next state.
    fn finish_line(&mut self, raw: Vec<u8>, overlong: bool) -> Line {
        let tail = std::mem::take(&mut self.tail);
        let body = strip_line_end(if overlong { &tail } else { &raw });
        let literal = if self.quotes.open {
            None
        } else {
            announcement(body, self.side)
        };
        self.quotes = Quotes::default();
        let continued = self.continued;
        let head = match &self.head {
            Some(head) => head.clone(),
            None => Head::parse(self.side, body),
        };
        let text_len = if overlong {
            0
        } else {
            body.len() - literal.map_or(0, |l| l.1)
        };
        match literal {
            Some((lit, _)) => {
                self.head = Some(head.clone());
                self.literal = Some(lit);
                self.state = if lit.sync {
                    State::AwaitAnswer
                } else {
                    State::LiteralDue
                };
            }
            None => self.end_message(),
        }
        Line {
            raw,
            head,
            continued,
            literal: literal.map(|l| l.0),
            overlong,
            text_len,
        }
    }

    fn end_message(&mut self) {
        self.state = State::Line;
        self.head = None;
        self.literal = None;
        self.index = 0;
        self.continued = false;
    }
}

/// The text without its CRLF (a bare LF is accepted, as servers do).
fn strip_line_end(text: &[u8]) -> &[u8] {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    text.strip_suffix(b"\r").unwrap_or(text)
}

/// Parses a literal announcement at the end of `body`; returns it and the
/// announcement's length in bytes.
fn announcement(body: &[u8], side: Side) -> Option<(Literal, usize)> {
    let inner = body.strip_suffix(b"}")?;
    let (inner, non_sync) = match inner.strip_suffix(b"+") {
        Some(rest) => (rest, true),
        None => (inner, false),
    };
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let size = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
    let binary = open > 0 && inner[open - 1] == b'~';
    let len = body.len() - open + usize::from(binary);
    let sync = side == Side::Client && !non_sync;
    Some((Literal { size, binary, sync }, len))
}

#[cfg(test)]
mod tests;
