//! The IMAP framer (`imap::framer`), client and server direction, and the
//! line parsers the proxy runs on what it frames (`imap::token`,
//! `imap::command`, `imap::response`, `imap::capability`).
//!
//! Settings: byte 0 picks the direction (bit 0) and the line cap; byte 1
//! how the rest is cut into pieces; byte 2 how the server answers the
//! client's synchronizing literals (one bit each: `+` or a tagged `NO`).
//! Checked besides "no panic":
//! - the bytes the framer hands on (lines, overlong parts, literal data)
//!   are exactly the input, in order, except an unfinished last line of
//!   less than the cap: the proxy relays every byte once;
//! - the events are the same whole and in pieces;
//! - the framer never stalls (no input left unless it waits for an answer)
//!   and makes a bounded number of events per input byte (no endless loop);
//! - lines fit the cap, literals deliver exactly their announced size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailseal::imap::framer::{Event, Framer, Side};
use mailseal::imap::head::Head;
use mailseal::imap::{capability, command, response, token};
use mailseal_fuzz::{pieces, settings};

fuzz_target!(|data: &[u8]| {
    let ([mode, seed, answers], input) = settings::<3>(data);
    let side = if mode & 1 == 0 {
        Side::Client
    } else {
        Side::Server
    };
    let max = 32 + usize::from(mode >> 1) * 8;
    let whole = run(side, max, answers, &[input]);
    // All but an unfinished last line (held until its end arrives) is relayed.
    assert!(
        input.starts_with(&whole.relayed),
        "relayed bytes differ from the input"
    );
    let held = &input[whole.relayed.len()..];
    assert!(
        held.len() < max && !held.contains(&b'\n'),
        "framer holds {} bytes",
        held.len()
    );
    let split = run(side, max, answers, &pieces(input, seed));
    assert_eq!(whole.events, split.events, "framing depends on read sizes");
});

/// What one run saw.
struct Run {
    /// Every byte handed on, in order.
    relayed: Vec<u8>,
    /// Events rendered, literal data and overlong rests coalesced.
    events: Vec<String>,
}

fn run(side: Side, max: usize, answers: u8, chunks: &[&[u8]]) -> Run {
    let mut f = Framer::new(side, max);
    let mut run = Run {
        relayed: Vec::new(),
        events: Vec::new(),
    };
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let mut literal: Option<(u64, u64)> = None;
    let mut answered = 0u32;
    let mut count = 0usize;
    for chunk in chunks {
        let mut input = *chunk;
        loop {
            count += 1;
            assert!(count <= 3 * total + 8, "{count} events for {total} bytes");
            let Some(ev) = f.next(&mut input) else {
                let Some(tag) = f.awaiting_answer().map(str::to_owned) else {
                    assert!(
                        input.is_empty(),
                        "framer stalled with {} bytes",
                        input.len()
                    );
                    break;
                };
                let go = answers.rotate_right(answered % 8) & 1 == 1;
                answered += 1;
                // An unrelated response never settles the literal.
                assert_eq!(
                    f.server_said(&Head::Untagged {
                        number: None,
                        name: "OK".into()
                    }),
                    None
                );
                let head = if go {
                    Head::Continuation
                } else {
                    Head::Tagged {
                        tag,
                        status: "NO".into(),
                    }
                };
                assert!(f.server_said(&head).is_some(), "answer not taken");
                run.events.push(format!("A{go}"));
                continue;
            };
            event(ev, max, side, &mut literal, &mut run);
        }
    }
    run
}

fn event(ev: Event<'_>, max: usize, side: Side, literal: &mut Option<(u64, u64)>, run: &mut Run) {
    let text = match ev {
        Event::Line(line) => {
            assert!(
                line.raw.len() <= max,
                "line of {} bytes, cap {max}",
                line.raw.len()
            );
            assert!(
                !line.overlong || line.raw.is_empty(),
                "overlong line kept its bytes"
            );
            run.relayed.extend_from_slice(&line.raw);
            parse_line(&line.raw, line.text(), side);
            format!(
                "L{:?}{:?}{}{}",
                line.text(),
                line.literal,
                line.continued,
                line.overlong
            )
        }
        Event::LineTooLong(bytes) => {
            assert_eq!(bytes.len(), max, "overlong head");
            run.relayed.extend_from_slice(&bytes);
            "T".into()
        }
        Event::LineRest(bytes) => {
            run.relayed.extend_from_slice(bytes);
            coalesce(run, 'R', bytes.len());
            return;
        }
        Event::LiteralStart(start) => {
            assert!(literal.is_none(), "literal started inside a literal");
            *literal = Some((start.literal.size, 0));
            format!("S{:?}{}", start.literal, start.index)
        }
        Event::LiteralData(bytes) => {
            let Some((size, seen)) = literal.as_mut() else {
                panic!("data outside a literal")
            };
            *seen += bytes.len() as u64;
            assert!(*seen <= *size, "literal longer than announced");
            run.relayed.extend_from_slice(bytes);
            coalesce(run, 'D', bytes.len());
            return;
        }
        Event::LiteralEnd => {
            let (size, seen) = literal.take().expect("end outside a literal");
            assert_eq!(size, seen, "literal shorter than announced");
            "E".into()
        }
    };
    run.events.push(text);
}

/// Adds `n` to a trailing `R`/`D` count, so pieces compare equal.
fn coalesce(run: &mut Run, kind: char, n: usize) {
    if let Some(last) = run.events.last_mut().filter(|e| e.starts_with(kind)) {
        let before: usize = last[1..].parse().unwrap_or(0);
        *last = format!("{kind}{}", before + n);
    } else {
        run.events.push(format!("{kind}{n}"));
    }
}

/// The parsers the proxy applies to framed lines.
fn parse_line(raw: &[u8], text: &[u8], side: Side) {
    let tokens = token::lex(text);
    match side {
        Side::Client => {
            let cmd = command::Command::parse(&tokens);
            let _ = (cmd.kind(), format!("{cmd:?}"));
            let _ = command::append_mailbox(&tokens);
            let _ = command::sasl_response(text);
        }
        Side::Server => {
            let _ = (response::code(text), response::uidvalidity(text));
            if let Some((_, uids)) = response::appenduid(text) {
                assert!(uids.len() <= 100_000, "APPENDUID set of {}", uids.len());
            }
            let _ = response::list_special_use(&tokens);
            let mut scan = response::FetchScan::default();
            scan.text(text);
            let _ = (scan.literal(), scan.uid());
            // A rewritten line must stay one line with the same ending.
            let ends = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count();
            for starttls in [false, true] {
                if let Some(new) = capability::rewrite(raw, starttls) {
                    assert_eq!(ends(&new), ends(raw), "rewrite changed the line count");
                    assert_eq!(new.ends_with(b"\r\n"), raw.ends_with(b"\r\n"));
                }
            }
            if let Some(new) = capability::strip_code(raw) {
                assert_eq!(ends(&new), ends(raw), "strip_code changed the line count");
            }
        }
    }
}
