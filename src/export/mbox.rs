//! Writing mboxrd: the `From ` separator line and `>From ` quoting.
//!
//! Every line matching `^>*From ` (headers and body alike) gets one more
//! `>`, which the importer (`import::mbox`) takes away again. After each
//! message comes a blank line; a message that does not end with a newline
//! gets one first, so such a message cannot come back byte-exact from an
//! mbox (the `.eml` export always is, and the manifest's hash is always of
//! the original bytes).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::manifest::{ManifestEntry, create_new, finish_file};
use super::{ContentSource, ExportError, Item, MBOX_FILE, copy_verified};

const FROM: &[u8] = b"From ";
const QUOTES: &[u8] = &[b'>'; 64];

/// The separator line for a message: `From <sender> <asctime>\n`.
///
/// The sender is the envelope `MAIL FROM`, or `MAILER-DAEMON` for the null
/// sender or when none is known; spaces and control bytes in it become `_`
/// so that readers which split the line on spaces find the date. The date
/// is the time the archive received the message, in UTC.
pub fn separator_line(mail_from: Option<&str>, received: &str) -> String {
    let sender = match mail_from {
        None | Some("") => "MAILER-DAEMON".to_owned(),
        Some(s) => s
            .chars()
            .map(|c| {
                if c.is_whitespace() || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect(),
    };
    let date = DateTime::parse_from_rfc3339(received)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default();
    format!("From {sender} {}\n", date.format("%a %b %e %H:%M:%S %Y"))
}

/// Passes message bytes through, quoting `>*From ` lines.
pub struct Quoter<W: Write> {
    /// Where the quoted bytes go.
    inner: W,
    /// True while the current line's kind is undecided.
    at_line_start: bool,
    /// Leading `>` of the current line, counted so any run fits.
    quotes: u64,
    /// Bytes after the quotes that may still become `From `.
    head: Vec<u8>,
    /// The last original byte, to know if the message ended with a newline.
    last: Option<u8>,
}

impl<W: Write> Quoter<W> {
    /// A quoter at the start of a message.
    pub fn new(inner: W) -> Quoter<W> {
        Quoter {
            inner,
            at_line_start: true,
            quotes: 0,
            head: Vec::with_capacity(8),
            last: None,
        }
    }

    /// Writes what is held back; returns whether the message ended with `\n`.
    pub fn finish(mut self) -> io::Result<bool> {
        self.flush_line_start()?;
        self.inner.flush()?;
        Ok(self.last == Some(b'\n'))
    }

    fn flush_line_start(&mut self) -> io::Result<()> {
        while self.quotes > 0 {
            let n = self.quotes.min(QUOTES.len() as u64);
            self.inner.write_all(&QUOTES[..n as usize])?;
            self.quotes -= n;
        }
        self.inner.write_all(&self.head)?;
        self.head.clear();
        Ok(())
    }

    /// Decides the current line's kind byte by byte.
    fn line_start(&mut self, byte: u8) -> io::Result<()> {
        if byte == b'>' && self.head.is_empty() {
            self.quotes += 1;
            return Ok(());
        }
        self.head.push(byte);
        if self.head.len() < FROM.len() && FROM.starts_with(&self.head) {
            return Ok(());
        }
        if self.head == FROM {
            self.inner.write_all(b">")?;
        }
        self.flush_line_start()?;
        self.at_line_start = byte == b'\n';
        Ok(())
    }
}

impl<W: Write> Write for Quoter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            if self.at_line_start {
                self.line_start(rest[0])?;
                rest = &rest[1..];
            } else {
                let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
                self.inner.write_all(&rest[..end])?;
                self.at_line_start = rest[end - 1] == b'\n';
                rest = &rest[end..];
            }
        }
        if let Some(&b) = buf.last() {
            self.last = Some(b);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The mbox file of an mbox export.
pub(super) struct MboxOut {
    /// Its path, for errors.
    path: PathBuf,
    /// The open file.
    out: BufWriter<File>,
    /// Bytes written so far: the next message's offset.
    written: u64,
    /// SHA-256 of the whole file, for `SHA256SUMS`.
    hasher: Sha256,
}

impl MboxOut {
    /// Creates the mbox file; it must not exist yet.
    pub(super) fn create(path: &Path) -> Result<MboxOut, ExportError> {
        let out = BufWriter::with_capacity(256 * 1024, create_new(path)?);
        Ok(MboxOut {
            path: path.to_path_buf(),
            out,
            written: 0,
            hasher: Sha256::new(),
        })
    }

    /// Appends one message with its separator line and closing blank line.
    pub(super) fn append(
        &mut self,
        item: &Item,
        source: &dyn ContentSource,
    ) -> Result<ManifestEntry, ExportError> {
        let offset = self.written;
        let line = separator_line(item.mail_from.as_deref(), &item.received);
        self.put(line.as_bytes())?;
        let path = self.path.clone();
        let mut quoter = Quoter::new(&mut *self);
        copy_verified(source, item, &mut quoter, &path)?;
        let output = |source| ExportError::Output {
            path: path.clone(),
            source,
        };
        let exact = quoter.finish().map_err(output)?;
        let end: &[u8] = if exact { b"\n" } else { b"\n\n" };
        self.put(end)?;
        let mut entry = item.entry(MBOX_FILE.to_owned());
        entry.offset = Some(offset);
        entry.mbox_exact = Some(exact);
        Ok(entry)
    }

    /// Writes framing bytes.
    fn put(&mut self, bytes: &[u8]) -> Result<(), ExportError> {
        Write::write_all(self, bytes).map_err(|source| ExportError::Output {
            path: self.path.clone(),
            source,
        })
    }

    /// Syncs the file; returns its SHA-256 in hex.
    pub(super) fn finish(self) -> Result<String, ExportError> {
        finish_file(self.out, &self.path)?;
        Ok(hex::encode(self.hasher.finalize()))
    }
}

impl Write for MboxOut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(input: &[u8], size: usize) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let mut q = Quoter::new(&mut out);
        for chunk in input.chunks(size.max(1)) {
            q.write_all(chunk).unwrap();
        }
        let ends_with_newline = q.finish().unwrap();
        (out, ends_with_newline)
    }

    #[test]
    fn quotes_every_from_line_at_any_chunking() {
        let input = b"From: a\nX: From b\n\nFrom c\n>From d\n>>From e\n>Fro\nFrom\nFromage\n>\n From f\nFrom ";
        let expected =
            b"From: a\nX: From b\n\n>From c\n>>From d\n>>>From e\n>Fro\nFrom\nFromage\n>\n From f\n>From ";
        for size in 1..=input.len() {
            assert_eq!(
                quote(input, size),
                (expected.to_vec(), false),
                "chunk size {size}"
            );
        }
        assert_eq!(
            quote(b"A: b\r\n\r\nFrom x\r\n", 3),
            (b"A: b\r\n\r\n>From x\r\n".to_vec(), true)
        );
        assert_eq!(quote(b"", 1), (Vec::new(), false));
    }

    #[test]
    fn separator_lines_name_the_sender_and_the_receive_time() {
        let t = "2026-11-29T06:05:09.123456Z";
        assert_eq!(
            separator_line(Some("a@b.example"), t),
            "From a@b.example Sun Nov 29 06:05:09 2026\n"
        );
        assert_eq!(
            separator_line(Some(""), t),
            "From MAILER-DAEMON Sun Nov 29 06:05:09 2026\n"
        );
        assert_eq!(
            separator_line(None, "2026-01-02T03:04:05+01:00"),
            "From MAILER-DAEMON Fri Jan  2 02:04:05 2026\n"
        );
        assert_eq!(
            separator_line(Some("a b\n@c"), t),
            "From a_b_@c Sun Nov 29 06:05:09 2026\n"
        );
        assert_eq!(
            separator_line(None, "garbage"),
            "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n"
        );
    }
}
