//! mbox files: many messages in one file, split on `From ` lines.
//!
//! The format as read here:
//! - A message starts with a `From ` line at the start of the file or
//!   right after a blank line (`\n` or `\r\n`). That separator line is not
//!   part of the message, and neither is the blank line before it, which
//!   the mbox writer added. A `From ` line after a non-blank line is body
//!   text and kept as it is.
//! - Quoting is mboxrd: every line `>…>From ` (one or more `>`) loses one
//!   `>`. Decision: mboxrd is what `mailseal export` writes, so its output
//!   re-imports byte-exact; and for mboxo files (which quote only `From `)
//!   it restores the quoted `From ` lines too. The price: a body line that
//!   was `>From ` in an mboxo file comes back as `From `; no reader can
//!   tell those apart, and such lines are rare.
//! - Line endings are kept as they are in the file; `Content-Length`
//!   headers are ignored (they are often wrong after editing).
//! - The last message must end with the blank line every mbox writer adds.
//!   If the file ends without it (the file was cut, or the writer crashed),
//!   that message is reported as truncated and **not** imported: a sealed
//!   archive cannot take back a partial message later, while the user can
//!   check the file, append a newline if the message is whole, and re-run.
//!
//! [`Splitter`] does the splitting without I/O; [`read`] streams a file
//! through it in fixed-size chunks into one spool per message.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::eml::{HEAD_LIMIT, check_head};
use super::{CHUNK, Found, ImportError, ImportFailure, Visitor};
use crate::archive::Spool;

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
            // mboxrd: one `>` of a quoted `From ` line was added by the writer.
            self.quotes = self.quotes.saturating_sub(1);
        }
        self.flush_line_start(out)?;
        self.state = if byte == b'\n' { State::LineStart } else { State::Text };
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
        out(Event::Start { number: self.number, offset: self.line_offset })
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

/// Imports every message of the mbox file at `path`.
pub fn read(path: &Path, visitor: &mut dyn Visitor) -> Result<(), ImportError> {
    let unreadable = |source| ImportError::Unreadable { path: path.to_path_buf(), source };
    let mut file = File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if meta.is_dir() {
        return Err(ImportError::IsDirectory { path: path.to_path_buf() });
    }
    visitor.total(meta.len());
    let mut messages = Messages { path, visitor, current: None, head: Vec::new() };
    let mut splitter = Splitter::new();
    let mut buf = vec![0u8; CHUNK];
    let mut read_any = false;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(unreadable(e)),
        };
        read_any = true;
        splitter.feed(&buf[..n], &mut |event| messages.event(event))?;
        messages.visitor.advance(n as u64);
    }
    if !read_any {
        return Err(ImportError::Empty { path: path.to_path_buf() });
    }
    splitter.finish(&mut |event| messages.event(event))
}

/// The message being read.
struct Current {
    /// Its number in the file, from 1.
    number: u64,
    /// Byte offset of its `From ` line, for error reports.
    offset: u64,
    /// Its bytes so far.
    spool: Spool,
}

/// Turns splitter events into spooled messages for a [`Visitor`].
struct Messages<'a> {
    /// The mbox file, for records and errors.
    path: &'a Path,
    /// Where messages go.
    visitor: &'a mut dyn Visitor,
    /// The message being read, between `Start` and `End`.
    current: Option<Current>,
    /// The first bytes of the current message, for [`check_head`].
    head: Vec<u8>,
}

impl Messages<'_> {
    fn event(&mut self, event: Event<'_>) -> Result<(), ImportError> {
        match event {
            Event::Preamble(_) => Err(ImportError::NotMbox { path: self.path.to_path_buf() }),
            Event::Start { number, offset } => {
                self.head.clear();
                self.current = Some(Current { number, offset, spool: self.visitor.spool() });
                Ok(())
            }
            Event::Data(bytes) => {
                let room = HEAD_LIMIT.saturating_sub(self.head.len());
                self.head.extend_from_slice(&bytes[..room.min(bytes.len())]);
                match &mut self.current {
                    Some(current) => current.spool.write(bytes).map_err(|source| {
                        ImportError::Spool { path: self.path.to_path_buf(), source }
                    }),
                    None => Ok(()),
                }
            }
            Event::End { complete } => match self.current.take() {
                Some(current) => self.end(current, complete),
                None => Ok(()),
            },
        }
    }

    fn end(&mut self, current: Current, complete: bool) -> Result<(), ImportError> {
        let Current { number, offset, spool } = current;
        let problem = if !complete {
            Some(format!(
                "at byte {offset}: the file ends inside this message, without the blank line \
                 that ends every mbox message, so the file looks cut off; not imported (if the \
                 message is whole, append a newline to the file and import again)"
            ))
        } else {
            check_head(&self.head).err().map(|refusal| format!("at byte {offset}: {}", refusal.reason()))
        };
        match problem {
            Some(reason) => {
                let path = self.path.to_path_buf();
                let failure = ImportFailure { path, position: Some(number.to_string()), reason };
                self.visitor.failure(failure);
                Ok(())
            }
            None => self.visitor.message(Found {
                origin: self.path.to_path_buf(),
                position: Some(number.to_string()),
                content: spool.finish(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::tests::Collector;

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
                    messages.push(Split { offset, bytes: Vec::new(), complete: false });
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
        if preamble.is_empty() { Ok(messages) } else { Err(preamble) }
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
        Split { offset, bytes: bytes.to_vec(), complete: true }
    }

    #[test]
    fn splits_on_from_lines_after_blank_lines_and_drops_the_framing() {
        let input = b"From a@b Sat Jan  1 00:00:00 2000\nSubject: 1\n\nbody\n\n\
                      From c@d Sat Jan  1 00:00:01 2000\nSubject: 2\n\nFrom here\nno split\n\n";
        assert_eq!(
            split_all_ways(input).unwrap(),
            [msg(0, b"Subject: 1\n\nbody\n"), msg(52, b"Subject: 2\n\nFrom here\nno split\n")]
        );
    }

    #[test]
    fn unquotes_mboxrd_from_lines_anywhere() {
        let input = b"From x\n>From: header\nA: b\n\n>From a\n>>From b\n>>>From c\n>Fro\n>\n\
                      \n>From after blank\n>>\nFrom  not after blank\n\n";
        let expected = b"From: header\nA: b\n\nFrom a\n>From b\n>>From c\n>Fro\n>\n\
                         \nFrom after blank\n>>\nFrom  not after blank\n";
        assert_eq!(split_all_ways(input).unwrap(), [msg(0, expected)]);
    }

    #[test]
    fn keeps_crlf_and_blank_lines_that_belong_to_the_message() {
        let input = b"From x\r\nA: b\r\n\r\nbody\r\n\r\n\r\n\r\nFrom y\r\nC: d\r\n\r\n";
        assert_eq!(
            split_all_ways(input).unwrap(),
            [msg(0, b"A: b\r\n\r\nbody\r\n\r\n\r\n"), msg(35, b"C: d\r\n")]
        );
        let mixed = b"From x\nA: b\r\n\n\nFrom y\nC: \r\r\n\n";
        assert_eq!(
            split_all_ways(mixed).unwrap(),
            [msg(0, b"A: b\r\n\n"), msg(16, b"C: \r\r\n")]
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
            let cut = Split { offset: 13, bytes: last.to_vec(), complete: false };
            assert_eq!(got, [msg(0, b"A: 1\n"), cut], "{}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn input_not_starting_with_from_is_preamble() {
        assert_eq!(split_all_ways(b"Subject: x\n\nFrom y\nA: b\n\n").unwrap_err(), b"Subject: x\n");
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
        assert_eq!(got[0].bytes.len(), 12 + 99_999 + 7);
        assert!(got[0].bytes[12..].starts_with(&[b'>'; 99_999]));
    }

    fn write_mbox(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox.mbox");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn a_truncated_mbox_imports_the_complete_messages_and_names_the_cut_one() {
        let (_dir, path) = write_mbox(b"From a\nA: 1\n\nFrom b\nB: 2\n\nFrom c\nC: 3\nhal");
        let mut c = Collector::new();
        read(&path, &mut c).unwrap();
        assert_eq!(c.contents(), [b"A: 1\n".to_vec(), b"B: 2\n".to_vec()]);
        assert_eq!(c.positions(), [Some("1".into()), Some("2".into())]);
        let failure = c.failures[0].to_string();
        assert!(failure.contains("inbox.mbox message 3: at byte 26"), "{failure}");
        assert!(failure.contains("cut off"), "{failure}");
        assert_eq!(c.advanced, 40);
    }

    #[test]
    fn bad_messages_inside_are_skipped_with_their_number() {
        let (_dir, path) =
            write_mbox(b"From a\n\nFrom b\n\x89PNG\r\n\x1a\n\0\n\nFrom c\n\n\n\nFrom d\nD: 4\n\n");
        let mut c = Collector::new();
        read(&path, &mut c).unwrap();
        assert_eq!(c.contents(), [b"D: 4\n".to_vec()]);
        let failures: Vec<_> = c.failures.iter().map(ToString::to_string).collect();
        assert_eq!(failures.len(), 3, "{failures:?}");
        assert!(failures[0].contains("message 1: at byte 0: the message is empty"));
        assert!(failures[1].contains("message 2: at byte 8: not a mail message: binary"));
        assert!(failures[2].contains("message 3: at byte 29: the message holds only blank"));
    }

    #[test]
    fn refuses_files_that_are_not_an_mbox_naming_them() {
        let (dir, path) = write_mbox(b"Subject: not an mbox\n\nFrom x\nA: b\n\n");
        let err = read(&path, &mut Collector::new()).unwrap_err().to_string();
        assert!(err.contains("inbox.mbox is not an mbox file"), "{err}");
        std::fs::write(&path, b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0").unwrap();
        let err = read(&path, &mut Collector::new()).unwrap_err().to_string();
        assert!(err.contains("inbox.mbox is not an mbox file"), "{err}");
        std::fs::write(&path, b"").unwrap();
        let err = read(&path, &mut Collector::new()).unwrap_err().to_string();
        assert!(err.contains("inbox.mbox is empty"), "{err}");
        let err = read(dir.path(), &mut Collector::new()).unwrap_err();
        assert!(matches!(err, ImportError::IsDirectory { .. }), "{err}");
        let err = read(&dir.path().join("nope"), &mut Collector::new()).unwrap_err();
        assert!(err.to_string().starts_with("cannot read ") && err.to_string().contains("nope"));
    }

    #[test]
    fn a_50_mb_message_streams_into_a_spilled_spool() {
        use sha2::{Digest, Sha256};
        let mut message = b"Subject: big\n\n".to_vec();
        while message.len() < 50 * 1024 * 1024 {
            message.extend_from_slice(b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789\n");
        }
        let mut mbox = b"From big\n".to_vec();
        mbox.extend_from_slice(&message);
        mbox.extend_from_slice(b"\nFrom small\nA: b\n\n");
        let (_dir, path) = write_mbox(&mbox);
        drop(mbox);
        let mut c = Collector::new();
        read(&path, &mut c).unwrap();
        assert_eq!(c.found.len(), 2);
        let big = &c.found[0].content;
        assert!(big.as_memory().is_none(), "a 50 MB message must spill to disk");
        assert_eq!((big.size, big.sha256), (message.len() as u64, Sha256::digest(&message).into()));
    }
}
