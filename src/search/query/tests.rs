//! Parser tests: the grammar, every field, and error positions.

use super::ast::*;
use super::parse;

fn word(w: &str) -> Node {
    Node::Text {
        scope: TextScope::Any,
        text: Text::Word(w.into()),
    }
}

fn err(q: &str) -> ParseError {
    match parse(q) {
        Err(e) => e,
        Ok(n) => panic!("{q:?} parsed as {n:?}"),
    }
}

#[test]
fn words_and_phrases_are_anded() {
    assert_eq!(parse("rechnung"), Ok(word("rechnung")));
    assert_eq!(
        parse(r#"rechnung "bitte zahlen""#),
        Ok(Node::And(vec![
            word("rechnung"),
            Node::Text {
                scope: TextScope::Any,
                text: Text::Phrase("bitte zahlen".into())
            }
        ]))
    );
    assert_eq!(
        parse(r#""say \"hi\"""#),
        Ok(Node::Text {
            scope: TextScope::Any,
            text: Text::Phrase("say \"hi\"".into())
        })
    );
}

#[test]
fn precedence_is_not_and_or() {
    assert_eq!(
        parse("a b OR c"),
        Ok(Node::Or(vec![
            Node::And(vec![word("a"), word("b")]),
            word("c")
        ]))
    );
    assert_eq!(
        parse("a AND (b OR c) -d NOT e"),
        Ok(Node::And(vec![
            word("a"),
            Node::Or(vec![word("b"), word("c")]),
            Node::Not(Box::new(word("d"))),
            Node::Not(Box::new(word("e"))),
        ]))
    );
    // Lowercase operators are words.
    assert_eq!(
        parse("a or b"),
        Ok(Node::And(vec![word("a"), word("or"), word("b")]))
    );
    // A hyphen inside a word is not a negation.
    assert_eq!(parse("e-mail"), Ok(word("e-mail")));
}

#[test]
fn address_fields() {
    assert_eq!(
        parse("from:alice@example.com"),
        Ok(Node::Address {
            field: AddressField::From,
            text: Text::Word("alice@example.com".into())
        })
    );
    assert_eq!(
        parse("BCC:Müller*"),
        Ok(Node::Address {
            field: AddressField::Bcc,
            text: Text::Prefix("muller".into())
        })
    );
    assert_eq!(
        parse(r#"to:"Jürgen Groß""#),
        Ok(Node::Address {
            field: AddressField::To,
            text: Text::Phrase("Jürgen Groß".into())
        })
    );
    assert_eq!(
        parse("rcpt:(a@x.org OR b@y.org)"),
        Ok(Node::Or(vec![
            Node::Address {
                field: AddressField::Rcpt,
                text: Text::Word("a@x.org".into())
            },
            Node::Address {
                field: AddressField::Rcpt,
                text: Text::Word("b@y.org".into())
            },
        ]))
    );
}

#[test]
fn text_keyword_range_and_flag_fields() {
    assert_eq!(
        parse("subject:Rech*"),
        Ok(Node::Text {
            scope: TextScope::Subject,
            text: Text::Prefix("rech".into())
        })
    );
    assert_eq!(
        parse("message-id:<ABC@x>"),
        Ok(Node::Keyword {
            field: KeywordField::MessageId,
            value: "abc@x".into(),
            prefix: false
        })
    );
    assert_eq!(
        parse(r#"folder:"Gesendete Objekte""#),
        Ok(Node::Keyword {
            field: KeywordField::Folder,
            value: "gesendete objekte".into(),
            prefix: false
        })
    );
    assert_eq!(
        parse("type:pdf source:journal direction:Inbound listener:mx*"),
        Ok(Node::And(vec![
            Node::Keyword {
                field: KeywordField::Type,
                value: "pdf".into(),
                prefix: false
            },
            Node::Keyword {
                field: KeywordField::Source,
                value: "journal".into(),
                prefix: false
            },
            Node::Keyword {
                field: KeywordField::Direction,
                value: "inbound".into(),
                prefix: false
            },
            Node::Keyword {
                field: KeywordField::Listener,
                value: "mx".into(),
                prefix: true
            },
        ]))
    );
    assert!(matches!(
        parse("date:2024-01..2024-03-31"),
        Ok(Node::Range {
            field: RangeField::Date,
            lo: Some(_),
            hi: Some(_)
        })
    ));
    assert!(matches!(
        parse("received:>=2025"),
        Ok(Node::Range {
            field: RangeField::Received,
            lo: Some(_),
            hi: None
        })
    ));
    assert_eq!(
        parse("size:>1M"),
        Ok(Node::Range {
            field: RangeField::Size,
            lo: Some(1048577),
            hi: None
        })
    );
    assert_eq!(parse("has:attachment"), Ok(Node::HasAttachment));
    assert_eq!(
        parse("-has:attachment"),
        Ok(Node::Not(Box::new(Node::HasAttachment)))
    );
}

#[test]
fn errors_name_the_position_and_what_was_expected() {
    let e = err("from:alice (bob");
    assert_eq!((e.offset, e.position), (15, 15));
    assert!(
        e.expected.contains("`)` to close the `(` at character 12"),
        "{e}"
    );
    assert_eq!(e.found, "the end of the query");

    let e = err("größe frm:x");
    assert_eq!((e.offset, e.position), (8, 6));
    assert!(e.found.contains("unknown field `frm:`"));
    assert!(e.expected.contains("from, to, cc"));
    assert!(
        e.to_string()
            .starts_with("query error at character 7: expected a field")
    );

    let e = err("size:1M");
    assert_eq!(e.position, 5);
    assert!(e.expected.contains("comparison"));

    let e = err("date:2024-13");
    assert_eq!(e.position, 5);
    assert!(e.expected.contains("a date"));

    let e = err("from: alice");
    assert_eq!(e.position, 5);
    assert_eq!(e.expected, "a value right after `from:`");

    for (q, pos, expected) in [
        ("", 0, "a term"),
        ("a OR", 4, "a term"),
        ("a )", 2, "a term, an operator"),
        ("\"open", 0, "a closing `\"`"),
        ("a - b", 2, "a term right after `-`"),
        ("NOT", 3, "a term"),
        ("a*", 0, "at least two letters"),
        ("has:pdf", 4, "`attachment`"),
        ("direction:sideways", 10, "inbound, outbound"),
        ("source:smtp", 7, "smtp-proxy"),
        ("(a OR b", 7, "`)`"),
        ("to:x*", 3, "at least two characters"),
    ] {
        let e = err(q);
        assert_eq!(e.position, pos, "{q}: {e}");
        assert!(e.expected.starts_with(expected), "{q}: {e}");
    }
}
