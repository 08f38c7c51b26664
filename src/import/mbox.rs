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
//! [`splitter`] does the splitting without I/O; [`read`] streams a file
//! through it in fixed-size chunks into one spool per message.

pub mod splitter;

use std::fs::File;
use std::io::Read;
use std::path::Path;

pub use splitter::{Event, Splitter};

use super::eml::{HEAD_LIMIT, check_head};
use super::{CHUNK, Found, ImportError, ImportFailure, Visitor};
use crate::archive::Spool;

/// Imports every message of the mbox file at `path`.
pub fn read(path: &Path, visitor: &mut dyn Visitor) -> Result<(), ImportError> {
    let unreadable = |source| ImportError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if meta.is_dir() {
        return Err(ImportError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    visitor.total(meta.len());
    let mut messages = Messages {
        path,
        visitor,
        current: None,
        head: Vec::new(),
    };
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
        return Err(ImportError::Empty {
            path: path.to_path_buf(),
        });
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
            Event::Preamble(_) => Err(ImportError::NotMbox {
                path: self.path.to_path_buf(),
            }),
            Event::Start { number, offset } => {
                self.head.clear();
                self.current = Some(Current {
                    number,
                    offset,
                    spool: self.visitor.spool(),
                });
                Ok(())
            }
            Event::Data(bytes) => {
                let room = HEAD_LIMIT.saturating_sub(self.head.len());
                self.head.extend_from_slice(&bytes[..room.min(bytes.len())]);
                match &mut self.current {
                    Some(current) => {
                        current
                            .spool
                            .write(bytes)
                            .map_err(|source| ImportError::Spool {
                                path: self.path.to_path_buf(),
                                source,
                            })
                    }
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
        let Current {
            number,
            offset,
            spool,
        } = current;
        let problem = if !complete {
            Some(format!(
                "at byte {offset}: the file ends inside this message, without the blank line \
                 that ends every mbox message, so the file looks cut off; not imported (if the \
                 message is whole, append a newline to the file and import again)"
            ))
        } else {
            check_head(&self.head)
                .err()
                .map(|refusal| format!("at byte {offset}: {}", refusal.reason()))
        };
        match problem {
            Some(reason) => {
                let path = self.path.to_path_buf();
                let failure = ImportFailure {
                    path,
                    position: Some(number.to_string()),
                    reason,
                };
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
        assert!(
            failure.contains("inbox.mbox message 3: at byte 26"),
            "{failure}"
        );
        assert!(failure.contains("cut off"), "{failure}");
        assert_eq!(c.advanced, 41);
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
        assert!(failures[2].contains("message 3: at byte 26: the message holds only blank"));
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
            message
                .extend_from_slice(b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789\n");
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
        assert!(
            big.as_memory().is_none(),
            "a 50 MB message must spill to disk"
        );
        assert_eq!(
            (big.size, big.sha256),
            (message.len() as u64, Sha256::digest(&message).into())
        );
    }
}
