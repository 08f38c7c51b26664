//! The mbox splitter (`import::mbox::splitter`), the eml head check
//! (`import::eml::check_head`) and the mboxrd writer of `export::mbox`.
//!
//! Setting: byte 0 picks how the rest is cut into pieces. Checked besides
//! "no panic":
//! - the events are the same whole and in pieces;
//! - messages are numbered 1, 2, … and each starts at a `From ` line at
//!   the offset it reports; preamble comes only before the first message;
//! - a refused head names an offset inside it and a control byte there;
//! - export then import is byte-exact: every message the split produced
//!   that ends in a newline, written with `separator_line` + `Quoter` +
//!   blank line as `mailseal export --format mbox` does, splits back into
//!   exactly the same messages (the promise in `import::mbox`'s doc).
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use mailseal::export::mbox::{Quoter, separator_line};
use mailseal::import::eml::{Refusal, check_head};
use mailseal::import::mbox::{Event, Splitter};
use mailseal_fuzz::{pieces, settings};

fuzz_target!(|data: &[u8]| {
    let ([seed], input) = settings::<1>(data);
    head(input);
    let whole = split(&[input]);
    assert_eq!(
        whole,
        split(&pieces(input, seed)),
        "splitting depends on read sizes"
    );
    let mut number = 0;
    for m in &whole.messages {
        number += 1;
        assert_eq!(m.number, number, "messages out of order");
        let at = usize::try_from(m.offset).expect("offset");
        assert!(
            input[at..].starts_with(b"From "),
            "message {number} starts at no From line"
        );
        head(&m.bytes);
    }
    let exact: Vec<&Vec<u8>> = whole
        .messages
        .iter()
        .map(|m| &m.bytes)
        .filter(|b| b.ends_with(b"\n"))
        .collect();
    if exact.is_empty() {
        return;
    }
    let mut mbox = Vec::new();
    for bytes in &exact {
        mbox.extend_from_slice(
            separator_line(Some("a@example.org"), "2026-01-01T00:00:00Z").as_bytes(),
        );
        let mut q = Quoter::new(&mut mbox);
        q.write_all(bytes).expect("write to Vec");
        assert!(
            q.finish().expect("write to Vec"),
            "message ends in a newline"
        );
        mbox.push(b'\n');
    }
    let back = split(&[&mbox]);
    assert!(back.preamble.is_empty());
    let back: Vec<&Vec<u8>> = back.messages.iter().map(|m| &m.bytes).collect();
    assert_eq!(back, exact, "export then import is not byte-exact");
    assert!(split(&[&mbox]).messages.iter().all(|m| m.complete));
});

/// One message as the splitter delivered it.
#[derive(Debug, PartialEq, Eq)]
struct Message {
    number: u64,
    offset: u64,
    bytes: Vec<u8>,
    complete: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Split {
    preamble: Vec<u8>,
    messages: Vec<Message>,
}

fn split(chunks: &[&[u8]]) -> Split {
    let mut s = Splitter::new();
    let mut got = Split::default();
    let mut open = false;
    let mut on = |ev: Event<'_>| -> Result<(), ()> {
        match ev {
            Event::Preamble(b) => {
                assert!(got.messages.is_empty(), "preamble after a message");
                got.preamble.extend_from_slice(b);
            }
            Event::Start { number, offset } => {
                assert!(!open, "start inside a message");
                open = true;
                got.messages.push(Message {
                    number,
                    offset,
                    bytes: Vec::new(),
                    complete: false,
                });
            }
            Event::Data(b) => {
                assert!(open, "data outside a message");
                if let Some(m) = got.messages.last_mut() {
                    m.bytes.extend_from_slice(b);
                }
            }
            Event::End { complete } => {
                assert!(open, "end outside a message");
                open = false;
                if let Some(m) = got.messages.last_mut() {
                    m.complete = complete;
                }
            }
        }
        Ok(())
    };
    for chunk in chunks {
        let _ = s.feed(chunk, &mut on);
    }
    let _ = s.finish(&mut on);
    assert!(!open, "input ended without closing its message");
    got
}

fn head(bytes: &[u8]) {
    if let Err(Refusal::Binary { offset, byte }) = check_head(bytes) {
        assert_eq!(
            bytes.get(offset),
            Some(&byte),
            "refusal names the wrong byte"
        );
        assert!(byte < 0x20, "refused a printable byte");
    }
}
