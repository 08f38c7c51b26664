//! Replies read from an upstream SMTP server (`smtp::reply::ReplyParser`).
//!
//! Setting: byte 0 picks how the rest is cut into pieces. Checked besides
//! "no panic":
//! - the replies (and the error that ends them) are the same whole and in
//!   pieces;
//! - the buffer never grows past the line limit without an error;
//! - every reply has a code in 200..=599, one to `MAX_REPLY_LINES` lines
//!   without line ends, and its wire form parses back to the same reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailseal::smtp::reply::{MAX_REPLY_LINE, MAX_REPLY_LINES, Reply, ReplyError, ReplyParser};
use mailseal_fuzz::{pieces, settings};

fuzz_target!(|data: &[u8]| {
    let ([seed], input) = settings::<1>(data);
    let whole = parse(&[input]);
    assert_eq!(
        whole,
        parse(&pieces(input, seed)),
        "parsing depends on read sizes"
    );
    for reply in &whole.0 {
        assert!((200..600).contains(&reply.code()), "code {}", reply.code());
        let lines = reply.lines();
        assert!(!lines.is_empty() && lines.len() <= MAX_REPLY_LINES);
        assert!(
            lines
                .iter()
                .all(|l| !l.contains(&b'\n') && l.len() < MAX_REPLY_LINE)
        );
        let _ = (reply.text(), reply.enhanced());
        let mut wire = reply.to_wire();
        let again = ReplyParser::new().next_reply(&mut wire);
        assert_eq!(
            again,
            Ok(Some(reply.clone())),
            "wire form does not parse back"
        );
        assert!(wire.is_empty());
    }
});

fn parse(chunks: &[&[u8]]) -> (Vec<Reply>, Option<ReplyError>) {
    let mut parser = ReplyParser::new();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match parser.next_reply(&mut buf) {
                Ok(Some(r)) => out.push(r),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
        assert!(
            buf.len() <= MAX_REPLY_LINE,
            "reply buffer at {} bytes",
            buf.len()
        );
    }
    (out, None)
}
