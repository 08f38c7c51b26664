//! POP3 input from both sides: the server's multi-line bodies
//! (`pop3::multiline`), status lines and UIDL listings (`pop3::response`),
//! the CAPA filter (`pop3::capability`), and the client's command lines
//! (`pop3::command`, `pop3::identity`).
//!
//! Settings: byte 0 how the rest is cut into pieces. Checked besides "no
//! panic":
//! - framing is the same whole and in pieces (relayed bytes, content,
//!   where the body ends);
//! - the relayed bytes are exactly the input up to the terminating line,
//!   minus that line: nothing is added, nothing but the terminator held;
//! - the content is the relayed bytes with one leading dot removed from
//!   every line that had one;
//! - a filtered CAPA listing never offers PIPELINING or the server's STLS
//!   and needs no dot-stuffing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailseal::pop3::command::Command;
use mailseal::pop3::multiline::Body;
use mailseal::pop3::response::{Status, uidl_entry, uidl_reply};
use mailseal::pop3::{capability, identity};
use mailseal_fuzz::{pieces, settings};

fuzz_target!(|data: &[u8]| {
    let ([seed], input) = settings::<1>(data);
    let whole = frame(&[input]);
    assert_eq!(whole, frame(&pieces(input, seed)), "framing depends on read sizes");
    let (relay, content, used, done) = whole;
    if done {
        let end = &input[used - terminator_len(input, used)..used];
        assert!(end == b".\r\n" || end == b".\n", "terminator {end:?}");
        assert_eq!(relay, &input[..used - end.len()], "relayed bytes changed");
    } else {
        assert!(input.starts_with(&relay), "relayed bytes changed");
    }
    assert_eq!(content, unstuff(&relay), "content is not the unstuffed relay");
    for line in input.split_inclusive(|&b| b == b'\n') {
        let _ = Status::parse(line);
        let _ = uidl_entry(line);
        let _ = uidl_reply(line);
        let command = Command::parse(line);
        let _ = command.multiline();
        for mechanism in ["PLAIN", "LOGIN"] {
            let _ = identity::sasl_user(mechanism, line);
        }
    }
    let capa = capability::filter(input, seed & 1 == 1);
    for line in capa.split_inclusive(|&b| b == b'\n') {
        assert!(!line.starts_with(b"."), "a CAPA line needs stuffing");
        // The capability's name: up to the first byte that is not graphic
        // (`STLSPA` is another capability; `STLS\rX` is STLS).
        let upper = line.to_ascii_uppercase();
        let name = upper.split(|b| !b.is_ascii_graphic()).next().unwrap_or_default();
        assert!(name != b"PIPELINING");
        assert!(seed & 1 == 1 || name != b"STLS");
    }
});

type Framed = (Vec<u8>, Vec<u8>, usize, bool);

fn frame(chunks: &[&[u8]]) -> Framed {
    let mut body = Body::new();
    let (mut relay, mut content, mut used) = (Vec::new(), Vec::new(), 0);
    for chunk in chunks {
        let n = body.feed(chunk, &mut relay, &mut content);
        used += n;
        if body.is_done() {
            break;
        }
        assert_eq!(n, chunk.len(), "bytes left over before the end");
    }
    (relay, content, used, body.is_done())
}

fn terminator_len(input: &[u8], used: usize) -> usize {
    if input[..used].ends_with(b".\r\n") { 3 } else { 2 }
}

/// The relayed lines with one leading dot removed where a line had one.
fn unstuff(relay: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(relay.len());
    for line in relay.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    out
}
