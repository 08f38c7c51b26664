//! The DATA decoder (`smtp::data`): end of data, dot-unstuffing, smuggling.
//!
//! Setting: byte 0 picks how the rest is cut into pieces. Checked besides
//! "no panic":
//! - the result is the same whole and in pieces;
//! - the wire bytes (what a relay forwards) are a verbatim prefix of the
//!   input, and at a clean end they are exactly the input without the final
//!   `. CRLF`;
//! - nothing is emitted after smuggling is reported;
//! - the content is the wire with each line-start stuffing dot removed;
//! - re-stuffing the content gives bytes that decode to the same content
//!   with no smuggling, and for canonically stuffed input (every line-start
//!   dot doubled) it gives exactly the forwarded bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailseal::smtp::data::{DataDecoder, DataOutput, Smuggling, Step, stuff};
use mailseal_fuzz::{pieces, settings};

fuzz_target!(|data: &[u8]| {
    let ([seed], input) = settings::<1>(data);
    let whole = decode(&[input]);
    assert_eq!(
        whole,
        decode(&pieces(input, seed)),
        "decoding depends on read sizes"
    );
    assert!(
        input.starts_with(&whole.wire),
        "wire bytes are not the input's prefix"
    );
    assert_eq!(
        whole.content,
        unstuff(&whole.wire),
        "content is not the unstuffed wire"
    );
    let Some(end) = whole.end else { return };
    if whole.smuggling.is_some() {
        assert!(
            input[..end].ends_with(b"\r\n.\r\n"),
            "poisoned DATA ended early"
        );
        return;
    }
    assert_eq!([&whole.wire[..], b".\r\n"].concat(), &input[..end]);
    assert!(whole.content.is_empty() || whole.content.ends_with(b"\r\n"));
    let restuffed = stuff(&whole.content);
    let again = decode(&[&restuffed]);
    assert_eq!(again.smuggling, None, "stuff() produced smuggling");
    assert_eq!(again.end, Some(restuffed.len()));
    assert_eq!(again.content, whole.content, "stuff/decode round trip");
    if canonical(&whole.wire) {
        assert_eq!(
            restuffed,
            &input[..end],
            "re-stuffed content differs from the forwarded bytes"
        );
    }
});

/// What decoding produced.
#[derive(Debug, Default, PartialEq, Eq)]
struct Decoded {
    content: Vec<u8>,
    wire: Vec<u8>,
    smuggling: Option<Smuggling>,
    /// Input offset just past the end of data.
    end: Option<usize>,
}

fn decode(chunks: &[&[u8]]) -> Decoded {
    let mut dec = DataDecoder::new();
    let mut out = DataOutput::default();
    let mut got = Decoded::default();
    let mut offset = 0;
    for chunk in chunks {
        let mut rest = *chunk;
        loop {
            let step = dec.ingest(rest, &mut out);
            if got.smuggling.is_some() {
                assert!(
                    out.content.is_empty() && out.wire.is_empty(),
                    "output after smuggling"
                );
            }
            got.content.extend_from_slice(&out.content);
            got.wire.extend_from_slice(&out.wire);
            out.clear();
            match step {
                Step::More => {
                    offset += rest.len();
                    break;
                }
                Step::Smuggling { consumed, kind } => {
                    assert!(got.smuggling.is_none(), "smuggling reported twice");
                    assert!(consumed <= rest.len());
                    got.smuggling = Some(kind);
                    offset += consumed;
                    rest = &rest[consumed..];
                }
                Step::End { consumed } => {
                    assert!(consumed <= rest.len());
                    got.end = Some(offset + consumed);
                    return got;
                }
            }
        }
    }
    got
}

/// Line starts in the SMTP sense: offset 0 and after each CRLF.
fn line_starts(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(
        bytes
            .windows(2)
            .enumerate()
            .filter(|(_, w)| w == b"\r\n")
            .map(|(i, _)| i + 2),
    )
}

/// RFC 5321 4.5.2 from the receiver's side, written independently of the
/// decoder: drop a `.` that starts a line.
fn unstuff(wire: &[u8]) -> Vec<u8> {
    let drop: Vec<usize> = line_starts(wire)
        .filter(|&i| wire.get(i) == Some(&b'.'))
        .collect();
    let mut out = Vec::with_capacity(wire.len());
    let mut drop = drop.into_iter().peekable();
    for (i, &b) in wire.iter().enumerate() {
        if drop.peek() == Some(&i) {
            drop.next();
            continue;
        }
        out.push(b);
    }
    out
}

/// Every line-start dot is a stuffing dot followed by the content's dot.
fn canonical(wire: &[u8]) -> bool {
    line_starts(wire).all(|i| wire.get(i) != Some(&b'.') || wire.get(i + 1) == Some(&b'.'))
}
