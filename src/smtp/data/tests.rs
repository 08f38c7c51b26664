//! Tables of DATA inputs split at every byte position, smuggling attempts,
//! and a randomized stuff/decode round trip.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

/// What decoding one input produced.
#[derive(Debug, Default, PartialEq, Eq)]
struct Decoded {
    content: Vec<u8>,
    wire: Vec<u8>,
    smuggling: Option<Smuggling>,
    /// Offset of the byte after the end of data.
    end: Option<usize>,
    /// Wire bytes emitted after smuggling was reported (must stay empty).
    wire_after_smuggling: usize,
}

/// Feeds `input` in chunks whose boundaries are `cuts`.
fn decode(input: &[u8], cuts: &[usize]) -> Decoded {
    let mut dec = DataDecoder::new();
    let mut out = DataOutput::default();
    let mut got = Decoded::default();
    let mut bounds: Vec<usize> = cuts.iter().copied().filter(|&c| c < input.len()).collect();
    bounds.push(input.len());
    bounds.sort_unstable();
    let mut pos = 0;
    for bound in bounds {
        while pos < bound {
            let step = dec.ingest(&input[pos..bound], &mut out);
            got.content.extend_from_slice(&out.content);
            if got.smuggling.is_some() {
                got.wire_after_smuggling += out.wire.len();
            }
            got.wire.extend_from_slice(&out.wire);
            out.clear();
            match step {
                Step::More => pos = bound,
                Step::Smuggling { consumed, kind } => {
                    assert!(got.smuggling.is_none(), "smuggling reported twice");
                    got.smuggling = Some(kind);
                    pos += consumed;
                }
                Step::End { consumed } => {
                    got.end = Some(pos + consumed);
                    return got;
                }
            }
        }
    }
    got
}

/// Decodes with every single split position and checks all agree.
fn decode_all_splits(input: &[u8]) -> Decoded {
    let whole = decode(input, &[]);
    for cut in 1..input.len() {
        assert_eq!(decode(input, &[cut]), whole, "split at {cut} of {input:?}");
    }
    let bytewise: Vec<usize> = (1..input.len()).collect();
    assert_eq!(decode(input, &bytewise), whole, "byte by byte {input:?}");
    whole
}

#[test]
fn clean_messages_at_every_split() {
    let cases: &[(&[u8], &[u8])] = &[
        (b".\r\n", b""),
        (b"a\r\n.\r\n", b"a\r\n"),
        (b"..\r\n.\r\n", b".\r\n"),
        (b"..x\r\n.\r\n", b".x\r\n"),
        (b".x\r\n.\r\n", b"x\r\n"),
        (b"a\r\n..\r\n\r\n.\r\n", b"a\r\n.\r\n\r\n"),
        (b"bare\nlf\r\n.\r\n", b"bare\nlf\r\n"),
        (b"bare\rcr\r\n.\r\n", b"bare\rcr\r\n"),
        (b"a.\r\nb.\r\n.\r\n", b"a.\r\nb.\r\n"),
        (b"\xff\xfe 8-bit\r\n.\r\n", b"\xff\xfe 8-bit\r\n"),
        (b"x\r\r\n.\r\n", b"x\r\r\n"),
        (b"\r\n\r\n.\r\n", b"\r\n\r\n"),
        (b"..\r\r\n.\r\n", b".\r\r\n"),
    ];
    for (wire, content) in cases {
        let mut input = wire.to_vec();
        input.extend_from_slice(b"QUIT\r\n");
        let got = decode_all_splits(&input);
        assert_eq!(got.content, *content, "{wire:?}");
        assert_eq!(got.smuggling, None, "{wire:?}");
        assert_eq!(got.end, Some(wire.len()), "{wire:?}");
        assert_eq!([got.wire.as_slice(), b".\r\n"].concat(), *wire);
    }
}

#[test]
fn long_lines_pass_untouched() {
    let mut content = vec![b'x'; 3000];
    content.extend_from_slice(b"\r\n");
    let got = decode_all_splits(&stuff(&content));
    assert_eq!(got.content, content);
    assert_eq!(got.end, Some(content.len() + 3));
    let mut big = vec![b'y'; 1 << 20];
    big.extend_from_slice(b"\r\n");
    let cuts: Vec<usize> = (1..64).map(|i| i * 16411).collect();
    let got = decode(&stuff(&big), &cuts);
    assert_eq!(got.content, big);
}

#[test]
fn smuggling_is_reported_before_the_dot_is_emitted() {
    use Smuggling::*;
    let attacks: &[(&[u8], Smuggling)] = &[
        (b"a\n.\r\nMAIL FROM:<x>\r\n", DotAfterBareLf),
        (b"a\n.\nMAIL FROM:<x>\r\n", DotAfterBareLf),
        (b"a\r.\r\nMAIL FROM:<x>\r\n", DotAfterBareCr),
        (b"a\r\n.\nMAIL FROM:<x>\r\n", DotBeforeBareLf),
        (b"a\r\n.\rMAIL FROM:<x>\r\n", DotBeforeBareCr),
        (b".\nMAIL FROM:<x>\r\n", DotBeforeBareLf),
        (b"\n.\r\n", DotAfterBareLf),
        (b"a\r\n.\r\r\n", DotBeforeBareCr),
        (b"a\n.b\r\n", DotAfterBareLf),
    ];
    for (attack, kind) in attacks {
        let tail = b"more\r\n.\r\nQUIT\r\n";
        let input = [*attack, tail].concat();
        let got = decode_all_splits(&input);
        assert_eq!(got.smuggling, Some(*kind), "{attack:?}");
        assert_eq!(got.end, Some(input.len() - 6), "{attack:?}");
        assert_eq!(got.wire_after_smuggling, 0);
        // Nothing forwarded may contain the dot that made it ambiguous.
        let dot = attack.iter().position(|&b| b == b'.').unwrap();
        assert!(got.wire.len() <= dot, "{attack:?} forwarded {:?}", got.wire);
    }
}

#[test]
fn poisoned_decoder_finds_an_end_that_overlaps_the_offending_bytes() {
    let got = decode_all_splits(b"a\r\n.\r\r\n.\r\n");
    assert_eq!(got.smuggling, Some(Smuggling::DotBeforeBareCr));
    assert_eq!(got.end, Some(10));
    let got = decode_all_splits(b"x\n.\r\n.\r\r\n.\r\n");
    assert_eq!(got.end, Some(12));
}

#[test]
fn stuff_doubles_line_start_dots_only() {
    assert_eq!(stuff(b""), b".\r\n");
    assert_eq!(
        stuff(b".a\r\n.\r\nb.\n.c\r\n"),
        b"..a\r\n..\r\nb.\n.c\r\n.\r\n"
    );
    assert_eq!(stuff(b"no end"), b"no end\r\n.\r\n");
}

/// A dot that follows a bare CR or bare LF in content.
fn has_ambiguous_dot(content: &[u8]) -> bool {
    (1..content.len()).any(|j| {
        let bare_lf = content[j - 1] == b'\n' && (j < 2 || content[j - 2] != b'\r');
        content[j] == b'.' && (bare_lf || content[j - 1] == b'\r')
    })
}

#[test]
fn random_content_round_trips_through_stuff_and_decode() {
    let alphabet = b"a.\r\n\xff .";
    let mut rng = StdRng::seed_from_u64(0x6d61_696c);
    for _ in 0..20_000 {
        let len = rng.gen_range(0..40);
        let mut content: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
            .collect();
        if !content.is_empty() {
            content.extend_from_slice(b"\r\n");
        }
        let wire = stuff(&content);
        let input = [wire.as_slice(), b"RSET\r\n"].concat();
        let cuts: Vec<usize> = (0..rng.gen_range(0..6))
            .map(|_| rng.gen_range(0..input.len()))
            .collect();
        let got = decode(&input, &cuts);
        assert_eq!(got.end, Some(wire.len()), "{content:?} cuts {cuts:?}");
        if has_ambiguous_dot(&content) {
            assert!(got.smuggling.is_some(), "{content:?}");
            assert_eq!(got.wire_after_smuggling, 0);
        } else {
            assert_eq!(got.smuggling, None, "{content:?}");
            assert_eq!(got.content, content, "cuts {cuts:?}");
            assert_eq!([got.wire.as_slice(), b".\r\n"].concat(), wire);
        }
    }
}
