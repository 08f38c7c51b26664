//! Splitting mbox bytes into messages, without I/O.
//!
//! The rules (separators, mboxrd unquoting, the closing blank line) are in
//! the doc of [`super`]. The splitter is fed chunks of any size and emits
//! [`Event`]s; it holds back at most the start of one line (a count of `>`
//! and up to five bytes) and one blank line, so its memory is constant.

/// What the [`Splitter`] sees in the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Bytes before the first `From ` separator: the input is not an mbox.
    Preamble(&'a [u8]),
    /// Message number `number` (from 1) starts; its separator line is at
    /// byte `offset` of the input.
    Start {
        /// Message number, from 1.
        number: u64,
        /// Byte offset of the `From ` line.
        offset: u64,
    },
    /// Message bytes, unquoted, in order.
    Data(&'a [u8]),
    /// The message ends. `complete` is false when the input ended inside it.
    End {
        /// Whether the closing blank line was there.
        complete: bool,
    },
}

/// Where the splitter is within the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line, still deciding what kind of line it is.
    LineStart,
    /// Inside message text: pass bytes through up to the newline.
    Text,
    /// Inside a `From ` separator line: skip up to the newline.
    Separator,
}

/// Splits mbox bytes into messages, fed in chunks of any size.
pub struct Splitter {
    /// What the current line is.
    state: State,
    /// Input bytes consumed so far.
    offset: u64,
    /// Offset of the current line's first byte.
    line_offset: u64,
    /// Messages started so far.
    number: u64,
    /// Leading `>` of the current line, counted rather than stored, so a
    /// line of a million `>` needs no memory.
    quotes: u64,
    /// Bytes after the quotes, while they may still become `From `.
    head: Vec<u8>,
    /// A blank line held back: it is the writer's separator if a `From `
    /// line follows, message text otherwise.
    blank: Option<&'static [u8]>,
}

impl Default for Splitter {
    fn default() -> Splitter {
        Splitter {
            state: State::LineStart,
            offset: 0,
            line_offset: 0,
            number: 0,
            quotes: 0,
            head: Vec::with_capacity(8),
            blank: None,
        }
    }
}

const FROM: &[u8] = b"From ";
const QUOTES: &[u8] = &[b'>'; 64];

impl Splitter {
    /// A splitter at the start of the input.
    pub fn new() -> Splitter {
        Splitter::default()
    }

    /// Feeds the next chunk; events go to `out` in input order.
    pub fn feed<E>(
        &mut self,
        mut chunk: &[u8],
        out: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        while !chunk.is_empty() {
            let used = match self.state {
                State::Text => {
                    let end = memchr::memchr(b'\n', chunk).map_or(chunk.len(), |i| i + 1);
                    self.text(&chunk[..end], out)?;
                    if chunk[end - 1] == b'\n' {
                        self.state = State::LineStart;
                    }
                    end
                }
                State::Separator => {
                    let end = memchr::memchr(b'\n', chunk).map_or(chunk.len(), |i| i + 1);
                    if chunk[end - 1] == b'\n' {
                        self.state = State::LineStart;
                    }
                    end
                }
                State::LineStart => {
                    self.line_start(chunk[0], out)?;
                    1
                }
            };
            self.offset += used as u64;
            chunk = &chunk[used..];
        }
        Ok(())
    }

    /// Ends the input.
    pub fn finish<E>(mut self, out: &mut impl FnMut(Event<'_>) -> Result<(), E>) -> Result<(), E> {
        let partial_line = self.quotes > 0 || !self.head.is_empty();
        if partial_line {
            self.flush_line_start(out)?;
        }
        if self.number == 0 {
            return match self.blank {
                Some(blank) => out(Event::Preamble(blank)),
                None => Ok(()),
            };
        }
        // Complete only if the input ended on the writer's blank line.
        let complete = self.state == State::LineStart && !partial_line && self.blank.is_some();
        out(Event::End { complete })
    }

    /// Classifies the line that `byte` continues from its start.
    fn line_start<E>(
        &mut self,
        byte: u8,
        out: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.quotes == 0 && self.head.is_empty() {
            self.line_offset = self.offset;
        }
        if byte == b'>' && self.head.is_empty() {
            self.quotes += 1;
            return Ok(());
        }
        self.head.push(byte);
        let is_blank = self.quotes == 0 && matches!(&self.head[..], b"\n" | b"\r\n");
        if is_blank {
            let blank: &'static [u8] = if self.head.len() == 2 { b"\r\n" } else { b"\n" };
            self.head.clear();
            return self.blank_line(blank, out);
        }
        if self.quotes == 0 && self.head == b"\r" {
            return Ok(());
        }
        if FROM.starts_with(&self.head) && self.head.len() < FROM.len() {
            return Ok(());
        }
        if self.head == FROM {
            if self.quotes == 0 && (self.blank.is_some() || self.line_offset == 0) {
                return self.separator(out);
            }
            // mboxrd: one `>` of a quoted `From ` line was added by the
            // writer (preamble is reported raw).
            if self.number > 0 {
                self.quotes = self.quotes.saturating_sub(1);
            }
        }
        self.flush_line_start(out)?;
        self.state = if byte == b'\n' {
            State::LineStart
        } else {
            State::Text
        };
        Ok(())
    }

    /// A complete blank line.
    fn blank_line<E>(
        &mut self,
        blank: &'static [u8],
        out: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if let Some(held) = self.blank.replace(blank) {
            self.text(held, out)?;
        }
        Ok(())
    }

    /// A `From ` line that starts a message.
    fn separator<E>(&mut self, out: &mut impl FnMut(Event<'_>) -> Result<(), E>) -> Result<(), E> {
        self.head.clear();
        if self.number > 0 {
            out(Event::End { complete: true })?;
        }
        // The blank line before the separator belongs to the mbox framing.
        self.blank = None;
        self.number += 1;
        self.state = State::Separator;
        out(Event::Start {
            number: self.number,
            offset: self.line_offset,
        })
    }

    /// Emits the held blank line, the counted quotes and the line's head as
    /// message text.
    fn flush_line_start<E>(
        &mut self,
        out: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if let Some(held) = self.blank.take() {
            self.text(held, out)?;
        }
        while self.quotes > 0 {
            let n = self.quotes.min(QUOTES.len() as u64);
            self.text(&QUOTES[..n as usize], out)?;
            self.quotes -= n;
        }
        let head = std::mem::take(&mut self.head);
        self.text(&head, out)?;
        self.head = head;
        self.head.clear();
        Ok(())
    }

    /// Message text, or preamble before the first message.
    fn text<E>(
        &self,
        bytes: &[u8],
        out: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        match (bytes.is_empty(), self.number) {
            (true, _) => Ok(()),
            (false, 0) => out(Event::Preamble(bytes)),
            (false, _) => out(Event::Data(bytes)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One message as the splitter reported it.
    #[derive(Debug, PartialEq, Eq)]
    struct Split {
        offset: u64,
        bytes: Vec<u8>,
        complete: bool,
    }

    /// Splits `input` fed in chunks of `size` bytes; `Err` holds preamble.
    fn split(input: &[u8], size: usize) -> Result<Vec<Split>, Vec<u8>> {
        let mut messages = Vec::new();
        let mut preamble = Vec::new();
        let mut out = |event: Event<'_>| -> Result<(), ()> {
            match event {
                Event::Preamble(b) => preamble.extend_from_slice(b),
                Event::Start { number, offset } => {
                    assert_eq!(number, messages.len() as u64 + 1);
                    messages.push(Split {
                        offset,
                        bytes: Vec::new(),
                        complete: false,
                    });
                }
                Event::Data(b) => messages.last_mut().unwrap().bytes.extend_from_slice(b),
                Event::End { complete } => messages.last_mut().unwrap().complete = complete,
            }
            Ok(())
        };
        let mut splitter = Splitter::new();
        for chunk in input.chunks(size) {
            splitter.feed(chunk, &mut out).unwrap();
        }
        splitter.finish(&mut out).unwrap();
        if preamble.is_empty() {
            Ok(messages)
        } else {
            Err(preamble)
        }
    }

    /// Splits at every chunk size and checks they all agree.
    fn split_all_ways(input: &[u8]) -> Result<Vec<Split>, Vec<u8>> {
        let whole = split(input, input.len().max(1));
        for size in 1..input.len() {
            assert_eq!(split(input, size), whole, "chunk size {size}");
        }
        whole
    }

    fn msg(offset: u64, bytes: &[u8]) -> Split {
        Split {
            offset,
            bytes: bytes.to_vec(),
            complete: true,
        }
    }

    #[test]
    fn splits_on_from_lines_after_blank_lines_and_drops_the_framing() {
        let input = b"From a@b Sat Jan  1 00:00:00 2000\nSubject: 1\n\nbody\n\n\
                      From c@d Sat Jan  1 00:00:01 2000\nSubject: 2\n\nbody\nFrom here\nno split\n\n";
        assert_eq!(
            split_all_ways(input).unwrap(),
            [
                msg(0, b"Subject: 1\n\nbody\n"),
                msg(52, b"Subject: 2\n\nbody\nFrom here\nno split\n")
            ]
        );
    }

    #[test]
    fn unquotes_mboxrd_from_lines_anywhere() {
        let input = b"From x\n>From header\nA: b\n\n>From a\n>>From b\n>>>From c\n>Fro\n>\n\
                      \n>From after blank\n>>\nFrom  not after blank\n\n";
        let expected = b"From header\nA: b\n\nFrom a\n>From b\n>>From c\n>Fro\n>\n\
                         \nFrom after blank\n>>\nFrom  not after blank\n";
        assert_eq!(split_all_ways(input).unwrap(), [msg(0, expected)]);
    }

    #[test]
    fn keeps_crlf_and_blank_lines_that_belong_to_the_message() {
        let input = b"From x\r\nA: b\r\n\r\nbody\r\n\r\n\r\n\r\nFrom y\r\nC: d\r\n\r\n";
        assert_eq!(
            split_all_ways(input).unwrap(),
            [
                msg(0, b"A: b\r\n\r\nbody\r\n\r\n\r\n"),
                msg(28, b"C: d\r\n")
            ]
        );
        let mixed = b"From x\nA: b\r\n\n\nFrom y\nC: \r\r\n\n";
        assert_eq!(
            split_all_ways(mixed).unwrap(),
            [msg(0, b"A: b\r\n\n"), msg(15, b"C: \r\r\n")]
        );
    }

    #[test]
    fn a_cut_last_message_is_incomplete_and_earlier_ones_are_not() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"From x\nA: 1\n\nFrom y\nB: 2\nbody", b"B: 2\nbody"),
            (b"From x\nA: 1\n\nFrom y\nB: 2\n", b"B: 2\n"),
            (b"From x\nA: 1\n\nFrom y\nB: 2\n>>Fr", b"B: 2\n>>Fr"),
            (b"From x\nA: 1\n\nFrom y\nB: 2\r", b"B: 2\r"),
            (b"From x\nA: 1\n\nFrom y", b""),
        ];
        for (input, last) in cases {
            let got = split_all_ways(input).unwrap();
            let cut = Split {
                offset: 13,
                bytes: last.to_vec(),
                complete: false,
            };
            assert_eq!(
                got,
                [msg(0, b"A: 1\n"), cut],
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn input_not_starting_with_from_is_preamble() {
        assert_eq!(
            split_all_ways(b"Subject: x\n\nFrom y\nA: b\n\n").unwrap_err(),
            b"Subject: x\n"
        );
        assert_eq!(split_all_ways(b">From y\n").unwrap_err(), b">From y\n");
        assert_eq!(split_all_ways(b"\n\n").unwrap_err(), b"\n\n");
        assert_eq!(split_all_ways(b"").unwrap(), []);
    }

    #[test]
    fn long_quote_runs_need_no_memory_and_keep_their_count() {
        let mut input = b"From x\nA: b\n\n".to_vec();
        input.extend(std::iter::repeat_n(b'>', 100_000));
        input.extend_from_slice(b"From y\n\n");
        let got = split(&input, 4096).unwrap();
        assert_eq!(got[0].bytes.len(), 6 + 99_999 + 7);
        assert!(got[0].bytes[6..].starts_with(&[b'>'; 99_999]));
    }
}
