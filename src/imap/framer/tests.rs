//! Framer tests: tables of both directions' traffic, fed whole, split at
//! every byte position and byte by byte, must yield the same events.

use std::collections::VecDeque;

use super::*;

/// Renders events compactly; literal data and overlong rests are coalesced
/// so that different splits of the same input compare equal.
fn render(ev: Event<'_>, out: &mut Vec<String>) {
    let s = match ev {
        Event::Line(l) => {
            let mut s = format!("L[{}]", String::from_utf8_lossy(l.text()));
            if let Some(lit) = l.literal {
                s += &format!(
                    "{{{}{}{}}}",
                    lit.size,
                    if lit.binary { "~" } else { "" },
                    if lit.sync { "" } else { "+" }
                );
            }
            if l.continued {
                s += "c";
            }
            if l.overlong {
                s += "o";
            }
            s
        }
        Event::LineTooLong(b) => format!("T{}", b.len()),
        Event::LineRest(b) => {
            if let Some(last) = out.last_mut().filter(|s| s.starts_with('R')) {
                let n: usize = last[1..].parse().unwrap();
                *last = format!("R{}", n + b.len());
                return;
            }
            format!("R{}", b.len())
        }
        Event::LiteralStart(s) => format!("S{}#{}", s.literal.size, s.index),
        Event::LiteralData(b) => {
            if let Some(last) = out.last_mut().filter(|s| s.starts_with("D:")) {
                last.push_str(&String::from_utf8_lossy(b));
                return;
            }
            format!("D:{}", String::from_utf8_lossy(b))
        }
        Event::LiteralEnd => "E".into(),
    };
    out.push(s);
}

/// Feeds `chunks` in order, answering synchronizing literals from `answers`.
fn drive(side: Side, max: usize, chunks: &[&[u8]], answers: &[Head]) -> (Vec<String>, Framer) {
    let mut f = Framer::new(side, max);
    let mut answers: VecDeque<Head> = answers.iter().cloned().collect();
    let mut out = Vec::new();
    for chunk in chunks {
        let mut input = *chunk;
        loop {
            if let Some(ev) = f.next(&mut input) {
                render(ev, &mut out);
            } else if f.awaiting_answer().is_some() && !answers.is_empty() {
                let head = answers.pop_front().unwrap();
                let answer = f
                    .server_said(&head)
                    .map_or("-".to_string(), |a| format!("{a:?}"));
                out.push(format!("A:{answer}"));
            } else {
                break;
            }
        }
        assert!(
            input.is_empty() || f.awaiting_answer().is_some(),
            "unconsumed input while not waiting"
        );
    }
    (out, f)
}

/// Asserts that every split of `input` gives the same events as feeding it
/// whole, and returns those events.
fn all_splits(side: Side, max: usize, input: &[u8], answers: &[Head]) -> Vec<String> {
    let (whole, _) = drive(side, max, &[input], answers);
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        assert_eq!(drive(side, max, &[a, b], answers).0, whole, "split at {at}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(drive(side, max, &bytes, answers).0, whole, "byte by byte");
    whole
}

fn plus() -> Head {
    Head::Continuation
}

fn tagged(tag: &str, status: &str) -> Head {
    Head::Tagged {
        tag: tag.into(),
        status: status.into(),
    }
}

#[test]
fn client_commands_table() {
    let table: &[(&[u8], &[Head], &[&str])] = &[
        (b"a1 NOOP\r\n", &[], &["L[a1 NOOP]"]),
        (b"a1 NOOP\n", &[], &["L[a1 NOOP]"]),
        (
            b"a1 APPEND INBOX (\\Seen) {5+}\r\nhello\r\n",
            &[],
            &[
                "L[a1 APPEND INBOX (\\Seen) ]{5+}",
                "S5#0",
                "D:hello",
                "E",
                "L[]c",
            ],
        ),
        (
            b"a1 APPEND INBOX {5}\r\nhello\r\n",
            &[plus()],
            &[
                "L[a1 APPEND INBOX ]{5}",
                "A:Continue",
                "S5#0",
                "D:hello",
                "E",
                "L[]c",
            ],
        ),
        (
            b"a1 APPEND INBOX ~{3}\r\na\0b\r\n",
            &[plus()],
            &[
                "L[a1 APPEND INBOX ]{3~}",
                "A:Continue",
                "S3#0",
                "D:a\0b",
                "E",
                "L[]c",
            ],
        ),
        (
            b"a1 APPEND INBOX {2+}\r\nab {3+}\r\ncde\r\na2 NOOP\r\n",
            &[],
            &[
                "L[a1 APPEND INBOX ]{2+}",
                "S2#0",
                "D:ab",
                "E",
                "L[ ]{3+}c",
                "S3#1",
                "D:cde",
                "E",
                "L[]c",
                "L[a2 NOOP]",
            ],
        ),
        (
            b"a1 LOGIN {5}\r\nalice {6}\r\nsecret\r\n",
            &[plus(), plus()],
            &[
                "L[a1 LOGIN ]{5}",
                "A:Continue",
                "S5#0",
                "D:alice",
                "E",
                "L[ ]{6}c",
                "A:Continue",
                "S6#1",
                "D:secret",
                "E",
                "L[]c",
            ],
        ),
        (
            b"a1 APPEND INBOX {0}\r\n\r\n",
            &[plus()],
            &["L[a1 APPEND INBOX ]{0}", "A:Continue", "S0#0", "E", "L[]c"],
        ),
        (b"a1 LOGIN \"x{5}\" y\r\n", &[], &["L[a1 LOGIN \"x{5}\" y]"]),
        (
            b"a1 LOGIN \"x\\\" {5}\r\n",
            &[],
            &["L[a1 LOGIN \"x\\\" {5}]"],
        ),
        (b"a1 X {5-}\r\nabc\r\n", &[], &["L[a1 X {5-}]", "L[abc]"]),
        (
            b"a1 X {}\r\n{+}\r\n{99999999999999999999999}\r\n",
            &[],
            &["L[a1 X {}]", "L[{+}]", "L[{99999999999999999999999}]"],
        ),
    ];
    for (input, answers, want) in table {
        assert_eq!(
            all_splits(Side::Client, 1024, input, answers),
            *want,
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn server_responses_table() {
    let msg = "From: a\r\n\r\nhi {5}\r\n";
    let fetch = |item: &str| {
        format!(
            "* 1 FETCH (UID 7 {item} {{{}}}\r\n{msg} FLAGS (\\Seen))\r\n",
            msg.len()
        )
    };
    for item in ["BODY[]", "BODY[]<0>", "BODY[HEADER]", "RFC822"] {
        let input = fetch(item);
        let want = [
            format!("L[* 1 FETCH (UID 7 {item} ]{{{}+}}", msg.len()),
            format!("S{}#0", msg.len()),
            format!("D:{msg}"),
            "E".into(),
            "L[ FLAGS (\\Seen))]c".into(),
        ];
        assert_eq!(
            all_splits(Side::Server, 1024, input.as_bytes(), &[]),
            want,
            "{item}"
        );
    }
    let table: &[(&[u8], &[&str])] = &[
        (
            b"* 2 FETCH (BINARY[] ~{3}\r\n\0\r\n)\r\n",
            &[
                "L[* 2 FETCH (BINARY[] ]{3~+}",
                "S3#0",
                "D:\0\r\n",
                "E",
                "L[)]c",
            ],
        ),
        (
            b"* 3 FETCH (BODY[1] {2}\r\nab BODY[2] {3}\r\ncde UID 9)\r\nt OK done\r\n",
            &[
                "L[* 3 FETCH (BODY[1] ]{2+}",
                "S2#0",
                "D:ab",
                "E",
                "L[ BODY[2] ]{3+}c",
                "S3#1",
                "D:cde",
                "E",
                "L[ UID 9)]c",
                "L[t OK done]",
            ],
        ),
        (
            b"* 4 FETCH (ENVELOPE (\"subj {5}\" NIL))\r\n",
            &["L[* 4 FETCH (ENVELOPE (\"subj {5}\" NIL))]"],
        ),
        (
            b"* LIST () \"/\" {5}\r\nINBOX\r\n",
            &["L[* LIST () \"/\" ]{5+}", "S5#0", "D:INBOX", "E", "L[]c"],
        ),
        (b"+ go ahead\r\n", &["L[+ go ahead]"]),
    ];
    for (input, want) in table {
        assert_eq!(
            all_splits(Side::Server, 1024, input, &[]),
            *want,
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn heads_follow_the_command_across_literals() {
    let mut f = Framer::new(Side::Server, 1024);
    let mut input: &[u8] = b"* 5 FETCH (BODY[] {1}\r\nx)\r\n";
    let mut lines = Vec::new();
    while let Some(ev) = f.next(&mut input) {
        if let Event::Line(l) = ev {
            lines.push(l);
        }
    }
    let want = Head::Untagged {
        number: Some(5),
        name: "FETCH".into(),
    };
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l.head == want));
    assert!(!lines[0].is_last() && lines[1].is_last());
    assert_eq!(lines[0].raw, b"* 5 FETCH (BODY[] {1}\r\n");
    assert!(f.at_boundary());
}

#[test]
fn refused_synchronizing_literal_keeps_both_directions_in_step() {
    // The client waits for `+`, the server says NO: the next client bytes
    // are a new command, exactly as the server reads them.
    let mut client = Framer::new(Side::Client, 1024);
    let mut server = Framer::new(Side::Server, 1024);
    let mut c: &[u8] = b"a1 APPEND Nope {5}\r\n";
    assert!(matches!(client.next(&mut c), Some(Event::Line(l)) if l.literal.is_some()));
    assert_eq!(client.awaiting_answer(), Some("a1"));
    let mut s: &[u8] = b"* 3 EXISTS\r\na1 NO [TRYCREATE] no such mailbox\r\n";
    let mut answers = Vec::new();
    while let Some(ev) = server.next(&mut s) {
        if let Event::Line(l) = ev {
            answers.push(client.server_said(&l.head));
        }
    }
    assert_eq!(answers, [None, Some(Answer::Refused)]);
    let mut c: &[u8] = b"a2 NOOP\r\n";
    match client.next(&mut c) {
        Some(Event::Line(l)) => assert_eq!(
            l.head,
            Head::Command {
                tag: "a2".into(),
                name: "NOOP".into()
            }
        ),
        other => panic!("{other:?}"),
    }
    assert!(client.at_boundary() && server.at_boundary());
}

#[test]
fn premature_literal_bytes_wait_for_the_answer() {
    // A client that does not wait: its bytes are held until the server has
    // decided whether they are literal data or a new command.
    let input: &[u8] = b"a1 APPEND INBOX {3}\r\nabc\r\n";
    let (events, f) = drive(Side::Client, 1024, &[input], &[]);
    assert_eq!(events, ["L[a1 APPEND INBOX ]{3}"]);
    assert_eq!(f.awaiting_answer(), Some("a1"));
    let answers = [tagged("zz", "OK"), tagged("a1", "BAD")];
    assert_eq!(
        all_splits(Side::Client, 1024, input, &answers),
        ["L[a1 APPEND INBOX ]{3}", "A:-", "A:Refused", "L[abc]"]
    );
    let answers = [plus()];
    assert_eq!(
        all_splits(Side::Client, 1024, input, &answers),
        [
            "L[a1 APPEND INBOX ]{3}",
            "A:Continue",
            "S3#0",
            "D:abc",
            "E",
            "L[]c"
        ]
    );
}

#[test]
fn overlong_lines_pass_through_with_an_error_event() {
    let mut long = b"a1 SEARCH ".to_vec();
    long.extend(std::iter::repeat_n(b'1', 200));
    long.extend_from_slice(b" {3+}\r\nabc\r\na2 NOOP\r\n");
    let events = all_splits(Side::Client, 64, &long, &[]);
    assert_eq!(
        events,
        [
            "T64",
            "R153",
            "L[]{3+}o",
            "S3#0",
            "D:abc",
            "E",
            "L[]c",
            "L[a2 NOOP]"
        ]
    );
    // A line of exactly the cap is still a line.
    let exact = format!("a {}\r\n", "x".repeat(60));
    assert_eq!(exact.len(), 64);
    assert_eq!(
        all_splits(Side::Client, 64, exact.as_bytes(), &[])[0],
        format!("L[a {}]", "x".repeat(60))
    );
    // A quoted `{` in an overlong line does not start a literal.
    let quoted = format!("* OK \"{} {{3}}\r\nx\r\n", "q".repeat(100));
    assert_eq!(
        all_splits(Side::Server, 64, quoted.as_bytes(), &[]),
        ["T64", "R48", "L[]o", "L[x]"]
    );
}

#[test]
fn huge_literals_stream_without_buffering() {
    let mut f = Framer::new(Side::Server, 1024);
    let mut input: &[u8] = b"* 1 FETCH (BODY[] {4294967296}\r\n";
    assert!(matches!(f.next(&mut input), Some(Event::Line(_))));
    assert!(
        matches!(f.next(&mut input), Some(Event::LiteralStart(s)) if s.literal.size == 1 << 32)
    );
    let chunk = vec![b'x'; 1 << 20];
    let mut seen = 0u64;
    for _ in 0..100 {
        let mut input = &chunk[..];
        while let Some(ev) = f.next(&mut input) {
            match ev {
                Event::LiteralData(d) => seen += d.len() as u64,
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(seen, 100 << 20);
    assert!(f.in_literal());
    assert!(f.buf.capacity() <= 1024, "framer buffered literal data");
}

#[test]
fn literal_announcing_more_than_sent_stays_in_the_literal() {
    let (events, f) = drive(
        Side::Server,
        1024,
        &[b"* 1 FETCH (BODY[] {100}\r\nshort)\r\n"],
        &[],
    );
    assert_eq!(
        events,
        ["L[* 1 FETCH (BODY[] ]{100+}", "S100#0", "D:short)\r\n"]
    );
    assert!(f.in_literal() && !f.at_boundary());
}

#[test]
fn garbage_never_panics_and_stays_bounded() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"{}~+\"\\\r\n a1*0123456789()[]\0\xff";
    for _ in 0..200 {
        let len = (next() % 300) as usize;
        let input: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        for side in [Side::Client, Side::Server] {
            let mut f = Framer::new(side, 48);
            let mut rest = &input[..];
            let mut answers = 0;
            loop {
                match f.next(&mut rest) {
                    Some(Event::LineTooLong(b)) => assert!(b.len() <= 48),
                    Some(Event::Line(l)) => assert!(l.raw.len() <= 48),
                    Some(_) => {}
                    None if f.awaiting_answer().is_some() => {
                        answers += 1;
                        let head = if answers % 2 == 0 {
                            plus()
                        } else {
                            tagged(f.awaiting_answer().unwrap(), "NO")
                        };
                        assert!(f.server_said(&head).is_some());
                    }
                    None => break,
                }
                assert!(f.buf.len() <= 48 && f.tail.len() <= TAIL);
            }
            assert!(rest.is_empty());
        }
    }
}
